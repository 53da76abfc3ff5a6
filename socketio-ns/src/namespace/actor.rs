//! The per socket-namespace actor: one task owns the user's value and runs its handlers one
//! at a time, in arrival order.
//!
//! The actor does not know the namespace's type: it holds the value with its context as a
//! `dyn Erased`, whose one implementation (`Bound<T>`) is the only code here compiled once
//! per namespace type. An application of many namespaces pays for the rest once.

use std::any::Any;
use std::panic::AssertUnwindSafe;
use std::pin::Pin;
use std::sync::{Arc, Weak};

use futures_util::FutureExt;
use tracing::Instrument;

use super::acl::{Acl, MethodId};
use super::context::{AckCall, Core};
use super::instance::NamespaceInstance;
use super::recovery::{self, Parking, Resumed};
use super::registry::Runtime;
use super::{ConnectError, Context, Handshake, Middleware, Namespace};
use crate::adapter::BoxFuture;
use crate::codec::socketio::Event;
use crate::codec::socketio::packet::PacketType;
use crate::connection::{
    Cmd, Connection, DisconnectReason, RunInline, Socket, connect_reply_frame, is_v2, refuse,
    simple_frame,
};

/// A socket's value with its context, the namespace's type erased: what the actor runs.
pub(crate) trait Erased: Send + 'static {
    /// The context's state.
    fn core(&mut self) -> &mut Core;

    /// `initialize`, then the initial ACL for `handshake`.
    fn initialize(&mut self, handshake: &Handshake);

    /// `recv_connect`.
    fn connect<'a>(&'a mut self, auth: Option<&'a str>) -> BoxFuture<'a, Result<(), ConnectError>>;

    /// One event, through `process_packet`.
    fn process(&mut self, event: Event) -> BoxFuture<'_, ()>;

    /// `recv_disconnect`.
    fn disconnect(&mut self, reason: DisconnectReason) -> BoxFuture<'_, ()>;

    /// An ack callback ([`Context::emit_with_ack_then`]); one of another type is dropped.
    fn call(&mut self, call: Box<dyn Any + Send>);
}

/// A value of namespace `T` and its context.
pub(crate) struct Bound<T: Namespace> {
    pub(crate) value: T,
    pub(crate) cx: Context<T>,
}

impl<T: Namespace> Erased for Bound<T> {
    fn core(&mut self) -> &mut Core {
        &mut self.cx.core
    }

    fn initialize(&mut self, handshake: &Handshake) {
        self.value.initialize(&mut self.cx);
        let acl = match self.value.get_initial_acl(handshake) {
            Some(methods) => Acl::only(methods.iter().map(|m| m.index())),
            None => Acl::OPEN,
        };
        self.cx.core.set_initial_acl(acl);
    }

    fn connect<'a>(&'a mut self, auth: Option<&'a str>) -> BoxFuture<'a, Result<(), ConnectError>> {
        Box::pin(self.value.connect(&mut self.cx, auth))
    }

    fn process(&mut self, event: Event) -> BoxFuture<'_, ()> {
        Box::pin(self.value.process_packet(&mut self.cx, event))
    }

    fn disconnect(&mut self, reason: DisconnectReason) -> BoxFuture<'_, ()> {
        Box::pin(self.value.disconnect(&mut self.cx, reason))
    }

    fn call(&mut self, call: Box<dyn Any + Send>) {
        if let Ok(call) = call.downcast::<AckCall<T>>() {
            call(&mut self.value, &mut self.cx);
        }
    }
}

/// Starts the actor of a new socket.
pub(crate) fn spawn_socket<T: Namespace>(
    value: T,
    socket: Arc<Socket>,
    ns: Arc<NamespaceInstance>,
    rt: Arc<Runtime>,
    middlewares: Vec<Arc<dyn Middleware>>,
    resumed: Option<Resumed>,
) {
    let cx = Context::<T>::new(socket, ns, rt);
    spawn(
        Box::new(Live {
            middlewares,
            pid: None,
            since: None,
            b: Bound { value, cx },
        }),
        resumed,
    );
}

