//! Request routing and the session table: [`Engine`], the checks every request passes in the
//! reference server's order, and the creation and lookup of sessions.

use std::collections::HashMap;
use std::fmt;
use std::net::SocketAddr;
use std::sync::atomic::Ordering;
use std::sync::{Arc, RwLock};

use http::{Method, Request, Response, StatusCode, header};
use tracing::Instrument;

use super::config::{EngineConfig, ProtocolVersion, Transport};
use super::heartbeat::heartbeat;
use super::http::{
    Body, ErrorCode, apply_cors, error, is_websocket_upgrade, path_matches, plain, preflight,
};
use super::observe::EngineObserver;
use super::polling::delivers_close;
use super::service::EngineService;
use super::session::{CloseReason, EngineSession, HandshakeInfo, Message, WEBSOCKET};
use super::{EngineHandler, Flow};
use crate::codec::engine::packet::{EnginePacket, Frame};

/// An Engine.IO server: the session table and the handler. Cheap to clone.
pub struct Engine<H: EngineHandler> {
    pub(crate) shared: Arc<Shared<H>>,
}

impl<H: EngineHandler> Clone for Engine<H> {
    fn clone(&self) -> Self {
        Engine {
            shared: self.shared.clone(),
        }
    }
}

impl<H: EngineHandler> fmt::Debug for Engine<H> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Engine")
            .field("config", &self.shared.config)
            .field("sessions", &self.session_count())
            .finish()
    }
}

pub(crate) struct Shared<H: EngineHandler> {
    pub(crate) config: EngineConfig,
    pub(crate) handler: H,
    pub(super) sessions: RwLock<HashMap<Box<str>, EngineSession<H::Data>>>,
    /// Told of sessions and packets (the admin UI); `None`: nothing is counted.
    pub(crate) observer: Option<Arc<dyn EngineObserver>>,
}

/// The query parameters Engine.IO uses.
#[derive(Default)]
struct Query<'a> {
    eio: Option<&'a str>,
    transport: Option<&'a str>,
    sid: Option<&'a str>,
}

impl<'a> Query<'a> {
    fn parse(q: &'a str) -> Self {
        let mut out = Query::default();
        for pair in q.split('&') {
            let (k, v) = pair.split_once('=').unwrap_or((pair, ""));
            match k {
                "EIO" => out.eio = Some(v),
                "transport" => out.transport = Some(v),
                "sid" => out.sid = Some(v),
                _ => {}
            }
        }
        out
    }
}

/// A fresh random session or socket id: 20 URL-safe characters (120 random bits).
pub(crate) fn new_sid() -> String {
    use base64::Engine as _;
    let bytes: [u8; 15] = rand::random();
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes)
}

impl<H: EngineHandler> Engine<H> {
    /// Creates a server for `handler` with `config`.
    pub fn new(handler: H, config: EngineConfig) -> Self {
        Self::observed(handler, config, None)
    }

    /// [`Engine::new`], with an observer of sessions and packets.
    pub(crate) fn observed(
        handler: H,
        config: EngineConfig,
        observer: Option<Arc<dyn EngineObserver>>,
    ) -> Self {
        Engine {
            shared: Arc::new(Shared {
                config: config.normalise(),
                handler,
                sessions: RwLock::new(HashMap::new()),
                observer,
            }),
        }
    }

    /// The handler.
    pub fn handler(&self) -> &H {
        &self.shared.handler
    }

    /// The configuration.
    pub fn config(&self) -> &EngineConfig {
        &self.shared.config
    }

    /// The number of open sessions.
    pub fn session_count(&self) -> usize {
        self.shared
            .sessions
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .len()
    }

    /// A session by id.
    pub fn session(&self, sid: &str) -> Option<EngineSession<H::Data>> {
        self.shared.get(sid)
    }

    /// Every open session.
    pub fn sessions(&self) -> Vec<EngineSession<H::Data>> {
        let map = self
            .shared
            .sessions
            .read()
            .unwrap_or_else(|e| e.into_inner());
        map.values().cloned().collect()
    }

    /// A `tower::Service` answering on the configured path (404 elsewhere).
    pub fn service(&self) -> EngineService<H> {
        EngineService {
            engine: self.clone(),
        }
    }

    /// Serves on `addr` (HTTP/1.1) until the future is dropped.
    pub async fn serve(self, addr: impl tokio::net::ToSocketAddrs) -> std::io::Result<()> {
        let listener = tokio::net::TcpListener::bind(addr).await?;
        self.serve_listener(listener).await
    }

    /// Serves connections accepted on `listener` until the future is dropped.
    pub async fn serve_listener(self, listener: tokio::net::TcpListener) -> std::io::Result<()> {
        super::listener::serve(listener, self.service(), std::future::pending()).await
    }

