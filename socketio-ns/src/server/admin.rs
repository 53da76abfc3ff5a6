//! The server side of [`@socket.io/admin-ui`](https://socket.io/docs/v4/admin-ui/) 0.5
//! (feature `admin-ui`): an admin namespace that the hosted or self-served dashboard connects
//! to, speaking what `instrument()` of the Node package speaks.
//!
//! - Authentication as the Node middleware does it: a `sessionId` (in the CONNECT auth payload)
//!   the namespace issued before, or `username` and `password` checked against a bcrypt hash;
//!   anything else is refused with CONNECT_ERROR `{"message":"invalid credentials"}` and nothing
//!   of the namespace runs. A successful login is sent the event `session` with a new id.
//! - On connect: `config` (the supported features), and in development mode `all_sockets`
//!   (every socket of every namespace of this process, through the adapters, so a cluster
//!   adapter reports every process's).
//! - Every 2 s, to every admin socket: `server_stats`.
//! - In development mode, as they happen: `socket_connected`, `socket_updated`,
//!   `socket_disconnected`, `room_joined`, `room_left`, `event_received`, `event_sent`.
//! - `aggregatedEvents` in `server_stats`: counted by the engine's observer (sessions opened
//!   and closed, message packets and bytes in and out), as the Node package counts them.
//! - Unless read-only, the operations `emit`, `join`, `leave` and `_disconnect`, each on a
//!   namespace and an optional room filter, applied through the adapter (every process).
//!
//! When the admin UI is not enabled nothing here exists at run time: the runtime's observer is
//! `None` and the adapters are not wrapped.

use std::collections::{HashMap, HashSet};
use std::fmt;
use std::future::Future;
use std::sync::{Arc, Mutex, OnceLock, Weak};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use serde_json::{Map, Value, json};

use crate::adapter::{
    AckSink, Adapter, AdapterError, AdapterFactory, BoxFuture, BroadcastOperator, BroadcastOptions,
    BroadcastPacket, ResumeFn, Room, ServerEventHandler, SessionToPersist, Sid, SocketEmitter,
    SocketInfo, StoreConfig,
};
use crate::codec::socketio::Event;
use crate::codec::socketio::encode::Encoded;
use crate::connection::{DisconnectReason, Socket};
use crate::engine::{CloseReason, EngineObserver};
use crate::namespace::instance::NamespaceInstance;
use crate::namespace::observe::Observer;
use crate::namespace::registry::Runtime;
use crate::namespace::{ConnectError, Context, HandlerError, Namespace, NoMethods};

/// The message of the CONNECT_ERROR a refused admin client gets, as the Node package words it.
pub const INVALID_CREDENTIALS: &str = "invalid credentials";

/// How often `server_stats` is sent, as in the Node package.
const STATS_INTERVAL: Duration = Duration::from_secs(2);

/// Options of the admin namespace, given to [`crate::Builder::admin_ui`]; the counterpart of the
/// options of `instrument(io, {...})` in `@socket.io/admin-ui`.
///
/// ```
/// # fn f() -> Result<(), socketio_ns::admin_ui::InvalidHash> {
/// use socketio_ns::admin_ui::{AdminMode, AdminUi};
/// // the hash of "changeit" (made with bcryptjs' `hashSync("changeit", 10)`; `bcrypt::hash`
/// // makes the same kind)
/// let hash = "$2a$10$lFb4dAho.XozCM3sIkkSfeXbDsbmNJt74XEXTz6EtzfUFuLUGTUzi";
/// let admin = AdminUi::basic_auth("admin", hash)?
///     .namespace("/admin")
///     .mode(AdminMode::Production)
///     .readonly(true);
/// let _server = socketio_ns::Server::builder().admin_ui(admin).build();
/// # Ok(()) }
/// ```
#[derive(Clone)]
pub struct AdminUi {
    namespace: String,
    auth: AdminAuth,
    readonly: bool,
    mode: AdminMode,
    server_id: Option<String>,
}

impl fmt::Debug for AdminUi {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("AdminUi")
            .field("namespace", &self.namespace)
            .field("auth", &self.auth)
            .field("readonly", &self.readonly)
            .field("mode", &self.mode)
            .field("server_id", &self.server_id)
            .finish()
    }
}

/// How admin clients authenticate.
#[derive(Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum AdminAuth {
    /// A user name and the bcrypt hash of the password (`auth: {type: "basic", ...}`).
    Basic {
        /// The user name the dashboard must send.
        username: String,
        /// The bcrypt hash (`$2a$`, `$2b$` or `$2y$`) of the password.
        password_hash: String,
    },
    /// Anyone may connect (`auth: false`); only for a dashboard no one else can reach.
    Disabled,
}

impl fmt::Debug for AdminAuth {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            AdminAuth::Basic { username, .. } => f
                .debug_struct("Basic")
                .field("username", username)
                .finish_non_exhaustive(),
            AdminAuth::Disabled => f.write_str("Disabled"),
        }
    }
}

