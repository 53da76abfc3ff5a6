//! The Socket.IO server: builder, serving, and the server handle.

use std::convert::Infallible;
use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context as TaskContext, Poll};
use std::time::Duration;

use http::{Request, Response};

use crate::adapter::{AdapterError, AdapterFactory, LocalAdapterFactory, SocketInfo};
use crate::broadcast::{BroadcastAcks, BroadcastOperator, IntoRooms};
use crate::client::IoHandler;
use crate::codec::socketio::Args;
use crate::engine::{AllowRequest, Body, Cors, Engine, EngineConfig, EngineService, Transport};
use crate::middleware::Middleware;
use crate::namespace::{EmitError, Namespace};
use crate::ns::{IoConfig, IoShared, NsEntry, Pattern, StateMap, TypedStarter};
use crate::socket_ref::SocketRef;

/// Builds a [`Server`].
pub struct Builder {
    engine: EngineConfig,
    io: IoConfig,
    entries: Vec<NsEntry>,
    state: StateMap,
    middlewares: Vec<Arc<dyn Middleware>>,
    pending_middlewares: Vec<(String, Arc<dyn Middleware>)>,
    adapter: Arc<dyn AdapterFactory>,
}

impl fmt::Debug for Builder {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Builder")
            .field("engine", &self.engine)
            .field("io", &self.io)
            .field(
                "namespaces",
                &self
                    .entries
                    .iter()
                    .map(|e| &*e.pattern.raw)
                    .collect::<Vec<_>>(),
            )
            .finish()
    }
}

impl Default for Builder {
    fn default() -> Self {
        Builder {
            engine: EngineConfig {
                path: "/socket.io/".into(),
                ..EngineConfig::default()
            },
            io: IoConfig::default(),
            entries: Vec::new(),
            state: StateMap::default(),
            middlewares: Vec::new(),
            pending_middlewares: Vec::new(),
            adapter: Arc::new(LocalAdapterFactory),
        }
    }
}

impl Builder {
    /// The HTTP path. Default `/socket.io/`.
    pub fn path(mut self, path: impl Into<String>) -> Self {
        self.engine.path = path.into();
        self
    }

    /// Time between server pings. Default 25 s.
    pub fn ping_interval(mut self, d: Duration) -> Self {
        self.engine.ping_interval = d;
        self
    }

    /// How long to wait for a pong. Default 20 s.
    pub fn ping_timeout(mut self, d: Duration) -> Self {
        self.engine.ping_timeout = d;
        self
    }

    /// The largest message or POST body accepted, in bytes. Default 1,000,000.
    pub fn max_payload(mut self, bytes: usize) -> Self {
        self.engine.max_payload = bytes;
        self
    }

    /// How long a WebSocket upgrade may take. Default 10 s.
    pub fn upgrade_timeout(mut self, d: Duration) -> Self {
        self.engine.upgrade_timeout = d;
        self
    }

    /// The allowed transports. Default both.
    pub fn transports(mut self, transports: impl IntoIterator<Item = Transport>) -> Self {
        self.engine.transports = transports.into_iter().collect();
        self
    }

    /// The CORS policy. Default disabled.
    pub fn cors(mut self, cors: Cors) -> Self {
        self.engine.cors = cors;
        self
    }

    /// A filter on handshake requests (HTTP 403 when it refuses).
    pub fn allow_request<F>(mut self, f: F) -> Self
    where
        F: Fn(&http::request::Parts) -> Result<(), String> + Send + Sync + 'static,
    {
        self.engine.allow_request = Some(Arc::new(f) as AllowRequest);
        self
    }

    /// The most packets queued for a client that does not read before it is disconnected
    /// (default 1024). The queue is per connection and bounds the memory a slow reader can
    /// hold; a handler that emits more than this to one client in a burst, without yielding,
    /// can reach it too, and its emits then fail with `SendError::Full`.
    pub fn max_buffered_packets(mut self, n: usize) -> Self {
        self.engine.max_buffered_packets = n;
        self
    }

    /// How long a new connection may take to join a namespace. Default 45 s.
    pub fn connect_timeout(mut self, d: Duration) -> Self {
        self.io.connect_timeout = d;
        self
    }

    /// The default timeout of emits with acks. Default 10 s.
    pub fn ack_timeout(mut self, d: Duration) -> Self {
        self.io.ack_timeout = d;
        self
    }

