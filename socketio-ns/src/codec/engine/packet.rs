//! Engine.IO v4 packets: sans-IO encode and decode.
//!
//! A text packet is one ASCII digit (the type) followed by its data. A binary packet over
//! WebSocket is the raw bytes of a `message` packet, without any prefix.
//!
//! Decoding ([`EnginePacket::decode_text`], [`EnginePacket::decode_binary`]) never panics and shares the
//! input buffer instead of copying it. Encoding produces a [`Frame`], which both transports
//! can send as is (polling joins frames with [`payload::encode_payload`](super::payload)).

use bytes::Bytes;
use tokio_tungstenite::tungstenite::Utf8Bytes;

/// The type of an Engine.IO packet, with its wire digit.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum EnginePacketType {
    /// `0`: the handshake, server to client.
    Open,
    /// `1`: the transport is to be closed.
    Close,
    /// `2`: heartbeat request (server to client in v4), or `2probe` during upgrade.
    Ping,
    /// `3`: heartbeat answer, or `3probe` during upgrade.
    Pong,
    /// `4`: a message for the layer above.
    Message,
    /// `5`: the client switches to the new transport.
    Upgrade,
    /// `6`: no operation, used to end a pending poll.
    Noop,
}

/// A decoded Engine.IO packet.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum EnginePacket {
    /// `0{...}`: the handshake data (JSON).
    Open(Utf8Bytes),
    /// `1`.
    Close,
    /// `2` or `2probe` (`probe == true`).
    Ping {
        /// Whether this is the upgrade probe.
        probe: bool,
    },
    /// `3` or `3probe`.
    Pong {
        /// Whether this is the upgrade probe answer.
        probe: bool,
    },
    /// `4<text>`: a text message (the text excludes the `4`).
    Message(Utf8Bytes),
    /// A binary message (raw frame over WebSocket, `b<base64>` over polling).
    Binary(Bytes),
    /// `5`.
    Upgrade,
    /// `6`.
    Noop,
}

/// Why an Engine.IO packet or payload could not be decoded.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum DecodeError {
    /// The input was empty.
    #[error("empty packet")]
    Empty,
    /// The first character is not a known packet type.
    #[error("unknown packet type")]
    UnknownType,
    /// A packet type that may not carry data carried some (or `2`/`3` with data other than `probe`).
    #[error("unexpected packet data")]
    UnexpectedData,
    /// A `b`-prefixed polling record was not valid base64.
    #[error("invalid base64 in binary record")]
    InvalidBase64,
    /// A polling payload was not valid UTF-8.
    #[error("payload is not valid UTF-8")]
    InvalidUtf8,
    /// A payload held more records than the configured limit.
    #[error("too many packets in payload")]
    TooManyPackets,
    /// An Engine.IO v3 payload record's length is missing, malformed or does not match its
    /// packet.
    #[error("invalid record length in payload")]
    InvalidLength,
}

/// An already encoded frame, ready for a transport: WebSocket sends it as one frame, polling
/// joins frames with the record separator (binary as `b` + base64).
///
/// Cloning is cheap (reference counted), so one frame can be queued for many sockets.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Frame {
    /// A text packet including its leading type digit, for example `4hello` or `2`.
    Text(Utf8Bytes),
    /// A binary message (raw bytes, no prefix).
    Binary(Bytes),
}

impl EnginePacketType {
    /// The packet type for a wire digit (`b'0'..=b'6'`), or `None` for any other byte.
    #[inline]
    pub fn from_byte(b: u8) -> Option<Self> {
        Some(match b {
            b'0' => Self::Open,
            b'1' => Self::Close,
            b'2' => Self::Ping,
            b'3' => Self::Pong,
            b'4' => Self::Message,
            b'5' => Self::Upgrade,
            b'6' => Self::Noop,
            _ => return None,
        })
    }

    /// The wire digit of this packet type (`b'0'..=b'6'`).
    #[inline]
    pub fn as_byte(self) -> u8 {
        match self {
            Self::Open => b'0',
            Self::Close => b'1',
            Self::Ping => b'2',
            Self::Pong => b'3',
            Self::Message => b'4',
            Self::Upgrade => b'5',
            Self::Noop => b'6',
        }
    }
}

/// The data of `2probe` / `3probe`.
const PROBE: &[u8] = b"probe";

impl EnginePacket {
    /// Decodes a text packet: one WebSocket text frame, or one record of a polling payload.
    ///
    /// `2probe` / `3probe` decode with `probe: true`; `1`, `5` and `6` must carry no data, and
    /// `2` / `3` no data other than `probe` ([`DecodeError::UnexpectedData`]). The data of `0`
    /// and `4` shares the input buffer. Never panics.
    pub fn decode_text(text: Utf8Bytes) -> Result<EnginePacket, DecodeError> {
        decode_record(Bytes::from(text))
    }

