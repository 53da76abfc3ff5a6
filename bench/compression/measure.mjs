// Bytes on the wire and server CPU per message, with and without compression, for a chat-like
// JSON payload: WebSocket (permessage-deflate) and HTTP long-polling (gzip / deflate).
// Run by bench/compression.sh, which builds the server; see BENCHMARKS.md for the figures.
//
// Environment: SERVER (path of examples/bench_server, release), N (messages per run,
// default 20000), RUNS (default 3), BATCH (events per polling POST in the batched cases,
// default 20).
//
// Every case is a fresh server on a free 127.0.0.1 port, killed at the end. The cases of one
// round run one after the other, RUNS rounds: alternated, so that the machine's noise spreads
// over all of them. Each run: one client connects to /bench, sends 200 `echo` events to warm
// up, then N more, each acked with the same payload by the server; the bytes are the client's
// TCP socket counters (both directions, HTTP headers included for polling), the CPU is the
// server's utime + stime from /proc/<pid>/stat over those N.
import { spawn } from "node:child_process";
import { createRequire } from "node:module";
import { readFileSync } from "node:fs";
import { fileURLToPath } from "node:url";
import http from "node:http";
import net from "node:net";
import zlib from "node:zlib";

const require = createRequire(fileURLToPath(new URL("../../tests/package.json", import.meta.url)));
const { io } = require("socket.io-client");

const SERVER = process.env.SERVER;
const N = Number(process.env.N ?? 20000);
const RUNS = Number(process.env.RUNS ?? 3);
const BATCH = Number(process.env.BATCH ?? 20);
const WARMUP = 200;
const TICK_US = 1e6 / 100; // USER_HZ

// ~200 characters of English per message: words drawn (deterministically) from a vocabulary
// of common ones, so that messages resemble each other as chat lines do (same keys, users,
// room, words) without repeating whole sentences, which would flatter context takeover.
const WORDS = (
  "the be to of and a in that have I it for not on with he as you do at this but his by from " +
  "they we say her she or an will my one all would there their what so up out if about who " +
  "get which go me when make can like time no just him know take people into year your good " +
  "some could them see other than then now look only come its over think also back after use " +
  "two how our work first well way even new want because any these give day most us release " +
  "build deploy test server client room meeting lunch tomorrow today review bug fix merge " +
  "branch latency dashboard customer export websocket polling keys audit trains strike late " +
  "thanks great green machine mobile app transport switch migration staging cluster notes"
).split(" ");
let seed = 12345;
function rand(n) {
  seed = (seed * 1103515245 + 12345) & 0x7fffffff;
  return seed % n;
}
const USERS = ["alice", "bob", "carol", "dave", "erin", "frank"];
let ts = 1_700_000_000_000;
function chatMessage() {
  let text = "";
  while (text.length < 200) text += (text ? " " : "") + WORDS[rand(WORDS.length)];
  ts += 1 + rand(5000);
  return { user: USERS[rand(USERS.length)], room: "general", text: text.slice(0, 200), ts };
}

function freePort() {
  return new Promise((resolve) => {
    const s = net.createServer();
    s.listen(0, "127.0.0.1", () => {
      const { port } = s.address();
      s.close(() => resolve(port));
    });
  });
}

async function startServer(env) {
  const port = await freePort();
  const child = spawn(SERVER, [], {
    env: { ...process.env, ...env, PORT: String(port), RUST_LOG: "off" },
    stdio: ["ignore", "ignore", "inherit"],
  });
  for (let i = 0; i < 200; i++) {
    const up = await new Promise((resolve) => {
      const c = net.connect(port, "127.0.0.1", () => (c.destroy(), resolve(true)));
      c.on("error", () => resolve(false));
    });
    if (up) return { child, port };
    await new Promise((r) => setTimeout(r, 50));
  }
  child.kill();
  throw new Error("server did not start");
}

function cpuTicks(pid) {
  // Fields after the command name: state is 3rd, utime 14th, stime 15th.
  const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
  const f = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
  return Number(f[11]) + Number(f[12]);
}

