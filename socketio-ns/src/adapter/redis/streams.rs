//! An adapter that speaks the protocol of `@socket.io/redis-streams-adapter` 0.3: our servers
//! and Node.js servers share rooms and broadcasts through Redis streams, and **connection state
//! recovery works across processes** — a client that lost its connection to one server comes
//! back on another with its id, rooms, data and the events it missed.
//!
//! Feature `redis`. Build the servers with [`RedisStreamsAdapterFactory`] and turn recovery on:
//!
//! ```no_run
//! # async fn f() -> Result<(), Box<dyn std::error::Error>> {
//! use socketio_ns::ConnectionStateRecovery;
//! use socketio_ns::adapter::redis::RedisStreamsAdapterFactory;
//! let adapter = RedisStreamsAdapterFactory::new("redis://127.0.0.1:6379")?; // stream "socket.io"
//! let server = socketio_ns::Server::builder()
//!     .adapter(adapter)
//!     .connection_state_recovery(ConnectionStateRecovery::new())
//!     .build();
//! # Ok(()) }
//! ```
//!
//! # The wire
//!
//! With `prefix` the channel prefix (default `socket.io`), `nsp` the namespace path and `uid`
//! a process's random id (16 hex digits):
//! - broadcasts without acks, `sockets_join`, `sockets_leave` and `disconnect_sockets` are
//!   appended to the stream (`socket.io`, or `socket.io-<i>` with several streams, `i` from the
//!   namespace's Java-style string hash) with `XADD <stream> MAXLEN ~ <max_len> *` and the
//!   fields `uid`, `nsp`, `type` (the cluster message type as decimal text: 3 broadcast,
//!   4 join, 5 leave, 6 disconnect) and `data`: JSON text, or base64 of msgpack when it holds
//!   binary. Every process reads the stream with `XREAD BLOCK <block> COUNT <read_count>`.
//! - requests that need no ordering (broadcasts with acks, `fetch_sockets`, server-side emits)
//!   are msgpack `{type, data, uid, nsp}` published on `prefix#nsp#`; answers go to the
//!   requester's `prefix#nsp#uid#`. How many processes serve the namespace is
//!   `PUBSUB NUMSUB prefix#nsp#`.
//! - the offset a client remembers is the id of the stream entry of the broadcast.
//! - a disconnected socket's session is `SET sio:session:<pid> <base64 msgpack {sid, pid,
//!   rooms, data}> PX <max disconnection duration>`; a process that sees `{pid, offset}` in a
//!   CONNECT takes it (`GET` + `DEL` in `MULTI`), checks that the offset is still in the
//!   stream, and replays the broadcasts after it (`XRANGE`) that the session's rooms select.
//!
//! # Recovery on another process
//!
//! The namespace *value* of a socket lives in the process it connected to and does not travel.
//! When the client comes back to the same process, the parked value resumes as with the
//! in-memory adapter. On another process the socket gets a **fresh value**: `initialize` and
//! `recv_connect` run again with [`crate::Context::recovered`] `true`, the socket has its old
//! id, its rooms, its [`crate::Context::data`] (what `socket.data` is in Node: JSON, set with
//! [`crate::Context::set_data`], restored by both kinds of servers), and the events it missed
//! arrive before the CONNECT reply, in order, each once. The value parked on the first process
//! stays parked until the recovery duration passes, then runs `recv_disconnect`. Connect
//! middlewares run again unless `skip_middlewares` (the default skips them, as Node does).
//!
//! Not replayed, as in Node: emits to one socket (`cx.emit`, jobs' `try_emit`: they are not
//! appended to the stream, so what a parked value's jobs emit meanwhile is lost, on this process
//! too), events with acks, volatile events. A socket still receives in the order of the calls:
//! with recovery on, a broadcast reaches this process's sockets once appended (it needs its entry
//! id), and an emit to one socket waits behind the broadcasts queued before it.
//!
//! # Failures
//!
//! With Redis unreachable, broadcasts still reach this process's sockets (not stamped with an
//! offset) and the call returns an [`AdapterError`]: with recovery on, the first broadcast after
//! Redis went away waits for the append to fail (at most the requests timeout, default 5 s),
//! the following ones are delivered at once while Redis stays unreachable. Requests fail within
//! the timeout. The reader reconnects by itself (backoff up to 2 s) and resumes
//! from the last entry it read, so nothing appended meanwhile is missed. An entry or message
//! that does not decode is dropped with a `tracing` warning.
//!
//! # Differences with the Node adapter
//!
//! Each namespace reads the stream on a connection of its own (Node shares one per stream),
//! and checks every second, with one pipelined `EXISTS` per batch, whether the sessions it
//! parked were taken by another process;
//! `useShardedPubSub` (Redis cluster) is not supported; `all_rooms` reports this process's
//! rooms only (the protocol has no such request).

use std::collections::HashMap;
use std::fmt;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, OnceLock, RwLock, Weak};
use std::time::Duration;

use base64::Engine as _;
use futures_util::StreamExt;
use redis::aio::ConnectionManager;
use rmpv::Value as Mp;
use serde_json::Value;
use tokio::sync::{OnceCell, mpsc, oneshot};

use super::{
    Cleanup, RemoteAckTable, ack_request, msgpack, mutex, opts_mp, packet_json, packet_of,
    query_pipe, random_id, ready, redis_error, rooms_mp, wire,
};
use crate::adapter::operator::broadcast_ack_id;
use crate::adapter::session::{selected, stamp};
use crate::adapter::{
    AckSink, Adapter, AdapterError, AdapterFactory, BoxFuture, BroadcastOptions, BroadcastPacket,
    LocalAdapter, RecoveredSession, ResumeFn, Room, ServerEvent, ServerEventAck,
    ServerEventHandler, SessionStore, SessionToPersist, Sid, SocketEmitter, SocketInfo,
    StoreConfig,
};
use crate::connection::AckEvent;

/// Cluster message types (`MessageType` of `socket.io-adapter`; the numbers are the wire).
mod kind {
    pub(super) const BROADCAST: u64 = 3;
    pub(super) const SOCKETS_JOIN: u64 = 4;
    pub(super) const SOCKETS_LEAVE: u64 = 5;
    pub(super) const DISCONNECT_SOCKETS: u64 = 6;
    pub(super) const FETCH_SOCKETS: u64 = 7;
    pub(super) const FETCH_SOCKETS_RESPONSE: u64 = 8;
    pub(super) const SERVER_SIDE_EMIT: u64 = 9;
    pub(super) const SERVER_SIDE_EMIT_RESPONSE: u64 = 10;
    pub(super) const BROADCAST_CLIENT_COUNT: u64 = 11;
    pub(super) const BROADCAST_ACK: u64 = 12;
}

/// Builds a [`RedisStreamsAdapter`] for each namespace. The options are those of
/// `createAdapter` in `@socket.io/redis-streams-adapter` 0.3; every process of a cluster must
/// use the same stream name, stream count, channel prefix and session key prefix.
///
/// Adapters are created when the server is built (and for dynamic namespaces, on their first
/// connection): build the server inside a tokio runtime.
#[derive(Clone)]
pub struct RedisStreamsAdapterFactory {
    config: Arc<Config>,
}

