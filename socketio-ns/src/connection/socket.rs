//! [`Socket`]: one namespace's socket on a connection, as the connection's reader, the actor,
//! the adapter and the server handle all reach it.

use std::collections::HashMap;
use std::fmt;
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, OnceLock, Weak};

use tokio::sync::oneshot;

use super::ack::AckSlot;
use super::mailbox::{Cmd, Mailbox};
use super::{AckResponse, AckSink, Conn, DisconnectReason};
use crate::codec::socketio::Event;
use crate::codec::socketio::encode::Encoded;
use crate::engine::{CloseReason, Flow, SendError};

/// A Socket.IO socket id.
pub type Sid = Arc<str>;

/// A fresh random socket id.
pub(crate) fn new_sid() -> Sid {
    crate::engine::new_sid().into()
}

/// Pending acks are swept of abandoned entries once the table holds this many.
const ACK_SWEEP_AT: usize = 64;

/// One socket in one namespace.
pub(crate) struct Socket {
    pub(crate) id: Sid,
    nsp: Arc<str>,
    pub(crate) conn: Conn,
    mailbox: Mailbox,
    acks: Mutex<HashMap<u64, AckSlot>>,
    /// The raw JSON of the CONNECT auth payload.
    pub(crate) auth: OnceLock<Arc<str>>,
    next_ack: AtomicU64,
    connected: AtomicBool,
    /// Runs an event on the connection's task when the actor waits with nothing to do.
    inline: OnceLock<Weak<dyn RunInline>>,
}

/// Runs an event's handler on the task that read it (the namespace layer's actor implements
/// it; this layer does not know the value's type). Called with the actor's value claimed
/// ([`Socket::push_event`]); ends the claim with [`Socket::release`] when the handler is done,
/// or hands what is left of it to the actor with [`Socket::resume`].
pub(crate) trait RunInline: Send + Sync {
    /// `Err`: it could not (the event goes to the actor's queue).
    fn run(self: Arc<Self>, socket: Arc<Socket>, event: Event) -> Result<(), Event>;
}

impl fmt::Debug for Socket {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Socket")
            .field("id", &self.id)
            .field("ns", &self.nsp)
            .finish()
    }
}

impl Socket {
    pub(crate) fn new(nsp: Arc<str>, conn: Conn, mailbox_limit: usize) -> Self {
        // A v2 client derives its socket id from the Engine.IO one (`/chat#<sid>`, or the sid
        // itself in `/`), and the reference server uses that id for it.
        let id = if super::is_v2(&conn) {
            if &*nsp == "/" {
                conn.sid().into()
            } else {
                format!("{nsp}#{}", conn.sid()).into()
            }
        } else {
            new_sid()
        };
        Self::with_id(id, nsp, conn, mailbox_limit)
    }

    /// A socket with a given id (a recovered one keeps the id it had).
    pub(crate) fn with_id(id: Sid, nsp: Arc<str>, conn: Conn, mailbox_limit: usize) -> Self {
        Socket {
            id,
            nsp,
            conn,
            mailbox: Mailbox::new(mailbox_limit),
            acks: Mutex::new(HashMap::new()),
            auth: OnceLock::new(),
            next_ack: AtomicU64::new(0),
            connected: AtomicBool::new(false),
            inline: OnceLock::new(),
        }
    }

    /// The namespace path.
    pub(crate) fn nsp(&self) -> &str {
        &self.nsp
    }

    pub(crate) fn is_connected(&self) -> bool {
        self.connected.load(Ordering::Acquire)
    }

    pub(crate) fn set_connected(&self, v: bool) {
        self.connected.store(v, Ordering::Release);
    }

    // ----- the actor's mailbox -----

    /// Queues an event for the actor. When its queue is full, the answer tells the engine to
    /// read nothing more from this connection until the actor has caught up.
    ///
    /// When the actor waits with nothing queued, the handler runs here, on the task that read
    /// the event: one wake-up per event instead of three (the actor's, and the writer's for the
    /// answer), in the same order.
    pub(crate) fn push_event(self: &Arc<Self>, mut event: Event) -> Flow {
        if let Some(inline) = self.inline.get().and_then(Weak::upgrade)
            && self.mailbox.try_claim()
        {
            match inline.run(self.clone(), event) {
                Ok(()) => return Flow::Continue,
                Err(e) => {
                    self.mailbox.release();
                    event = e;
                }
            }
        }
        if !self.mailbox.push(Cmd::Event(event)) {
            return Flow::Continue;
        }
        tracing::debug!(sid = %self.id, "event queue full, reading paused");
        let socket = self.clone();
        Flow::Wait(Box::pin(async move { socket.mailbox.room().await }))
    }

    /// Queues a call into the namespace's value behind the events already queued; it runs in
    /// order with them. Not flow-controlled: calls come from the server, not the client.
    /// Dropped when the actor is gone.
    pub(crate) fn push_call(&self, call: Box<dyn std::any::Any + Send>) {
        let _ = self.mailbox.push(Cmd::Call(call));
    }

