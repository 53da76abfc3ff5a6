//! Socket.IO v5 packets: sans-IO encode and decode.
//!
//! `<type>[<attachments>-][<namespace>,][<ack id>][<json>]`
//!
//! [`decode`] splits a packet into its header fields and its JSON data, borrowing from the
//! input and checking only the outer shape of the data; [`parse_event`] and [`parse_ack`]
//! then parse an EVENT's or ACK's array once, keeping each argument as raw JSON for the
//! handler to deserialize into its own types. [`write_header`] writes the header of an
//! outgoing packet; the arguments follow (see [`write_args`](super::binary::write_args)).

use std::borrow::Cow;
use std::fmt;

use bytes::Bytes;
use serde::de::{self, Deserializer, SeqAccess, Visitor};
use serde_json::value::RawValue;

/// The type of a Socket.IO packet, with its wire digit.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum PacketType {
    /// `0`
    Connect,
    /// `1`
    Disconnect,
    /// `2`
    Event,
    /// `3`
    Ack,
    /// `4`
    ConnectError,
    /// `5`
    BinaryEvent,
    /// `6`
    BinaryAck,
}

/// A Socket.IO packet as read from the wire, before its binary attachments are joined.
///
/// `data` is the raw JSON text (not parsed beyond validation of its outer shape), borrowed from
/// the input.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SocketIoPacket<'a> {
    /// The packet type.
    pub kind: PacketType,
    /// The namespace, `/` when absent on the wire.
    pub nsp: &'a str,
    /// The number of binary attachments announced (binary types only, 0 otherwise).
    pub attachments: usize,
    /// The ack id, if any.
    pub id: Option<u64>,
    /// The JSON data, if any (trimmed of nothing: exactly the bytes after the id).
    pub data: Option<&'a str>,
}

/// Why a Socket.IO packet could not be decoded.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum DecodeError {
    /// The input was empty.
    #[error("empty packet")]
    Empty,
    /// The first character is not a known packet type.
    #[error("unknown packet type")]
    UnknownType,
    /// The attachment count was missing, not a number, or not followed by `-`.
    #[error("invalid attachment count")]
    InvalidAttachments,
    /// More attachments were announced than the configured limit.
    #[error("too many attachments")]
    TooManyAttachments,
    /// The ack id does not fit in a `u64`.
    #[error("invalid ack id")]
    InvalidId,
    /// The namespace did not start with `/` or contained invalid characters.
    #[error("invalid namespace")]
    InvalidNamespace,
    /// The data is not valid JSON, or not of the shape the packet type requires
    /// (EVENT: non-empty array whose first element is a string; ACK: array; CONNECT: object
    /// or absent; CONNECT_ERROR: object or string; DISCONNECT: absent).
    #[error("invalid packet data")]
    InvalidData,
    /// A binary attachment arrived when none was expected, or a placeholder referred to an
    /// attachment that does not exist.
    #[error("invalid binary attachment")]
    InvalidAttachment,
}

/// A binary attachment (one raw WebSocket frame or `b`+base64 polling record).
pub type Attachment = Bytes;

impl PacketType {
    /// The packet type for a wire digit (`b'0'..=b'6'`), or `None` for any other byte.
    #[inline]
    pub fn from_byte(b: u8) -> Option<Self> {
        Some(match b {
            b'0' => Self::Connect,
            b'1' => Self::Disconnect,
            b'2' => Self::Event,
            b'3' => Self::Ack,
            b'4' => Self::ConnectError,
            b'5' => Self::BinaryEvent,
            b'6' => Self::BinaryAck,
            _ => return None,
        })
    }

    /// The wire digit of this packet type (`b'0'..=b'6'`).
    #[inline]
    pub fn as_byte(self) -> u8 {
        match self {
            Self::Connect => b'0',
            Self::Disconnect => b'1',
            Self::Event => b'2',
            Self::Ack => b'3',
            Self::ConnectError => b'4',
            Self::BinaryEvent => b'5',
            Self::BinaryAck => b'6',
        }
    }

    /// Whether packets of this type announce binary attachments (`BINARY_EVENT`,
    /// `BINARY_ACK`).
    #[inline]
    pub fn is_binary(self) -> bool {
        matches!(self, Self::BinaryEvent | Self::BinaryAck)
    }
}

