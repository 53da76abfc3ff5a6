//! Engine.IO v3 (protocol revision 3, spoken by Socket.IO v2 clients): sans-IO encode and
//! decode of what differs from v4.
//!
//! Packets are the same digits as in v4 ([`super::packet`]); what changes is their framing:
//!
//! - **Text polling payloads** prefix every packet with its length and a colon:
//!   `<len>:<packet>`, no separator. The length counts UTF-16 code units (a JavaScript string's
//!   `length`), not bytes. A binary message in a text payload is `b4` + base64.
//! - **Binary polling payloads** (for a client that supports binary, when a payload holds a
//!   binary message; `Content-Type: application/octet-stream`): each packet is a marker byte
//!   (`0` text, `1` binary), its length as one byte per decimal digit, `0xff`, then the packet:
//!   a text packet's UTF-8 bytes, or a binary packet's type byte (`4`) and its data. The length
//!   counts bytes.
//! - **Binary WebSocket frames** carry the type as their first byte (`0x04` then the data).
//!
//! Every decoder never panics and shares the input buffer where it can.

use base64::Engine as _;
use base64::alphabet;
use base64::engine::{DecodePaddingMode, GeneralPurpose, GeneralPurposeConfig};
use bytes::Bytes;

use super::packet::{DecodeError, EnginePacket, Frame, decode_record};

/// The type byte of a binary message (`message` is packet type 4).
pub const BINARY_MESSAGE: u8 = 4;

/// The most length digits a record may have (the reference decoder allows 310, the digits of
/// `Number.MAX_VALUE`; twenty digits already exceed any body we accept).
const MAX_LENGTH_DIGITS: usize = 20;

/// Standard alphabet, padded on output, lenient on input (as Node's `Buffer.from(_, 'base64')`).
const BASE64: GeneralPurpose = GeneralPurpose::new(
    &alphabet::STANDARD,
    GeneralPurposeConfig::new()
        .with_encode_padding(true)
        .with_decode_padding_mode(DecodePaddingMode::Indifferent)
        .with_decode_allow_trailing_bits(true),
);

/// Appends a text payload holding `frames` to `out`: `<len>:<packet>` each, a binary frame as
/// `b4` + base64. An empty list is written `0:`, as the reference encoder does.
pub fn encode_text_payload<'a>(frames: impl IntoIterator<Item = &'a Frame>, out: &mut Vec<u8>) {
    let mut any = false;
    for frame in frames {
        any = true;
        match frame {
            Frame::Text(text) => {
                let units: usize = text.chars().map(char::len_utf16).sum();
                push_decimal(out, units);
                out.push(b':');
                out.extend_from_slice(text.as_bytes());
            }
            Frame::Binary(data) => {
                let encoded = encode_base64_message(data);
                push_decimal(out, encoded.len());
                out.push(b':');
                out.extend_from_slice(encoded.as_bytes());
            }
        }
    }
    if !any {
        out.extend_from_slice(b"0:");
    }
}

/// Appends a binary payload holding `frames` to `out` (see the module docs).
pub fn encode_binary_payload<'a>(frames: impl IntoIterator<Item = &'a Frame>, out: &mut Vec<u8>) {
    for frame in frames {
        let (marker, len) = match frame {
            Frame::Text(text) => (0, text.len()),
            Frame::Binary(data) => (1, data.len() + 1),
        };
        out.push(marker);
        out.extend(len.to_string().bytes().map(|d| d - b'0'));
        out.push(0xff);
        match frame {
            Frame::Text(text) => out.extend_from_slice(text.as_bytes()),
            Frame::Binary(data) => {
                out.push(BINARY_MESSAGE);
                out.extend_from_slice(data);
            }
        }
    }
}

/// Whether a payload of `frames` goes out as a binary payload to a client that does or does
/// not support binary: only when it does and a frame is binary (as the reference encoder).
pub fn wants_binary_payload<'a>(
    frames: impl IntoIterator<Item = &'a Frame>,
    supports_binary: bool,
) -> bool {
    supports_binary && frames.into_iter().any(Frame::is_binary)
}

