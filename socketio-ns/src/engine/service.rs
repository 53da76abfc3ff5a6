use std::collections::HashMap;
use std::convert::Infallible;
use std::fmt;
use std::future::Future;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::atomic::Ordering;
use std::sync::{Arc, RwLock};
use std::task::{Context, Poll};

use bytes::Bytes;
use futures_util::{SinkExt, StreamExt};
use http::{HeaderValue, Method, Request, Response, StatusCode, header};
use http_body_util::{BodyExt, Full, Limited};
use hyper_util::rt::TokioIo;
use tokio_tungstenite::WebSocketStream;
use tokio_tungstenite::tungstenite::protocol::{Role, WebSocketConfig};
use tokio_tungstenite::tungstenite::{self, Message as WsMessage};
use tracing::Instrument;

use super::EngineHandler;
use super::config::{EngineConfig, Transport};
use super::session::{
    CloseReason, EngineSession, HandshakeInfo, Message, POLLING, UPGRADING, WEBSOCKET,
};
use crate::codec::engine::packet::{EnginePacket, Frame};
use crate::codec::engine::payload;

/// The most packets one polling response carries; the rest wait for the next GET.
/// python-engineio's client drops the connection on a payload of more than 16 packets.
const MAX_PACKETS_PER_POLL: usize = 16;

/// What tungstenite reserves for reading a WebSocket: kept by every connection, and read
/// per syscall at most.
const READ_BUFFER: usize = 1024;

/// The response body type of the services in this crate.
pub type Body = Full<Bytes>;

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
    sessions: RwLock<HashMap<Box<str>, EngineSession<H::Data>>>,
}

/// Engine.IO error codes, as the protocol defines them.
#[derive(Clone, Copy)]
enum ErrorCode {
    UnknownTransport = 0,
    UnknownSid = 1,
    BadHandshakeMethod = 2,
    BadRequest = 3,
    Forbidden = 4,
    UnsupportedProtocolVersion = 5,
}

