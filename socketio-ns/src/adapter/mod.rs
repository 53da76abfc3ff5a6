//! Rooms and fan-out: the [`Adapter`] trait, the in-memory [`LocalAdapter`], and the
//! [`BroadcastOperator`] that drives them.
//!
//! Layer four, above the connection layer and below the namespace runtime. An adapter
//! reaches this process's sockets only through [`SocketEmitter`], which the namespace runtime
//! implements: deliver a packet (with or without an ack), disconnect, close, describe. So an
//! adapter for other processes is written against that trait and this module alone.
//!
//! An adapter keeps which local sockets are in which rooms, and carries every operation that
//! selects sockets: broadcasts (with or without acks), `fetch_sockets`, making sockets join or
//! leave rooms, disconnecting them. There is one adapter per live namespace, built by an
//! [`AdapterFactory`] given to [`crate::Builder::adapter`], from the namespace's
//! [`SocketEmitter`].
//!
//! # Shaped for several processes
//!
//! Room membership of a *local* socket (`add_all`, `del`, `del_all`, `socket_rooms`) is
//! synchronous state of this process. Every operation that selects sockets is asynchronous,
//! takes plain-data [`BroadcastOptions`] and answers with plain data ([`SocketInfo`], socket
//! ids), so that an implementation can forward it to the other server processes (through Redis,
//! say) and merge what they report. Such an adapter typically wraps a [`LocalAdapter`]: it
//! applies each operation to this process's sockets through the wrapped adapter and publishes
//! it for the others, which apply it to theirs the same way.
//!
//! Broadcasts with acks follow the Socket.IO cluster protocol: the emitting process asks
//! [`Adapter::server_count`] how many processes will answer; each process (this one included)
//! reports, once, the sockets it sent the packet to with [`AckSink::expect`], then forwards each
//! answer with [`AckSink::ack`]. The emitter completes when every process reported and every
//! expected socket answered, or when the timeout expires.

mod broadcast;
mod emitter;
mod error;
mod events;
mod local;
mod operator;
#[cfg(feature = "redis")]
pub mod redis;
mod server_event;
mod session;

use std::borrow::Cow;
use std::fmt;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

pub use futures_util::future::BoxFuture;

pub use broadcast::Broadcast;
pub use emitter::{Selection, SocketEmitter};
pub use error::{AdapterError, EmitError};
#[doc(hidden)]
pub use events::Payload;
pub use events::{EventOf, Events, Untyped};
pub use local::{LocalAdapter, LocalAdapterFactory};
pub use operator::{BroadcastAcks, BroadcastOperator, IntoRooms};
pub use server_event::{ServerEvent, ServerEventAck, ServerEventHandler};
pub use session::{RecoveredSession, ResumeFn, SessionStore, SessionToPersist, StoreConfig};

use crate::codec::socketio::encode::Encoded;
pub use crate::connection::{AckSink, Sid};

/// A room name. Every socket is also in the room named by its id.
pub type Room = Cow<'static, str>;

/// Which sockets of a namespace an operation reaches. Plain data, serializable, so that an
/// adapter can send it to other processes.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct BroadcastOptions {
    /// Sockets in any of these rooms; every socket of the namespace when empty.
    pub rooms: Vec<Room>,
    /// Minus the sockets in any of these rooms (a socket id excludes that socket).
    pub except: Vec<Room>,
    /// Only this process's sockets: an adapter does not forward the operation.
    pub local: bool,
    /// Drop the packet for a socket whose transport is not writable instead of queueing it.
    pub volatile: bool,
}

/// An encoded packet ready for many sockets: encoded once, shared by reference count. Queueing
/// it for a socket clones reference counts, never the payload.
#[derive(Clone)]
pub struct BroadcastPacket {
    pub(crate) encoded: Encoded,
    ack_id: Option<u64>,
}

impl fmt::Debug for BroadcastPacket {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("BroadcastPacket")
            .field("text", &self.encoded.text.as_str())
            .field("attachments", &self.encoded.attachments.len())
            .field("ack_id", &self.ack_id)
            .finish()
    }
}

impl BroadcastPacket {
    pub(crate) fn new(encoded: Encoded, ack_id: Option<u64>) -> Self {
        BroadcastPacket { encoded, ack_id }
    }

    /// The Engine.IO message text: `4` followed by the Socket.IO packet.
    pub fn text(&self) -> &str {
        self.encoded.text.as_str()
    }

    /// The binary attachments, in order.
    pub fn attachments(&self) -> &[bytes::Bytes] {
        &self.encoded.attachments
    }

    /// The ack id the packet carries (broadcasts with acks).
    pub fn ack_id(&self) -> Option<u64> {
        self.ack_id
    }

