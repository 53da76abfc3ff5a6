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
    /// A call into the namespace's value made by the namespace layer (an ack callback), typed
    /// there: this layer does not know the value's type.
    Call(Box<dyn std::any::Any + Send>),
}

/// Commands for one actor, in order. Allocates nothing while empty.
///
/// Events are flow-controlled, not dropped: [`Mailbox::push`] says when the queue has reached
/// its limit, and the connection then reads nothing more until [`Mailbox::room`] completes.
pub(super) struct Mailbox {
    queue: Mutex<Queue>,
    /// Wakes the actor.
    notify: Notify,
    /// Wakes a reader waiting for room.
    room: Notify,
    limit: usize,
}

#[derive(Default)]
struct Queue {
    cmds: VecDeque<Cmd>,
    /// The actor is gone: nothing will be taken any more.
    closed: bool,
}

impl Mailbox {
    pub(super) fn new(limit: usize) -> Self {
        Mailbox {
            queue: Mutex::new(Queue::default()),
            notify: Notify::new(),
            room: Notify::new(),
            limit,
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Queue> {
        self.queue.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Queues a command; returns whether the queue has now reached its limit (the caller
    /// should then wait for [`Mailbox::room`] before pushing more events).
    pub(super) fn push(&self, cmd: Cmd) -> bool {
        let mut q = self.lock();
        if q.closed {
            return false;
        }
        q.cmds.push_back(cmd);
        let full = q.cmds.len() >= self.limit;
        drop(q);
        self.notify.notify_one();
        full
    }

    /// Completes when the queue is below its limit, or the actor is gone.
    pub(super) async fn room(&self) {
        loop {
            let room = self.room.notified();
            {
                let q = self.lock();
                if q.closed || q.cmds.len() < self.limit {
                    return;
                }
            }
            room.await;
        }
    }

    /// The next command.
    pub(super) async fn pop(&self) -> Cmd {
        loop {
            let notified = self.notify.notified();
            // Taken in a function of its own: a command held in this scope across the wait
            // would be part of every idle actor's state.
            if let Some(cmd) = self.try_pop() {
                return cmd;
            }
            notified.await;
        }
    }

    fn try_pop(&self) -> Option<Cmd> {
        let mut q = self.lock();
        let cmd = q.cmds.pop_front()?;
        let freed = q.cmds.len() + 1 == self.limit;
        drop(q);
        if freed {
            self.room.notify_waiters();
        }
        Some(cmd)
    }

    /// The actor is gone: what is queued is dropped and a waiting reader goes on.
    pub(super) fn close(&self) {
        let mut q = self.lock();
        q.closed = true;
        q.cmds.clear();
        drop(q);
        self.room.notify_waiters();
    }
}
