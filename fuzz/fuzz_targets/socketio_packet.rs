//! Socket.IO packets: `decode` on any UTF-8, then `parse_event` / `parse_ack` (and
//! `check_placeholders` on their arguments) on the data.
//! A decoded packet must survive `write_header` + data; `parse_event` and `parse_ack` must
//! agree with a full `serde_json::Value` parse.
#![no_main]

use libfuzzer_sys::fuzz_target;
use serde_json::Value;
use socketio_ns::codec::socketio::binary::{check_placeholders, placeholder_num};
use socketio_ns::codec::socketio::packet::{
    PacketType, decode, parse_ack, parse_event, write_header,
};

const MAX_ATTACHMENTS: usize = 8;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let Ok(packet) = decode(text, MAX_ATTACHMENTS) else {
        return;
    };
    assert!(packet.attachments <= MAX_ATTACHMENTS);
    assert!(packet.nsp.starts_with('/'));

    let mut out = Vec::new();
    write_header(
        &mut out,
        packet.kind,
        packet.nsp,
        packet.attachments,
        packet.id,
    );
    out.extend_from_slice(packet.data.unwrap_or("").as_bytes());
    let encoded = std::str::from_utf8(&out).expect("UTF-8");
    assert_eq!(decode(encoded, MAX_ATTACHMENTS).as_ref(), Ok(&packet));

    let Some(data) = packet.data else {
        return;
    };
    let parsed = serde_json::from_str::<Value>(data);
    // The packet parsers take what JSON.parse takes: numbers of any size (1e999 is Infinity)
    // and lone surrogates in `\u` escapes. serde_json refuses to build such a Value, so such
    // an argument fails only when a handler deserializes it (`invalid_arguments`): there is
    // no Value to compare with.
    let comparable = !matches!(&parsed, Err(e) if {
        let e = e.to_string();
        e.starts_with("number out of range")
            || e.starts_with("lone leading surrogate")
            || e.starts_with("unexpected end of hex escape")
    });
    let value = parsed.ok();
    match packet.kind {
        PacketType::Event | PacketType::BinaryEvent => {
            let expected = match &value {
                Some(Value::Array(items)) => match items.first() {
                    Some(Value::String(name)) => Some((name.clone(), items.len() - 1)),
                    _ => None,
                },
                _ => None,
            };
            let got = parse_event(data).ok();
            for arg in got.iter().flat_map(|event| &event.args) {
                let _ = placeholder_num(arg);
            }
            if let Some(event) = &got {
                let _ = check_placeholders(&event.args, packet.attachments);
            }
            let got = got.map(|event| (event.name.into_owned(), event.args.len()));
            assert!(!comparable || got == expected, "{got:?} != {expected:?}");
        }
        PacketType::Ack | PacketType::BinaryAck => {
            let expected = match &value {
                Some(Value::Array(items)) => Some(items.len()),
                _ => None,
            };
            let got = parse_ack(data).ok();
            if let Some(args) = &got {
                let _ = check_placeholders(args, packet.attachments);
            }
            let got = got.map(|args| args.len());
            assert!(!comparable || got == expected, "{got:?} != {expected:?}");
        }
        PacketType::Connect => assert!(!comparable || matches!(value, Some(Value::Object(_)))),
        PacketType::ConnectError => {
            assert!(!comparable || matches!(value, Some(Value::Object(_) | Value::String(_))))
        }
        PacketType::Disconnect => unreachable!("DISCONNECT with data"),
    }
});
