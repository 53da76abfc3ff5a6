//! python-socketio (the official Python client, synchronous `socketio.Client` over `requests`
//! and `websocket-client`; `tests/py/client.py`) against `examples/conformance.rs`, each
//! scenario on three transport modes: polling only, WebSocket only, polling upgraded to
//! WebSocket. The same scenarios as `tests/interop_socketio.rs` (socket.io-client), where the
//! Python client can express them.
//!
//! Run: `cargo test -p socketio-ns --test interop_python --example conformance`
//! (needs `python3` with the `venv` module, on Debian the package `python3-venv`; the harness
//! creates `tests/py/.venv` from the pinned `tests/py/requirements.txt` when missing or stale).
//! `SOCKETIO_NS_TEST_PYTHON` names another base interpreter than `python3`.

#[macro_use]
mod common;

use std::fs;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::Once;
use std::time::Duration;

use common::{ExampleServer, Installed, Mode, binary, pseudo_random_bytes, run_child, tests_dir};
use serde_json::{Value, json};

/// How long `client.py` may run before it is killed (it has its own, shorter, hard timeout).
const PYTHON_TIMEOUT: Duration = Duration::from_secs(30);

// ---------------------------------------------------------------------------------------------
// The virtualenv

/// `tests/py`.
fn py_dir() -> PathBuf {
    tests_dir().join("py")
}

/// The interpreter of the virtualenv at `venv`.
fn python_in(venv: &Path) -> PathBuf {
    if cfg!(windows) {
        venv.join("Scripts").join("python.exe")
    } else {
        venv.join("bin").join("python")
    }
}

/// Makes sure `tests/py/.venv` is a virtualenv holding the packages of
/// `tests/py/requirements.txt`, creating it (`python3 -m venv`, then `pip install -r`) when it
/// does not, and returns its interpreter.
///
/// Like `common::node_modules()`: the virtualenv is built in a staging directory and renamed
/// into place ([`common::Installed::install`]), so that test processes running at the same
/// time (nextest runs one per test) never see a half-installed one, and a `Once` makes the
/// threads of one process wait for the first. `tests/py/.venv/.socketio-ns-requirements`
/// keeps a copy of the requirements it was installed from: a changed requirements.txt
/// triggers a new install.
fn venv_python() -> PathBuf {
    static INSTALL: Once = Once::new();
    let dir = py_dir();
    let venv = dir.join(".venv");
    let requirements_txt = dir.join("requirements.txt");
    let wanted = fs::read(&requirements_txt).expect("read tests/py/requirements.txt");
    let installed = Installed {
        target: &venv,
        marker: VENV_MARKER,
        stamp: &wanted,
    };
    let is_installed = || python_in(&venv).exists() && installed.is_current();
    INSTALL.call_once(|| {
        if !(is_installed() && venv_imports(&venv)) {
            // Python finds a virtualenv from the path of its interpreter: a renamed one works
            // when it is run as `.venv/bin/python` (its scripts, such as bin/pip, keep stale
            // paths).
            installed.install("venv", |staged| create_venv(staged, &requirements_txt));
        }
    });
    assert!(is_installed(), "{} is not installed", venv.display());
    python_in(&venv)
}

const VENV_MARKER: &str = ".socketio-ns-requirements";

/// Whether the virtualenv still works (its base interpreter may have gone away since).
fn venv_imports(venv: &Path) -> bool {
    Command::new(python_in(venv))
        .args(["-c", "import socketio, engineio, requests, websocket"])
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success())
}

/// Runs a command of the install, panicking with its output when it fails.
fn run_install_step(command: &mut Command, hint: &str) {
    let output = command
        .stdin(Stdio::null())
        .output()
        .unwrap_or_else(|e| panic!("cannot run {command:?}: {e}{hint}"));
    assert!(
        output.status.success(),
        "{command:?} failed ({}){hint}\n--- stdout\n{}--- stderr\n{}",
        output.status,
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr),
    );
}

/// Creates a virtualenv at `venv` and installs the requirements into it.
fn create_venv(venv: &Path, requirements_txt: &Path) {
    let base = std::env::var("SOCKETIO_NS_TEST_PYTHON")
        .ok()
        .filter(|p| !p.trim().is_empty())
        .unwrap_or_else(|| "python3".into());
    run_install_step(
        Command::new(&base).arg("-m").arg("venv").arg(venv),
        "\n(needs Python >= 3.11 with its venv module; on Debian/Ubuntu: \
         `apt-get install python3 python3-venv`)",
    );
    run_install_step(
        Command::new(python_in(venv))
            .args([
                "-m",
                "pip",
                "install",
                "--disable-pip-version-check",
                "--no-input",
                "--quiet",
                "-r",
            ])
            .arg(requirements_txt),
        "\n(pip installs from PyPI)",
    );
}

// ---------------------------------------------------------------------------------------------
// Running the client

