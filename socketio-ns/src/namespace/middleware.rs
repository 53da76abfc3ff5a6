//! Connect middlewares: run before a namespace's `recv_connect`, may refuse the connection.

use std::future::Future;

use futures_util::future::BoxFuture;

use super::{ConnectError, Handshake};

/// A connect middleware. Any `Fn(Handshake) -> impl Future<Output = Result<(), ConnectError>>`
/// is one.
pub trait Middleware: Send + Sync + 'static {
    /// Decides on a connection; `Err` sends CONNECT_ERROR `{"message":..,"data":..}`.
    fn call(&self, handshake: Handshake) -> BoxFuture<'static, Result<(), ConnectError>>;
}

impl<F, Fut> Middleware for F
where
    F: Fn(Handshake) -> Fut + Send + Sync + 'static,
    Fut: Future<Output = Result<(), ConnectError>> + Send + 'static,
{
    fn call(&self, handshake: Handshake) -> BoxFuture<'static, Result<(), ConnectError>> {
        Box::pin(self(handshake))
    }
}