/// What the admin namespace reports (`mode` in the Node package).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum AdminMode {
    /// Every socket, room change and event, as it happens (`all_sockets`, `socket_connected`,
    /// ..., `event_sent`). The default, as with `NODE_ENV` unset in Node.
    #[default]
    Development,
    /// Only `server_stats` and the operations: nothing is observed per socket.
    Production,
}

/// The password hash given to [`AdminUi::basic_auth`] is not a bcrypt hash.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("the `password` field must be a valid bcrypt hash")]
pub struct InvalidHash;

impl AdminUi {
    /// Basic authentication: `username` and a password whose bcrypt hash is `password_hash`.
    /// Fails when the hash is not a bcrypt hash (the Node package throws the same message).
    pub fn basic_auth(
        username: impl Into<String>,
        password_hash: impl Into<String>,
    ) -> Result<Self, InvalidHash> {
        let password_hash = password_hash.into();
        password_hash
            .parse::<bcrypt::HashParts>()
            .map_err(|_| InvalidHash)?;
        Ok(Self::with_auth(AdminAuth::Basic {
            username: username.into(),
            password_hash,
        }))
    }

    /// No authentication at all (`auth: false`): anyone reaching the server may administer it.
    pub fn without_auth() -> Self {
        Self::with_auth(AdminAuth::Disabled)
    }

    fn with_auth(auth: AdminAuth) -> Self {
        AdminUi {
            namespace: "/admin".into(),
            auth,
            readonly: false,
            mode: AdminMode::Development,
            server_id: None,
        }
    }

    /// The namespace the dashboard connects to. Default `/admin`.
    pub fn namespace(mut self, path: impl Into<String>) -> Self {
        self.namespace = path.into();
        self
    }

    /// Read-only: the dashboard sees everything and may change nothing (`emit`, `join`,
    /// `leave` and `_disconnect` are not offered, and ignored). Default `false`.
    pub fn readonly(mut self, readonly: bool) -> Self {
        self.readonly = readonly;
        self
    }

    /// Development (the default) or production mode.
    pub fn mode(mut self, mode: AdminMode) -> Self {
        self.mode = mode;
        self
    }

    /// The name of this server in the dashboard's server list. Default: the host name.
    pub fn server_id(mut self, id: impl Into<String>) -> Self {
        self.server_id = Some(id.into());
        self
    }

    /// The features announced in `config`, in the Node package's order.
    fn features(&self) -> Vec<&'static str> {
        let mut f = if self.readonly {
            Vec::new()
        } else {
            vec![
                "EMIT",
                "JOIN",
                "LEAVE",
                "DISCONNECT",
                "MJOIN",
                "MLEAVE",
                "MDISCONNECT",
            ]
        };
        f.push("AGGREGATED_EVENTS");
        if self.mode == AdminMode::Development {
            f.push("ALL_EVENTS");
        }
        f
    }
}

// ---------------------------------------------------------------------------------------------
// Shared state

/// What the admin namespace's sockets, the observer and the stats ticker share.
pub(crate) struct AdminState {
    options: AdminUi,
    features: Vec<&'static str>,
    /// Session ids handed out after a successful login (the Node `InMemoryStore`).
    sessions: Mutex<HashSet<String>>,
    started: Instant,
    server_id: String,
    hostname: String,
    rt: OnceLock<Weak<Runtime>>,
    admin_ns: OnceLock<Weak<NamespaceInstance>>,
    ticker: OnceLock<()>,
    /// `aggregatedEvents` gathered since the last `server_stats`, by (second, type, subtype).
    events: Mutex<EventBuffer>,
    /// What the Node package keeps on each socket of this process and the runtime does not:
    /// when it connected, and its data (development mode).
    sockets: Mutex<HashMap<String, Seen>>,
}

/// What the dashboard is shown of a socket beyond what the runtime describes.
struct Seen {
    /// When the socket was first seen (its CONNECT), in ms since the epoch: `handshake.issued`.
    issued: u64,
    /// Its data (`socket.data`), once set.
    data: Option<Value>,
}

impl fmt::Debug for AdminState {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("AdminState")
            .field("options", &self.options)
            .finish_non_exhaustive()
    }
}

/// The Node package's `EventBuffer`: counts by (second, type, subtype), each event in the
/// second it happened, emptied by each `server_stats`.
#[derive(Default)]
struct EventBuffer {
    counts: HashMap<(u64, &'static str, Option<&'static str>), u64>,
}

impl EventBuffer {
    fn push(&mut self, second: u64, kind: &'static str, sub: Option<&'static str>, n: u64) {
        *self.counts.entry((second, kind, sub)).or_default() += n;
    }
}

fn hostname() -> String {
    std::fs::read_to_string("/proc/sys/kernel/hostname")
        .or_else(|_| std::fs::read_to_string("/etc/hostname"))
        .map(|h| h.trim().to_owned())
        .ok()
        .filter(|h| !h.is_empty())
        .or_else(|| std::env::var("HOSTNAME").ok())
        .unwrap_or_else(|| "localhost".into())
}

