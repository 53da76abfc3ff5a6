//! The namespace runtime: the [`Namespace`] trait that `#[namespace]` implements, the
//! [`Context`] handed to every handler, the ACL, the per socket-namespace actor, middlewares,
//! and the registry of namespaces and their live instances.
//!
//! Layer five, above [`crate::adapter`] (rooms and fan-out) and [`crate::connection`]:
//!
//! - `mod.rs`: the [`Namespace`] trait and the default processing of an event.
//! - `context.rs`: [`Context`]; `handshake.rs`: [`Handshake`]; `socket_ref.rs`: [`SocketRef`];
//!   `job.rs`: [`JobHandle`].
//! - `acl.rs`: the ACL as a bit set over the generated method identifiers.
//! - `actor.rs`: one task per socket-namespace that owns the user's value and runs its handlers,
//!   the value's type erased (`dyn Erased`) so that the actor is compiled once.
//! - `middleware.rs`: connect middlewares; `error.rs`: [`ConnectError`], [`HandlerError`];
//!   `report.rs`: [`ErrorReport`] and the server-wide error hook.
//! - `instance.rs`: one live namespace, its socket table (the adapter's
//!   [`SocketEmitter`](crate::adapter::SocketEmitter)) and its adapter.
//! - `registry.rs`: registered namespaces, their instances, and what every socket shares.
//! - `testing.rs`: a [`Context`] over an in-memory socket, to test handlers without a server.

mod acl;
mod actor;
mod context;
mod error;
mod handshake;
pub(crate) mod instance;
mod job;
mod middleware;
pub(crate) mod observe;
pub(crate) mod recovery;
pub(crate) mod registry;
mod report;
mod socket_ref;
#[doc(hidden)]
pub mod testing;

use std::borrow::Cow;
use std::future::Future;

pub use acl::{Acl, MethodId, NoMethods, UnknownMethod};
pub use context::Context;
pub use error::{ConnectError, HandlerError};
pub use handshake::Handshake;
pub use job::JobHandle;
pub use middleware::Middleware;
pub use recovery::ConnectionStateRecovery;
pub(crate) use report::ErrorHook;
pub use report::ErrorReport;
pub use socket_ref::SocketRef;

use crate::codec::socketio::Event;
use crate::codec::typescript::TsNamespace;
use crate::connection::DisconnectReason;

/// A Socket.IO namespace: one value per connected socket, one handler per event.
///
/// Implemented by [`#[namespace]`](macro@crate::namespace); implement it by hand only to go below the
/// macro (`examples/conformance.rs` does). Handlers of one socket run one at a time, in the
/// order their packets arrived, with `&mut self`.
///
/// How `#[namespace]` fills it in from the methods of the `impl` block:
///
/// | trait item | generated from |
/// | --- | --- |
/// | [`PATH`](Namespace::PATH) | the attribute's path |
/// | [`Method`](Namespace::Method), [`METHODS`](Namespace::METHODS) | an enum `<Type>Method` with one variant per ACL-governed method (`on_*`, `#[event]`, `recv_message`, `recv_json`, `recv_error`, `#[fallback]`), and their names |
/// | [`INITIAL_ACL`](Namespace::INITIAL_ACL) | `acl = [...]` |
/// | [`get_initial_acl`](Namespace::get_initial_acl) | a `get_initial_acl(&self)` or `get_initial_acl(&self, handshake: &Handshake)` method, else `INITIAL_ACL` |
/// | [`initialize`](Namespace::initialize) | an `initialize` method |
/// | [`connect`](Namespace::connect) | `recv_connect`, its auth parameter decoded with serde |
/// | [`disconnect`](Namespace::disconnect) | `recv_disconnect` |
/// | [`method_of`](Namespace::method_of) | a `match` from event names to method identifiers |
/// | [`call_method`](Namespace::call_method) | a `match` from method identifiers to handler calls (reachable as [`default_call_method`]) |
/// | [`process_packet`](Namespace::process_packet), [`call_method_with_acl`](Namespace::call_method_with_acl), [`call_method`](Namespace::call_method) | a method of that name in the impl overrides the default, which stays callable as [`default_process_packet`], [`default_call_method_with_acl`] and [`default_call_method`] |
///
/// The processing of one event, as in gevent-socketio: [`process_packet`](Namespace::process_packet)
/// → [`call_method_with_acl`](Namespace::call_method_with_acl) (refuses with
/// `method_access_denied` what the ACL does not allow) → [`call_method`](Namespace::call_method)
/// (runs the handler, answers the ack) → errors reported to the client by `process_packet`.
pub trait Namespace: Sized + Send + 'static {
    /// The namespace path, for example `/chat`.
    const PATH: &'static str;

    /// The names of the ACL-governed methods (`on_*` and `#[event]` handlers, `recv_message`,
    /// `recv_json`, `recv_error`, the `#[fallback]`), indexed by [`MethodId::index`] of
    /// [`Namespace::Method`]. `recv_connect` and `recv_disconnect` are not among them: they
    /// always run.
    const METHODS: &'static [&'static str];

    /// The initial ACL from the attribute: `None` leaves every method open.
    const INITIAL_ACL: Option<&'static [Self::Method]> = None;

    /// The generated method identifiers ([`NoMethods`] for a namespace without any).
    type Method: MethodId;

    /// The ACL each socket starts with (gevent's `get_initial_acl`), given the handshake the
    /// socket connects with. `None`: no restriction.
    fn get_initial_acl(&self, handshake: &Handshake) -> Option<Cow<'static, [Self::Method]>> {
        let _ = handshake;
        Self::INITIAL_ACL.map(Cow::Borrowed)
    }

    /// Runs once per socket-namespace, right after the value is built.
    fn initialize(&mut self, cx: &mut Context<Self>) {
        let _ = cx;
    }

    /// The CONNECT packet: decides whether the socket joins. `auth` is the raw JSON payload.
    fn connect(
        &mut self,
        cx: &mut Context<Self>,
        auth: Option<&str>,
    ) -> impl Future<Output = Result<(), ConnectError>> + Send {
        let _ = (cx, auth);
        async { Ok(()) }
    }

    /// The socket left the namespace. Runs while it is still in its rooms; always runs,
    /// whatever the ACL says.
    fn disconnect(
        &mut self,
        cx: &mut Context<Self>,
        reason: DisconnectReason,
    ) -> impl Future<Output = ()> + Send {
        let _ = (cx, reason);
        async {}
    }

    /// The ACL-governed method an event would call, if any.
    fn method_of(event: &Event) -> Option<Self::Method>;

    /// Handles one event: calls [`Namespace::call_method_with_acl`] and reports its error to
    /// the client (as the ack's answer when it asked for one, else as an `error` event).
    fn process_packet(
        &mut self,
        cx: &mut Context<Self>,
        event: Event,
    ) -> impl Future<Output = ()> + Send {
        default_process_packet(self, cx, event)
    }

    /// Checks the ACL, then calls [`Namespace::call_method`].
    fn call_method_with_acl(
        &mut self,
        cx: &mut Context<Self>,
        event: Event,
    ) -> impl Future<Output = Result<(), HandlerError>> + Send {
        default_call_method_with_acl(self, cx, event)
    }

    /// Runs the handler of an event, answering its ack with the handler's return value.
    ///
    /// The default is [`default_call_method`]: the `#[namespace]`-generated dispatch, or
    /// `no_such_method` for every event in a hand-written impl that does not override this.
    fn call_method(
        &mut self,
        cx: &mut Context<Self>,
        event: Event,
    ) -> impl Future<Output = Result<(), HandlerError>> + Send {
        default_call_method(self, cx, event)
    }

    /// The `#[namespace]`-generated dispatch behind [`default_call_method`], given what
    /// [`Namespace::method_of`] returns for `event`. Generated by the macro; not for
    /// hand-written impls.
    #[doc(hidden)]
    fn __socketio_ns_dispatch(
        &mut self,
        cx: &mut Context<Self>,
        method: Option<Self::Method>,
        event: Event,
    ) -> impl Future<Output = Result<(), HandlerError>> + Send {
        let _ = (cx, method);
        async move { Err(no_such_method(&event)) }
    }

    /// Describes the events the client sends and the auth payload, for the TypeScript export.
    /// Generated by the macro for namespaces that declare `emits = ...`.
    #[doc(hidden)]
    fn __socketio_ns_typescript(out: &mut TsNamespace) {
        let _ = out;
    }
}

