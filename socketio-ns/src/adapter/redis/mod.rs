//! A Redis adapter that speaks the protocol of `@socket.io/redis-adapter` 8.3 (the "classic"
//! adapter, `createAdapter`): our servers and Node.js servers share rooms and broadcasts
//! through one Redis, so a Node cluster can be replaced one process at a time.
//!
//! Feature `redis`. Build the servers with [`RedisAdapterFactory`]:
//!
//! ```no_run
//! # async fn f() -> Result<(), Box<dyn std::error::Error>> {
//! use socketio_ns::adapter::redis::RedisAdapterFactory;
//! let adapter = RedisAdapterFactory::new("redis://127.0.0.1:6379")?;
//! let server = socketio_ns::Server::builder()
//!     .adapter(adapter)
//!     .on_server_event(|ev| println!("{} from another server: {:?}", ev.event, ev.args))
//!     .build();
//! # Ok(()) }
//! ```
//!
//! Processes that are not servers (a CLI, a worker) send to the cluster's sockets with
//! [`RedisEmitter`], which publishes what `@socket.io/redis-emitter` 5.1 publishes.
//!
//! [`ShardedRedisAdapterFactory`] (or [`RedisAdapterFactory::sharded`]) builds the sharded
//! adapter instead: the protocol of `createShardedAdapter`, on Redis 7 sharded Pub/Sub (see
//! [`ShardedRedisAdapter`]).
//!
//! The [`streams`] module holds the other kind, [`RedisStreamsAdapterFactory`], which speaks the
//! protocol of `@socket.io/redis-streams-adapter` 0.3 and keeps connection state recovery on
//! across processes.
//!
//! # The wire
//!
//! With `key` the prefix (default `socket.io`) and `nsp` the namespace path:
//! - broadcasts are published msgpack-encoded as `[uid, {type, data, nsp}, {rooms, except,
//!   flags}]` on `key#nsp#`, or on `key#nsp#room#` when exactly one room is targeted; every
//!   process receives them with `PSUBSCRIBE key#nsp#*`. Binary arguments are msgpack `bin`.
//! - requests are JSON on `key-request#nsp#` (broadcasts with acks: msgpack), responses JSON
//!   (acks: msgpack) on `key-response#nsp#`, or on `key-response#nsp#<uid>#` of the
//!   requesting process with [`RedisAdapterFactory::publish_on_specific_response_channel`].
//! - how many processes serve the namespace is `PUBSUB NUMSUB key-request#nsp#`.
//!
//! `uid` identifies a process: each adapter ignores its own messages.
//!
//! # Failures
//!
//! Every operation is applied to this process's sockets first, then published: when Redis is
//! unreachable local delivery goes on and the operation returns an [`AdapterError`] after at
//! most the requests timeout (default 5 s) instead of hanging. The subscriber reconnects by
//! itself (with a backoff up to 2 s) and subscribes again. A message on the channels that cannot
//! be decoded is dropped with a `tracing` warning.
//!
//! # Where Node's behaviour is matched although odd
//!
//! - Rooms are strings here; Node lets a socket join a *number*. Numeric rooms on the wire are
//!   read as their decimal text, so Node's room `42` and our room `"42"` are one room here.
//! - `serverSideEmit` with acks waits for `PUBSUB NUMSUB - 1` answers: every subscriber of
//!   the request channel is taken for a server, as Node does.
//! - A broadcast with acks reports each remote socket's answer without its id (the protocol
//!   does not carry it): such sockets appear in [`crate::BroadcastAcks`] under a made-up id
//!   `<request id>~<n>`.

/// The `Adapter` methods every Redis adapter answers from its local rooms alone, as Node's
/// `ClusterAdapter` does: expanded inside each `impl Adapter`, with `inner.local` the
/// process's [`LocalAdapter`](crate::adapter::LocalAdapter).
macro_rules! local_room_reads {
    () => {
        fn socket_rooms(&self, sid: &Sid) -> Vec<Room> {
            self.inner.local.socket_rooms(sid)
        }

        fn socket_room_count(&self, sid: &Sid) -> usize {
            self.inner.local.socket_room_count(sid)
        }

        fn local_sockets(&self, opts: &BroadcastOptions) -> Vec<Sid> {
            self.inner.local.local_sockets(opts)
        }

        fn local_rooms(&self) -> Vec<Room> {
            self.inner.local.rooms_local()
        }
    };
}

/// The membership methods of an adapter that only records joins and leaves locally (the
/// classic and the streams adapters; the sharded one also subscribes to room channels).
macro_rules! local_membership {
    () => {
        fn add_all(&self, sid: &Sid, rooms: &[Room]) {
            self.inner.local.add_all(sid, rooms);
        }

        fn del(&self, sid: &Sid, rooms: &[Room]) {
            self.inner.local.del(sid, rooms);
        }

        fn del_all(&self, sid: &Sid) {
            self.inner.local.del_all(sid);
        }
    };
}

mod emitter;
mod msgpack;
mod sharded;
pub mod streams;
mod wire;

pub use emitter::{RedisEmitter, RedisEmitterOperator};
pub use sharded::{ShardedRedisAdapter, ShardedRedisAdapterFactory, SubscriptionMode};
pub use streams::{RedisStreamsAdapter, RedisStreamsAdapterFactory};

