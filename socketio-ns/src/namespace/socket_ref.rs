//! [`SocketRef`]: a handle on one socket, usable from any task.

use std::fmt;
use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use super::Handshake;
use super::instance::NamespaceInstance;
use super::registry::Runtime;
use crate::adapter::{BroadcastOperator, EmitError, IntoRooms, Room};
use crate::codec::socketio::Args;
use crate::codec::socketio::encode;
use crate::connection::{AckError, AckResponse, DisconnectReason, Session, Socket};

/// A handle on one connected socket: cheap to clone, usable from spawned jobs and other
/// sockets' handlers.
#[derive(Clone)]
pub struct SocketRef {
    socket: Arc<Socket>,
    ns: Arc<NamespaceInstance>,
    rt: Arc<Runtime>,
}

impl fmt::Debug for SocketRef {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SocketRef")
            .field("id", &self.socket.id)
            .field("ns", &self.socket.nsp())
            .finish()
    }
}

impl SocketRef {
    pub(crate) fn new(socket: Arc<Socket>, ns: Arc<NamespaceInstance>, rt: Arc<Runtime>) -> Self {
        SocketRef { socket, ns, rt }
    }

    /// The socket this handle stands for now: after a connection state recovery the client's
    /// socket (same id) lives on a new connection, and a handle taken before, by a job that
    /// kept running, follows it.
    fn current(&self) -> Arc<Socket> {
        if self.socket.is_connected() && !self.socket.conn.is_closed() {
            return self.socket.clone();
        }
        match self.ns.get(&self.socket.id) {
            Some(now) if !Arc::ptr_eq(&now, &self.socket) => now,
            _ => self.socket.clone(),
        }
    }

    /// The Socket.IO id.
    pub fn id(&self) -> &str {
        &self.socket.id
    }

    /// The namespace path.
    pub fn namespace(&self) -> &str {
        self.socket.nsp()
    }

    /// Whether the socket is still connected to its namespace.
    pub fn is_connected(&self) -> bool {
        let socket = self.current();
        socket.is_connected() && !socket.conn.is_closed()
    }

    /// Emits `event` to this client; a failure is logged (see [`crate::Context::emit`]). With
    /// connection state recovery, also while its connection is lost and it may come back: the
    /// event is then delivered on its return.
    pub fn emit<A: Args>(&self, event: &str, args: A) {
        if let Err(e) = self.try_emit(event, args) {
            tracing::debug!(event, error = %e, "emit failed");
        }
    }

    /// [`SocketRef::emit`], returning its error (a job can stop when its client is gone).
    pub fn try_emit<A: Args>(&self, event: &str, args: A) -> Result<(), EmitError> {
        let packet = encode::event(self.socket.nsp(), event, &args, None)
            .map_err(|e| EmitError::Serialize(e.to_string()))?;
        super::recovery::emit(&self.ns, &self.socket, packet)
    }

