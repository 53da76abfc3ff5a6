//! [`SocketEmitter`]: the one interface through which an adapter reaches sockets.

use super::{AckSink, BroadcastPacket, HandshakeData, Sid};

/// Which of a namespace's local sockets a delivery reaches.
#[derive(Clone, Copy)]
#[non_exhaustive]
pub enum Selection<'a> {
    /// Every socket.
    All,
    /// Every socket for which the filter answers `false`. The emitter may call the filter
    /// while holding its own lock on the sockets: it must not call back into the emitter.
    AllBut(&'a dyn Fn(&Sid) -> bool),
    /// These sockets; an id that is not a connected socket of the namespace is skipped.
    Only(&'a [Sid]),
}

impl std::fmt::Debug for Selection<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Selection::All => f.write_str("All"),
            Selection::AllBut(_) => f.write_str("AllBut(..)"),
            Selection::Only(ids) => f.debug_tuple("Only").field(ids).finish(),
        }
    }
}

/// This process's sockets of one namespace, as an adapter reaches them.
///
/// The namespace runtime implements it and hands it to [`super::AdapterFactory::create`]; an
/// adapter touches sockets through nothing else, so one written for several processes
/// needs only this trait and the plain data of this module. Sockets are named by id; ids of
/// sockets that left are skipped.
pub trait SocketEmitter: Send + Sync + 'static {
    /// The namespace path.
    fn path(&self) -> &str;

    /// The ids of the connected local sockets.
    fn socket_ids(&self) -> Vec<Sid>;

    /// Whether `sid` is a connected local socket.
    fn contains(&self, sid: &str) -> bool;

    /// Queues `packet` for the selected sockets (with `volatile`, only for those whose
    /// transport is writable); returns how many it was queued for.
    fn deliver(&self, to: Selection<'_>, packet: &BroadcastPacket, volatile: bool) -> usize;

    /// Like [`SocketEmitter::deliver`], registering the packet's ack id on each socket so
    /// that its answer goes to `acks`; returns the sockets it was queued for.
    fn deliver_with_ack(
        &self,
        to: Selection<'_>,
        packet: &BroadcastPacket,
        volatile: bool,
        acks: &AckSink,
    ) -> Vec<Sid>;

    /// Disconnects the sockets from the namespace: each client receives DISCONNECT, each
    /// socket's `recv_disconnect` runs.
    fn disconnect(&self, sids: &[Sid]);

    /// Closes the connections of the sockets (every namespace of those clients).
    fn close(&self, sids: &[Sid]);

    /// What the client of a socket sent when it connected.
    fn describe(&self, sid: &str) -> Option<HandshakeData>;
}