/// The WebSocket frame of a binary message: its type byte, then the data.
pub fn encode_ws_binary(data: &[u8]) -> Bytes {
    let mut out = Vec::with_capacity(data.len() + 1);
    out.push(BINARY_MESSAGE);
    out.extend_from_slice(data);
    Bytes::from(out)
}

/// Decodes a binary WebSocket frame: a type byte, then the data. Only a message may carry
/// binary data.
///
/// # Errors
///
/// [`DecodeError::Empty`] for an empty frame, [`DecodeError::UnknownType`] for another type.
pub fn decode_ws_binary(frame: Bytes) -> Result<EnginePacket, DecodeError> {
    match frame.first() {
        None => Err(DecodeError::Empty),
        Some(&BINARY_MESSAGE) => Ok(EnginePacket::Binary(frame.slice(1..))),
        Some(_) => Err(DecodeError::UnknownType),
    }
}

/// Decodes a text payload (a POST body without `Content-Type: application/octet-stream`).
/// Zero-length records are skipped, as the reference decoder does.
///
/// # Errors
///
/// [`DecodeError::Empty`] for an empty body, [`DecodeError::InvalidUtf8`],
/// [`DecodeError::InvalidLength`] for a missing, malformed or wrong length,
/// [`DecodeError::TooManyPackets`] beyond `max_packets`, and the errors of the packets.
pub fn decode_text_payload(
    body: &Bytes,
    max_packets: usize,
) -> Result<Vec<EnginePacket>, DecodeError> {
    if body.is_empty() {
        return Err(DecodeError::Empty);
    }
    let text = std::str::from_utf8(body).map_err(|_| DecodeError::InvalidUtf8)?;
    let mut packets = Vec::new();
    let mut pos = 0;
    while pos < text.len() {
        let rest = text.get(pos..).unwrap_or_default();
        let colon = rest.find(':').ok_or(DecodeError::InvalidLength)?;
        let digits = rest.get(..colon).unwrap_or_default();
        let units = parse_decimal(digits.as_bytes())?;
        let start = pos + colon + 1;
        let end = start + utf16_prefix_len(text.get(start..).unwrap_or_default(), units)?;
        if units > 0 {
            if packets.len() == max_packets {
                return Err(DecodeError::TooManyPackets);
            }
            packets.push(decode_text_record(body.slice(start..end))?);
        }
        pos = end;
    }
    Ok(packets)
}

/// Decodes a binary payload (a POST body with `Content-Type: application/octet-stream`).
///
/// # Errors
///
/// [`DecodeError::Empty`] for an empty body or record, [`DecodeError::InvalidLength`] for a
/// bad marker, length or truncated record, [`DecodeError::TooManyPackets`], and the errors of
/// the packets.
pub fn decode_binary_payload(
    body: &Bytes,
    max_packets: usize,
) -> Result<Vec<EnginePacket>, DecodeError> {
    if body.is_empty() {
        return Err(DecodeError::Empty);
    }
    let mut packets = Vec::new();
    let mut pos = 0;
    while pos < body.len() {
        let rest = body.get(pos..).unwrap_or_default();
        let is_text = match rest.first() {
            Some(0) => true,
            Some(1) => false,
            _ => return Err(DecodeError::InvalidLength),
        };
        let end_digits = rest
            .iter()
            .position(|&b| b == 0xff)
            .ok_or(DecodeError::InvalidLength)?;
        let digits = rest.get(1..end_digits).unwrap_or_default();
        if digits.is_empty() || digits.len() > MAX_LENGTH_DIGITS || digits.iter().any(|&d| d > 9) {
            return Err(DecodeError::InvalidLength);
        }
        let len = digits
            .iter()
            .try_fold(0usize, |n, &d| {
                n.checked_mul(10)?.checked_add(usize::from(d))
            })
            .ok_or(DecodeError::InvalidLength)?;
        let start = pos + end_digits + 1;
        let end = start.checked_add(len).ok_or(DecodeError::InvalidLength)?;
        if end > body.len() {
            return Err(DecodeError::InvalidLength);
        }
        if packets.len() == max_packets {
            return Err(DecodeError::TooManyPackets);
        }
        let record = body.slice(start..end);
        packets.push(if is_text {
            decode_text_record(record)?
        } else {
            decode_ws_binary(record)?
        });
        pos = end;
    }
    Ok(packets)
}

