//! HTTP compression of long-polling responses (Node's `httpCompression`, on by default): raw
//! HTTP/1.1 against `examples/conformance.rs`'s Engine.IO echo server. A response of at least
//! 1024 bytes is gzip- or deflate-encoded as the request's `Accept-Encoding` allows (gzip on a
//! tie), a smaller one or one to a client that asks for neither is sent as is. (python-socketio's
//! client, which asks for gzip, reads compressed responses in `tests/interop_python.rs`.)
//!
//!
//! WebSocket `permessage-deflate` (off by default, as Node's `perMessageDeflate`; the example
//! turns it on with `WS_COMPRESSION=<threshold>`): Node's `ws` client and socket.io-client
//! (`tests/js/deflate.mjs`) negotiate it, and the bytes read off and written to their TCP
//! socket show which messages went compressed each way. Headless Chromium's own WebSocket
//! negotiates it too (`tests/js/browser_deflate.mjs`; needs the `chromium` package).
//!
//! Run: `cargo test -p socketio-ns --test compression --example conformance`

mod common;

use std::io::Read;
use std::process::Command;
use std::time::Duration;

use common::{
    ExampleServer, Response, chromium, node_modules, request, run_child, run_node, tests_dir,
};
use serde_json::{Value, json};

const EIO: &str = "/engine.io/";

fn polling(sid: &str) -> String {
    format!("{EIO}?EIO=4&transport=polling&sid={sid}")
}

fn open(port: u16) -> String {
    let response = request(
        port,
        "GET",
        &format!("{EIO}?EIO=4&transport=polling"),
        &[],
        b"",
    );
    assert_eq!(response.status, 200, "{response:?}");
    let handshake: Value = serde_json::from_str(&response.text()[1..]).unwrap();
    handshake["sid"].as_str().unwrap().to_owned()
}

/// Posts `message` to the echo server and GETs its echo with this `Accept-Encoding`, right
/// after a heartbeat so that no ping comes in between (the example pings every 300 ms).
fn echo(port: u16, sid: &str, message: &str, accept: Option<&str>) -> Response {
    let ping = request(port, "GET", &polling(sid), &[], b"");
    assert_eq!(ping.text(), "2", "{ping:?}");
    request(port, "POST", &polling(sid), &[], b"3");
    let posted = request(
        port,
        "POST",
        &polling(sid),
        &[],
        format!("4{message}").as_bytes(),
    );
    assert_eq!(posted.status, 200, "{posted:?}");
    let headers: Vec<(&str, &str)> = accept.map(|a| ("Accept-Encoding", a)).into_iter().collect();
    request(port, "GET", &polling(sid), &headers, b"")
}

fn gunzip(body: &[u8]) -> String {
    let mut out = String::new();
    flate2::read::GzDecoder::new(body)
        .read_to_string(&mut out)
        .unwrap();
    out
}

fn inflate(body: &[u8]) -> String {
    let mut out = String::new();
    flate2::read::ZlibDecoder::new(body)
        .read_to_string(&mut out)
        .unwrap();
    out
}

