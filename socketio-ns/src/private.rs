//! Items the `#[namespace]` expansion names. Not a public API: no stability promise.

use bytes::Bytes;
use serde::de::DeserializeOwned;

pub use ::core;
pub use ::inventory;
pub use ::serde;
pub use ::std;

use crate::namespace::{ConnectError, Context, Event, HandlerError, Namespace};
use crate::protocol::Args;
use crate::server::Builder;

/// One `#[namespace]` type linked into the binary.
#[derive(Debug)]
pub struct Registration {
    /// The namespace path.
    pub path: &'static str,
    /// Registers it on a builder.
    pub register: fn(Builder) -> Builder,
}

inventory::collect!(Registration);

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

/// The error for an event no handler takes.
pub fn no_such_method(event: &Event) -> HandlerError {
    HandlerError::new("no_such_method", format!("no handler for event `{}`", event.name()))
}

/// Decodes argument `i` of an event.
#[inline]
pub fn arg<T: DeserializeOwned>(event: &Event, i: usize) -> Result<T, HandlerError> {
    event
        .arg(i)
        .map_err(|e| HandlerError::new("invalid_arguments", format!("argument {i}: {e}")))
}

/// Argument `i` of an event as a binary attachment.
#[inline]
pub fn arg_bytes(event: &Event, i: usize) -> Result<Bytes, HandlerError> {
    event.bytes(i).ok_or_else(|| {
        HandlerError::new(
            "invalid_arguments",
            format!("argument {i}: expected a binary attachment"),
        )
    })
}

/// Argument `i` as `Vec<u8>` from a binary attachment.
#[inline]
pub fn arg_vec(event: &Event, i: usize) -> Result<Vec<u8>, HandlerError> {
    arg_bytes(event, i).map(Vec::from)
}

/// The CONNECT auth payload decoded into `A` (`null` when absent).
pub fn auth<A: DeserializeOwned>(raw: Option<&str>) -> Result<A, ConnectError> {
    serde_json::from_str(raw.unwrap_or("null"))
        .map_err(|e| ConnectError::new("invalid auth payload").with_data(e.to_string()))
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
pub fn reply_result<T, A, E>(cx: &mut Context<T>, r: Result<A, E>) -> Result<(), HandlerError>
where
    T: Namespace,
    A: Args,
    E: Into<HandlerError>,
{
    match r {
        Ok(v) => reply(cx, v),
        Err(e) => Err(e.into()),
    }
}
