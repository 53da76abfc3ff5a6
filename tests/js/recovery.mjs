// Connection state recovery with a stock socket.io-client: one client, its transport cut
// while the server keeps sending to it, then its own reconnection.
//
// argv[2]: {
//   "url": "http://127.0.0.1:PORT",
//   "transports": ["websocket"] | ["polling"],
//   "cut": "terminate" (destroy the TCP connection under the WebSocket) | "close" (close the
//          engine cleanly) | "kick" (ask the server to disconnect us, then reconnect by hand),
//   "reconnect_after_ms": delay before the client reconnects,
//   "expect_missed": whether to wait for every event sent meanwhile,
//   "later": {"n": N, "delay_ms": D}  events the server sends N times after D ms (to our room
//          "r", to our id, and from a job of ours), while we are cut off
// }
// Prints {"first": {...}}, {"second": {...}}, {"events": {...}} and {"after": {...}}.
import { io } from "socket.io-client";
import { exit, fail, hardTimeout, out, scenarioArgs, sleep, Inbox } from "./lib.mjs";

const args = await scenarioArgs();
hardTimeout(args.timeout_ms ?? 15000);

const socket = io(args.url, {
  transports: args.transports,
  upgrade: false,
  reconnectionDelay: args.reconnect_after_ms,
  reconnectionDelayMax: args.reconnect_after_ms,
  randomizationFactor: 0,
  timeout: 5000,
  auth: { token: "t" },
});
const inbox = new Inbox();
const received = { news: [], direct: [], tick: [] };
socket.onAny((event, ...rest) => {
  if (event in received) received[event].push(rest[0]);
  inbox.push(event, rest);
});
// A job of the socket asks once the socket is back (tests/recovery.rs, `on_later`).
socket.on("ask", (ack) => ack("answered"));
const connects = new Inbox();
socket.on("connect", () => connects.push("connect", { id: socket.id, recovered: socket.recovered }));
socket.on("connect_error", (e) => fail(`connect_error: ${e.message}`));
const disconnects = [];
socket.on("disconnect", (reason) => disconnects.push(reason));

const call = (event, ...a) => socket.timeout(5000).emitWithAck(event, ...a);

const first = await connects.next("connect");
await call("join", "r");
await call("bump");
await call("bump");
// Three events live, so that the client holds an offset.
await call("burst", 3);
while (received.news.length < 3) await inbox.next("news");
const before = await call("whoami");
out({ first: { ...first, whoami: before } });

await call("later", args.later);
switch (args.cut) {
  case "terminate":
    socket.io.engine.transport.ws.terminate();
    break;
  case "close":
    socket.io.engine.close();
    break;
  case "kick":
    await call("kick").catch(() => {});
    while (socket.connected) await sleep(10);
    await sleep(args.reconnect_after_ms);
    socket.connect();
    break;
  default:
    fail(`unknown cut ${args.cut}`);
}
const second = await connects.next("connect");
out({ second, disconnects });

// Everything the server sent while we were away, then one more of each live.
const total = 3 + args.later.n;
await call("once_more", total + 1, args.later.n + 1);
const deadline = Date.now() + (args.expect_missed ? 5000 : 300);
while (
  (received.news.length < total + 1 ||
    received.direct.length < args.later.n + 1 ||
    (args.job_asks && received.tick.length < args.later.n + 1)) &&
  Date.now() < deadline
) {
  await sleep(20);
}
await sleep(100);
out({ events: received });
const after = await call("whoami");
out({ after });
socket.disconnect();
await sleep(200); // the DISCONNECT packet's POST, over polling
exit(0);
