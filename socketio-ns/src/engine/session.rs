//! One Engine.IO session: its bounded outbox, transport state and handshake, and why it closed.

use std::collections::VecDeque;
use std::fmt;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, AtomicU8, Ordering};
use std::sync::{Arc, Mutex};

use bytes::Bytes;
use tokio::sync::Notify;
use tokio_tungstenite::tungstenite::Utf8Bytes;

use super::config::{ProtocolVersion, Transport};
use super::observe::EngineObserver;
use crate::codec::engine::packet::Frame;

/// A message carried by Engine.IO.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Message {
    /// A text message.
    Text(Utf8Bytes),
    /// A binary message.
    Binary(Bytes),
}

/// Why an Engine.IO session ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum CloseReason {
    /// The client sent a close packet.
    ClientClose,
    /// The server closed the session.
    ServerClose,
    /// No pong arrived within the ping timeout.
    PingTimeout,
    /// The underlying connection was lost (WebSocket closed, polling request aborted).
    TransportClose,
    /// The client violated the protocol (duplicate poll, oversized message, a packet in the
    /// wrong direction).
    TransportError,
    /// The client sent a packet or payload that could not be decoded.
    ParseError,
    /// The client did not read fast enough and its send buffer overflowed.
    BufferFull,
    /// The server is shutting down.
    ServerShutdown,
}

impl CloseReason {
    /// A short description of the Engine.IO reason.
    pub fn as_str(self) -> &'static str {
        match self {
            CloseReason::ClientClose => "client close",
            CloseReason::ServerClose => "server close",
            CloseReason::PingTimeout => "ping timeout",
            CloseReason::TransportClose => "transport close",
            CloseReason::TransportError => "transport error",
            CloseReason::ParseError => "parse error",
            CloseReason::BufferFull => "buffer full",
            CloseReason::ServerShutdown => "server shutdown",
        }
    }
}

impl fmt::Display for CloseReason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Error from [`EngineSession::send`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum SendError {
    /// The session is closed.
    #[error("the session is closed")]
    Closed,
    /// The client is not reading and its buffer is full; the session has been closed.
    #[error("the client's send buffer is full")]
    Full,
    /// A volatile packet was dropped because the transport was not writable.
    #[error("volatile packet dropped")]
    Dropped,
}

pub(crate) const POLLING: u8 = 0;
pub(crate) const UPGRADING: u8 = 1;
pub(crate) const WEBSOCKET: u8 = 2;

/// What the client sent in its handshake request.
#[derive(Debug)]
pub(crate) struct HandshakeInfo {
    pub(crate) uri: http::Uri,
    pub(crate) headers: http::HeaderMap,
    pub(crate) remote: Option<SocketAddr>,
}

impl HandshakeInfo {
    /// Copies what the session keeps of its first request. hyper parses headers and the URI
    /// as slices of its 8 KiB read buffer; keeping those would keep the whole buffer alive
    /// for the life of every session.
    pub(crate) fn detached(parts: &http::request::Parts, remote: Option<SocketAddr>) -> Self {
        let uri = http::Uri::try_from(parts.uri.to_string()).unwrap_or_default();
        let mut headers = http::HeaderMap::with_capacity(parts.headers.len());
        for (name, value) in &parts.headers {
            let (Ok(name), Ok(value)) = (
                http::HeaderName::from_bytes(name.as_str().as_bytes()),
                http::HeaderValue::from_bytes(value.as_bytes()),
            ) else {
                continue;
            };
            headers.append(name, value);
        }
        HandshakeInfo {
            uri,
            headers,
            remote,
        }
    }
}

/// One Engine.IO session. Cheap to clone.
pub struct EngineSession<D> {
    pub(crate) inner: Arc<Inner<D>>,
}

impl<D> Clone for EngineSession<D> {
    fn clone(&self) -> Self {
        EngineSession {
            inner: self.inner.clone(),
        }
    }
}

impl<D> fmt::Debug for EngineSession<D> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("EngineSession")
            .field("sid", &self.inner.sid)
            .field("transport", &self.transport())
            .finish()
    }
}

