//! Bad input and bad peers: the offending connection is closed with a clear reason, and the
//! server keeps serving everyone else.
//!
//! A minimal raw WebSocket client speaks the protocol by hand here, so that a test can do
//! what no well-behaved client library does: stop reading, or send an oversized frame.

mod common;

use std::time::Duration;

use futures_util::{SinkExt, StreamExt};
use socketio_ns::{Context, Server, namespace};
use tokio::net::TcpStream;
use tokio_tungstenite::tungstenite::Message;

use common::ws::{Ws, next_text, open};

#[derive(Default)]
struct Root;

#[namespace("/")]
impl Root {
    /// Emits `n` messages of 1 KiB from a job, yielding between them as a real producer
    /// would; acks `true` at once.
    fn on_flood(&mut self, cx: &mut Context<Self>, n: usize) -> bool {
        let socket = cx.socket();
        cx.spawn(async move {
            let payload = "x".repeat(1024);
            for i in 0..n {
                if socket.try_emit("data", (i, &payload)).is_err() {
                    break;
                }
                tokio::task::yield_now().await;
            }
        });
        true
    }

    fn on_echo(&mut self, _cx: &mut Context<Self>, value: serde_json::Value) -> serde_json::Value {
        value
    }
}

async fn start(max_payload: usize) -> (String, socketio_ns::Io) {
    let server = Server::builder()
        .max_payload(max_payload)
        .max_buffered_packets(256)
        .namespace::<Root>()
        .build();
    let io = server.io();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(server.serve_listener(listener));
    (
        format!("ws://{addr}/socket.io/?EIO=4&transport=websocket"),
        io,
    )
}

/// Opens a connection and joins `/`; returns the socket and its Socket.IO id.
async fn connect(url: &str) -> (Ws, String) {
    let mut ws = open(url).await;
    ws.send(Message::text("40")).await.unwrap();
    let connected = next_text(&mut ws).await;
    let sid: serde_json::Value = serde_json::from_str(&connected[2..]).unwrap();
    (ws, sid["sid"].as_str().unwrap().to_owned())
}

/// Whether the server ends the connection within `within` (close frame, end or error).
async fn closed_by_server(ws: &mut Ws, within: Duration) -> bool {
    tokio::time::timeout(within, async {
        loop {
            match ws.next().await {
                None | Some(Err(_)) | Some(Ok(Message::Close(_))) => return,
                Some(Ok(_)) => {}
            }
        }
    })
    .await
    .is_ok()
}