impl AdminState {
    pub(crate) fn new(options: AdminUi) -> Arc<Self> {
        let hostname = hostname();
        Arc::new(AdminState {
            features: options.features(),
            server_id: options
                .server_id
                .clone()
                .unwrap_or_else(|| hostname.clone()),
            hostname,
            options,
            sessions: Mutex::default(),
            started: Instant::now(),
            rt: OnceLock::new(),
            admin_ns: OnceLock::new(),
            ticker: OnceLock::new(),
            events: Mutex::default(),
            sockets: Mutex::default(),
        })
    }

    pub(crate) fn path(&self) -> &str {
        &self.options.namespace
    }

    pub(crate) fn development(&self) -> bool {
        self.options.mode == AdminMode::Development
    }

    /// Called once the runtime exists: reaches it weakly (the runtime holds this state).
    pub(crate) fn attach(self: &Arc<Self>, rt: &Arc<Runtime>) {
        let _ = self.rt.set(Arc::downgrade(rt));
        if let Some((_, ns)) = rt.resolve(&self.options.namespace) {
            let _ = self.admin_ns.set(Arc::downgrade(&ns));
        }
        if tokio::runtime::Handle::try_current().is_ok() {
            self.start_ticker();
        }
    }

    fn runtime(&self) -> Option<Arc<Runtime>> {
        self.rt.get()?.upgrade()
    }

    /// Every socket of the admin namespace, on every process.
    fn admins(&self) -> Option<BroadcastOperator> {
        let ns = self.admin_ns.get()?.upgrade()?;
        Some(ns.operator(Duration::from_secs(5)))
    }

    /// Emits to every admin socket (a broadcast is sent when made; nothing waits here).
    fn emit<A: crate::Args>(&self, event: &str, args: A) {
        if let Some(admins) = self.admins() {
            drop(admins.emit(event, args));
        }
    }

    /// Emits to every admin socket but `leaving`, when that one is an admin socket on its way
    /// out: the Node package reports a departure once the socket is gone.
    fn emit_after<A: crate::Args>(&self, nsp: &str, leaving: &str, event: &str, args: A) {
        if let Some(admins) = self.admins() {
            let admins = if nsp == self.options.namespace {
                admins.except(leaving.to_owned())
            } else {
                admins
            };
            drop(admins.emit(event, args));
        }
    }

    /// Starts the `server_stats` ticker, once (when the server is built inside a runtime, else
    /// when the first admin client connects).
    fn start_ticker(self: &Arc<Self>) {
        if self.ticker.set(()).is_err() {
            return;
        }
        let state = Arc::downgrade(self);
        tokio::spawn(async move {
            let mut every = tokio::time::interval(STATS_INTERVAL);
            loop {
                every.tick().await;
                let Some(state) = state.upgrade() else { return };
                let Some(rt) = state.runtime() else { return };
                if rt.is_closing() {
                    return;
                }
                let stats = state.stats(&rt);
                drop(rt);
                state.emit("server_stats", stats);
            }
        });
    }

    /// Adds `n` events of `kind` (and `sub`) to the current second's counts.
    fn count(&self, kind: &'static str, sub: Option<&'static str>, n: u64) {
        let second = unix_ms() / 1000 * 1000;
        let mut buf = self.events.lock().unwrap_or_else(|x| x.into_inner());
        buf.push(second, kind, sub, n);
    }

    /// The `server_stats` payload.
    fn stats(&self, rt: &Runtime) -> Value {
        // The sessions open now (a closed one may wait in the table for its close packet to
        // be fetched; the reference server counts it out at once).
        let sessions: Vec<_> = rt
            .engine_sessions()
            .into_iter()
            .filter(|s| !s.is_closed())
            .collect();
        let polling = sessions
            .iter()
            .filter(|s| s.transport() == crate::engine::Transport::Polling)
            .count();
        let aggregated: Vec<Value> = {
            let mut buf = self.events.lock().unwrap_or_else(|x| x.into_inner());
            buf.counts
                .drain()
                .map(|((timestamp, kind, sub), count)| {
                    let mut e = json!({"timestamp": timestamp, "type": kind, "count": count});
                    if let Some(sub) = sub {
                        e["subType"] = json!(sub);
                    }
                    e
                })
                .collect()
        };
        let namespaces: Vec<Value> = rt
            .instances()
            .iter()
            .map(|ns| json!({"name": &*ns.path, "socketsCount": ns.all().len()}))
            .collect();
        json!({
            "serverId": self.server_id,
            "hostname": self.hostname,
            "pid": std::process::id(),
            "uptime": self.started.elapsed().as_secs_f64(),
            "clientsCount": sessions.len(),
            "pollingClientsCount": polling,
            "aggregatedEvents": aggregated,
            "namespaces": namespaces,
        })
    }

