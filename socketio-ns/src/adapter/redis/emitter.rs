//! An emitter for processes that are not servers (a CLI, a worker, a cron job): it publishes
//! what `@socket.io/redis-emitter` 5.1 publishes, so every server of a Redis cluster, ours
//! and Node.js ones alike, obeys it.
//!
//! The wire, with `key` the prefix and `nsp` the namespace:
//! - an emit is `[ "emitter", {type: 2, data: [event, ...args], nsp}, {rooms, flags, except} ]`
//!   in msgpack (binary arguments as `bin`), on `key#nsp#`, or on `key#nsp#room#` when exactly
//!   one room is targeted;
//! - `socketsJoin` / `socketsLeave` are `{"type":2|3,"opts":{"rooms":[..],"except":[..]},
//!   "rooms":[..]}`, `disconnectSockets` is `{"type":4,"opts":{..},"close":bool}` and
//!   `serverSideEmit` is `{"uid":"emitter","type":6,"data":[event, ...args]}`, JSON on
//!   `key-request#nsp#`.
//!
//! Nothing is answered: no acks, no `fetchSockets`, as with the Node emitter.
//!
//! With [`RedisEmitter::sharded`] it publishes for servers with the sharded adapter instead
//! (which the Node emitter cannot): `ClusterAdapter` messages `{type, data, uid: "emitter",
//! nsp}` with `SPUBLISH`, on the channels a headless Node server with `createShardedAdapter`
//! would use (see [`super::ShardedRedisAdapter`]).

use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use redis::aio::ConnectionManager;
use rmpv::Value as Mp;
use serde::Serialize;
use serde_json::value::RawValue;
use tokio::sync::OnceCell;

use super::sharded::{self, SubscriptionMode};
use super::wire::kind;
use super::{msgpack, query, redis_error};
use crate::adapter::{AdapterError, BroadcastOptions, EmitError, IntoRooms, Room};
use crate::codec::socketio::Args;

/// The `uid` every message of an emitter carries (as the Node emitter's).
const UID: &str = "emitter";

/// Event names a server would never deliver to a client's handlers (the Node emitter refuses
/// them too).
const RESERVED_EVENTS: [&str; 6] = [
    "connect",
    "connect_error",
    "disconnect",
    "disconnecting",
    "newListener",
    "removeListener",
];

/// The Redis connection every emitter made from one [`RedisEmitter::new`] shares.
struct Connection {
    client: redis::Client,
    conn: OnceCell<ConnectionManager>,
}

/// Sends to the sockets of a cluster of Socket.IO servers through their Redis, from a process
/// that is not a server: the counterpart of `@socket.io/redis-emitter`, byte for byte. Our
/// servers with [`super::RedisAdapterFactory`] and Node.js servers with
/// `@socket.io/redis-adapter` obey it alike.
///
/// It needs a tokio runtime and a Redis URL, nothing else. It connects on first use; every
/// call fails with an error after the [timeout](RedisEmitter::timeout) (default 5 s) when Redis
/// cannot be reached, instead of waiting. Cheap to clone; clones share the connection.
///
/// ```no_run
/// # async fn f() -> Result<(), Box<dyn std::error::Error>> {
/// use socketio_ns::adapter::redis::RedisEmitter;
/// let io = RedisEmitter::new("redis://127.0.0.1:6379")?; // namespace "/", key "socket.io"
/// io.emit("time", "12:00").await?;
/// let chat = io.of("/chat");
/// chat.to("lobby").except("muted").emit("said", ("bot", "hello")).await?;
/// chat.to("lobby").sockets_join("announcements").await?;
/// chat.server_side_emit("reload", ()).await?;
/// # Ok(()) }
/// ```
#[derive(Clone)]
pub struct RedisEmitter {
    connection: Arc<Connection>,
    key: Arc<str>,
    nsp: Arc<str>,
    timeout: Duration,
    /// Publishing for the sharded adapter, in this mode.
    sharded: Option<SubscriptionMode>,
}

