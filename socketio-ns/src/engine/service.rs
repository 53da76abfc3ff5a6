//! [`Engine`] as a `tower::Service`, and the client address the crate's own listener passes
//! to it.

use std::convert::Infallible;
use std::fmt;
use std::future::Future;
use std::net::SocketAddr;
use std::pin::Pin;
use std::task::{Context, Poll};

use http::{Request, Response};

use super::EngineHandler;
use super::http::Body;
use super::router::Engine;

/// [`Engine`] as a `tower::Service` (and a hyper service through `hyper_util`'s adapter).
pub struct EngineService<H: EngineHandler> {
    pub(super) engine: Engine<H>,
}

impl<H: EngineHandler> Clone for EngineService<H> {
    fn clone(&self) -> Self {
        EngineService {
            engine: self.engine.clone(),
        }
    }
}

impl<H: EngineHandler> fmt::Debug for EngineService<H> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("EngineService")
            .field("engine", &self.engine)
            .finish()
    }
}

impl<H: EngineHandler> EngineService<H> {
    /// The engine behind this service.
    pub fn engine(&self) -> &Engine<H> {
        &self.engine
    }
}

/// The client address, as the crate's own server records it in request extensions.
#[derive(Debug, Clone, Copy)]
pub(crate) struct RemoteAddr(pub(crate) SocketAddr);

impl<H, B> tower_service::Service<Request<B>> for EngineService<H>
where
    H: EngineHandler,
    B: http_body::Body + Send + 'static,
    B::Data: Send,
    B::Error: Into<Box<dyn std::error::Error + Send + Sync>>,
{
    type Response = Response<Body>;
    type Error = Infallible;
    type Future = Pin<Box<dyn Future<Output = Result<Response<Body>, Infallible>> + Send>>;

    fn poll_ready(&mut self, _cx: &mut Context<'_>) -> Poll<Result<(), Infallible>> {
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, req: Request<B>) -> Self::Future {
        let engine = self.engine.clone();
        let remote = req
            .extensions()
            .get::<RemoteAddr>()
            .map(|r| r.0)
            .or_else(|| req.extensions().get::<SocketAddr>().copied());
        Box::pin(async move { Ok(engine.handle(req, remote).await) })
    }
}
