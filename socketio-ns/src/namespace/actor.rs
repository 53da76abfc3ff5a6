//! The per socket-namespace actor: one task owns the user's value and runs its handlers one
//! at a time, in arrival order.

use std::panic::AssertUnwindSafe;
use std::pin::Pin;
use std::sync::{Arc, Weak};

use futures_util::FutureExt;
use tracing::Instrument;

use super::acl::{Acl, MethodId};
use super::context::AckCall;
use super::instance::NamespaceInstance;
use super::recovery::{self, Parking, Resumed};
use super::registry::Runtime;
use super::{ConnectError, Context, Middleware, Namespace};
use crate::codec::socketio::Event;
use crate::codec::socketio::packet::PacketType;
use crate::connection::{
    Cmd, Connection, DisconnectReason, RunInline, Socket, connect_reply_frame, is_v2, refuse,
    simple_frame,
};

/// Starts the actor of a new socket.
pub(crate) fn spawn_socket<T: Namespace>(
    value: T,
    socket: Arc<Socket>,
    ns: Arc<NamespaceInstance>,
    rt: Arc<Runtime>,
    middlewares: Vec<Arc<dyn Middleware>>,
    resumed: Option<Resumed>,
) {
    let span = tracing::debug_span!("socket", ns = %socket.nsp(), id = %socket.id);
    // Counted from now until the actor ends, so that a server shutdown can wait for it.
    let live = rt.track_actor();
    let actor = run(value, socket, ns, rt, middlewares, resumed);
    // `map`, not an `async` block around it: that would hold the actor's state twice.
    tokio::spawn(actor.map(move |()| drop(live)).instrument(span));
}

fn panic_message(p: &(dyn std::any::Any + Send)) -> &str {
    p.downcast_ref::<&str>()
        .copied()
        .or_else(|| p.downcast_ref::<String>().map(String::as_str))
        .unwrap_or("panic")
}

/// What a connected socket's actor keeps while it serves.
struct Live<T: Namespace> {
    value: T,
    cx: Context<T>,
    middlewares: Vec<Arc<dyn Middleware>>,
    /// Its private session id, for connection state recovery.
    pid: Option<String>,
    /// The adapter's offset when it connected.
    since: Option<String>,
}

/// The actor: connects the socket, runs its events (parked meanwhile for connection state
/// recovery when its connection is lost), and makes it leave.
///
/// Not an `async fn`, and every phase but the events loop boxed: an idle socket's task holds
/// only the state it waits in, not the arguments and the other phases' locals as well.
fn run<T: Namespace>(
    value: T,
    socket: Arc<Socket>,
    ns: Arc<NamespaceInstance>,
    rt: Arc<Runtime>,
    middlewares: Vec<Arc<dyn Middleware>>,
    resumed: Option<Resumed>,
) -> impl Future<Output = ()> + Send + 'static {
    let start = Box::pin(start(value, socket, ns, rt, middlewares, resumed));
    async move {
        // Boxed by `start`: an unboxed value here would keep its room in this task's state.
        let Some(live) = start.await else {
            return;
        };
        // Its value waits in the slot while the actor has nothing to do, for the connection's
        // task to run an event with (`RunInline`).
        let slot = Arc::new(Slot {
            live: std::sync::Mutex::new(None),
            span: tracing::Span::current(),
        });
        slot.lend_to(&live.cx.socket);
        let mut live = Some(live);
        match serve(&slot, &mut live).await {
            Some((reason, silent)) => {
                let live = live.take().expect("the actor holds its value");
                Box::pin(leave(*live, reason, silent)).await;
            }
            None => {
                // The socket lives on in another process: this value just ends.
                let Live { value, mut cx, .. } = *live.take().expect("the actor holds its value");
                let (socket, ns, rt) = (cx.socket.clone(), cx.ns.clone(), cx.rt.clone());
                cx.kill_local_jobs();
                drop(cx);
                forget(&socket, &ns, &rt);
                drop(value);
            }
        }
    }
}

/// Where an actor's value waits while the actor has nothing to do: the connection's task may
/// then run an event's handler with it (`RunInline`). Whoever holds the value took it from here;
/// the mailbox says who may ([`Socket::push_event`]).
struct Slot<T: Namespace> {
    live: std::sync::Mutex<Option<Box<Live<T>>>>,
    /// The actor's span, entered where the connection's task runs a handler too.
    span: tracing::Span,
}

