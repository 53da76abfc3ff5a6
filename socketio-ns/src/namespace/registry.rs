//! The namespace registry: registered namespaces (static paths and patterns such as
//! `/game/{id}`), their live instances, and what every socket shares ([`Runtime`]).

use std::any::{Any, TypeId};
use std::collections::HashMap;
use std::fmt;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, OnceLock, RwLock, Weak};
use std::time::Duration;

use tokio::sync::{Notify, watch};

use super::actor::spawn_socket;
use super::instance::NamespaceInstance;
use super::{Middleware, Namespace};
use crate::adapter::{AdapterFactory, LocalAdapterFactory};
use crate::connection::{
    Conn, Connection, ConnectionConfig, ConnectionHandler, DisconnectReason, Namespaces, Socket,
    refuse, refuse_as_is,
};
use crate::engine::{CloseReason, EngineSession, EngineShared};

/// How long `close()` waits for the transports to take their close packets.
const CLOSE_FLUSH_LIMIT: Duration = Duration::from_secs(2);

/// Socket.IO options (the Engine.IO ones live in [`crate::engine::EngineConfig`]).
#[derive(Debug, Clone)]
pub(crate) struct RuntimeConfig {
    /// What the connection layer reads.
    pub(crate) connection: ConnectionConfig,
    /// The default timeout of emits with acks.
    pub(crate) ack_timeout: Duration,
    /// How long a shutdown waits for handlers and `recv_disconnect`s.
    pub(crate) shutdown_timeout: Duration,
    /// The most rooms one socket may be in.
    pub(crate) max_rooms_per_socket: usize,
    /// Connection state recovery; `None`: off.
    pub(crate) recovery: Option<super::ConnectionStateRecovery>,
}

impl Default for RuntimeConfig {
    fn default() -> Self {
        RuntimeConfig {
            connection: ConnectionConfig::default(),
            ack_timeout: Duration::from_secs(10),
            shutdown_timeout: Duration::from_secs(10),
            max_rooms_per_socket: 10_000,
            recovery: None,
        }
    }
}

/// Application state given to the builder, shared by every socket.
#[derive(Default)]
pub(crate) struct StateMap(HashMap<TypeId, Box<dyn Any + Send + Sync>>);

impl StateMap {
    pub(crate) fn insert<S: Send + Sync + 'static>(&mut self, s: S) {
        self.0.insert(TypeId::of::<S>(), Box::new(s));
    }

    pub(crate) fn get<S: 'static>(&self) -> Option<&S> {
        self.0.get(&TypeId::of::<S>())?.downcast_ref()
    }
}

/// The engine this runtime serves through.
pub(crate) type EngineOf = EngineShared<ConnectionHandler<Runtime>>;

/// The namespace runtime: registered namespaces and their instances, and what every socket
/// shares. The server handle ([`crate::Io`]) is a handle on it.
pub(crate) struct Runtime {
    pub(crate) config: RuntimeConfig,
    pub(crate) entries: Vec<NsEntry>,
    pub(crate) state: StateMap,
    pub(crate) middlewares: Vec<Arc<dyn Middleware>>,
    pub(crate) adapter: Arc<dyn AdapterFactory>,
    /// The engine serving this server, for shutting down.
    pub(crate) engine: OnceLock<Weak<EngineOf>>,
    /// Set by `close()`: no new socket is accepted, new namespace members are told to leave.
    closing: Arc<AtomicBool>,
    /// Turns `true` when `close()` has closed everything: serve loops stop accepting.
    shutdown: watch::Sender<bool>,
    /// Socket actors running (connecting or connected), and the wake-up when none is left.
    live_actors: AtomicUsize,
    actors_idle: Notify,
    /// An empty namespace standing for `/` when it is not registered.
    detached: OnceLock<Arc<NamespaceInstance>>,
    /// The hook that sees every refused or failed call ([`crate::Builder::on_error`]).
    pub(crate) on_error: Option<super::report::ErrorHook>,
    /// Told of every socket of every namespace (the admin UI); `None` costs nothing.
    pub(crate) observer: Option<Arc<dyn super::observe::Observer>>,
}

/// Counts a running socket actor; see [`Runtime::track_actor`].
pub(crate) struct ActorGuard(Arc<Runtime>);

impl Drop for ActorGuard {
    fn drop(&mut self) {
        if self.0.live_actors.fetch_sub(1, Ordering::AcqRel) == 1 {
            self.0.actors_idle.notify_waiters();
        }
    }
}

