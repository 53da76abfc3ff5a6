//! The msgpack parser of `socket.io-msgpack-parser` 3.0: sans-IO encode and decode.
//!
//! With that parser every Socket.IO packet is one Engine.IO binary message holding a msgpack
//! map `{type, nsp, data, id?}` (as `notepack.io` 2.2 encodes the packet object); binary
//! travels inline as msgpack `bin`, so there are no attachments and no BINARY_EVENT or
//! BINARY_ACK types on the wire.
//!
//! The runtime keeps received arguments as raw JSON plus binary attachments (see
//! [`Event`](super::Event)) and encodes outgoing packets once in that form, so this codec
//! translates at the edge:
//!
//! - [`decode`] checks exactly what the reference decoder checks (`type` an integer from 0 to
//!   4, `nsp` a string, `data` of the type's shape, `id` absent or an integer), then writes
//!   `data` as JSON, each `bin` becoming the placeholder `{"_placeholder":true,"num":N}` of
//!   attachment `N` (a slice of the input, not a copy). Values map as `JSON.stringify` would
//!   write what notepack decodes: `undefined` (fixext 1, type 0) is left out of maps and is
//!   `null` in arrays, a `Date` (fixext 8, type 0) is its ISO string, `NaN` and infinities are
//!   `null`, an ArrayBuffer (ext 8/16/32, type 0) is binary, any other extension is the pair
//!   `[type, binary]`, map keys that are numbers, booleans or nil are strings, and of a key
//!   given twice the last value counts.
//! - [`encode`] turns a packet of the runtime's form (header fields, JSON data, attachments)
//!   into msgpack, each placeholder becoming the `bin` of its attachment, numbers encoded as
//!   notepack encodes a JavaScript number.
//!
//! Where the runtime is stricter than the reference decoder: a negative ack id (the
//! reference accepts any integer; the runtime's ids are `u64`), a namespace with a comma (the
//! runtime's packets could not name it), a map key that is an array, map, binary or extension
//! (JavaScript would stringify it), and nesting deeper than [`MAX_DEPTH`] are refused. A map `{"_placeholder":true,"num":N}` sent by the client in a
//! packet that also carries binary reads as a placeholder, as with the JSON parser.

use std::borrow::Cow;
use std::collections::HashMap;
use std::fmt;
use std::ops::Range;

use bytes::Bytes;
use serde::de::{self, Deserializer, MapAccess, SeqAccess, Visitor};

use super::packet::PacketType;

/// The Socket.IO parser a server speaks with every client.
///
/// Chosen once for the whole server with [`Builder::parser`](crate::Builder::parser), as
/// Node's `new Server({ parser })`: a client must use the same one (a client of the other
/// parser is closed at its first packet, like any client that sends a malformed packet).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
#[non_exhaustive]
pub enum Parser {
    /// The default parser of `socket.io-parser`: JSON text packets, binary as separate
    /// attachments after a placeholder.
    #[default]
    Json,
    /// `socket.io-msgpack-parser` 3.0: one msgpack binary message per packet, binary inline.
    MsgPack,
}

/// The deepest nesting of arrays and maps a received packet may have (the packet's own map
/// included). Deeper packets are refused with [`MsgPackError::TooDeep`]; the JSON the
/// runtime makes of them then stays within serde_json's recursion limit.
pub const MAX_DEPTH: usize = 100;

/// Why a msgpack packet could not be decoded.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum MsgPackError {
    /// The input is not one complete msgpack value: truncated, an unknown marker (`0xc1`), or
    /// trailing bytes.
    #[error("malformed msgpack")]
    Malformed,
    /// Arrays and maps are nested deeper than [`MAX_DEPTH`].
    #[error("msgpack nested too deep")]
    TooDeep,
    /// A map key that is an array, a map, binary or an extension.
    #[error("unsupported msgpack map key")]
    InvalidKey,
    /// The packet is not a map, or its `type` is not an integer from 0 to 4.
    #[error("invalid packet type")]
    InvalidType,
    /// The packet's `nsp` is missing or not a string (or holds a comma).
    #[error("invalid namespace")]
    InvalidNamespace,
    /// The packet's `data` does not fit its type (CONNECT: absent or a map; DISCONNECT:
    /// absent; CONNECT_ERROR: a string or a map; EVENT and ACK: an array).
    #[error("invalid payload")]
    InvalidPayload,
    /// The packet's `id` is neither absent nor an integer from 0 to `u64::MAX`.
    #[error("invalid packet id")]
    InvalidId,
}

/// A Socket.IO packet decoded from msgpack, in the runtime's form.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MsgPackPacket {
    /// The packet type; EVENT and ACK whose data holds binary are [`PacketType::BinaryEvent`]
    /// and [`PacketType::BinaryAck`], as the JSON parser reads them.
    pub kind: PacketType,
    /// The namespace, as sent (any string: an unknown one is refused as such).
    pub nsp: String,
    /// The ack id.
    pub id: Option<u64>,
    /// The data as compact JSON, binary as placeholders; `None` when absent (or `undefined`).
    pub data: Option<String>,
    /// The binary values of `data`, in placeholder order, sliced from the input.
    pub attachments: Vec<Bytes>,
}