pub(crate) struct Inner<D> {
    pub(crate) sid: Box<str>,
    pub(crate) data: D,
    pub(crate) handshake: HandshakeInfo,
    /// The protocol revision, from the handshake's `EIO`.
    protocol: ProtocolVersion,
    /// Whether a v3 client takes binary polling payloads (its handshake had no `b64`).
    supports_binary: bool,
    outbox: Mutex<Outbox>,
    max_buffered: usize,
    max_buffered_bytes: usize,
    /// Wakes a reader paused while the client's backlog drains.
    drained: Notify,
    /// Half the outgoing buffer waits (kept under the outbox lock, read without it).
    backlog: AtomicBool,
    /// Wakes the writer: the pending GET or the WebSocket task.
    pub(crate) writable: Notify,
    /// Wakes the heartbeat task on pong.
    pub(crate) pong: Notify,
    /// Wakes the heartbeat task on close.
    pub(crate) closing: Notify,
    pub(crate) transport: AtomicU8,
    pub(crate) get_active: AtomicBool,
    pub(crate) post_active: AtomicBool,
    /// The client is not read right now (inbound flow control, or a write it is slow to
    /// take): its pongs may wait unread, so the heartbeat does not time it out meanwhile.
    held: AtomicBool,
    closed: AtomicBool,
    /// Frames the WebSocket task has written and flushed, and its signal after each flush.
    written: std::sync::atomic::AtomicU64,
    pub(crate) flushed: Notify,
    /// How many [`EngineSession::written_all`] wait on `flushed`: a flush signals only then
    /// (`Notify::notify_waiters` takes a lock, once per write otherwise).
    flush_waiters: std::sync::atomic::AtomicUsize,
    /// When the session was created, and when the outstanding ping expires (nanoseconds
    /// after `born`; `u64::MAX`: no ping outstanding).
    born: tokio::time::Instant,
    ping_deadline: std::sync::atomic::AtomicU64,
    /// Told of every message queued (the admin UI's counts), when installed.
    observer: Option<Arc<dyn EngineObserver>>,
}

struct Outbox {
    queue: VecDeque<Frame>,
    /// The bytes of the frames in `queue`.
    bytes: usize,
    /// Frames ever queued.
    pushed: u64,
    reason: Option<CloseReason>,
}

impl<D> EngineSession<D> {
    pub(crate) fn new(
        sid: Box<str>,
        data: D,
        handshake: HandshakeInfo,
        transport: Transport,
        max_buffered: usize,
        max_buffered_bytes: usize,
        observer: Option<Arc<dyn EngineObserver>>,
    ) -> Self {
        let query = handshake.uri.query().unwrap_or("");
        let param = |name: &str| {
            query.split('&').find_map(|pair| {
                let (k, v) = pair.split_once('=').unwrap_or((pair, ""));
                (k == name).then_some(v)
            })
        };
        // The router let only `3` (when allowed) and `4` through.
        let protocol = ProtocolVersion::from_eio(param("EIO")).unwrap_or(ProtocolVersion::V4);
        let supports_binary = param("b64").is_none();
        EngineSession {
            inner: Arc::new(Inner {
                sid,
                data,
                handshake,
                protocol,
                supports_binary,
                outbox: Mutex::new(Outbox {
                    queue: VecDeque::new(),
                    bytes: 0,
                    pushed: 0,
                    reason: None,
                }),
                max_buffered,
                max_buffered_bytes,
                drained: Notify::new(),
                backlog: AtomicBool::new(false),
                writable: Notify::new(),
                pong: Notify::new(),
                closing: Notify::new(),
                transport: AtomicU8::new(match transport {
                    Transport::Polling => POLLING,
                    Transport::WebSocket => WEBSOCKET,
                }),
                get_active: AtomicBool::new(false),
                post_active: AtomicBool::new(false),
                held: AtomicBool::new(false),
                closed: AtomicBool::new(false),
                written: std::sync::atomic::AtomicU64::new(0),
                flush_waiters: std::sync::atomic::AtomicUsize::new(0),
                flushed: Notify::new(),
                born: tokio::time::Instant::now(),
                ping_deadline: std::sync::atomic::AtomicU64::new(u64::MAX),
                observer,
            }),
        }
    }