impl ErrorCode {
    fn body(self) -> &'static str {
        match self {
            ErrorCode::UnknownTransport => r#"{"code":0,"message":"Transport unknown"}"#,
            ErrorCode::UnknownSid => r#"{"code":1,"message":"Session ID unknown"}"#,
            ErrorCode::BadHandshakeMethod => r#"{"code":2,"message":"Bad handshake method"}"#,
            ErrorCode::BadRequest => r#"{"code":3,"message":"Bad request"}"#,
            ErrorCode::Forbidden => r#"{"code":4,"message":"Forbidden"}"#,
            ErrorCode::UnsupportedProtocolVersion => {
                r#"{"code":5,"message":"Unsupported protocol version"}"#
            }
        }
    }

    fn status(self) -> StatusCode {
        match self {
            ErrorCode::Forbidden => StatusCode::FORBIDDEN,
            _ => StatusCode::BAD_REQUEST,
        }
    }
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
        Engine {
            shared: Arc::new(Shared {
                config: config.normalise(),
                handler,
                sessions: RwLock::new(HashMap::new()),
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
    pub fn socket(&self, sid: &str) -> Option<EngineSession<H::Data>> {
        self.shared.get(sid)
    }

    /// Every open session.
    pub fn sockets(&self) -> Vec<EngineSession<H::Data>> {
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
        crate::engine::listener::serve_listener(listener, self.service()).await
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
        if let Some(allow) = self.shared.config.cors.allow_origin(origin.as_deref()) {
            let h = res.headers_mut();
            if let Ok(v) = HeaderValue::from_str(allow) {
                h.insert(header::ACCESS_CONTROL_ALLOW_ORIGIN, v);
                h.insert(
                    header::ACCESS_CONTROL_ALLOW_CREDENTIALS,
                    HeaderValue::from_static("true"),
                );
                h.append(header::VARY, HeaderValue::from_static("Origin"));
            }
        }
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
            if q.eio != Some("4") {
                return error(ErrorCode::UnsupportedProtocolVersion);
            }
            if let Some(allow) = &config.allow_request {
                let (parts, body) = req.into_parts();
                if let Err(why) = allow(&parts) {
                    tracing::debug!(%why, "handshake refused by allow_request");
                    return error(ErrorCode::Forbidden);
                }
                req = Request::from_parts(parts, body);
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
        if q.eio != Some("4") {
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
                    Method::GET => self.poll(socket).await,
                    Method::POST => self.post(socket, req).await,
                    _ => error(ErrorCode::BadRequest),
                }
            }
        }
    }

    fn create_socket(
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
        );
        self.shared
            .sessions
            .write()
            .unwrap_or_else(|e| e.into_inner())
            .insert(socket.inner.sid.clone(), socket.clone());
        let span = tracing::debug_span!("engine", sid = %socket.sid());
        tokio::spawn(heartbeat(self.shared.clone(), socket.clone()).instrument(span));
        socket
    }

    fn handshake_json(&self, sid: &str, transport: Transport) -> String {
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

    fn open_polling<B>(&self, req: Request<B>, remote: Option<SocketAddr>) -> Response<Body> {
        let (parts, _) = req.into_parts();
        let socket =
            self.create_socket(Transport::Polling, HandshakeInfo::detached(&parts, remote));
        let body = self.handshake_json(socket.sid(), Transport::Polling);
        tracing::debug!(sid = %socket.sid(), "session opened (polling)");
        self.shared.handler.on_open(&socket);
        text_response(Bytes::from(body))
    }

    /// Answers a GET: waits for frames, then returns them as one payload.
    async fn poll(&self, socket: EngineSession<H::Data>) -> Response<Body> {
        // A GET that arrives mid-upgrade may have raced the client's `5` on the WebSocket,
        // which the client sent first: give the upgrade a moment to settle, so that a client
        // already upgraded is refused as the protocol says, not sent a noop.
        let settle = tokio::time::Instant::now() + std::time::Duration::from_millis(20);
        while socket.inner.transport.load(Ordering::Acquire) == UPGRADING
            && tokio::time::Instant::now() < settle
        {
            tokio::time::sleep(std::time::Duration::from_millis(1)).await;
        }
        if socket.inner.transport.load(Ordering::Acquire) == WEBSOCKET {
            return error(ErrorCode::BadRequest);
        }
        if socket.inner.get_active.swap(true, Ordering::AcqRel) {
            tracing::debug!(sid = %socket.sid(), "overlapping GET, closing the session");
            socket.close(CloseReason::TransportError);
            return empty(StatusCode::BAD_REQUEST);
        }
        // Clears the flag, and closes the session if the request is dropped unanswered.
        struct Guard<'a, D> {
            socket: &'a EngineSession<D>,
            done: bool,
        }
        impl<D> Drop for Guard<'_, D> {
            fn drop(&mut self) {
                self.socket.inner.get_active.store(false, Ordering::Release);
                if !self.done {
                    self.socket.close(CloseReason::TransportClose);
                }
            }
        }
        let mut guard = Guard {
            socket: &socket,
            done: false,
        };
        let mut frames = Vec::new();
        loop {
            let notified = socket.inner.writable.notified();
            let state = socket.inner.transport.load(Ordering::Acquire);
            if state != WEBSOCKET {
                socket.drain_at_most(&mut frames, MAX_PACKETS_PER_POLL);
            }
            if !frames.is_empty() {
                break;
            }
            if state != POLLING || socket.is_closed() {
                frames.push(Frame::noop());
                break;
            }
            notified.await;
        }
        guard.done = true;
        drop(guard);
        let mut body = Vec::with_capacity(frames.iter().map(|f| payload::encoded_len(f) + 1).sum());
        payload::encode_payload(&frames, &mut body);
        text_response(Bytes::from(body))
    }

    /// Answers a POST: decodes the payload and delivers its packets.
    async fn post<B>(&self, socket: EngineSession<H::Data>, req: Request<B>) -> Response<Body>
    where
        B: http_body::Body + Send + 'static,
        B::Data: Send,
        B::Error: Into<Box<dyn std::error::Error + Send + Sync>>,
    {
        let max = self.shared.config.max_payload;
        let too_large = req
            .headers()
            .get(header::CONTENT_LENGTH)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.parse::<usize>().ok())
            .is_some_and(|n| n > max);
        if too_large {
            return empty(StatusCode::PAYLOAD_TOO_LARGE);
        }
        if socket.inner.post_active.swap(true, Ordering::AcqRel) {
            tracing::debug!(sid = %socket.sid(), "overlapping POST, closing the session");
            socket.close(CloseReason::TransportError);
            return error(ErrorCode::BadRequest);
        }
        let body = Limited::new(req.into_body(), max).collect().await;
        socket.inner.post_active.store(false, Ordering::Release);
        let body = match body {
            Ok(b) => b.to_bytes(),
            Err(e) => {
                if e.downcast_ref::<http_body_util::LengthLimitError>()
                    .is_some()
                {
                    return plain(StatusCode::PAYLOAD_TOO_LARGE, "Payload Too Large");
                }
                socket.close(CloseReason::TransportClose);
                return error(ErrorCode::BadRequest);
            }
        };
        match payload::decode_payload(&body, usize::MAX) {
            Ok(packets) => {
                for p in packets {
                    self.shared.on_packet(&socket, p);
                }
                let mut res = Response::new(Full::new(Bytes::from_static(b"ok")));
                res.headers_mut().insert(
                    header::CONTENT_TYPE,
                    HeaderValue::from_static("text/html; charset=UTF-8"),
                );
                res
            }
            Err(e) => {
                tracing::debug!(sid = %socket.sid(), error = %e, "invalid payload, closing the session");
                socket.close(CloseReason::TransportError);
                error(ErrorCode::BadRequest)
            }
        }
    }

    fn accept_websocket<B>(
        &self,
        mut req: Request<B>,
        remote: Option<SocketAddr>,
        existing: Option<EngineSession<H::Data>>,
    ) -> Response<Body> {
        let Some(key) = req.headers().get(header::SEC_WEBSOCKET_KEY) else {
            return error(ErrorCode::BadRequest);
        };
        let accept = tungstenite::handshake::derive_accept_key(key.as_bytes());
        let on_upgrade = hyper::upgrade::on(&mut req);
        // Only what the session keeps of the request goes into the task: the parsed request
        // shares hyper's read buffer.
        // An upgrade claims the session now, before the 101 goes out: a GET the client sends
        // right after its `2probe` and `5` must find the upgrade under way, not plain polling.
        // A second WebSocket for a session already upgrading or upgraded claims nothing and is
        // accepted then closed, as the reference server does.
        let target = match existing {
            Some(socket) => {
                let claimed = socket
                    .inner
                    .transport
                    .compare_exchange(POLLING, UPGRADING, Ordering::AcqRel, Ordering::Acquire)
                    .is_ok();
                Err((socket, claimed))
            }
            None => Ok(HandshakeInfo::detached(&req.into_parts().0, remote)),
        };
        let engine = self.clone();
        let span = tracing::debug_span!("websocket", sid = tracing::field::Empty);
        tokio::spawn(
            async move {
                let upgraded = match on_upgrade.await {
                    Ok(u) => u,
                    Err(e) => {
                        tracing::debug!(error = %e, "websocket upgrade failed");
                        if let Err((socket, true)) = &target {
                            socket.abandon_upgrade();
                        }
                        return;
                    }
                };
                let c = &engine.shared.config;
                let mut ws_config = WebSocketConfig::default();
                ws_config.max_message_size = Some(c.max_payload + 1);
                ws_config.max_frame_size = Some(c.max_payload + 1);
                ws_config.read_buffer_size = READ_BUFFER;
                ws_config.write_buffer_size = 16 * 1024;
                let ws = WebSocketStream::from_raw_socket(
                    TokioIo::new(upgraded),
                    Role::Server,
                    Some(ws_config),
                )
                .await;
                match target {
                    Err((socket, claimed)) => {
                        tracing::Span::current().record("sid", socket.sid());
                        engine.shared.run_upgrade(ws, socket, claimed).await
                    }
                    Ok(handshake) => {
                        let socket = engine.create_socket(Transport::WebSocket, handshake);
                        tracing::Span::current().record("sid", socket.sid());
                        let hello = engine.handshake_json(socket.sid(), Transport::WebSocket);
                        engine.shared.run_websocket(ws, socket, Some(hello)).await
                    }
                }
            }
            .instrument(span),
        );
        let mut res = Response::new(Full::new(Bytes::new()));
        *res.status_mut() = StatusCode::SWITCHING_PROTOCOLS;
        let h = res.headers_mut();
        h.insert(header::CONNECTION, HeaderValue::from_static("Upgrade"));
        h.insert(header::UPGRADE, HeaderValue::from_static("websocket"));
        if let Ok(v) = HeaderValue::from_str(&accept) {
            h.insert(header::SEC_WEBSOCKET_ACCEPT, v);
        }
        res
    }
}

