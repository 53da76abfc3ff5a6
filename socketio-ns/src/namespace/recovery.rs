//! Connection state recovery in the namespace runtime: a socket whose connection is lost
//! for a recoverable reason is *parked* — its actor keeps the namespace value, its ACL and its
//! jobs, and waits — and a client that comes back in time with its `pid` gets the same actor
//! again, on a new socket with the same id, rooms and the events it missed.
//!
//! The protocol part (stamping offsets, keeping sessions and packets, computing what was
//! missed) belongs to the adapter ([`crate::adapter::Adapter::restore_session`]); this module
//! decides when a socket parks, finds the parked actor for a returning client, and hands it
//! the socket the adapter made live.
//!
//! What the user sees, "the socket never left": across a recovery `recv_disconnect` does not
//! run, `recv_connect` and `initialize` do not run again, the value's fields and the ACL are
//! as they were, and jobs started with `cx.spawn` keep running (what they emit meanwhile is
//! kept and delivered on recovery). When the duration passes without the client, the socket
//! leaves for real: it is back in its rooms for `recv_disconnect`, which runs with the reason
//! the connection was lost, and its jobs are aborted.

use std::collections::{HashMap, HashSet};
use std::fmt;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use futures_util::FutureExt;
use tokio::sync::{Notify, oneshot};

use super::Handshake;
use super::context::Core;
use super::instance::NamespaceInstance;
use super::registry::Runtime;
use crate::adapter::{
    BroadcastOptions, BroadcastPacket, EmitError, RecoveredSession, ResumeFn, Room,
    SessionToPersist, StoreConfig,
};
use crate::codec::socketio::encode::Encoded;
use crate::connection::{Conn, Connection, DisconnectReason, Sid, Socket};
use crate::engine::SendError;

/// Connection state recovery options, given to [`crate::Builder::connection_state_recovery`].
///
/// A client whose connection is lost (transport closed or failed, ping timeout, server shutting
/// down) and that reconnects within [`max_disconnection_duration`] gets its socket back: same
/// id, same rooms, the same namespace value and ACL, and every event sent to it meanwhile (in
/// order, each once) before the CONNECT reply, as the Socket.IO reference server does since 4.6.
///
/// [`max_disconnection_duration`]: ConnectionStateRecovery::max_disconnection_duration
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ConnectionStateRecovery {
    pub(crate) max_disconnection_duration: Duration,
    pub(crate) skip_middlewares: bool,
    pub(crate) max_missed_packets: usize,
    pub(crate) max_missed_bytes: usize,
}

impl Default for ConnectionStateRecovery {
    fn default() -> Self {
        ConnectionStateRecovery {
            max_disconnection_duration: Duration::from_secs(120),
            skip_middlewares: true,
            max_missed_packets: 100_000,
            max_missed_bytes: 64 << 20,
        }
    }
}

impl ConnectionStateRecovery {
    /// The defaults: 2 minutes, middlewares skipped, 100,000 packets and 64 MiB kept per
    /// namespace.
    pub fn new() -> Self {
        Self::default()
    }

    /// How long a disconnected socket can be recovered (its session, its parked namespace
    /// value and the packets it may miss are kept that long). Default 2 minutes.
    pub fn max_disconnection_duration(mut self, d: Duration) -> Self {
        self.max_disconnection_duration = d;
        self
    }

    /// Whether connect middlewares are skipped for a recovered socket. Default `true`. With
    /// `false` they run again on the new handshake; a refusal sends CONNECT_ERROR and ends the
    /// session (`recv_disconnect` runs).
    pub fn skip_middlewares(mut self, skip: bool) -> Self {
        self.skip_middlewares = skip;
        self
    }

    /// The most stamped packets one namespace keeps for disconnected sockets (on top of the
    /// duration); beyond, the oldest are dropped and a client whose offset is older connects
    /// afresh. Default 100,000.
    pub fn max_missed_packets(mut self, n: usize) -> Self {
        self.max_missed_packets = n.max(1);
        self
    }