impl std::fmt::Debug for RedisEmitter {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RedisEmitter")
            .field("key", &self.key)
            .field("nsp", &self.nsp)
            .field("timeout", &self.timeout)
            .field("sharded", &self.sharded)
            .finish_non_exhaustive()
    }
}

impl RedisEmitter {
    /// An emitter for the namespace `/` of the servers on the Redis at `url`
    /// (`redis://host:port/db`). Nothing connects until the first emit.
    pub fn new(url: &str) -> Result<Self, AdapterError> {
        let client = redis::Client::open(url).map_err(redis_error)?;
        Ok(Self::with_client(client))
    }

    /// An emitter for the namespace `/` of the servers on the Redis `client` reaches.
    pub fn with_client(client: redis::Client) -> Self {
        RedisEmitter {
            connection: Arc::new(Connection {
                client,
                conn: OnceCell::new(),
            }),
            key: "socket.io".into(),
            nsp: "/".into(),
            timeout: Duration::from_secs(5),
            sharded: None,
        }
    }

    /// Publishes for servers with the sharded adapter
    /// ([`super::ShardedRedisAdapterFactory`], `createShardedAdapter` in Node) in `mode`,
    /// with `SPUBLISH` and the cluster message format; [`RedisEmitter::key`] is then the
    /// channel prefix. The `compress` flag is not sent (the sharded servers ignore it).
    pub fn sharded(mut self, mode: SubscriptionMode) -> Self {
        self.sharded = Some(mode);
        self
    }

    /// The prefix of the channels (`key`); must be the servers' (default `socket.io`).
    pub fn key(mut self, key: impl Into<String>) -> Self {
        self.key = key.into().into();
        self
    }

    /// How long one publication may take, connecting included, before it fails. Default 5 s.
    pub fn timeout(mut self, timeout: Duration) -> Self {
        self.timeout = timeout;
        self
    }

    /// The same emitter for the namespace `nsp` (a leading `/` is added when missing), sharing
    /// the connection.
    pub fn of(&self, nsp: &str) -> RedisEmitter {
        let nsp = if nsp.starts_with('/') {
            nsp.to_owned()
        } else {
            format!("/{nsp}")
        };
        RedisEmitter {
            nsp: nsp.into(),
            ..self.clone()
        }
    }

    /// The namespace this emitter sends to.
    pub fn namespace(&self) -> &str {
        &self.nsp
    }

    fn operator(&self) -> RedisEmitterOperator {
        RedisEmitterOperator {
            emitter: self.clone(),
            rooms: Vec::new(),
            except: Vec::new(),
            flags: Vec::new(),
        }
    }

    /// Selects the sockets in `rooms` (in any of them).
    pub fn to(&self, rooms: impl IntoRooms) -> RedisEmitterOperator {
        self.operator().to(rooms)
    }

    /// Same as [`RedisEmitter::to`] (`in` in JavaScript).
    pub fn within(&self, rooms: impl IntoRooms) -> RedisEmitterOperator {
        self.operator().to(rooms)
    }

    /// Selects every socket but those in `rooms`.
    pub fn except(&self, rooms: impl IntoRooms) -> RedisEmitterOperator {
        self.operator().except(rooms)
    }

    /// Marks the emit volatile: the servers may drop it for clients not ready to receive it.
    pub fn volatile(&self) -> RedisEmitterOperator {
        self.operator().volatile()
    }

    /// Sets the `compress` flag the Node emitter publishes (servers may ignore it).
    pub fn compress(&self, compress: bool) -> RedisEmitterOperator {
        self.operator().compress(compress)
    }

    /// Emits `event` with `args` to every socket of the namespace, on every server. Arguments
    /// are anything [`Args`] takes; `bytes::Bytes` inside them travel as binary.
    pub async fn emit<A: Args>(&self, event: &str, args: A) -> Result<(), EmitError> {
        self.operator().emit(event, args).await
    }