use std::collections::HashMap;
use std::fmt;
use std::future::Future;
use std::sync::{Arc, Mutex, RwLock, Weak};
use std::time::Duration;

use bytes::Bytes;
use futures_util::StreamExt;
use redis::aio::{ConnectionManager, ConnectionManagerConfig};
use rmpv::Value as Mp;
use serde_json::{Value, json};
use tokio::sync::{OnceCell, mpsc};

use self::wire::kind;
use super::operator::broadcast_ack_id;
use super::{
    AckSink, Adapter, AdapterError, AdapterFactory, BoxFuture, BroadcastOptions, BroadcastPacket,
    LocalAdapter, Room, ServerEvent, ServerEventAck, ServerEventHandler, Sid, SocketEmitter,
    SocketInfo,
};
use crate::codec::socketio::RawArgs;
use crate::codec::socketio::encode;
use crate::connection::AckEvent;

/// Builds a [`RedisAdapter`] for each namespace; they share one publishing connection, and
/// each namespace has its own subscribing connection.
///
/// Adapters are created when the server is built (and for dynamic namespaces, on their first
/// connection): build the server inside a tokio runtime.
#[derive(Clone)]
pub struct RedisAdapterFactory {
    config: Arc<Config>,
}

struct Config {
    client: redis::Client,
    key: String,
    requests_timeout: Duration,
    specific_response_channel: bool,
    publisher: OnceCell<ConnectionManager>,
}

impl fmt::Debug for RedisAdapterFactory {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RedisAdapterFactory")
            .field("key", &self.config.key)
            .field("requests_timeout", &self.config.requests_timeout)
            .finish_non_exhaustive()
    }
}

impl RedisAdapterFactory {
    /// Adapters on the Redis at `url` (`redis://host:port/db`). Nothing connects until a
    /// namespace is created.
    pub fn new(url: &str) -> Result<Self, AdapterError> {
        let client = redis::Client::open(url).map_err(redis_error)?;
        Ok(Self::with_client(client))
    }

    /// Adapters on the Redis `client` reaches.
    pub fn with_client(client: redis::Client) -> Self {
        RedisAdapterFactory {
            config: Arc::new(Config {
                client,
                key: "socket.io".to_owned(),
                requests_timeout: Duration::from_millis(5000),
                specific_response_channel: false,
                publisher: OnceCell::new(),
            }),
        }
    }

    fn config_mut(&mut self) -> &mut Config {
        Arc::get_mut(&mut self.config).expect("configured before the factory is shared")
    }

    /// The prefix of every channel (`key` in the Node adapter). Default `socket.io`; every
    /// process of a cluster must use the same.
    pub fn key(mut self, key: impl Into<String>) -> Self {
        self.config_mut().key = key.into();
        self
    }

    /// How long a request to the other processes (fetch_sockets, all_rooms, server-side emits
    /// with acks, and any Redis command) may take before it fails (`requestsTimeout`).
    /// Default 5 s.
    pub fn requests_timeout(mut self, timeout: Duration) -> Self {
        self.config_mut().requests_timeout = timeout;
        self
    }

    /// Answer each request on the requesting process's own response channel instead of the
    /// shared one (`publishOnSpecificResponseChannel`). Default `false`.
    pub fn publish_on_specific_response_channel(mut self, on: bool) -> Self {
        self.config_mut().specific_response_channel = on;
        self
    }
}

impl AdapterFactory for RedisAdapterFactory {
    fn create(&self, sockets: Arc<dyn SocketEmitter>) -> Arc<dyn Adapter> {
        Arc::new(RedisAdapter::new(self.config.clone(), sockets))
    }
}

/// The answers a broadcast with acks receives from other processes, forwarded to its
/// [`AckSink`] under made-up socket ids.
struct RemoteAcks {
    sink: AckSink,
    expected: usize,
    answered: usize,
}

/// The broadcasts with acks of one namespace still waiting for other processes' answers, by
/// request id; every Redis adapter keeps one and feeds it the two answer messages of Node's
/// cluster protocol (`BROADCAST_CLIENT_COUNT`, `BROADCAST_ACK`).
#[derive(Clone, Default)]
struct RemoteAckTable(Arc<Mutex<HashMap<String, RemoteAcks>>>);

impl RemoteAckTable {
    /// Waits for answers to request `id` until `timeout`, when the emitter stops listening.
    fn open(&self, id: &str, sink: AckSink, timeout: Duration) {
        let acks = RemoteAcks {
            sink,
            expected: 0,
            answered: 0,
        };
        mutex(&self.0).insert(id.to_owned(), acks);
        let table = self.0.clone();
        let id = id.to_owned();
        tokio::spawn(async move {
            tokio::time::sleep(timeout).await;
            mutex(&table).remove(&id);
        });
    }

    /// Stops waiting for request `id` (its publication failed).
    fn close(&self, id: &str) {
        mutex(&self.0).remove(id);
    }

    /// Publishes broadcast-with-acks request `id` (`publish`, not started yet): waits for the
    /// answers from before it is sent, and stops waiting if it could not be.
    async fn publish(
        &self,
        id: &str,
        sink: AckSink,
        timeout: Duration,
        publish: impl Future<Output = Result<(), AdapterError>>,
    ) -> Result<(), AdapterError> {
        self.open(id, sink, timeout);
        let published = publish.await;
        if published.is_err() {
            self.close(id);
        }
        published
    }

