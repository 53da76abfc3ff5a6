//! The server, the top layer: [`Builder`], [`Server`], the tower service, and the server
//! handle [`Io`] (`io.rs`). `private.rs` holds what the `#[namespace]` expansion names;
//! `admin.rs` the admin UI's namespace (feature `admin-ui`).

#[cfg(feature = "admin-ui")]
pub(crate) mod admin;
mod io;
pub(crate) mod private;
#[cfg(feature = "typescript")]
pub mod typescript;

use std::convert::Infallible;
use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context as TaskContext, Poll};
use std::time::Duration;

use http::{Request, Response};

pub use io::Io;

use crate::adapter::{
    Adapter, AdapterFactory, LocalAdapterFactory, ServerEvent, ServerEventHandler, SocketEmitter,
};
use crate::connection::{ConnectionHandler, EventRate};
use crate::engine::{
    AllowRequest, Body, Cors, Engine, EngineConfig, EngineService, HttpCompression, Transport,
    WsCompression,
};
use crate::namespace::registry::{
    NsEntry, Pattern, Runtime, RuntimeConfig, Starter, StateMap, TypedStarter,
};
use crate::namespace::{ErrorHook, Middleware, Namespace};

/// The engine a [`Server`] runs.
type ServerEngine = Engine<ConnectionHandler<Runtime>>;

/// Builds a [`Server`].
pub struct Builder {
    engine: EngineConfig,
    io: RuntimeConfig,
    entries: Vec<NsEntry>,
    state: StateMap,
    middlewares: Vec<Arc<dyn Middleware>>,
    pending_middlewares: Vec<(String, Arc<dyn Middleware>)>,
    adapter: Arc<dyn AdapterFactory>,
    server_events: Option<ServerEventHandler>,
    on_error: Option<ErrorHook>,
    #[cfg(feature = "admin-ui")]
    admin: Option<admin::AdminUi>,
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
            io: RuntimeConfig::default(),
            entries: Vec::new(),
            state: StateMap::default(),
            middlewares: Vec::new(),
            pending_middlewares: Vec::new(),
            adapter: Arc::new(LocalAdapterFactory),
            server_events: None,
            on_error: None,
            #[cfg(feature = "admin-ui")]
            admin: None,
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

    /// Compression of long-polling responses (Node's `httpCompression`): on by default, for
    /// bodies of 1024 bytes or more, gzip or deflate as the client's `Accept-Encoding` allows.
    /// `None` turns it off; `Some(HttpCompression { threshold })` changes the threshold.
    pub fn http_compression(mut self, compression: Option<HttpCompression>) -> Self {
        self.engine.http_compression = compression;
        self
    }

    /// WebSocket compression, the `permessage-deflate` extension (Node's `perMessageDeflate`).
    /// Off by default, as in Node. `Some(WsCompression::default())` compresses messages of
    /// 1024 bytes or more to every client that offers the extension (browsers and Node's
    /// `ws` do), with no context kept between messages on either side, so that a connection
    /// holds no deflate state; [`WsCompression`] says what keeping it costs and gains.
    pub fn ws_compression(mut self, compression: Option<WsCompression>) -> Self {
        self.engine.ws_compression = compression;
        self
    }

    /// Serves Socket.IO v2 clients (Engine.IO protocol revision 3, Socket.IO protocol v4), as
    /// Node's `allowEIO3`. Off by default: their handshake is answered HTTP 400
    /// `{"code":5,"message":"Unsupported protocol version"}`.
    ///
    /// Such a client pings and the server answers (the session closes after ping interval +
    /// ping timeout without a ping), is connected to `/` without asking, names its auth as a
    /// query string on the namespace (`recv_connect` gets it as an object of strings), and gets
    /// CONNECT_ERROR as the error's data or message. No connection state recovery for it.
    pub fn allow_eio3(mut self, allow: bool) -> Self {
        self.engine.allow_eio3 = allow;
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
        self.io.connection.connect_timeout = d;
        self
    }

