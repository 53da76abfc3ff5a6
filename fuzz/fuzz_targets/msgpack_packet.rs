//! The msgpack parser: `msgpack::decode` on any bytes. A decoded packet's data is JSON that
//! holds exactly one valid placeholder per binary value, of the packet's type; encoding it
//! back and decoding again gives the same packet (unless the client's data held a literal
//! placeholder map, which then reads as binary: a documented limitation).
#![no_main]

use bytes::Bytes;
use libfuzzer_sys::fuzz_target;
use serde_json::value::RawValue;
use socketio_ns::codec::socketio::binary::check_placeholders;
use socketio_ns::codec::socketio::msgpack;
use socketio_ns::codec::socketio::packet::PacketType;

fuzz_target!(|data: &[u8]| {
    let input = Bytes::copy_from_slice(data);
    let Ok(p) = msgpack::decode(&input) else {
        return;
    };
    let binary = !p.attachments.is_empty();
    match p.kind {
        PacketType::Event | PacketType::Ack => assert!(!binary),
        PacketType::BinaryEvent | PacketType::BinaryAck => assert!(binary),
        PacketType::Disconnect => assert!(p.data.is_none()),
        PacketType::Connect | PacketType::ConnectError => {}
    }
    if let Some(json) = &p.data {
        let raw: &RawValue = serde_json::from_str(json).expect("decode writes valid JSON");
        let first = json.as_bytes().first().copied();
        match p.kind {
            PacketType::Connect => assert_eq!(first, Some(b'{')),
            PacketType::ConnectError => assert!(matches!(first, Some(b'{' | b'"'))),
            _ => assert_eq!(first, Some(b'[')),
        }
        if binary && literal_free(&p) {
            check_placeholders(&[raw], p.attachments.len()).expect("placeholders name attachments");
        }
    }
    let encoded = msgpack::encode(p.kind, &p.nsp, p.id, p.data.as_deref(), &p.attachments)
        .expect("decoded data encodes");
    let again = msgpack::decode(&Bytes::from(encoded)).expect("our encoding decodes");
    if literal_free(&p) {
        assert_eq!(again, p);
    }
});

/// Whether every `_placeholder` key of the data is one the decoder wrote (one per binary
/// value): the client sent none of its own.
fn literal_free(p: &msgpack::MsgPackPacket) -> bool {
    let keys = p
        .data
        .as_deref()
        .map_or(0, |d| d.matches("\"_placeholder\":").count());
    keys == p.attachments.len()
}