    /// The most binary attachments one packet may announce. Default 16.
    pub fn max_attachments(mut self, n: usize) -> Self {
        self.io.max_attachments = n;
        self
    }

    /// The most events that may wait for one socket's handlers before the connection is
    /// closed as flooding. Default 1024.
    pub fn max_pending_events(mut self, n: usize) -> Self {
        self.io.mailbox_limit = n.max(1);
        self
    }

    /// Application state, reached from handlers with `cx.state::<S>()`.
    pub fn state<S: Send + Sync + 'static>(mut self, state: S) -> Self {
        self.state.insert(state);
        self
    }

    /// The adapter (rooms and fan-out). Default: in memory.
    pub fn adapter(mut self, factory: impl AdapterFactory) -> Self {
        self.adapter = Arc::new(factory);
        self
    }

    /// A connect middleware for every namespace, run before the namespace's own.
    pub fn middleware(mut self, m: impl Middleware) -> Self {
        self.middlewares.push(Arc::new(m));
        self
    }

    /// A connect middleware for the namespace registered under `path`.
    pub fn namespace_middleware(mut self, path: &str, m: impl Middleware) -> Self {
        self.pending_middlewares
            .push((path.to_owned(), Arc::new(m)));
        self
    }

    /// Registers `T`, built with `Default` for each socket.
    pub fn namespace<T: Namespace + Default>(self) -> Self {
        self.namespace_with(T::default)
    }

    /// Registers `T`, built by `factory` for each socket.
    pub fn namespace_with<T, F>(self, factory: F) -> Self
    where
        T: Namespace,
        F: Fn() -> T + Send + Sync + 'static,
    {
        self.namespace_at(T::PATH, factory)
    }

    /// Registers `T` under another path or pattern (`/game/{id}`), built by `factory`.
    pub fn namespace_at<T, F>(mut self, path: &str, factory: F) -> Self
    where
        T: Namespace,
        F: Fn() -> T + Send + Sync + 'static,
    {
        let pattern = Pattern::parse(path);
        self.entries.retain(|e| e.pattern.raw != pattern.raw);
        self.entries.push(NsEntry {
            pattern,
            starter: Box::new(TypedStarter {
                make: factory,
                _t: std::marker::PhantomData,
            }),
            middlewares: Vec::new(),
            instances: Default::default(),
        });
        self
    }

    /// Registers every `#[namespace]` type linked into the binary that implements `Default`
    /// and is not registered yet.
    pub fn registered_namespaces(mut self) -> Self {
        for r in inventory::iter::<crate::private::Registration> {
            if self.entries.iter().any(|e| &*e.pattern.raw == r.path) {
                continue;
            }
            self = (r.register)(self);
        }
        self
    }

    /// Builds the server.
    pub fn build(mut self) -> Server {
        for (path, m) in self.pending_middlewares.drain(..) {
            let pattern = Pattern::parse(&path);
            match self
                .entries
                .iter_mut()
                .find(|e| e.pattern.raw == pattern.raw)
            {
                Some(e) => e.middlewares.push(m),
                None => tracing::warn!(path, "middleware for a namespace that is not registered"),
            }
        }
        let io = Arc::new(IoShared::new(
            self.io,
            self.entries,
            self.state,
            self.middlewares,
            self.adapter,
        ));
        // Static namespaces exist from the start, so the server handle reaches them.
        for e in &io.entries {
            if e.pattern.is_static() {
                let _ = io.resolve(&e.pattern.raw.clone());
            }
        }
        let engine = Engine::new(IoHandler { io: io.clone() }, self.engine);
        let _ = io.engine.set(Arc::downgrade(&engine.shared));
        Server { engine }
    }

    /// Builds the server and serves it on `addr`.
    pub async fn serve(self, addr: impl tokio::net::ToSocketAddrs) -> std::io::Result<()> {
        self.build().serve(addr).await
    }
}

/// A Socket.IO server.
#[derive(Clone)]
pub struct Server {
    engine: Engine<IoHandler>,
}

impl fmt::Debug for Server {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Server")
            .field("io", &self.engine.handler().io)
            .finish()
    }
}

impl Server {
    /// A builder with the default options.
    pub fn builder() -> Builder {
        Builder::default()
    }

    /// The server handle, to emit from outside handlers.
    pub fn io(&self) -> Io {
        Io::from_shared(self.engine.handler().io.clone())
    }