/// Runs `tests/py/client.py` with `args` as JSON on its stdin (killed after
/// [`PYTHON_TIMEOUT`]) and returns the JSON objects it printed, one per line. Panics, with the
/// script's output, when it fails.
fn run_python(args: Value) -> Vec<Value> {
    let python = venv_python();
    let dir = py_dir();
    let mut command = Command::new(&python);
    command
        .arg("-I") // isolated: no user site-packages, no PYTHON* variables
        .arg(dir.join("client.py"))
        .current_dir(&dir);
    run_child(
        &mut command,
        &python.display().to_string(),
        &args,
        PYTHON_TIMEOUT,
    )
    // The client's logs (every packet): the end is what matters.
    .json_lines(|run| run.describe("client.py", "stderr (client logs)", Some(30_000)))
}

// ---------------------------------------------------------------------------------------------
// Scenarios

/// Runs the steps against a fresh server and returns every line the script printed.
fn py_raw(mode: Mode, steps: Value) -> Vec<Value> {
    py_raw_with(mode, steps, json!({}))
}

/// Like [`py_raw`], with more options of `client.py` (see its docstring).
fn py_raw_with(mode: Mode, steps: Value, options: Value) -> Vec<Value> {
    let server = ExampleServer::spawn("conformance");
    let mut args = json!({ "url": server.url(), "transports": mode.transports(), "steps": steps });
    args.as_object_mut()
        .unwrap()
        .extend(options.as_object().unwrap().clone());
    run_python(args)
}

/// Checks the transport of every connection, and that each Engine.IO connection was upgraded
/// from polling to WebSocket exactly in [`Mode::Upgrade`] (python-socketio upgrades while it
/// connects, before it sends the Socket.IO CONNECT, so an `upgrade` line comes before each
/// new connection's `connected` or `connect_error`), then returns the lines without the
/// `upgrade` ones and with each `connected` reduced to its namespace.
fn observed(mode: Mode, lines: &[Value]) -> Vec<Value> {
    let mut upgraded = false;
    let mut engine_ids: Vec<&str> = Vec::new();
    let mut rest = Vec::new();
    for line in lines {
        assert!(
            line.get("upgrade_failed").is_none(),
            "a WebSocket upgrade failed: {lines:#?}"
        );
        if let Some(upgrade) = line.get("upgrade") {
            assert_eq!(mode, Mode::Upgrade, "unexpected upgrade in {lines:#?}");
            assert_eq!(upgrade, "websocket");
            assert!(!upgraded, "two upgrades for one connection: {lines:#?}");
            upgraded = true;
        } else if let Some(connected) = line.get("connected") {
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
            if !engine_ids.contains(&engine_id) {
                // A new Engine.IO connection (not another namespace on the same one).
                engine_ids.push(engine_id);
                if mode == Mode::Upgrade {
                    assert!(upgraded, "connected without an upgrade: {lines:#?}");
                }
                upgraded = false;
            }
            rest.push(json!({ "connected": connected["nsp"] }));
        } else if line.get("connect_error").is_some() {
            if mode == Mode::Upgrade {
                assert!(upgraded, "refused without an upgrade first: {lines:#?}");
            }
            upgraded = false;
            rest.push(line.clone());
        } else {
            rest.push(line.clone());
        }
    }
    assert!(!upgraded, "an upgrade without a connection: {lines:#?}");
    rest
}

fn py(mode: Mode, steps: Value) -> Vec<Value> {
    observed(mode, &py_raw(mode, steps))
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
    server_emit_many,
    server_ack,
    binary_emit,
    binary_nested,
    binary_ack,
    binary_server_ack,
    server_disconnect,
    client_disconnect,
    heartbeat,
);