    /// Handles one HTTP request.
    pub async fn handle<B>(&self, req: Request<B>, remote: Option<SocketAddr>) -> Response<Body>
    where
        B: http_body::Body + Send + 'static,
        B::Data: Send,
        B::Error: Into<Box<dyn std::error::Error + Send + Sync>>,
    {
        let origin = req
            .headers()
            .get(header::ORIGIN)
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned);
        let mut res = self.handle_inner(req, remote).await;
        apply_cors(&self.shared.config.cors, origin.as_deref(), &mut res);
        res
    }

    async fn handle_inner<B>(
        &self,
        mut req: Request<B>,
        remote: Option<SocketAddr>,
    ) -> Response<Body>
    where
        B: http_body::Body + Send + 'static,
        B::Data: Send,
        B::Error: Into<Box<dyn std::error::Error + Send + Sync>>,
    {
        let config = &self.shared.config;
        if !path_matches(req.uri().path(), &config.path) {
            return plain(StatusCode::NOT_FOUND, "Not Found");
        }
        if req.method() == Method::OPTIONS {
            return preflight(&req);
        }
        let query = req.uri().query().unwrap_or("").to_owned();
        let q = Query::parse(&query);
        // The checks run in the reference server's order: transport, session id, method,
        // then protocol version.
        let transport = match q.transport {
            Some("polling") if config.allows(Transport::Polling) => Transport::Polling,
            Some("websocket") if config.allows(Transport::WebSocket) => Transport::WebSocket,
            _ => return error(ErrorCode::UnknownTransport),
        };
        let is_upgrade = is_websocket_upgrade(&req);
        let Some(sid) = q.sid else {
            if req.method() != Method::GET {
                return error(ErrorCode::BadHandshakeMethod);
            }
            if transport == Transport::WebSocket && !is_upgrade {
                return error(ErrorCode::BadRequest);
            }
            match ProtocolVersion::from_eio(q.eio) {
                Some(ProtocolVersion::V4) => {}
                Some(ProtocolVersion::V3) if config.allow_eio3 => {}
                _ => return error(ErrorCode::UnsupportedProtocolVersion),
            }
            if let Some(allow) = &config.allow_request {
                let (parts, body) = req.into_parts();
                if let Err(why) = allow(&parts) {
                    tracing::debug!(%why, "handshake refused by allow_request");
                    return error(ErrorCode::Forbidden);
                }
                req = Request::from_parts(parts, body);
            }
            if self.session_count() >= config.max_sessions {
                tracing::warn!(
                    max = config.max_sessions,
                    "too many sessions, handshake refused"
                );
                return plain(StatusCode::SERVICE_UNAVAILABLE, "Service Unavailable");
            }
            return match transport {
                Transport::Polling => self.open_polling(req, remote),
                Transport::WebSocket => self.accept_websocket(req, remote, None),
            };
        };
        let Some(socket) = self.shared.get(sid) else {
            return error(ErrorCode::UnknownSid);
        };
        let current = socket.inner.transport.load(Ordering::Acquire);
        if ProtocolVersion::from_eio(q.eio) != Some(socket.protocol()) {
            return error(ErrorCode::BadRequest);
        }
        match transport {
            Transport::WebSocket => {
                if !is_upgrade {
                    return error(ErrorCode::BadRequest);
                }
                if let Some(allow) = &config.allow_request {
                    let (parts, body) = req.into_parts();
                    if allow(&parts).is_err() {
                        return error(ErrorCode::Forbidden);
                    }
                    req = Request::from_parts(parts, body);
                }
                self.accept_websocket(req, remote, Some(socket))
            }
            Transport::Polling => {
                if current == WEBSOCKET {
                    return error(ErrorCode::BadRequest);
                }
                match *req.method() {
                    Method::GET => {
                        let encoding = config.http_compression.and_then(|c| {
                            super::http::accepted_encoding(req.headers()).map(|e| (c, e))
                        });
                        self.poll(socket, encoding).await
                    }
                    Method::POST => self.post(socket, req).await,
                    _ => error(ErrorCode::BadRequest),
                }
            }
        }
    }

    /// A new session, in the table. A long-polling session gets its heartbeat task here; the
    /// WebSocket task runs a WebSocket session's heartbeat itself ([`super::heartbeat::Beat`]).
    pub(super) fn create_session(
        &self,
        transport: Transport,
        handshake: HandshakeInfo,
    ) -> EngineSession<H::Data> {
        let config = &self.shared.config;
        let socket = EngineSession::new(
            new_sid().into_boxed_str(),
            H::Data::default(),
            handshake,
            transport,
            config.max_buffered_packets,
            config.max_buffered_bytes,
            self.shared.observer.clone(),
        );
        if let Some(o) = &self.shared.observer {
            o.session_opened(socket.sid(), transport);
        }
        self.shared
            .sessions
            .write()
            .unwrap_or_else(|e| e.into_inner())
            .insert(socket.inner.sid.clone(), socket.clone());
        if transport == Transport::Polling {
            let span = tracing::debug_span!("engine", sid = %socket.sid());
            tokio::spawn(heartbeat(self.shared.clone(), socket.clone()).instrument(span));
        }
        socket
    }

    pub(super) fn handshake_json(&self, sid: &str, transport: Transport) -> String {
        let c = &self.shared.config;
        let upgrades = if transport == Transport::Polling && c.allows(Transport::WebSocket) {
            r#"["websocket"]"#
        } else {
            "[]"
        };
        format!(
            r#"0{{"sid":"{sid}","upgrades":{upgrades},"pingInterval":{},"pingTimeout":{},"maxPayload":{}}}"#,
            c.ping_interval.as_millis(),
            c.ping_timeout.as_millis(),
            c.max_payload
        )
    }
}

