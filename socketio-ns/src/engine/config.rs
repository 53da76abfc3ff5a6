//! The engine's settings: [`EngineConfig`], the transports, CORS and the request filter.

use std::fmt;
use std::sync::Arc;
use std::time::Duration;

/// An Engine.IO transport.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Transport {
    /// HTTP long-polling.
    Polling,
    /// WebSocket.
    WebSocket,
}

impl Transport {
    /// The name used in the `transport` query parameter.
    pub fn as_str(self) -> &'static str {
        match self {
            Transport::Polling => "polling",
            Transport::WebSocket => "websocket",
        }
    }
}

/// The Engine.IO protocol revision a session speaks, from the `EIO` query parameter.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum ProtocolVersion {
    /// Revision 3: Engine.IO v3, spoken by Socket.IO v2 clients. Served only with
    /// [`EngineConfig::allow_eio3`].
    V3,
    /// Revision 4: Engine.IO v4 and later, spoken by Socket.IO v3 and v4 clients.
    V4,
}

impl ProtocolVersion {
    /// The revision a request's `EIO` parameter names: `4` or `3`. Any other value (or none)
    /// names no revision we serve. (The reference server reads anything but `4` as 3 when
    /// `allowEIO3` is on; we refuse it as without the option, so the protocol test suites'
    /// checks of an invalid `EIO` hold with the option on too.)
    pub(crate) fn from_eio(eio: Option<&str>) -> Option<Self> {
        match eio {
            Some("4") => Some(ProtocolVersion::V4),
            Some("3") => Some(ProtocolVersion::V3),
            _ => None,
        }
    }
}

/// Which origins may make cross-origin requests.
#[derive(Debug, Clone, Default)]
pub enum Cors {
    /// No CORS headers are sent (same-origin clients and non-browser clients only).
    #[default]
    Disabled,
    /// Any origin: the request's `Origin` is echoed, with credentials allowed.
    Any,
    /// Only these origins (exact match, for example `https://example.com`).
    Origins(Vec<String>),
}

impl Cors {
    /// The `Access-Control-Allow-Origin` value for a request's `Origin`, if it is allowed.
    pub(crate) fn allow_origin<'a>(&self, origin: Option<&'a str>) -> Option<&'a str> {
        match (self, origin) {
            (Cors::Disabled, _) | (_, None) => None,
            (Cors::Any, Some(o)) => Some(o),
            (Cors::Origins(list), Some(o)) => list.iter().any(|x| x == o).then_some(o),
        }
    }
}

/// A hook deciding whether a handshake or upgrade request is accepted.
///
/// Return `Err(message)` to refuse: the client receives HTTP 403 with
/// `{"code":4,"message":"Forbidden"}` and the message is logged.
pub type AllowRequest = Arc<dyn Fn(&http::request::Parts) -> Result<(), String> + Send + Sync>;

/// Compression of long-polling responses (Node's `httpCompression`): a response body of at
/// least `threshold` bytes is sent gzip- or deflate-encoded to a client whose
/// `Accept-Encoding` allows it (gzip preferred), at zlib's default level.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct HttpCompression {
    /// The smallest body compressed, in bytes. Default 1024, as in Node.
    pub threshold: usize,
}

impl Default for HttpCompression {
    fn default() -> Self {
        HttpCompression { threshold: 1024 }
    }
}

/// WebSocket compression, the `permessage-deflate` extension of RFC 7692 (Node's
/// `perMessageDeflate`). Off by default, as in Node; on, it is used with every client that
/// offers it (browsers and Node's `ws` do), and a message of at least `threshold` bytes goes
/// compressed. Clients that do not offer it get plain frames.
///
/// Memory: a deflate stream's state is large (about 300 KB to compress, 43 KB to
/// decompress, with the 32 KB window that is the only one the crate's pure-Rust deflate
/// offers). By default neither side keeps a context between messages: the server negotiates
/// `server_no_context_takeover` and `client_no_context_takeover`, and every connection shares
/// one compressor and one decompressor per thread, so an idle connection costs nothing more.
/// Keeping a context compresses small, similar messages about twice as well (chat-like JSON
/// to 41 % of its size instead of 71 %), at that cost for every connection that has sent or
/// received a compressed message.
///
/// CPU: a message is deflated or inflated on its connection's task, as it is sent or read
/// (some tens of µs for a chat message in a release build, about 20 ms for a megabyte of text
/// at level 1; `BENCHMARKS.md`), where Node hands the work to zlib's thread pool.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct WsCompression {
    /// The smallest message compressed, in bytes. Default 1024, as in Node.
    pub threshold: usize,
    /// Whether the server keeps its compression context from one message to the next (no
    /// `server_no_context_takeover` in the answer, unless the client asks for it): about
    /// 300 KB per connection. Default `false`.
    pub server_context_takeover: bool,
    /// Whether the client may keep its compression context from one message to the next (no
    /// `client_no_context_takeover` in the answer, unless the client offers it): about 43 KB
    /// per connection on the server. Default `false`.
    pub client_context_takeover: bool,
    /// The deflate level of what the server sends, 0 (stored) to 9. Default 1: with flate2's
    /// pure-Rust backend it deflates a megabyte of text about 2.5 times faster than zlib's
    /// default 6, and chat-sized messages to the same size, though with context takeover
    /// level 6 finds more in the history (`cargo bench -p socketio-ns --bench deflate`,
    /// `BENCHMARKS.md`).
    pub level: u32,
}