/// Decodes one text packet: a record of a text payload, or a WebSocket text frame, where a
/// client that does not take binary (`b64=1`) sends binary messages as `b4<base64>`.
///
/// # Errors
///
/// [`DecodeError::InvalidBase64`], [`DecodeError::UnknownType`] for a `b` record of another
/// type than message, and the errors of [`EnginePacket::decode_text`].
pub fn decode_text_packet(record: Bytes) -> Result<EnginePacket, DecodeError> {
    decode_text_record(record)
}

/// The text form of a binary message, for a client that does not take binary: `b4<base64>`.
pub fn encode_base64_message(data: &[u8]) -> String {
    let mut out = String::with_capacity(2 + data.len().div_ceil(3) * 4);
    out.push_str("b4");
    BASE64.encode_string(data, &mut out);
    out
}

/// One text record: `b<type><base64>` is binary, anything else a text packet.
fn decode_text_record(record: Bytes) -> Result<EnginePacket, DecodeError> {
    match record.split_first() {
        Some((b'b', rest)) => match rest.split_first() {
            Some((b'4', encoded)) => BASE64
                .decode(encoded)
                .map(|d| EnginePacket::Binary(Bytes::from(d)))
                .map_err(|_| DecodeError::InvalidBase64),
            _ => Err(DecodeError::UnknownType),
        },
        _ => decode_record(record),
    }
}

/// The byte length of the prefix of `s` that is `units` UTF-16 code units long.
fn utf16_prefix_len(s: &str, units: usize) -> Result<usize, DecodeError> {
    let mut counted = 0;
    for (i, c) in s.char_indices() {
        if counted == units {
            return Ok(i);
        }
        counted += c.len_utf16();
        if counted > units {
            // The length splits a surrogate pair.
            return Err(DecodeError::InvalidLength);
        }
    }
    if counted == units {
        Ok(s.len())
    } else {
        Err(DecodeError::InvalidLength)
    }
}

fn parse_decimal(digits: &[u8]) -> Result<usize, DecodeError> {
    if digits.is_empty() || digits.len() > MAX_LENGTH_DIGITS {
        return Err(DecodeError::InvalidLength);
    }
    digits
        .iter()
        .try_fold(0usize, |n, &d| {
            let d = d.checked_sub(b'0').filter(|d| *d <= 9)?;
            n.checked_mul(10)?.checked_add(usize::from(d))
        })
        .ok_or(DecodeError::InvalidLength)
}

fn push_decimal(out: &mut Vec<u8>, n: usize) {
    out.extend_from_slice(n.to_string().as_bytes());
}

#[cfg(test)]
mod tests {
    use tokio_tungstenite::tungstenite::Utf8Bytes;

    use super::*;

    fn msg(s: &str) -> EnginePacket {
        EnginePacket::Message(Utf8Bytes::from(s))
    }

    fn text_payload(frames: &[Frame]) -> Vec<u8> {
        let mut out = Vec::new();
        encode_text_payload(frames, &mut out);
        out
    }

    fn binary_payload(frames: &[Frame]) -> Vec<u8> {
        let mut out = Vec::new();
        encode_binary_payload(frames, &mut out);
        out
    }

    #[test]
    fn text_payload_encoding() {
        assert_eq!(text_payload(&[]), b"0:");
        assert_eq!(
            text_payload(&[Frame::from_static("0{\"sid\":\"x\"}"), Frame::message("0")]),
            b"12:0{\"sid\":\"x\"}2:40"
        );
        // Lengths count UTF-16 code units: é is one, the emoji two.
        assert_eq!(text_payload(&[Frame::message("é😀")]), "4:4é😀".as_bytes());
        assert_eq!(
            text_payload(&[Frame::Binary(Bytes::from_static(&[1, 2, 3]))]),
            b"6:b4AQID"
        );
    }

