"""python-socketio's synchronous Client driven by a list of steps: the Python twin of
tests/js/sio.mjs, run by tests/interop_python.rs with the interpreter of tests/py/.venv.

Protocol with the Rust harness (the same as the node scripts'): one JSON object on stdin, one
JSON object per line on stdout for each thing observed, exit status 0 when the scenario ran to
the end, 1 on any error or on the hard timeout (after printing {"error": ...}). Binary values
cross the boundary as {"$binary": "<base64>"} (bytes on the Python side). Engine.IO and
Socket.IO client logs go to stderr (shown by the harness when a test fails).

stdin: {
  "url": "http://127.0.0.1:PORT",
  "transports": ["polling"] | ["websocket"] | ["polling", "websocket"],
  "timeout_ms": hard timeout of the whole script (default 10000),
  "max_decode_packets": the most packets python-engineio accepts in one HTTP long-polling
      response (its default is 16: a longer payload makes the client drop the connection with
      "Unexpected packet from server"; raising it is the workaround its maintainer gives),
  "steps": [step, ...]
}
Steps:
  {"connect": {"nsp": "/custom", "auth": {...}}}  opens a new connection (a new socketio.Client,
      no reconnection) to that namespace and makes it the current one; prints
      {"connected": {"nsp", "socket_id", "engine_id", "transport"}}.
      With "namespaces": ["/", "/custom"], the one Engine.IO connection opens all of them
      (multiplexing, with the same auth: the client sends one auth to every namespace) and
      prints one "connected" line for each; "nsp" (default: the first) is the current one.
  {"connect": {...}, "expect_error": true}  prints {"connect_error": <CONNECT_ERROR payload>}
  {"emit": "name", "args": [...]}               emits without ack
  {"emit": "name", "args": [...], "ack": true}  emits with an ack callback and waits for the
      ack; prints {"ack": {"event": "name", "args": [...]}}
  {"expect": "name", "reply": [...]}  waits for the next event "name"; prints
      {"event": "name", "args": [...], "acked": bool}; when the server asked for an ack, answers
      it with "reply" (default: the received arguments)
  {"disconnect": true}         client-side disconnect of the current connection
  {"expect_disconnect": true}  waits until the current namespace is disconnected
  {"sleep": ms}
  {"state": true}              prints {"state": {"connected", "transport", "pings"}}
Any step but connect and sleep may say "on": i to act on the i-th connection opened (from 0)
instead of the current one, and "nsp" to pick one of its namespaces.
Also printed as they happen: {"upgrade": "websocket"} when a connection was upgraded from
polling to WebSocket, {"upgrade_failed": "<why>"} when an upgrade was tried and failed,
{"disconnect": "<reason>"} when a namespace is disconnected (until the end). An ERROR logged by
the client (a packet it could not decode, a failing handler) ends the script with {"error": ...}.
"""

import base64
import json
import logging
import os
import queue
import sys
import threading
import time
import traceback

import engineio.payload
import socketio

_out_lock = threading.Lock()
_finished = threading.Event()
_current_step = None


def out(obj):
    """Prints one observation (handlers run on their own threads: one line at a time)."""
    line = json.dumps(obj)
    with _out_lock:
        sys.stdout.write(line + "\n")
        sys.stdout.flush()


def fail(message, **extra):
    """Prints {"error": message} and exits with status 1, from any thread."""
    out(dict({"error": str(message)}, **extra))
    sys.stderr.flush()
    os._exit(1)


def to_json(v):
    """Replaces every bytes value (at any depth) by {"$binary": base64}."""
    if isinstance(v, (bytes, bytearray)):
        return {"$binary": base64.b64encode(bytes(v)).decode("ascii")}
    if isinstance(v, (list, tuple)):
        return [to_json(x) for x in v]
    if isinstance(v, dict):
        return {k: to_json(x) for k, x in v.items()}
    return v


def from_json(v):
    """Replaces every {"$binary": base64} (at any depth) by bytes."""
    if isinstance(v, list):
        return [from_json(x) for x in v]
    if isinstance(v, dict):
        if list(v.keys()) == ["$binary"]:
            return base64.b64decode(v["$binary"])
        return {k: from_json(x) for k, x in v.items()}
    return v


