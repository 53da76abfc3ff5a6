//! Rooms and fan-out: the [`Adapter`] trait and the in-memory [`LocalAdapter`].
//!
//! An adapter keeps which local sockets are in which rooms, and carries broadcasts. The
//! trait's fan-out operations are asynchronous and take plain-data options so that an
//! implementation can forward them to other server processes (through Redis, say) and
//! answer with what those processes report.

mod local;

use std::borrow::Cow;
use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::sync::{Arc, Weak};

pub use local::{LocalAdapter, LocalAdapterFactory};

use crate::ns::NsShared;
use crate::protocol::encode::Encoded;
use crate::socket::{Sid, SocketShared};

/// A room name.
pub type Room = Cow<'static, str>;

/// A boxed future, as adapter methods return.
pub type BoxFuture<'a, T> = Pin<Box<dyn Future<Output = T> + Send + 'a>>;

/// Which sockets a fan-out operation reaches.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct BroadcastOptions {
    /// Sockets in any of these rooms; every socket of the namespace when empty.
    pub rooms: Vec<Room>,
    /// Minus the sockets in any of these rooms (a socket id is a room too).
    pub except: Vec<Room>,
    /// Only this process's sockets.
    pub local: bool,
    /// Drop rather than queue for a socket whose transport is backed up.
    pub volatile: bool,
}

/// An error from an adapter.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("adapter error: {0}")]
pub struct AdapterError(pub String);

/// An encoded packet ready for many sockets: encoded once, shared by reference count.
#[derive(Clone)]
pub struct Packet(pub(crate) Encoded);

impl fmt::Debug for Packet {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Packet")
            .field("text", &self.0.text.as_str())
            .field("attachments", &self.0.attachments.len())
            .finish()
    }
}

impl Packet {
    /// The Engine.IO message text (`4` + the Socket.IO packet).
    pub fn text(&self) -> &str {
        self.0.text.as_str()
    }

    /// The binary attachments.
    pub fn attachments(&self) -> &[bytes::Bytes] {
        &self.0.attachments
    }

    /// Rebuilds a packet from its parts (what a remote adapter received).
    pub fn from_parts(text: String, attachments: Vec<bytes::Bytes>) -> Self {
        Packet(Encoded {
            text: text.into(),
            attachments,
        })
    }
}

/// This process's sockets of one namespace, as an adapter reaches them.
#[derive(Clone)]
pub struct LocalNamespace {
    ns: Weak<NsShared>,
}

impl fmt::Debug for LocalNamespace {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("LocalNamespace").finish_non_exhaustive()
    }
}

impl LocalNamespace {
    pub(crate) fn new(ns: Weak<NsShared>) -> Self {
        LocalNamespace { ns }
    }

    /// The namespace path (empty once the namespace is gone).
    pub fn path(&self) -> String {
        self.ns.upgrade().map(|n| n.path.to_string()).unwrap_or_default()
    }

    pub(crate) fn with_sockets<R>(
        &self,
        f: impl FnOnce(&std::collections::HashMap<Sid, Arc<SocketShared>>) -> R,
    ) -> Option<R> {
        let ns = self.ns.upgrade()?;
        let sockets = ns.sockets.read().unwrap_or_else(|x| x.into_inner());
        Some(f(&sockets))
    }

    /// Calls `f` with every connected local socket's id.
    pub fn for_each_socket(&self, mut f: impl FnMut(&Sid)) {
        if let Some(ns) = self.ns.upgrade() {
            for sid in ns.sockets.read().unwrap_or_else(|x| x.into_inner()).keys() {
                f(sid);
            }
        }
    }

    /// Queues `packet` for the local socket `sid`; returns whether it was queued.
    pub fn deliver(&self, sid: &str, packet: &Packet, volatile: bool) -> bool {
        let Some(ns) = self.ns.upgrade() else {
            return false;
        };
        let sockets = ns.sockets.read().unwrap_or_else(|x| x.into_inner());
        match sockets.get(sid) {
            Some(s) if volatile => s.send_volatile(&packet.0).is_ok(),
            Some(s) => s.send(&packet.0).is_ok(),
            None => false,
        }
    }
}

/// Builds one adapter per namespace.
pub trait AdapterFactory: Send + Sync + 'static {
    /// The adapter of a new namespace.
    fn create(&self, ns: LocalNamespace) -> Arc<dyn Adapter>;
}

/// Rooms and fan-out for one namespace.
///
/// Room membership of *local* sockets is synchronous state of this process; every operation
/// that may involve other processes is asynchronous.
pub trait Adapter: Send + Sync + 'static {
    /// Adds a local socket to rooms.
    fn add_all(&self, sid: &Sid, rooms: &[Room]);

    /// Removes a local socket from a room.
    fn del(&self, sid: &Sid, room: &str);

    /// Removes a local socket from every room.
    fn del_all(&self, sid: &Sid);

    /// The rooms a local socket is in (its own id room excluded).
    fn socket_rooms(&self, sid: &Sid) -> Vec<Room>;

    /// The local sockets that `opts` selects.
    fn local_sockets(&self, opts: &BroadcastOptions) -> Vec<Sid>;

    /// Sends `packet` to every socket `opts` selects, on every node.
    fn broadcast(&self, packet: Packet, opts: BroadcastOptions) -> BoxFuture<'_, Result<(), AdapterError>>;
}
