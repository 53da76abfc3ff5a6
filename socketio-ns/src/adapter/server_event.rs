//! Events between server processes (`serverSideEmit`): what a process receives from the others.

use std::fmt;
use std::sync::{Arc, Mutex};

/// An event another server process sent with [`crate::BroadcastOperator::server_side_emit`]
/// (or `io.serverSideEmit` in a Node.js process of the same cluster).
pub struct ServerEvent {
    /// The namespace it was sent on.
    pub namespace: String,
    /// The event name.
    pub event: String,
    /// Its arguments, as JSON.
    pub args: Vec<serde_json::Value>,
    /// Set when the sender waits for an answer.
    pub ack: Option<ServerEventAck>,
}

impl fmt::Debug for ServerEvent {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ServerEvent")
            .field("namespace", &self.namespace)
            .field("event", &self.event)
            .field("args", &self.args)
            .field("ack", &self.ack.is_some())
            .finish()
    }
}

type AckFn = Box<dyn FnOnce(serde_json::Value) + Send>;

/// The answer to a [`ServerEvent`] whose sender waits for one. It may be sent later, from any
/// task; only the first answer counts (one argument, as in the JavaScript server), and
/// dropping it unanswered leaves the sender to its timeout.
#[derive(Clone)]
pub struct ServerEventAck(Arc<Mutex<Option<AckFn>>>);

impl fmt::Debug for ServerEventAck {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ServerEventAck").finish_non_exhaustive()
    }
}

impl ServerEventAck {
    /// An answer that calls `f` (adapters build these).
    pub fn new(f: impl FnOnce(serde_json::Value) + Send + 'static) -> Self {
        ServerEventAck(Arc::new(Mutex::new(Some(Box::new(f)))))
    }

    /// Answers the sender (the first call only).
    pub fn send(&self, answer: serde_json::Value) {
        let f = self.0.lock().unwrap_or_else(|x| x.into_inner()).take();
        if let Some(f) = f {
            f(answer);
        }
    }
}

/// Receives the events of other server processes ([`crate::Builder::on_server_event`]).
/// Runs on the adapter's task: spawn anything slow.
pub type ServerEventHandler = Arc<dyn Fn(ServerEvent) + Send + Sync>;