struct Config {
    client: redis::Client,
    stream_name: String,
    stream_count: u32,
    channel_prefix: String,
    max_len: u64,
    read_count: u64,
    block_time: Duration,
    session_key_prefix: String,
    requests_timeout: Duration,
    only_plaintext: bool,
    publisher: OnceCell<ConnectionManager>,
}

impl fmt::Debug for RedisStreamsAdapterFactory {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let c = &self.config;
        f.debug_struct("RedisStreamsAdapterFactory")
            .field("stream_name", &c.stream_name)
            .field("stream_count", &c.stream_count)
            .field("channel_prefix", &c.channel_prefix)
            .field("max_len", &c.max_len)
            .field("session_key_prefix", &c.session_key_prefix)
            .finish_non_exhaustive()
    }
}

impl RedisStreamsAdapterFactory {
    /// Adapters on the Redis at `url` (`redis://host:port/db`). Nothing connects until a
    /// namespace is created.
    pub fn new(url: &str) -> Result<Self, AdapterError> {
        let client = redis::Client::open(url).map_err(redis_error)?;
        Ok(Self::with_client(client))
    }

    /// Adapters on the Redis `client` reaches, with the Node adapter's defaults.
    pub fn with_client(client: redis::Client) -> Self {
        RedisStreamsAdapterFactory {
            config: Arc::new(Config {
                client,
                stream_name: "socket.io".to_owned(),
                stream_count: 1,
                channel_prefix: "socket.io".to_owned(),
                max_len: 10_000,
                read_count: 100,
                block_time: Duration::from_millis(5000),
                session_key_prefix: "sio:session:".to_owned(),
                requests_timeout: Duration::from_millis(5000),
                only_plaintext: false,
                publisher: OnceCell::new(),
            }),
        }
    }

    fn config_mut(&mut self) -> &mut Config {
        Arc::get_mut(&mut self.config).expect("configured before the factory is shared")
    }

    /// The stream's name (`streamName`). Default `socket.io`.
    pub fn stream_name(mut self, name: impl Into<String>) -> Self {
        self.config_mut().stream_name = name.into();
        self
    }

    /// How many streams the namespaces are spread over (`streamCount`): with more than one,
    /// a namespace uses `<stream name>-<i>`, `i` from a hash of its path. Default 1.
    pub fn stream_count(mut self, n: u32) -> Self {
        self.config_mut().stream_count = n.max(1);
        self
    }

    /// The prefix of the Pub/Sub channels (`channelPrefix`). Default `socket.io`.
    pub fn channel_prefix(mut self, prefix: impl Into<String>) -> Self {
        self.config_mut().channel_prefix = prefix.into();
        self
    }

    /// About how many entries the stream keeps (`maxLen`, `XADD MAXLEN ~`): a client whose
    /// offset was trimmed away connects afresh. Default 10,000.
    pub fn max_len(mut self, n: u64) -> Self {
        self.config_mut().max_len = n;
        self
    }

    /// How many entries one `XREAD` returns at most (`readCount`). Default 100.
    pub fn read_count(mut self, n: u64) -> Self {
        self.config_mut().read_count = n.max(1);
        self
    }

    /// How long one `XREAD` blocks (`blockTimeInMs`). Default 5 s.
    pub fn block_time(mut self, d: Duration) -> Self {
        self.config_mut().block_time = d;
        self
    }

    /// The prefix of the keys sessions are kept under (`sessionKeyPrefix`). Default
    /// `sio:session:`.
    pub fn session_key_prefix(mut self, prefix: impl Into<String>) -> Self {
        self.config_mut().session_key_prefix = prefix.into();
        self
    }

    /// How long a request to the other processes (fetch_sockets, server-side emits with acks)
    /// or any Redis command may take before it fails. Default 5 s, as Node's.
    pub fn requests_timeout(mut self, d: Duration) -> Self {
        self.config_mut().requests_timeout = d;
        self
    }

    /// Always write entries' data as JSON, even with binary arguments (`onlyPlaintext`; the
    /// binary then does not survive). Default `false`.
    pub fn only_plaintext(mut self, on: bool) -> Self {
        self.config_mut().only_plaintext = on;
        self
    }
}

impl AdapterFactory for RedisStreamsAdapterFactory {
    fn create(&self, sockets: Arc<dyn SocketEmitter>) -> Arc<dyn Adapter> {
        Arc::new(RedisStreamsAdapter::new(self.config.clone(), sockets))
    }
}

/// A stream entry id, `<ms>-<seq>`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
struct EntryId(u64, u64);

impl EntryId {
    fn parse(s: &str) -> Option<Self> {
        let (ms, seq) = s.split_once('-')?;
        let digits = |t: &str| !t.is_empty() && t.bytes().all(|b| b.is_ascii_digit());
        if !digits(ms) || !digits(seq) {
            return None;
        }
        Some(EntryId(ms.parse().ok()?, seq.parse().ok()?))
    }

    /// The smallest id after this one (exclusive ranges need Redis 6.2; this works on any).
    fn next(self) -> Self {
        match self.1.checked_add(1) {
            Some(seq) => EntryId(self.0, seq),
            None => EntryId(self.0 + 1, 0),
        }
    }
}

impl fmt::Display for EntryId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}-{}", self.0, self.1)
    }
}

/// One stream entry: its id and fields.
struct Entry {
    id: EntryId,
    fields: HashMap<String, String>,
}

/// `String.prototype` hash of the Node adapter (`hash * 31 + charCode`, 32-bit), over UTF-16
/// code units, and JavaScript's `%` (the sign of the dividend).
fn stream_of(config: &Config, nsp: &str) -> String {
    if config.stream_count <= 1 {
        return config.stream_name.clone();
    }
    let mut hash: i32 = 0;
    for unit in nsp.encode_utf16() {
        hash = hash.wrapping_mul(31).wrapping_add(i32::from(unit));
    }
    let i = hash % config.stream_count as i32;
    format!("{}-{i}", config.stream_name)
}

/// What the publishing task appends to the stream, in the order the calls were made.
enum Job {
    Broadcast {
        packet: BroadcastPacket,
        opts: BroadcastOptions,
        /// Already delivered to this process's sockets (recovery off, or Redis down).
        delivered: bool,
        done: oneshot::Sender<Result<(), AdapterError>>,
    },
    Other {
        kind: u64,
        data: Mp,
        done: oneshot::Sender<Result<(), AdapterError>>,
    },
}

struct Inner {
    local: LocalAdapter,
    config: Arc<Config>,
    nsp: String,
    uid: String,
    stream: String,
    /// `prefix#nsp#`
    public_channel: String,
    /// `prefix#nsp#uid#`
    private_channel: String,
    requests: Mutex<HashMap<String, mpsc::UnboundedSender<Mp>>>,
    ack_requests: RemoteAckTable,
    handler: RwLock<Option<ServerEventHandler>>,
    recovery: OnceLock<StoreConfig>,
    /// Held (shared) while a batch is appended and delivered here, and while the reader
    /// delivers an entry; held (exclusive) while a session is restored, so that each missed
    /// entry is either replayed or delivered live to the recovered socket, once.
    gate: tokio::sync::RwLock<()>,
    /// The last entry the reader processed (every entry up to it was delivered here).
    read: Mutex<Option<EntryId>>,
    /// The last entry this process appended.
    added: Mutex<Option<EntryId>>,
    /// The last Redis command failed: deliver before appending, not after.
    redis_down: AtomicBool,
    /// Appends queued and not yet delivered: a local broadcast waits behind them.
    pending: AtomicUsize,
    /// Sessions persisted here whose parked value waits: told when another process takes them.
    watched: Mutex<HashMap<String, Watch>>,
    jobs: mpsc::UnboundedSender<Job>,
}

