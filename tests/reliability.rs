//! Reliability at the edges of a deployment (issue 9): inbound flow control instead of
//! disconnection, timeouts and limits where users mount the server, outgoing buffers bounded
//! in bytes with a write timeout, graceful shutdown, and per-connection limits.
//!
//! Stock clients where the contract is the client's (`socket.io-client` flooding, a stock
//! client seeing a shutdown), raw sockets where the test must misbehave as no client library
//! does (send headers one byte at a time, stop reading, stall a POST body).

mod common;

use std::io::{Read, Write};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use futures_util::{SinkExt, StreamExt};
use serde_json::{Value, json};
use socketio_ns::{Context, DisconnectReason, ServeOptions, Server, namespace};
use tokio::sync::mpsc;
use tokio_tungstenite::tungstenite::Message;

use common::ws::{Ws, next_text, open};
use common::{ExampleServer, run_child, tests_dir};

// ---------------------------------------------------------------------------------------------
// A namespace that reports how its sockets leave, and can flood its client.

/// Where `recv_disconnect` reports, through the builder's state.
struct Left(mpsc::UnboundedSender<DisconnectReason>);

#[derive(Default)]
struct Root;

#[namespace("/")]
impl Root {
    fn on_echo(&mut self, _cx: &mut Context<Self>, value: Value) -> Value {
        value
    }

    /// Emits `n` messages of `size` bytes to this client, at once.
    fn on_flood(&mut self, cx: &mut Context<Self>, n: usize, size: usize) -> bool {
        let payload = "x".repeat(size);
        for i in 0..n {
            if cx.try_emit("data", (i, &payload)).is_err() {
                return false;
            }
        }
        true
    }

    /// Joins rooms `r0`..`r<n>`; answers how many rooms the socket is in.
    fn on_join_many(&mut self, cx: &mut Context<Self>, n: usize) -> usize {
        for i in 0..n {
            cx.join(format!("r{i}"));
        }
        cx.rooms().len()
    }

    fn recv_disconnect(&mut self, cx: &mut Context<Self>, reason: DisconnectReason) {
        if let Some(left) = cx.try_state::<Left>() {
            let _ = left.0.send(reason);
        }
    }
}

#[derive(Default)]
struct Other;

#[namespace("/other")]
impl Other {}

/// Serves `builder` (with `Root` and `Other`) on a free port with the crate's accept loop;
/// returns the address and the reports of `recv_disconnect`.
async fn start(
    builder: socketio_ns::Builder,
    options: ServeOptions,
) -> (String, mpsc::UnboundedReceiver<DisconnectReason>) {
    let (tx, rx) = mpsc::unbounded_channel();
    let server = builder
        .namespace::<Root>()
        .namespace::<Other>()
        .state(Left(tx))
        .build();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap().to_string();
    tokio::spawn(socketio_ns::serve_with(
        listener,
        server.service(),
        options,
        std::future::pending(),
    ));
    (addr, rx)
}

/// Opens a WebSocket connection and joins `/`.
async fn connect(addr: &str) -> Ws {
    let mut ws = open(&format!("ws://{addr}/socket.io/?EIO=4&transport=websocket")).await;
    ws.send(Message::text("40")).await.unwrap();
    assert!(next_text(&mut ws).await.starts_with("40{"));
    ws
}

/// Opens a long-polling session on `addr` (`127.0.0.1:<port>`) and returns its sid.
fn polling_session(addr: &str) -> String {
    let port = addr.rsplit(':').next().unwrap().parse().unwrap();
    common::polling_sid(port, "/socket.io/")
}

