// engine.io-client (raw Engine.IO) against an echo server.
//
// argv[2]: {
//   "url": "http://127.0.0.1:PORT",
//   "path": "/engine.io/" (default),
//   "transports": ["polling"] | ["websocket"] | ["polling", "websocket"],
//   "upgrade": bool (default: true when both transports are given),
//   "send_before_upgrade": bool (default false): with an upgrade, send the messages as soon as
//       the session is open, so that they cross the upgrade; otherwise wait for the upgrade first,
//   "messages": [text or {"$binary": "<base64>"}, ...]  all sent in the same tick (so that the
//       client batches them), then the script waits for as many messages back,
//   "timeout_ms": hard timeout (default 10000)
// }
// Prints {"handshake": {...}} (the open packet's data), {"open": {"transport"}},
// {"upgrade": "websocket"}, one {"message": text or {"$binary"}} per message received, and
// {"closed": {"transport"}} after it closed the session itself.
import { Socket } from "engine.io-client";
import { exit, fail, fromJson, hardTimeout, once, out, scenarioArgs, toJson } from "./lib.mjs";

const args = await scenarioArgs();
hardTimeout(args.timeout_ms ?? 10000);
const transports = args.transports ?? ["polling", "websocket"];
const upgrade = args.upgrade ?? transports.length > 1;
const messages = fromJson(args.messages ?? []);

const socket = new Socket(args.url, {
  path: args.path ?? "/engine.io/",
  transports,
  upgrade,
});
const received = [];
let wanted = null;
socket.on("handshake", (data) => out({ handshake: data }));
socket.on("upgrade", (transport) => out({ upgrade: transport.name }));
socket.on("message", (data) => {
  received.push(data);
  out({ message: toJson(data) });
  if (wanted && received.length >= messages.length) wanted();
});
socket.on("close", (reason, description) => {
  if (!closing) fail(`session closed: ${reason} ${description ? String(description) : ""}`);
});
socket.on("error", (err) => fail(`error: ${err}`));
let closing = false;

await once(socket, "open");
out({ open: { transport: socket.transport.name } });
const waitUpgrade = () =>
  once(socket, "upgrade", () => socket.transport.name === "websocket");
if (upgrade && transports.includes("websocket") && !args.send_before_upgrade) {
  await waitUpgrade();
}
const allBack = new Promise((resolve) => {
  wanted = resolve;
  if (received.length >= messages.length) resolve();
});
for (const m of messages) socket.send(m);
await allBack;
if (upgrade && transports.includes("websocket")) await waitUpgrade();
closing = true;
const transport = socket.transport.name;
socket.close();
out({ closed: { transport } });
exit(0);
