//! The chat example (`examples/chat`) against socket.io-client 4.8 under node: every rule of its
//! protocol (README.md, "The chat example protocol"), each on polling, on WebSocket, and on
//! polling upgraded to WebSocket; the same with `PARSER=msgpack` and msgpack clients; the token
//! from the handshake query, and socket.io-client 2.5 (`tests/js/eio3.mjs`) logging in with it;
//! and its web page, over raw HTTP.
//!
//! Run: `cargo test -p socketio-ns --test chat --example chat` (needs node and npm; the
//! harness installs `tests/node_modules` and `examples/chat/node_modules` when missing).
//!
//! The scenarios run the multi-client driver `tests/js/rooms.mjs` (several named clients, each
//! emit waiting for its ack); the ticker's stop is proved by `tests/js/chat_ticker.mjs`, which
//! watches the Engine.IO connection itself.

#[macro_use]
#[allow(unused_macros)]
mod common;
#[allow(unused_macros)]
#[path = "common/rooms_support.rs"]
mod rooms_support;

use std::fs;
use std::path::{Path, PathBuf};
use std::sync::Once;

use base64::Engine as _;
use serde_json::{Value, json};

use common::{
    ExampleServer, Mode, binary, npm_install_once, pseudo_random_bytes, request, run_node,
};
use rooms_support::ack;

const NSP: &str = "/chat";
const MIB: usize = 1 << 20;

// ---------------------------------------------------------------------------------------------
// The example and its npm package

/// `examples/chat`.
fn example_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../examples/chat")
}

/// The browser build of socket.io-client the example serves.
fn client_script() -> PathBuf {
    example_dir().join("node_modules/socket.io-client/dist/socket.io.min.js")
}

/// Starts the chat example, once `examples/chat/node_modules` is installed.
///
/// The example runs `npm ci` itself when the package is missing, but servers started at once by
/// parallel tests would race on one directory (and the harness gives a server 10 s to listen):
/// the first test installs it into a staging directory renamed into place, like
/// `tests/node_modules` ([`common::npm_install_once`]).
fn chat_server() -> ExampleServer {
    chat_server_with(&[])
}

/// [`chat_server`] with these environment variables.
fn chat_server_with(env: &[(&str, &str)]) -> ExampleServer {
    static INSTALL: Once = Once::new();
    npm_install_once(&INSTALL, &example_dir());
    assert!(client_script().is_file(), "{}", client_script().display());
    ExampleServer::spawn_with_env("chat", env)
}

// ---------------------------------------------------------------------------------------------
// Scenarios for rooms.mjs

/// The steps of a `rooms.mjs` scenario on `/chat`, every client on the transports of one mode.
struct Scenario {
    mode: Mode,
    steps: Vec<Value>,
    /// The server and every client speak the msgpack parser.
    msgpack: bool,
}

impl Scenario {
    fn new(mode: Mode) -> Scenario {
        Scenario {
            mode,
            steps: Vec::new(),
            msgpack: false,
        }
    }

    /// The chat started with `PARSER=msgpack`, every client with socket.io-msgpack-parser.
    fn msgpack(mut self) -> Scenario {
        self.msgpack = true;
        self
    }

    fn step(mut self, step: Value) -> Scenario {
        self.steps.push(step);
        self
    }

    /// Connects client `name` with this CONNECT auth payload (`Value::Null`: none).
    fn connect_with(self, name: &str, auth: Value, refused: bool) -> Scenario {
        let mut step = json!({
            "connect": name,
            "nsp": NSP,
            "transports": self.mode.transports(),
            "expect_error": refused,
        });
        if !auth.is_null() {
            step["auth"] = auth;
        }
        self.step(step)
    }

    /// Connects client `name` with a valid token.
    fn connect(self, name: &str) -> Scenario {
        self.connect_with(name, json!({ "token": format!("token-{name}") }), false)
    }

    /// Connects each client and logs it in, its name as nick.
    fn logged_in(mut self, names: &[&str]) -> Scenario {
        for name in names {
            self = self.connect(name).emit(name, "login", json!([name]));
        }
        self
    }