/// Decodes one Socket.IO packet from an Engine.IO binary message.
///
/// # Errors
///
/// A [`MsgPackError`] for input that is not one complete msgpack value, or a packet the
/// reference decoder refuses (see the error variants), or one of the stricter cases the
/// module documentation lists. Never panics.
pub fn decode(input: &Bytes) -> Result<MsgPackPacket, MsgPackError> {
    let mut reader = Reader {
        buf: input.as_ref(),
        pos: 0,
    };
    let value = reader.value(0)?;
    if reader.pos != reader.buf.len() {
        return Err(MsgPackError::Malformed);
    }
    let Value::Map(entries) = value else {
        return Err(MsgPackError::InvalidType);
    };
    // The last of a key given twice counts, as for a JavaScript object.
    let (mut kind, mut nsp, mut data, mut id) = (None, None, None, None);
    for (key, value) in entries {
        match key_string(&key)?.as_ref() {
            "type" => kind = Some(value),
            "nsp" => nsp = Some(value),
            "data" => data = Some(value),
            "id" => id = Some(value),
            _ => {}
        }
    }
    let kind = match kind.as_ref().and_then(integer) {
        Some(0) => PacketType::Connect,
        Some(1) => PacketType::Disconnect,
        Some(2) => PacketType::Event,
        Some(3) => PacketType::Ack,
        Some(4) => PacketType::ConnectError,
        _ => return Err(MsgPackError::InvalidType),
    };
    let nsp = match nsp {
        // The runtime's packets carry their namespace as the JSON parser writes it, up to a
        // comma: a namespace with one could not be answered.
        Some(Value::Str(s)) if !s.contains(',') => s.into_owned(),
        _ => return Err(MsgPackError::InvalidNamespace),
    };
    let data = data.filter(|d| !matches!(d, Value::Undefined));
    let valid = matches!(
        (&kind, &data),
        (PacketType::Connect, None | Some(Value::Map(_)))
            | (PacketType::Disconnect, None)
            | (
                PacketType::ConnectError,
                Some(Value::Str(_) | Value::Map(_))
            )
            | (PacketType::Event | PacketType::Ack, Some(Value::Array(_)))
    );
    if !valid {
        return Err(MsgPackError::InvalidPayload);
    }
    let id = match id {
        None | Some(Value::Undefined) => None,
        Some(v) => Some(
            integer(&v)
                .and_then(|n| u64::try_from(n).ok())
                .ok_or(MsgPackError::InvalidId)?,
        ),
    };
    let mut attachments = Vec::new();
    let data = match data {
        Some(d) => {
            let mut json = Vec::with_capacity(input.len() + 16);
            write_json(&d, input, &mut json, &mut attachments)?;
            // Only valid UTF-8 is written: strings were decoded lossily, the rest is ASCII.
            Some(String::from_utf8(json).map_err(|_| MsgPackError::Malformed)?)
        }
        None => None,
    };
    let kind = match kind {
        PacketType::Event if !attachments.is_empty() => PacketType::BinaryEvent,
        PacketType::Ack if !attachments.is_empty() => PacketType::BinaryAck,
        k => k,
    };
    Ok(MsgPackPacket {
        kind,
        nsp,
        id,
        data,
        attachments,
    })
}

/// A msgpack value as notepack decodes it, borrowing from the input.
#[derive(Debug)]
enum Value<'a> {
    Nil,
    Undefined,
    Bool(bool),
    Int(i64),
    UInt(u64),
    Float(f64),
    Str(Cow<'a, str>),
    /// Binary (`bin`, or an ArrayBuffer's ext type 0): its range in the input.
    Bin(Range<usize>),
    /// A `Date`, in milliseconds since the epoch.
    Date(f64),
    /// Any other extension: `[type, binary]` for notepack.
    Ext(i8, Range<usize>),
    Array(Vec<Value<'a>>),
    Map(Vec<(Value<'a>, Value<'a>)>),
}

/// The integer value of a number, as `Number.isInteger` sees it.
fn integer(v: &Value<'_>) -> Option<i128> {
    match *v {
        Value::Int(n) => Some(i128::from(n)),
        Value::UInt(n) => Some(i128::from(n)),
        // In range, the cast is exact for an integral float.
        Value::Float(f) if f.is_finite() && f.fract() == 0.0 && f.abs() < 1e38 => Some(f as i128),
        _ => None,
    }
}

/// A map key as the property name JavaScript makes of it.
fn key_string<'v>(key: &'v Value<'_>) -> Result<Cow<'v, str>, MsgPackError> {
    Ok(match key {
        Value::Str(s) => Cow::Borrowed(s.as_ref()),
        Value::Nil => Cow::Borrowed("null"),
        Value::Undefined => Cow::Borrowed("undefined"),
        Value::Bool(b) => Cow::Borrowed(if *b { "true" } else { "false" }),
        Value::Int(n) => Cow::Owned(n.to_string()),
        Value::UInt(n) => Cow::Owned(n.to_string()),
        Value::Float(f) => {
            let mut s = Vec::new();
            write_number(&mut s, *f);
            Cow::Owned(String::from_utf8(s).map_err(|_| MsgPackError::InvalidKey)?)
        }
        _ => return Err(MsgPackError::InvalidKey),
    })
}

/// An extension other than notepack's own: the pair `[type, binary]`, an array as deep as
/// the arrays and maps around it allow.
fn extension<'a>(kind: i8, range: Range<usize>, depth: usize) -> Result<Value<'a>, MsgPackError> {
    if depth >= MAX_DEPTH {
        return Err(MsgPackError::TooDeep);
    }
    Ok(Value::Ext(kind, range))
}

/// Reads msgpack values, bounds-checked throughout.
struct Reader<'a> {
    buf: &'a [u8],
    pos: usize,
}

