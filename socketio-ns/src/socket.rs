//! The shared half of a socket-namespace: what the connection's reader, the actor, the
//! adapter and the server handle all reach.

use std::collections::{HashMap, VecDeque};
use std::fmt;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, OnceLock};

use bytes::Bytes;
use serde::de::DeserializeOwned;
use tokio::sync::{Notify, oneshot};
use tokio_tungstenite::tungstenite::Utf8Bytes;

use crate::adapter::AckSink;
use crate::client::ClientData;
use crate::codec::socketio::encode::Encoded;
use crate::engine::{EngineSession, SendError};
use crate::namespace::{Cmd, Received};
use crate::ns::NsShared;

/// A Socket.IO socket id.
pub type Sid = Arc<str>;

/// An acknowledgement received from a client.
#[derive(Debug, Clone)]
pub struct AckResponse(Received);

impl AckResponse {
    pub(crate) fn new(received: Received) -> Self {
        AckResponse(received)
    }

    /// Builds an answer from the JSON array of its arguments and its binary attachments, as a
    /// multi-process adapter receives it from another process.
    pub fn from_json(args: String, attachments: Vec<Bytes>) -> Result<Self, serde_json::Error> {
        let text: Utf8Bytes = args.into();
        let raw: Vec<&serde_json::value::RawValue> = serde_json::from_str(text.as_str())?;
        Ok(AckResponse(Received::new(&text, &raw, attachments)))
    }

    /// The number of arguments the client acked with.
    pub fn len(&self) -> usize {
        self.0.len()
    }

    /// Whether the client acked with no argument.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The raw JSON of argument `i`.
    pub fn raw_arg(&self, i: usize) -> Option<&str> {
        self.0.raw_arg(i)
    }

    /// Argument `i` decoded into `T` (missing: JSON `null`).
    pub fn arg<T: DeserializeOwned>(&self, i: usize) -> Result<T, serde_json::Error> {
        self.0.arg(i)
    }

    /// Every argument decoded as JSON values (binary placeholders left as they are).
    pub fn values(&self) -> Vec<serde_json::Value> {
        (0..self.len()).filter_map(|i| self.arg(i).ok()).collect()
    }

    /// The binary attachments.
    pub fn attachments(&self) -> &[Bytes] {
        self.0.attachments()
    }

    /// The arguments as they came, to send on unchanged (binary included).
    pub fn into_args(self) -> crate::codec::socketio::RawArgs {
        self.0.args_from(0)
    }
}

/// Why an ack did not arrive.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum AckError {
    /// No answer within the timeout.
    #[error("ack timed out")]
    Timeout,
    /// The socket disconnected first.
    #[error("socket disconnected before acking")]
    Disconnected,
    /// The packet could not be encoded or sent.
    #[error("could not send: {0}")]
    Send(SendError),
    /// The arguments could not be serialized.
    #[error("arguments could not be serialized")]
    Serialize,
}

/// A socket's mailbox: commands for its actor, in order. Allocates nothing while empty.
pub(crate) struct Mailbox {
    queue: Mutex<VecDeque<Cmd>>,
    notify: Notify,
    limit: usize,
}

impl Mailbox {
    pub(crate) fn new(limit: usize) -> Self {
        Mailbox {
            queue: Mutex::new(VecDeque::new()),
            notify: Notify::new(),
            limit,
        }
    }

    /// Queues a command; `Err` when the mailbox is full.
    pub(crate) fn push(&self, cmd: Cmd) -> Result<(), Cmd> {
        let mut q = self.queue.lock().unwrap_or_else(|e| e.into_inner());
        if q.len() >= self.limit && !matches!(cmd, Cmd::Disconnect(..)) {
            return Err(cmd);
        }
        q.push_back(cmd);
        drop(q);
        self.notify.notify_one();
        Ok(())
    }

    /// The next command.
    pub(crate) async fn pop(&self) -> Cmd {
        loop {
            let notified = self.notify.notified();
            if let Some(cmd) = self
                .queue
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .pop_front()
            {
                return cmd;
            }
            notified.await;
        }
    }
}

/// Who waits for an ack: one emitter, or a broadcast collecting every socket's answer.
enum AckSlot {
    One(oneshot::Sender<AckResponse>),
    Broadcast(AckSink),
}

/// One socket in one namespace.
pub(crate) struct SocketShared {
    pub(crate) id: Sid,
    pub(crate) ns: Arc<NsShared>,
    pub(crate) conn: EngineSession<ClientData>,
    pub(crate) mailbox: Mailbox,
    acks: Mutex<HashMap<u64, AckSlot>>,
    /// The raw JSON of the CONNECT auth payload, for `fetch_sockets`.
    pub(crate) auth: OnceLock<Arc<str>>,
    next_ack: AtomicU64,
    connected: AtomicBool,
}

