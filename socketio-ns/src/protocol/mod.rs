//! Socket.IO v5 packets and binary attachments: sans-IO codecs.

pub mod binary;
pub mod packet;

pub(crate) mod encode;

pub use encode::Args;
