//! Socket.IO v2 clients (Engine.IO v3, Socket.IO protocol v4) against
//! `examples/conformance.rs` started with `ALLOW_EIO3=1`: socket.io-client 2.5 (node,
//! `tests/js/eio3.mjs`) and python-socketio 4.6 (`tests/py/eio3_client.py`, in its own
//! virtualenv `tests/py/.venv-eio3`) on polling, WebSocket and polling upgraded to WebSocket,
//! and the v3 wire format read raw over HTTP; plus the refusal a v3 client gets without the
//! option.
//!
//! Run: `cargo test -p socketio-ns --test interop_eio3 --example conformance`
//! (needs node and npm, and python3 with venv; the harness installs `tests/node_modules` with
//! `npm ci` and the virtualenv from `tests/py/requirements-eio3.txt` when missing).

#[macro_use]
mod common;

use std::fs;
use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::sync::Once;
use std::time::Duration;

use common::{
    ExampleServer, Installed, Mode, binary, pseudo_random_bytes, request, run_child, run_node,
    tests_dir,
};
use serde_json::{Value, json};

fn server() -> ExampleServer {
    ExampleServer::spawn_with_env("conformance", &[("ALLOW_EIO3", "1")])
}

/// Runs the steps against a fresh server; returns the lines without the `upgrade` ones (checked
/// to happen exactly in [`Mode::Upgrade`]) and with each `connected` reduced to its namespace,
/// after checking its transport and that its socket id is the one a v2 client derives from the
/// Engine.IO id.
fn eio3_with(mode: Mode, options: Value, steps: Value) -> Vec<Value> {
    let server = server();
    let mut args = json!({ "url": server.url(), "transports": mode.transports(), "steps": steps });
    if let (Some(args), Some(options)) = (args.as_object_mut(), options.as_object()) {
        args.extend(options.clone());
    }
    let lines = run_node("eio3.mjs", args);
    let mut upgrades = 0;
    let mut rest = Vec::new();
    for line in &lines {
        if let Some(upgrade) = line.get("upgrade") {
            assert_eq!(mode, Mode::Upgrade, "unexpected upgrade in {lines:#?}");
            assert_eq!(upgrade, "websocket");
            upgrades += 1;
        } else if let Some(c) = line.get("connected") {
            assert_eq!(c["transport"], mode.final_transport(), "in {lines:#?}");
            let nsp = c["nsp"].as_str().expect("nsp");
            let engine_id = c["engine_id"].as_str().expect("engine id");
            let expected = if nsp == "/" {
                engine_id.to_owned()
            } else {
                format!("{nsp}#{engine_id}")
            };
            assert_eq!(c["socket_id"], expected.as_str(), "in {lines:#?}");
            rest.push(json!({ "connected": nsp }));
        } else {
            rest.push(line.clone());
        }
    }
    if mode == Mode::Upgrade {
        assert!(upgrades >= 1, "no upgrade happened: {lines:#?}");
    }
    rest
}

fn eio3(mode: Mode, steps: Value) -> Vec<Value> {
    eio3_with(mode, json!({}), steps)
}

fn connected(nsp: &str) -> Value {
    json!({ "connected": nsp })
}

fn event(name: &str, args: Value) -> Value {
    json!({ "event": name, "args": args, "acked": false })
}

fn ack(name: &str, args: Value) -> Value {
    json!({ "ack": { "event": name, "args": args } })
}

/// The implicit connection to `/`, events both ways, acks both ways, a server-side disconnect.
fn events_and_acks(mode: Mode) {
    let lines = eio3(
        mode,
        json!([
            { "connect": {} },
            { "expect": "auth" },
            { "emit": "message", "args": ["héllo 😀", 1, { "a": [true, null] }] },
            { "expect": "message-back" },
            { "emit": "message-with-ack", "args": [1, "two"], "ack": true },
            { "emit": "server-emit-with-ack", "args": ["x"] },
            { "expect": "ping-ack", "reply": ["pong", 2] },
            { "expect": "ack-result" },
            { "emit": "disconnect-me" },
            { "expect_disconnect": true },
        ]),
    );
    assert_eq!(
        lines,
        vec![
            connected("/"),
            event("auth", json!([{}])),
            event(
                "message-back",
                json!(["héllo 😀", 1, { "a": [true, null] }])
            ),
            ack("message-with-ack", json!([1, "two"])),
            json!({ "event": "ping-ack", "args": ["x"], "acked": true }),
            event("ack-result", json!(["pong", 2])),
            json!({ "disconnect": "io server disconnect" }),
        ]
    );
}

