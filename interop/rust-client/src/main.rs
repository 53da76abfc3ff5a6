//! `rust_socketio`'s blocking client driven by a list of steps: the Rust twin of
//! tests/py/client.py, built and run by tests/interop_rust.rs.
//!
//! Protocol with the harness (the same as the node and Python scripts'): one JSON object on
//! stdin, one JSON object per line on stdout for each thing observed, exit status 0 when the
//! scenario ran to the end, 1 on any error or on the hard timeout (after printing
//! `{"error": ...}`). Binary values cross the boundary as `{"$binary": "<base64>"}`. Diagnostics
//! go to stderr.
//!
//! stdin: {
//!   "url": "http://127.0.0.1:PORT",
//!   "transport": "polling" | "websocket" | "upgrade" | "any"   (rust_socketio's
//!       TransportType::Polling, ::Websocket, ::WebsocketUpgrade, ::Any; default "any"),
//!   "timeout_ms": hard timeout of the whole run (default 10000),
//!   "steps": [step, ...]
//! }
//! Steps:
//!   {"connect": {"nsp": "/custom", "auth": {...}}}  opens a new connection (a new Client, no
//!       reconnection) to that namespace (default "/") and makes it the current one; waits for
//!       the server's CONNECT and prints {"connected": {"nsp": nsp}} (the client exposes
//!       neither the socket id nor the transport).
//!   {"connect": {...}, "expect_error": true}  waits for a CONNECT_ERROR instead and prints
//!       {"connect_error": <its payload>}.
//!   {"emit": "name", "args": [...]}  emits without ack. The client sends either JSON
//!       arguments or one binary attachment alone (`Payload::Binary`): "args" is either a list
//!       without binary values or exactly [{"$binary": ...}].
//!   {"emit": "name", "args": [...], "ack": true}  emits with an ack callback, waits for the
//!       ack and prints {"ack": {"event": "name", "args": [...]}}. JSON arguments only:
//!       rust_socketio 0.6.0 sends a binary payload with an ack id as a BINARY_ACK packet.
//!   {"expect": "name"}  waits for the next event "name"; prints {"event": "name", "args": [...]}
//!       (the client cannot answer an ack the server asked for, nor tell that it asked).
//!   {"disconnect": true}  client-side disconnect of the current connection.
//!   {"expect_disconnect": true}  waits until the server disconnected the current namespace.
//!   {"sleep": ms}
//!   {"state": true}  prints {"state": {"connected": bool}}: whether the namespace is connected
//!       as far as this script saw (CONNECT received, no DISCONNECT since).
//! Any step but connect and sleep may say "on": i to act on the i-th connection opened (from 0)
//! instead of the current one.
//! Also printed as they happen: {"disconnect": "server"} when the server's DISCONNECT arrives,
//! {"disconnect": "client"} when a "disconnect" step closed the connection (rust_socketio's
//! `close` callback fires in both cases). An error reported by the client's `error` callback
//! while its connection is up ends the run with {"error": ...}.

use std::collections::{HashMap, VecDeque};
use std::io::{Read, Write};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Condvar, Mutex, MutexGuard};
use std::thread;
use std::time::Duration;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as BASE64;
use rust_socketio::client::Client;
use rust_socketio::{ClientBuilder, Event, Payload, RawClient, TransportType};
use serde_json::{Value, json};

/// How long the client waits for an ack (the hard timeout ends the run before).
const ACK_TIMEOUT: Duration = Duration::from_secs(30);

static OUT: Mutex<()> = Mutex::new(());
/// Set once the last step ran: what the connections do while they close is not reported.
static FINISHED: AtomicBool = AtomicBool::new(false);
static CURRENT_STEP: Mutex<Option<Value>> = Mutex::new(None);

/// Prints one observation as a line of JSON.
fn out(value: Value) {
    let _guard = OUT.lock().unwrap_or_else(|e| e.into_inner());
    let mut stdout = std::io::stdout().lock();
    let _ = writeln!(stdout, "{value}");
    let _ = stdout.flush();
}