#[test]
fn a_large_polling_response_is_compressed_as_the_client_accepts() {
    let server = ExampleServer::spawn("conformance");
    let sid = open(server.port);
    // A chat-like JSON payload, 2 KB.
    let big = r#"{"room":"lobby","nick":"ann","text":"hello, everyone"}"#.repeat(40);

    let gz = echo(server.port, &sid, &big, Some("gzip, deflate, br"));
    assert_eq!(gz.status, 200, "{gz:?}");
    assert_eq!(gz.header("content-encoding"), Some("gzip"), "{gz:?}");
    assert_eq!(gunzip(&gz.body), format!("4{big}"));
    assert!(gz.body.len() < big.len() / 4, "{} bytes", gz.body.len());
    assert_eq!(
        gz.header("content-length"),
        Some(gz.body.len().to_string().as_str())
    );

    let deflate = echo(server.port, &sid, &big, Some("deflate"));
    assert_eq!(
        deflate.header("content-encoding"),
        Some("deflate"),
        "{deflate:?}"
    );
    assert_eq!(inflate(&deflate.body), format!("4{big}"));

    // Qualities: gzip refused, deflate preferred, `*` for both.
    let q = echo(server.port, &sid, &big, Some("gzip;q=0, deflate;q=0.5"));
    assert_eq!(q.header("content-encoding"), Some("deflate"), "{q:?}");
    let q = echo(server.port, &sid, &big, Some("gzip;q=0.2, deflate;q=0.9"));
    assert_eq!(q.header("content-encoding"), Some("deflate"), "{q:?}");
    let star = echo(server.port, &sid, &big, Some("*"));
    assert_eq!(star.header("content-encoding"), Some("gzip"), "{star:?}");

    // Neither asked for: as is.
    for accept in [
        None,
        Some("identity"),
        Some("br"),
        Some("gzip;q=0, deflate;q=0"),
    ] {
        let plain = echo(server.port, &sid, &big, accept);
        assert_eq!(
            plain.header("content-encoding"),
            None,
            "{accept:?}: {plain:?}"
        );
        assert_eq!(plain.text(), format!("4{big}"));
    }
}

#[test]
fn a_small_polling_response_is_sent_as_is() {
    let server = ExampleServer::spawn("conformance");
    let sid = open(server.port);
    let small = "x".repeat(1000);
    let response = echo(server.port, &sid, &small, Some("gzip"));
    assert_eq!(response.header("content-encoding"), None, "{response:?}");
    assert_eq!(response.text(), format!("4{small}"));
    // 1023 bytes of payload plus the `4`: at the threshold, compressed.
    let at = "y".repeat(1023);
    let response = echo(server.port, &sid, &at, Some("gzip"));
    assert_eq!(
        response.header("content-encoding"),
        Some("gzip"),
        "{response:?}"
    );
    assert_eq!(gunzip(&response.body), format!("4{at}"));
}

// ---------------------------------------------------------------------------------------------
// WebSocket permessage-deflate

/// The extension's answer with the default `WsCompression`: no context kept on either side.
const NO_TAKEOVER: &str =
    "permessage-deflate; server_no_context_takeover; client_no_context_takeover";

/// A chat-like JSON text of about `len` bytes: messages of a few users and sentences.
fn chat_text(len: usize) -> String {
    const USERS: [&str; 5] = ["alice", "bob", "carol", "dave", "erin"];
    const WORDS: [&str; 16] = [
        "the",
        "release",
        "notes",
        "mention",
        "websocket",
        "compression",
        "and",
        "a",
        "faster",
        "broadcast",
        "path",
        "did",
        "anyone",
        "try",
        "it",
        "yet",
    ];
    let mut s = String::new();
    let mut i = 0usize;
    while s.len() < len {
        let text: Vec<&str> = (0..12).map(|k| WORDS[(i * 7 + k * k * 3) % 16]).collect();
        s.push_str(&format!(
            r#"{{"user":"{}","room":"general","text":"{}","ts":{}}}"#,
            USERS[i % 5],
            text.join(" "),
            1_700_000_000_000u64 + i as u64 * 1234
        ));
        i += 1;
    }
    s
}

/// The observations of `tests/js/deflate.mjs`: the extension answered, the echoes (each
/// checked equal to what was sent), and how the connection closed.
fn deflate_run(args: Value) -> (Option<String>, Vec<Value>, Vec<Value>) {
    let raw = args["mode"] == "ws";
    let lines = run_node("deflate.mjs", args);
    if raw {
        // Our ping is answered with a pong carrying its data.
        let pong = lines.iter().find_map(|l| l.get("pong"));
        assert_eq!(pong, Some(&json!("are you there")), "{lines:?}");
    }
    let extensions = lines
        .iter()
        .find_map(|l| l.get("extensions"))
        .and_then(|e| e.as_str().map(str::to_owned));
    let echoes: Vec<Value> = lines
        .iter()
        .filter_map(|l| l.get("echo"))
        .cloned()
        .collect();
    let closed: Vec<Value> = lines
        .iter()
        .filter_map(|l| l.get("closed"))
        .cloned()
        .collect();
    for e in &echoes {
        assert_eq!(e["equal"], true, "{lines:?}");
    }
    (extensions, echoes, closed)
}