impl<'a> Reader<'a> {
    fn take(&mut self, n: usize) -> Result<Range<usize>, MsgPackError> {
        let end = self.pos.checked_add(n).ok_or(MsgPackError::Malformed)?;
        if end > self.buf.len() {
            return Err(MsgPackError::Malformed);
        }
        let range = self.pos..end;
        self.pos = end;
        Ok(range)
    }

    fn bytes<const N: usize>(&mut self) -> Result<[u8; N], MsgPackError> {
        let range = self.take(N)?;
        let mut out = [0; N];
        out.copy_from_slice(self.buf.get(range).ok_or(MsgPackError::Malformed)?);
        Ok(out)
    }

    fn u8(&mut self) -> Result<u8, MsgPackError> {
        Ok(self.bytes::<1>()?[0])
    }

    fn u16(&mut self) -> Result<usize, MsgPackError> {
        Ok(usize::from(u16::from_be_bytes(self.bytes()?)))
    }

    fn u32(&mut self) -> Result<usize, MsgPackError> {
        usize::try_from(u32::from_be_bytes(self.bytes()?)).map_err(|_| MsgPackError::Malformed)
    }

    fn str(&mut self, len: usize) -> Result<Value<'a>, MsgPackError> {
        let range = self.take(len)?;
        let bytes = self.buf.get(range).ok_or(MsgPackError::Malformed)?;
        // Node's `buffer.toString("utf8")`: invalid sequences become U+FFFD.
        Ok(Value::Str(String::from_utf8_lossy(bytes)))
    }

    /// Binary or, for type 0, an ArrayBuffer (notepack's ext 8/16/32 encoding of one).
    fn ext(&mut self, len: usize, depth: usize) -> Result<Value<'a>, MsgPackError> {
        let kind = i8::from_be_bytes(self.bytes()?);
        let range = self.take(len)?;
        match kind {
            0 => Ok(Value::Bin(range)),
            k => extension(k, range, depth),
        }
    }

    fn fixext(&mut self, len: usize, depth: usize) -> Result<Value<'a>, MsgPackError> {
        let kind = i8::from_be_bytes(self.bytes()?);
        match (len, kind) {
            // notepack's `undefined`: one padding byte.
            (1, 0) => {
                self.take(1)?;
                Ok(Value::Undefined)
            }
            // notepack's Date: milliseconds as a signed high and an unsigned low word.
            (8, 0) => {
                let hi = i32::from_be_bytes(self.bytes()?);
                let lo = u32::from_be_bytes(self.bytes()?);
                Ok(Value::Date(f64::from(hi) * 4_294_967_296.0 + f64::from(lo)))
            }
            (len, k) => extension(k, self.take(len)?, depth),
        }
    }

    fn array(&mut self, len: usize, depth: usize) -> Result<Value<'a>, MsgPackError> {
        if depth >= MAX_DEPTH {
            return Err(MsgPackError::TooDeep);
        }
        // Every element takes a byte at least: no allocation beyond the input's size.
        let mut items = Vec::with_capacity(len.min(self.buf.len() - self.pos));
        for _ in 0..len {
            items.push(self.value(depth + 1)?);
        }
        Ok(Value::Array(items))
    }

    fn map(&mut self, len: usize, depth: usize) -> Result<Value<'a>, MsgPackError> {
        if depth >= MAX_DEPTH {
            return Err(MsgPackError::TooDeep);
        }
        let mut entries = Vec::with_capacity(len.min((self.buf.len() - self.pos) / 2));
        for _ in 0..len {
            let key = self.value(depth + 1)?;
            let value = self.value(depth + 1)?;
            entries.push((key, value));
        }
        Ok(Value::Map(entries))
    }

    fn value(&mut self, depth: usize) -> Result<Value<'a>, MsgPackError> {
        let marker = self.u8()?;
        Ok(match marker {
            0x00..=0x7f => Value::UInt(u64::from(marker)),
            0x80..=0x8f => self.map(usize::from(marker & 0x0f), depth)?,
            0x90..=0x9f => self.array(usize::from(marker & 0x0f), depth)?,
            0xa0..=0xbf => self.str(usize::from(marker & 0x1f))?,
            0xc0 => Value::Nil,
            0xc1 => return Err(MsgPackError::Malformed),
            0xc2 => Value::Bool(false),
            0xc3 => Value::Bool(true),
            0xc4 => {
                let len = usize::from(self.u8()?);
                Value::Bin(self.take(len)?)
            }
            0xc5 => {
                let len = self.u16()?;
                Value::Bin(self.take(len)?)
            }
            0xc6 => {
                let len = self.u32()?;
                Value::Bin(self.take(len)?)
            }
            0xc7 => {
                let len = usize::from(self.u8()?);
                self.ext(len, depth)?
            }
            0xc8 => {
                let len = self.u16()?;
                self.ext(len, depth)?
            }
            0xc9 => {
                let len = self.u32()?;
                self.ext(len, depth)?
            }
            0xca => Value::Float(f64::from(f32::from_be_bytes(self.bytes()?))),
            0xcb => Value::Float(f64::from_be_bytes(self.bytes()?)),
            0xcc => Value::UInt(u64::from(self.u8()?)),
            0xcd => Value::UInt(u64::from(u16::from_be_bytes(self.bytes()?))),
            0xce => Value::UInt(u64::from(u32::from_be_bytes(self.bytes()?))),
            0xcf => Value::UInt(u64::from_be_bytes(self.bytes()?)),
            0xd0 => Value::Int(i64::from(i8::from_be_bytes(self.bytes()?))),
            0xd1 => Value::Int(i64::from(i16::from_be_bytes(self.bytes()?))),
            0xd2 => Value::Int(i64::from(i32::from_be_bytes(self.bytes()?))),
            0xd3 => Value::Int(i64::from_be_bytes(self.bytes()?)),
            0xd4 => self.fixext(1, depth)?,
            0xd5 => self.fixext(2, depth)?,
            0xd6 => self.fixext(4, depth)?,
            0xd7 => self.fixext(8, depth)?,
            0xd8 => self.fixext(16, depth)?,
            0xd9 => {
                let len = usize::from(self.u8()?);
                self.str(len)?
            }
            0xda => {
                let len = self.u16()?;
                self.str(len)?
            }
            0xdb => {
                let len = self.u32()?;
                self.str(len)?
            }
            0xdc => {
                let len = self.u16()?;
                self.array(len, depth)?
            }
            0xdd => {
                let len = self.u32()?;
                self.array(len, depth)?
            }
            0xde => {
                let len = self.u16()?;
                self.map(len, depth)?
            }
            0xdf => {
                let len = self.u32()?;
                self.map(len, depth)?
            }
            0xe0..=0xff => Value::Int(i64::from(i8::from_be_bytes([marker]))),
        })
    }
}