    /// A `tower::Service` answering on the configured path, to mount in axum or hyper.
    pub fn service(&self) -> SocketIoService {
        SocketIoService(self.engine.service())
    }

    /// Serves on `addr` until the future is dropped.
    pub async fn serve(self, addr: impl tokio::net::ToSocketAddrs) -> std::io::Result<()> {
        let listener = tokio::net::TcpListener::bind(addr).await?;
        self.serve_listener(listener).await
    }

    /// Serves connections accepted on `listener` until the future is dropped, or until
    /// [`Io::close`] has closed every session (then it stops accepting and returns `Ok`).
    pub async fn serve_listener(self, listener: tokio::net::TcpListener) -> std::io::Result<()> {
        let shutdown = self.engine.handler().io.shutdown_signal();
        crate::engine::listener::serve_listener_until(listener, self.service(), shutdown).await
    }
}

/// The Socket.IO server as a `tower::Service`.
#[derive(Clone)]
pub struct SocketIoService(EngineService<IoHandler>);

impl fmt::Debug for SocketIoService {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SocketIoService").finish_non_exhaustive()
    }
}

impl<B> tower_service::Service<Request<B>> for SocketIoService
where
    B: http_body::Body + Send + 'static,
    B::Data: Send,
    B::Error: Into<Box<dyn std::error::Error + Send + Sync>>,
{
    type Response = Response<Body>;
    type Error = Infallible;
    type Future = Pin<Box<dyn Future<Output = Result<Response<Body>, Infallible>> + Send>>;

    fn poll_ready(&mut self, cx: &mut TaskContext<'_>) -> Poll<Result<(), Infallible>> {
        tower_service::Service::<Request<B>>::poll_ready(&mut self.0, cx)
    }

    fn call(&mut self, req: Request<B>) -> Self::Future {
        self.0.call(req)
    }
}

/// The server handle: emit to namespaces and rooms, query and move sockets, shut down. Cheap to
/// clone, usable from any task. Given by [`Server::io`] and [`crate::Context::io`].
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
    pub(crate) shared: Arc<IoShared>,
}

impl fmt::Debug for Io {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Io").field("shared", &self.shared).finish()
    }
}

impl Io {
    pub(crate) fn from_shared(shared: Arc<IoShared>) -> Self {
        Io { shared }
    }

    /// Every socket of a namespace: a registered path, or a path matching a registered pattern
    /// (`/game/42` for `/game/{id}`; its instance is created if no client joined it yet).
    /// `None` when nothing registered matches.
    pub fn of(&self, path: &str) -> Option<BroadcastOperator> {
        let (_, ns) = self.shared.resolve(path)?;
        Some(BroadcastOperator::new(ns, self.shared.clone()))
    }

    /// The paths of the live namespaces (static ones and instances of dynamic ones).
    pub fn namespaces(&self) -> Vec<String> {
        self.shared
            .instances()
            .iter()
            .map(|ns| ns.path.to_string())
            .collect()
    }

    /// Every socket of `/` (none when `/` is not registered).
    fn root(&self) -> BroadcastOperator {
        BroadcastOperator::new(self.shared.root(), self.shared.clone())
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
        self.root().emit_with_ack(event, args)
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

    /// A handle on one local socket, by namespace and id.
    pub fn socket(&self, namespace: &str, id: &str) -> Option<SocketRef> {
        let socket = self.shared.instance(namespace)?.get(id)?;
        Some(SocketRef::new(socket, self.shared.clone()))
    }

    /// Shuts the server down gracefully: new namespace connections are refused; every socket
    /// leaves its namespace and its `recv_disconnect` runs with
    /// [`crate::DisconnectReason::ServerShutdown`] (after the handler it may be running); then
    /// every transport is closed (clients get a close packet), the adapters are closed, and
    /// the crate's serve loop stops accepting connections ([`Server::serve`] returns `Ok`).
    /// The future completes after all of that. Calling it again waits for the same end.
    ///
    /// Do not await it inside a handler: it waits for every socket's actor, that handler's
    /// included. Spawn it (`tokio::spawn(cx.io().close())`) instead.
    pub fn close(&self) -> impl Future<Output = ()> + Send + 'static {
        let shared = self.shared.clone();
        async move { shared.close().await }
    }
}