    /// `by` emits `event` with these arguments and waits for the ack.
    fn emit(self, by: &str, event: &str, args: Value) -> Scenario {
        self.step(json!({ "emit": event, "by": by, "args": args }))
    }

    /// `by` emits `event` without asking for an ack.
    fn send(self, by: &str, event: &str, args: Value) -> Scenario {
        self.step(json!({ "emit": event, "by": by, "args": args, "no_ack": true }))
    }

    /// Each of `by` waits for its next `event`.
    fn expect(self, event: &str, by: &[&str]) -> Scenario {
        self.step(json!({ "expect": event, "by": by }))
    }

    /// A round trip for each of `by` (`stop_ticker`, acked `true`): what the server sent them
    /// before has arrived. Expect [`synced`] for each.
    fn sync(mut self, by: &[&str]) -> Scenario {
        for name in by {
            self = self.emit(name, "stop_ticker", json!([]));
        }
        self
    }

    /// Each of `by` has no unread event.
    fn nothing(self, by: &[&str]) -> Scenario {
        self.step(json!({ "nothing": by }))
    }

    /// Runs the scenario against a fresh chat server; checks that every client that connected
    /// did so on `/chat` over the mode's final transport (in [`Mode::Upgrade`]: after the
    /// upgrade, which `rooms.mjs` waits for) and returns the other lines.
    fn run(self) -> Vec<Value> {
        let (env, parser): (&[(&str, &str)], _) = match self.msgpack {
            true => (&[("PARSER", "msgpack")], json!("msgpack")),
            false => (&[], Value::Null),
        };
        let server = chat_server_with(env);
        let lines = run_node(
            "rooms.mjs",
            json!({
                "url": server.url(),
                "steps": self.steps,
                "timeout_ms": 15_000,
                "parser": parser,
            }),
        );
        let mut rest = Vec::new();
        for line in lines {
            if line.get("connected").is_some() {
                assert_eq!(line["nsp"], NSP, "{line}");
                assert_eq!(line["transport"], self.mode.final_transport(), "{line}");
            } else {
                rest.push(line);
            }
        }
        rest
    }
}

/// What [`Scenario::sync`] prints for one client.
fn synced(by: &[&str]) -> Vec<Value> {
    by.iter()
        .map(|name| ack(name, "stop_ticker", json!(true)))
        .collect()
}

/// The line for an event received: the chat example runs with connection state recovery, so
/// every event it sends carries its offset (a non-empty string) as its last argument.
fn event(name: &str, by: &str, args: Value) -> Value {
    let mut args = args;
    args.as_array_mut()
        .expect("event arguments are an array")
        .push(json!("*"));
    rooms_support::event(name, by, args)
}

/// The ack of `event` answering the error `name` (any message).
fn ack_error(by: &str, event: &str, name: &str) -> Value {
    ack(by, event, json!({ "error": name, "message": "*" }))
}

/// The `error` event reporting `name` (any message) to a client that asked for no ack.
fn error_event(by: &str, name: &str) -> Value {
    event("error", by, json!([name, "*"]))
}

/// Whether `actual` is `expected`, where the string `"*"` in `expected` stands for any non-empty
/// string.
fn matches(expected: &Value, actual: &Value) -> bool {
    match (expected, actual) {
        (Value::String(e), Value::String(a)) if e == "*" => !a.is_empty(),
        (Value::Array(e), Value::Array(a)) => {
            e.len() == a.len() && e.iter().zip(a).all(|(e, a)| matches(e, a))
        }
        (Value::Object(e), Value::Object(a)) => {
            e.len() == a.len()
                && e.iter()
                    .all(|(k, e)| a.get(k).is_some_and(|a| matches(e, a)))
        }
        (e, a) => e == a,
    }
}

#[track_caller]
fn assert_lines(actual: &[Value], expected: &[Value]) {
    let ok =
        actual.len() == expected.len() && expected.iter().zip(actual).all(|(e, a)| matches(e, a));
    assert!(
        ok,
        "expected:\n{}\nactual:\n{}",
        lines_text(expected),
        lines_text(actual)
    );
}

