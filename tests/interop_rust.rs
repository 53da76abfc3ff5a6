//! `rust_socketio` 0.6.0 (the Rust Socket.IO client from crates.io, its blocking `Client`;
//! `interop/rust-client`) against `examples/conformance.rs`, each scenario on the three
//! transport modes the client can be forced into: `TransportType::Polling`,
//! `TransportType::Websocket` (no polling at all) and `TransportType::WebsocketUpgrade`
//! (handshake over polling, then upgrade), plus its default `TransportType::Any`.
//!
//! The client goes through a recording TCP proxy ([`WireTap`]): every test checks from the
//! recorded HTTP requests that the transport was the one asked for, some check packets on the
//! wire, and a failing test prints the decoded traffic (`SOCKETIO_NS_TEST_WIRE=1` prints it
//! for every run, with `--nocapture`).
//!
//! What rust_socketio 0.6.0 cannot express, and so is not tested here (see the other interop
//! suites): answering an ack the server asked for (it has no API for it, nor tells that one
//! was asked), binary values other than one attachment alone (`Payload::Binary`), binary with
//! an ack (it sends that emit as a BINARY_ACK packet, which the server ignores as an ack of an
//! unknown id), binary received over WebSocket holding a 0x1e byte or empty (it splits binary
//! frames like polling payloads), events without arguments (it hands `["name"]` to its
//! `message` handler), several namespaces on one connection, socket ids, disconnect reasons.
//!
//! Run: `cargo test -p socketio-ns --test interop_rust --example conformance`. The first run
//! builds the client (`cargo build --release` in `interop/rust-client`, a project of its own
//! with its own target directory: 1 to 1.5 minutes from cold on two cores, then about a
//! quarter of a second to find it up to date). It needs what `native-tls` needs on Linux,
//! OpenSSL's headers and pkg-config (Debian: `libssl-dev`, `pkg-config`): rust_socketio
//! depends on it unconditionally.
//!
//! The conformance server gives a new connection 500 ms (pingInterval + pingTimeout) to answer
//! its first PING; rust_socketio starts polling some 60 ms after the handshake, but on an
//! oversubscribed machine (e.g. `--test-threads 8` on two cores) it can take longer, and its
//! first POST then gets 400 "Session ID unknown" ("EngineIO Error" on connect).

#[macro_use]
mod common;

use std::io::{Read, Write};
use std::net::{Ipv4Addr, Shutdown, SocketAddr, TcpListener, TcpStream};
use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, OnceLock};
use std::thread;
use std::time::{Duration, Instant};

use base64::Engine as _;
use common::{ExampleServer, Mode, binary, pseudo_random_bytes, run_child, tests_dir};
use serde_json::{Value, json};

/// How long the client may run before it is killed (it has its own, shorter, hard timeout).
const CLIENT_TIMEOUT: Duration = Duration::from_secs(30);

// ---------------------------------------------------------------------------------------------
// Building the client

/// `interop/rust-client`.
fn client_dir() -> PathBuf {
    tests_dir().join("..").join("interop").join("rust-client")
}

/// Builds `interop/rust-client` (once per test process) and returns its binary.
///
/// `cargo build` takes a lock on its build directory, so test processes running at the same
/// time (nextest runs one per test) wait for each other's build instead of colliding, and
/// find the binary up to date afterwards; inside one process a `OnceLock` makes the threads
/// wait for the first one, and hands every test the same error when the build failed.
fn client_binary() -> PathBuf {
    static BUILT: OnceLock<Result<PathBuf, String>> = OnceLock::new();
    match BUILT.get_or_init(build_client) {
        Ok(path) => path.clone(),
        Err(e) => panic!("{e}"),
    }
}

fn build_client() -> Result<PathBuf, String> {
    let dir = client_dir();
    let target = dir.join("target");
    let cargo = std::env::var_os("CARGO")
        .or_else(|| option_env!("CARGO").map(Into::into))
        .unwrap_or_else(|| "cargo".into());
    let started = Instant::now();
    let output = Command::new(&cargo)
        .args(["build", "--release", "--locked", "--manifest-path"])
        .arg(dir.join("Cargo.toml"))
        .arg("--target-dir")
        .arg(&target)
        .env_remove("CARGO_TARGET_DIR")
        .env_remove("CARGO_BUILD_TARGET_DIR")
        .stdin(Stdio::null())
        .output()
        .map_err(|e| format!("cannot run {cargo:?}: {e}"))?;
    if !output.status.success() {
        return Err(format!(
            "building {} failed ({}; it needs OpenSSL's headers and pkg-config, on Debian \
             `apt-get install libssl-dev pkg-config`):\n{}",
            dir.display(),
            output.status,
            String::from_utf8_lossy(&output.stderr)
        ));
    }
    eprintln!(
        "interop/rust-client built (or found up to date) in {:.1?}",
        started.elapsed()
    );
    let binary = target.join("release").join(format!(
        "socketio-ns-interop-rust-client{}",
        std::env::consts::EXE_SUFFIX
    ));
    if binary.is_file() {
        Ok(binary)
    } else {
        Err(format!("{} was not built", binary.display()))
    }
}

