//! The server the protocol test suites run against.
//!
//! `cargo run --release --example conformance` serves 127.0.0.1:3000 (`PORT` overrides):
//! - `/engine.io/`: a raw Engine.IO echo server;
//! - `/socket.io/`: namespaces `/` and `/custom`. On connect each emits `auth` with the
//!   client's auth payload (`{}` when none). On `/`: `message` is answered with `message-back`
//!   and the same arguments, `message-with-ack` is acked with the same arguments,
//!   `disconnect-me` disconnects the socket from `/`, and `server-emit-with-ack` makes the
//!   server emit `ping-ack` with an ack, then `ack-result` with what the client acked.
//!
//! pingInterval 300 ms, pingTimeout 200 ms, maxPayload 1,000,000, connect timeout 1000 ms,
//! CORS for any origin. `ALLOW_EIO3=1` also serves Socket.IO v2 clients (Engine.IO v3, the
//! builder's `allow_eio3`), on both paths. `WS_COMPRESSION=<threshold>` turns WebSocket
//! `permessage-deflate` on (off by default) for messages of that many bytes or more, on both
//! paths, without context takeover unless `WS_CONTEXT_TAKEOVER=1`. `PARSER=msgpack` makes
//! `/socket.io/` speak the msgpack parser (`socket.io-msgpack-parser`) instead of JSON. A
//! connection to `/custom` whose auth has a `refuse`
//! string is refused with that message (a v2 client gives its auth as the query). The
//! namespaces are written by hand against the `Namespace` trait,
//! below the `#[namespace]` macro. SIGINT or SIGTERM shut it down gracefully: every client is
//! closed, then the process exits with status 0.

use std::future::Future;
use std::time::Duration;

use socketio_ns::engine::{
    CloseReason, Cors, Engine, EngineConfig, EngineHandler, EngineSession, Flow, Message,
    WsCompression,
};
use socketio_ns::{
    ConnectError, Context, Event, HandlerError, MethodId, Namespace, NoMethods, Server, Untyped,
};

const PING_INTERVAL: Duration = Duration::from_millis(300);
const PING_TIMEOUT: Duration = Duration::from_millis(200);

/// Echoes every Engine.IO message as it came.
struct Echo;

impl EngineHandler for Echo {
    type Data = ();

    fn on_open(&self, _: &EngineSession<()>) {}

    fn on_message(&self, socket: &EngineSession<()>, message: Message) -> Flow {
        let _ = socket.send(message);
        Flow::Continue
    }

    fn on_close(&self, _: &EngineSession<()>, _: CloseReason) {}
}

// Generic over namespaces that declare no outgoing events (`emits = ...`): those take any
// event name.
fn emit_auth<T>(cx: &mut Context<T>, auth: Option<&str>) -> Result<(), ConnectError>
where
    T: Namespace<Method: MethodId<Emits = Untyped>>,
{
    let auth: serde_json::Value = match auth {
        Some(raw) => serde_json::from_str(raw).map_err(|_| ConnectError::new("invalid auth"))?,
        None => serde_json::json!({}),
    };
    cx.try_emit("auth", auth)
        .map_err(|e| ConnectError::new(e.to_string()))
}

#[derive(Default)]
struct Root;

impl Namespace for Root {
    const PATH: &'static str = "/";
    const METHODS: &'static [&'static str] = &[];
    type Method = NoMethods;

    fn connect(
        &mut self,
        cx: &mut Context<Self>,
        auth: Option<&str>,
    ) -> impl Future<Output = Result<(), ConnectError>> + Send {
        let r = emit_auth(cx, auth);
        async move { r }
    }

    fn method_of(_: &Event) -> Option<NoMethods> {
        None
    }

    async fn call_method(
        &mut self,
        cx: &mut Context<Self>,
        event: Event,
    ) -> Result<(), HandlerError> {
        match event.name() {
            "message" => cx.emit("message-back", event.into_args()),
            "message-with-ack" => {
                cx.ack(event.into_args())?;
            }
            "disconnect-me" => cx.disconnect(),
            "server-emit-with-ack" => {
                let acked = cx
                    .emit_with_ack("ping-ack", event.into_args())
                    .await
                    .map_err(|e| HandlerError::new("ack_failed", e.to_string()))?;
                cx.emit("ack-result", acked.into_args());
            }
            _ => {}
        }
        Ok(())
    }
}

