//! No panic reachable from the network: every input of the fuzzers' minimized corpora
//! (`tests/corpus/<target>/`, see `fuzz/README.md`) is sent to a real server, over WebSocket
//! and over HTTP long-polling, each on a fresh connection that has joined `/`. After each one
//! the connection must either answer an ack or be closed by the server (never hang), and at
//! the end no thread of the server has panicked and a client connected all along, as well as
//! a new one, is still served.
//!
//! How each corpus is sent:
//! - `engine_packet`: the input as one WebSocket frame (text when UTF-8, and binary), and as a
//!   polling POST body.
//! - `engine_payload`: the input as a polling POST body, and as one WebSocket text frame.
//! - `socketio_packet`: `4` + the input (a Socket.IO packet in an Engine.IO message), over
//!   WebSocket and as a polling POST.
//! - `binary_args`: the input as an argument of an event with two attachments
//!   (`451-1["echo",<input>]` and two binary frames), and of a plain event, over WebSocket.
//! - `msgpack_packet`: to a server with the msgpack parser, the input as one binary WebSocket
//!   frame and as a `b<base64>` polling record, the probe being a msgpack event too.

mod common;

use std::fs;
use std::net::{Ipv4Addr, TcpStream};
use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as BASE64;
use bytes::Bytes;
use common::{IO_TIMEOUT, Response, request, send_request, tests_dir, try_read_response};
use serde_json::Value;
use socketio_ns::codec::socketio::msgpack;
use socketio_ns::codec::socketio::packet::PacketType;
use socketio_ns::{Context, Parser, Server, namespace};
use tokio_tungstenite::tungstenite::{self, Message, WebSocket};

#[derive(Default)]
struct Root;

#[namespace("/")]
impl Root {
    fn on_echo(&mut self, _cx: &mut Context<Self>, value: Value) -> Value {
        value
    }
}

/// The event (in an Engine.IO message) sent after each input, and its ack.
const PROBE: &str = r#"42999["echo","probe"]"#;
const PROBE_ANSWER: &str = r#"43999["probe"]"#;

/// The files of `tests/corpus/<target>/`, sorted.
fn corpus(target: &str) -> Vec<(PathBuf, Vec<u8>)> {
    let dir = tests_dir().join("corpus").join(target);
    let mut files: Vec<_> = fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
        .map(|entry| entry.unwrap().path())
        .collect();
    files.sort();
    assert!(!files.is_empty(), "{} is empty", dir.display());
    files
        .into_iter()
        .map(|path| {
            let data = fs::read(&path).unwrap();
            (path, data)
        })
        .collect()
}

/// Starts a server on a runtime of its own; returns its port. Panics anywhere in the process
/// (the server's threads included) are counted in `panics`.
fn start(runtime: &tokio::runtime::Runtime) -> u16 {
    start_with(runtime, Parser::Json)
}

/// [`start`] with this parser. A connection left in no namespace (an input that is a
/// DISCONNECT) is closed after 2 s, within the read timeout of the probe.
fn start_with(runtime: &tokio::runtime::Runtime, parser: Parser) -> u16 {
    let server = Server::builder()
        .parser(parser)
        .connect_timeout(std::time::Duration::from_secs(2))
        .namespace::<Root>()
        .build();
    runtime.block_on(async {
        let listener = tokio::net::TcpListener::bind((Ipv4Addr::LOCALHOST, 0))
            .await
            .unwrap();
        let port = listener.local_addr().unwrap().port();
        tokio::spawn(server.serve_listener(listener));
        port
    })
}

fn count_panics() -> Arc<AtomicUsize> {
    let panics = Arc::new(AtomicUsize::new(0));
    let counter = panics.clone();
    let previous = std::panic::take_hook();
    std::panic::set_hook(Box::new(move |info| {
        counter.fetch_add(1, Ordering::SeqCst);
        previous(info);
    }));
    panics
}

type Ws = WebSocket<TcpStream>;

