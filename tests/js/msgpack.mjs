// socket.io-msgpack-parser 3.0 as the reference for tests/interop_msgpack.rs.
//
// argv[2] (or stdin): one of
//   {"mode": "encode", "packets": [packet, ...]}
//       encodes each packet {type, nsp, data?, id?} with the reference Encoder, keys in the order
//       the Node server writes them (ACK: id, type, data, nsp; others: type, data, id, nsp);
//       prints {"encoded": "<base64>"} per packet.
//   {"mode": "decode", "messages": ["<base64>", ...]}
//       decodes each message with the reference Decoder (which checks the packet); prints
//       {"decoded": packet} or {"refused": "<error message>"} per message.
//   {"mode": "mismatch", "url", "transports", "good": "msgpack"|"json", "bad": "msgpack"|"json"}
//       connects a client of the server's parser ("good") and acks an event; connects a client
//       of the other parser ("bad") and prints {"bad": {"event", "reason"}} for the first of
//       connect / connect_error / disconnect it sees; then acks again on the good client and
//       prints {"good": [<ack args of the first>, <ack args of the second>]}.
// Binary values as {"$binary": "<base64>"}, both ways; `undefined` is printed as null.
import msgpackParser from "socket.io-msgpack-parser";
import { io } from "socket.io-client";
import { exit, fail, fromJson, hardTimeout, out, scenarioArgs, toJson } from "./lib.mjs";

const args = await scenarioArgs();
hardTimeout(args.timeout_ms ?? 10000);

function ordered(p) {
  const packet = {};
  const put = (k) => {
    if (p[k] !== undefined) packet[k] = fromJson(p[k]);
  };
  if (p.type === 3) put("id");
  put("type");
  put("data");
  if (p.type !== 3) put("id");
  put("nsp");
  return packet;
}

function decodeOne(bytes) {
  const decoder = new msgpackParser.Decoder();
  let packet;
  decoder.on("decoded", (p) => (packet = p));
  decoder.add(bytes);
  return packet;
}

function client(parser, transports) {
  const opts = { transports, forceNew: true, reconnection: false, timeout: 5000 };
  if (parser === "msgpack") opts.parser = msgpackParser;
  return io(args.url, opts);
}

function first(socket, events) {
  return new Promise((resolve) => {
    for (const event of events) socket.once(event, (x) => resolve({ event, reason: String(x) }));
  });
}

async function acked(socket, arg) {
  return new Promise((resolve) => socket.emit("message-with-ack", arg, (...a) => resolve(a)));
}

if (args.mode === "encode") {
  const encoder = new msgpackParser.Encoder();
  for (const p of args.packets) {
    const [bytes] = encoder.encode(ordered(p));
    out({ encoded: Buffer.from(bytes).toString("base64") });
  }
} else if (args.mode === "decode") {
  for (const m of args.messages) {
    try {
      out({ decoded: toJson(decodeOne(Buffer.from(m, "base64"))) });
    } catch (e) {
      out({ refused: e.message });
    }
  }
} else if (args.mode === "mismatch") {
  const transports = args.transports ?? ["polling", "websocket"];
  const good = client(args.good, transports);
  const connected = await first(good, ["connect", "connect_error", "disconnect"]);
  if (connected.event !== "connect") fail(`good client: ${JSON.stringify(connected)}`);
  const before = await acked(good, { n: 1, b: Buffer.from([1, 2]) });
  const bad = client(args.bad, transports);
  out({ bad: await first(bad, ["connect", "connect_error", "disconnect"]) });
  bad.close();
  const after = await acked(good, "still here");
  out({ good: [toJson(before), toJson(after)], connected: good.connected });
  good.close();
} else {
  fail(`unknown mode ${args.mode}`);
}
exit(0);
