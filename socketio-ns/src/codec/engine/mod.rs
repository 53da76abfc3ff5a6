//! Engine.IO codecs: packets and long-polling payloads (v4), and the v3 framing older
//! clients speak ([`v3`]).

pub mod packet;
pub mod payload;
pub mod v3;
