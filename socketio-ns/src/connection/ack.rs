//! Acknowledgements: the answers a client gives to emits that asked for one.

use std::fmt;

use bytes::Bytes;
use serde::de::DeserializeOwned;
use tokio::sync::{mpsc, oneshot};
use tokio_tungstenite::tungstenite::Utf8Bytes;

use super::Sid;
use crate::codec::socketio::{RawArgs, Received};
use crate::engine::SendError;

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
    pub fn into_args(self) -> RawArgs {
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

/// What a broadcast's acks report to its emitter.
pub(crate) enum AckEvent {
    /// One process's list of the sockets it expects answers from.
    Expect(Vec<Sid>),
    /// One socket's answer.
    Ack(Sid, AckResponse),
}

/// Where the processes taking part in a broadcast with acks report to the emitter. Cheap to
/// clone (a channel sender).
#[derive(Clone)]
pub struct AckSink {
    tx: mpsc::UnboundedSender<AckEvent>,
}

impl fmt::Debug for AckSink {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("AckSink")
            .field("closed", &self.tx.is_closed())
            .finish()
    }
}

impl AckSink {
    pub(crate) fn channel() -> (Self, mpsc::UnboundedReceiver<AckEvent>) {
        let (tx, rx) = mpsc::unbounded_channel();
        (AckSink { tx }, rx)
    }

    /// Reports, once per process, the sockets this process sent the packet to and expects an
    /// answer from (possibly none).
    pub fn expect(&self, sockets: Vec<Sid>) {
        let _ = self.tx.send(AckEvent::Expect(sockets));
    }

    /// Forwards the answer of one socket.
    pub fn ack(&self, socket: Sid, response: AckResponse) {
        let _ = self.tx.send(AckEvent::Ack(socket, response));
    }

    /// Whether the emitter stopped listening (it completed or timed out): answers arriving
    /// later can be dropped.
    pub fn is_closed(&self) -> bool {
        self.tx.is_closed()
    }
}

/// Who waits for an ack: one emitter, or a broadcast collecting every socket's answer.
pub(super) enum AckSlot {
    One(oneshot::Sender<AckResponse>),
    Broadcast(AckSink),
}

impl AckSlot {
    /// Whether nobody waits any more (the emitter gave up or completed).
    pub(super) fn is_abandoned(&self) -> bool {
        match self {
            AckSlot::One(tx) => tx.is_closed(),
            AckSlot::Broadcast(sink) => sink.is_closed(),
        }
    }
}
