//! HTTP long-polling: the polling handshake, the GET that carries packets to the client and
//! the POST that carries them to the server.

use std::net::SocketAddr;
use std::sync::atomic::Ordering;
use std::time::Duration;

use bytes::{Buf, Bytes, BytesMut};
use http::{HeaderValue, Request, Response, StatusCode, header};
use http_body_util::{BodyExt, Full};

use super::EngineHandler;
use super::config::{HttpCompression, ProtocolVersion, Transport};
use super::http::{
    Body, Encoding, ErrorCode, compressed_text_response, empty, error, plain, text_response,
};
use super::router::Engine;
use super::session::{CloseReason, EngineSession, HandshakeInfo, POLLING, UPGRADING, WEBSOCKET};
use super::websocket::inbound_pause;
use crate::codec::engine::packet::Frame;
use crate::codec::engine::{payload, v3};

/// The most packets one polling response carries; the rest wait for the next GET.
/// python-engineio's client drops the connection on a payload of more than 16 packets.
const MAX_PACKETS_PER_POLL: usize = 16;

impl<H: EngineHandler> Engine<H> {
    pub(super) fn open_polling<B>(
        &self,
        req: Request<B>,
        remote: Option<SocketAddr>,
    ) -> Response<Body> {
        let (parts, _) = req.into_parts();
        let socket =
            self.create_session(Transport::Polling, HandshakeInfo::detached(&parts, remote));
        let body = self.handshake_json(socket.sid(), Transport::Polling);
        tracing::debug!(sid = %socket.sid(), "session opened (polling)");
        self.shared.handler.on_open(&socket);
        if socket.protocol() == ProtocolVersion::V3 {
            let mut out = Vec::with_capacity(body.len() + 4);
            v3::encode_text_payload(&[Frame::Text(body.into())], &mut out);
            return text_response(Bytes::from(out));
        }
        text_response(Bytes::from(body))
    }

    /// Answers a GET: waits for frames, then returns them as one payload.
    pub(super) async fn poll(
        &self,
        socket: EngineSession<H::Data>,
        compression: Option<(HttpCompression, Encoding)>,
    ) -> Response<Body> {
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
                if state == WEBSOCKET && socket.has_pending() {
                    // The wake-up this GET took may have been the WebSocket task's (only
                    // the frame that makes the queue non-empty wakes the writer): pass it on.
                    socket.inner.writable.notify_one();
                }
                frames.push(Frame::noop());
                break;
            }
            notified.await;
        }
        guard.done = true;
        drop(guard);
        if socket.protocol() == ProtocolVersion::V3 {
            return v3_payload_response(&frames, socket.supports_binary(), compression);
        }
        let mut body = Vec::with_capacity(frames.iter().map(|f| payload::encoded_len(f) + 1).sum());
        payload::encode_payload(&frames, &mut body);
        match compression {
            Some((c, encoding)) if body.len() >= c.threshold => {
                compressed_text_response(&body, encoding)
            }
            _ => text_response(Bytes::from(body)),
        }
    }

    /// Answers a POST: decodes the payload and delivers its packets.
    pub(super) async fn post<B>(
        &self,
        socket: EngineSession<H::Data>,
        req: Request<B>,
    ) -> Response<Body>
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
        // The POST is active until its packets are delivered, flow control included; cleared
        // too when the request is dropped (the client went away) mid-way.
        struct Active<'a, D>(&'a EngineSession<D>);
        impl<D> Drop for Active<'_, D> {
            fn drop(&mut self) {
                self.0.set_inbound_held(false);
                self.0.inner.post_active.store(false, Ordering::Release);
            }
        }
        let _active = Active(&socket);
        let octet_stream = req
            .headers()
            .get(header::CONTENT_TYPE)
            .is_some_and(|v| v.as_bytes() == b"application/octet-stream");
        if octet_stream && socket.protocol() == ProtocolVersion::V4 {
            // Revision 4 payloads are text only: the reference server refuses a binary body
            // (`invalid content`) and the session ends with it.
            tracing::debug!(sid = %socket.sid(), "binary POST body on a v4 session, closing the session");
            socket.close(CloseReason::TransportError);
            return empty(StatusCode::BAD_REQUEST);
        }
        let body = match read_body(req.into_body(), max, self.shared.config.body_timeout).await {
            Ok(b) => b,
            Err(BodyError::TooLarge) => {
                return plain(StatusCode::PAYLOAD_TOO_LARGE, "Payload Too Large");
            }
            Err(e) => {
                tracing::debug!(sid = %socket.sid(), error = ?e, "POST body failed, closing the session");
                socket.close(CloseReason::TransportClose);
                return error(ErrorCode::BadRequest);
            }
        };
        let decoded = match socket.protocol() {
            ProtocolVersion::V3 if octet_stream => v3::decode_binary_payload(&body, usize::MAX),
            ProtocolVersion::V3 => v3::decode_text_payload(&body, usize::MAX),
            _ => payload::decode_payload(&body, usize::MAX),
        };
        match decoded {
            Ok(packets) => {
                for p in packets {
                    // Inbound flow control: the next packet waits until the handler has room;
                    // the client sends no other POST until this one is answered.
                    let flow = self.shared.on_packet(&socket, p);
                    // The backlog drains only as the client GETs: one that holds this POST
                    // open and stops polling is cut off at the write timeout, as a WebSocket
                    // client that stops reading is.
                    let limit = Some(self.shared.config.write_timeout);
                    if let Some(pause) = inbound_pause(flow, &socket, limit) {
                        socket.set_inbound_held(true);
                        let drained = pause.await;
                        socket.set_inbound_held(false);
                        if !drained {
                            tracing::debug!(sid = %socket.sid(), "polling client took nothing it was sent within the write timeout, closing the session");
                            socket.close(CloseReason::TransportError);
                            return error(ErrorCode::BadRequest);
                        }
                    }
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
                self.shared.parse_error(&socket);
                error(ErrorCode::BadRequest)
            }
        }
    }
}