// ---------------------------------------------------------------------------------------------
// The wire tap

/// Which way bytes went through the [`WireTap`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Dir {
    /// Client to server.
    Up,
    /// Server to client.
    Down,
}

/// Bytes read from one side of one proxied TCP connection.
#[derive(Debug)]
struct Chunk {
    conn: usize,
    dir: Dir,
    at: Duration,
    bytes: Vec<u8>,
}

/// A TCP proxy on a free loopback port in front of `upstream`, recording everything that goes
/// through it. Stops accepting when dropped.
#[derive(Debug)]
struct WireTap {
    port: u16,
    chunks: Arc<Mutex<Vec<Chunk>>>,
    /// How many directions of proxied connections are still being copied.
    open: Arc<AtomicUsize>,
    stop: Arc<AtomicBool>,
}

impl WireTap {
    fn new(upstream: SocketAddr) -> WireTap {
        let listener = TcpListener::bind((Ipv4Addr::LOCALHOST, 0)).expect("bind the wire tap");
        let port = listener.local_addr().unwrap().port();
        let chunks = Arc::new(Mutex::new(Vec::new()));
        let stop = Arc::new(AtomicBool::new(false));
        let open = Arc::new(AtomicUsize::new(0));
        let start = Instant::now();
        {
            let chunks = chunks.clone();
            let stop = stop.clone();
            let open = open.clone();
            thread::spawn(move || {
                for (conn, client) in listener.incoming().enumerate() {
                    if stop.load(Ordering::SeqCst) {
                        break;
                    }
                    let Ok(client) = client else { continue };
                    let Ok(server) = TcpStream::connect(upstream) else {
                        let _ = client.shutdown(Shutdown::Both);
                        continue;
                    };
                    let _ = client.set_nodelay(true);
                    let _ = server.set_nodelay(true);
                    let (Ok(client2), Ok(server2)) = (client.try_clone(), server.try_clone())
                    else {
                        continue;
                    };
                    open.fetch_add(2, Ordering::SeqCst);
                    let tap = (chunks.clone(), open.clone(), start);
                    pipe(client, server2, conn, Dir::Up, tap.clone());
                    pipe(server, client2, conn, Dir::Down, tap);
                }
            });
        }
        WireTap {
            port,
            chunks,
            open,
            stop,
        }
    }

    /// Waits (up to `timeout`) until every proxied connection was closed on both sides, so
    /// that the last bytes a client wrote before it exited are recorded.
    fn settle(&self, timeout: Duration) {
        let deadline = Instant::now() + timeout;
        while self.open.load(Ordering::SeqCst) > 0 && Instant::now() < deadline {
            thread::sleep(Duration::from_millis(5));
        }
    }

    fn url(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    /// What went through so far, decoded.
    fn wire(&self) -> Wire {
        Wire::decode(&self.chunks.lock().unwrap())
    }
}

impl Drop for WireTap {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        // Wakes the accept loop up.
        let _ = TcpStream::connect((Ipv4Addr::LOCALHOST, self.port));
    }
}

/// Copies `from` to `to`, recording each read first.
fn pipe(
    mut from: TcpStream,
    mut to: TcpStream,
    conn: usize,
    dir: Dir,
    (chunks, open, start): (Arc<Mutex<Vec<Chunk>>>, Arc<AtomicUsize>, Instant),
) {
    thread::spawn(move || {
        let mut buf = vec![0; 64 * 1024];
        let how = loop {
            match from.read(&mut buf) {
                Ok(0) => break Shutdown::Write,
                Err(_) => break Shutdown::Both,
                Ok(n) => {
                    chunks.lock().unwrap().push(Chunk {
                        conn,
                        dir,
                        at: start.elapsed(),
                        bytes: buf[..n].to_vec(),
                    });
                    if to.write_all(&buf[..n]).is_err() {
                        break Shutdown::Both;
                    }
                }
            }
        };
        let _ = to.shutdown(how);
        open.fetch_sub(1, Ordering::SeqCst);
    });
}

/// One HTTP message or WebSocket frame seen by the [`WireTap`].
#[derive(Debug, Clone)]
struct WireMsg {
    at: Duration,
    conn: usize,
    dir: Dir,
    kind: Kind,
    /// The Engine.IO session (sid) it belongs to, when known.
    sid: Option<String>,
}

#[derive(Debug, Clone)]
enum Kind {
    Request {
        method: String,
        target: String,
        body: Vec<u8>,
    },
    Response {
        status: u16,
        /// The method of the request it answers.
        method: String,
        body: Vec<u8>,
    },
    /// A WebSocket frame (unmasked).
    Frame { opcode: u8, payload: Vec<u8> },
    /// Bytes that do not parse (such as a message cut off by the end of the connection).
    Unparsed(Vec<u8>),
}

/// An Engine.IO packet.
#[derive(Debug, Clone, PartialEq, Eq)]
enum EnginePacket {
    Text(String),
    Binary(Vec<u8>),
}

