// The admin UI's namespace (tests/admin_ui.rs), driven with socket.io-client as the
// @socket.io/admin-ui 0.5 dashboard drives it: auth {username, password} or {sessionId}, then
// the events of typed-events.ts. Same protocol as the other scripts (see lib.mjs).
//
// stdin: {
//   "url": "http://127.0.0.1:PORT",
//   "admin": "/admin",               the admin namespace
//   "password": "...",               the right password (user "admin"), or null without auth
//   "client": {"nsp": "/chat", "auth": {...}, "login": "alice"} | {"nsp": "/", "auth": null},
//   "client_url": where the client connects (default: "url"; another process of a cluster),
//   "transports": ["polling", "websocket"] (default),
//   "parser": "msgpack" for socket.io-msgpack-parser (the dashboard's "MessagePack parser"),
//   "timeout_ms": hard timeout (default 20000)
// }
// Prints, in order:
//   {"refused": {"auth": ..., "message": "..."}}   for each wrong login tried (with a password)
//   {"admin": "connected", "session": id|null, "config": {...}}
//   {"all_sockets": [...]}                          development mode only (within 1 s)
//   {"server_stats": {...}}                         the first one
//   {"client": "<id>"}                              the client socket the operations act on
//   {"seen": [[event, ...args], ...]}               what the dashboard was sent meanwhile
//   {"client_events": [[event, ...args], ...]}      what the client received from the operations
//   {"client_rooms": [...]}                         the client's rooms after `join` (chat only)
//   {"client_disconnected": reason|null}            after `_disconnect`
//   {"session_reuse": "connected"|message}          a new admin socket with {sessionId}
import { io } from "socket.io-client";
import { exit, hardTimeout, out, scenarioArgs, sleep } from "./lib.mjs";

const args = await scenarioArgs();
hardTimeout(args.timeout_ms ?? 20000);
const transports = args.transports ?? ["polling", "websocket"];

const parser =
  args.parser === "msgpack" ? (await import("socket.io-msgpack-parser")).default : undefined;

function connect(nsp, auth, url = args.url) {
  const opts = { auth, transports, forceNew: true, reconnection: false, timeout: 5000 };
  if (parser !== undefined) opts.parser = parser;
  return io(url + nsp, opts);
}

/** Resolves with {ok: true} on connect, {ok: false, message} on connect_error. */
function connected(socket) {
  return new Promise((resolve) => {
    socket.once("connect", () => resolve({ ok: true }));
    socket.once("connect_error", (e) => resolve({ ok: false, message: e.message }));
  });
}

const seen = [];
function watch(admin) {
  admin.onAny((event, ...rest) => {
    if (event !== "server_stats" && event !== "config" && event !== "all_sockets" && event !== "session") {
      seen.push([event, ...rest]);
    }
  });
}

// 1. Wrong logins.
if (args.password !== null) {
  for (const auth of [
    { username: "admin", password: args.password + "x" },
    { username: "root", password: args.password },
    { sessionId: "0123456789abcdef" },
    {},
  ]) {
    const s = connect(args.admin, auth);
    const r = await connected(s);
    out({ refused: { auth, ok: r.ok, message: r.message ?? null } });
    s.close();
  }
}

// 2. The dashboard logs in.
const auth = args.password === null ? {} : { username: "admin", password: args.password };
const admin = connect(args.admin, auth);
let session = null;
let config = null;
let allSockets = null;
admin.on("session", (id) => { session = id; });
admin.on("config", (c) => { config = c; });
admin.on("all_sockets", (s) => { allSockets = s; });
const firstStats = new Promise((resolve) => admin.once("server_stats", resolve));
watch(admin);
const r = await connected(admin);
if (!r.ok) {
  out({ admin: "refused", message: r.message });
  exit(0);
} else {
  await sleep(300);
  out({ admin: "connected", session, config });

  // 3. A client of the application.
  const c = args.client;
  const client = connect(c.nsp, c.auth, args.client_url ?? args.url);
  const clientEvents = [];
  client.onAny((event, ...rest) => clientEvents.push([event, ...rest]));
  let clientDisconnected = null;
  client.on("disconnect", (reason) => { clientDisconnected = reason; });
  const cr = await connected(client);
  if (!cr.ok) throw new Error("client refused: " + cr.message);
  if (c.login) {
    await client.timeout(5000).emitWithAck("login", c.login);
    await client.timeout(5000).emitWithAck("join", "lobby");
    await client.timeout(5000).emitWithAck("ticker", 50);
    await sleep(120);
    await client.timeout(5000).emitWithAck("stop_ticker");
  }
  if (transports.length > 1 && client.io.engine.transport.name !== "websocket") {
    await new Promise((resolve) => client.io.engine.once("upgrade", resolve));
  }
  out({ client: client.id });
  // all_sockets came right after connecting; a fresh admin socket sees the client too.
  const admin2 = connect(args.admin, auth);
  const sockets2 = new Promise((resolve) => {
    admin2.once("all_sockets", resolve);
    setTimeout(() => resolve(null), 1500);
  });
  await connected(admin2);
  out({ all_sockets: allSockets, later: await sockets2 });
  admin2.close();
  out({ server_stats: await firstStats });

  // 4. The operations, each on the client alone (its id as the filter), as the dashboard does.
  admin.emit("join", c.nsp, "news", client.id);
  await sleep(300);
  if (c.login) {
    const rooms = await client.timeout(5000).emitWithAck("join", "lobby");
    out({ client_rooms: rooms.rooms });
  }
  admin.emit("emit", c.nsp, "news", "said", { room: "news", nick: "admin", text: "hello" });
  await sleep(300);
  admin.emit("leave", c.nsp, "news", client.id);
  await sleep(300);
  admin.emit("_disconnect", c.nsp, false, client.id);
  // Long enough for a server_stats tick (every 2 s) after the client's upgrade: that tick
  // reports it (socket_updated).
  await sleep(2100);
  out({ seen });
  out({ client_events: clientEvents });
  out({ client_disconnected: clientDisconnected });
  client.close();

  // 5. The session id lets a new socket in without the password.
  if (session !== null) {
    const again = connect(args.admin, { sessionId: session });
    const a = await connected(again);
    out({ session_reuse: a.ok ? "connected" : a.message });
    again.close();
  }
  admin.close();
  exit(0);
}
