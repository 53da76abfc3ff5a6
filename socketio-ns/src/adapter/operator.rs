//! Broadcast operators: `to`, `within`, `except`, `local`, `volatile`, `timeout`, composable,
//! ending in an emit or a socket operation.

use std::collections::HashSet;
use std::fmt;
use std::future::Future;
use std::marker::PhantomData;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use super::events::{EventOf, Events, Untyped};
use super::{
    Adapter, AdapterError, BoxFuture, Broadcast, BroadcastOptions, BroadcastPacket, EmitError,
    Room, SocketInfo,
};
use crate::codec::socketio::Args;
use crate::codec::socketio::encode;
use crate::connection::{AckEvent, AckResponse, AckSink, Sid};

/// One or several room names.
///
/// Implemented for any `&str`, `String`, `&String`, [`Room`] and `&Room`, for `Option`s,
/// vectors, arrays, slices and sets of those, and for the common iterators over them
/// (`iter()`, `into_iter()`, `map(..)`, `filter(..)`, `cloned()`): `cx.join(name.as_str())`,
/// `cx.join(names.iter().map(|n| format!("user:{n}")))`.
pub trait IntoRooms {
    /// The rooms.
    fn into_rooms(self) -> Vec<Room>;
}

impl IntoRooms for &str {
    fn into_rooms(self) -> Vec<Room> {
        vec![Room::Owned(self.to_owned())]
    }
}

impl IntoRooms for String {
    fn into_rooms(self) -> Vec<Room> {
        vec![Room::Owned(self)]
    }
}

impl IntoRooms for &String {
    fn into_rooms(self) -> Vec<Room> {
        vec![Room::Owned(self.clone())]
    }
}

impl IntoRooms for Room {
    fn into_rooms(self) -> Vec<Room> {
        vec![self]
    }
}

impl IntoRooms for &Room {
    fn into_rooms(self) -> Vec<Room> {
        vec![self.clone()]
    }
}

impl<R: IntoRooms> IntoRooms for Option<R> {
    fn into_rooms(self) -> Vec<Room> {
        self.map(IntoRooms::into_rooms).unwrap_or_default()
    }
}

/// The collections and iterators whose items are rooms.
macro_rules! rooms_of_items {
    ($([$($generics:tt)*] $ty:ty, [$($bounds:tt)*];)*) => {$(
        impl<$($generics)*> IntoRooms for $ty where $($bounds)* {
            fn into_rooms(self) -> Vec<Room> {
                self.into_iter().flat_map(IntoRooms::into_rooms).collect()
            }
        }
    )*};
}

