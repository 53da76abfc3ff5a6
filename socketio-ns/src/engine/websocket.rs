//! WebSocket: accepting the upgrade request, the probe phase of an upgrade from polling, and
//! the loop that reads and writes a WebSocket session.

use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::task::{Context, Poll};

use bytes::Bytes;
use futures_util::future::BoxFuture;
use futures_util::{Sink, SinkExt, Stream, StreamExt};
use http::{HeaderValue, Request, Response, StatusCode, header};
use http_body_util::Full;
use tokio_tungstenite::WebSocketStream;
use tokio_tungstenite::tungstenite::protocol::{Role, WebSocketConfig};
use tokio_tungstenite::tungstenite::{self, Message as WsMessage};
use tracing::Instrument;

use super::config::ProtocolVersion;
use super::config::Transport;
use super::deflate::{Codec, DeflateStream, negotiate};
use super::http::{Body, ErrorCode, error};
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
                match target {
                    Err((socket, claimed)) => {
                        tracing::Span::current().record("sid", socket.sid());
                        engine.shared.run_upgrade(ws, socket, claimed).await
                    }
                    Ok(handshake) => {
                        let socket = engine.create_session(Transport::WebSocket, handshake);
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
    /// The probe phase of an upgrade, then the WebSocket loop.
    async fn run_upgrade(
        self: Arc<Self>,
        mut ws: Ws,
        socket: EngineSession<H::Data>,
        claimed: bool,
    ) {
        if !claimed {
            let _ = SinkExt::close(&mut ws).await;
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
            let _ = SinkExt::close(&mut ws).await;
            return;
        }
        socket.inner.transport.store(WEBSOCKET, Ordering::Release);
        tracing::debug!("upgraded to websocket");
        if let Some(o) = &self.observer {
            o.session_upgraded(socket.sid());
        }
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
        let write_timeout = self.config.write_timeout;
        let v3 = socket.protocol() == ProtocolVersion::V3;
        let mut frames = Vec::new();
        // Inbound flow control: while the handler has no room, no frame is read.
        let mut paused: Option<BoxFuture<'static, ()>> = None;
        loop {
            let notified = socket.inner.writable.notified();
            socket.drain(&mut frames);
            if !frames.is_empty() {
                let count = frames.len();
                let skip = socket.close_reason() == Some(CloseReason::ClientClose);

                // A write the client does not take blocks here; a session closed meanwhile for
                // a fault of the client's (buffer full, ping timeout) drops it at once.
                let mut woken = false;
                let written = {
                    let write = async {
                        for f in frames.drain(..) {
                            if !skip {
                                ws.feed(if v3 {
                                    frame_to_ws_v3(f, socket.supports_binary())
                                } else {
                                    frame_to_ws(f)
                                })
                                .await?;
                            }
                        }
                        ws.flush().await
                    };
                    tokio::pin!(write);
                    // Most writes complete at once (the kernel has room): no timer for them.
                    match std::future::poll_fn(|cx| Poll::Ready(write.as_mut().poll(cx))).await {
                        Poll::Ready(r) => Some(Ok(r)),
                        Poll::Pending => {
                            // Not reading while writing: a pong may wait unread meanwhile.
                            socket.set_inbound_held(true);
                            let write = tokio::time::timeout(write_timeout, write);
                            tokio::pin!(write);
                            loop {
                                tokio::select! {
                                    r = &mut write => break Some(r),
                                    _ = socket.inner.writable.notified() => {
                                        woken = true;
                                        if matches!(
                                            socket.close_reason(),
                                            Some(
                                                CloseReason::BufferFull
                                                    | CloseReason::PingTimeout
                                                    | CloseReason::TransportError
                                                    | CloseReason::ParseError
                                            )
                                        ) {
                                            break None;
                                        }
                                    }
                                }
                            }
                        }
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
                let _ = tokio::time::timeout(write_timeout, SinkExt::close(&mut ws)).await;
                break;
            }
            tokio::select! {
                _ = notified => {}
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
                            Ok(p) => self.on_packet(&socket, p),
                            Err(e) => {
                                tracing::debug!(error = %e, "invalid packet, closing the session");
                                self.parse_error(&socket);
                                Flow::Continue
                            }
                        },
                        Some(Ok(WsMessage::Binary(data)))
                            if socket.protocol() == ProtocolVersion::V3 =>
                        {
                            // Revision 3: the frame's first byte is the packet type.
                            match v3::decode_ws_binary(data) {
                                Ok(p) => self.on_packet(&socket, p),
                                Err(e) => {
                                    tracing::debug!(error = %e, "invalid packet, closing the session");
                                    self.parse_error(&socket);
                                    Flow::Continue
                                }
                            }
                        }
                        Some(Ok(WsMessage::Binary(data))) => {
                            self.on_packet(&socket, EnginePacket::Binary(data))
                        }
                        Some(Ok(WsMessage::Close(_))) => {
                            // tungstenite queued the answering close frame: send it (RFC 6455
                            // 5.5.1).
                            let _ = tokio::time::timeout(write_timeout, ws.flush()).await;
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
                    paused = inbound_pause(flow, &socket);
                    // Unread, the client's pongs wait too: the heartbeat lets it be.
                    socket.set_inbound_held(paused.is_some());
                }
            }
        }
    }
}

/// What to wait for before reading on: the handler's room, then the client's backlog.
pub(super) fn inbound_pause<D: Send + Sync + 'static>(
    flow: Flow,
    socket: &EngineSession<D>,
) -> Option<BoxFuture<'static, ()>> {
    match flow {
        Flow::Wait(room) => {
            let socket = socket.clone();
            Some(Box::pin(async move {
                room.await;
                socket.drained().await;
            }))
        }
        Flow::Continue if socket.backlogged() => Some(Box::pin(socket.clone().drained())),
        Flow::Continue => None,
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