    /// How long a graceful shutdown ([`Io::close`]) waits for the handlers running and every
    /// socket's `recv_disconnect`; after it, the transports are closed all the same. Default
    /// 10 s.
    pub fn shutdown_timeout(mut self, d: Duration) -> Self {
        self.io.shutdown_timeout = d;
        self
    }

    /// The default timeout of emits with acks. Default 10 s.
    pub fn ack_timeout(mut self, d: Duration) -> Self {
        self.io.ack_timeout = d;
        self
    }

    /// The Socket.IO parser every client speaks, as Node's `new Server({ parser })`: the
    /// default [`Parser::Json`](crate::Parser::Json) (`socket.io-parser`), or
    /// [`Parser::MsgPack`](crate::Parser::MsgPack), compatible with
    /// `socket.io-msgpack-parser` 3.0 (clients give `parser: require("socket.io-msgpack-parser")`
    /// to `io()`). With msgpack each packet is one binary Engine.IO message (`b` + base64 over
    /// long-polling) and binary values travel inline; handlers, acks, rooms, broadcasts and the
    /// adapters work the same, a broadcast being encoded once for all its recipients. A client
    /// of the other parser is closed at its first packet, as any client sending a malformed one.
    ///
    /// The runtime keeps what clients send as JSON: see [`crate::codec::socketio::msgpack`] for
    /// how msgpack values map to it (a `Date` becomes its ISO string, `undefined` is left out
    /// of objects, and so on).
    pub fn parser(mut self, parser: crate::Parser) -> Self {
        self.io.connection.parser = parser;
        self
    }

    /// The most binary attachments one packet may announce (with the msgpack parser: the most
    /// binary values one packet may hold). Default 16.
    pub fn max_attachments(mut self, n: usize) -> Self {
        self.io.connection.max_attachments = n;
        self
    }

    /// The most events that may wait for one socket's handlers. When a socket's queue is
    /// full the server reads nothing more from that connection until its handlers catch up
    /// (over WebSocket TCP backpressure slows the client; over polling its POST is answered
    /// later): a fast client is slowed down, never disconnected or dropped. Reading also
    /// pauses while half the client's outgoing buffer ([`Builder::max_buffered_packets`],
    /// [`Builder::max_buffered_bytes`]) waits for it, so that a client sending faster than it
    /// reads its answers is throttled rather than disconnected. Default 256 (with this flow
    /// control a queue needs only absorb bursts; keep it under half the packet buffer).
    ///
    /// A handler that awaits an ack from its own client while that client's queue is full
    /// waits until the ack arrives after the queue drains, or its timeout.
    pub fn max_pending_events(mut self, n: usize) -> Self {
        self.io.connection.mailbox_limit = n.max(1);
        self
    }

    /// The most rooms one socket may be in (its own id room aside); further joins are
    /// ignored with a `tracing` warning, so that rooms named from client input cannot grow a
    /// socket without bound. Default 10,000.
    pub fn max_rooms_per_socket(mut self, n: usize) -> Self {
        self.io.max_rooms_per_socket = n;
        self
    }

    /// Turns on connection state recovery (off by default; then nothing of it is on the wire).
    /// A client whose connection is lost — transport closed or failed, ping timeout, server
    /// shutting down; not a namespace disconnect — and that reconnects within
    /// [`crate::ConnectionStateRecovery::max_disconnection_duration`] gets its socket back: the same id,
    /// its rooms, every event sent to it meanwhile (in order, each once, before the CONNECT
    /// reply), and on this process the same namespace value, ACL and jobs
    /// ([`crate::Context::recovered`] tells). The CONNECT reply carries `pid`, and every event
    /// without ack that is not volatile carries an offset as its last argument, as the
    /// Socket.IO reference server does since 4.6 (`connectionStateRecovery`).
    ///
    /// Across a recovery `recv_disconnect`, `initialize` and `recv_connect` do not run: the
    /// socket never left. When the duration passes without its client, `recv_disconnect` runs
    /// (in its rooms, with the reason the connection was lost) and its jobs stop.
    pub fn connection_state_recovery(mut self, options: crate::ConnectionStateRecovery) -> Self {
        self.io.recovery = Some(options);
        self
    }