    /// Checks a CONNECT auth payload as the Node middleware does; a new session id on a login
    /// with credentials.
    async fn authenticate(&self, auth: Option<&str>) -> Result<Option<String>, ConnectError> {
        let AdminAuth::Basic {
            username,
            password_hash,
        } = &self.options.auth
        else {
            return Ok(None);
        };
        let auth: Value = auth
            .and_then(|a| serde_json::from_str(a).ok())
            .unwrap_or(Value::Null);
        if let Some(sid) = auth.get("sessionId").and_then(Value::as_str)
            && self
                .sessions
                .lock()
                .unwrap_or_else(|x| x.into_inner())
                .contains(sid)
        {
            return Ok(None);
        }
        if auth.get("username").and_then(Value::as_str) == Some(username.as_str()) {
            let password = auth
                .get("password")
                .and_then(Value::as_str)
                .unwrap_or("")
                .to_owned();
            let hash = password_hash.clone();
            // bcrypt is slow on purpose: off the runtime's threads.
            let ok = tokio::task::spawn_blocking(move || bcrypt::verify(password, &hash))
                .await
                .ok()
                .and_then(Result::ok)
                .unwrap_or(false);
            if ok {
                let id = random_id();
                self.sessions
                    .lock()
                    .unwrap_or_else(|x| x.into_inner())
                    .insert(id.clone());
                return Ok(Some(id));
            }
        }
        tracing::info!(ns = %self.options.namespace, "admin UI: invalid credentials");
        Err(ConnectError::new(INVALID_CREDENTIALS))
    }
}

/// 16 hex digits, as the Node package's `randomBytes(8)`.
fn random_id() -> String {
    use rand::Rng;
    let n: u64 = rand::rng().random();
    format!("{n:016x}")
}

fn unix_ms() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as u64)
}

/// Now as JavaScript's `Date.prototype.toJSON` writes it: `2026-11-28T21:40:10.123Z`.
fn iso_now() -> String {
    iso(unix_ms())
}

fn iso(ms: u64) -> String {
    let secs = ms / 1000;
    let (days, rem) = (secs / 86_400, secs % 86_400);
    // Howard Hinnant's civil_from_days.
    let z = days as i64 + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = yoe + era * 400 + i64::from(m <= 2);
    format!(
        "{y:04}-{m:02}-{d:02}T{:02}:{:02}:{:02}.{:03}Z",
        rem / 3600,
        rem / 60 % 60,
        rem % 60,
        ms % 1000
    )
}

/// A date as JavaScript's `Date.prototype.toString` writes it, in UTC (the handshake's `time`):
/// `Sun Nov 29 2026 00:41:16 GMT+0000 (Coordinated Universal Time)`.
fn date_string(ms: u64) -> String {
    const DAYS: [&str; 7] = ["Thu", "Fri", "Sat", "Sun", "Mon", "Tue", "Wed"];
    const MONTHS: [&str; 12] = [
        "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
    ];
    // The ISO form has the fields: `YYYY-MM-DDTHH:MM:SS.mmmZ`.
    let iso = iso(ms);
    let month: usize = iso[5..7].parse().unwrap_or(1);
    format!(
        "{} {} {} {} {} GMT+0000 (Coordinated Universal Time)",
        DAYS[(ms / 86_400_000 % 7) as usize],
        MONTHS[month - 1],
        &iso[8..10],
        &iso[0..4],
        &iso[11..19]
    )
}

// ---------------------------------------------------------------------------------------------
// Sockets as the dashboard sees them

/// A socket as the Node package's `serialize()` writes it; `seen`: what this process knows of
/// it beyond `info` (nothing for another process's socket).
fn serialize(info: &SocketInfo, transport: Option<&str>, seen: Option<&Seen>) -> Value {
    let h = &info.handshake;
    let mut headers = Map::new();
    for (k, v) in &h.headers {
        match headers.get_mut(k) {
            Some(Value::String(prev)) => {
                prev.push_str(", ");
                prev.push_str(v);
            }
            _ => {
                headers.insert(k.clone(), Value::String(v.clone()));
            }
        }
    }
    let mut query = Map::new();
    for pair in h.query().unwrap_or("").split('&').filter(|p| !p.is_empty()) {
        let (k, v) = pair.split_once('=').unwrap_or((pair, ""));
        query
            .entry(k.to_owned())
            .or_insert_with(|| Value::String(v.to_owned()));
    }
    let address = h
        .header("cf-connecting-ip")
        .or_else(|| h.header("x-forwarded-for"))
        .map(str::to_owned)
        .or_else(|| h.address.map(|a| a.ip().to_string()));
    let client_id: String = h.engine_id.chars().take(12).collect();
    json!({
        "id": info.id,
        "clientId": client_id,
        "transport": transport,
        "nsp": info.ns,
        "data": seen.and_then(|s| s.data.clone()).unwrap_or_else(|| json!({})),
        "handshake": {
            "address": address,
            "headers": headers,
            "query": query,
            "issued": seen.map(|s| s.issued),
            "secure": false,
            "time": seen.map(|s| date_string(s.issued)),
            "url": h.url,
            "xdomain": h.header("origin").is_some(),
        },
        "rooms": info.rooms,
    })
}

