// socket.io-client 2.5 (Socket.IO v2: Engine.IO v3, Socket.IO protocol v4) driven by a list of
// steps, as sio.mjs drives the v4 client.
//
// argv[2]: {
//   "url": "http://127.0.0.1:PORT",
//   "transports": ["polling"] | ["websocket"] | ["polling", "websocket"],
//   "upgrade": bool (default: true when both transports are given; then every connection
//                    waits until it has been upgraded to WebSocket before going on),
//   "force_base64": bool (default false: the client's forceBase64 option),
//   "timeout_ms": hard timeout of the whole script (default 10000),
//   "steps": [step, ...]
// }
// Steps (binary values in args as {"$binary": "<base64>"}):
//   {"connect": {"nsp": "/custom", "query": {...}}}  opens a new connection (forceNew, no
//       reconnection) and makes it the current one; prints
//       {"connected": {"nsp", "socket_id", "engine_id", "transport"}}.
//       With "same_connection": true, the namespace is opened on the Engine.IO connection of the
//       current one instead (multiplexing).
//   {"connect": {...}, "expect_error": true}  prints {"connect_error": <the error's data>}
//       (a v2 client reports a refused namespace as its "error" event)
//   {"emit": "name", "args": [...]}  /  {"emit": ..., "ack": true}  as in sio.mjs
//   {"expect": "name", "reply": [...]}  as in sio.mjs
//   {"disconnect": true}  /  {"expect_disconnect": true}  /  {"sleep": ms}
//   {"state": true}  prints {"state": {"connected", "transport", "pings", "pongs"}}
// Any step but connect and sleep may say "on": i to act on the i-th connection opened.
// Also printed as they happen: {"upgrade": "websocket"}, {"disconnect": "<reason>"}.
import io from "socket.io-client-v2";
import { exit, fail, fromJson, hardTimeout, once, out, scenarioArgs, sleep, toJson, Inbox } from "./lib.mjs";

const args = await scenarioArgs();
hardTimeout(args.timeout_ms ?? 10000);
const transports = args.transports ?? ["polling", "websocket"];
const upgrade = args.upgrade ?? transports.length > 1;
const connections = [];
let finished = false;

async function connect(step) {
  const nsp = step.connect.nsp ?? "/";
  const opts = {
    transports,
    upgrade,
    forceNew: true,
    reconnection: false,
    timeout: 5000,
    forceBase64: args.force_base64 ?? false,
  };
  if (step.connect.query !== undefined) opts.query = step.connect.query;
  let socket;
  if (step.connect.same_connection) {
    if (!current) fail("same_connection without a current connection");
    socket = current.socket.io.socket(nsp, { query: opts.query });
    socket.open();
  } else {
    socket = io(args.url + nsp, opts);
    socket.io.on("open", () => {
      socket.io.engine.on("upgrade", (transport) => out({ upgrade: transport.name }));
    });
  }
  const conn = { socket, inbox: new Inbox(), pings: 0, pongs: 0 };
  connections.push(conn);
  // The v2 client has no onAny: take every event packet before it is emitted.
  socket.onevent = function (packet) {
    const eventArgs = (packet.data || []).slice();
    if (packet.id != null) eventArgs.push(this.ack(packet.id));
    const [name, ...rest] = eventArgs;
    conn.inbox.push(name, rest);
  };
  socket.on("disconnect", (reason) => {
    if (!finished) out({ disconnect: reason });
    conn.inbox.push("$disconnect", reason);
  });
  socket.io.on("ping", () => conn.pings++);
  socket.io.on("pong", () => conn.pongs++);

  try {
    await new Promise((resolve, reject) => {
      socket.once("connect", resolve);
      socket.once("error", reject);
      socket.once("connect_error", reject);
      socket.once("connect_timeout", () => reject(new Error("connect timeout")));
    });
  } catch (err) {
    if (!step.expect_error) fail(`connect error: ${JSON.stringify(toJson(err))} ${err}`);
    out({ connect_error: err instanceof Error ? { message: err.message } : toJson(err) });
    return conn;
  }
  if (step.expect_error) fail("connected although an error was expected");
  const engine = socket.io.engine;
  if (upgrade && transports.includes("websocket")) {
    await once(engine, "upgrade", () => engine.transport.name === "websocket");
  }
  out({
    connected: {
      nsp: socket.nsp,
      socket_id: socket.id,
      engine_id: engine.id,
      transport: engine.transport.name,
    },
  });
  return conn;
}

async function run(step) {
  if (step.connect !== undefined) return connect(step);
  if (step.sleep !== undefined) {
    await sleep(step.sleep);
    return current;
  }
  const conn = step.on !== undefined ? connections[step.on] : current;
  if (!conn) fail(`no connection for step ${JSON.stringify(step)}`);
  const { socket, inbox } = conn;
  if (step.emit !== undefined) {
    const emitArgs = fromJson(step.args ?? []);
    if (step.ack) {
      const ackArgs = await new Promise((resolve) => {
        socket.emit(step.emit, ...emitArgs, (...a) => resolve(a));
      });
      out({ ack: { event: step.emit, args: toJson(ackArgs) } });
    } else {
      socket.emit(step.emit, ...emitArgs);
    }
  } else if (step.expect !== undefined) {
    const received = await inbox.next(step.expect);
    let acked = false;
    if (received.length > 0 && typeof received[received.length - 1] === "function") {
      const callback = received.pop();
      callback(...(step.reply !== undefined ? fromJson(step.reply) : received));
      acked = true;
    }
    out({ event: step.expect, args: toJson(received), acked });
  } else if (step.disconnect) {
    socket.disconnect();
  } else if (step.expect_disconnect) {
    await inbox.next("$disconnect");
  } else if (step.state) {
    out({
      state: {
        connected: socket.connected,
        transport: socket.io.engine ? socket.io.engine.transport.name : null,
        pings: conn.pings,
        pongs: conn.pongs,
      },
    });
  } else {
    fail(`unknown step ${JSON.stringify(step)}`);
  }
  return current;
}

let current = null;
for (const step of args.steps ?? []) {
  current = await run(step);
}
finished = true;
for (const { socket } of connections) socket.disconnect();
exit(0);
