//! The heartbeat: pings the client (revision 4) or waits for its pings (revision 3), closes the
//! session on a ping timeout, and once the session has ended removes it from the table.
//!
//! [`Beat`] is the heartbeat's state without a task of its own: a session born on a WebSocket
//! runs it inside its WebSocket task (one timer in that loop), a long-polling session in the
//! small task [`heartbeat`] (a session that upgrades keeps that task).

use std::sync::Arc;
use std::time::Duration;

use tokio::time::Instant;

use super::EngineHandler;
use super::config::{EngineConfig, ProtocolVersion};
use super::polling::delivers_close;
use super::router::Shared;
use super::session::{CloseReason, EngineSession};

/// A timer that fires this late found its task busy (a handler that ran long on it): what the
/// client sent meanwhile is not read yet, so a missing pong is not held against it.
const LATE: Duration = Duration::from_millis(500);

/// Where a session's heartbeat stands: what it waits for, and until when.
#[derive(Debug)]
pub(super) struct Beat {
    at: Instant,
    phase: Phase,
    interval: Duration,
    timeout: Duration,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Phase {
    /// Revision 4: the next ping leaves at `at`.
    Idle,
    /// Revision 4: a ping is out; its pong is due by `at`.
    Pinged,
    /// Revision 3: the client's next ping is due by `at`.
    ClientPings,
}

impl Beat {
    /// The heartbeat of a session opened now.
    pub(super) fn start<D>(socket: &EngineSession<D>, config: &EngineConfig) -> Beat {
        let now = Instant::now();
        let (interval, timeout) = (config.ping_interval, config.ping_timeout);
        if socket.protocol() == ProtocolVersion::V3 {
            let at = now + interval + timeout;
            socket.set_ping_deadline(Some(at));
            Beat {
                at,
                phase: Phase::ClientPings,
                interval,
                timeout,
            }
        } else {
            Beat {
                at: now + interval,
                phase: Phase::Idle,
                interval,
                timeout,
            }
        }
    }

    /// When [`Beat::fire`] is next due.
    pub(super) fn at(&self) -> Instant {
        self.at
    }

    /// The timer reached [`Beat::at`]: pings, or gives a held client more time, or closes the
    /// session for a ping timeout. Returns `false` once the session is closed.
    pub(super) fn fire<D>(&mut self, socket: &EngineSession<D>) -> bool {
        let now = Instant::now();
        let late = now > self.at + LATE;
        match self.phase {
            Phase::Idle => {
                // Deadlines run from planned instants, not from when a timer happened to fire,
                // so the session closes when the protocol says (timers only ever fire late).
                // The timeout is cut by a hair for the same reason: a client that waited
                // exactly interval + timeout must find the session gone. A ping that leaves
                // much later than planned (its task was busy) gets its whole timeout from
                // now. Outstanding before it leaves: the pong may come back at once.
                let grace = Duration::from_millis(2).min(self.timeout / 2);
                let from = if late { now } else { self.at };
                self.at = from + self.timeout - grace;
                self.phase = Phase::Pinged;
                socket.set_ping_deadline(Some(self.at));
                socket.send_ping().is_ok()
            }
            Phase::Pinged | Phase::ClientPings if socket.inbound_held() || late => {
                // The client's pong (or ping) waits behind what we do not read (flow control,
                // or a write it is slow to take), or behind a handler that kept this task
                // busy past the deadline: it may well be there; give it another timeout.
                self.at = now
                    + if self.phase == Phase::Pinged {
                        self.timeout
                    } else {
                        self.interval + self.timeout
                    };
                socket.set_ping_deadline(Some(self.at));
                true
            }
            Phase::Pinged | Phase::ClientPings => {
                tracing::debug!("ping timeout");
                socket.close(CloseReason::PingTimeout);
                false
            }
        }
    }

    /// The client answered (revision 4: the pong to our ping; revision 3: its own ping, which
    /// the packet handler already answered).
    pub(super) fn answered<D>(&mut self, socket: &EngineSession<D>) {
        let now = Instant::now();
        match self.phase {
            Phase::Pinged => {
                socket.set_ping_deadline(None);
                self.at = now + self.interval;
                self.phase = Phase::Idle;
            }
            Phase::ClientPings => {
                self.at = now + self.interval + self.timeout;
                socket.set_ping_deadline(Some(self.at));
            }
            Phase::Idle => {}
        }
    }
}

/// The heartbeat task of a long-polling session: runs its [`Beat`] until the session closes,
/// then ends it.
pub(super) async fn heartbeat<H: EngineHandler>(
    shared: Arc<Shared<H>>,
    socket: EngineSession<H::Data>,
) {
    let mut beat = Beat::start(&socket, &shared.config);
    let inner = &socket.inner;
    loop {
        tokio::select! {
            _ = tokio::time::sleep_until(beat.at()) => {
                if !beat.fire(&socket) {
                    break;
                }
            }
            _ = inner.pong.notified() => beat.answered(&socket),
            _ = inner.closing.notified() => break,
        }
    }
    shared.session_ended(&socket).await;
}

impl<H: EngineHandler> Shared<H> {
    /// A session has closed: tells the handler, exactly once, and removes it from the table.
    pub(super) async fn session_ended(&self, socket: &EngineSession<H::Data>) {
        let reason = socket.close_reason().unwrap_or(CloseReason::TransportClose);
        tracing::debug!(%reason, "session closed");
        self.handler.on_close(socket, reason);
        if let Some(o) = &self.observer {
            o.session_closed(socket.sid(), reason);
        }
        // A polling client fetches the close packet of a server-side close (and what was
        // queued before it) with its next GET: keep the session in the table until then, at
        // most a ping timeout.
        let deadline = Instant::now() + self.config.ping_timeout;
        while delivers_close(socket) && Instant::now() < deadline {
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        self.sessions
            .write()
            .unwrap_or_else(|e| e.into_inner())
            .remove(socket.sid());
    }
}