/// Decodes a Socket.IO packet from the text of an Engine.IO message.
///
/// Reads `<type>[<attachments>-][<namespace>,][<ack id>][<json>]`: the attachment count for
/// (and only for) binary types; a namespace when the next character is `/`, up to the next
/// `,` (consumed) or the end of the input; an ack id as a run of ASCII digits; the rest is the
/// data (`None` when empty). The data's outer shape is checked but, for events and acks, not
/// parsed: see [`parse_event`] and [`parse_ack`].
///
/// # Errors
///
/// [`DecodeError::Empty`], [`DecodeError::UnknownType`], [`DecodeError::InvalidAttachments`]
/// (count missing, not digits, or not followed by `-`), [`DecodeError::TooManyAttachments`]
/// (more than `max_attachments`), [`DecodeError::InvalidId`] (does not fit a `u64`), and
/// [`DecodeError::InvalidData`] when the data does not fit the type: CONNECT takes nothing
/// or a JSON object, DISCONNECT nothing, CONNECT_ERROR an object or a string, and the event
/// and ack types require data starting with `[`; CONNECT, DISCONNECT and CONNECT_ERROR take
/// no ack id. Never panics.
pub fn decode(input: &str, max_attachments: usize) -> Result<SocketIoPacket<'_>, DecodeError> {
    let bytes = input.as_bytes();
    let Some(&first) = bytes.first() else {
        return Err(DecodeError::Empty);
    };
    let kind = PacketType::from_byte(first).ok_or(DecodeError::UnknownType)?;
    // Every boundary below sits next to an ASCII byte, so it is a char boundary.
    let mut pos = 1;

    let mut attachments = 0;
    if kind.is_binary() {
        let (count, digits) = read_digits(bytes, pos);
        if digits == 0 || bytes.get(pos + digits) != Some(&b'-') {
            return Err(DecodeError::InvalidAttachments);
        }
        attachments = count
            .and_then(|n| usize::try_from(n).ok())
            .filter(|&n| n <= max_attachments)
            .ok_or(DecodeError::TooManyAttachments)?;
        pos += digits + 1;
    }

    let mut nsp = "/";
    if bytes.get(pos) == Some(&b'/') {
        let len = bytes
            .get(pos..)
            .unwrap_or_default()
            .iter()
            .position(|&b| b == b',');
        let end = len.map_or(bytes.len(), |len| pos + len);
        nsp = input.get(pos..end).ok_or(DecodeError::InvalidNamespace)?;
        pos = end + usize::from(len.is_some());
    }

    let (id, digits) = read_digits(bytes, pos);
    let id = match digits {
        0 => None,
        _ => Some(id.ok_or(DecodeError::InvalidId)?),
    };
    pos += digits;

    let data = input.get(pos..).filter(|data| !data.is_empty());

    match kind {
        PacketType::Connect | PacketType::Disconnect | PacketType::ConnectError if id.is_some() => {
            return Err(DecodeError::InvalidData);
        }
        PacketType::Connect => {
            if let Some(data) = data {
                check_json(data, |c| c == b'{')?;
            }
        }
        PacketType::Disconnect => {
            if data.is_some() {
                return Err(DecodeError::InvalidData);
            }
        }
        PacketType::ConnectError => {
            check_json(data.ok_or(DecodeError::InvalidData)?, |c| {
                c == b'{' || c == b'"'
            })?;
        }
        PacketType::Event | PacketType::Ack | PacketType::BinaryEvent | PacketType::BinaryAck => {
            if !data.is_some_and(|data| data.starts_with('[')) {
                return Err(DecodeError::InvalidData);
            }
        }
    }

    Ok(SocketIoPacket {
        kind,
        nsp,
        attachments,
        id,
        data,
    })
}

/// Reads the run of ASCII digits starting at `pos`: its value (`None` on `u64` overflow) and
/// its length.
fn read_digits(bytes: &[u8], pos: usize) -> (Option<u64>, usize) {
    let digits = bytes.get(pos..).unwrap_or_default();
    let mut value = Some(0u64);
    let mut len = 0;
    for &b in digits {
        if !b.is_ascii_digit() {
            break;
        }
        value = value
            .and_then(|v| v.checked_mul(10))
            .and_then(|v| v.checked_add(u64::from(b - b'0')));
        len += 1;
    }
    (value, len)
}

