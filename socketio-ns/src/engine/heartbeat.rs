//! The heartbeat: one task per session that pings the client, closes the session on a ping
//! timeout, and removes it from the table once it has ended.

use std::sync::Arc;

use super::EngineHandler;
use super::polling::delivers_close;
use super::router::Shared;
use super::session::{CloseReason, EngineSession};

/// Pings every interval; closes the session when no pong comes in time. When the session ends
/// for any reason, removes it from the table and tells the handler, exactly once.
pub(super) async fn heartbeat<H: EngineHandler>(
    shared: Arc<Shared<H>>,
    socket: EngineSession<H::Data>,
) {
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
        // Outstanding before it leaves: a pong may come back before this task runs again.
        let mut deadline = ping_at + timeout - grace;
        socket.set_ping_deadline(Some(deadline));
        if socket.send_ping().is_err() {
            break;
        }
        let answered = loop {
            tokio::select! {
                _ = inner.pong.notified() => {
                    socket.set_ping_deadline(None);
                    break true;
                }
                _ = tokio::time::sleep_until(deadline) => {
                    if socket.inbound_held() {
                        // The client's pong waits behind what we do not read for flow
                        // control: it is there, sending; give it another timeout.
                        deadline = tokio::time::Instant::now() + timeout;
                        socket.set_ping_deadline(Some(deadline));
                        continue;
                    }
                    tracing::debug!("ping timeout");
                    socket.close(CloseReason::PingTimeout);
                    break false;
                }
                _ = inner.closing.notified() => break false,
            }
        };
        if !answered {
            break;
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
