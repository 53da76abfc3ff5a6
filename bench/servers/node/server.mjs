// The benchmark contract (bench/README.md) on the Node.js reference server: namespace /bench,
// `echo` acked with its arguments, `broadcast` re-emitted to every socket of the namespace,
// sender included. PORT (default 3000); with REDIS_URL, one process of a cluster sharing that
// Redis through @socket.io/redis-adapter (the classic adapter), as our bench_server does.
import { createServer } from "node:http";
import { Server } from "socket.io";

const port = Number(process.env.PORT ?? 3000);
const httpServer = createServer();
const io = new Server(httpServer, { pingInterval: 25000, pingTimeout: 20000 });

if (process.env.REDIS_URL) {
  const { createClient } = await import("redis");
  const { createAdapter } = await import("@socket.io/redis-adapter");
  const pub = createClient({ url: process.env.REDIS_URL });
  const sub = pub.duplicate();
  await Promise.all([pub.connect(), sub.connect()]);
  io.adapter(createAdapter(pub, sub));
}

for (const nsp of [io.of("/bench"), io.of("/")]) {
  nsp.on("connection", (socket) => {
    socket.on("echo", (...args) => {
      const ack = typeof args[args.length - 1] === "function" ? args.pop() : null;
      if (ack) ack(...args);
    });
    socket.on("broadcast", (...args) => {
      if (typeof args[args.length - 1] === "function") args.pop();
      nsp.emit("broadcast", ...args);
    });
  });
}

httpServer.listen(port, "127.0.0.1", () => console.log(`node bench server on ${port}`));
for (const sig of ["SIGINT", "SIGTERM"]) process.on(sig, () => io.close(() => process.exit(0)));
