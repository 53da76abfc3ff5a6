//! socket.io-client 4.8 (node, `tests/js/sio.mjs`) against `examples/conformance.rs`, each
//! scenario on three transport modes: polling only, WebSocket only, polling upgraded to
//! WebSocket.
//!
//! Run: `cargo test -p socketio-ns --test interop_socketio --example conformance`
//! (needs node and npm; the harness installs `tests/node_modules` with `npm ci` when missing).

#[macro_use]
mod common;

use common::{ExampleServer, Mode, binary, pseudo_random_bytes, run_node};
use serde_json::{Value, json};

/// Runs the steps in a fresh server and returns every line the script printed.
fn sio_raw(mode: Mode, steps: Value) -> Vec<Value> {
    let server = ExampleServer::spawn("conformance");
    run_node(
        "sio.mjs",
        json!({ "url": server.url(), "transports": mode.transports(), "steps": steps }),
    )
}

/// Checks the transport of every connection (and that upgrades happened exactly in
/// [`Mode::Upgrade`]), then returns the lines without the `upgrade` ones and with each
/// `connected` reduced to its namespace.
fn observed(mode: Mode, lines: &[Value]) -> Vec<Value> {
    let mut connections = 0;
    let mut upgrades = 0;
    let mut rest = Vec::new();
    for line in lines {
        if let Some(upgrade) = line.get("upgrade") {
            assert_eq!(mode, Mode::Upgrade, "unexpected upgrade in {lines:#?}");
            assert_eq!(upgrade, "websocket");
            upgrades += 1;
        } else if let Some(connected) = line.get("connected") {
            connections += 1;
            assert_eq!(
                connected["transport"],
                mode.final_transport(),
                "in {lines:#?}"
            );
            let socket_id = connected["socket_id"].as_str().expect("socket id");
            let engine_id = connected["engine_id"].as_str().expect("engine id");
            assert!(
                !socket_id.is_empty() && !engine_id.is_empty(),
                "{connected}"
            );
            assert_ne!(
                socket_id, engine_id,
                "the Socket.IO id must not be the Engine.IO id"
            );
            rest.push(json!({ "connected": connected["nsp"] }));
        } else {
            rest.push(line.clone());
        }
    }
    if mode == Mode::Upgrade {
        // Connections opened on an already upgraded Engine.IO connection add none.
        assert!(
            upgrades >= 1 || connections == 0,
            "no upgrade happened: {lines:#?}"
        );
    }
    rest
}

fn sio(mode: Mode, steps: Value) -> Vec<Value> {
    observed(mode, &sio_raw(mode, steps))
}

fn connected(nsp: &str) -> Value {
    json!({ "connected": nsp })
}

fn event(name: &str, args: Value) -> Value {
    json!({ "event": name, "args": args, "acked": false })
}

fn acked_event(name: &str, args: Value) -> Value {
    json!({ "event": name, "args": args, "acked": true })
}

fn ack(name: &str, args: Value) -> Value {
    json!({ "ack": { "event": name, "args": args } })
}

fn disconnect(reason: &str) -> Value {
    json!({ "disconnect": reason })
}

per_transport!(
    connect_with_auth,
    connect_custom_namespace,
    connect_error_unknown_namespace,
    multiplexed_namespaces,
    emit_with_ack,
    server_emit,
    server_emit_many_in_order,
    server_ack,
    binary_emit,
    binary_nested,
    binary_ack,
    binary_server_ack,
    server_disconnect,
    client_disconnect,
    heartbeat,
);

fn connect_with_auth(mode: Mode) {
    let auth = json!({ "token": "123", "nested": { "list": [1, "two", null, true, 2.5] } });
    let got = sio(
        mode,
        json!([
            { "connect": { "auth": auth } },
            { "expect": "auth" },
            { "connect": {} },
            { "expect": "auth" },
        ]),
    );
    assert_eq!(
        got,
        [
            connected("/"),
            event("auth", json!([auth])),
            connected("/"),
            event("auth", json!([{}]))
        ]
    );
}

fn connect_custom_namespace(mode: Mode) {
    let got = sio(
        mode,
        json!([
            { "connect": { "nsp": "/custom", "auth": { "token": "abc" } } },
            { "expect": "auth" },
            { "connect": { "nsp": "/custom" } },
            { "expect": "auth" },
        ]),
    );
    assert_eq!(
        got,
        [
            connected("/custom"),
            event("auth", json!([{ "token": "abc" }])),
            connected("/custom"),
            event("auth", json!([{}])),
        ]
    );
}

