// One client that never reads, while another makes the server broadcast to both: the slow
// reader's queue is what the server holds for it. Both join `/bench` over raw WebSockets; the
// slow one stops reading its socket; the fast one sends `count` `broadcast` events of `size`
// bytes (bench_server emits each to every socket of the namespace) and reads everything.
// Prints {"sent": n, "fast_received": m, "slow_closed": bool} and exits after `hold_ms`.
//
//   node slow_reader.mjs '{"port": 3000, "count": 1000, "size": 100000, "hold_ms": 5000}'
import { createRequire } from "node:module";
import { fileURLToPath } from "node:url";

// The `ws` package the integration tests install (tests/node_modules).
const require = createRequire(fileURLToPath(new URL("../../tests/package.json", import.meta.url)));
const WebSocket = require("ws");

const args = JSON.parse(process.argv[2]);
const url = `ws://127.0.0.1:${args.port}/socket.io/?EIO=4&transport=websocket`;
const payload = "x".repeat(args.size);

function join(onJoined) {
  const ws = new WebSocket(url);
  ws.on("message", (data) => {
    const text = data.toString();
    if (text === "2") ws.send("3");
    else if (text.startsWith("0{")) ws.send("40/bench,");
    else if (text.startsWith("40/bench,")) onJoined(ws);
    else ws.emit("packet", text);
  });
  return ws;
}

let slowClosed = false;
let fastReceived = 0;
join((slow) => {
  slow._socket.pause(); // read nothing more
  slow.on("close", () => (slowClosed = true));
  join((fast) => {
    fast.on("packet", () => (fastReceived += 1));
    for (let i = 0; i < args.count; i++) fast.send(`42/bench,["broadcast","${payload}"]`);
    setTimeout(() => {
      console.log(JSON.stringify({ sent: args.count, fast_received: fastReceived, slow_closed: slowClosed }));
      process.exit(0);
    }, args.hold_ms);
  });
});