fn lines_text(lines: &[Value]) -> String {
    lines.iter().map(|l| format!("  {l}\n")).collect()
}

fn b64(bytes: &[u8]) -> String {
    base64::engine::general_purpose::STANDARD.encode(bytes)
}

/// What `download(size)` answers: byte `i` is `i % 256`.
fn download_bytes(size: usize) -> Vec<u8> {
    (0..size).map(|i| (i % 256) as u8).collect()
}

// ---------------------------------------------------------------------------------------------
// The protocol, rule by rule

/// CONNECT needs an object with a non-empty string `token`.
fn connect_auth(mode: Mode) {
    let refused = [
        Value::Null,
        json!({}),
        json!({ "token": "" }),
        json!({ "token": 5 }),
        json!({ "token": null }),
        json!({ "nick": "x" }),
    ];
    let mut s = Scenario::new(mode);
    for (i, auth) in refused.iter().enumerate() {
        s = s.connect_with(&format!("r{i}"), auth.clone(), true);
    }
    let lines = s
        .connect_with("ok", json!({ "token": "t" }), false)
        .emit("ok", "login", json!(["ok"]))
        .run();
    let mut expected: Vec<Value> = (0..refused.len())
        .map(|i| json!({ "connect_error": format!("r{i}"), "message": "unauthorized", "data": null }))
        .collect();
    expected.push(ack("ok", "login", json!({ "nick": "ok" })));
    assert_lines(&lines, &expected);
}

/// A CONNECT without auth payload takes its token from the handshake query; one with a
/// payload is judged by the payload alone.
fn query_token(mode: Mode) {
    let lines = Scenario::new(mode)
        .step(json!({
            "connect": "q", "nsp": NSP, "transports": mode.transports(),
            "query": { "token": "from-query" },
        }))
        .emit("q", "login", json!(["q"]))
        .step(json!({
            "connect": "empty", "nsp": NSP, "transports": mode.transports(),
            "query": { "token": "" }, "expect_error": true,
        }))
        .step(json!({
            "connect": "both", "nsp": NSP, "transports": mode.transports(),
            "query": { "token": "from-query" }, "auth": {}, "expect_error": true,
        }))
        .run();
    assert_lines(
        &lines,
        &[
            ack("q", "login", json!({ "nick": "q" })),
            json!({ "connect_error": "empty", "message": "unauthorized", "data": null }),
            json!({ "connect_error": "both", "message": "unauthorized", "data": null }),
        ],
    );
}

/// With `PARSER=msgpack`: the macro's handlers, the ACL, acks, a broadcast to a room, binary
/// both ways (uploads, downloads up to 1 MiB), errors in both forms.
fn msgpack_chat(mode: Mode) {
    let said = json!([{ "room": "r1", "nick": "a", "text": "hello r1" }]);
    let big = pseudo_random_bytes(100_000, 11);
    let lines = Scenario::new(mode)
        .msgpack()
        .connect_with("refused", json!({ "token": "" }), true)
        .connect("x")
        .emit("x", "join", json!(["r1"]))
        .send("x", "join", json!(["r1"]))
        .expect("error", &["x"])
        .logged_in(&["a", "b", "c"])
        .emit("a", "join", json!(["r1"]))
        .emit("b", "join", json!(["r1"]))
        .emit("a", "say", json!(["r1", "hello r1"]))
        .expect("said", &["b"])
        .emit("c", "upload", json!(["big.bin", binary(&big)]))
        .emit("c", "download", json!([MIB]))
        .sync(&["a", "b", "c"])
        .nothing(&["a", "b", "c"])
        .run();
    let mut expected = vec![
        json!({ "connect_error": "refused", "message": "unauthorized", "data": null }),
        ack_error("x", "join", "method_access_denied"),
        error_event("x", "method_access_denied"),
        ack("a", "login", json!({ "nick": "a" })),
        ack("b", "login", json!({ "nick": "b" })),
        ack("c", "login", json!({ "nick": "c" })),
        ack("a", "join", json!({ "rooms": ["r1"] })),
        ack("b", "join", json!({ "rooms": ["r1"] })),
        ack("a", "say", json!(true)),
        event("said", "b", said),
        ack(
            "c",
            "upload",
            json!({ "name": "big.bin", "size": big.len() }),
        ),
        ack(
            "c",
            "download",
            json!({ "$binary": b64(&download_bytes(MIB)) }),
        ),
    ];
    expected.extend(synced(&["a", "b", "c"]));
    expected.push(json!({ "nothing": ["a", "b", "c"] }));
    assert_lines(&lines, &expected);
}

