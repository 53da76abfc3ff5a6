//! [`Context`]: what a handler works with.

use std::fmt;
use std::future::Future;
use std::marker::PhantomData;
use std::sync::Arc;
use std::time::Duration;

use tokio::task::AbortHandle;

use super::acl::{Acl, MethodId, UnknownMethod};
use super::instance::NamespaceInstance;
use super::registry::Runtime;
use super::{Emits, Handshake, JobHandle, Namespace, SocketRef};
use crate::adapter::{BoxFuture, BroadcastOperator, EmitError, EventOf, IntoRooms, Room};
use crate::codec::socketio::Args;
use crate::codec::socketio::encode::{self, Encoded};
use crate::connection::{AckError, AckResponse, DisconnectReason, Session, Socket};

/// An ack callback ([`Context::emit_with_ack_then`]) waiting in the socket's mailbox.
pub(crate) type AckCall<T> = Box<dyn FnOnce(&mut T, &mut Context<T>) + Send>;

/// The longest a handler's answer waits for its joins to take effect (the adapter's own bound
/// is normally shorter).
const SETTLE_LIMIT: Duration = Duration::from_secs(10);

/// A packet that waits for joins to take effect.
enum Deferred {
    Ack(Encoded),
    Event(Encoded),
}

/// What a handler works with: its socket, the ACL, jobs, rooms and emitting.
///
/// One per socket-namespace, owned by its actor and lent to each handler as `&mut`.
pub struct Context<T: Namespace> {
    pub(crate) core: Core,
    _ns: PhantomData<fn() -> T>,
}

/// The state of a [`Context`], and the work of its methods that does not depend on the
/// namespace's type: that work is compiled once, not once per namespace, and the actor runs
/// on it without knowing the type (`actor::Erased`).
pub(crate) struct Core {
    pub(crate) socket: Arc<Socket>,
    pub(crate) ns: Arc<NamespaceInstance>,
    pub(crate) rt: Arc<Runtime>,
    acl: Acl,
    initial_acl: Acl,
    jobs: Vec<AbortHandle>,
    ack: Option<u64>,
    /// The name of the event being handled, kept for the error hook when there is one.
    event: Option<Box<str>>,
    /// While `recv_connect` runs, packets wait here until the CONNECT reply is sent.
    held: Option<Vec<Encoded>>,
    /// Joins made by the current handler that the adapter has not yet made effective
    /// ([`crate::adapter::Adapter::joins_settled`]).
    /// (In a mutex only to keep the context `Sync`: it is only reached through `&mut self`.)
    settle: std::sync::Mutex<Option<crate::adapter::BoxFuture<'static, ()>>>,
    /// The ack answered while `settle` was pending, and what was emitted after it, in order:
    /// sent once the joins took effect.
    deferred: Vec<Deferred>,
    pub(crate) leaving: Option<(DisconnectReason, bool)>,
    /// The socket came back through connection state recovery.
    pub(crate) recovered: bool,
    /// `socket.data`: JSON that travels with the socket's session.
    pub(crate) data: Option<serde_json::Value>,
    /// The index of the current event's `method_of` (`Some(None)`: no method), from
    /// `default_call_method_with_acl` to `default_call_method`.
    resolved: Option<Option<usize>>,
}

impl<T: Namespace> fmt::Debug for Context<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Context")
            .field("id", &self.core.socket.id)
            .field("namespace", &self.core.socket.nsp())
            .field("acl", &self.core.acl)
            .field("jobs", &self.core.jobs.len())
            .finish()
    }
}

impl<T: Namespace> Context<T> {
    pub(crate) fn new(socket: Arc<Socket>, ns: Arc<NamespaceInstance>, rt: Arc<Runtime>) -> Self {
        Context {
            core: Core::new(socket, ns, rt),
            _ns: PhantomData,
        }
    }

    pub(crate) fn set_resolved(&mut self, method: Option<T::Method>) {
        self.core.resolved = Some(method.map(MethodId::index));
    }

    pub(crate) fn take_resolved(&mut self) -> Option<Option<T::Method>> {
        let index = self.core.resolved.take()?;
        Some(index.and_then(T::Method::from_index))
    }

