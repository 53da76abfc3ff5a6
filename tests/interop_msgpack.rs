//! The msgpack parser (`Builder::parser(Parser::MsgPack)`) against `socket.io-msgpack-parser`
//! 3.0.2: socket.io-client 4.8 with that parser (`tests/js/sio.mjs`) against
//! `examples/conformance.rs` started with `PARSER=msgpack`, each scenario on polling, WebSocket
//! and polling upgraded to WebSocket; clients of the other parser on either server; the wire
//! read raw over long-polling; and round trips through the reference encoder and decoder
//! (`tests/js/msgpack.mjs`) in both directions.
//!
//! Run: `cargo test -p socketio-ns --test interop_msgpack --example conformance`
//! (needs node and npm; the harness installs `tests/node_modules` with `npm ci` when missing).

#[macro_use]
mod common;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as BASE64;
use bytes::Bytes;
use common::{ExampleServer, Mode, binary, pseudo_random_bytes, request, run_node};
use serde_json::{Value, json};
use socketio_ns::codec::socketio::msgpack::{self, MsgPackError};
use socketio_ns::codec::socketio::packet::PacketType;

fn msgpack_server() -> ExampleServer {
    ExampleServer::spawn_with_env("conformance", &[("PARSER", "msgpack")])
}

/// Runs the steps with a msgpack client against a fresh msgpack server; returns the lines
/// without the `upgrade` ones (checked to happen exactly in [`Mode::Upgrade`]) and with each
/// `connected` reduced to its namespace, after checking its transport.
fn sio(mode: Mode, steps: Value) -> Vec<Value> {
    let server = msgpack_server();
    let lines = run_node(
        "sio.mjs",
        json!({
            "url": server.url(),
            "transports": mode.transports(),
            "parser": "msgpack",
            "steps": steps,
        }),
    );
    let mut upgrades = 0;
    let mut rest = Vec::new();
    for line in &lines {
        if let Some(upgrade) = line.get("upgrade") {
            assert_eq!(mode, Mode::Upgrade, "unexpected upgrade in {lines:#?}");
            assert_eq!(upgrade, "websocket");
            upgrades += 1;
        } else if let Some(c) = line.get("connected") {
            assert_eq!(c["transport"], mode.final_transport(), "in {lines:#?}");
            assert_ne!(c["socket_id"], c["engine_id"], "in {lines:#?}");
            rest.push(json!({ "connected": c["nsp"] }));
        } else {
            rest.push(line.clone());
        }
    }
    if mode == Mode::Upgrade {
        assert!(upgrades >= 1, "no upgrade happened: {lines:#?}");
    }
    rest
}

fn connected(nsp: &str) -> Value {
    json!({ "connected": nsp })
}

fn event(name: &str, args: Value) -> Value {
    json!({ "event": name, "args": args, "acked": false })
}

fn ack(name: &str, args: Value) -> Value {
    json!({ "ack": { "event": name, "args": args } })
}

/// Connect with auth, events with strings, numbers and maps both ways, acks both ways, a
/// server-side disconnect.
fn events_and_acks(mode: Mode) {
    let auth = json!({ "token": "123", "nested": { "list": [1, "two", null, true, 2.5] } });
    let args =
        json!(["héllo 😀", 1, -7, 2.5, 1_099_511_627_776u64, { "a": [true, null], "b": {} }, []]);
    let lines = sio(
        mode,
        json!([
            { "connect": { "auth": auth } },
            { "expect": "auth" },
            { "emit": "message", "args": args },
            { "expect": "message-back" },
            { "emit": "message-with-ack", "args": [1, "two", { "three": 3 }], "ack": true },
            { "emit": "server-emit-with-ack", "args": ["x", 1] },
            { "expect": "ping-ack", "reply": ["pong", { "n": 2 }] },
            { "expect": "ack-result" },
            { "emit": "disconnect-me" },
            { "expect_disconnect": true },
        ]),
    );
    assert_eq!(
        lines,
        vec![
            connected("/"),
            event("auth", json!([auth])),
            event("message-back", args),
            ack("message-with-ack", json!([1, "two", { "three": 3 }])),
            json!({ "event": "ping-ack", "args": ["x", 1], "acked": true }),
            event("ack-result", json!(["pong", { "n": 2 }])),
            json!({ "disconnect": "io server disconnect" }),
        ]
    );
}