/// Every call a logged-out socket may not make, with arguments that would otherwise do.
fn restricted_calls() -> Vec<(&'static str, Value)> {
    vec![
        ("join", json!(["r"])),
        ("leave", json!(["r"])),
        ("say", json!(["r", "hi"])),
        ("ticker", json!([1000])),
        ("stop_ticker", json!([])),
        ("upload", json!(["f", binary(b"data")])),
        ("download", json!([1])),
        ("logout", json!([])),
    ]
}

/// Only `login` before logging in; `login` lifts the ACL, `logout` puts it back.
fn acl_login_logout(mode: Mode) {
    let mut s = Scenario::new(mode).connect("a");
    let mut expected = Vec::new();
    for (event, args) in restricted_calls() {
        s = s.emit("a", event, args);
        expected.push(ack_error("a", event, "method_access_denied"));
    }
    s = s
        .emit("a", "login", json!([""]))
        .emit("a", "login", json!([42]))
        .emit("a", "login", json!([]))
        .emit("a", "login", json!(["alice"]))
        .emit("a", "join", json!(["r"]))
        .emit("a", "logout", json!([]))
        .emit("a", "join", json!(["r2"]))
        .emit("a", "logout", json!([]))
        .emit("a", "login", json!(["bob"]))
        .emit("a", "join", json!(["r2"]));
    expected.extend([
        ack_error("a", "login", "invalid_nick"),
        ack_error("a", "login", "invalid_arguments"),
        ack_error("a", "login", "invalid_arguments"),
        ack("a", "login", json!({ "nick": "alice" })),
        ack("a", "join", json!({ "rooms": ["r"] })),
        ack("a", "logout", json!(true)),
        ack_error("a", "join", "method_access_denied"),
        ack_error("a", "logout", "method_access_denied"),
        ack("a", "login", json!({ "nick": "bob" })),
        // The rooms were kept through the logout.
        ack("a", "join", json!({ "rooms": ["r", "r2"] })),
    ]);
    assert_lines(&s.run(), &expected);
}

/// `join` and `leave` answer the socket's rooms, sorted, without its own id room.
fn join_leave(mode: Mode) {
    let lines = Scenario::new(mode)
        .logged_in(&["a"])
        .emit("a", "join", json!(["m"]))
        .emit("a", "join", json!(["b"]))
        .emit("a", "join", json!(["z"]))
        .emit("a", "join", json!(["b"]))
        .emit("a", "join", json!(["a b/c"]))
        .emit("a", "leave", json!(["m"]))
        .emit("a", "leave", json!(["never-joined"]))
        .emit("a", "leave", json!(["z"]))
        .emit("a", "leave", json!(["b"]))
        .emit("a", "leave", json!(["a b/c"]))
        .run();
    assert_lines(
        &lines,
        &[
            ack("a", "login", json!({ "nick": "a" })),
            ack("a", "join", json!({ "rooms": ["m"] })),
            ack("a", "join", json!({ "rooms": ["b", "m"] })),
            ack("a", "join", json!({ "rooms": ["b", "m", "z"] })),
            ack("a", "join", json!({ "rooms": ["b", "m", "z"] })),
            ack("a", "join", json!({ "rooms": ["a b/c", "b", "m", "z"] })),
            ack("a", "leave", json!({ "rooms": ["a b/c", "b", "z"] })),
            ack("a", "leave", json!({ "rooms": ["a b/c", "b", "z"] })),
            ack("a", "leave", json!({ "rooms": ["a b/c", "b"] })),
            ack("a", "leave", json!({ "rooms": ["a b/c"] })),
            ack("a", "leave", json!({ "rooms": [] })),
        ],
    );
}

