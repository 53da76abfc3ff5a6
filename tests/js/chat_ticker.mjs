// The chat example's ticker job (tests/chat.rs): logs in to /chat, starts a ticker, reads its
// first ticks, stops it, and proves that the job stopped by watching the Engine.IO connection
// for tick packets afterwards. Same protocol as the other scripts (see lib.mjs).
//
// stdin: {
//   "url": "http://127.0.0.1:PORT",
//   "transports": ["polling"] | ["websocket"] | ["polling", "websocket"] (then it waits for
//                 the upgrade),
//   "interval_ms": the ticker's interval,
//   "starts": how many times `ticker` is called in a row (default 1; the ticks read are those
//             after the last call's ack),
//   "ticks": how many ticks to read,
//   "stop": "stop_ticker"  emits stop_ticker;
//         | "leave"        sends DISCONNECT for /chat on the Engine.IO connection, which stays
//                          open (socket.io-client does not learn of it, so it keeps delivering),
//   "quiet_ms": how long without a tick packet shows that the job stopped,
//   "watch_ms": how long to wait for that silence (default 3000),
//   "timeout_ms": hard timeout (default 15000)
// }
// Prints:
//   {"connected": "<transport>"}
//   {"ack": "<event>", "args": [...]}  for login, each ticker, and stop_ticker
//   {"ticks": [1, 2, ...]}              the ticks read, in order
//   {"stopped": {"after": [...], "quiet": bool, "open": bool}}  once no tick packet came for
//       quiet_ms (quiet), or after watch_ms without such a silence: the ticks seen after the
//       stop (after stop_ticker's ack was processed, or after the DISCONNECT was sent), and
//       whether the connection was still open.
import { io } from "socket.io-client";
import { exit, fail, hardTimeout, once, out, scenarioArgs, sleep } from "./lib.mjs";

const args = await scenarioArgs();
hardTimeout(args.timeout_ms ?? 15000);
const transports = args.transports;
const upgrade = transports.length > 1;
const socket = io(args.url + "/chat", {
  transports,
  upgrade,
  forceNew: true,
  reconnection: false,
  timeout: 5000,
  auth: { token: "t" },
});

await new Promise((resolve, reject) => {
  socket.once("connect", resolve);
  socket.once("connect_error", reject);
});
const engine = socket.io.engine;
if (upgrade) await once(engine, "upgrade", () => engine.transport.name === "websocket");
out({ connected: engine.transport.name });

// Every tick packet on the connection, whatever socket.io-client makes of it. The manager
// decodes a packet (running ack callbacks) before this listener sees it.
// Engine.IO message data: the Socket.IO packet without the Engine.IO type (`4`).
const TICK = '2/chat,["tick",';
let phase = "starting"; // "reading" after the last ticker ack, "stopped" after the stop
let lastTick = Date.now();
const read = [];
const after = [];
engine.on("message", (data) => {
  if (typeof data !== "string" || !data.startsWith(TICK)) return;
  const n = JSON.parse(data.slice("2/chat,".length))[1];
  lastTick = Date.now();
  if (phase === "reading") read.push(n);
  else if (phase === "stopped") after.push(n);
});

/** Emits with an ack callback; `then` runs as soon as the ack packet is decoded. */
function call(event, eventArgs, then = () => {}) {
  return new Promise((resolve, reject) => {
    socket.timeout(5000).emit(event, ...eventArgs, (err, ...ackArgs) => {
      if (err) return reject(new Error(`${event}: no ack`));
      then();
      out({ ack: event, args: ackArgs });
      resolve();
    });
  });
}

await call("login", ["ticker-test"]);
const starts = args.starts ?? 1;
for (let i = 1; i <= starts; i++) {
  await call("ticker", [args.interval_ms], () => {
    if (i === starts) phase = "reading";
  });
}
while (read.length < args.ticks) await sleep(1);
out({ ticks: read.slice(0, args.ticks) });

if (args.stop === "stop_ticker") {
  await call("stop_ticker", [], () => {
    phase = "stopped";
    lastTick = Date.now();
  });
} else if (args.stop === "leave") {
  phase = "stopped";
  lastTick = Date.now();
  engine.send("1/chat,"); // the Engine.IO message `41/chat,`
} else {
  fail(`unknown stop ${args.stop}`);
}
const giveUp = Date.now() + (args.watch_ms ?? 3000);
while (Date.now() - lastTick < args.quiet_ms && Date.now() < giveUp) await sleep(5);
const quiet = Date.now() - lastTick >= args.quiet_ms;
out({ stopped: { after, quiet, open: engine.readyState === "open" } });
socket.disconnect();
exit(0);
