//! Raw HTTP/1.1 (and raw WebSocket) against `examples/conformance.rs`: every Engine.IO error
//! status and body, the handshake, CORS, long-polling rules, upgrade, heartbeat and close, and
//! a few Socket.IO packets compared byte for byte. Expected values are those of the reference
//! node server (engine.io 6.6 / socket.io 4.8) and of the engine.io-protocol and
//! socket.io-protocol test suites.
//!
//! Run: `cargo test -p socketio-ns --test http_errors --example conformance`

mod common;

use std::io::Write;
use std::net::{Ipv4Addr, TcpStream};
use std::thread;
use std::time::{Duration, Instant};

use common::ws::next_text_blocking;
use common::{
    ExampleServer, IO_TIMEOUT, Response, polling_sid, read_response, request, send_request,
};
use serde_json::Value;
use tokio_tungstenite::tungstenite::{self, Message, WebSocket};

const EIO: &str = "/engine.io/";
const SIO: &str = "/socket.io/";
const PATHS: [&str; 2] = [EIO, SIO];

fn server() -> ExampleServer {
    ExampleServer::spawn("conformance")
}

fn get(port: u16, target: &str) -> Response {
    request(port, "GET", target, &[], b"")
}

fn post(port: u16, target: &str, body: &[u8]) -> Response {
    request(port, "POST", target, &[], body)
}

fn polling(path: &str, sid: &str) -> String {
    format!("{path}?EIO=4&transport=polling&sid={sid}")
}

