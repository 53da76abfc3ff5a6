//! MessagePack as `notepack.io` (the encoder of `@socket.io/redis-adapter`) writes it, turned
//! into Socket.IO's JSON-with-placeholders and back.
//!
//! What notepack writes that a schema-driven decoder does not expect, and how it is read here:
//! - binary (`Buffer`, `ArrayBuffer`, typed arrays) is msgpack `bin`: it becomes a binary
//!   attachment and a `{"_placeholder":true,"num":i}` in the JSON;
//! - a JavaScript number with a fraction is `float 64`, a whole one an integer; a whole float
//!   written by another encoder is read as the integer it is;
//! - `Date` is the timestamp extension (type -1): read as the ISO-8601 string that
//!   `JSON.stringify` gives (what a Node server would send its clients);
//! - `undefined` in an array: `nil` in notepack 3, a `fixext 1` of type 0 in older versions;
//!   both are read as `null`;
//! - map keys that are not strings (numbers) are written as their decimal text.
//!
//! Map order is kept both ways, so that a packet crossing processes keeps its key order.

use std::fmt::Write as _;

use bytes::Bytes;
use rmpv::Value;

/// The largest integer a JavaScript number holds exactly.
const MAX_SAFE: f64 = 9_007_199_254_740_991.0;

/// The value under `key` of a msgpack map.
pub(super) fn get<'a>(map: &'a Value, key: &str) -> Option<&'a Value> {
    match map {
        Value::Map(entries) => entries
            .iter()
            .find(|(k, _)| k.as_str() == Some(key))
            .map(|(_, v)| v),
        _ => None,
    }
}

/// A msgpack value as a string (a room name): strings as they are, numbers as their text
/// (Node lets a socket join the room `42`, a number; here every room is a string).
pub(super) fn as_room(v: &Value) -> Option<String> {
    match v {
        Value::String(s) => s.as_str().map(str::to_owned),
        Value::Integer(i) => Some(i.to_string()),
        Value::F64(f) => Some(number_text(*f)),
        Value::F32(f) => Some(number_text(f64::from(*f))),
        _ => None,
    }
}

/// Writes `v` as JSON into `out`, pushing each `bin` to `attachments` and writing its
/// placeholder instead.
pub(super) fn write_json(v: &Value, out: &mut String, attachments: &mut Vec<Bytes>) {
    match v {
        Value::Nil => out.push_str("null"),
        Value::Boolean(b) => out.push_str(if *b { "true" } else { "false" }),
        Value::Integer(i) => {
            let _ = write!(out, "{i}");
        }
        Value::F32(f) => out.push_str(&number_text(f64::from(*f))),
        Value::F64(f) => out.push_str(&number_text(*f)),
        Value::String(s) => match s.as_str() {
            Some(s) => push_json_str(out, s),
            None => push_json_str(out, &String::from_utf8_lossy(s.as_bytes())),
        },
        Value::Binary(b) => {
            let _ = write!(
                out,
                "{{\"_placeholder\":true,\"num\":{}}}",
                attachments.len()
            );
            attachments.push(Bytes::copy_from_slice(b));
        }
        Value::Array(items) => {
            out.push('[');
            for (i, item) in items.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                write_json(item, out, attachments);
            }
            out.push(']');
        }
        Value::Map(entries) => {
            out.push('{');
            let mut first = true;
            for (k, item) in entries {
                // `undefined` members vanish in JSON, as JSON.stringify drops them.
                if is_undefined(item) {
                    continue;
                }
                let Some(key) = as_room(k) else { continue };
                if !first {
                    out.push(',');
                }
                first = false;
                push_json_str(out, &key);
                out.push(':');
                write_json(item, out, attachments);
            }
            out.push('}');
        }
        Value::Ext(-1, data) => match timestamp_ms(data) {
            Some(ms) => push_json_str(out, &iso8601(ms)),
            None => out.push_str("null"),
        },
        Value::Ext(..) => out.push_str("null"),
    }
}

/// The JSON text of `v` (see [`write_json`]).
pub(super) fn to_json(v: &Value, attachments: &mut Vec<Bytes>) -> String {
    let mut out = String::new();
    write_json(v, &mut out, attachments);
    out
}