/// `say` reaches every other socket in the room, and nobody else.
fn say(mode: Mode) {
    let said =
        |room: &str, nick: &str, text: &str| json!([{ "room": room, "nick": nick, "text": text }]);
    let lines = Scenario::new(mode)
        .logged_in(&["a", "b", "c", "d"])
        .emit("a", "join", json!(["r1"]))
        .emit("b", "join", json!(["r1"]))
        .emit("c", "join", json!(["r1"]))
        .emit("c", "join", json!(["r2"]))
        .emit("d", "join", json!(["r2"]))
        .emit("a", "say", json!(["r1", "hello r1"]))
        .expect("said", &["b", "c"])
        .emit("d", "say", json!(["r2", "hello r2"]))
        .expect("said", &["c"])
        // Nobody there; and a room the sender is not in.
        .emit("a", "say", json!(["empty", "echo?"]))
        .emit("d", "say", json!(["r1", "from outside"]))
        .expect("said", &["a", "b", "c"])
        .sync(&["a", "b", "c", "d"])
        .nothing(&["a", "b", "c", "d"])
        .run();
    let mut expected = vec![
        ack("a", "login", json!({ "nick": "a" })),
        ack("b", "login", json!({ "nick": "b" })),
        ack("c", "login", json!({ "nick": "c" })),
        ack("d", "login", json!({ "nick": "d" })),
        ack("a", "join", json!({ "rooms": ["r1"] })),
        ack("b", "join", json!({ "rooms": ["r1"] })),
        ack("c", "join", json!({ "rooms": ["r1"] })),
        ack("c", "join", json!({ "rooms": ["r1", "r2"] })),
        ack("d", "join", json!({ "rooms": ["r2"] })),
        ack("a", "say", json!(true)),
        event("said", "b", said("r1", "a", "hello r1")),
        event("said", "c", said("r1", "a", "hello r1")),
        ack("d", "say", json!(true)),
        event("said", "c", said("r2", "d", "hello r2")),
        ack("a", "say", json!(true)),
        ack("d", "say", json!(true)),
        event("said", "a", said("r1", "d", "from outside")),
        event("said", "b", said("r1", "d", "from outside")),
        event("said", "c", said("r1", "d", "from outside")),
    ];
    expected.extend(synced(&["a", "b", "c", "d"]));
    expected.push(json!({ "nothing": ["a", "b", "c", "d"] }));
    assert_lines(&lines, &expected);
}

/// A logged-in socket that disconnects: `left` to the others in its rooms, once each.
fn left(mode: Mode) {
    let lines = Scenario::new(mode)
        .logged_in(&["a", "b", "c", "d", "e"])
        .emit("a", "join", json!(["r1"]))
        .emit("a", "join", json!(["r2"]))
        .emit("b", "join", json!(["r1"]))
        .emit("c", "join", json!(["r1"]))
        .emit("c", "join", json!(["r2"]))
        .emit("d", "join", json!(["r3"]))
        .step(json!({ "disconnect": "a" }))
        .expect("left", &["b", "c"])
        // A logged-out socket leaves silently.
        .emit("e", "join", json!(["r1"]))
        .emit("e", "logout", json!([]))
        .step(json!({ "disconnect": "e" }))
        // A socket in no room: nobody to tell.
        .connect("f")
        .emit("f", "login", json!(["f"]))
        .step(json!({ "disconnect": "f" }))
        .step(json!({ "sleep": 300 }))
        .sync(&["b", "c", "d"])
        .nothing(&["b", "c", "d"])
        .run();
    let mut expected = ["a", "b", "c", "d", "e"]
        .iter()
        .map(|n| ack(n, "login", json!({ "nick": n })))
        .collect::<Vec<_>>();
    expected.extend([
        ack("a", "join", json!({ "rooms": ["r1"] })),
        ack("a", "join", json!({ "rooms": ["r1", "r2"] })),
        ack("b", "join", json!({ "rooms": ["r1"] })),
        ack("c", "join", json!({ "rooms": ["r1"] })),
        ack("c", "join", json!({ "rooms": ["r1", "r2"] })),
        ack("d", "join", json!({ "rooms": ["r3"] })),
        event("left", "b", json!([{ "nick": "a" }])),
        event("left", "c", json!([{ "nick": "a" }])),
        ack("e", "join", json!({ "rooms": ["r1"] })),
        ack("e", "logout", json!(true)),
        ack("f", "login", json!({ "nick": "f" })),
    ]);
    expected.extend(synced(&["b", "c", "d"]));
    expected.push(json!({ "nothing": ["b", "c", "d"] }));
    assert_lines(&lines, &expected);
}

