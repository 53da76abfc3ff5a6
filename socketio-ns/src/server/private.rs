//! Items the `#[namespace]` expansion names. Not a public API: no stability promise.
//!
//! The expansion stays small by leaving every decision that does not depend on the user's
//! types to these functions. Each trait here exists so that a handler whose parameter or
//! return type does not fit gets an error at that type, with a hint of what to do
//! (`#[diagnostic::on_unimplemented]`), instead of an error deep inside the expansion.

use std::borrow::Cow;

use serde::de::DeserializeOwned;

pub use ::core;
pub use ::inventory;
pub use ::std;

use crate::codec::socketio::Args;
use crate::codec::socketio::Event;
use crate::namespace::{ConnectError, Context, HandlerError, MethodId, Namespace};
use crate::server::Builder;

// ---------------------------------------------------------------------------------------------
// Registration (`Server::builder().registered_namespaces()`)

/// One `#[namespace]` type linked into the binary.
#[derive(Debug)]
pub struct Registration {
    /// The namespace path.
    pub path: &'static str,
    /// Registers it on a builder.
    pub register: fn(Builder) -> Builder,
    /// Its `.d.ts`, when it declares its outgoing events (feature `typescript`).
    #[cfg(feature = "typescript")]
    pub typescript: fn() -> Option<String>,
}

inventory::collect!(Registration);

impl Registration {
    /// The registration of `T`; `register` is generated next to the type, where autoref
    /// specialization can see whether `T: Default` (see [`Maker`]).
    pub const fn new<T: Namespace>(register: fn(Builder) -> Builder) -> Self {
        Registration {
            path: T::PATH,
            register,
            #[cfg(feature = "typescript")]
            typescript: crate::server::typescript::render::<T>,
        }
    }
}

/// Autoref specialization: `(&&Maker::<T>::new()).register(b)` registers `T` with `Default`
/// when it has one, and otherwise leaves the builder as it is (with a warning), so that types
/// built by a factory still compile.
#[derive(Debug)]
pub struct Maker<T>(core::marker::PhantomData<fn() -> T>);

impl<T> Maker<T> {
    /// A maker.
    pub const fn new() -> Self {
        Maker(core::marker::PhantomData)
    }
}

impl<T> Default for Maker<T> {
    fn default() -> Self {
        Self::new()
    }
}

/// Picked when `T: Default`.
pub trait RegisterDefault {
    /// Registers the namespace.
    fn register(&self, b: Builder) -> Builder;
}

impl<T: Namespace + Default> RegisterDefault for &Maker<T> {
    fn register(&self, b: Builder) -> Builder {
        b.namespace::<T>()
    }
}

/// Picked otherwise.
pub trait RegisterWithoutDefault {
    /// Leaves the builder unchanged.
    fn register(&self, b: Builder) -> Builder;
}

impl<T: Namespace> RegisterWithoutDefault for Maker<T> {
    fn register(&self, b: Builder) -> Builder {
        tracing::warn!(
            path = T::PATH,
            "namespace has no Default impl; register it with `namespace_with`"
        );
        b
    }
}

// ---------------------------------------------------------------------------------------------
// Dispatch

pub use crate::namespace::no_such_method;

// ---------------------------------------------------------------------------------------------
// The TypeScript export (does nothing without the feature `typescript`)

pub use crate::codec::typescript::{
    TsAckOf, TsAckResult, TsAckValue, TsNamespace, ts_rest, ts_type,
};

/// What a handler parameter after the context can be: anything serde can deserialize
/// (`bytes::Bytes` anywhere inside takes a binary attachment).
#[diagnostic::on_unimplemented(
    message = "`{Self}` cannot be a handler argument",
    label = "not deserializable",
    note = "event arguments are decoded with serde: derive `serde::Deserialize` for `{Self}`, or take `serde_json::Value`",
    note = "borrowed types such as `&str` cannot be decoded into: take `String`; binary attachments arrive as `socketio_ns::Bytes`"
)]
pub trait FromArg: Sized {
    /// Decodes argument `i` of `event`.
    fn from_arg(event: &Event, i: usize) -> Result<Self, HandlerError>;
}

