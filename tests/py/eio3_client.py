"""python-socketio 4.x (Socket.IO v2 protocol over Engine.IO v3) driven by tests/interop_eio3.rs.

Reads {"url", "transports"} as JSON on stdin, runs one fixed scenario on `/` and `/custom`
and prints one JSON object per line for what it observed; exits 0 at the end, 1 on an error
or after its hard timeout. Binary values are printed as {"$binary": "<base64>"}.
"""

import base64
import json
import queue
import sys
import threading

import socketio


def out(obj):
    sys.stdout.write(json.dumps(obj) + "\n")
    sys.stdout.flush()


def to_json(v):
    if isinstance(v, (bytes, bytearray)):
        return {"$binary": base64.b64encode(bytes(v)).decode()}
    if isinstance(v, (list, tuple)):
        return [to_json(x) for x in v]
    if isinstance(v, dict):
        return {k: to_json(x) for k, x in v.items()}
    return v


def main():
    args = json.load(sys.stdin)
    timer = threading.Timer(20, lambda: (out({"error": "timeout"}), sys.stdout.flush(), __import__("os")._exit(1)))
    timer.daemon = True
    timer.start()
    events = queue.Queue()
    sio = socketio.Client(reconnection=False)

    @sio.on("*")
    def _any(*a):  # not dispatched by 4.x; kept harmless
        pass

    for name in ("auth", "message-back"):
        for nsp in ("/", "/custom"):
            sio.on(name, (lambda n, s: lambda *a: events.put((s, n, list(a))))(name, nsp), namespace=nsp)

    sio.connect(args["url"], transports=args["transports"], namespaces=["/", "/custom"])
    out({"connected": sorted(sio.namespaces) if isinstance(sio.namespaces, list) else sorted(sio.namespaces.keys()),
         "transport": sio.transport(), "sid": sio.sid, "engine_sid": sio.eio.sid})
    got = {}
    while len(got) < 2:
        nsp, name, a = events.get(timeout=10)
        got[(nsp, name)] = a
    out({"auth": {"/": got[("/", "auth")], "/custom": got[("/custom", "auth")]}})
    sio.emit("message", ["héllo", 1, {"a": None}], namespace="/")
    nsp, name, a = events.get(timeout=10)
    out({"event": name, "nsp": nsp, "args": to_json(a)})
    sio.emit("message", (b"\x00\x01\xff", {"nested": b"xyz"}), namespace="/")
    nsp, name, a = events.get(timeout=10)
    out({"event": name, "nsp": nsp, "args": to_json(a)})
    answer = sio.call("message-with-ack", (1, b"bin"), namespace="/", timeout=10)
    out({"ack": to_json(list(answer) if isinstance(answer, tuple) else [answer])})
    sio.disconnect()
    out({"disconnected": True})
    sys.stdout.flush()
    __import__("os")._exit(0)


if __name__ == "__main__":
    main()