    /// Decodes a binary packet (one WebSocket binary frame): always a binary message.
    #[inline]
    pub fn decode_binary(data: Bytes) -> EnginePacket {
        EnginePacket::Binary(data)
    }

    /// The packet type; a binary message is a [`EnginePacketType::Message`].
    pub fn kind(&self) -> EnginePacketType {
        match self {
            EnginePacket::Open(_) => EnginePacketType::Open,
            EnginePacket::Close => EnginePacketType::Close,
            EnginePacket::Ping { .. } => EnginePacketType::Ping,
            EnginePacket::Pong { .. } => EnginePacketType::Pong,
            EnginePacket::Message(_) | EnginePacket::Binary(_) => EnginePacketType::Message,
            EnginePacket::Upgrade => EnginePacketType::Upgrade,
            EnginePacket::Noop => EnginePacketType::Noop,
        }
    }

    /// Encodes this packet as a frame. Packets without data are static strings (no
    /// allocation); `Open` and `Message` copy their text once, after the type digit; `Binary`
    /// shares its buffer.
    pub fn to_frame(&self) -> Frame {
        match self {
            EnginePacket::Open(data) => Frame::with_prefix(b'0', data),
            EnginePacket::Close => Frame::close(),
            EnginePacket::Ping { probe: false } => Frame::ping(),
            EnginePacket::Ping { probe: true } => Frame::ping_probe(),
            EnginePacket::Pong { probe: false } => Frame::pong(),
            EnginePacket::Pong { probe: true } => Frame::pong_probe(),
            EnginePacket::Message(text) => Frame::message(text),
            EnginePacket::Binary(data) => Frame::Binary(data.clone()),
            EnginePacket::Upgrade => Frame::upgrade(),
            EnginePacket::Noop => Frame::noop(),
        }
    }
}

/// Decodes one text record from raw bytes that are expected to be UTF-8 (a WebSocket text
/// frame, or one record of a polling payload, which is checked here).
///
/// The data of `0` and `4` is validated as UTF-8 exactly once, when it is turned into
/// [`Utf8Bytes`]; the other types compare bytes. Errors report [`DecodeError::InvalidUtf8`]
/// whenever the record is not UTF-8, whatever else is wrong with it.
pub(super) fn decode_record(record: Bytes) -> Result<EnginePacket, DecodeError> {
    let Some((&first, data)) = record.split_first() else {
        return Err(DecodeError::Empty);
    };
    let Some(kind) = EnginePacketType::from_byte(first) else {
        return Err(utf8_or(&record, DecodeError::UnknownType));
    };
    let no_data = |packet: EnginePacket| {
        if data.is_empty() {
            Ok(packet)
        } else {
            Err(utf8_or(data, DecodeError::UnexpectedData))
        }
    };
    match kind {
        EnginePacketType::Open => text_after_digit(&record).map(EnginePacket::Open),
        EnginePacketType::Message => text_after_digit(&record).map(EnginePacket::Message),
        EnginePacketType::Ping if data == PROBE => Ok(EnginePacket::Ping { probe: true }),
        EnginePacketType::Pong if data == PROBE => Ok(EnginePacket::Pong { probe: true }),
        EnginePacketType::Ping => no_data(EnginePacket::Ping { probe: false }),
        EnginePacketType::Pong => no_data(EnginePacket::Pong { probe: false }),
        EnginePacketType::Close => no_data(EnginePacket::Close),
        EnginePacketType::Upgrade => no_data(EnginePacket::Upgrade),
        EnginePacketType::Noop => no_data(EnginePacket::Noop),
    }
}

/// The record without its (ASCII) type digit, as text.
fn text_after_digit(record: &Bytes) -> Result<Utf8Bytes, DecodeError> {
    let data = record.slice(1..);
    Utf8Bytes::try_from(data).map_err(|_| DecodeError::InvalidUtf8)
}

/// `err`, unless `bytes` is not UTF-8 (then [`DecodeError::InvalidUtf8`]). Error path only.
#[cold]
fn utf8_or(bytes: &[u8], err: DecodeError) -> DecodeError {
    match std::str::from_utf8(bytes) {
        Ok(_) => err,
        Err(_) => DecodeError::InvalidUtf8,
    }
}

impl Frame {
    /// A text frame: the type `digit` followed by `text` (one copy of `text`).
    fn with_prefix(digit: u8, text: &str) -> Frame {
        let mut s = String::with_capacity(text.len() + 1);
        s.push(char::from(digit));
        s.push_str(text);
        Frame::Text(Utf8Bytes::from(s))
    }

