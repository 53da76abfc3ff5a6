//! The sharded Redis adapter: the protocol of `createShardedAdapter` in
//! `@socket.io/redis-adapter` 8.3, on Redis 7 sharded Pub/Sub (`SPUBLISH` / `SSUBSCRIBE`),
//! with the message format of `ClusterAdapter` in `socket.io-adapter` 2.5.
//!
//! The public items are re-exported by the parent module; [`ShardedRedisAdapter`] documents
//! the wire and the behaviour.

use std::collections::{HashMap, HashSet};
use std::fmt;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, RwLock, Weak};
use std::time::Duration;

use redis::aio::MultiplexedConnection;
use redis::{AsyncConnectionConfig, PushInfo, PushKind};
use rmpv::Value as Mp;
use serde_json::Value;
use tokio::sync::{OnceCell, mpsc, watch};
use tokio::time::Instant;

use super::{
    Cleanup, RemoteAckTable, ack_request, mp_opts, msgpack, mutex, opts_mp, packet_json, packet_of,
    query, random_id, ready, redis_error, rooms_mp, wire,
};
use crate::adapter::operator::broadcast_ack_id;
use crate::adapter::{
    AckSink, Adapter, AdapterError, AdapterFactory, BoxFuture, BroadcastOptions, BroadcastPacket,
    LocalAdapter, Room, ServerEvent, ServerEventAck, ServerEventHandler, Sid, SocketEmitter,
    SocketInfo,
};
use crate::connection::AckEvent;

/// The message types of the cluster protocol (`MessageType` in `socket.io-adapter`).
pub(super) mod kind {
    pub(crate) const INITIAL_HEARTBEAT: u64 = 1;
    pub(crate) const HEARTBEAT: u64 = 2;
    pub(crate) const BROADCAST: u64 = 3;
    pub(crate) const SOCKETS_JOIN: u64 = 4;
    pub(crate) const SOCKETS_LEAVE: u64 = 5;
    pub(crate) const DISCONNECT_SOCKETS: u64 = 6;
    pub(crate) const FETCH_SOCKETS: u64 = 7;
    pub(crate) const FETCH_SOCKETS_RESPONSE: u64 = 8;
    pub(crate) const SERVER_SIDE_EMIT: u64 = 9;
    pub(crate) const SERVER_SIDE_EMIT_RESPONSE: u64 = 10;
    pub(crate) const BROADCAST_CLIENT_COUNT: u64 = 11;
    pub(crate) const BROADCAST_ACK: u64 = 12;
    pub(crate) const ADAPTER_CLOSE: u64 = 13;
}

/// How long a room left empty keeps its channel before it is unsubscribed.
const UNSUBSCRIBE_GRACE: Duration = Duration::from_secs(2);

/// Which channels the processes of a cluster subscribe to (`subscriptionMode` of the Node
/// adapter). Every process of a cluster must use the same mode.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
#[non_exhaustive]
pub enum SubscriptionMode {
    /// Only the namespace channel and each process's response channel: every broadcast
    /// reaches every process (`"static"`).
    Static,
    /// Besides, one channel per room that is not a socket id: a broadcast to one room reaches
    /// only the processes with a socket in it (`"dynamic"`, Node's default).
    #[default]
    Dynamic,
}

impl SubscriptionMode {
    /// The name Node gives the mode (`static`, `dynamic`).
    pub fn as_str(self) -> &'static str {
        match self {
            SubscriptionMode::Static => "static",
            SubscriptionMode::Dynamic => "dynamic",
        }
    }
}

impl std::str::FromStr for SubscriptionMode {
    type Err = AdapterError;

    /// `static` or `dynamic`, as Node names them.
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "static" => Ok(SubscriptionMode::Static),
            "dynamic" => Ok(SubscriptionMode::Dynamic),
            other => Err(AdapterError(format!(
                "unknown subscription mode `{other}` (static or dynamic)"
            ))),
        }
    }
}

/// Whether Node's dynamic mode takes `room` for a socket id: 20 UTF-16 code units, as
/// `room.length === 20` counts in JavaScript. Such a room is published on the namespace
/// channel even when it is not a socket id.
pub(super) fn looks_like_a_socket_id(room: &str) -> bool {
    room.encode_utf16().count() == 20
}

/// The channel a message goes to (`computeChannel` of the Node adapter): a room's own
/// channel for a broadcast without acks to exactly one room in dynamic mode (unless the room
/// looks like a socket id), else the namespace channel `prefix#nsp#`.
pub(super) fn channel_for(
    mode: SubscriptionMode,
    namespace_channel: &str,
    kind: u64,
    with_ack: bool,
    rooms: &[Room],
) -> String {
    match rooms {
        [room]
            if kind == kind::BROADCAST
                && !with_ack
                && mode == SubscriptionMode::Dynamic
                && !looks_like_a_socket_id(room) =>
        {
            format!("{namespace_channel}{room}#")
        }
        _ => namespace_channel.to_owned(),
    }
}

/// Encodes a message `{type, data, uid, nsp}` as the Node adapter does: msgpack when `data`
/// holds binary (and the type may carry some), JSON otherwise.
pub(super) fn encode_message(kind: u64, data: Mp, uid: &str, nsp: &str) -> Vec<u8> {
    let binary = msgpack::has_binary(&data);
    let msg = msgpack::map(vec![
        ("type", Mp::from(kind)),
        ("data", data),
        ("uid", Mp::from(uid)),
        ("nsp", Mp::from(nsp)),
    ]);
    if binary {
        msgpack::encode(&msg)
    } else {
        msgpack::to_json(&msg, &mut Vec::new()).into_bytes()
    }
}

/// Decodes a message: JSON when it starts with `{`, msgpack otherwise (as Node reads them).
fn decode_message(payload: &[u8]) -> Result<Mp, String> {
    if payload.first() == Some(&b'{') {
        let text = std::str::from_utf8(payload).map_err(|e| e.to_string())?;
        msgpack::from_json(text, &[]).map_err(|e| e.to_string())
    } else {
        msgpack::decode(payload)
    }
}

