//! One Socket.IO connection over one Engine.IO session, and its sockets (one per namespace).
//!
//! Layer three, above [`crate::engine`]: [`ConnectionHandler`] is the [`EngineHandler`] that
//! speaks Socket.IO. It decodes packets, joins binary attachments and routes each packet to
//! the [`Socket`] of its namespace: events into the socket's [`mailbox`], acks to the socket's
//! waiting emitters ([`ack`]). CONNECT packets go up to the layer that knows the namespaces,
//! through the [`Namespaces`] trait; this layer knows nothing of user types.
//!
//! - `socket.rs`: [`Socket`], one namespace's socket: its id, mailbox, pending acks.
//! - `mailbox.rs`: the ordered command queue a socket's actor reads.
//! - `ack.rs`: [`AckResponse`], [`AckError`], and [`AckSink`] for broadcasts with acks.
//! - `session.rs`: [`Session`], data shared by every namespace of one connection.
//! - `disconnect.rs`: [`DisconnectReason`].

mod ack;
mod disconnect;
mod mailbox;
mod session;
mod socket;

pub(crate) use ack::AckEvent;
pub use ack::{AckError, AckResponse, AckSink};
pub use disconnect::DisconnectReason;
pub(crate) use mailbox::Cmd;
pub use session::Session;
pub use socket::Sid;
pub(crate) use socket::{RunInline, Socket};

use std::sync::{Arc, Mutex, OnceLock};
use std::time::Duration;

use bytes::Bytes;
use tokio::task::AbortHandle;
use tokio_tungstenite::tungstenite::Utf8Bytes;

use crate::codec::engine::packet::Frame;
use crate::codec::socketio::packet::{self, PacketType, SocketIoPacket};
use crate::codec::socketio::{Event, Parser, Received};
use crate::codec::socketio::{binary, encode, msgpack, v2};
use crate::engine::{CloseReason, EngineHandler, EngineSession, Flow, Message, ProtocolVersion};

/// Event names a client may not emit.
const RESERVED: &[&str] = &[
    "connect",
    "connect_error",
    "disconnect",
    "disconnecting",
    "newListener",
    "removeListener",
];

/// An Engine.IO session carrying a Socket.IO connection.
pub(crate) type Conn = EngineSession<Connection>;

/// The options this layer reads.
#[derive(Debug, Clone)]
pub(crate) struct ConnectionConfig {
    /// How long a connection may stay without any namespace.
    pub(crate) connect_timeout: Duration,
    /// The most binary attachments one packet may announce.
    pub(crate) max_attachments: usize,
    /// The most events waiting for one socket's handlers before the connection is read no
    /// more until they catch up.
    pub(crate) mailbox_limit: usize,
    /// The most namespaces one connection may join at once.
    pub(crate) max_namespaces: usize,
    /// The events a connection may send per second (sustained) and in a burst; `None`: no
    /// limit.
    pub(crate) event_rate: Option<EventRate>,
    /// The Socket.IO parser every connection speaks.
    pub(crate) parser: Parser,
}

impl Default for ConnectionConfig {
    fn default() -> Self {
        ConnectionConfig {
            connect_timeout: Duration::from_secs(45),
            max_attachments: 16,
            mailbox_limit: 256,
            max_namespaces: 64,
            event_rate: None,
            parser: Parser::Json,
        }
    }
}

/// A per-connection event rate limit: a token bucket of `burst` events refilled at
/// `per_second`.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct EventRate {
    /// Sustained events per second.
    pub per_second: f64,
    /// Events that may arrive at once after a quiet period.
    pub burst: u32,
}

/// The token bucket of one connection.
#[derive(Debug)]
struct Bucket {
    tokens: f64,
    at: tokio::time::Instant,
}

impl Bucket {
    /// Takes a token if there is one.
    fn take(&mut self, rate: EventRate, now: tokio::time::Instant) -> bool {
        let elapsed = now.saturating_duration_since(self.at).as_secs_f64();
        self.at = now;
        self.tokens = (self.tokens + elapsed * rate.per_second).min(f64::from(rate.burst));
        if self.tokens >= 1.0 {
            self.tokens -= 1.0;
            true
        } else {
            false
        }
    }
}

