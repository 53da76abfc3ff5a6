//! Engine.IO v4 codecs: packets and long-polling payloads.

pub mod packet;
pub mod payload;