/// The decoded traffic of a [`WireTap`], in time order.
#[derive(Debug)]
struct Wire {
    msgs: Vec<WireMsg>,
}

impl Wire {
    fn decode(chunks: &[Chunk]) -> Wire {
        let conns = chunks.iter().map(|c| c.conn + 1).max().unwrap_or(0);
        let mut msgs = Vec::new();
        for conn in 0..conns {
            let mut sides = Vec::new();
            for dir in [Dir::Up, Dir::Down] {
                let mut data = Vec::new();
                // (offset in `data`, time of the chunk starting there)
                let mut times = Vec::new();
                for c in chunks.iter().filter(|c| c.conn == conn && c.dir == dir) {
                    times.push((data.len(), c.at));
                    data.extend_from_slice(&c.bytes);
                }
                let time_of = |offset: usize| {
                    times
                        .iter()
                        .rev()
                        .find(|(o, _)| *o <= offset)
                        .map_or(Duration::ZERO, |(_, at)| *at)
                };
                let parsed: Vec<WireMsg> = parse_stream(&data, dir)
                    .into_iter()
                    .map(|(offset, kind)| WireMsg {
                        at: time_of(offset),
                        conn,
                        dir,
                        kind,
                        sid: None,
                    })
                    .collect();
                sides.push(parsed);
            }
            let (up, down) = sides.split_at_mut(1);
            let (up, down) = (&mut up[0], &mut down[0]);
            // Responses answer the requests of their connection in order; a request belongs to
            // the session its `sid` names, or (a handshake) to the one its response opens.
            let mut requests: Vec<&mut WireMsg> = up
                .iter_mut()
                .filter(|m| matches!(m.kind, Kind::Request { .. }))
                .collect();
            let mut responses = down
                .iter_mut()
                .filter(|m| matches!(m.kind, Kind::Response { .. }));
            // The session of the frames: the one the connection was upgraded from or opened.
            let mut conn_sid = None;
            for request in &mut requests {
                let Kind::Request {
                    method: request_method,
                    target,
                    ..
                } = &request.kind
                else {
                    unreachable!()
                };
                request.sid = query_param(target, "sid").map(str::to_owned);
                let websocket = query_param(target, "transport") == Some("websocket");
                let Some(response) = responses.next() else {
                    continue;
                };
                let Kind::Response { method, body, .. } = &mut response.kind else {
                    unreachable!()
                };
                *method = request_method.clone();
                if request.sid.is_none() {
                    request.sid = open_sid(body);
                }
                response.sid = request.sid.clone();
                if websocket && request.sid.is_some() {
                    conn_sid = request.sid.clone();
                }
            }
            if conn_sid.is_none() {
                conn_sid = down.iter().find_map(|m| match &m.kind {
                    Kind::Frame { opcode: 1, payload } => open_sid(payload),
                    _ => None,
                });
            }
            for m in up.iter_mut().chain(down.iter_mut()) {
                if matches!(m.kind, Kind::Frame { .. } | Kind::Unparsed(_)) {
                    m.sid = conn_sid.clone();
                }
            }
            msgs.extend(sides.into_iter().flatten());
        }
        msgs.sort_by_key(|m| m.at);
        Wire { msgs }
    }

    /// `(method, target)` of every HTTP request.
    fn requests(&self) -> Vec<(&str, &str)> {
        self.msgs
            .iter()
            .filter_map(|m| match &m.kind {
                Kind::Request { method, target, .. } => Some((method.as_str(), target.as_str())),
                _ => None,
            })
            .collect()
    }

    /// The Engine.IO packets that went `dir`, in order.
    fn packets(&self, dir: Dir) -> Vec<EnginePacket> {
        self.session_packets(dir)
            .into_iter()
            .map(|(_, p)| p)
            .collect()
    }

    /// The Engine.IO packets that went `dir`, in order, each with its session.
    fn session_packets(&self, dir: Dir) -> Vec<(Option<&str>, EnginePacket)> {
        let mut packets = Vec::new();
        for m in self.msgs.iter().filter(|m| m.dir == dir) {
            let sid = m.sid.as_deref();
            match &m.kind {
                Kind::Request { method, body, .. } if method == "POST" => {
                    packets.extend(polling_packets(body).into_iter().map(|p| (sid, p)))
                }
                Kind::Response {
                    status: 200,
                    method,
                    body,
                } if method == "GET" => {
                    packets.extend(polling_packets(body).into_iter().map(|p| (sid, p)))
                }
                Kind::Frame { opcode: 1, payload } => packets.push((
                    sid,
                    EnginePacket::Text(String::from_utf8_lossy(payload).into_owned()),
                )),
                Kind::Frame { opcode: 2, payload } => {
                    packets.push((sid, EnginePacket::Binary(payload.clone())))
                }
                _ => {}
            }
        }
        packets
    }

    /// How many Engine.IO packets that went `dir` are exactly `text`.
    fn count(&self, dir: Dir, text: &str) -> usize {
        self.packets(dir)
            .iter()
            .filter(|p| **p == EnginePacket::Text(text.into()))
            .count()
    }