type Ws = WebSocketStream<TokioIo<hyper::upgrade::Upgraded>>;

impl<H: EngineHandler> Shared<H> {
    /// Every open session (for a server shutdown).
    pub(crate) fn sockets(&self) -> Vec<EngineSession<H::Data>> {
        let map = self.sessions.read().unwrap_or_else(|e| e.into_inner());
        map.values().cloned().collect()
    }

    /// An open session by id. A closed one is unknown at once, though its heartbeat task
    /// may not have removed it from the table yet; except a polling session the server closed,
    /// until a GET has taken its close packet (as the reference server does).
    fn get(&self, sid: &str) -> Option<EngineSession<H::Data>> {
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

    /// Acts on one packet from the client (none once the session is closed).
    fn on_packet(&self, socket: &EngineSession<H::Data>, packet: EnginePacket) {
        if socket.is_closed() {
            return;
        }
        match packet {
            EnginePacket::Message(text) => self.handler.on_message(socket, Message::Text(text)),
            EnginePacket::Binary(data) => self.handler.on_message(socket, Message::Binary(data)),
            EnginePacket::Pong { probe: false } => socket.inner.pong.notify_one(),
            EnginePacket::Ping { probe: false } => {
                let _ = socket.send_frame(Frame::pong());
            }
            EnginePacket::Close => socket.close(CloseReason::ClientClose),
            EnginePacket::Noop | EnginePacket::Upgrade | EnginePacket::Pong { probe: true } => {}
            EnginePacket::Open(_) | EnginePacket::Ping { probe: true } => {
                socket.close(CloseReason::TransportError);
            }
        }
    }

    /// The probe phase of an upgrade, then the WebSocket loop.
    async fn run_upgrade(
        self: Arc<Self>,
        mut ws: Ws,
        socket: EngineSession<H::Data>,
        claimed: bool,
    ) {
        if !claimed {
            let _ = ws.close(None).await;
            return;
        }
        let timeout = self.config.upgrade_timeout;
        let probed = tokio::time::timeout(timeout, async {
            let mut probed = false;
            while let Some(msg) = ws.next().await {
                let Ok(WsMessage::Text(text)) = msg else {
                    return false;
                };
                match EnginePacket::decode_text(text) {
                    Ok(EnginePacket::Ping { probe: true }) if !probed => {
                        if ws.send(frame_to_ws(Frame::pong_probe())).await.is_err() {
                            return false;
                        }
                        probed = true;
                        // Ends the pending GET with a noop.
                        socket.inner.writable.notify_one();
                    }
                    Ok(EnginePacket::Upgrade) if probed => return true,
                    _ => return false,
                }
            }
            false
        })
        .await
        .unwrap_or(false);
        if !probed || socket.is_closed() {
            tracing::debug!("upgrade failed");
            socket.abandon_upgrade();
            let _ = ws.close(None).await;
            return;
        }
        socket.inner.transport.store(WEBSOCKET, Ordering::Release);
        tracing::debug!("upgraded to websocket");
        // Wake a GET that may still be pending so it ends with a noop.
        socket.inner.writable.notify_one();
        self.run_websocket(ws, socket, None).await;
    }

    /// The WebSocket loop: one task reads and writes.
    async fn run_websocket(
        self: Arc<Self>,
        mut ws: Ws,
        socket: EngineSession<H::Data>,
        hello: Option<String>,
    ) {
        if let Some(hello) = hello {
            if ws.send(WsMessage::Text(hello.into())).await.is_err() {
                socket.close(CloseReason::TransportClose);
                return;
            }
            tracing::debug!("session opened (websocket)");
            self.handler.on_open(&socket);
        }
        let mut frames = Vec::new();
        loop {
            let notified = socket.inner.writable.notified();
            socket.drain(&mut frames);
            if !frames.is_empty() {
                let count = frames.len();
                let skip = socket.close_reason() == Some(CloseReason::ClientClose);
                let mut failed = false;
                for f in frames.drain(..) {
                    if skip {
                        continue;
                    }
                    if ws.feed(frame_to_ws(f)).await.is_err() {
                        failed = true;
                        break;
                    }
                }
                if failed || ws.flush().await.is_err() {
                    frames.clear();
                    socket.close(CloseReason::TransportClose);
                    break;
                }
                socket.mark_written(count);
            }
            if socket.is_closed() {
                let _ = ws.close(None).await;
                break;
            }
            tokio::select! {
                _ = notified => {}
                msg = ws.next() => match msg {
                    Some(Ok(WsMessage::Text(text))) => match EnginePacket::decode_text(text) {
                        Ok(p) => self.on_packet(&socket, p),
                        Err(e) => {
                            tracing::debug!(error = %e, "invalid packet, closing the session");
                            socket.close(CloseReason::TransportError);
                        }
                    },
                    Some(Ok(WsMessage::Binary(data))) => {
                        self.handler.on_message(&socket, Message::Binary(data))
                    }
                    Some(Ok(WsMessage::Close(_))) => {
                        // tungstenite queued the answering close frame: send it (RFC 6455 5.5.1).
                        let _ = ws.flush().await;
                        socket.close(CloseReason::TransportClose);
                    }
                    None => socket.close(CloseReason::TransportClose),
                    Some(Ok(_)) => {}
                    Some(Err(e)) => {
                        tracing::debug!(error = %e, "websocket error, closing the session");
                        socket.close(match e {
                            tungstenite::Error::Capacity(_) => CloseReason::TransportError,
                            _ => CloseReason::TransportClose,
                        });
                    }
                },
            }
        }
    }
}

fn frame_to_ws(frame: Frame) -> WsMessage {
    match frame {
        Frame::Text(t) => WsMessage::Text(t),
        Frame::Binary(b) => WsMessage::Binary(b),
    }
}

/// Pings every interval; closes the session when no pong comes in time. When the session ends
/// for any reason, removes it from the table and tells the handler, exactly once.
async fn heartbeat<H: EngineHandler>(shared: Arc<Shared<H>>, socket: EngineSession<H::Data>) {
    let interval = shared.config.ping_interval;
    let timeout = shared.config.ping_timeout;
    let inner = &socket.inner;
    // Deadlines run from planned instants, not from when a timer happened to fire, so the
    // session closes when the protocol says (timers only ever fire late). The timeout is cut
    // by a hair for the same reason: a client that waited exactly interval + timeout must
    // find the session gone.
    let grace = std::time::Duration::from_millis(2).min(timeout / 2);
    let mut ping_at = tokio::time::Instant::now() + interval;
    loop {
        tokio::select! {
            _ = tokio::time::sleep_until(ping_at) => {}
            _ = inner.closing.notified() => break,
        }
        if socket.send_frame(Frame::ping()).is_err() {
            break;
        }
        socket.set_ping_deadline(Some(ping_at + timeout - grace));
        tokio::select! {
            _ = inner.pong.notified() => socket.set_ping_deadline(None),
            _ = tokio::time::sleep_until(ping_at + timeout - grace) => {
                tracing::debug!("ping timeout");
                socket.close(CloseReason::PingTimeout);
                break;
            }
            _ = inner.closing.notified() => break,
        }
        ping_at = tokio::time::Instant::now() + interval;
    }
    let reason = socket.close_reason().unwrap_or(CloseReason::TransportClose);
    tracing::debug!(%reason, "session closed");
    shared.handler.on_close(&socket, reason);
    // A polling client fetches the close packet of a server-side close (and what was queued
    // before it) with its next GET: keep the session in the table until then, at most a ping
    // timeout.
    let deadline = tokio::time::Instant::now() + timeout;
    while delivers_close(&socket) && tokio::time::Instant::now() < deadline {
        tokio::time::sleep(std::time::Duration::from_millis(10)).await;
    }
    shared
        .sessions
        .write()
        .unwrap_or_else(|e| e.into_inner())
        .remove(socket.sid());
}

/// Whether a closed polling session still holds the packet that ends it for the client: the
/// close packet of a server-side close, or the noop answering the client's own close.
fn delivers_close<D>(socket: &EngineSession<D>) -> bool {
    socket.inner.transport.load(Ordering::Acquire) != WEBSOCKET
        && matches!(
            socket.close_reason(),
            Some(CloseReason::ServerClose | CloseReason::ServerShutdown | CloseReason::ClientClose)
        )
        && socket.has_pending()
}

fn path_matches(path: &str, base: &str) -> bool {
    path == base || path == base.trim_end_matches('/')
}

fn is_websocket_upgrade<B>(req: &Request<B>) -> bool {
    req.headers()
        .get(header::UPGRADE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.eq_ignore_ascii_case("websocket"))
}

fn error(code: ErrorCode) -> Response<Body> {
    let mut res = Response::new(Full::new(Bytes::from_static(code.body().as_bytes())));
    *res.status_mut() = code.status();
    res.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    res
}

fn plain(status: StatusCode, text: &'static str) -> Response<Body> {
    let mut res = Response::new(Full::new(Bytes::from_static(text.as_bytes())));
    *res.status_mut() = status;
    res.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/plain; charset=UTF-8"),
    );
    res
}

