//! The sans-IO codecs, the lowest layer: bytes in, values out, and back. Nothing here knows
//! of sockets, tasks or time, so every function is unit-tested and fuzzed on its own.
//!
//! - [`engine`]: Engine.IO v4 packets ([`engine::packet`]) and HTTP long-polling payloads
//!   ([`engine::payload`]); the Engine.IO v3 framing of Socket.IO v2 clients ([`engine::v3`]).
//! - [`socketio`]: Socket.IO v5 packets ([`socketio::packet`]), binary attachments
//!   ([`socketio::binary`]), the encoding of outgoing arguments ([`socketio::Args`]) and the
//!   arguments received ([`socketio::Event`], [`socketio::RawArgs`]).

pub mod engine;
pub mod socketio;
#[doc(hidden)]
pub mod typescript;

#[cfg(test)]
mod proptests;