/// Another client joins `/` and gets its echo answered.
async fn another_client_is_served(addr: &str) {
    let mut other = connect(addr).await;
    other
        .send(Message::text(r#"421["echo","hi"]"#))
        .await
        .unwrap();
    assert_eq!(next_text(&mut other).await, r#"431["hi"]"#);
}

/// Runs a node script of `tests/js` with `args`, allowing it `timeout`.
fn node(script: &str, args: Value, timeout: Duration) -> Vec<Value> {
    common::node_modules();
    let dir = tests_dir();
    let mut command = Command::new("node");
    command.arg(dir.join("js").join(script)).current_dir(&dir);
    run_child(&mut command, "node", &args, timeout)
        .json_lines(|run| run.describe(&format!("node {script}"), "stderr", None))
}

// ---------------------------------------------------------------------------------------------
// 1. Inbound flow control: a fast, honest client is slowed down, not disconnected.

/// A stock socket.io-client emits `count` acked `echo` events in one synchronous loop (the
/// client reads nothing until the loop ends) against a server with the default options.
async fn flood(transport: &'static str, count: usize) -> Value {
    let (addr, _) = start(Server::builder(), ServeOptions::default()).await;
    tokio::task::spawn_blocking(move || {
        node(
            "flood.mjs",
            json!({
                "url": format!("http://{addr}"),
                "transports": [transport],
                "count": count,
                "event": "echo",
                "timeout_ms": 110_000,
            }),
            Duration::from_secs(120),
        )
        .into_iter()
        .find(|l| l.get("acked").is_some())
        .expect("the script reports its acks")
    })
    .await
    .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn twenty_thousand_events_in_a_loop_over_websocket_are_all_answered() {
    let report = flood("websocket", 20_000).await;
    assert_eq!(report["acked"], 20_000, "{report}");
    assert_eq!(report["in_order"], true, "{report}");
    assert_eq!(report["disconnects"], json!([]), "{report}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_polling_client_flushing_1100_buffered_events_in_one_post_gets_them_all_answered() {
    let report = flood("polling", 1_100).await;
    assert_eq!(report["acked"], 1_100, "{report}");
    assert_eq!(report["in_order"], true, "{report}");
    assert_eq!(report["disconnects"], json!([]), "{report}");
}

// ---------------------------------------------------------------------------------------------
// 2. Timeouts and limits of the accept loop, and of POST bodies.

/// Whether the server closed `stream` (EOF or reset) within `within`.
fn closed_within(stream: &mut std::net::TcpStream, within: Duration) -> bool {
    stream
        .set_read_timeout(Some(Duration::from_millis(100)))
        .unwrap();
    let deadline = Instant::now() + within;
    let mut buf = [0u8; 1024];
    while Instant::now() < deadline {
        match stream.read(&mut buf) {
            Ok(0) => return true,
            Ok(_) => {}
            Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => {}
            Err(e) if e.kind() == std::io::ErrorKind::TimedOut => {}
            Err(_) => return true,
        }
    }
    false
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn slow_and_silent_connections_are_closed_at_the_header_timeout() {
    let options = ServeOptions::default().header_read_timeout(Duration::from_millis(800));
    let (addr, _) = start(Server::builder(), options).await;
    tokio::task::spawn_blocking(move || {
        let mut silent = std::net::TcpStream::connect(&addr).unwrap();
        let mut slow = std::net::TcpStream::connect(&addr).unwrap();
        let request =
            format!("GET /socket.io/?EIO=4&transport=polling HTTP/1.1\r\nHost: {addr}\r\n\r\n");
        let start = Instant::now();
        // One byte every 200 ms: the headers would take seconds to arrive.
        for b in request.as_bytes().iter().take(6) {
            let _ = slow.write_all(&[*b]);
            std::thread::sleep(Duration::from_millis(200));
        }
        assert!(
            closed_within(&mut silent, Duration::from_secs(5)),
            "the silent connection stays open"
        );
        assert!(
            closed_within(&mut slow, Duration::from_secs(5)),
            "the slow connection stays open"
        );
        assert!(
            start.elapsed() < Duration::from_secs(4),
            "closed after {:?}",
            start.elapsed()
        );
    })
    .await
    .unwrap();
}

/// A client holding the most idle connections the server waits on does not keep anyone out:
/// each new connection closes the oldest that has sent nothing yet.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_new_connection_beyond_the_pending_limit_closes_the_oldest_idle_one() {
    let options = ServeOptions::default().max_pending_connections(4);
    let (addr, _) = start(Server::builder(), options).await;
    tokio::task::spawn_blocking(move || {
        let handshake = "GET /socket.io/?EIO=4&transport=polling HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n";
        let answered = |stream: &mut std::net::TcpStream| {
            let mut text = String::new();
            stream.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
            let _ = stream.read_to_string(&mut text);
            text.starts_with("HTTP/1.1 200")
        };
        let mut idle: Vec<_> = (0..4)
            .map(|_| {
                let s = std::net::TcpStream::connect(&addr).unwrap();
                std::thread::sleep(Duration::from_millis(50));
                s
            })
            .collect();
        // Over and over, as an attacker would reopen them: every new client is served, and
        // the idle connection that waited longest is closed for it.
        for round in 0..3 {
            let mut client = std::net::TcpStream::connect(&addr).unwrap();
            write!(client, "{handshake}").unwrap();
            assert!(answered(&mut client), "round {round}: a new client was not served");
            let mut oldest = idle.remove(0);
            assert!(closed_within(&mut oldest, Duration::from_secs(2)), "round {round}: the oldest idle connection was kept");
            idle.push(std::net::TcpStream::connect(&addr).unwrap());
            std::thread::sleep(Duration::from_millis(50));
        }
        // The newer idle connections are still open: a request on one is answered.
        let mut last = idle.pop().unwrap();
        write!(last, "{handshake}").unwrap();
        assert!(answered(&mut last), "a pending connection was closed without need");
    })
    .await
    .unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_post_body_that_stops_arriving_is_answered_400_at_the_body_timeout() {
    let (addr, _) = start(
        Server::builder().body_timeout(Duration::from_millis(500)),
        ServeOptions::default(),
    )
    .await;
    tokio::task::spawn_blocking(move || {
        let sid = polling_session(&addr);
        let mut post = std::net::TcpStream::connect(&addr).unwrap();
        write!(
            post,
            "POST /socket.io/?EIO=4&transport=polling&sid={sid} HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n2\r\n40\r\n"
        )
        .unwrap();
        // The rest never comes.
        let start = Instant::now();
        post.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
        let mut buf = [0u8; 256];
        let n = post.read(&mut buf).unwrap_or(0);
        let head = String::from_utf8_lossy(&buf[..n]);
        assert!(head.starts_with("HTTP/1.1 400"), "{head}");
        assert!(start.elapsed() < Duration::from_secs(3), "answered after {:?}", start.elapsed());
    })
    .await
    .unwrap();
}

// ---------------------------------------------------------------------------------------------
// 3. A slow reader's memory is bounded in bytes; a stuck write is cut off.

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_reader_that_holds_too_many_bytes_is_disconnected() {
    let (addr, mut left) = start(
        Server::builder()
            .max_buffered_bytes(1 << 20)
            .write_timeout(Duration::from_secs(30)),
        ServeOptions::default(),
    )
    .await;
    let mut ws = connect(&addr).await;
    // 200 messages of 100 KB (20 MB, fewer packets than the packet limit) at once, to a
    // client that reads nothing meanwhile: more than loopback's socket buffers take (the
    // sender's grows to 4 MB here), so that the rest must wait in the server, whose limit is
    // 1 MB. 4 MB sometimes fit in the kernel's buffers and nothing was ever held.
    ws.send(Message::text(r#"421["flood",200,100000]"#))
        .await
        .unwrap();
    let reason = tokio::time::timeout(Duration::from_secs(10), left.recv())
        .await
        .expect("the socket was not disconnected")
        .unwrap();
    assert_eq!(reason, DisconnectReason::TransportError);
    another_client_is_served(&addr).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_write_the_client_never_takes_is_cut_off_at_the_write_timeout() {
    let (addr, mut left) = start(
        Server::builder()
            .max_buffered_bytes(256 << 20)
            .max_buffered_packets(100_000)
            .ping_interval(Duration::from_secs(120))
            .write_timeout(Duration::from_millis(500)),
        ServeOptions::default(),
    )
    .await;
    let mut ws = connect(&addr).await;
    // 20 MB: more than loopback's socket buffers hold, so the server's write blocks.
    ws.send(Message::text(r#"421["flood",200,100000]"#))
        .await
        .unwrap();
    let reason = tokio::time::timeout(Duration::from_secs(30), left.recv())
        .await
        .expect("the stuck connection was not cut off")
        .unwrap();
    assert_eq!(reason, DisconnectReason::TransportError);
    // The server dropped the TCP connection: reading on eventually ends.
    let ended = tokio::time::timeout(Duration::from_secs(20), async {
        while let Some(Ok(_)) = ws.next().await {}
    })
    .await;
    assert!(ended.is_ok(), "the connection was not closed by the server");
}

/// A long-polling client whose answers pile up while it keeps one POST open and sends no GET:
/// flow control holds the POST, and without a bound the session (and its backlog) would live
/// as long as the client keeps that connection, heartbeat or not.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_polling_client_that_stops_polling_is_cut_off_at_the_write_timeout() {
    let (addr, mut left) = start(
        Server::builder()
            .max_buffered_bytes(64 << 10)
            .ping_interval(Duration::from_secs(120))
            .write_timeout(Duration::from_millis(500)),
        ServeOptions::default(),
    )
    .await;
    let post_addr = addr.clone();
    let answer = tokio::task::spawn_blocking(move || {
        let addr = post_addr;
        let sid = polling_session(&addr);
        let post = |body: &str| {
            let mut post = std::net::TcpStream::connect(&addr).unwrap();
            write!(
                post,
                "POST /socket.io/?EIO=4&transport=polling&sid={sid} HTTP/1.1\r\nHost: x\r\nContent-Type: text/plain\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
                body.len()
            )
            .unwrap();
            post
        };
        // Joins `/`, then 4 acked echoes of 10 KB: their answers (40 KB) pass half the 64 KB
        // buffer, and the client fetches none of them.
        let text = "x".repeat(10_000);
        let mut body = String::from("40");
        for id in 0..4 {
            body.push_str(&format!("\u{1e}42{id}[\"echo\",\"{text}\"]"));
        }
        let mut first = post(&body);
        let mut response = String::new();
        let _ = first.read_to_string(&mut response);
        assert!(response.starts_with("HTTP/1.1 200"), "{response}");
        std::thread::sleep(Duration::from_millis(300));
        // The next POST waits for the backlog to drain, which only a GET would do.
        let mut post = post(r#"424["echo","more"]"#);
        let start = Instant::now();
        post.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
        let mut response = String::new();
        let _ = post.read_to_string(&mut response);
        (response, start.elapsed())
    })
    .await
    .unwrap();
    let (response, after) = answer;
    assert!(
        response.starts_with("HTTP/1.1 400"),
        "{response:?} after {after:?}"
    );
    let reason = tokio::time::timeout(Duration::from_secs(5), left.recv())
        .await
        .expect("the socket did not leave")
        .unwrap();
    assert_eq!(reason, DisconnectReason::TransportError);
    another_client_is_served(&addr).await;
}

// ---------------------------------------------------------------------------------------------
// 4. Graceful shutdown on SIGTERM, seen by a stock client.

#[test]
fn sigterm_closes_every_client_then_the_server_exits_cleanly() {
    for transports in [json!(["websocket"]), json!(["polling"])] {
        let mut server = ExampleServer::spawn("conformance");
        common::node_modules();
        let dir = tests_dir();
        let mut client = Command::new("node")
            .arg(dir.join("js").join("shutdown.mjs"))
            .arg(json!({ "url": server.url(), "transports": transports }).to_string())
            .current_dir(&dir)
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .expect("run node");
        let mut stdout = std::io::BufReader::new(client.stdout.take().unwrap());
        let mut line = String::new();
        std::io::BufRead::read_line(&mut stdout, &mut line).unwrap();
        assert!(line.contains("connected"), "{transports}: {line}");

        let status = server
            .terminate(Duration::from_secs(15))
            .expect("the server did not exit after SIGTERM");
        assert!(status.success(), "{transports}: exit status {status}");

        let mut rest = String::new();
        let _ = stdout.read_to_string(&mut rest);
        let _ = client.wait();
        let end: Value = serde_json::from_str(rest.lines().next().unwrap_or("null")).unwrap();
        assert_eq!(end["disconnect"], "transport close", "{transports}: {rest}");
    }
}

// ---------------------------------------------------------------------------------------------
// 5. Limits a public server needs.

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn handshakes_beyond_the_connection_limit_are_answered_503() {
    let (addr, _) = start(
        Server::builder().max_connections(2),
        ServeOptions::default(),
    )
    .await;
    let _a = connect(&addr).await;
    let _b = connect(&addr).await;
    tokio::task::spawn_blocking(move || {
        let mut third = std::net::TcpStream::connect(&addr).unwrap();
        write!(third, "GET /socket.io/?EIO=4&transport=polling HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n").unwrap();
        let mut text = String::new();
        third.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
        let _ = third.read_to_string(&mut text);
        assert!(text.starts_with("HTTP/1.1 503"), "{text}");
    })
    .await
    .unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn namespaces_beyond_the_limit_are_refused() {
    let (addr, _) = start(
        Server::builder().max_namespaces_per_connection(1),
        ServeOptions::default(),
    )
    .await;
    let mut ws = connect(&addr).await;
    ws.send(Message::text("40/other,")).await.unwrap();
    assert_eq!(
        next_text(&mut ws).await,
        r#"44/other,{"message":"too many namespaces"}"#
    );
    // The first namespace is still served.
    ws.send(Message::text(r#"421["echo",1]"#)).await.unwrap();
    assert_eq!(next_text(&mut ws).await, "431[1]");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn events_over_the_rate_limit_are_refused_with_an_error() {
    let (addr, _) = start(
        Server::builder().event_rate_limit(1.0, 3),
        ServeOptions::default(),
    )
    .await;
    let mut ws = connect(&addr).await;
    for i in 0..5 {
        ws.send(Message::text(format!(r#"42{i}["echo",{i}]"#)))
            .await
            .unwrap();
    }
    ws.send(Message::text(r#"42["echo",9]"#)).await.unwrap();
    let mut answers = Vec::new();
    for _ in 0..6 {
        answers.push(next_text(&mut ws).await);
    }
    // Refusals leave at once; handled events go through the socket's handler queue.
    answers.sort();
    assert_eq!(
        answers,
        [
            r#"42["error","rate_limited","too many events, slow down"]"#,
            "430[0]",
            "431[1]",
            "432[2]",
            r#"433[{"error":"rate_limited","message":"too many events, slow down"}]"#,
            r#"434[{"error":"rate_limited","message":"too many events, slow down"}]"#,
        ]
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rooms_beyond_the_limit_are_not_joined() {
    let (addr, _) = start(
        Server::builder().max_rooms_per_socket(5),
        ServeOptions::default(),
    )
    .await;
    let mut ws = connect(&addr).await;
    ws.send(Message::text(r#"421["join_many",50]"#))
        .await
        .unwrap();
    // Five rooms and its own id room.
    assert_eq!(next_text(&mut ws).await, "431[6]");
}