fn text_response(body: Bytes) -> Response<Body> {
    let mut res = Response::new(Full::new(body));
    let h = res.headers_mut();
    h.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/plain; charset=UTF-8"),
    );
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    res
}

fn empty(status: StatusCode) -> Response<Body> {
    let mut res = Response::new(Full::new(Bytes::new()));
    *res.status_mut() = status;
    res
}

fn preflight<B>(req: &Request<B>) -> Response<Body> {
    let mut res = Response::new(Full::new(Bytes::new()));
    *res.status_mut() = StatusCode::NO_CONTENT;
    let h = res.headers_mut();
    h.insert(
        header::ACCESS_CONTROL_ALLOW_METHODS,
        HeaderValue::from_static("GET, POST, OPTIONS"),
    );
    if let Some(v) = req.headers().get(header::ACCESS_CONTROL_REQUEST_HEADERS) {
        h.insert(header::ACCESS_CONTROL_ALLOW_HEADERS, v.clone());
    }
    h.insert(
        header::ACCESS_CONTROL_MAX_AGE,
        HeaderValue::from_static("86400"),
    );
    res
}

/// [`Engine`] as a `tower::Service` (and a hyper service through `hyper_util`'s adapter).
pub struct EngineService<H: EngineHandler> {
    engine: Engine<H>,
}

