// Several named socket.io-client connections driven by a list of steps, for the rooms and
// broadcasting tests (tests/rooms.rs). Same protocol as the other scripts (see lib.mjs).
//
// stdin: {
//   "url": "http://127.0.0.1:PORT",
//   "timeout_ms": hard timeout of the whole script (default 15000),
//   "parser": "msgpack" to use socket.io-msgpack-parser (default: the JSON parser),
//   "steps": [step, ...]
// }
// Steps (binary values as {"$binary": "<base64>"}; "by" is a client name or a list of names):
//   {"connect": "a", "nsp": "/", "transports": ["websocket"], "auth": {...}}
//       opens a new connection named "a" (forceNew, no reconnection; with both transports it
//       waits for the upgrade); prints {"connected": "a", "nsp", "transport", "engine"}.
//       "query": {...} adds to the handshake query; "url" connects to that server instead.
//       With "same_as": "b", opens the namespace on b's Engine.IO connection (multiplexing).
//       With "expect_error": true, prints {"connect_error": "a", "message", "data"} instead.
//   {"emit": "name", "by": "a", "args": [...]}  emits with an ack callback and waits for it;
//       prints {"ack": "a", "event": "name", "args": [...]}. With "no_ack": true, plain emit.
//   {"expect": "name", "by": ...}  waits for the next event "name" of each client, in order;
//       prints {"event": "name", "by": "b", "args": [...], "acked": bool}
//   {"answers": {"name": [...] | null}, "by": ...}  how these clients answer events that ask
//       for an ack, as soon as they arrive: with these arguments, or never (null). Default:
//       with the arguments received.
//   {"nothing": ...}  fails unless these clients have no unread event; prints {"nothing": [...]}
//   {"disconnect": ...}  client-side disconnect
//   {"expect_disconnect": ...}  waits until each is disconnected; prints
//       {"disconnected": "a", "reason": "..."}
//   {"sleep": ms}
// In everything printed, a string equal to the id of a connected socket is replaced by
// "@<name>", so that the tests can compare ids with names; in the "args" of emit steps, a string
// "@<name>" naming a connected client is replaced by its socket id.
import { io } from "socket.io-client";
import {
  Inbox as BaseInbox,
  exit,
  fail,
  fromJson,
  hardTimeout,
  once,
  out,
  scenarioArgs,
  sleep,
  toJson,
} from "./lib.mjs";

const args = await scenarioArgs();
hardTimeout(args.timeout_ms ?? 15000);
const clients = new Map();
const idNames = new Map();
const parser =
  args.parser === "msgpack" ? (await import("socket.io-msgpack-parser")).default : undefined;

/** Events received by one client, buffered by name until a step asks for them. */
class Inbox extends BaseInbox {
  unread() {
    const left = {};
    for (const [name, queue] of this.queues) {
      if (!name.startsWith("$") && queue.length > 0) left[name] = queue.map((e) => e.args);
    }
    return left;
  }
}

/** Replaces socket ids by "@name", at any depth. */
function named(v) {
  if (typeof v === "string") return idNames.has(v) ? `@${idNames.get(v)}` : v;
  if (Array.isArray(v)) return v.map(named);
  if (v !== null && typeof v === "object") {
    const o = {};
    for (const [k, x] of Object.entries(v)) o[idNames.has(k) ? `@${idNames.get(k)}` : k] = named(x);
    return o;
  }
  return v;
}

/** Replaces "@name" by the socket id of that client, at any depth. */
function unnamed(v) {
  if (typeof v === "string" && v.startsWith("@")) {
    const c = clients.get(v.slice(1));
    return c && c.socket.id ? c.socket.id : v;
  }
  if (Array.isArray(v)) return v.map(unnamed);
  if (v !== null && typeof v === "object") {
    const o = {};
    for (const [k, x] of Object.entries(v)) o[k] = unnamed(x);
    return o;
  }
  return v;
}

function print(obj) {
  out(named(toJson(obj)));
}