impl fmt::Debug for SocketShared {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Socket")
            .field("id", &self.id)
            .field("ns", &self.ns.path)
            .finish()
    }
}

impl SocketShared {
    pub(crate) fn new(
        ns: Arc<NsShared>,
        conn: EngineSession<ClientData>,
        mailbox_limit: usize,
    ) -> Self {
        SocketShared {
            id: new_sid(),
            ns,
            conn,
            mailbox: Mailbox::new(mailbox_limit),
            acks: Mutex::new(HashMap::new()),
            auth: OnceLock::new(),
            next_ack: AtomicU64::new(0),
            connected: AtomicBool::new(false),
        }
    }

    pub(crate) fn nsp(&self) -> &str {
        &self.ns.path
    }

    pub(crate) fn is_connected(&self) -> bool {
        self.connected.load(Ordering::Acquire)
    }

    pub(crate) fn set_connected(&self, v: bool) {
        self.connected.store(v, Ordering::Release);
    }

    /// Queues an encoded packet for this socket.
    pub(crate) fn send(&self, packet: &Encoded) -> Result<(), SendError> {
        self.conn.send_frames(packet.frames())
    }

    /// Queues an encoded packet unless the transport is backed up.
    pub(crate) fn send_volatile(&self, packet: &Encoded) -> Result<(), SendError> {
        self.conn.send_volatile(packet.frames())
    }

    /// Reserves an ack id and the receiver of its answer.
    pub(crate) fn register_ack(&self) -> (u64, oneshot::Receiver<AckResponse>) {
        let id = self.next_ack.fetch_add(1, Ordering::Relaxed);
        let (tx, rx) = oneshot::channel();
        self.acks
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .insert(id, AckSlot::One(tx));
        (id, rx)
    }

    /// Registers the ack id of a broadcast: the answer goes to `sink`. `false` when the id is
    /// already in use on this socket.
    pub(crate) fn register_broadcast_ack(&self, id: u64, sink: &AckSink) -> bool {
        let mut acks = self.acks.lock().unwrap_or_else(|e| e.into_inner());
        match acks.entry(id) {
            std::collections::hash_map::Entry::Occupied(_) => false,
            std::collections::hash_map::Entry::Vacant(v) => {
                v.insert(AckSlot::Broadcast(sink.clone()));
                true
            }
        }
    }

    pub(crate) fn forget_ack(&self, id: u64) {
        self.acks
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .remove(&id);
    }

    /// An ACK arrived from the client.
    pub(crate) fn resolve_ack(&self, id: u64, response: AckResponse) {
        let tx = self
            .acks
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .remove(&id);
        match tx {
            Some(AckSlot::One(tx)) => {
                let _ = tx.send(response);
            }
            Some(AckSlot::Broadcast(sink)) => sink.ack(self.id.clone(), response),
            None => tracing::debug!(id, "ack for an unknown id, ignored"),
        }
    }

    /// Joins rooms (the context and `SocketRef` both come here).
    pub(crate) fn join(&self, rooms: Vec<crate::adapter::Room>) {
        self.ns.adapter.add_all(&self.id, &rooms);
    }

    /// Leaves rooms.
    pub(crate) fn leave(&self, rooms: Vec<crate::adapter::Room>) {
        self.ns.adapter.del(&self.id, &rooms);
    }

    /// Leaves every room but its own id room.
    pub(crate) fn leave_all(&self) {
        self.ns.adapter.del_all(&self.id);
    }

    /// The rooms it is in, its own id room first.
    pub(crate) fn rooms(&self) -> Vec<crate::adapter::Room> {
        let joined = self.ns.adapter.socket_rooms(&self.id);
        let mut rooms = Vec::with_capacity(joined.len() + 1);
        rooms.push(crate::adapter::Room::Owned(self.id.to_string()));
        rooms.extend(joined);
        rooms
    }

    /// A broadcast to its namespace from it: every socket but itself.
    pub(crate) fn broadcast(&self, io: &Arc<crate::ns::IoShared>) -> crate::BroadcastOperator {
        crate::BroadcastOperator::new(self.ns.clone(), io.clone())
            .except(crate::adapter::Room::Owned(self.id.to_string()))
    }

    /// Drops every pending ack: their waiters see `Disconnected`.
    pub(crate) fn clear_acks(&self) {
        self.acks.lock().unwrap_or_else(|e| e.into_inner()).clear();
    }
}

/// A fresh random socket id.
pub(crate) fn new_sid() -> Sid {
    crate::engine::new_sid().into()
}