/// Checks that `data` is one valid JSON value whose first byte satisfies `first` (no
/// allocation: the value is only scanned).
fn check_json(data: &str, first: impl Fn(u8) -> bool) -> Result<(), DecodeError> {
    if !data.as_bytes().first().copied().is_some_and(first) {
        return Err(DecodeError::InvalidData);
    }
    serde_json::from_str::<&RawValue>(data).map_err(|_| DecodeError::InvalidData)?;
    Ok(())
}

/// The data of an EVENT or BINARY_EVENT packet, parsed by [`parse_event`].
#[derive(Debug, Clone)]
pub struct EventData<'a> {
    /// The event name (borrowed from the input unless it contains escapes).
    pub name: Cow<'a, str>,
    /// The arguments after the name, as raw JSON borrowed from the input.
    pub args: Vec<&'a RawValue>,
}

/// Parses the data of an EVENT: a JSON array, non-empty, whose first element is a string
/// (the event name). The other elements are kept as raw JSON, borrowed from `data`.
///
/// # Errors
///
/// [`DecodeError::InvalidData`] for anything else, including invalid JSON and trailing
/// characters. Never panics.
pub fn parse_event(data: &str) -> Result<EventData<'_>, DecodeError> {
    let mut de = serde_json::Deserializer::from_str(data);
    let event = de
        .deserialize_seq(EventVisitor)
        .map_err(|_| DecodeError::InvalidData)?;
    de.end().map_err(|_| DecodeError::InvalidData)?;
    Ok(event)
}

/// Parses the data of an ACK: a JSON array, whose elements are kept as raw JSON borrowed from
/// `data`.
///
/// # Errors
///
/// [`DecodeError::InvalidData`] when `data` is not a JSON array. Never panics.
pub fn parse_ack(data: &str) -> Result<Vec<&RawValue>, DecodeError> {
    serde_json::from_str(data).map_err(|_| DecodeError::InvalidData)
}

/// Reads `[name, args...]` without copying anything but an escaped name.
struct EventVisitor;

impl<'de> Visitor<'de> for EventVisitor {
    type Value = EventData<'de>;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("an array whose first element is the event name")
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Self::Value, A::Error> {
        let Some(EventName(name)) = seq.next_element()? else {
            return Err(de::Error::invalid_length(0, &self));
        };
        let mut args = Vec::new();
        while let Some(arg) = seq.next_element::<&'de RawValue>()? {
            args.push(arg);
        }
        Ok(EventData { name, args })
    }
}

/// A string borrowed from the input when it has no escapes.
struct EventName<'de>(Cow<'de, str>);

impl<'de> de::Deserialize<'de> for EventName<'de> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        deserializer.deserialize_str(EventNameVisitor)
    }
}

/// Visitor of [`EventName`].
struct EventNameVisitor;

impl<'de> Visitor<'de> for EventNameVisitor {
    type Value = EventName<'de>;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("an event name (string)")
    }

    fn visit_borrowed_str<E: de::Error>(self, v: &'de str) -> Result<Self::Value, E> {
        Ok(EventName(Cow::Borrowed(v)))
    }

    fn visit_str<E: de::Error>(self, v: &str) -> Result<Self::Value, E> {
        Ok(EventName(Cow::Owned(v.to_owned())))
    }

    fn visit_string<E: de::Error>(self, v: String) -> Result<Self::Value, E> {
        Ok(EventName(Cow::Owned(v)))
    }
}

/// Appends the header of a Socket.IO packet to `out`: the type digit, `<attachments>-` for
/// binary types, `<nsp>,` unless `nsp` is `/` (or empty), and the ack id. The JSON data is
/// written after it by the caller. Does not allocate beyond growing `out`.
pub fn write_header(
    out: &mut Vec<u8>,
    kind: PacketType,
    nsp: &str,
    attachments: usize,
    id: Option<u64>,
) {
    out.push(kind.as_byte());
    if kind.is_binary() {
        write_u64(out, attachments as u64);
        out.push(b'-');
    }
    if !nsp.is_empty() && nsp != "/" {
        out.extend_from_slice(nsp.as_bytes());
        out.push(b',');
    }
    if let Some(id) = id {
        write_u64(out, id);
    }
}

/// Appends the decimal digits of `n` (no allocation).
fn write_u64(out: &mut Vec<u8>, mut n: u64) {
    let mut buf = [0u8; 20];
    let mut i = buf.len();
    loop {
        i -= 1;
        // `n % 10` < 10, so the cast cannot truncate.
        if let Some(slot) = buf.get_mut(i) {
            *slot = b'0' + (n % 10) as u8;
        }
        n /= 10;
        if n == 0 || i == 0 {
            break;
        }
    }
    out.extend_from_slice(buf.get(i..).unwrap_or_default());
}

