//! HTTP compression of long-polling responses (Node's `httpCompression`, on by default): raw
//! HTTP/1.1 against `examples/conformance.rs`'s Engine.IO echo server. A response of at least
//! 1024 bytes is gzip- or deflate-encoded as the request's `Accept-Encoding` allows (gzip on a
//! tie), a smaller one or one to a client that asks for neither is sent as is. (python-socketio's
//! client, which asks for gzip, reads compressed responses in `tests/interop_python.rs`.)
//!
//! Run: `cargo test -p socketio-ns --test compression --example conformance`

mod common;

use std::io::Read;

use common::{ExampleServer, Response, request};
use serde_json::Value;

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
