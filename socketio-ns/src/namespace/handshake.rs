//! [`Handshake`]: what a client sent when it connected.

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

    /// One query parameter, as sent (not percent-decoded).
    pub fn query_param(&self, name: &str) -> Option<&str> {
        self.query()?
            .split('&')
            .filter_map(|p| p.split_once('='))
            .find(|(k, _)| *k == name)
            .map(|(_, v)| v)
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