/// Builds a [`ShardedRedisAdapter`] for each namespace, compatible with `createShardedAdapter`
/// of `@socket.io/redis-adapter` 8.3: our servers and Node.js servers share rooms and
/// broadcasts through Redis 7 sharded Pub/Sub. The adapters share one publishing connection;
/// each namespace has its own subscribing connection (RESP3).
///
/// ```no_run
/// # async fn f() -> Result<(), Box<dyn std::error::Error>> {
/// use socketio_ns::adapter::redis::{ShardedRedisAdapterFactory, SubscriptionMode};
/// let adapter = ShardedRedisAdapterFactory::new("redis://127.0.0.1:6379")?
///     .subscription_mode(SubscriptionMode::Dynamic);
/// let server = socketio_ns::Server::builder().adapter(adapter).build();
/// # Ok(()) }
/// ```
///
/// [`super::RedisAdapterFactory::sharded`] turns a classic factory's settings into this one.
/// Build the server inside a tokio runtime.
#[derive(Clone)]
pub struct ShardedRedisAdapterFactory {
    config: Arc<Config>,
}

struct Config {
    client: redis::Client,
    prefix: String,
    mode: SubscriptionMode,
    requests_timeout: Duration,
    publisher: OnceCell<redis::aio::ConnectionManager>,
}

impl fmt::Debug for ShardedRedisAdapterFactory {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ShardedRedisAdapterFactory")
            .field("channel_prefix", &self.config.prefix)
            .field("subscription_mode", &self.config.mode)
            .field("requests_timeout", &self.config.requests_timeout)
            .finish_non_exhaustive()
    }
}

impl ShardedRedisAdapterFactory {
    /// Adapters on the Redis (7 or later) at `url`. Nothing connects until a namespace is
    /// created.
    pub fn new(url: &str) -> Result<Self, AdapterError> {
        let client = redis::Client::open(url).map_err(redis_error)?;
        Ok(Self::with_client(client))
    }

    /// Adapters on the Redis `client` reaches.
    pub fn with_client(client: redis::Client) -> Self {
        ShardedRedisAdapterFactory {
            config: Arc::new(Config {
                client,
                prefix: "socket.io".to_owned(),
                mode: SubscriptionMode::default(),
                requests_timeout: Duration::from_millis(5000),
                publisher: OnceCell::new(),
            }),
        }
    }

    fn config_mut(&mut self) -> &mut Config {
        Arc::get_mut(&mut self.config).expect("configured before the factory is shared")
    }

    /// The prefix of every channel (`channelPrefix`). Default `socket.io`.
    pub fn channel_prefix(mut self, prefix: impl Into<String>) -> Self {
        self.config_mut().prefix = prefix.into();
        self
    }

    /// Which channels to subscribe to (`subscriptionMode`). Default
    /// [`SubscriptionMode::Dynamic`], as Node's.
    pub fn subscription_mode(mut self, mode: SubscriptionMode) -> Self {
        self.config_mut().mode = mode;
        self
    }

    /// How long a request to the other processes (`fetch_sockets`, server-side emits with
    /// acks, and any Redis command) may take before it fails. Default 5 s.
    pub fn requests_timeout(mut self, timeout: Duration) -> Self {
        self.config_mut().requests_timeout = timeout;
        self
    }
}

impl super::RedisAdapterFactory {
    /// The sharded adapter on the same Redis, with this factory's key as channel prefix and
    /// its requests timeout, in `mode`.
    pub fn sharded(self, mode: SubscriptionMode) -> ShardedRedisAdapterFactory {
        ShardedRedisAdapterFactory::with_client(self.config.client.clone())
            .channel_prefix(self.config.key.clone())
            .requests_timeout(self.config.requests_timeout)
            .subscription_mode(mode)
    }
}

impl AdapterFactory for ShardedRedisAdapterFactory {
    fn create(&self, sockets: Arc<dyn SocketEmitter>) -> Arc<dyn Adapter> {
        Arc::new(ShardedRedisAdapter::new(self.config.clone(), sockets))
    }
}

/// The room channels a namespace wants subscribed, and how far Redis is known to follow.
struct Wanted {
    /// Rooms (not socket ids) with a local socket in them, in dynamic mode.
    rooms: HashSet<String>,
}

struct Inner {
    local: LocalAdapter,
    config: Arc<Config>,
    nsp: String,
    uid: String,
    /// `prefix#nsp#`
    channel: String,
    /// `prefix#nsp#uid#`
    response_channel: String,
    /// Room channels wanted; locked around every membership change (dynamic mode).
    wanted: Mutex<Wanted>,
    /// Bumped each time a room channel is added to `wanted`.
    wanted_gen: AtomicU64,
    /// The last `wanted_gen` the subscriber has confirmed in Redis.
    subscribed_gen: watch::Sender<u64>,
    /// Whether the subscriber is connected and subscribed; while it is not, nothing waits for
    /// subscriptions (they are made again on reconnect, and publishing fails meanwhile).
    online: AtomicBool,
    /// Wakes the subscriber when `wanted` grew.
    wake: mpsc::UnboundedSender<()>,
    /// Requests waiting for answers (fetch_sockets, server-side emits), by request id.
    requests: Mutex<HashMap<String, mpsc::UnboundedSender<Mp>>>,
    /// Broadcasts with acks waiting for answers, by request id.
    ack_requests: RemoteAckTable,
    handler: RwLock<Option<ServerEventHandler>>,
}

