//! WebSocket `permessage-deflate` (RFC 7692), which tungstenite does not implement: the
//! negotiation (`negotiate.rs`), a server-side frame codec that inflates and deflates
//! messages (`codec.rs`, sans-IO), and the stream that runs it over the upgraded connection
//! (`stream.rs`). A connection whose client offers no acceptable `permessage-deflate`, or any
//! connection while [`WsCompression`](super::WsCompression) is off, runs on tungstenite.

mod codec;
mod negotiate;
mod stream;

pub(crate) use codec::{Codec, compress_into};
pub(crate) use negotiate::negotiate;
pub(crate) use stream::DeflateStream;

/// The server's frame decoder with `permessage-deflate` agreed, for the fuzz target
/// `deflate_frames` (`fuzz/`); built only under `cfg(fuzzing)`, which cargo-fuzz sets.
#[cfg(fuzzing)]
#[derive(Debug)]
pub struct FuzzDeflate(Codec);

#[cfg(fuzzing)]
impl FuzzDeflate {
    /// Context takeover both ways (`takeover`) or neither; inflated messages up to `max`
    /// bytes.
    pub fn new(takeover: bool, max: usize) -> Self {
        let config = super::WsCompression {
            threshold: 0,
            server_context_takeover: takeover,
            client_context_takeover: takeover,
            level: 1,
        };
        let agreed = negotiate([&b"permessage-deflate"[..]], &config).expect("offer accepted");
        FuzzDeflate(Codec::new(agreed, max))
    }

    /// The next message in `buf` (its bytes consumed): whether it is a data message (text or
    /// binary) and its payload; `Ok(None)` when more bytes are needed. After an error the
    /// connection would be closed.
    pub fn decode(&mut self, buf: &mut bytes::BytesMut) -> Result<Option<(bool, Vec<u8>)>, String> {
        use tokio_tungstenite::tungstenite::Message;
        let message = self.0.decode(buf).map_err(|e| e.to_string())?;
        Ok(message.map(|m| match m {
            Message::Text(t) => (true, t.as_bytes().to_vec()),
            Message::Binary(b) => (true, b.to_vec()),
            Message::Ping(p) | Message::Pong(p) => (false, p.to_vec()),
            Message::Close(c) => (
                false,
                c.map(|c| c.reason.as_bytes().to_vec()).unwrap_or_default(),
            ),
            Message::Frame(f) => (false, f.into_payload().to_vec()),
        }))
    }
}