/// `upload` acks the name and size of a binary argument; `download` answers `size` bytes.
fn upload_download(mode: Mode) {
    let big = pseudo_random_bytes(200 * 1024, 7);
    let mut s = Scenario::new(mode)
        .logged_in(&["a"])
        .emit("a", "upload", json!(["big.bin", binary(&big)]))
        .emit("a", "upload", json!(["one", binary(&[0xff])]))
        .emit("a", "upload", json!(["nested/ü.txt", binary(b"hello")]));
    let mut expected = vec![
        ack("a", "login", json!({ "nick": "a" })),
        ack(
            "a",
            "upload",
            json!({ "name": "big.bin", "size": big.len() }),
        ),
        ack("a", "upload", json!({ "name": "one", "size": 1 })),
        ack("a", "upload", json!({ "name": "nested/ü.txt", "size": 5 })),
    ];
    for size in [1, 255, 256, 1000, 100_000, MIB] {
        s = s.emit("a", "download", json!([size]));
        expected.push(ack(
            "a",
            "download",
            json!({ "$binary": b64(&download_bytes(size)) }),
        ));
    }
    let lines = s.run();
    assert_lines(&lines, &expected);
    // The whole MiB, byte for byte (the comparison above already checked it).
    let last = lines.last().unwrap()["args"][0]["$binary"]
        .as_str()
        .unwrap();
    let bytes = base64::engine::general_purpose::STANDARD
        .decode(last)
        .unwrap();
    assert_eq!(bytes.len(), MIB);
    assert_eq!(bytes, download_bytes(MIB));
}

/// Every error, in both forms: the ack's argument when the client asked for an ack, else the
/// `error` event.
fn errors(mode: Mode) {
    // (event, arguments, error) for a socket that has not logged in, then for one that has.
    let before_login = [
        ("join", json!(["r"]), "method_access_denied"),
        // Refused before it is looked up: a client cannot probe for handlers (issue 12).
        ("no-such-event", json!([1]), "method_access_denied"),
        ("login", json!([""]), "invalid_nick"),
        ("login", json!([{ "nick": "x" }]), "invalid_arguments"),
    ];
    let after_login = [
        ("no-such-event", json!([]), "no_such_method"),
        ("ticker", json!([9]), "invalid_interval"),
        ("ticker", json!([60_001]), "invalid_interval"),
        ("ticker", json!(["fast"]), "invalid_arguments"),
        ("ticker", json!([-10]), "invalid_arguments"),
        ("download", json!([MIB + 1]), "too_large"),
        ("download", json!([-1]), "invalid_arguments"),
        ("upload", json!(["no data"]), "invalid_arguments"),
        ("join", json!([7]), "invalid_arguments"),
        ("say", json!(["r"]), "invalid_arguments"),
    ];
    let mut s = Scenario::new(mode).connect("a");
    let mut expected = Vec::new();
    for (i, (event, args, error)) in before_login.iter().chain(&after_login).enumerate() {
        if i == before_login.len() {
            s = s.emit("a", "login", json!(["a"]));
            expected.push(ack("a", "login", json!({ "nick": "a" })));
        }
        s = s
            .emit("a", event, args.clone())
            .send("a", event, args.clone())
            .expect("error", &["a"]);
        expected.extend([ack_error("a", event, error), error_event("a", error)]);
    }
    let lines = s.sync(&["a"]).nothing(&["a"]).run();
    expected.extend(synced(&["a"]));
    expected.push(json!({ "nothing": ["a"] }));
    assert_lines(&lines, &expected);
}