impl<T: Namespace> Slot<T> {
    /// Lets `socket`'s events run with the value when the actor is idle.
    fn lend_to(self: &Arc<Self>, socket: &Socket) {
        let inline: Weak<dyn RunInline> = Arc::downgrade(self) as Weak<Self>;
        socket.set_inline(inline);
    }

    fn take(&self) -> Option<Box<Live<T>>> {
        self.live.lock().unwrap_or_else(|e| e.into_inner()).take()
    }

    fn put(&self, live: Option<Box<Live<T>>>) {
        *self.live.lock().unwrap_or_else(|e| e.into_inner()) = live;
    }
}

impl<T: Namespace> RunInline for Slot<T> {
    fn run(self: Arc<Self>, socket: Arc<Socket>, event: Event) -> Result<(), Event> {
        let Some(mut live) = self.take() else {
            return Err(event);
        };
        let span = self.span.clone();
        let _entered = span.enter();
        let on = socket.clone();
        let mut handler: Pin<Box<dyn Future<Output = ()> + Send>> = Box::pin(async move {
            let l = &mut *live;
            let leaving = on_event(&mut l.value, &mut l.cx, &on, event)
                .await
                .or_else(|| l.cx.leaving.take());
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
async fn start<T: Namespace>(
    mut value: T,
    socket: Arc<Socket>,
    ns: Arc<NamespaceInstance>,
    rt: Arc<Runtime>,
    middlewares: Vec<Arc<dyn Middleware>>,
    resumed: Option<Resumed>,
) -> Option<Box<Live<T>>> {
    let mut cx = Context::<T>::new(socket.clone(), ns.clone(), rt.clone());
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
    // The connect hooks are boxed: inline, the largest handler's state machine would be part
    // of this phase's state.
    let connected = Box::pin(connect(
        &mut value,
        &mut cx,
        &rt,
        &middlewares,
        skip_middlewares,
    ))
    .await;
    if let Err(e) = connected {
        tracing::debug!(message = e.message(), "connection refused");
        if resumed.is_some() {
            socket.set_connected(false);
            ns.remove(&socket.id);
        }
        cx.kill_local_jobs();
        refuse(&socket.conn, socket.nsp(), &e.to_json());
        socket.close_mailbox();
        drop(cx);
        forget(&socket, &ns, &rt);
        return None;
    }

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
    Some(Box::new(Live {
        value,
        cx,
        middlewares,
        pid,
        since,
    }))
}

/// Runs the socket's events; when its connection is lost and it may be recovered, parks it
/// until its client comes back or the time is up. Returns why it leaves and whether the
/// client is not to be told, or `None` when it moved to another process.
async fn serve<T: Namespace>(
    slot: &Arc<Slot<T>>,
    live: &mut Option<Box<Live<T>>>,
) -> Option<(DisconnectReason, bool)> {
    loop {
        let socket = held(live).cx.socket.clone();
        let (reason, silent) = events(slot, live, &socket).await;
        drop(socket);
        let l = held(live);
        if !l
            .pid
            .as_deref()
            .is_some_and(|pid| recovery::parks(&l.cx.ns, Some(pid), reason))
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
fn held<T: Namespace>(live: &mut Option<Box<Live<T>>>) -> &mut Live<T> {
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
async fn park<T: Namespace>(slot: &Arc<Slot<T>>, live: &mut Live<T>) -> Unparked {
    let Live {
        cx,
        middlewares,
        pid,
        since,
        ..
    } = live;
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
async fn leave<T: Namespace>(live: Live<T>, reason: DisconnectReason, silent: bool) {
    let Live {
        mut value, mut cx, ..
    } = live;
    let (socket, ns, rt) = (cx.socket.clone(), cx.ns.clone(), cx.rt.clone());
    socket.set_connected(false);
    cx.kill_jobs_on_leave();
    if !silent {
        let _ = socket.conn.send_frame(simple_frame(
            &socket.conn,
            PacketType::Disconnect,
            socket.nsp(),
            None,
        ));
    }
    tracing::debug!(%reason, "disconnected");
    if AssertUnwindSafe(value.disconnect(&mut cx, reason))
        .catch_unwind()
        .await
        .is_err()
    {
        tracing::error!("recv_disconnect panicked");
    }
    cx.kill_local_jobs();
    if let Some(o) = ns.observer.get() {
        o.socket_disconnected(&ns, &socket, reason);
    }
    ns.remove(&socket.id);
    socket.clear_acks();
    socket.close_mailbox();
    drop(cx);
    forget(&socket, &ns, &rt);
}

/// Runs the socket's events until it is to leave: the reason, and whether the client is not
/// to be told.
async fn events<T: Namespace>(
    slot: &Slot<T>,
    live: &mut Option<Box<Live<T>>>,
    socket: &Socket,
) -> (DisconnectReason, bool) {
    loop {
        if let Some(leaving) = held(live).cx.leaving.take() {
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
async fn command<T: Namespace>(
    slot: &Slot<T>,
    live: &mut Option<Box<Live<T>>>,
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
    let Live { value, cx, .. } = held(live);
    match cmd {
        Cmd::Event(event) => on_event(value, cx, socket, event).await,
        Cmd::Call(call) => {
            let call = call.downcast::<AckCall<T>>().ok()?;
            cx.begin_event(None);
            if let Err(p) = std::panic::catch_unwind(AssertUnwindSafe(|| call(value, cx))) {
                tracing::error!(
                    panic = panic_message(&*p),
                    "ack callback panicked; disconnecting the socket"
                );
                cx.error("handler_error", "the handler failed");
                return Some((DisconnectReason::HandlerPanic, false));
            }
            settle(cx).await;
            None
        }
        Cmd::Disconnect(reason, silent) => Some((reason, silent)),
        Cmd::Resume(_) => unreachable!("taken above"),
    }
}

/// Runs one event's handler; `Some` when the socket is to leave (the handler panicked).
async fn on_event<T: Namespace>(
    value: &mut T,
    cx: &mut Context<T>,
    socket: &Socket,
    event: Event,
) -> Option<(DisconnectReason, bool)> {
    if let Some(o) = cx.ns.observer.get() {
        o.event_received(&cx.ns, socket, &event);
    }
    cx.begin_event(Some(&event));
    let name_for_log = tracing::enabled!(tracing::Level::TRACE).then(|| event.name().to_owned());
    let res = AssertUnwindSafe(value.process_packet(cx, event))
        .catch_unwind()
        .await;
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
async fn settle<T: Namespace>(cx: &mut Context<T>) {
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
pub(super) async fn connect<T: Namespace>(
    ns: &mut T,
    cx: &mut Context<T>,
    rt: &Runtime,
    middlewares: &[Arc<dyn Middleware>],
    skip_middlewares: bool,
) -> Result<(), ConnectError> {
    let connected = connect_hooks(ns, cx, rt, middlewares, skip_middlewares).await;
    if connected.is_err() {
        cx.leave_all();
    }
    connected
}

async fn connect_hooks<T: Namespace>(
    ns: &mut T,
    cx: &mut Context<T>,
    rt: &Runtime,
    middlewares: &[Arc<dyn Middleware>],
    skip_middlewares: bool,
) -> Result<(), ConnectError> {
    let handshake = cx.handshake();
    let middlewares = if skip_middlewares {
        &[][..]
    } else {
        middlewares
    };
    let global = if skip_middlewares {
        &[][..]
    } else {
        &rt.middlewares[..]
    };
    for m in global.iter().chain(middlewares) {
        match AssertUnwindSafe(m.call(handshake.clone()))
            .catch_unwind()
            .await
        {
            Ok(r) => r?,
            Err(_) => return Err(ConnectError::new("middleware failed")),
        }
    }
    if std::panic::catch_unwind(AssertUnwindSafe(|| ns.initialize(cx))).is_err() {
        return Err(ConnectError::new("initialize failed"));
    }
    let acl = match ns.get_initial_acl(&handshake) {
        Some(methods) => Acl::only(methods.iter().map(|m| m.index())),
        None => Acl::OPEN,
    };
    cx.set_initial_acl(acl);
    let auth = handshake.auth_raw().map(str::to_owned);
    match AssertUnwindSafe(ns.connect(cx, auth.as_deref()))
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