fn connect_error_unknown_namespace(mode: Mode) {
    let got = sio(
        mode,
        json!([
            { "connect": { "nsp": "/random" }, "expect_error": true },
            { "connect": {} },
            { "expect": "auth" },
        ]),
    );
    assert_eq!(
        got,
        [
            json!({ "connect_error": { "message": "Invalid namespace", "data": null } }),
            connected("/"),
            event("auth", json!([{}])),
        ]
    );
}

/// Several namespaces on one Engine.IO connection: a refused one and a disconnected one leave
/// the others working.
fn multiplexed_namespaces(mode: Mode) {
    let lines = sio_raw(
        mode,
        json!([
            { "connect": { "auth": { "who": "main" } } },
            { "expect": "auth" },
            { "connect": { "nsp": "/custom", "auth": { "who": "custom" }, "same_connection": true } },
            { "expect": "auth" },
            { "connect": { "nsp": "/random", "same_connection": true }, "expect_error": true },
            { "emit": "message", "args": ["main"], "on": 0 },
            { "expect": "message-back", "on": 0 },
            { "disconnect": true, "on": 1 },
            { "emit": "message-with-ack", "args": ["still there"], "ack": true, "on": 0 },
        ]),
    );
    let engine_ids: Vec<&Value> = lines
        .iter()
        .filter_map(|l| l.get("connected"))
        .map(|c| &c["engine_id"])
        .collect();
    assert_eq!(engine_ids.len(), 2, "{lines:#?}");
    assert_eq!(
        engine_ids[0], engine_ids[1],
        "namespaces not multiplexed: {lines:#?}"
    );
    assert_eq!(
        observed(mode, &lines),
        [
            connected("/"),
            event("auth", json!([{ "who": "main" }])),
            connected("/custom"),
            event("auth", json!([{ "who": "custom" }])),
            json!({ "connect_error": { "message": "Invalid namespace", "data": null } }),
            event("message-back", json!(["main"])),
            disconnect("io client disconnect"),
            ack("message-with-ack", json!(["still there"])),
        ]
    );
}

fn emit_with_ack(mode: Mode) {
    let args = json!([1, "2", { "3": [true] }, null, -1.5, "é😀", [], {}]);
    let got = sio(
        mode,
        json!([
            { "connect": {} },
            { "emit": "message-with-ack", "args": args, "ack": true },
            { "emit": "message-with-ack", "args": [], "ack": true },
        ]),
    );
    assert_eq!(
        got,
        [
            connected("/"),
            ack("message-with-ack", args),
            ack("message-with-ack", json!([]))
        ]
    );
}

fn server_emit(mode: Mode) {
    let args = json!(["hello", { "nested": { "a": [1, 2, 3] } }, 3.5, true, null, "line\nbreak"]);
    let got = sio(
        mode,
        json!([
            { "connect": {} },
            { "emit": "message", "args": args },
            { "expect": "message-back" },
            { "emit": "message", "args": [] },
            { "expect": "message-back" },
        ]),
    );
    assert_eq!(
        got,
        [
            connected("/"),
            event("message-back", args),
            event("message-back", json!([]))
        ]
    );
}

/// Emits sent back to back come back complete and in order.
fn server_emit_many_in_order(mode: Mode) {
    let count = 50;
    let mut steps = vec![json!({ "connect": {} })];
    steps.extend((0..count).map(|i| json!({ "emit": "message", "args": [i, format!("m{i}")] })));
    steps.extend((0..count).map(|_| json!({ "expect": "message-back" })));
    let got = sio(mode, Value::Array(steps));
    let mut expected = vec![connected("/")];
    expected.extend((0..count).map(|i| event("message-back", json!([i, format!("m{i}")]))));
    assert_eq!(got, expected);
}

/// Server to client ack: the server emits `ping-ack` (with the arguments of
/// `server-emit-with-ack`) asking for an ack, then emits `ack-result` with what was acked.
fn server_ack(mode: Mode) {
    let got = sio(
        mode,
        json!([
            { "connect": {} },
            { "emit": "server-emit-with-ack", "args": ["question", 42] },
            { "expect": "ping-ack", "reply": ["answer", { "ok": true }] },
            { "expect": "ack-result" },
            { "emit": "server-emit-with-ack", "args": [] },
            { "expect": "ping-ack", "reply": [] },
            { "expect": "ack-result" },
        ]),
    );
    assert_eq!(
        got,
        [
            connected("/"),
            acked_event("ping-ack", json!(["question", 42])),
            event("ack-result", json!(["answer", { "ok": true }])),
            acked_event("ping-ack", json!([])),
            event("ack-result", json!([])),
        ]
    );
}