// ---------------------------------------------------------------------------------------------
// The ticker (tests/js/chat_ticker.mjs)

const TICK_MS: u64 = 25;

fn run_ticker(mode: Mode, stop: &str, starts: u32) -> Vec<Value> {
    let server = chat_server();
    run_node(
        "chat_ticker.mjs",
        json!({
            "url": server.url(),
            "transports": mode.transports(),
            "interval_ms": TICK_MS,
            "starts": starts,
            "ticks": 3,
            "stop": stop,
            "quiet_ms": 12 * TICK_MS,
        }),
    )
}

/// `ticker` acks `true`, then ticks 1, 2, 3, ...; a second `ticker` replaces the first;
/// `stop_ticker` stops it: after its ack, at most one tick that was already on its way (the job
/// is aborted at its next await), then nothing for 12 intervals.
fn ticker_stop_ticker(mode: Mode) {
    let lines = run_ticker(mode, "stop_ticker", 2);
    let stopped = lines.last().unwrap()["stopped"].clone();
    assert_lines(
        &lines[..lines.len() - 1],
        &[
            json!({ "connected": mode.final_transport() }),
            json!({ "ack": "login", "args": [{ "nick": "ticker-test" }] }),
            json!({ "ack": "ticker", "args": [true] }),
            json!({ "ack": "ticker", "args": [true] }),
            json!({ "ticks": [1, 2, 3] }),
            json!({ "ack": "stop_ticker", "args": [true] }),
        ],
    );
    assert_eq!(stopped["open"], true, "{lines:#?}");
    assert_eq!(stopped["quiet"], true, "the ticker goes on: {lines:#?}");
    let after = stopped["after"].as_array().unwrap();
    assert!(after.len() <= 1, "ticks after stop_ticker: {lines:#?}");
}

/// The ticker stops when the socket leaves the namespace: the client sends DISCONNECT for
/// `/chat` and keeps the connection open; the ticks in flight arrive, then nothing for 12
/// intervals (a job still running would tick in each).
fn ticker_stops_on_leave(mode: Mode) {
    let lines = run_ticker(mode, "leave", 1);
    let stopped = lines.last().unwrap()["stopped"].clone();
    assert_lines(
        &lines[..lines.len() - 1],
        &[
            json!({ "connected": mode.final_transport() }),
            json!({ "ack": "login", "args": [{ "nick": "ticker-test" }] }),
            json!({ "ack": "ticker", "args": [true] }),
            json!({ "ticks": [1, 2, 3] }),
        ],
    );
    assert_eq!(stopped["open"], true, "{lines:#?}");
    assert_eq!(stopped["quiet"], true, "the ticker goes on: {lines:#?}");
    // Only ticks that were on their way: consecutive, and few.
    let after: Vec<u64> = stopped["after"]
        .as_array()
        .unwrap()
        .iter()
        .map(|n| n.as_u64().unwrap())
        .collect();
    assert!(after.len() <= 8, "{lines:#?}");
    assert!(after.windows(2).all(|w| w[1] == w[0] + 1), "{lines:#?}");
}