#[cfg(test)]
mod tests {
    use super::*;

    const MAX: usize = 10;

    fn packet<'a>(
        kind: PacketType,
        nsp: &'a str,
        attachments: usize,
        id: Option<u64>,
        data: Option<&'a str>,
    ) -> SocketIoPacket<'a> {
        SocketIoPacket {
            kind,
            nsp,
            attachments,
            id,
            data,
        }
    }

    #[test]
    fn packet_type_digits() {
        let all = [
            PacketType::Connect,
            PacketType::Disconnect,
            PacketType::Event,
            PacketType::Ack,
            PacketType::ConnectError,
            PacketType::BinaryEvent,
            PacketType::BinaryAck,
        ];
        for (i, kind) in all.into_iter().enumerate() {
            let digit = b'0' + i as u8;
            assert_eq!(kind.as_byte(), digit);
            assert_eq!(PacketType::from_byte(digit), Some(kind));
            assert_eq!(kind.is_binary(), i >= 5);
        }
        for b in [b'7', b'/', b'a', 0, 0xff] {
            assert_eq!(PacketType::from_byte(b), None);
        }
    }

    #[test]
    fn decode_every_type() {
        use PacketType::*;
        let cases = [
            ("0", packet(Connect, "/", 0, None, None)),
            (
                r#"0{"token":"123"}"#,
                packet(Connect, "/", 0, None, Some(r#"{"token":"123"}"#)),
            ),
            (
                r#"0/admin,{"token":"123"}"#,
                packet(Connect, "/admin", 0, None, Some(r#"{"token":"123"}"#)),
            ),
            ("0/admin,", packet(Connect, "/admin", 0, None, None)),
            ("0/admin", packet(Connect, "/admin", 0, None, None)),
            ("0/", packet(Connect, "/", 0, None, None)),
            ("1", packet(Disconnect, "/", 0, None, None)),
            ("1/admin,", packet(Disconnect, "/admin", 0, None, None)),
            ("1/admin", packet(Disconnect, "/admin", 0, None, None)),
            (
                r#"2["hello",1]"#,
                packet(Event, "/", 0, None, Some(r#"["hello",1]"#)),
            ),
            (
                r#"2/admin,456["project:delete",123]"#,
                packet(
                    Event,
                    "/admin",
                    0,
                    Some(456),
                    Some(r#"["project:delete",123]"#),
                ),
            ),
            (
                r#"20["a"]"#,
                packet(Event, "/", 0, Some(0), Some(r#"["a"]"#)),
            ),
            (
                r#"218446744073709551615["a"]"#,
                packet(Event, "/", 0, Some(u64::MAX), Some(r#"["a"]"#)),
            ),
            (
                r#"2/ünï code,7["é"]"#,
                packet(Event, "/ünï code", 0, Some(7), Some(r#"["é"]"#)),
            ),
            (
                "3/admin,456[]",
                packet(Ack, "/admin", 0, Some(456), Some("[]")),
            ),
            ("312[1,2]", packet(Ack, "/", 0, Some(12), Some("[1,2]"))),
            (
                r#"4{"message":"Not authorized"}"#,
                packet(
                    ConnectError,
                    "/",
                    0,
                    None,
                    Some(r#"{"message":"Not authorized"}"#),
                ),
            ),
            (
                r#"4/admin,"oops""#,
                packet(ConnectError, "/admin", 0, None, Some(r#""oops""#)),
            ),
            (
                r#"51-["hello",{"_placeholder":true,"num":0}]"#,
                packet(
                    BinaryEvent,
                    "/",
                    1,
                    None,
                    Some(r#"["hello",{"_placeholder":true,"num":0}]"#),
                ),
            ),
            (
                r#"52-/admin,456["upload",{"_placeholder":true,"num":0},{"_placeholder":true,"num":1}]"#,
                packet(
                    BinaryEvent,
                    "/admin",
                    2,
                    Some(456),
                    Some(
                        r#"["upload",{"_placeholder":true,"num":0},{"_placeholder":true,"num":1}]"#,
                    ),
                ),
            ),
            (
                r#"50-["a"]"#,
                packet(BinaryEvent, "/", 0, None, Some(r#"["a"]"#)),
            ),
            (
                r#"61-/admin,456[{"_placeholder":true,"num":0}]"#,
                packet(
                    BinaryAck,
                    "/admin",
                    1,
                    Some(456),
                    Some(r#"[{"_placeholder":true,"num":0}]"#),
                ),
            ),
            ("610-9[]", packet(BinaryAck, "/", 10, Some(9), Some("[]"))),
        ];
        for (input, expected) in cases {
            assert_eq!(decode(input, MAX), Ok(expected), "{input:?}");
        }
    }

    #[test]
    fn data_is_not_parsed_for_events() {
        // The shape is checked (starts with `[`), the JSON is left to parse_event / parse_ack.
        assert_eq!(decode("2[", MAX).unwrap().data, Some("["));
        assert_eq!(decode("3[}", MAX).unwrap().data, Some("[}"));
    }

    #[test]
    fn decode_malformed() {
        use DecodeError::*;
        let cases = [
            ("", Empty),
            ("7", UnknownType),
            ("a[]", UnknownType),
            ("é", UnknownType),
            (" 0", UnknownType),
            ("5", InvalidAttachments),
            ("5[\"a\"]", InvalidAttachments),
            ("5-[\"a\"]", InvalidAttachments),
            ("51[\"a\"]", InvalidAttachments),
            ("51", InvalidAttachments),
            ("5a-[\"a\"]", InvalidAttachments),
            ("5 1-[\"a\"]", InvalidAttachments),
            ("6/nsp,1-[]", InvalidAttachments),
            ("511-[\"a\"]", TooManyAttachments),
            ("599999999999999999999999-[\"a\"]", TooManyAttachments),
            ("218446744073709551616[\"a\"]", InvalidId),
            ("3999999999999999999999[]", InvalidId),
            ("01{}", InvalidData),
            ("0/a,1", InvalidData),
            ("0[]", InvalidData),
            ("0\"s\"", InvalidData),
            ("0{", InvalidData),
            ("0{}x", InvalidData),
            ("0{\"a\":}", InvalidData),
            ("0 {}", InvalidData),
            ("1{}", InvalidData),
            ("1/a,x", InvalidData),
            ("11", InvalidData),
            ("4", InvalidData),
            ("4/a,", InvalidData),
            ("41{}", InvalidData),
            ("4[]", InvalidData),
            ("412", InvalidData),
            ("4\"unterminated", InvalidData),
            ("2", InvalidData),
            ("212", InvalidData),
            ("2{}", InvalidData),
            ("2\"a\"", InvalidData),
            ("2 [\"a\"]", InvalidData),
            ("2/chat", InvalidData),
            ("2/chat[\"a\"]", InvalidData),
            ("21-[\"a\"]", InvalidData),
            ("3", InvalidData),
            ("3/a,1", InvalidData),
            ("51-", InvalidData),
            ("61-{}", InvalidData),
        ];
        for (input, expected) in cases {
            assert_eq!(decode(input, MAX), Err(expected), "{input:?}");
        }
    }

    #[test]
    fn namespace_runs_to_the_comma() {
        // Without a comma the namespace swallows the rest, as in the reference parser; the
        // namespace layer then answers that such a namespace does not exist.
        let p = decode("0/admin{}", MAX).unwrap();
        assert_eq!((p.nsp, p.data), ("/admin{}", None));
        let p = decode(r#"2/chat["a",1]"#, MAX);
        assert_eq!(p, Err(DecodeError::InvalidData));
        let p = decode("0/a/b,", MAX).unwrap();
        assert_eq!((p.nsp, p.data), ("/a/b", None));
    }

    #[test]
    fn attachment_limit() {
        assert_eq!(decode("53-[\"a\"]", 3).map(|p| p.attachments), Ok(3));
        assert_eq!(
            decode("54-[\"a\"]", 3),
            Err(DecodeError::TooManyAttachments)
        );
        assert_eq!(decode("50-[\"a\"]", 0).map(|p| p.attachments), Ok(0));
        assert_eq!(
            decode("51-[\"a\"]", 0),
            Err(DecodeError::TooManyAttachments)
        );
    }

    #[test]
    fn parse_event_data() {
        let event = parse_event(r#"["hello",1,{"a":[1,"]"]},"x",null]"#).unwrap();
        assert_eq!(event.name, "hello");
        assert!(matches!(event.name, Cow::Borrowed(_)));
        let args: Vec<&str> = event.args.iter().map(|a| a.get()).collect();
        assert_eq!(args, ["1", r#"{"a":[1,"]"]}"#, r#""x""#, "null"]);

        let event = parse_event(r#"["only"]"#).unwrap();
        assert_eq!(event.name, "only");
        assert!(event.args.is_empty());

        // Escapes force a copy of the name.
        let event = parse_event(r#"["he\"llo\u00e9",[]]"#).unwrap();
        assert_eq!(event.name, "he\"lloé");
        assert!(matches!(event.name, Cow::Owned(_)));
        assert_eq!(event.args[0].get(), "[]");

        // Whitespace is JSON.
        let event = parse_event(" [ \"a\" , 1 ,\n[2] ] ").unwrap();
        assert_eq!(event.name, "a");
        let args: Vec<&str> = event.args.iter().map(|a| a.get()).collect();
        assert_eq!(args, ["1", "[2]"]);

        // Arguments borrow from the input.
        let input = r#"["a",{"big":"value"}]"#;
        let event = parse_event(input).unwrap();
        assert_eq!(event.args[0].get().as_ptr(), input[5..].as_ptr());
    }

    #[test]
    fn parse_event_malformed() {
        for input in [
            "",
            "[]",
            "[1]",
            "[null]",
            "[[\"a\"]]",
            "{}",
            "\"a\"",
            "[\"a\"",
            "[\"a\",]",
            "[\"a\"]x",
            "[\"a\"][\"b\"]",
            "[\"a\" 1]",
            "[\"\\x\"]",
        ] {
            assert_eq!(
                parse_event(input).map(|e| e.name),
                Err(DecodeError::InvalidData),
                "{input:?}"
            );
        }
    }

    #[test]
    fn parse_ack_data() {
        assert!(parse_ack("[]").unwrap().is_empty());
        let args: Vec<&str> = parse_ack(r#"[1,"a",{"b":[]}]"#)
            .unwrap()
            .iter()
            .map(|a| a.get())
            .collect();
        assert_eq!(args, ["1", r#""a""#, r#"{"b":[]}"#]);
        for input in ["", "{}", "1", "[", "[1]]", "[1,]", "null"] {
            assert_eq!(
                parse_ack(input).map(|a| a.len()),
                Err(DecodeError::InvalidData),
                "{input:?}"
            );
        }
    }

    #[test]
    fn header() {
        use PacketType::*;
        let cases = [
            (Connect, "/", 0, None, "0"),
            (Connect, "/admin", 0, None, "0/admin,"),
            (Disconnect, "", 0, None, "1"),
            (Event, "/", 0, None, "2"),
            (Event, "/chat", 0, Some(12), "2/chat,12"),
            (Ack, "/", 0, Some(0), "30"),
            (Ack, "/", 0, Some(u64::MAX), "318446744073709551615"),
            (ConnectError, "/x", 0, None, "4/x,"),
            (BinaryEvent, "/", 2, None, "52-"),
            (BinaryEvent, "/", 0, Some(3), "50-3"),
            (BinaryAck, "/admin", 1, Some(456), "61-/admin,456"),
            (BinaryAck, "/", 1234567, Some(10), "61234567-10"),
        ];
        for (kind, nsp, attachments, id, expected) in cases {
            let mut out = b"prefix:".to_vec();
            write_header(&mut out, kind, nsp, attachments, id);
            assert_eq!(
                std::str::from_utf8(&out).unwrap(),
                format!("prefix:{expected}")
            );
        }
    }

    #[test]
    fn header_round_trip() {
        use PacketType::*;
        for (kind, data) in [
            (Connect, Some("{}")),
            (Disconnect, None),
            (Event, Some("[\"a\"]")),
            (Ack, Some("[]")),
            (ConnectError, Some("{\"message\":\"x\"}")),
            (BinaryEvent, Some("[\"a\"]")),
            (BinaryAck, Some("[]")),
        ] {
            for nsp in ["/", "/admin"] {
                let id = match kind {
                    Event | Ack | BinaryEvent | BinaryAck => Some(42),
                    _ => None,
                };
                let attachments = usize::from(kind.is_binary()) * 3;
                let mut out = Vec::new();
                write_header(&mut out, kind, nsp, attachments, id);
                out.extend_from_slice(data.unwrap_or("").as_bytes());
                let text = std::str::from_utf8(&out).unwrap();
                assert_eq!(
                    decode(text, MAX),
                    Ok(packet(kind, nsp, attachments, id, data)),
                    "{text}"
                );
            }
        }
    }
}