fn spawn(mut live: Box<Live>, resumed: Option<Resumed>) {
    let cx = live.b.core();
    let span = tracing::debug_span!("socket", ns = %cx.socket.nsp(), id = %cx.socket.id);
    // Counted from now until the actor ends, so that a server shutdown can wait for it.
    let live_count = cx.rt.track_actor();
    let actor = run(live, resumed);
    // `map`, not an `async` block around it: that would hold the actor's state twice.
    tokio::spawn(actor.map(move |()| drop(live_count)).instrument(span));
}

fn panic_message(p: &(dyn std::any::Any + Send)) -> &str {
    p.downcast_ref::<&str>()
        .copied()
        .or_else(|| p.downcast_ref::<String>().map(String::as_str))
        .unwrap_or("panic")
}

/// A socket's value and what its actor keeps with it; boxed, as `Box<Live>` (`dyn Erased`).
struct Live<B: ?Sized = dyn Erased> {
    middlewares: Vec<Arc<dyn Middleware>>,
    /// Its private session id, for connection state recovery (once connected).
    pid: Option<String>,
    /// The adapter's offset when it connected.
    since: Option<String>,
    b: B,
}

/// The actor: connects the socket, runs its events (parked meanwhile for connection state
/// recovery when its connection is lost), and makes it leave.
///
/// Not an `async fn`, and every phase but the events loop boxed: an idle socket's task holds
/// only the state it waits in, not the arguments and the other phases' locals as well.
fn run(live: Box<Live>, resumed: Option<Resumed>) -> impl Future<Output = ()> + Send + 'static {
    let start = Box::pin(start(live, resumed));
    async move {
        let Some(mut live) = start.await else {
            return;
        };
        // Its value waits in the slot while the actor has nothing to do, for the connection's
        // task to run an event with (`RunInline`).
        let slot = Arc::new(Slot {
            live: std::sync::Mutex::new(None),
            span: tracing::Span::current(),
        });
        slot.lend_to(&live.b.core().socket);
        let mut live = Some(live);
        match serve(&slot, &mut live).await {
            Some((reason, silent)) => {
                let live = live.take().expect("the actor holds its value");
                Box::pin(leave(live, reason, silent)).await;
            }
            None => {
                // The socket lives on in another process: this value just ends.
                let mut live = live.take().expect("the actor holds its value");
                let cx = live.b.core();
                let (socket, ns, rt) = (cx.socket.clone(), cx.ns.clone(), cx.rt.clone());
                cx.kill_local_jobs();
                drop(live);
                forget(&socket, &ns, &rt);
            }
        }
    }
}

/// Where an actor's value waits while the actor has nothing to do: the connection's task may
/// then run an event's handler with it (`RunInline`). Whoever holds the value took it from here;
/// the mailbox says who may ([`Socket::push_event`]).
struct Slot {
    live: std::sync::Mutex<Option<Box<Live>>>,
    /// The actor's span, entered where the connection's task runs a handler too.
    span: tracing::Span,
}

impl Slot {
    /// Lets `socket`'s events run with the value when the actor is idle.
    fn lend_to(self: &Arc<Self>, socket: &Socket) {
        let inline: Weak<dyn RunInline> = Arc::downgrade(self) as Weak<Self>;
        socket.set_inline(inline);
    }

    fn take(&self) -> Option<Box<Live>> {
        self.live.lock().unwrap_or_else(|e| e.into_inner()).take()
    }

    fn put(&self, live: Option<Box<Live>>) {
        *self.live.lock().unwrap_or_else(|e| e.into_inner()) = live;
    }
}

impl RunInline for Slot {
    fn run(self: Arc<Self>, socket: Arc<Socket>, event: Event) -> Result<(), Event> {
        let Some(mut live) = self.take() else {
            return Err(event);
        };
        let span = self.span.clone();
        let _entered = span.enter();
        let on = socket.clone();
        let mut handler: Pin<Box<dyn Future<Output = ()> + Send>> = Box::pin(async move {
            let b = &mut live.b;
            let leaving = on_event(b, &on, event)
                .await
                .or_else(|| b.core().leaving.take());
            self.put(Some(live));
            if let Some((reason, silent)) = leaving {
                on.disconnect_first(reason, silent);
            }
        });
        // Most handlers complete at once; one that waits is finished by the actor, which
        // polls it with its own waker from then on.
        match handler
            .as_mut()
            .poll(&mut std::task::Context::from_waker(std::task::Waker::noop()))
        {
            std::task::Poll::Ready(()) => socket.release(),
            std::task::Poll::Pending => socket.resume(handler),
        }
        Ok(())
    }
}