    /// Makes every socket of the namespace join `rooms`.
    pub async fn sockets_join(&self, rooms: impl IntoRooms) -> Result<(), AdapterError> {
        self.operator().sockets_join(rooms).await
    }

    /// Makes every socket of the namespace leave `rooms`.
    pub async fn sockets_leave(&self, rooms: impl IntoRooms) -> Result<(), AdapterError> {
        self.operator().sockets_leave(rooms).await
    }

    /// Disconnects every socket of the namespace (with `close`, their whole connections).
    pub async fn disconnect_sockets(&self, close: bool) -> Result<(), AdapterError> {
        self.operator().disconnect_sockets(close).await
    }

    /// Sends `event` with `args` to every server of the namespace, not to clients: our servers
    /// hand it to their [`crate::Builder::on_server_event`] handler, Node servers emit it on
    /// the namespace (`io.on(event, ..)`). Arguments are JSON: binary ones are refused. No
    /// acks, as with the Node emitter (nobody would know where to answer).
    pub async fn server_side_emit<A: Args>(&self, event: &str, args: A) -> Result<(), EmitError> {
        let mut data = Vec::with_capacity(64);
        data.push(b'[');
        let ser = |e: serde_json::Error| EmitError::Serialize(e.to_string());
        serde_json::to_writer(&mut data, event).map_err(ser)?;
        let mut attachments = Vec::new();
        args.write_args(&mut data, &mut attachments, true)
            .map_err(ser)?;
        data.push(b']');
        if !attachments.is_empty() {
            return Err(EmitError::Serialize(
                "server-side emits carry JSON only: binary arguments are not supported".into(),
            ));
        }
        let data = String::from_utf8(data).map_err(|e| EmitError::Serialize(e.to_string()))?;
        if self.sharded.is_some() {
            let packet = msgpack::from_json(&data, &[]).map_err(ser)?;
            let data = msgpack::map(vec![("packet", packet)]);
            return Ok(self
                .publish_sharded(sharded::kind::SERVER_SIDE_EMIT, data, &[])
                .await?);
        }
        let data = RawValue::from_string(data).map_err(ser)?;
        #[derive(Serialize)]
        struct ServerSideEmit<'a> {
            uid: &'a str,
            #[serde(rename = "type")]
            kind: u64,
            data: &'a RawValue,
        }
        let body = ServerSideEmit {
            uid: UID,
            kind: kind::SERVER_SIDE_EMIT,
            data: &data,
        };
        let body = serde_json::to_vec(&body).map_err(ser)?;
        Ok(self.publish(&self.request_channel(), body).await?)
    }

    /// The shard channel of a cluster message of `kind` to `rooms`.
    fn sharded_channel(&self, kind: u64, rooms: &[Room]) -> String {
        let mode = self.sharded.unwrap_or_default();
        let channel = format!("{}#{}#", self.key, self.nsp);
        sharded::channel_for(mode, &channel, kind, false, rooms)
    }

    /// A cluster message `{type, data, uid: "emitter", nsp}`.
    fn sharded_body(&self, kind: u64, data: Mp) -> Vec<u8> {
        sharded::encode_message(kind, data, UID, &self.nsp)
    }

    /// Publishes a cluster message on the channel its kind and rooms call for.
    async fn publish_sharded(
        &self,
        kind: u64,
        data: Mp,
        rooms: &[Room],
    ) -> Result<(), AdapterError> {
        let channel = self.sharded_channel(kind, rooms);
        self.publish(&channel, self.sharded_body(kind, data)).await
    }

    fn request_channel(&self) -> String {
        format!("{}-request#{}#", self.key, self.nsp)
    }

    async fn publish(&self, channel: &str, payload: Vec<u8>) -> Result<(), AdapterError> {
        let publish = if self.sharded.is_some() {
            "SPUBLISH"
        } else {
            "PUBLISH"
        };
        let mut cmd = redis::cmd(publish);
        cmd.arg(channel).arg(payload);
        let c = &self.connection;
        query::<i64>(&c.client, &c.conn, self.timeout, cmd)
            .await
            .map(drop)
    }
}