/// Every socket of every namespace of this process (each namespace through its adapter, so a
/// cluster adapter adds the other processes' sockets).
async fn all_sockets(state: &AdminState, rt: Arc<Runtime>) -> Vec<Value> {
    let transports: HashMap<String, &'static str> = rt
        .engine_sessions()
        .iter()
        .map(|s| (s.sid().to_owned(), s.transport().as_str()))
        .collect();
    let timeout = rt.config.ack_timeout;
    let mut out = Vec::new();
    for ns in rt.instances() {
        match ns.operator(timeout).fetch_sockets().await {
            Ok(sockets) => {
                let seen = state.sockets.lock().unwrap_or_else(|x| x.into_inner());
                out.extend(sockets.iter().map(|s| {
                    let transport = transports.get(&s.handshake.engine_id).copied();
                    serialize(s, transport, seen.get(&s.id))
                }))
            }
            Err(e) => tracing::warn!(ns = %ns.path, error = %e, "admin UI: fetch_sockets failed"),
        }
    }
    out
}

// ---------------------------------------------------------------------------------------------
// The admin namespace

/// One socket of the admin namespace: the dashboard.
pub(crate) struct AdminSocket {
    state: Arc<AdminState>,
}

impl AdminSocket {
    pub(crate) fn new(state: Arc<AdminState>) -> Self {
        AdminSocket { state }
    }

    /// The operator an operation applies to: the namespace, within the room `filter` if any.
    fn target(&self, nsp: &str, filter: Option<String>) -> Option<BroadcastOperator> {
        let rt = self.state.runtime()?;
        let (_, ns) = rt.resolve(nsp)?;
        let op = ns.operator(rt.config.ack_timeout);
        Some(match filter.filter(|f| !f.is_empty()) {
            Some(room) => op.to(room),
            None => op,
        })
    }

    async fn operation(&self, event: &Event) -> Result<(), HandlerError> {
        let bad = |e: serde_json::Error| HandlerError::new("invalid_arguments", e.to_string());
        let nsp: String = event.arg(0).map_err(bad)?;
        let res = match event.name() {
            "emit" => {
                let filter: Option<String> = event.arg(1).map_err(bad)?;
                let ev: String = event.arg(2).map_err(bad)?;
                tracing::debug!(%nsp, ?filter, %ev, "admin UI: emit");
                match self.target(&nsp, filter) {
                    Some(op) => op
                        .emit(&ev, event.args_from(3))
                        .await
                        .map_err(|e| e.to_string()),
                    None => Ok(()),
                }
            }
            "join" | "leave" => {
                let room: String = event.arg(1).map_err(bad)?;
                let filter: Option<String> = event.arg(2).map_err(bad)?;
                tracing::debug!(%nsp, %room, ?filter, op = event.name(), "admin UI");
                match self.target(&nsp, filter) {
                    Some(op) if event.name() == "join" => op.sockets_join(room).await,
                    Some(op) => op.sockets_leave(room).await,
                    None => Ok(()),
                }
                .map_err(|e| e.to_string())
            }
            "_disconnect" => {
                let close: Option<bool> = event.arg(1).map_err(bad)?;
                let filter: Option<String> = event.arg(2).map_err(bad)?;
                tracing::debug!(%nsp, ?filter, "admin UI: disconnect");
                match self.target(&nsp, filter) {
                    Some(op) => op.disconnect_sockets(close.unwrap_or(false)).await,
                    None => Ok(()),
                }
                .map_err(|e| e.to_string())
            }
            _ => Ok(()),
        };
        res.map_err(|e| HandlerError::new("handler_error", e))
    }
}

impl Namespace for AdminSocket {
    const PATH: &'static str = "/admin";
    const METHODS: &'static [&'static str] = &[];
    type Method = NoMethods;

    fn connect(
        &mut self,
        cx: &mut Context<Self>,
        auth: Option<&str>,
    ) -> impl Future<Output = Result<(), ConnectError>> + Send {
        let state = self.state.clone();
        let auth = auth.map(str::to_owned);
        async move {
            let session = state.authenticate(auth.as_deref()).await?;
            if let Some(id) = session {
                cx.emit("session", id);
            }
            cx.emit("config", json!({ "supportedFeatures": state.features }));
            state.start_ticker();
            if state.development()
                && let Some(rt) = state.runtime()
            {
                let socket = cx.socket();
                cx.spawn(async move {
                    let sockets = all_sockets(&state, rt).await;
                    socket.emit("all_sockets", sockets);
                });
            }
            Ok(())
        }
    }

    fn method_of(_: &Event) -> Option<NoMethods> {
        None
    }

    async fn call_method(
        &mut self,
        _cx: &mut Context<Self>,
        event: Event,
    ) -> Result<(), HandlerError> {
        if self.state.options.readonly {
            return Ok(());
        }
        self.operation(&event).await
    }
}

