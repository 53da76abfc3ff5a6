//! Criterion micro-benchmarks of the sans-IO codecs: Engine.IO packets and polling payloads,
//! Socket.IO packet headers and event arrays, the binary-aware argument serializer and
//! deserializer, and the msgpack parser (to and from the runtime's JSON form).
//!
//! ```text
//! cargo bench -p socketio-ns --bench codec -- --warm-up-time 1 --measurement-time 3
//! ```
//!
//! Throughput is in bytes of the input for decoders and of the output for encoders.

use std::hint::black_box;

use bytes::Bytes;
use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use serde::{Deserialize, Serialize};
use serde_json::value::RawValue;
use socketio_ns::codec::engine::packet::{EnginePacket, Frame};
use socketio_ns::codec::engine::payload::{self, SEPARATOR};
use socketio_ns::codec::socketio::{binary, msgpack, packet};

/// A typical chat event, as the Socket.IO packet inside an Engine.IO `4` message.
const CHAT_EVENT: &str = r#"2["chat message",{"room":"lobby","text":"hello world"}]"#;

/// An event with a namespace and an ack id.
const NS_ACK_EVENT: &str = r#"2/chat,17["say","lobby","hi"]"#;

/// The header packet of a BINARY_EVENT announcing two attachments.
const BINARY_EVENT: &str = r#"52-["upload",{"name":"a.png","data":{"_placeholder":true,"num":0}},{"_placeholder":true,"num":1}]"#;

#[derive(Serialize, Deserialize)]
struct Msg {
    room: String,
    text: String,
}

#[derive(Serialize)]
struct MsgRef<'a> {
    room: &'a str,
    text: &'a str,
}

#[derive(Deserialize)]
struct Upload {
    name: String,
    data: Bytes,
}

fn engine_packets(c: &mut Criterion) {
    let mut g = c.benchmark_group("engine/decode_text");

    // `EnginePacket::decode_text` takes a `Utf8Bytes`, which `Frame`s hold: `Frame::message` builds
    // the heap-allocated `4...` text a WebSocket read hands over. Each iteration clones it (a
    // reference-count bump), as the decoder consumes its input.
    let Frame::Text(ping) = Frame::ping() else {
        panic!("a text frame")
    };
    assert_eq!(
        EnginePacket::decode_text(ping.clone()),
        Ok(EnginePacket::Ping { probe: false })
    );
    g.bench_function("ping", |b| {
        b.iter(|| black_box(EnginePacket::decode_text(black_box(&ping).clone())))
    });

    let Frame::Text(message) = Frame::message(CHAT_EVENT) else {
        panic!("a text frame")
    };
    assert!(matches!(
        EnginePacket::decode_text(message.clone()),
        Ok(EnginePacket::Message(_))
    ));
    g.throughput(Throughput::Bytes(message.len() as u64));
    g.bench_function("message", |b| {
        b.iter(|| black_box(EnginePacket::decode_text(black_box(&message).clone())))
    });
    g.finish();
}

/// Ten small packets: Socket.IO events as `4` messages (and a pong), all text.
fn text_frames() -> Vec<Frame> {
    let mut frames: Vec<Frame> = (0..9)
        .map(|i| {
            Frame::message(&format!(
                r#"2["chat message",{{"room":"lobby","text":"hello world {i}"}}]"#
            ))
        })
        .collect();
    frames.insert(4, Frame::pong());
    frames
}

/// Ten small packets, one of them a binary record (a 256-byte attachment, announced by the
/// BINARY_EVENT header before it).
fn binary_frames() -> Vec<Frame> {
    let mut frames: Vec<Frame> = (0..8)
        .map(|i| {
            Frame::message(&format!(
                r#"2["chat message",{{"room":"lobby","text":"hello world {i}"}}]"#
            ))
        })
        .collect();
    frames.push(Frame::message(
        r#"51-["upload","a.png",{"_placeholder":true,"num":0}]"#,
    ));
    let data: Vec<u8> = (0..=255u8).collect();
    frames.push(Frame::Binary(Bytes::from(data)));
    frames
}

fn encode(frames: &[Frame]) -> Bytes {
    let mut out = Vec::new();
    payload::encode_payload(frames, &mut out);
    Bytes::from(out)
}

fn polling_payloads(c: &mut Criterion) {
    let mut g = c.benchmark_group("engine/payload");
    for (name, frames) in [
        ("10_text", text_frames()),
        ("10_with_binary", binary_frames()),
    ] {
        assert_eq!(frames.len(), 10);
        let body = encode(&frames);
        assert_eq!(payload::decode_payload(&body, 16).map(|p| p.len()), Ok(10));
        assert_eq!(body.iter().filter(|&&b| b == SEPARATOR).count(), 9);

        g.throughput(Throughput::Bytes(body.len() as u64));
        g.bench_function(format!("decode/{name}"), |b| {
            b.iter(|| black_box(payload::decode_payload(black_box(&body), 16)))
        });

        // The output buffer is reused and reserved up front, as the polling transport does.
        let capacity = frames.iter().map(payload::encoded_len).sum::<usize>() + frames.len();
        let mut out = Vec::with_capacity(capacity);
        g.bench_function(format!("encode/{name}"), |b| {
            b.iter(|| {
                out.clear();
                payload::encode_payload(black_box(&frames), &mut out);
                black_box(out.len())
            })
        });
    }
    g.finish();
}