/// A selection of sockets of one namespace (rooms, except, flags) made from a [`RedisEmitter`],
/// ended by an emit or a socket operation. Cheap to clone.
#[derive(Clone, Debug)]
#[must_use = "an operator does nothing until it is ended by an emit or a socket operation"]
pub struct RedisEmitterOperator {
    emitter: RedisEmitter,
    /// In the order first given, without repeats (a JavaScript `Set`).
    rooms: Vec<Room>,
    except: Vec<Room>,
    /// `volatile`, `compress`, in the order first set (a JavaScript object's keys).
    flags: Vec<(&'static str, bool)>,
}

fn add_rooms(set: &mut Vec<Room>, rooms: impl IntoRooms) {
    for room in rooms.into_rooms() {
        if !set.contains(&room) {
            set.push(room);
        }
    }
}

fn rooms_mp(rooms: &[Room]) -> Mp {
    Mp::Array(rooms.iter().map(|r| Mp::from(&**r)).collect())
}

/// `{"rooms": [..], "except": [..]}` of a request.
#[derive(Serialize)]
struct Opts<'a> {
    rooms: &'a [Room],
    except: &'a [Room],
}

/// `socketsJoin`, `socketsLeave`.
#[derive(Serialize)]
struct RoomsRequest<'a> {
    #[serde(rename = "type")]
    kind: u64,
    opts: Opts<'a>,
    rooms: &'a [Room],
}

/// `disconnectSockets`.
#[derive(Serialize)]
struct DisconnectRequest<'a> {
    #[serde(rename = "type")]
    kind: u64,
    opts: Opts<'a>,
    close: bool,
}

impl RedisEmitterOperator {
    /// Also selects the sockets in `rooms`.
    pub fn to(mut self, rooms: impl IntoRooms) -> Self {
        add_rooms(&mut self.rooms, rooms);
        self
    }

    /// Same as [`RedisEmitterOperator::to`] (`in` in JavaScript).
    pub fn within(self, rooms: impl IntoRooms) -> Self {
        self.to(rooms)
    }

    /// Leaves out the sockets in `rooms`.
    pub fn except(mut self, rooms: impl IntoRooms) -> Self {
        add_rooms(&mut self.except, rooms);
        self
    }

    fn flag(mut self, name: &'static str, value: bool) -> Self {
        match self.flags.iter_mut().find(|(n, _)| *n == name) {
            Some(f) => f.1 = value,
            None => self.flags.push((name, value)),
        }
        self
    }

    /// Marks the emit volatile.
    pub fn volatile(self) -> Self {
        self.flag("volatile", true)
    }

    /// Sets the `compress` flag.
    pub fn compress(self, compress: bool) -> Self {
        self.flag("compress", compress)
    }

    /// `{rooms, except, flags}` of a sharded message.
    fn sharded_opts(&self) -> Mp {
        let opts = BroadcastOptions {
            rooms: self.rooms.clone(),
            except: self.except.clone(),
            ..Default::default()
        };
        super::opts_mp(&opts, None)
    }

