//! engine.io-client 6.6 (node, `tests/js/eio.mjs`) against the raw Engine.IO echo server of
//! `examples/conformance.rs` (`/engine.io/`), on polling, WebSocket and upgrade.
//!
//! Run: `cargo test -p socketio-ns --test interop_engineio --example conformance`

#[macro_use]
mod common;

use common::{ExampleServer, Mode, binary, pseudo_random_bytes, run_node};
use serde_json::{Value, json};

/// Sends `messages` in one tick, waits for as many back, and returns the printed lines after
/// checking the handshake, the transport and the upgrade.
fn echo(mode: Mode, messages: Value, send_before_upgrade: bool) -> Vec<Value> {
    let server = ExampleServer::spawn("conformance");
    let lines = run_node(
        "eio.mjs",
        json!({
            "url": server.url(),
            "transports": mode.transports(),
            "messages": messages,
            "send_before_upgrade": send_before_upgrade,
        }),
    );
    let opened_on = if mode == Mode::WebSocket {
        "websocket"
    } else {
        "polling"
    };
    assert!(
        lines.iter().any(|l| l["handshake"].is_object()),
        "no handshake: {lines:#?}"
    );
    assert!(
        lines.contains(&json!({ "open": { "transport": opened_on } })),
        "{lines:#?}"
    );
    let upgrades = lines.iter().filter(|l| l.get("upgrade").is_some()).count();
    if mode == Mode::Upgrade {
        assert!(
            lines.contains(&json!({ "upgrade": "websocket" })),
            "no upgrade: {lines:#?}"
        );
        assert_eq!(upgrades, 1, "{lines:#?}");
    } else {
        assert_eq!(upgrades, 0, "{lines:#?}");
    }
    assert_eq!(
        lines.last(),
        Some(&json!({ "closed": { "transport": mode.final_transport() } })),
        "{lines:#?}"
    );
    lines
}

/// The echoed messages, in order.
fn messages(lines: &[Value]) -> Vec<Value> {
    lines
        .iter()
        .filter_map(|l| l.get("message"))
        .cloned()
        .collect()
}

per_transport!(
    handshake,
    echo_text_and_binary,
    echo_many_batched,
    echo_large
);

/// The open packet: exactly sid, upgrades, pingInterval, pingTimeout, maxPayload; `upgrades` is
/// `["websocket"]` on a polling session and `[]` on a WebSocket one.
fn handshake(mode: Mode) {
    let lines = echo(mode, json!([]), false);
    let handshake = lines.iter().find_map(|l| l.get("handshake")).unwrap();
    let sid = handshake["sid"].as_str().expect("sid is a string");
    assert!(!sid.is_empty());
    let upgrades = if mode == Mode::WebSocket {
        json!([])
    } else {
        json!(["websocket"])
    };
    assert_eq!(
        handshake,
        &json!({
            "sid": sid,
            "upgrades": upgrades,
            "pingInterval": 300,
            "pingTimeout": 200,
            "maxPayload": 1_000_000,
        })
    );
}

/// Text stays text and binary stays binary. (Not sent: an empty text message, which the
/// client delivers as `undefined`, and the record separator `\x1e`, which polling cannot
/// carry inside a text message.)
fn echo_text_and_binary(mode: Mode) {
    let sent = json!([
        "hello",
        "é😀 \u{0} \"quoted\" \\ {\"json\":1}",
        "4",
        "b",
        binary(&[1, 2, 3, 4]),
        binary(&[]),
        binary(&[0x34, 0x62]),
        "last",
    ]);
    let lines = echo(mode, sent.clone(), false);
    assert_eq!(Value::Array(messages(&lines)), sent);
}

/// Many messages sent in one tick: the client batches them (one polling POST joined with
/// `\x1e`), the echoes are batched back, and all arrive in order.
fn echo_many_batched(mode: Mode) {
    let sent: Vec<Value> = (0..200u32)
        .map(|i| {
            if i % 10 == 9 {
                binary(&pseudo_random_bytes(i as usize, i))
            } else {
                json!(format!("message {i}"))
            }
        })
        .collect();
    let lines = echo(mode, Value::Array(sent.clone()), false);
    assert_eq!(messages(&lines), sent);
}

/// Messages of several hundred KB (under maxPayload 1,000,000, base64 included).
fn echo_large(mode: Mode) {
    let text: String = pseudo_random_bytes(400_000, 7)
        .iter()
        .map(|b| char::from(b'a' + b % 26))
        .collect();
    let sent = json!([text, binary(&pseudo_random_bytes(300_000, 8))]);
    let lines = echo(mode, sent.clone(), false);
    assert_eq!(Value::Array(messages(&lines)), sent);
}

/// Messages sent while the upgrade is under way are neither lost nor reordered.
#[test]
fn messages_cross_the_upgrade() {
    let sent: Vec<Value> = (0..100).map(|i| json!(format!("m{i}"))).collect();
    let lines = echo(Mode::Upgrade, Value::Array(sent.clone()), true);
    assert_eq!(messages(&lines), sent);
}