    /// The most namespaces one connection may join at once; a CONNECT beyond is refused with
    /// CONNECT_ERROR `{"message":"too many namespaces"}`. Default 64.
    pub fn max_namespaces_per_connection(mut self, n: usize) -> Self {
        self.io.connection.max_namespaces = n.max(1);
        self
    }

    /// Limits the events one connection may send: `per_second` sustained, `burst` at once.
    /// An event over the limit runs no handler and is answered with the error `rate_limited`
    /// (`{"error":"rate_limited","message":..}` as the ack when it asked for one, else the
    /// `error` event `["rate_limited", message]`). Default: no limit.
    pub fn event_rate_limit(mut self, per_second: f64, burst: u32) -> Self {
        self.io.connection.event_rate = Some(EventRate {
            per_second: per_second.max(0.0),
            burst: burst.max(1),
        });
        self
    }

    /// The most bytes queued for a client that does not read before it is disconnected.
    /// Default 8 MiB (a packet is always queued when nothing else is).
    pub fn max_buffered_bytes(mut self, n: usize) -> Self {
        self.engine.max_buffered_bytes = n;
        self
    }

    /// How long one WebSocket write may take before the connection is dropped (a client
    /// that stopped reading), and how long a long-polling client may leave its backlog
    /// unfetched while its POST waits on it before the session is closed (a client that
    /// stopped polling). Default 20 s.
    pub fn write_timeout(mut self, d: Duration) -> Self {
        self.engine.write_timeout = d;
        self
    }

    /// How long a polling POST body may stall between two chunks before the request is
    /// answered 400 and the session closed. Default 30 s.
    pub fn body_timeout(mut self, d: Duration) -> Self {
        self.engine.body_timeout = d;
        self
    }