    /// The Socket.IO id of this socket (not the Engine.IO session id).
    pub fn id(&self) -> &str {
        &self.core.socket.id
    }

    /// Whether the socket's connection was lost and its client came back in time
    /// ([`crate::Builder::connection_state_recovery`]): same id, rooms, value and ACL, the
    /// events it missed delivered. `false` for a socket that connected afresh.
    pub fn recovered(&self) -> bool {
        self.core.recovered
    }

    /// The socket's data: JSON the application attaches to the socket with
    /// [`Context::set_data`] (what `socket.data` is in the JavaScript server). It is kept with
    /// the socket's session for connection state recovery, so an adapter that shares sessions
    /// between processes restores it on the process the client comes back to, ours or a Node
    /// one. `None` until set (or restored).
    pub fn data(&self) -> Option<&serde_json::Value> {
        self.core.data.as_ref()
    }

    /// Replaces the socket's data ([`Context::data`]).
    pub fn set_data(&mut self, data: serde_json::Value) {
        self.core.set_data(data);
    }

    /// The namespace path.
    pub fn namespace(&self) -> &str {
        self.core.socket.nsp()
    }

    /// A parameter of a dynamic namespace (`id` in `/game/{id}`).
    pub fn param(&self, name: &str) -> Option<&str> {
        self.core.ns.param(name)
    }

    /// The handshake: headers, query, auth payload, remote address.
    pub fn handshake(&self) -> Handshake {
        self.core.handshake()
    }

    /// Data shared by every namespace of this connection.
    pub fn session(&self) -> &Session {
        &self.core.socket.conn.data().session
    }