class Inbox:
    """Events received by one connection, buffered by (namespace, name) until a step asks."""

    def __init__(self):
        self._lock = threading.Lock()
        self._queues = {}

    def _queue(self, key):
        with self._lock:
            return self._queues.setdefault(key, queue.Queue())

    def push(self, nsp, name, value):
        self._queue((nsp, name)).put(value)

    def next(self, nsp, name):
        # No timeout of its own: the hard timeout ends a script that waits forever.
        return self._queue((nsp, name)).get()


class LogWatcher(logging.Handler):
    """Reads the Engine.IO and Socket.IO client logs of one connection: counts PINGs, reports
    upgrades, turns errors into a failure, and copies every record to stderr."""

    def __init__(self, conn):
        super().__init__(logging.DEBUG)
        self.conn = conn

    def emit(self, record):
        msg = record.msg
        args = record.args if isinstance(record.args, tuple) else ()
        if msg == "Received packet %s data %s" and args and args[0] == "PING":
            self.conn.pings += 1
        try:
            text = record.getMessage()
        except Exception:  # pragma: no cover - a record that does not format
            text = str(msg)
        if len(text) > 300:
            text = text[:300] + f"... ({len(text)} chars)"
        sys.stderr.write(f"[{self.conn.index} {record.name} {record.levelname}] {text}\n")
        if record.exc_info:
            sys.stderr.write("".join(traceback.format_exception(*record.exc_info)))
        if text == "WebSocket upgrade was successful":
            out({"upgrade": "websocket"})
        elif text.startswith("WebSocket upgrade failed"):
            out({"upgrade_failed": text})
        elif record.levelno >= logging.ERROR and not _finished.is_set():
            fail(f"client logged an error: {text}", step=_current_step)


class Client(socketio.Client):
    """socketio.Client telling its event handlers whether the server asked for an ack (the
    public API hides it: a handler's return value is sent when, and only when, it did)."""

    _local = threading.local()

    def _handle_event(self, namespace, id, data):
        Client._local.ack_requested = id is not None
        try:
            return super()._handle_event(namespace, id, data)
        finally:
            Client._local.ack_requested = False


class Connection:
    def __init__(self, index, namespaces):
        self.index = index
        self.namespaces = namespaces
        self.inbox = Inbox()
        self.pings = 0
        self.connect_errors = {}
        watcher = LogWatcher(self)
        loggers = []
        for kind in ("engineio", "socketio"):
            logger = logging.getLogger(f"interop.{kind}.{index}")
            logger.setLevel(logging.INFO)
            logger.propagate = False
            logger.addHandler(watcher)
            loggers.append(logger)
        self.client = Client(
            reconnection=False,
            handle_sigint=False,
            logger=loggers[1],
            engineio_logger=loggers[0],
            request_timeout=5,
        )
        c = self.client
        # Handlers of the catch-all namespace '*' get the namespace as an argument.
        c.on("connect", lambda nsp: None, namespace="*")
        c.on("connect_error", self._on_connect_error, namespace="*")
        c.on("disconnect", self._on_disconnect, namespace="*")
        c.on("*", self._on_event, namespace="*")

    def _on_connect_error(self, nsp, *data):
        self.connect_errors[nsp] = data[0] if len(data) == 1 else list(data)

    def _on_disconnect(self, nsp, reason=None):
        if not _finished.is_set():
            out({"disconnect": reason})
        self.inbox.push(nsp, "$disconnect", reason)

    def _on_event(self, event, nsp, *args):
        # Each incoming message is handled on a thread of its own: blocking here until the
        # step that expects this event supplies the reply does not stop the connection.
        if not getattr(Client._local, "ack_requested", False):
            self.inbox.push(nsp, event, (list(args), None))
            return None
        slot = {"done": threading.Event(), "reply": None}
        self.inbox.push(nsp, event, (list(args), slot))
        if not slot["done"].wait(30):
            fail(f"no step answered the ack of {event!r}")
        return tuple(slot["reply"])