    /// A `message` packet: `4` followed by `text` (one copy of `text`).
    pub fn message(text: &str) -> Frame {
        Frame::with_prefix(b'4', text)
    }

    /// A text frame from a static string, which must include the type digit (no allocation).
    #[inline]
    pub const fn from_static(s: &'static str) -> Frame {
        Frame::Text(Utf8Bytes::from_static(s))
    }

    /// `1`: close.
    #[inline]
    pub const fn close() -> Frame {
        Frame::from_static("1")
    }

    /// `2`: a heartbeat ping (sent by the server in Engine.IO v4).
    #[inline]
    pub const fn ping() -> Frame {
        Frame::from_static("2")
    }

    /// `2probe`: the upgrade probe (sent by the client).
    #[inline]
    pub const fn ping_probe() -> Frame {
        Frame::from_static("2probe")
    }

    /// `3`: a heartbeat pong.
    #[inline]
    pub const fn pong() -> Frame {
        Frame::from_static("3")
    }

    /// `3probe`: the answer to the upgrade probe.
    #[inline]
    pub const fn pong_probe() -> Frame {
        Frame::from_static("3probe")
    }

    /// `5`: upgrade.
    #[inline]
    pub const fn upgrade() -> Frame {
        Frame::from_static("5")
    }

    /// `6`: noop, ends a pending poll during an upgrade.
    #[inline]
    pub const fn noop() -> Frame {
        Frame::from_static("6")
    }

    /// Whether this is a binary frame.
    #[inline]
    pub fn is_binary(&self) -> bool {
        matches!(self, Frame::Binary(_))
    }

    /// The length in bytes of the frame as sent over WebSocket (text including its type digit,
    /// binary as raw bytes). For polling see [`encoded_len`](super::payload::encoded_len).
    #[inline]
    pub fn len(&self) -> usize {
        match self {
            Frame::Text(text) => text.len(),
            Frame::Binary(data) => data.len(),
        }
    }

