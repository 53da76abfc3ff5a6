//! Engine.IO v3 polling payloads: the first byte picks the decoder (even: text payload, odd:
//! binary payload), the rest is the body. Whatever decodes must re-encode in both forms to
//! payloads that decode to the same packets.
#![no_main]

use bytes::Bytes;
use libfuzzer_sys::fuzz_target;
use socketio_ns::codec::engine::packet::{EnginePacket, Frame};
use socketio_ns::codec::engine::v3;

const MAX_PACKETS: usize = 64;

fuzz_target!(|data: &[u8]| {
    let Some((&selector, rest)) = data.split_first() else {
        return;
    };
    let body = Bytes::copy_from_slice(rest);
    let decoded = if selector % 2 == 0 {
        v3::decode_text_payload(&body, MAX_PACKETS)
    } else {
        v3::decode_binary_payload(&body, MAX_PACKETS)
    };
    let Ok(packets) = decoded else {
        return;
    };
    assert!(packets.len() <= MAX_PACKETS);
    if packets.is_empty() {
        return;
    }
    let frames: Vec<Frame> = packets.iter().map(EnginePacket::to_frame).collect();
    let mut text = Vec::new();
    v3::encode_text_payload(&frames, &mut text);
    let again = v3::decode_text_payload(&Bytes::from(text), MAX_PACKETS).expect("text payload");
    assert_eq!(again, packets);
    let mut binary = Vec::new();
    v3::encode_binary_payload(&frames, &mut binary);
    let again =
        v3::decode_binary_payload(&Bytes::from(binary), MAX_PACKETS).expect("binary payload");
    assert_eq!(again, packets);
});
