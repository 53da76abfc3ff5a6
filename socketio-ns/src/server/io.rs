//! [`Io`]: the server handle.

use std::fmt;
use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use crate::adapter::{
    AdapterError, BroadcastAcks, BroadcastOperator, EmitError, IntoRooms, SocketInfo,
};
use crate::codec::socketio::Args;
use crate::namespace::registry::Runtime;
use crate::namespace::{Context, Emits, Namespace, SocketRef};

/// The server handle: emit to namespaces and rooms, query and move sockets, shut down. Cheap to
/// clone, usable from any task. Given by [`crate::Server::io`] and [`crate::Context::io`].
///
/// The shortcuts (`to`, `emit`, `fetch_sockets`, ...) act on the namespace `/`; [`Io::of`]
/// selects another. Operators started here exclude nobody.
///
/// ```no_run
/// # async fn f(io: socketio_ns::Io) -> Result<(), Box<dyn std::error::Error>> {
/// io.to("lobby").except("muted").emit("news", "hello").await?;
/// if let Some(game) = io.of("/game/42") {
///     let players = game.clone().fetch_sockets().await?;
///     game.emit("players", players.len()).await?;
/// }
/// # Ok(()) }
/// ```
#[derive(Clone)]
pub struct Io {
    rt: Arc<Runtime>,
}

impl fmt::Debug for Io {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Io").field("runtime", &self.rt).finish()
    }
}

impl Io {
    pub(crate) fn new(rt: Arc<Runtime>) -> Self {
        Io { rt }
    }

    /// Every socket of a namespace: a registered path, or a path matching a registered pattern
    /// (`/game/42` for `/game/{id}`; its instance is created if no client joined it yet).
    /// `None` when nothing registered matches.
    pub fn of(&self, path: &str) -> Option<BroadcastOperator> {
        let (_, ns) = self.rt.resolve(path)?;
        Some(ns.operator(self.rt.config.ack_timeout))
    }

    /// Every socket of the namespace `T`, sending `T`'s declared events (see
    /// [`events!`](crate::events)): `io.namespace::<Chat>().to("lobby").emit(Said, line)`.
    /// [`Io::of`] takes a path and sends any event, as it cannot know which type serves it.
    ///
    /// # Panics
    ///
    /// When `T` is not registered on this server.
    pub fn namespace<T: Namespace>(&self) -> BroadcastOperator<Emits<T>> {
        match self.rt.resolve(T::PATH) {
            Some((_, ns)) => ns.operator(self.rt.config.ack_timeout).declared(),
            None => panic!("namespace {} is not registered on this server", T::PATH),
        }
    }

    /// The paths of the live namespaces (static ones and instances of dynamic ones).
    pub fn namespaces(&self) -> Vec<String> {
        self.rt
            .instances()
            .iter()
            .map(|ns| ns.path.to_string())
            .collect()
    }

    /// Every socket of `/` (none when `/` is not registered).
    fn root(&self) -> BroadcastOperator {
        self.rt.root().operator(self.rt.config.ack_timeout)
    }

    /// The sockets of `/` in these rooms.
    pub fn to(&self, rooms: impl IntoRooms) -> BroadcastOperator {
        self.root().to(rooms)
    }

    /// Same as [`Io::to`].
    pub fn within(&self, rooms: impl IntoRooms) -> BroadcastOperator {
        self.root().to(rooms)
    }

    /// The sockets of `/` minus those in these rooms.
    pub fn except(&self, rooms: impl IntoRooms) -> BroadcastOperator {
        self.root().except(rooms)
    }

    /// The sockets of `/` on this process only (with a multi-process adapter).
    pub fn local(&self) -> BroadcastOperator {
        self.root().local()
    }

    /// The sockets of `/`, dropping the packet for those whose transport is not writable.
    pub fn volatile(&self) -> BroadcastOperator {
        self.root().volatile()
    }

    /// The sockets of `/`, with this ack timeout for [`BroadcastOperator::emit_with_ack`].
    pub fn timeout(&self, timeout: Duration) -> BroadcastOperator {
        self.root().timeout(timeout)
    }