/// Connects the socket: middlewares and connect hooks, then the CONNECT reply. `None`: refused.
async fn start(mut live: Box<Live>, resumed: Option<Resumed>) -> Option<Box<Live>> {
    let Live { middlewares, b, .. } = &mut *live;
    let cx = b.core();
    let (socket, ns, rt) = (cx.socket.clone(), cx.ns.clone(), cx.rt.clone());
    // A socket whose session another process kept: live already (id, rooms, missed packets),
    // with a fresh value whose connect hooks run knowing it (`cx.recovered()`).
    let skip_middlewares =
        resumed.is_some() && ns.recovery.get().is_some_and(|r| r.config.skip_middlewares);
    if let Some(r) = &resumed {
        cx.recovered = true;
        if let Some(data) = r.data.clone() {
            cx.set_data(data);
        }
    }
    // The connect hooks are boxed: inline, their state would be part of this phase's state.
    let connected = Box::pin(connect(b, &rt, middlewares, skip_middlewares)).await;
    if let Err(e) = connected {
        tracing::debug!(message = e.message(), "connection refused");
        if resumed.is_some() {
            socket.set_connected(false);
            ns.remove(&socket.id);
        }
        b.core().kill_local_jobs();
        refuse(&socket.conn, socket.nsp(), &e.to_json());
        socket.close_mailbox();
        drop(live);
        forget(&socket, &ns, &rt);
        return None;
    }

    let cx = b.core();
    // Rooms recv_connect joined take effect before the CONNECT reply.
    cx.settle_joins().await;
    // No connection state recovery for v2 clients (the reference server has none for them).
    let pid = match resumed {
        Some(r) => Some(r.pid),
        None if is_v2(&socket.conn) => None,
        None => recovery::new_pid(&ns),
    };
    // Before the socket is reachable: a packet stamped in between counts as missed.
    let since = recovery::current_offset(&ns);
    ns.insert(socket.clone());
    socket.set_connected(true);
    let reply = recovery::connect_reply(&socket.id, pid.as_deref());
    let _ = socket
        .conn
        .send_frame(connect_reply_frame(&socket.conn, socket.nsp(), &reply));
    let held = cx.release_held();
    if !held.is_empty() {
        // The CONNECT reply leaves on its own, and what recv_connect emitted follows a moment
        // later, as with the reference server (which writes them in different event-loop
        // ticks): some clients, the protocol test suite among them, take one message per read
        // and would miss the second of two frames that arrive together.
        let conn = socket.conn.clone();
        let _ =
            tokio::time::timeout(std::time::Duration::from_millis(100), conn.written_all()).await;
        tokio::time::sleep(std::time::Duration::from_millis(1)).await;
    }
    if let Some(o) = ns.observer.get() {
        o.socket_connected(&ns, &socket, cx.data.as_ref());
    }
    for packet in held {
        let _ = recovery::emit(&ns, &socket, packet);
    }
    tracing::debug!("connected");
    live.pid = pid;
    live.since = since;
    Some(live)
}

/// Runs the socket's events; when its connection is lost and it may be recovered, parks it
/// until its client comes back or the time is up. Returns why it leaves and whether the
/// client is not to be told, or `None` when it moved to another process.
async fn serve(slot: &Arc<Slot>, live: &mut Option<Box<Live>>) -> Option<(DisconnectReason, bool)> {
    loop {
        let socket = held(live).b.core().socket.clone();
        let (reason, silent) = events(slot, live, &socket).await;
        drop(socket);
        let l = held(live);
        let ns = l.b.core().ns.clone();
        if !l
            .pid
            .as_deref()
            .is_some_and(|pid| recovery::parks(&ns, Some(pid), reason))
        {
            return Some((reason, silent));
        }
        // Connection lost: the socket waits for its client with its value, ACL and jobs.
        match Box::pin(park(slot, l)).await {
            Unparked::Back => {}
            Unparked::Refused => return Some((DisconnectReason::ServerNamespaceDisconnect, true)),
            Unparked::TimeUp => return Some((reason, silent)),
            Unparked::Moved => return None,
        }
    }
}