/// Binary arguments both ways (attachments in events and acks).
fn binary_round_trip(mode: Mode) {
    binary_with(mode, json!({}));
}

/// The same with the client's `forceBase64` (`b64=1`: `b4<base64>` records over polling).
fn binary_base64(mode: Mode) {
    binary_with(mode, json!({ "force_base64": true }));
}

fn binary_with(mode: Mode, options: Value) {
    let big = pseudo_random_bytes(70_000, 3);
    let args = json!([binary(&[0, 1, 2, 255]), { "nested": binary(&big) }, binary(&[])]);
    let lines = eio3_with(
        mode,
        options,
        json!([
            { "connect": {} },
            { "emit": "message", "args": args },
            { "expect": "message-back" },
            { "emit": "message-with-ack", "args": [binary(b"ack me")], "ack": true },
        ]),
    );
    assert_eq!(
        lines,
        vec![
            connected("/"),
            event("message-back", args),
            ack("message-with-ack", json!([binary(b"ack me")])),
        ]
    );
}

/// Namespaces: the query as auth, the v2 socket id, refusals in v2 form, multiplexing.
fn namespaces(mode: Mode) {
    let lines = eio3(
        mode,
        json!([
            { "connect": { "nsp": "/custom", "query": { "token": "a b&c", "n": 1 } } },
            { "expect": "auth" },
            { "connect": { "nsp": "/custom", "query": { "refuse": "go away" } }, "expect_error": true },
            { "connect": { "nsp": "/nope" }, "expect_error": true },
            { "connect": {} },
            { "connect": { "nsp": "/custom", "same_connection": true } },
            { "expect": "auth" },
        ]),
    );
    assert_eq!(
        lines,
        vec![
            connected("/custom"),
            event("auth", json!([{ "token": "a b&c", "n": "1" }])),
            json!({ "connect_error": "go away" }),
            json!({ "connect_error": { "message": "Invalid namespace" } }),
            connected("/"),
            connected("/custom"),
            event("auth", json!([{}])),
        ]
    );
}

/// The v3 heartbeat: the client pings (every 300 ms here), the server answers; the session
/// lives on well past ping interval + ping timeout.
fn heartbeat(mode: Mode) {
    let lines = eio3(
        mode,
        json!([
            { "connect": {} },
            { "sleep": 1500 },
            { "state": true },
            { "emit": "message-with-ack", "args": ["still here"], "ack": true },
        ]),
    );
    assert_eq!(lines.len(), 3, "{lines:#?}");
    let state = &lines[1]["state"];
    assert_eq!(state["connected"], true, "{lines:#?}");
    assert!(state["pongs"].as_u64().unwrap_or(0) >= 3, "{lines:#?}");
    assert_eq!(lines[2], ack("message-with-ack", json!(["still here"])));
}

/// A client-side disconnect, then a new connection on the same server works.
fn client_disconnect(mode: Mode) {
    let lines = eio3(
        mode,
        json!([
            { "connect": { "nsp": "/custom" } },
            { "disconnect": true },
            { "expect_disconnect": true },
            { "connect": {} },
            { "emit": "message-with-ack", "args": [3], "ack": true },
        ]),
    );
    assert_eq!(
        lines,
        vec![
            connected("/custom"),
            json!({ "disconnect": "io client disconnect" }),
            connected("/"),
            ack("message-with-ack", json!([3])),
        ]
    );
}

per_transport!(
    events_and_acks,
    binary_round_trip,
    binary_base64,
    namespaces,
    heartbeat,
    client_disconnect
);

// ---------------------------------------------------------------------------------------------
// The wire, read raw

fn get(port: u16, target: &str) -> common::Response {
    request(port, "GET", target, &[], b"")
}

/// One packet of a v3 text payload: its length in UTF-16 code units, `:`, the packet.
fn record(packet: &str) -> String {
    format!("{}:{packet}", packet.encode_utf16().count())
}

