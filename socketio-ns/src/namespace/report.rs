//! [`ErrorReport`]: what the server-wide error hook ([`crate::Builder::on_error`]) is shown
//! of every refused or failed call, and the one function that reports it.

use std::panic::AssertUnwindSafe;
use std::sync::Arc;

use super::registry::Runtime;
use crate::connection::Socket;

/// A refused or failed call, as the hook given to [`crate::Builder::on_error`] sees it.
///
/// The ACL refused it (`method_access_denied`), no handler takes it (`no_such_method`), its
/// arguments do not decode (`invalid_arguments`), its handler returned an error or panicked,
/// or a handler or job reported one itself with [`crate::Context::error`],
/// [`crate::Context::error_quiet`] or [`crate::SocketRef::error`].
#[derive(Debug, Clone, Copy)]
#[non_exhaustive]
pub struct ErrorReport<'a> {
    /// The error's name, such as `method_access_denied` or `handler_error`.
    pub name: &'a str,
    /// Its human-readable message.
    pub message: &'a str,
    /// The namespace path of the socket.
    pub namespace: &'a str,
    /// The socket's Socket.IO id.
    pub socket: &'a str,
    /// The event being handled, when the error arose while handling one (not in a job).
    pub event: Option<&'a str>,
    /// Whether the client was told; `false` for the quiet form
    /// ([`crate::Context::error_quiet`]).
    pub sent: bool,
}

/// The hook given to [`crate::Builder::on_error`].
pub(crate) type ErrorHook = Arc<dyn Fn(&ErrorReport<'_>) + Send + Sync>;

/// Logs an error of `socket` and shows it to the runtime's hook, if any. A hook that panics
/// is logged and otherwise ignored.
pub(crate) fn report(
    rt: &Runtime,
    socket: &Socket,
    event: Option<&str>,
    name: &str,
    message: &str,
    sent: bool,
) {
    if sent {
        tracing::debug!(error = name, message, event, "error reported to the client");
    } else {
        tracing::warn!(
            error = name,
            message,
            event,
            "error (not sent to the client)"
        );
    }
    let Some(hook) = rt.on_error.as_ref() else {
        return;
    };
    let report = ErrorReport {
        name,
        message,
        namespace: socket.nsp(),
        socket: &socket.id,
        event,
        sent,
    };
    if std::panic::catch_unwind(AssertUnwindSafe(|| hook(&report))).is_err() {
        tracing::error!("the on_error hook panicked");
    }
}