/// The value, which the actor holds outside its events loop's waits.
fn held(live: &mut Option<Box<Live>>) -> &mut Live {
    live.as_deref_mut().expect("the actor holds its value")
}

/// How a parked socket's wait ended.
enum Unparked {
    /// Its client is back: served again.
    Back,
    /// Its client came back and a middleware refused it (the client was told).
    Refused,
    /// The time is up: it leaves.
    TimeUp,
    /// It lives on in another process.
    Moved,
}

/// A lost socket parked for connection state recovery.
async fn park(slot: &Arc<Slot>, live: &mut Live) -> Unparked {
    let Live {
        b,
        middlewares,
        pid,
        since,
    } = live;
    let cx = b.core();
    let pid = pid.as_deref().expect("parks only with a pid");
    let rt = cx.rt.clone();
    match recovery::park(cx, &rt, pid, since.clone()).await {
        Parking::Resumed(socket) => {
            slot.lend_to(&socket);
            cx.socket = socket.clone();
            cx.recovered = true;
            if let Err(e) = recovery::middlewares_allow(cx, &rt, middlewares).await {
                refuse(&socket.conn, socket.nsp(), &e.to_json());
                return Unparked::Refused;
            }
            let reply = recovery::connect_reply(&socket.id, Some(pid));
            let _ = socket
                .conn
                .send_frame(connect_reply_frame(&socket.conn, socket.nsp(), &reply));
            tracing::debug!("recovered");
            Unparked::Back
        }
        Parking::Ended(rooms) => {
            // Back in its rooms while recv_disconnect runs, as any leaving socket.
            cx.ns.adapter.add_all(&cx.socket.id, &rooms);
            Unparked::TimeUp
        }
        Parking::Moved => Unparked::Moved,
    }
}

/// Leaving: jobs stop, the client is told, recv_disconnect runs while the socket is still in
/// its rooms, then the rooms are left.
async fn leave(mut live: Box<Live>, reason: DisconnectReason, silent: bool) {
    let b = &mut live.b;
    let cx = b.core();
    let (socket, ns, rt) = (cx.socket.clone(), cx.ns.clone(), cx.rt.clone());
    socket.set_connected(false);
    cx.kill_local_jobs();
    if !silent {
        let _ = socket.conn.send_frame(simple_frame(
            &socket.conn,
            PacketType::Disconnect,
            socket.nsp(),
            None,
        ));
    }
    tracing::debug!(%reason, "disconnected");
    if AssertUnwindSafe(b.disconnect(reason))
        .catch_unwind()
        .await
        .is_err()
    {
        tracing::error!("recv_disconnect panicked");
    }
    b.core().kill_local_jobs();
    if let Some(o) = ns.observer.get() {
        o.socket_disconnected(&ns, &socket, reason);
    }
    ns.remove(&socket.id);
    socket.clear_acks();
    socket.close_mailbox();
    drop(live);
    forget(&socket, &ns, &rt);
}

/// Runs the socket's events until it is to leave: the reason, and whether the client is not
/// to be told.
async fn events(
    slot: &Slot,
    live: &mut Option<Box<Live>>,
    socket: &Socket,
) -> (DisconnectReason, bool) {
    loop {
        if let Some(leaving) = held(live).b.core().leaving.take() {
            return leaving;
        }
        // Free while the actor waits: the connection's task may run an event with it.
        slot.put(live.take());
        // The command goes straight into a boxed future: held here across its run, it would
        // be part of every idle socket's task.
        let step = Box::pin(command(slot, live, socket, socket.next_command().await));
        if let Some(leaving) = step.await {
            return leaving;
        }
    }
}