/// A session persisted by this process, watched until it is restored or expires.
struct Watch {
    /// The socket's id.
    sid: Sid,
    /// Fired when its key disappeared before it expired and its socket is live on another
    /// process: that process took it.
    tx: oneshot::Sender<()>,
    /// Handed to the parked value ([`Adapter::restored_elsewhere`]).
    rx: Option<oneshot::Receiver<()>>,
    /// The key is written (watching an unwritten key would see it gone).
    armed: bool,
    /// When the key expires by itself.
    until: tokio::time::Instant,
}

/// Rooms, fan-out and connection state recovery for one namespace across every process on one
/// Redis. See the [module documentation](self).
pub struct RedisStreamsAdapter {
    inner: Arc<Inner>,
    tasks: [tokio::task::AbortHandle; 4],
}

impl fmt::Debug for RedisStreamsAdapter {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RedisStreamsAdapter")
            .field("namespace", &self.inner.nsp)
            .field("uid", &self.inner.uid)
            .field("stream", &self.inner.stream)
            .finish_non_exhaustive()
    }
}

impl Drop for RedisStreamsAdapter {
    fn drop(&mut self) {
        self.tasks.iter().for_each(|t| t.abort());
    }
}

impl RedisStreamsAdapter {
    fn new(config: Arc<Config>, sockets: Arc<dyn SocketEmitter>) -> Self {
        let nsp = sockets.path().to_owned();
        let uid = random_id();
        let prefix = &config.channel_prefix;
        let public_channel = format!("{prefix}#{nsp}#");
        let (jobs, rx) = mpsc::unbounded_channel();
        let inner = Arc::new(Inner {
            local: LocalAdapter::new(sockets),
            stream: stream_of(&config, &nsp),
            private_channel: format!("{public_channel}{uid}#"),
            public_channel,
            config,
            nsp,
            uid,
            requests: Mutex::default(),
            ack_requests: RemoteAckTable::default(),
            handler: RwLock::new(None),
            recovery: OnceLock::new(),
            gate: tokio::sync::RwLock::new(()),
            read: Mutex::new(None),
            added: Mutex::new(None),
            redis_down: AtomicBool::new(false),
            watched: Mutex::default(),
            pending: AtomicUsize::new(0),
            jobs,
        });
        let weak = Arc::downgrade(&inner);
        let tasks = [
            tokio::spawn(subscribe_loop(weak.clone())).abort_handle(),
            tokio::spawn(read_loop(weak.clone())).abort_handle(),
            tokio::spawn(publish_loop(weak.clone(), rx)).abort_handle(),
            tokio::spawn(watch_loop(weak)).abort_handle(),
        ];
        RedisStreamsAdapter { inner, tasks }
    }

    /// This process's id in the cluster protocol.
    pub fn uid(&self) -> &str {
        &self.inner.uid
    }

    /// The stream this namespace uses.
    pub fn stream(&self) -> &str {
        &self.inner.stream
    }
}

// ----- the three tasks -----

/// Keeps the namespace subscribed to its public and private channels (requests and answers).
async fn subscribe_loop(inner: Weak<Inner>) {
    let mut backoff = Duration::from_millis(50);
    loop {
        let Some(this) = inner.upgrade() else { return };
        let client = this.config.client.clone();
        let channels = [this.public_channel.clone(), this.private_channel.clone()];
        let timeout = this.config.requests_timeout;
        let nsp = this.nsp.clone();
        drop(this);
        let subscribed = tokio::time::timeout(timeout, async {
            let mut pubsub = client.get_async_pubsub().await?;
            pubsub.subscribe(&channels).await?;
            Ok::<_, redis::RedisError>(pubsub.split())
        })
        .await;
        match subscribed {
            Ok(Ok((sink, mut stream))) => {
                tracing::info!(nsp, "redis streams adapter subscribed");
                backoff = Duration::from_millis(50);
                while let Some(msg) = stream.next().await {
                    let Some(this) = inner.upgrade() else { return };
                    this.on_pubsub(msg.get_payload_bytes());
                }
                drop(sink);
                tracing::warn!(
                    nsp,
                    "redis streams adapter lost its subscription; reconnecting"
                );
            }
            Ok(Err(e)) => tracing::warn!(nsp, error = %e, "redis streams adapter cannot subscribe"),
            Err(_) => tracing::warn!(nsp, "redis streams adapter subscription timed out"),
        }
        tokio::time::sleep(backoff).await;
        backoff = (backoff * 2).min(Duration::from_secs(2));
    }
}

/// Reads the stream from where this adapter started, delivering other processes' entries;
/// after a lost connection it reconnects and goes on from the last entry it read.
async fn read_loop(inner: Weak<Inner>) {
    let mut backoff = Duration::from_millis(50);
    let mut conn: Option<redis::aio::MultiplexedConnection> = None;
    loop {
        let Some(this) = inner.upgrade() else { return };
        let client = this.config.client.clone();
        let (stream, block, count) = (
            this.stream.clone(),
            this.config.block_time,
            this.config.read_count,
        );
        let timeout = this.config.requests_timeout;
        let nsp = this.nsp.clone();
        let from = *mutex(&this.read);
        drop(this);
        let result = async {
            let mut c = match conn.take() {
                Some(c) => c,
                // Its own connection, without the client's response timeout (500 ms by
                // default, shorter than a blocking read): the reads are timed out here.
                None => {
                    let config = redis::AsyncConnectionConfig::new()
                        .set_connection_timeout(Some(timeout))
                        .set_response_timeout(None);
                    tokio::time::timeout(
                        timeout,
                        client.get_multiplexed_async_connection_with_config(&config),
                    )
                    .await
                    .map_err(|_| "connect timed out".to_owned())?
                    .map_err(|e| e.to_string())?
                }
            };
            let from = match from {
                Some(id) => id,
                // The first read starts at the stream's end, known by its last entry.
                None => {
                    let mut cmd = redis::cmd("XREVRANGE");
                    cmd.arg(&stream).arg("+").arg("-").arg("COUNT").arg(1);
                    let last: redis::Value = tokio::time::timeout(timeout, cmd.query_async(&mut c))
                        .await
                        .map_err(|_| "XREVRANGE timed out".to_owned())?
                        .map_err(|e| e.to_string())?;
                    let start = entries(&last)?.last().map_or(EntryId(0, 0), |e| e.id);
                    if let Some(this) = inner.upgrade() {
                        mutex(&this.read).get_or_insert(start);
                    }
                    start
                }
            };
            let mut cmd = redis::cmd("XREAD");
            cmd.arg("BLOCK")
                .arg(block.as_millis() as u64)
                .arg("COUNT")
                .arg(count)
                .arg("STREAMS")
                .arg(&stream)
                .arg(from.to_string());
            let reply: redis::Value =
                tokio::time::timeout(block + timeout, cmd.query_async(&mut c))
                    .await
                    .map_err(|_| "XREAD timed out".to_owned())?
                    .map_err(|e| e.to_string())?;
            Ok::<_, String>((c, reply))
        }
        .await;
        let Some(this) = inner.upgrade() else { return };
        match result {
            Ok((c, reply)) => {
                conn = Some(c);
                backoff = Duration::from_millis(50);
                this.redis_down.store(false, Ordering::Release);
                let list = match &reply {
                    redis::Value::Nil => Vec::new(),
                    redis::Value::Array(streams) => match streams.first() {
                        Some(redis::Value::Array(s)) if s.len() == 2 => entries(&s[1])
                            .unwrap_or_else(|e| {
                                this.warn("XREAD reply", &e);
                                Vec::new()
                            }),
                        _ => Vec::new(),
                    },
                    redis::Value::Map(streams) => streams
                        .first()
                        .and_then(|(_, v)| entries(v).ok())
                        .unwrap_or_default(),
                    _ => Vec::new(),
                };
                for entry in list {
                    let _gate = this.gate.read().await;
                    this.on_entry(&entry);
                    *mutex(&this.read) = Some(entry.id);
                }
            }
            Err(e) => {
                conn = None;
                drop(this);
                tracing::warn!(
                    nsp,
                    error = e,
                    "redis streams adapter cannot read the stream; retrying"
                );
                tokio::time::sleep(backoff).await;
                backoff = (backoff * 2).min(Duration::from_secs(2));
            }
        }
    }
}