/// Rooms and fan-out for one namespace across every process on one Redis, over sharded
/// Pub/Sub; built by [`ShardedRedisAdapterFactory`].
///
/// # The wire
///
/// With `prefix` the channel prefix (default `socket.io`), `nsp` the namespace path and `uid`
/// a process id (16 hex digits):
/// - every message is `{type, data, uid, nsp}`: JSON, or msgpack when `data` holds binary
///   (only for the types that may: broadcasts, their acks, fetched sockets and server-side
///   emits and their answers). Types: 1 `INITIAL_HEARTBEAT`, 2 `HEARTBEAT`, 3 `BROADCAST`,
///   4 `SOCKETS_JOIN`, 5 `SOCKETS_LEAVE`, 6 `DISCONNECT_SOCKETS`, 7 `FETCH_SOCKETS`,
///   8 `FETCH_SOCKETS_RESPONSE`, 9 `SERVER_SIDE_EMIT`, 10 `SERVER_SIDE_EMIT_RESPONSE`,
///   11 `BROADCAST_CLIENT_COUNT`, 12 `BROADCAST_ACK`, 13 `ADAPTER_CLOSE`;
/// - messages go to `prefix#nsp#`; in [`SubscriptionMode::Dynamic`] a broadcast without acks
///   to exactly one room goes to `prefix#nsp#room#` instead, which only the processes with a
///   socket in that room subscribe to;
/// - answers go to the requester's own channel `prefix#nsp#uid#`;
/// - how many processes serve the namespace is `PUBSUB SHARDNUMSUB prefix#nsp#`, as the Node
///   adapter counts (it is a plain `ClusterAdapter`: it sends no heartbeat, so neither do we;
///   heartbeats and `ADAPTER_CLOSE` from other members are accepted and ignored).
///
/// # Where Node's behaviour is matched although odd
///
/// - In dynamic mode a room whose name is 20 UTF-16 code units long is taken for a socket id
///   (`looksLikeASocketId`): a broadcast to it alone goes to the namespace channel, not the
///   room's. Socket ids are 20 characters here too, so a socket of any process is reached.
/// - A broadcast with acks always goes to the namespace channel (the count of servers that will
///   answer is that of the whole namespace).
///
/// # Where we do better than Node
///
/// Node subscribes to a room's channel after a join has returned (the subscription is an
/// event handler with a promise nobody awaits), and unsubscribes as soon as the room is
/// empty: a socket that leaves and joins again within a few milliseconds misses what is
/// published before its new subscription lands, or keeps none at all (the `SUNSUBSCRIBE`
/// and the `SSUBSCRIBE` race). Here the subscriber keeps a *wanted* set of
/// room channels, updated under one lock with the room itself, and converges Redis to it:
/// - a join sends `SSUBSCRIBE` at once, and every later message this adapter publishes waits
///   until Redis confirmed it, so an answer caused by one of our messages cannot overtake it;
/// - a room left empty keeps its channel for a grace period (two seconds) and loses it only if
///   it is still empty then: a live room's channel is never dropped, and a leave and re-join
///   in a tight loop costs no Redis command at all;
/// - after a reconnect every wanted channel is subscribed again.
///
/// And the client: a handler that joined a room answers its ack only once Redis confirmed the
/// room's `SSUBSCRIBE` ([`Adapter::joins_settled`], awaited by the namespace runtime; emits
/// made after the ack wait with it, in order), and so does the CONNECT reply when
/// `recv_connect` joined. A client told it joined misses no broadcast made after, whichever
/// process makes it. Joins made elsewhere (`sockets_join`, a job's `SocketRef::join`) are
/// subscribed at once but nobody waits for them.
///
/// # Failures
///
/// Every operation is applied to this process's sockets first, then published: with Redis
/// unreachable, local delivery goes on and the call returns an [`AdapterError`] within the
/// requests timeout. The subscriber pings Redis every half second, reconnects with a backoff
/// up to 2 s and subscribes everything again. A message that does not decode, or lacks what
/// its type needs, is dropped with a `tracing` warning.
pub struct ShardedRedisAdapter {
    inner: Arc<Inner>,
    subscriber: tokio::task::AbortHandle,
}

impl fmt::Debug for ShardedRedisAdapter {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ShardedRedisAdapter")
            .field("namespace", &self.inner.nsp)
            .field("uid", &self.inner.uid)
            .field("mode", &self.inner.config.mode)
            .finish_non_exhaustive()
    }
}

impl Drop for ShardedRedisAdapter {
    fn drop(&mut self) {
        self.subscriber.abort();
    }
}

impl ShardedRedisAdapter {
    fn new(config: Arc<Config>, sockets: Arc<dyn SocketEmitter>) -> Self {
        let nsp = sockets.path().to_owned();
        let uid = random_id();
        let channel = format!("{}#{nsp}#", config.prefix);
        let (wake, woken) = mpsc::unbounded_channel();
        let inner = Arc::new(Inner {
            response_channel: format!("{channel}{uid}#"),
            channel,
            local: LocalAdapter::new(sockets),
            config,
            nsp,
            uid,
            wanted: Mutex::new(Wanted {
                rooms: HashSet::new(),
            }),
            wanted_gen: AtomicU64::new(0),
            subscribed_gen: watch::Sender::new(0),
            // Optimistic until the first connection attempt says otherwise.
            online: AtomicBool::new(true),
            wake,
            requests: Mutex::default(),
            ack_requests: RemoteAckTable::default(),
            handler: RwLock::new(None),
        });
        let subscriber = tokio::spawn(subscribe_loop(Arc::downgrade(&inner), woken)).abort_handle();
        ShardedRedisAdapter { inner, subscriber }
    }

    /// This process's id in the cluster protocol.
    pub fn uid(&self) -> &str {
        &self.inner.uid
    }
}

// ----- the subscriber -----

/// What the subscriber knows Redis has: the channels it subscribed on this connection, and
/// since when each room channel is no longer wanted.
#[derive(Default)]
struct Subscribed {
    channels: HashSet<String>,
    unwanted_since: HashMap<String, Instant>,
}