/// What the connection asks of the layer above: the namespaces a client may join.
pub(crate) trait Namespaces: Send + Sync + 'static {
    /// This layer's options.
    fn connection_config(&self) -> &ConnectionConfig;

    /// A CONNECT packet for `nsp` with its raw JSON auth payload. The implementation either
    /// refuses it ([`refuse`]) or makes a socket ([`Connection::attach`]) and starts it.
    fn connect(self: &Arc<Self>, conn: &Conn, nsp: &str, auth: Option<&str>);
}

/// Sends CONNECT_ERROR for `nsp` with `json` (`{"message":..}`); to a Socket.IO v2 client
/// (Engine.IO v3) in its form: the error's data, else its message as a JSON string.
pub(crate) fn refuse(conn: &Conn, nsp: &str, json: &str) {
    if is_v2(conn) {
        let data = v2::connect_error_data(json);
        let _ = conn.send_frame(simple_frame(
            conn,
            PacketType::ConnectError,
            nsp,
            Some(&data),
        ));
        return;
    }
    refuse_as_is(conn, nsp, json);
}

/// Sends CONNECT_ERROR for `nsp` with `json` whatever the client's protocol (the reference
/// server answers an unknown namespace `{"message":"Invalid namespace"}` to every client).
pub(crate) fn refuse_as_is(conn: &Conn, nsp: &str, json: &str) {
    let _ = conn.send_frame(simple_frame(
        conn,
        PacketType::ConnectError,
        nsp,
        Some(json),
    ));
}

/// A CONNECT, DISCONNECT or CONNECT_ERROR packet for `conn`, in its parser's form.
pub(crate) fn simple_frame(conn: &Conn, kind: PacketType, nsp: &str, json: Option<&str>) -> Frame {
    encode::simple(conn.data().parser(), kind, nsp, json)
}

/// Whether `conn` is a Socket.IO v2 client (Socket.IO protocol v4 over Engine.IO v3): it is
/// connected to `/` implicitly, gets CONNECT replies without payload and CONNECT_ERROR in
/// string form, and names its auth as a query string on the namespace.
pub(crate) fn is_v2(conn: &Conn) -> bool {
    conn.protocol() == ProtocolVersion::V3
}

/// The CONNECT reply for a socket of `conn` in `nsp`: `reply` (`{"sid":..}`) for v5 clients,
/// no payload for v2 ones.
pub(crate) fn connect_reply_frame(conn: &Conn, nsp: &str, reply: &str) -> Frame {
    let data = (!is_v2(conn)).then_some(reply);
    simple_frame(conn, PacketType::Connect, nsp, data)
}

/// Per-connection Socket.IO state, kept inside the Engine.IO session.
#[derive(Default)]
pub(crate) struct Connection {
    state: Mutex<ConnectionState>,
    /// Data shared by every namespace of this connection.
    pub(crate) session: Session,
    /// The parser this connection speaks (set when it opens; JSON until then).
    parser: OnceLock<Parser>,
}

#[derive(Default)]
struct ConnectionState {
    sockets: Vec<Arc<Socket>>,
    partial: Option<Partial>,
    connect_timer: Option<AbortHandle>,
    bucket: Option<Bucket>,
}

/// A binary packet waiting for its attachments.
struct Partial {
    text: Utf8Bytes,
    kind: PacketType,
    expected: usize,
    attachments: Vec<Bytes>,
}

impl Connection {
    fn lock(&self) -> std::sync::MutexGuard<'_, ConnectionState> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// The Socket.IO parser this connection speaks.
    pub(crate) fn parser(&self) -> Parser {
        self.parser.get().copied().unwrap_or_default()
    }

    /// This connection's socket in namespace `nsp`, if it has one.
    pub(crate) fn socket(&self, nsp: &str) -> Option<Arc<Socket>> {
        self.lock().sockets.iter().find(|s| s.nsp() == nsp).cloned()
    }

    /// Every socket of this connection, one per namespace (for the admin UI).
    #[cfg(feature = "admin-ui")]
    pub(crate) fn sockets(&self) -> Vec<Arc<Socket>> {
        self.lock().sockets.clone()
    }

