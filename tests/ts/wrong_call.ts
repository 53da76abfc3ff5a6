// A deliberately wrong call: `login` takes a string. tests/typescript.rs checks that
// `tsc --strict` refuses this file with the expected message.
import { io, type Socket } from "socket.io-client";
import type { ClientToServerEvents, ServerToClientEvents } from "../../examples/chat/chat.js";

const socket: Socket<ServerToClientEvents, ClientToServerEvents> = io("http://127.0.0.1:3000/chat");
socket.emit("login", 42, () => {});