impl<T: DeserializeOwned> FromArg for T {
    #[inline]
    fn from_arg(event: &Event, i: usize) -> Result<Self, HandlerError> {
        event
            .arg(i)
            .map_err(|e| HandlerError::new("invalid_arguments", format!("argument {i}: {e}")))
    }
}

/// A `RawArgs` parameter takes every argument from its position on, unchanged.
impl FromArg for crate::codec::socketio::RawArgs {
    #[inline]
    fn from_arg(event: &Event, i: usize) -> Result<Self, HandlerError> {
        Ok(event.args_from(i))
    }
}

/// Decodes argument `i` of an event (`invalid_arguments` when it does not fit; a missing
/// argument decodes as `null`).
#[inline]
pub fn arg<A: FromArg>(event: &Event, i: usize) -> Result<A, HandlerError> {
    A::from_arg(event, i)
}

/// What the error of a handler's `Result` can be.
#[diagnostic::on_unimplemented(
    message = "`{Self}` cannot be sent to the client as a handler error",
    label = "not convertible into `socketio_ns::HandlerError`",
    note = "any `std::error::Error + Send + Sync`, `anyhow::Error` or `Box<dyn Error + Send + Sync>` converts (named `handler_error`); or return `socketio_ns::HandlerError` to choose the name"
)]
pub trait ReplyError {
    /// The error answered to the client.
    fn into_handler_error(self) -> HandlerError;
}

impl<E: Into<HandlerError>> ReplyError for E {
    #[inline]
    fn into_handler_error(self) -> HandlerError {
        self.into()
    }
}

/// Answers the event's ack with a handler's return value, if the client asked for one.
#[inline]
pub fn reply<T: Namespace, A: Args>(cx: &mut Context<T>, value: A) -> Result<(), HandlerError> {
    cx.ack(value)
        .map(drop)
        .map_err(|e| HandlerError::new("handler_error", e.to_string()))
}

/// Answers with a handler's `Result`: the value as the ack, the error as an error reply.
#[inline]
pub fn reply_result<T, A, E>(cx: &mut Context<T>, value: Result<A, E>) -> Result<(), HandlerError>
where
    T: Namespace,
    A: Args,
    E: ReplyError,
{
    match value {
        Ok(v) => reply(cx, v),
        Err(e) => Err(e.into_handler_error()),
    }
}

/// Whether the event `name` is `event` with some of its `_` written as spaces: gevent-socketio
/// routed `"a b_c"` to `on_a_b_c` (it replaced every space by `_`).
#[inline]
pub fn same_event(name: &str, event: &str) -> bool {
    name.len() == event.len()
        && name
            .bytes()
            .zip(event.bytes())
            .all(|(n, e)| n == e || (n == b' ' && e == b'_'))
}

/// How a handler's return value is answered, chosen by its *type* in the generated code
/// (`(&output).reply_kind().reply(cx, output)`): a `Result`, whatever alias names it, answers
/// `Ok` as the ack and `Err` as an error reply ([`ReplyKindResult`], found first); any other
/// value is the ack ([`ReplyKindValue`], found through one more `&`).
#[derive(Debug)]
pub struct ResultReply;

/// See [`ResultReply`]: a handler's value that is not a `Result` is the ack.
#[derive(Debug)]
pub struct ValueReply;

/// Picks [`ResultReply`] for a `Result` (see there).
pub trait ReplyKindResult {
    /// The way a `Result` is answered.
    #[inline]
    fn reply_kind(&self) -> ResultReply {
        ResultReply
    }
}

impl<A, E> ReplyKindResult for Result<A, E> {}

/// Picks [`ValueReply`] for any value (see [`ResultReply`]).
pub trait ReplyKindValue {
    /// The way a value is answered.
    #[inline]
    fn reply_kind(&self) -> ValueReply {
        ValueReply
    }
}

impl<A> ReplyKindValue for &A {}

impl ResultReply {
    /// [`reply_result`].
    #[inline]
    pub fn reply<T, A, E>(
        self,
        cx: &mut Context<T>,
        value: Result<A, E>,
    ) -> Result<(), HandlerError>
    where
        T: Namespace,
        A: Args,
        E: ReplyError,
    {
        reply_result(cx, value)
    }
}