    fn opts(&self) -> Opts<'_> {
        Opts {
            rooms: &self.rooms,
            except: &self.except,
        }
    }

    /// The msgpack message of an emit and its channel.
    fn encode_emit<A: Args>(&self, event: &str, args: &A) -> Result<(String, Vec<u8>), EmitError> {
        if RESERVED_EVENTS.contains(&event) {
            return Err(EmitError::Serialize(format!(
                "\"{event}\" is a reserved event name"
            )));
        }
        let ser = |e: serde_json::Error| EmitError::Serialize(e.to_string());
        let mut json = Vec::with_capacity(64);
        json.push(b'[');
        serde_json::to_writer(&mut json, event).map_err(ser)?;
        let mut attachments: Vec<Bytes> = Vec::new();
        args.write_args(&mut json, &mut attachments, true)
            .map_err(ser)?;
        json.push(b']');
        let json = std::str::from_utf8(&json).map_err(|e| EmitError::Serialize(e.to_string()))?;
        let data = msgpack::from_json(json, &attachments).map_err(ser)?;
        let e = &self.emitter;
        if e.sharded.is_some() {
            let packet = msgpack::map(vec![("type", Mp::from(2)), ("data", data)]);
            let opts = BroadcastOptions {
                rooms: self.rooms.clone(),
                except: self.except.clone(),
                local: false,
                volatile: self.flags.contains(&("volatile", true)),
            };
            let data = msgpack::map(vec![
                ("packet", packet),
                ("opts", super::opts_mp(&opts, None)),
            ]);
            let kind = sharded::kind::BROADCAST;
            return Ok((
                e.sharded_channel(kind, &self.rooms),
                e.sharded_body(kind, data),
            ));
        }
        let flags = self.flags.iter().map(|(k, v)| (*k, Mp::from(*v))).collect();
        let msg = Mp::Array(vec![
            Mp::from(UID),
            msgpack::map(vec![
                // EVENT, binary arguments included: msgpack carries them.
                ("type", Mp::from(2)),
                ("data", data),
                ("nsp", Mp::from(&*e.nsp)),
            ]),
            msgpack::map(vec![
                ("rooms", rooms_mp(&self.rooms)),
                ("flags", msgpack::map(flags)),
                ("except", rooms_mp(&self.except)),
            ]),
        ]);
        let channel = match &self.rooms[..] {
            [room] => format!("{}#{}#{room}#", e.key, e.nsp),
            _ => format!("{}#{}#", e.key, e.nsp),
        };
        Ok((channel, msgpack::encode(&msg)))
    }

    /// Emits `event` with `args` to the selected sockets, on every server. `bytes::Bytes`
    /// inside the arguments travel as binary.
    pub async fn emit<A: Args>(self, event: &str, args: A) -> Result<(), EmitError> {
        let (channel, body) = self.encode_emit(event, &args)?;
        Ok(self.emitter.publish(&channel, body).await?)
    }

    async fn rooms_request(self, kind: u64, rooms: impl IntoRooms) -> Result<(), AdapterError> {
        let rooms = rooms.into_rooms();
        if self.emitter.sharded.is_some() {
            let kind = if kind == kind::REMOTE_JOIN {
                sharded::kind::SOCKETS_JOIN
            } else {
                sharded::kind::SOCKETS_LEAVE
            };
            let data = msgpack::map(vec![
                ("opts", self.sharded_opts()),
                ("rooms", rooms_mp(&rooms)),
            ]);
            return self.emitter.publish_sharded(kind, data, &[]).await;
        }
        let body = RoomsRequest {
            kind,
            opts: self.opts(),
            rooms: &rooms,
        };
        let body = serde_json::to_vec(&body).map_err(|e| AdapterError(e.to_string()))?;
        let e = &self.emitter;
        e.publish(&e.request_channel(), body).await
    }

    /// Makes the selected sockets join `rooms`.
    pub async fn sockets_join(self, rooms: impl IntoRooms) -> Result<(), AdapterError> {
        self.rooms_request(kind::REMOTE_JOIN, rooms).await
    }

    /// Makes the selected sockets leave `rooms`.
    pub async fn sockets_leave(self, rooms: impl IntoRooms) -> Result<(), AdapterError> {
        self.rooms_request(kind::REMOTE_LEAVE, rooms).await
    }

    /// Disconnects the selected sockets (with `close`, their whole connections).
    pub async fn disconnect_sockets(self, close: bool) -> Result<(), AdapterError> {
        if self.emitter.sharded.is_some() {
            let data = msgpack::map(vec![
                ("opts", self.sharded_opts()),
                ("close", Mp::from(close)),
            ]);
            let kind = sharded::kind::DISCONNECT_SOCKETS;
            return self.emitter.publish_sharded(kind, data, &[]).await;
        }
        let body = DisconnectRequest {
            kind: kind::REMOTE_DISCONNECT,
            opts: self.opts(),
            close,
        };
        let body = serde_json::to_vec(&body).map_err(|e| AdapterError(e.to_string()))?;
        let e = &self.emitter;
        e.publish(&e.request_channel(), body).await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn emitter() -> RedisEmitter {
        RedisEmitter::new("redis://127.0.0.1:1").unwrap()
    }

    #[test]
    fn emit_is_what_the_node_emitter_publishes() {
        // new Emitter(c).of("/chat").to("r").emit("ev", 1, "é")
        let (channel, body) = emitter()
            .of("chat")
            .to("r")
            .encode_emit("ev", &(1, "é"))
            .unwrap();
        assert_eq!(channel, "socket.io#/chat#r#");
        let mut want = vec![0x93, 0xa7];
        want.extend_from_slice(b"emitter");
        want.extend_from_slice(&[0x83, 0xa4]);
        want.extend_from_slice(b"type\x02");
        want.push(0xa4);
        want.extend_from_slice(b"data");
        want.extend_from_slice(&[0x93, 0xa2, b'e', b'v', 0x01, 0xa2, 0xc3, 0xa9]);
        want.push(0xa3);
        want.extend_from_slice(b"nsp");
        want.push(0xa5);
        want.extend_from_slice(b"/chat");
        want.extend_from_slice(&[0x83, 0xa5]);
        want.extend_from_slice(b"rooms");
        want.extend_from_slice(&[0x91, 0xa1, b'r', 0xa5]);
        want.extend_from_slice(b"flags");
        want.extend_from_slice(&[0x80, 0xa6]);
        want.extend_from_slice(b"except");
        want.push(0x90);
        assert_eq!(body, want);
    }

    #[test]
    fn channels_rooms_flags_and_binary() {
        let e = emitter();
        // Two rooms (repeats count once): the namespace channel.
        let op = e
            .to(["a", "b"])
            .to("a")
            .except("c")
            .volatile()
            .compress(false);
        let (channel, body) = op
            .encode_emit("x", &Bytes::from_static(b"\x00\xff"))
            .unwrap();
        assert_eq!(channel, "socket.io#/#");
        let v = msgpack::decode(&body).unwrap();
        let mut attachments = Vec::new();
        assert_eq!(
            msgpack::to_json(&v, &mut attachments),
            r#"["emitter",{"type":2,"data":["x",{"_placeholder":true,"num":0}],"nsp":"/"},{"rooms":["a","b"],"flags":{"volatile":true,"compress":false},"except":["c"]}]"#
        );
        assert_eq!(attachments, [Bytes::from_static(b"\x00\xff")]);
        assert!(matches!(
            e.operator().encode_emit("connect", &()),
            Err(EmitError::Serialize(_))
        ));
    }

    #[test]
    fn requests_are_the_node_emitters_json() {
        let op = emitter().to("r").except("x");
        let join = RoomsRequest {
            kind: kind::REMOTE_JOIN,
            opts: op.opts(),
            rooms: &["n".into()],
        };
        assert_eq!(
            serde_json::to_string(&join).unwrap(),
            r#"{"type":2,"opts":{"rooms":["r"],"except":["x"]},"rooms":["n"]}"#
        );
        let all = emitter().operator();
        let disconnect = DisconnectRequest {
            kind: kind::REMOTE_DISCONNECT,
            opts: all.opts(),
            close: true,
        };
        assert_eq!(
            serde_json::to_string(&disconnect).unwrap(),
            r#"{"type":4,"opts":{"rooms":[],"except":[]},"close":true}"#
        );
    }
}
