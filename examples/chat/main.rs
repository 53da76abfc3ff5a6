//! A chat server and its web page: `cargo run --release --example chat`, then open
//! <http://127.0.0.1:3000> (`PORT` overrides the port).
//!
//! The namespace `/chat` below is the whole server; README.md ("The chat example protocol")
//! documents what a client may send. The page loads socket.io-client from this server, which
//! serves it from the npm package pinned in `examples/chat/package.json` (installed with
//! `npm ci` on the first run).

use std::net::Ipv4Addr;
use std::path::Path;
use std::process::Command;
use std::time::Duration;

use axum::http::{StatusCode, header};
use axum::response::{Html, IntoResponse};
use axum::routing::get;
use serde::Serialize;
use serde_json::Value;
use socketio_ns::{
    Bytes, ConnectError, ConnectionStateRecovery, Context, EmitError, HandlerError, Server,
    namespace,
};

/// Bounds of `ticker(interval_ms)`.
const TICK_MS: std::ops::RangeInclusive<u64> = 10..=60_000;
/// The largest `download(size)`: 1 MiB.
const MAX_DOWNLOAD: usize = 1 << 20;

/// One connected socket of `/chat`.
#[derive(Default)]
struct Chat {
    /// Set by `login`, cleared by `logout`.
    nick: Option<String>,
}

#[derive(Serialize)]
struct Nick {
    nick: String,
}

#[derive(Serialize)]
struct Rooms {
    rooms: Vec<String>,
}

#[derive(Serialize)]
struct Said {
    room: String,
    nick: String,
    text: String,
}

#[derive(Serialize)]
struct Upload {
    name: String,
    size: usize,
}

// Until `login` lifts the ACL, every other handler answers `method_access_denied`.
#[namespace("/chat", acl = [on_login])]
impl Chat {
    // Any object with a non-empty string `token` is let in (a real server would check it).
    fn recv_connect(&mut self, cx: &mut Context<Self>, auth: Value) -> Result<(), ConnectError> {
        match auth.get("token").and_then(Value::as_str) {
            Some(token) if !token.is_empty() => {}
            _ => return Err(ConnectError::new("unauthorized")),
        }
        // Recovered by another process (Redis streams adapter): logged in again from the
        // socket's data, which travelled with its session.
        if let Some(nick) = cx
            .data()
            .and_then(|d| d.get("nick"))
            .and_then(Value::as_str)
        {
            self.nick = Some(nick.to_owned());
            cx.lift_acl_restrictions();
        }
        Ok(())
    }

    fn on_login(&mut self, cx: &mut Context<Self>, nick: String) -> Result<Nick, HandlerError> {
        if nick.is_empty() {
            return Err(HandlerError::new("invalid_nick", "empty nick"));
        }
        self.nick = Some(nick.clone());
        cx.set_data(serde_json::json!({ "nick": nick }));
        cx.lift_acl_restrictions();
        Ok(Nick { nick })
    }

    fn on_logout(&mut self, cx: &mut Context<Self>) -> bool {
        self.nick = None;
        cx.set_data(Value::Null);
        cx.reset_acl();
        true
    }

    fn on_join(&mut self, cx: &mut Context<Self>, room: String) -> Rooms {
        cx.join(room);
        rooms(cx)
    }

    fn on_leave(&mut self, cx: &mut Context<Self>, room: String) -> Rooms {
        cx.leave(room);
        rooms(cx)
    }

    async fn on_say(
        &mut self,
        cx: &mut Context<Self>,
        room: String,
        text: String,
    ) -> Result<bool, EmitError> {
        let nick = self.nick.clone().unwrap_or_default();
        let said = Said {
            room: room.clone(),
            nick,
            text,
        };
        cx.to(room).emit("said", said).await?;
        Ok(true)
    }

    // One ticker per socket: a new one replaces the old.
    fn on_ticker(
        &mut self,
        cx: &mut Context<Self>,
        interval_ms: u64,
    ) -> Result<bool, HandlerError> {
        if !TICK_MS.contains(&interval_ms) {
            let message = format!("interval_ms must be in {TICK_MS:?}");
            return Err(HandlerError::new("invalid_interval", message));
        }
        cx.kill_local_jobs();
        let socket = cx.socket();
        let interval = Duration::from_millis(interval_ms);
        // Aborted by `stop_ticker`, by the next `ticker`, and when the socket leaves `/chat`.
        cx.spawn(async move {
            for n in 1u64.. {
                tokio::time::sleep(interval).await;
                if socket.try_emit("tick", n).is_err() {
                    return;
                }
            }
        });
        Ok(true)
    }

    fn on_stop_ticker(&mut self, cx: &mut Context<Self>) -> bool {
        cx.kill_local_jobs();
        true
    }

    // `data` arrives as a binary attachment.
    fn on_upload(&mut self, _cx: &mut Context<Self>, name: String, data: Bytes) -> Upload {
        Upload {
            name,
            size: data.len(),
        }
    }

    // Answers with one binary argument: `size` bytes, byte `i` being `i % 256`.
    fn on_download(&mut self, _cx: &mut Context<Self>, size: usize) -> Result<Bytes, HandlerError> {
        if size > MAX_DOWNLOAD {
            let message = format!("at most {MAX_DOWNLOAD} bytes");
            return Err(HandlerError::new("too_large", message));
        }
        Ok((0..size).map(|i| i as u8).collect())
    }