    /// Makes the socket leave its namespace, after the handler it may be running: its actor
    /// runs `recv_disconnect`; with `silent`, the client is not sent DISCONNECT (it is gone,
    /// or it asked). The one way a socket is disconnected.
    pub(crate) fn disconnect(&self, reason: DisconnectReason, silent: bool) {
        let _ = self.mailbox.push(Cmd::Disconnect(reason, silent));
    }

    /// Lets events run on the connection's task when the actor is idle ([`RunInline`]).
    pub(crate) fn set_inline(&self, inline: Weak<dyn RunInline>) {
        let _ = self.inline.set(inline);
    }

    /// Ends a claim of [`RunInline::run`]: the handler is done.
    pub(crate) fn release(&self) {
        self.mailbox.release();
    }

    /// Ends a claim of [`RunInline::run`]: the handler has to wait, and the actor finishes it
    /// before anything else.
    pub(crate) fn resume(&self, rest: Pin<Box<dyn Future<Output = ()> + Send>>) {
        self.mailbox.resume(rest);
    }

    /// Makes the socket leave after the handler that asked, before what is queued.
    pub(crate) fn disconnect_first(&self, reason: DisconnectReason, silent: bool) {
        self.mailbox.push_front(Cmd::Disconnect(reason, silent));
    }

    /// The actor is gone: commands queued or pushed later are dropped.
    pub(crate) fn close_mailbox(&self) {
        self.mailbox.close();
    }

    /// The next command for the actor.
    pub(crate) fn next_command(&self) -> impl Future<Output = Cmd> + Send + '_ {
        self.mailbox.pop()
    }

    /// Closes the whole connection (every namespace of this client).
    pub(crate) fn close_connection(&self) {
        self.conn.close(CloseReason::ServerClose);
    }

    // ----- writing -----

    /// Queues an encoded packet for this socket.
    pub(crate) fn send(&self, packet: &Encoded) -> Result<(), SendError> {
        let parser = self.conn.data().parser();
        match packet.single_frame(parser) {
            Some(frame) => self.conn.send_frame(frame),
            None => self.conn.send_frames(packet.frames(parser)),
        }
    }

    /// Queues an encoded packet unless the transport is backed up.
    pub(crate) fn send_volatile(&self, packet: &Encoded) -> Result<(), SendError> {
        let parser = self.conn.data().parser();
        match packet.single_frame(parser) {
            Some(frame) => self.conn.send_volatile(std::iter::once(frame)),
            None => self.conn.send_volatile(packet.frames(parser)),
        }
    }

    // ----- acks -----

    fn ack_table(&self) -> std::sync::MutexGuard<'_, HashMap<u64, AckSlot>> {
        let mut acks = self.acks.lock().unwrap_or_else(|e| e.into_inner());
        // Emitters that timed out or were dropped leave their entries behind: sweep them
        // now and then, so that a client that never answers cannot grow the table.
        if acks.len() >= ACK_SWEEP_AT {
            acks.retain(|_, slot| !slot.is_abandoned());
        }
        acks
    }

    /// Reserves an ack id and the receiver of its answer.
    pub(crate) fn register_ack(&self) -> (u64, oneshot::Receiver<AckResponse>) {
        let id = self.next_ack.fetch_add(1, Ordering::Relaxed);
        let (tx, rx) = oneshot::channel();
        self.ack_table().insert(id, AckSlot::One(tx));
        (id, rx)
    }

    /// Registers the ack id of a broadcast: the answer goes to `sink`. `false` when the id is
    /// already in use on this socket.
    pub(crate) fn register_broadcast_ack(&self, id: u64, sink: &AckSink) -> bool {
        match self.ack_table().entry(id) {
            std::collections::hash_map::Entry::Occupied(_) => false,
            std::collections::hash_map::Entry::Vacant(v) => {
                v.insert(AckSlot::Broadcast(sink.clone()));
                true
            }
        }
    }

    /// Forgets an ack id whose answer nobody waits for any more.
    pub(crate) fn forget_ack(&self, id: u64) {
        self.acks
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .remove(&id);
    }

    /// An ACK arrived from the client.
    pub(crate) fn resolve_ack(&self, id: u64, response: AckResponse) {
        let slot = self
            .acks
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .remove(&id);
        match slot {
            Some(AckSlot::One(tx)) => {
                let _ = tx.send(response);
            }
            Some(AckSlot::Broadcast(sink)) => sink.ack(self.id.clone(), response),
            None => tracing::debug!(id, "ack for an unknown id, ignored"),
        }
    }

    /// Drops every pending ack: their waiters see `Disconnected`.
    pub(crate) fn clear_acks(&self) {
        self.acks.lock().unwrap_or_else(|e| e.into_inner()).clear();
    }
}
