// A stock socket.io-client that connects, says it is connected, and reports how its
// connection ends.
//
// argv[2] / stdin: {"url": "http://127.0.0.1:PORT", "nsp": "/", "auth": {...},
//                   "transports": [...], "timeout_ms": 20000}
// Prints {"connected": id}, then {"disconnect": reason, "description": ..} and exits.
import { io } from "socket.io-client";
import { exit, hardTimeout, out, scenarioArgs } from "./lib.mjs";

const args = await scenarioArgs();
hardTimeout(args.timeout_ms ?? 20000);
const socket = io(args.url + (args.nsp ?? "/"), {
  transports: args.transports ?? ["websocket"],
  forceNew: true,
  reconnection: false,
  auth: args.auth,
});
socket.on("connect", () => out({ connected: socket.id }));
socket.on("connect_error", (e) => {
  out({ connect_error: e.message });
  exit(1);
});
socket.on("disconnect", (reason, details) => {
  out({
    disconnect: reason,
    description: details && details.description ? String(details.description) : null,
    code: details && details.context && details.context.code !== undefined ? details.context.code : null,
  });
  exit(0);
});
