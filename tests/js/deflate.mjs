// WebSocket permessage-deflate from Node's clients, against examples/conformance.rs.
//
// argv[2] / stdin: {
//   "url": "http://127.0.0.1:PORT",
//   "mode": "ws": a raw `ws` WebSocket on /engine.io/ (the echo server), each message sent as
//           the Engine.IO message `4<text>` and echoed;
//         | "sio": socket.io-client on /socket.io/, each message emitted as `message` and
//           answered with `message-back`,
//   "transports": for "sio" (default ["websocket"]; ["polling", "websocket"] upgrades),
//   "per_message_deflate": the clients' `perMessageDeflate` option (default: theirs, which
//       offers the extension and compresses messages of 1024 bytes or more),
//   "messages": [text or {"text", "fragments": n}]: sent one after the other, each after the
//       echo of the one before; with "fragments" ("ws" only) the Engine.IO message goes in n
//       WebSocket frames, compressed as one message,
//   "expect_close": "ws" only: after sending the last message, wait for the server to close
//       instead of for its echo,
//   "timeout_ms": hard timeout (default 10000)
// }
// Prints {"extensions": the response's Sec-WebSocket-Extensions or null}, then for each
// message {"echo": {"equal": bool, "length": n, "read": bytes read off the TCP socket until its
// echo arrived, "written": bytes written to it for the message}}, and for "expect_close"
// {"closed": {"code", "packets": [the Engine.IO packets received before, cut to 50 chars]}};
// otherwise {"closed": {"code", "by": "client"}} after it closed with 1000. With "ws" it also
// pings once and prints {"pong": its data}.
import { WebSocket } from "ws";
import { io } from "socket.io-client";
import { exit, fail, hardTimeout, once, out, scenarioArgs } from "./lib.mjs";

const args = await scenarioArgs();
hardTimeout(args.timeout_ms ?? 10000);
const pmd = args.per_message_deflate;

function counters(ws) {
  return { read: ws._socket.bytesRead, written: ws._socket.bytesWritten };
}

function sendFragments(ws, data, n) {
  const size = Math.ceil(data.length / n);
  for (let i = 0; i < n; i++) {
    const fin = i === n - 1;
    ws.send(data.slice(i * size, (i + 1) * size), { fin, compress: true });
  }
}

if (args.mode === "ws") {
  const url = args.url.replace(/^http/, "ws") + "/engine.io/?EIO=4&transport=websocket";
  const ws = new WebSocket(url, pmd === undefined ? {} : { perMessageDeflate: pmd });
  const inbox = [];
  let wake = null;
  ws.on("upgrade", (res) => out({ extensions: res.headers["sec-websocket-extensions"] ?? null }));
  ws.on("message", (data) => {
    const text = data.toString();
    if (text === "2") return ws.send("3"); // the server's heartbeat
    inbox.push(text);
    if (wake) wake();
  });
  let closed = null;
  ws.on("close", (code) => {
    closed = code;
    if (wake) wake();
  });
  ws.on("error", (e) => fail(`websocket error: ${e}`));
  const next = () =>
    new Promise((resolve) => {
      const check = () => {
        if (inbox.length > 0) return resolve(inbox.shift());
        if (closed !== null) return resolve(null);
        wake = check;
      };
      check();
    });
  await once(ws, "open");
  const open = await next();
  if (!open || !open.startsWith("0")) fail(`no open packet: ${open}`);
  // A WebSocket ping is answered with a pong carrying its data.
  const pong = new Promise((resolve) => ws.once("pong", resolve));
  ws.ping("are you there");
  out({ pong: (await pong).toString() });
  for (const m of args.messages) {
    const text = typeof m === "string" ? m : m.text;
    const before = counters(ws);
    if (typeof m === "object" && m.fragments) sendFragments(ws, "4" + text, m.fragments);
    else ws.send("4" + text);
    if (args.expect_close && m === args.messages[args.messages.length - 1]) {
      // The Engine.IO close packet `1` may come first.
      const packets = [];
      for (let p = await next(); p !== null; p = await next()) packets.push(p.slice(0, 50));
      out({ closed: { code: closed, packets } });
      exit(0);
      break;
    }
    const echo = await next();
    if (echo === null) fail(`closed (${closed}) instead of echoing`);
    const after = counters(ws);
    out({
      echo: {
        equal: echo === "4" + text,
        length: echo.length,
        read: after.read - before.read,
        written: after.written - before.written,
      },
    });
  }
  // Our close is answered with the same code.
  ws.close(1000);
  await once(ws, "close");
  out({ closed: { code: closed, by: "client" } });
  exit(0);
} else {
  const options = {
    transports: args.transports ?? ["websocket"],
    reconnection: false,
  };
  if (pmd !== undefined) options.perMessageDeflate = pmd;
  const socket = io(args.url, options);
  socket.on("connect_error", (e) => fail(`connect_error: ${e.message}`));
  await once(socket, "connect");
  const engine = socket.io.engine;
  if (engine.transport.name !== "websocket") {
    await once(engine, "upgrade");
  }
  const ws = engine.transport.ws;
  out({ extensions: ws.extensions === "" ? null : ws.extensions });
  for (const m of args.messages) {
    const before = counters(ws);
    const back = new Promise((resolve) => socket.once("message-back", resolve));
    socket.emit("message", m);
    const echo = await back;
    const after = counters(ws);
    out({
      echo: {
        equal: echo === m,
        length: echo.length,
        read: after.read - before.read,
        written: after.written - before.written,
      },
    });
  }
  socket.disconnect();
  exit(0);
}