/// The answer to a v3 client's GET: a binary payload when it supports binary and a frame is
/// binary, else a text payload (`<len>:<packet>`, binary as `b4` + base64).
fn v3_payload_response(
    frames: &[Frame],
    supports_binary: bool,
    compression: Option<(HttpCompression, Encoding)>,
) -> Response<Body> {
    let mut body = Vec::with_capacity(frames.iter().map(|f| f.len() + 8).sum());
    let binary = v3::wants_binary_payload(frames, supports_binary);
    if binary {
        v3::encode_binary_payload(frames, &mut body);
    } else {
        v3::encode_text_payload(frames, &mut body);
    }
    let mut res = match compression {
        Some((c, encoding)) if body.len() >= c.threshold => {
            compressed_text_response(&body, encoding)
        }
        _ => text_response(Bytes::from(body)),
    };
    if binary {
        res.headers_mut().insert(
            header::CONTENT_TYPE,
            HeaderValue::from_static("application/octet-stream"),
        );
    }
    res
}

/// Why a POST body could not be read.
#[derive(Debug)]
enum BodyError {
    /// More than the configured maximum.
    TooLarge,
    /// No chunk within the body timeout.
    Stalled,
    /// The body failed (the connection broke).
    Broken,
}

/// Reads a whole body of at most `max` bytes, each chunk within `inactivity` of the previous.
async fn read_body<B>(body: B, max: usize, inactivity: Duration) -> Result<Bytes, BodyError>
where
    B: http_body::Body,
{
    let mut body = std::pin::pin!(body);
    let mut buf = BytesMut::new();
    loop {
        let frame = match tokio::time::timeout(inactivity, body.frame()).await {
            Err(_) => return Err(BodyError::Stalled),
            Ok(None) => return Ok(buf.freeze()),
            Ok(Some(Err(_))) => return Err(BodyError::Broken),
            Ok(Some(Ok(frame))) => frame,
        };
        if let Ok(mut data) = frame.into_data() {
            if buf.len() + data.remaining() > max {
                return Err(BodyError::TooLarge);
            }
            while data.has_remaining() {
                let chunk = data.chunk();
                buf.extend_from_slice(chunk);
                let n = chunk.len();
                data.advance(n);
            }
        }
    }
}

/// Whether a closed polling session still holds the packet that ends it for the client: the
/// close packet of a server-side close, or the noop answering the client's own close.
pub(super) fn delivers_close<D>(socket: &EngineSession<D>) -> bool {
    socket.inner.transport.load(Ordering::Acquire) != WEBSOCKET
        && matches!(
            socket.close_reason(),
            Some(CloseReason::ServerClose | CloseReason::ServerShutdown | CloseReason::ClientClose)
        )
        && socket.has_pending()
}
