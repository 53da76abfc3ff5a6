//! The crate's HTTP/1.1 accept loop, with the timeouts and limits a public server needs,
//! usable for any tower service (an axum `Router` with the Socket.IO service mounted in it).

use std::collections::VecDeque;
use std::convert::Infallible;
use std::future::Future;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, Weak};
use std::time::Duration;

use http::{Request, Response};
use hyper::body::Incoming;
use hyper_util::rt::{TokioIo, TokioTimer};
use tokio::sync::Notify;

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
    /// The most accepted connections that have not yet sent a complete first request. A
    /// connection accepted beyond closes the one of them that has waited longest: a client
    /// holding many idle connections cannot keep others out, as a new client's request comes
    /// long before its connection is the oldest. Default 1024.
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
    let pending = Arc::new(PendingSet::default());
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
        if options.max_pending_connections == 0 {
            drop(stream);
            continue;
        }
        while pending.count.load(Ordering::Acquire) >= options.max_pending_connections {
            if !pending.evict_oldest() {
                break;
            }
        }
        let waiting = pending.add();
        let _ = stream.set_nodelay(true);
        let app = app.clone();
        let header_read_timeout = options.header_read_timeout;
        tokio::spawn(async move {
            let first = waiting.clone();
            let svc = hyper::service::service_fn(move |mut req: Request<Incoming>| {
                first.done();
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
            tokio::select! {
                r = conn => {
                    if let Err(e) = r {
                        tracing::trace!(error = %e, "connection error");
                    }
                }
                () = waiting.evicted() => {
                    tracing::debug!(%remote, "the oldest connection without a request, closed for a new one");
                }
            }
        });
    }
}

/// The connections without a first request yet, oldest first.
#[derive(Default)]
struct PendingSet {
    count: AtomicUsize,
    /// In arrival order; entries of connections no longer pending are dropped lazily.
    order: Mutex<VecDeque<Weak<PendingInner>>>,
}

impl PendingSet {
    fn add(self: &Arc<Self>) -> Pending {
        self.count.fetch_add(1, Ordering::AcqRel);
        let inner = Arc::new(PendingInner {
            set: self.clone(),
            counted: AtomicBool::new(true),
            evict: Notify::new(),
        });
        let mut order = self.order.lock().unwrap_or_else(|e| e.into_inner());
        order.push_back(Arc::downgrade(&inner));
        // Most connections stop pending in moments: keep the queue near the live count.
        if order.len() > 64 && order.len() > 2 * self.count.load(Ordering::Acquire) {
            order.retain(|w| {
                w.upgrade()
                    .is_some_and(|p| p.counted.load(Ordering::Acquire))
            });
        }
        Pending(inner)
    }

    /// Closes the connection that has been pending longest; `false` when there is none.
    fn evict_oldest(&self) -> bool {
        let mut order = self.order.lock().unwrap_or_else(|e| e.into_inner());
        while let Some(oldest) = order.pop_front() {
            if let Some(p) = oldest.upgrade()
                && p.uncount()
            {
                p.evict.notify_one();
                return true;
            }
        }
        false
    }
}

/// Counts a connection as pending until its first request arrives or it ends.
#[derive(Clone)]
struct Pending(Arc<PendingInner>);

struct PendingInner {
    set: Arc<PendingSet>,
    counted: AtomicBool,
    /// Told when this connection is closed to make room for a new one.
    evict: Notify,
}

impl PendingInner {
    /// Stops counting this connection; `false` if it no longer was.
    fn uncount(&self) -> bool {
        let was = self.counted.swap(false, Ordering::AcqRel);
        if was {
            self.set.count.fetch_sub(1, Ordering::AcqRel);
        }
        was
    }
}

impl Pending {
    /// Its first request arrived.
    fn done(&self) {
        self.0.uncount();
    }

    /// Completes when the connection is to be closed for a newer one.
    async fn evicted(&self) {
        self.0.evict.notified().await;
    }
}

impl Drop for PendingInner {
    fn drop(&mut self) {
        self.uncount();
    }
}