    #[test]
    fn binary_payload_encoding() {
        let frames = [
            Frame::message("2[\"a\"]"),
            Frame::Binary(Bytes::from_static(&[9; 11])),
        ];
        let mut expected = vec![0, 7, 0xff];
        expected.extend_from_slice(b"42[\"a\"]");
        expected.extend_from_slice(&[1, 1, 2, 0xff, 4]);
        expected.extend_from_slice(&[9; 11]);
        assert_eq!(binary_payload(&frames), expected);
        assert!(wants_binary_payload(&frames, true));
        assert!(!wants_binary_payload(&frames, false));
        assert!(!wants_binary_payload(&frames[..1], true));
    }

    #[test]
    fn text_payload_decoding() {
        let decode = |b: &'static str| decode_text_payload(&Bytes::from_static(b.as_bytes()), 8);
        assert_eq!(
            decode("1:26:4hello2:40"),
            Ok(vec![
                EnginePacket::Ping { probe: false },
                msg("hello"),
                msg("0")
            ])
        );
        assert_eq!(decode("4:4é😀"), Ok(vec![msg("é😀")]));
        assert_eq!(
            decode("6:b4AQID"),
            Ok(vec![EnginePacket::Binary(Bytes::from_static(&[1, 2, 3]))])
        );
        assert_eq!(decode("0:1:6"), Ok(vec![EnginePacket::Noop]));
        for bad in [
            "",
            "x",
            "1:",
            "2:4",
            "3:4é😀",
            "a:4",
            ":4",
            "1:6x",
            "1:9",
            "3:b5A",
        ] {
            assert!(decode(bad).is_err(), "{bad:?}");
        }
        assert_eq!(decode("2:4é"), Ok(vec![msg("é")]));
        assert_eq!(decode("3:4é"), Err(DecodeError::InvalidLength));
        assert_eq!(decode("3:4é😀"), Err(DecodeError::InvalidLength));
        assert_eq!(
            decode_text_payload(&Bytes::from_static(b"1:21:21:2"), 2),
            Err(DecodeError::TooManyPackets)
        );
    }

    #[test]
    fn binary_payload_decoding() {
        let frames = [
            Frame::message("é"),
            Frame::Binary(Bytes::from_static(&[0, 255, 7])),
            Frame::ping(),
        ];
        let body = Bytes::from(binary_payload(&frames));
        assert_eq!(
            decode_binary_payload(&body, 3),
            Ok(vec![
                msg("é"),
                EnginePacket::Binary(Bytes::from_static(&[0, 255, 7])),
                EnginePacket::Ping { probe: false },
            ])
        );
        assert_eq!(
            decode_binary_payload(&body, 2),
            Err(DecodeError::TooManyPackets)
        );
        let cases: &[&[u8]] = &[
            b"",
            &[2, 1, 0xff, b'6'],
            &[0, 0xff, b'6'],
            &[0, 1],
            &[0, 2, 0xff, b'6'],
            &[0, 10, 0xff, b'6'],
            &[1, 1, 0xff, 3],
            &[0, 1, 0xff, b'9'],
        ];
        for &bad in cases {
            assert!(
                decode_binary_payload(&Bytes::from_static(bad), 8).is_err(),
                "{bad:?}"
            );
        }
    }

    #[test]
    fn ws_binary_frames() {
        let frame = encode_ws_binary(&[1, 2]);
        assert_eq!(&frame[..], &[4, 1, 2]);
        assert_eq!(
            decode_ws_binary(frame),
            Ok(EnginePacket::Binary(Bytes::from_static(&[1, 2])))
        );
        assert_eq!(decode_ws_binary(Bytes::new()), Err(DecodeError::Empty));
        assert_eq!(encode_base64_message(&[1, 2, 3]), "b4AQID");
        assert_eq!(
            decode_text_packet(Bytes::from_static(b"b4AQID")),
            Ok(EnginePacket::Binary(Bytes::from_static(&[1, 2, 3])))
        );
        assert_eq!(
            decode_text_packet(Bytes::from_static(b"42[1]")),
            Ok(msg("2[1]"))
        );
        assert_eq!(
            decode_ws_binary(Bytes::from_static(&[3, 1])),
            Err(DecodeError::UnknownType)
        );
    }
}