    /// `BROADCAST_CLIENT_COUNT`: `n` more sockets will answer request `id`.
    fn expect(&self, id: &str, n: usize) {
        if let Some(acks) = mutex(&self.0).get_mut(id) {
            let sids = (acks.expected..acks.expected + n)
                .map(|i| Sid::from(format!("{id}~{i}")))
                .collect();
            acks.expected += n;
            acks.sink.expect(sids);
        }
    }

    /// `BROADCAST_ACK`: one socket answered request `id` with the arguments `packet`.
    fn answer(&self, id: &str, packet: Option<&Mp>) -> Result<(), String> {
        let mut requests = mutex(&self.0);
        let Some(acks) = requests.get_mut(id) else {
            return Ok(());
        };
        let mut attachments = Vec::new();
        let json = match packet {
            Some(v) => format!("[{}]", msgpack::to_json(v, &mut attachments)),
            None => "[]".to_owned(),
        };
        let answer = crate::AckResponse::from_json(json, attachments).map_err(|e| e.to_string())?;
        let sid = Sid::from(format!("{id}~{}", acks.answered));
        acks.answered += 1;
        acks.sink.ack(sid, answer);
        Ok(())
    }
}

/// `{rooms, except, flags}` as the cluster protocol writes broadcast options (the inverse of
/// [`mp_opts`]).
fn opts_mp(opts: &BroadcastOptions, timeout: Option<Duration>) -> Mp {
    let mut flags = Vec::new();
    if opts.volatile {
        flags.push(("volatile", Mp::from(true)));
    }
    if let Some(t) = timeout {
        flags.push(("timeout", Mp::from(t.as_millis() as u64)));
    }
    msgpack::map(vec![
        ("rooms", rooms_mp(&opts.rooms)),
        ("except", rooms_mp(&opts.except)),
        ("flags", msgpack::map(flags)),
    ])
}

/// A broadcast with acks as the sharded and streams adapters send it (`type` BROADCAST): a new
/// request id and `{packet, requestId, opts}`.
fn ack_request(
    nsp: &str,
    packet: &BroadcastPacket,
    opts: &BroadcastOptions,
    timeout: Duration,
) -> Result<(String, Mp), AdapterError> {
    let request_id = random_id();
    let data = msgpack::map(vec![
        ("packet", packet_json(nsp, packet)?),
        ("requestId", Mp::from(request_id.as_str())),
        ("opts", opts_mp(opts, Some(timeout))),
    ]);
    Ok((request_id, data))
}

/// 8 random bytes as hex, as `randomId()` of `socket.io-adapter` (the sharded and streams
/// adapters' process uids and request ids).
fn random_id() -> String {
    use rand::Rng as _;
    let n: u64 = rand::rng().random();
    format!("{n:016x}")
}

struct Inner {
    local: LocalAdapter,
    config: Arc<Config>,
    nsp: String,
    uid: String,
    /// `key#nsp#`
    channel: String,
    /// `key-request#nsp#`
    request_channel: String,
    /// `key-response#nsp#`
    response_channel: String,
    /// `key-response#nsp#uid#`
    specific_response_channel: String,
    /// Requests waiting for answers, by request id.
    requests: Mutex<HashMap<String, mpsc::UnboundedSender<Value>>>,
    /// Broadcasts with acks waiting for answers, by request id.
    ack_requests: RemoteAckTable,
    handler: RwLock<Option<ServerEventHandler>>,
}

/// Rooms and fan-out for one namespace across every process on one Redis. See the
/// [module documentation](self).
pub struct RedisAdapter {
    inner: Arc<Inner>,
    subscriber: tokio::task::AbortHandle,
}

impl fmt::Debug for RedisAdapter {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RedisAdapter")
            .field("namespace", &self.inner.nsp)
            .field("uid", &self.inner.uid)
            .finish_non_exhaustive()
    }
}

impl Drop for RedisAdapter {
    fn drop(&mut self) {
        self.subscriber.abort();
    }
}

fn redis_error(e: redis::RedisError) -> AdapterError {
    AdapterError(format!("redis: {e}"))
}

/// Runs `cmd` on the connection `conn` (connected to `client` on first use), failing after
/// `timeout` (connecting included) instead of waiting for an unreachable Redis.
async fn query<T: redis::FromRedisValue>(
    client: &redis::Client,
    conn: &OnceCell<ConnectionManager>,
    timeout: Duration,
    cmd: redis::Cmd,
) -> Result<T, AdapterError> {
    let run = async {
        let mut conn = manager(client, conn, timeout).await?;
        cmd.query_async::<T>(&mut conn).await.map_err(redis_error)
    };
    within(timeout, run).await
}

/// [`query`] for a pipeline (a `MULTI` transaction when built with `atomic()`).
async fn query_pipe<T: redis::FromRedisValue>(
    client: &redis::Client,
    conn: &OnceCell<ConnectionManager>,
    timeout: Duration,
    pipe: &redis::Pipeline,
) -> Result<T, AdapterError> {
    let run = async {
        let mut conn = manager(client, conn, timeout).await?;
        pipe.query_async::<T>(&mut conn).await.map_err(redis_error)
    };
    within(timeout, run).await
}