/// Writes a placeholder for `range` of `input` and records the attachment.
fn write_placeholder(
    range: &Range<usize>,
    input: &Bytes,
    out: &mut Vec<u8>,
    attachments: &mut Vec<Bytes>,
) {
    out.extend_from_slice(b"{\"_placeholder\":true,\"num\":");
    out.extend_from_slice(attachments.len().to_string().as_bytes());
    out.push(b'}');
    attachments.push(input.slice(range.clone()));
}

/// Writes `value` as compact JSON (as `JSON.stringify` would write notepack's value).
fn write_json(
    value: &Value<'_>,
    input: &Bytes,
    out: &mut Vec<u8>,
    attachments: &mut Vec<Bytes>,
) -> Result<(), MsgPackError> {
    match value {
        Value::Nil | Value::Undefined => out.extend_from_slice(b"null"),
        Value::Bool(b) => out.extend_from_slice(if *b { b"true" } else { b"false" }),
        Value::Int(n) => out.extend_from_slice(n.to_string().as_bytes()),
        Value::UInt(n) => out.extend_from_slice(n.to_string().as_bytes()),
        Value::Float(f) => write_number(out, *f),
        Value::Str(s) => write_string(out, s),
        Value::Bin(range) => write_placeholder(range, input, out, attachments),
        Value::Date(ms) => match iso_date(*ms) {
            Some(s) => write_string(out, &s),
            None => out.extend_from_slice(b"null"),
        },
        Value::Ext(kind, range) => {
            out.push(b'[');
            out.extend_from_slice(kind.to_string().as_bytes());
            out.push(b',');
            write_placeholder(range, input, out, attachments);
            out.push(b']');
        }
        Value::Array(items) => {
            out.push(b'[');
            for (i, item) in items.iter().enumerate() {
                if i > 0 {
                    out.push(b',');
                }
                write_json(item, input, out, attachments)?;
            }
            out.push(b']');
        }
        Value::Map(entries) => {
            // A JavaScript object: one property per key, the last value of a repeated key at
            // the first one's place; `undefined` properties are left out by JSON.stringify.
            // Linear in the entries, whatever the duplicates (a hash map of each key's last
            // index, taken out at its first occurrence).
            let keys = entries
                .iter()
                .map(|(k, _)| key_string(k))
                .collect::<Result<Vec<_>, _>>()?;
            let mut last: HashMap<&str, usize> = HashMap::with_capacity(keys.len());
            for (i, key) in keys.iter().enumerate() {
                last.insert(key, i);
            }
            let mut first = true;
            for key in &keys {
                let Some(index) = last.remove(key.as_ref()) else {
                    continue;
                };
                let Some((_, value)) = entries.get(index) else {
                    continue;
                };
                if matches!(value, Value::Undefined) {
                    continue;
                }
                out.push(if first { b'{' } else { b',' });
                first = false;
                write_string(out, key);
                out.push(b':');
                write_json(value, input, out, attachments)?;
            }
            if first {
                out.push(b'{');
            }
            out.push(b'}');
        }
    }
    Ok(())
}

/// A JSON string literal.
fn write_string(out: &mut Vec<u8>, s: &str) {
    // Writing a `str` to a Vec cannot fail.
    let _ = serde_json::to_writer(&mut *out, s);
}

/// A number as JSON: integral values within `i64` as integers (as JavaScript prints them below
/// 2^53; beyond, exact digits rather than its rounded ones, so that an integer parameter takes
/// them), other finite values in serde_json's shortest form, `NaN` and infinities as `null`.
fn write_number(out: &mut Vec<u8>, f: f64) {
    if !f.is_finite() {
        out.extend_from_slice(b"null");
    } else if f.fract() == 0.0 && f.abs() < 9.2e18 {
        // Exact: an integral float within i64 (the bound [`write_float`] uses too).
        out.extend_from_slice((f as i64).to_string().as_bytes());
    } else {
        let _ = serde_json::to_writer(&mut *out, &f);
    }
}