impl fmt::Debug for Runtime {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Runtime")
            .field("config", &self.config)
            .field(
                "namespaces",
                &self
                    .entries
                    .iter()
                    .map(|e| &e.pattern.raw)
                    .collect::<Vec<_>>(),
            )
            .finish()
    }
}

impl Runtime {
    pub(crate) fn new(
        config: RuntimeConfig,
        entries: Vec<NsEntry>,
        state: StateMap,
        middlewares: Vec<Arc<dyn Middleware>>,
        adapter: Arc<dyn AdapterFactory>,
    ) -> Self {
        Runtime {
            config,
            entries,
            state,
            middlewares,
            adapter,
            engine: OnceLock::new(),
            closing: Arc::new(AtomicBool::new(false)),
            shutdown: watch::Sender::new(false),
            live_actors: AtomicUsize::new(0),
            actors_idle: Notify::new(),
            detached: OnceLock::new(),
            on_error: None,
            observer: None,
        }
    }

    /// Counts a socket actor until the guard is dropped: `close()` waits for every one.
    pub(crate) fn track_actor(self: &Arc<Self>) -> ActorGuard {
        self.live_actors.fetch_add(1, Ordering::AcqRel);
        ActorGuard(self.clone())
    }

    /// Whether `close()` was called.
    pub(crate) fn is_closing(&self) -> bool {
        self.closing.load(Ordering::SeqCst)
    }

