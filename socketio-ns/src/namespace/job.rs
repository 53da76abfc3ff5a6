//! [`JobHandle`]: one job started with [`crate::Context::spawn`].

use std::fmt;

use tokio::task::AbortHandle;

/// One job started with [`crate::Context::spawn`] (gevent-socketio's `self.spawn` returned
/// the greenlet): abort that job alone, or ask whether it is done. Cheap to clone; dropping it
/// does not stop the job, which still ends with [`crate::Context::kill_local_jobs`] and when
/// its socket leaves the namespace.
///
/// To act on its socket, a job takes a [`crate::SocketRef`] ([`crate::Context::socket`])
/// into its future: it can emit, report errors, join and leave rooms and use the connection's
/// session from there, while the socket's handlers go on.
#[derive(Clone)]
pub struct JobHandle(AbortHandle);

impl JobHandle {
    pub(crate) fn new(handle: AbortHandle) -> Self {
        JobHandle(handle)
    }

    /// Aborts this job (at its next `.await`); the socket's other jobs go on. Aborting a job
    /// that has finished does nothing.
    pub fn abort(&self) {
        self.0.abort();
    }

    /// Whether the job has finished: returned, panicked or been aborted.
    pub fn is_finished(&self) -> bool {
        self.0.is_finished()
    }
}

impl fmt::Debug for JobHandle {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("JobHandle")
            .field("id", &self.0.id())
            .field("finished", &self.0.is_finished())
            .finish()
    }
}