/// Runs one command with the value, which it takes back from the slot first. `Some` when the
/// socket is to leave.
async fn command(
    slot: &Slot,
    live: &mut Option<Box<Live>>,
    socket: &Socket,
    cmd: Cmd,
) -> Option<(DisconnectReason, bool)> {
    if let Cmd::Resume(rest) = cmd {
        // A handler the connection's task began; it puts the value back when done.
        rest.await;
        *live = slot.take();
        return None;
    }
    *live = slot.take();
    let b = &mut held(live).b;
    match cmd {
        Cmd::Event(event) => on_event(b, socket, event).await,
        Cmd::Call(call) => {
            b.core().begin_event(None);
            if let Err(p) = std::panic::catch_unwind(AssertUnwindSafe(|| b.call(call))) {
                tracing::error!(
                    panic = panic_message(&*p),
                    "ack callback panicked; disconnecting the socket"
                );
                b.core().error("handler_error", "the handler failed");
                return Some((DisconnectReason::HandlerPanic, false));
            }
            settle(b.core()).await;
            None
        }
        Cmd::Disconnect(reason, silent) => Some((reason, silent)),
        Cmd::Resume(_) => unreachable!("taken above"),
    }
}

/// Runs one event's handler; `Some` when the socket is to leave (the handler panicked).
async fn on_event(
    b: &mut dyn Erased,
    socket: &Socket,
    event: Event,
) -> Option<(DisconnectReason, bool)> {
    let cx = b.core();
    if let Some(o) = cx.ns.observer.get() {
        o.event_received(&cx.ns, socket, &event);
    }
    cx.begin_event(Some(&event));
    let name_for_log = tracing::enabled!(tracing::Level::TRACE).then(|| event.name().to_owned());
    let res = AssertUnwindSafe(b.process(event)).catch_unwind().await;
    let cx = b.core();
    if let Err(p) = res {
        tracing::error!(event = ?name_for_log, panic = panic_message(&*p), "handler panicked; disconnecting the socket");
        cx.error("handler_error", "the handler failed");
        return Some((DisconnectReason::HandlerPanic, false));
    }
    // Rooms the handler joined take effect before its answer leaves.
    if cx.has_pending_joins() {
        cx.settle_joins().await;
    }
    cx.begin_event(None);
    None
}

/// Makes the rooms a handler joined take effect; boxed only when there are any, so that the
/// state of the wait stays out of every idle socket's task.
async fn settle(cx: &mut Core) {
    if cx.has_pending_joins() {
        Box::pin(cx.settle_joins()).await;
    }
}

/// Drops the socket from its connection (a connection left with no namespace gets the
/// connect timeout again) and the namespace instance from the registry when it was the last.
/// The context must be gone by then: it holds the instance too.
fn forget(socket: &Arc<Socket>, ns: &Arc<NamespaceInstance>, rt: &Runtime) {
    Connection::detach(socket, rt.config.connection.connect_timeout);
    rt.release(ns);
}

/// Middlewares, `initialize`, the initial ACL, then `recv_connect`. A refused socket leaves
/// the rooms `initialize` or `recv_connect` made it join: it never was in the namespace.
pub(super) async fn connect(
    b: &mut dyn Erased,
    rt: &Runtime,
    middlewares: &[Arc<dyn Middleware>],
    skip_middlewares: bool,
) -> Result<(), ConnectError> {
    let connected = connect_hooks(b, rt, middlewares, skip_middlewares).await;
    if connected.is_err() {
        b.core().leave_all();
    }
    connected
}

async fn connect_hooks(
    b: &mut dyn Erased,
    rt: &Runtime,
    middlewares: &[Arc<dyn Middleware>],
    skip_middlewares: bool,
) -> Result<(), ConnectError> {
    let handshake = b.core().handshake();
    if !skip_middlewares {
        recovery::run_middlewares(&handshake, &rt.middlewares, middlewares).await?;
    }
    if std::panic::catch_unwind(AssertUnwindSafe(|| b.initialize(&handshake))).is_err() {
        return Err(ConnectError::new("initialize failed"));
    }
    let auth = handshake.auth_raw().map(str::to_owned);
    match AssertUnwindSafe(b.connect(auth.as_deref()))
        .catch_unwind()
        .await
    {
        Ok(r) => r,
        Err(p) => {
            tracing::error!(panic = panic_message(&*p), "recv_connect panicked");
            Err(ConnectError::new("recv_connect failed"))
        }
    }
}