    /// The most bytes of stamped packets one namespace keeps for disconnected sockets (text
    /// and binary attachments; on top of the duration and the count): large broadcasts cannot
    /// make the store grow without bound. Beyond, the oldest are dropped, as for
    /// [`max_missed_packets`](Self::max_missed_packets). Default 64 MiB.
    pub fn max_missed_bytes(mut self, n: usize) -> Self {
        self.max_missed_bytes = n;
        self
    }
}

/// Recovery in one namespace instance: its options and the parked actors.
pub(crate) struct Recovery {
    pub(crate) config: ConnectionStateRecovery,
    parked: Mutex<Parked>,
    /// Wakes every parked actor at shutdown.
    shutdown: Notify,
}

impl fmt::Debug for Recovery {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Recovery")
            .field("config", &self.config)
            .field("parked", &self.lock().by_pid.len())
            .finish()
    }
}

#[derive(Default)]
struct Parked {
    /// pid → the parked socket's id and where to hand it its new socket.
    by_pid: HashMap<Box<str>, (Sid, oneshot::Sender<Arc<Socket>>)>,
    sids: HashSet<Sid>,
}

impl Recovery {
    fn lock(&self) -> std::sync::MutexGuard<'_, Parked> {
        self.parked.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn park(&self, pid: &str, sid: Sid, tx: oneshot::Sender<Arc<Socket>>) {
        let mut p = self.lock();
        p.sids.insert(sid.clone());
        p.by_pid.insert(pid.into(), (sid, tx));
    }

    /// Takes the parked actor of `pid` out of the table.
    fn take(&self, pid: &str) -> Option<(Sid, oneshot::Sender<Arc<Socket>>)> {
        let mut p = self.lock();
        let (sid, tx) = p.by_pid.remove(pid)?;
        p.sids.remove(&sid);
        Some((sid, tx))
    }

    /// Whether a socket of this id is parked.
    pub(crate) fn is_parked(&self, sid: &str) -> bool {
        self.lock().sids.contains(sid)
    }

    /// How many actors are parked.
    pub(crate) fn parked(&self) -> usize {
        self.lock().by_pid.len()
    }

    /// Server shutdown: every parked actor ends its session now.
    pub(crate) fn end_all(&self) {
        self.shutdown.notify_waiters();
    }
}

/// Turns recovery on for a new namespace instance when the server enables it and its adapter
/// supports it.
pub(crate) fn enable(ns: &NamespaceInstance, config: Option<ConnectionStateRecovery>) {
    let Some(config) = config else { return };
    let store = StoreConfig {
        max_disconnection_duration: config.max_disconnection_duration,
        max_packets: config.max_missed_packets,
        max_bytes: config.max_missed_bytes,
    };
    if !ns.adapter.enable_recovery(store) {
        tracing::warn!(ns = %ns.path, "the adapter does not support connection state recovery; off for this namespace");
        return;
    }
    let _ = ns.recovery.set(Recovery {
        config,
        parked: Mutex::new(Parked::default()),
        shutdown: Notify::new(),
    });
}

/// A fresh private session id when recovery is on.
pub(crate) fn new_pid(ns: &NamespaceInstance) -> Option<String> {
    ns.recovery.get().map(|_| crate::engine::new_sid())
}

