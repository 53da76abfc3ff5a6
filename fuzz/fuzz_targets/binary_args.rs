//! Binary attachments: `placeholder_num`, `check_placeholders` and `from_arg` on any JSON
//! value, with two attachments; `write_args` on the parsed value.
#![no_main]

use bytes::Bytes;
use libfuzzer_sys::fuzz_target;
use serde_json::Value;
use serde_json::value::RawValue;
use socketio_ns::codec::socketio::binary::{
    check_placeholders, from_arg, placeholder_num, write_args,
};

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let Ok(raw) = serde_json::from_str::<&RawValue>(text) else {
        return;
    };
    let attachments = [Bytes::from_static(b"zero"), Bytes::from_static(b"one")];

    // A target that never asks for bytes sees the JSON as serde_json does.
    let plain = serde_json::from_str::<Value>(raw.get()).ok();
    let value = from_arg::<Value>(raw, &attachments).ok();
    assert_eq!(value, plain);

    // A placeholder is an object with exactly its two keys, and gives its attachment.
    let num = placeholder_num(raw);
    if let Some(n) = num {
        let Some(Value::Object(map)) = &value else {
            panic!("placeholder that is not an object");
        };
        assert_eq!(map.get("_placeholder"), Some(&Value::Bool(true)));
        assert_eq!(map.len(), 2);
        let bytes = from_arg::<Bytes>(raw, &attachments).ok();
        assert_eq!(bytes.as_ref(), attachments.get(n));
    }
    // check_placeholders agrees with the reference parser's `_reconstructPacket`, written
    // below on the parsed value. A duplicate key's earlier value is searched too (the parsed
    // value keeps only the last), so on the text as written it may only be stricter.
    for count in 0..=attachments.len() {
        let checked = check_placeholders(&[raw], count).is_ok();
        if let Some(value) = &value {
            let valid = !illegal_attachments(value, count);
            assert!(valid || !checked, "accepted an invalid placeholder");
            let canonical = serde_json::to_string(value).expect("to_string");
            let canonical = serde_json::from_str::<&RawValue>(&canonical).expect("reparse");
            assert_eq!(check_placeholders(&[canonical], count).is_ok(), valid);
        }
    }
    let _ = from_arg::<(String, Bytes)>(raw, &attachments);
    let _ = from_arg::<Vec<Option<Bytes>>>(raw, &attachments);

    // Without bytes, write_args writes what serde_json writes.
    if let Some(value) = value {
        let mut out = Vec::new();
        let mut out_attachments = Vec::new();
        let n = write_args(&value, &mut out, &mut out_attachments, false).expect("write_args");
        assert_eq!(n, 1);
        assert!(out_attachments.is_empty());
        assert_eq!(out, serde_json::to_vec(&value).expect("to_vec"));
    }
});

/// Whether the reference parser throws "illegal attachments" for `value` with `count`
/// attachments.
fn illegal_attachments(value: &Value, count: usize) -> bool {
    match value {
        Value::Object(map) if map.get("_placeholder") == Some(&Value::Bool(true)) => {
            !matches!(map.get("num").and_then(Value::as_u64), Some(n) if n < count as u64)
        }
        Value::Object(map) => map.values().any(|v| illegal_attachments(v, count)),
        Value::Array(items) => items.iter().any(|v| illegal_attachments(v, count)),
        _ => false,
    }
}
