//! Engine.IO v4 (and v3 for older clients, when allowed): the transport layer under
//! Socket.IO, usable on its own.
//!
//! [`EngineHandler`] is what a layer above (Socket.IO, or an application that wants raw
//! messages) implements; [`Engine`] serves it over HTTP long-polling and WebSocket. The
//! packet and payload codecs it speaks are in [`crate::codec::engine`]. The engine knows
//! nothing of Socket.IO.
//!
//! Which file holds what:
//! - `router.rs`: [`Engine`] and the session table; [`Engine::handle`] routes a request
//!   through the protocol's checks (path, transport, session id, method, version) to a
//!   transport, and creates sessions with their handshake.
//! - `http.rs`: the Engine.IO error codes and the HTTP responses, CORS (preflight and
//!   headers), [`Body`].
//! - `polling.rs`: HTTP long-polling (the polling handshake, GET and POST).
//! - `websocket.rs`: WebSocket sessions and the upgrade from polling (probe, then the
//!   read/write loop).
//! - `deflate/`: WebSocket `permessage-deflate` ([`WsCompression`]), which tungstenite
//!   lacks: the extension's negotiation and a frame codec of our own (sans-IO,
//!   `negotiate.rs` and `codec.rs`), and the stream that drives it (`stream.rs`).
//! - `heartbeat.rs`: ping/pong as a state machine (`Beat`), run by the WebSocket task of a
//!   session opened on a WebSocket and by a small task for a long-polling one, and the end of
//!   a session for good.
//! - `observe.rs`: `EngineObserver`, what the admin UI counts (sessions, packets).
//! - `session.rs`: one session ([`EngineSession`]): its bounded outbox, its state, and
//!   [`CloseReason`].
//! - `config.rs`: [`EngineConfig`], [`Cors`], [`AllowRequest`], [`Transport`],
//!   [`HttpCompression`], [`WsCompression`].
//! - `service.rs`: [`EngineService`], the engine as a `tower::Service`.
//! - `listener.rs`: the crate's own HTTP/1.1 accept loop.

mod config;
mod deflate;
mod heartbeat;
mod http;
mod listener;
mod observe;
mod polling;
mod router;
mod service;
mod session;
mod websocket;
mod ws_io;

pub use self::http::Body;
pub use config::{
    AllowRequest, Cors, EngineConfig, HttpCompression, ProtocolVersion, Transport, WsCompression,
};
#[cfg(fuzzing)]
#[doc(hidden)]
pub use deflate::FuzzDeflate;
pub use listener::{ServeOptions, serve, serve_with};
#[cfg(feature = "admin-ui")]
pub(crate) use observe::EngineObserver;
pub use router::Engine;
pub(crate) use router::{Shared as EngineShared, new_sid};
pub use service::EngineService;
pub(crate) use service::RemoteAddr;
pub(crate) use session::HandshakeInfo;
pub use session::{CloseReason, EngineSession, Message, SendError};

/// What the engine does after handing a message to its [`EngineHandler`].
#[must_use = "a Flow::Wait must be awaited before reading on"]
pub enum Flow {
    /// Read on.
    Continue,
    /// Read nothing more from this session until the future completes: over WebSocket no
    /// frame is read (TCP backpressure reaches the client), over polling the POST that
    /// carried the message is answered only then (and the client sends no other meanwhile).
    /// Outgoing packets and pings still flow.
    Wait(futures_util::future::BoxFuture<'static, ()>),
}

impl std::fmt::Debug for Flow {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Flow::Continue => "Continue",
            Flow::Wait(_) => "Wait",
        })
    }
}

/// The application side of an Engine.IO server.
///
/// Callbacks run on the connection's reader, so they must not block: hand long work to a task.
/// Messages of one connection are delivered one at a time, in order.
pub trait EngineHandler: Send + Sync + 'static {
    /// Per-connection data kept inside the [`EngineSession`].
    type Data: Default + Send + Sync + 'static;

    /// A session was opened (after the handshake was sent).
    fn on_open(&self, socket: &EngineSession<Self::Data>);

    /// A message arrived. The answer is inbound flow control: [`Flow::Wait`] makes the engine
    /// read nothing more from this session until its future completes.
    fn on_message(&self, socket: &EngineSession<Self::Data>, message: Message) -> Flow;

    /// The session ended. Called exactly once per opened session.
    fn on_close(&self, socket: &EngineSession<Self::Data>, reason: CloseReason);
}