    /// The traffic, one line per HTTP message or WebSocket frame.
    fn transcript(&self) -> String {
        let mut text = String::new();
        for m in &self.msgs {
            let arrow = match m.dir {
                Dir::Up => "->",
                Dir::Down => "<-",
            };
            let what = match &m.kind {
                Kind::Request {
                    method,
                    target,
                    body,
                } => format!("{method} {target} {}", preview(body)),
                Kind::Response {
                    status,
                    method,
                    body,
                } => format!("{status} (to {method}) {}", preview(body)),
                Kind::Frame { opcode: 1, payload } => format!("ws text {}", preview(payload)),
                Kind::Frame { opcode: 2, payload } => {
                    format!("ws binary {}", preview_binary(payload))
                }
                Kind::Frame { opcode, payload } => {
                    format!("ws opcode {opcode} {}", preview_binary(payload))
                }
                Kind::Unparsed(bytes) => format!("unparsed {}", preview_binary(bytes)),
            };
            let sid: String = m.sid.as_deref().unwrap_or("?").chars().take(6).collect();
            text.push_str(&format!(
                "{:>7.3}s #{} {sid:<6} {arrow} {what}\n",
                m.at.as_secs_f64(),
                m.conn
            ));
        }
        text
    }
}

/// The sid of an Engine.IO OPEN packet (`0{"sid":...}`) starting `body`.
fn open_sid(body: &[u8]) -> Option<String> {
    let first = body.split(|b| *b == 0x1e).next()?;
    let open: Value = serde_json::from_slice(first.strip_prefix(b"0")?).ok()?;
    Some(open.get("sid")?.as_str()?.to_owned())
}

/// The packets of an HTTP long-polling body (separated by 0x1e; `b` + base64 for binary).
fn polling_packets(body: &[u8]) -> Vec<EnginePacket> {
    if body.is_empty() {
        return Vec::new();
    }
    body.split(|b| *b == 0x1e)
        .map(|p| match p.strip_prefix(b"b") {
            Some(b64) => EnginePacket::Binary(
                base64::engine::general_purpose::STANDARD
                    .decode(b64)
                    .unwrap_or_else(|_| p.to_vec()),
            ),
            None => EnginePacket::Text(String::from_utf8_lossy(p).into_owned()),
        })
        .collect()
}

fn preview(bytes: &[u8]) -> String {
    const MAX: usize = 300;
    let text = String::from_utf8_lossy(bytes);
    let shown: String = text.chars().take(MAX).collect();
    let escaped = format!("{shown:?}");
    if text.chars().count() > MAX {
        format!("{escaped}... ({} bytes)", bytes.len())
    } else {
        escaped
    }
}

fn preview_binary(bytes: &[u8]) -> String {
    let hex: Vec<String> = bytes.iter().take(16).map(|b| format!("{b:02x}")).collect();
    format!(
        "[{} bytes: {}{}]",
        bytes.len(),
        hex.join(" "),
        if bytes.len() > 16 { " ..." } else { "" }
    )
}

/// Splits one direction of one TCP connection into HTTP/1.1 messages, then WebSocket frames
/// once the connection was upgraded. Returns each with its offset.
fn parse_stream(data: &[u8], dir: Dir) -> Vec<(usize, Kind)> {
    let mut out = Vec::new();
    let mut pos = 0;
    let mut websocket = false;
    while pos < data.len() {
        let rest = &data[pos..];
        let parsed = if websocket {
            parse_frame(rest)
        } else {
            parse_http(rest, dir).map(|(kind, len, upgraded)| {
                websocket = upgraded;
                (kind, len)
            })
        };
        match parsed {
            Some((kind, len)) => {
                out.push((pos, kind));
                pos += len;
            }
            None => {
                out.push((pos, Kind::Unparsed(rest.to_vec())));
                break;
            }
        }
    }
    out
}

/// One HTTP/1.1 message at the start of `data`: its kind, its length, and whether WebSocket
/// frames follow it (an upgrade request, or a 101 response).
fn parse_http(data: &[u8], dir: Dir) -> Option<(Kind, usize, bool)> {
    let head_len = data.windows(4).position(|w| w == b"\r\n\r\n")? + 4;
    let head = std::str::from_utf8(&data[..head_len]).ok()?;
    let mut lines = head.split("\r\n");
    let first = lines.next()?;
    let mut content_length = None;
    let mut chunked = false;
    let mut upgrade = false;
    for line in lines {
        let Some((name, value)) = line.split_once(':') else {
            continue;
        };
        let value = value.trim();
        match name.trim().to_ascii_lowercase().as_str() {
            "content-length" => content_length = value.parse::<usize>().ok(),
            "transfer-encoding" => chunked = value.to_ascii_lowercase().contains("chunked"),
            "upgrade" => upgrade = value.eq_ignore_ascii_case("websocket"),
            _ => {}
        }
    }
    let mut words = first.splitn(3, ' ');
    let (a, b) = (words.next()?, words.next()?);
    let (body, body_len) = if chunked {
        dechunk(&data[head_len..])?
    } else {
        let n = match (dir, content_length) {
            (_, Some(n)) => n,
            (Dir::Up, None) => 0,
            // A response without a length ends with the connection.
            (Dir::Down, None) if b == "101" || b == "204" || b == "304" => 0,
            (Dir::Down, None) => data.len() - head_len,
        };
        (data.get(head_len..head_len + n)?.to_vec(), n)
    };
    let len = head_len + body_len;
    Some(match dir {
        Dir::Up => (
            Kind::Request {
                method: a.into(),
                target: b.into(),
                body,
            },
            len,
            upgrade,
        ),
        Dir::Down => {
            let status: u16 = b.parse().ok()?;
            (
                Kind::Response {
                    status,
                    method: String::new(),
                    body,
                },
                len,
                status == 101,
            )
        }
    })
}

