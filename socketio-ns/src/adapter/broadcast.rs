//! [`Broadcast`]: an emit to many sockets, sent when it is made.

use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll, Waker};

use super::EmitError;

type Rest = Pin<Box<dyn Future<Output = Result<(), EmitError>> + Send>>;

/// A broadcast emit ([`crate::adapter::BroadcastOperator::emit`]), already sent to this
/// process's sockets when it is returned.
///
/// Awaiting it waits for what remains, the other processes' part with a multi-process
/// adapter, and reports its errors. It need not be awaited: `cx.to("room").emit(..);` in a
/// handler sends the packet at once, as `cx.emit(..)` does; what remains then completes in
/// the background (on the current tokio runtime) and its error, if any, is logged with
/// `tracing`.
pub struct Broadcast {
    /// What is left to do, when the adapter did not finish at once.
    rest: Option<Rest>,
    /// The outcome, when it did.
    done: Option<Result<(), EmitError>>,
}

impl fmt::Debug for Broadcast {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Broadcast")
            .field("pending", &self.rest.is_some())
            .field("done", &self.done)
            .finish()
    }
}

impl Broadcast {
    /// Runs `emit` up to its first suspension point now: the adapters deliver to this
    /// process's sockets before they first wait (for another process, a connection, ...).
    pub(crate) fn start(
        emit: impl Future<Output = Result<(), EmitError>> + Send + 'static,
    ) -> Self {
        let mut emit: Rest = Box::pin(emit);
        // Polled once without a waker to register; polled again, with the caller's waker, when
        // awaited, or by a task of its own when dropped.
        match emit.as_mut().poll(&mut Context::from_waker(Waker::noop())) {
            Poll::Ready(r) => Broadcast {
                rest: None,
                done: Some(r),
            },
            Poll::Pending => Broadcast {
                rest: Some(emit),
                done: None,
            },
        }
    }
}

impl Future for Broadcast {
    type Output = Result<(), EmitError>;

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        if let Some(done) = self.done.take() {
            return Poll::Ready(done);
        }
        let Some(rest) = &mut self.rest else {
            return Poll::Ready(Ok(()));
        };
        let out = std::task::ready!(rest.as_mut().poll(cx));
        self.rest = None;
        Poll::Ready(out)
    }
}

impl Drop for Broadcast {
    fn drop(&mut self) {
        if let Some(Err(e)) = self.done.take() {
            tracing::warn!(error = %e, "a broadcast that was not awaited failed");
        }
        let Some(rest) = self.rest.take() else {
            return;
        };
        match tokio::runtime::Handle::try_current() {
            Ok(rt) => {
                rt.spawn(async move {
                    if let Err(e) = rest.await {
                        tracing::warn!(error = %e, "a broadcast that was not awaited failed");
                    }
                });
            }
            Err(_) => tracing::warn!(
                "a broadcast dropped outside a tokio runtime: the other processes are not told"
            ),
        }
    }
}