impl<H: EngineHandler> Clone for EngineService<H> {
    fn clone(&self) -> Self {
        EngineService {
            engine: self.engine.clone(),
        }
    }
}

impl<H: EngineHandler> fmt::Debug for EngineService<H> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("EngineService")
            .field("engine", &self.engine)
            .finish()
    }
}

impl<H: EngineHandler> EngineService<H> {
    /// The engine behind this service.
    pub fn engine(&self) -> &Engine<H> {
        &self.engine
    }
}

/// The client address, as the crate's own server records it in request extensions.
#[derive(Debug, Clone, Copy)]
pub(crate) struct RemoteAddr(pub(crate) SocketAddr);

impl<H, B> tower_service::Service<Request<B>> for EngineService<H>
where
    H: EngineHandler,
    B: http_body::Body + Send + 'static,
    B::Data: Send,
    B::Error: Into<Box<dyn std::error::Error + Send + Sync>>,
{
    type Response = Response<Body>;
    type Error = Infallible;
    type Future = Pin<Box<dyn Future<Output = Result<Response<Body>, Infallible>> + Send>>;

    fn poll_ready(&mut self, _cx: &mut Context<'_>) -> Poll<Result<(), Infallible>> {
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, req: Request<B>) -> Self::Future {
        let engine = self.engine.clone();
        let remote = req
            .extensions()
            .get::<RemoteAddr>()
            .map(|r| r.0)
            .or_else(|| req.extensions().get::<SocketAddr>().copied());
        Box::pin(async move { Ok(engine.handle(req, remote).await) })
    }
}