/// A chunked body at the start of `data`: the body and how many bytes it took.
fn dechunk(data: &[u8]) -> Option<(Vec<u8>, usize)> {
    let mut body = Vec::new();
    let mut pos = 0;
    loop {
        let line_len = data[pos..].windows(2).position(|w| w == b"\r\n")?;
        let size_text = std::str::from_utf8(&data[pos..pos + line_len]).ok()?;
        let size = usize::from_str_radix(size_text.split(';').next()?.trim(), 16).ok()?;
        pos += line_len + 2;
        if size == 0 {
            // No trailers from these peers: just the final CRLF.
            data.get(pos..pos + 2)?;
            return Some((body, pos + 2));
        }
        body.extend_from_slice(data.get(pos..pos + size)?);
        pos += size + 2;
    }
}

/// One WebSocket frame at the start of `data`: its kind (payload unmasked) and its length.
fn parse_frame(data: &[u8]) -> Option<(Kind, usize)> {
    let opcode = data.first()? & 0x0f;
    let second = *data.get(1)?;
    let masked = second & 0x80 != 0;
    let (len, mut pos) = match second & 0x7f {
        126 => (
            u16::from_be_bytes(data.get(2..4)?.try_into().ok()?) as usize,
            4,
        ),
        127 => (
            u64::from_be_bytes(data.get(2..10)?.try_into().ok()?) as usize,
            10,
        ),
        n => (n as usize, 2),
    };
    let mask = if masked {
        let m: [u8; 4] = data.get(pos..pos + 4)?.try_into().ok()?;
        pos += 4;
        Some(m)
    } else {
        None
    };
    let mut payload = data.get(pos..pos + len)?.to_vec();
    if let Some(m) = mask {
        for (i, b) in payload.iter_mut().enumerate() {
            *b ^= m[i % 4];
        }
    }
    Some((Kind::Frame { opcode, payload }, pos + len))
}

// ---------------------------------------------------------------------------------------------
// Running the client

/// The client's `transport` for a mode.
fn transport_name(mode: Mode) -> &'static str {
    match mode {
        Mode::Polling => "polling",
        Mode::WebSocket => "websocket",
        Mode::Upgrade => "upgrade",
    }
}

/// A finished run of the client: what it printed, and the traffic. Prints the traffic when
/// dropped during a panic (a failed assertion), or always when `SOCKETIO_NS_TEST_WIRE` is set
/// (with `--nocapture`).
struct Run {
    lines: Vec<Value>,
    wire: Wire,
}

impl Drop for Run {
    fn drop(&mut self) {
        if thread::panicking() || std::env::var_os("SOCKETIO_NS_TEST_WIRE").is_some() {
            eprintln!(
                "---- client output ----\n{:#?}\n---- wire (through the tap) ----\n{}",
                self.lines,
                self.wire.transcript()
            );
        }
    }
}

/// Runs the steps against a fresh server, the client set to `transport` ("polling",
/// "websocket", "upgrade" or "any"), and returns the run.
fn run(transport: &str, steps: Value) -> Run {
    let binary = client_binary();
    let server = ExampleServer::spawn("conformance");
    let tap = WireTap::new(server.addr());
    let args = json!({ "url": tap.url(), "transport": transport, "steps": steps });
    let child = run_child(
        &mut Command::new(&binary),
        &binary.display().to_string(),
        &args,
        CLIENT_TIMEOUT,
    );
    tap.settle(Duration::from_secs(2));
    let wire = tap.wire();
    let lines = child.json_lines(|child| {
        format!(
            "{}--- wire (through the tap)\n{}",
            child.describe("rust-client", "stderr", Some(20_000)),
            wire.transcript()
        )
    });
    Run { lines, wire }
}

/// The query parameter `name` of a request target.
fn query_param<'a>(target: &'a str, name: &str) -> Option<&'a str> {
    let query = target.split_once('?')?.1;
    query
        .split('&')
        .filter_map(|pair| pair.split_once('='))
        .find(|(k, _)| *k == name)
        .map(|(_, v)| v)
}