    /// The Engine.IO session id.
    pub fn sid(&self) -> &str {
        &self.inner.sid
    }

    /// The data the handler keeps with this session.
    pub fn data(&self) -> &D {
        &self.inner.data
    }

    /// The Engine.IO protocol revision the client speaks.
    pub fn protocol(&self) -> ProtocolVersion {
        self.inner.protocol
    }

    /// Whether a v3 client takes binary polling payloads (its handshake had no `b64`).
    pub(crate) fn supports_binary(&self) -> bool {
        self.inner.supports_binary
    }

    /// The transport currently carrying packets to the client.
    pub fn transport(&self) -> Transport {
        match self.inner.transport.load(Ordering::Acquire) {
            WEBSOCKET => Transport::WebSocket,
            _ => Transport::Polling,
        }
    }

    /// The URI of the handshake request.
    pub fn uri(&self) -> &http::Uri {
        &self.inner.handshake.uri
    }

    /// The headers of the handshake request.
    pub fn headers(&self) -> &http::HeaderMap {
        &self.inner.handshake.headers
    }

    /// The client's address, when the server knows it.
    pub fn remote_addr(&self) -> Option<SocketAddr> {
        self.inner.handshake.remote
    }

    /// Whether the session is closed.
    pub fn is_closed(&self) -> bool {
        self.inner.closed.load(Ordering::Acquire)
    }

    /// Sends a message.
    pub fn send(&self, message: Message) -> Result<(), SendError> {
        self.send_frame(match message {
            Message::Text(t) => Frame::message(t.as_str()),
            Message::Binary(b) => Frame::Binary(b),
        })
    }

    /// Queues a ping ahead of what waits: a heartbeat must not wait behind a backlog the
    /// client is still taking, or the client would time the connection out.
    pub(crate) fn send_ping(&self) -> Result<(), SendError> {
        let mut out = self.inner.outbox.lock().unwrap_or_else(|e| e.into_inner());
        if out.reason.is_some() {
            return Err(SendError::Closed);
        }
        let ping = Frame::ping();
        out.bytes += ping.len();
        out.queue.push_front(ping);
        out.pushed += 1;
        drop(out);
        self.inner.writable.notify_one();
        Ok(())
    }

    /// Queues an already encoded frame. A client whose buffer is full is disconnected.
    pub fn send_frame(&self, frame: Frame) -> Result<(), SendError> {
        self.push(std::iter::once(frame), false)
    }

    /// Queues several frames atomically (a Socket.IO packet and its attachments).
    pub fn send_frames(&self, frames: impl IntoIterator<Item = Frame>) -> Result<(), SendError> {
        self.push(frames, false)
    }

    /// Queues frames only if the transport is writable (nothing waiting, and a WebSocket or a
    /// pending polling GET to carry them); otherwise drops them.
    pub fn send_volatile(&self, frames: impl IntoIterator<Item = Frame>) -> Result<(), SendError> {
        self.push(frames, true)
    }