async fn echo_works(ws: &mut Ws) {
    ws.send(Message::text(r#"421["echo",{"still":"here"}]"#))
        .await
        .unwrap();
    loop {
        let t = next_text(ws).await;
        if t.starts_with("431") {
            assert_eq!(t, r#"431[{"still":"here"}]"#);
            return;
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_client_that_stops_reading_is_disconnected_and_the_others_are_served() {
    let (url, io) = start(1_000_000).await;
    let (mut slow, slow_sid) = connect(&url).await;
    let (mut fast, fast_sid) = connect(&url).await;

    // The slow client asks for far more than the socket buffers hold, and never reads again.
    slow.send(Message::text(r#"42["flood",200000]"#))
        .await
        .unwrap();
    // The fast client asks for a lot too, and reads it all.
    fast.send(Message::text(r#"42["flood",3000]"#))
        .await
        .unwrap();
    let mut received = 0;
    while received < 3000 {
        if next_text(&mut fast).await.starts_with(r#"42["data","#) {
            received += 1;
        }
    }

    // The server closes the slow one once its outbox is full ...
    let deadline = tokio::time::Instant::now() + Duration::from_secs(20);
    loop {
        let ids: Vec<String> = io
            .fetch_sockets()
            .await
            .unwrap()
            .into_iter()
            .map(|s| s.id)
            .collect();
        if !ids.contains(&slow_sid) {
            assert!(ids.contains(&fast_sid), "the fast client was dropped too");
            break;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "the slow client was never disconnected"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    // ... and the fast one is still served.
    echo_works(&mut fast).await;
    drop(slow);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_oversized_websocket_message_closes_that_connection_only() {
    let (url, _io) = start(10_000).await;
    let (mut big, _) = connect(&url).await;
    let (mut other, _) = connect(&url).await;

    let oversized = format!(r#"42["echo","{}"]"#, "a".repeat(20_000));
    big.send(Message::text(oversized)).await.unwrap();
    assert!(
        closed_by_server(&mut big, Duration::from_secs(10)).await,
        "the connection that sent an oversized message was not closed"
    );
    echo_works(&mut other).await;

    // A message just under the limit is fine.
    let fits = format!(r#"421["echo","{}"]"#, "b".repeat(9_000));
    other.send(Message::text(fits)).await.unwrap();
    loop {
        let t = next_text(&mut other).await;
        if t.starts_with("431") {
            assert_eq!(t.len(), 9_000 + r#"431[""]"#.len());
            break;
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_malformed_packet_closes_that_connection_only() {
    let (url, _io) = start(1_000_000).await;
    let (mut bad, _) = connect(&url).await;
    let (mut other, _) = connect(&url).await;

    for garbage in [r#"42{"not":"an array"}"#, r#"42["#] {
        let (mut ws, _) = connect(&url).await;
        ws.send(Message::text(garbage)).await.unwrap();
        assert!(
            closed_by_server(&mut ws, Duration::from_secs(10)).await,
            "{garbage} did not close the connection"
        );
    }
    bad.send(Message::text("4abc")).await.unwrap();
    assert!(closed_by_server(&mut bad, Duration::from_secs(10)).await);
    echo_works(&mut other).await;
}

#[derive(Default)]
struct Game;

#[namespace("/game/{id}")]
impl Game {
    fn on_id(&mut self, cx: &mut Context<Self>) -> Option<String> {
        cx.param("id").map(str::to_owned)
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_dynamic_namespace_is_forgotten_when_its_last_socket_leaves() {
    let server = Server::builder().namespace::<Game>().build();
    let io = server.io();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(server.serve_listener(listener));
    let url = format!("ws://{addr}/socket.io/?EIO=4&transport=websocket");

    // Clients choose the paths: every one they ever used must not stay in memory.
    let mut clients = Vec::new();
    for id in ["7", "8"] {
        let tcp = TcpStream::connect(addr).await.unwrap();
        let (mut ws, _) = tokio_tungstenite::client_async(&url, tcp).await.unwrap();
        assert!(next_text(&mut ws).await.starts_with("0{"));
        ws.send(Message::text(format!("40/game/{id},")))
            .await
            .unwrap();
        assert!(
            next_text(&mut ws)
                .await
                .starts_with(&format!("40/game/{id},"))
        );
        ws.send(Message::text(format!(r#"42/game/{id},1["id"]"#)))
            .await
            .unwrap();
        assert_eq!(
            next_text(&mut ws).await,
            format!(r#"43/game/{id},1["{id}"]"#)
        );
        clients.push(ws);
    }
    let mut paths = io.namespaces();
    paths.sort();
    assert_eq!(paths, ["/game/7", "/game/8"]);

    // The socket of /game/7 leaves: that instance goes, the other stays.
    clients[0].send(Message::text("41/game/7,")).await.unwrap();
    let deadline = tokio::time::Instant::now() + Duration::from_secs(5);
    while io.namespaces().contains(&"/game/7".to_owned()) {
        assert!(
            tokio::time::Instant::now() < deadline,
            "/game/7 is still in the table"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert_eq!(io.namespaces(), ["/game/8"]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_placeholder_naming_a_missing_attachment_closes_that_connection_only() {
    let (url, _io) = start(1_000_000).await;
    let (mut other, _) = connect(&url).await;

    // Placeholders that name an attachment that arrived are answered ...
    let (mut good, _) = connect(&url).await;
    good.send(Message::text(
        r#"451-1["echo",[{"_placeholder":true,"num":0}]]"#,
    ))
    .await
    .unwrap();
    good.send(Message::binary(&b"\x01\x02"[..])).await.unwrap();
    assert_eq!(
        next_text(&mut good).await,
        r#"431[[{"_placeholder":true,"num":0}]]"#
    );

    // ... those that do not, at any depth, in the issue's packet or another, close the
    // connection as every other invalid packet does (the reference parser throws "illegal
    // attachments").
    for bad in [
        r#"451-["x",{"_placeholder":true,"num":7}]"#,
        r#"451-1["echo",{"_placeholder":true,"num":7}]"#,
        r#"451-1["echo",{"a":[1,{"_placeholder":true,"num":1}]}]"#,
        r#"451-1["echo",{"_placeholder":true,"num":-1}]"#,
        r#"451-1["echo",{"_placeholder":true,"num":"0"}]"#,
        r#"451-1["echo",{"_placeholder":true}]"#,
    ] {
        let (mut ws, _) = connect(&url).await;
        ws.send(Message::text(bad)).await.unwrap();
        ws.send(Message::binary(&b"\x01\x02"[..])).await.unwrap();
        assert!(
            closed_by_server(&mut ws, Duration::from_secs(10)).await,
            "{bad} did not close the connection"
        );
    }
    echo_works(&mut good).await;
    echo_works(&mut other).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_binary_packet_announcing_no_attachment_is_handled_at_once() {
    let (url, _io) = start(1_000_000).await;
    let (mut ws, _) = connect(&url).await;
    // `50-`: a BINARY_EVENT with zero attachments; the reference parser delivers it as is.
    ws.send(Message::text(r#"450-1["echo","no bytes"]"#))
        .await
        .unwrap();
    assert_eq!(next_text(&mut ws).await, r#"431["no bytes"]"#);
    echo_works(&mut ws).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_stray_pong_does_not_answer_the_next_ping_in_advance() {
    let server = Server::builder()
        .ping_interval(Duration::from_millis(300))
        .ping_timeout(Duration::from_millis(300))
        .namespace::<Root>()
        .build();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(server.serve_listener(listener));
    let url = format!("ws://{addr}/socket.io/?EIO=4&transport=websocket");
    let tcp = TcpStream::connect(addr).await.unwrap();
    let (mut ws, _) = tokio_tungstenite::client_async(url, tcp).await.unwrap();
    // A pong nobody asked for, then silence: the first ping goes unanswered, so the session
    // must end at its timeout, before any second ping.
    ws.send(Message::text("3")).await.unwrap();
    let mut pings = 0;
    let ended = tokio::time::timeout(Duration::from_secs(5), async {
        loop {
            match ws.next().await {
                Some(Ok(Message::Text(t))) if t.as_str() == "2" => pings += 1,
                Some(Ok(Message::Text(_))) => {}
                None | Some(Err(_)) | Some(Ok(Message::Close(_))) => return,
                Some(Ok(_)) => {}
            }
        }
    })
    .await;
    assert!(ended.is_ok(), "the session outlived its unanswered ping");
    assert_eq!(
        pings, 1,
        "a second ping came: the stray pong answered the first"
    );
}
