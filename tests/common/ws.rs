//! A raw WebSocket peer that speaks Engine.IO v4 by hand, for tests that must do what no client
//! library does (pipeline events, stop reading, send what a client should not).

use std::time::Duration;

use futures_util::{SinkExt, StreamExt};
use tokio::net::TcpStream;
use tokio_tungstenite::WebSocketStream;
use tokio_tungstenite::tungstenite::{self, Message};

pub type Ws = WebSocketStream<TcpStream>;

/// Opens `url` (`ws://host:port/socket.io/?EIO=4&transport=websocket`) and reads the
/// Engine.IO handshake; nothing joined yet.
pub async fn open(url: &str) -> Ws {
    let authority = url.trim_start_matches("ws://").split('/').next().unwrap();
    let tcp = TcpStream::connect(authority).await.unwrap();
    let (mut ws, _) = tokio_tungstenite::client_async(url, tcp).await.unwrap();
    let open = next_text(&mut ws).await;
    assert!(open.starts_with("0{"), "{open}");
    ws
}

/// The next text frame, answering pings on the way.
pub async fn next_text(ws: &mut Ws) -> String {
    loop {
        let msg = tokio::time::timeout(Duration::from_secs(10), ws.next())
            .await
            .expect("no message within 10 s")
            .expect("connection ended")
            .expect("websocket error");
        match msg {
            Message::Text(t) if t.as_str() == "2" => ws.send(Message::text("3")).await.unwrap(),
            Message::Text(t) => return t.as_str().to_owned(),
            _ => {}
        }
    }
}

/// [`next_text`] on a blocking WebSocket, answering pings the same way.
pub fn next_text_blocking(ws: &mut tungstenite::WebSocket<std::net::TcpStream>) -> String {
    loop {
        match ws.read().expect("read a WebSocket frame") {
            Message::Text(t) if t.as_str() == "2" => ws.send(Message::text("3")).unwrap(),
            Message::Text(t) => return t.as_str().to_owned(),
            Message::Ping(_) | Message::Pong(_) => {}
            other => panic!("unexpected frame {other:?}"),
        }
    }
}
