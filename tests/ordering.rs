//! A socket's handlers run one at a time, in the order its client sent the events, whether a
//! handler completes at once (it then runs on the task that read the event) or waits (the
//! socket's actor finishes it, and what came after waits for it).
//!
//! A raw WebSocket client sends events back to back without waiting for answers, so the
//! order the server keeps is observable in the acks and in what the handlers saw.

mod common;

use std::time::Duration;

use futures_util::{SinkExt, StreamExt};
use socketio_ns::{Context, Server, namespace};
use tokio_tungstenite::tungstenite::Message;

use common::ws::{Ws, next_text, open};

#[derive(Default)]
struct Root {
    seen: Vec<u32>,
}

#[namespace("/")]
impl Root {
    /// Waits a moment first: the actor finishes it.
    async fn on_slow(&mut self, _cx: &mut Context<Self>, n: u32) -> u32 {
        tokio::time::sleep(Duration::from_millis(20)).await;
        self.seen.push(n);
        n
    }

    /// Completes at once; answers with every number seen so far.
    fn on_fast(&mut self, _cx: &mut Context<Self>, n: u32) -> Vec<u32> {
        self.seen.push(n);
        self.seen.clone()
    }

    /// Asks the client a question and answers with the client's answer: the connection must
    /// go on being read while the handler waits.
    async fn on_ask(&mut self, cx: &mut Context<Self>) -> String {
        let answer = cx.emit_with_ack("question", ()).await;
        match answer {
            Ok(a) => a
                .arg::<String>(0)
                .unwrap_or_else(|e| format!("bad answer: {e}")),
            Err(e) => format!("no answer: {e}"),
        }
    }

    /// Leaves the namespace from inside the handler.
    fn on_bye(&mut self, cx: &mut Context<Self>) {
        cx.disconnect();
    }

    fn on_boom(&mut self, _cx: &mut Context<Self>) {
        panic!("boom");
    }

    /// Blocks its thread (as a handler doing blocking work would) for `ms` milliseconds.
    fn on_block(&mut self, _cx: &mut Context<Self>, ms: u64) -> bool {
        std::thread::sleep(Duration::from_millis(ms));
        true
    }
}

async fn start() -> String {
    start_with(Server::builder()).await
}

async fn start_with(builder: socketio_ns::Builder) -> String {
    let server = builder.namespace::<Root>().build();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(server.serve_listener(listener));
    format!("ws://{addr}/socket.io/?EIO=4&transport=websocket")
}

async fn connect(url: &str) -> Ws {
    let mut ws = open(url).await;
    ws.send(Message::text("40")).await.unwrap();
    let connected = next_text(&mut ws).await;
    assert!(connected.starts_with("40{"), "{connected}");
    ws
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn handlers_that_wait_and_handlers_that_do_not_keep_the_clients_order() {
    let url = start().await;
    let mut ws = connect(&url).await;
    // Sent back to back: a waiting handler, then one that completes at once, twice over.
    for frame in [
        r#"421["slow",1]"#,
        r#"422["fast",2]"#,
        r#"423["slow",3]"#,
        r#"424["fast",4]"#,
    ] {
        ws.send(Message::text(frame)).await.unwrap();
    }
    let mut answers = Vec::new();
    for _ in 0..4 {
        answers.push(next_text(&mut ws).await);
    }
    assert_eq!(
        answers,
        ["431[1]", "432[[1,2]]", "433[3]", "434[[1,2,3,4]]"],
        "acks out of order, or a handler saw the events out of order"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_handler_can_wait_for_its_own_clients_answer() {
    let url = start().await;
    let mut ws = connect(&url).await;
    ws.send(Message::text(r#"427["ask"]"#)).await.unwrap();
    // Sent while `ask` waits: runs after it.
    ws.send(Message::text(r#"428["fast",9]"#)).await.unwrap();
    let question = next_text(&mut ws).await;
    let id = question
        .strip_prefix("42")
        .and_then(|rest| rest.strip_suffix(r#"["question"]"#))
        .unwrap_or_else(|| panic!("not the question: {question}"));
    ws.send(Message::text(format!(r#"43{id}["forty-two"]"#)))
        .await
        .unwrap();
    assert_eq!(next_text(&mut ws).await, r#"437["forty-two"]"#);
    assert_eq!(next_text(&mut ws).await, "438[[9]]");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_handler_that_leaves_or_panics_ends_only_its_socket() {
    let url = start().await;
    let mut leaving = connect(&url).await;
    let mut panicking = connect(&url).await;
    let mut other = connect(&url).await;

    leaving.send(Message::text(r#"42["bye"]"#)).await.unwrap();
    assert_eq!(next_text(&mut leaving).await, "41");

    panicking
        .send(Message::text(r#"42["boom"]"#))
        .await
        .unwrap();
    assert_eq!(
        next_text(&mut panicking).await,
        r#"42["error","handler_error","the handler failed"]"#
    );
    assert_eq!(next_text(&mut panicking).await, "41");

    // The connections live on: the sockets join again and are served.
    for ws in [&mut leaving, &mut panicking] {
        ws.send(Message::text("40")).await.unwrap();
        assert!(next_text(ws).await.starts_with("40{"));
        ws.send(Message::text(r#"421["fast",5]"#)).await.unwrap();
        assert_eq!(next_text(ws).await, "431[[5]]");
    }
    other.send(Message::text(r#"421["fast",7]"#)).await.unwrap();
    assert_eq!(next_text(&mut other).await, "431[[7]]");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_handler_that_holds_its_task_past_the_ping_timeout_does_not_cost_the_connection() {
    // Pings every 100 ms, 100 ms to answer; the handler keeps the connection's task for a
    // second, during which the client's pongs cannot be read.
    let url = start_with(
        Server::builder()
            .ping_interval(Duration::from_millis(100))
            .ping_timeout(Duration::from_millis(100)),
    )
    .await;
    let mut ws = connect(&url).await;
    ws.send(Message::text(r#"421["block",1000]"#))
        .await
        .unwrap();
    assert_eq!(next_text(&mut ws).await, "431[true]");
    // Still connected after several more heartbeats, answered.
    let until = tokio::time::Instant::now() + Duration::from_millis(500);
    while let Ok(msg) = tokio::time::timeout_at(until, ws.next()).await {
        match msg.expect("connection ended").expect("websocket error") {
            Message::Text(t) if t.as_str() == "2" => ws.send(Message::text("3")).await.unwrap(),
            other => panic!("unexpected {other:?}"),
        }
    }
    ws.send(Message::text(r#"422["fast",1]"#)).await.unwrap();
    assert_eq!(next_text(&mut ws).await, "432[[1]]");
}