/// Keeps the namespace subscribed: connects, subscribes the namespace and response channels
/// and every wanted room channel, dispatches messages, follows `wanted`; after a lost
/// connection, starts again with a backoff. Ends when the adapter is dropped.
async fn subscribe_loop(inner: Weak<Inner>, mut woken: mpsc::UnboundedReceiver<()>) {
    let mut backoff = Duration::from_millis(50);
    loop {
        let Some(this) = inner.upgrade() else { return };
        let timeout = this.config.requests_timeout;
        let nsp = this.nsp.clone();
        let client = match resp3(&this.config.client) {
            Ok(c) => c,
            Err(e) => {
                tracing::error!(nsp, error = %e, "sharded redis adapter: bad connection info");
                return;
            }
        };
        drop(this);
        let (tx, mut pushes) = mpsc::unbounded_channel::<PushInfo>();
        let cfg = AsyncConnectionConfig::new()
            .set_push_sender(tx)
            .set_connection_timeout(Some(timeout))
            .set_response_timeout(Some(timeout));
        let connected = tokio::time::timeout(
            timeout,
            client.get_multiplexed_async_connection_with_config(&cfg),
        )
        .await;
        let mut conn = match connected {
            Ok(Ok(c)) => c,
            Ok(Err(e)) => {
                set_online(&inner, false);
                tracing::warn!(nsp, error = %e, "sharded redis adapter cannot connect");
                tokio::time::sleep(backoff).await;
                backoff = (backoff * 2).min(Duration::from_secs(2));
                continue;
            }
            Err(_) => {
                set_online(&inner, false);
                tracing::warn!(nsp, "sharded redis adapter: connecting timed out");
                tokio::time::sleep(backoff).await;
                backoff = (backoff * 2).min(Duration::from_secs(2));
                continue;
            }
        };
        let mut subscribed = Subscribed::default();
        let mut tick = tokio::time::interval(Duration::from_millis(500));
        let mut healthy = true;
        // Subscribe everything, then follow.
        {
            let Some(this) = inner.upgrade() else { return };
            if let Err(e) = this.converge(&mut conn, &mut subscribed, false).await {
                tracing::warn!(nsp, error = %e, "sharded redis adapter cannot subscribe");
                healthy = false;
            } else {
                tracing::info!(nsp, "sharded redis adapter subscribed");
                this.online.store(true, Ordering::Release);
                backoff = Duration::from_millis(50);
            }
        }
        while healthy {
            tokio::select! {
                push = pushes.recv() => {
                    let Some(push) = push else { break };
                    let Some(this) = inner.upgrade() else { return };
                    match push.kind {
                        PushKind::SMessage | PushKind::Message => {
                            if let [channel, payload, ..] = &push.data[..] {
                                match (as_bytes(channel), as_bytes(payload)) {
                                    (Some(c), Some(p)) => {
                                        this.on_raw_message(&String::from_utf8_lossy(c), p);
                                    }
                                    _ => this.warn("message", "not a channel and a payload"),
                                }
                            }
                        }
                        PushKind::Disconnection => break,
                        // A shard channel moved or was deleted: subscribe again.
                        PushKind::SUnsubscribe => {
                            if let Some(c) = push.data.first().and_then(as_bytes) {
                                subscribed.channels.remove(&*String::from_utf8_lossy(c));
                            }
                            let _ = this.wake.send(());
                        }
                        _ => {}
                    }
                }
                w = woken.recv() => {
                    if w.is_none() { return; }
                    while woken.try_recv().is_ok() {}
                    let Some(this) = inner.upgrade() else { return };
                    if let Err(e) = this.converge(&mut conn, &mut subscribed, false).await {
                        tracing::warn!(nsp, error = %e, "sharded redis adapter cannot subscribe");
                        healthy = false;
                    }
                }
                _ = tick.tick() => {
                    let Some(this) = inner.upgrade() else { return };
                    if let Err(e) = this.converge(&mut conn, &mut subscribed, true).await {
                        tracing::warn!(nsp, error = %e, "sharded redis adapter lost Redis");
                        healthy = false;
                    }
                }
            }
        }
        set_online(&inner, false);
        tracing::warn!(
            nsp,
            "sharded redis adapter lost its subscriptions; reconnecting"
        );
        tokio::time::sleep(backoff).await;
        backoff = (backoff * 2).min(Duration::from_secs(2));
    }
}

fn set_online(inner: &Weak<Inner>, online: bool) {
    if let Some(this) = inner.upgrade() {
        this.online.store(online, Ordering::Release);
    }
}

fn as_bytes(v: &redis::Value) -> Option<&[u8]> {
    match v {
        redis::Value::BulkString(b) => Some(b),
        redis::Value::SimpleString(s) => Some(s.as_bytes()),
        _ => None,
    }
}

/// The same client speaking RESP3, whose push messages carry sharded Pub/Sub on a
/// multiplexed connection.
fn resp3(client: &redis::Client) -> Result<redis::Client, AdapterError> {
    let info = client.get_connection_info().clone();
    let settings = info
        .redis_settings()
        .clone()
        .set_protocol(redis::ProtocolVersion::RESP3);
    redis::Client::open(info.set_redis_settings(settings)).map_err(redis_error)
}

/// One shard subscription command with one channel, answered by one confirmation.
async fn shard_command(
    conn: &mut MultiplexedConnection,
    command: &str,
    channel: &str,
) -> Result<(), AdapterError> {
    redis::cmd(command)
        .arg(channel)
        .query_async::<redis::Value>(conn)
        .await
        .map(drop)
        .map_err(redis_error)
}