/// `Date.prototype.toISOString` of `ms` milliseconds since the epoch; `None` for an invalid
/// date (beyond ±8.64e15 ms), which `JSON.stringify` writes as `null`.
fn iso_date(ms: f64) -> Option<String> {
    if !ms.is_finite() || ms.abs() > 8.64e15 {
        return None;
    }
    // In range, the cast is exact (notepack's dates are integral milliseconds).
    let ms = ms.trunc() as i64;
    let days = ms.div_euclid(86_400_000);
    let in_day = ms.rem_euclid(86_400_000);
    // Days to a civil date (Howard Hinnant's algorithm).
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    let year = if (0..=9999).contains(&year) {
        format!("{year:04}")
    } else {
        format!("{}{:06}", if year < 0 { '-' } else { '+' }, year.abs())
    };
    Some(format!(
        "{year}-{month:02}-{day:02}T{:02}:{:02}:{:02}.{:03}Z",
        in_day / 3_600_000,
        in_day / 60_000 % 60,
        in_day / 1000 % 60,
        in_day % 1000
    ))
}

// ---------------------------------------------------------------------------------------------
// Outgoing
// ---------------------------------------------------------------------------------------------

/// Why a packet could not be encoded as msgpack (its JSON data is not valid JSON).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("cannot encode packet data as msgpack: {0}")]
pub struct EncodeError(String);

/// Encodes a Socket.IO packet of the runtime's form as msgpack: `data` is JSON text whose
/// placeholders name `attachments` (each written as `bin`); BINARY_EVENT and BINARY_ACK are
/// written as EVENT and ACK. Keys are in the order the Node server writes them: `type`,
/// `data`, `id`, `nsp` (an ACK: `id` first).
///
/// # Errors
///
/// [`EncodeError`] when `data` is not valid JSON.
pub fn encode(
    kind: PacketType,
    nsp: &str,
    id: Option<u64>,
    data: Option<&str>,
    attachments: &[Bytes],
) -> Result<Vec<u8>, EncodeError> {
    let data = match data {
        Some(d) => {
            Some(serde_json::from_str::<Json<'_>>(d).map_err(|e| EncodeError(e.to_string()))?)
        }
        None => None,
    };
    let kind = match kind {
        PacketType::Connect => 0,
        PacketType::Disconnect => 1,
        PacketType::Event | PacketType::BinaryEvent => 2,
        PacketType::Ack | PacketType::BinaryAck => 3,
        PacketType::ConnectError => 4,
    };
    let mut out =
        Vec::with_capacity(32 + nsp.len() + attachments.iter().map(Bytes::len).sum::<usize>());
    let fields = 2 + usize::from(data.is_some()) + usize::from(id.is_some());
    write_map_len(&mut out, fields);
    let write_id = |out: &mut Vec<u8>| {
        if let Some(id) = id {
            write_str(out, "id");
            write_uint(out, id);
        }
    };
    if kind == 3 {
        write_id(&mut out);
    }
    write_str(&mut out, "type");
    write_uint(&mut out, kind);
    if let Some(data) = &data {
        write_str(&mut out, "data");
        write_msgpack(&mut out, data, attachments);
    }
    if kind != 3 {
        write_id(&mut out);
    }
    write_str(&mut out, "nsp");
    write_str(&mut out, nsp);
    Ok(out)
}

/// A JSON value in its written order.
#[derive(Debug)]
enum Json<'a> {
    Null,
    Bool(bool),
    UInt(u64),
    Int(i64),
    Float(f64),
    Str(Cow<'a, str>),
    Array(Vec<Json<'a>>),
    Object(Vec<(Cow<'a, str>, Json<'a>)>),
}

impl<'de> de::Deserialize<'de> for Json<'de> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        deserializer.deserialize_any(JsonVisitor)
    }
}

/// Visitor of [`Json`].
struct JsonVisitor;

impl<'de> Visitor<'de> for JsonVisitor {
    type Value = Json<'de>;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a JSON value")
    }

    fn visit_unit<E: de::Error>(self) -> Result<Json<'de>, E> {
        Ok(Json::Null)
    }

    fn visit_bool<E: de::Error>(self, v: bool) -> Result<Json<'de>, E> {
        Ok(Json::Bool(v))
    }

    fn visit_u64<E: de::Error>(self, v: u64) -> Result<Json<'de>, E> {
        Ok(Json::UInt(v))
    }

    fn visit_i64<E: de::Error>(self, v: i64) -> Result<Json<'de>, E> {
        Ok(Json::Int(v))
    }

    fn visit_f64<E: de::Error>(self, v: f64) -> Result<Json<'de>, E> {
        Ok(Json::Float(v))
    }

    fn visit_borrowed_str<E: de::Error>(self, v: &'de str) -> Result<Json<'de>, E> {
        Ok(Json::Str(Cow::Borrowed(v)))
    }

    fn visit_str<E: de::Error>(self, v: &str) -> Result<Json<'de>, E> {
        Ok(Json::Str(Cow::Owned(v.to_owned())))
    }

    fn visit_string<E: de::Error>(self, v: String) -> Result<Json<'de>, E> {
        Ok(Json::Str(Cow::Owned(v)))
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Json<'de>, A::Error> {
        let mut items = Vec::new();
        while let Some(item) = seq.next_element()? {
            items.push(item);
        }
        Ok(Json::Array(items))
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Json<'de>, A::Error> {
        let mut entries = Vec::new();
        while let Some((key, value)) = map.next_entry::<JsonKey<'de>, Json<'de>>()? {
            entries.push((key.0, value));
        }
        Ok(Json::Object(entries))
    }
}