fn socketio_packets(c: &mut Criterion) {
    let mut g = c.benchmark_group("socketio/decode+parse_event");
    for (name, text, attachments) in [
        ("typical", CHAT_EVENT, 0),
        ("nsp_ack", NS_ACK_EVENT, 0),
        ("binary_2_attachments", BINARY_EVENT, 2),
    ] {
        let p = packet::decode(text, 10).expect("valid packet");
        assert_eq!(p.attachments, attachments);
        assert!(packet::parse_event(p.data.unwrap_or("")).is_ok());

        g.throughput(Throughput::Bytes(text.len() as u64));
        g.bench_function(name, |b| {
            b.iter(|| {
                let p = packet::decode(black_box(text), 10)?;
                let ev = packet::parse_event(p.data.unwrap_or(""))?;
                Ok::<_, packet::DecodeError>(black_box((p.id, p.nsp.len(), ev.name.len(), ev.args)))
            })
        });
    }
    g.finish();
}

fn write_args(c: &mut Criterion) {
    let mut g = c.benchmark_group("binary/write_args");
    let mut out = Vec::with_capacity(256);
    let mut attachments = Vec::with_capacity(4);

    let msg = MsgRef {
        room: "lobby",
        text: "hello world",
    };
    let args = ("chat message", &msg);
    binary::write_args(&args, &mut out, &mut attachments, true).expect("serializes");
    g.throughput(Throughput::Bytes(out.len() as u64));
    g.bench_function("str_struct", |b| {
        b.iter(|| {
            out.clear();
            attachments.clear();
            let n = binary::write_args(black_box(&args), &mut out, &mut attachments, true);
            black_box(n)
        })
    });

    out.clear();
    let data = Bytes::from(vec![7u8; 1024]);
    let args = ("a.png", data);
    binary::write_args(&args, &mut out, &mut attachments, true).expect("serializes");
    assert_eq!(attachments.len(), 1);
    g.throughput(Throughput::Bytes(out.len() as u64));
    g.bench_function("str_bytes_attachment", |b| {
        b.iter(|| {
            out.clear();
            attachments.clear();
            let n = binary::write_args(black_box(&args), &mut out, &mut attachments, true);
            black_box(n)
        })
    });
    g.finish();
}

fn from_arg(c: &mut Criterion) {
    let mut g = c.benchmark_group("binary/from_arg");

    let text = r#"{"room":"lobby","text":"hello world"}"#;
    let raw: &RawValue = serde_json::from_str(text).expect("valid JSON");
    g.throughput(Throughput::Bytes(text.len() as u64));
    g.bench_function("struct", |b| {
        b.iter(|| black_box(binary::from_arg::<Msg>(black_box(raw), &[])))
    });

    let text = r#"{"name":"a.png","data":{"_placeholder":true,"num":0}}"#;
    let raw: &RawValue = serde_json::from_str(text).expect("valid JSON");
    let attachments = [Bytes::from(vec![7u8; 1024])];
    let up: Upload = binary::from_arg(raw, &attachments).expect("decodes");
    assert_eq!((up.name.as_str(), up.data.len()), ("a.png", 1024));
    g.throughput(Throughput::Bytes(text.len() as u64));
    g.bench_function("struct_with_attachment", |b| {
        b.iter(|| black_box(binary::from_arg::<Upload>(black_box(raw), &attachments)))
    });
    g.finish();
}

fn msgpack_packets(c: &mut Criterion) {
    let mut g = c.benchmark_group("msgpack");
    let upload = [Bytes::from(vec![7u8; 1024])];
    for (name, kind, data, attachments) in [
        (
            "typical",
            packet::PacketType::Event,
            r#"["chat message",{"room":"lobby","text":"hello world"}]"#,
            &[][..],
        ),
        (
            "binary_1k",
            packet::PacketType::BinaryEvent,
            r#"["upload",{"name":"a.png","data":{"_placeholder":true,"num":0}}]"#,
            &upload[..],
        ),
    ] {
        let bytes = Bytes::from(
            msgpack::encode(kind, "/", None, Some(data), attachments).expect("encodes"),
        );
        let p = msgpack::decode(&bytes).expect("decodes");
        assert_eq!(
            (p.data.as_deref(), &p.attachments[..]),
            (Some(data), attachments)
        );
        g.throughput(Throughput::Bytes(bytes.len() as u64));
        g.bench_function(format!("decode/{name}"), |b| {
            b.iter(|| black_box(msgpack::decode(black_box(&bytes))))
        });
        g.bench_function(format!("encode/{name}"), |b| {
            b.iter(|| {
                black_box(msgpack::encode(
                    kind,
                    "/",
                    None,
                    Some(black_box(data)),
                    attachments,
                ))
            })
        });
    }
    g.finish();
}

criterion_group!(
    benches,
    msgpack_packets,
    engine_packets,
    polling_payloads,
    socketio_packets,
    write_args,
    from_arg
);
criterion_main!(benches);
