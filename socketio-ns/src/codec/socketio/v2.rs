//! What Socket.IO protocol v4 (spoken by Socket.IO v2 clients, over Engine.IO v3) writes
//! differently from v5: sans-IO helpers.
//!
//! - A CONNECT names its namespace with a query string instead of an auth payload:
//!   `0/chat?token=abc,`; the query is the handshake's auth ([`split_namespace`]).
//! - A CONNECT_ERROR carries the error's data, or else its message as a JSON string:
//!   `4/chat,"not allowed"` ([`connect_error_data`]).
//! - The CONNECT reply has no payload (the socket id is not sent: the client derives it).

use serde_json::{Map, Value};

/// Splits a v4 CONNECT's namespace `/chat?a=1&b=x%20y` into the path and the query as a JSON
/// object of strings (`{"a":"1","b":"x y"}`), which stands for the auth payload. Without a
/// query the auth is `None`. Percent escapes and `+` are decoded as a URL's search
/// parameters; a later repeated key wins, as `Object.fromEntries` does.
pub fn split_namespace(nsp: &str) -> (&str, Option<String>) {
    let Some((path, query)) = nsp.split_once('?') else {
        return (nsp, None);
    };
    let path = if path.is_empty() { "/" } else { path };
    let mut map = Map::new();
    for pair in query.split('&').filter(|p| !p.is_empty()) {
        let (k, v) = pair.split_once('=').unwrap_or((pair, ""));
        map.insert(decode_component(k), Value::String(decode_component(v)));
    }
    (path, Some(Value::Object(map).to_string()))
}

/// The CONNECT_ERROR payload for a v4 client, from the v5 one (`{"message":..,"data":..}`):
/// the data when it is there and not null, else the message as a JSON string, as the
/// reference server sends (`err.data || err.message`). Anything else is passed through.
pub fn connect_error_data(v5: &str) -> String {
    let Ok(Value::Object(mut error)) = serde_json::from_str::<Value>(v5) else {
        return v5.to_owned();
    };
    match error.remove("data") {
        Some(data) if !is_falsy(&data) => data.to_string(),
        _ => match error.remove("message") {
            Some(message) => message.to_string(),
            None => v5.to_owned(),
        },
    }
}

/// JavaScript's falsy values among JSON ones.
fn is_falsy(v: &Value) -> bool {
    match v {
        Value::Null => true,
        Value::Bool(b) => !b,
        Value::Number(n) => n.as_f64() == Some(0.0),
        Value::String(s) => s.is_empty(),
        _ => false,
    }
}

/// Decodes `+` and `%XX` escapes; an invalid escape is kept as written, invalid UTF-8
/// replaced.
fn decode_component(s: &str) -> String {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while let Some(&b) = bytes.get(i) {
        let hex = |j: usize| bytes.get(j).and_then(|&c| (c as char).to_digit(16));
        match b {
            b'+' => out.push(b' '),
            b'%' => match (hex(i + 1), hex(i + 2)) {
                (Some(h), Some(l)) => {
                    out.push((h * 16 + l) as u8);
                    i += 2;
                }
                _ => out.push(b'%'),
            },
            _ => out.push(b),
        }
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn namespaces_and_queries() {
        assert_eq!(split_namespace("/chat"), ("/chat", None));
        assert_eq!(split_namespace("/"), ("/", None));
        let (path, auth) = split_namespace("/chat?token=a%20b+c&x=1&x=2&flag");
        assert_eq!(path, "/chat");
        let auth: Value = serde_json::from_str(&auth.unwrap()).unwrap();
        assert_eq!(
            auth,
            serde_json::json!({"flag": "", "token": "a b c", "x": "2"})
        );
        assert_eq!(
            split_namespace("?a=%zz%"),
            ("/", Some(r#"{"a":"%zz%"}"#.into()))
        );
        assert_eq!(split_namespace("/x?"), ("/x", Some("{}".into())));
        assert_eq!(
            split_namespace("/x?k=%C3%A9%FF"),
            ("/x", Some("{\"k\":\"é\u{fffd}\"}".into()))
        );
    }

    #[test]
    fn connect_errors() {
        assert_eq!(connect_error_data(r#"{"message":"no"}"#), r#""no""#);
        assert_eq!(
            connect_error_data(r#"{"message":"no","data":{"code":4}}"#),
            r#"{"code":4}"#
        );
        assert_eq!(
            connect_error_data(r#"{"message":"no","data":null}"#),
            r#""no""#
        );
        assert_eq!(
            connect_error_data(r#"{"message":"no","data":0}"#),
            r#""no""#
        );
        assert_eq!(connect_error_data("[1]"), "[1]");
        assert_eq!(connect_error_data("{}"), "{}");
    }
}