/// Checks from the HTTP requests that each of the `sessions` Engine.IO connections the client
/// opened used the transports of `mode`:
/// - polling: every request is `transport=polling`;
/// - WebSocket: every one opens with `GET ...transport=websocket` without a sid, no polling;
/// - upgrade: every one opens with a polling handshake (no sid), then `GET
///   ...transport=websocket&sid=...` upgrades it.
fn check_transports(mode: Mode, wire: &Wire, sessions: usize) {
    let requests = wire.requests();
    let count = |transport: &str, with_sid: bool, method: &str| {
        requests
            .iter()
            .filter(|(m, t)| {
                *m == method
                    && query_param(t, "transport") == Some(transport)
                    && query_param(t, "sid").is_some() == with_sid
            })
            .count()
    };
    assert!(
        requests
            .iter()
            .all(|(_, t)| t.starts_with("/socket.io/") && query_param(t, "EIO") == Some("4")),
        "not an EIO=4 request to /socket.io/: {requests:#?}"
    );
    let polling = requests
        .iter()
        .filter(|(_, t)| query_param(t, "transport") == Some("polling"))
        .count();
    let handshakes = count("polling", false, "GET");
    let ws_open = count("websocket", false, "GET");
    let ws_upgrade = count("websocket", true, "GET");
    let expected = match mode {
        Mode::Polling => (requests.len(), sessions, 0, 0),
        Mode::WebSocket => (0, 0, sessions, 0),
        Mode::Upgrade => (polling, sessions, 0, sessions),
    };
    assert_eq!(
        (polling, handshakes, ws_open, ws_upgrade),
        expected,
        "(polling requests, polling handshakes, WebSocket handshakes, WebSocket upgrades) for \
         {sessions} connection(s) in {mode:?}: {requests:#?}"
    );
}

/// Runs `steps` in `mode` and checks the transports (one Engine.IO connection per connect
/// step); returns what the client printed.
fn rs(mode: Mode, steps: Value) -> Run {
    let sessions = steps
        .as_array()
        .unwrap()
        .iter()
        .filter(|s| s.get("connect").is_some())
        .count();
    let run = run(transport_name(mode), steps);
    check_transports(mode, &run.wire, sessions);
    run
}

fn connected(nsp: &str) -> Value {
    json!({ "connected": { "nsp": nsp } })
}

fn event(name: &str, args: Value) -> Value {
    json!({ "event": name, "args": args })
}

fn ack(name: &str, args: Value) -> Value {
    json!({ "ack": { "event": name, "args": args } })
}

fn disconnect(by: &str) -> Value {
    json!({ "disconnect": by })
}

// ---------------------------------------------------------------------------------------------
// Scenarios

per_transport!(
    connect_with_auth,
    connect_custom_namespace,
    connect_error_unknown_namespace,
    emit_with_ack,
    server_emit,
    server_emit_many,
    server_ack_request,
    binary_emit,
    server_disconnect,
    client_disconnect,
    heartbeat,
);

/// The auth payload of CONNECT comes back in `auth`; without one (rust_socketio then sends a
/// CONNECT without payload) the server emits `{}`.
fn connect_with_auth(mode: Mode) {
    let auth = json!({ "token": "123", "nested": { "list": [1, "two", null, true, 2.5] } });
    let run = rs(
        mode,
        json!([
            { "connect": { "auth": auth } },
            { "expect": "auth" },
            { "connect": {} },
            { "expect": "auth" },
        ]),
    );
    assert_eq!(
        run.lines,
        [
            connected("/"),
            event("auth", json!([auth])),
            connected("/"),
            event("auth", json!([{}])),
        ]
    );
    // What the client sent: `40{...}` (with auth), then a bare `40`.
    let up = run.wire.packets(Dir::Up);
    let connects: Vec<&EnginePacket> = up
        .iter()
        .filter(|p| matches!(p, EnginePacket::Text(t) if t.starts_with("40")))
        .collect();
    assert_eq!(
        connects,
        [
            &EnginePacket::Text(format!("40{auth}")),
            &EnginePacket::Text("40".into())
        ]
    );
}

fn connect_custom_namespace(mode: Mode) {
    let run = rs(
        mode,
        json!([
            { "connect": { "nsp": "/custom", "auth": { "token": "abc" } } },
            { "expect": "auth" },
            { "connect": { "nsp": "/custom" } },
            { "expect": "auth" },
        ]),
    );
    assert_eq!(
        run.lines,
        [
            connected("/custom"),
            event("auth", json!([{ "token": "abc" }])),
            connected("/custom"),
            event("auth", json!([{}])),
        ]
    );
}

/// rust_socketio hands the CONNECT_ERROR payload to its `error` callback as text
/// ("Received an ConnectError frame: <payload>"): `{"message":"Invalid namespace"}`.
fn connect_error_unknown_namespace(mode: Mode) {
    let run = rs(
        mode,
        json!([
            { "connect": { "nsp": "/random" }, "expect_error": true },
            { "connect": {} },
            { "expect": "auth" },
        ]),
    );
    assert_eq!(
        run.lines,
        [
            json!({ "connect_error": { "message": "Invalid namespace" } }),
            connected("/"),
            event("auth", json!([{}])),
        ]
    );
}