    /// Application state of type `S` given to the builder ([`crate::Builder::state`]).
    ///
    /// # Panics
    /// When the builder was given no state of that type: a mistake in the program, not in
    /// the client's input (the handler then fails with `handler_error` and its socket is
    /// disconnected). [`Context::try_state`] returns an `Option` instead.
    pub fn state<S: Send + Sync + 'static>(&self) -> &S {
        self.try_state::<S>().unwrap_or_else(|| {
            panic!(
                "no application state of type `{}`: give it with `Server::builder().state(..)`",
                std::any::type_name::<S>()
            )
        })
    }

    /// Application state of type `S` given to the builder, if it was.
    pub fn try_state<S: Send + Sync + 'static>(&self) -> Option<&S> {
        self.core.rt.state.get::<S>()
    }

    /// A handle on this socket for jobs and other sockets: emit, report errors, join and
    /// leave rooms, the session, disconnect.
    pub fn socket(&self) -> SocketRef {
        let c = &self.core;
        SocketRef::new(c.socket.clone(), c.ns.clone(), c.rt.clone())
    }

    /// Emits `event` to this client. A tuple gives several arguments, `()` none.
    ///
    /// An emit that fails (arguments that do not serialize, a client gone or too far behind)
    /// is logged with `tracing`, as there is nothing a handler could do about it; use
    /// [`Context::try_emit`] to see the error.
    ///
    /// `event` is a string unless the namespace declares its events (`emits = ...`, see
    /// [`events!`](crate::events)): then it is the event's marker type, and `args` its
    /// declared payload type.
    #[inline]
    pub fn emit<E: EventOf<Emits<T>, A>, A: Args>(&mut self, event: E, args: A) {
        // The work is in functions that do not depend on the event's type: one copy per
        // payload type, not one per declared event.
        self.core.emit_named(event.event_name(), args);
    }

    /// [`Context::emit`], returning its error.
    pub fn try_emit<E: EventOf<Emits<T>, A>, A: Args>(
        &mut self,
        event: E,
        args: A,
    ) -> Result<(), EmitError> {
        self.core.try_emit_named(event.event_name(), args)
    }

    /// Emits `event` and waits for the client's ack, up to the server's ack timeout.
    pub fn emit_with_ack<E: EventOf<Emits<T>, A>, A: Args>(
        &self,
        event: E,
        args: A,
    ) -> BoxFuture<'static, Result<AckResponse, AckError>> {
        self.emit_with_ack_timeout(event, args, self.core.rt.config.ack_timeout)
    }

    /// Emits `event` and waits for the client's ack, up to `timeout`.
    pub fn emit_with_ack_timeout<E: EventOf<Emits<T>, A>, A: Args>(
        &self,
        event: E,
        args: A,
        timeout: Duration,
    ) -> BoxFuture<'static, Result<AckResponse, AckError>> {
        self.core
            .emit_with_ack_named(event.event_name(), args, timeout)
    }

    /// Emits `event` and, when the client answers (or the server's ack timeout passes), runs
    /// `then` on this socket's value: gevent-socketio's `emit(..., callback=self.method)`.
    ///
    /// The handler that calls it does not wait: the socket's other events go on, and `then`
    /// runs later on the socket's actor, in order with them, with `&mut self` and this
    /// context, as a handler does. It is not run once the socket has left the namespace (its
    /// jobs are gone then too). A method of the namespace's `impl` block names it well (not
    /// `on_*` or `recv_*`, which are event handlers):
    ///
    /// ```
    /// use socketio_ns::{AckError, AckResponse, Context, namespace};
    ///
    /// #[derive(Default)]
    /// struct Quiz {
    ///     score: u32,
    /// }
    ///
    /// #[namespace("/quiz")]
    /// impl Quiz {
    ///     fn on_start(&mut self, cx: &mut Context<Self>) {
    ///         cx.emit_with_ack_then("question", "2 + 2?", Self::answered);
    ///     }
    ///
    ///     // Runs with the client's answer, in order with the socket's events.
    ///     fn answered(&mut self, cx: &mut Context<Self>, answer: Result<AckResponse, AckError>) {
    ///         match answer.map(|a| a.arg::<u32>(0)) {
    ///             Ok(Ok(4)) => {
    ///                 self.score += 1;
    ///                 cx.emit("score", self.score);
    ///             }
    ///             Ok(_) => cx.emit("wrong", ()),
    ///             Err(e) => cx.error_quiet("no_answer", e.to_string()),
    ///         }
    ///     }
    /// }
    /// ```
    ///
    /// For asynchronous work with the answer, spawn a job from `then`
    /// ([`Context::spawn`]); to wait for the answer inside a handler instead, holding the
    /// socket's other events meanwhile, await [`Context::emit_with_ack`].
    pub fn emit_with_ack_then<E, A, F>(&mut self, event: E, args: A, then: F)
    where
        E: EventOf<Emits<T>, A>,
        A: Args,
        F: FnOnce(&mut T, &mut Context<T>, Result<AckResponse, AckError>) + Send + 'static,
    {
        let timeout = self.core.rt.config.ack_timeout;
        self.emit_with_ack_timeout_then(event, args, timeout, then);
    }

    /// [`Context::emit_with_ack_then`] with its own `timeout`.
    pub fn emit_with_ack_timeout_then<E, A, F>(
        &mut self,
        event: E,
        args: A,
        timeout: Duration,
        then: F,
    ) where
        E: EventOf<Emits<T>, A>,
        A: Args,
        F: FnOnce(&mut T, &mut Context<T>, Result<AckResponse, AckError>) + Send + 'static,
    {
        let answer = self
            .core
            .emit_with_ack_named(event.event_name(), args, timeout);
        let socket = self.core.socket.clone();
        tokio::spawn(async move {
            let answer = answer.await;
            let call: AckCall<T> = Box::new(move |value, cx| then(value, cx, answer));
            socket.push_call(Box::new(call));
        });
    }

    /// Emits the `message` event (gevent's `send`); errors are logged, as with
    /// [`Context::emit`].
    pub fn send<A: Args>(&mut self, message: A) {
        self.core.emit_named("message", message);
    }

    /// Whether the event being handled asked for an ack that is not answered yet.
    pub fn wants_ack(&self) -> bool {
        self.core.ack.is_some()
    }

    /// Answers the current event's ack, if it asked for one and it is not answered yet.
    /// Returns whether an answer was sent.
    pub fn ack<A: Args>(&mut self, args: A) -> Result<bool, EmitError> {
        self.core.ack(args)
    }

    /// Reports an error to the client: as the answer of the current event's ack
    /// (`{"error":name,"message":message}`) when it asked for one, otherwise as the `error`
    /// event with arguments `[name, message]`. The error is also logged and shown to the
    /// server's error hook ([`crate::Builder::on_error`]).
    pub fn error(&mut self, name: impl AsRef<str>, message: impl AsRef<str>) {
        self.core.error(name.as_ref(), message.as_ref());
    }

    /// The quiet form of [`Context::error`] (gevent-socketio's `error(..., quiet=True)`):
    /// the error is logged (a `tracing` warning) and shown to the server's error hook, but
    /// nothing is sent to the client (the current event's ack is not answered by it).
    pub fn error_quiet(&mut self, name: impl AsRef<str>, message: impl AsRef<str>) {
        self.core.report(name.as_ref(), message.as_ref(), false);
    }

    /// Disconnects this socket from the namespace once the current handler returns: the
    /// client receives DISCONNECT, jobs are killed, `recv_disconnect` runs.
    pub fn disconnect(&mut self) {
        self.core.leaving = Some((DisconnectReason::ServerNamespaceDisconnect, false));
    }

    /// Like [`Context::disconnect`], without telling the client.
    pub fn disconnect_silently(&mut self) {
        self.core.leaving = Some((DisconnectReason::ServerNamespaceDisconnect, true));
    }

    /// The same connection's socket in namespace `path`, gevent-socketio's
    /// `self.socket['/other']`: `None` unless the client joined it and is still there. The
    /// handle emits, reports errors, joins and leaves rooms there; that namespace's handlers
    /// and ACL stay with its own actor.
    pub fn socket_in(&self, path: &str) -> Option<SocketRef> {
        super::socket_ref::socket_in(&self.core.socket, &self.core.rt, path)
    }

    /// Closes the whole connection, every namespace of this client, in one call (gevent's
    /// `self.socket.disconnect()`): the transport is closed at once, and each namespace's
    /// socket leaves after its current handler, its jobs aborted, `recv_disconnect` run with
    /// [`DisconnectReason::ServerNamespaceDisconnect`]. To leave this namespace only, use
    /// [`Context::disconnect`].
    pub fn close_connection(&mut self) {
        self.core.socket.close_connection();
    }

    /// Runs `job` as a task tied to this socket-namespace: aborted by
    /// [`Context::kill_local_jobs`] and when the socket leaves the namespace (before
    /// `recv_disconnect` runs), or alone through the returned [`JobHandle`]. A job reaches its
    /// socket through a [`SocketRef`]:
    ///
    /// ```no_run
    /// # use socketio_ns::Context;
    /// # fn f<T: socketio_ns::Namespace>(cx: &mut Context<T>) {
    /// let socket = cx.socket();
    /// let ticker = cx.spawn(async move {
    ///     loop {
    ///         tokio::time::sleep(std::time::Duration::from_secs(1)).await;
    ///         socket.emit("tick", ());
    ///     }
    /// });
    /// // later, in another handler that kept it: ticker.abort();
    /// # drop(ticker);
    /// # }
    /// ```
    pub fn spawn<F>(&mut self, job: F) -> JobHandle
    where
        F: Future<Output = ()> + Send + 'static,
    {
        self.core.add_job(tokio::spawn(job).abort_handle())
    }

    /// Aborts every job started with [`Context::spawn`].
    pub fn kill_local_jobs(&mut self) {
        self.core.kill_local_jobs();
    }

    /// How many spawned jobs are still running.
    pub fn running_jobs(&mut self) -> usize {
        self.core.running_jobs()
    }

    // ----- ACL -----

    /// Allows a method.
    pub fn add_acl_method(&mut self, method: T::Method) {
        self.core.acl.add(method.index());
    }

    /// Forbids a method.
    pub fn del_acl_method(&mut self, method: T::Method) {
        self.core.acl.remove(method.index(), T::METHODS.len());
    }

    /// Allows every method.
    pub fn lift_acl_restrictions(&mut self) {
        self.core.acl = Acl::OPEN;
    }

    /// Returns to the initial ACL.
    pub fn reset_acl(&mut self) {
        self.core.acl = self.core.initial_acl;
    }

    /// Whether a method may run now.
    pub fn is_method_allowed(&self, method: T::Method) -> bool {
        self.core.acl.allows(method.index())
    }

    /// The current ACL.
    pub fn acl(&self) -> Acl {
        self.core.acl
    }

    fn method_by_name(name: &str) -> Result<T::Method, UnknownMethod> {
        T::METHODS
            .iter()
            .position(|m| *m == name)
            .and_then(T::Method::from_index)
            .ok_or_else(|| UnknownMethod(name.to_owned()))
    }

    /// [`Context::add_acl_method`] by method name (`"on_login"`).
    pub fn add_acl_method_by_name(&mut self, name: &str) -> Result<(), UnknownMethod> {
        let m = Self::method_by_name(name)?;
        self.add_acl_method(m);
        Ok(())
    }

    /// [`Context::del_acl_method`] by method name.
    pub fn del_acl_method_by_name(&mut self, name: &str) -> Result<(), UnknownMethod> {
        let m = Self::method_by_name(name)?;
        self.del_acl_method(m);
        Ok(())
    }

    /// [`Context::is_method_allowed`] by method name.
    pub fn is_method_allowed_by_name(&self, name: &str) -> Result<bool, UnknownMethod> {
        Ok(self.is_method_allowed(Self::method_by_name(name)?))
    }

    // ----- rooms -----

    /// Joins one or several rooms. Every socket is also in the room named by its id; the rooms
    /// are left when the socket leaves the namespace, after `recv_disconnect` has run.
    pub fn join(&mut self, rooms: impl IntoRooms) {
        self.core.join(rooms.into_rooms());
    }

    /// Leaves one or several rooms.
    pub fn leave(&mut self, rooms: impl IntoRooms) {
        let c = &self.core;
        c.ns.leave(&c.socket.id, rooms.into_rooms());
    }

    /// Leaves every room (but its own id room).
    pub fn leave_all(&mut self) {
        self.core.leave_all();
    }

    /// The rooms this socket is in, its own id room first.
    pub fn rooms(&self) -> Vec<Room> {
        self.core.ns.rooms(&self.core.socket.id)
    }

    /// The rooms this socket joined: [`Context::rooms`] without its own id room (what
    /// gevent-socketio kept in `session['rooms']`).
    pub fn joined_rooms(&self) -> Vec<Room> {
        let mut rooms = self.rooms();
        rooms.remove(0);
        rooms
    }

    // ----- broadcasting -----
    //
    // Every operator started here excludes this socket, as `socket.to(..)`,
    // `socket.broadcast` and `socket.except(..)` do in the JavaScript server.

    fn operator(&self) -> BroadcastOperator<Emits<T>> {
        let c = &self.core;
        c.ns.operator_from(&c.socket, c.rt.config.ack_timeout)
            .declared()
    }

    /// Every other socket in these rooms: `cx.to("lobby").emit("msg", text).await`.
    pub fn to(&self, rooms: impl IntoRooms) -> BroadcastOperator<Emits<T>> {
        self.operator().to(rooms)
    }

    /// Same as [`Context::to`].
    pub fn within(&self, rooms: impl IntoRooms) -> BroadcastOperator<Emits<T>> {
        self.operator().to(rooms)
    }

    /// Every other socket of the namespace, minus those in these rooms.
    pub fn except(&self, rooms: impl IntoRooms) -> BroadcastOperator<Emits<T>> {
        self.operator().except(rooms)
    }

    /// Every other socket of the namespace.
    pub fn broadcast(&self) -> BroadcastOperator<Emits<T>> {
        self.operator()
    }

    /// Every socket of the namespace, this one included (chain `.to(..)`, `.except(..)`, ...
    /// as on any operator).
    pub fn everyone(&self) -> BroadcastOperator<Emits<T>> {
        self.core
            .ns
            .operator(self.core.rt.config.ack_timeout)
            .declared()
    }

    /// Emits `event` to every socket of the namespace, this one included: gevent-socketio's
    /// `BroadcastMixin.broadcast_event`. Sent at once; see [`crate::Broadcast`].
    pub fn broadcast_event<E: EventOf<Emits<T>, A>, A: Args>(
        &self,
        event: E,
        args: A,
    ) -> crate::Broadcast {
        self.everyone().emit(event, args)
    }

    /// Every other socket of the namespace on this process only (with a multi-process adapter);
    /// same as `cx.broadcast().local()`.
    pub fn local(&self) -> BroadcastOperator<Emits<T>> {
        self.operator().local()
    }

    /// Every other socket of the namespace, dropping the packet for those whose transport is
    /// not writable; same as `cx.broadcast().volatile()`. (This is a broadcast: to emit to this
    /// socket only, use [`Context::emit`].)
    pub fn volatile(&self) -> BroadcastOperator<Emits<T>> {
        self.operator().volatile()
    }

    /// Every other socket of the namespace, with this ack timeout for
    /// [`BroadcastOperator::emit_with_ack`]; same as `cx.broadcast().timeout(t)`. (For this
    /// socket only, use [`Context::emit_with_ack_timeout`].)
    pub fn timeout(&self, timeout: Duration) -> BroadcastOperator<Emits<T>> {
        self.operator().timeout(timeout)
    }
}