/// socket.io-client 2.5 (Engine.IO v3; `tests/js/eio3.mjs`) logs in with `?token=` on the
/// handshake (its only way to send one), talks with another v2 client in a room, and is refused
/// without a token.
fn v2_client_query_token(mode: Mode) {
    let server = chat_server();
    let steps = json!([
        { "connect": { "nsp": NSP, "query": { "token": "t1" } } },
        { "emit": "login", "args": ["old"], "ack": true },
        { "emit": "join", "args": ["r"], "ack": true },
        { "connect": { "nsp": NSP, "query": { "token": "t2" } } },
        { "emit": "login", "args": ["older"], "ack": true },
        { "emit": "join", "args": ["r"], "ack": true },
        { "emit": "say", "args": ["r", "hi from v2"], "ack": true },
        { "on": 0, "expect": "said" },
        { "connect": { "nsp": NSP }, "expect_error": true },
        { "connect": { "nsp": NSP, "query": { "token": "" } }, "expect_error": true },
    ]);
    let lines = run_node(
        "eio3.mjs",
        json!({ "url": server.url(), "transports": mode.transports(), "steps": steps }),
    );
    let mut rest = Vec::new();
    for line in lines {
        if let Some(c) = line.get("connected") {
            assert_eq!(c["nsp"], NSP, "{c}");
            assert_eq!(c["transport"], mode.final_transport(), "{c}");
        } else if line.get("upgrade").is_none() {
            rest.push(line);
        }
    }
    let v2_ack = |event: &str, args: Value| json!({ "ack": { "event": event, "args": args } });
    assert_lines(
        &rest,
        &[
            v2_ack("login", json!([{ "nick": "old" }])),
            v2_ack("join", json!([{ "rooms": ["r"] }])),
            v2_ack("login", json!([{ "nick": "older" }])),
            v2_ack("join", json!([{ "rooms": ["r"] }])),
            v2_ack("say", json!([true])),
            json!({
                "event": "said",
                // The recovery offset every broadcast carries (for every client, as in Node).
                "args": [{ "room": "r", "nick": "older", "text": "hi from v2" }, "*"],
                "acked": false,
            }),
            json!({ "connect_error": "unauthorized" }),
            json!({ "connect_error": "unauthorized" }),
        ],
    );
}

per_transport!(
    query_token,
    msgpack_chat,
    v2_client_query_token,
    connect_auth,
    acl_login_logout,
    join_leave,
    say,
    left,
    upload_download,
    errors,
    ticker_stop_ticker,
    ticker_stops_on_leave,
);

// ---------------------------------------------------------------------------------------------
// The web page

/// `/` is the page, which loads socket.io-client from this server only; the script is the
/// file installed from `examples/chat/package-lock.json`, byte for byte.
#[test]
fn serves_page_and_client_script() {
    let server = chat_server();

    let page = request(server.port, "GET", "/", &[], b"");
    assert_eq!(page.status, 200);
    assert!(
        page.header("content-type")
            .unwrap()
            .starts_with("text/html"),
        "{page:?}"
    );
    let html = page.text();
    assert!(html.contains(r#"<script src="/socket.io-client.min.js"></script>"#));
    assert!(html.contains(r#"io("/chat""#));
    // No CDN, no other host.
    assert!(!html.contains("://"), "the page links elsewhere");

    let script = request(server.port, "GET", "/socket.io-client.min.js", &[], b"");
    assert_eq!(script.status, 200);
    assert!(
        script
            .header("content-type")
            .unwrap()
            .contains("javascript"),
        "{:?}",
        script.headers
    );
    assert_eq!(script.body, fs::read(client_script()).unwrap());
    let text = script.text();
    assert!(
        text.contains("Socket.IO v4.8.4"),
        "{}",
        &text[..100.min(text.len())]
    );

    // The Socket.IO endpoint is mounted next to them; other paths are not found.
    let handshake = request(
        server.port,
        "GET",
        "/socket.io/?EIO=4&transport=polling",
        &[],
        b"",
    );
    assert_eq!(handshake.status, 200);
    assert!(handshake.text().starts_with("0{"), "{}", handshake.text());
    assert_eq!(request(server.port, "GET", "/nope", &[], b"").status, 404);
}

/// With `PARSER=msgpack` the page gets socket.io-client's build with the msgpack parser, byte
/// for byte the package's `dist/socket.io.msgpack.min.js`; the page itself is unchanged.
#[test]
fn serves_msgpack_client_script() {
    let server = chat_server_with(&[("PARSER", "msgpack")]);
    let script = request(server.port, "GET", "/socket.io-client.min.js", &[], b"");
    assert_eq!(script.status, 200);
    let msgpack_build =
        example_dir().join("node_modules/socket.io-client/dist/socket.io.msgpack.min.js");
    assert_eq!(script.body, fs::read(msgpack_build).unwrap());
    assert_ne!(script.body, fs::read(client_script()).unwrap());
    let page = request(server.port, "GET", "/", &[], b"");
    assert!(
        page.text()
            .contains(r#"<script src="/socket.io-client.min.js"></script>"#)
    );
}