fn bytes(echo: &Value, key: &str) -> u64 {
    echo[key].as_u64().unwrap()
}

#[test]
fn node_ws_negotiates_websocket_compression_and_messages_at_the_threshold_go_compressed() {
    let server = ExampleServer::spawn_with_env("conformance", &[("WS_COMPRESSION", "1024")]);
    let big = chat_text(20_000);
    // Engine.IO messages `4<text>` of 1023 and 1024 bytes: the threshold is 1024 both ways
    // (the server's here, the `ws` client's by default).
    let below = "b".repeat(1022);
    let at = "a".repeat(1023);
    let (extensions, echoes, closed) = deflate_run(json!({
        "url": server.url(),
        "mode": "ws",
        "messages": [big, big, below, at, {"text": big, "fragments": 3}],
    }));
    assert_eq!(extensions.as_deref(), Some(NO_TAKEOVER));
    assert_eq!(echoes.len(), 5, "{echoes:?}");
    // The client's close is answered with its code.
    assert_eq!(closed, vec![json!({"code": 1000, "by": "client"})]);
    let n = big.len() as u64;
    for e in [&echoes[0], &echoes[1], &echoes[4]] {
        assert!(bytes(e, "read") < n / 4, "{e}: the echo came compressed");
        assert!(
            bytes(e, "written") < n / 4,
            "{e}: the message went compressed"
        );
    }
    // No context kept: the same message costs as much the second time.
    assert!(
        bytes(&echoes[1], "read") * 10 > bytes(&echoes[0], "read") * 9,
        "{echoes:?}"
    );
    assert!(
        bytes(&echoes[2], "read") >= 1023,
        "{}: sent as is",
        echoes[2]
    );
    assert!(bytes(&echoes[2], "written") >= 1023, "{}", echoes[2]);
    assert!(bytes(&echoes[3], "read") < 100, "{}: compressed", echoes[3]);
    assert!(bytes(&echoes[3], "written") < 100, "{}", echoes[3]);
}

#[test]
fn with_context_takeover_allowed_repeated_messages_cost_less_each_way() {
    let server = ExampleServer::spawn_with_env(
        "conformance",
        &[("WS_COMPRESSION", "1024"), ("WS_CONTEXT_TAKEOVER", "1")],
    );
    let big = chat_text(5_000);
    let (extensions, echoes, _) = deflate_run(json!({
        "url": server.url(),
        "mode": "ws",
        "messages": [big, big, {"text": big, "fragments": 2}, big],
    }));
    assert_eq!(extensions.as_deref(), Some("permessage-deflate"));
    assert_eq!(echoes.len(), 4, "{echoes:?}");
    let (first_read, first_written) = (bytes(&echoes[0], "read"), bytes(&echoes[0], "written"));
    assert!(first_read < big.len() as u64 / 4, "{echoes:?}");
    for e in &echoes[1..] {
        // The message is mostly back-references into the context kept from the first.
        assert!(bytes(e, "read") * 2 < first_read, "{echoes:?}");
        assert!(bytes(e, "written") * 2 < first_written, "{echoes:?}");
    }
}

#[test]
fn a_client_that_does_not_offer_websocket_compression_gets_plain_frames() {
    let server = ExampleServer::spawn_with_env("conformance", &[("WS_COMPRESSION", "1024")]);
    let big = chat_text(20_000);
    let (extensions, echoes, _) = deflate_run(json!({
        "url": server.url(),
        "mode": "ws",
        "per_message_deflate": false,
        "messages": [big],
    }));
    assert_eq!(extensions, None);
    assert!(bytes(&echoes[0], "read") > big.len() as u64, "{echoes:?}");
}

