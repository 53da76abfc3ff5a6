// A Node.js member of a sharded Redis cluster, driven line by line by tests/redis_sharded.rs.
//
// argv[2]: {"redis": "redis://...", "port": n | null, "mode": "static" | "dynamic",
// "publisher": bool}. With a port it serves socket.io 4.8 with @socket.io/redis-adapter 8.3
// (createShardedAdapter, that subscriptionMode) on 127.0.0.1:port; with "publisher" it also
// runs a headless Server on the same adapter (no HTTP), an outside publisher as the Node
// emitter cannot be; in any case it runs socket.io-client clients on whatever server a command
// names.
//
// Protocol: one JSON command per line on stdin, {"id": n, "cmd": ..., ...}; one JSON answer per
// line on stdout, {"id": n, ...} (or {"id": n, "error": ...}). Binary values cross as
// {"$binary": base64} (lib.mjs). Exits when stdin closes.

import { createInterface } from "node:readline";
import { createServer } from "node:http";
import { Server } from "socket.io";
import { io as connect } from "socket.io-client";
import { createClient } from "redis";
import { createShardedAdapter } from "@socket.io/redis-adapter";
import { out, toJson, fromJson } from "./lib.mjs";

const config = JSON.parse(process.argv[2]);
let server = null;
let headless = null;
const serverEvents = [];
const clients = new Map(); // name -> {socket, events}

async function shardedAdapter() {
  const pub = createClient({ url: config.redis });
  const sub = pub.duplicate();
  for (const c of [pub, sub]) c.on("error", () => {});
  await Promise.all([pub.connect(), sub.connect()]);
  return createShardedAdapter(pub, sub, { subscriptionMode: config.mode });
}

if (config.port) {
  const http = createServer();
  server = new Server(http, { adapter: await shardedAdapter() });
  server.on("connection", (socket) => {
    socket.on("join", (room, cb) => {
      socket.join(room);
      cb(socket.id);
    });
    socket.on("leave", (room, cb) => {
      socket.leave(room);
      cb(socket.id);
    });
  });
  // The chat example's protocol, enough of it for a mixed chat cluster.
  server.of("/chat").on("connection", (socket) => {
    let nick = "";
    socket.on("login", (n, cb) => {
      nick = n;
      cb({ nick });
    });
    socket.on("join", (room, cb) => {
      socket.join(room);
      cb({ rooms: [...socket.rooms].filter((r) => r !== socket.id).sort() });
    });
    socket.on("leave", (room, cb) => {
      socket.leave(room);
      cb({ rooms: [...socket.rooms].filter((r) => r !== socket.id).sort() });
    });
    socket.on("say", (room, text, cb) => {
      socket.to(room).emit("said", { room, nick, text });
      cb(true);
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

if (config.publisher) {
  headless = new Server({ adapter: await shardedAdapter() });
  // Subscribed once the namespace exists; let the SSUBSCRIBEs land.
  headless.of("/chat");
  await new Promise((r) => setTimeout(r, 200));
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
  // A headless Server (no HTTP) with the sharded adapter: what any outside publisher of the
  // sharded protocol sends.
  async publisher(c) {
    let op = headless.of(c.nsp ?? "/");
    if (c.to && c.to.length) op = op.to(c.to);
    if (c.except && c.except.length) op = op.except(c.except);
    switch (c.op ?? "emit") {
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
        headless.of(c.nsp ?? "/").serverSideEmit(c.event, ...c.args);
        break;
    }
    return {};
  },
  // The join/leave race: client `name` joins `room`; then, `rounds` times, client `sayer` (on
  // another process) sends `say(room, "m<n>")`, whose ack means its server broadcast to the
  // room; `name` must receive an `event` carrying "m<n>"; then it leaves and joins again at
  // once. With `fresh`, each round uses a room never joined before (`<room>-<n>`): the first
  // join's subscription is what is tested. Reports the rounds whose broadcast never arrived.
  async race(c) {
    const joiner = clients.get(c.name);
    const sayer = clients.get(c.sayer);
    const seen = new Set();
    const listener = (...args) => {
      for (const m of JSON.stringify(args).matchAll(/"(m[0-9]+)"/g)) seen.add(m[1]);
    };
    joiner.socket.on(c.event, listener);
    const missing = [];
    const room = (n) => (c.fresh ? `${c.room}-${n}` : c.room);
    await joiner.socket.timeout(3000).emitWithAck("join", room(0));
    for (let n = 0; n < c.rounds; n++) {
      await sayer.socket.timeout(3000).emitWithAck("say", room(n), `m${n}`);
      const deadline = Date.now() + (c.wait_ms ?? 1000);
      while (!seen.has(`m${n}`) && Date.now() < deadline) await new Promise((r) => setTimeout(r, 1));
      if (!seen.has(`m${n}`)) missing.push(n);
      await joiner.socket.timeout(3000).emitWithAck("leave", room(n));
      await joiner.socket.timeout(3000).emitWithAck("join", room(n + 1));
    }
    joiner.socket.off(c.event, listener);
    joiner.events.splice(0, joiner.events.length);
    sayer.events.splice(0, sayer.events.length);
    return { missing };
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
