//! Engine.IO polling payloads: `decode_payload` on any bytes. Whatever decodes must re-encode
//! (with `encode_payload`, whose length `encoded_len` predicts) to a payload that decodes to
//! the same packets.
#![no_main]

use bytes::Bytes;
use libfuzzer_sys::fuzz_target;
use socketio_ns::codec::engine::packet::{EnginePacket, Frame};
use socketio_ns::codec::engine::payload::{decode_payload, encode_payload, encoded_len};

const MAX_PACKETS: usize = 64;

fuzz_target!(|data: &[u8]| {
    let body = Bytes::copy_from_slice(data);
    let Ok(packets) = decode_payload(&body, MAX_PACKETS) else {
        return;
    };
    assert!(!packets.is_empty() && packets.len() <= MAX_PACKETS);
    let frames: Vec<Frame> = packets.iter().map(EnginePacket::to_frame).collect();
    let mut out = Vec::new();
    encode_payload(&frames, &mut out);
    let expected_len = frames.iter().map(encoded_len).sum::<usize>() + frames.len() - 1;
    assert_eq!(out.len(), expected_len);
    let again = decode_payload(&Bytes::from(out), MAX_PACKETS).expect("re-encoded payload");
    assert_eq!(again, packets);
});