// --- WebSocket: socket.io-client (Node's ws underneath) -----------------------------------

async function runWebSocket(port, pid, clientDeflate) {
  const socket = io(`http://127.0.0.1:${port}/bench`, {
    transports: ["websocket"],
    reconnection: false,
    perMessageDeflate: clientDeflate,
  });
  await new Promise((resolve, reject) => {
    socket.once("connect", resolve);
    socket.once("connect_error", reject);
  });
  const ws = socket.io.engine.transport.ws;
  const extensions = ws.extensions || null;
  const echo = (m) => socket.emitWithAck("echo", m);
  for (let i = 0; i < WARMUP; i++) await echo(chatMessage());
  const msgs = Array.from({ length: N }, chatMessage);
  const [r0, w0, c0] = [ws._socket.bytesRead, ws._socket.bytesWritten, cpuTicks(pid)];
  for (const m of msgs) {
    const back = await echo(m);
    if (back.ts !== m.ts) throw new Error("wrong ack");
  }
  const [r1, w1, c1] = [ws._socket.bytesRead, ws._socket.bytesWritten, cpuTicks(pid)];
  socket.disconnect();
  return { extensions, up: w1 - w0, down: r1 - r0, ticks: c1 - c0 };
}

// --- Polling: raw HTTP with the Accept-Encoding we choose ---------------------------------

async function runPolling(port, pid, acceptEncoding, batch) {
  const agent = new http.Agent({ keepAlive: true, maxSockets: 2 });
  const sockets = new Set();
  const headers = acceptEncoding ? { "Accept-Encoding": acceptEncoding } : {};
  let sid = null;
  let encodings = new Set();
  const request = (method, body) =>
    new Promise((resolve, reject) => {
      const q = `/socket.io/?EIO=4&transport=polling${sid ? `&sid=${sid}` : ""}`;
      const req = http.request(
        { host: "127.0.0.1", port, path: q, method, agent, headers },
        (res) => {
          const chunks = [];
          res.on("data", (c) => chunks.push(c));
          res.on("end", () => {
            let data = Buffer.concat(chunks);
            const enc = res.headers["content-encoding"];
            if (enc) encodings.add(enc);
            if (enc === "gzip") data = zlib.gunzipSync(data);
            else if (enc === "deflate") data = zlib.inflateSync(data);
            if (res.statusCode !== 200) reject(new Error(`${res.statusCode} ${data}`));
            else resolve(data.toString());
          });
        },
      );
      req.on("socket", (s) => sockets.add(s));
      req.on("error", reject);
      req.end(body);
    });
  const counters = () => {
    let n = 0;
    for (const s of sockets) n += s.bytesRead + s.bytesWritten;
    return n;
  };
  const readCounters = () => [...sockets].reduce((n, s) => n + s.bytesRead, 0);
  const open = await request("GET");
  sid = JSON.parse(open.slice(1)).sid;
  await request("POST", "40/bench,");
  const connected = await request("GET");
  if (!connected.startsWith("40/bench,")) throw new Error(`no connect: ${connected}`);
  let nextId = 0;
  // Sends `batch` events in one POST, then GETs until every ack is in.
  const round = async (messages) => {
    const ids = messages.map(() => nextId++);
    const body = messages
      .map((m, i) => `42/bench,${ids[i]}${JSON.stringify(["echo", m])}`)
      .join("\x1e");
    await request("POST", body);
    let pending = new Set(ids);
    while (pending.size > 0) {
      const payload = await request("GET");
      for (const p of payload.split("\x1e")) {
        const m = /^43\/bench,(\d+)/.exec(p);
        if (m) pending.delete(Number(m[1]));
        else if (p === "2") await request("POST", "3");
      }
    }
  };
  for (let i = 0; i < WARMUP; i += batch) await round(Array.from({ length: batch }, chatMessage));
  encodings = new Set();
  const [b0, r0, c0] = [counters(), readCounters(), cpuTicks(pid)];
  for (let i = 0; i < N; i += batch) await round(Array.from({ length: batch }, chatMessage));
  const [b1, r1, c1] = [counters(), readCounters(), cpuTicks(pid)];
  agent.destroy();
  return {
    extensions: [...encodings].join(",") || null,
    up: b1 - b0 - (r1 - r0),
    down: r1 - r0,
    ticks: c1 - c0,
  };
}

