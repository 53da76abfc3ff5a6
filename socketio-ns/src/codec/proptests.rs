//! Property tests: the encode → decode round trip of every codec, on generated values.
//!
//! - Engine.IO packets: `EnginePacket::to_frame` → `decode_text` / `decode_binary`.
//! - Engine.IO payloads: `encode_payload` (its length as `encoded_len` predicts) →
//!   `decode_payload`, and the packet limit; the v3 text and binary payloads and WebSocket
//!   binary frames (`engine::v3`).
//! - Socket.IO packets: `write_header` + data → `decode`, then `parse_event` / `parse_ack`.
//! - Binary arguments: `write_args` → `parse_ack` → `check_placeholders` and `from_arg`, and
//!   the whole outgoing path (`encode::event` / `encode::ack`, as the server sends them).
//!
//! - The msgpack parser: the outgoing path in msgpack form (`Encoded::frames`) →
//!   `msgpack::decode` → the runtime's argument decoding; and `msgpack::decode` of what
//!   `msgpack::encode` wrote from any packet of the runtime's form.
//!
//! The fuzz targets (`fuzz/`) start from the bytes instead: decode → encode.

use std::collections::BTreeMap;

use bytes::Bytes;
use proptest::collection::{btree_map, vec};
use proptest::prelude::*;
use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::engine::packet::{self as engine_packet, EnginePacket, Frame};
use super::engine::payload::{decode_payload, encode_payload, encoded_len};
use super::engine::v3;
use super::socketio::binary::{check_placeholders, from_arg, write_args};
use super::socketio::encode;
use super::socketio::msgpack;
use super::socketio::packet::{
    PacketType, SocketIoPacket, decode, parse_ack, parse_event, write_header,
};

/// The attachment limit the Socket.IO packets are decoded with.
const MAX_ATTACHMENTS: usize = 10;

/// Any text, control characters included (proptest's own `String` leaves them out).
fn text() -> impl Strategy<Value = String> + Clone {
    vec(any::<char>(), 0..24).prop_map(String::from_iter)
}

/// Text for the packets of a polling payload: anything but the record separator, which the
/// protocol does not escape (Socket.IO's JSON never holds it raw: JSON escapes it).
fn payload_text() -> impl Strategy<Value = String> + Clone {
    text().prop_map(|s| s.replace('\u{1e}', ""))
}

fn engine_packet(
    text: impl Strategy<Value = String> + Clone,
) -> impl Strategy<Value = EnginePacket> {
    prop_oneof![
        text.clone().prop_map(|s| EnginePacket::Open(s.into())),
        Just(EnginePacket::Close),
        any::<bool>().prop_map(|probe| EnginePacket::Ping { probe }),
        any::<bool>().prop_map(|probe| EnginePacket::Pong { probe }),
        text.prop_map(|s| EnginePacket::Message(s.into())),
        vec(any::<u8>(), 0..48).prop_map(|b| EnginePacket::Binary(b.into())),
        Just(EnginePacket::Upgrade),
        Just(EnginePacket::Noop),
    ]
}

/// Any JSON value (finite numbers; nested up to four levels).
fn json() -> impl Strategy<Value = Value> + Clone {
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::Bool),
        any::<i64>().prop_map(Value::from),
        any::<u64>().prop_map(Value::from),
        any::<f64>()
            .prop_filter("JSON numbers are finite", |f| f.is_finite())
            .prop_map(Value::from),
        text().prop_map(Value::String),
    ];
    leaf.prop_recursive(4, 32, 6, |inner| {
        prop_oneof![
            vec(inner.clone(), 0..6).prop_map(Value::Array),
            btree_map(text(), inner, 0..6).prop_map(|m| Value::Object(m.into_iter().collect())),
        ]
    })
}

fn json_object() -> impl Strategy<Value = Value> {
    btree_map(text(), json(), 0..4).prop_map(|m| Value::Object(m.into_iter().collect()))
}