/// An object key, borrowed when it has no escapes.
struct JsonKey<'a>(Cow<'a, str>);

impl<'de> de::Deserialize<'de> for JsonKey<'de> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        match Json::deserialize(deserializer)? {
            Json::Str(s) => Ok(JsonKey(s)),
            _ => Err(de::Error::custom("object keys are strings")),
        }
    }
}

/// The attachment a placeholder object names, if `entries` is exactly one.
fn placeholder<'b>(
    entries: &[(Cow<'_, str>, Json<'_>)],
    attachments: &'b [Bytes],
) -> Option<&'b Bytes> {
    if entries.len() != 2 {
        return None;
    }
    let mut flag = false;
    let mut num = None;
    for (key, value) in entries {
        match (key.as_ref(), value) {
            ("_placeholder", Json::Bool(true)) => flag = true,
            ("num", Json::UInt(n)) => num = usize::try_from(*n).ok(),
            _ => return None,
        }
    }
    attachments.get(num.filter(|_| flag)?)
}

fn write_msgpack(out: &mut Vec<u8>, value: &Json<'_>, attachments: &[Bytes]) {
    match value {
        Json::Null => out.push(0xc0),
        Json::Bool(b) => out.push(if *b { 0xc3 } else { 0xc2 }),
        Json::UInt(n) => write_uint(out, *n),
        Json::Int(n) => write_int(out, *n),
        Json::Float(f) => write_float(out, *f),
        Json::Str(s) => write_str(out, s),
        Json::Array(items) => {
            write_len(out, items.len(), 0x90, 0xdc, 0xdd);
            for item in items {
                write_msgpack(out, item, attachments);
            }
        }
        Json::Object(entries) => {
            if let Some(bytes) = placeholder(entries, attachments) {
                write_bin(out, bytes);
                return;
            }
            write_map_len(out, entries.len());
            for (key, value) in entries {
                write_str(out, key);
                write_msgpack(out, value, attachments);
            }
        }
    }
}

/// A length in the fix form (below 16), 16-bit or 32-bit form.
fn write_len(out: &mut Vec<u8>, len: usize, fix: u8, m16: u8, m32: u8) {
    if len < 16 {
        out.push(fix | len as u8);
    } else if let Ok(len) = u16::try_from(len) {
        out.push(m16);
        out.extend_from_slice(&len.to_be_bytes());
    } else {
        out.push(m32);
        out.extend_from_slice(&u32::try_from(len).unwrap_or(u32::MAX).to_be_bytes());
    }
}

fn write_map_len(out: &mut Vec<u8>, len: usize) {
    write_len(out, len, 0x80, 0xde, 0xdf);
}

fn write_str(out: &mut Vec<u8>, s: &str) {
    let len = s.len();
    if len < 32 {
        out.push(0xa0 | len as u8);
    } else if let Ok(len) = u8::try_from(len) {
        out.extend_from_slice(&[0xd9, len]);
    } else if let Ok(len) = u16::try_from(len) {
        out.push(0xda);
        out.extend_from_slice(&len.to_be_bytes());
    } else {
        out.push(0xdb);
        out.extend_from_slice(&u32::try_from(len).unwrap_or(u32::MAX).to_be_bytes());
    }
    out.extend_from_slice(s.as_bytes());
}

fn write_bin(out: &mut Vec<u8>, b: &[u8]) {
    let len = b.len();
    if let Ok(len) = u8::try_from(len) {
        out.extend_from_slice(&[0xc4, len]);
    } else if let Ok(len) = u16::try_from(len) {
        out.push(0xc5);
        out.extend_from_slice(&len.to_be_bytes());
    } else {
        out.push(0xc6);
        out.extend_from_slice(&u32::try_from(len).unwrap_or(u32::MAX).to_be_bytes());
    }
    out.extend_from_slice(b);
}

/// A non-negative integer in notepack's smallest form.
fn write_uint(out: &mut Vec<u8>, n: u64) {
    if n < 0x80 {
        out.push(n as u8);
    } else if let Ok(n) = u8::try_from(n) {
        out.extend_from_slice(&[0xcc, n]);
    } else if let Ok(n) = u16::try_from(n) {
        out.push(0xcd);
        out.extend_from_slice(&n.to_be_bytes());
    } else if let Ok(n) = u32::try_from(n) {
        out.push(0xce);
        out.extend_from_slice(&n.to_be_bytes());
    } else {
        out.push(0xcf);
        out.extend_from_slice(&n.to_be_bytes());
    }
}

/// An integer in notepack's smallest form (signed forms only for negative values).
fn write_int(out: &mut Vec<u8>, n: i64) {
    if let Ok(n) = u64::try_from(n) {
        write_uint(out, n);
    } else if n >= -32 {
        out.extend_from_slice(&(n as i8).to_be_bytes());
    } else if let Ok(n) = i8::try_from(n) {
        out.push(0xd0);
        out.extend_from_slice(&n.to_be_bytes());
    } else if let Ok(n) = i16::try_from(n) {
        out.push(0xd1);
        out.extend_from_slice(&n.to_be_bytes());
    } else if let Ok(n) = i32::try_from(n) {
        out.push(0xd2);
        out.extend_from_slice(&n.to_be_bytes());
    } else {
        out.push(0xd3);
        out.extend_from_slice(&n.to_be_bytes());
    }
}

