//! WebSocket: accepting the upgrade request, the probe phase of an upgrade from polling, and
//! the loop that reads and writes a WebSocket session.

use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::task::{Context, Poll};
use std::time::Duration;

use bytes::Bytes;
use futures_util::future::BoxFuture;
use futures_util::{FutureExt, Sink, SinkExt, Stream, StreamExt};
use http::{HeaderValue, Request, Response, StatusCode, header};
use http_body_util::Full;
use tokio_tungstenite::WebSocketStream;
use tokio_tungstenite::tungstenite::protocol::{Role, WebSocketConfig};
use tokio_tungstenite::tungstenite::{self, Message as WsMessage};
use tracing::Instrument;

use super::config::ProtocolVersion;
use super::config::Transport;
use super::deflate::{Codec, DeflateStream, negotiate};
use super::heartbeat::Beat;
use super::http::{Body, ErrorCode, error, websocket_handshake_error};
use super::router::{Engine, Shared};
use super::session::{CloseReason, EngineSession, HandshakeInfo, POLLING, UPGRADING, WEBSOCKET};
use super::ws_io::WsIo;
use super::{EngineHandler, Flow};
use crate::codec::engine::packet::{EnginePacket, Frame};
use crate::codec::engine::v3;

/// What tungstenite reserves for reading a WebSocket: kept by every connection, and read
/// per syscall at most.
const READ_BUFFER: usize = 1024;

