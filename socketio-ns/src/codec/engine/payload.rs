//! Engine.IO v4 HTTP long-polling payloads: sans-IO encode and decode.
//!
//! A payload is a list of packets joined by the record separator `0x1e`. Text packets are
//! written as over WebSocket (type digit and data); a binary message is `b` followed by its
//! base64 encoding (standard alphabet, padded).

use base64::Engine as _;
use base64::alphabet;
use base64::engine::{DecodePaddingMode, GeneralPurpose, GeneralPurposeConfig};
use bytes::Bytes;

use super::packet::{DecodeError, EnginePacket, Frame, decode_record};

/// The record separator between the packets of a polling payload.
pub const SEPARATOR: u8 = 0x1e;

/// The prefix of a binary record.
const BINARY_PREFIX: u8 = b'b';

/// Standard alphabet; writes padding, accepts input with or without it (and non-zero
/// trailing bits, as lenient as the JavaScript implementations).
const BASE64: GeneralPurpose = GeneralPurpose::new(
    &alphabet::STANDARD,
    GeneralPurposeConfig::new()
        .with_encode_padding(true)
        .with_decode_padding_mode(DecodePaddingMode::Indifferent)
        .with_decode_allow_trailing_bits(true),
);

/// Decodes a polling payload (the body of a POST) into its packets.
///
/// Records are split on [`SEPARATOR`]; a record starting with `b` is a base64 binary message,
/// any other is a text packet as [`EnginePacket::decode_text`] reads it. Text packets share `body`'s
/// buffer; binary ones are decoded into a new buffer.
///
/// # Errors
///
/// [`DecodeError::Empty`] for an empty body or an empty record, [`DecodeError::TooManyPackets`]
/// when there are more than `max_packets` records (checked before decoding the extra one),
/// [`DecodeError::InvalidUtf8`] when the body is not UTF-8, [`DecodeError::InvalidBase64`], or
/// any error of [`EnginePacket::decode_text`]. Never panics.
pub fn decode_payload(body: &Bytes, max_packets: usize) -> Result<Vec<EnginePacket>, DecodeError> {
    if body.is_empty() {
        return Err(DecodeError::Empty);
    }
    let mut packets = Vec::new();
    let mut start = 0;
    loop {
        let rest = body.get(start..).unwrap_or_default();
        let len = rest
            .iter()
            .position(|&b| b == SEPARATOR)
            .unwrap_or(rest.len());
        if packets.len() == max_packets {
            return Err(DecodeError::TooManyPackets);
        }
        let record = body.slice(start..start + len);
        packets.push(decode_payload_record(record)?);
        if len == rest.len() {
            return Ok(packets);
        }
        start += len + 1;
    }
}

/// Decodes one record of a payload (no separator inside).
fn decode_payload_record(record: Bytes) -> Result<EnginePacket, DecodeError> {
    match record.split_first() {
        Some((&BINARY_PREFIX, encoded)) => match BASE64.decode(encoded) {
            Ok(data) => Ok(EnginePacket::Binary(Bytes::from(data))),
            Err(_) if std::str::from_utf8(encoded).is_err() => Err(DecodeError::InvalidUtf8),
            Err(_) => Err(DecodeError::InvalidBase64),
        },
        _ => decode_record(record),
    }
}

/// Appends a polling payload holding `frames` to `out`: records joined by [`SEPARATOR`],
/// binary frames as `b` + base64 (standard, padded).
///
/// Reserve [`encoded_len`] bytes per frame (plus one per separator) to avoid reallocations.
pub fn encode_payload<'a>(frames: impl IntoIterator<Item = &'a Frame>, out: &mut Vec<u8>) {
    for (i, frame) in frames.into_iter().enumerate() {
        if i > 0 {
            out.push(SEPARATOR);
        }
        match frame {
            Frame::Text(text) => out.extend_from_slice(text.as_bytes()),
            Frame::Binary(data) => {
                out.push(BINARY_PREFIX);
                let start = out.len();
                out.resize(start + base64_len(data.len()), 0);
                let tail = out.get_mut(start..).unwrap_or_default();
                let written = BASE64.encode_slice(data, tail).unwrap_or(0);
                debug_assert_eq!(written, base64_len(data.len()));
                out.truncate(start + written);
            }
        }
    }
}

/// The number of bytes `frame` takes in a polling payload, separator excluded.
pub fn encoded_len(frame: &Frame) -> usize {
    match frame {
        Frame::Text(text) => text.len(),
        Frame::Binary(data) => 1 + base64_len(data.len()),
    }
}

/// Padded base64 length of `n` bytes.
#[inline]
fn base64_len(n: usize) -> usize {
    n.div_ceil(3) * 4
}

#[cfg(test)]
mod tests {
    use tokio_tungstenite::tungstenite::Utf8Bytes;

    use super::*;

    fn decode(body: &'static [u8]) -> Result<Vec<EnginePacket>, DecodeError> {
        decode_payload(&Bytes::from_static(body), 16)
    }

    fn msg(s: &str) -> EnginePacket {
        EnginePacket::Message(Utf8Bytes::from(s))
    }

    fn bin(b: &'static [u8]) -> EnginePacket {
        EnginePacket::Binary(Bytes::from_static(b))
    }

    fn encode(frames: &[Frame]) -> Vec<u8> {
        let mut out = Vec::new();
        encode_payload(frames, &mut out);
        out
    }

