//! gevent-socketio's own chat example (`examples/simple_chat/chat.py` in its repository),
//! ported to `#[namespace]` with as few changes as the languages allow: the same namespace
//! (`/`), the same event names and arguments, the same mixin calls under their names here.
//!
//! `cargo run --example gevent_chat`, then open <http://127.0.0.1:8080/chat.html> (`PORT`
//! overrides the port). The page loads socket.io-client from this server, which serves it from
//! the npm package of the chat example (`examples/chat/package.json`, installed with `npm ci`
//! on the first run); gevent's page loaded socket.io 0.9 with jQuery, which today's servers
//! do not speak, so `chat.html` here is a new page with the original's behaviour.
//!
//! # Protocol (namespace `/`)
//!
//! | client emits | server does |
//! |---|---|
//! | `nickname` `(name)` with an ack | adds `name` to the list of nicknames, keeps it in the connection's session, joins `main_room`; everyone (the sender included) receives `announcement` `"<name> has connected"` and `nicknames` `[names..]`; the ack is answered with no argument (gevent: `null`; both falsy, which the page reads as "nickname set") |
//! | `user message` (or `user_message`) `(text)` | every *other* socket in `main_room` receives `msg_to_room` `(nickname, text)` (a socket that never sent `nickname` is not in the room, and its messages carry `null` as the nickname) |
//! | `message` `(text)` (a plain `send`) | logged (`PING!!! <text>`), nothing sent back |
//!
//! When a socket that gave a nickname leaves, its name is removed, and everyone left receives
//! `announcement` `"<name> has disconnected"` and `nicknames` `[names..]`. (gevent's version
//! raised `KeyError` for a socket that never gave one; this one does nothing then.)
//!
//! HTTP: `/` a welcome page linking to `/chat.html`; `/chat.html` the page; `/static/socket.io.js`
//! the client; `/socket.io/` the server.
//!
//! # What changed from the Python, and why
//! - `self.request['nicknames']` (one dict given to `socketio_manage`, shared by every socket)
//!   is application state given to the builder (`Nicknames`) and read with `cx.state()`.
//! - `self.socket.session['nickname']` is `cx.session()`, the same per-connection store.
//! - `self.disconnect(silent=True)` at the end of `recv_disconnect` is gone: here
//!   `recv_disconnect` runs *as* the socket leaves, there is nothing left to disconnect.
//! - `emit_to_room(room, ...)` (every other socket in the room) is `cx.to(room).emit(...)`, and
//!   `broadcast_event(...)` (every socket, the sender included) keeps its name.

use std::net::Ipv4Addr;
use std::path::Path;
use std::process::Command;
use std::sync::Mutex;

use axum::http::{StatusCode, header};
use axum::response::{Html, IntoResponse};
use axum::routing::get;
use socketio_ns::{Bytes, Context, DisconnectReason, Server, namespace};

/// gevent's `self.request['nicknames']`: every nickname given, in order.
#[derive(Default)]
struct Nicknames(Mutex<Vec<String>>);

impl Nicknames {
    fn list(&self) -> std::sync::MutexGuard<'_, Vec<String>> {
        self.0.lock().unwrap_or_else(|e| e.into_inner())
    }
}

/// What `self.socket.session['nickname']` held.
#[derive(Clone)]
struct Nickname(String);

#[derive(Default)]
struct ChatNamespace;

#[namespace("/")]
impl ChatNamespace {
    fn on_nickname(&mut self, cx: &mut Context<Self>, nickname: String) {
        let nicknames = {
            let mut list = cx.state::<Nicknames>().list();
            list.push(nickname.clone());
            list.clone()
        };
        cx.session().insert(Nickname(nickname.clone()));
        cx.broadcast_event("announcement", format!("{nickname} has connected"));
        cx.broadcast_event("nicknames", (nicknames,));
        // Just have them join a default-named room
        cx.join("main_room");
    }

    fn recv_disconnect(&mut self, cx: &mut Context<Self>, _reason: DisconnectReason) {
        // Remove nickname from the list.
        let Some(Nickname(nickname)) = cx.session().get::<Nickname>() else {
            return;
        };
        let nicknames = {
            let mut list = cx.state::<Nicknames>().list();
            if let Some(i) = list.iter().position(|n| *n == nickname) {
                list.remove(i);
            }
            list.clone()
        };
        cx.broadcast_event("announcement", format!("{nickname} has disconnected"));
        cx.broadcast_event("nicknames", (nicknames,));
    }

    fn on_user_message(&mut self, cx: &mut Context<Self>, msg: String) {
        let nickname = cx.session().get::<Nickname>().map(|n| n.0);
        cx.to("main_room").emit("msg_to_room", (nickname, msg));
    }

    fn recv_message(&mut self, _cx: &mut Context<Self>, message: String) {
        println!("PING!!! {message}");
    }
}

#[tokio::main]
async fn main() -> std::io::Result<()> {
    let port = match std::env::var("PORT") {
        Ok(port) => port
            .parse()
            .map_err(|_| std::io::Error::other("PORT: not a port"))?,
        Err(_) => 8080,
    };
    let client = socket_io_client();
    let io = Server::builder()
        .state(Nicknames::default())
        .namespace::<ChatNamespace>()
        .build();
    let app = axum::Router::new()
        .route(
            "/",
            get(|| async {
                Html(r#"<h1>Welcome. Try the <a href="/chat.html">chat</a> example.</h1>"#)
            }),
        )
        .route(
            "/chat.html",
            get(|| async { Html(include_str!("chat.html")) }),
        )
        .route(
            "/static/socket.io.js",
            get(move || async move {
                match client {
                    Some(js) => ([(header::CONTENT_TYPE, "text/javascript")], js).into_response(),
                    None => (StatusCode::NOT_FOUND, NO_CLIENT).into_response(),
                }
            }),
        )
        .route_service("/socket.io/", io.service());
    let listener = tokio::net::TcpListener::bind((Ipv4Addr::LOCALHOST, port)).await?;
    println!("gevent_chat: http://{}/chat.html", listener.local_addr()?);
    let shutdown = io.io().close_after(socketio_ns::shutdown_signal());
    socketio_ns::serve(listener, app, shutdown).await
}

const NO_CLIENT: &str = "socket.io-client is not installed: run `npm ci` in examples/chat \
                         (needs node and npm), then restart the server";

/// The browser build of socket.io-client, from the chat example's pinned npm package
/// (installed with `npm ci` when missing). `None` when it cannot be had.
fn socket_io_client() -> Option<Bytes> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../examples/chat");
    let script = dir.join("node_modules/socket.io-client/dist/socket.io.min.js");
    if !script.exists() {
        let installed = Command::new("npm")
            .args(["ci", "--no-audit", "--no-fund"])
            .current_dir(&dir)
            .status();
        if !installed.is_ok_and(|status| status.success()) {
            eprintln!("gevent_chat: {NO_CLIENT}");
            return None;
        }
    }
    std::fs::read(&script).ok().map(Bytes::from)
}