impl Core {
    fn new(socket: Arc<Socket>, ns: Arc<NamespaceInstance>, rt: Arc<Runtime>) -> Self {
        Core {
            socket,
            ns,
            rt,
            acl: Acl::OPEN,
            initial_acl: Acl::OPEN,
            jobs: Vec::new(),
            ack: None,
            event: None,
            held: Some(Vec::new()),
            settle: std::sync::Mutex::new(None),
            deferred: Vec::new(),
            leaving: None,
            recovered: false,
            data: None,
            resolved: None,
        }
    }

    pub(crate) fn set_initial_acl(&mut self, acl: Acl) {
        self.initial_acl = acl;
        self.acl = acl;
    }

    /// Whether [`Core::settle_joins`] has anything to wait for or send.
    pub(crate) fn has_pending_joins(&mut self) -> bool {
        let settle = self.settle.get_mut().unwrap_or_else(|x| x.into_inner());
        settle.is_some() || !self.deferred.is_empty()
    }

    /// Waits until the joins of the handler that just ran took effect in the adapter (bounded),
    /// then sends the ack and the emits that waited for them.
    pub(crate) async fn settle_joins(&mut self) {
        let settle = self.settle.get_mut().unwrap_or_else(|x| x.into_inner());
        if let Some(settled) = settle.take() {
            let _ = tokio::time::timeout(SETTLE_LIMIT, settled).await;
        }
        for d in std::mem::take(&mut self.deferred) {
            let sent = match d {
                Deferred::Ack(packet) => self.socket.send(&packet).map_err(EmitError::from),
                Deferred::Event(packet) => super::recovery::emit(&self.ns, &self.socket, packet),
            };
            if let Err(e) = sent {
                tracing::debug!(error = %e, "deferred packet not sent");
            }
        }
    }