def run(args):
    global _current_step
    url = args["url"]
    transports = args.get("transports") or ["polling", "websocket"]
    connections = []
    current = None  # (connection, namespace)

    for step in args.get("steps", []):
        _current_step = step
        if "connect" in step:
            spec = step["connect"]
            namespaces = spec.get("namespaces") or [spec.get("nsp", "/")]
            nsp = spec.get("nsp", namespaces[0])
            conn = Connection(len(connections), namespaces)
            connections.append(conn)
            auth = from_json(spec["auth"]) if "auth" in spec else None
            try:
                conn.client.connect(
                    url,
                    auth=auth,
                    transports=transports,
                    namespaces=namespaces,
                    wait_timeout=5,
                )
            except socketio.exceptions.ConnectionError as e:
                if not step.get("expect_error"):
                    fail(f"connect failed: {e!r}", connect_errors=to_json(conn.connect_errors))
                if nsp not in conn.connect_errors:
                    fail(f"connect failed without a CONNECT_ERROR for {nsp}: {e!r}")
                out({"connect_error": to_json(conn.connect_errors[nsp])})
                current = (conn, nsp)
                continue
            if step.get("expect_error"):
                fail("connected although a connect_error was expected")
            for n in namespaces:
                out({
                    "connected": {
                        "nsp": n,
                        "socket_id": conn.client.get_sid(n),
                        "engine_id": conn.client.sid,
                        "transport": conn.client.transport(),
                    }
                })
            current = (conn, nsp)
            continue
        if "sleep" in step:
            time.sleep(step["sleep"] / 1000)
            continue

        if "on" in step:
            conn = connections[step["on"]]
            nsp = conn.namespaces[0]
        elif current is not None:
            conn, nsp = current
        else:
            fail(f"no connection for step {json.dumps(step)}")
        nsp = step.get("nsp", nsp)
        client = conn.client

        if "emit" in step:
            emit_args = tuple(from_json(step.get("args", [])))
            if step.get("ack"):
                acked = threading.Event()
                got = []

                def callback(*a, got=got, acked=acked):
                    got.append(list(a))
                    acked.set()

                client.emit(step["emit"], emit_args, namespace=nsp, callback=callback)
                acked.wait()
                out({"ack": {"event": step["emit"], "args": to_json(got[0])}})
            else:
                client.emit(step["emit"], emit_args, namespace=nsp)
        elif "expect" in step:
            received, slot = conn.inbox.next(nsp, step["expect"])
            if slot is not None:
                slot["reply"] = from_json(step["reply"]) if "reply" in step else received
                slot["done"].set()
            out({"event": step["expect"], "args": to_json(received), "acked": slot is not None})
        elif step.get("disconnect"):
            client.disconnect()
        elif step.get("expect_disconnect"):
            conn.inbox.next(nsp, "$disconnect")
        elif step.get("state"):
            out({
                "state": {
                    "connected": client.connected,
                    "transport": client.transport(),
                    "pings": conn.pings,
                }
            })
        else:
            fail(f"unknown step {json.dumps(step)}")

    _current_step = None
    _finished.set()
    for conn in connections:
        if conn.client.connected:
            conn.client.disconnect()


def main():
    args = json.loads(sys.stdin.read())
    if "max_decode_packets" in args:
        engineio.payload.Payload.max_decode_packets = args["max_decode_packets"]
    timeout = args.get("timeout_ms", 10000) / 1000

    def on_timeout():
        fail("timeout", step=_current_step)

    timer = threading.Timer(timeout, on_timeout)
    timer.daemon = True
    timer.start()

    def thread_excepthook(hook_args):
        fail("".join(traceback.format_exception(
            hook_args.exc_type, hook_args.exc_value, hook_args.exc_traceback)))

    threading.excepthook = thread_excepthook
    try:
        run(args)
    except SystemExit:
        raise
    except BaseException:
        fail(traceback.format_exc(), step=_current_step)
    sys.stdout.flush()
    sys.stderr.flush()
    # Daemon threads of the clients may still be winding down: do not wait for them.
    os._exit(0)


if __name__ == "__main__":
    main()