    /// Completes when `close()` has closed every transport.
    pub(crate) fn shutdown_signal(&self) -> impl std::future::Future<Output = ()> + Send + 'static {
        let mut rx = self.shutdown.subscribe();
        async move {
            let _ = rx.wait_for(|closing| *closing).await;
        }
    }

    async fn actors_finished(&self) {
        loop {
            let idle = self.actors_idle.notified();
            tokio::pin!(idle);
            idle.as_mut().enable();
            if self.live_actors.load(Ordering::Acquire) == 0 {
                return;
            }
            idle.await;
        }
    }

    /// The open engine session `sid`, if any.
    #[cfg(feature = "admin-ui")]
    pub(crate) fn engine_session(&self, sid: &str) -> Option<EngineSession<Connection>> {
        self.engine.get()?.upgrade()?.session(sid)
    }

    pub(crate) fn engine_sessions(&self) -> Vec<EngineSession<Connection>> {
        self.engine
            .get()
            .and_then(Weak::upgrade)
            .map(|e| e.sessions())
            .unwrap_or_default()
    }

    /// Graceful shutdown: refuse new sockets, run every socket's `recv_disconnect` with
    /// [`DisconnectReason::ServerShutdown`], close every transport, close the adapters, then
    /// stop accepting connections (last: a polling client may need a new HTTP connection to
    /// fetch its close packet).
    pub(crate) async fn close(self: &Arc<Self>) {
        let first = !self.closing.swap(true, Ordering::SeqCst);
        // The sessions open now: their last socket's actor may close them before step 3.
        let mut sessions = self.engine_sessions();
        if first {
            for ns in self.instances() {
                for s in ns.all() {
                    s.disconnect(DisconnectReason::ServerShutdown, true);
                }
                if let Some(r) = ns.recovery.get() {
                    r.end_all();
                }
            }
        }
        if tokio::time::timeout(self.config.shutdown_timeout, self.actors_finished())
            .await
            .is_err()
        {
            tracing::warn!(
                timeout = ?self.config.shutdown_timeout,
                "handlers still running at the shutdown deadline; closing the transports"
            );
        }
        for s in self.engine_sessions() {
            if !sessions.iter().any(|o| o.sid() == s.sid()) {
                sessions.push(s);
            }
        }
        for s in &sessions {
            s.close(CloseReason::ServerShutdown);
        }
        let deadline = tokio::time::Instant::now() + CLOSE_FLUSH_LIMIT;
        while sessions.iter().any(|s| s.has_pending()) && tokio::time::Instant::now() < deadline {
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
        for ns in self.instances() {
            if let Err(e) = ns.adapter.close().await {
                tracing::warn!(ns = %ns.path, error = %e, "adapter close failed");
            }
        }
        self.shutdown.send_replace(true);
    }

    /// The namespace `/`, or an empty stand-in when it is not registered.
    pub(crate) fn root(self: &Arc<Self>) -> Arc<NamespaceInstance> {
        match self.resolve("/") {
            Some((_, ns)) => ns,
            None => self
                .detached
                .get_or_init(|| {
                    NamespaceInstance::new(
                        "/",
                        Vec::new(),
                        &LocalAdapterFactory,
                        self.closing.clone(),
                    )
                })
                .clone(),
        }
    }

    /// The entry and live instance for a path, creating the instance of a pattern on first use.
    pub(crate) fn resolve(&self, path: &str) -> Option<(&NsEntry, Arc<NamespaceInstance>)> {
        for e in &self.entries {
            if let Some(params) = e.pattern.matches(path) {
                if let Some(ns) = e
                    .instances
                    .read()
                    .unwrap_or_else(|x| x.into_inner())
                    .get(path)
                {
                    return Some((e, ns.clone()));
                }
                let mut map = e.instances.write().unwrap_or_else(|x| x.into_inner());
                let ns = map
                    .entry(path.into())
                    .or_insert_with(|| {
                        let ns = NamespaceInstance::new(
                            path,
                            params,
                            &*self.adapter,
                            self.closing.clone(),
                        );
                        super::recovery::enable(&ns, self.config.recovery);
                        if let Some(o) = &self.observer {
                            let _ = ns.observer.set(o.clone());
                        }
                        ns
                    })
                    .clone();
                return Some((e, ns));
            }
        }
        None
    }

    /// Drops the instance of a dynamic namespace that nothing uses any more, once its last
    /// socket has left: its path is the client's choice, so keeping every instance would let
    /// the table grow without bound. Static namespaces stay.
    pub(crate) fn release(&self, ns: &Arc<NamespaceInstance>) {
        let Some(e) = self
            .entries
            .iter()
            .find(|e| e.pattern.matches(&ns.path).is_some())
        else {
            return;
        };
        if e.pattern.is_static() {
            return;
        }
        let mut map = e.instances.write().unwrap_or_else(|x| x.into_inner());
        // The table's reference and the caller's: no other socket (connecting or connected)
        // and no broadcast operator holds it, and none can take it while the lock is held.
        if Arc::strong_count(ns) <= 2 && map.get(&*ns.path).is_some_and(|x| Arc::ptr_eq(x, ns)) {
            map.remove(&*ns.path);
        }
    }

    /// The live instance of a path, if any socket ever joined it (or it is static).
    pub(crate) fn instance(&self, path: &str) -> Option<Arc<NamespaceInstance>> {
        self.entries.iter().find_map(|e| {
            e.instances
                .read()
                .unwrap_or_else(|x| x.into_inner())
                .get(path)
                .cloned()
        })
    }

    /// Every live namespace instance.
    pub(crate) fn instances(&self) -> Vec<Arc<NamespaceInstance>> {
        self.entries
            .iter()
            .flat_map(|e| {
                e.instances
                    .read()
                    .unwrap_or_else(|x| x.into_inner())
                    .values()
                    .cloned()
                    .collect::<Vec<_>>()
            })
            .collect()
    }
}

/// A registered namespace: its path pattern, how to build its value, its middlewares.
pub(crate) struct NsEntry {
    pub(crate) pattern: Pattern,
    pub(crate) starter: Box<dyn Starter>,
    pub(crate) middlewares: Vec<Arc<dyn Middleware>>,
    pub(crate) instances: RwLock<HashMap<Box<str>, Arc<NamespaceInstance>>>,
}

/// Builds a namespace's value for a new socket and starts its actor.
pub(crate) trait Starter: Send + Sync + 'static {
    fn start(
        &self,
        socket: Arc<Socket>,
        ns: Arc<NamespaceInstance>,
        rt: Arc<Runtime>,
        middlewares: Vec<Arc<dyn Middleware>>,
        resumed: Option<super::recovery::Resumed>,
    );
}

pub(crate) struct TypedStarter<T, F> {
    pub(crate) make: F,
    pub(crate) _t: std::marker::PhantomData<fn() -> T>,
}

impl<T, F> Starter for TypedStarter<T, F>
where
    T: Namespace,
    F: Fn() -> T + Send + Sync + 'static,
{
    fn start(
        &self,
        socket: Arc<Socket>,
        ns: Arc<NamespaceInstance>,
        rt: Arc<Runtime>,
        middlewares: Vec<Arc<dyn Middleware>>,
        resumed: Option<super::recovery::Resumed>,
    ) {
        spawn_socket((self.make)(), socket, ns, rt, middlewares, resumed);
    }
}