    // Runs while the socket is still in its rooms (they are left afterwards).
    async fn recv_disconnect(&mut self, cx: &mut Context<Self>) {
        let Some(nick) = self.nick.take() else {
            return;
        };
        let rooms = rooms(cx).rooms;
        // `to` no room at all would be the whole namespace.
        if !rooms.is_empty() {
            let _ = cx.to(rooms).emit("left", Nick { nick }).await;
        }
    }
}

/// The rooms the socket joined, sorted, without the room named by its own id.
fn rooms(cx: &Context<Chat>) -> Rooms {
    let mut rooms: Vec<String> = cx
        .rooms()
        .into_iter()
        .filter(|room| room != cx.id())
        .map(|room| room.into_owned())
        .collect();
    rooms.sort();
    Rooms { rooms }
}

#[tokio::main]
async fn main() -> std::io::Result<()> {
    tracing_subscriber::fmt()
        .with_env_filter(tracing_subscriber::EnvFilter::from_default_env())
        .init();
    let port = match std::env::var("PORT") {
        Ok(port) => port
            .parse()
            .map_err(|_| std::io::Error::other("PORT: not a port"))?,
        Err(_) => 3000,
    };
    let client = socket_io_client();

    // A page whose network blips for up to 2 minutes comes back logged in, in its rooms, its
    // ticker still running, with what was said meanwhile.
    let builder = Server::builder()
        .namespace::<Chat>()
        .connection_state_recovery(ConnectionStateRecovery::new());
    let io = adapter(builder)?.build();
    let app = axum::Router::new()
        .route("/", get(|| async { Html(include_str!("index.html")) }))
        .route(
            "/socket.io-client.min.js",
            get(move || async move {
                match client {
                    Some(js) => ([(header::CONTENT_TYPE, "text/javascript")], js).into_response(),
                    None => (StatusCode::NOT_FOUND, NO_CLIENT).into_response(),
                }
            }),
        )
        .route_service("/socket.io/", io.service());

    let listener = tokio::net::TcpListener::bind((Ipv4Addr::LOCALHOST, port)).await?;
    println!("chat: http://{}/", listener.local_addr()?);
    // The crate's accept loop rather than `axum::serve`: header and idle timeouts, a bound on
    // connections that have not sent a request, TCP_NODELAY. SIGINT or SIGTERM shut the chat
    // down gracefully: every client is told, `recv_disconnect` runs, then the loop stops.
    let shutdown = io.io().close_after(socketio_ns::shutdown_signal());
    socketio_ns::serve(listener, app, shutdown).await
}

/// With `REDIS_URL` (e.g. `redis://127.0.0.1:6379`), the Redis adapter: every chat process on
/// that Redis, ours or a Node.js one with `@socket.io/redis-adapter`, shares its rooms.
/// `REDIS_ADAPTER` chooses the kind: `classic` (the default), or `streams`
/// (`@socket.io/redis-streams-adapter`: connection state recovery across processes).
fn adapter(builder: socketio_ns::Builder) -> std::io::Result<socketio_ns::Builder> {
    let Ok(url) = std::env::var("REDIS_URL") else {
        return Ok(builder);
    };
    let kind = std::env::var("REDIS_ADAPTER").unwrap_or_else(|_| "classic".into());
    #[cfg(feature = "redis")]
    {
        use socketio_ns::adapter::redis;
        let redis_error = std::io::Error::other;
        match kind.as_str() {
            "classic" => {
                let factory = redis::RedisAdapterFactory::new(&url).map_err(redis_error)?;
                println!("chat: rooms shared through {url} (classic Redis adapter)");
                Ok(builder.adapter(factory))
            }
            "streams" => {
                let factory = redis::RedisStreamsAdapterFactory::new(&url).map_err(redis_error)?;
                println!("chat: rooms and sessions shared through {url} (Redis streams adapter)");
                Ok(builder.adapter(factory))
            }
            _ => Err(std::io::Error::other(format!(
                "REDIS_ADAPTER={kind}: `classic` or `streams`"
            ))),
        }
    }
    #[cfg(not(feature = "redis"))]
    {
        let _ = (builder, kind);
        Err(std::io::Error::other(format!(
            "REDIS_URL={url}: build with `--features redis` to use it"
        )))
    }
}

const NO_CLIENT: &str = "socket.io-client is not installed: run `npm ci` in examples/chat \
                         (needs node and npm), then restart the server";

/// The browser build of socket.io-client, from the package pinned in `package.json` (installed
/// with `npm ci` when missing). `None` when it cannot be had: the page says so.
fn socket_io_client() -> Option<Bytes> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../examples/chat");
    let script = dir.join("node_modules/socket.io-client/dist/socket.io.min.js");
    if !script.exists() {
        println!(
            "chat: installing socket.io-client for the page (`npm ci` in {})",
            dir.display()
        );
        let installed = Command::new("npm")
            .args(["ci", "--no-audit", "--no-fund"])
            .current_dir(&dir)
            .status();
        if !installed.is_ok_and(|status| status.success()) {
            eprintln!("chat: {NO_CLIENT}");
            return None;
        }
    }
    match std::fs::read(&script) {
        Ok(js) => Some(js.into()),
        Err(e) => {
            eprintln!("chat: {}: {e}; {NO_CLIENT}", script.display());
            None
        }
    }
}
