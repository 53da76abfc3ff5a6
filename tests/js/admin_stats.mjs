// The admin UI's live view of a server (tests/admin_ui.rs): `aggregatedEvents`, the client
// counts, disconnect reasons, `socket_updated` and the socket details, observed by an admin
// socket (no auth, development mode) while clients come and go in every way a socket can leave.
// Run against our server, or with "node_reference": true against the Node reference server
// (socket.io with @socket.io/admin-ui's instrument(), started here), so that the test can hold
// both to the same expectations. Same protocol as the other scripts (see lib.mjs).
//
// stdin: {
//   "url": "http://127.0.0.1:PORT" (ours) | null with "node_reference": true,
//   "ping": [interval_ms, timeout_ms]   the server's heartbeat (a Node server is made with it)
// }
// The server has, in "/": "echo" and "echo_bytes" (ack their argument), "set_data" (sets
// socket.data.name).
// Every engine packet each client (the admin socket too) sends and receives is counted on the
// client side, as the Node package counts them on the server side: message packets with data,
// and the length of that data. The counts are taken just before each `server_stats` arrives.
//
// Prints, in order:
//   {"clients": {"c1": id, ...}}          the socket id of each client (see below)
//   {"all_sockets": [...]}                what a second admin socket got while c1 was connected
//   {"time_parsed": ms}                   Date.parse() of c1's handshake.time there
//   {"seen": [[event, ...args], ...]}     every event of the admin socket but server_stats
//   {"stats": [...]}                      each server_stats after the counting started
//   {"client_side": {...}}                the client-side counts between the first and last of them
// Clients: c1 polling then WebSocket, echoes text and binary, sets data, disconnects itself;
// c2 WebSocket, closes its transport; r3 raw WebSocket, sends an undecodable Engine.IO packet;
// r4 raw, an undecodable Socket.IO packet; r5 raw, never answers pings; c6 disconnected by the
// admin with close = true.
import http from "node:http";
import { io } from "socket.io-client";
import WebSocket from "ws";
import { exit, fail, hardTimeout, out, scenarioArgs, sleep } from "./lib.mjs";

const args = await scenarioArgs();
hardTimeout(args.timeout_ms ?? 30000);
const [pingInterval, pingTimeout] = args.ping;

let url = args.url;
if (args.node_reference) {
  const { Server } = await import("socket.io");
  const { instrument } = await import("@socket.io/admin-ui");
  const httpServer = http.createServer();
  const server = new Server(httpServer, { pingInterval, pingTimeout });
  server.on("connection", (socket) => {
    socket.on("echo", (x, ack) => ack(x));
    socket.on("echo_bytes", (x, ack) => ack(x));
    socket.on("set_data", (name) => {
      socket.data.name = name;
    });
  });
  instrument(server, { auth: false, mode: "development" });
  await new Promise((resolve) => httpServer.listen(0, "127.0.0.1", resolve));
  url = `http://127.0.0.1:${httpServer.address().port}`;
}

// ----- client-side counts

const counts = { packetsIn: 0, bytesIn: 0, packetsOut: 0, bytesOut: 0 };
const snapshots = []; // the counts just before each server_stats packet arrived
const size = (data) => (typeof data === "string" ? Buffer.byteLength(data) : data.byteLength);
/** What the server receives: a packet this client sent. */
function sent(type, data) {
  if (type === "message" && data !== undefined && data !== "") {
    counts.packetsIn++;
    counts.bytesIn += size(data);
  }
}
/** What the server sends: a packet this client received (`main`: the admin socket). */
function received(type, data, main = false) {
  if (type === "message" && data !== undefined && data !== "") {
    if (main && typeof data === "string" && data.startsWith('2/admin,["server_stats"')) {
      snapshots.push({ ...counts });
    }
    counts.packetsOut++;
    counts.bytesOut += size(data);
  }
}

function connect(nsp, transports, main = false) {
  const s = io(url + nsp, { transports, forceNew: true, reconnection: false, timeout: 5000 });
  const engine = s.io.engine; // made at once (autoConnect): nothing it sends is missed
  engine.on("packetCreate", (p) => sent(p.type, p.data));
  engine.on("packet", (p) => received(p.type, p.data, main));
  return s;
}

function connected(socket) {
  return new Promise((resolve, reject) => {
    socket.once("connect", resolve);
    socket.once("connect_error", (e) => reject(new Error("connect_error: " + e.message)));
  });
}

/** A raw Engine.IO WebSocket client that joins "/" and then does `then(ws)`; resolves with its
 * socket id. Counts what it sends and receives as the socket.io clients do. */
