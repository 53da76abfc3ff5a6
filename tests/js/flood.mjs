// A stock socket.io-client that emits many events as fast as it can and waits for every ack.
//
// argv[2] / stdin: {
//   "url": "http://127.0.0.1:PORT",
//   "transports": ["websocket"] | ["polling"],
//   "count": number of events,
//   "event": event name (acked by the server with its arguments),
//   "timeout_ms": hard timeout (default 60000)
// }
// Prints {"connected": true}, then {"acked": n, "in_order": bool, "disconnects": [reasons]} when
// every ack arrived or the connection was lost.
import { io } from "socket.io-client";
import { exit, hardTimeout, out, scenarioArgs } from "./lib.mjs";

const args = await scenarioArgs();
hardTimeout(args.timeout_ms ?? 60000);
const socket = io(args.url, {
  transports: args.transports,
  upgrade: false,
  forceNew: true,
  reconnection: false,
});
const disconnects = [];
let acked = 0;
let inOrder = true;
let done = false;
function finish() {
  if (done) return;
  done = true;
  out({ acked, in_order: inOrder, disconnects });
  socket.close();
  exit(0);
}
socket.on("disconnect", (reason) => {
  disconnects.push(reason);
  finish();
});
socket.on("connect", () => {
  out({ connected: true });
  // One synchronous burst: over polling, everything after the first packet waits in the
  // client's buffer and leaves in one POST, as when a client comes back after being offline.
  for (let i = 0; i < args.count; i++) {
    socket.emit(args.event, i, (echoed) => {
      if (echoed !== acked) inOrder = false;
      acked += 1;
      if (acked === args.count) finish();
    });
  }
});
