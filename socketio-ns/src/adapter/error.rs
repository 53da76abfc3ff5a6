//! The errors of fan-out: [`AdapterError`] from an adapter, [`EmitError`] from an emit.

use crate::engine::SendError;

/// An error from an adapter (typically: the other processes could not be reached).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("adapter error: {0}")]
pub struct AdapterError(pub String);

/// Why an emit failed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum EmitError {
    /// The arguments could not be serialized.
    #[error("arguments could not be serialized: {0}")]
    Serialize(String),
    /// The packet could not be queued.
    #[error(transparent)]
    Send(#[from] SendError),
    /// The adapter failed to broadcast.
    #[error(transparent)]
    Adapter(#[from] AdapterError),
}