    /// Ends the connect phase: what was held is returned to be sent after the CONNECT reply.
    pub(crate) fn release_held(&mut self) -> Vec<Encoded> {
        self.held.take().unwrap_or_default()
    }

    /// Starts handling `event` (`None`: done with it).
    pub(crate) fn begin_event(&mut self, event: Option<&crate::codec::socketio::Event>) {
        self.ack = event.and_then(|e| e.ack_id());
        self.event = event
            .filter(|_| self.rt.on_error.is_some())
            .map(|e| e.name().into());
        self.resolved = None;
    }

    pub(crate) fn handshake(&self) -> Handshake {
        Handshake::new(&self.socket, &self.ns)
    }

    pub(crate) fn set_data(&mut self, data: serde_json::Value) {
        if let Some(o) = self.ns.observer.get() {
            o.data_changed(&self.ns, &self.socket, &data);
        }
        self.data = Some(data);
    }

    fn queue(&mut self, packet: Encoded) -> Result<(), EmitError> {
        match &mut self.held {
            Some(held) => {
                held.push(packet);
                Ok(())
            }
            None => Ok(self.socket.send(&packet)?),
        }
    }

    fn emit_named<A: Args>(&mut self, event: &str, args: A) {
        if let Err(e) = self.try_emit_named(event, args) {
            tracing::debug!(event, error = %e, "emit failed");
        }
    }