impl Default for WsCompression {
    fn default() -> Self {
        WsCompression {
            threshold: 1024,
            server_context_takeover: false,
            client_context_takeover: false,
            level: 1,
        }
    }
}

/// Engine.IO server options.
#[derive(Clone)]
pub struct EngineConfig {
    /// The path the server answers on, with leading and trailing slash. Default `/engine.io/`.
    pub path: String,
    /// Allowed transports. Default: both.
    pub transports: Vec<Transport>,
    /// Time between server pings. Default 25 s.
    pub ping_interval: Duration,
    /// How long to wait for a pong before closing. Default 20 s.
    pub ping_timeout: Duration,
    /// The largest message or polling POST body accepted, in bytes. Default 1,000,000.
    pub max_payload: usize,
    /// How long a WebSocket upgrade may take. Default 10 s.
    pub upgrade_timeout: Duration,
    /// The most packets that may wait for a slow client before it is disconnected. Default 1024.
    pub max_buffered_packets: usize,
    /// The most bytes queued for a client that does not read before it is disconnected
    /// ([`CloseReason::BufferFull`](super::CloseReason::BufferFull)). Default 8 MiB.
    pub max_buffered_bytes: usize,
    /// How long one write to a WebSocket may take before the connection is dropped (a client
    /// that stopped reading with a full TCP window), and how long a long-polling client's POST
    /// may wait for it to fetch its backlog (flow control) before the session is closed (a
    /// client that stopped polling). Default 20 s.
    pub write_timeout: Duration,
    /// How long a POST body may stall between two chunks before the request is answered 400
    /// and the session closed. Default 30 s.
    pub body_timeout: Duration,
    /// The most sessions open at once; a handshake beyond is answered 503. Default 100,000.
    pub max_sessions: usize,
    /// CORS policy. Default disabled.
    pub cors: Cors,
    /// Compression of long-polling responses; `None` turns it off. Default on, threshold
    /// 1024 bytes (as Node's `httpCompression`).
    pub http_compression: Option<HttpCompression>,
    /// WebSocket compression (`permessage-deflate`); `None`, the default, turns it off (as
    /// Node's `perMessageDeflate`).
    pub ws_compression: Option<WsCompression>,
    /// Optional handshake filter.
    pub allow_request: Option<AllowRequest>,
    /// Whether clients of Engine.IO protocol revision 3 (Socket.IO v2 clients) are served, as
    /// Node's `allowEIO3`. Off by default: such a handshake is answered 400
    /// `{"code":5,"message":"Unsupported protocol version"}`.
    pub allow_eio3: bool,
}

impl Default for EngineConfig {
    fn default() -> Self {
        EngineConfig {
            path: "/engine.io/".into(),
            transports: vec![Transport::Polling, Transport::WebSocket],
            ping_interval: Duration::from_secs(25),
            ping_timeout: Duration::from_secs(20),
            max_payload: 1_000_000,
            upgrade_timeout: Duration::from_secs(10),
            max_buffered_packets: 1024,
            max_buffered_bytes: 8 << 20,
            write_timeout: Duration::from_secs(20),
            body_timeout: Duration::from_secs(30),
            max_sessions: 100_000,
            cors: Cors::Disabled,
            http_compression: Some(HttpCompression::default()),
            ws_compression: None,
            allow_request: None,
            allow_eio3: false,
        }
    }
}

impl fmt::Debug for EngineConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("EngineConfig")
            .field("path", &self.path)
            .field("transports", &self.transports)
            .field("ping_interval", &self.ping_interval)
            .field("ping_timeout", &self.ping_timeout)
            .field("max_payload", &self.max_payload)
            .field("upgrade_timeout", &self.upgrade_timeout)
            .field("max_buffered_packets", &self.max_buffered_packets)
            .field("max_buffered_bytes", &self.max_buffered_bytes)
            .field("write_timeout", &self.write_timeout)
            .field("body_timeout", &self.body_timeout)
            .field("max_sessions", &self.max_sessions)
            .field("cors", &self.cors)
            .field("http_compression", &self.http_compression)
            .field("ws_compression", &self.ws_compression)
            .field("allow_request", &self.allow_request.is_some())
            .field("allow_eio3", &self.allow_eio3)
            .finish()
    }
}

impl EngineConfig {
    pub(crate) fn allows(&self, t: Transport) -> bool {
        self.transports.contains(&t)
    }

    /// Normalises the path to `/x/`.
    pub(crate) fn normalise(mut self) -> Self {
        if !self.path.starts_with('/') {
            self.path.insert(0, '/');
        }
        if !self.path.ends_with('/') {
            self.path.push('/');
        }
        self
    }
}