/// Client to server ack (the server acks `message-with-ack` with the same arguments).
fn emit_with_ack(mode: Mode) {
    let args = json!([1, "2", { "3": [true] }, null, -1.5, "é😀", [], {}]);
    let run = rs(
        mode,
        json!([
            { "connect": {} },
            { "emit": "message-with-ack", "args": args, "ack": true },
            { "emit": "message-with-ack", "args": [], "ack": true },
        ]),
    );
    assert_eq!(
        run.lines,
        [
            connected("/"),
            ack("message-with-ack", args),
            ack("message-with-ack", json!([]))
        ]
    );
}

/// `message` comes back as `message-back` with the same arguments. (An event without
/// arguments is not tried: rust_socketio 0.6.0 hands `["message-back"]` to its `message`
/// handler, with the event name as the argument.)
fn server_emit(mode: Mode) {
    let args = json!(["hello", { "nested": { "a": [1, 2, 3] } }, 3.5, true, null, "line\nbreak"]);
    let run = rs(
        mode,
        json!([
            { "connect": {} },
            { "emit": "message", "args": args },
            { "expect": "message-back" },
            { "emit": "message", "args": ["é😀\u{1e}", 0] },
            { "expect": "message-back" },
        ]),
    );
    assert_eq!(
        run.lines,
        [
            connected("/"),
            event("message-back", args),
            event("message-back", json!(["é😀\u{1e}", 0])),
        ]
    );
}

/// Emits sent back to back all come back, in order (rust_socketio's blocking client runs its
/// handlers on its one polling thread, in the order of the wire).
fn server_emit_many(mode: Mode) {
    let count = 50;
    let mut steps = vec![json!({ "connect": {} })];
    steps.extend((0..count).map(|i| json!({ "emit": "message", "args": [i, format!("m{i}")] })));
    steps.extend((0..count).map(|_| json!({ "expect": "message-back" })));
    let run = rs(mode, Value::Array(steps));
    let mut expected = vec![connected("/")];
    expected.extend((0..count).map(|i| event("message-back", json!([i, format!("m{i}")]))));
    assert_eq!(run.lines, expected);
}

/// `server-emit-with-ack`: the server emits `ping-ack` with an ack id and the arguments. The
/// client gets the event but cannot answer the ack (rust_socketio 0.6.0 has no API for it),
/// so only the request is checked, on the wire: `42<id>["ping-ack",...]`.
fn server_ack_request(mode: Mode) {
    let run = rs(
        mode,
        json!([
            { "connect": {} },
            { "emit": "server-emit-with-ack", "args": ["question", 42] },
            { "expect": "ping-ack" },
        ]),
    );
    assert_eq!(
        run.lines,
        [connected("/"), event("ping-ack", json!(["question", 42]))]
    );
    let down = run.wire.packets(Dir::Down);
    let requests: Vec<&EnginePacket> = down
        .iter()
        .filter(|p| {
            matches!(p, EnginePacket::Text(t) if t.strip_prefix("42").is_some_and(|rest| {
                let digits = rest.chars().take_while(char::is_ascii_digit).count();
                digits > 0 && rest[digits..] == *r#"["ping-ack","question",42]"#
            }))
        })
        .collect();
    assert_eq!(requests.len(), 1, "no ack request on the wire: {down:#?}");
}