/// The shared connection `conn`, connected to `client` on first use.
async fn manager(
    client: &redis::Client,
    conn: &OnceCell<ConnectionManager>,
    timeout: Duration,
) -> Result<ConnectionManager, AdapterError> {
    let conn = conn
        .get_or_try_init(|| {
            let c = ConnectionManagerConfig::new()
                .set_connection_timeout(Some(timeout))
                .set_response_timeout(Some(timeout))
                .set_number_of_retries(1);
            ConnectionManager::new_with_config(client.clone(), c)
        })
        .await
        .map_err(redis_error)?;
    Ok(conn.clone())
}

/// `run`, failing after `timeout` instead of waiting for an unreachable Redis.
async fn within<T>(
    timeout: Duration,
    run: impl Future<Output = Result<T, AdapterError>>,
) -> Result<T, AdapterError> {
    match tokio::time::timeout(timeout, run).await {
        Ok(r) => r,
        Err(_) => Err(AdapterError(format!(
            "redis did not answer within {timeout:?}"
        ))),
    }
}

/// A random id of 6 alphanumeric characters (process uid, request id), as `uid2(6)`.
fn uid() -> String {
    use rand::Rng as _;
    rand::rng()
        .sample_iter(rand::distr::Alphanumeric)
        .take(6)
        .map(char::from)
        .collect()
}

fn mutex<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|x| x.into_inner())
}

impl RedisAdapter {
    fn new(config: Arc<Config>, sockets: Arc<dyn SocketEmitter>) -> Self {
        let nsp = sockets.path().to_owned();
        let key = &config.key;
        let uid = uid();
        let response_channel = format!("{key}-response#{nsp}#");
        let inner = Arc::new(Inner {
            channel: format!("{key}#{nsp}#"),
            request_channel: format!("{key}-request#{nsp}#"),
            specific_response_channel: format!("{response_channel}{uid}#"),
            response_channel,
            local: LocalAdapter::new(sockets),
            config,
            nsp,
            uid,
            requests: Mutex::default(),
            ack_requests: RemoteAckTable::default(),
            handler: RwLock::new(None),
        });
        let subscriber = tokio::spawn(subscribe_loop(Arc::downgrade(&inner))).abort_handle();
        RedisAdapter { inner, subscriber }
    }

    /// This process's id in the cluster protocol.
    pub fn uid(&self) -> &str {
        &self.inner.uid
    }
}

/// Keeps the namespace subscribed: connects, subscribes, dispatches messages until the
/// connection is lost, then starts again after a backoff. Ends when the adapter is dropped.
async fn subscribe_loop(inner: Weak<Inner>) {
    let mut backoff = Duration::from_millis(50);
    loop {
        let Some(this) = inner.upgrade() else { return };
        let client = this.config.client.clone();
        let pattern = format!("{}*", this.channel);
        let channels = [
            this.request_channel.clone(),
            this.response_channel.clone(),
            this.specific_response_channel.clone(),
        ];
        let timeout = this.config.requests_timeout;
        let nsp = this.nsp.clone();
        drop(this);
        let subscribed = tokio::time::timeout(timeout, async {
            let mut pubsub = client.get_async_pubsub().await?;
            pubsub.psubscribe(&pattern).await?;
            pubsub.subscribe(&channels).await?;
            Ok::<_, redis::RedisError>(pubsub.split())
        })
        .await;
        match subscribed {
            Ok(Ok((sink, mut stream))) => {
                tracing::info!(nsp, "redis adapter subscribed");
                backoff = Duration::from_millis(50);
                while let Some(msg) = stream.next().await {
                    let Some(this) = inner.upgrade() else { return };
                    this.on_message(msg.get_channel_name(), msg.get_payload_bytes());
                }
                drop(sink);
                tracing::warn!(nsp, "redis adapter lost its subscription; reconnecting");
            }
            Ok(Err(e)) => tracing::warn!(nsp, error = %e, "redis adapter cannot subscribe"),
            Err(_) => tracing::warn!(nsp, "redis adapter subscription timed out"),
        }
        tokio::time::sleep(backoff).await;
        backoff = (backoff * 2).min(Duration::from_secs(2));
    }
}

impl Inner {
    // ----- Redis -----

    /// Runs a command on the shared publishing connection, within the requests timeout.
    async fn query<T: redis::FromRedisValue>(&self, cmd: redis::Cmd) -> Result<T, AdapterError> {
        let cfg = &self.config;
        query(&cfg.client, &cfg.publisher, cfg.requests_timeout, cmd).await
    }

    async fn publish(&self, channel: &str, payload: Vec<u8>) -> Result<(), AdapterError> {
        let mut cmd = redis::cmd("PUBLISH");
        cmd.arg(channel).arg(payload);
        self.query::<i64>(cmd).await.map(drop)
    }

    /// Publishes from synchronous code, in a task of its own.
    fn publish_later(self: &Arc<Self>, channel: String, payload: Vec<u8>) {
        let this = self.clone();
        tokio::spawn(async move {
            if let Err(e) = this.publish(&channel, payload).await {
                tracing::warn!(nsp = this.nsp, error = %e, "redis adapter could not publish");
            }
        });
    }