    /// A new socket of `conn` in namespace `nsp`; `None` when the connection already has one
    /// there, or already has `config.max_namespaces` (then it is refused CONNECT_ERROR).
    /// Stops the connect timer.
    pub(crate) fn attach(
        conn: &Conn,
        nsp: Arc<str>,
        config: &ConnectionConfig,
    ) -> Option<Arc<Socket>> {
        Self::attach_as(conn, nsp, config, None)
    }

    /// [`Connection::attach`] with the socket id `id` (a recovered socket's) instead of a new
    /// one.
    pub(crate) fn attach_as(
        conn: &Conn,
        nsp: Arc<str>,
        config: &ConnectionConfig,
        id: Option<Sid>,
    ) -> Option<Arc<Socket>> {
        let mut st = conn.data().lock();
        if st.sockets.iter().any(|s| s.nsp() == &*nsp) {
            tracing::debug!(%nsp, "CONNECT to a namespace already joined, ignored");
            return None;
        }
        if st.sockets.len() >= config.max_namespaces {
            drop(st);
            tracing::debug!(%nsp, "CONNECT beyond the namespaces a connection may join");
            refuse(conn, &nsp, r#"{"message":"too many namespaces"}"#);
            return None;
        }
        let mailbox_limit = config.mailbox_limit;
        let socket = Arc::new(match id {
            Some(id) => Socket::with_id(id, nsp, conn.clone(), mailbox_limit),
            None => Socket::new(nsp, conn.clone(), mailbox_limit),
        });
        st.sockets.push(socket.clone());
        if let Some(t) = st.connect_timer.take() {
            t.abort();
        }
        Some(socket)
    }

    /// Forgets a socket that left its namespace; a connection left with none gets the connect
    /// timeout again.
    pub(crate) fn detach(socket: &Arc<Socket>, connect_timeout: Duration) {
        let conn = &socket.conn;
        let empty = {
            let mut st = conn.data().lock();
            st.sockets.retain(|s| !Arc::ptr_eq(s, socket));
            st.sockets.is_empty()
        };
        if empty && !conn.is_closed() {
            arm_connect_timer(conn, connect_timeout);
        }
    }
}

/// Closes the connection unless it joins a namespace within `timeout`. Armed when the
/// connection opens and again whenever its last namespace goes.
fn arm_connect_timer(conn: &Conn, timeout: Duration) {
    let weak = Arc::downgrade(&conn.inner);
    let timer = tokio::spawn(async move {
        tokio::time::sleep(timeout).await;
        if let Some(inner) = weak.upgrade() {
            let conn = EngineSession { inner };
            if conn.data().lock().sockets.is_empty() {
                tracing::debug!(sid = conn.sid(), "no namespace joined in time, closing");
                conn.close(CloseReason::ServerClose);
            }
        }
    });
    if let Some(old) = conn
        .data()
        .lock()
        .connect_timer
        .replace(timer.abort_handle())
    {
        old.abort();
    }
}

/// The [`EngineHandler`] that speaks Socket.IO, over the namespaces `N` serves.
pub(crate) struct ConnectionHandler<N> {
    pub(crate) namespaces: Arc<N>,
}

impl<N: Namespaces> ConnectionHandler<N> {
    fn protocol_error(&self, conn: &Conn, what: &str) -> Flow {
        tracing::debug!(
            sid = conn.sid(),
            what,
            "invalid Socket.IO packet, closing the connection"
        );
        // As the reference server: its client closes the connection (`socket.close()`, a
        // "forced close" for the engine), and its sockets leave with "forced close".
        let sockets = std::mem::take(&mut conn.data().lock().sockets);
        for s in sockets {
            s.clear_acks();
            s.disconnect(DisconnectReason::ForcedClose, true);
        }
        conn.close(CloseReason::ServerClose);
        Flow::Continue
    }

    /// Whether the connection may send one more event now (the rate limit, when set).
    fn within_rate(&self, conn: &Conn) -> bool {
        let Some(rate) = self.namespaces.connection_config().event_rate else {
            return true;
        };
        let now = tokio::time::Instant::now();
        conn.data()
            .lock()
            .bucket
            .get_or_insert(Bucket {
                tokens: f64::from(rate.burst),
                at: now,
            })
            .take(rate, now)
    }

    fn max_attachments(&self) -> usize {
        self.namespaces.connection_config().max_attachments
    }

