//! Edge cases of the handshake and the polling and upgrade rules, sent byte for byte to
//! `examples/conformance.rs` and to the Node reference server with the same contract
//! (`tests/js/conformance_reference.mjs`: socket.io 4.8.1, engine.io 6.6, ws 8), and answered
//! the same by both: what a client gets from us is what it would get from Node.
//!
//! Run: `cargo test -p socketio-ns --test against_node --example conformance` (needs node and
//! `tests/node_modules`, installed on first use).

mod common;

use std::io::Write;
use std::net::{Ipv4Addr, TcpStream};

use common::ws::next_text_blocking;
use common::{ExampleServer, IO_TIMEOUT, polling_sid, read_response, request};
use tokio_tungstenite::tungstenite::{self, Message, WebSocket};

/// Ours and Node's, side by side.
fn servers() -> [(&'static str, ExampleServer); 2] {
    [
        ("ours", ExampleServer::spawn("conformance")),
        (
            "node",
            ExampleServer::spawn_node("conformance_reference.mjs", "conformance"),
        ),
    ]
}

/// What an HTTP answer shows a client: the status, and the body (a 101 has none).
fn answer(port: u16, head: &str) -> (u16, String) {
    let mut stream = TcpStream::connect((Ipv4Addr::LOCALHOST, port)).unwrap();
    stream.set_read_timeout(Some(IO_TIMEOUT)).unwrap();
    stream.write_all(head.as_bytes()).unwrap();
    let response = read_response(stream);
    (response.status, response.text().to_owned())
}

const KEY: &str = "dGhlIHNhbXBsZSBub25jZQ==";

/// An opening handshake for a new session over WebSocket, with these header lines.
fn upgrade(port: u16, headers: &[&str]) -> String {
    let mut head =
        format!("GET /socket.io/?EIO=4&transport=websocket HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\n");
    for h in headers {
        head.push_str(h);
        head.push_str("\r\n");
    }
    head.push_str("\r\n");
    head
}

fn ws(port: u16, target: &str) -> WebSocket<TcpStream> {
    let stream = TcpStream::connect((Ipv4Addr::LOCALHOST, port)).unwrap();
    stream.set_read_timeout(Some(IO_TIMEOUT)).unwrap();
    tungstenite::client(format!("ws://127.0.0.1:{port}{target}"), stream)
        .expect("the WebSocket opens")
        .0
}

/// RFC 6455's opening handshake as `ws` checks it, and the `upgrade` token without which
/// Node's HTTP server does not see an upgrade at all (Engine.IO then refuses the `websocket`
/// transport: code 3).
#[test]
fn malformed_websocket_handshakes_are_refused_as_node_refuses_them() {
    let cases: [(&str, &[&str]); 7] = [
        (
            "well-formed",
            &[
                "Connection: Upgrade",
                "Upgrade: websocket",
                "Sec-WebSocket-Version: 13",
                "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==",
            ],
        ),
        (
            "no Connection header",
            &[
                "Upgrade: websocket",
                "Sec-WebSocket-Version: 13",
                "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==",
            ],
        ),
        (
            "Connection: keep-alive",
            &[
                "Connection: keep-alive",
                "Upgrade: websocket",
                "Sec-WebSocket-Version: 13",
                "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==",
            ],
        ),
        (
            "version 99",
            &[
                "Connection: Upgrade",
                "Upgrade: websocket",
                "Sec-WebSocket-Version: 99",
                "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==",
            ],
        ),
        (
            "no version",
            &[
                "Connection: Upgrade",
                "Upgrade: websocket",
                "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==",
            ],
        ),
        (
            "a key that is no 16-byte nonce",
            &[
                "Connection: Upgrade",
                "Upgrade: websocket",
                "Sec-WebSocket-Version: 13",
                "Sec-WebSocket-Key: x",
            ],
        ),
        (
            "no key",
            &[
                "Connection: keep-alive, Upgrade",
                "Upgrade: websocket",
                "Sec-WebSocket-Version: 13",
            ],
        ),
    ];
    assert_eq!(KEY.len(), 24);
    let servers = servers();
    for (case, headers) in cases {
        let answers: Vec<_> = servers
            .iter()
            .map(|(name, s)| (*name, answer(s.port, &upgrade(s.port, headers))))
            .collect();
        assert_eq!(answers[0].1, answers[1].1, "{case}: {answers:?}");
        let expected_status = if case == "well-formed" { 101 } else { 400 };
        assert_eq!(answers[0].1.0, expected_status, "{case}: {answers:?}");
    }
}

/// A revision 4 session's POST is text: a binary body is refused (400) and ends the session.
#[test]
fn a_binary_post_on_a_v4_session_is_refused_and_ends_it_as_in_node() {
    for (name, s) in servers() {
        let sid = polling_sid(s.port, "/socket.io/");
        let target = format!("/socket.io/?EIO=4&transport=polling&sid={sid}");
        let head = format!(
            "POST {target} HTTP/1.1\r\nHost: 127.0.0.1:{}\r\nContent-Type: application/octet-stream\r\nContent-Length: 2\r\n\r\n40",
            s.port
        );
        assert_eq!(answer(s.port, &head), (400, String::new()), "{name}");
        let after = request(s.port, "GET", &target, &[], b"");
        assert_eq!(
            (
                after.status,
                String::from_utf8_lossy(&after.body).into_owned()
            ),
            (
                400,
                r#"{"code":1,"message":"Session ID unknown"}"#.to_owned()
            ),
            "{name}"
        );
    }
}

/// An ACK without an id is ignored (no callback waits for it); the connection goes on.
#[test]
fn an_ack_without_an_id_is_ignored_as_in_node() {
    for (name, s) in servers() {
        let mut ws = ws(s.port, "/socket.io/?EIO=4&transport=websocket");
        assert!(next_text_blocking(&mut ws).starts_with("0{"), "{name}");
        ws.send(Message::text("40")).unwrap();
        assert!(next_text_blocking(&mut ws).starts_with("40{"), "{name}");
        assert_eq!(next_text_blocking(&mut ws), r#"42["auth",{}]"#, "{name}");
        ws.send(Message::text(r#"43["x"]"#)).unwrap();
        ws.send(Message::text(r#"42["message",1]"#)).unwrap();
        assert_eq!(
            next_text_blocking(&mut ws),
            r#"42["message-back",1]"#,
            "{name}"
        );
    }
}

/// A WebSocket ping frame in the middle of the upgrade's probe is the WebSocket layer's
/// business: the upgrade completes.
#[test]
fn a_ping_frame_during_the_upgrade_probe_does_not_stop_the_upgrade() {
    for (name, s) in servers() {
        let sid = polling_sid(s.port, "/socket.io/");
        let mut ws = ws(
            s.port,
            &format!("/socket.io/?EIO=4&transport=websocket&sid={sid}"),
        );
        ws.send(Message::text("2probe")).unwrap();
        assert_eq!(next_text_blocking(&mut ws), "3probe", "{name}");
        ws.send(Message::Ping(b"keep-alive"[..].into())).unwrap();
        ws.send(Message::text("5")).unwrap();
        // Upgraded: the session now answers over the WebSocket.
        ws.send(Message::text("40")).unwrap();
        assert!(
            next_text_blocking(&mut ws).starts_with("40{"),
            "{name}: not upgraded"
        );
    }
}