/// Asserts an Engine.IO error: 400, JSON, and the exact body.
#[track_caller]
fn assert_error(response: &Response, code: u8, message: &str) {
    let expected = format!(r#"{{"code":{code},"message":"{message}"}}"#);
    assert_eq!(
        (
            response.status,
            String::from_utf8_lossy(&response.body).into_owned()
        ),
        (400, expected),
        "{response:?}"
    );
    assert_eq!(
        response.header("content-type"),
        Some("application/json"),
        "{response:?}"
    );
}

/// Asserts `200 ok` to a POST.
#[track_caller]
fn assert_ok(response: &Response) {
    assert_eq!(
        (response.status, response.text()),
        (200, "ok"),
        "{response:?}"
    );
    let content_type = response.header("content-type").unwrap_or_default();
    assert!(content_type.starts_with("text/html"), "{response:?}");
}

/// Asserts a 200 polling response with that exact payload.
#[track_caller]
fn assert_payload(response: &Response, payload: &str) {
    assert_eq!(
        (response.status, response.text()),
        (200, payload),
        "{response:?}"
    );
    let content_type = response.header("content-type").unwrap_or_default();
    assert!(
        content_type.eq_ignore_ascii_case("text/plain; charset=UTF-8"),
        "{response:?}"
    );
}

/// Waits for the server's ping on a polling session and answers it: the next ping is then
/// ~300 ms away, long enough for a scenario that should not see one.
fn sync_to_heartbeat(port: u16, path: &str, sid: &str) {
    assert_payload(&get(port, &polling(path, sid)), "2");
    assert_ok(&post(port, &polling(path, sid), b"3"));
}

/// Sends a GET that stays pending, and gives the server time to register it.
fn pending_get(port: u16, path: &str, sid: &str) -> TcpStream {
    let stream = send_request(port, "GET", &polling(path, sid), &[], b"");
    thread::sleep(Duration::from_millis(50));
    stream
}

/// Opens a WebSocket; `Err(Some(status))` when the server refuses the upgrade with an HTTP
/// response, `Err(None)` on any other failure.
fn ws_connect(port: u16, target: &str) -> Result<WebSocket<TcpStream>, Option<u16>> {
    let stream = TcpStream::connect((Ipv4Addr::LOCALHOST, port)).unwrap();
    stream.set_read_timeout(Some(IO_TIMEOUT)).unwrap();
    tungstenite::client(format!("ws://127.0.0.1:{port}{target}"), stream)
        .map(|(ws, _)| ws)
        .map_err(|e| match e {
            tungstenite::HandshakeError::Failure(tungstenite::Error::Http(response)) => {
                Some(response.status().as_u16())
            }
            _ => None,
        })
}

/// Whether the server ends the WebSocket (close frame, EOF, reset or a protocol error) before
/// sending any data frame other than a ping.
fn ws_closed_without_data(ws: &mut WebSocket<TcpStream>) -> Result<(), String> {
    loop {
        match ws.read() {
            Ok(Message::Close(_)) => return Ok(()),
            Ok(Message::Text(text)) if text.as_str() == "2" => {}
            Ok(Message::Ping(_) | Message::Pong(_)) => {}
            Ok(other) => return Err(format!("received {other:?}")),
            Err(tungstenite::Error::Io(e))
                if matches!(
                    e.kind(),
                    std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut
                ) =>
            {
                return Err("still open after the read timeout".into());
            }
            Err(_) => return Ok(()),
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Error codes

#[test]
fn code_0_transport_unknown() {
    let server = server();
    for path in PATHS {
        for query in [
            "EIO=4&transport=tobi",
            "EIO=4",
            "EIO=4&transport=",
            "EIO=4&transport=constructor",
            "EIO=4&transport=webtransport",
            "EIO=4&transport=POLLING",
            // The transport is checked before the sid, the method and the protocol version.
            "EIO=4&transport=tobi&sid=unknown",
            "EIO=3&transport=tobi",
        ] {
            assert_error(
                &get(server.port, &format!("{path}?{query}")),
                0,
                "Transport unknown",
            );
        }
        let response = post(server.port, &format!("{path}?EIO=3&transport=tobi"), b"4x");
        assert_error(&response, 0, "Transport unknown");
    }
}

#[test]
fn code_1_session_id_unknown() {
    let server = server();
    for path in PATHS {
        assert_error(
            &get(server.port, &polling(path, "unknown")),
            1,
            "Session ID unknown",
        );
        assert_error(
            &post(server.port, &polling(path, "unknown")[..], b"4x"),
            1,
            "Session ID unknown",
        );
        // Checked before the handshake rules (websocket without upgrade, protocol version).
        let target = format!("{path}?EIO=4&transport=websocket&sid=unknown");
        assert_error(&get(server.port, &target), 1, "Session ID unknown");
        let target = format!("{path}?EIO=3&transport=polling&sid=unknown");
        assert_error(&get(server.port, &target), 1, "Session ID unknown");
        // A WebSocket upgrade with an unknown sid is refused before switching protocols.
        let target = format!("{path}?EIO=4&transport=websocket&sid=unknown");
        match ws_connect(server.port, &target) {
            Err(Some(400)) => {}
            Err(status) => panic!("expected HTTP 400, got {status:?}"),
            Ok(_) => panic!("WebSocket with an unknown sid accepted"),
        }
    }
}

#[test]
fn code_2_bad_handshake_method() {
    let server = server();
    for path in PATHS {
        for method in ["POST", "PUT", "DELETE", "PATCH"] {
            let target = format!("{path}?EIO=4&transport=polling");
            let response = request(server.port, method, &target, &[], b"");
            assert_error(&response, 2, "Bad handshake method");
        }
        // The method is checked before the protocol version.
        let response = post(server.port, &format!("{path}?EIO=3&transport=polling"), b"");
        assert_error(&response, 2, "Bad handshake method");
    }
}

#[test]
fn code_3_bad_request() {
    let server = server();
    for path in PATHS {
        // A WebSocket handshake that is not an HTTP upgrade.
        let target = format!("{path}?EIO=4&transport=websocket");
        assert_error(&get(server.port, &target), 3, "Bad request");
        let sid = polling_sid(server.port, path);
        // A request for a polling session on another transport, without upgrade.
        let target = format!("{path}?EIO=4&transport=websocket&sid={sid}");
        assert_error(&get(server.port, &target), 3, "Bad request");
        // A request with another protocol version than the session's.
        let target = format!("{path}?EIO=3&transport=polling&sid={sid}");
        assert_error(&get(server.port, &target), 3, "Bad request");
    }
}

#[test]
fn code_5_unsupported_protocol_version() {
    let server = server();
    for path in PATHS {
        for query in [
            "EIO=3&transport=polling",
            "transport=polling",
            "EIO=abc&transport=polling",
            "EIO=5&transport=polling",
            "EIO=&transport=polling",
        ] {
            let response = get(server.port, &format!("{path}?{query}"));
            assert_error(&response, 5, "Unsupported protocol version");
        }
        // Over WebSocket: whether refused before or after switching protocols, no session.
        for query in ["EIO=3&transport=websocket", "transport=websocket"] {
            if let Ok(mut ws) = ws_connect(server.port, &format!("{path}?{query}")) {
                ws_closed_without_data(&mut ws).unwrap_or_else(|e| panic!("{query}: {e}"));
            }
        }
    }
}

#[test]
fn post_over_max_payload_is_413() {
    let server = server();
    let sid = polling_sid(server.port, EIO);
    sync_to_heartbeat(server.port, EIO, &sid);
    // Exactly maxPayload bytes are accepted (and echoed).
    let mut body = vec![b'a'; 1_000_000];
    body[0] = b'4';
    assert_ok(&post(server.port, &polling(EIO, &sid), &body));
    let echoed = get(server.port, &polling(EIO, &sid));
    assert_eq!(echoed.status, 200);
    assert!(
        echoed.body == body,
        "echo of {} bytes differs ({} bytes)",
        body.len(),
        echoed.body.len()
    );
    // One more is refused. Write the body from another thread: the server may answer (and
    // close) before reading it all.
    body.push(b'a');
    let target = polling(EIO, &sid);
    let head = common::request_head(server.port, "POST", &target, &[], body.len());
    let stream = TcpStream::connect((Ipv4Addr::LOCALHOST, server.port)).unwrap();
    stream.set_read_timeout(Some(IO_TIMEOUT)).unwrap();
    let mut writer = stream.try_clone().unwrap();
    let writing = thread::spawn(move || {
        let _ = writer
            .write_all(&head)
            .and_then(|()| writer.write_all(&body));
    });
    let response = read_response(stream);
    let _ = writing.join();
    assert_eq!(response.status, 413, "{response:?}");
}

// ---------------------------------------------------------------------------------------------
// Handshake, headers, CORS

#[test]
fn polling_handshake_shape() {
    let server = server();
    for path in PATHS {
        let response = get(server.port, &format!("{path}?EIO=4&transport=polling"));
        assert_eq!(response.status, 200, "{response:?}");
        let body = response.text();
        let handshake: Value = serde_json::from_str(&body[1..]).expect("0 + JSON");
        let sid = handshake["sid"].as_str().expect("sid");
        assert!(
            !sid.is_empty()
                && sid
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_'),
            "sid {sid:?} is not URL-safe"
        );
        // Exact bytes: key set, key order, compact JSON.
        assert_eq!(
            body,
            format!(
                r#"0{{"sid":"{sid}","upgrades":["websocket"],"pingInterval":300,"pingTimeout":200,"maxPayload":1000000}}"#
            )
        );
        assert_payload(&response, body);
        assert_eq!(
            response.header("cache-control"),
            Some("no-store"),
            "{response:?}"
        );
        // Each handshake opens a new session.
        assert_ne!(polling_sid(server.port, path), sid);
    }
}

#[test]
fn websocket_handshake_shape() {
    let server = server();
    for path in PATHS {
        let mut ws = ws_connect(server.port, &format!("{path}?EIO=4&transport=websocket")).unwrap();
        let open = next_text_blocking(&mut ws);
        let handshake: Value = serde_json::from_str(&open[1..]).expect("0 + JSON");
        let sid = handshake["sid"].as_str().expect("sid");
        assert_eq!(
            open,
            format!(
                r#"0{{"sid":"{sid}","upgrades":[],"pingInterval":300,"pingTimeout":200,"maxPayload":1000000}}"#
            )
        );
        // The session is WebSocket-only: polling on its sid is refused.
        assert_error(&get(server.port, &polling(path, sid)), 3, "Bad request");
    }
}

#[test]
fn cors_on_requests_with_origin() {
    let server = server();
    let origin = "http://client.example";
    let check = |response: &Response| {
        let allowed = response.header("access-control-allow-origin");
        assert!(
            allowed == Some("*") || allowed == Some(origin),
            "{response:?}"
        );
        if allowed == Some(origin) {
            let vary = response
                .header("vary")
                .unwrap_or_default()
                .to_ascii_lowercase();
            assert!(
                vary.contains("origin"),
                "a reflected origin needs Vary: Origin: {response:?}"
            );
        }
    };
    for path in PATHS {
        let headers = [("Origin", origin)];
        let response = request(
            server.port,
            "GET",
            &format!("{path}?EIO=4&transport=polling"),
            &headers,
            b"",
        );
        assert_eq!(response.status, 200);
        check(&response);
        let handshake: Value = serde_json::from_str(&response.text()[1..]).unwrap();
        let sid = handshake["sid"].as_str().unwrap();
        let response = request(server.port, "POST", &polling(path, sid), &headers, b"40");
        assert_ok(&response);
        check(&response);
        // Errors carry the headers too, or a browser could not read them.
        let response = request(
            server.port,
            "GET",
            &format!("{path}?EIO=4&transport=tobi"),
            &headers,
            b"",
        );
        assert_error(&response, 0, "Transport unknown");
        check(&response);
    }
}

#[test]
fn cors_preflight() {
    let server = server();
    let origin = "http://client.example";
    for path in PATHS {
        let response = request(
            server.port,
            "OPTIONS",
            &format!("{path}?EIO=4&transport=polling"),
            &[
                ("Origin", origin),
                ("Access-Control-Request-Method", "POST"),
                ("Access-Control-Request-Headers", "content-type"),
            ],
            b"",
        );
        assert_eq!(response.status, 204, "{response:?}");
        let allowed = response.header("access-control-allow-origin");
        assert!(
            allowed == Some("*") || allowed == Some(origin),
            "{response:?}"
        );
        let methods = response
            .header("access-control-allow-methods")
            .unwrap_or_default();
        for method in ["GET", "POST"] {
            assert!(
                methods.split(',').any(|m| m.trim() == method),
                "{response:?}"
            );
        }
        let headers = response
            .header("access-control-allow-headers")
            .unwrap_or_default();
        assert!(
            headers == "*"
                || headers
                    .split(',')
                    .any(|h| h.trim().eq_ignore_ascii_case("content-type")),
            "{response:?}"
        );
    }
}

// ---------------------------------------------------------------------------------------------
// Long-polling

#[test]
fn polling_payloads_are_batched() {
    let server = server();
    let sid = polling_sid(server.port, EIO);
    sync_to_heartbeat(server.port, EIO, &sid);
    assert_ok(&post(
        server.port,
        &polling(EIO, &sid),
        b"4test1\x1e4test2\x1e4test3",
    ));
    assert_payload(
        &get(server.port, &polling(EIO, &sid)),
        "4test1\x1e4test2\x1e4test3",
    );
    // Binary over polling: `b` + base64.
    assert_ok(&post(
        server.port,
        &polling(EIO, &sid),
        b"4hello\x1ebAQIDBA==",
    ));
    assert_payload(
        &get(server.port, &polling(EIO, &sid)),
        "4hello\x1ebAQIDBA==",
    );
}

/// A POSTed close packet ends the session: the pending GET gets a noop, later requests 400.
#[test]
fn posted_close_ends_the_session() {
    let server = server();
    let sid = polling_sid(server.port, EIO);
    sync_to_heartbeat(server.port, EIO, &sid);
    let pending = pending_get(server.port, EIO, &sid);
    assert_ok(&post(server.port, &polling(EIO, &sid), b"1"));
    assert_payload(&read_response(pending), "6");
    assert_error(
        &get(server.port, &polling(EIO, &sid)),
        1,
        "Session ID unknown",
    );
}

/// A second concurrent GET is refused and closes the session: the pending GET gets a close
/// packet.
#[test]
fn concurrent_get_closes_the_session() {
    let server = server();
    let sid = polling_sid(server.port, EIO);
    sync_to_heartbeat(server.port, EIO, &sid);
    let pending = pending_get(server.port, EIO, &sid);
    let second = get(server.port, &format!("{}&t=burst", polling(EIO, &sid)));
    // node answers 400 with an empty body (no error code).
    assert_eq!(second.status, 400, "{second:?}");
    assert_payload(&read_response(pending), "1");
    assert_error(
        &get(server.port, &polling(EIO, &sid)),
        1,
        "Session ID unknown",
    );
}

#[test]
fn invalid_packet_closes_the_session() {
    let server = server();
    let sid = polling_sid(server.port, EIO);
    sync_to_heartbeat(server.port, EIO, &sid);
    // node answers `ok` (or the connection is dropped); the session is closed either way.
    let stream = send_request(server.port, "POST", &polling(EIO, &sid), &[], b"abc");
    let _ = common::try_read_response(stream);
    assert_error(
        &get(server.port, &polling(EIO, &sid)),
        1,
        "Session ID unknown",
    );
}

// ---------------------------------------------------------------------------------------------
// Upgrade

/// Probe, noop to the pending GET, upgrade; then polling on that sid is refused and a second
/// WebSocket with that sid is closed, while the upgraded one keeps working.
#[test]
fn upgrade_then_polling_is_refused() {
    let server = server();
    let sid = polling_sid(server.port, EIO);
    sync_to_heartbeat(server.port, EIO, &sid);
    let pending = pending_get(server.port, EIO, &sid);
    let mut ws = ws_connect(
        server.port,
        &format!("{EIO}?EIO=4&transport=websocket&sid={sid}"),
    )
    .unwrap();
    ws.send(Message::text("2probe")).unwrap();
    assert_eq!(next_text_blocking(&mut ws), "3probe");
    assert_payload(&read_response(pending), "6");
    ws.send(Message::text("5")).unwrap();
    ws.send(Message::text("4hello")).unwrap();
    assert_eq!(next_text_blocking(&mut ws), "4hello");

    assert_error(&get(server.port, &polling(EIO, &sid)), 3, "Bad request");
    assert_error(
        &post(server.port, &polling(EIO, &sid), b"4x"),
        3,
        "Bad request",
    );
    if let Ok(mut second) = ws_connect(
        server.port,
        &format!("{EIO}?EIO=4&transport=websocket&sid={sid}"),
    ) {
        ws_closed_without_data(&mut second).unwrap_or_else(|e| panic!("second WebSocket: {e}"));
    }

    ws.send(Message::binary(vec![1u8, 2, 3])).unwrap();
    loop {
        match ws.read().unwrap() {
            Message::Binary(data) => break assert_eq!(&data[..], &[1, 2, 3]),
            Message::Text(text) if text.as_str() == "2" => ws.send(Message::text("3")).unwrap(),
            other => panic!("unexpected {other:?}"),
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Heartbeat

/// The server pings every pingInterval (300 ms) and goes on while pongs come back.
#[test]
fn polling_heartbeat() {
    let server = server();
    let sid = polling_sid(server.port, EIO);
    let mut last = Instant::now();
    for _ in 0..3 {
        assert_payload(&get(server.port, &polling(EIO, &sid)), "2");
        let elapsed = last.elapsed();
        assert!(
            elapsed >= Duration::from_millis(200) && elapsed <= Duration::from_millis(1500),
            "ping after {elapsed:?}, pingInterval is 300 ms"
        );
        last = Instant::now();
        assert_ok(&post(server.port, &polling(EIO, &sid), b"3"));
    }
}

/// Without pongs the session is closed after pingInterval + pingTimeout (500 ms).
#[test]
fn ping_timeout_closes_the_session() {
    let server = server();
    let sid = polling_sid(server.port, EIO);
    thread::sleep(Duration::from_millis(900));
    assert_error(
        &get(server.port, &polling(EIO, &sid)),
        1,
        "Session ID unknown",
    );

    let mut ws = ws_connect(server.port, &format!("{EIO}?EIO=4&transport=websocket")).unwrap();
    let started = Instant::now();
    let mut pings = 0;
    let closed = loop {
        match ws.read() {
            Ok(Message::Text(text)) if text.as_str() == "2" => pings += 1,
            Ok(Message::Text(text)) if text.starts_with('0') => {}
            // node closes without a close packet; sending one first is fine too.
            Ok(Message::Text(text)) if text.as_str() == "1" => {}
            Ok(Message::Close(_)) => {}
            Ok(other) => panic!("unexpected {other:?}"),
            Err(tungstenite::Error::Io(e)) if e.kind() == std::io::ErrorKind::WouldBlock => {
                panic!("still open after {:?}", started.elapsed())
            }
            Err(_) => break started.elapsed(),
        }
    };
    assert_eq!(pings, 1, "one unanswered ping, then the close");
    assert!(closed < Duration::from_secs(3), "closed after {closed:?}");
}

// ---------------------------------------------------------------------------------------------
// Socket.IO packets, byte for byte, over raw polling

/// POSTs `packets` on a `/socket.io/` session and polls until `count` records came back
/// (pings are answered and left out): a server may queue its answers a moment after `ok`.
fn sio_exchange(server: &ExampleServer, sid: &str, packets: &[u8], count: usize) -> Vec<String> {
    assert_ok(&post(server.port, &polling(SIO, sid), packets));
    let deadline = Instant::now() + Duration::from_secs(5);
    let mut records = Vec::new();
    while records.len() < count {
        assert!(Instant::now() < deadline, "only {records:?} after 5 s");
        let response = get(server.port, &polling(SIO, sid));
        assert_eq!(response.status, 200, "{response:?}");
        for record in response.text().split('\x1e') {
            if record == "2" {
                assert_ok(&post(server.port, &polling(SIO, sid), b"3"));
            } else {
                records.push(record.to_owned());
            }
        }
    }
    records
}

fn sio_session(server: &ExampleServer) -> String {
    let sid = polling_sid(server.port, SIO);
    sync_to_heartbeat(server.port, SIO, &sid);
    sid
}

/// The `sid` of a CONNECT reply `40<nsp,>{"sid":"..."}`, checking that it is the only key.
fn connect_reply_sid(record: &str, prefix: &str) -> String {
    let json = record
        .strip_prefix(prefix)
        .unwrap_or_else(|| panic!("{record:?} is no {prefix}"));
    let value: Value = serde_json::from_str(json).unwrap();
    let object = value.as_object().expect("object");
    assert_eq!(object.keys().collect::<Vec<_>>(), ["sid"], "{record:?}");
    let sid = object["sid"].as_str().expect("string sid").to_owned();
    assert_eq!(
        record,
        format!(r#"{prefix}{{"sid":"{sid}"}}"#),
        "compact JSON"
    );
    sid
}

#[test]
fn socketio_connect_packets() {
    let server = server();
    let sid = sio_session(&server);
    let records = sio_exchange(&server, &sid, b"40", 2);
    let socket_sid = connect_reply_sid(&records[0], "40");
    assert_ne!(
        socket_sid, sid,
        "the Socket.IO sid must not be the Engine.IO sid"
    );
    assert_eq!(records[1], r#"42["auth",{}]"#);

    let records = sio_exchange(&server, &sid, br#"40/custom,{"token":"abc"}"#, 2);
    connect_reply_sid(&records[0], "40/custom,");
    assert_eq!(records[1], r#"42/custom,["auth",{"token":"abc"}]"#);

    // The trailing comma after the namespace is optional from clients.
    let records = sio_exchange(&server, &sid, b"40/random", 1);
    assert_eq!(records, [r#"44/random,{"message":"Invalid namespace"}"#]);
    let records = sio_exchange(&server, &sid, b"40/other,", 1);
    assert_eq!(records, [r#"44/other,{"message":"Invalid namespace"}"#]);
}

#[test]
fn socketio_event_packets() {
    let server = server();
    let sid = sio_session(&server);
    sio_exchange(&server, &sid, b"40", 2);
    let records = sio_exchange(&server, &sid, br#"42["message",1,"2",{"3":[true]}]"#, 1);
    assert_eq!(records, [r#"42["message-back",1,"2",{"3":[true]}]"#]);
    let records = sio_exchange(
        &server,
        &sid,
        r#"4212["message-with-ack",{"a":null},"é"]"#.as_bytes(),
        1,
    );
    assert_eq!(records, [r#"4312[{"a":null},"é"]"#]);
    let records = sio_exchange(
        &server,
        &sid,
        b"452-[\"message\",{\"_placeholder\":true,\"num\":0},{\"_placeholder\":true,\"num\":1}]\x1ebAQID\x1ebBAUG",
        3,
    );
    assert_eq!(
        records,
        [
            r#"452-["message-back",{"_placeholder":true,"num":0},{"_placeholder":true,"num":1}]"#,
            "bAQID",
            "bBAUG",
        ]
    );
    let records = sio_exchange(
        &server,
        &sid,
        b"451-7[\"message-with-ack\",{\"x\":{\"_placeholder\":true,\"num\":0}}]\x1ebCQg=",
        2,
    );
    assert_eq!(
        records,
        [r#"461-7[{"x":{"_placeholder":true,"num":0}}]"#, "bCQg="]
    );
}

/// A session that never sends a Socket.IO CONNECT is closed after the connect timeout
/// (1000 ms), even while it answers every ping.
#[test]
fn socketio_connect_timeout() {
    let server = server();
    let started = Instant::now();
    let sid = polling_sid(server.port, SIO);
    let closed = loop {
        let response = get(server.port, &polling(SIO, &sid));
        assert_eq!(
            response.status,
            200,
            "{response:?} after {:?}",
            started.elapsed()
        );
        let records: Vec<&str> = response.text().split('\x1e').collect();
        if records.contains(&"1") {
            break started.elapsed();
        }
        assert!(
            records.iter().all(|r| *r == "2" || *r == "6"),
            "{records:?}"
        );
        assert!(
            started.elapsed() < Duration::from_secs(5),
            "not closed after 5 s"
        );
        assert_ok(&post(server.port, &polling(SIO, &sid), b"3"));
    };
    assert!(
        closed >= Duration::from_millis(800),
        "closed after only {closed:?}"
    );
    assert_error(
        &get(server.port, &polling(SIO, &sid)),
        1,
        "Session ID unknown",
    );
}

/// A client may send its first frames in the same segment as its upgrade request: the bytes
/// the HTTP server read past the request are the WebSocket's first bytes, not lost.
#[test]
fn websocket_frames_sent_with_the_upgrade_request_are_read() {
    let server = server();
    let port = server.addr().port();
    let mut stream = TcpStream::connect((Ipv4Addr::LOCALHOST, port)).unwrap();
    stream.set_read_timeout(Some(IO_TIMEOUT)).unwrap();
    let mut bytes = format!(
        "GET {EIO}?EIO=4&transport=websocket HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\n\
         Connection: Upgrade\r\nUpgrade: websocket\r\nSec-WebSocket-Version: 13\r\n\
         Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\r\n"
    )
    .into_bytes();
    // A masked text frame carrying the Engine.IO message `4hello`, in the same write.
    let mask = [0x12u8, 0x34, 0x56, 0x78];
    let payload = b"4hello";
    bytes.extend_from_slice(&[0x81, 0x80 | payload.len() as u8]);
    bytes.extend_from_slice(&mask);
    bytes.extend(payload.iter().enumerate().map(|(i, b)| b ^ mask[i % 4]));
    stream.write_all(&bytes).unwrap();

    // The 101 response, read byte by byte so that no frame is taken with it.
    let mut head = Vec::new();
    let mut byte = [0u8; 1];
    while !head.ends_with(b"\r\n\r\n") {
        std::io::Read::read_exact(&mut stream, &mut byte).expect("read the 101 response");
        head.push(byte[0]);
    }
    let head = String::from_utf8_lossy(&head);
    assert!(head.starts_with("HTTP/1.1 101"), "{head}");

    let mut ws = WebSocket::from_raw_socket(stream, tungstenite::protocol::Role::Client, None);
    let open = next_text_blocking(&mut ws);
    assert!(
        open.starts_with("0{"),
        "expected the open packet, got {open:?}"
    );
    assert_eq!(next_text_blocking(&mut ws), "4hello");
}