impl Inner {
    /// Brings Redis to the wanted channels: subscribes what is missing at once; with
    /// `sweep`, also unsubscribes room channels unwanted for longer than the grace period
    /// (and pings, to notice a dead connection). Marks the generation it saw as subscribed.
    async fn converge(
        &self,
        conn: &mut MultiplexedConnection,
        subscribed: &mut Subscribed,
        sweep: bool,
    ) -> Result<(), AdapterError> {
        let generation = self.wanted_gen.load(Ordering::Acquire);
        let wanted: HashSet<String> = {
            let w = mutex(&self.wanted);
            let mut set: HashSet<String> = w
                .rooms
                .iter()
                .map(|r| format!("{}{r}#", self.channel))
                .collect();
            set.insert(self.channel.clone());
            set.insert(self.response_channel.clone());
            set
        };
        let missing: Vec<&String> = wanted
            .iter()
            .filter(|c| !subscribed.channels.contains(*c))
            .collect();
        if !missing.is_empty() {
            let subscribing = missing.iter().map(|c| {
                let mut conn = conn.clone();
                async move { shard_command(&mut conn, "SSUBSCRIBE", c).await }
            });
            for r in futures_util::future::join_all(subscribing).await {
                r?;
            }
            for c in missing {
                subscribed.unwanted_since.remove(c);
                subscribed.channels.insert(c.clone());
            }
        }
        self.subscribed_gen.send_if_modified(|g| {
            let newer = *g < generation;
            *g = (*g).max(generation);
            newer
        });
        for c in &wanted {
            subscribed.unwanted_since.remove(c);
        }
        if sweep {
            let now = Instant::now();
            let mut drop_now = Vec::new();
            for c in &subscribed.channels {
                if wanted.contains(c) {
                    continue;
                }
                let since = *subscribed.unwanted_since.entry(c.clone()).or_insert(now);
                if now.duration_since(since) >= UNSUBSCRIBE_GRACE {
                    drop_now.push(c.clone());
                }
            }
            for c in drop_now {
                // Wanted again meanwhile? Keep it.
                let room = c
                    .strip_prefix(&self.channel)
                    .and_then(|r| r.strip_suffix('#'))
                    .unwrap_or("");
                if mutex(&self.wanted).rooms.contains(room) {
                    continue;
                }
                shard_command(conn, "SUNSUBSCRIBE", &c).await?;
                subscribed.channels.remove(&c);
                subscribed.unwanted_since.remove(&c);
            }
            redis::cmd("PING")
                .query_async::<redis::Value>(conn)
                .await
                .map_err(redis_error)?;
        }
        Ok(())
    }

    /// Waits until every room channel wanted so far is subscribed (at once while the
    /// subscriber is offline, at most the requests timeout otherwise: when Redis is away, the
    /// publish that follows fails anyway).
    async fn subscriptions_settled(&self) {
        let target = self.wanted_gen.load(Ordering::Acquire);
        if *self.subscribed_gen.borrow() >= target || !self.online.load(Ordering::Acquire) {
            return;
        }
        let mut rx = self.subscribed_gen.subscribe();
        let _ =
            tokio::time::timeout(self.config.requests_timeout, rx.wait_for(|g| *g >= target)).await;
    }

    // ----- membership and room channels -----

    /// Whether `room` gets a channel of its own: dynamic mode, and not a local socket's id.
    fn wants_channel(&self, room: &str) -> bool {
        self.config.mode == SubscriptionMode::Dynamic && !self.local.sockets().contains(room)
    }

    /// Runs a membership change with the wanted set locked, then wants a channel for every
    /// `joined` room that has one now and drops the `left` rooms that are empty now.
    fn membership<R>(&self, change: impl FnOnce() -> R, rooms: &[Room]) -> R {
        if self.config.mode == SubscriptionMode::Static {
            return change();
        }
        let mut wanted = mutex(&self.wanted);
        let out = change();
        let mut grew = false;
        for room in rooms {
            let live = self.local.has_room(room);
            if live && self.wants_channel(room) {
                grew |= wanted.rooms.insert(room.to_string());
            } else if !live {
                wanted.rooms.remove(&**room);
            }
        }
        drop(wanted);
        if grew {
            self.wanted_gen.fetch_add(1, Ordering::AcqRel);
            let _ = self.wake.send(());
        }
        out
    }

    fn add_sockets_local(&self, opts: &BroadcastOptions, rooms: &[Room]) {
        self.membership(|| self.local.add_sockets_local(opts, rooms), rooms);
    }

    fn del_sockets_local(&self, opts: &BroadcastOptions, rooms: &[Room]) {
        self.membership(|| self.local.del_sockets_local(opts, rooms), rooms);
    }

    // ----- publishing -----

    async fn spublish(&self, channel: &str, payload: Vec<u8>) -> Result<(), AdapterError> {
        self.subscriptions_settled().await;
        let cfg = &self.config;
        let mut cmd = redis::cmd("SPUBLISH");
        cmd.arg(channel).arg(payload);
        query::<i64>(&cfg.client, &cfg.publisher, cfg.requests_timeout, cmd)
            .await
            .map(drop)
    }

    /// Publishes a message of ours on the channel its kind and rooms call for.
    async fn publish(
        &self,
        kind: u64,
        data: Mp,
        with_ack: bool,
        rooms: &[Room],
    ) -> Result<(), AdapterError> {
        let channel = channel_for(self.config.mode, &self.channel, kind, with_ack, rooms);
        let body = encode_message(kind, data, &self.uid, &self.nsp);
        self.spublish(&channel, body).await
    }

    /// Answers the process `requester` on its response channel, in a task of its own.
    fn respond(self: &Arc<Self>, requester: &str, kind: u64, data: Mp) {
        let this = self.clone();
        let channel = format!("{}{requester}#", self.channel);
        tokio::spawn(async move {
            let body = encode_message(kind, data, &this.uid, &this.nsp);
            if let Err(e) = this.spublish(&channel, body).await {
                tracing::warn!(nsp = this.nsp, error = %e, "sharded redis adapter could not answer");
            }
        });
    }

    async fn server_count(&self) -> Result<usize, AdapterError> {
        let cfg = &self.config;
        let mut cmd = redis::cmd("PUBSUB");
        cmd.arg("SHARDNUMSUB").arg(&self.channel);
        let (_, n): (String, usize) =
            query(&cfg.client, &cfg.publisher, cfg.requests_timeout, cmd).await?;
        Ok(n)
    }

    /// Publishes a request (`data` gets a fresh `requestId`) and gathers `expected` answers,
    /// or fails at the requests timeout.
    async fn request(
        &self,
        kind: u64,
        entries: Vec<(&str, Mp)>,
        expected: usize,
        what: &str,
    ) -> Result<Vec<Mp>, AdapterError> {
        let id = random_id();
        let mut entries = entries;
        entries.push(("requestId", Mp::from(id.as_str())));
        let (tx, mut rx) = mpsc::unbounded_channel();
        mutex(&self.requests).insert(id.clone(), tx);
        let _cleanup = Cleanup(&self.requests, &id);
        let deadline = Instant::now() + self.config.requests_timeout;
        self.publish(kind, msgpack::map(entries), true, &[]).await?;
        let mut answers = Vec::with_capacity(expected);
        while answers.len() < expected {
            match tokio::time::timeout_at(deadline, rx.recv()).await {
                Ok(Some(a)) => answers.push(a),
                Ok(None) | Err(_) => {
                    return Err(AdapterError(format!(
                        "timeout reached while waiting for {what} response: {} of {expected} \
                         answers within {:?}",
                        answers.len(),
                        self.config.requests_timeout
                    )));
                }
            }
        }
        Ok(answers)
    }

