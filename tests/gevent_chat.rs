//! gevent-socketio's own chat example, ported (`examples/gevent_chat`), driven by
//! socket.io-client 4.8 under node on each transport: the proof that a port is straightforward.
//! Every rule of the protocol in the example's doc comment is checked here.
//!
//! Run: `cargo test -p socketio-ns --test gevent_chat --example gevent_chat` (needs node and
//! npm; the harness installs `tests/node_modules` and `examples/chat/node_modules`).

#[macro_use]
#[allow(unused_macros)]
mod common;
#[allow(unused_macros)]
#[path = "common/rooms_support.rs"]
mod rooms_support;

use std::path::Path;
use std::sync::Once;

use serde_json::{Value, json};

use common::{ExampleServer, Mode, npm_install_once, request, run_node};
use rooms_support::{ack, event, norm};

/// Starts the example once the chat example's npm package (whose socket.io-client it serves)
/// is installed.
fn server() -> ExampleServer {
    static INSTALL: Once = Once::new();
    npm_install_once(
        &INSTALL,
        &Path::new(env!("CARGO_MANIFEST_DIR")).join("../examples/chat"),
    );
    ExampleServer::spawn("gevent_chat")
}

fn connect(name: &str, mode: Mode) -> Value {
    json!({ "connect": name, "nsp": "/", "transports": mode.transports() })
}

fn send(by: &str, name: &str, args: Value) -> Value {
    json!({ "emit": name, "by": by, "args": args, "no_ack": true })
}

fn expect(name: &str, by: &[&str]) -> Value {
    json!({ "expect": name, "by": by })
}

/// What `expect(name, by)` prints: each of `by` received `name` with these arguments.
fn received(name: &str, by: &[&str], args: Value) -> Vec<Value> {
    by.iter().map(|b| event(name, b, args.clone())).collect()
}

fn the_chat(mode: Mode) {
    let server = server();
    let all = ["ann", "bob", "cat"];
    let steps = vec![
        connect("ann", mode),
        connect("bob", mode),
        connect("cat", mode),
        // `nickname` with an ack, as the page sends it: everyone hears of it.
        json!({ "emit": "nickname", "by": "ann", "args": ["ann"] }),
        expect("announcement", &all),
        expect("nicknames", &all),
        json!({ "emit": "nickname", "by": "bob", "args": ["bob"] }),
        expect("announcement", &all),
        expect("nicknames", &all),
        // `user message`, with a space as the page sends it, and `user_message`: every other
        // socket of `main_room`.
        send("ann", "user message", json!(["hi"])),
        expect("msg_to_room", &["bob"]),
        send("bob", "user_message", json!(["yo"])),
        expect("msg_to_room", &["ann"]),
        // cat never gave a nickname: not in the room, its messages carry none.
        send("cat", "user message", json!(["lurking"])),
        expect("msg_to_room", &["ann", "bob"]),
        // A plain `send` is only logged.
        send("ann", "message", json!(["ping"])),
        json!({ "sleep": 100 }),
        json!({ "nothing": all }),
        // bob leaves: the others hear of it.
        json!({ "disconnect": "bob" }),
        expect("announcement", &["ann", "cat"]),
        expect("nicknames", &["ann", "cat"]),
        json!({ "disconnect": "cat" }),
        json!({ "sleep": 100 }),
        json!({ "nothing": ["ann"] }),
    ];
    let lines = run_node(
        "rooms.mjs",
        json!({ "url": server.url(), "steps": steps, "timeout_ms": 15_000 }),
    );
    let mut got = Vec::new();
    for line in lines {
        if line.get("connected").is_some() {
            assert_eq!(line["nsp"], "/", "{line}");
            assert_eq!(line["transport"], mode.final_transport(), "{line}");
        } else {
            got.push(norm(line));
        }
    }
    // The ack carries no argument: the page's callback sees a falsy `set` ("nickname set");
    // rooms.mjs prints the first argument, `undefined`, as null.
    let mut want = vec![ack("ann", "nickname", Value::Null)];
    want.extend(received("announcement", &all, json!(["ann has connected"])));
    want.extend(received("nicknames", &all, json!([["ann"]])));
    want.push(ack("bob", "nickname", Value::Null));
    want.extend(received("announcement", &all, json!(["bob has connected"])));
    want.extend(received("nicknames", &all, json!([["ann", "bob"]])));
    want.extend(received("msg_to_room", &["bob"], json!(["ann", "hi"])));
    want.extend(received("msg_to_room", &["ann"], json!(["bob", "yo"])));
    want.extend(received(
        "msg_to_room",
        &["ann", "bob"],
        json!([null, "lurking"]),
    ));
    want.push(json!({ "nothing": all }));
    want.extend(received(
        "announcement",
        &["ann", "cat"],
        json!(["bob has disconnected"]),
    ));
    want.extend(received("nicknames", &["ann", "cat"], json!([["ann"]])));
    want.push(json!({ "nothing": ["ann"] }));
    assert_eq!(got, want);
    assert!(
        server.log_text().contains("PING!!! ping"),
        "{}",
        server.log_text()
    );
}

per_transport!(the_chat);

#[test]
fn the_pages() {
    let server = server();
    let home = request(server.port, "GET", "/", &[], b"");
    assert_eq!(home.status, 200);
    assert!(home.text().contains(r#"<a href="/chat.html">chat</a>"#));
    let page = request(server.port, "GET", "/chat.html", &[], b"");
    assert_eq!(page.status, 200);
    assert!(page.text().contains(r#"socket.emit("user message""#));
    assert!(
        page.text()
            .contains(r#"<script src="/static/socket.io.js">"#)
    );
    let client = request(server.port, "GET", "/static/socket.io.js", &[], b"");
    assert_eq!(client.status, 200);
    assert_eq!(client.header("content-type"), Some("text/javascript"));
    assert!(
        client.text().contains("engine.io"),
        "the socket.io-client build"
    );
}
