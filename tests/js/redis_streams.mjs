// A Node.js member of a Redis streams cluster, driven line by line by tests/redis_streams.rs.
//
// argv[2]: {"redis": "redis://...", "port": n | null}. With a port it serves socket.io 4.8 with
// @socket.io/redis-streams-adapter 0.3 and connection state recovery on 127.0.0.1:port, with
// two namespaces: "/" (`join` joins a room and acks the socket id) and "/chat" (the chat
// example's protocol: token auth, login, join, leave, say; the nick lives in socket.data). In
// any case it runs socket.io-client clients on whatever server a command names.
//
// Protocol: one JSON command per line on stdin, {"id": n, "cmd": ..., ...}; one JSON answer per
// line on stdout, {"id": n, ...} (or {"id": n, "error": ...}). Binary values cross as
// {"$binary": base64} (lib.mjs). An event's recovery offset (a last string argument shaped
// like a stream id) is reported apart, as "offset". Exits when stdin closes.

import { createInterface } from "node:readline";
import { createServer } from "node:http";
import { Server } from "socket.io";
import { io as connect } from "socket.io-client";
import { createClient } from "redis";
import { createAdapter } from "@socket.io/redis-streams-adapter";
import { out, toJson, fromJson } from "./lib.mjs";

const config = JSON.parse(process.argv[2]);
let server = null;
const serverEvents = [];
const clients = new Map(); // name -> {socket, events, connects}

const OFFSET = /^[0-9]+-[0-9]+$/;

if (config.port) {
  const redis = createClient({ url: config.redis });
  redis.on("error", () => {});
  await redis.connect();
  const http = createServer();
  server = new Server(http, {
    adapter: createAdapter(redis),
    connectionStateRecovery: { maxDisconnectionDuration: 120000, skipMiddlewares: true },
  });
  server.on("connection", (socket) => {
    socket.on("join", (room, cb) => {
      socket.join(room);
      cb(socket.id);
    });
  });
  const rooms = (socket) => ({ rooms: [...socket.rooms].filter((r) => r !== socket.id).sort() });
  const chat = server.of("/chat");
  chat.use((socket, next) => (socket.handshake.auth?.token ? next() : next(new Error("unauthorized"))));
  chat.on("connection", (socket) => {
    socket.on("login", (nick, cb) => {
      socket.data.nick = nick;
      cb({ nick });
    });
    socket.on("join", (room, cb) => {
      socket.join(room);
      cb(rooms(socket));
    });
    socket.on("leave", (room, cb) => {
      socket.leave(room);
      cb(rooms(socket));
    });
    socket.on("say", (room, text, cb) => {
      socket.to(room).emit("said", { room, nick: socket.data.nick ?? "", text });
      cb(true);
    });
  });
  for (const ev of ["hello", "ping"]) {
    server.on(ev, (...args) => {
      const cb = typeof args[args.length - 1] === "function" ? args.pop() : null;
      serverEvents.push({ event: ev, args: toJson(args) });
      if (cb) cb({ from: "node" });
    });
  }
  await new Promise((resolve) => http.listen(config.port, "127.0.0.1", resolve));
}

function target(op, c) {
  if (c.to && c.to.length) op = op.to(c.to);
  if (c.except && c.except.length) op = op.except(c.except);
  return op;
}

async function waitFor(list, count, ms) {
  const deadline = Date.now() + ms;
  while (list.length < count && Date.now() < deadline) {
    await new Promise((r) => setTimeout(r, 10));
  }
  return list.splice(0, list.length);
}

const handlers = {
  // A client that does not reconnect by itself (`reconnect` does it, to any URL).
  async client(c) {
    const socket = connect(c.url, {
      transports: ["websocket"],
      reconnection: false,
      auth: c.auth,
    });
    const client = { socket, events: [], connects: [] };
    clients.set(c.name, client);
    socket.onAny((event, ...args) => {
      const cb = typeof args[args.length - 1] === "function" ? args.pop() : null;
      let offset = null;
      if (typeof args[args.length - 1] === "string" && OFFSET.test(args[args.length - 1])) {
        offset = args.pop();
      }
      client.events.push({ event, args: toJson(args), offset });
      if (cb) cb({ from: c.name });
    });
    socket.on("connect", () => client.connects.push({ id: socket.id, recovered: socket.recovered }));
    await new Promise((resolve, reject) => {
      socket.once("connect", resolve);
      socket.once("connect_error", reject);
    });
    return { sid: socket.id };
  },
  async ask(c) {
    const answer = await clients.get(c.name).socket.timeout(3000).emitWithAck(c.event, ...fromJson(c.args));
    return { answer: toJson(answer) };
  },
  async events(c) {
    return { events: await waitFor(clients.get(c.name).events, c.count ?? 0, c.wait_ms ?? 0) };
  },
  // Cuts the client's WebSocket under it (a lost connection, recoverable) and points it at
  // `url` for its next connection.
  async cut(c) {
    const { socket } = clients.get(c.name);
    const closed = new Promise((resolve) => socket.once("disconnect", resolve));
    socket.io.uri = c.url;
    socket.io.engine.transport.ws.terminate();
    return { reason: await closed };
  },
  async reconnect(c) {
    const client = clients.get(c.name);
    const connected = new Promise((resolve, reject) => {
      client.socket.once("connect", resolve);
      client.socket.once("connect_error", reject);
    });
    client.socket.connect();
    await connected;
    const last = client.connects[client.connects.length - 1];
    return { sid: last.id, recovered: last.recovered };
  },
  async emit(c) {
    target(server.of(c.nsp ?? "/"), c).emit(c.event, ...fromJson(c.args));
    return {};
  },
  async emit_ack(c) {
    const responses = await target(server.of(c.nsp ?? "/").timeout(c.timeout_ms ?? 3000), c).emitWithAck(
      c.event,
      ...fromJson(c.args),
    );
    return { responses: toJson(responses) };
  },
  async fetch(c) {
    const sockets = await target(server.of(c.nsp ?? "/"), c).fetchSockets();
    return { sockets: sockets.map((s) => ({ id: s.id, rooms: [...s.rooms].sort() })) };
  },
  async sockets_join(c) {
    target(server.of(c.nsp ?? "/"), c).socketsJoin(c.rooms);
    return {};
  },
  async server_side_emit(c) {
    server.serverSideEmit(c.event, ...c.args);
    return {};
  },
  async server_side_emit_ack(c) {
    const answers = await server.serverSideEmitWithAck(c.event, ...c.args);
    return { answers };
  },
  async server_events() {
    return { events: serverEvents.splice(0, serverEvents.length) };
  },
};

const lines = createInterface({ input: process.stdin });
out({ ready: true });
for await (const line of lines) {
  if (!line.trim()) continue;
  const c = JSON.parse(line);
  try {
    out({ id: c.id, ...(await handlers[c.cmd](c)) });
  } catch (e) {
    out({ id: c.id, error: String(e && e.stack ? e.stack : e) });
  }
}
for (const { socket } of clients.values()) socket.close();
if (server) server.close();
process.exit(0);
