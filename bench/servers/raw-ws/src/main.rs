//! Raw WebSocket echo server, no Engine.IO / Socket.IO framing: every text or
//! binary frame is sent straight back. This is the ceiling the Socket.IO
//! servers are compared against (`socketio-ns-bench echo --raw`).
//!
//! Listens on `127.0.0.1:$PORT` (default 3000), accepts any request path.

use futures_util::{SinkExt, StreamExt};
use tokio::net::{TcpListener, TcpStream};
use tokio_tungstenite::tungstenite::{Message, protocol::WebSocketConfig};

async fn serve(stream: TcpStream) {
    stream.set_nodelay(true).ok();
    // tungstenite zero-fills up to `read_buffer_size` bytes before every read
    // (128 KiB by default): use 4 KiB, engineioxide's default, so the
    // ceiling is not handicapped by a memset per frame.
    let config = WebSocketConfig::default().read_buffer_size(4096);
    let Ok(mut ws) = tokio_tungstenite::accept_async_with_config(stream, Some(config)).await else {
        return;
    };
    while let Some(Ok(msg)) = ws.next().await {
        match msg {
            Message::Text(_) | Message::Binary(_) => {
                if let Err(_closed) = ws.send(msg).await {
                    return;
                }
            }
            Message::Close(_) => return,
            // Ping is answered by tungstenite itself on the next write/flush.
            _ => {}
        }
    }
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let port: u16 = std::env::var("PORT")
        .ok()
        .and_then(|p| p.parse().ok())
        .unwrap_or(3000);
    tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?
        .block_on(async move {
            let listener = TcpListener::bind(("127.0.0.1", port)).await?;
            eprintln!("bench-raw-ws listening on 127.0.0.1:{port}");
            loop {
                let (stream, _) = listener.accept().await?;
                tokio::spawn(serve(stream));
            }
        })
}