/// Binary inline, both ways: in events, nested in maps, empty, 70 kB, in acks from either side.
fn binary_both_ways(mode: Mode) {
    let big = pseudo_random_bytes(70_000, 5);
    let args = json!([binary(&[0, 1, 2, 255]), { "nested": [binary(&big)] }, binary(&[])]);
    let lines = sio(
        mode,
        json!([
            { "connect": {} },
            { "expect": "auth" },
            { "emit": "message", "args": args },
            { "expect": "message-back" },
            { "emit": "message-with-ack", "args": [binary(b"ack me"), "text"], "ack": true },
            { "emit": "server-emit-with-ack", "args": [binary(b"ping")] },
            { "expect": "ping-ack", "reply": [{ "bytes": binary(b"pong") }] },
            { "expect": "ack-result" },
        ]),
    );
    assert_eq!(
        lines,
        vec![
            connected("/"),
            event("auth", json!([{}])),
            event("message-back", args),
            ack("message-with-ack", json!([binary(b"ack me"), "text"])),
            json!({ "event": "ping-ack", "args": [binary(b"ping")], "acked": true }),
            event("ack-result", json!([{ "bytes": binary(b"pong") }])),
        ]
    );
}

/// Another namespace, a refusal with the middleware's message, an unknown namespace, two
/// namespaces on one connection, a client-side disconnect.
fn namespaces(mode: Mode) {
    let lines = sio(
        mode,
        json!([
            { "connect": { "nsp": "/custom", "auth": { "k": "v" } } },
            { "expect": "auth" },
            { "connect": { "nsp": "/custom", "auth": { "refuse": "go away" } }, "expect_error": true },
            { "connect": { "nsp": "/nope" }, "expect_error": true },
            { "connect": {} },
            { "connect": { "nsp": "/custom", "same_connection": true } },
            { "expect": "auth" },
            { "disconnect": true },
            { "expect_disconnect": true },
            { "on": 0, "disconnect": true },
            { "on": 0, "expect_disconnect": true },
        ]),
    );
    assert_eq!(
        lines,
        vec![
            connected("/custom"),
            event("auth", json!([{ "k": "v" }])),
            json!({ "connect_error": { "message": "go away", "data": null } }),
            json!({ "connect_error": { "message": "Invalid namespace", "data": null } }),
            connected("/"),
            connected("/custom"),
            event("auth", json!([{}])),
            json!({ "disconnect": "io client disconnect" }),
            json!({ "disconnect": "io client disconnect" }),
        ]
    );
}

per_transport!(events_and_acks, binary_both_ways, namespaces);

/// A client of the other parser is closed without connecting, and the server's own clients
/// carry on.
fn mismatch(server: &ExampleServer, mode: Mode, good: &str, bad: &str) {
    let lines = run_node(
        "msgpack.mjs",
        json!({
            "mode": "mismatch",
            "url": server.url(),
            "transports": mode.transports(),
            "good": good,
            "bad": bad,
        }),
    );
    assert_eq!(lines.len(), 2, "{lines:#?}");
    assert_ne!(lines[0]["bad"]["event"], "connect", "{lines:#?}");
    assert_eq!(
        lines[1],
        json!({
            "good": [[{ "n": 1, "b": binary(&[1, 2]) }], ["still here"]],
            "connected": true,
        })
    );
}

fn json_client_on_msgpack_server(mode: Mode) {
    mismatch(&msgpack_server(), mode, "msgpack", "json");
}

fn msgpack_client_on_json_server(mode: Mode) {
    mismatch(
        &ExampleServer::spawn("conformance"),
        mode,
        "json",
        "msgpack",
    );
}

per_transport!(json_client_on_msgpack_server, msgpack_client_on_json_server);

// ---------------------------------------------------------------------------------------------
// The wire, read raw over long-polling

/// The `b` + base64 records of an Engine.IO v4 polling payload, decoded as msgpack packets.
fn records(body: &str) -> Vec<msgpack::MsgPackPacket> {
    body.split('\x1e')
        .map(|r| {
            let b64 = r
                .strip_prefix('b')
                .unwrap_or_else(|| panic!("not binary: {r:?}"));
            msgpack::decode(&Bytes::from(BASE64.decode(b64).expect("base64"))).expect("msgpack")
        })
        .collect()
}

