//! The crate's own HTTP/1.1 accept loop.

use std::convert::Infallible;

use http::{Request, Response};
use hyper::body::Incoming;
use hyper_util::rt::{TokioIo, TokioTimer};

use super::Body;

/// Accepts connections on `listener` and serves each with `service`, WebSocket upgrades included.
pub(crate) async fn serve_listener<S>(
    listener: tokio::net::TcpListener,
    service: S,
) -> std::io::Result<()>
where
    S: tower_service::Service<Request<Incoming>, Response = Response<Body>, Error = Infallible>
        + Clone
        + Send
        + 'static,
    S::Future: Send,
{
    serve_listener_until(listener, service, std::future::pending()).await
}

/// Like [`serve_listener`], but stops accepting (and returns) when `shutdown` completes;
/// connections already accepted are served on.
pub(crate) async fn serve_listener_until<S>(
    listener: tokio::net::TcpListener,
    service: S,
    shutdown: impl std::future::Future<Output = ()> + Send,
) -> std::io::Result<()>
where
    S: tower_service::Service<Request<Incoming>, Response = Response<Body>, Error = Infallible>
        + Clone
        + Send
        + 'static,
    S::Future: Send,
{
    tokio::pin!(shutdown);
    loop {
        let accepted = tokio::select! {
            biased;
            _ = &mut shutdown => return Ok(()),
            accepted = listener.accept() => accepted,
        };
        let (stream, remote) = match accepted {
            Ok(x) => x,
            Err(e) => {
                // Out of file descriptors and the like: wait a little rather than spin.
                tracing::warn!(error = %e, "accept failed");
                tokio::time::sleep(std::time::Duration::from_millis(50)).await;
                continue;
            }
        };
        let _ = stream.set_nodelay(true);
        let svc = service.clone();
        tokio::spawn(async move {
            let svc = hyper::service::service_fn(move |mut req: Request<Incoming>| {
                req.extensions_mut().insert(super::RemoteAddr(remote));
                let mut svc = svc.clone();
                tower_service::Service::call(&mut svc, req)
            });
            let conn = hyper::server::conn::http1::Builder::new()
                .timer(TokioTimer::new())
                .serve_connection(TokioIo::new(stream), svc)
                .with_upgrades();
            if let Err(e) = conn.await {
                tracing::trace!(error = %e, "connection error");
            }
        });
    }
}