impl ValueReply {
    /// [`reply`].
    #[inline]
    pub fn reply<T: Namespace, A: Args>(
        self,
        cx: &mut Context<T>,
        value: A,
    ) -> Result<(), HandlerError> {
        reply(cx, value)
    }
}

// ---------------------------------------------------------------------------------------------
// Connect

/// What `recv_connect`'s auth parameter can be.
#[diagnostic::on_unimplemented(
    message = "`{Self}` cannot be decoded from the CONNECT auth payload",
    label = "not deserializable",
    note = "the auth payload is decoded with serde: derive `serde::Deserialize` for `{Self}`; `Option<_>` accepts a client that sends none"
)]
pub trait FromAuth: Sized {
    /// Decodes the raw JSON auth payload (`null` when absent).
    fn from_auth(raw: Option<&str>) -> Result<Self, ConnectError>;
}

impl<A: DeserializeOwned> FromAuth for A {
    fn from_auth(raw: Option<&str>) -> Result<Self, ConnectError> {
        serde_json::from_str(raw.unwrap_or("null"))
            .map_err(|e| ConnectError::new("invalid auth payload").with_data(e.to_string()))
    }
}

/// The CONNECT auth payload decoded into `A` (`null` when absent); a payload that does not fit
/// refuses the connection with `{"message":"invalid auth payload","data":"<serde error>"}`.
#[inline]
pub fn auth<A: FromAuth>(raw: Option<&str>) -> Result<A, ConnectError> {
    A::from_auth(raw)
}

/// What `recv_connect` can return.
#[diagnostic::on_unimplemented(
    message = "`recv_connect` cannot return `{Self}`",
    label = "expected `()` or `Result<(), ConnectError>`",
    note = "return `Err(socketio_ns::ConnectError::new(..))` to refuse the connection"
)]
pub trait ConnectOutput {
    /// Whether the socket joins.
    fn into_connect_result(self) -> Result<(), ConnectError>;
}

impl ConnectOutput for () {
    #[inline]
    fn into_connect_result(self) -> Result<(), ConnectError> {
        Ok(())
    }
}

impl<E: Into<ConnectError>> ConnectOutput for Result<(), E> {
    #[inline]
    fn into_connect_result(self) -> Result<(), ConnectError> {
        self.map_err(Into::into)
    }
}

/// `recv_connect`'s return value as the connect decision.
#[inline]
pub fn connected<R: ConnectOutput>(r: R) -> Result<(), ConnectError> {
    r.into_connect_result()
}

// ---------------------------------------------------------------------------------------------
// ACL

/// What a user's `get_initial_acl` can return.
#[diagnostic::on_unimplemented(
    message = "`get_initial_acl` cannot return `{Self}`",
    label = "expected `Option<Vec<{M}>>`",
    note = "return `None` for no restriction, or `Some(vec![...])` of the generated method identifiers"
)]
pub trait IntoInitialAcl<M: MethodId> {
    /// The initial ACL as the trait returns it.
    fn into_initial_acl(self) -> Option<Cow<'static, [M]>>;
}

impl<M: MethodId> IntoInitialAcl<M> for Option<Vec<M>> {
    fn into_initial_acl(self) -> Option<Cow<'static, [M]>> {
        self.map(Cow::Owned)
    }
}

impl<M: MethodId> IntoInitialAcl<M> for Option<&'static [M]> {
    fn into_initial_acl(self) -> Option<Cow<'static, [M]>> {
        self.map(Cow::Borrowed)
    }
}

impl<M: MethodId> IntoInitialAcl<M> for Option<Cow<'static, [M]>> {
    fn into_initial_acl(self) -> Option<Cow<'static, [M]>> {
        self
    }
}

/// A user's `get_initial_acl` result as the trait returns it.
#[inline]
pub fn initial_acl<M: MethodId, R: IntoInitialAcl<M>>(r: R) -> Option<Cow<'static, [M]>> {
    r.into_initial_acl()
}
