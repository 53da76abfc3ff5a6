// The Node reference server (socket.io 4.8.1 on Node's http server: engine.io 6.6 and ws 8)
// with the contract of `examples/conformance.rs` on `/socket.io/`, for tests that send both
// the same requests and compare the answers (`tests/against_node.rs`).
//
// Listens on 127.0.0.1:$PORT. Namespace `/`: on connect emits `auth` with the client's auth
// payload; `message` is answered with `message-back` and the same arguments,
// `message-with-ack` is acked with them. pingInterval 300 ms, pingTimeout 200 ms, maxPayload
// 1,000,000, connectTimeout 1000 ms, CORS for any origin. Exits after 5 minutes or on SIGTERM.
import { createServer } from "node:http";
import { Server } from "socket.io";

const port = Number(process.env.PORT);
const http = createServer();
const io = new Server(http, {
  pingInterval: 300,
  pingTimeout: 200,
  maxHttpBufferSize: 1e6,
  connectTimeout: 1000,
  cors: { origin: "*" },
});
io.on("connection", (socket) => {
  socket.emit("auth", socket.handshake.auth);
  socket.on("message", (...args) => socket.emit("message-back", ...args));
  socket.on("message-with-ack", (...args) => {
    const ack = args.pop();
    ack(...args);
  });
});
http.listen(port, "127.0.0.1");
const stop = () => {
  io.close();
  process.exit(0);
};
process.on("SIGTERM", stop);
setTimeout(stop, 300_000).unref();