#[derive(Default)]
struct Custom;

impl Namespace for Custom {
    const PATH: &'static str = "/custom";
    const METHODS: &'static [&'static str] = &[];
    type Method = NoMethods;

    fn connect(
        &mut self,
        cx: &mut Context<Self>,
        auth: Option<&str>,
    ) -> impl Future<Output = Result<(), ConnectError>> + Send {
        let refuse = auth
            .and_then(|raw| serde_json::from_str::<serde_json::Value>(raw).ok())
            .and_then(|v| v.get("refuse").and_then(|r| r.as_str()).map(str::to_owned));
        let r = match refuse {
            Some(message) => Err(ConnectError::new(message)),
            None => emit_auth(cx, auth),
        };
        async move { r }
    }

    fn method_of(_: &Event) -> Option<NoMethods> {
        None
    }

    async fn call_method(&mut self, _: &mut Context<Self>, _: Event) -> Result<(), HandlerError> {
        Ok(())
    }
}

#[tokio::main]
async fn main() -> std::io::Result<()> {
    tracing_subscriber::fmt()
        .with_env_filter(tracing_subscriber::EnvFilter::from_default_env())
        .init();
    let port = std::env::var("PORT").unwrap_or_else(|_| "3000".into());
    let allow_eio3 = std::env::var("ALLOW_EIO3").is_ok_and(|v| v == "1");
    let takeover = std::env::var("WS_CONTEXT_TAKEOVER").is_ok_and(|v| v == "1");
    let ws_compression = std::env::var("WS_COMPRESSION")
        .ok()
        .and_then(|t| t.parse().ok())
        .map(|threshold| WsCompression {
            threshold,
            server_context_takeover: takeover,
            client_context_takeover: takeover,
            ..WsCompression::default()
        });
    let parser = match std::env::var("PARSER").as_deref() {
        Ok("msgpack") => socketio_ns::Parser::MsgPack,
        _ => socketio_ns::Parser::Json,
    };

    let engine = Engine::new(
        Echo,
        EngineConfig {
            path: "/engine.io/".into(),
            ping_interval: PING_INTERVAL,
            ping_timeout: PING_TIMEOUT,
            max_payload: 1_000_000,
            cors: Cors::Any,
            allow_eio3,
            ws_compression,
            ..EngineConfig::default()
        },
    );
    let io = Server::builder()
        .ping_interval(PING_INTERVAL)
        .ping_timeout(PING_TIMEOUT)
        .max_payload(1_000_000)
        .connect_timeout(Duration::from_millis(1000))
        .cors(Cors::Any)
        .allow_eio3(allow_eio3)
        .ws_compression(ws_compression)
        .parser(parser)
        .namespace::<Root>()
        .namespace::<Custom>()
        .build();

    // Both servers on one port: each answers on its own path.
    let app = axum::Router::new()
        .route_service("/engine.io/", engine.service())
        .route_service("/socket.io/", io.service());
    let listener =
        tokio::net::TcpListener::bind(("127.0.0.1", port.parse::<u16>().unwrap_or(3000))).await?;
    tracing::info!("listening on {}", listener.local_addr()?);
    // The crate's accept loop (header and idle timeouts, TCP_NODELAY); SIGINT or SIGTERM
    // close every Socket.IO session gracefully, then stop it.
    let shutdown = io.io().close_after(socketio_ns::shutdown_signal());
    socketio_ns::serve(listener, app, shutdown).await
}
