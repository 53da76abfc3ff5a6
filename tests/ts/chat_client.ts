// A client of the chat example (examples/chat/main.rs) typed by the generated
// examples/chat/chat.d.ts: `tsc --strict` checks every emit, ack and listener against the
// server's Rust types. Run by tests/typescript.rs: `node out/chat_client.js <url>` prints one
// JSON object with what it saw.
import { io, type Socket } from "socket.io-client";
import type {
  ChatAuth,
  ClientToServerEvents,
  HandlerError,
  Said,
  ServerToClientEvents,
} from "../../examples/chat/chat.js";

type ChatSocket = Socket<ServerToClientEvents, ClientToServerEvents>;

const url = process.argv[2];
if (!url) {
  throw new Error("usage: node chat_client.js <server url>");
}

function connect(auth: ChatAuth): ChatSocket {
  return io(`${url}/chat`, { auth, forceNew: true, transports: ["websocket"], reconnection: false });
}

function connected(socket: ChatSocket): Promise<void> {
  return new Promise((resolve, reject) => {
    socket.once("connect", () => resolve());
    socket.once("connect_error", (e) => reject(e));
  });
}

function isError<T>(answer: T | HandlerError): answer is HandlerError {
  return typeof answer === "object" && answer !== null && "error" in answer;
}

async function main(): Promise<Record<string, unknown>> {
  const alice = connect({ token: "a" });
  const bob = connect({ token: "b" });
  await Promise.all([connected(alice), connected(bob)]);

  const refused = await alice.emitWithAck("join", "early");
  const login = await alice.emitWithAck("login", "alice");
  const nick = isError(login) ? login.error : login.nick;
  await bob.emitWithAck("login", "bob");
  const empty = await bob.emitWithAck("login", "");

  const joined = await alice.emitWithAck("join", "lobby");
  await bob.emitWithAck("join", "lobby");
  const heard = new Promise<Said>((resolve) => bob.once("said", resolve));
  const sent = await alice.emitWithAck("say", "lobby", "hello");
  const said = await heard;

  const ticks: number[] = [];
  const ticked = new Promise<void>((resolve) => {
    alice.on("tick", (n) => {
      ticks.push(n);
      if (ticks.length === 2) resolve();
    });
  });
  await alice.emitWithAck("ticker", 10);
  await ticked;
  await alice.emitWithAck("stop_ticker");

  const download = await alice.emitWithAck("download", 4);
  const bytes = isError(download) ? [] : [...new Uint8Array(download)];
  const upload = await alice.emitWithAck("upload", "f.bin", Buffer.from([1, 2, 3]));

  const left = new Promise<string>((resolve) => bob.once("left", (who) => resolve(who.nick)));
  alice.disconnect();
  const leaver = await left;
  bob.disconnect();

  return {
    refused: isError(refused) ? refused.error : refused,
    nick,
    empty: isError(empty) ? empty.error : empty,
    joined: isError(joined) ? joined.error : joined.rooms,
    sent,
    said,
    ticks,
    bytes,
    upload,
    leaver,
  };
}

main().then(
  (result) => {
    console.log(JSON.stringify(result));
    process.exit(0);
  },
  (e: unknown) => {
    console.error(e);
    process.exit(1);
  },
);