    /// The channel answers to the process `requester` go to.
    fn response_channel_for(&self, requester: Option<&str>) -> String {
        match requester {
            Some(uid) if self.config.specific_response_channel => {
                format!("{}{uid}#", self.response_channel)
            }
            _ => self.response_channel.clone(),
        }
    }

    async fn server_count(&self) -> Result<usize, AdapterError> {
        let mut cmd = redis::cmd("PUBSUB");
        cmd.arg("NUMSUB").arg(&self.request_channel);
        let (_, n): (String, usize) = self.query(cmd).await?;
        Ok(n)
    }

    /// Publishes `request` (given a fresh `requestId`) and gathers `expected` answers, or
    /// fails at the requests timeout.
    async fn request(
        &self,
        mut request: Value,
        expected: usize,
        what: &str,
    ) -> Result<Vec<Value>, AdapterError> {
        let id = uid();
        request["requestId"] = Value::String(id.clone());
        let (tx, mut rx) = mpsc::unbounded_channel();
        mutex(&self.requests).insert(id.clone(), tx);
        let _cleanup = Cleanup(&self.requests, &id);
        self.publish(&self.request_channel, request.to_string().into_bytes())
            .await?;
        let mut answers = Vec::with_capacity(expected);
        let deadline = tokio::time::Instant::now() + self.config.requests_timeout;
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

    fn on_message(self: &Arc<Self>, channel: &str, payload: &[u8]) {
        if channel.starts_with(&self.channel) {
            self.on_broadcast(payload);
        } else if channel == self.request_channel {
            self.on_request(payload);
        } else if channel.starts_with(&self.response_channel) {
            self.on_response(payload);
        }
    }

    fn warn(&self, what: &str, why: &str) {
        tracing::warn!(
            nsp = self.nsp,
            why,
            "redis adapter ignored a malformed {what}"
        );
    }

    /// `[uid, packet, opts]` published by another process's broadcast.
    fn on_broadcast(&self, payload: &[u8]) {
        let msg = match msgpack::decode(payload) {
            Ok(Mp::Array(items)) if items.len() >= 2 => items,
            Ok(_) => return self.warn("broadcast", "not an array [uid, packet, opts]"),
            Err(e) => return self.warn("broadcast", &e),
        };
        if msg[0].as_str() == Some(self.uid.as_str()) {
            return;
        }
        let packet = &msg[1];
        if msgpack::get(packet, "nsp")
            .and_then(Mp::as_str)
            .unwrap_or("/")
            != self.nsp
        {
            return;
        }
        let opts = msg.get(2).map_or_else(BroadcastOptions::default, mp_opts);
        match packet_of(&self.nsp, packet, None) {
            Ok(p) => {
                self.local.broadcast_local(&p, &opts);
            }
            Err(e) => self.warn("broadcast", &e),
        }
    }

    fn on_request(self: &Arc<Self>, payload: &[u8]) {
        if payload.first() == Some(&b'{') {
            match serde_json::from_slice::<Value>(payload) {
                Ok(req) => self.on_json_request(req),
                Err(e) => self.warn("request", &e.to_string()),
            }
            return;
        }
        let msg = match msgpack::decode(payload) {
            Ok(m) => m,
            Err(e) => return self.warn("request", &e),
        };
        let kind = msgpack::get(&msg, "type").and_then(Mp::as_u64);
        if kind == Some(kind::BROADCAST) {
            self.on_broadcast_request(&msg);
        } else {
            // Other requests are JSON in the Node adapter; take a msgpack one all the same.
            let mut attachments = Vec::new();
            match serde_json::from_str(&msgpack::to_json(&msg, &mut attachments)) {
                Ok(req) => self.on_json_request(req),
                Err(e) => self.warn("request", &e.to_string()),
            }
        }
    }

    fn on_json_request(self: &Arc<Self>, req: Value) {
        let from = req.get("uid").and_then(Value::as_str);
        if from == Some(self.uid.as_str()) {
            // Ours: already applied to this process's sockets.
            return;
        }
        let Some(kind) = req.get("type").and_then(Value::as_u64) else {
            return self.warn("request", "no type");
        };
        let request_id = req.get("requestId").cloned();
        let reply = |body: Value| {
            self.publish_later(
                self.response_channel_for(from),
                body.to_string().into_bytes(),
            );
        };
        let opts = req.get("opts").map(|o| wire::opts_of(Some(o)));
        let single = || {
            let sid: Sid = req.get("sid")?.as_str()?.into();
            self.local.sockets().contains(&sid).then_some(sid)
        };
        match kind {
            kind::SOCKETS => {
                let opts = BroadcastOptions {
                    rooms: wire::rooms_of(req.get("rooms")),
                    ..Default::default()
                };
                let ids: Vec<String> = self
                    .local
                    .local_sockets(&opts)
                    .iter()
                    .map(|s| s.to_string())
                    .collect();
                reply(json!({ "requestId": request_id, "sockets": ids }));
            }
            kind::ALL_ROOMS => {
                reply(json!({ "requestId": request_id, "rooms": self.local.rooms_local() }));
            }
            kind::REMOTE_JOIN | kind::REMOTE_LEAVE => {
                let join = kind == kind::REMOTE_JOIN;
                if let Some(opts) = opts {
                    let rooms = wire::rooms_of(req.get("rooms"));
                    if join {
                        self.local.add_sockets_local(&opts, &rooms);
                    } else {
                        self.local.del_sockets_local(&opts, &rooms);
                    }
                } else if let Some(sid) = single() {
                    let rooms = wire::rooms_of(Some(&json!([req.get("room")])));
                    if join {
                        self.local.add_all(&sid, &rooms);
                    } else {
                        self.local.del(&sid, &rooms);
                    }
                    reply(json!({ "requestId": request_id }));
                }
            }
            kind::REMOTE_DISCONNECT => {
                let close = req.get("close").and_then(Value::as_bool).unwrap_or(false);
                if let Some(opts) = opts {
                    self.local.disconnect_sockets_local(&opts, close);
                } else if let Some(sid) = single() {
                    let opts = BroadcastOptions {
                        rooms: vec![Room::Owned(sid.to_string())],
                        ..Default::default()
                    };
                    self.local.disconnect_sockets_local(&opts, close);
                    reply(json!({ "requestId": request_id }));
                }
            }
            kind::REMOTE_FETCH => {
                let sockets: Vec<Value> = self
                    .local
                    .fetch_sockets_local(&opts.unwrap_or_default())
                    .iter()
                    .map(wire::socket_json)
                    .collect();
                reply(json!({ "requestId": request_id, "sockets": sockets }));
            }
            kind::SERVER_SIDE_EMIT => self.on_server_side_emit(&req),
            other => tracing::debug!(nsp = self.nsp, other, "unknown request type ignored"),
        }
    }

    fn on_server_side_emit(self: &Arc<Self>, req: &Value) {
        let Some(Value::Array(data)) = req.get("data") else {
            return self.warn("server-side emit", "no data array");
        };
        let Some(event) = data.first().and_then(Value::as_str) else {
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
        let ack = req.get("requestId").map(|id| {
            let this = self.clone();
            let id = id.clone();
            ServerEventAck::new(move |answer| {
                // Always on the shared response channel, as the Node adapter answers.
                let body =
                    json!({ "type": kind::SERVER_SIDE_EMIT, "requestId": id, "data": answer });
                this.publish_later(this.response_channel.clone(), body.to_string().into_bytes());
            })
        });
        handler(ServerEvent {
            namespace: self.nsp.clone(),
            event: event.to_owned(),
            args: data[1..].to_vec(),
            ack,
        });
    }

    /// A broadcast with acks from another process: deliver to our sockets, report how many,
    /// then forward each answer.
    fn on_broadcast_request(self: &Arc<Self>, msg: &Mp) {
        let from = msgpack::get(msg, "uid").and_then(Mp::as_str);
        if from == Some(self.uid.as_str()) {
            return;
        }
        let Some(request_id) = msgpack::get(msg, "requestId").and_then(Mp::as_str) else {
            return self.warn("broadcast request", "no requestId");
        };
        let Some(packet) = msgpack::get(msg, "packet") else {
            return self.warn("broadcast request", "no packet");
        };
        if msgpack::get(packet, "nsp")
            .and_then(Mp::as_str)
            .unwrap_or("/")
            != self.nsp
        {
            return;
        }
        let opts = msgpack::get(msg, "opts").map_or_else(BroadcastOptions::default, mp_opts);
        let wait = msgpack::get(msg, "opts")
            .and_then(|o| msgpack::get(o, "flags"))
            .and_then(|f| msgpack::get(f, "timeout"))
            .and_then(|t| t.as_u64().or_else(|| t.as_f64().map(|f| f as u64)))
            .map_or(self.config.requests_timeout, Duration::from_millis)
            .min(Duration::from_secs(3600));
        let packet = match packet_of(&self.nsp, packet, Some(broadcast_ack_id())) {
            Ok(p) => p,
            Err(e) => return self.warn("broadcast request", &e),
        };
        let (sink, mut rx) = AckSink::channel();
        self.local.broadcast_with_ack_local(&packet, &opts, &sink);
        drop(sink);
        let channel = self.response_channel_for(from);
        let request_id = request_id.to_owned();
        let this = self.clone();
        tokio::spawn(async move {
            let deadline = tokio::time::Instant::now() + wait;
            let mut expected = None;
            let mut answered = 0;
            while expected.is_none_or(|n| answered < n) {
                let ev = match tokio::time::timeout_at(deadline, rx.recv()).await {
                    Ok(Some(ev)) => ev,
                    _ => break,
                };
                let body = match ev {
                    AckEvent::Expect(sids) => {
                        expected = Some(sids.len());
                        json!({
                            "type": kind::BROADCAST_CLIENT_COUNT,
                            "requestId": request_id,
                            "clientCount": sids.len(),
                        })
                        .to_string()
                        .into_bytes()
                    }
                    AckEvent::Ack(_, response) => {
                        answered += 1;
                        let mut entries = vec![
                            ("type", Mp::from(kind::BROADCAST_ACK)),
                            ("requestId", Mp::from(request_id.as_str())),
                        ];
                        // Only the first argument, as the Node server's broadcast acks.
                        if let Some(raw) = response.raw_arg(0) {
                            match msgpack::from_json(raw, response.attachments()) {
                                Ok(v) => entries.push(("packet", v)),
                                Err(e) => this.warn("ack", &e.to_string()),
                            }
                        }
                        msgpack::encode(&msgpack::map(entries))
                    }
                };
                if let Err(e) = this.publish(&channel, body).await {
                    tracing::warn!(nsp = this.nsp, error = %e, "could not forward broadcast acks");
                    break;
                }
            }
        });
    }

    fn on_response(&self, payload: &[u8]) {
        if payload.first() == Some(&b'{') {
            let res: Value = match serde_json::from_slice(payload) {
                Ok(r) => r,
                Err(e) => return self.warn("response", &e.to_string()),
            };
            let Some(id) = res.get("requestId").and_then(Value::as_str) else {
                return;
            };
            if res.get("type").and_then(Value::as_u64) == Some(kind::BROADCAST_CLIENT_COUNT) {
                let n = res.get("clientCount").and_then(Value::as_u64).unwrap_or(0);
                self.ack_requests.expect(id, n as usize);
                return;
            }
            if let Some(tx) = mutex(&self.requests).get(id) {
                let _ = tx.send(res);
            }
            return;
        }
        let msg = match msgpack::decode(payload) {
            Ok(m) => m,
            Err(e) => return self.warn("response", &e),
        };
        let Some(id) = msgpack::get(&msg, "requestId").and_then(Mp::as_str) else {
            return;
        };
        if msgpack::get(&msg, "type").and_then(Mp::as_u64) != Some(kind::BROADCAST_ACK) {
            return;
        }
        if let Err(e) = self.ack_requests.answer(id, msgpack::get(&msg, "packet")) {
            self.warn("ack", &e);
        }
    }
}

/// Removes a request's entry when its future ends, however it ends.
struct Cleanup<'a, T>(&'a Mutex<HashMap<String, T>>, &'a str);

impl<T> Drop for Cleanup<'_, T> {
    fn drop(&mut self) {
        mutex(self.0).remove(self.1);
    }
}

/// `{rooms, except, flags}` of a msgpack broadcast.
fn mp_opts(opts: &Mp) -> BroadcastOptions {
    let rooms = |k: &str| match msgpack::get(opts, k) {
        Some(Mp::Array(items)) => items
            .iter()
            .filter_map(msgpack::as_room)
            .map(Room::Owned)
            .collect(),
        _ => Vec::new(),
    };
    let volatile = msgpack::get(opts, "flags")
        .and_then(|f| msgpack::get(f, "volatile"))
        .and_then(Mp::as_bool)
        .unwrap_or(false);
    BroadcastOptions {
        rooms: rooms("rooms"),
        except: rooms("except"),
        local: false,
        volatile,
    }
}

/// The packet `{type, data, nsp}` of another process, encoded for our sockets.
fn packet_of(nsp: &str, packet: &Mp, ack_id: Option<u64>) -> Result<BroadcastPacket, String> {
    match msgpack::get(packet, "type").and_then(Mp::as_u64) {
        // EVENT, or BINARY_EVENT from an encoder that marks it.
        Some(2 | 5) => {}
        other => return Err(format!("packet type {other:?} is not an event")),
    }
    let Some(Mp::Array(data)) = msgpack::get(packet, "data") else {
        return Err("no data array".into());
    };
    let Some(event) = data.first().and_then(Mp::as_str) else {
        return Err("no event name".into());
    };
    let mut json = String::new();
    let mut attachments: Vec<Bytes> = Vec::new();
    for (i, arg) in data[1..].iter().enumerate() {
        if i > 0 {
            json.push(',');
        }
        msgpack::write_json(arg, &mut json, &mut attachments);
    }
    let args = RawArgs {
        json,
        count: data.len() - 1,
        attachments,
    };
    let encoded = encode::event(nsp, event, &args, ack_id).map_err(|e| e.to_string())?;
    Ok(BroadcastPacket::new(encoded, ack_id))
}

/// Our packet as the `{type, data, nsp}` object another process expects.
fn packet_json(nsp: &str, packet: &BroadcastPacket) -> Result<Mp, AdapterError> {
    use crate::codec::socketio::packet;
    let bad = |why: String| AdapterError(format!("cannot publish packet: {why}"));
    let body = packet.text().strip_prefix('4').unwrap_or(packet.text());
    let p = packet::decode(body, packet.attachments().len()).map_err(|e| bad(e.to_string()))?;
    let data = msgpack::from_json(p.data.unwrap_or("[]"), packet.attachments())
        .map_err(|e| bad(e.to_string()))?;
    Ok(msgpack::map(vec![
        ("type", Mp::from(2)),
        ("data", data),
        ("nsp", Mp::from(nsp)),
    ]))
}

fn rooms_mp(rooms: &[Room]) -> Mp {
    Mp::Array(rooms.iter().map(|r| Mp::from(&**r)).collect())
}

pub(super) fn ready<T: Send + 'static>(v: T) -> BoxFuture<'static, T> {
    Box::pin(std::future::ready(v))
}

impl RedisAdapter {
    /// Publishes a fire-and-forget request (join, leave, disconnect) after applying it here.
    fn remote(
        &self,
        opts: &BroadcastOptions,
        body: impl FnOnce(Value) -> Value,
    ) -> impl Future<Output = Result<(), AdapterError>> + Send + 'static {
        let inner = self.inner.clone();
        let local = opts.local;
        let request = body(json!({ "uid": inner.uid, "opts": wire::opts_json(opts) }));
        async move {
            if local {
                return Ok(());
            }
            inner
                .publish(&inner.request_channel, request.to_string().into_bytes())
                .await
        }
    }
}