    fn on_text(&self, conn: &Conn, text: Utf8Bytes) -> Flow {
        if conn.data().lock().partial.is_some() {
            return self.protocol_error(conn, "text packet while waiting for attachments");
        }
        let p = match packet::decode(text.as_str(), self.max_attachments()) {
            Ok(p) => p,
            Err(e) => return self.protocol_error(conn, &e.to_string()),
        };
        self.on_packet(conn, &text, &p, None)
    }

    /// A msgpack packet (one binary message, binary inline): checked as the reference
    /// decoder checks it, then handled as the JSON parser's packet it translates to.
    fn on_msgpack(&self, conn: &Conn, data: &Bytes) -> Flow {
        let p = match msgpack::decode(data) {
            Ok(p) => p,
            Err(e) => return self.protocol_error(conn, &e.to_string()),
        };
        // Binary values inline are bounded as the JSON parser's attachments are.
        if p.attachments.len() > self.max_attachments() {
            return self.protocol_error(conn, "too many binary values");
        }
        let text = Utf8Bytes::from(p.data.unwrap_or_default());
        let packet = SocketIoPacket {
            kind: p.kind,
            nsp: &p.nsp,
            attachments: p.attachments.len(),
            id: p.id,
            data: Some(text.as_str()).filter(|d| !d.is_empty()),
        };
        self.on_packet(conn, &text, &packet, Some(p.attachments))
    }

    /// A decoded packet; `inline` holds the attachments of a msgpack packet (the JSON
    /// parser's arrive later, as binary messages).
    fn on_packet(
        &self,
        conn: &Conn,
        text: &Utf8Bytes,
        p: &SocketIoPacket<'_>,
        inline: Option<Vec<Bytes>>,
    ) -> Flow {
        match p.kind {
            PacketType::Connect if is_v2(conn) => {
                let (nsp, auth) = v2::split_namespace(p.nsp);
                self.namespaces.connect(conn, nsp, auth.as_deref());
            }
            PacketType::Connect => self.namespaces.connect(conn, p.nsp, p.data),
            PacketType::Disconnect => {
                if let Some(s) = conn.data().socket(p.nsp) {
                    s.disconnect(DisconnectReason::ClientNamespaceDisconnect, true);
                }
            }
            PacketType::Event | PacketType::Ack => {
                return self.dispatch(conn, text, p, inline.unwrap_or_default());
            }
            PacketType::BinaryEvent | PacketType::BinaryAck if inline.is_some() => {
                return self.dispatch(conn, text, p, inline.unwrap_or_default());
            }
            // A binary packet that announces no attachment is complete as it is (as for the
            // reference parser); waiting for one would stall the connection.
            PacketType::BinaryEvent | PacketType::BinaryAck if p.attachments == 0 => {
                return self.dispatch(conn, text, p, Vec::new());
            }
            PacketType::BinaryEvent | PacketType::BinaryAck => {
                conn.data().lock().partial = Some(Partial {
                    text: text.clone(),
                    kind: p.kind,
                    expected: p.attachments,
                    attachments: Vec::with_capacity(p.attachments),
                });
            }
            PacketType::ConnectError => {
                return self.protocol_error(conn, "CONNECT_ERROR from a client");
            }
        }
        Flow::Continue
    }

    fn on_binary(&self, conn: &Conn, data: Bytes) -> Flow {
        let done = {
            let mut st = conn.data().lock();
            let Some(partial) = st.partial.as_mut() else {
                drop(st);
                return self.protocol_error(conn, "unexpected binary attachment");
            };
            partial.attachments.push(data);
            if partial.attachments.len() == partial.expected {
                st.partial.take()
            } else {
                None
            }
        };
        match done {
            Some(partial) => {
                let p = match packet::decode(partial.text.as_str(), self.max_attachments()) {
                    Ok(p) => p,
                    Err(e) => return self.protocol_error(conn, &e.to_string()),
                };
                debug_assert_eq!(p.kind, partial.kind);
                self.dispatch(conn, &partial.text, &p, partial.attachments)
            }
            None => Flow::Continue,
        }
    }