/// A namespace as a client may name it: `/` and anything up to the next `,`.
fn nsp() -> impl Strategy<Value = String> {
    prop_oneof![
        Just("/".to_owned()),
        vec(any::<char>().prop_filter("no comma", |&c| c != ','), 0..12)
            .prop_map(|cs| format!("/{}", String::from_iter(cs))),
    ]
}

/// The fields of a Socket.IO packet, its data of the shape its type requires, and for events
/// and acks the name and arguments it was written from.
#[derive(Debug, Clone)]
struct Parts {
    kind: PacketType,
    nsp: String,
    attachments: usize,
    id: Option<u64>,
    data: Option<String>,
    name: String,
    args: Vec<Value>,
}

fn packet_parts() -> impl Strategy<Value = Parts> {
    (
        0u8..7,
        nsp(),
        0..=MAX_ATTACHMENTS,
        any::<Option<u64>>(),
        text(),
        vec(json(), 0..4),
        json_object(),
        any::<bool>(),
    )
        .prop_map(|(digit, nsp, attachments, id, name, args, object, flag)| {
            let kind = PacketType::from_byte(b'0' + digit).unwrap_or(PacketType::Event);
            let (id, data) = match kind {
                PacketType::Connect => (None, flag.then(|| json_text(&object))),
                PacketType::Disconnect => (None, None),
                PacketType::ConnectError if flag => (None, Some(json_text(&object))),
                PacketType::ConnectError => (None, Some(json_text(&name))),
                PacketType::Event | PacketType::BinaryEvent => {
                    let mut array = vec![Value::String(name.clone())];
                    array.extend(args.iter().cloned());
                    (id, Some(json_text(&array)))
                }
                PacketType::Ack | PacketType::BinaryAck => (id, Some(json_text(&args))),
            };
            let attachments = if kind.is_binary() { attachments } else { 0 };
            Parts {
                kind,
                nsp,
                attachments,
                id,
                data,
                name,
                args,
            }
        })
}

fn json_text<T: Serialize + ?Sized>(value: &T) -> String {
    serde_json::to_string(value).unwrap_or_default()
}