impl Adapter for RedisAdapter {
    local_membership!();

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
            let msg = Mp::Array(vec![
                Mp::from(inner.uid.as_str()),
                packet_json(&inner.nsp, &packet)?,
                opts_mp(&opts, None),
            ]);
            let channel = match &opts.rooms[..] {
                [room] => format!("{}{room}#", inner.channel),
                _ => inner.channel.clone(),
            };
            inner.publish(&channel, msgpack::encode(&msg)).await
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
            let request_id = uid();
            let mut flags = vec![("timeout", Mp::from(timeout.as_millis() as u64))];
            if opts.volatile {
                flags.push(("volatile", Mp::from(true)));
            }
            let request = msgpack::map(vec![
                ("uid", Mp::from(inner.uid.as_str())),
                ("requestId", Mp::from(request_id.as_str())),
                ("type", Mp::from(kind::BROADCAST)),
                ("packet", packet_json(&inner.nsp, &packet)?),
                (
                    "opts",
                    msgpack::map(vec![
                        ("rooms", rooms_mp(&opts.rooms)),
                        ("except", rooms_mp(&opts.except)),
                        ("flags", msgpack::map(flags)),
                    ]),
                ),
            ]);
            inner.ack_requests.open(&request_id, acks, timeout);
            let published = inner
                .publish(&inner.request_channel, msgpack::encode(&request))
                .await;
            if published.is_err() {
                inner.ack_requests.close(&request_id);
            }
            published
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
            let request = json!({
                "uid": inner.uid,
                "type": kind::REMOTE_FETCH,
                "opts": wire::opts_json(&opts),
            });
            for answer in inner.request(request, servers - 1, "fetchSockets").await? {
                if let Some(Value::Array(list)) = answer.get("sockets") {
                    sockets.extend(list.iter().filter_map(|s| wire::socket_of(s, &inner.nsp)));
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
        self.inner.local.add_sockets_local(&opts, &rooms);
        Box::pin(self.remote(&opts, |mut r| {
            r["type"] = json!(kind::REMOTE_JOIN);
            r["rooms"] = json!(rooms);
            r
        }))
    }

    fn del_sockets(
        &self,
        opts: BroadcastOptions,
        rooms: Vec<Room>,
    ) -> BoxFuture<'_, Result<(), AdapterError>> {
        self.inner.local.del_sockets_local(&opts, &rooms);
        Box::pin(self.remote(&opts, |mut r| {
            r["type"] = json!(kind::REMOTE_LEAVE);
            r["rooms"] = json!(rooms);
            r
        }))
    }