/// The entries of an `XREAD`/`XRANGE` reply: `[[id, [field, value, ...]], ...]`.
fn entries(v: &redis::Value) -> Result<Vec<Entry>, String> {
    let text = |v: &redis::Value| match v {
        redis::Value::BulkString(b) => Some(String::from_utf8_lossy(b).into_owned()),
        redis::Value::SimpleString(s) => Some(s.clone()),
        _ => None,
    };
    let items = match v {
        redis::Value::Array(items) => items,
        redis::Value::Nil => return Ok(Vec::new()),
        _ => return Err("not an array of entries".into()),
    };
    let mut out = Vec::with_capacity(items.len());
    for item in items {
        let redis::Value::Array(pair) = item else {
            return Err("an entry is not [id, fields]".into());
        };
        let (Some(id), Some(redis::Value::Array(kv))) = (
            pair.first()
                .and_then(text)
                .as_deref()
                .and_then(EntryId::parse),
            pair.get(1),
        ) else {
            return Err("an entry is not [id, fields]".into());
        };
        let fields = kv
            .chunks(2)
            .filter_map(|p| Some((text(p.first()?)?, text(p.get(1)?)?)))
            .collect();
        out.push(Entry { id, fields });
    }
    Ok(out)
}

/// Appends what the adapter's calls queued, in their order: all that is waiting goes in one
/// pipeline, then each broadcast is stamped with its entry id and delivered here.
async fn publish_loop(inner: Weak<Inner>, mut rx: mpsc::UnboundedReceiver<Job>) {
    while let Some(first) = rx.recv().await {
        let mut batch = vec![first];
        while batch.len() < 256 {
            match rx.try_recv() {
                Ok(job) => batch.push(job),
                Err(_) => break,
            }
        }
        let Some(this) = inner.upgrade() else { return };
        this.append(batch).await;
    }
}

/// Every second, checks whether the watched sessions' keys are still there: one that is gone
/// before it expired was taken by another process (`GET` + `DEL` when it restored it) when its
/// socket is live there; otherwise (Redis lost its data, say) its parked value waits on.
async fn watch_loop(inner: Weak<Inner>) {
    loop {
        tokio::time::sleep(Duration::from_secs(1)).await;
        let Some(this) = inner.upgrade() else { return };
        let now = tokio::time::Instant::now();
        let pids: Vec<String> = {
            let mut w = mutex(&this.watched);
            w.retain(|_, watch| !watch.tx.is_closed() && watch.until > now);
            w.iter()
                .filter(|(_, watch)| watch.armed)
                .map(|(pid, _)| pid.clone())
                .collect()
        };
        for chunk in pids.chunks(500) {
            let mut pipe = redis::pipe();
            for pid in chunk {
                pipe.cmd("EXISTS").arg(this.session_key(pid));
            }
            let Ok(exists) = this.run::<Vec<u8>>(&pipe, true).await else {
                break;
            };
            let gone: Vec<Watch> = {
                let mut w = mutex(&this.watched);
                chunk
                    .iter()
                    .zip(exists)
                    .filter(|(_, found)| *found == 0)
                    .filter_map(|(pid, _)| w.remove(pid))
                    .collect()
            };
            for watch in gone {
                let opts = BroadcastOptions {
                    rooms: vec![Room::Owned(watch.sid.to_string())],
                    ..BroadcastOptions::default()
                };
                match this.fetch_remote(&opts).await {
                    Ok(sockets) if sockets.iter().any(|s| *s.id == *watch.sid) => {
                        let _ = watch.tx.send(());
                    }
                    _ => {}
                }
            }
        }
    }
}

impl Inner {
    fn warn(&self, what: &str, why: &str) {
        tracing::warn!(
            nsp = self.nsp,
            why,
            "redis streams adapter ignored a malformed {what}"
        );
    }

    /// Runs one command that may safely run twice (a read, or a `SET` of the same value): one
    /// that failed fast (a connection Redis dropped, reconnected since) is tried once more.
    async fn query<T: redis::FromRedisValue>(&self, cmd: redis::Cmd) -> Result<T, AdapterError> {
        let pipe = redis::pipe().add_command(cmd).clone();
        let (r,): (T,) = self.run(&pipe, true).await?;
        Ok(r)
    }

    /// Runs one command that must not run twice (`PUBLISH`).
    async fn query_once<T: redis::FromRedisValue>(
        &self,
        cmd: redis::Cmd,
    ) -> Result<T, AdapterError> {
        let pipe = redis::pipe().add_command(cmd).clone();
        let (r,): (T,) = self.run(&pipe, false).await?;
        Ok(r)
    }

    /// Runs `pipe` on the shared connection within the requests timeout (with `retry`, once
    /// more after a fast failure), and records whether Redis answered.
    async fn run<T: redis::FromRedisValue>(
        &self,
        pipe: &redis::Pipeline,
        retry: bool,
    ) -> Result<T, AdapterError> {
        let cfg = &self.config;
        let started = tokio::time::Instant::now();
        let mut r = query_pipe(&cfg.client, &cfg.publisher, cfg.requests_timeout, pipe).await;
        if retry && r.is_err() && started.elapsed() < cfg.requests_timeout / 2 {
            tokio::time::sleep(Duration::from_millis(50)).await;
            r = query_pipe(&cfg.client, &cfg.publisher, cfg.requests_timeout, pipe).await;
        }
        self.redis_down.store(r.is_err(), Ordering::Release);
        r
    }

    fn recovering(&self) -> bool {
        self.recovery.get().is_some()
    }

    // ----- the stream -----