/// A WebSocket connection that has joined `/`.
fn ws_join(port: u16) -> Ws {
    let stream = TcpStream::connect((Ipv4Addr::LOCALHOST, port)).unwrap();
    stream.set_read_timeout(Some(IO_TIMEOUT)).unwrap();
    let url = format!("ws://127.0.0.1:{port}/socket.io/?EIO=4&transport=websocket");
    let (mut ws, _) = tungstenite::client(url, stream).unwrap();
    assert!(ws_text(&mut ws).is_some_and(|t| t.starts_with("0{")));
    ws.send(Message::text("40")).unwrap();
    assert!(ws_text(&mut ws).is_some_and(|t| t.starts_with("40{")));
    ws
}

/// The next text frame, answering pings; `None` once the server closed the connection.
/// Panics on a read timeout: the server neither answered nor closed.
fn ws_text(ws: &mut Ws) -> Option<String> {
    loop {
        match ws.read() {
            Ok(Message::Text(t)) if t.as_str() == "2" => {
                let _ = ws.send(Message::text("3"));
            }
            Ok(Message::Text(t)) => return Some(t.as_str().to_owned()),
            Ok(Message::Close(_)) => return None,
            Ok(_) => {}
            Err(tungstenite::Error::Io(e))
                if matches!(
                    e.kind(),
                    std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut
                ) =>
            {
                panic!("no answer and no close within {IO_TIMEOUT:?}")
            }
            Err(_) => return None,
        }
    }
}

/// Sends `frames` on a fresh joined connection, then the probe: the server must answer it or
/// close the connection.
fn ws_send(port: u16, name: &str, frames: &[Message]) {
    let mut ws = ws_join(port);
    for frame in frames {
        if ws.send(frame.clone()).is_err() {
            return;
        }
    }
    if ws.send(Message::text(PROBE)).is_err() {
        return;
    }
    while let Some(text) = ws_text(&mut ws) {
        if text == PROBE_ANSWER {
            return;
        }
        assert!(!text.starts_with("43999"), "{name}: {text}");
    }
}

fn polling(sid: &str) -> String {
    format!("/socket.io/?EIO=4&transport=polling&sid={sid}")
}

fn get(port: u16, target: &str) -> Response {
    request(port, "GET", target, &[], b"")
}

fn post(port: u16, target: &str, body: &[u8]) -> Response {
    request(port, "POST", target, &[], body)
}

/// Posts `body` on a fresh polling session that has joined `/`, then the probe: the server
/// must answer it or end the session.
fn polling_send(port: u16, name: &str, body: &[u8]) {
    let handshake = get(port, "/socket.io/?EIO=4&transport=polling");
    assert_eq!(handshake.status, 200, "{handshake:?}");
    let open: Value = serde_json::from_str(&handshake.text()[1..]).unwrap();
    let target = polling(open["sid"].as_str().unwrap());
    assert_eq!(post(port, &target, b"40").status, 200);
    assert!(get(port, &target).text().starts_with("40{"));

    let response = post(port, &target, body);
    if response.status != 200 {
        assert_eq!(response.status, 400, "{name}: {response:?}");
        return;
    }
    if post(port, &target, PROBE.as_bytes()).status != 200 {
        return;
    }
    loop {
        let response = try_read_response(send_request(port, "GET", &target, &[], b""))
            .unwrap_or_else(|e| panic!("{name}: no answer to the probe and no close: {e}"));
        if response.status != 200 {
            assert_eq!(response.status, 400, "{name}: {response:?}");
            return;
        }
        let payload = response.text();
        if payload.split('\u{1e}').any(|p| p == PROBE_ANSWER) {
            return;
        }
        if payload.split('\u{1e}').any(|p| p == "1") {
            return;
        }
        if payload.split('\u{1e}').any(|p| p == "2") {
            assert_eq!(post(port, &target, b"3").status, 200);
        }
    }
}