impl<H: EngineHandler> Engine<H> {
    pub(super) fn accept_websocket<B>(
        &self,
        mut req: Request<B>,
        remote: Option<SocketAddr>,
        existing: Option<EngineSession<H::Data>>,
    ) -> Response<Body> {
        if let Some(refused) = websocket_handshake_error(&req) {
            return refused;
        }
        let Some(key) = req.headers().get(header::SEC_WEBSOCKET_KEY) else {
            return error(ErrorCode::BadRequest);
        };
        let accept = tungstenite::handshake::derive_accept_key(key.as_bytes());
        // permessage-deflate, when it is on and the client offers it in a form we accept.
        let agreed = self.shared.config.ws_compression.and_then(|config| {
            let offers = req.headers().get_all(header::SEC_WEBSOCKET_EXTENSIONS);
            negotiate(offers.iter().map(HeaderValue::as_bytes), &config)
        });
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
                let (io, read) = WsIo::new(upgraded);
                let ws = match (agreed, read) {
                    (Some(agreed), read) => Ws::Deflate(DeflateStream::new(
                        io,
                        Codec::new(agreed, c.max_payload + 1),
                        read,
                    )),
                    (None, None) => Ws::Plain(
                        WebSocketStream::from_raw_socket(io, Role::Server, Some(ws_config)).await,
                    ),
                    (None, Some(read)) => Ws::Plain(
                        WebSocketStream::from_partially_read(
                            io,
                            read,
                            Role::Server,
                            Some(ws_config),
                        )
                        .await,
                    ),
                };
                // The accept task ends here: the session's loop runs as a task of its own,
                // sized for the loop alone (an idle connection keeps only that).
                let span = tracing::Span::current();
                match target {
                    Err((socket, claimed)) => {
                        span.record("sid", socket.sid());
                        let shared = engine.shared.clone();
                        if let Some(ws) = shared.probe(ws, &socket, claimed).await {
                            tokio::spawn(shared.run_websocket(ws, socket, None).instrument(span));
                        }
                    }
                    Ok(handshake) => {
                        let socket = engine.create_session(Transport::WebSocket, handshake);
                        span.record("sid", socket.sid());
                        let hello = engine.handshake_json(socket.sid(), Transport::WebSocket);
                        tokio::spawn(
                            engine
                                .shared
                                .clone()
                                .run_websocket(ws, socket, Some(hello))
                                .instrument(span),
                        );
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
        if let Some(agreed) = agreed
            && let Ok(v) = HeaderValue::from_str(&agreed.response())
        {
            h.insert(header::SEC_WEBSOCKET_EXTENSIONS, v);
        }
        res
    }
}

/// A WebSocket connection: tungstenite's, or ours with `permessage-deflate`. Both are a `Stream` and a `Sink` of tungstenite
/// messages, so one loop drives either.
enum Ws {
    Plain(WebSocketStream<WsIo>),
    Deflate(DeflateStream<WsIo>),
}

impl Stream for Ws {
    type Item = Result<WsMessage, tungstenite::Error>;

    fn poll_next(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        match self.get_mut() {
            Ws::Plain(ws) => Pin::new(ws).poll_next(cx),
            Ws::Deflate(ws) => Pin::new(ws).poll_next(cx),
        }
    }
}

impl Sink<WsMessage> for Ws {
    type Error = tungstenite::Error;

    fn poll_ready(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        match self.get_mut() {
            Ws::Plain(ws) => Pin::new(ws).poll_ready(cx),
            Ws::Deflate(ws) => Pin::new(ws).poll_ready(cx),
        }
    }

    fn start_send(self: Pin<&mut Self>, item: WsMessage) -> Result<(), Self::Error> {
        match self.get_mut() {
            Ws::Plain(ws) => Pin::new(ws).start_send(item),
            Ws::Deflate(ws) => Pin::new(ws).start_send(item),
        }
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        match self.get_mut() {
            Ws::Plain(ws) => Pin::new(ws).poll_flush(cx),
            Ws::Deflate(ws) => Pin::new(ws).poll_flush(cx),
        }
    }

    fn poll_close(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        match self.get_mut() {
            Ws::Plain(ws) => Pin::new(ws).poll_close(cx),
            Ws::Deflate(ws) => Pin::new(ws).poll_close(cx),
        }
    }
}

impl<H: EngineHandler> Shared<H> {
    /// The probe phase of an upgrade: the WebSocket to carry the session on, or `None` when
    /// the upgrade failed (the session goes on over long-polling).
    async fn probe(
        &self,
        mut ws: Ws,
        socket: &EngineSession<H::Data>,
        claimed: bool,
    ) -> Option<Ws> {
        if !claimed {
            let _ = SinkExt::close(&mut ws).await;
            return None;
        }
        let timeout = self.config.upgrade_timeout;
        let probed = tokio::time::timeout(timeout, async {
            let mut probed = false;
            while let Some(msg) = ws.next().await {
                let text = match msg {
                    Ok(WsMessage::Text(text)) => text,
                    // Control frames are the WebSocket layer's (a ping is answered by it), as
                    // with the reference server, whose `ws` never shows them to Engine.IO.
                    Ok(WsMessage::Ping(_) | WsMessage::Pong(_)) => continue,
                    _ => return false,
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
            let _ = SinkExt::close(&mut ws).await;
            return None;
        }
        socket.inner.transport.store(WEBSOCKET, Ordering::Release);
        tracing::debug!("upgraded to websocket");
        if let Some(o) = &self.observer {
            o.session_upgraded(socket.sid());
        }
        // Wake a GET that may still be pending so it ends with a noop.
        socket.inner.writable.notify_one();
        Some(ws)
    }

    /// A WebSocket session's task. A session opened on this WebSocket (`hello`: its handshake
    /// to send) has its heartbeat run here and is ended here; an upgraded one keeps the
    /// heartbeat task it had under long-polling.
    ///
    /// Not an `async fn`: that would keep a second copy of its arguments (the WebSocket among
    /// them) in every idle connection's task.
    #[expect(
        clippy::manual_async_fn,
        reason = "an async fn keeps a second copy of its arguments"
    )]
    fn run_websocket(
        self: Arc<Self>,
        mut ws: Ws,
        socket: EngineSession<H::Data>,
        hello: Option<String>,
    ) -> impl Future<Output = ()> + Send + 'static {
        async move {
            let Some(hello) = hello else {
                self.websocket_loop(&mut ws, &socket, &mut None).await;
                return;
            };
            if ws.send(WsMessage::Text(hello.into())).await.is_err() {
                socket.close(CloseReason::TransportClose);
            } else {
                tracing::debug!("session opened (websocket)");
                self.handler.on_open(&socket);
                let mut beat = Some(Beat::start(&socket, &self.config));
                self.websocket_loop(&mut ws, &socket, &mut beat).await;
            }
            drop(ws);
            self.session_ended(&socket).await;
        }
    }

    /// The WebSocket loop: reads, writes, and runs the heartbeat when it has it, until the
    /// session closes.
    async fn websocket_loop(
        &self,
        ws: &mut Ws,
        socket: &EngineSession<H::Data>,
        beat: &mut Option<Beat>,
    ) {
        let write_timeout = self.config.write_timeout;
        let v3 = socket.protocol() == ProtocolVersion::V3;
        let mut frames = Vec::new();
        // Inbound flow control: while the handler has no room, no frame is read.
        let mut paused: Option<BoxFuture<'static, bool>> = None;
        // The heartbeat's one timer, moved only when its deadline does (never polled without
        // a heartbeat).
        let heartbeat = tokio::time::sleep_until(beat.as_ref().map_or_else(
            || tokio::time::Instant::now() + std::time::Duration::from_secs(86_400),
            Beat::at,
        ));
        tokio::pin!(heartbeat);
        loop {
            let notified = socket.inner.writable.notified();
            socket.drain(&mut frames);
            if !frames.is_empty() {
                let count = frames.len();
                let skip = socket.close_reason() == Some(CloseReason::ClientClose);

                // A write the client does not take blocks here; a session closed meanwhile for
                // a fault of the client's (buffer full, ping timeout) drops it at once.
                let mut woken = false;
                if skip {
                    frames.clear();
                }
                // Written from the back, oldest first.
                frames.reverse();
                let binary = socket.supports_binary();
                // Most writes complete at once (the kernel has room): no timer for them, and
                // the state of a write that waits is allocated only then.
                let written = match std::future::poll_fn(|cx| {
                    Poll::Ready(poll_write(ws, &mut frames, v3, binary, cx))
                })
                .await
                {
                    Poll::Ready(r) => Some(Ok(r)),
                    Poll::Pending => {
                        Box::pin(stalled_write(
                            ws,
                            &mut frames,
                            (v3, binary),
                            socket,
                            (beat, heartbeat.as_mut()),
                            write_timeout,
                            &mut woken,
                        ))
                        .await
                    }
                };
                socket.set_inbound_held(paused.is_some());
                let Some(written) = written else {
                    tracing::debug!(
                        "session closed while a write was stuck, dropping the connection"
                    );
                    return;
                };
                match written {
                    Ok(Ok(())) => {
                        socket.mark_written(count);
                        if woken {
                            // Frames queued during the write: their wake-up was taken here.
                            continue;
                        }
                    }
                    Ok(Err(_)) => {
                        frames.clear();
                        socket.close(CloseReason::TransportClose);
                        break;
                    }
                    Err(_) => {
                        // The client stopped reading and the TCP window is full: drop the
                        // connection rather than hold it (and its unsent bytes) forever.
                        tracing::debug!(
                            ?write_timeout,
                            "websocket write timed out, dropping the connection"
                        );
                        socket.close(CloseReason::TransportError);
                        return;
                    }
                }
            }
            if socket.is_closed() {
                let _ = Box::pin(tokio::time::timeout(write_timeout, SinkExt::close(ws))).await;
                break;
            }
            tokio::select! {
                _ = notified => {}
                _ = &mut heartbeat, if beat.is_some() => beat_due(beat, heartbeat.as_mut(), socket),
                _ = async { paused.as_mut().expect("guarded").await }, if paused.is_some() => {
                    paused = None;
                    socket.set_inbound_held(false);
                }
                msg = ws.next(), if paused.is_none() => {
                    let flow = match msg {
                        Some(Ok(WsMessage::Text(text))) => match if v3 {
                            // Revision 3: `b4<base64>` from a client that sends no binary.
                            v3::decode_text_packet(Bytes::from(text))
                        } else {
                            EnginePacket::decode_text(text)
                        } {
                            Ok(p) => self.ws_packet(socket, p, beat),
                            Err(e) => {
                                tracing::debug!(error = %e, "invalid packet, closing the session");
                                self.parse_error(socket);
                                Flow::Continue
                            }
                        },
                        Some(Ok(WsMessage::Binary(data)))
                            if socket.protocol() == ProtocolVersion::V3 =>
                        {
                            // Revision 3: the frame's first byte is the packet type.
                            match v3::decode_ws_binary(data) {
                                Ok(p) => self.ws_packet(socket, p, beat),
                                Err(e) => {
                                    tracing::debug!(error = %e, "invalid packet, closing the session");
                                    self.parse_error(socket);
                                    Flow::Continue
                                }
                            }
                        }
                        Some(Ok(WsMessage::Binary(data))) => {
                            self.ws_packet(socket, EnginePacket::Binary(data), beat)
                        }
                        Some(Ok(WsMessage::Close(_))) => {
                            // tungstenite queued the answering close frame: send it (RFC 6455
                            // 5.5.1).
                            let _ = Box::pin(tokio::time::timeout(write_timeout, ws.flush())).await;
                            socket.close(CloseReason::TransportClose);
                            Flow::Continue
                        }
                        None => {
                            socket.close(CloseReason::TransportClose);
                            Flow::Continue
                        }
                        Some(Ok(_)) => Flow::Continue,
                        Some(Err(e)) => {
                            tracing::debug!(error = %e, "websocket error, closing the session");
                            socket.close(match e {
                                tungstenite::Error::Capacity(_) => CloseReason::TransportError,
                                _ => CloseReason::TransportClose,
                            });
                            Flow::Continue
                        }
                    };
                    // The backlog drains as the client reads: a client that stops reading is
                    // cut off by the write timeout of the write that waits on it.
                    paused = inbound_pause(flow, socket, None);
                    // Unread, the client's pongs wait too: the heartbeat lets it be.
                    socket.set_inbound_held(paused.is_some());
                    if let Some(b) = &beat
                        && b.at() != heartbeat.deadline()
                    {
                        heartbeat.as_mut().reset(b.at());
                    }
                }
            }
        }
    }

    /// A packet read from the WebSocket. When this task runs the session's heartbeat, a pong
    /// (or a revision 3 client's ping) that the packet handler counted reaches it too.
    fn ws_packet(
        &self,
        socket: &EngineSession<H::Data>,
        packet: EnginePacket,
        beat: &mut Option<Beat>,
    ) -> Flow {
        let heartbeat = beat.is_some()
            && matches!(
                packet,
                EnginePacket::Ping { probe: false } | EnginePacket::Pong { probe: false }
            );
        let flow = self.on_packet(socket, packet);
        // The handler's wake-up is a stored permit here, no task waits on it.
        if heartbeat
            && let Some(b) = beat
            && socket.inner.pong.notified().now_or_never().is_some()
        {
            b.answered(socket);
        }
        flow
    }
}

/// What to wait for before reading on: the handler's room, then the client's backlog. With a
/// `drain_limit`, the wait for the backlog ends after that long, and the future gives `false`
/// (the client did not take what it was sent in time); otherwise it gives `true`.
pub(super) fn inbound_pause<D: Send + Sync + 'static>(
    flow: Flow,
    socket: &EngineSession<D>,
    drain_limit: Option<Duration>,
) -> Option<BoxFuture<'static, bool>> {
    let drained = move |socket: EngineSession<D>| async move {
        match drain_limit {
            Some(limit) => tokio::time::timeout(limit, socket.drained()).await.is_ok(),
            None => {
                socket.drained().await;
                true
            }
        }
    };
    match flow {
        Flow::Wait(room) => {
            let socket = socket.clone();
            Some(Box::pin(async move {
                room.await;
                drained(socket).await
            }))
        }
        Flow::Continue if socket.backlogged() => Some(Box::pin(drained(socket.clone()))),
        Flow::Continue => None,
    }
}

