// A Node.js member of a Redis cluster, driven line by line by tests/redis_cluster.rs.
//
// argv[2]: {"redis": "redis://...", "port": n | null}. With a port it serves socket.io 4.8 with
// @socket.io/redis-adapter 8.3 (createAdapter) on 127.0.0.1:port; in any case it runs
// socket.io-client clients on whatever server a command names.
//
// Protocol: one JSON command per line on stdin, {"id": n, "cmd": ..., ...}; one JSON answer per
// line on stdout, {"id": n, ...} (or {"id": n, "error": ...}). Binary values cross as
// {"$binary": base64} (lib.mjs). Exits when stdin closes.

import { createInterface } from "node:readline";
import { createServer } from "node:http";
import { Server } from "socket.io";
import { io as connect } from "socket.io-client";
import { createClient } from "redis";
import { createAdapter } from "@socket.io/redis-adapter";
import { Emitter } from "@socket.io/redis-emitter";
import { out, toJson, fromJson } from "./lib.mjs";

const config = JSON.parse(process.argv[2]);
let server = null;
let emitter = null;
const serverEvents = [];
const clients = new Map(); // name -> {socket, events}

if (config.port) {
  const pub = createClient({ url: config.redis });
  const sub = pub.duplicate();
  for (const c of [pub, sub]) c.on("error", () => {});
  await Promise.all([pub.connect(), sub.connect()]);
  const http = createServer();
  server = new Server(http, { adapter: createAdapter(pub, sub, { requestsTimeout: 2000 }) });
  server.on("connection", (socket) => {
    socket.on("join", (room, cb) => {
      socket.join(room);
      cb(socket.id);
    });
  });
  // serverSideEmit from other processes: recorded; answered when the sender waits.
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
  if (c.local) op = op.local;
  return op;
}

async function waitEvents(name, count, ms) {
  const deadline = Date.now() + ms;
  const client = clients.get(name);
  while (client.events.length < count && Date.now() < deadline) {
    await new Promise((r) => setTimeout(r, 10));
  }
  return client.events.splice(0, client.events.length);
}

const handlers = {
  async client(c) {
    const socket = connect(c.url, {
      transports: [c.transport || "websocket"],
      reconnection: false,
      auth: c.auth,
    });
    const client = { socket, events: [] };
    clients.set(c.name, client);
    socket.onAny((event, ...args) => {
      const cb = typeof args[args.length - 1] === "function" ? args.pop() : null;
      client.events.push({ event, args: toJson(args) });
      if (cb) cb({ from: c.name });
    });
    socket.on("disconnect", (reason) => client.events.push({ event: "disconnect", args: [reason] }));
    await new Promise((resolve, reject) => {
      socket.on("connect", resolve);
      socket.on("connect_error", reject);
    });
    return { sid: socket.id };
  },
  async join(c) {
    const sid = await clients.get(c.name).socket.timeout(3000).emitWithAck("join", c.room);
    return { sid };
  },
  async ask(c) {
    const answer = await clients.get(c.name).socket.timeout(3000).emitWithAck(c.event, ...fromJson(c.args));
    return { answer: toJson(answer) };
  },
  async events(c) {
    return { events: await waitEvents(c.name, c.count ?? 0, c.wait_ms ?? 0) };
  },
  async emit(c) {
    target(server, c).emit(c.event, ...fromJson(c.args));
    return {};
  },
  async emit_ack(c) {
    const responses = await target(server.timeout(c.timeout_ms ?? 3000), c).emitWithAck(
      c.event,
      ...fromJson(c.args),
    );
    return { responses: toJson(responses) };
  },
  async fetch(c) {
    const sockets = await target(server, c).fetchSockets();
    return { sockets: sockets.map((s) => ({ id: s.id, rooms: [...s.rooms], url: s.handshake.url })) };
  },
  async sockets_join(c) {
    target(server, c).socketsJoin(c.rooms);
    return {};
  },
  async sockets_leave(c) {
    target(server, c).socketsLeave(c.rooms);
    return {};
  },
  async disconnect(c) {
    target(server, c).disconnectSockets(c.close ?? false);
    return {};
  },
  async all_rooms() {
    return { rooms: [...(await server.of("/").adapter.allRooms())] };
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
  // @socket.io/redis-emitter, a process that is not a server.
  async emitter(c) {
    if (!emitter) {
      const client = createClient({ url: config.redis });
      client.on("error", () => {});
      await client.connect();
      emitter = new Emitter(client);
    }
    let op = emitter.of(c.nsp ?? "/");
    if (c.to && c.to.length) op = op.to(c.to);
    if (c.except && c.except.length) op = op.except(c.except);
    if (c.volatile) op = op.volatile;
    if (c.compress !== undefined) op = op.compress(c.compress);
    switch (c.op) {
      case "emit":
        op.emit(c.event, ...fromJson(c.args));
        break;
      case "sockets_join":
        op.socketsJoin(c.rooms);
        break;
      case "sockets_leave":
        op.socketsLeave(c.rooms);
        break;
      case "disconnect":
        op.disconnectSockets(c.close ?? false);
        break;
      case "server_side_emit":
        emitter.of(c.nsp ?? "/").serverSideEmit(c.event, ...c.args);
        break;
    }
    return {};
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