/// The witness: a connection open all along must still be answered.
fn echo_works(ws: &mut Ws) {
    ws.send(Message::text(r#"421["echo",{"still":"here"}]"#))
        .unwrap();
    loop {
        let text = ws_text(ws).expect("the witness was disconnected");
        if text.starts_with("431") {
            assert_eq!(text, r#"431[{"still":"here"}]"#);
            return;
        }
    }
}

fn name(path: &std::path::Path) -> String {
    let file = path.file_name().unwrap_or_default().to_string_lossy();
    let dir = path
        .parent()
        .and_then(|p| p.file_name())
        .unwrap_or_default();
    format!("{}/{file}", dir.to_string_lossy())
}

#[test]
fn every_fuzzer_input_costs_at_most_its_connection() {
    let panics = count_panics();
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    let port = start(&runtime);
    let mut witness = ws_join(port);
    let mut sent = 0;

    for (path, data) in corpus("engine_packet") {
        let name = name(&path);
        let mut frames = vec![Message::binary(data.clone())];
        if let Ok(text) = String::from_utf8(data.clone()) {
            frames.insert(0, Message::text(text));
        }
        for frame in frames {
            ws_send(port, &name, &[frame]);
        }
        polling_send(port, &name, &data);
        sent += 1;
    }
    echo_works(&mut witness);

    for (path, data) in corpus("engine_payload") {
        let name = name(&path);
        polling_send(port, &name, &data);
        if let Ok(text) = String::from_utf8(data) {
            ws_send(port, &name, &[Message::text(text)]);
        }
        sent += 1;
    }
    echo_works(&mut witness);

    for (path, data) in corpus("socketio_packet") {
        let name = name(&path);
        let mut message = b"4".to_vec();
        message.extend_from_slice(&data);
        if let Ok(text) = String::from_utf8(message.clone()) {
            ws_send(port, &name, &[Message::text(text)]);
        }
        polling_send(port, &name, &message);
        sent += 1;
    }
    echo_works(&mut witness);

    for (path, data) in corpus("binary_args") {
        let name = name(&path);
        let Ok(json) = String::from_utf8(data) else {
            continue;
        };
        let attachments = [Message::binary(&b"zero"[..]), Message::binary(&b"one"[..])];
        let binary = Message::text(format!(r#"452-1["echo",{json}]"#));
        ws_send(
            port,
            &name,
            &[binary, attachments[0].clone(), attachments[1].clone()],
        );
        ws_send(
            port,
            &name,
            &[Message::text(format!(r#"421["echo",{json}]"#))],
        );
        sent += 1;
    }
    echo_works(&mut witness);

    // A client arriving after all that is served too.
    let mut late = ws_join(port);
    echo_works(&mut late);
    assert!(sent > 100, "only {sent} inputs");
    assert_eq!(panics.load(Ordering::SeqCst), 0, "the server panicked");
}

// ---------------------------------------------------------------------------------------------
// The msgpack parser

/// A msgpack packet of the runtime's form.
fn mp(kind: PacketType, id: Option<u64>, data: Option<&str>) -> Vec<u8> {
    msgpack::encode(kind, "/", id, data, &[]).unwrap()
}

/// The msgpack probe: `echo` with ack id 999.
fn mp_probe() -> Vec<u8> {
    mp(PacketType::Event, Some(999), Some(r#"["echo","probe"]"#))
}

/// Whether `bytes` is the probe's answer.
fn is_mp_answer(bytes: &[u8]) -> bool {
    msgpack::decode(&Bytes::copy_from_slice(bytes)).is_ok_and(|p| {
        p.kind == PacketType::Ack && p.id == Some(999) && p.data.as_deref() == Some(r#"["probe"]"#)
    })
}

/// The next binary frame, answering pings; `None` once the server closed the connection.
fn ws_binary(ws: &mut Ws) -> Option<Bytes> {
    loop {
        match ws.read() {
            Ok(Message::Text(t)) if t.as_str() == "2" => {
                let _ = ws.send(Message::text("3"));
            }
            Ok(Message::Binary(b)) => return Some(b),
            Ok(Message::Close(_)) => return None,
            Ok(_) => {}
            Err(tungstenite::Error::Io(e))
                if matches!(
                    e.kind(),
                    std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut
                ) =>
            {
                panic!("no answer and no close within {IO_TIMEOUT:?}")
            }
            Err(_) => return None,
        }
    }
}

/// A WebSocket connection of a msgpack client that has joined `/`.
fn ws_join_mp(port: u16) -> Ws {
    let stream = TcpStream::connect((Ipv4Addr::LOCALHOST, port)).unwrap();
    stream.set_read_timeout(Some(IO_TIMEOUT)).unwrap();
    let url = format!("ws://127.0.0.1:{port}/socket.io/?EIO=4&transport=websocket");
    let (mut ws, _) = tungstenite::client(url, stream).unwrap();
    assert!(ws_text(&mut ws).is_some_and(|t| t.starts_with("0{")));
    ws.send(Message::binary(mp(PacketType::Connect, None, None)))
        .unwrap();
    let reply = ws_binary(&mut ws).expect("a CONNECT reply");
    let reply = msgpack::decode(&reply).unwrap();
    assert_eq!(reply.kind, PacketType::Connect);
    ws
}

/// [`ws_send`] for a msgpack server: the input as one binary frame.
fn ws_send_mp(port: u16, name: &str, data: &[u8]) {
    let mut ws = ws_join_mp(port);
    if ws.send(Message::binary(data.to_vec())).is_err() {
        return;
    }
    if ws.send(Message::binary(mp_probe())).is_err() {
        return;
    }
    while let Some(frame) = ws_binary(&mut ws) {
        if is_mp_answer(&frame) {
            return;
        }
        let p = msgpack::decode(&frame);
        assert!(!p.is_ok_and(|p| p.id == Some(999)), "{name}");
    }
}

/// [`polling_send`] for a msgpack server: the input as a `b<base64>` record.
fn polling_send_mp(port: u16, name: &str, data: &[u8]) {
    let record = |bytes: &[u8]| format!("b{}", BASE64.encode(bytes));
    let handshake = get(port, "/socket.io/?EIO=4&transport=polling");
    assert_eq!(handshake.status, 200, "{handshake:?}");
    let open: Value = serde_json::from_str(&handshake.text()[1..]).unwrap();
    let target = polling(open["sid"].as_str().unwrap());
    let connect = record(&mp(PacketType::Connect, None, None));
    assert_eq!(post(port, &target, connect.as_bytes()).status, 200);
    assert!(get(port, &target).text().starts_with('b'));

    let response = post(port, &target, record(data).as_bytes());
    if response.status != 200 {
        assert_eq!(response.status, 400, "{name}: {response:?}");
        return;
    }
    if post(port, &target, record(&mp_probe()).as_bytes()).status != 200 {
        return;
    }
    loop {
        let response = try_read_response(send_request(port, "GET", &target, &[], b""))
            .unwrap_or_else(|e| panic!("{name}: no answer to the probe and no close: {e}"));
        if response.status != 200 {
            assert_eq!(response.status, 400, "{name}: {response:?}");
            return;
        }
        for packet in response.text().split('\u{1e}') {
            match packet {
                "1" => return,
                "2" => assert_eq!(post(port, &target, b"3").status, 200),
                b64 => {
                    let bytes = b64.strip_prefix('b').map(|b| BASE64.decode(b));
                    if bytes.is_some_and(|b| b.is_ok_and(|b| is_mp_answer(&b))) {
                        return;
                    }
                }
            }
        }
    }
}

/// The msgpack witness: a connection open all along must still be answered.
fn echo_works_mp(ws: &mut Ws) {
    let data = r#"["echo",{"still":"here"}]"#;
    ws.send(Message::binary(mp(PacketType::Event, Some(1), Some(data))))
        .unwrap();
    loop {
        let frame = ws_binary(ws).expect("the witness was disconnected");
        let p = msgpack::decode(&frame).unwrap();
        if p.kind == PacketType::Ack {
            assert_eq!(
                (p.id, p.data.as_deref()),
                (Some(1), Some(r#"[{"still":"here"}]"#))
            );
            return;
        }
    }
}

#[test]
fn every_msgpack_input_costs_at_most_its_connection() {
    let panics = count_panics();
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    let port = start_with(&runtime, Parser::MsgPack);
    let mut witness = ws_join_mp(port);
    let mut sent = 0;
    for (path, data) in corpus("msgpack_packet") {
        let name = name(&path);
        ws_send_mp(port, &name, &data);
        polling_send_mp(port, &name, &data);
        sent += 1;
    }
    echo_works_mp(&mut witness);
    let mut late = ws_join_mp(port);
    echo_works_mp(&mut late);
    assert!(sent > 20, "only {sent} inputs");
    assert_eq!(panics.load(Ordering::SeqCst), 0, "the server panicked");
}