    /// The most Engine.IO sessions (connections) open at once; a handshake beyond is
    /// answered HTTP 503. Default 100,000.
    pub fn max_connections(mut self, n: usize) -> Self {
        self.engine.max_sessions = n;
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

    /// The handler of events other server processes send with
    /// [`crate::BroadcastOperator::server_side_emit`] (`serverSideEmit` in a Node.js process of
    /// the same cluster), for every namespace: [`ServerEvent::namespace`] tells which. It runs
    /// on the adapter's task, so it must not block: spawn anything slow. When the sender waits
    /// for an answer, [`ServerEvent::ack`] is set; answer with
    /// [`crate::adapter::ServerEventAck::send`] (one value, as the JavaScript callback takes
    /// one argument).
    ///
    /// Only a multi-process adapter (such as the Redis one) delivers these; with the default
    /// in-memory adapter the handler never runs.
    ///
    /// ```no_run
    /// # fn f(b: socketio_ns::Builder) -> socketio_ns::Builder {
    /// b.on_server_event(|ev| {
    ///     if ev.event == "ping" {
    ///         if let Some(ack) = ev.ack {
    ///             ack.send(serde_json::json!("pong"));
    ///         }
    ///     }
    /// })
    /// # }
    /// ```
    pub fn on_server_event(
        mut self,
        handler: impl Fn(ServerEvent) + Send + Sync + 'static,
    ) -> Self {
        self.server_events = Some(Arc::new(handler));
        self
    }

    /// A hook that sees every refused or failed call of every namespace (gevent-socketio's
    /// `error_handler`): the ACL refused it, no handler takes it, its arguments do not decode,
    /// its handler returned an error or panicked, or a handler or job called
    /// [`crate::Context::error`], [`crate::Context::error_quiet`] or
    /// [`crate::SocketRef::error`]. It runs on the socket's task, after the error is logged and
    /// before it is sent: keep it short, spawn anything slow.
    ///
    /// ```no_run
    /// # fn f(b: socketio_ns::Builder) -> socketio_ns::Builder {
    /// b.on_error(|e| eprintln!("{} on {:?} in {}: {}", e.name, e.event, e.namespace, e.message))
    /// # }
    /// ```
    pub fn on_error(
        mut self,
        hook: impl Fn(&crate::ErrorReport<'_>) + Send + Sync + 'static,
    ) -> Self {
        self.on_error = Some(Arc::new(hook));
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
    pub fn namespace_at<T, F>(self, path: &str, factory: F) -> Self
    where
        T: Namespace,
        F: Fn() -> T + Send + Sync + 'static,
    {
        let starter = TypedStarter {
            make: factory,
            _t: std::marker::PhantomData,
        };
        self.add_namespace(path, Box::new(starter))
    }

    /// [`Builder::namespace_at`] without the namespace's type: compiled once.
    fn add_namespace(mut self, path: &str, starter: Box<dyn Starter>) -> Self {
        let pattern = Pattern::parse(path);
        self.entries.retain(|e| e.pattern.raw != pattern.raw);
        self.entries.push(NsEntry {
            pattern,
            starter,
            middlewares: Vec::new(),
            instances: Default::default(),
        });
        self
    }

    /// Registers every `#[namespace]` type linked into the binary that implements `Default`
    /// and is not registered yet.
    pub fn registered_namespaces(mut self) -> Self {
        for r in inventory::iter::<private::Registration> {
            if self.entries.iter().any(|e| &*e.pattern.raw == r.path) {
                continue;
            }
            self = (r.register)(self);
        }
        self
    }

    /// Serves the [`@socket.io/admin-ui`](https://socket.io/docs/v4/admin-ui/) dashboard's
    /// namespace (`/admin` unless [`AdminUi::namespace`](crate::admin_ui::AdminUi::namespace)
    /// says otherwise): what `instrument(io, options)` does for a Node server. See
    /// [`crate::admin_ui`] for what it sends and accepts. Feature `admin-ui`.
    ///
    /// Without it (or with the feature off) nothing observes the sockets: the hooks the
    /// dashboard needs cost one branch each.
    #[cfg(feature = "admin-ui")]
    #[cfg_attr(docsrs, doc(cfg(feature = "admin-ui")))]
    pub fn admin_ui(mut self, options: admin::AdminUi) -> Self {
        self.admin = Some(options);
        self
    }

    /// Builds the server.
    pub fn build(mut self) -> Server {
        #[cfg(feature = "admin-ui")]
        let admin = self.admin.take().map(|options| {
            let state = admin::AdminState::new(options);
            let s = state.clone();
            self = std::mem::take(&mut self)
                .namespace_at(state.path(), move || admin::AdminSocket::new(s.clone()));
            state
        });
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
        let adapter = match self.server_events {
            Some(handler) => Arc::new(WithServerEvents {
                inner: self.adapter,
                handler,
            }),
            None => self.adapter,
        };
        #[cfg(feature = "admin-ui")]
        let adapter: Arc<dyn AdapterFactory> = match &admin {
            Some(state) if state.development() => Arc::new(admin::ObservedAdapters {
                inner: adapter,
                state: state.clone(),
            }),
            _ => adapter,
        };
        let mut rt = Runtime::new(self.io, self.entries, self.state, self.middlewares, adapter);
        rt.on_error = self.on_error;
        #[cfg(feature = "admin-ui")]
        if let Some(state) = admin.as_ref().filter(|s| s.development()) {
            rt.observer = Some(state.clone());
        }
        let rt = Arc::new(rt);
        #[cfg(feature = "admin-ui")]
        if let Some(state) = &admin {
            state.attach(&rt);
        }
        // Static namespaces exist from the start, so the server handle reaches them.
        for e in &rt.entries {
            if e.pattern.is_static() {
                let _ = rt.resolve(&e.pattern.raw.clone());
            }
        }
        let handler = ConnectionHandler {
            namespaces: rt.clone(),
        };
        #[cfg(feature = "admin-ui")]
        let engine = Engine::observed(
            handler,
            self.engine,
            admin.map(|s| s as Arc<dyn crate::engine::EngineObserver>),
        );
        #[cfg(not(feature = "admin-ui"))]
        let engine = Engine::new(handler, self.engine);
        let _ = rt.engine.set(Arc::downgrade(&engine.shared));
        Server { engine }
    }

    /// Builds the server and serves it on `addr`.
    pub async fn serve(self, addr: impl tokio::net::ToSocketAddrs) -> std::io::Result<()> {
        self.build().serve(addr).await
    }
}

/// The user's adapter factory, handing each adapter it creates the server-event handler.
struct WithServerEvents {
    inner: Arc<dyn AdapterFactory>,
    handler: ServerEventHandler,
}

impl AdapterFactory for WithServerEvents {
    fn create(&self, sockets: Arc<dyn SocketEmitter>) -> Arc<dyn Adapter> {
        let adapter = self.inner.create(sockets);
        adapter.set_server_event_handler(self.handler.clone());
        adapter
    }
}

/// A Socket.IO server.
#[derive(Clone)]
pub struct Server {
    engine: ServerEngine,
}

impl fmt::Debug for Server {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Server")
            .field("runtime", &self.engine.handler().namespaces)
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
        Io::new(self.engine.handler().namespaces.clone())
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
        let shutdown = self.engine.handler().namespaces.shutdown_signal();
        crate::engine::serve(listener, self.service(), shutdown).await
    }

    /// Serves on `addr` until `signal` completes, then shuts down gracefully ([`Io::close`]:
    /// new namespace connections refused, every socket's `recv_disconnect` run with
    /// [`crate::DisconnectReason::ServerShutdown`] within [`Builder::shutdown_timeout`], every
    /// client sent a close, adapters closed) and returns once that is done.
    ///
    /// ```no_run
    /// # async fn f() -> std::io::Result<()> {
    /// socketio_ns::Server::builder()
    ///     .build()
    ///     .serve_with_shutdown("127.0.0.1:3000", socketio_ns::shutdown_signal())
    ///     .await
    /// # }
    /// ```
    pub async fn serve_with_shutdown(
        self,
        addr: impl tokio::net::ToSocketAddrs,
        signal: impl Future<Output = ()> + Send + 'static,
    ) -> std::io::Result<()> {
        let listener = tokio::net::TcpListener::bind(addr).await?;
        tokio::spawn(self.io().close_after(signal));
        self.serve_listener(listener).await
    }
}

/// Completes on SIGINT (Ctrl-C) or, on Unix, SIGTERM: what a process manager sends to stop a
/// server. Give it to [`Server::serve_with_shutdown`] or [`Io::close_after`].
pub async fn shutdown_signal() {
    let ctrl_c = async {
        if let Err(e) = tokio::signal::ctrl_c().await {
            tracing::warn!(error = %e, "cannot listen for Ctrl-C");
            std::future::pending::<()>().await;
        }
    };
    #[cfg(unix)]
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(e) => {
                tracing::warn!(error = %e, "cannot listen for SIGTERM");
                std::future::pending::<()>().await;
            }
        }
    };
    #[cfg(not(unix))]
    let term = std::future::pending::<()>();
    tokio::select! {
        _ = ctrl_c => tracing::info!("SIGINT: shutting down"),
        _ = term => tracing::info!("SIGTERM: shutting down"),
    }
}

/// The Socket.IO server as a `tower::Service`.
#[derive(Clone)]
pub struct SocketIoService(EngineService<ConnectionHandler<Runtime>>);

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
