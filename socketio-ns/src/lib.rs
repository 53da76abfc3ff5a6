//! # socketio-ns
//!
//! Socket.IO v5 servers (Engine.IO v4 underneath) written the way gevent-socketio's
//! `BaseNamespace` let Python programmers write them: one struct per namespace, one method
//! per event. The `#[namespace]` attribute turns an `impl` block's `on_*` / `recv_*` methods
//! into a type-checked dispatch `match` and an ACL table.
//!
//! # Architecture
//!
//! Six layers, lowest first; each module uses only its own layer and those below
//! (`socketio-ns/LAYERS`, checked in CI):
//!
//! | layer | module | holds |
//! | --- | --- | --- |
//! | codecs | [`codec`] | sans-IO Engine.IO packets and payloads; Socket.IO packets, binary attachments, arguments |
//! | engine | [`engine`] | Engine.IO sessions, polling, WebSocket and upgrade, heartbeat, HTTP errors and CORS, the listener; usable alone for raw messages |
//! | connection | `connection/` | one Socket.IO connection over a session: decoding, attachments, one socket per namespace with its mailbox and acks |
//! | rooms and fan-out | [`adapter`] | the [`Adapter`](adapter::Adapter) trait, the in-memory adapter, broadcast operators; sockets reached only through [`SocketEmitter`](adapter::SocketEmitter) |
//! | namespace runtime | `namespace/` | the [`Namespace`] trait, [`Context`], the ACL, the per-socket actor, middlewares, the registry of namespaces |
//! | server | `server/` | [`Builder`], [`Server`], the tower service, the [`Io`] handle, the admin UI's namespace (feature `admin-ui`), the TypeScript export |
//!
//! The rooms layer sits below the namespace runtime, not above it: the runtime implements
//! the interface adapters deliver through, and handlers reach rooms from the [`Context`].
//!
//! # Coming from gevent-socketio / python-socketio
//!
//! (The same section is in the README.)
#![doc = include_str!("porting.md")]
#![cfg_attr(docsrs, feature(doc_cfg))]

pub mod adapter;
pub mod codec;
pub mod engine;

mod connection;
mod namespace;
mod server;

/// The server side of [`@socket.io/admin-ui`](https://socket.io/docs/v4/admin-ui/) 0.5
/// (feature `admin-ui`): [`Builder::admin_ui`] and its options, [`AdminUi`](admin_ui::AdminUi).
///
/// The admin namespace (`/admin` by default) speaks what `instrument()` of the Node package
/// speaks, so its dashboard connects unmodified:
///
/// - Authentication as the Node middleware does it: a `sessionId` in the CONNECT auth payload
///   that this process issued, or `username` and `password` checked against a bcrypt hash;
///   anything else is refused with CONNECT_ERROR `{"message":"invalid credentials"}`
///   ([`INVALID_CREDENTIALS`](admin_ui::INVALID_CREDENTIALS)) and nothing of the namespace
///   runs. A login with credentials is sent the event `session` with a new id.
/// - On connect: `config` (the supported features), and in development mode `all_sockets`
///   (every socket of every namespace, through the adapters, so the Redis adapter adds every
///   other process's sockets).
/// - Every 2 s, to every admin socket: `server_stats` (`serverId`, `hostname`, `pid`,
///   `uptime`, `clientsCount`, `pollingClientsCount`, `aggregatedEvents`, `namespaces`).
/// - In development mode, as they happen: `socket_connected`, `socket_disconnected`,
///   `room_joined`, `room_left`, `event_received`, `event_sent` (emits to one socket).
/// - Unless read-only, the operations `emit`, `join`, `leave` and `_disconnect`, each on a
///   namespace and an optional room filter, applied through that namespace's adapter (every
///   process).
///
/// - `socket_updated` when a socket's connection upgraded to WebSocket, at the next 2 s tick.
///
/// Not yet: the `packetsIn`/`packetsOut`/`bytesIn`/`bytesOut` counts of `aggregatedEvents`
/// (`rawConnection` and `rawDisconnection` are counted, from the sessions seen at each tick).
///
/// When the admin UI is not enabled nothing of it runs: the runtime's observer is `None` (one
/// branch per connect, disconnect, received event and emit) and the adapters are not wrapped.
#[cfg(feature = "admin-ui")]
#[cfg_attr(docsrs, doc(cfg(feature = "admin-ui")))]
pub mod admin_ui {
    #[doc(inline)]
    pub use crate::server::admin::{
        AdminAuth, AdminMode, AdminUi, INVALID_CREDENTIALS, InvalidHash,
    };
}

#[doc(hidden)]
pub mod __private {
    pub use crate::server::private::*;
}

