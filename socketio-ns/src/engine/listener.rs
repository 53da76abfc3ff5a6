//! The crate's HTTP/1.1 accept loop, with the timeouts and limits a public server needs,
//! usable for any tower service (an axum `Router` with the Socket.IO service mounted in it).

use std::convert::Infallible;
use std::future::Future;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::time::Duration;

use http::{Request, Response};
use hyper::body::Incoming;
use hyper_util::rt::{TokioIo, TokioTimer};

use super::RemoteAddr;

/// Options of [`serve_with`].
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct ServeOptions {
    /// How long a client may take to send a request's headers, counted from when the
    /// connection is ready for one; it also closes a kept-alive connection that sends nothing
    /// (and one that never sends anything). Default 30 s (hyper's; Node's `headersTimeout`
    /// is 60 s).
    pub header_read_timeout: Duration,
    /// The most accepted connections that have not yet sent a complete first request;
    /// connections accepted beyond are closed at once. Default 1024.
    pub max_pending_connections: usize,
}

impl Default for ServeOptions {
    fn default() -> Self {
        ServeOptions {
            header_read_timeout: Duration::from_secs(30),
            max_pending_connections: 1024,
        }
    }
}

impl ServeOptions {
    /// Sets [`ServeOptions::header_read_timeout`].
    pub fn header_read_timeout(mut self, d: Duration) -> Self {
        self.header_read_timeout = d;
        self
    }

    /// Sets [`ServeOptions::max_pending_connections`].
    pub fn max_pending_connections(mut self, n: usize) -> Self {
        self.max_pending_connections = n;
        self
    }
}

/// Serves `app` (any tower service: an axum `Router`, [`crate::Server::service`], ...) on
/// `listener` over HTTP/1.1 with WebSocket upgrades, with the default [`ServeOptions`], until
/// `shutdown` completes; connections already accepted are served on.
///
/// Use it instead of `axum::serve`, which sets no timeout: a client that sends its headers one
/// byte at a time, or nothing at all, would hold its connection (and a file descriptor)
/// forever.
pub async fn serve<S, B>(
    listener: tokio::net::TcpListener,
    app: S,
    shutdown: impl Future<Output = ()> + Send,
) -> std::io::Result<()>
where
    S: tower_service::Service<Request<Incoming>, Response = Response<B>, Error = Infallible>
        + Clone
        + Send
        + 'static,
    S::Future: Send + 'static,
    B: http_body::Body + Send + 'static,
    B::Data: Send,
    B::Error: Into<Box<dyn std::error::Error + Send + Sync>>,
{
    serve_with(listener, app, ServeOptions::default(), shutdown).await
}

/// [`serve`] with options.
pub async fn serve_with<S, B>(
    listener: tokio::net::TcpListener,
    app: S,
    options: ServeOptions,
    shutdown: impl Future<Output = ()> + Send,
) -> std::io::Result<()>
where
    S: tower_service::Service<Request<Incoming>, Response = Response<B>, Error = Infallible>
        + Clone
        + Send
        + 'static,
    S::Future: Send + 'static,
    B: http_body::Body + Send + 'static,
    B::Data: Send,
    B::Error: Into<Box<dyn std::error::Error + Send + Sync>>,
{
    let pending = Arc::new(AtomicUsize::new(0));
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
                tokio::time::sleep(Duration::from_millis(50)).await;
                continue;
            }
        };
        if pending.load(Ordering::Acquire) >= options.max_pending_connections {
            tracing::debug!(%remote, "too many connections without a request yet, closed");
            drop(stream);
            continue;
        }
        let waiting = Pending::new(&pending);
        let _ = stream.set_nodelay(true);
        let app = app.clone();
        let header_read_timeout = options.header_read_timeout;
        tokio::spawn(async move {
            let svc = hyper::service::service_fn(move |mut req: Request<Incoming>| {
                waiting.done();
                req.extensions_mut().insert(RemoteAddr(remote));
                let mut app = app.clone();
                async move {
                    std::future::poll_fn(|cx| tower_service::Service::poll_ready(&mut app, cx))
                        .await?;
                    tower_service::Service::call(&mut app, req).await
                }
            });
            let conn = hyper::server::conn::http1::Builder::new()
                .timer(TokioTimer::new())
                .header_read_timeout(header_read_timeout)
                .serve_connection(TokioIo::new(stream), svc)
                .with_upgrades();
            if let Err(e) = conn.await {
                tracing::trace!(error = %e, "connection error");
            }
        });
    }
}

/// Counts a connection as pending until its first request arrives or it ends.
#[derive(Clone)]
struct Pending(Arc<PendingInner>);

struct PendingInner {
    count: Arc<AtomicUsize>,
    counted: AtomicBool,
}

impl Pending {
    fn new(count: &Arc<AtomicUsize>) -> Self {
        count.fetch_add(1, Ordering::AcqRel);
        Pending(Arc::new(PendingInner {
            count: count.clone(),
            counted: AtomicBool::new(true),
        }))
    }

    fn done(&self) {
        if self.0.counted.swap(false, Ordering::AcqRel) {
            self.0.count.fetch_sub(1, Ordering::AcqRel);
        }
    }
}

impl Drop for PendingInner {
    fn drop(&mut self) {
        if *self.counted.get_mut() {
            self.count.fetch_sub(1, Ordering::AcqRel);
        }
    }
}