// --- The cases -----------------------------------------------------------------------------

const CASES = [
  { name: "ws, off", env: {}, run: (p, pid) => runWebSocket(p, pid, { threshold: 1024 }) },
  {
    name: "ws, deflate threshold 1024 (Node's default)",
    env: { WS_COMPRESSION: "1024" },
    run: (p, pid) => runWebSocket(p, pid, { threshold: 1024 }),
  },
  {
    name: "ws, deflate threshold 0, no context takeover (our default)",
    env: { WS_COMPRESSION: "0" },
    run: (p, pid) => runWebSocket(p, pid, { threshold: 0 }),
  },
  {
    name: "ws, deflate threshold 0, context takeover",
    env: { WS_COMPRESSION: "0", WS_CONTEXT_TAKEOVER: "1" },
    run: (p, pid) => runWebSocket(p, pid, { threshold: 0 }),
  },
  {
    name: "ws, deflate threshold 0, no context takeover, level 6",
    env: { WS_COMPRESSION: "0", WS_LEVEL: "6" },
    run: (p, pid) => runWebSocket(p, pid, { threshold: 0 }),
  },
  {
    name: "ws, deflate threshold 0, context takeover, level 6",
    env: { WS_COMPRESSION: "0", WS_CONTEXT_TAKEOVER: "1", WS_LEVEL: "6" },
    run: (p, pid) => runWebSocket(p, pid, { threshold: 0 }),
  },
  { name: "polling, 1 per POST, identity", env: {}, run: (p, pid) => runPolling(p, pid, null, 1) },
  { name: "polling, 1 per POST, gzip", env: {}, run: (p, pid) => runPolling(p, pid, "gzip", 1) },
  {
    name: `polling, ${BATCH} per POST, identity`,
    env: {},
    run: (p, pid) => runPolling(p, pid, null, BATCH),
  },
  {
    name: `polling, ${BATCH} per POST, gzip`,
    env: {},
    run: (p, pid) => runPolling(p, pid, "gzip", BATCH),
  },
  {
    name: `polling, ${BATCH} per POST, deflate`,
    env: {},
    run: (p, pid) => runPolling(p, pid, "deflate", BATCH),
  },
];

const only = process.env.ONLY ? new RegExp(process.env.ONLY) : null;
const cases = CASES.filter((c) => !only || only.test(c.name));
const results = new Map(cases.map((c) => [c.name, []]));
for (let round = 0; round < RUNS; round++) {
  for (const c of cases) {
    const { child, port } = await startServer(c.env);
    try {
      const r = await c.run(port, child.pid);
      const row = {
        case: c.name,
        round,
        negotiated: r.extensions,
        up_per_msg: r.up / N,
        down_per_msg: r.down / N,
        cpu_us_per_msg: (r.ticks * TICK_US) / N,
      };
      console.log(JSON.stringify(row));
      results.get(c.name).push(row);
    } finally {
      child.kill("SIGKILL");
    }
  }
}

const median = (xs) => {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)];
};
console.log(`\nN=${N} messages per run, medians of ${RUNS} runs, bytes per message`);
console.log("| case | negotiated | up B/msg | down B/msg | total B/msg | server CPU µs/msg |");
console.log("| --- | --- | ---: | ---: | ---: | ---: |");
for (const [name, rows] of results) {
  const up = median(rows.map((r) => r.up_per_msg));
  const down = median(rows.map((r) => r.down_per_msg));
  const total = median(rows.map((r) => r.up_per_msg + r.down_per_msg));
  const cpu = median(rows.map((r) => r.cpu_us_per_msg));
  console.log(
    `| ${name} | ${rows[0].negotiated ?? "-"} | ${up.toFixed(0)} | ${down.toFixed(0)} | ${total.toFixed(0)} | ${cpu.toFixed(1)} |`,
  );
}
process.exit(0);