/// A handler's argument with byte buffers in every place serde puts them.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
struct Upload {
    name: String,
    data: Bytes,
    thumb: Option<Bytes>,
    parts: Vec<Bytes>,
    meta: BTreeMap<String, Bytes>,
    kind: Kind,
    extra: Value,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
enum Kind {
    Empty,
    Raw(Bytes),
    Pair(Bytes, u8),
    Named { blob: Bytes },
}

fn bytes() -> impl Strategy<Value = Bytes> + Clone {
    vec(any::<u8>(), 0..16).prop_map(Bytes::from)
}

fn upload() -> impl Strategy<Value = Upload> {
    let kind = prop_oneof![
        Just(Kind::Empty),
        bytes().prop_map(Kind::Raw),
        (bytes(), any::<u8>()).prop_map(|(b, n)| Kind::Pair(b, n)),
        bytes().prop_map(|blob| Kind::Named { blob }),
    ];
    (
        text(),
        bytes(),
        proptest::option::of(bytes()),
        vec(bytes(), 0..4),
        btree_map(text(), bytes(), 0..3),
        kind,
        json(),
    )
        .prop_map(|(name, data, thumb, parts, meta, kind, extra)| Upload {
            name,
            data,
            thumb,
            parts,
            meta,
            kind,
            extra,
        })
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    #[test]
    fn engine_packet_round_trip(packet in engine_packet(text())) {
        let frame = packet.to_frame();
        prop_assert_eq!(frame.is_binary(), matches!(packet, EnginePacket::Binary(_)));
        let decoded = match &frame {
            Frame::Text(text) => EnginePacket::decode_text(text.clone()),
            Frame::Binary(data) => Ok(EnginePacket::decode_binary(data.clone())),
        };
        prop_assert_eq!(decoded, Ok(packet.clone()));
        prop_assert_eq!(frame.to_packet(), Ok(packet));
    }

    #[test]
    fn engine_payload_round_trip(packets in vec(engine_packet(payload_text()), 1..12)) {
        let frames: Vec<Frame> = packets.iter().map(EnginePacket::to_frame).collect();
        let mut out = Vec::new();
        encode_payload(&frames, &mut out);
        let predicted = frames.iter().map(encoded_len).sum::<usize>() + frames.len() - 1;
        prop_assert_eq!(out.len(), predicted);
        let body = Bytes::from(out);
        prop_assert_eq!(decode_payload(&body, packets.len()), Ok(packets.clone()));
        prop_assert_eq!(
            decode_payload(&body, packets.len() - 1),
            Err(engine_packet::DecodeError::TooManyPackets)
        );
    }

    #[test]
    fn engine_v3_payload_round_trip(packets in vec(engine_packet(text()), 1..12)) {
        let frames: Vec<Frame> = packets.iter().map(EnginePacket::to_frame).collect();
        for binary in [false, true] {
            let mut out = Vec::new();
            if binary {
                v3::encode_binary_payload(&frames, &mut out);
            } else {
                v3::encode_text_payload(&frames, &mut out);
            }
            let body = Bytes::from(out);
            let decode = if binary { v3::decode_binary_payload } else { v3::decode_text_payload };
            prop_assert_eq!(decode(&body, packets.len()), Ok(packets.clone()));
            prop_assert_eq!(
                decode(&body, packets.len() - 1),
                Err(engine_packet::DecodeError::TooManyPackets)
            );
        }
        for frame in &frames {
            if let Frame::Binary(data) = frame {
                let ws = v3::encode_ws_binary(data);
                prop_assert_eq!(v3::decode_ws_binary(ws), Ok(EnginePacket::Binary(data.clone())));
            }
        }
    }

    #[test]
    fn engine_v3_decoders_never_panic(body in vec(any::<u8>(), 0..64)) {
        let body = Bytes::from(body);
        let _ = v3::decode_text_payload(&body, 8);
        let _ = v3::decode_binary_payload(&body, 8);
        let _ = v3::decode_ws_binary(body);
    }

    #[test]
    fn socketio_packet_round_trip(parts in packet_parts()) {
        let mut out = Vec::new();
        write_header(&mut out, parts.kind, &parts.nsp, parts.attachments, parts.id);
        out.extend_from_slice(parts.data.as_deref().unwrap_or("").as_bytes());
        let text = String::from_utf8(out).map_err(|e| TestCaseError::fail(e.to_string()))?;
        let expected = SocketIoPacket {
            kind: parts.kind,
            nsp: &parts.nsp,
            attachments: parts.attachments,
            id: parts.id,
            data: parts.data.as_deref(),
        };
        prop_assert_eq!(decode(&text, MAX_ATTACHMENTS), Ok(expected));

        let data = parts.data.as_deref().unwrap_or("");
        let raw_args = match parts.kind {
            PacketType::Event | PacketType::BinaryEvent => {
                let event = parse_event(data);
                prop_assert!(event.is_ok(), "{:?}", event);
                let event = event.unwrap();
                prop_assert_eq!(&*event.name, parts.name.as_str());
                event.args
            }
            PacketType::Ack | PacketType::BinaryAck => {
                let args = parse_ack(data);
                prop_assert!(args.is_ok(), "{:?}", args);
                args.unwrap()
            }
            _ => return Ok(()),
        };
        let raw_args: Vec<&str> = raw_args.iter().map(|raw| raw.get()).collect();
        let written: Vec<String> = parts
            .args
            .iter()
            .map(json_text)
            .collect();
        prop_assert_eq!(raw_args, written);
    }

    #[test]
    fn binary_args_round_trip(first in json(), upload in upload(), last in bytes()) {
        let mut out = b"[".to_vec();
        let mut attachments = Vec::new();
        let count = write_args(&(&first, &upload, &last), &mut out, &mut attachments, false);
        prop_assert_eq!(count.ok(), Some(3));
        out.push(b']');
        let text = String::from_utf8(out).map_err(|e| TestCaseError::fail(e.to_string()))?;
        let args = parse_ack(&text).map_err(|e| TestCaseError::fail(e.to_string()))?;
        prop_assert_eq!(args.len(), 3);

        // What is written passes the check a binary packet gets when it arrives.
        prop_assert_eq!(check_placeholders(&args, attachments.len()), Ok(()));
        if let Some(fewer) = attachments.len().checked_sub(1) {
            prop_assert!(check_placeholders(&args, fewer).is_err());
        }

        prop_assert_eq!(from_arg::<Value>(args[0], &attachments).ok(), Some(first.clone()));
        prop_assert_eq!(from_arg::<Upload>(args[1], &attachments).ok(), Some(upload.clone()));
        prop_assert_eq!(from_arg::<Bytes>(args[2], &attachments).ok(), Some(last));
    }

    #[test]
    fn outgoing_event_and_ack_round_trip(
        nsp in nsp(),
        name in text(),
        id in any::<Option<u64>>(),
        value in json(),
        upload in upload(),
    ) {
        // An event as the server sends it: `4` + the packet, then the attachments.
        let encoded = encode::event(&nsp, &name, &(&value, &upload), id)
            .map_err(|e| TestCaseError::fail(e.to_string()))?;
        let text = encoded.text.as_str().strip_prefix('4').unwrap_or("");
        let p = decode(text, usize::MAX).map_err(|e| TestCaseError::fail(e.to_string()))?;
        let binary = !encoded.attachments.is_empty();
        let kind = if binary { PacketType::BinaryEvent } else { PacketType::Event };
        prop_assert_eq!((p.kind, p.nsp, p.id), (kind, nsp.as_str(), id));
        prop_assert_eq!(p.attachments, encoded.attachments.len());
        let event = parse_event(p.data.unwrap_or("")).map_err(|e| TestCaseError::fail(e.to_string()))?;
        prop_assert_eq!(&*event.name, name.as_str());
        prop_assert_eq!(event.args.len(), 2);
        prop_assert_eq!(check_placeholders(&event.args, p.attachments), Ok(()));
        let atts = &encoded.attachments;
        prop_assert_eq!(from_arg::<Value>(event.args[0], atts).ok(), Some(value.clone()));
        prop_assert_eq!(from_arg::<Upload>(event.args[1], atts).ok(), Some(upload.clone()));

        // The answer to an ack.
        let ack_id = id.unwrap_or(0);
        let encoded = encode::ack(&nsp, ack_id, &(&upload,)).map_err(|e| TestCaseError::fail(e.to_string()))?;
        let text = encoded.text.as_str().strip_prefix('4').unwrap_or("");
        let p = decode(text, usize::MAX).map_err(|e| TestCaseError::fail(e.to_string()))?;
        prop_assert_eq!((p.kind, p.nsp, p.id), (PacketType::BinaryAck, nsp.as_str(), Some(ack_id)));
        let args = parse_ack(p.data.unwrap_or("")).map_err(|e| TestCaseError::fail(e.to_string()))?;
        prop_assert_eq!(check_placeholders(&args, p.attachments), Ok(()));
        prop_assert_eq!(args.len(), 1);
        prop_assert_eq!(from_arg::<Upload>(args[0], &encoded.attachments).ok(), Some(upload.clone()));
    }

    #[test]
    fn msgpack_outgoing_round_trip(
        nsp in nsp(),
        name in text(),
        id in any::<Option<u64>>(),
        value in json(),
        upload in upload(),
    ) {
        // An event as the server sends it to a msgpack client: one binary frame.
        let encoded = encode::event(&nsp, &name, &(&value, &upload), id)
            .map_err(|e| TestCaseError::fail(e.to_string()))?;
        let frames: Vec<Frame> = encoded.frames(msgpack::Parser::MsgPack).collect();
        let [Frame::Binary(bytes)] = frames.as_slice() else {
            return Err(TestCaseError::fail(format!("not one binary frame: {frames:?}")));
        };
        let p = msgpack::decode(bytes).map_err(|e| TestCaseError::fail(e.to_string()))?;
        let binary = !encoded.attachments.is_empty();
        let kind = if binary { PacketType::BinaryEvent } else { PacketType::Event };
        prop_assert_eq!((p.kind, p.nsp.as_str(), p.id), (kind, nsp.as_str(), id));
        prop_assert_eq!(&p.attachments, &encoded.attachments);
        let data = p.data.unwrap_or_default();
        let event = parse_event(&data).map_err(|e| TestCaseError::fail(e.to_string()))?;
        prop_assert_eq!(&*event.name, name.as_str());
        prop_assert_eq!(event.args.len(), 2);
        prop_assert_eq!(check_placeholders(&event.args, p.attachments.len()), Ok(()));
        let atts = &p.attachments;
        // Numbers travel as JavaScript numbers: an integral float comes back as an integer.
        let back = from_arg::<Value>(event.args[0], atts).map_err(|e| TestCaseError::fail(e.to_string()))?;
        prop_assert_eq!(integral(back), integral(value.clone()));
        let back = from_arg::<Upload>(event.args[1], atts).map_err(|e| TestCaseError::fail(e.to_string()))?;
        let (mut back, mut sent) = (back, upload.clone());
        back.extra = integral(back.extra);
        sent.extra = integral(sent.extra);
        prop_assert_eq!(back, sent);
    }

    #[test]
    fn msgpack_packet_round_trip(parts in packet_parts(), atts in vec(bytes(), 0..3)) {
        // Any packet of the runtime's form; a binary one with the attachments its placeholders
        // name (after its other arguments).
        let atts = if parts.kind.is_binary() { atts } else { Vec::new() };
        let data = match parts.kind {
            PacketType::BinaryEvent | PacketType::BinaryAck if !atts.is_empty() => {
                let name = (parts.kind == PacketType::BinaryEvent).then(|| Value::from(parts.name.clone()));
                let placeholders = (0..atts.len()).map(|n| serde_json::json!({"_placeholder": true, "num": n}));
                let args = name.into_iter().chain(parts.args.iter().cloned()).chain(placeholders);
                Some(Value::Array(args.collect()).to_string())
            }
            _ => parts.data.clone(),
        };
        let nsp = parts.nsp.replace(',', "");
        let bytes = msgpack::encode(parts.kind, &nsp, parts.id, data.as_deref(), &atts)
            .map_err(|e| TestCaseError::fail(e.to_string()))?;
        let p = msgpack::decode(&Bytes::from(bytes)).map_err(|e| TestCaseError::fail(e.to_string()))?;
        let kind = match parts.kind {
            PacketType::BinaryEvent if atts.is_empty() => PacketType::Event,
            PacketType::BinaryAck if atts.is_empty() => PacketType::Ack,
            k => k,
        };
        prop_assert_eq!((p.kind, p.nsp.as_str(), p.id), (kind, nsp.as_str(), parts.id));
        prop_assert_eq!(p.attachments, atts);
        let json = |d: &str| serde_json::from_str::<Value>(d).map(integral).ok();
        prop_assert_eq!(p.data.as_deref().map(json), data.as_deref().map(json));
    }
}

/// `value` with every integral float within `i64` as an integer, as it reads back from
/// msgpack (where it travels as a JavaScript number).
fn integral(value: Value) -> Value {
    match value {
        Value::Number(n) => match n.as_f64() {
            Some(f) if n.is_f64() && f.fract() == 0.0 && f.abs() < 9.2e18 => Value::from(f as i64),
            _ => Value::Number(n),
        },
        Value::Array(a) => Value::Array(a.into_iter().map(integral).collect()),
        Value::Object(o) => Value::Object(o.into_iter().map(|(k, v)| (k, integral(v))).collect()),
        v => v,
    }
}
