//! The benchmark server (see `bench/README.md` for the shared contract).
//!
//! `cargo run --release --example bench_server` serves 127.0.0.1:3000 (`PORT` overrides),
//! namespaces `/` and `/bench`: `echo` is acked with the same arguments; `broadcast` makes
//! the server emit `broadcast` with the same arguments to every socket of the namespace,
//! sender included. Ping interval 25 s, timeout 20 s. SIGINT or SIGTERM shut it down
//! gracefully. With `RECOVERY=1` connection state recovery is on (2 minutes), to measure what
//! it costs (events then carry their offset). Built with `--features redis`, `REDIS_URL`
//! (e.g. `redis://127.0.0.1:6379`) makes it one process of a cluster sharing that Redis
//! through the classic Redis adapter: `broadcast` then reaches every process's sockets.
//! `WS_COMPRESSION=<threshold>` turns WebSocket `permessage-deflate` on (with
//! `WS_CONTEXT_TAKEOVER=1`, keeping contexts; `WS_LEVEL`, its level), for
//! `bench/compression.sh`.

use std::time::Duration;

use socketio_ns::{Context, RawArgs, Server, namespace};

#[derive(Default)]
struct Bench;

#[namespace("/bench")]
impl Bench {
    /// `RawArgs` takes the arguments as they came; returning them acks with the same.
    fn on_echo(&mut self, _cx: &mut Context<Self>, args: RawArgs) -> RawArgs {
        args
    }

    /// Sent at once to this process's sockets; with the Redis adapter the publish to the
    /// others completes in the background, as the Node server's `nsp.emit` does, instead of
    /// holding this socket's next event for a Redis round trip.
    fn on_broadcast(&mut self, cx: &mut Context<Self>, args: RawArgs) {
        if let Some(everyone) = cx.io().of(cx.namespace()) {
            drop(everyone.emit("broadcast", args));
        }
    }
}

fn main() -> std::io::Result<()> {
    let port: u16 = std::env::var("PORT")
        .ok()
        .and_then(|p| p.parse().ok())
        .unwrap_or(3000);
    let mut builder = Server::builder()
        .ping_interval(Duration::from_secs(25))
        .ping_timeout(Duration::from_secs(20))
        .namespace::<Bench>()
        .namespace_at("/", Bench::default);
    // WS_COMPRESSION=<threshold> turns permessage-deflate on, WS_CONTEXT_TAKEOVER=1 keeps
    // the deflate context between messages both ways, WS_LEVEL sets the server's deflate
    // level (bench/compression.sh).
    if let Some(threshold) = std::env::var("WS_COMPRESSION")
        .ok()
        .and_then(|t| t.parse().ok())
    {
        let takeover = std::env::var("WS_CONTEXT_TAKEOVER").is_ok_and(|v| v == "1");
        let defaults = socketio_ns::engine::WsCompression::default();
        let level = std::env::var("WS_LEVEL").ok().and_then(|l| l.parse().ok());
        builder = builder.ws_compression(Some(socketio_ns::engine::WsCompression {
            threshold,
            server_context_takeover: takeover,
            client_context_takeover: takeover,
            level: level.unwrap_or(defaults.level),
        }));
    }
    if std::env::var("RECOVERY").is_ok_and(|v| v == "1") {
        builder = builder.connection_state_recovery(socketio_ns::ConnectionStateRecovery::new());
    }
    // ADMIN_UI=development or production (built with `--features admin-ui`): the admin
    // namespace on, without auth, to measure what observing every socket costs.
    #[cfg(feature = "admin-ui")]
    if let Ok(mode) = std::env::var("ADMIN_UI") {
        use socketio_ns::admin_ui::{AdminMode, AdminUi};
        let mode = match mode.as_str() {
            "production" => AdminMode::Production,
            _ => AdminMode::Development,
        };
        builder = builder.admin_ui(AdminUi::without_auth().mode(mode));
    }
    tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?
        .block_on(async move {
            // Adapters are made when the server is built: inside the runtime.
            let builder = redis_adapter(builder)?;
            builder
                .build()
                .serve_with_shutdown(("127.0.0.1", port), socketio_ns::shutdown_signal())
                .await
        })
}

/// With `REDIS_URL`, the classic Redis adapter (feature `redis`).
fn redis_adapter(builder: socketio_ns::Builder) -> std::io::Result<socketio_ns::Builder> {
    let Ok(url) = std::env::var("REDIS_URL") else {
        return Ok(builder);
    };
    #[cfg(feature = "redis")]
    {
        let factory = socketio_ns::adapter::redis::RedisAdapterFactory::new(&url)
            .map_err(std::io::Error::other)?;
        Ok(builder.adapter(factory))
    }
    #[cfg(not(feature = "redis"))]
    {
        let _ = builder;
        Err(std::io::Error::other(format!(
            "REDIS_URL={url}: build with `--features redis` to use it"
        )))
    }
}
