//! [`EngineObserver`]: what a live view of the server (the admin UI's `aggregatedEvents`) is
//! told of sessions and packets. The engine holds an `Option` of it: when none is installed,
//! each hook costs one branch on `None`.

use super::config::Transport;
use super::session::CloseReason;

/// Sees sessions open, upgrade and close, and every message packet in and out, as the
/// reference server's engine emits `connection`, `upgrade`, `close`, `packet` and
/// `packetCreate`. Called on the session's reader or on the task that queues a packet: an
/// implementation must not block.
pub(crate) trait EngineObserver: Send + Sync + 'static {
    /// A session was created (its handshake is being sent).
    fn session_opened(&self, sid: &str, transport: Transport);

    /// A session moved from polling to WebSocket.
    fn session_upgraded(&self, sid: &str);

    /// A session ended (called once, when its end is final).
    fn session_closed(&self, sid: &str, reason: CloseReason);

    /// A message packet arrived whose data is `bytes` long (the packet type not counted).
    fn packet_in(&self, bytes: usize);

    /// `packets` message packets whose data is `bytes` long in all were queued for the client.
    fn packets_out(&self, packets: usize, bytes: usize);
}