    /// Appends a batch and delivers its broadcasts here (see [`publish_loop`]).
    async fn append(&self, mut batch: Vec<Job>) {
        let _gate = self.gate.read().await;
        if self.redis_down.load(Ordering::Acquire) {
            // Redis failed last time: this process's sockets need not wait for its timeout.
            for job in &mut batch {
                if let Job::Broadcast {
                    packet,
                    opts,
                    delivered,
                    ..
                } = job
                    && !*delivered
                {
                    self.local.broadcast_local(packet, opts);
                    *delivered = true;
                }
            }
        }
        let mut pipe = redis::pipe();
        let mut encoded = Vec::with_capacity(batch.len());
        for job in &batch {
            let (kind, data) = match job {
                // Only queued behind the others, to keep their order.
                Job::Broadcast { opts, .. } if opts.local => {
                    encoded.push(Ok(false));
                    continue;
                }
                Job::Broadcast { packet, opts, .. } => match packet_json(&self.nsp, packet) {
                    Ok(p) => (
                        kind::BROADCAST,
                        msgpack::map(vec![("packet", p), ("opts", opts_mp(opts, None))]),
                    ),
                    Err(e) => {
                        encoded.push(Err(e));
                        continue;
                    }
                },
                Job::Other { kind, data, .. } => (*kind, data.clone()),
            };
            pipe.cmd("XADD")
                .arg(&self.stream)
                .arg("MAXLEN")
                .arg("~")
                .arg(self.config.max_len)
                .arg("*")
                .arg("uid")
                .arg(&self.uid)
                .arg("nsp")
                .arg(&self.nsp)
                .arg("type")
                .arg(kind.to_string())
                .arg("data")
                .arg(self.encode_data(kind, &data));
            encoded.push(Ok(true));
        }
        let ids: Result<Vec<String>, AdapterError> = if pipe.is_empty() {
            Ok(Vec::new())
        } else {
            self.run(&pipe, false).await
        };
        let mut ids = match ids {
            Ok(ids) => ids.into_iter().map(Ok).collect::<Vec<_>>().into_iter(),
            Err(e) => {
                tracing::warn!(nsp = self.nsp, error = %e, "redis streams adapter could not append");
                vec![Err(e); batch.len()].into_iter()
            }
        };
        for (job, enc) in batch.into_iter().zip(encoded) {
            let res = enc.and_then(|appended| match appended {
                true => ids.next().unwrap_or_else(|| Ok(String::new())),
                false => Ok(String::new()),
            });
            let id = res.as_ref().ok().and_then(|id| EntryId::parse(id));
            if let Some(id) = id {
                let mut added = mutex(&self.added);
                *added = (*added).max(Some(id));
            }
            match job {
                Job::Broadcast {
                    packet,
                    opts,
                    delivered,
                    done,
                } => {
                    if !delivered {
                        match id.filter(|_| SessionStore::keeps(&packet, &opts)) {
                            Some(id) => {
                                let stamped = stamp(&packet, &id.to_string());
                                self.local.broadcast_local(&stamped, &opts)
                            }
                            None => self.local.broadcast_local(&packet, &opts),
                        };
                    }
                    let _ = done.send(res.map(drop));
                }
                Job::Other { done, .. } => {
                    let _ = done.send(res.map(drop));
                }
            }
            self.pending.fetch_sub(1, Ordering::AcqRel);
        }
    }

    /// An entry's `data` field: JSON, or base64 of msgpack when it holds binary.
    fn encode_data(&self, kind: u64, data: &Mp) -> String {
        let may_hold_binary = matches!(
            kind,
            kind::BROADCAST
                | kind::FETCH_SOCKETS_RESPONSE
                | kind::SERVER_SIDE_EMIT
                | kind::SERVER_SIDE_EMIT_RESPONSE
                | kind::BROADCAST_ACK
        );
        if !self.config.only_plaintext && may_hold_binary && msgpack::has_binary(data) {
            base64::engine::general_purpose::STANDARD.encode(msgpack::encode(data))
        } else {
            msgpack::to_json(data, &mut Vec::new())
        }
    }

    /// An entry of the stream, from another process (or a previous life of this one).
    fn on_entry(&self, entry: &Entry) {
        let f = |k: &str| entry.fields.get(k).map(String::as_str);
        if f("uid") == Some(self.uid.as_str()) || f("nsp") != Some(self.nsp.as_str()) {
            return;
        }
        let Some(kind) = f("type").and_then(|t| t.parse::<u64>().ok()) else {
            return self.warn("stream entry", "no type");
        };
        let data = match f("data").map(decode_data) {
            Some(Ok(d)) => d,
            Some(Err(e)) => return self.warn("stream entry", &e),
            None => Mp::Nil,
        };
        let opts = msgpack::get(&data, "opts").map_or_else(BroadcastOptions::default, opts_of);
        let rooms = || match msgpack::get(&data, "rooms") {
            Some(Mp::Array(items)) => items
                .iter()
                .filter_map(msgpack::as_room)
                .map(Room::Owned)
                .collect(),
            _ => Vec::new(),
        };
        match kind {
            kind::BROADCAST => {
                if msgpack::get(&data, "requestId").is_some() {
                    // Broadcasts with acks travel on Pub/Sub; one in the stream is not ours to answer.
                    return;
                }
                let Some(packet) = msgpack::get(&data, "packet") else {
                    return self.warn("broadcast", "no packet");
                };
                match packet_of(&self.nsp, packet, None) {
                    Ok(p) if self.recovering() && SessionStore::keeps(&p, &opts) => {
                        self.local
                            .broadcast_local(&stamp(&p, &entry.id.to_string()), &opts);
                    }
                    Ok(p) => {
                        self.local.broadcast_local(&p, &opts);
                    }
                    Err(e) => self.warn("broadcast", &e),
                }
            }
            kind::SOCKETS_JOIN => self.local.add_sockets_local(&opts, &rooms()),
            kind::SOCKETS_LEAVE => self.local.del_sockets_local(&opts, &rooms()),
            kind::DISCONNECT_SOCKETS => {
                let close = msgpack::get(&data, "close")
                    .and_then(Mp::as_bool)
                    .unwrap_or(false);
                self.local.disconnect_sockets_local(&opts, close);
            }
            other => tracing::debug!(
                nsp = self.nsp,
                other,
                "stream entry of unknown type ignored"
            ),
        }
    }