/// python-socketio always sends an auth object: `{}` when none was given.
fn connect_with_auth(mode: Mode) {
    let auth = json!({ "token": "123", "nested": { "list": [1, "two", null, true, 2.5] } });
    let got = py(
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
    let got = py(
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

/// The CONNECT_ERROR payload reaches python-socketio's `connect_error` handler as sent:
/// `{"message": "Invalid namespace"}` (a `data` member, if any, must be null).
fn connect_error_unknown_namespace(mode: Mode) {
    let mut got = py(
        mode,
        json!([
            { "connect": { "nsp": "/random" }, "expect_error": true },
            { "connect": {} },
            { "expect": "auth" },
        ]),
    );
    assert!(got[0]["connect_error"].is_object(), "{got:#?}");
    let payload = got[0]["connect_error"].as_object_mut().unwrap();
    if payload.get("data") == Some(&Value::Null) {
        payload.remove("data");
    }
    assert_eq!(
        got,
        [
            json!({ "connect_error": { "message": "Invalid namespace" } }),
            connected("/"),
            event("auth", json!([{}])),
        ]
    );
}

/// `/` and `/custom` on one Engine.IO connection (python-socketio connects every namespace of
/// a client on one, with the same auth): a server-side disconnect of `/` leaves `/custom`, and
/// so the connection, up.
fn multiplexed_namespaces(mode: Mode) {
    let lines = py_raw(
        mode,
        json!([
            { "connect": { "namespaces": ["/", "/custom"], "auth": { "who": "both" } } },
            { "expect": "auth", "nsp": "/" },
            { "expect": "auth", "nsp": "/custom" },
            { "emit": "message", "args": ["main"], "nsp": "/" },
            { "expect": "message-back", "nsp": "/" },
            { "emit": "message-with-ack", "args": ["acked"], "ack": true, "nsp": "/" },
            { "emit": "disconnect-me", "nsp": "/" },
            { "expect_disconnect": true, "nsp": "/" },
            { "state": true },
        ]),
    );
    let connections: Vec<&Value> = lines.iter().filter_map(|l| l.get("connected")).collect();
    assert_eq!(connections.len(), 2, "{lines:#?}");
    assert_eq!(
        connections[0]["engine_id"], connections[1]["engine_id"],
        "namespaces not multiplexed: {lines:#?}"
    );
    assert_ne!(
        connections[0]["socket_id"], connections[1]["socket_id"],
        "two namespaces, one Socket.IO id: {lines:#?}"
    );
    let mut got = observed(mode, &lines);
    got.last_mut().unwrap()["state"]["pings"].take();
    assert_eq!(
        got,
        [
            connected("/"),
            connected("/custom"),
            event("auth", json!([{ "who": "both" }])),
            event("auth", json!([{ "who": "both" }])),
            event("message-back", json!(["main"])),
            ack("message-with-ack", json!(["acked"])),
            disconnect("server disconnect"),
            json!({ "state": { "connected": true, "transport": mode.final_transport(), "pings": null } }),
        ]
    );
}

/// Client to server ack (the server acks `message-with-ack` with the same arguments).
fn emit_with_ack(mode: Mode) {
    let args = json!([1, "2", { "3": [true] }, null, -1.5, "é😀", [], {}]);
    let got = py(
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

/// `message` comes back as `message-back` with the same arguments.
fn server_emit(mode: Mode) {
    let args = json!(["hello", { "nested": { "a": [1, 2, 3] } }, 3.5, true, null, "line\nbreak"]);
    let got = py(
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

/// Emits sent back to back all come back. Not checked for order: python-socketio's threaded
/// client runs the handler of each incoming message on a new thread, so the order in which its
/// handlers see them is not the order on the wire.
///
/// python-engineio's client refuses an HTTP long-polling response of more than 16 packets
/// (`Payload.max_decode_packets`, a limit of its own, not of the protocol: it drops the
/// connection with "Unexpected packet from server"), and the server, like the reference
/// node server, answers a poll with every packet it has queued: here up to 50. The limit is
/// raised as python-engineio's maintainer advises.
fn server_emit_many(mode: Mode) {
    let count = 50;
    let mut steps = vec![json!({ "connect": {} })];
    steps.extend((0..count).map(|i| json!({ "emit": "message", "args": [i, format!("m{i}")] })));
    steps.extend((0..count).map(|_| json!({ "expect": "message-back" })));
    let lines = py_raw_with(
        mode,
        Value::Array(steps),
        json!({ "max_decode_packets": 4 * count }),
    );
    let mut got = observed(mode, &lines);
    got[1..].sort_by_key(|line| line["args"][0].as_u64());
    let mut expected = vec![connected("/")];
    expected.extend((0..count).map(|i| event("message-back", json!([i, format!("m{i}")]))));
    assert_eq!(got, expected);
}

/// Server to client ack: the server emits `ping-ack` (with the arguments of
/// `server-emit-with-ack`) asking for an ack, then emits `ack-result` with what was acked.
fn server_ack(mode: Mode) {
    let got = py(
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

/// Binary arguments (`bytes`) go out as a BINARY_EVENT and come back as the same bytes.
fn binary_emit(mode: Mode) {
    let args = json!([
        binary(&[1, 2, 3]),
        "text",
        binary(&pseudo_random_bytes(100_000, 1)),
        binary(&[]),
        binary(&[0, 255, 0x1e, b'b', b'4']),
    ]);
    let got = py(
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
    let got = py(
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
    let got = py(
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
    let got = py(
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

/// `disconnect-me`: the server sends DISCONNECT, python-socketio reports "server disconnect".
fn server_disconnect(mode: Mode) {
    let got = py(
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
            disconnect("server disconnect"),
            connected("/"),
            event("auth", json!([{ "again": true }])),
        ]
    );
}

fn client_disconnect(mode: Mode) {
    let got = py(
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
            disconnect("client disconnect"),
            connected("/"),
            event("auth", json!([{}])),
            event("message-back", json!(["again"])),
        ]
    );
}

/// With pingInterval 300 ms and pingTimeout 200 ms, a connection stays up for 2 s (about six
/// heartbeats, answered by the client) and still carries messages afterwards.
fn heartbeat(mode: Mode) {
    let mut got = py(
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
