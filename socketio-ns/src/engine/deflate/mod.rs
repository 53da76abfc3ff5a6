//! WebSocket `permessage-deflate` (RFC 7692), which tungstenite does not implement: the
//! negotiation (`negotiate.rs`), a server-side frame codec that inflates and deflates
//! messages (`codec.rs`, sans-IO), and the stream that runs it over the upgraded connection
//! (`stream.rs`). A connection whose client offers no acceptable `permessage-deflate`, or any
//! connection while [`WsCompression`](super::WsCompression) is off, runs on tungstenite.

mod codec;
mod negotiate;
mod stream;

pub(crate) use codec::Codec;
pub(crate) use negotiate::negotiate;
pub(crate) use stream::DeflateStream;