/// The outgoing events of namespace `T`: [`crate::Untyped`] or its `emits = ...` declaration.
pub type Emits<T> = <<T as Namespace>::Method as MethodId>::Emits;

/// The default [`Namespace::process_packet`], for overrides that want to call it.
pub async fn default_process_packet<T: Namespace>(ns: &mut T, cx: &mut Context<T>, event: Event) {
    if let Err(e) = ns.call_method_with_acl(cx, event).await {
        cx.error(e.name, e.message);
    }
}

/// The default [`Namespace::call_method_with_acl`], for overrides that want to call it.
pub async fn default_call_method_with_acl<T: Namespace>(
    ns: &mut T,
    cx: &mut Context<T>,
    event: Event,
) -> Result<(), HandlerError> {
    let method = T::method_of(&event);
    // As in gevent-socketio, the ACL is checked before the handler is looked up: under a
    // closed ACL an event without a handler is refused too, so that a client that is not
    // allowed yet cannot probe which events have one.
    let allowed = match method {
        Some(m) => cx.is_method_allowed(m),
        None => cx.acl().is_open(),
    };
    if !allowed {
        return Err(refused(&event, method.map(|m| m.name::<T>())));
    }
    // Looked up once: `default_call_method` takes it from here.
    cx.set_resolved(method);
    ns.call_method(cx, event).await
}

/// The error for an event the ACL refuses (not generic: compiled once).
fn refused(event: &Event, method: Option<&str>) -> HandlerError {
    tracing::info!(event = event.name(), method, "refused by the ACL");
    HandlerError::new(
        "method_access_denied",
        format!("{} is not allowed", event.name()),
    )
}

/// The default [`Namespace::call_method`], for overrides that want to call it: the dispatch
/// `#[namespace]` generates (decode the arguments, run the handler, answer the ack). For a
/// hand-written impl, `no_such_method` for every event.
pub async fn default_call_method<T: Namespace>(
    ns: &mut T,
    cx: &mut Context<T>,
    event: Event,
) -> Result<(), HandlerError> {
    // Resolved by `default_call_method_with_acl` for this event, unless an override of
    // `call_method_with_acl` came here without it.
    let method = cx.take_resolved().unwrap_or_else(|| T::method_of(&event));
    ns.__socketio_ns_dispatch(cx, method, event).await
}

/// The error for an event no handler takes.
pub fn no_such_method(event: &Event) -> HandlerError {
    HandlerError::new(
        "no_such_method",
        format!("no handler for event `{}`", event.name()),
    )
}