// ---------------------------------------------------------------------------------------------
// Development mode: what every socket does

/// The arguments of an event as JSON values, its name first.
fn event_args(event: &Event) -> Vec<Value> {
    let mut args = Vec::with_capacity(event.len() + 1);
    args.push(Value::String(event.name().to_owned()));
    for i in 0..event.len() {
        args.push(
            event
                .raw_arg(i)
                .and_then(|r| serde_json::from_str(r).ok())
                .unwrap_or(Value::Null),
        );
    }
    args
}

/// The event name and arguments of an encoded EVENT packet (`4` + Socket.IO packet).
fn packet_args(packet: &Encoded) -> Option<Value> {
    use crate::codec::socketio::packet;
    let body = packet.text.as_str().strip_prefix('4')?;
    let p = packet::decode(body, packet.attachments.len()).ok()?;
    serde_json::from_str(p.data?).ok()
}

/// The reason the reference server's engine gives a closed session (`rawDisconnection`).
fn engine_reason(reason: CloseReason) -> &'static str {
    match reason {
        CloseReason::ClientClose | CloseReason::TransportClose => "transport close",
        CloseReason::PingTimeout => "ping timeout",
        CloseReason::ParseError => "parse error",
        // The server closed it (`disconnect(true)`, shutdown): `socket.close()` in Node.
        CloseReason::ServerClose | CloseReason::ServerShutdown => "forced close",
        _ => "transport error",
    }
}

/// `aggregatedEvents` as the Node package counts them from its engine's events, and the
/// transport change of an upgrade (`socket_updated`, at once, as the Node package does).
impl EngineObserver for AdminState {
    fn session_opened(&self, _sid: &str, _transport: crate::engine::Transport) {
        self.count("rawConnection", None, 1);
    }

    fn session_upgraded(&self, sid: &str) {
        if !self.development() {
            return;
        }
        let Some(session) = self.runtime().and_then(|rt| rt.engine_session(sid)) else {
            return;
        };
        for socket in session.data().sockets() {
            self.emit(
                "socket_updated",
                json!({"id": &*socket.id, "nsp": socket.nsp(), "transport": "websocket"}),
            );
        }
    }

    fn session_closed(&self, _sid: &str, reason: CloseReason) {
        self.count("rawDisconnection", Some(engine_reason(reason)), 1);
    }

    fn packet_in(&self, bytes: usize) {
        let second = unix_ms() / 1000 * 1000;
        let mut buf = self.events.lock().unwrap_or_else(|x| x.into_inner());
        buf.push(second, "packetsIn", None, 1);
        buf.push(second, "bytesIn", None, bytes as u64);
    }

    fn packets_out(&self, packets: usize, bytes: usize) {
        let second = unix_ms() / 1000 * 1000;
        let mut buf = self.events.lock().unwrap_or_else(|x| x.into_inner());
        buf.push(second, "packetsOut", None, packets as u64);
        buf.push(second, "bytesOut", None, bytes as u64);
    }
}

impl Observer for AdminState {
    fn socket_connected(&self, ns: &Arc<NamespaceInstance>, socket: &Socket, data: Option<&Value>) {
        let Some(handshake) = ns.sockets.describe(&socket.id) else {
            return;
        };
        let info = SocketInfo {
            id: socket.id.to_string(),
            ns: ns.path.to_string(),
            rooms: ns.rooms(&socket.id),
            handshake,
        };
        let seen = Seen {
            issued: unix_ms(),
            data: data.cloned(),
        };
        let s = serialize(&info, Some(socket.conn.transport().as_str()), Some(&seen));
        self.sockets
            .lock()
            .unwrap_or_else(|x| x.into_inner())
            .insert(info.id.clone(), seen);
        // The room of its own id, which the runtime does not join through the adapter: the
        // Node package reports that join first.
        let now = iso_now();
        if info.rooms.iter().any(|r| **r == *info.id) {
            self.emit("room_joined", (&*ns.path, &info.id, &info.id, &now));
        }
        self.emit("socket_connected", (s, now));
    }

    fn socket_disconnected(
        &self,
        ns: &NamespaceInstance,
        socket: &Socket,
        reason: DisconnectReason,
    ) {
        self.sockets
            .lock()
            .unwrap_or_else(|x| x.into_inner())
            .remove(&*socket.id);
        self.emit_after(
            &ns.path,
            &socket.id,
            "socket_disconnected",
            (&*ns.path, &*socket.id, reason.as_str(), iso_now()),
        );
    }

    fn data_changed(&self, ns: &NamespaceInstance, socket: &Socket, data: &Value) {
        // As the Node package: data set before the socket is connected shows in
        // `socket_connected` (which brings it); a change later is reported on its own.
        if !socket.is_connected() {
            return;
        }
        if let Some(seen) = self
            .sockets
            .lock()
            .unwrap_or_else(|x| x.into_inner())
            .get_mut(&*socket.id)
        {
            seen.data = Some(data.clone());
        }
        self.emit(
            "socket_updated",
            json!({"id": &*socket.id, "nsp": &*ns.path, "data": data}),
        );
    }