/// A JSON number that is not an `i64` or `u64`: an integral value as an integer (as notepack
/// encodes a JavaScript number), anything else as float 64.
fn write_float(out: &mut Vec<u8>, f: f64) {
    // In range, the casts are exact for an integral float.
    if f.is_finite() && f.fract() == 0.0 && f.abs() < 9.2e18 {
        write_int(out, f as i64);
    } else {
        out.push(0xcb);
        out.extend_from_slice(&f.to_be_bytes());
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn dec(bytes: &[u8]) -> Result<MsgPackPacket, MsgPackError> {
        decode(&Bytes::copy_from_slice(bytes))
    }

    /// `{type, nsp, data?, id?}` as msgpack, `data` given as raw msgpack.
    fn packet(kind: u8, nsp: &str, data: Option<&[u8]>, id: Option<&[u8]>) -> Vec<u8> {
        let mut out = Vec::new();
        write_map_len(
            &mut out,
            2 + usize::from(data.is_some()) + usize::from(id.is_some()),
        );
        write_str(&mut out, "type");
        out.push(kind);
        write_str(&mut out, "nsp");
        write_str(&mut out, nsp);
        if let Some(d) = data {
            write_str(&mut out, "data");
            out.extend_from_slice(d);
        }
        if let Some(i) = id {
            write_str(&mut out, "id");
            out.extend_from_slice(i);
        }
        out
    }

    #[test]
    fn event_with_binary() {
        // ["ev", "a", bin(1,2), {k: -1, f: 1.5}]
        let mut data = vec![0x94];
        write_str(&mut data, "ev");
        write_str(&mut data, "a");
        write_bin(&mut data, &[1, 2]);
        data.push(0x82);
        write_str(&mut data, "k");
        data.push(0xff);
        write_str(&mut data, "f");
        data.push(0xcb);
        data.extend_from_slice(&1.5f64.to_be_bytes());
        let p = dec(&packet(2, "/chat", Some(&data), Some(&[0x07]))).unwrap();
        assert_eq!(p.kind, PacketType::BinaryEvent);
        assert_eq!(p.nsp, "/chat");
        assert_eq!(p.id, Some(7));
        assert_eq!(
            p.data.as_deref(),
            Some(r#"["ev","a",{"_placeholder":true,"num":0},{"k":-1,"f":1.5}]"#)
        );
        assert_eq!(p.attachments, vec![Bytes::from_static(&[1, 2])]);

        let again = encode(p.kind, &p.nsp, p.id, p.data.as_deref(), &p.attachments).unwrap();
        let back = dec(&again).unwrap();
        assert_eq!(back, p);
    }

    #[test]
    fn reference_checks() {
        use MsgPackError::*;
        let arr = [0x91, 0xa1, b'x'];
        assert!(dec(&packet(0, "/", None, None)).is_ok());
        assert_eq!(dec(&packet(5, "/", Some(&arr), None)), Err(InvalidType));
        assert_eq!(dec(&[0x93, 1, 2, 3]), Err(InvalidType));
        assert_eq!(dec(&packet(0, "/", Some(&arr), None)), Err(InvalidPayload));
        assert_eq!(
            dec(&packet(0, "/", Some(&[0xc0]), None)),
            Err(InvalidPayload)
        );
        assert_eq!(
            dec(&packet(1, "/", Some(&[0x80]), None)),
            Err(InvalidPayload)
        );
        assert!(dec(&packet(1, "/", Some(&[0xd4, 0, 0]), None)).is_ok());
        assert_eq!(
            dec(&packet(2, "/", Some(&[0x80]), None)),
            Err(InvalidPayload)
        );
        assert_eq!(dec(&packet(3, "/", None, None)), Err(InvalidPayload));
        assert!(dec(&packet(4, "/", Some(&[0xa1, b'x']), None)).is_ok());
        assert_eq!(
            dec(&packet(2, "/", Some(&arr), Some(&[0xa1, b'1']))),
            Err(InvalidId)
        );
        assert_eq!(
            dec(&packet(2, "/", Some(&arr), Some(&[0xff]))),
            Err(InvalidId)
        );
        let mut f = vec![0xcb];
        f.extend_from_slice(&3.0f64.to_be_bytes());
        assert_eq!(
            dec(&packet(2, "/", Some(&arr), Some(&f))).unwrap().id,
            Some(3)
        );
        // type given as float 2.0
        let mut p = packet(2, "/", Some(&arr), None);
        let float: Vec<u8> = std::iter::once(0xcb).chain(2.0f64.to_be_bytes()).collect();
        p.splice(6..7, float);
        assert_eq!(dec(&p).unwrap().kind, PacketType::Event);
        // nsp missing or not a string
        assert_eq!(
            dec(&[0x81, 0xa4, b't', b'y', b'p', b'e', 0]),
            Err(InvalidNamespace)
        );
        // truncated, trailing, 0xc1
        let good = packet(2, "/", Some(&arr), None);
        assert_eq!(dec(&good[..good.len() - 1]), Err(Malformed));
        let mut trailing = good.clone();
        trailing.push(0);
        assert_eq!(dec(&trailing), Err(Malformed));
        assert_eq!(dec(&[0xc1]), Err(Malformed));
        assert_eq!(dec(&[]), Err(Malformed));
    }

    #[test]
    fn javascript_values() {
        // [undefined, {a: undefined, b: 1, b: 2, 1: nil}, Date(0), ArrayBuffer, ext 5, NaN]
        let mut data = vec![0x96, 0xd4, 0, 0, 0x84];
        write_str(&mut data, "a");
        data.extend_from_slice(&[0xd4, 0, 0]);
        write_str(&mut data, "b");
        data.push(1);
        write_str(&mut data, "b");
        data.push(2);
        data.extend_from_slice(&[1, 0xc0]);
        data.extend_from_slice(&[0xd7, 0, 0, 0, 0, 0, 0, 0, 0, 0]);
        data.extend_from_slice(&[0xc7, 1, 0, 9]);
        data.extend_from_slice(&[0xd5, 5, 7, 8]);
        data.push(0xcb);
        data.extend_from_slice(&f64::NAN.to_be_bytes());
        let p = dec(&packet(3, "/", Some(&data), Some(&[1]))).unwrap();
        assert_eq!(p.kind, PacketType::BinaryAck);
        assert_eq!(
            p.data.as_deref(),
            Some(
                r#"[null,{"b":2,"1":null},"1970-01-01T00:00:00.000Z",{"_placeholder":true,"num":0},[5,{"_placeholder":true,"num":1}],null]"#
            )
        );
        assert_eq!(
            p.attachments,
            vec![Bytes::from_static(&[9]), Bytes::from_static(&[7, 8])]
        );
    }

    #[test]
    fn dates() {
        assert_eq!(iso_date(0.0).unwrap(), "1970-01-01T00:00:00.000Z");
        assert_eq!(
            iso_date(1_700_000_000_123.0).unwrap(),
            "2023-11-14T22:13:20.123Z"
        );
        assert_eq!(iso_date(-1.0).unwrap(), "1969-12-31T23:59:59.999Z");
        assert_eq!(iso_date(8.64e15).unwrap(), "+275760-09-13T00:00:00.000Z");
        assert_eq!(
            iso_date(-62_198_755_200_000.0).unwrap(),
            "-000001-01-01T00:00:00.000Z"
        );
        assert_eq!(iso_date(8.64e15 + 1.0), None);
    }

    #[test]
    fn depth_and_sizes() {
        let mut deep = packet(2, "/", None, None);
        deep[0] = 0x83;
        write_str(&mut deep, "data");
        deep.extend(std::iter::repeat_n(0x91, MAX_DEPTH + 1));
        deep.push(0xc0);
        assert_eq!(dec(&deep), Err(MsgPackError::TooDeep));
        // A huge announced length with nothing behind it.
        let mut huge = packet(2, "/", None, None);
        huge[0] = 0x83;
        write_str(&mut huge, "data");
        huge.extend_from_slice(&[0xdd, 0xff, 0xff, 0xff, 0xff]);
        assert_eq!(dec(&huge), Err(MsgPackError::Malformed));
    }

    #[test]
    fn many_keys() {
        // 100,000 entries of empty keys, then of distinct ones: linear either way.
        for distinct in [false, true] {
            let mut data = vec![0x91, 0xdf];
            data.extend_from_slice(&100_000u32.to_be_bytes());
            for i in 0..100_000u32 {
                if distinct {
                    write_str(&mut data, &i.to_string());
                } else {
                    data.push(0xa0);
                }
                data.push(0xc0);
            }
            let p = dec(&packet(2, "/", Some(&data), None));
            // An EVENT whose first element is a map is the runtime's concern, not the codec's.
            let json = p.unwrap().data.unwrap();
            let want = if distinct { 100_000 } else { 1 };
            assert_eq!(json.matches(":null").count(), want);
        }
    }

    #[test]
    fn encode_forms() {
        let out = encode(
            PacketType::Event,
            "/",
            None,
            Some(r#"["e",1,-1,-200,300,1.5,2.0,"x"]"#),
            &[],
        )
        .unwrap();
        let mut want = vec![0x83];
        write_str(&mut want, "type");
        want.push(2);
        write_str(&mut want, "data");
        want.extend_from_slice(&[
            0x98, 0xa1, b'e', 1, 0xff, 0xd1, 0xff, 0x38, 0xcd, 1, 44, 0xcb,
        ]);
        want.extend_from_slice(&1.5f64.to_be_bytes());
        want.extend_from_slice(&[2, 0xa1, b'x']);
        write_str(&mut want, "nsp");
        write_str(&mut want, "/");
        assert_eq!(out, want);
        // An ACK starts with its id; a placeholder without attachments stays a map.
        let out = encode(
            PacketType::Ack,
            "/a",
            Some(5),
            Some(r#"[{"_placeholder":true,"num":0}]"#),
            &[],
        )
        .unwrap();
        assert_eq!(&out[..4], &[0x84, 0xa2, b'i', b'd']);
        let p = dec(&out).unwrap();
        assert_eq!(p.kind, PacketType::Ack);
        assert!(p.attachments.is_empty());
        assert!(encode(PacketType::Event, "/", None, Some("[1,"), &[]).is_err());
    }
}