impl Namespaces for Runtime {
    fn connection_config(&self) -> &ConnectionConfig {
        &self.config.connection
    }

    fn connect(self: &Arc<Self>, conn: &Conn, nsp: &str, auth: Option<&str>) {
        self.connect_as(conn, nsp, auth, true);
    }
}

impl Runtime {
    /// A CONNECT for `nsp`: a recovery when `recover` and the auth names a session, else a
    /// fresh socket.
    pub(crate) fn connect_as(
        self: &Arc<Self>,
        conn: &Conn,
        nsp: &str,
        auth: Option<&str>,
        recover: bool,
    ) {
        let Some((entry, ns)) = self.resolve(nsp) else {
            if nsp == "/" && crate::connection::is_v2(conn) {
                // The implicit connection of a v2 client to `/`, which the Node server always
                // has: left unanswered, as a v2 client hands an error for `/` to every one of
                // its namespaces.
                tracing::debug!("no namespace `/` for the implicit connection of a v2 client");
                return;
            }
            tracing::debug!(nsp, "CONNECT to an unknown namespace");
            return refuse_as_is(conn, nsp, r#"{"message":"Invalid namespace"}"#);
        };
        // Connection state recovery is a v5 feature: a v2 client's query is no session offset.
        if recover
            && !crate::connection::is_v2(conn)
            && super::recovery::try_recover(self, conn, &ns, auth)
        {
            return;
        }
        let Some(socket) = Connection::attach(conn, ns.path.clone(), &self.config.connection)
        else {
            return;
        };
        if self.is_closing() {
            refuse(conn, nsp, r#"{"message":"server shutting down"}"#);
            Connection::detach(&socket, self.config.connection.connect_timeout);
            return;
        }
        if let Some(auth) = auth {
            let _ = socket.auth.set(auth.into());
        }
        entry
            .starter
            .start(socket, ns, self.clone(), entry.middlewares.clone(), None);
    }
}

/// A namespace path or pattern: `/chat`, `/game/{id}`.
#[derive(Debug, Clone)]
pub(crate) struct Pattern {
    pub(crate) raw: Box<str>,
    segments: Vec<Segment>,
}

#[derive(Debug, Clone)]
enum Segment {
    Lit(Box<str>),
    Param(Box<str>),
}

impl Pattern {
    pub(crate) fn parse(raw: &str) -> Self {
        let raw = if raw.starts_with('/') {
            raw.to_owned()
        } else {
            format!("/{raw}")
        };
        let segments = raw
            .split('/')
            .skip(1)
            .map(
                |s| match s.strip_prefix('{').and_then(|s| s.strip_suffix('}')) {
                    Some(name) => Segment::Param(name.into()),
                    None => Segment::Lit(s.into()),
                },
            )
            .collect();
        Pattern {
            raw: raw.into(),
            segments,
        }
    }

    pub(crate) fn is_static(&self) -> bool {
        self.segments.iter().all(|s| matches!(s, Segment::Lit(_)))
    }

    /// The parameters, when `path` matches.
    pub(crate) fn matches(&self, path: &str) -> Option<Vec<(Box<str>, Box<str>)>> {
        if self.is_static() {
            return (*self.raw == *path).then(Vec::new);
        }
        let rest = path.strip_prefix('/')?;
        let parts: Vec<&str> = rest.split('/').collect();
        if parts.len() != self.segments.len() {
            return None;
        }
        let mut params = Vec::new();
        for (seg, part) in self.segments.iter().zip(parts) {
            match seg {
                Segment::Lit(l) if **l == *part => {}
                Segment::Param(name) if !part.is_empty() => {
                    params.push((name.clone(), part.into()))
                }
                _ => return None,
            }
        }
        Some(params)
    }
}

#[cfg(test)]
mod tests {
    use super::Pattern;

    #[test]
    fn patterns_match_paths() {
        let p = Pattern::parse("/game/{id}");
        assert_eq!(
            p.matches("/game/42").unwrap(),
            vec![("id".into(), "42".into())]
        );
        assert!(p.matches("/game").is_none());
        assert!(p.matches("/game/").is_none());
        assert!(p.matches("/game/1/2").is_none());
        let s = Pattern::parse("/chat");
        assert!(s.matches("/chat").is_some());
        assert!(s.matches("/chat2").is_none());
        assert!(Pattern::parse("/").matches("/").is_some());
    }
}
