// WebSocket permessage-deflate from headless Chromium (through puppeteer-core): the browser's
// own WebSocket, on a blank page, against the echo server of examples/conformance.rs.
//
// argv[2] / stdin: {"url": "http://127.0.0.1:PORT", "chromium": path, "messages": [text],
//   "timeout_ms"}
// Prints {"extensions": the socket's negotiated extensions} and one {"echo": {"equal",
// "length"}} per message (each sent as `4<text>` after the echo of the one before).
import puppeteer from "puppeteer-core";
import { exit, hardTimeout, out, scenarioArgs } from "./lib.mjs";

const args = await scenarioArgs();
hardTimeout(args.timeout_ms ?? 60000);
const browser = await puppeteer.launch({
  executablePath: args.chromium,
  headless: true,
  // As root in a container, Chromium's sandbox cannot start.
  args: ["--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage"],
});
try {
  const page = await browser.newPage();
  const url = args.url.replace(/^http/, "ws") + "/engine.io/?EIO=4&transport=websocket";
  const result = await page.evaluate(
    async (url, messages) => {
      const ws = new WebSocket(url);
      const inbox = [];
      let wake = null;
      ws.onmessage = (e) => {
        if (e.data === "2") return ws.send("3");
        inbox.push(e.data);
        if (wake) wake();
      };
      const next = () =>
        new Promise((resolve) => {
          const check = () => (inbox.length ? resolve(inbox.shift()) : (wake = check));
          check();
        });
      await new Promise((resolve, reject) => {
        ws.onopen = resolve;
        ws.onerror = () => reject(new Error("websocket error"));
      });
      await next(); // the open packet
      const echoes = [];
      for (const m of messages) {
        ws.send("4" + m);
        const echo = await next();
        echoes.push({ equal: echo === "4" + m, length: echo.length });
      }
      ws.close();
      return { extensions: ws.extensions, echoes };
    },
    url,
    args.messages,
  );
  out({ extensions: result.extensions });
  for (const e of result.echoes) out({ echo: e });
} finally {
  await browser.close();
}
exit(0);