    /// Queues an append; the future ends when it is done.
    fn enqueue(
        &self,
        make: impl FnOnce(oneshot::Sender<Result<(), AdapterError>>) -> Job,
    ) -> BoxFuture<'static, Result<(), AdapterError>> {
        let (tx, rx) = oneshot::channel();
        self.pending.fetch_add(1, Ordering::AcqRel);
        if self.jobs.send(make(tx)).is_err() {
            self.pending.fetch_sub(1, Ordering::AcqRel);
            return ready(Err(AdapterError("the adapter is closed".into())));
        }
        Box::pin(async move {
            rx.await
                .unwrap_or_else(|_| Err(AdapterError("the adapter is closed".into())))
        })
    }

    // ----- Pub/Sub -----

    async fn publish(&self, channel: &str, msg: &Mp) -> Result<(), AdapterError> {
        let mut cmd = redis::cmd("PUBLISH");
        cmd.arg(channel).arg(msgpack::encode(msg));
        self.query_once::<i64>(cmd).await.map(drop)
    }

    /// `{type, data, uid, nsp}`, as `publishAndReturnOffset` completes a message.
    fn message(&self, kind: u64, data: Mp) -> Mp {
        msgpack::map(vec![
            ("type", Mp::from(kind)),
            ("data", data),
            ("uid", Mp::from(self.uid.as_str())),
            ("nsp", Mp::from(self.nsp.as_str())),
        ])
    }

    /// Answers the process `to` on its private channel, from synchronous code.
    fn respond(self: &Arc<Self>, to: &str, kind: u64, data: Mp) {
        let this = self.clone();
        let channel = format!("{}{to}#", self.public_channel);
        let msg = self.message(kind, data);
        tokio::spawn(async move {
            if let Err(e) = this.publish(&channel, &msg).await {
                tracing::warn!(nsp = this.nsp, error = %e, "redis streams adapter could not answer");
            }
        });
    }

    async fn server_count(&self) -> Result<usize, AdapterError> {
        let mut cmd = redis::cmd("PUBSUB");
        cmd.arg("NUMSUB").arg(&self.public_channel);
        let (_, n): (String, usize) = self.query(cmd).await?;
        Ok(n)
    }

    /// Publishes a request of `kind` (its data given a fresh `requestId`) and gathers
    /// `expected` answers' data, or fails at the requests timeout.
    async fn request(
        &self,
        kind: u64,
        mut data: Vec<(&str, Mp)>,
        expected: usize,
        what: &str,
    ) -> Result<Vec<Mp>, AdapterError> {
        let id = random_id();
        data.push(("requestId", Mp::from(id.as_str())));
        let (tx, mut rx) = mpsc::unbounded_channel();
        mutex(&self.requests).insert(id.clone(), tx);
        let _cleanup = Cleanup(&self.requests, &id);
        self.publish(
            &self.public_channel,
            &self.message(kind, msgpack::map(data)),
        )
        .await?;
        let mut answers = Vec::with_capacity(expected);
        let deadline = tokio::time::Instant::now() + self.config.requests_timeout;
        while answers.len() < expected {
            match tokio::time::timeout_at(deadline, rx.recv()).await {
                Ok(Some(a)) => answers.push(a),
                Ok(None) | Err(_) => {
                    return Err(AdapterError(format!(
                        "timeout reached: only {} responses received out of {expected} ({what})",
                        answers.len()
                    )));
                }
            }
        }
        Ok(answers)
    }

    fn on_pubsub(self: &Arc<Self>, payload: &[u8]) {
        let msg = match msgpack::decode(payload) {
            Ok(m) => m,
            Err(e) => return self.warn("message", &e),
        };
        let from = msgpack::get(&msg, "uid").and_then(Mp::as_str).unwrap_or("");
        if from == self.uid {
            return;
        }
        if msgpack::get(&msg, "nsp").and_then(Mp::as_str) != Some(self.nsp.as_str()) {
            return;
        }
        let Some(kind) = msgpack::get(&msg, "type").and_then(|t| {
            t.as_u64()
                .or_else(|| t.as_str().and_then(|s| s.parse().ok()))
        }) else {
            return self.warn("message", "no type");
        };
        let data = msgpack::get(&msg, "data").cloned().unwrap_or(Mp::Nil);
        let request_id = msgpack::get(&data, "requestId")
            .and_then(Mp::as_str)
            .map(str::to_owned);
        match (kind, request_id) {
            (kind::BROADCAST, Some(id)) => self.on_broadcast_request(from, &id, &data),
            (kind::FETCH_SOCKETS, Some(id)) => {
                let opts =
                    msgpack::get(&data, "opts").map_or_else(BroadcastOptions::default, opts_of);
                let sockets: Vec<Mp> = self
                    .local
                    .fetch_sockets_local(&opts)
                    .iter()
                    .map(|s| msgpack::from_json_value(&wire::socket_json(s)))
                    .collect();
                self.respond(
                    from,
                    kind::FETCH_SOCKETS_RESPONSE,
                    msgpack::map(vec![
                        ("requestId", Mp::from(id)),
                        ("sockets", Mp::Array(sockets)),
                    ]),
                );
            }
            (kind::SERVER_SIDE_EMIT, id) => self.on_server_side_emit(from, id, &data),
            (kind::FETCH_SOCKETS_RESPONSE | kind::SERVER_SIDE_EMIT_RESPONSE, Some(id)) => {
                if let Some(tx) = mutex(&self.requests).get(&id) {
                    let _ = tx.send(data);
                }
            }
            (kind::BROADCAST_CLIENT_COUNT, Some(id)) => {
                let n = msgpack::get(&data, "clientCount")
                    .and_then(|n| n.as_u64().or_else(|| n.as_f64().map(|f| f as u64)))
                    .unwrap_or(0) as usize;
                self.ack_requests.expect(&id, n);
            }
            (kind::BROADCAST_ACK, Some(id)) => {
                if let Err(e) = self.ack_requests.answer(&id, msgpack::get(&data, "packet")) {
                    self.warn("ack", &e);
                }
            }
            (other, _) => tracing::debug!(nsp = self.nsp, other, "message of unknown type ignored"),
        }
    }

    fn on_server_side_emit(self: &Arc<Self>, from: &str, id: Option<String>, data: &Mp) {
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
        let args = packet[1..].iter().map(msgpack::to_json_value).collect();
        let ack = id.map(|id| {
            let (this, from) = (self.clone(), from.to_owned());
            ServerEventAck::new(move |answer| {
                this.respond(
                    &from,
                    kind::SERVER_SIDE_EMIT_RESPONSE,
                    msgpack::map(vec![
                        ("requestId", Mp::from(id.as_str())),
                        ("packet", msgpack::from_json_value(&answer)),
                    ]),
                );
            })
        });
        handler(ServerEvent {
            namespace: self.nsp.clone(),
            event: event.to_owned(),
            args,
            ack,
        });
    }

    /// A broadcast with acks from another process: deliver here, report how many sockets,
    /// then forward each answer (its first argument, as Node does).
    fn on_broadcast_request(self: &Arc<Self>, from: &str, id: &str, data: &Mp) {
        let Some(packet) = msgpack::get(data, "packet") else {
            return self.warn("broadcast request", "no packet");
        };
        let opts = msgpack::get(data, "opts").map_or_else(BroadcastOptions::default, opts_of);
        let wait = msgpack::get(data, "opts")
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
        let (this, from, id) = (self.clone(), from.to_owned(), id.to_owned());
        tokio::spawn(async move {
            let deadline = tokio::time::Instant::now() + wait;
            let mut expected = None;
            let mut answered = 0;
            while expected.is_none_or(|n| answered < n) {
                let ev = match tokio::time::timeout_at(deadline, rx.recv()).await {
                    Ok(Some(ev)) => ev,
                    _ => break,
                };
                match ev {
                    AckEvent::Expect(sids) => {
                        expected = Some(sids.len());
                        this.respond(
                            &from,
                            kind::BROADCAST_CLIENT_COUNT,
                            msgpack::map(vec![
                                ("requestId", Mp::from(id.as_str())),
                                ("clientCount", Mp::from(sids.len() as u64)),
                            ]),
                        );
                    }
                    AckEvent::Ack(_, response) => {
                        answered += 1;
                        let mut entries = vec![("requestId", Mp::from(id.as_str()))];
                        if let Some(raw) = response.raw_arg(0) {
                            match msgpack::from_json(raw, response.attachments()) {
                                Ok(v) => entries.push(("packet", v)),
                                Err(e) => this.warn("ack", &e.to_string()),
                            }
                        }
                        this.respond(&from, kind::BROADCAST_ACK, msgpack::map(entries));
                    }
                }
            }
        });
    }

    /// The sockets `opts` selects on the other processes.
    async fn fetch_remote(&self, opts: &BroadcastOptions) -> Result<Vec<SocketInfo>, AdapterError> {
        let servers = self.server_count().await?;
        if servers <= 1 {
            return Ok(Vec::new());
        }
        let data = vec![("opts", opts_mp(opts, None))];
        let answers = self
            .request(kind::FETCH_SOCKETS, data, servers - 1, "fetchSockets")
            .await?;
        let mut sockets = Vec::new();
        for answer in answers {
            if let Some(Mp::Array(list)) = msgpack::get(&answer, "sockets") {
                sockets.extend(
                    list.iter()
                        .filter_map(|s| wire::socket_of(&msgpack::to_json_value(s), &self.nsp)),
                );
            }
        }
        Ok(sockets)
    }

    // ----- sessions -----

    fn session_key(&self, pid: &str) -> String {
        format!("{}{pid}", self.config.session_key_prefix)
    }

    async fn restore(
        &self,
        pid: String,
        offset: Option<String>,
        resume: ResumeFn,
    ) -> Result<bool, AdapterError> {
        let offset = match offset.as_deref().map(EntryId::parse) {
            Some(None) => return Ok(false),
            Some(Some(o)) => Some(o),
            None => None,
        };
        // Parked here a moment ago: its session may still be on its way to Redis.
        let deadline = tokio::time::Instant::now() + self.config.requests_timeout;
        while mutex(&self.watched).get(&pid).is_some_and(|w| !w.armed)
            && tokio::time::Instant::now() < deadline
        {
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
        // Restored here: whatever parked it here is not told it went elsewhere.
        mutex(&self.watched).remove(&pid);
        let mut pipe = redis::pipe();
        pipe.atomic()
            .cmd("GET")
            .arg(self.session_key(&pid))
            .cmd("DEL")
            .arg(self.session_key(&pid))
            .ignore();
        let (raw,): (Option<String>,) = self.run(&pipe, false).await?;
        let Some(raw) = raw else { return Ok(false) };
        let session = match base64::engine::general_purpose::STANDARD
            .decode(raw.trim())
            .map_err(|e| e.to_string())
            .and_then(|b| msgpack::decode(&b))
        {
            Ok(s) => s,
            Err(e) => {
                self.warn("session", &e);
                return Ok(false);
            }
        };
        let Some(sid) = msgpack::get(&session, "sid").and_then(Mp::as_str) else {
            self.warn("session", "no sid");
            return Ok(false);
        };
        let rooms: Vec<Room> = match msgpack::get(&session, "rooms") {
            Some(Mp::Array(items)) => items
                .iter()
                .filter_map(msgpack::as_room)
                .map(Room::Owned)
                .collect(),
            _ => Vec::new(),
        };
        let data = msgpack::get(&session, "data")
            .filter(|d| !d.is_nil())
            .map(msgpack::to_json_value);
        // Without an offset (the client processed no broadcast), from where the socket started.
        let since = msgpack::get(&session, "since")
            .and_then(Mp::as_str)
            .and_then(EntryId::parse);
        let Some(from) = offset.or(since) else {
            return Ok(false);
        };
        // The offset must still be in the stream: older entries may have been trimmed away.
        let mut cmd = redis::cmd("XRANGE");
        cmd.arg(&self.stream)
            .arg(from.to_string())
            .arg(from.to_string());
        let found: redis::Value = self.query(cmd).await?;
        if entries(&found).map_or(true, |e| e.is_empty()) {
            tracing::debug!(nsp = self.nsp, %from, "offset not in the stream");
            return Ok(false);
        }
        // No append and no delivery here from now until the socket is live.
        let _gate = self.gate.write().await;
        let mut cmd = redis::cmd("XRANGE");
        cmd.arg(&self.stream).arg(from.next().to_string()).arg("+");
        let after: redis::Value = self.query(cmd).await?;
        let after = entries(&after).map_err(|e| AdapterError(format!("XRANGE: {e}")))?;
        let read = *mutex(&self.read);
        let mut missed = Vec::new();
        for entry in &after {
            let f = |k: &str| entry.fields.get(k).map(String::as_str);
            let own = f("uid") == Some(self.uid.as_str());
            // Entries the reader has not reached yet will be delivered live.
            if !own && read.is_none_or(|r| entry.id > r) {
                continue;
            }
            if f("nsp") != Some(self.nsp.as_str()) || f("type") != Some("3") {
                continue;
            }
            let Some(Ok(data)) = f("data").map(decode_data) else {
                continue;
            };
            if msgpack::get(&data, "requestId").is_some() {
                continue;
            }
            let opts = msgpack::get(&data, "opts").map_or_else(BroadcastOptions::default, opts_of);
            if !selected(&rooms, &opts.rooms, &opts.except) {
                continue;
            }
            let Some(packet) = msgpack::get(&data, "packet") else {
                continue;
            };
            match packet_of(&self.nsp, packet, None) {
                Ok(p) if SessionStore::keeps(&p, &opts) => {
                    missed.push(stamp(&p, &entry.id.to_string()));
                }
                Ok(_) => {}
                Err(e) => self.warn("broadcast", &e),
            }
        }
        Ok(resume(RecoveredSession {
            sid: Sid::from(sid.to_owned()),
            pid,
            rooms,
            missed,
            data,
        }))
    }
}