/// Whether `v` is notepack's old encoding of `undefined` (`fixext 1`, type 0).
fn is_undefined(v: &Value) -> bool {
    matches!(v, Value::Ext(0, d) if d.len() == 1)
}

fn push_json_str(out: &mut String, s: &str) {
    // Serializing a &str cannot fail.
    out.push_str(&serde_json::to_string(s).unwrap_or_default());
}

/// A number as JavaScript prints it in JSON: whole numbers without a fraction, non-finite ones
/// as `null`.
fn number_text(f: f64) -> String {
    if !f.is_finite() {
        "null".to_owned()
    } else if f.fract() == 0.0 && f.abs() <= MAX_SAFE {
        format!("{}", f as i64)
    } else {
        serde_json::Number::from_f64(f).map_or_else(|| "null".to_owned(), |n| n.to_string())
    }
}

/// Milliseconds since the epoch of a msgpack timestamp (32, 64 or 96 bits).
fn timestamp_ms(d: &[u8]) -> Option<i64> {
    let (secs, nanos): (i64, u32) = match d.len() {
        4 => (i64::from(u32::from_be_bytes(d.try_into().ok()?)), 0),
        8 => {
            let v = u64::from_be_bytes(d.try_into().ok()?);
            ((v & 0x3_ffff_ffff) as i64, (v >> 34) as u32)
        }
        12 => (
            i64::from_be_bytes(d[4..12].try_into().ok()?),
            u32::from_be_bytes(d[0..4].try_into().ok()?),
        ),
        _ => return None,
    };
    secs.checked_mul(1000)?
        .checked_add(i64::from(nanos / 1_000_000))
}

/// `Date.prototype.toISOString`: `2024-05-01T12:00:00.000Z`.
fn iso8601(ms: i64) -> String {
    let days = ms.div_euclid(86_400_000);
    let rem = ms.rem_euclid(86_400_000);
    // Civil date from days since 1970-01-01 (proleptic Gregorian).
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    let (h, m, s, milli) = (
        rem / 3_600_000,
        rem / 60_000 % 60,
        rem / 1000 % 60,
        rem % 1000,
    );
    if (0..=9999).contains(&year) {
        format!("{year:04}-{month:02}-{day:02}T{h:02}:{m:02}:{s:02}.{milli:03}Z")
    } else {
        let sign = if year < 0 { '-' } else { '+' };
        format!(
            "{sign}{:06}-{month:02}-{day:02}T{h:02}:{m:02}:{s:02}.{milli:03}Z",
            year.abs()
        )
    }
}

/// JSON text with placeholders (`attachments` for their `num`) as a msgpack value, the way
/// notepack would encode the same JavaScript value: placeholders become `bin`, whole numbers
/// integers; map order is kept.
pub(super) fn from_json(json: &str, attachments: &[Bytes]) -> Result<Value, serde_json::Error> {
    let mut v: Value = serde_json::from_str(json)?;
    fix(&mut v, attachments);
    Ok(v)
}

fn fix(v: &mut Value, attachments: &[Bytes]) {
    match v {
        Value::F64(f) if f.is_finite() && f.fract() == 0.0 && f.abs() <= MAX_SAFE => {
            *v = Value::from(*f as i64);
        }
        Value::Array(items) => items.iter_mut().for_each(|i| fix(i, attachments)),
        Value::Map(entries) => {
            if let Some(b) = placeholder(entries).and_then(|n| attachments.get(n)) {
                *v = Value::Binary(b.to_vec());
                return;
            }
            entries.iter_mut().for_each(|(_, i)| fix(i, attachments));
        }
        _ => {}
    }
}

/// The `num` of a `{"_placeholder":true,"num":n}` map.
fn placeholder(entries: &[(Value, Value)]) -> Option<usize> {
    if entries.len() != 2 {
        return None;
    }
    let mut flag = false;
    let mut num = None;
    for (k, v) in entries {
        match (k.as_str(), v) {
            (Some("_placeholder"), Value::Boolean(true)) => flag = true,
            (Some("num"), n) => num = n.as_u64().or_else(|| n.as_f64().map(|f| f as u64)),
            _ => return None,
        }
    }
    if flag {
        num.and_then(|n| usize::try_from(n).ok())
    } else {
        None
    }
}