rooms_of_items! {
    [R: IntoRooms] Vec<R>, [];
    [R: IntoRooms, const N: usize] [R; N], [];
    ['a, R] &'a [R], [&'a R: IntoRooms];
    ['a, R] &'a Vec<R>, [&'a R: IntoRooms];
    [R: IntoRooms] std::collections::HashSet<R>, [];
    ['a, R] &'a std::collections::HashSet<R>, [&'a R: IntoRooms];
    [R: IntoRooms] std::collections::BTreeSet<R>, [];
    ['a, R] &'a std::collections::BTreeSet<R>, [&'a R: IntoRooms];
    [R: IntoRooms] std::vec::IntoIter<R>, [];
    ['a, R] std::slice::Iter<'a, R>, [&'a R: IntoRooms];
    ['a, R] std::collections::hash_set::Iter<'a, R>, [&'a R: IntoRooms];
    ['a, R] std::collections::btree_set::Iter<'a, R>, [&'a R: IntoRooms];
    [I: Iterator, F: FnMut(I::Item) -> R, R: IntoRooms] std::iter::Map<I, F>, [];
    [I: Iterator<Item = R>, P: FnMut(&R) -> bool, R: IntoRooms] std::iter::Filter<I, P>, [];
    ['a, I: Iterator<Item = &'a R>, R: 'a + Clone + IntoRooms] std::iter::Cloned<I>, [];
}

/// A selection of sockets of one namespace, built by chaining operators and ended by an emit or
/// a socket operation. Cheap to clone.
///
/// Started from a handler's context ([`crate::Context::to`], [`crate::Context::broadcast`],
/// ...) it excludes the sender, as `socket.to(..)` does in the JavaScript server; started from
/// the server handle ([`crate::Io`]) it excludes nobody.
///
/// Every operation goes through the namespace's [`crate::adapter::Adapter`], so with a
/// multi-process adapter it reaches the sockets of every process (unless
/// [`BroadcastOperator::local`]).
#[must_use = "a broadcast operator does nothing until it is ended by an emit or a socket operation"]
///
/// `D` is the namespace's declaration of outgoing events ([`Untyped`]: any event name, any
/// payload; see [`events!`](crate::events)).
pub struct BroadcastOperator<D = Untyped> {
    path: Arc<str>,
    adapter: Arc<dyn Adapter>,
    opts: BroadcastOptions,
    timeout: Option<Duration>,
    default_timeout: Duration,
    events: PhantomData<fn() -> D>,
}

impl<D> Clone for BroadcastOperator<D> {
    fn clone(&self) -> Self {
        BroadcastOperator {
            path: self.path.clone(),
            adapter: self.adapter.clone(),
            opts: self.opts.clone(),
            timeout: self.timeout,
            default_timeout: self.default_timeout,
            events: PhantomData,
        }
    }
}

impl<D> fmt::Debug for BroadcastOperator<D> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("BroadcastOperator")
            .field("ns", &self.path)
            .field("opts", &self.opts)
            .field("timeout", &self.timeout)
            .finish()
    }
}

/// What a broadcast with acks gathered: every answer, and the sockets that did not answer in
/// time (or disconnected first).
#[derive(Debug, Clone, Default)]
pub struct BroadcastAcks {
    /// Each answering socket's id and answer, in arrival order.
    pub responses: Vec<(Sid, AckResponse)>,
    /// The sockets the packet was sent to that did not answer.
    pub timed_out: Vec<Sid>,
    /// How many of the processes counted for the broadcast never said which sockets they sent
    /// it to (gone, or too slow): their sockets' answers are missing without being listed.
    pub silent_servers: usize,
}

impl BroadcastAcks {
    /// Whether every socket answered, on every process.
    pub fn is_complete(&self) -> bool {
        self.timed_out.is_empty() && self.silent_servers == 0
    }
}

impl BroadcastOperator {
    /// Every socket of the namespace at `path` that `adapter` serves; emits with acks wait
    /// `default_timeout` unless [`BroadcastOperator::timeout`] says otherwise.
    pub(crate) fn new(
        path: Arc<str>,
        adapter: Arc<dyn Adapter>,
        default_timeout: Duration,
    ) -> Self {
        BroadcastOperator {
            path,
            adapter,
            opts: BroadcastOptions::default(),
            timeout: None,
            default_timeout,
            events: PhantomData,
        }
    }
}

impl<D: Events> BroadcastOperator<D> {
    /// The same selection, sending `E`'s events (the namespace's declaration, as
    /// [`crate::Io::namespace`] gives it).
    pub(crate) fn declared<E: Events>(self) -> BroadcastOperator<E> {
        BroadcastOperator {
            path: self.path,
            adapter: self.adapter,
            opts: self.opts,
            timeout: self.timeout,
            default_timeout: self.default_timeout,
            events: PhantomData,
        }
    }

    /// The namespace path.
    pub fn namespace(&self) -> &str {
        &self.path
    }

    /// Targets the sockets in these rooms too (a socket in any of the rooms is reached once).
    /// A socket id is a room holding that socket.
    pub fn to(mut self, rooms: impl IntoRooms) -> Self {
        for r in rooms.into_rooms() {
            if !self.opts.rooms.contains(&r) {
                self.opts.rooms.push(r);
            }
        }
        self
    }

    /// Same as [`BroadcastOperator::to`].
    pub fn within(self, rooms: impl IntoRooms) -> Self {
        self.to(rooms)
    }

    /// Excludes the sockets in these rooms (a socket id excludes that socket).
    pub fn except(mut self, rooms: impl IntoRooms) -> Self {
        for r in rooms.into_rooms() {
            if !self.opts.except.contains(&r) {
                self.opts.except.push(r);
            }
        }
        self
    }

    /// Only this process's sockets (matters with a multi-process adapter).
    pub fn local(mut self) -> Self {
        self.opts.local = true;
        self
    }

    /// Drops the packet for sockets whose transport is not writable (a backlog, or no pending
    /// polling request) instead of queueing it.
    pub fn volatile(mut self) -> Self {
        self.opts.volatile = true;
        self
    }

    /// The ack timeout of [`BroadcastOperator::emit_with_ack`] (default: the server's
    /// [`crate::Builder::ack_timeout`]).
    pub fn timeout(mut self, timeout: Duration) -> Self {
        self.timeout = Some(timeout);
        self
    }

    /// The options this operator selects with.
    pub fn options(&self) -> &BroadcastOptions {
        &self.opts
    }

    /// Emits `event` to every selected socket, now: the packet is encoded here, once, shared
    /// by every recipient, and this process's sockets have it queued when this returns, as
    /// with [`crate::Context::emit`].
    ///
    /// The returned [`Broadcast`] need not be awaited. Awaiting it waits for the other
    /// processes' part (with a multi-process adapter) and reports its errors; dropped, that
    /// part completes in the background and its errors are logged.
    #[inline]
    pub fn emit<E: EventOf<D, A>, A: Args>(self, event: E, args: A) -> Broadcast {
        // The work does not depend on the event's type: one copy per payload type.
        self.emit_named(event.event_name(), args)
    }

    fn emit_named<A: Args>(self, event: &str, args: A) -> Broadcast {
        let packet = encode::event(&self.path, event, &args, None)
            .map_err(|e| EmitError::Serialize(e.to_string()));
        Broadcast::start(async move {
            let packet = BroadcastPacket::new(packet?, None);
            self.adapter.broadcast(packet, self.opts).await?;
            Ok(())
        })
    }

    /// Emits `event` to every selected socket, asking each for an ack, and gathers the answers
    /// until every socket answered or the timeout ([`BroadcastOperator::timeout`]) expired.
    pub fn emit_with_ack<E: EventOf<D, A>, A: Args>(
        self,
        event: E,
        args: A,
    ) -> BoxFuture<'static, Result<BroadcastAcks, EmitError>> {
        self.emit_with_ack_named(event.event_name(), args)
    }

    fn emit_with_ack_named<A: Args>(
        self,
        event: &str,
        args: A,
    ) -> BoxFuture<'static, Result<BroadcastAcks, EmitError>> {
        let id = broadcast_ack_id();
        let packet = encode::event(&self.path, event, &args, Some(id))
            .map_err(|e| EmitError::Serialize(e.to_string()));
        let timeout = self.timeout.unwrap_or(self.default_timeout);
        Box::pin(async move {
            let packet = BroadcastPacket::new(packet?, Some(id));
            let deadline = tokio::time::Instant::now() + timeout;
            let adapter = &self.adapter;
            // Only this process reports when the operation stays local.
            let servers = if self.opts.local {
                1
            } else {
                adapter.server_count().await?
            };
            let (sink, rx) = AckSink::channel();
            adapter
                .broadcast_with_ack(packet, self.opts, timeout, sink)
                .await?;
            let acks = collect_acks(rx, servers, deadline).await;
            // The sockets that did not answer keep the ack id until they answer (dropped: no
            // one listens) or the entry is swept.
            Ok(acks)
        })
    }

    /// The selected sockets, as plain data (id, namespace, rooms, handshake).
    pub async fn fetch_sockets(self) -> Result<Vec<SocketInfo>, AdapterError> {
        self.adapter.fetch_sockets(self.opts).await
    }

    /// Makes the selected sockets join `rooms`.
    pub fn sockets_join(
        self,
        rooms: impl IntoRooms,
    ) -> impl Future<Output = Result<(), AdapterError>> + Send + 'static {
        let rooms = rooms.into_rooms();
        async move { self.adapter.add_sockets(self.opts, rooms).await }
    }

    /// Makes the selected sockets leave `rooms`.
    pub fn sockets_leave(
        self,
        rooms: impl IntoRooms,
    ) -> impl Future<Output = Result<(), AdapterError>> + Send + 'static {
        let rooms = rooms.into_rooms();
        async move { self.adapter.del_sockets(self.opts, rooms).await }
    }

    /// Every room of the namespace, on every process (with a multi-process adapter), socket id
    /// rooms included. The selection is ignored.
    pub async fn all_rooms(self) -> Result<Vec<Room>, AdapterError> {
        self.adapter.all_rooms().await
    }

    /// Sends `event` with `args` to the *other* server processes of the namespace, not to
    /// clients: each hands it to its [`crate::Builder::on_server_event`] handler (a Node.js
    /// process of the cluster emits it on the namespace, as `serverSideEmit` does there). The
    /// selection is ignored. Arguments travel as JSON: binary ones are refused. With one
    /// process (the in-memory adapter) nobody receives it.
    pub fn server_side_emit<A: Args>(
        self,
        event: &str,
        args: A,
    ) -> impl Future<Output = Result<(), EmitError>> + Send + 'static + use<D, A> {
        let data = server_event_data(event, &args);
        async move { Ok(self.adapter.server_side_emit(data?).await?) }
    }

    /// Like [`BroadcastOperator::server_side_emit`], and waits for one answer from each other
    /// process ([`crate::adapter::ServerEventAck`]); the answers, in arrival order. Fails
    /// when a process did not answer within the adapter's request timeout.
    pub fn server_side_emit_with_ack<A: Args>(
        self,
        event: &str,
        args: A,
    ) -> impl Future<Output = Result<Vec<serde_json::Value>, EmitError>> + Send + 'static + use<D, A>
    {
        let data = server_event_data(event, &args);
        async move { Ok(self.adapter.server_side_emit_with_ack(data?).await?) }
    }

    /// Disconnects the selected sockets from the namespace: each client receives DISCONNECT and
    /// each socket's `recv_disconnect` runs (reason
    /// [`crate::DisconnectReason::ServerNamespaceDisconnect`]). With `close`, closes their
    /// whole connections instead (every namespace of those clients).
    pub async fn disconnect_sockets(self, close: bool) -> Result<(), AdapterError> {
        self.adapter.disconnect_sockets(self.opts, close).await
    }
}

/// `[event, ...args]` as JSON values, for a server-side emit.
fn server_event_data<A: Args>(event: &str, args: &A) -> Result<Vec<serde_json::Value>, EmitError> {
    let ser = |e: serde_json::Error| EmitError::Serialize(e.to_string());
    let mut buf = Vec::with_capacity(64);
    buf.push(b'[');
    serde_json::to_writer(&mut buf, event).map_err(ser)?;
    let mut attachments = Vec::new();
    args.write_args(&mut buf, &mut attachments, true)
        .map_err(ser)?;
    buf.push(b']');
    if !attachments.is_empty() {
        return Err(EmitError::Serialize(
            "binary arguments cannot be sent to other servers".into(),
        ));
    }
    serde_json::from_slice(&buf).map_err(ser)
}

/// Broadcast ack ids live in `[2^30, 2^31)`: apart from the per-socket ids (counted from 0)
/// and within the `i32` range some clients parse ack ids into.
const BROADCAST_ACK_BASE: u64 = 1 << 30;

/// A fresh ack id for a broadcast with acks, unique in this process for a long while. It
/// starts at random, so that processes sharing sockets through an adapter rarely pick the
/// same id at the same time.
pub(crate) fn broadcast_ack_id() -> u64 {
    static NEXT: std::sync::OnceLock<AtomicU64> = std::sync::OnceLock::new();
    let next = NEXT.get_or_init(|| AtomicU64::new(rand::random::<u64>() % BROADCAST_ACK_BASE));
    BROADCAST_ACK_BASE + next.fetch_add(1, Ordering::Relaxed) % BROADCAST_ACK_BASE
}

/// Gathers the reports of a broadcast with acks: complete when `servers` processes reported the
/// sockets they expect answers from and all of those answered; else at `deadline`, or when no
/// report can come any more.
async fn collect_acks(
    mut rx: tokio::sync::mpsc::UnboundedReceiver<AckEvent>,
    servers: usize,
    deadline: tokio::time::Instant,
) -> BroadcastAcks {
    let mut expected: Vec<Sid> = Vec::new();
    let mut responses: Vec<(Sid, AckResponse)> = Vec::new();
    let mut reported = 0;
    let sleep = tokio::time::sleep_until(deadline);
    tokio::pin!(sleep);
    while reported < servers || responses.len() < expected.len() {
        tokio::select! {
            ev = rx.recv() => match ev {
                Some(AckEvent::Expect(sids)) => {
                    reported += 1;
                    expected.extend(sids);
                }
                Some(AckEvent::Ack(sid, r)) => responses.push((sid, r)),
                None => break,
            },
            _ = &mut sleep => break,
        }
    }
    let answered: HashSet<&str> = responses.iter().map(|(s, _)| &**s).collect();
    let timed_out = expected
        .iter()
        .filter(|s| !answered.contains(&***s))
        .cloned()
        .collect();
    BroadcastAcks {
        responses,
        timed_out,
        silent_servers: servers.saturating_sub(reported),
    }
}
