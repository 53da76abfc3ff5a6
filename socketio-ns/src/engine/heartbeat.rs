//! The heartbeat: one task per session that pings the client (revision 4) or waits for its
//! pings (revision 3), closes the session on a ping timeout, and removes it from the table
//! once it has ended.

use std::sync::Arc;

use super::EngineHandler;
use super::config::ProtocolVersion;
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
    if socket.protocol() == ProtocolVersion::V3 {
        client_pings(&socket, interval + timeout).await;
    } else {
        server_pings(&socket, interval, timeout).await;
    }
    let reason = socket.close_reason().unwrap_or(CloseReason::TransportClose);
    tracing::debug!(%reason, "session closed");
    shared.handler.on_close(&socket, reason);
    if let Some(o) = &shared.observer {
        o.session_closed(socket.sid(), reason);
    }
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

/// Revision 4: the server pings every `interval` and closes the session when no pong comes
/// within `timeout`. Returns when the session closed.
async fn server_pings<D>(
    socket: &EngineSession<D>,
    interval: std::time::Duration,
    timeout: std::time::Duration,
) {
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
}

/// Revision 3: the client pings; the session closes when no ping (answered by the packet
/// handler, which wakes `pong`) arrives within `limit` (ping interval + ping timeout) of the
/// last one or of the opening. Returns when the session closed.
async fn client_pings<D>(socket: &EngineSession<D>, limit: std::time::Duration) {
    let inner = &socket.inner;
    let mut deadline = tokio::time::Instant::now() + limit;
    loop {
        socket.set_ping_deadline(Some(deadline));
        tokio::select! {
            _ = inner.pong.notified() => {
                deadline = tokio::time::Instant::now() + limit;
            }
            _ = tokio::time::sleep_until(deadline) => {
                if socket.inbound_held() {
                    // The client's ping may wait behind what we do not read for flow control.
                    deadline = tokio::time::Instant::now() + limit;
                    continue;
                }
                tracing::debug!("ping timeout (no ping from the v3 client)");
                socket.close(CloseReason::PingTimeout);
                return;
            }
            _ = inner.closing.notified() => return,
        }
    }
}