    /// Emits to every socket of `/`.
    pub fn emit<A: Args>(
        &self,
        event: &str,
        args: A,
    ) -> impl Future<Output = Result<(), EmitError>> + Send + 'static + use<A> {
        self.root().emit(event, args)
    }

    /// Emits to every socket of `/` and gathers their acks.
    pub fn emit_with_ack<A: Args>(
        &self,
        event: &str,
        args: A,
    ) -> impl Future<Output = Result<BroadcastAcks, EmitError>> + Send + 'static + use<A> {
        self.root().emit_with_ack(event.to_owned(), args)
    }

    /// Every socket of `/`, as plain data.
    pub fn fetch_sockets(
        &self,
    ) -> impl Future<Output = Result<Vec<SocketInfo>, AdapterError>> + Send + 'static {
        self.root().fetch_sockets()
    }

    /// Makes every socket of `/` join `rooms`.
    pub fn sockets_join(
        &self,
        rooms: impl IntoRooms,
    ) -> impl Future<Output = Result<(), AdapterError>> + Send + 'static {
        self.root().sockets_join(rooms)
    }

    /// Makes every socket of `/` leave `rooms`.
    pub fn sockets_leave(
        &self,
        rooms: impl IntoRooms,
    ) -> impl Future<Output = Result<(), AdapterError>> + Send + 'static {
        self.root().sockets_leave(rooms)
    }

    /// Disconnects every socket of `/` (see [`BroadcastOperator::disconnect_sockets`]).
    pub fn disconnect_sockets(
        &self,
        close: bool,
    ) -> impl Future<Output = Result<(), AdapterError>> + Send + 'static {
        self.root().disconnect_sockets(close)
    }

    /// Sends `event` to the other server processes on `/` (see
    /// [`BroadcastOperator::server_side_emit`]); [`Io::of`] reaches other namespaces.
    pub fn server_side_emit<A: Args>(
        &self,
        event: &str,
        args: A,
    ) -> impl Future<Output = Result<(), EmitError>> + Send + 'static + use<A> {
        self.root().server_side_emit(event, args)
    }

    /// Sends `event` to the other server processes on `/` and gathers one answer from each
    /// (see [`BroadcastOperator::server_side_emit_with_ack`]).
    pub fn server_side_emit_with_ack<A: Args>(
        &self,
        event: &str,
        args: A,
    ) -> impl Future<Output = Result<Vec<serde_json::Value>, EmitError>> + Send + 'static + use<A>
    {
        self.root().server_side_emit_with_ack(event, args)
    }

    /// Every room of `/` on every process, socket id rooms included.
    pub fn all_rooms(
        &self,
    ) -> impl Future<Output = Result<Vec<crate::adapter::Room>, AdapterError>> + Send + 'static
    {
        self.root().all_rooms()
    }

    /// How many sockets of a namespace on this process lost their connection and wait, with
    /// their namespace value, for their client to come back
    /// ([`crate::Builder::connection_state_recovery`]); 0 when recovery is off.
    pub fn recovering_sockets(&self, namespace: &str) -> usize {
        self.rt
            .instance(namespace)
            .map_or(0, |ns| crate::namespace::recovery::parked(&ns))
    }

    /// A handle on one local socket, by namespace and id.
    pub fn socket(&self, namespace: &str, id: &str) -> Option<SocketRef> {
        let ns = self.rt.instance(namespace)?;
        let socket = ns.get(id)?;
        Some(SocketRef::new(socket, ns, self.rt.clone()))
    }

    /// Shuts the server down gracefully: new namespace connections are refused; every socket
    /// leaves its namespace and its `recv_disconnect` runs with
    /// [`crate::DisconnectReason::ServerShutdown`] (after the handler it may be running); then
    /// every transport is closed (clients get a close packet), the adapters are closed, and
    /// the crate's serve loop stops accepting connections ([`crate::Server::serve`] returns `Ok`).
    /// The future completes after all of that. Calling it again waits for the same end.
    ///
    /// Do not await it inside a handler: it waits for every socket's actor, that handler's
    /// included. Spawn it (`tokio::spawn(cx.io().close())`) instead.
    pub fn close(&self) -> impl Future<Output = ()> + Send + 'static {
        let rt = self.rt.clone();
        async move { rt.close().await }
    }

    /// Shuts the server down gracefully, as [`Io::close`] does, once `signal` completes (for
    /// example [`crate::shutdown_signal`]); the future completes when the shutdown is done.
    /// Give it to [`crate::serve`] as its `shutdown`, so that the accept loop stops after the
    /// clients had their close:
    ///
    /// ```no_run
    /// # async fn f(app: axum::Router, io: socketio_ns::Io) -> std::io::Result<()> {
    /// let listener = tokio::net::TcpListener::bind("127.0.0.1:3000").await?;
    /// socketio_ns::serve(listener, app, io.close_after(socketio_ns::shutdown_signal())).await
    /// # }
    /// ```
    pub fn close_after(
        &self,
        signal: impl Future<Output = ()> + Send + 'static,
    ) -> impl Future<Output = ()> + Send + 'static {
        let close = self.close();
        async move {
            signal.await;
            close.await;
        }
    }
}

impl<T: Namespace> Context<T> {
    /// The server handle.
    pub fn io(&self) -> Io {
        Io::new(self.core.rt.clone())
    }
}
