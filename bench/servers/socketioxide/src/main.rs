//! socketioxide server implementing the shared benchmark contract:
//!
//! * listens on `127.0.0.1:$PORT` (default 3000);
//! * namespaces `/` and `/bench`;
//! * event `echo` is acked with the same argument;
//! * event `broadcast` makes the server emit `broadcast` with the same
//!   argument to every socket of the namespace, sender included;
//! * ping interval 25 s, ping timeout 20 s.
//!
//! The handlers follow socketioxide's own e2e test server (`Data<Value>` +
//! `AckSender::send`). The common parser's `Data<T>` extractor hands a handler
//! the *first* argument of the event (the loadgen always sends exactly one),
//! and `send`/`emit` wrap a non-tuple value back into a one-element array, so
//! `["echo", x]` is acked as `[x]` and `["broadcast", x]` re-emitted as
//! `["broadcast", x]`.

use std::time::Duration;

use axum::serve::ListenerExt;
use serde_json::Value;
use socketioxide::{
    SocketIo,
    extract::{AckSender, Data, SocketRef},
};

fn on_connect(socket: SocketRef) {
    socket.on("echo", async |Data::<Value>(data), ack: AckSender| {
        ack.send(&data).ok();
    });
    socket.on(
        "broadcast",
        async |socket: SocketRef, io: SocketIo, Data::<Value>(data)| {
            // `io.of(ns)` = every socket of the namespace, sender included
            // (`socket.broadcast()` would exclude the sender).
            if let Some(op) = io.of(socket.ns()) {
                op.emit("broadcast", &data).await.ok();
            }
        },
    );
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
            let (layer, io) = SocketIo::builder()
                .ping_interval(Duration::from_secs(25))
                .ping_timeout(Duration::from_secs(20))
                .build_layer();
            io.ns("/", async |s: SocketRef| on_connect(s));
            io.ns("/bench", async |s: SocketRef| on_connect(s));

            let app = axum::Router::new().layer(layer);
            // TCP_NODELAY on every accepted stream (as the raw-ws server and
            // the loadgen do), so small frames are never held back by Nagle.
            let listener = tokio::net::TcpListener::bind(("127.0.0.1", port))
                .await?
                .tap_io(|tcp| {
                    tcp.set_nodelay(true).ok();
                });
            eprintln!("bench-socketioxide listening on 127.0.0.1:{port}");
            axum::serve(listener, app).await?;
            Ok(())
        })
}