/// Prints `{"error": message, "step": <the current step>}` and exits with status 1.
fn fail(message: impl std::fmt::Display) -> ! {
    let step = CURRENT_STEP
        .lock()
        .map(|s| s.clone())
        .unwrap_or_else(|e| e.into_inner().clone());
    out(json!({ "error": message.to_string(), "step": step }));
    let _ = std::io::stderr().flush();
    std::process::exit(1);
}

/// The bytes when `args` is exactly `[{"$binary": ...}]`: the client sends binary only as a
/// `Payload::Binary`, one attachment and nothing else.
fn binary_arg(args: &[Value]) -> Option<Vec<u8>> {
    match args {
        [Value::Object(map)] if map.len() == 1 => {
            let b64 = map.get("$binary")?.as_str()?;
            Some(
                BASE64
                    .decode(b64)
                    .unwrap_or_else(|e| fail(format!("bad base64 in {b64:?}: {e}"))),
            )
        }
        _ => None,
    }
}

fn contains_binary(v: &Value) -> bool {
    match v {
        Value::Array(items) => items.iter().any(contains_binary),
        Value::Object(map) => map.contains_key("$binary") || map.values().any(contains_binary),
        _ => false,
    }
}

/// The arguments of an event as the client handed them over.
fn event_args(payload: Payload) -> Value {
    match payload {
        Payload::Text(values) => Value::Array(values),
        Payload::Binary(bytes) => json!([{ "$binary": BASE64.encode(&bytes[..]) }]),
        #[allow(deprecated)]
        Payload::String(s) => json!([s]),
    }
}

/// The arguments of an ack: rust_socketio hands the ACK packet's whole JSON array over as one
/// value (`Payload::Text(vec![array])`), or its first attachment as `Payload::Binary`.
fn ack_args(payload: Payload) -> Value {
    match payload {
        Payload::Text(mut values) if values.len() == 1 && values[0].is_array() => values.remove(0),
        other => json!({ "unexpected_ack_payload": event_args(other) }),
    }
}

/// The text of an `error` callback (a string, turned into JSON when it parses as JSON).
fn error_text(payload: Payload) -> String {
    match payload {
        Payload::Text(values) => match values.as_slice() {
            [Value::String(s)] => s.clone(),
            _ => Value::Array(values).to_string(),
        },
        other => format!("{other:?}"),
    }
}

const CONNECT_ERROR_PREFIX: &str = "Received an ConnectError frame: ";

#[derive(Default)]
struct State {
    /// The server's CONNECT arrived (and no DISCONNECT since).
    connected: bool,
    /// The payload of a CONNECT_ERROR.
    connect_error: Option<Value>,
    /// The namespace was disconnected (by either side).
    closed: bool,
    /// A "disconnect" step is closing the connection.
    client_closing: bool,
    /// Events received and not yet expected, by name.
    events: HashMap<String, VecDeque<Value>>,
}

/// One connection: its state, shared with rust_socketio's callbacks.
struct Conn {
    nsp: String,
    state: Mutex<State>,
    changed: Condvar,
}