    /// Rebuilds a packet from [`BroadcastPacket::text`] and [`BroadcastPacket::attachments`], as another process
    /// received them. Checks that it is an EVENT (or BINARY_EVENT) with that many attachments.
    pub fn from_parts(text: String, attachments: Vec<bytes::Bytes>) -> Result<Self, AdapterError> {
        use crate::codec::socketio::packet::{self, PacketType};
        let bad = |why: &str| AdapterError(format!("invalid packet: {why}"));
        let body = text
            .strip_prefix('4')
            .ok_or_else(|| bad("not an Engine.IO message"))?;
        let p = packet::decode(body, attachments.len()).map_err(|e| bad(&e.to_string()))?;
        if !matches!(p.kind, PacketType::Event | PacketType::BinaryEvent) {
            return Err(bad("not an event"));
        }
        if p.attachments != attachments.len() {
            return Err(bad("attachment count"));
        }
        let ack_id = p.id;
        Ok(BroadcastPacket {
            encoded: Encoded::new(text.into(), attachments),
            ack_id,
        })
    }
}

/// What a client sent when it connected, as plain data.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct HandshakeData {
    /// The path and query of the connection's first HTTP request.
    pub url: String,
    /// The headers of that request (values that are not UTF-8 are converted lossily).
    pub headers: Vec<(String, String)>,
    /// The client's address, when known.
    pub address: Option<SocketAddr>,
    /// The raw JSON of the CONNECT auth payload, if any.
    pub auth: Option<String>,
    /// The Engine.IO session id of the connection.
    pub engine_id: String,
}

impl HandshakeData {
    /// The query string of [`HandshakeData::url`].
    pub fn query(&self) -> Option<&str> {
        self.url.split_once('?').map(|(_, q)| q)
    }

    /// The first header of that (case-insensitive) name.
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }
}

/// A socket as [`Adapter::fetch_sockets`] reports it: plain data, wherever the socket lives.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct SocketInfo {
    /// The Socket.IO id.
    pub id: String,
    /// The namespace path.
    pub ns: String,
    /// The rooms it is in, its own id room included.
    pub rooms: Vec<Room>,
    /// Its handshake.
    pub handshake: HandshakeData,
}

/// Builds one adapter per namespace.
pub trait AdapterFactory: Send + Sync + 'static {
    /// The adapter of a new namespace (static namespaces are created when the server is built,
    /// instances of dynamic ones on their first connection).
    fn create(&self, sockets: Arc<dyn SocketEmitter>) -> Arc<dyn Adapter>;
}

