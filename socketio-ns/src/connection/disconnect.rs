//! [`DisconnectReason`]: why a socket left its namespace.

use std::fmt;

/// Why a socket left a namespace.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum DisconnectReason {
    /// The client sent DISCONNECT for this namespace.
    ClientNamespaceDisconnect,
    /// The server disconnected the socket (`cx.disconnect()`).
    ServerNamespaceDisconnect,
    /// The connection closed (client gone, or its transport closed).
    TransportClose,
    /// The connection broke the protocol.
    TransportError,
    /// The client stopped answering pings.
    PingTimeout,
    /// The client sent an Engine.IO packet that could not be decoded.
    ParseError,
    /// The server closed the connection under the socket: the client sent a Socket.IO packet
    /// that could not be decoded (the reference server's client closes its connection then).
    ForcedClose,
    /// The server is shutting down.
    ServerShutdown,
    /// A handler panicked.
    HandlerPanic,
}

impl DisconnectReason {
    /// The reason as the Socket.IO reference implementation names it.
    pub fn as_str(self) -> &'static str {
        match self {
            DisconnectReason::ClientNamespaceDisconnect => "client namespace disconnect",
            DisconnectReason::ServerNamespaceDisconnect => "server namespace disconnect",
            DisconnectReason::TransportClose => "transport close",
            DisconnectReason::TransportError => "transport error",
            DisconnectReason::PingTimeout => "ping timeout",
            DisconnectReason::ParseError => "parse error",
            DisconnectReason::ForcedClose => "forced close",
            DisconnectReason::ServerShutdown => "server shutting down",
            DisconnectReason::HandlerPanic => "handler panic",
        }
    }

    /// Whether connection state recovery keeps the socket's session after it left for this
    /// reason: the connection was lost or closed under it (transport error or close, ping
    /// timeout, forced close, server shutdown), not a namespace disconnect, a parse error or a
    /// panic; as the reference server decides.
    pub fn is_recoverable(self) -> bool {
        matches!(
            self,
            DisconnectReason::TransportClose
                | DisconnectReason::TransportError
                | DisconnectReason::ForcedClose
                | DisconnectReason::PingTimeout
                | DisconnectReason::ServerShutdown
        )
    }

    pub(crate) fn from_close(r: crate::engine::CloseReason) -> Self {
        use crate::engine::CloseReason as C;
        match r {
            C::ClientClose | C::TransportClose => DisconnectReason::TransportClose,
            C::PingTimeout => DisconnectReason::PingTimeout,
            C::ServerShutdown => DisconnectReason::ServerShutdown,
            C::ServerClose => DisconnectReason::ServerNamespaceDisconnect,
            C::ParseError => DisconnectReason::ParseError,
            _ => DisconnectReason::TransportError,
        }
    }
}

impl fmt::Display for DisconnectReason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}