    /// Whether the frame is empty (an empty binary message; text frames never are).
    #[inline]
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The frame decoded back into a packet (mainly for tests and logging).
    pub fn to_packet(&self) -> Result<EnginePacket, DecodeError> {
        match self {
            Frame::Text(text) => EnginePacket::decode_text(text.clone()),
            Frame::Binary(data) => Ok(EnginePacket::decode_binary(data.clone())),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn text(s: &str) -> Utf8Bytes {
        Utf8Bytes::from(s)
    }

    fn decode(s: &str) -> Result<EnginePacket, DecodeError> {
        EnginePacket::decode_text(text(s))
    }

    #[test]
    fn packet_type_digits() {
        let all = [
            EnginePacketType::Open,
            EnginePacketType::Close,
            EnginePacketType::Ping,
            EnginePacketType::Pong,
            EnginePacketType::Message,
            EnginePacketType::Upgrade,
            EnginePacketType::Noop,
        ];
        for (i, kind) in all.into_iter().enumerate() {
            let digit = b'0' + i as u8;
            assert_eq!(kind.as_byte(), digit);
            assert_eq!(EnginePacketType::from_byte(digit), Some(kind));
        }
        for b in [b'7', b'9', b'/', b'b', b' ', 0, 0xff] {
            assert_eq!(EnginePacketType::from_byte(b), None);
        }
    }

    #[test]
    fn decode_every_type() {
        let handshake = r#"{"sid":"abc","upgrades":["websocket"],"pingInterval":25000,"pingTimeout":20000,"maxPayload":1000000}"#;
        let cases = [
            (format!("0{handshake}"), EnginePacket::Open(text(handshake))),
            ("1".into(), EnginePacket::Close),
            ("2".into(), EnginePacket::Ping { probe: false }),
            ("2probe".into(), EnginePacket::Ping { probe: true }),
            ("3".into(), EnginePacket::Pong { probe: false }),
            ("3probe".into(), EnginePacket::Pong { probe: true }),
            ("4hello".into(), EnginePacket::Message(text("hello"))),
            ("4".into(), EnginePacket::Message(text(""))),
            ("4héllo ✓".into(), EnginePacket::Message(text("héllo ✓"))),
            (
                "42[\"a\",1]".into(),
                EnginePacket::Message(text("2[\"a\",1]")),
            ),
            ("5".into(), EnginePacket::Upgrade),
            ("6".into(), EnginePacket::Noop),
        ];
        for (input, expected) in cases {
            assert_eq!(decode(&input), Ok(expected), "{input:?}");
        }
    }

    #[test]
    fn decode_malformed() {
        let cases = [
            ("", DecodeError::Empty),
            ("7", DecodeError::UnknownType),
            ("9hello", DecodeError::UnknownType),
            ("bAQID", DecodeError::UnknownType),
            ("x", DecodeError::UnknownType),
            ("é", DecodeError::UnknownType),
            (" 4a", DecodeError::UnknownType),
            ("1x", DecodeError::UnexpectedData),
            ("1probe", DecodeError::UnexpectedData),
            ("2x", DecodeError::UnexpectedData),
            ("2prob", DecodeError::UnexpectedData),
            ("2probe ", DecodeError::UnexpectedData),
            ("2PROBE", DecodeError::UnexpectedData),
            ("3probeprobe", DecodeError::UnexpectedData),
            ("3 ", DecodeError::UnexpectedData),
            ("5probe", DecodeError::UnexpectedData),
            ("6x", DecodeError::UnexpectedData),
        ];
        for (input, expected) in cases {
            assert_eq!(decode(input), Err(expected), "{input:?}");
        }
    }

    #[test]
    fn decode_record_reports_invalid_utf8() {
        let record = |b: &'static [u8]| decode_record(Bytes::from_static(b));
        assert_eq!(record(b"4\xff"), Err(DecodeError::InvalidUtf8));
        assert_eq!(record(b"0\xc3"), Err(DecodeError::InvalidUtf8));
        assert_eq!(record(b"\xff4"), Err(DecodeError::InvalidUtf8));
        assert_eq!(record(b"2\xff"), Err(DecodeError::InvalidUtf8));
        assert_eq!(record(b"4ok"), Ok(EnginePacket::Message(text("ok"))));
    }

    #[test]
    fn message_shares_the_input_buffer() {
        let input = text("4some message");
        let start = input.as_ptr();
        let Ok(EnginePacket::Message(message)) = EnginePacket::decode_text(input) else {
            panic!("not a message");
        };
        assert_eq!(message.as_ptr(), start.wrapping_add(1));
    }

    #[test]
    fn decode_binary_is_a_message() {
        let data = Bytes::from_static(&[0, 1, 2, 0xff]);
        let packet = EnginePacket::decode_binary(data.clone());
        assert_eq!(packet, EnginePacket::Binary(data.clone()));
        assert_eq!(packet.kind(), EnginePacketType::Message);
        assert_eq!(packet.to_frame(), Frame::Binary(data));
    }

    #[test]
    fn to_frame_every_type() {
        let cases = [
            (
                EnginePacket::Open(text(r#"{"sid":"x"}"#)),
                r#"0{"sid":"x"}"#,
            ),
            (EnginePacket::Close, "1"),
            (EnginePacket::Ping { probe: false }, "2"),
            (EnginePacket::Ping { probe: true }, "2probe"),
            (EnginePacket::Pong { probe: false }, "3"),
            (EnginePacket::Pong { probe: true }, "3probe"),
            (EnginePacket::Message(text("hi ✓")), "4hi ✓"),
            (EnginePacket::Message(text("")), "4"),
            (EnginePacket::Upgrade, "5"),
            (EnginePacket::Noop, "6"),
        ];
        for (packet, wire) in cases {
            let frame = packet.to_frame();
            assert_eq!(frame, Frame::Text(text(wire)));
            assert_eq!(frame.len(), wire.len());
            assert!(!frame.is_binary());
            assert_eq!(frame.to_packet(), Ok(packet.clone()));
            assert_eq!(packet.kind().as_byte(), wire.as_bytes()[0]);
        }
    }

    #[test]
    fn frame_helpers() {
        assert_eq!(Frame::message("hello"), Frame::from_static("4hello"));
        assert_eq!(Frame::message(""), Frame::from_static("4"));
        assert_eq!(Frame::close(), Frame::from_static("1"));
        assert_eq!(Frame::ping(), Frame::from_static("2"));
        assert_eq!(Frame::ping_probe(), Frame::from_static("2probe"));
        assert_eq!(Frame::pong(), Frame::from_static("3"));
        assert_eq!(Frame::pong_probe(), Frame::from_static("3probe"));
        assert_eq!(Frame::upgrade(), Frame::from_static("5"));
        assert_eq!(Frame::noop(), Frame::from_static("6"));
        assert_eq!(Frame::message("é").len(), 3);
        assert!(!Frame::message("").is_empty());

        let binary = Frame::Binary(Bytes::from_static(b"\x00\x01"));
        assert!(binary.is_binary());
        assert_eq!(binary.len(), 2);
        assert!(Frame::Binary(Bytes::new()).is_empty());
        assert_eq!(
            binary.to_packet(),
            Ok(EnginePacket::Binary(Bytes::from_static(b"\x00\x01")))
        );
    }
}
