//! Socket.IO v5 codecs: packets, binary attachments, outgoing arguments and received ones;
//! what protocol v4 (Socket.IO v2 clients) writes differently ([`v2`]); the msgpack parser
//! ([`msgpack`]).

pub mod binary;
pub mod msgpack;
pub mod packet;
pub mod v2;

pub(crate) mod encode;
mod event;

pub use encode::Args;
pub(crate) use event::Received;
pub use event::{Event, RawArgs};
pub use msgpack::Parser;