impl Conn {
    fn lock(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn update(&self, f: impl FnOnce(&mut State)) {
        f(&mut self.lock());
        self.changed.notify_all();
    }

    /// Waits until `ready` returns `Some` (the hard timeout ends a run that waits forever).
    fn wait_for<T>(&self, mut ready: impl FnMut(&mut State) -> Option<T>) -> T {
        let mut state = self.lock();
        loop {
            if let Some(t) = ready(&mut state) {
                return t;
            }
            state = self.changed.wait(state).unwrap_or_else(|e| e.into_inner());
        }
    }
}

fn transport_type(name: &str) -> TransportType {
    match name {
        "polling" => TransportType::Polling,
        "websocket" => TransportType::Websocket,
        "upgrade" => TransportType::WebsocketUpgrade,
        "any" => TransportType::Any,
        other => fail(format!("unknown transport {other:?}")),
    }
}

fn open(url: &str, transport: &str, spec: &Value, index: usize) -> (Arc<Conn>, Client) {
    let nsp = spec.get("nsp").and_then(Value::as_str).unwrap_or("/");
    let conn = Arc::new(Conn {
        nsp: nsp.to_owned(),
        state: Mutex::default(),
        changed: Condvar::new(),
    });
    let mut builder = ClientBuilder::new(url)
        .namespace(nsp)
        .transport_type(transport_type(transport))
        .reconnect(false)
        .reconnect_on_disconnect(false);
    if let Some(auth) = spec.get("auth") {
        builder = builder.auth(auth.clone());
    }
    let c = conn.clone();
    builder = builder.on("open", move |_: Payload, _: RawClient| {
        c.update(|s| {
            s.connected = true;
            s.closed = false;
        });
    });
    let c = conn.clone();
    builder = builder.on("close", move |_: Payload, _: RawClient| {
        let (by_client, again) = {
            let s = c.lock();
            (s.client_closing, s.closed)
        };
        // The blocking client calls `close` a second time when its polling thread finds the
        // Engine.IO connection closed after a disconnect (it then calls `disconnect()` itself).
        if again {
            eprintln!("[{index}] close callback again");
            return;
        }
        if !FINISHED.load(Ordering::SeqCst) {
            out(json!({ "disconnect": if by_client { "client" } else { "server" } }));
        }
        c.update(|s| {
            s.connected = false;
            s.closed = true;
        });
    });
    let c = conn.clone();
    builder = builder.on("error", move |payload: Payload, _: RawClient| {
        let text = error_text(payload);
        eprintln!("[{index}] error callback: {text}");
        if let Some(raw) = text.strip_prefix(CONNECT_ERROR_PREFIX) {
            let payload = serde_json::from_str(raw).unwrap_or_else(|_| Value::String(raw.into()));
            c.update(|s| s.connect_error = Some(payload));
            return;
        }
        let live = {
            let s = c.lock();
            s.connected && !s.closed && !s.client_closing
        };
        if live && !FINISHED.load(Ordering::SeqCst) {
            fail(format!("client error on connection {index}: {text}"));
        }
    });
    let c = conn.clone();
    builder = builder.on_any(move |event: Event, payload: Payload, _: RawClient| {
        let name = String::from(event);
        let args = event_args(payload);
        eprintln!("[{index}] event {name:?} {args}");
        c.update(|s| s.events.entry(name).or_default().push_back(args));
    });
    let client = builder
        .connect()
        .unwrap_or_else(|e| fail(format!("connect to {url} ({nsp}) failed: {e}")));
    (conn, client)
}

fn run(args: &Value) {
    let url = args["url"]
        .as_str()
        .unwrap_or_else(|| fail("no \"url\""))
        .to_owned();
    let transport = args
        .get("transport")
        .and_then(Value::as_str)
        .unwrap_or("any")
        .to_owned();
    let steps = args
        .get("steps")
        .and_then(Value::as_array)
        .cloned()
        .unwrap_or_default();
    let mut connections: Vec<(Arc<Conn>, Client)> = Vec::new();
    let mut current: Option<usize> = None;

    for step in &steps {
        *CURRENT_STEP.lock().unwrap_or_else(|e| e.into_inner()) = Some(step.clone());
        if let Some(spec) = step.get("connect") {
            let index = connections.len();
            let (conn, client) = open(&url, &transport, spec, index);
            let expect_error = step.get("expect_error").and_then(Value::as_bool) == Some(true);
            enum Outcome {
                Connected,
                Refused(Value),
            }
            let outcome = conn.wait_for(|s| {
                if let Some(e) = s.connect_error.take() {
                    Some(Outcome::Refused(e))
                } else if s.connected {
                    Some(Outcome::Connected)
                } else {
                    None
                }
            });
            match (outcome, expect_error) {
                (Outcome::Connected, false) => out(json!({ "connected": { "nsp": conn.nsp } })),
                (Outcome::Refused(e), true) => out(json!({ "connect_error": e })),
                (Outcome::Connected, true) => {
                    fail("connected although a CONNECT_ERROR was expected")
                }
                (Outcome::Refused(e), false) => fail(format!("connect refused: {e}")),
            }
            connections.push((conn, client));
            current = Some(index);
            continue;
        }
        if let Some(ms) = step.get("sleep").and_then(Value::as_u64) {
            thread::sleep(Duration::from_millis(ms));
            continue;
        }

        let index = match step.get("on").and_then(Value::as_u64) {
            Some(i) => i as usize,
            None => current.unwrap_or_else(|| fail("no connection for this step")),
        };
        let (conn, client) = connections
            .get(index)
            .unwrap_or_else(|| fail(format!("no connection {index}")));

        if let Some(name) = step.get("emit").and_then(Value::as_str) {
            let emit_args = step
                .get("args")
                .and_then(Value::as_array)
                .cloned()
                .unwrap_or_default();
            let payload = match binary_arg(&emit_args) {
                Some(bytes) => Payload::from(bytes),
                None if emit_args.iter().any(contains_binary) => fail(
                    "rust_socketio sends binary only as one attachment alone: \"args\" must be \
                     [{\"$binary\": ...}]",
                ),
                None => Payload::Text(emit_args),
            };
            if step.get("ack").and_then(Value::as_bool) == Some(true) {
                if matches!(payload, Payload::Binary(_)) {
                    fail("rust_socketio 0.6.0 sends a binary emit with an ack as a BINARY_ACK");
                }
                let (tx, rx) = std::sync::mpsc::channel();
                let tx = Mutex::new(tx);
                client
                    .emit_with_ack(name, payload, ACK_TIMEOUT, move |p: Payload, _| {
                        let _ = tx.lock().unwrap_or_else(|e| e.into_inner()).send(p);
                    })
                    .unwrap_or_else(|e| fail(format!("emit_with_ack failed: {e}")));
                let acked = rx
                    .recv()
                    .unwrap_or_else(|_| fail("the ack callback was dropped"));
                out(json!({ "ack": { "event": name, "args": ack_args(acked) } }));
            } else {
                client
                    .emit(name, payload)
                    .unwrap_or_else(|e| fail(format!("emit failed: {e}")));
            }
        } else if let Some(name) = step.get("expect").and_then(Value::as_str) {
            let got = conn.wait_for(|s| s.events.get_mut(name).and_then(VecDeque::pop_front));
            out(json!({ "event": name, "args": got }));
        } else if step.get("disconnect").and_then(Value::as_bool) == Some(true) {
            conn.update(|s| s.client_closing = true);
            client
                .disconnect()
                .unwrap_or_else(|e| fail(format!("disconnect failed: {e}")));
            conn.wait_for(|s| s.closed.then_some(()));
        } else if step.get("expect_disconnect").and_then(Value::as_bool) == Some(true) {
            conn.wait_for(|s| s.closed.then_some(()));
        } else if step.get("state").and_then(Value::as_bool) == Some(true) {
            let connected = conn.lock().connected;
            out(json!({ "state": { "connected": connected } }));
        } else {
            fail(format!("unknown step {step}"));
        }
    }
    *CURRENT_STEP.lock().unwrap_or_else(|e| e.into_inner()) = None;
    FINISHED.store(true, Ordering::SeqCst);
    for (conn, client) in &connections {
        let live = {
            let mut s = conn.lock();
            let live = s.connected && !s.closed;
            s.client_closing = true;
            live
        };
        if live {
            // Best effort: the process exits right after.
            let _ = client.disconnect();
        }
    }
}

fn main() {
    let mut input = String::new();
    std::io::stdin()
        .read_to_string(&mut input)
        .unwrap_or_else(|e| fail(format!("cannot read stdin: {e}")));
    let args: Value =
        serde_json::from_str(&input).unwrap_or_else(|e| fail(format!("stdin is not JSON: {e}")));
    let timeout = Duration::from_millis(
        args.get("timeout_ms")
            .and_then(Value::as_u64)
            .unwrap_or(10_000),
    );
    thread::spawn(move || {
        thread::sleep(timeout);
        fail(format!("timeout after {timeout:?}"));
    });
    // A panic on a thread of rust_socketio's (a callback's) ends the run too.
    std::panic::set_hook(Box::new(|info| fail(format!("panic: {info}"))));
    run(&args);
    let _ = std::io::stdout().flush();
    // rust_socketio's polling threads may still run (or spin: its blocking client keeps
    // polling a closed connection): do not wait for them.
    std::process::exit(0);
}
