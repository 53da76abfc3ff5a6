//! A socket's mailbox: the commands its actor runs, in order.

use std::collections::VecDeque;
use std::sync::Mutex;

use tokio::sync::Notify;

use super::DisconnectReason;
use crate::codec::socketio::Event;

/// A command for a socket's actor.
pub(crate) enum Cmd {
    /// An event from the client.
    Event(Event),
    /// Leave the namespace; `true`: do not send DISCONNECT to the client.
    Disconnect(DisconnectReason, bool),
}

/// Commands for one actor, in order, bounded for events. Allocates nothing while empty.
pub(super) struct Mailbox {
    queue: Mutex<VecDeque<Cmd>>,
    notify: Notify,
    limit: usize,
}

impl Mailbox {
    pub(super) fn new(limit: usize) -> Self {
        Mailbox {
            queue: Mutex::new(VecDeque::new()),
            notify: Notify::new(),
            limit,
        }
    }

    /// Queues a command; `Err` when the mailbox is full (a disconnect is always queued).
    pub(super) fn push(&self, cmd: Cmd) -> Result<(), Cmd> {
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
    pub(super) async fn pop(&self) -> Cmd {
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