/// Rooms and fan-out for one namespace. See the [module documentation](self).
///
/// Implementations must not call back into the server while holding their own locks, except
/// [`SocketEmitter::deliver`] with a [`Selection::AllBut`] filter that reads the adapter's own
/// state (the in-memory implementation holds its rooms' read lock while the emitter holds the
/// namespace's socket map).
pub trait Adapter: Send + Sync + 'static {
    /// Adds a local socket to rooms (its own id room is implicit and ignored here).
    fn add_all(&self, sid: &Sid, rooms: &[Room]);

    /// Removes a local socket from rooms.
    fn del(&self, sid: &Sid, rooms: &[Room]);

    /// Removes a local socket from every room (it left the namespace).
    fn del_all(&self, sid: &Sid);

    /// The rooms a local socket joined (its own id room excluded).
    fn socket_rooms(&self, sid: &Sid) -> Vec<Room>;

    /// How many rooms a local socket joined (its own id room excluded); the default counts
    /// [`Adapter::socket_rooms`].
    fn socket_room_count(&self, sid: &Sid) -> usize {
        self.socket_rooms(sid).len()
    }

    /// The local sockets `opts` selects.
    fn local_sockets(&self, opts: &BroadcastOptions) -> Vec<Sid>;

    /// How many processes serve this namespace (this one included). Default 1.
    fn server_count(&self) -> BoxFuture<'_, Result<usize, AdapterError>> {
        Box::pin(std::future::ready(Ok(1)))
    }

    /// Sends `packet` to every socket `opts` selects, on every process.
    fn broadcast(
        &self,
        packet: BroadcastPacket,
        opts: BroadcastOptions,
    ) -> BoxFuture<'_, Result<(), AdapterError>>;

    /// Sends `packet` (which carries an ack id, [`BroadcastPacket::ack_id`]) to every socket `opts`
    /// selects, on every process, and reports to `acks`: each process calls
    /// [`AckSink::expect`] once with the sockets it sent to, then [`AckSink::ack`] for each
    /// answer. `timeout` is how long the emitter waits; after it, pending answers may be
    /// forgotten.
    fn broadcast_with_ack(
        &self,
        packet: BroadcastPacket,
        opts: BroadcastOptions,
        timeout: Duration,
        acks: AckSink,
    ) -> BoxFuture<'_, Result<(), AdapterError>>;

    /// The sockets `opts` selects, on every process.
    fn fetch_sockets(
        &self,
        opts: BroadcastOptions,
    ) -> BoxFuture<'_, Result<Vec<SocketInfo>, AdapterError>>;

    /// Makes the sockets `opts` selects join `rooms`, on every process.
    fn add_sockets(
        &self,
        opts: BroadcastOptions,
        rooms: Vec<Room>,
    ) -> BoxFuture<'_, Result<(), AdapterError>>;

    /// Makes the sockets `opts` selects leave `rooms`, on every process.
    fn del_sockets(
        &self,
        opts: BroadcastOptions,
        rooms: Vec<Room>,
    ) -> BoxFuture<'_, Result<(), AdapterError>>;

    /// Disconnects the sockets `opts` selects from the namespace, on every process (the
    /// clients receive DISCONNECT); with `close`, closes their whole connection instead.
    fn disconnect_sockets(
        &self,
        opts: BroadcastOptions,
        close: bool,
    ) -> BoxFuture<'_, Result<(), AdapterError>>;

    /// Every room of the namespace, on every process (socket id rooms included, as the
    /// Socket.IO cluster protocol reports them). Default: this process's rooms, from
    /// [`Adapter::local_rooms`].
    fn all_rooms(&self) -> BoxFuture<'_, Result<Vec<Room>, AdapterError>> {
        Box::pin(std::future::ready(Ok(self.local_rooms())))
    }

    /// This process's rooms of the namespace, socket id rooms included. Default: none known.
    fn local_rooms(&self) -> Vec<Room> {
        Vec::new()
    }

    /// Sends an event to the *other* server processes of this namespace (not to clients):
    /// `data` is the event name followed by its arguments, as JSON. Each of them hands it to
    /// the handler given to [`crate::Builder::on_server_event`]. Default: there are no
    /// other processes, so nothing to do.
    ///
    /// Part of the Socket.IO cluster protocol (`serverSideEmit` in the JavaScript server).
    fn server_side_emit(
        &self,
        data: Vec<serde_json::Value>,
    ) -> BoxFuture<'_, Result<(), AdapterError>> {
        let _ = data;
        Box::pin(std::future::ready(Ok(())))
    }

    /// Like [`Adapter::server_side_emit`], asking every other process for one answer; the
    /// answers, in arrival order. Fails when some process did not answer in time. Default: no
    /// other process, no answer.
    fn server_side_emit_with_ack(
        &self,
        data: Vec<serde_json::Value>,
    ) -> BoxFuture<'_, Result<Vec<serde_json::Value>, AdapterError>> {
        let _ = data;
        Box::pin(std::future::ready(Ok(Vec::new())))
    }

    /// Where events sent by other processes with [`Adapter::server_side_emit`] go. Called once,
    /// right after the adapter is created, when the server has such a handler. Default:
    /// ignored (an adapter for one process never receives any).
    fn set_server_event_handler(&self, handler: ServerEventHandler) {
        let _ = handler;
    }

    /// Turns on connection state recovery for this namespace (called once, right after the
    /// adapter is created, when the server enables it): from now on every broadcast EVENT
    /// without ack id and not volatile is stamped with an offset as its last argument and kept
    /// for `config.max_disconnection_duration`. Returns whether the adapter supports it;
    /// default `false` (the namespace then runs without recovery).
    fn enable_recovery(&self, config: StoreConfig) -> bool {
        let _ = config;
        false
    }

    /// Whether sessions persisted by one process can be restored by another (they are kept
    /// outside the process, as the Redis Streams adapter keeps them in Redis). Then a client
    /// that comes back with a `pid` this process did not park is recovered here too, with a
    /// fresh namespace value. Default `false`.
    fn shares_sessions(&self) -> bool {
        false
    }

    /// Resolves when the session `pid`, which this process persisted, has been restored by
    /// another process (its client came back there): the value parked here then ends without
    /// `recv_disconnect`. Called right after [`Adapter::persist_session`]. Default: never.
    fn restored_elsewhere(&self, pid: &str) -> BoxFuture<'static, ()> {
        let _ = pid;
        Box::pin(std::future::pending())
    }

    /// The offset of the last stamped packet: what a socket connecting now has processed.
    /// Default: none (no recovery).
    fn current_offset(&self) -> Option<String> {
        None
    }

    /// Keeps the session of a socket that dropped for a recoverable reason. Default: nothing.
    fn persist_session(&self, session: SessionToPersist) {
        let _ = session;
    }

    /// Finds the session `pid` again with the packets its client missed after `offset` and
    /// hands it to `resume` (see [`ResumeFn`] for when). `Ok(false)`: no such session, it
    /// expired, or the offset is unknown or too old; the client then connects afresh. A session
    /// is restored at most once. Default: never.
    fn restore_session(
        &self,
        pid: String,
        offset: Option<String>,
        resume: ResumeFn,
    ) -> BoxFuture<'_, Result<bool, AdapterError>> {
        let _ = (pid, offset, resume);
        Box::pin(std::future::ready(Ok(false)))
    }

    /// When room joins made so far are not yet in effect for what the other processes publish
    /// (an adapter that subscribes one channel per room, waiting for Redis to confirm), a
    /// future that resolves once they are. The namespace runtime awaits it before it answers
    /// the ack of a handler that joined rooms (and before the CONNECT reply when
    /// `recv_connect` did), so that a client told it joined misses no broadcast made after.
    /// It must end by itself within a bounded time, Redis down or not. Default: `None`.
    fn joins_settled(&self) -> Option<BoxFuture<'static, ()>> {
        None
    }

    /// The server is shutting down: release resources (subscriptions, connections). Default:
    /// nothing to do.
    fn close(&self) -> BoxFuture<'_, Result<(), AdapterError>> {
        Box::pin(std::future::ready(Ok(())))
    }
}