impl<H: EngineHandler> Shared<H> {
    /// Every open session (for a server shutdown).
    pub(crate) fn sessions(&self) -> Vec<EngineSession<H::Data>> {
        let map = self.sessions.read().unwrap_or_else(|e| e.into_inner());
        map.values().cloned().collect()
    }

    /// A session of the table by id, closed or not (no request is being answered).
    #[cfg(feature = "admin-ui")]
    pub(crate) fn session(&self, sid: &str) -> Option<EngineSession<H::Data>> {
        let map = self.sessions.read().unwrap_or_else(|e| e.into_inner());
        map.get(sid).cloned()
    }

    /// An open session by id. A closed one is unknown at once, though its heartbeat task
    /// may not have removed it from the table yet; except a polling session the server closed,
    /// until a GET has taken its close packet (as the reference server does).
    pub(super) fn get(&self, sid: &str) -> Option<EngineSession<H::Data>> {
        let socket = self
            .sessions
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .get(sid)
            .cloned()?;
        if socket.ping_expired() {
            socket.close(CloseReason::PingTimeout);
        }
        (!socket.is_closed() || delivers_close(&socket)).then_some(socket)
    }

    /// Ends a session whose client sent what cannot be decoded. The reference server's
    /// decoder turns it into an error packet whose data is `parser error`, which its engine
    /// emits as a `packet` (and the admin UI counts) before closing the session.
    pub(super) fn parse_error(&self, socket: &EngineSession<H::Data>) {
        if let Some(o) = &self.observer
            && !socket.is_closed()
        {
            o.packet_in("parser error".len());
        }
        socket.close(CloseReason::ParseError);
    }

    /// Acts on one packet from the client (none once the session is closed).
    pub(super) fn on_packet(&self, socket: &EngineSession<H::Data>, packet: EnginePacket) -> Flow {
        if socket.is_closed() {
            return Flow::Continue;
        }
        match packet {
            EnginePacket::Message(text) => {
                // As the reference server's `packet` event is counted: messages with data.
                if let Some(o) = &self.observer
                    && !text.is_empty()
                {
                    o.packet_in(text.len());
                }
                return self.handler.on_message(socket, Message::Text(text));
            }
            EnginePacket::Binary(data) => {
                if let Some(o) = &self.observer {
                    o.packet_in(data.len());
                }
                return self.handler.on_message(socket, Message::Binary(data));
            }
            // Revision 3: the client pings, the server answers (and the heartbeat task
            // restarts its wait); a pong from the client is the wrong direction, as the
            // reference server holds.
            EnginePacket::Ping { probe: false } if socket.protocol() == ProtocolVersion::V3 => {
                let _ = socket.send_frame(Frame::pong());
                socket.inner.pong.notify_one();
            }
            EnginePacket::Pong { probe: false } if socket.protocol() == ProtocolVersion::V3 => {
                tracing::debug!("pong from a v3 client: invalid heartbeat direction");
                socket.close(CloseReason::TransportError);
            }
            // Only a pong that answers a ping counts: stored, a stray one would answer the
            // next ping in advance.
            EnginePacket::Pong { probe: false } if socket.ping_outstanding() => {
                socket.inner.pong.notify_one()
            }
            EnginePacket::Pong { probe: false } => {}
            EnginePacket::Ping { probe: false } => {
                let _ = socket.send_frame(Frame::pong());
            }
            EnginePacket::Close => socket.close(CloseReason::ClientClose),
            EnginePacket::Noop | EnginePacket::Upgrade | EnginePacket::Pong { probe: true } => {}
            EnginePacket::Open(_) | EnginePacket::Ping { probe: true } => {
                socket.close(CloseReason::TransportError);
            }
        }
        Flow::Continue
    }
}