fn binary_emit(mode: Mode) {
    let args = json!([
        binary(&[1, 2, 3]),
        "text",
        binary(&pseudo_random_bytes(100_000, 1)),
        binary(&[]),
        binary(&[0, 255, 0x1e, b'b', b'4']),
    ]);
    let got = sio(
        mode,
        json!([
            { "connect": {} },
            { "emit": "message", "args": args },
            { "expect": "message-back" },
        ]),
    );
    assert_eq!(got, [connected("/"), event("message-back", args)]);
}

fn binary_nested(mode: Mode) {
    let args = json!([
        { "file": { "name": "a.bin", "data": binary(&[1, 2, 3]) } },
        [binary(&[4]), { "deep": [[binary(&pseudo_random_bytes(1000, 2))]] }],
        { "_placeholder": false, "num": 0 },
        "after",
    ]);
    let got = sio(
        mode,
        json!([
            { "connect": {} },
            { "emit": "message", "args": args },
            { "expect": "message-back" },
        ]),
    );
    assert_eq!(got, [connected("/"), event("message-back", args)]);
}

/// Client to server ack carrying binary (BINARY_EVENT answered by BINARY_ACK).
fn binary_ack(mode: Mode) {
    let args = json!([binary(&[9, 8, 7]), { "x": [binary(&pseudo_random_bytes(5000, 3))] }, 1]);
    let got = sio(
        mode,
        json!([
            { "connect": {} },
            { "emit": "message-with-ack", "args": args, "ack": true },
        ]),
    );
    assert_eq!(got, [connected("/"), ack("message-with-ack", args)]);
}

/// Server to client ack carrying binary both ways.
fn binary_server_ack(mode: Mode) {
    let args = json!([binary(&[1, 2]), { "k": binary(&[3, 4]) }]);
    let reply =
        json!([binary(&[5, 6, 7]), "ok", { "deep": [binary(&pseudo_random_bytes(3000, 4))] }]);
    let got = sio(
        mode,
        json!([
            { "connect": {} },
            { "emit": "server-emit-with-ack", "args": args },
            { "expect": "ping-ack", "reply": reply },
            { "expect": "ack-result" },
        ]),
    );
    assert_eq!(
        got,
        [
            connected("/"),
            acked_event("ping-ack", args),
            event("ack-result", reply)
        ]
    );
}

fn server_disconnect(mode: Mode) {
    let got = sio(
        mode,
        json!([
            { "connect": {} },
            { "expect": "auth" },
            { "emit": "disconnect-me" },
            { "expect_disconnect": true },
            { "connect": { "auth": { "again": true } } },
            { "expect": "auth" },
        ]),
    );
    assert_eq!(
        got,
        [
            connected("/"),
            event("auth", json!([{}])),
            disconnect("io server disconnect"),
            connected("/"),
            event("auth", json!([{ "again": true }])),
        ]
    );
}

fn client_disconnect(mode: Mode) {
    let got = sio(
        mode,
        json!([
            { "connect": {} },
            { "expect": "auth" },
            { "disconnect": true },
            { "connect": {} },
            { "expect": "auth" },
            { "emit": "message", "args": ["again"] },
            { "expect": "message-back" },
        ]),
    );
    assert_eq!(
        got,
        [
            connected("/"),
            event("auth", json!([{}])),
            disconnect("io client disconnect"),
            connected("/"),
            event("auth", json!([{}])),
            event("message-back", json!(["again"])),
        ]
    );
}

/// With pingInterval 300 ms and pingTimeout 200 ms, a connection stays up for 2 s (about six
/// heartbeats) and still carries messages afterwards.
fn heartbeat(mode: Mode) {
    let mut got = sio(
        mode,
        json!([
            { "connect": {} },
            { "sleep": 2000 },
            { "state": true },
            { "emit": "message", "args": ["after"] },
            { "expect": "message-back" },
            { "emit": "message-with-ack", "args": ["ack after"], "ack": true },
        ]),
    );
    let pings = got[1]["state"]["pings"].take();
    assert!(
        pings.as_u64().is_some_and(|n| n >= 4),
        "{pings} pings in 2 s: {got:#?}"
    );
    assert_eq!(
        got,
        [
            connected("/"),
            json!({ "state": { "connected": true, "transport": mode.final_transport(), "pings": null } }),
            event("message-back", json!(["after"])),
            ack("message-with-ack", json!(["ack after"])),
        ]
    );
}
