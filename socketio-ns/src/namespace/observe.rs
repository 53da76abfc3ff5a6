//! [`Observer`]: what a live view of the server (the admin UI, `crate::server::admin`) is told
//! of sockets. The runtime holds an `Option` of it: when no observer is installed, each hook
//! costs one branch on `None` and nothing is built for it.

use std::sync::Arc;

use crate::codec::socketio::Event;
use crate::codec::socketio::encode::Encoded;
use crate::connection::{DisconnectReason, Socket};

use super::instance::NamespaceInstance;

/// Sees sockets arrive, leave, receive and send events. Called on the socket's task: an
/// implementation must not block (it hands what it sees to a broadcast, which does not).
pub(crate) trait Observer: Send + Sync + 'static {
    /// A socket joined `ns` (its CONNECT reply is sent), with the data it was given meanwhile.
    fn socket_connected(
        &self,
        ns: &Arc<NamespaceInstance>,
        socket: &Socket,
        data: Option<&serde_json::Value>,
    );

    /// A socket is leaving `ns` (before its rooms are left).
    fn socket_disconnected(
        &self,
        ns: &NamespaceInstance,
        socket: &Socket,
        reason: DisconnectReason,
    );

    /// A socket received an event from its client, before its handler runs.
    fn event_received(&self, ns: &NamespaceInstance, socket: &Socket, event: &Event);

    /// The socket's data was set ([`super::Context::set_data`], or restored by connection
    /// state recovery). Before the socket is connected too (then `socket_connected` brings it
    /// again).
    fn data_changed(&self, ns: &NamespaceInstance, socket: &Socket, data: &serde_json::Value);

    /// An event was emitted to one socket (`cx.emit`, `SocketRef::emit`; not broadcasts, as
    /// with the reference server's `onAnyOutgoing`).
    fn event_sent(&self, ns: &NamespaceInstance, socket: &Socket, packet: &Encoded);
}