pub use adapter::{
    Broadcast, BroadcastAcks, BroadcastOperator, EmitError, EventOf, Events, IntoRooms, Untyped,
};
pub use codec::socketio::{Args, Event, Parser, RawArgs};
pub use connection::{AckError, AckResponse, DisconnectReason, EventRate, Session};
pub use engine::{ServeOptions, serve, serve_with};
#[doc(hidden)]
pub use namespace::testing;
pub use namespace::{
    Acl, ConnectError, ConnectionStateRecovery, Context, Emits, ErrorReport, HandlerError,
    Handshake, JobHandle, MethodId, Middleware, Namespace, NoMethods, SocketRef, UnknownMethod,
    default_call_method, default_call_method_with_acl, default_process_packet,
};
#[cfg(feature = "typescript")]
pub use server::typescript;
pub use server::{Builder, Io, Server, SocketIoService, shutdown_signal};

pub use bytes::Bytes;

/// Turns an `impl` block into a Socket.IO namespace: one struct per namespace, one method
/// per event, as gevent-socketio's `BaseNamespace` had it.
///
/// ```no_run
/// # #![deny(warnings)]
/// use serde::{Deserialize, Serialize};
/// use socketio_ns::{
///     Bytes, ConnectError, Context, DisconnectReason, Event, HandlerError, Server, namespace,
/// };
///
/// #[derive(Deserialize)]
/// struct Auth {
///     token: String,
/// }
///
/// #[derive(Serialize)]
/// struct Login {
///     nick: String,
/// }
///
/// #[derive(Default)]
/// struct Chat {
///     nick: Option<String>,
/// }
///
/// // Until a handler lifts the ACL, only `on_login` may run.
/// #[namespace("/chat", acl = [on_login])]
/// impl Chat {
///     // CONNECT: the auth payload decoded with serde; an `Err` refuses (CONNECT_ERROR).
///     async fn recv_connect(&mut self, _cx: &mut Context<Self>, auth: Auth) -> Result<(), ConnectError> {
///         if auth.token.is_empty() {
///             return Err(ConnectError::new("no token"));
///         }
///         Ok(())
///     }
///
///     // The event `login`: its first argument decoded into `nick`; the `Ok` value answers
///     // the client's ack, the `Err` is sent as an error.
///     async fn on_login(&mut self, cx: &mut Context<Self>, nick: String) -> Result<Login, HandlerError> {
///         self.nick = Some(nick.clone());
///         cx.lift_acl_restrictions();
///         Ok(Login { nick })
///     }
///
///     // Event names that are not identifiers; a plain `fn` is fine too.
///     #[event("chat message")]
///     fn on_chat_message(&mut self, cx: &mut Context<Self>, text: String) {
///         cx.emit("echo", (&self.nick, text));
///     }
///
///     // `Bytes` parameters take binary attachments; returning `Bytes` sends one.
///     fn on_upload(&mut self, _cx: &mut Context<Self>, name: String, data: Bytes) -> (String, usize) {
///         (name, data.len())
///     }
///
///     // Events no other handler takes.
///     #[fallback]
///     fn unknown(&mut self, _cx: &mut Context<Self>, event: Event) -> Result<(), HandlerError> {
///         Err(HandlerError::new("unknown_event", event.name()))
///     }
///
///     async fn recv_disconnect(&mut self, _cx: &mut Context<Self>, _reason: DisconnectReason) {}
/// }
///
/// #[tokio::main]
/// async fn main() -> std::io::Result<()> {
///     Server::builder().namespace::<Chat>().serve("127.0.0.1:3000").await
/// }
/// ```
///
/// # The attribute
///
/// `#[namespace("/path", acl = [method, ...], emits = Decl, crate = "...", vis = ...)]`, every
/// part optional:
///
/// - the path, `/` when left out;
/// - `acl = [...]`: the initial ACL, the event handlers a new socket may call (checked at
///   compile time: a name that is not an event handler of the impl is an error at that name);
/// - `emits = ChatEvents`: the events the namespace sends, declared with [`events!`]; every
///   emit from it is then checked at compile time (the event by its type, its payload by the
///   declared type), and the TypeScript export (`socketio_ns::typescript`, feature
///   `typescript`) describes its events both ways. The declaration must be at least as
///   visible as the method enum (see `vis`);
/// - `crate = "my_socketio"`: where this crate is, for a renamed dependency;
/// - `vis = pub(crate)`: the visibility of the generated method enum (`pub` by default).
///
/// # Event handlers
///
/// A method named `on_<event>`, or any method marked `#[event("event name")]`, handles that
/// event; `recv_message` takes `message` events whose first argument is a string and
/// `recv_json` the other `message` events (or `on_message` takes them all); `recv_error` takes
/// an `error` event sent by the client. An optional `#[fallback]` method takes every other
/// event as an [`Event`]; without one, such events are answered `no_such_method`.
///
/// A handler is `fn` or `async fn`, takes `(&mut self, cx: &mut Context<Self>, args...)`,
/// and runs with exclusive access to the socket's value, one event at a time:
///
/// - each parameter after the context is the next argument of the event, decoded with serde
///   (a missing argument decodes as `null`, so `Option<T>` parameters may be left out; extra
///   arguments are ignored; [`Bytes`] anywhere in a parameter takes a binary attachment).
///   Arguments that do not decode run nothing and answer `invalid_arguments`;
/// - the return value answers the client's ack, when it asked for one: any `Serialize` value
///   (a tuple is several arguments, `()` none, [`Bytes`] travels as an attachment);
/// - a return type that is a `Result<T, E>` (recognised by its type, so under any alias, such
///   as `std::io::Result<T>` or your own) answers `Ok` with `T` and `Err` as an error: `{"error": name, "message": message}` as the ack's argument, or
///   the event `error` with `[name, message]` when no ack was asked for. `E` is a
///   [`HandlerError`] (which names the error) or any `std::error::Error` (named
///   `handler_error`);
/// - a handler that panics answers `handler_error`; its socket is disconnected and the server
///   goes on.
///
/// The ACL refuses what it does not allow with `method_access_denied`, before any argument is
/// decoded.
///
/// # Reserved methods
///
/// | method | signature | when |
/// | --- | --- | --- |
/// | `initialize` | `fn(&mut self, cx)` | once per socket, after it is built |
/// | `recv_connect` | `[async] fn(&mut self, cx[, auth: A]) [-> Result<(), ConnectError>]` | CONNECT: `auth` is the payload decoded with serde (`Option<A>` accepts none; one that does not decode refuses with `invalid auth payload`); an `Err` refuses the socket with CONNECT_ERROR `{"message", "data"}` |
/// | `recv_disconnect` | `[async] fn(&mut self, cx[, reason: DisconnectReason])` | the socket left the namespace, for any reason |
/// | `get_initial_acl` | `fn(&self) -> Option<Vec<ChatMethod>>`, or `fn(&self, handshake: &Handshake)` | the ACL a new socket starts with (after `initialize`), for instance from its handshake; overrides `acl = [...]`, which it may read as `Self::INITIAL_ACL` |
/// | `process_packet`, `call_method_with_acl`, `call_method` | `async fn(&mut self, cx, event: Event)` | replace the [`Namespace`] trait's defaults, which they can call: [`default_process_packet`], [`default_call_method_with_acl`], [`default_call_method`] (the generated dispatch) |
///
/// `recv_connect` and `recv_disconnect` always run, whatever the ACL says. The event names
/// Socket.IO reserves (`connect`, `disconnect`, `connect_error`, `disconnecting`,
/// `newListener`, `removeListener`) cannot be handled with `on_*` or `#[event]`.
///
/// # The ACL
///
/// The macro generates `enum <Type>Method` with one variant per event handler, named after the
/// method (`ChatMethod::on_login`), so that [`Context::add_acl_method`],
/// [`Context::del_acl_method`] and [`Context::is_method_allowed`] are checked at compile
/// time. There can be at most 128 event handlers.
///
/// # Registration
///
/// [`Builder::namespace`] registers a `Default` type, [`Builder::namespace_with`] a type built
/// by a factory; [`Builder::registered_namespaces`] registers every non-generic `#[namespace]`
/// type with `Default` linked into the binary.
///
/// # What is generated
///
/// The impl is kept as written (the macro only removes `#[event]` and `#[fallback]`, and allows
/// `clippy::unused_self` and `clippy::needless_pass_by_value` on the methods whose signature it
/// dictates); next to it, the method enum, and `impl Namespace for Type`: `PATH`, `METHODS`,
/// `INITIAL_ACL`, `method_of` (one `match` from event names to method identifiers), the
/// dispatch (one `match` from method identifiers to handler calls), and the reserved
/// methods. A method under `#[cfg]` carries it into everything generated for it. Two handlers
/// of one event are allowed only under `#[cfg]`s that exclude each other.
///
/// Problems are compile errors at the offending token, all reported at once; the impl and a
/// stub `Namespace` impl are still emitted, so the rest of the crate keeps compiling.
///
/// ```
/// use socketio_ns::{Context, MethodId, Namespace, namespace};
///
/// #[derive(Default)]
/// struct Chat;
///
/// #[namespace("/chat", acl = [on_login])]
/// impl Chat {
///     fn on_login(&mut self, cx: &mut Context<Self>, _nick: String) {
///         cx.add_acl_method(ChatMethod::on_say);
///     }
///
///     #[event("say it")]
///     fn on_say(&mut self, _cx: &mut Context<Self>, text: String) -> String {
///         text
///     }
/// }
///
/// assert_eq!(Chat::PATH, "/chat");
/// assert_eq!(Chat::METHODS, ["on_login", "on_say"]);
/// assert_eq!(Chat::INITIAL_ACL, Some(&[ChatMethod::on_login][..]));
/// assert_eq!(ChatMethod::on_say.name::<Chat>(), "on_say");
/// ```
#[doc(inline)]
pub use socketio_ns_derive::namespace;