    fn event_received(&self, ns: &NamespaceInstance, socket: &Socket, event: &Event) {
        if *ns.path == *self.options.namespace {
            return;
        }
        self.emit(
            "event_received",
            (&*ns.path, &*socket.id, event_args(event), iso_now()),
        );
    }

    fn event_sent(&self, ns: &NamespaceInstance, socket: &Socket, packet: &Encoded) {
        if *ns.path == *self.options.namespace {
            return;
        }
        if let Some(args) = packet_args(packet) {
            self.emit("event_sent", (&*ns.path, &*socket.id, args, iso_now()));
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Development mode: rooms, seen by wrapping each namespace's adapter

/// Wraps the server's adapter factory so that room changes reach the dashboard.
pub(crate) struct ObservedAdapters {
    pub(crate) inner: Arc<dyn AdapterFactory>,
    pub(crate) state: Arc<AdminState>,
}

impl AdapterFactory for ObservedAdapters {
    fn create(&self, sockets: Arc<dyn SocketEmitter>) -> Arc<dyn Adapter> {
        let path: Arc<str> = sockets.path().into();
        Arc::new(ObservedAdapter {
            inner: self.inner.create(sockets),
            path,
            state: Arc::downgrade(&self.state),
        })
    }
}

struct ObservedAdapter {
    inner: Arc<dyn Adapter>,
    path: Arc<str>,
    state: Weak<AdminState>,
}

impl ObservedAdapter {
    /// The rooms of each of `sids` (nothing when the dashboard is gone).
    fn snapshot(&self, sids: &[Sid]) -> Option<Vec<Vec<Room>>> {
        self.state.upgrade()?;
        Some(sids.iter().map(|s| self.inner.socket_rooms(s)).collect())
    }

    /// Reports, for each of `sids`, the rooms it is in now and was not in `before`
    /// (`room_joined`), and those it was in and is not any more (`room_left`).
    fn report(&self, sids: &[Sid], before: Option<Vec<Vec<Room>>>) {
        let (Some(state), Some(before)) = (self.state.upgrade(), before) else {
            return;
        };
        let now = iso_now();
        for (sid, before) in sids.iter().zip(before) {
            let after = self.inner.socket_rooms(sid);
            for room in after.iter().filter(|r| !before.contains(r)) {
                state.emit("room_joined", (&*self.path, room, &**sid, &now));
            }
            for room in before.iter().filter(|r| !after.contains(r)) {
                state.emit_after(
                    &self.path,
                    sid,
                    "room_left",
                    (&*self.path, room, &**sid, &now),
                );
            }
        }
    }

    fn tracked(&self, sid: &Sid, f: impl FnOnce(&dyn Adapter)) {
        let sids = std::slice::from_ref(sid);
        let before = self.snapshot(sids);
        f(&*self.inner);
        self.report(sids, before);
    }
}

impl Adapter for ObservedAdapter {
    fn add_all(&self, sid: &Sid, rooms: &[Room]) {
        self.tracked(sid, |a| a.add_all(sid, rooms));
    }

    fn del(&self, sid: &Sid, rooms: &[Room]) {
        self.tracked(sid, |a| a.del(sid, rooms));
    }

    fn del_all(&self, sid: &Sid) {
        self.tracked(sid, |a| a.del_all(sid));
    }

    fn socket_rooms(&self, sid: &Sid) -> Vec<Room> {
        self.inner.socket_rooms(sid)
    }

    fn socket_room_count(&self, sid: &Sid) -> usize {
        self.inner.socket_room_count(sid)
    }

    fn local_sockets(&self, opts: &BroadcastOptions) -> Vec<Sid> {
        self.inner.local_sockets(opts)
    }

    fn server_count(&self) -> BoxFuture<'_, Result<usize, AdapterError>> {
        self.inner.server_count()
    }

    fn broadcast(
        &self,
        packet: BroadcastPacket,
        opts: BroadcastOptions,
    ) -> BoxFuture<'_, Result<(), AdapterError>> {
        self.inner.broadcast(packet, opts)
    }

    fn broadcast_with_ack(
        &self,
        packet: BroadcastPacket,
        opts: BroadcastOptions,
        timeout: Duration,
        acks: AckSink,
    ) -> BoxFuture<'_, Result<(), AdapterError>> {
        self.inner.broadcast_with_ack(packet, opts, timeout, acks)
    }