/// An entry's `data`: JSON text when it starts with `{`, else base64 of msgpack.
fn decode_data(s: &str) -> Result<Mp, String> {
    if s.starts_with('{') {
        msgpack::from_json(s, &[]).map_err(|e| e.to_string())
    } else {
        let bytes = base64::engine::general_purpose::STANDARD
            .decode(s)
            .map_err(|e| e.to_string())?;
        msgpack::decode(&bytes)
    }
}

fn opts_of(opts: &Mp) -> BroadcastOptions {
    super::mp_opts(opts)
}

impl RedisStreamsAdapter {
    fn append_other(
        &self,
        opts: &BroadcastOptions,
        kind: u64,
        extra: (&str, Mp),
    ) -> BoxFuture<'static, Result<(), AdapterError>> {
        if opts.local {
            return ready(Ok(()));
        }
        let data = msgpack::map(vec![("opts", opts_mp(opts, None)), extra]);
        self.inner.enqueue(|done| Job::Other { kind, data, done })
    }
}

impl Adapter for RedisStreamsAdapter {
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
        let inner = &self.inner;
        // A local broadcast is not appended; with recovery on it waits behind the appends
        // queued before it (emits to one socket among them), so that a socket receives in
        // the order of the calls.
        if opts.local && (!inner.recovering() || inner.pending.load(Ordering::Acquire) == 0) {
            inner.local.broadcast_local(&packet, &opts);
            return ready(Ok(()));
        }
        // Without recovery nothing waits for the entry id: delivered here at once.
        let delivered = !inner.recovering();
        if delivered {
            inner.local.broadcast_local(&packet, &opts);
        }
        inner.enqueue(|done| Job::Broadcast {
            packet,
            opts,
            delivered,
            done,
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
            let message = inner.message(kind::BROADCAST, data);
            let publish = inner.publish(&inner.public_channel, &message);
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
            sockets.extend(inner.fetch_remote(&opts).await?);
            Ok(sockets)
        })
    }

    fn add_sockets(
        &self,
        opts: BroadcastOptions,
        rooms: Vec<Room>,
    ) -> BoxFuture<'_, Result<(), AdapterError>> {
        self.inner.local.add_sockets_local(&opts, &rooms);
        self.append_other(&opts, kind::SOCKETS_JOIN, ("rooms", rooms_mp(&rooms)))
    }

    fn del_sockets(
        &self,
        opts: BroadcastOptions,
        rooms: Vec<Room>,
    ) -> BoxFuture<'_, Result<(), AdapterError>> {
        self.inner.local.del_sockets_local(&opts, &rooms);
        self.append_other(&opts, kind::SOCKETS_LEAVE, ("rooms", rooms_mp(&rooms)))
    }

    fn disconnect_sockets(
        &self,
        opts: BroadcastOptions,
        close: bool,
    ) -> BoxFuture<'_, Result<(), AdapterError>> {
        self.inner.local.disconnect_sockets_local(&opts, close);
        self.append_other(&opts, kind::DISCONNECT_SOCKETS, ("close", Mp::from(close)))
    }

    fn server_side_emit(&self, data: Vec<Value>) -> BoxFuture<'_, Result<(), AdapterError>> {
        let inner = &self.inner;
        Box::pin(async move {
            let packet = Mp::Array(data.iter().map(msgpack::from_json_value).collect());
            let msg = inner.message(
                kind::SERVER_SIDE_EMIT,
                msgpack::map(vec![("packet", packet)]),
            );
            inner.publish(&inner.public_channel, &msg).await
        })
    }

    fn server_side_emit_with_ack(
        &self,
        data: Vec<Value>,
    ) -> BoxFuture<'_, Result<Vec<Value>, AdapterError>> {
        let inner = &self.inner;
        Box::pin(async move {
            let others = inner.server_count().await?.saturating_sub(1);
            if others == 0 {
                return Ok(Vec::new());
            }
            let packet = Mp::Array(data.iter().map(msgpack::from_json_value).collect());
            let answers = inner
                .request(
                    kind::SERVER_SIDE_EMIT,
                    vec![("packet", packet)],
                    others,
                    "serverSideEmit",
                )
                .await?;
            Ok(answers
                .iter()
                .map(|a| msgpack::get(a, "packet").map_or(Value::Null, msgpack::to_json_value))
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

    fn enable_recovery(&self, config: StoreConfig) -> bool {
        let _ = self.inner.recovery.set(config);
        true
    }

    fn shares_sessions(&self) -> bool {
        true
    }

    fn current_offset(&self) -> Option<String> {
        let read = *mutex(&self.inner.read);
        let added = *mutex(&self.inner.added);
        read.max(added).map(|id| id.to_string())
    }

    fn persist_session(&self, session: SessionToPersist) {
        let inner = self.inner.clone();
        let ttl = inner
            .recovery
            .get()
            .map_or(Duration::from_secs(120), |c| c.max_disconnection_duration);
        let mut entries = vec![
            ("sid", Mp::from(&*session.sid)),
            ("pid", Mp::from(session.pid.as_str())),
            ("rooms", rooms_mp(&session.rooms)),
            (
                "data",
                session
                    .data
                    .as_ref()
                    .map_or_else(|| msgpack::map(Vec::new()), msgpack::from_json_value),
            ),
        ];
        if let Some(since) = &session.since {
            entries.push(("since", Mp::from(since.as_str())));
        }
        let encoded = base64::engine::general_purpose::STANDARD
            .encode(msgpack::encode(&msgpack::map(entries)));
        let key = inner.session_key(&session.pid);
        let (tx, rx) = oneshot::channel();
        let until = tokio::time::Instant::now() + ttl;
        let pid = session.pid;
        mutex(&inner.watched).insert(
            pid.clone(),
            Watch {
                sid: session.sid.clone(),
                tx,
                rx: Some(rx),
                armed: false,
                until,
            },
        );
        tokio::spawn(async move {
            let mut cmd = redis::cmd("SET");
            cmd.arg(key)
                .arg(encoded)
                .arg("PX")
                .arg(ttl.as_millis().max(1) as u64);
            match inner.query::<()>(cmd).await {
                Ok(()) => {
                    if let Some(w) = mutex(&inner.watched).get_mut(&pid) {
                        w.armed = true;
                    }
                }
                Err(e) => {
                    tracing::warn!(nsp = inner.nsp, error = %e, "redis streams adapter could not persist a session");
                }
            }
        });
    }

    fn restored_elsewhere(&self, pid: &str) -> BoxFuture<'static, ()> {
        let rx = mutex(&self.inner.watched)
            .get_mut(pid)
            .and_then(|w| w.rx.take());
        Box::pin(async move {
            let fired = match rx {
                Some(rx) => rx.await.is_ok(),
                None => false,
            };
            if !fired {
                // Not watched, or restored here: never.
                std::future::pending::<()>().await;
            }
        })
    }

    fn restore_session(
        &self,
        pid: String,
        offset: Option<String>,
        resume: ResumeFn,
    ) -> BoxFuture<'_, Result<bool, AdapterError>> {
        if !self.inner.recovering() {
            return ready(Ok(false));
        }
        Box::pin(self.inner.restore(pid, offset, resume))
    }

    fn close(&self) -> BoxFuture<'_, Result<(), AdapterError>> {
        self.tasks.iter().for_each(|t| t.abort());
        ready(Ok(()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn entry_ids_order_and_step() {
        let a = EntryId::parse("1700000000000-0").unwrap();
        let b = EntryId::parse("1700000000000-1").unwrap();
        assert!(a < b);
        assert_eq!(a.next(), b);
        assert_eq!(b.to_string(), "1700000000000-1");
        for bad in ["", "1", "1-", "-1", "a-1", "1-2-3", "1 -2"] {
            assert_eq!(EntryId::parse(bad), None, "{bad:?}");
        }
    }

    #[test]
    fn stream_names_follow_the_node_hash() {
        let mut f = RedisStreamsAdapterFactory::with_client(
            redis::Client::open("redis://127.0.0.1:1").unwrap(),
        );
        assert_eq!(stream_of(&f.config, "/chat"), "socket.io");
        f = f.stream_count(3);
        // hashCode("/") = 47; hashCode("/chat") = 46457863 (both computed by the Node code).
        assert_eq!(stream_of(&f.config, "/"), format!("socket.io-{}", 47 % 3));
        assert_eq!(
            stream_of(&f.config, "/chat"),
            format!("socket.io-{}", 46457863 % 3)
        );
    }

    #[test]
    fn data_is_json_or_base64_msgpack() {
        let json =
            decode_data(r#"{"packet":{"type":2,"data":["a",1]},"opts":{"rooms":[]}}"#).unwrap();
        assert_eq!(msgpack::to_json_value(&json)["packet"]["data"][1], 1);
        let mp = msgpack::map(vec![("x", Mp::Binary(vec![1, 2]))]);
        let text = base64::engine::general_purpose::STANDARD.encode(msgpack::encode(&mp));
        assert_eq!(decode_data(&text).unwrap(), mp);
        assert!(decode_data("{not json").is_err());
        assert!(decode_data("!!!").is_err());
    }
}