    fn push(
        &self,
        frames: impl IntoIterator<Item = Frame>,
        volatile: bool,
    ) -> Result<(), SendError> {
        let mut out = self.inner.outbox.lock().unwrap_or_else(|e| e.into_inner());
        if out.reason.is_some() {
            return Err(SendError::Closed);
        }
        // Writable: nothing waiting, and a writer ready (the WebSocket task, or a pending GET).
        if volatile
            && (!out.queue.is_empty()
                || (self.inner.transport.load(Ordering::Acquire) != WEBSOCKET
                    && !self.inner.get_active.load(Ordering::Acquire)))
        {
            return Err(SendError::Dropped);
        }
        let before = out.queue.len();
        let bytes_before = out.bytes;
        for f in frames {
            out.bytes += f.len();
            out.queue.push_back(f);
        }
        // Bounded in packets and in bytes; a packet is always taken into an empty queue.
        if before > 0
            && (before >= self.inner.max_buffered || out.bytes > self.inner.max_buffered_bytes)
        {
            out.queue.truncate(before);
            out.bytes = bytes_before;
            drop(out);
            tracing::warn!(sid = %self.inner.sid, "send buffer full, closing the session");
            self.close(CloseReason::BufferFull);
            return Err(SendError::Full);
        }
        out.pushed += (out.queue.len() - before) as u64;
        if self.over_half(&out) {
            self.inner.backlog.store(true, Ordering::Release);
        }
        // As the reference server's `packetCreate` is counted: messages with data.
        let created = self.inner.observer.as_ref().map(|o| {
            let (mut packets, mut bytes) = (0, 0);
            for f in out.queue.range(before..) {
                match f {
                    Frame::Text(t) if t.len() > 1 && t.as_bytes()[0] == b'4' => {
                        packets += 1;
                        bytes += t.len() - 1;
                    }
                    Frame::Binary(b) => {
                        packets += 1;
                        bytes += b.len();
                    }
                    Frame::Text(_) => {}
                }
            }
            (o, packets, bytes)
        });
        drop(out);
        if let Some((o, packets, bytes)) = created
            && packets > 0
        {
            o.packets_out(packets, bytes);
        }
        // Only the frames that make the queue non-empty wake the writer: it takes the whole
        // queue when it runs (a polling GET takes what it can and the next GET takes the rest
        // at once), so the frames queued behind them need no wake-up of their own. Each extra
        // one left a permit that woke the WebSocket task again after it had already written
        // those frames: half its loops found nothing to write (callgrind, a broadcast to 100).
        if before == 0 {
            self.inner.writable.notify_one();
        }
        Ok(())
    }

    /// Back to polling after an upgrade that did not complete; wakes a waiting GET.
    pub(crate) fn abandon_upgrade(&self) {
        let _ = self.inner.transport.compare_exchange(
            UPGRADING,
            POLLING,
            Ordering::AcqRel,
            Ordering::Acquire,
        );
        self.inner.writable.notify_one();
    }

    /// Records when the outstanding ping expires (`None`: answered).
    pub(crate) fn set_ping_deadline(&self, deadline: Option<tokio::time::Instant>) {
        let nanos = deadline.map_or(u64::MAX, |d| {
            d.saturating_duration_since(self.inner.born).as_nanos() as u64
        });
        self.inner.ping_deadline.store(nanos, Ordering::Release);
    }

    /// Whether a ping waits for its pong.
    pub(crate) fn ping_outstanding(&self) -> bool {
        self.inner.ping_deadline.load(Ordering::Acquire) != u64::MAX
    }

    /// Whether a ping went unanswered past its deadline. Checked by requests as they
    /// arrive, so that a timer firing late never lets an expired session answer.
    pub(crate) fn ping_expired(&self) -> bool {
        if self.inbound_held() {
            return false;
        }
        let deadline = self.inner.ping_deadline.load(Ordering::Acquire);
        deadline != u64::MAX && self.inner.born.elapsed().as_nanos() as u64 >= deadline
    }

    /// The WebSocket task wrote and flushed `n` more frames.
    pub(crate) fn mark_written(&self, n: usize) {
        // SeqCst on both sides: either a waiter's count is seen here, or the waiter sees this
        // count of frames written.
        self.inner.written.fetch_add(n as u64, Ordering::SeqCst);
        if self.inner.flush_waiters.load(Ordering::SeqCst) > 0 {
            self.inner.flushed.notify_waiters();
        }
    }

