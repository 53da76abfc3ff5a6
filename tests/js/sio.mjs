// socket.io-client driven by a list of steps.
//
// argv[2]: {
//   "url": "http://127.0.0.1:PORT",
//   "transports": ["polling"] | ["websocket"] | ["polling", "websocket"],
//   "upgrade": bool (default: true when both transports are given; then every connection
//                    waits until it has been upgraded to WebSocket before going on),
//   "timeout_ms": hard timeout of the whole script (default 10000),
//   "parser": "msgpack" to use socket.io-msgpack-parser (default: the JSON parser),
//   "steps": [step, ...]
// }
// Steps (binary values in args as {"$binary": "<base64>"}):
//   {"connect": {"nsp": "/custom", "auth": {...}}}  opens a new connection (forceNew, no
//       reconnection) and makes it the current one; prints
//       {"connected": {"nsp", "socket_id", "engine_id", "transport"}}.
//       With "same_connection": true, the namespace is opened on the Engine.IO connection of the
//       current one instead (multiplexing).
//   {"connect": {...}, "expect_error": true}  prints {"connect_error": {"message", "data"}}
//   {"emit": "name", "args": [...]}            emits without ack
//   {"emit": "name", "args": [...], "ack": true}  emits with an ack callback and waits for the ack;
//       prints {"ack": {"event": "name", "args": [...]}}
//   {"expect": "name", "reply": [...]}  waits for the next event "name"; prints
//       {"event": "name", "args": [...], "acked": bool}; when the server asked for an ack, answers
//       it with "reply" (default: the received arguments)
//   {"disconnect": true}         client-side disconnect of the current connection
//   {"expect_disconnect": true}  waits until the current connection is disconnected
//   {"sleep": ms}
//   {"state": true}              prints {"state": {"connected", "transport", "pings"}}
// Any step but connect and sleep may say "on": i to act on the i-th connection opened (from 0)
// instead of the current one.
// Also printed as they happen: {"upgrade": "websocket"} when a connection's transport is
// upgraded, {"disconnect": "<reason>"} when a connection is disconnected (until the end).
import { io } from "socket.io-client";
import { exit, fail, fromJson, hardTimeout, once, out, scenarioArgs, sleep, toJson, Inbox } from "./lib.mjs";

const args = await scenarioArgs();
hardTimeout(args.timeout_ms ?? 10000);
const transports = args.transports ?? ["polling", "websocket"];
const upgrade = args.upgrade ?? transports.length > 1;
const connections = [];
let finished = false;
const parser =
  args.parser === "msgpack" ? (await import("socket.io-msgpack-parser")).default : undefined;


async function connect(step) {
  const nsp = step.connect.nsp ?? "/";
  const opts = { transports, upgrade, forceNew: true, reconnection: false, timeout: 5000 };
  if (parser !== undefined) opts.parser = parser;
  if (step.connect.auth !== undefined) opts.auth = fromJson(step.connect.auth);
  let socket;
  if (step.connect.same_connection) {
    if (!current) fail("same_connection without a current connection");
    socket = current.socket.io.socket(nsp, { auth: opts.auth }); // connects by itself
  } else {
    socket = io(args.url + nsp, opts);
    socket.io.on("open", () => {
      socket.io.engine.on("upgrade", (transport) => out({ upgrade: transport.name }));
    });
  }
  const conn = { socket, inbox: new Inbox(), pings: 0 };
  connections.push(conn);
  socket.onAny((event, ...eventArgs) => conn.inbox.push(event, eventArgs));
  socket.on("disconnect", (reason) => {
    if (!finished) out({ disconnect: reason });
    conn.inbox.push("$disconnect", reason);
  });
  socket.io.on("ping", () => conn.pings++);

  try {
    await new Promise((resolve, reject) => {
      socket.once("connect", resolve);
      socket.once("connect_error", reject);
    });
  } catch (err) {
    if (!step.expect_error) fail(`connect_error: ${err.message}`);
    out({ connect_error: { message: err.message, data: toJson(err.data) } });
    return conn;
  }
  if (step.expect_error) fail("connected although a connect_error was expected");
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
