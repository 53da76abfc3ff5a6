//! The per socket-namespace actor: one task owns the user's value and runs its handlers one
//! at a time, in arrival order.

use std::panic::AssertUnwindSafe;
use std::sync::Arc;

use futures_util::FutureExt;
use tracing::Instrument;

use super::acl::{Acl, MethodId};
use super::context::AckCall;
use super::instance::NamespaceInstance;
use super::recovery::{self, Parking, Resumed};
use super::registry::Runtime;
use super::{ConnectError, Context, Middleware, Namespace};
use crate::codec::socketio::packet::PacketType;
use crate::connection::{
    Cmd, Connection, DisconnectReason, Socket, connect_reply_frame, is_v2, refuse, simple_frame,
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
    tokio::spawn(
        async move {
            actor.await;
            drop(live);
        }
        .instrument(span),
    );
}

fn panic_message(p: &(dyn std::any::Any + Send)) -> &str {
    p.downcast_ref::<&str>()
        .copied()
        .or_else(|| p.downcast_ref::<String>().map(String::as_str))
        .unwrap_or("panic")
}

async fn run<T: Namespace>(
    mut value: T,
    socket: Arc<Socket>,
    ns: Arc<NamespaceInstance>,
    rt: Arc<Runtime>,
    middlewares: Vec<Arc<dyn Middleware>>,
    resumed: Option<Resumed>,
) {
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
    // The connect, event and disconnect futures are boxed: inline, the largest handler's
    // state machine would be part of every idle socket's task.
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
        return;
    }

    // Rooms recv_connect joined take effect before the CONNECT reply.
    Box::pin(cx.settle_joins()).await;
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
        Box::pin(async move {
            let _ = tokio::time::timeout(std::time::Duration::from_millis(100), conn.written_all())
                .await;
            tokio::time::sleep(std::time::Duration::from_millis(1)).await;
        })
        .await;
    }
    if let Some(o) = ns.observer.get() {
        o.socket_connected(&ns, &socket, cx.data.as_ref());
    }
    for packet in held {
        let _ = recovery::emit(&ns, &socket, packet);
    }
    tracing::debug!("connected");

    // Every await below but the events loop's is boxed, as the hooks above are: the task of an
    // idle socket is only as large as the state it waits in (the events loop).
    let mut socket = socket;
    let (reason, silent) = loop {
        let (reason, silent) = events(&mut value, &mut cx, &socket).await;
        let Some(pid) = pid
            .as_deref()
            .filter(|_| recovery::parks(&ns, pid.as_deref(), reason))
        else {
            break (reason, silent);
        };
        // Connection lost: the socket waits for its client with its value, ACL and jobs.
        match Box::pin(recovery::park(&mut cx, &rt, pid, since.clone())).await {
            Parking::Resumed(new) => {
                socket = new;
                cx.socket = socket.clone();
                cx.recovered = true;
                if let Err(e) = Box::pin(recovery::middlewares_allow(&cx, &rt, &middlewares)).await
                {
                    refuse(&socket.conn, socket.nsp(), &e.to_json());
                    break (DisconnectReason::ServerNamespaceDisconnect, true);
                }
                let reply = recovery::connect_reply(&socket.id, Some(pid));
                let _ =
                    socket
                        .conn
                        .send_frame(connect_reply_frame(&socket.conn, socket.nsp(), &reply));
                tracing::debug!("recovered");
            }
            Parking::Ended(rooms) => {
                // Back in its rooms while recv_disconnect runs, as any leaving socket.
                ns.adapter.add_all(&socket.id, &rooms);
                break (reason, silent);
            }
            Parking::Moved => {
                // The socket lives on in another process: this value just ends.
                cx.kill_local_jobs();
                drop(cx);
                forget(&socket, &ns, &rt);
                return;
            }
        }
    };

    // Leaving: jobs stop, the client is told, recv_disconnect runs while the socket is still
    // in its rooms, then the rooms are left.
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
    if Box::pin(AssertUnwindSafe(value.disconnect(&mut cx, reason)).catch_unwind())
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
    value: &mut T,
    cx: &mut Context<T>,
    socket: &Socket,
) -> (DisconnectReason, bool) {
    loop {
        if let Some(leaving) = cx.leaving.take() {
            return leaving;
        }
        match socket.next_command().await {
            Cmd::Event(event) => {
                if let Some(o) = cx.ns.observer.get() {
                    o.event_received(&cx.ns, socket, &event);
                }
                cx.begin_event(Some(&event));
                let name_for_log =
                    tracing::enabled!(tracing::Level::TRACE).then(|| event.name().to_owned());
                let res =
                    Box::pin(AssertUnwindSafe(value.process_packet(cx, event)).catch_unwind())
                        .await;
                if let Err(p) = res {
                    tracing::error!(event = ?name_for_log, panic = panic_message(&*p), "handler panicked; disconnecting the socket");
                    cx.error("handler_error", "the handler failed");
                    return (DisconnectReason::HandlerPanic, false);
                }
                // Rooms the handler joined take effect before its answer leaves.
                settle(cx).await;
                cx.begin_event(None);
            }
            Cmd::Call(call) => {
                let Ok(call) = call.downcast::<AckCall<T>>() else {
                    continue;
                };
                cx.begin_event(None);
                if let Err(p) = std::panic::catch_unwind(AssertUnwindSafe(|| call(value, cx))) {
                    tracing::error!(
                        panic = panic_message(&*p),
                        "ack callback panicked; disconnecting the socket"
                    );
                    cx.error("handler_error", "the handler failed");
                    return (DisconnectReason::HandlerPanic, false);
                }
                settle(cx).await;
            }
            Cmd::Disconnect(reason, silent) => return (reason, silent),
        }
    }
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