/// Splits a v3 text payload into its packets, checking each length (UTF-16 code units).
fn packets(payload: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut rest = payload;
    while !rest.is_empty() {
        let (len, tail) = rest.split_once(':').expect("a length");
        let len: usize = len.parse().expect("a decimal length");
        let mut units = 0;
        let end = tail
            .char_indices()
            .find(|(_, c)| {
                let done = units == len;
                units += c.len_utf16();
                done
            })
            .map_or(tail.len(), |(i, _)| i);
        out.push(tail[..end].to_owned());
        rest = &tail[end..];
    }
    out
}

#[test]
fn raw_polling_framing() {
    let server = server();
    let port = server.port;
    let open = get(port, "/socket.io/?EIO=3&transport=polling");
    assert_eq!(open.status, 200, "{open:?}");
    let first = packets(open.text());
    let handshake: Value =
        serde_json::from_str(first[0].strip_prefix('0').expect("an open packet")).unwrap();
    let sid = handshake["sid"].as_str().expect("sid").to_owned();
    assert_eq!(handshake["upgrades"], json!(["websocket"]));
    assert_eq!(handshake["pingInterval"], 300);
    assert_eq!(handshake["pingTimeout"], 200);
    let target = format!("/socket.io/?EIO=3&transport=polling&sid={sid}");
    // The implicit CONNECT to `/` without payload, then the `auth` event.
    let mut seen = first[1..].to_vec();
    while seen.len() < 2 {
        seen.extend(packets(get(port, &target).text()));
    }
    assert_eq!(seen, ["40", r#"42["auth",{}]"#]);
    // The client pings, the server answers; a message with a non-BMP character.
    let body = record("2") + &record(r#"42["message","é😀","x"]"#);
    assert_eq!(packets(&body).len(), 2);
    let posted = request(port, "POST", &target, &[], body.as_bytes());
    assert_eq!((posted.status, posted.text()), (200, "ok"));
    let mut seen = Vec::new();
    while seen.len() < 2 {
        seen.extend(packets(get(port, &target).text()));
    }
    assert_eq!(seen, ["3", r#"42["message-back","é😀","x"]"#]);
    // A v4 request on a v3 session is refused.
    let v4 = get(
        port,
        &format!("/socket.io/?EIO=4&transport=polling&sid={sid}"),
    );
    assert_eq!(v4.status, 400, "{v4:?}");
}

#[test]
fn raw_binary_payload() {
    let server = server();
    let port = server.port;
    let open = get(port, "/socket.io/?EIO=3&transport=polling");
    let handshake: Value = serde_json::from_str(&packets(open.text())[0][1..]).unwrap();
    let sid = handshake["sid"].as_str().unwrap().to_owned();
    let target = format!("/socket.io/?EIO=3&transport=polling&sid={sid}");
    let mut seen = packets(open.text())[1..].to_vec();
    while seen.len() < 2 {
        seen.extend(packets(get(port, &target).text()));
    }
    // A binary event as a binary payload: the text packet, then the attachment.
    let text = br#"451-["message",{"_placeholder":true,"num":0}]"#;
    let mut body = vec![0];
    body.extend(text.len().to_string().bytes().map(|d| d - b'0'));
    body.push(0xff);
    body.extend_from_slice(text);
    body.extend_from_slice(&[1, 4, 0xff, 4, 7, 8, 9]);
    let posted = request(
        port,
        "POST",
        &target,
        &[("Content-Type", "application/octet-stream")],
        &body,
    );
    assert_eq!((posted.status, posted.text()), (200, "ok"));
    // The echo comes back as a binary payload (the client did not ask for base64).
    let echo = get(port, &target);
    assert_eq!(
        echo.header("content-type"),
        Some("application/octet-stream"),
        "{echo:?}"
    );
    let text = br#"451-["message-back",{"_placeholder":true,"num":0}]"#;
    let mut expected = vec![0];
    expected.extend(text.len().to_string().bytes().map(|d| d - b'0'));
    expected.push(0xff);
    expected.extend_from_slice(text);
    expected.extend_from_slice(&[1, 4, 0xff, 4, 7, 8, 9]);
    assert_eq!(echo.body, expected);
    // With b64=1 on the handshake, the same echo is a text payload with a `b4` record.
    let open = get(port, "/socket.io/?EIO=3&transport=polling&b64=1");
    let sid = serde_json::from_str::<Value>(&packets(open.text())[0][1..]).unwrap()["sid"]
        .as_str()
        .unwrap()
        .to_owned();
    let target = format!("/socket.io/?EIO=3&transport=polling&b64=1&sid={sid}");
    let mut seen = packets(open.text())[1..].to_vec();
    while seen.len() < 2 {
        seen.extend(packets(get(port, &target).text()));
    }
    let body = record(r#"451-["message",{"_placeholder":true,"num":0}]"#) + &record("b4BwgJ");
    let posted = request(port, "POST", &target, &[], body.as_bytes());
    assert_eq!((posted.status, posted.text()), (200, "ok"));
    let mut seen = Vec::new();
    while seen.len() < 2 {
        seen.extend(packets(get(port, &target).text()));
    }
    assert_eq!(
        seen,
        [
            r#"451-["message-back",{"_placeholder":true,"num":0}]"#,
            "b4BwgJ"
        ]
    );
}

/// Opens a v3 polling session, reads what the server sends first (the handshake, `40`, the
/// `auth` event), and returns the polling URL of the session.
fn open_v3_polling(port: u16) -> String {
    let open = get(port, "/socket.io/?EIO=3&transport=polling");
    let first = packets(open.text());
    let sid = serde_json::from_str::<Value>(&first[0][1..]).unwrap()["sid"]
        .as_str()
        .unwrap()
        .to_owned();
    let target = format!("/socket.io/?EIO=3&transport=polling&sid={sid}");
    let mut seen = first[1..].to_vec();
    while seen.len() < 2 {
        seen.extend(packets(get(port, &target).text()));
    }
    target
}

/// The v3 heartbeat from the server's side: a client that does not ping is closed after
/// pingInterval + pingTimeout (300 + 200 ms here), not before; one that pings stays; a pong
/// from the client is the wrong direction and closes the session (as on the Node server).
#[test]
fn raw_heartbeat() {
    let server = server();
    let port = server.port;
    let pinging = open_v3_polling(port);
    let silent = open_v3_polling(port);
    for _ in 0..5 {
        std::thread::sleep(Duration::from_millis(200));
        let posted = request(port, "POST", &pinging, &[], record("2").as_bytes());
        assert_eq!((posted.status, posted.text()), (200, "ok"));
        assert_eq!(packets(get(port, &pinging).text()), ["3"]);
    }
    // 1000 ms without a ping: the silent session is gone (its close packet, or unknown).
    let res = get(port, &silent);
    assert!(res.status == 400 || packets(res.text()) == ["1"], "{res:?}");
    let wrong = open_v3_polling(port);
    let posted = request(port, "POST", &wrong, &[], record("3").as_bytes());
    assert_eq!(posted.status, 200, "{posted:?}");
    let res = get(port, &wrong);
    assert!(
        res.status == 400 || packets(res.text()).last().map(String::as_str) == Some("1"),
        "{res:?}"
    );
}

/// The bare engine (`/engine.io/`, an echo) with `allow_eio3`: text and a `b4` binary
/// message echoed in v3 framing.
#[test]
fn raw_engine_echo() {
    let server = server();
    let port = server.port;
    let open = get(port, "/engine.io/?EIO=3&transport=polling&b64=1");
    let first = packets(open.text());
    assert_eq!(first.len(), 1, "{first:?}");
    let sid = serde_json::from_str::<Value>(&first[0][1..]).unwrap()["sid"]
        .as_str()
        .unwrap()
        .to_owned();
    let target = format!("/engine.io/?EIO=3&transport=polling&b64=1&sid={sid}");
    let body = record("4héllo 😀") + &record("b4AQID");
    let posted = request(port, "POST", &target, &[], body.as_bytes());
    assert_eq!((posted.status, posted.text()), (200, "ok"));
    let mut seen = Vec::new();
    while seen.len() < 2 {
        seen.extend(packets(get(port, &target).text()));
    }
    assert_eq!(seen, ["4héllo 😀", "b4AQID"]);
}

/// With the option, only `EIO=3` names revision 3: other values are refused as without it.
#[test]
fn other_eio_values_refused() {
    let server = server();
    for target in [
        "/socket.io/?EIO=abc&transport=polling",
        "/socket.io/?EIO=5&transport=polling",
        "/engine.io/?transport=polling",
    ] {
        let res = get(server.port, target);
        assert_eq!(
            (res.status, res.text()),
            (
                400,
                r#"{"code":5,"message":"Unsupported protocol version"}"#
            ),
            "{target}"
        );
    }
}

/// Without the option, a v3 handshake gets what the Node server answers.
#[test]
fn refused_without_the_option() {
    let server = ExampleServer::spawn("conformance");
    for target in [
        "/socket.io/?EIO=3&transport=polling",
        "/engine.io/?EIO=3&transport=polling",
        "/socket.io/?transport=polling",
    ] {
        let res = get(server.port, target);
        assert_eq!(
            (res.status, res.text()),
            (
                400,
                r#"{"code":5,"message":"Unsupported protocol version"}"#
            ),
            "{target}"
        );
    }
}

// ---------------------------------------------------------------------------------------------
// python-socketio 4.x

/// The interpreter of `tests/py/.venv-eio3`, a virtualenv of `tests/py/requirements-eio3.txt`
/// (python-socketio 4.6, the Socket.IO v2 client), created when missing or stale as
/// `tests/interop_python.rs` does its own.
fn venv_eio3_python() -> PathBuf {
    static INSTALL: Once = Once::new();
    let dir = tests_dir().join("py");
    let venv = dir.join(".venv-eio3");
    let requirements = dir.join("requirements-eio3.txt");
    let wanted = fs::read(&requirements).expect("read tests/py/requirements-eio3.txt");
    let installed = Installed {
        target: &venv,
        marker: ".socketio-ns-requirements",
        stamp: &wanted,
    };
    let python = venv.join("bin").join("python");
    INSTALL.call_once(|| {
        if !(python.exists() && installed.is_current()) {
            installed.install("venv-eio3", |staged| {
                let base = std::env::var("SOCKETIO_NS_TEST_PYTHON")
                    .ok()
                    .filter(|p| !p.trim().is_empty())
                    .unwrap_or_else(|| "python3".into());
                for command in [
                    Command::new(&base).arg("-m").arg("venv").arg(staged),
                    Command::new(staged.join("bin").join("python"))
                        .args(["-m", "pip", "install", "--disable-pip-version-check"])
                        .args(["--no-input", "--quiet", "-r"])
                        .arg(&requirements),
                ] {
                    let output = command.stdin(Stdio::null()).output().expect("run");
                    assert!(
                        output.status.success(),
                        "{command:?} failed\n{}",
                        String::from_utf8_lossy(&output.stderr)
                    );
                }
            });
        }
    });
    assert!(
        installed.is_current(),
        "{} is not installed",
        venv.display()
    );
    python
}

/// python-socketio 4.6 on `/` (implicit) and `/custom`: events, binary, an ack, a disconnect.
fn python_client(mode: Mode) {
    let server = server();
    let python = venv_eio3_python();
    let dir = tests_dir().join("py");
    let mut command = Command::new(&python);
    command
        .arg("-I")
        .arg(dir.join("eio3_client.py"))
        .current_dir(&dir);
    let lines = run_child(
        &mut command,
        &python.display().to_string(),
        &json!({ "url": server.url(), "transports": mode.transports() }),
        Duration::from_secs(30),
    )
    .json_lines(|run| run.describe("eio3_client.py", "stderr", Some(30_000)));
    let connected = &lines[0];
    assert_eq!(connected["transport"], mode.final_transport(), "{lines:#?}");
    assert_eq!(connected["sid"], connected["engine_sid"], "{lines:#?}");
    assert_eq!(
        lines[1..],
        [
            json!({ "auth": { "/": [{}], "/custom": [{}] } }),
            json!({ "event": "message-back", "nsp": "/", "args": [["héllo", 1, { "a": null }]] }),
            json!({
                "event": "message-back",
                "nsp": "/",
                "args": [binary(&[0, 1, 255]), { "nested": binary(b"xyz") }]
            }),
            json!({ "ack": [1, binary(b"bin")] }),
            json!({ "disconnected": true }),
        ]
    );
}

per_transport!(python_client);