fn b64_record(kind: PacketType, nsp: &str, id: Option<u64>, data: Option<&str>) -> String {
    let bytes = msgpack::encode(kind, nsp, id, data, &[]).unwrap();
    format!("b{}", BASE64.encode(bytes))
}

#[test]
fn raw_polling() {
    let server = msgpack_server();
    let port = server.port;
    let open = request(port, "GET", "/socket.io/?EIO=4&transport=polling", &[], b"");
    let handshake: Value = serde_json::from_str(&open.text()[1..]).unwrap();
    let sid = handshake["sid"].as_str().unwrap().to_owned();
    let target = format!("/socket.io/?EIO=4&transport=polling&sid={sid}");
    let body = b64_record(PacketType::Connect, "/", None, Some(r#"{"a":1}"#));
    let posted = request(port, "POST", &target, &[], body.as_bytes());
    assert_eq!((posted.status, posted.text()), (200, "ok"));
    let mut seen = Vec::new();
    while seen.len() < 2 {
        seen.extend(records(request(port, "GET", &target, &[], b"").text()));
    }
    assert_eq!(seen[0].kind, PacketType::Connect);
    assert_eq!(seen[0].nsp, "/");
    let reply: Value = serde_json::from_str(seen[0].data.as_deref().unwrap()).unwrap();
    assert!(reply["sid"].as_str().is_some_and(|s| s != sid), "{reply}");
    assert_eq!(seen[1].kind, PacketType::Event);
    assert_eq!(seen[1].data.as_deref(), Some(r#"["auth",{"a":1}]"#));
    // A binary event with an ack id, answered inline.
    let mut event = rmp_event_with_bin();
    event.insert(0, 'b');
    let posted = request(port, "POST", &target, &[], event.as_bytes());
    assert_eq!((posted.status, posted.text()), (200, "ok"));
    let answer = records(request(port, "GET", &target, &[], b"").text());
    assert_eq!(answer.len(), 1);
    assert_eq!(answer[0].kind, PacketType::BinaryAck);
    assert_eq!(answer[0].id, Some(9));
    assert_eq!(
        answer[0].data.as_deref(),
        Some(r#"[{"_placeholder":true,"num":0},"x"]"#)
    );
    assert_eq!(answer[0].attachments, [Bytes::from_static(&[7, 8, 9])]);
    // A text packet is not msgpack: the session is closed.
    let posted = request(port, "POST", &target, &[], br#"42["message","x"]"#);
    assert_eq!(posted.status, 200, "{posted:?}");
    let res = request(port, "GET", &target, &[], b"");
    assert!(res.status == 400 || res.text().ends_with('1'), "{res:?}");
}

/// More binary values in one packet than `max_attachments` (16) allows: the connection is
/// closed, as for the JSON parser's attachments; 16 are fine.
#[test]
fn binary_values_are_bounded() {
    let server = msgpack_server();
    let port = server.port;
    for (count, accepted) in [(16, true), (17, false)] {
        let open = request(port, "GET", "/socket.io/?EIO=4&transport=polling", &[], b"");
        let handshake: Value = serde_json::from_str(&open.text()[1..]).unwrap();
        let target = format!(
            "/socket.io/?EIO=4&transport=polling&sid={}",
            handshake["sid"].as_str().unwrap()
        );
        let body = b64_record(PacketType::Connect, "/", None, None);
        assert_eq!(
            request(port, "POST", &target, &[], body.as_bytes()).status,
            200
        );
        let mut seen = Vec::new();
        while seen.len() < 2 {
            seen.extend(records(request(port, "GET", &target, &[], b"").text()));
        }
        let placeholders: Vec<String> = (0..count)
            .map(|n| format!(r#"{{"_placeholder":true,"num":{n}}}"#))
            .collect();
        let data = format!(r#"["message-with-ack",{}]"#, placeholders.join(","));
        let attachments = vec![Bytes::from_static(b"x"); count];
        let bytes = msgpack::encode(
            PacketType::BinaryEvent,
            "/",
            Some(1),
            Some(&data),
            &attachments,
        )
        .unwrap();
        let body = format!("b{}", BASE64.encode(bytes));
        assert_eq!(
            request(port, "POST", &target, &[], body.as_bytes()).status,
            200
        );
        let res = request(port, "GET", &target, &[], b"");
        if accepted {
            let answer = records(res.text());
            assert_eq!(answer[0].kind, PacketType::BinaryAck, "{count}");
            assert_eq!(answer[0].attachments.len(), count);
        } else {
            assert!(res.status == 400 || res.text().ends_with('1'), "{res:?}");
        }
    }
}

/// `{type: 2, data: ["message-with-ack", <bin 7 8 9>, "x"], id: 9, nsp: "/"}` in base64.
fn rmp_event_with_bin() -> String {
    let bytes = msgpack::encode(
        PacketType::BinaryEvent,
        "/",
        Some(9),
        Some(r#"["message-with-ack",{"_placeholder":true,"num":0},"x"]"#),
        &[Bytes::from_static(&[7, 8, 9])],
    )
    .unwrap();
    BASE64.encode(bytes)
}

// ---------------------------------------------------------------------------------------------
// Round trips through the reference encoder and decoder

/// Packets in the reference's shape (`{"$binary"}` for binary values).
fn packets() -> Vec<Value> {
    let many: Vec<Value> = (0..20).map(|i| json!(i * 1000)).collect();
    let wide: serde_json::Map<String, Value> =
        (0..20).map(|i| (format!("key{i}"), json!(i))).collect();
    vec![
        json!({ "type": 0, "nsp": "/" }),
        json!({ "type": 0, "nsp": "/admin", "data": { "token": "abc", "n": 1 } }),
        json!({ "type": 0, "nsp": "/", "data": { "sid": "AbCdEf0123456789" } }),
        json!({ "type": 1, "nsp": "/chat" }),
        json!({
            "type": 2, "nsp": "/", "id": 7,
            "data": ["ev", "héllo 😀", 1, -1, -33, -200, -70_000, -5_000_000_000i64, 127, 128,
                     300, 70_000, 1_099_511_627_776u64, 1.5, -0.25, 1e-7, true, false, null,
                     { "a": { "b": [1, 2] } }, [], {}],
        }),
        json!({ "type": 2, "nsp": "/", "data": ["long", "x".repeat(40), "y".repeat(300), "z".repeat(70_000)] }),
        json!({ "type": 2, "nsp": "/", "data": ["many", many, wide] }),
        json!({
            "type": 2, "nsp": "/custom", "id": 300,
            "data": ["bin", binary(&[1, 2, 3]), { "nested": binary(&pseudo_random_bytes(70_000, 9)) }, binary(&[])],
        }),
        json!({ "type": 3, "nsp": "/", "id": 0, "data": [] }),
        json!({ "type": 3, "nsp": "/x", "id": 70_000, "data": [binary(&[0; 300]), "ok"] }),
        json!({ "type": 4, "nsp": "/", "data": { "message": "no", "data": { "code": 4 } } }),
        json!({ "type": 4, "nsp": "/", "data": "string error" }),
    ]
}

/// The JSON text the runtime should make of a reference packet's data: binary values become
/// placeholders in order; returns it with the binary values.
fn runtime_form(data: &Value, attachments: &mut Vec<Bytes>) -> Value {
    match data {
        Value::Object(o) if o.len() == 1 && o.contains_key("$binary") => {
            let bytes = BASE64.decode(o["$binary"].as_str().unwrap()).unwrap();
            attachments.push(Bytes::from(bytes));
            json!({ "_placeholder": true, "num": attachments.len() - 1 })
        }
        Value::Object(o) => Value::Object(
            o.iter()
                .map(|(k, v)| (k.clone(), runtime_form(v, attachments)))
                .collect(),
        ),
        Value::Array(a) => Value::Array(a.iter().map(|v| runtime_form(v, attachments)).collect()),
        v => v.clone(),
    }
}

/// Node encodes, we decode (checking the runtime form), we encode (byte for byte what Node
/// wrote), Node decodes.
#[test]
fn reference_encoder_to_us_and_back() {
    let packets = packets();
    let encoded = run_node(
        "msgpack.mjs",
        json!({ "mode": "encode", "packets": packets }),
    );
    assert_eq!(encoded.len(), packets.len());
    let mut ours = Vec::new();
    for (p, line) in packets.iter().zip(&encoded) {
        let bytes = BASE64.decode(line["encoded"].as_str().unwrap()).unwrap();
        let decoded =
            msgpack::decode(&Bytes::from(bytes.clone())).unwrap_or_else(|e| panic!("{p}: {e}"));
        let mut attachments = Vec::new();
        let want = p.get("data").map(|d| runtime_form(d, &mut attachments));
        let got: Option<Value> = decoded
            .data
            .as_deref()
            .map(|d| serde_json::from_str(d).unwrap());
        assert_eq!(got, want, "{p}");
        assert_eq!(decoded.attachments, attachments, "{p}");
        assert_eq!(decoded.nsp, p["nsp"].as_str().unwrap());
        assert_eq!(decoded.id, p.get("id").and_then(Value::as_u64));
        let binary_kind = matches!(
            decoded.kind,
            PacketType::BinaryEvent | PacketType::BinaryAck
        );
        assert_eq!(binary_kind, !attachments.is_empty(), "{p}");
        let again = msgpack::encode(
            decoded.kind,
            &decoded.nsp,
            decoded.id,
            decoded.data.as_deref(),
            &decoded.attachments,
        )
        .unwrap();
        assert!(
            again == bytes,
            "{p}: our encoding differs from the reference's"
        );
        ours.push(BASE64.encode(again));
    }
    let decoded = run_node("msgpack.mjs", json!({ "mode": "decode", "messages": ours }));
    for (p, line) in packets.iter().zip(&decoded) {
        assert_eq!(&line["decoded"], p);
    }
}

/// A packet in the runtime's form: type, namespace, ack id, JSON data, attachments.
type Case = (
    PacketType,
    &'static str,
    Option<u64>,
    Option<&'static str>,
    Vec<Bytes>,
);

/// We encode from the runtime's form, Node decodes (and accepts), Node encodes what it
/// decoded, we decode it back to the same runtime form.
#[test]
fn us_to_reference_decoder_and_back() {
    let big = Bytes::from(pseudo_random_bytes(1000, 2));
    let cases: Vec<Case> = vec![
        (
            PacketType::Connect,
            "/",
            None,
            Some(r#"{"pid":"y","sid":"x"}"#),
            vec![],
        ),
        (PacketType::Disconnect, "/a", None, None, vec![]),
        (
            PacketType::Event,
            "/",
            None,
            Some(r#"["e",{"k":[1,-2,3.25,"s",null,true]},9007199254740993]"#),
            vec![],
        ),
        (
            PacketType::BinaryEvent,
            "/b",
            Some(1),
            Some(r#"["e",{"_placeholder":true,"num":0},[{"_placeholder":true,"num":1}]]"#),
            vec![Bytes::from_static(b"one"), big.clone()],
        ),
        (
            PacketType::Ack,
            "/",
            Some(4_294_967_296),
            Some(r#"[]"#),
            vec![],
        ),
        (
            PacketType::BinaryAck,
            "/",
            Some(2),
            Some(r#"[{"_placeholder":true,"num":0}]"#),
            vec![big],
        ),
        (
            PacketType::ConnectError,
            "/",
            None,
            Some(r#"{"message":"Invalid namespace"}"#),
            vec![],
        ),
    ];
    let messages: Vec<String> = cases
        .iter()
        .map(|(kind, nsp, id, data, att)| {
            BASE64.encode(msgpack::encode(*kind, nsp, *id, *data, att).unwrap())
        })
        .collect();
    let decoded = run_node(
        "msgpack.mjs",
        json!({ "mode": "decode", "messages": messages }),
    );
    assert_eq!(decoded.len(), cases.len(), "{decoded:#?}");
    let mut packets = Vec::new();
    for (case, line) in cases.iter().zip(&decoded) {
        let p = line
            .get("decoded")
            .unwrap_or_else(|| panic!("{case:?}: {line}"))
            .clone();
        assert!(p.get("options").is_none());
        packets.push(p);
    }
    // 2^53 + 1 reaches JavaScript as the nearest double.
    assert_eq!(packets[2]["data"][2], json!(9_007_199_254_740_992u64));
    assert_eq!(packets[3]["data"][1], binary(b"one"));
    let encoded = run_node(
        "msgpack.mjs",
        json!({ "mode": "encode", "packets": packets }),
    );
    for (i, (case, line)) in cases.iter().zip(&encoded).enumerate() {
        let bytes = BASE64.decode(line["encoded"].as_str().unwrap()).unwrap();
        let back = msgpack::decode(&Bytes::from(bytes)).unwrap();
        let (kind, nsp, id, data, att) = case;
        assert_eq!(back.kind, *kind, "{case:?}");
        assert_eq!(back.nsp, *nsp);
        assert_eq!(back.id, *id);
        assert_eq!(back.attachments, *att);
        if i == 2 {
            // The double comes back as the integer it is.
            assert_eq!(
                back.data.as_deref(),
                Some(r#"["e",{"k":[1,-2,3.25,"s",null,true]},9007199254740992]"#)
            );
        } else {
            assert_eq!(back.data.as_deref(), *data, "{case:?}");
        }
    }
}

/// What the reference decoder refuses, we refuse too (and the other way round for the
/// messages it accepts).
#[test]
fn refusals_agree_with_the_reference() {
    // Built by hand: {type, nsp, data?, id?} with raw msgpack values.
    fn map(fields: &[(&str, &[u8])]) -> Vec<u8> {
        let mut out = vec![0x80 | fields.len() as u8];
        for (k, v) in fields {
            out.push(0xa0 | k.len() as u8);
            out.extend_from_slice(k.as_bytes());
            out.extend_from_slice(v);
        }
        out
    }
    let arr: &[u8] = &[0x91, 0xa1, b'e'];
    let nsp: &[u8] = &[0xa1, b'/'];
    let cases: Vec<(Vec<u8>, Option<MsgPackError>)> = vec![
        (map(&[("type", &[2]), ("nsp", nsp), ("data", arr)]), None),
        (
            map(&[("type", &[5]), ("nsp", nsp), ("data", arr)]),
            Some(MsgPackError::InvalidType),
        ),
        (
            map(&[("type", &[0xa1, b'2']), ("nsp", nsp), ("data", arr)]),
            Some(MsgPackError::InvalidType),
        ),
        (
            map(&[("type", &[2]), ("data", arr)]),
            Some(MsgPackError::InvalidNamespace),
        ),
        (
            map(&[("type", &[2]), ("nsp", &[0x01]), ("data", arr)]),
            Some(MsgPackError::InvalidNamespace),
        ),
        (
            map(&[("type", &[2]), ("nsp", nsp), ("data", &[0x80])]),
            Some(MsgPackError::InvalidPayload),
        ),
        (
            map(&[("type", &[0]), ("nsp", nsp), ("data", &[0xc0])]),
            Some(MsgPackError::InvalidPayload),
        ),
        (
            map(&[("type", &[1]), ("nsp", nsp), ("data", &[0x80])]),
            Some(MsgPackError::InvalidPayload),
        ),
        (
            map(&[("type", &[4]), ("nsp", nsp), ("data", &[0x01])]),
            Some(MsgPackError::InvalidPayload),
        ),
        (
            map(&[
                ("type", &[2]),
                ("nsp", nsp),
                ("data", arr),
                ("id", &[0xa1, b'1']),
            ]),
            Some(MsgPackError::InvalidId),
        ),
        (
            map(&[
                ("type", &[2]),
                ("nsp", nsp),
                ("data", arr),
                ("id", &[0xcb, 0x3f, 0xf8, 0, 0, 0, 0, 0, 0]),
            ]),
            Some(MsgPackError::InvalidId),
        ),
        (
            map(&[("type", &[1]), ("nsp", nsp), ("data", &[0xd4, 0, 0])]),
            None,
        ),
        (
            map(&[
                ("type", &[0xcb, 0x40, 0, 0, 0, 0, 0, 0, 0]),
                ("nsp", nsp),
                ("data", arr),
            ]),
            None,
        ),
        (
            map(&[
                ("type", &[3]),
                ("nsp", nsp),
                ("data", &[0x90]),
                ("id", &[0x05]),
                ("x", &[0xc0]),
            ]),
            None,
        ),
        (vec![0x93, 1, 2, 3], Some(MsgPackError::InvalidType)),
    ];
    let messages: Vec<String> = cases.iter().map(|(b, _)| BASE64.encode(b)).collect();
    let verdicts = run_node(
        "msgpack.mjs",
        json!({ "mode": "decode", "messages": messages }),
    );
    for ((bytes, want), verdict) in cases.iter().zip(&verdicts) {
        let ours = msgpack::decode(&Bytes::from(bytes.clone()));
        assert_eq!(ours.as_ref().err(), want.as_ref(), "{bytes:02x?}");
        match want {
            None => assert!(verdict.get("decoded").is_some(), "{bytes:02x?}: {verdict}"),
            Some(e) => assert_eq!(verdict["refused"], e.to_string(), "{bytes:02x?}"),
        }
    }
}