function raw(then, answerPings = true) {
  return new Promise((resolve, reject) => {
    const ws = new WebSocket(url.replace("http", "ws") + "/socket.io/?EIO=4&transport=websocket");
    const send = (text) => {
      sent(text[0] === "4" ? "message" : "other", text.slice(1));
      ws.send(text);
    };
    ws.on("error", reject);
    ws.on("message", (buf, isBinary) => {
      const text = buf.toString();
      received(!isBinary && text[0] === "4" ? "message" : "other", text.slice(1));
      if (text === "2" && answerPings) send("3");
      if (text[0] === "0") send("40");
      if (text.startsWith("40{")) {
        resolve(JSON.parse(text.slice(2)).sid);
        then(send, ws);
      }
    });
  });
}

// ----- the admin socket

const seen = [];
const stats = [];
let counting = false;
const admin = connect("/admin", ["websocket"], true);
const tick = () => new Promise((resolve) => admin.once("server_stats", resolve));
admin.onAny((event, ...rest) => {
  if (event === "server_stats") {
    if (counting) stats.push(rest[0]);
  } else {
    seen.push([event, ...rest]);
  }
});
await connected(admin);
// Two ticks: nothing moves between the second one's count and its arrival, so the counting
// starts clean there.
await tick();
await tick();
counting = true;
const first = snapshots.length - 1;

const gone = new Map(); // socket id -> reason
const left = (id) =>
  new Promise((resolve) => {
    const check = () => {
      const e = seen.find((e) => e[0] === "socket_disconnected" && e[2] === id);
      if (e) resolve(e[3]);
      else setTimeout(check, 20);
    };
    check();
  });

// c1: polling, upgraded, then text and binary echoes, data, its own disconnect.
const clients = {};
const c1 = connect("/", ["polling", "websocket"]);
await connected(c1);
clients.c1 = c1.id;
if (c1.io.engine.transport.name !== "websocket") {
  await new Promise((resolve) => c1.io.engine.once("upgrade", resolve));
}
if ((await c1.timeout(5000).emitWithAck("echo", "héllo ☃")) !== "héllo ☃") fail("echo");
const echoed = await c1.timeout(5000).emitWithAck("echo_bytes", Buffer.alloc(100, 7));
if (echoed.byteLength !== 100) fail("binary echo");
c1.emit("set_data", "alice");
await c1.timeout(5000).emitWithAck("echo", "after data");
// A second admin socket sees c1 with its data and handshake.
// It waits for all it is sent on connecting (its own socket_connected, config, all_sockets: the
// order may differ), and leaves before c1 does, so that nothing is sent to it once it closed.
const admin2 = connect("/admin", ["websocket"]);
const got = (event, pred = () => true) =>
  new Promise((resolve) => {
    const listener = (...a) => {
      if (pred(...a)) {
        admin2.off(event, listener);
        resolve(a[0]);
      }
    };
    admin2.on(event, listener);
  });
const all = got("all_sockets");
const config = got("config");
const itself = got("socket_connected", (s) => s.id === admin2.id);
await connected(admin2);
const admin2Id = admin2.id;
const [sockets] = await Promise.all([all, config, itself]);
out({ all_sockets: sockets });
const mine = sockets.find((s) => s.id === c1.id);
out({ time_parsed: mine ? Date.parse(mine.handshake.time) : null });
admin2.close();
await left(admin2Id);
c1.disconnect();
await left(clients.c1);

// c2: WebSocket; its transport closes.
const c2 = connect("/", ["websocket"]);
await connected(c2);
clients.c2 = c2.id;
c2.io.engine.close();
await left(clients.c2);

// r3, r4: what cannot be decoded, at each layer. r5: no pongs.
clients.r3 = await raw((send) => send("x"));
await left(clients.r3);
clients.r4 = await raw((send) => send("49"));
await left(clients.r4);
clients.r5 = await raw(() => {}, false);
await left(clients.r5);

// c6: the admin disconnects it and closes its connection.
const c6 = connect("/", ["websocket"]);
await connected(c6);
clients.c6 = c6.id;
admin.emit("_disconnect", "/", true, clients.c6);
await left(clients.c6);
out({ clients });

// Two more ticks with nothing moving: the last one counts everything up to it.
await sleep(200);
await tick();
await tick();
const last = snapshots.length - 1;
const client_side = {};
for (const k of Object.keys(counts)) client_side[k] = snapshots[last][k] - snapshots[first][k];
out({ seen });
out({ stats });
out({ client_side });
admin.close();
exit(0);