/// One binary attachment (`Payload::Binary`, the only way rust_socketio sends binary) comes
/// back as `message-back` with the same bytes, checked both in what the client handed over
/// and on the wire, each way.
///
/// Over WebSocket the blobs hold no 0x1e and none is empty: rust_engineio 0.6.0 decodes a
/// binary WebSocket frame as if it were a polling payload (split at each 0x1e, and an empty
/// one is an "incomplete packet"), so its client fails on those (its "EngineIO Error") while
/// the server's frames are right. Over polling, where attachments travel in base64, they are
/// sent too.
fn binary_emit(mode: Mode) {
    let mut noise = pseudo_random_bytes(100_000, 1);
    let mut blobs = vec![vec![0, 255, b'b', b'4', b'\n'], vec![1, 2, 3]];
    if mode == Mode::Polling {
        blobs.extend([vec![0x1e, b'b', 0x1e], Vec::new()]);
    } else {
        for b in &mut noise {
            if *b == 0x1e {
                *b = 0x1f;
            }
        }
    }
    blobs.insert(0, noise);
    let mut steps = vec![json!({ "connect": {} })];
    for blob in &blobs {
        steps.push(json!({ "emit": "message", "args": [binary(blob)] }));
        steps.push(json!({ "expect": "message-back" }));
    }
    let run = rs(mode, Value::Array(steps));
    let mut expected = vec![connected("/")];
    expected.extend(
        blobs
            .iter()
            .map(|blob| event("message-back", json!([binary(blob)]))),
    );
    assert_eq!(run.lines, expected);
    // Each went out as `451-["message",{"_placeholder":true,"num":0}]` and its attachment,
    // and came back as `451-["message-back",{"_placeholder":true,"num":0}]` and the same.
    for (dir, name) in [(Dir::Up, "message"), (Dir::Down, "message-back")] {
        let packets = run.wire.packets(dir);
        let header =
            EnginePacket::Text(format!(r#"451-["{name}",{{"_placeholder":true,"num":0}}]"#));
        let sent: Vec<&EnginePacket> = packets
            .iter()
            .zip(packets.iter().skip(1))
            .filter(|(p, _)| **p == header)
            .map(|(_, attachment)| attachment)
            .collect();
        let blobs: Vec<EnginePacket> = blobs.iter().cloned().map(EnginePacket::Binary).collect();
        assert!(
            sent.iter().copied().eq(blobs.iter()),
            "{dir:?}: the attachments differ from the blobs sent"
        );
    }
}

/// `disconnect-me`: the server sends DISCONNECT, rust_socketio's `close` callback fires; a new
/// connection works.
fn server_disconnect(mode: Mode) {
    let run = rs(
        mode,
        json!([
            { "connect": {} },
            { "expect": "auth" },
            { "emit": "disconnect-me" },
            { "expect_disconnect": true },
            { "state": true },
            { "connect": { "auth": { "again": true } } },
            { "expect": "auth" },
        ]),
    );
    assert_eq!(
        run.lines,
        [
            connected("/"),
            event("auth", json!([{}])),
            disconnect("server"),
            json!({ "state": { "connected": false } }),
            connected("/"),
            event("auth", json!([{ "again": true }])),
        ]
    );
    assert_eq!(
        run.wire.count(Dir::Down, "41"),
        1,
        "one DISCONNECT from the server"
    );
}

/// The client disconnects (DISCONNECT, then Engine.IO CLOSE), then opens a new connection.
fn client_disconnect(mode: Mode) {
    let run = rs(
        mode,
        json!([
            { "connect": {} },
            { "expect": "auth" },
            { "disconnect": true },
            { "connect": {} },
            { "expect": "auth" },
            { "emit": "message", "args": ["again"] },
            { "expect": "message-back" },
        ]),
    );
    assert_eq!(
        run.lines,
        [
            connected("/"),
            event("auth", json!([{}])),
            disconnect("client"),
            connected("/"),
            event("auth", json!([{}])),
            event("message-back", json!(["again"])),
        ]
    );
    // DISCONNECT, then Engine.IO CLOSE, on the first connection. (Over polling the client's
    // polling thread may race the close: its next GET gets the server's 400 "Session ID
    // unknown", upon which the client "disconnects" again, sending `41` and `1` once more.)
    let up = run.wire.session_packets(Dir::Up);
    let sid = up[0].0;
    assert!(sid.is_some(), "{up:#?}");
    let first: Vec<&EnginePacket> = up
        .iter()
        .filter(|(s, _)| *s == sid)
        .map(|(_, p)| p)
        .collect();
    let at = first
        .iter()
        .position(|p| **p == EnginePacket::Text("41".into()))
        .unwrap_or_else(|| panic!("no DISCONNECT sent: {up:#?}"));
    assert_eq!(
        first.get(at + 1),
        Some(&&EnginePacket::Text("1".into())),
        "{up:#?}"
    );
}

/// With pingInterval 300 ms and pingTimeout 200 ms, a connection stays up for 2 s (about six
/// heartbeats, each PING answered by a PONG) and still carries messages afterwards.
fn heartbeat(mode: Mode) {
    let run = rs(
        mode,
        json!([
            { "connect": {} },
            { "sleep": 2000 },
            { "state": true },
            { "emit": "message", "args": ["after"] },
            { "expect": "message-back" },
            { "emit": "message-with-ack", "args": ["ack after"], "ack": true },
        ]),
    );
    assert_eq!(
        run.lines,
        [
            connected("/"),
            json!({ "state": { "connected": true } }),
            event("message-back", json!(["after"])),
            ack("message-with-ack", json!(["ack after"])),
        ]
    );
    let pings = run.wire.count(Dir::Down, "2");
    let pongs = run.wire.count(Dir::Up, "3");
    assert!(pings >= 5, "{pings} PINGs in 2 s");
    // rust_engineio also sends one PONG, unasked, as soon as it is connected.
    assert!(
        pongs >= pings,
        "{pings} PINGs answered by {pongs} PONGs (one of them unasked)"
    );
}

/// rust_socketio's default, `TransportType::Any`: handshake over polling, then the upgrade
/// the server offers.
#[test]
fn default_transport_upgrades() {
    let run = run(
        "any",
        json!([
            { "connect": { "auth": { "a": 1 } } },
            { "expect": "auth" },
            { "emit": "message", "args": ["x"] },
            { "expect": "message-back" },
        ]),
    );
    check_transports(Mode::Upgrade, &run.wire, 1);
    assert_eq!(
        run.lines,
        [
            connected("/"),
            event("auth", json!([{ "a": 1 }])),
            event("message-back", json!(["x"])),
        ]
    );
}
