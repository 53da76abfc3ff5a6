//! Engine.IO v4: the transport layer under Socket.IO, usable on its own.
//!
//! [`packet`] and [`payload`] are the sans-IO codecs. [`EngineHandler`] is what a layer above
//! (Socket.IO, or an application that wants raw messages) implements; [`Engine`] serves it over
//! HTTP long-polling and WebSocket.

mod config;
pub(crate) mod listener;
mod service;
mod session;

pub use config::{AllowRequest, Cors, EngineConfig, Transport};
pub use service::{Body, Engine, EngineService};
pub(crate) use service::{RemoteAddr, Shared as EngineShared, new_sid};
pub(crate) use session::HandshakeInfo;
pub use session::{CloseReason, EngineSession, Message, SendError};

/// The application side of an Engine.IO server.
///
/// Callbacks run on the connection's reader, so they must not block: hand long work to a task.
/// Messages of one connection are delivered one at a time, in order.
pub trait EngineHandler: Send + Sync + 'static {
    /// Per-connection data kept inside the [`EngineSession`].
    type Data: Default + Send + Sync + 'static;

    /// A session was opened (after the handshake was sent).
    fn on_open(&self, socket: &EngineSession<Self::Data>);

    /// A message arrived.
    fn on_message(&self, socket: &EngineSession<Self::Data>, message: Message);

    /// The session ended. Called exactly once per opened session.
    fn on_close(&self, socket: &EngineSession<Self::Data>, reason: CloseReason);
}