function names(by) {
  return Array.isArray(by) ? by : [by];
}

function client(name) {
  const c = clients.get(name);
  if (!c) fail(`no client named ${name}`);
  return c;
}

async function connect(step) {
  const name = step.connect;
  const nsp = step.nsp ?? "/";
  const transports = step.transports ?? ["polling", "websocket"];
  const upgrade = transports.length > 1;
  const opts = { transports, upgrade, forceNew: true, reconnection: false, timeout: 5000 };
  if (step.auth !== undefined) opts.auth = fromJson(step.auth);
  if (step.query !== undefined) opts.query = step.query;
  if (parser !== undefined) opts.parser = parser;
  const socket =
    step.same_as !== undefined
      ? client(step.same_as).socket.io.socket(nsp, { auth: opts.auth }) // connects by itself
      : io((step.url ?? args.url) + nsp, opts);
  const c = { socket, inbox: new Inbox(), answers: {} };
  clients.set(name, c);
  socket.onAny((event, ...eventArgs) => {
    let acked = false;
    if (eventArgs.length > 0 && typeof eventArgs[eventArgs.length - 1] === "function") {
      const callback = eventArgs.pop();
      const answer = c.answers[event];
      if (answer !== null) {
        callback(...(answer !== undefined ? fromJson(answer) : eventArgs));
        acked = true;
      }
    }
    c.inbox.push(event, { args: eventArgs, acked });
  });
  socket.on("disconnect", (reason) => c.inbox.push("$disconnect", reason));

  try {
    await new Promise((resolve, reject) => {
      socket.once("connect", resolve);
      socket.once("connect_error", reject);
    });
  } catch (err) {
    if (!step.expect_error) fail(`${name}: connect_error: ${err.message}`);
    print({ connect_error: name, message: err.message, data: err.data ?? null });
    return;
  }
  if (step.expect_error) fail(`${name}: connected although a connect_error was expected`);
  idNames.set(socket.id, name);
  const engine = socket.io.engine;
  if (upgrade) await once(engine, "upgrade", () => engine.transport.name === "websocket");
  print({ connected: name, nsp: socket.nsp, transport: engine.transport.name, engine: engine.id });
}

async function run(step) {
  if (step.connect !== undefined) return connect(step);
  if (step.sleep !== undefined) return sleep(step.sleep);
  if (step.emit !== undefined) {
    const { socket } = client(step.by);
    const emitArgs = fromJson(unnamed(step.args ?? []));
    if (step.no_ack) return socket.emit(step.emit, ...emitArgs);
    const ackArgs = await socket.timeout(10000).emitWithAck(step.emit, ...emitArgs);
    return print({ ack: step.by, event: step.emit, args: [ackArgs] });
  }
  if (step.expect !== undefined) {
    for (const name of names(step.by)) {
      const { args: received, acked } = await client(name).inbox.next(step.expect);
      print({ event: step.expect, by: name, args: received, acked });
    }
    return;
  }
  if (step.answers !== undefined) {
    for (const name of names(step.by)) Object.assign(client(name).answers, step.answers);
    return;
  }
  if (step.nothing !== undefined) {
    for (const name of names(step.nothing)) {
      const left = client(name).inbox.unread();
      if (Object.keys(left).length > 0) fail(`${name} has unread events: ${JSON.stringify(named(toJson(left)))}`);
    }
    return print({ nothing: names(step.nothing) });
  }
  if (step.disconnect !== undefined) {
    for (const name of names(step.disconnect)) client(name).socket.disconnect();
    return;
  }
  if (step.expect_disconnect !== undefined) {
    for (const name of names(step.expect_disconnect)) {
      const reason = await client(name).inbox.next("$disconnect");
      print({ disconnected: name, reason });
    }
    return;
  }
  fail(`unknown step ${JSON.stringify(step)}`);
}

for (const step of args.steps ?? []) await run(step);
for (const { socket } of clients.values()) socket.disconnect();
exit(0);