/// The CONNECT reply: `{"sid":..}`, and `"pid"` with recovery on.
pub(crate) fn connect_reply(sid: &str, pid: Option<&str>) -> String {
    match pid {
        Some(pid) => format!(r#"{{"sid":"{sid}","pid":"{pid}"}}"#),
        None => format!(r#"{{"sid":"{sid}"}}"#),
    }
}

/// Emits an EVENT (without ack id) to one socket. With recovery on it goes through the adapter
/// to the socket's id, as a broadcast would, so that it is stamped and kept, and reaches the
/// socket that has that id now (a parked socket's id: kept for its return). Without, it is
/// queued on the socket.
pub(crate) fn emit(
    ns: &NamespaceInstance,
    socket: &Socket,
    packet: Encoded,
) -> Result<(), EmitError> {
    if let Some(o) = ns.observer.get() {
        o.event_sent(ns, socket, &packet);
    }
    let Some(rec) = ns.recovery.get() else {
        return Ok(socket.send(&packet)?);
    };
    if !ns.sockets_contains(&socket.id) && !rec.is_parked(&socket.id) {
        return Err(SendError::Closed.into());
    }
    let opts = BroadcastOptions {
        rooms: vec![Room::Owned(socket.id.to_string())],
        local: true,
        ..BroadcastOptions::default()
    };
    let adapter = ns.adapter.clone();
    let packet = BroadcastPacket::new(packet, None);
    let fut = async move { adapter.broadcast(packet, opts).await };
    let mut fut = Box::pin(fut);
    match (&mut fut).now_or_never() {
        Some(r) => Ok(r?),
        None => {
            tokio::spawn(async move {
                if let Err(e) = fut.await {
                    tracing::debug!(error = %e, "emit through the adapter failed");
                }
            });
            Ok(())
        }
    }
}

/// The `pid` and `offset` of a CONNECT auth payload, when it names a session: `pid` a string,
/// `offset` a string or absent (a client that processed no stamped packet sends none).
fn session_of(auth: Option<&str>) -> Option<(String, Option<String>)> {
    #[derive(serde::Deserialize)]
    struct Auth {
        pid: String,
        #[serde(default)]
        offset: Option<serde_json::Value>,
    }
    let auth: Auth = serde_json::from_str(auth?).ok()?;
    let offset = match auth.offset {
        None => None,
        Some(serde_json::Value::String(o)) => Some(o),
        Some(_) => return None,
    };
    Some((auth.pid, offset))
}

/// A CONNECT for `ns` whose auth names a parked session of this process: tries to recover it
/// and returns `true` (the CONNECT is handled here, afresh if recovery fails); `false`: not a
/// recovery, connect as usual.
pub(crate) fn try_recover(
    rt: &Arc<Runtime>,
    conn: &Conn,
    ns: &Arc<NamespaceInstance>,
    auth: Option<&str>,
) -> bool {
    let Some(rec) = ns.recovery.get() else {
        return false;
    };
    let Some((pid, offset)) = session_of(auth) else {
        return false;
    };
    if rt.is_closing() {
        return false;
    }
    // Taken at once: whatever happens next, this parked actor is resumed or ends.
    let Some((_, parked)) = rec.take(&pid) else {
        return ns.adapter.shares_sessions() && recover_elsewhere(rt, conn, ns, auth, pid, offset);
    };
    let (rt, conn, ns) = (rt.clone(), conn.clone(), ns.clone());
    let auth: Option<Arc<str>> = auth.map(Into::into);
    tokio::spawn(async move {
        let made: Arc<Mutex<Option<Arc<Socket>>>> = Arc::default();
        let resume: ResumeFn = {
            let (rt, conn, ns, auth, made) = (
                rt.clone(),
                conn.clone(),
                ns.clone(),
                auth.clone(),
                made.clone(),
            );
            Box::new(move |session: RecoveredSession| {
                let Some(socket) = go_live(&rt, &conn, &ns, auth, session) else {
                    return false;
                };
                *made.lock().unwrap_or_else(|e| e.into_inner()) = Some(socket);
                true
            })
        };
        let restored = match ns.adapter.restore_session(pid, offset, resume).await {
            Ok(r) => r,
            Err(e) => {
                tracing::warn!(error = %e, "restoring a session failed");
                false
            }
        };
        let socket = made.lock().unwrap_or_else(|e| e.into_inner()).take();
        match socket {
            Some(socket) if restored => match parked.send(socket) {
                Ok(()) => return,
                // The parked actor ended at this very moment: undo, and connect afresh.
                Err(socket) => {
                    socket.set_connected(false);
                    ns.remove(&socket.id);
                    socket.close_mailbox();
                    Connection::detach(&socket, rt.config.connection.connect_timeout);
                }
            },
            // Not recoverable: the parked actor ends its session now.
            _ => drop(parked),
        }
        tracing::debug!("session not recovered, connecting afresh");
        let nsp = ns.path.clone();
        drop(ns);
        rt.connect_as(&conn, &nsp, auth.as_deref(), false);
    });
    true
}

/// What a socket recovered with a fresh value (its session came from another process) starts
/// with.
pub(crate) struct Resumed {
    /// Its private session id, kept.
    pub(crate) pid: String,
    /// Its data ([`Context::data`](crate::Context::data)).
    pub(crate) data: Option<serde_json::Value>,
}

/// The live socket [`recover_elsewhere`] made, and the session's data.
type Made = (Arc<Socket>, Option<serde_json::Value>);

/// A CONNECT naming a session this process did not park, with an adapter whose sessions are
/// shared between processes: the adapter may find it (it was parked by another process).
/// Found, the socket goes live with its id, rooms and missed packets, and a fresh value is
/// started for it ([`Resumed`]); not found, the client connects afresh. Returns `true`: the
/// CONNECT is handled.
fn recover_elsewhere(
    rt: &Arc<Runtime>,
    conn: &Conn,
    ns: &Arc<NamespaceInstance>,
    auth: Option<&str>,
    pid: String,
    offset: Option<String>,
) -> bool {
    let (rt, conn, ns) = (rt.clone(), conn.clone(), ns.clone());
    let auth: Option<Arc<str>> = auth.map(Into::into);
    tokio::spawn(async move {
        let made: Arc<Mutex<Option<Made>>> = Arc::default();
        let resume: ResumeFn = {
            let (rt, conn, ns, auth, made) = (
                rt.clone(),
                conn.clone(),
                ns.clone(),
                auth.clone(),
                made.clone(),
            );
            Box::new(move |mut session: RecoveredSession| {
                let data = session.data.take();
                let Some(socket) = go_live(&rt, &conn, &ns, auth, session) else {
                    return false;
                };
                *made.lock().unwrap_or_else(|e| e.into_inner()) = Some((socket, data));
                true
            })
        };
        let restored = match ns
            .adapter
            .restore_session(pid.clone(), offset, resume)
            .await
        {
            Ok(r) => r,
            Err(e) => {
                tracing::warn!(error = %e, "restoring a session failed");
                false
            }
        };
        let made = made.lock().unwrap_or_else(|e| e.into_inner()).take();
        match made {
            Some((socket, data)) if restored => {
                if let Some((entry, _)) = rt.resolve(&ns.path) {
                    tracing::debug!(sid = %socket.id, "session recovered from another process");
                    entry.starter.start(
                        socket,
                        ns.clone(),
                        rt.clone(),
                        entry.middlewares.clone(),
                        Some(Resumed { pid, data }),
                    );
                    return;
                }
                socket.set_connected(false);
                ns.remove(&socket.id);
                socket.close_mailbox();
                Connection::detach(&socket, rt.config.connection.connect_timeout);
            }
            _ => tracing::debug!("session not recovered, connecting afresh"),
        }
        let nsp = ns.path.clone();
        drop(ns);
        rt.connect_as(&conn, &nsp, auth.as_deref(), false);
    });
    true
}

/// Makes a recovered socket live, under the adapter's broadcast lock: a socket with the old id
/// on this connection, the missed packets queued first, its rooms joined, reachable. `None`
/// when the connection cannot take it (closed, already in this namespace, ...).
fn go_live(
    rt: &Runtime,
    conn: &Conn,
    ns: &Arc<NamespaceInstance>,
    auth: Option<Arc<str>>,
    session: RecoveredSession,
) -> Option<Arc<Socket>> {
    if conn.is_closed() {
        return None;
    }
    let socket = Connection::attach_as(
        conn,
        ns.path.clone(),
        &rt.config.connection,
        Some(session.sid),
    )?;
    if let Some(auth) = auth {
        let _ = socket.auth.set(auth);
    }
    for packet in &session.missed {
        let _ = socket.send(&packet.encoded);
    }
    ns.adapter.add_all(&socket.id, &session.rooms);
    socket.set_connected(true);
    ns.insert(socket.clone());
    Some(socket)
}

/// How a parked socket's wait ended.
pub(crate) enum Parking {
    /// Its client came back: the new socket, live.
    Resumed(Arc<Socket>),
    /// The duration passed (or the server shut down, or the client connected afresh): the
    /// rooms it was in, to be in them again while `recv_disconnect` runs.
    Ended(Vec<Room>),
    /// Another process restored the session: the socket lives on there, with a value of its
    /// own; this value ends without `recv_disconnect` (the socket did not leave).
    Moved,
}

/// Parks the socket of `cx`, which lost its connection: it leaves its rooms and the socket
/// table, its session goes to the adapter, and the actor waits (with its value, ACL and jobs)
/// for its client to come back within the duration.
pub(crate) async fn park(cx: &mut Core, rt: &Runtime, pid: &str, since: Option<String>) -> Parking {
    let ns = cx.ns.clone();
    let socket = cx.socket.clone();
    let sid = socket.id.clone();
    let rooms = ns.rooms(&sid);
    let Some(rec) = ns.recovery.get() else {
        return Parking::Ended(rooms);
    };
    socket.set_connected(false);
    let (tx, mut rx) = oneshot::channel();
    // Parked before the session is persisted: a client cannot find the one without the other.
    rec.park(pid, sid.clone(), tx);
    ns.remove(&sid);
    socket.clear_acks();
    socket.close_mailbox();
    Connection::detach(&socket, rt.config.connection.connect_timeout);
    ns.adapter.persist_session(SessionToPersist {
        sid: sid.clone(),
        pid: pid.to_owned(),
        rooms: rooms.clone(),
        since,
        data: cx.data.clone(),
    });
    tracing::debug!("connection lost, session kept for recovery");
    // Only adapters whose sessions other processes can take have something to watch.
    let elsewhere = if ns.adapter.shares_sessions() {
        ns.adapter.restored_elsewhere(pid)
    } else {
        Box::pin(std::future::pending())
    };
    let shutdown = rec.shutdown.notified();
    tokio::pin!(shutdown);
    shutdown.as_mut().enable();
    let mut moved = false;
    let resumed = if rt.is_closing() {
        None
    } else {
        tokio::select! {
            r = &mut rx => r.ok(),
            _ = tokio::time::sleep(rec.config.max_disconnection_duration) => None,
            _ = shutdown => None,
            () = elsewhere => {
                moved = true;
                None
            }
        }
    };
    let resumed = resumed.or_else(|| {
        // A client may be handing over a socket right now: take it if it did.
        rec.take(pid);
        rx.close();
        rx.try_recv().ok()
    });
    match resumed {
        Some(new) => {
            tracing::debug!("session recovered");
            Parking::Resumed(new)
        }
        None if moved => {
            tracing::debug!("session recovered by another process");
            Parking::Moved
        }
        None => {
            tracing::debug!("session not recovered in time");
            Parking::Ended(rooms)
        }
    }
}

/// The offset the adapter is at, recorded when a socket connects.
pub(crate) fn current_offset(ns: &NamespaceInstance) -> Option<String> {
    ns.recovery.get()?;
    ns.adapter.current_offset()
}

/// Whether a socket that left for `reason` parks.
pub(crate) fn parks(ns: &NamespaceInstance, pid: Option<&str>, reason: DisconnectReason) -> bool {
    pid.is_some() && ns.recovery.get().is_some() && reason.is_recoverable()
}

/// Counts of what recovery holds in a namespace: parked sockets.
pub(crate) fn parked(ns: &NamespaceInstance) -> usize {
    ns.recovery.get().map_or(0, Recovery::parked)
}

/// The connect phase of a recovered socket, when middlewares are not skipped: they run on the
/// new handshake.
pub(crate) async fn middlewares_allow(
    cx: &Core,
    rt: &Runtime,
    middlewares: &[Arc<dyn super::Middleware>],
) -> Result<(), super::ConnectError> {
    let skip = cx
        .ns
        .recovery
        .get()
        .is_none_or(|r| r.config.skip_middlewares);
    if skip {
        return Ok(());
    }
    run_middlewares(&cx.handshake(), &rt.middlewares, middlewares).await
}

/// Runs the server's middlewares (`global`), then the namespace's (`own`), on `handshake`:
/// the first refusal refuses, a middleware that panics refuses with `middleware failed`.
pub(crate) async fn run_middlewares(
    handshake: &Handshake,
    global: &[Arc<dyn super::Middleware>],
    own: &[Arc<dyn super::Middleware>],
) -> Result<(), super::ConnectError> {
    for m in global.iter().chain(own) {
        match std::panic::AssertUnwindSafe(m.call(handshake.clone()))
            .catch_unwind()
            .await
        {
            Ok(r) => r?,
            Err(_) => return Err(super::ConnectError::new("middleware failed")),
        }
    }
    Ok(())
}