    // ----- receiving -----

    fn warn(&self, what: &str, why: &str) {
        tracing::warn!(
            nsp = self.nsp,
            why,
            "sharded redis adapter ignored a malformed {what}"
        );
    }

    fn on_raw_message(self: &Arc<Self>, channel: &str, payload: &[u8]) {
        let msg = match decode_message(payload) {
            Ok(m @ Mp::Map(_)) => m,
            Ok(_) => return self.warn("message", "not a map"),
            Err(e) => return self.warn("message", &e),
        };
        let from = msgpack::get(&msg, "uid").and_then(Mp::as_str);
        if from == Some(self.uid.as_str()) {
            return;
        }
        let Some(kind) = msgpack::get(&msg, "type").and_then(Mp::as_u64) else {
            return self.warn("message", "no type");
        };
        if channel == self.response_channel {
            return self.on_response(kind, &msg);
        }
        if msgpack::get(&msg, "nsp").and_then(Mp::as_str) != Some(self.nsp.as_str()) {
            return;
        }
        let data = msgpack::get(&msg, "data").unwrap_or(&Mp::Nil);
        let opts = || msgpack::get(data, "opts").map_or_else(BroadcastOptions::default, mp_opts);
        let rooms = || match msgpack::get(data, "rooms") {
            Some(Mp::Array(items)) => items
                .iter()
                .filter_map(msgpack::as_room)
                .map(Room::Owned)
                .collect(),
            _ => Vec::new(),
        };
        match kind {
            kind::BROADCAST => self.on_broadcast(from, data),
            kind::SOCKETS_JOIN => self.add_sockets_local(&opts(), &rooms()),
            kind::SOCKETS_LEAVE => self.del_sockets_local(&opts(), &rooms()),
            kind::DISCONNECT_SOCKETS => {
                let close = msgpack::get(data, "close")
                    .and_then(Mp::as_bool)
                    .unwrap_or(false);
                self.local.disconnect_sockets_local(&opts(), close);
            }
            kind::FETCH_SOCKETS => {
                let (Some(from), Some(id)) = (from, msgpack::get(data, "requestId")) else {
                    return self.warn("fetchSockets", "no uid or requestId");
                };
                let sockets: Vec<Mp> = self
                    .local
                    .fetch_sockets_local(&opts())
                    .iter()
                    .map(|s| msgpack::from_json_value(&wire::socket_json(s)))
                    .collect();
                let data = msgpack::map(vec![
                    ("requestId", id.clone()),
                    ("sockets", Mp::Array(sockets)),
                ]);
                self.respond(from, kind::FETCH_SOCKETS_RESPONSE, data);
            }
            kind::SERVER_SIDE_EMIT => self.on_server_side_emit(from, data),
            kind::FETCH_SOCKETS_RESPONSE
            | kind::SERVER_SIDE_EMIT_RESPONSE
            | kind::BROADCAST_CLIENT_COUNT
            | kind::BROADCAST_ACK => self.on_response(kind, &msg),
            kind::INITIAL_HEARTBEAT | kind::HEARTBEAT | kind::ADAPTER_CLOSE => {}
            other => tracing::debug!(nsp = self.nsp, other, "unknown message type ignored"),
        }
    }

    fn on_broadcast(self: &Arc<Self>, from: Option<&str>, data: &Mp) {
        let Some(packet) = msgpack::get(data, "packet") else {
            return self.warn("broadcast", "no packet");
        };
        let opts = msgpack::get(data, "opts").map_or_else(BroadcastOptions::default, mp_opts);
        let Some(request_id) = msgpack::get(data, "requestId") else {
            match packet_of(&self.nsp, packet, None) {
                Ok(p) => {
                    self.local.broadcast_local(&p, &opts);
                }
                Err(e) => self.warn("broadcast", &e),
            }
            return;
        };
        let Some(from) = from else {
            return self.warn("broadcast with acks", "no uid");
        };
        let wait = msgpack::get(data, "opts")
            .and_then(|o| msgpack::get(o, "flags"))
            .and_then(|f| msgpack::get(f, "timeout"))
            .and_then(|t| t.as_u64().or_else(|| t.as_f64().map(|f| f as u64)))
            .map_or(self.config.requests_timeout, Duration::from_millis)
            .min(Duration::from_secs(3600));
        let packet = match packet_of(&self.nsp, packet, Some(broadcast_ack_id())) {
            Ok(p) => p,
            Err(e) => return self.warn("broadcast with acks", &e),
        };
        let (sink, mut rx) = AckSink::channel();
        self.local.broadcast_with_ack_local(&packet, &opts, &sink);
        drop(sink);
        let request_id = request_id.clone();
        let requester = from.to_owned();
        let this = self.clone();
        tokio::spawn(async move {
            let deadline = Instant::now() + wait;
            let mut expected = None;
            let mut answered = 0;
            while expected.is_none_or(|n| answered < n) {
                let ev = match tokio::time::timeout_at(deadline, rx.recv()).await {
                    Ok(Some(ev)) => ev,
                    _ => break,
                };
                let (kind, data) = match ev {
                    AckEvent::Expect(sids) => {
                        expected = Some(sids.len());
                        let data = msgpack::map(vec![
                            ("requestId", request_id.clone()),
                            ("clientCount", Mp::from(sids.len() as u64)),
                        ]);
                        (kind::BROADCAST_CLIENT_COUNT, data)
                    }
                    AckEvent::Ack(_, response) => {
                        answered += 1;
                        let mut entries = vec![("requestId", request_id.clone())];
                        // Only the first argument, as the Node server's broadcast acks.
                        if let Some(raw) = response.raw_arg(0) {
                            match msgpack::from_json(raw, response.attachments()) {
                                Ok(v) => entries.push(("packet", v)),
                                Err(e) => this.warn("ack", &e.to_string()),
                            }
                        }
                        (kind::BROADCAST_ACK, msgpack::map(entries))
                    }
                };
                // In order: the count before the answers.
                let channel = format!("{}{requester}#", this.channel);
                let body = encode_message(kind, data, &this.uid, &this.nsp);
                if let Err(e) = this.spublish(&channel, body).await {
                    tracing::warn!(nsp = this.nsp, error = %e, "could not forward broadcast acks");
                    break;
                }
            }
        });
    }