    /// An EVENT or ACK with all its attachments.
    fn dispatch(
        &self,
        conn: &Conn,
        text: &Utf8Bytes,
        p: &SocketIoPacket<'_>,
        attachments: Vec<Bytes>,
    ) -> Flow {
        let data = p.data.unwrap_or("");
        // A binary packet's placeholders must each name an attachment that arrived (as for
        // the reference parser); plain EVENT and ACK data is the client's JSON, as it is.
        let check = |args: &[&serde_json::value::RawValue]| {
            if p.kind.is_binary() {
                binary::check_placeholders(args, attachments.len())
            } else {
                Ok(())
            }
        };
        match p.kind {
            PacketType::Event | PacketType::BinaryEvent => {
                let ev = match packet::parse_event(data) {
                    Ok(ev) => ev,
                    Err(e) => return self.protocol_error(conn, &e.to_string()),
                };
                if let Err(e) = check(&ev.args) {
                    return self.protocol_error(conn, &e.to_string());
                }
                if RESERVED.contains(&ev.name.as_ref()) {
                    return self.protocol_error(conn, "reserved event name");
                }
                let Some(socket) = conn.data().socket(p.nsp) else {
                    tracing::debug!(nsp = p.nsp, "event for a namespace not joined, ignored");
                    return Flow::Continue;
                };
                if !self.within_rate(conn) {
                    tracing::debug!(sid = %socket.id, "event over the rate limit, refused");
                    let _ = socket.send(&rate_limited(p.nsp, p.id));
                    return Flow::Continue;
                }
                socket.push_event(Event::new(text, ev, attachments, p.id))
            }
            _ => {
                let args = match packet::parse_ack(data) {
                    Ok(a) => a,
                    Err(e) => return self.protocol_error(conn, &e.to_string()),
                };
                if let Err(e) = check(&args) {
                    return self.protocol_error(conn, &e.to_string());
                }
                let Some(id) = p.id else {
                    // Answers nothing: ignored, as the reference server ignores an ack it
                    // has no callback for.
                    tracing::debug!("ACK without id, ignored");
                    return Flow::Continue;
                };
                if let Some(socket) = conn.data().socket(p.nsp) {
                    let answer = AckResponse::new(Received::new(text, &args, attachments));
                    socket.resolve_ack(id, answer);
                }
                Flow::Continue
            }
        }
    }
}

/// The answer to an event over the rate limit: the `rate_limited` error, as the ack's answer
/// when the event asked for one, else as the `error` event (the shape of handler errors).
fn rate_limited(nsp: &str, ack: Option<u64>) -> encode::Encoded {
    const MESSAGE: &str = "too many events, slow down";
    let encoded = match ack {
        Some(id) => encode::ack(
            nsp,
            id,
            &serde_json::json!({ "error": "rate_limited", "message": MESSAGE }),
        ),
        None => encode::event(nsp, "error", &("rate_limited", MESSAGE), None),
    };
    encoded.expect("static JSON serializes")
}

impl<N: Namespaces> EngineHandler for ConnectionHandler<N> {
    type Data = Connection;

    fn on_open(&self, conn: &Conn) {
        let _ = conn
            .data()
            .parser
            .set(self.namespaces.connection_config().parser);
        arm_connect_timer(conn, self.namespaces.connection_config().connect_timeout);
        if is_v2(conn) {
            // A v2 client is connected to `/` without asking (the reference server does so).
            self.namespaces.connect(conn, "/", None);
        }
    }

    fn on_message(&self, conn: &Conn, message: Message) -> Flow {
        match (conn.data().parser(), message) {
            (Parser::MsgPack, Message::Binary(b)) => self.on_msgpack(conn, &b),
            (Parser::MsgPack, Message::Text(_)) => {
                self.protocol_error(conn, "text message to a msgpack server")
            }
            (_, Message::Text(t)) => self.on_text(conn, t),
            (_, Message::Binary(b)) => self.on_binary(conn, b),
        }
    }

    fn on_close(&self, conn: &Conn, reason: CloseReason) {
        let sockets = {
            let mut st = conn.data().lock();
            if let Some(t) = st.connect_timer.take() {
                t.abort();
            }
            st.partial = None;
            std::mem::take(&mut st.sockets)
        };
        let reason = DisconnectReason::from_close(reason);
        for s in sockets {
            s.clear_acks();
            s.disconnect(reason, true);
        }
    }
}