#[test]
fn websocket_compression_is_off_by_default() {
    let server = ExampleServer::spawn("conformance");
    let big = chat_text(20_000);
    for mode in ["ws", "sio"] {
        let (extensions, echoes, _) = deflate_run(json!({
            "url": server.url(),
            "mode": mode,
            "messages": [big],
        }));
        assert_eq!(extensions, None, "{mode}");
        assert!(
            bytes(&echoes[0], "read") > big.len() as u64,
            "{mode}: {echoes:?}"
        );
        assert!(
            bytes(&echoes[0], "written") > big.len() as u64,
            "{mode}: {echoes:?}"
        );
    }
}

#[test]
fn a_decompression_bomb_is_closed_with_1009_and_the_server_serves_on() {
    let server = ExampleServer::spawn_with_env("conformance", &[("WS_COMPRESSION", "1024")]);
    // 3 MB of one letter: a few KB compressed, three times maxPayload inflated.
    let bomb = "z".repeat(3_000_000);
    let (extensions, echoes, closed) = deflate_run(json!({
        "url": server.url(),
        "mode": "ws",
        "messages": ["hello", bomb],
        "expect_close": true,
    }));
    assert_eq!(extensions.as_deref(), Some(NO_TAKEOVER));
    assert_eq!(echoes.len(), 1);
    // The session's close packet, then the WebSocket close: "message too big".
    assert_eq!(closed, vec![json!({"code": 1009, "packets": ["1"]})]);
    // Just under the limit (1,000,000 bytes and the `4`) still goes through, and others are
    // served.
    let (_, echoes, _) = deflate_run(json!({
        "url": server.url(),
        "mode": "ws",
        "messages": ["z".repeat(999_999)],
    }));
    assert_eq!(echoes.len(), 1);
    assert!(bytes(&echoes[0], "read") < 10_000, "{echoes:?}");
}

#[test]
fn socket_io_client_negotiates_websocket_compression_directly_and_after_an_upgrade() {
    let server = ExampleServer::spawn_with_env("conformance", &[("WS_COMPRESSION", "1024")]);
    let big = chat_text(10_000);
    for transports in [json!(["websocket"]), json!(["polling", "websocket"])] {
        let (extensions, echoes, _) = deflate_run(json!({
            "url": server.url(),
            "mode": "sio",
            "transports": transports,
            "messages": [big, "hi"],
        }));
        assert_eq!(
            extensions.as_deref(),
            Some("permessage-deflate"),
            "{transports}"
        );
        // Socket.IO's event `42["message-back","..."]` escapes the JSON's quotes.
        assert!(
            bytes(&echoes[0], "read") < big.len() as u64 / 4,
            "{echoes:?}"
        );
        assert!(
            bytes(&echoes[0], "written") < big.len() as u64 / 4,
            "{echoes:?}"
        );
        assert!(bytes(&echoes[1], "read") < 100, "{echoes:?}");
    }
}

#[test]
fn chromium_negotiates_websocket_compression() {
    let chromium = chromium();
    let server = ExampleServer::spawn_with_env("conformance", &[("WS_COMPRESSION", "1024")]);
    node_modules();
    let big = chat_text(50_000);
    let mut command = Command::new("node");
    command
        .arg(tests_dir().join("js/browser_deflate.mjs"))
        .current_dir(tests_dir());
    let args = json!({
        "url": server.url(),
        "chromium": chromium,
        "messages": [big, "small", big],
        "timeout_ms": 50_000,
    });
    let lines = run_child(&mut command, "node", &args, Duration::from_secs(60))
        .json_lines(|run| run.describe("node browser_deflate.mjs", "stderr", None));
    let extensions = lines.iter().find_map(|l| l.get("extensions"));
    // The browser shows the extension's name and the parameters we answered.
    assert_eq!(extensions, Some(&json!(NO_TAKEOVER)), "{lines:?}");
    let echoes: Vec<&Value> = lines.iter().filter_map(|l| l.get("echo")).collect();
    assert_eq!(echoes.len(), 3, "{lines:?}");
    for e in echoes {
        assert_eq!(e["equal"], true, "{lines:?}");
    }
}
