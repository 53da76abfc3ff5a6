//! What the rooms tests add to the shared harness (`common/mod.rs`): an in-process server on a
//! free loopback port, multi-client scripts for `tests/js/rooms.mjs`, and output normalisation.
#![allow(dead_code, unreachable_pub)]

use std::collections::HashMap;
use std::time::Duration;

use serde_json::{Value, json};
use socketio_ns::{Builder, Io};
use tokio::task::JoinHandle;

use super::common::run_node;

/// How long a scenario may take, node's own start included.
pub const SCENARIO_TIMEOUT: Duration = Duration::from_secs(25);

/// A server serving in this process on 127.0.0.1.
pub struct TestServer {
    /// The server handle.
    pub io: Io,
    /// The port it listens on.
    pub port: u16,
    /// The serve loop; it ends with `Ok` after `io.close()`.
    pub serving: JoinHandle<std::io::Result<()>>,
}

impl TestServer {
    /// Builds the server and serves it on a port the system picks.
    pub async fn start(builder: Builder) -> TestServer {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = listener.local_addr().unwrap().port();
        let server = builder.build();
        let io = server.io();
        let serving = tokio::spawn(server.serve_listener(listener));
        TestServer { io, port, serving }
    }

    /// `http://127.0.0.1:<port>`
    pub fn url(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    /// Runs the steps in `tests/js/rooms.mjs` (on a blocking thread, so that this runtime
    /// keeps serving), checks that each client connected on the transport its mix gives it, and
    /// returns what else it printed, normalised by [`norm`].
    pub async fn run(&self, script: Script) -> Outcome {
        let input = json!({ "url": self.url(), "steps": script.steps, "timeout_ms": 20_000 });
        let run = tokio::task::spawn_blocking(move || run_node("rooms.mjs", input));
        let lines = tokio::time::timeout(SCENARIO_TIMEOUT, run)
            .await
            .expect("the scenario timed out")
            .expect("the node script failed");
        let mut out = Outcome::default();
        for line in &lines {
            let Some(name) = line["connected"].as_str() else {
                out.lines.push(norm(line.clone()));
                continue;
            };
            let engine = line["engine"].as_str().unwrap_or_default();
            assert!(!engine.is_empty(), "{line}");
            assert_eq!(
                line["transport"], script.transports[name],
                "client {name}: {lines:#?}"
            );
            out.engines.insert(name.to_owned(), engine.to_owned());
        }
        out
    }
}

/// What a scenario printed.
#[derive(Debug, Default)]
pub struct Outcome {
    /// Every line but the `connected` ones, normalised by [`norm`].
    pub lines: Vec<Value>,
    /// The Engine.IO id of each connected client.
    pub engines: HashMap<String, String>,
}

/// Which transports the clients of a scenario use.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mix {
    /// Every client on HTTP long-polling.
    Polling,
    /// Every client on WebSocket only.
    WebSocket,
    /// Client i on polling (i % 3 == 0), WebSocket (1), polling upgraded to WebSocket (2).
    Mixed,
}

impl Mix {
    /// The `transports` of the i-th client.
    pub fn transports(self, i: usize) -> Value {
        match (self, i % 3) {
            (Mix::Polling, _) | (Mix::Mixed, 0) => json!(["polling"]),
            (Mix::WebSocket, _) | (Mix::Mixed, 1) => json!(["websocket"]),
            (Mix::Mixed, _) => json!(["polling", "websocket"]),
        }
    }

    /// The transport the i-th client ends up on.
    pub fn final_transport(self, i: usize) -> &'static str {
        match (self, i % 3) {
            (Mix::Polling, _) | (Mix::Mixed, 0) => "polling",
            _ => "websocket",
        }
    }
}

/// The steps of a `rooms.mjs` scenario. Clients get their transports from the mix, in the
/// order they connect.
#[derive(Debug)]
pub struct Script {
    mix: Mix,
    connections: usize,
    steps: Vec<Value>,
    transports: HashMap<String, &'static str>,
}

impl Script {
    /// An empty scenario.
    pub fn new(mix: Mix) -> Script {
        Script {
            mix,
            connections: 0,
            steps: Vec::new(),
            transports: HashMap::new(),
        }
    }

    /// Connects client `name` to `nsp`; `extra` adds fields to the step (`auth`, `same_as`,
    /// `expect_error`).
    pub fn connect_with(mut self, name: &str, nsp: &str, extra: Value) -> Script {
        let mut step = json!({
            "connect": name,
            "nsp": nsp,
            "transports": self.mix.transports(self.connections),
        });
        if let (Some(step), Some(extra)) = (step.as_object_mut(), extra.as_object()) {
            step.extend(extra.clone());
        }
        let transport = match extra["same_as"].as_str() {
            // On the Engine.IO connection of another client.
            Some(other) => self.transports[other],
            None => {
                self.connections += 1;
                self.mix.final_transport(self.connections - 1)
            }
        };
        self.transports.insert(name.to_owned(), transport);
        self.steps.push(step);
        self
    }

    /// Connects client `name` to `nsp`.
    pub fn connect(self, name: &str, nsp: &str) -> Script {
        self.connect_with(name, nsp, json!({}))
    }

    /// Connects each client to `nsp`.
    pub fn connect_all(mut self, names: &[&str], nsp: &str) -> Script {
        for n in names {
            self = self.connect(n, nsp);
        }
        self
    }

    /// `by` emits `event` with one argument and waits for the server's ack.
    pub fn emit(self, by: &str, event: &str, arg: Value) -> Script {
        self.step(json!({ "emit": event, "by": by, "args": [arg] }))
    }

    /// Each of `by` waits for its next `event`.
    pub fn expect(self, event: &str, by: &[&str]) -> Script {
        self.step(json!({ "expect": event, "by": by }))
    }

    /// Each of `by` must have no unread event.
    pub fn nothing(self, by: &[&str]) -> Script {
        self.step(json!({ "nothing": by }))
    }

    /// Any other step.
    pub fn step(mut self, step: Value) -> Script {
        self.steps.push(step);
        self
    }
}

/// Sorts every array found under a key named `rooms` or `timed_out`, so that set-like results
/// compare equal whatever the server's order.
pub fn norm(v: Value) -> Value {
    match v {
        Value::Object(map) => Value::Object(
            map.into_iter()
                .map(|(k, v)| {
                    let v = norm(v);
                    let v = match (k.as_str(), v) {
                        ("rooms" | "timed_out", Value::Array(mut a)) => {
                            a.sort_by_key(|x| x.to_string());
                            Value::Array(a)
                        }
                        (_, v) => v,
                    };
                    (k, v)
                })
                .collect(),
        ),
        Value::Array(a) => Value::Array(a.into_iter().map(norm).collect()),
        v => v,
    }
}

/// The line `rooms.mjs` prints for an event received.
pub fn event(name: &str, by: &str, args: Value) -> Value {
    json!({ "event": name, "by": by, "args": args, "acked": false })
}

/// The line `rooms.mjs` prints for an ack received.
pub fn ack(by: &str, event: &str, value: Value) -> Value {
    json!({ "ack": by, "event": event, "args": [value] })
}

/// Generates `mod $name { polling, websocket, mixed }`: three tests running `$name(Mix::..)`.
macro_rules! per_mix {
    ($($name:ident),* $(,)?) => {$(
        mod $name {
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn polling() {
                super::$name(super::Mix::Polling).await
            }
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn websocket() {
                super::$name(super::Mix::WebSocket).await
            }
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn mixed() {
                super::$name(super::Mix::Mixed).await
            }
        }
    )*};
}