    fn disconnect_sockets(
        &self,
        opts: BroadcastOptions,
        close: bool,
    ) -> BoxFuture<'_, Result<(), AdapterError>> {
        self.inner.local.disconnect_sockets_local(&opts, close);
        Box::pin(self.remote(&opts, |mut r| {
            r["type"] = json!(kind::REMOTE_DISCONNECT);
            r["close"] = json!(close);
            r
        }))
    }

    fn all_rooms(&self) -> BoxFuture<'_, Result<Vec<Room>, AdapterError>> {
        let inner = &self.inner;
        Box::pin(async move {
            let mut rooms = inner.local.rooms_local();
            let servers = inner.server_count().await?;
            if servers > 1 {
                let request = json!({ "uid": inner.uid, "type": kind::ALL_ROOMS });
                for answer in inner.request(request, servers - 1, "allRooms").await? {
                    rooms.extend(wire::rooms_of(answer.get("rooms")));
                }
            }
            rooms.sort();
            rooms.dedup();
            Ok(rooms)
        })
    }

    fn server_side_emit(&self, data: Vec<Value>) -> BoxFuture<'_, Result<(), AdapterError>> {
        let inner = &self.inner;
        Box::pin(async move {
            let request = json!({ "uid": inner.uid, "type": kind::SERVER_SIDE_EMIT, "data": data });
            inner
                .publish(&inner.request_channel, request.to_string().into_bytes())
                .await
        })
    }

    fn server_side_emit_with_ack(
        &self,
        data: Vec<Value>,
    ) -> BoxFuture<'_, Result<Vec<Value>, AdapterError>> {
        let inner = &self.inner;
        Box::pin(async move {
            // Every subscriber of the request channel but this one, as Node counts.
            let others = inner.server_count().await?.saturating_sub(1);
            if others == 0 {
                return Ok(Vec::new());
            }
            let request = json!({ "uid": inner.uid, "type": kind::SERVER_SIDE_EMIT, "data": data });
            let answers = inner.request(request, others, "serverSideEmit").await?;
            Ok(answers
                .into_iter()
                .map(|mut a| a.get_mut("data").map(Value::take).unwrap_or(Value::Null))
                .collect())
        })
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
