//! [`Handshake`]: what a client sent when it connected.

use std::borrow::Cow;
use std::fmt;
use std::net::SocketAddr;
use std::sync::Arc;

use serde::de::DeserializeOwned;

use super::instance::NamespaceInstance;
use crate::connection::{Conn, Socket};

/// What a client sent when it connected: the HTTP handshake and the CONNECT auth payload.
#[derive(Clone)]
pub struct Handshake {
    conn: Conn,
    ns: Arc<NamespaceInstance>,
    auth: Option<Arc<str>>,
}

impl fmt::Debug for Handshake {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Handshake")
            .field("uri", self.uri())
            .field("namespace", &self.namespace())
            .field("auth", &self.auth)
            .finish()
    }
}

impl Handshake {
    pub(crate) fn new(socket: &Socket, ns: &Arc<NamespaceInstance>) -> Self {
        Handshake {
            conn: socket.conn.clone(),
            ns: ns.clone(),
            auth: socket.auth.get().cloned(),
        }
    }

    /// The headers of the first HTTP request of the connection.
    pub fn headers(&self) -> &http::HeaderMap {
        self.conn.headers()
    }

    /// The URI of the first HTTP request.
    pub fn uri(&self) -> &http::Uri {
        self.conn.uri()
    }

    /// The raw query string of the first HTTP request.
    pub fn query(&self) -> Option<&str> {
        self.conn.uri().query()
    }

    /// One query parameter, percent-decoded (and `+` read as a space), as browsers'
    /// `URLSearchParams` read it; the first one when it is repeated. A parameter without `=`
    /// is the empty string. [`Handshake::query`] has the raw query string.
    pub fn query_param(&self, name: &str) -> Option<Cow<'_, str>> {
        self.query()?
            .split('&')
            .map(|p| p.split_once('=').unwrap_or((p, "")))
            .find(|(k, _)| decode_component(k) == name)
            .map(|(_, v)| decode_component(v))
    }

    /// The client's address, when known.
    pub fn remote_addr(&self) -> Option<SocketAddr> {
        self.conn.remote_addr()
    }

    /// The raw JSON of the CONNECT auth payload.
    pub fn auth_raw(&self) -> Option<&str> {
        self.auth.as_deref()
    }

    /// The auth payload decoded into `A` (`null` when absent).
    pub fn auth<A: DeserializeOwned>(&self) -> Result<A, serde_json::Error> {
        serde_json::from_str(self.auth.as_deref().unwrap_or("null"))
    }

    /// The namespace path.
    pub fn namespace(&self) -> &str {
        &self.ns.path
    }

    /// A parameter of a dynamic namespace (`id` in `/game/{id}`).
    pub fn param(&self, name: &str) -> Option<&str> {
        self.ns.param(name)
    }

    /// The Engine.IO session id of the connection.
    pub fn engine_id(&self) -> &str {
        self.conn.sid()
    }
}

/// `application/x-www-form-urlencoded` decoding of one query component: `+` is a space, `%XX`
/// a byte; an invalid escape is kept as written, invalid UTF-8 becomes U+FFFD.
fn decode_component(s: &str) -> Cow<'_, str> {
    if !s.contains(['%', '+']) {
        return Cow::Borrowed(s);
    }
    let hex = |b: u8| char::from(b).to_digit(16);
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'+' => out.push(b' '),
            b'%' if i + 2 < bytes.len() => match (hex(bytes[i + 1]), hex(bytes[i + 2])) {
                (Some(hi), Some(lo)) => {
                    out.push((hi * 16 + lo) as u8);
                    i += 2;
                }
                _ => out.push(b'%'),
            },
            b => out.push(b),
        }
        i += 1;
    }
    Cow::Owned(
        String::from_utf8(out)
            .unwrap_or_else(|e| String::from_utf8_lossy(e.as_bytes()).into_owned()),
    )
}

#[cfg(test)]
mod tests {
    use super::decode_component;

    #[test]
    fn query_components_are_percent_decoded() {
        assert_eq!(decode_component("plain"), "plain");
        assert_eq!(decode_component("J%C3%BCrgen+M%20x"), "Jürgen M x");
        assert_eq!(decode_component("100%"), "100%");
        assert_eq!(decode_component("%zz%4"), "%zz%4");
        assert_eq!(decode_component("%FF"), "\u{FFFD}");
    }
}