    /// Waits until every frame queued so far has been written to the WebSocket (returns at
    /// once on polling or once closed). Lets a packet leave in a write of its own, as the
    /// reference server's CONNECT reply does; some peers read one message per socket read.
    pub(crate) async fn written_all(&self) {
        let target = self
            .inner
            .outbox
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .pushed;
        /// Counts this waiter while it waits, cancelled or not.
        struct Waiting<'a>(&'a std::sync::atomic::AtomicUsize);
        impl Drop for Waiting<'_> {
            fn drop(&mut self) {
                self.0.fetch_sub(1, Ordering::SeqCst);
            }
        }
        self.inner.flush_waiters.fetch_add(1, Ordering::SeqCst);
        let _waiting = Waiting(&self.inner.flush_waiters);
        loop {
            let flushed = self.inner.flushed.notified();
            if self.inner.written.load(Ordering::SeqCst) >= target
                || self.is_closed()
                || self.inner.transport.load(Ordering::Acquire) != WEBSOCKET
            {
                return;
            }
            flushed.await;
        }
    }

    /// Closes the session. The client is told (a close packet) unless it closed first.
    pub fn close(&self, reason: CloseReason) {
        let mut out = self.inner.outbox.lock().unwrap_or_else(|e| e.into_inner());
        if out.reason.is_some() {
            return;
        }
        out.reason = Some(reason);
        match reason {
            CloseReason::ClientClose => {
                out.bytes += 1;
                out.queue.push_back(Frame::noop());
            }
            CloseReason::TransportClose => {}
            _ => {
                out.bytes += 1;
                out.queue.push_back(Frame::close());
            }
        }
        drop(out);
        self.inner.closed.store(true, Ordering::Release);
        self.inner.drained.notify_waiters();
        self.inner.writable.notify_one();
        self.inner.closing.notify_one();
    }

    /// The reason, once closed.
    pub(crate) fn close_reason(&self) -> Option<CloseReason> {
        self.inner
            .outbox
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .reason
    }

    /// Takes every queued frame.
    pub(crate) fn drain(&self, into: &mut Vec<Frame>) {
        self.drain_at_most(into, usize::MAX);
    }

    /// Takes up to `max` queued frames, oldest first.
    pub(crate) fn drain_at_most(&self, into: &mut Vec<Frame>, max: usize) {
        let mut out = self.inner.outbox.lock().unwrap_or_else(|e| e.into_inner());
        if max >= out.queue.len() && into.is_empty() && into.capacity() > 0 {
            // Everything into an empty buffer that has room (the WebSocket task's, after its
            // first write): the queue's buffer becomes `into` and `into`'s the queue's, instead
            // of moving the frames one by one (neither conversion allocates). A fresh `into`
            // (a polling GET's) is filled instead, so that the queue keeps its buffer.
            let spare = VecDeque::from(std::mem::take(into));
            *into = Vec::from(std::mem::replace(&mut out.queue, spare));
            out.bytes = 0;
        } else {
            let n = out.queue.len().min(max);
            let start = into.len();
            into.extend(out.queue.drain(..n));
            let taken: usize = into[start..].iter().map(Frame::len).sum();
            out.bytes -= taken;
        }
        if self.inner.backlog.load(Ordering::Relaxed) && !self.over_half(&out) {
            self.inner.backlog.store(false, Ordering::Release);
            self.inner.drained.notify_waiters();
        }
    }

    fn over_half(&self, out: &Outbox) -> bool {
        out.queue.len() >= self.inner.max_buffered / 2
            || out.bytes >= self.inner.max_buffered_bytes / 2
    }

    /// Whether the client has half its outgoing buffer (packets or bytes) waiting: what it
    /// sends is then read no further until it takes its backlog, so that a fast client that
    /// reads its answers late is slowed down rather than disconnected for a full buffer.
    pub(crate) fn backlogged(&self) -> bool {
        self.inner.backlog.load(Ordering::Acquire) && !self.is_closed()
    }

    /// Completes when the client's backlog is under half its buffer, or the session closed.
    pub(crate) async fn drained(self) {
        loop {
            let drained = self.inner.drained.notified();
            if !self.backlogged() {
                return;
            }
            drained.await;
        }
    }

    /// Marks the client as not being read (flow control, or a write in progress): it cannot
    /// answer pings meanwhile.
    pub(crate) fn set_inbound_held(&self, held: bool) {
        self.inner.held.store(held, Ordering::Release);
    }

    /// Whether the client is not being read right now.
    pub(crate) fn inbound_held(&self) -> bool {
        self.inner.held.load(Ordering::Acquire)
    }

    /// Whether frames are waiting.
    pub(crate) fn has_pending(&self) -> bool {
        !self
            .inner
            .outbox
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .queue
            .is_empty()
    }
}

