//! A raw Engine.IO echo server, nothing of Socket.IO on top.
//!
//! `cargo run --example engine_echo` serves `/engine.io/` on 127.0.0.1:3000 (`PORT` overrides);
//! SIGINT or SIGTERM close every session, then stop it.

use socketio_ns::engine::{
    CloseReason, Engine, EngineConfig, EngineHandler, EngineSession, Flow, Message,
};

struct Echo;

impl EngineHandler for Echo {
    type Data = ();

    fn on_open(&self, socket: &EngineSession<()>) {
        tracing::info!(sid = socket.sid(), "open");
    }

    fn on_message(&self, socket: &EngineSession<()>, message: Message) -> Flow {
        let _ = socket.send(message);
        Flow::Continue
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
    let engine = Engine::new(Echo, EngineConfig::default());
    let listener = tokio::net::TcpListener::bind(("127.0.0.1", port)).await?;
    // On SIGINT or SIGTERM every session is sent a close packet before the loop stops.
    let sessions = engine.clone();
    let shutdown = async move {
        socketio_ns::shutdown_signal().await;
        for session in sessions.sessions() {
            session.close(CloseReason::ServerShutdown);
        }
        tokio::time::sleep(std::time::Duration::from_millis(200)).await;
    };
    socketio_ns::serve(listener, engine.service(), shutdown).await
}