/// Encodes a msgpack value.
pub(super) fn encode(v: &Value) -> Vec<u8> {
    let mut out = Vec::with_capacity(64);
    // Writing to a Vec cannot fail.
    let _ = rmpv::encode::write_value(&mut out, v);
    out
}

/// Decodes one msgpack value (errors on truncated or malformed input, and on trailing bytes).
pub(super) fn decode(mut bytes: &[u8]) -> Result<Value, String> {
    let v = rmpv::decode::read_value(&mut bytes).map_err(|e| e.to_string())?;
    if !bytes.is_empty() {
        return Err(format!("{} trailing bytes", bytes.len()));
    }
    Ok(v)
}

/// A map with string keys, in this order.
pub(super) fn map(entries: Vec<(&str, Value)>) -> Value {
    Value::Map(
        entries
            .into_iter()
            .map(|(k, v)| (Value::from(k), v))
            .collect(),
    )
}

/// Whether a value holds binary anywhere (then it travels as msgpack, not JSON).
pub(super) fn has_binary(v: &Value) -> bool {
    match v {
        Value::Binary(_) => true,
        Value::Array(items) => items.iter().any(has_binary),
        Value::Map(entries) => entries.iter().any(|(_, v)| has_binary(v)),
        _ => false,
    }
}

/// A JSON value as msgpack (no binary).
pub(super) fn from_json_value(v: &serde_json::Value) -> Value {
    from_json(&v.to_string(), &[]).unwrap_or(Value::Nil)
}

/// A msgpack value as JSON (binary as placeholders, which JSON handlers cannot use anyway).
pub(super) fn to_json_value(v: &Value) -> serde_json::Value {
    serde_json::from_str(&to_json(v, &mut Vec::new())).unwrap_or(serde_json::Value::Null)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn json_round_trip_keeps_order_binary_and_numbers() {
        let attachments = vec![Bytes::from_static(b"\x01\x02")];
        let json =
            r#"["ev",{"z":1,"a":[2.5,3.0,-4]},{"_placeholder":true,"num":0},"é\"",null,true]"#;
        let v = from_json(json, &attachments).unwrap();
        let bytes = encode(&v);
        let back = decode(&bytes).unwrap();
        let mut out = Vec::new();
        assert_eq!(
            to_json(&back, &mut out),
            r#"["ev",{"z":1,"a":[2.5,3,-4]},{"_placeholder":true,"num":0},"é\"",null,true]"#
        );
        assert_eq!(out, attachments);
    }

    #[test]
    fn notepack_oddities() {
        // [undefined (old fixext), Date(0) as timestamp 32, 1.0 as float 64, {1: "x"}]
        let bytes = [
            0x94, 0xd4, 0x00, 0x00, 0xd6, 0xff, 0, 0, 0, 0, 0xcb, 0x3f, 0xf0, 0, 0, 0, 0, 0, 0,
            0x81, 0x01, 0xa1, b'x',
        ];
        let v = decode(&bytes).unwrap();
        let mut out = Vec::new();
        assert_eq!(
            to_json(&v, &mut out),
            r#"[null,"1970-01-01T00:00:00.000Z",1,{"1":"x"}]"#
        );
        // Timestamp 64 with milliseconds.
        let ns: u64 = 123_000_000;
        let secs: u64 = 1_714_564_800; // 2024-05-01T12:00:00Z
        let raw = (ns << 34) | secs;
        assert_eq!(timestamp_ms(&raw.to_be_bytes()), Some(1_714_564_800_123));
        assert_eq!(iso8601(1_714_564_800_123), "2024-05-01T12:00:00.123Z");
    }

    #[test]
    fn garbage_is_an_error_not_a_panic() {
        for bytes in [
            &b""[..],
            b"\x93\xa1",
            b"\xdd\xff\xff\xff\xff",
            b"\x91\x01\x02",
        ] {
            assert!(decode(bytes).is_err(), "{bytes:?}");
        }
    }
}
