//! The JSON shapes of the Socket.IO cluster protocol as `@socket.io/redis-adapter` 8.3 writes
//! them: request types, and sockets as `fetchSockets` reports them.

use std::net::{IpAddr, SocketAddr};

use serde_json::{Map, Value, json};

use crate::adapter::{BroadcastOptions, HandshakeData, Room, SocketInfo};

/// Request and response types (`RequestType` in the Node adapter; the numbers are the wire).
pub(super) mod kind {
    /// Socket ids of rooms (an older API, still answered).
    pub(crate) const SOCKETS: u64 = 0;
    pub(crate) const ALL_ROOMS: u64 = 1;
    pub(crate) const REMOTE_JOIN: u64 = 2;
    pub(crate) const REMOTE_LEAVE: u64 = 3;
    pub(crate) const REMOTE_DISCONNECT: u64 = 4;
    pub(crate) const REMOTE_FETCH: u64 = 5;
    pub(crate) const SERVER_SIDE_EMIT: u64 = 6;
    pub(crate) const BROADCAST: u64 = 7;
    pub(crate) const BROADCAST_CLIENT_COUNT: u64 = 8;
    pub(crate) const BROADCAST_ACK: u64 = 9;
}

/// `{rooms, except}` as requests carry them.
pub(super) fn opts_json(opts: &BroadcastOptions) -> Value {
    json!({ "rooms": opts.rooms, "except": opts.except })
}

/// Room names from a JSON array (numbers, which Node allows as rooms, as their text).
pub(super) fn rooms_of(v: Option<&Value>) -> Vec<Room> {
    let Some(Value::Array(items)) = v else {
        return Vec::new();
    };
    items
        .iter()
        .filter_map(|r| match r {
            Value::String(s) => Some(Room::Owned(s.clone())),
            Value::Number(n) => Some(Room::Owned(n.to_string())),
            _ => None,
        })
        .collect()
}

/// The `{rooms, except}` of a request.
pub(super) fn opts_of(v: Option<&Value>) -> BroadcastOptions {
    BroadcastOptions {
        rooms: rooms_of(v.and_then(|o| o.get("rooms"))),
        except: rooms_of(v.and_then(|o| o.get("except"))),
        ..Default::default()
    }
}

/// A local socket as a `REMOTE_FETCH` response lists it, in the shape of a Node socket's
/// `handshake` (what we know of it: no connection time).
pub(super) fn socket_json(s: &SocketInfo) -> Value {
    let h = &s.handshake;
    let mut headers = Map::new();
    for (name, value) in &h.headers {
        let name = name.to_ascii_lowercase();
        match headers.get_mut(&name) {
            Some(Value::String(prev)) => {
                prev.push_str(", ");
                prev.push_str(value);
            }
            _ => {
                headers.insert(name, Value::String(value.clone()));
            }
        }
    }
    let query: Map<String, Value> = h
        .query()
        .unwrap_or("")
        .split('&')
        .filter(|p| !p.is_empty())
        .map(|p| {
            let (k, v) = p.split_once('=').unwrap_or((p, ""));
            (k.to_owned(), Value::String(v.to_owned()))
        })
        .collect();
    let auth = h
        .auth
        .as_deref()
        .and_then(|a| serde_json::from_str(a).ok())
        .unwrap_or_else(|| json!({}));
    json!({
        "id": s.id,
        "handshake": {
            "headers": headers,
            "address": h.address.map(|a| a.ip().to_string()),
            "xdomain": h.header("origin").is_some(),
            "secure": false,
            "url": h.url,
            "query": query,
            "auth": auth,
        },
        "rooms": s.rooms,
        "data": {},
    })
}

/// A socket of another process, from a `REMOTE_FETCH` response. Fields this crate does not
/// model are dropped; the Engine.IO id, which Node does not report, is empty.
pub(super) fn socket_of(v: &Value, ns: &str) -> Option<SocketInfo> {
    let id = v.get("id")?.as_str()?.to_owned();
    let h = v.get("handshake");
    let field = |k: &str| h.and_then(|h| h.get(k));
    let headers = match field("headers") {
        Some(Value::Object(m)) => m
            .iter()
            .map(|(k, v)| {
                let value = match v {
                    Value::String(s) => s.clone(),
                    Value::Array(items) => items
                        .iter()
                        .filter_map(Value::as_str)
                        .collect::<Vec<_>>()
                        .join(", "),
                    other => other.to_string(),
                };
                (k.clone(), value)
            })
            .collect(),
        _ => Vec::new(),
    };
    let address = field("address").and_then(Value::as_str).and_then(|a| {
        a.parse::<SocketAddr>()
            .ok()
            .or_else(|| a.parse::<IpAddr>().ok().map(|ip| SocketAddr::new(ip, 0)))
    });
    Some(SocketInfo {
        id,
        ns: ns.to_owned(),
        rooms: rooms_of(v.get("rooms")),
        handshake: HandshakeData {
            url: field("url")
                .and_then(Value::as_str)
                .unwrap_or_default()
                .to_owned(),
            headers,
            address,
            auth: field("auth").map(Value::to_string),
            engine_id: String::new(),
        },
    })
}
