// Shared helpers of the node client scripts driven by the Rust integration tests.
//
// Protocol between a script and tests/common/mod.rs: the script reads one JSON object from
// argv[2], or from stdin when there is no argv[2] (large scenarios exceed the size of an
// argument), prints one JSON object per line on stdout for each thing it observed, and exits by
// itself: 0 when its scenario ran to the end, 1 on any error or on its hard timeout (after
// printing {"error": ...}). Binary values cross the boundary as {"$binary": "<base64>"}.

/** Reads the scenario: JSON from argv[2], else from stdin. */
export async function scenarioArgs() {
  if (process.argv[2] !== undefined) return JSON.parse(process.argv[2]);
  const chunks = [];
  for await (const chunk of process.stdin) chunks.push(chunk);
  return JSON.parse(Buffer.concat(chunks).toString("utf8"));
}

let exiting = false;

/** Prints one observation. */
export function out(obj) {
  if (!exiting) process.stdout.write(JSON.stringify(obj) + "\n");
}

/** Exits once everything printed has been flushed (stdout to a pipe is asynchronous). */
export function exit(code) {
  if (exiting) return;
  exiting = true;
  process.stdout.write("", () => process.exit(code));
}

/** Prints {"error": message}, exits with status 1, and throws to stop the caller. */
export function fail(message) {
  out({ error: String(message) });
  exit(1);
  throw new Error(`failed: ${message}`);
}

/** Fails after `ms` milliseconds unless the script ended before; also turns uncaught errors
 * into {"error": ...} lines. */
export function hardTimeout(ms) {
  setTimeout(() => fail("timeout"), ms).unref();
  const onError = (e) => {
    if (!exiting) {
      out({ error: String(e && e.stack ? e.stack : e) });
      exit(1);
    }
  };
  process.on("uncaughtException", onError);
  process.on("unhandledRejection", onError);
}

function isBinary(v) {
  return (
    v instanceof ArrayBuffer || ArrayBuffer.isView(v) // Buffer, Uint8Array, DataView, ...
  );
}

function bytesOf(v) {
  if (v instanceof ArrayBuffer) return Buffer.from(v);
  return Buffer.from(v.buffer, v.byteOffset, v.byteLength);
}

/** Replaces every binary value (at any depth) by {"$binary": base64}. */
export function toJson(v) {
  if (isBinary(v)) return { $binary: bytesOf(v).toString("base64") };
  if (Array.isArray(v)) return v.map(toJson);
  if (v !== null && typeof v === "object") {
    const o = {};
    for (const [k, x] of Object.entries(v)) o[k] = toJson(x);
    return o;
  }
  if (v === undefined) return null;
  return v;
}

/** Replaces every {"$binary": base64} (at any depth) by a Buffer. */
export function fromJson(v) {
  if (Array.isArray(v)) return v.map(fromJson);
  if (v !== null && typeof v === "object") {
    const keys = Object.keys(v);
    if (keys.length === 1 && keys[0] === "$binary") return Buffer.from(v.$binary, "base64");
    const o = {};
    for (const [k, x] of Object.entries(v)) o[k] = fromJson(x);
    return o;
  }
  return v;
}

/** Resolves with the first `event` emitted by `emitter`, or right away if `already()` holds. */
export function once(emitter, event, already = () => false) {
  return new Promise((resolve) => {
    if (already()) return resolve();
    emitter.once(event, resolve);
  });
}

export function sleep(ms) {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/** Events received by one client, buffered by name until a step asks for them. */
export class Inbox {
  constructor() {
    this.queues = new Map();
    this.waiters = new Map();
  }
  push(name, value) {
    const waiting = this.waiters.get(name);
    if (waiting && waiting.length > 0) {
      waiting.shift()(value);
    } else {
      if (!this.queues.has(name)) this.queues.set(name, []);
      this.queues.get(name).push(value);
    }
  }
  next(name) {
    return new Promise((resolve) => {
      const queue = this.queues.get(name);
      if (queue && queue.length > 0) return resolve(queue.shift());
      if (!this.waiters.has(name)) this.waiters.set(name, []);
      this.waiters.get(name).push(resolve);
    });
  }
}
