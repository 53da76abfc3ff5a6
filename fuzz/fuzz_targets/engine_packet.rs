//! Engine.IO packets: `EnginePacket::decode_text` on any UTF-8, `EnginePacket::decode_binary` on any bytes.
//! Whatever decodes must encode back to the same text.
#![no_main]

use bytes::Bytes;
use libfuzzer_sys::fuzz_target;
use socketio_ns::codec::engine::packet::{EnginePacket, Frame};

fuzz_target!(|data: &[u8]| {
    if let Ok(text) = std::str::from_utf8(data)
        && let Ok(packet) = EnginePacket::decode_text(text.into())
    {
        let frame = packet.to_frame();
        match &frame {
            Frame::Text(encoded) => assert_eq!(encoded.as_str(), text),
            Frame::Binary(_) => panic!("a text packet encoded as binary"),
        }
        assert_eq!(frame.to_packet(), Ok(packet));
    }
    let packet = EnginePacket::decode_binary(Bytes::copy_from_slice(data));
    assert_eq!(
        packet.to_frame(),
        Frame::Binary(Bytes::copy_from_slice(data))
    );
});
