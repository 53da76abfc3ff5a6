//! A socket's mailbox: the commands its actor runs, in order.

use std::collections::VecDeque;
use std::pin::Pin;
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
    /// A handler that began on the connection's task ([`Mailbox::try_claim`]) and has to
    /// wait: the actor finishes it. It holds the actor's value, and the claim with it.
    Resume(Pin<Box<dyn Future<Output = ()> + Send>>),
}

/// Commands for one actor, in order. Allocates nothing while empty.
///
/// Events are flow-controlled, not dropped: [`Mailbox::push`] says when the queue has reached
/// its limit, and the connection then reads nothing more until [`Mailbox::room`] completes.
///
/// The mailbox also says who holds the actor's value: the actor, except while it waits in
/// [`Mailbox::pop`] with nothing to do; then the connection's task may claim it
/// ([`Mailbox::try_claim`]) and run a handler itself, in order with everything else, since
/// nothing waits.
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
    /// Who holds the actor's value.
    holder: Holder,
}

/// Who holds an actor's value.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
enum Holder {
    /// The actor: from its start, except while it waits in `pop` with nothing to do.
    #[default]
    Actor,
    /// Nobody: the actor waits.
    Free,
    /// The connection's task, running a handler ([`Mailbox::try_claim`]).
    Connection,
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

    /// The next command, for the actor, which gives the value up while it waits and holds it
    /// again with what this returns (a [`Cmd::Resume`] carries it).
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
        let cmd = match q.cmds.front() {
            // A handler the connection's task began: it brings the value back.
            Some(Cmd::Resume(_)) => q.cmds.pop_front(),
            // The connection's task runs a handler: the rest waits for it.
            Some(_) if q.holder == Holder::Connection => None,
            Some(_) => q.cmds.pop_front(),
            None => None,
        };
        let Some(cmd) = cmd else {
            // Waiting: the value is free, unless the connection's task holds it.
            if q.holder == Holder::Actor {
                q.holder = Holder::Free;
            }
            return None;
        };
        q.holder = Holder::Actor;
        let freed = q.cmds.len() + 1 == self.limit;
        drop(q);
        if freed {
            self.room.notify_waiters();
        }
        Some(cmd)
    }

    /// For the connection's task: claims the actor's value when the actor waits with nothing
    /// queued, so that an event can run at once, in order. The claim ends with
    /// [`Mailbox::release`] or [`Mailbox::resume`].
    pub(super) fn try_claim(&self) -> bool {
        let mut q = self.lock();
        if q.closed || q.holder != Holder::Free || !q.cmds.is_empty() {
            return false;
        }
        q.holder = Holder::Connection;
        true
    }

    /// The connection's task is done with the value: the actor takes what was queued meanwhile.
    pub(super) fn release(&self) {
        let mut q = self.lock();
        debug_assert_eq!(q.holder, Holder::Connection);
        q.holder = Holder::Free;
        let waiting = !q.cmds.is_empty();
        drop(q);
        if waiting {
            self.notify.notify_one();
        }
    }

    /// The handler the connection's task began has to wait: the actor finishes it, before
    /// anything else, and holds the value from then on.
    pub(super) fn resume(&self, rest: Pin<Box<dyn Future<Output = ()> + Send>>) {
        let mut q = self.lock();
        debug_assert_eq!(q.holder, Holder::Connection);
        q.cmds.push_front(Cmd::Resume(rest));
        drop(q);
        self.notify.notify_one();
    }

    /// Queues a command ahead of the others (the socket leaves after the handler that asked).
    pub(super) fn push_front(&self, cmd: Cmd) {
        let mut q = self.lock();
        if q.closed {
            return;
        }
        q.cmds.push_front(cmd);
        drop(q);
        self.notify.notify_one();
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