/// The heartbeat's timer is due: runs the beat, and moves the timer to the beat's next deadline.
fn beat_due<D>(
    beat: &mut Option<Beat>,
    mut timer: Pin<&mut tokio::time::Sleep>,
    socket: &EngineSession<D>,
) {
    if let Some(b) = beat {
        b.fire(socket);
        timer.as_mut().reset(b.at());
    }
}

/// Writes `frames` (from the back) and flushes, as far as the connection takes them now.
fn poll_write(
    ws: &mut Ws,
    frames: &mut Vec<Frame>,
    v3: bool,
    supports_binary: bool,
    cx: &mut Context<'_>,
) -> Poll<Result<(), tungstenite::Error>> {
    while !frames.is_empty() {
        std::task::ready!(Pin::new(&mut *ws).poll_ready(cx))?;
        let f = frames.pop().expect("not empty");
        Pin::new(&mut *ws).start_send(if v3 {
            frame_to_ws_v3(f, supports_binary)
        } else {
            frame_to_ws(f)
        })?;
    }
    Pin::new(&mut *ws).poll_flush(cx)
}

/// A write the client is slow to take: waits for it at most `write_timeout`, the heartbeat
/// going on meanwhile. `None` when the session was closed meanwhile for a fault of the
/// client's (buffer full, ping timeout); `woken` tells that more frames were queued.
async fn stalled_write<D>(
    ws: &mut Ws,
    frames: &mut Vec<Frame>,
    (v3, binary): (bool, bool),
    socket: &EngineSession<D>,
    (beat, mut heartbeat): (&mut Option<Beat>, Pin<&mut tokio::time::Sleep>),
    write_timeout: std::time::Duration,
    woken: &mut bool,
) -> Option<Result<Result<(), tungstenite::Error>, tokio::time::error::Elapsed>> {
    // Not reading while writing: a pong may wait unread meanwhile.
    socket.set_inbound_held(true);
    let write = tokio::time::timeout(
        write_timeout,
        std::future::poll_fn(|cx| poll_write(ws, frames, v3, binary, cx)),
    );
    tokio::pin!(write);
    loop {
        tokio::select! {
            r = &mut write => return Some(r),
            // Held meanwhile: the beat gives the client more time.
            _ = &mut heartbeat, if beat.is_some() => beat_due(beat, heartbeat.as_mut(), socket),
            _ = socket.inner.writable.notified() => {
                *woken = true;
                if matches!(
                    socket.close_reason(),
                    Some(
                        CloseReason::BufferFull
                            | CloseReason::PingTimeout
                            | CloseReason::TransportError
                            | CloseReason::ParseError
                    )
                ) {
                    return None;
                }
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

/// A frame for a revision 3 client: a binary message carries its type byte first, or goes as
/// `b4<base64>` text to a client that asked for base64 (`b64=1`).
fn frame_to_ws_v3(frame: Frame, supports_binary: bool) -> WsMessage {
    match frame {
        Frame::Text(t) => WsMessage::Text(t),
        Frame::Binary(b) if supports_binary => WsMessage::Binary(v3::encode_ws_binary(&b)),
        Frame::Binary(b) => WsMessage::Text(v3::encode_base64_message(&b).into()),
    }
}