    fn on_server_side_emit(self: &Arc<Self>, from: Option<&str>, data: &Mp) {
        let Some(Mp::Array(packet)) = msgpack::get(data, "packet") else {
            return self.warn("server-side emit", "no packet array");
        };
        let Some(event) = packet.first().and_then(Mp::as_str) else {
            return self.warn("server-side emit", "no event name");
        };
        let handler = self
            .handler
            .read()
            .unwrap_or_else(|x| x.into_inner())
            .clone();
        let Some(handler) = handler else {
            tracing::debug!(nsp = self.nsp, event, "server-side emit without a handler");
            return;
        };
        let ack = match (msgpack::get(data, "requestId"), from) {
            (Some(id), Some(from)) => {
                let this = self.clone();
                let id = id.clone();
                let from = from.to_owned();
                Some(ServerEventAck::new(move |answer| {
                    let data = msgpack::map(vec![
                        ("requestId", id),
                        ("packet", msgpack::from_json_value(&answer)),
                    ]);
                    this.respond(&from, kind::SERVER_SIDE_EMIT_RESPONSE, data);
                }))
            }
            _ => None,
        };
        handler(ServerEvent {
            namespace: self.nsp.clone(),
            event: event.to_owned(),
            args: packet[1..].iter().map(msgpack::to_json_value).collect(),
            ack,
        });
    }

    fn on_response(&self, kind: u64, msg: &Mp) {
        let data = msgpack::get(msg, "data").unwrap_or(&Mp::Nil);
        let Some(id) = msgpack::get(data, "requestId").and_then(Mp::as_str) else {
            return self.warn("response", "no requestId");
        };
        match kind {
            kind::BROADCAST_CLIENT_COUNT => {
                let n = msgpack::get(data, "clientCount")
                    .and_then(Mp::as_u64)
                    .unwrap_or(0) as usize;
                self.ack_requests.expect(id, n);
            }
            kind::BROADCAST_ACK => {
                if let Err(e) = self.ack_requests.answer(id, msgpack::get(data, "packet")) {
                    self.warn("ack", &e);
                }
            }
            kind::FETCH_SOCKETS_RESPONSE | kind::SERVER_SIDE_EMIT_RESPONSE => {
                if let Some(tx) = mutex(&self.requests).get(id) {
                    let _ = tx.send(data.clone());
                }
            }
            other => tracing::debug!(nsp = self.nsp, other, "unknown response type ignored"),
        }
    }
}

impl ShardedRedisAdapter {
    /// Applies a fire-and-forget operation here, then publishes it (unless local).
    fn remote(&self, opts: &BroadcastOptions, kind: u64, extra: (&'static str, Mp)) -> Publish {
        let inner = self.inner.clone();
        let local = opts.local;
        let data = msgpack::map(vec![("opts", opts_mp(opts, None)), extra]);
        Box::pin(async move {
            if local {
                return Ok(());
            }
            inner.publish(kind, data, false, &[]).await
        })
    }
}

type Publish = BoxFuture<'static, Result<(), AdapterError>>;

impl Adapter for ShardedRedisAdapter {
    fn add_all(&self, sid: &Sid, rooms: &[Room]) {
        let inner = &self.inner;
        inner.membership(|| inner.local.add_all(sid, rooms), rooms);
    }

    fn del(&self, sid: &Sid, rooms: &[Room]) {
        let inner = &self.inner;
        inner.membership(|| inner.local.del(sid, rooms), rooms);
    }

    fn del_all(&self, sid: &Sid) {
        let inner = &self.inner;
        let rooms = inner.local.socket_rooms(sid);
        inner.membership(|| inner.local.del_all(sid), &rooms);
    }

    local_room_reads!();

    fn server_count(&self) -> BoxFuture<'_, Result<usize, AdapterError>> {
        Box::pin(self.inner.server_count())
    }

