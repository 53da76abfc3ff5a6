//! Socket.IO v5 codecs: packets, binary attachments, outgoing arguments and received ones.

pub mod binary;
pub mod packet;

pub(crate) mod encode;
mod event;

pub use encode::Args;
pub(crate) use event::Received;
pub use event::{Event, RawArgs};