#[cfg(test)]
mod tests {
    use futures_util::FutureExt;

    use super::*;

    fn session() -> EngineSession<()> {
        EngineSession::new(
            "s".into(),
            (),
            HandshakeInfo {
                uri: "/socket.io/?EIO=4".parse().unwrap(),
                headers: http::HeaderMap::new(),
                remote: None,
            },
            Transport::WebSocket,
            64,
            1 << 20,
            None,
        )
    }

    fn texts(frames: &[Frame]) -> Vec<&str> {
        frames
            .iter()
            .map(|f| match f {
                Frame::Text(t) => t.as_str(),
                Frame::Binary(_) => "<binary>",
            })
            .collect()
    }

    /// Once the writer's buffer has room, it and the queue trade places: the frames come out
    /// in order (a ping queued ahead first) and the byte count starts again from zero.
    #[test]
    fn draining_everything_hands_over_the_queue_in_order() {
        let s = session();
        let mut frames = Vec::new();
        s.send_frame(Frame::message("a")).unwrap();
        s.drain(&mut frames);
        assert_eq!(texts(&frames), ["4a"]);
        for round in ["b", "c"] {
            frames.clear();
            s.send_frame(Frame::message(round)).unwrap();
            s.send_frame(Frame::message("x")).unwrap();
            s.send_ping().unwrap();
            s.drain(&mut frames);
            assert_eq!(texts(&frames), ["2", &format!("4{round}"), "4x"]);
            assert!(!s.has_pending());
            assert_eq!(s.inner.outbox.lock().unwrap().bytes, 0);
        }
        // Not everything fits: the rest stays queued, counted.
        frames.clear();
        for m in ["d", "e", "f"] {
            s.send_frame(Frame::message(m)).unwrap();
        }
        s.drain_at_most(&mut frames, 2);
        assert_eq!(texts(&frames), ["4d", "4e"]);
        assert_eq!(s.inner.outbox.lock().unwrap().bytes, 2);
    }

    /// Only the frame that makes the queue non-empty wakes the writer: one queued behind it,
    /// after the writer was woken but before it drained, leaves no second wake-up.
    #[test]
    fn frames_behind_a_queued_one_wake_nobody() {
        let s = session();
        s.send_frame(Frame::message("a")).unwrap();
        assert!(s.inner.writable.notified().now_or_never().is_some());
        s.send_frame(Frame::message("b")).unwrap();
        let mut frames = Vec::new();
        s.drain(&mut frames);
        assert_eq!(texts(&frames), ["4a", "4b"]);
        assert!(s.inner.writable.notified().now_or_never().is_none());
        // The next frame into the empty queue wakes it again.
        s.send_frame(Frame::message("c")).unwrap();
        assert!(s.inner.writable.notified().now_or_never().is_some());
    }
}