    /// Emits `event` and waits for the ack, up to the server's ack timeout.
    pub fn emit_with_ack<A: Args>(
        &self,
        event: &str,
        args: A,
    ) -> impl Future<Output = Result<AckResponse, AckError>> + Send + 'static + use<A> {
        self.emit_with_ack_timeout(event, args, self.rt.config.ack_timeout)
    }

    /// Emits `event` and waits for the ack, up to `timeout`.
    pub fn emit_with_ack_timeout<A: Args>(
        &self,
        event: &str,
        args: A,
        timeout: Duration,
    ) -> impl Future<Output = Result<AckResponse, AckError>> + Send + 'static + use<A> {
        emit_with_ack(&self.current(), event, args, timeout)
    }

    /// Reports an error to the client as the `error` event with arguments `[name, message]`
    /// (a job answers no ack), after logging it and showing it to the server's error hook
    /// ([`crate::Builder::on_error`]), as [`crate::Context::error`] does.
    pub fn error(&self, name: impl AsRef<str>, message: impl AsRef<str>) {
        let (name, message) = (name.as_ref(), message.as_ref());
        super::report::report(&self.rt, &self.current(), None, name, message, true);
        if let Err(e) = self.try_emit("error", (name, message)) {
            tracing::debug!(error = %e, "could not send an error to the client");
        }
    }

    /// The quiet form of [`SocketRef::error`]: logged and shown to the error hook, not sent.
    pub fn error_quiet(&self, name: impl AsRef<str>, message: impl AsRef<str>) {
        super::report::report(
            &self.rt,
            &self.current(),
            None,
            name.as_ref(),
            message.as_ref(),
            false,
        );
    }

    /// Data shared by every namespace of this socket's connection (see
    /// [`crate::Context::session`]).
    pub fn session(&self) -> &Session {
        &self.socket.conn.data().session
    }

    /// The handshake: headers, query, auth payload, remote address.
    pub fn handshake(&self) -> Handshake {
        Handshake::new(&self.current(), &self.ns)
    }

    /// Joins one or several rooms.
    pub fn join(&self, rooms: impl IntoRooms) {
        self.ns.join(
            &self.socket.id,
            rooms.into_rooms(),
            self.rt.config.max_rooms_per_socket,
        );
    }

    /// Leaves one or several rooms.
    pub fn leave(&self, rooms: impl IntoRooms) {
        self.ns.leave(&self.socket.id, rooms.into_rooms());
    }

    /// Leaves every room (but its own id room).
    pub fn leave_all(&self) {
        self.ns.leave_all(&self.socket.id);
    }

    /// The rooms this socket is in, its own id room first.
    pub fn rooms(&self) -> Vec<Room> {
        self.ns.rooms(&self.socket.id)
    }

    /// A broadcast from this socket: every socket of its namespace but itself.
    pub fn broadcast(&self) -> BroadcastOperator {
        self.ns
            .operator_from(&self.socket, self.rt.config.ack_timeout)
    }

    /// The other sockets in these rooms (see [`crate::Context::to`]).
    pub fn to(&self, rooms: impl IntoRooms) -> BroadcastOperator {
        self.broadcast().to(rooms)
    }

    /// Disconnects the socket from its namespace (after its current handler, if any).
    pub fn disconnect(&self) {
        self.current()
            .disconnect(DisconnectReason::ServerNamespaceDisconnect, false);
    }

    /// The same connection's socket in namespace `path` (gevent-socketio's
    /// `self.socket['/other']`), if the client joined it and is still there; see
    /// [`crate::Context::socket_in`].
    pub fn socket_in(&self, path: &str) -> Option<SocketRef> {
        socket_in(&self.current(), &self.rt, path)
    }

    /// Closes the whole connection: every namespace of this client (see
    /// [`crate::Context::close_connection`]).
    pub fn close_connection(&self) {
        self.current().close_connection();
    }
}

/// The socket of `socket`'s connection in namespace `path`, if it is connected there.
pub(super) fn socket_in(socket: &Socket, rt: &Arc<Runtime>, path: &str) -> Option<SocketRef> {
    let other = socket.conn.data().socket(path)?;
    if !other.is_connected() {
        return None;
    }
    let ns = rt.instance(other.nsp())?;
    Some(SocketRef::new(other, ns, rt.clone()))
}

/// Emits `event` to `socket` with a fresh ack id and waits for the answer, up to `timeout`.
pub(super) fn emit_with_ack<A: Args>(
    socket: &Arc<Socket>,
    event: &str,
    args: A,
    timeout: Duration,
) -> impl Future<Output = Result<AckResponse, AckError>> + Send + 'static + use<A> {
    let socket = socket.clone();
    let (id, rx) = socket.register_ack();
    let packet = encode::event(socket.nsp(), event, &args, Some(id));
    async move {
        let packet = match packet {
            Ok(p) => p,
            Err(_) => {
                socket.forget_ack(id);
                return Err(AckError::Serialize);
            }
        };
        if let Err(e) = socket.send(&packet) {
            socket.forget_ack(id);
            return Err(AckError::Send(e));
        }
        match tokio::time::timeout(timeout, rx).await {
            Ok(Ok(r)) => Ok(r),
            Ok(Err(_)) => Err(AckError::Disconnected),
            Err(_) => {
                socket.forget_ack(id);
                Err(AckError::Timeout)
            }
        }
    }
}