    fn fetch_sockets(
        &self,
        opts: BroadcastOptions,
    ) -> BoxFuture<'_, Result<Vec<SocketInfo>, AdapterError>> {
        self.inner.fetch_sockets(opts)
    }

    fn add_sockets(
        &self,
        opts: BroadcastOptions,
        rooms: Vec<Room>,
    ) -> BoxFuture<'_, Result<(), AdapterError>> {
        // This process's sockets are reported here; another process reports its own.
        Box::pin(async move {
            let sids = self.inner.local_sockets(&opts);
            let before = self.snapshot(&sids);
            let r = self.inner.add_sockets(opts, rooms).await;
            self.report(&sids, before);
            r
        })
    }

    fn del_sockets(
        &self,
        opts: BroadcastOptions,
        rooms: Vec<Room>,
    ) -> BoxFuture<'_, Result<(), AdapterError>> {
        Box::pin(async move {
            let sids = self.inner.local_sockets(&opts);
            let before = self.snapshot(&sids);
            let r = self.inner.del_sockets(opts, rooms).await;
            self.report(&sids, before);
            r
        })
    }

    fn disconnect_sockets(
        &self,
        opts: BroadcastOptions,
        close: bool,
    ) -> BoxFuture<'_, Result<(), AdapterError>> {
        self.inner.disconnect_sockets(opts, close)
    }

    fn all_rooms(&self) -> BoxFuture<'_, Result<Vec<Room>, AdapterError>> {
        self.inner.all_rooms()
    }

    fn local_rooms(&self) -> Vec<Room> {
        self.inner.local_rooms()
    }

    fn server_side_emit(&self, data: Vec<Value>) -> BoxFuture<'_, Result<(), AdapterError>> {
        self.inner.server_side_emit(data)
    }

    fn server_side_emit_with_ack(
        &self,
        data: Vec<Value>,
    ) -> BoxFuture<'_, Result<Vec<Value>, AdapterError>> {
        self.inner.server_side_emit_with_ack(data)
    }

    fn set_server_event_handler(&self, handler: ServerEventHandler) {
        self.inner.set_server_event_handler(handler)
    }

    fn enable_recovery(&self, config: StoreConfig) -> bool {
        self.inner.enable_recovery(config)
    }

    fn current_offset(&self) -> Option<String> {
        self.inner.current_offset()
    }

    fn persist_session(&self, session: SessionToPersist) {
        self.inner.persist_session(session)
    }

    fn restore_session(
        &self,
        pid: String,
        offset: Option<String>,
        resume: ResumeFn,
    ) -> BoxFuture<'_, Result<bool, AdapterError>> {
        self.inner.restore_session(pid, offset, resume)
    }

    fn shares_sessions(&self) -> bool {
        self.inner.shares_sessions()
    }

    fn restored_elsewhere(&self, pid: &str) -> BoxFuture<'static, ()> {
        self.inner.restored_elsewhere(pid)
    }

    fn joins_settled(&self) -> Option<BoxFuture<'static, ()>> {
        self.inner.joins_settled()
    }

    fn close(&self) -> BoxFuture<'_, Result<(), AdapterError>> {
        self.inner.close()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dates_as_javascript_writes_them() {
        assert_eq!(iso(0), "1970-01-01T00:00:00.000Z");
        assert_eq!(iso(1_795_902_010_123), "2026-11-28T21:40:10.123Z");
        assert_eq!(iso(951_782_400_000), "2000-02-29T00:00:00.000Z");
    }

    #[test]
    fn dates_as_javascript_prints_them() {
        assert_eq!(
            date_string(0),
            "Thu Jan 01 1970 00:00:00 GMT+0000 (Coordinated Universal Time)"
        );
        assert_eq!(
            date_string(1_795_912_876_545),
            "Sun Nov 29 2026 00:41:16 GMT+0000 (Coordinated Universal Time)"
        );
        assert_eq!(
            date_string(951_782_400_000),
            "Tue Feb 29 2000 00:00:00 GMT+0000 (Coordinated Universal Time)"
        );
    }

    #[test]
    fn a_hash_made_by_bcryptjs_verifies() {
        let hash = "$2a$10$lFb4dAho.XozCM3sIkkSfeXbDsbmNJt74XEXTz6EtzfUFuLUGTUzi";
        assert!(bcrypt::verify("changeit", hash).unwrap());
        assert!(!bcrypt::verify("changeit!", hash).unwrap());
    }

    #[test]
    fn a_hash_that_is_not_bcrypt_is_refused() {
        assert!(AdminUi::basic_auth("admin", "changeit").is_err());
        let hash = bcrypt::hash("changeit", 4).unwrap();
        assert!(AdminUi::basic_auth("admin", hash).is_ok());
    }

    #[test]
    fn features_follow_the_node_package() {
        let a = AdminUi::without_auth();
        assert_eq!(
            a.features(),
            [
                "EMIT",
                "JOIN",
                "LEAVE",
                "DISCONNECT",
                "MJOIN",
                "MLEAVE",
                "MDISCONNECT",
                "AGGREGATED_EVENTS",
                "ALL_EVENTS"
            ]
        );
        let a = a.readonly(true).mode(AdminMode::Production);
        assert_eq!(a.features(), ["AGGREGATED_EVENTS"]);
    }
}
