//! A raw Engine.IO echo server, nothing of Socket.IO on top.
//!
//! `cargo run --example engine_echo` serves `/engine.io/` on 127.0.0.1:3000 (`PORT` overrides).

use socketio_ns::engine::{
    CloseReason, Engine, EngineConfig, EngineHandler, EngineSession, Message,
};

struct Echo;

impl EngineHandler for Echo {
    type Data = ();

    fn on_open(&self, socket: &EngineSession<()>) {
        tracing::info!(sid = socket.sid(), "open");
    }

    fn on_message(&self, socket: &EngineSession<()>, message: Message) {
        let _ = socket.send(message);
    }

    fn on_close(&self, socket: &EngineSession<()>, reason: CloseReason) {
        tracing::info!(sid = socket.sid(), %reason, "closed");
    }
}

#[tokio::main]
async fn main() -> std::io::Result<()> {
    tracing_subscriber::fmt()
        .with_env_filter(tracing_subscriber::EnvFilter::from_default_env())
        .init();
    let port: u16 = std::env::var("PORT")
        .ok()
        .and_then(|p| p.parse().ok())
        .unwrap_or(3000);
    Engine::new(Echo, EngineConfig::default())
        .serve(("127.0.0.1", port))
        .await
}