    fn broadcast(
        &self,
        packet: BroadcastPacket,
        opts: BroadcastOptions,
    ) -> BoxFuture<'_, Result<(), AdapterError>> {
        self.inner.local.broadcast_local(&packet, &opts);
        if opts.local {
            return ready(Ok(()));
        }
        let inner = &self.inner;
        Box::pin(async move {
            let data = msgpack::map(vec![
                ("packet", packet_json(&inner.nsp, &packet)?),
                ("opts", opts_mp(&opts, None)),
            ]);
            inner
                .publish(kind::BROADCAST, data, false, &opts.rooms)
                .await
        })
    }

    fn broadcast_with_ack(
        &self,
        packet: BroadcastPacket,
        opts: BroadcastOptions,
        timeout: Duration,
        acks: AckSink,
    ) -> BoxFuture<'_, Result<(), AdapterError>> {
        self.inner
            .local
            .broadcast_with_ack_local(&packet, &opts, &acks);
        if opts.local {
            return ready(Ok(()));
        }
        let inner = self.inner.clone();
        Box::pin(async move {
            let (id, data) = ack_request(&inner.nsp, &packet, &opts, timeout)?;
            let publish = inner.publish(kind::BROADCAST, data, true, &opts.rooms);
            inner
                .ack_requests
                .publish(&id, acks, timeout, publish)
                .await
        })
    }

    fn fetch_sockets(
        &self,
        opts: BroadcastOptions,
    ) -> BoxFuture<'_, Result<Vec<SocketInfo>, AdapterError>> {
        let mut sockets = self.inner.local.fetch_sockets_local(&opts);
        if opts.local {
            return ready(Ok(sockets));
        }
        let inner = &self.inner;
        Box::pin(async move {
            let servers = inner.server_count().await?;
            if servers <= 1 {
                return Ok(sockets);
            }
            let entries = vec![("opts", opts_mp(&opts, None))];
            let answers = inner
                .request(kind::FETCH_SOCKETS, entries, servers - 1, "fetchSockets")
                .await?;
            for answer in answers {
                if let Some(Mp::Array(list)) = msgpack::get(&answer, "sockets") {
                    sockets.extend(
                        list.iter().filter_map(|s| {
                            wire::socket_of(&msgpack::to_json_value(s), &inner.nsp)
                        }),
                    );
                }
            }
            Ok(sockets)
        })
    }

    fn add_sockets(
        &self,
        opts: BroadcastOptions,
        rooms: Vec<Room>,
    ) -> BoxFuture<'_, Result<(), AdapterError>> {
        self.inner.add_sockets_local(&opts, &rooms);
        self.remote(&opts, kind::SOCKETS_JOIN, ("rooms", rooms_mp(&rooms)))
    }

    fn del_sockets(
        &self,
        opts: BroadcastOptions,
        rooms: Vec<Room>,
    ) -> BoxFuture<'_, Result<(), AdapterError>> {
        self.inner.del_sockets_local(&opts, &rooms);
        self.remote(&opts, kind::SOCKETS_LEAVE, ("rooms", rooms_mp(&rooms)))
    }

    fn disconnect_sockets(
        &self,
        opts: BroadcastOptions,
        close: bool,
    ) -> BoxFuture<'_, Result<(), AdapterError>> {
        self.inner.local.disconnect_sockets_local(&opts, close);
        self.remote(&opts, kind::DISCONNECT_SOCKETS, ("close", Mp::from(close)))
    }

    fn server_side_emit(&self, data: Vec<Value>) -> BoxFuture<'_, Result<(), AdapterError>> {
        let inner = &self.inner;
        Box::pin(async move {
            let data = msgpack::map(vec![(
                "packet",
                msgpack::from_json_value(&Value::Array(data)),
            )]);
            inner
                .publish(kind::SERVER_SIDE_EMIT, data, false, &[])
                .await
        })
    }

    fn server_side_emit_with_ack(
        &self,
        data: Vec<Value>,
    ) -> BoxFuture<'_, Result<Vec<Value>, AdapterError>> {
        let inner = &self.inner;
        Box::pin(async move {
            // Every subscriber of the namespace channel but this one, as Node counts.
            let others = inner.server_count().await?.saturating_sub(1);
            if others == 0 {
                return Ok(Vec::new());
            }
            let entries = vec![("packet", msgpack::from_json_value(&Value::Array(data)))];
            let answers = inner
                .request(kind::SERVER_SIDE_EMIT, entries, others, "serverSideEmit")
                .await?;
            Ok(answers
                .iter()
                .map(|a| msgpack::get(a, "packet").map_or(Value::Null, msgpack::to_json_value))
                .collect())
        })
    }

    fn joins_settled(&self) -> Option<BoxFuture<'static, ()>> {
        let inner = &self.inner;
        let target = inner.wanted_gen.load(Ordering::Acquire);
        if *inner.subscribed_gen.borrow() >= target || !inner.online.load(Ordering::Acquire) {
            return None;
        }
        let inner = inner.clone();
        Some(Box::pin(async move { inner.subscriptions_settled().await }))
    }

    fn set_server_event_handler(&self, handler: ServerEventHandler) {
        *self
            .inner
            .handler
            .write()
            .unwrap_or_else(|x| x.into_inner()) = Some(handler);
    }

    fn close(&self) -> BoxFuture<'_, Result<(), AdapterError>> {
        self.subscriber.abort();
        ready(Ok(()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn channels_follow_node_compute_channel() {
        let ns = "socket.io#/chat#";
        let one = [Room::Borrowed("lobby")];
        let d = SubscriptionMode::Dynamic;
        assert_eq!(
            channel_for(d, ns, kind::BROADCAST, false, &one),
            "socket.io#/chat#lobby#"
        );
        assert_eq!(channel_for(d, ns, kind::BROADCAST, true, &one), ns);
        assert_eq!(
            channel_for(SubscriptionMode::Static, ns, kind::BROADCAST, false, &one),
            ns
        );
        let two = [Room::Borrowed("a"), Room::Borrowed("b")];
        assert_eq!(channel_for(d, ns, kind::BROADCAST, false, &two), ns);
        assert_eq!(channel_for(d, ns, kind::SOCKETS_JOIN, false, &one), ns);
        // 20 UTF-16 code units: taken for a socket id, even when it is a room.
        let sidlike = [Room::Borrowed("abcdefghijklmnopqrst")];
        assert_eq!(channel_for(d, ns, kind::BROADCAST, false, &sidlike), ns);
        // 19 characters, but 20 code units in JavaScript.
        assert!(looks_like_a_socket_id("abcdefghijklmnopqr😀"));
    }

    #[test]
    fn json_unless_binary() {
        let data = msgpack::map(vec![(
            "packet",
            Mp::Array(vec![Mp::from("ev"), Mp::from(1)]),
        )]);
        let body = encode_message(kind::SERVER_SIDE_EMIT, data, "abc", "/");
        assert_eq!(
            String::from_utf8(body).unwrap(),
            r#"{"type":9,"data":{"packet":["ev",1]},"uid":"abc","nsp":"/"}"#
        );
        let data = msgpack::map(vec![("packet", Mp::Binary(vec![1, 2]))]);
        let body = encode_message(kind::BROADCAST, data, "abc", "/");
        assert_eq!(body[0], 0x84); // a msgpack map of 4
        let back = decode_message(&body).unwrap();
        assert_eq!(msgpack::get(&back, "type").and_then(Mp::as_u64), Some(3));
    }

    #[test]
    fn garbage_is_an_error_not_a_panic() {
        for bad in [&b"{not json"[..], b"\xc1", b"", b"\x92\x01"] {
            let _ = decode_message(bad);
        }
    }
}