    #[test]
    fn decode_single_and_batched() {
        assert_eq!(decode(b"4hello"), Ok(vec![msg("hello")]));
        assert_eq!(decode(b"1"), Ok(vec![EnginePacket::Close]));
        assert_eq!(
            decode("4hello\x1e2\x1e4€\x1e3probe\x1e4\x1e6".as_bytes()),
            Ok(vec![
                msg("hello"),
                EnginePacket::Ping { probe: false },
                msg("€"),
                EnginePacket::Pong { probe: true },
                msg(""),
                EnginePacket::Noop,
            ])
        );
    }

    #[test]
    fn decode_binary_records() {
        assert_eq!(decode(b"bAQID"), Ok(vec![bin(&[1, 2, 3])]));
        // Padded and unpadded.
        assert_eq!(decode(b"bAQI="), Ok(vec![bin(&[1, 2])]));
        assert_eq!(decode(b"bAQI"), Ok(vec![bin(&[1, 2])]));
        assert_eq!(decode(b"bAQ=="), Ok(vec![bin(&[1])]));
        assert_eq!(decode(b"bAQ"), Ok(vec![bin(&[1])]));
        assert_eq!(decode(b"b"), Ok(vec![bin(b"")]));
        assert_eq!(decode(b"b/+8="), Ok(vec![bin(&[0xff, 0xef])]));
        assert_eq!(
            decode(b"4hello\x1ebAQID\x1e4world"),
            Ok(vec![msg("hello"), bin(&[1, 2, 3]), msg("world")])
        );
    }

    #[test]
    fn text_records_share_the_body() {
        let body = Bytes::from_static(b"4abc\x1e4def");
        let packets = decode_payload(&body, 4).unwrap();
        let EnginePacket::Message(second) = &packets[1] else {
            panic!("not a message");
        };
        assert_eq!(second.as_ptr(), body.as_ptr().wrapping_add(6));
    }

    #[test]
    fn packet_limit() {
        let body = Bytes::from_static(b"2\x1e2\x1e2");
        assert_eq!(decode_payload(&body, 3).map(|p| p.len()), Ok(3));
        assert_eq!(decode_payload(&body, 2), Err(DecodeError::TooManyPackets));
        assert_eq!(decode_payload(&body, 0), Err(DecodeError::TooManyPackets));
    }

    #[test]
    fn decode_malformed() {
        let cases: &[(&[u8], DecodeError)] = &[
            (b"", DecodeError::Empty),
            (b"\x1e", DecodeError::Empty),
            (b"4a\x1e", DecodeError::Empty),
            (b"\x1e4a", DecodeError::Empty),
            (b"4a\x1e\x1e4b", DecodeError::Empty),
            (b"4\xff", DecodeError::InvalidUtf8),
            (b"4ok\x1e4\xc3", DecodeError::InvalidUtf8),
            (b"b\xff\xfe", DecodeError::InvalidUtf8),
            (b"\xff", DecodeError::InvalidUtf8),
            (b"bA", DecodeError::InvalidBase64),
            (b"b!!!!", DecodeError::InvalidBase64),
            (b"bAQID=", DecodeError::InvalidBase64),
            (b"bAQ=\x3d=", DecodeError::InvalidBase64),
            (b"b\xc3\xa9", DecodeError::InvalidBase64),
            (b"9", DecodeError::UnknownType),
            (b"4a\x1eX", DecodeError::UnknownType),
            (b"1x", DecodeError::UnexpectedData),
            (b"2probe\x1e2x", DecodeError::UnexpectedData),
        ];
        for &(body, expected) in cases {
            assert_eq!(decode(body), Err(expected), "{body:?}");
        }
    }

    #[test]
    fn encode_batches() {
        assert_eq!(encode(&[]), b"");
        assert_eq!(encode(&[Frame::message("hello")]), b"4hello");
        let frames = [
            Frame::message("a"),
            Frame::ping(),
            Frame::Binary(Bytes::from_static(&[1, 2, 3])),
            Frame::Binary(Bytes::from_static(&[1])),
            Frame::Binary(Bytes::new()),
            Frame::noop(),
        ];
        let out = encode(&frames);
        assert_eq!(out, b"4a\x1e2\x1ebAQID\x1ebAQ==\x1eb\x1e6");
        let lengths: usize = frames.iter().map(encoded_len).sum();
        assert_eq!(out.len(), lengths + frames.len() - 1);

        // Appends to what is already there.
        let mut out = b"xyz".to_vec();
        encode_payload(&[Frame::close()], &mut out);
        assert_eq!(out, b"xyz1");
    }

    #[test]
    fn encode_decode_round_trip() {
        let data: Vec<u8> = (0..=255).collect();
        for n in [0, 1, 2, 3, 4, 5, 100, 256] {
            let bytes = Bytes::copy_from_slice(&data[..n]);
            let frames = [Frame::message("x"), Frame::Binary(bytes.clone())];
            let out = encode(&frames);
            assert_eq!(encoded_len(&frames[1]), out.len() - "4x\x1e".len(), "{n}");
            let decoded = decode_payload(&Bytes::from(out), 2).unwrap();
            assert_eq!(decoded, vec![msg("x"), EnginePacket::Binary(bytes)]);
        }
    }
}