    fn try_emit_named<A: Args>(&mut self, event: &str, args: A) -> Result<(), EmitError> {
        let packet = encode::event(self.socket.nsp(), event, &args, None)
            .map_err(|e| EmitError::Serialize(e.to_string()))?;
        self.emit_packet(packet)
    }

    fn emit_packet(&mut self, packet: Encoded) -> Result<(), EmitError> {
        if self.held.is_some() {
            return self.queue(packet);
        }
        if !self.deferred.is_empty() {
            // After a deferred ack: keep the order.
            self.deferred.push(Deferred::Event(packet));
            return Ok(());
        }
        super::recovery::emit(&self.ns, &self.socket, packet)
    }

    fn emit_with_ack_named<A: Args>(
        &self,
        event: &str,
        args: A,
        timeout: Duration,
    ) -> BoxFuture<'static, Result<AckResponse, AckError>> {
        Box::pin(super::socket_ref::emit_with_ack(
            &self.socket,
            event,
            args,
            timeout,
        ))
    }

    fn ack<A: Args>(&mut self, args: A) -> Result<bool, EmitError> {
        let Some(id) = self.ack.take() else {
            return Ok(false);
        };
        let packet = encode::ack(self.socket.nsp(), id, &args)
            .map_err(|e| EmitError::Serialize(e.to_string()))?;
        self.ack_packet(packet)?;
        Ok(true)
    }

    fn ack_packet(&mut self, packet: Encoded) -> Result<(), EmitError> {
        let settling = self
            .settle
            .get_mut()
            .unwrap_or_else(|x| x.into_inner())
            .is_some();
        if settling && self.held.is_none() {
            // Joined rooms not yet in effect: the answer waits for them (settle_joins).
            self.deferred.push(Deferred::Ack(packet));
            return Ok(());
        }
        self.queue(packet)
    }

    /// [`Context::error`].
    pub(crate) fn error(&mut self, name: &str, message: &str) {
        self.report(name, message, true);
        let res = if self.ack.is_some() {
            #[derive(serde::Serialize)]
            struct Wire<'a> {
                error: &'a str,
                message: &'a str,
            }
            self.ack(Wire {
                error: name,
                message,
            })
            .map(drop)
        } else {
            self.try_emit_named("error", (name, message))
        };
        if let Err(e) = res {
            tracing::debug!(error = %e, "could not send an error to the client");
        }
    }

    fn report(&self, name: &str, message: &str, sent: bool) {
        super::report::report(
            &self.rt,
            &self.socket,
            self.event.as_deref(),
            name,
            message,
            sent,
        );
    }

    fn add_job(&mut self, handle: AbortHandle) -> JobHandle {
        self.jobs.retain(|j| !j.is_finished());
        self.jobs.push(handle.clone());
        JobHandle::new(handle)
    }

    pub(crate) fn kill_local_jobs(&mut self) {
        for j in self.jobs.drain(..) {
            j.abort();
        }
    }

    fn running_jobs(&mut self) -> usize {
        self.jobs.retain(|j| !j.is_finished());
        self.jobs.len()
    }

    fn join(&mut self, rooms: Vec<Room>) {
        self.ns
            .join(&self.socket.id, rooms, self.rt.config.max_rooms_per_socket);
        if let Some(settled) = self.ns.adapter.joins_settled() {
            *self.settle.get_mut().unwrap_or_else(|x| x.into_inner()) = Some(settled);
        }
    }

    pub(crate) fn leave_all(&mut self) {
        self.ns.leave_all(&self.socket.id);
    }
}
