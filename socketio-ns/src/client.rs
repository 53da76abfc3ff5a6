//! The Socket.IO layer over one Engine.IO connection: decodes packets, joins binary
//! attachments, routes each packet to its socket-namespace.

use std::sync::{Arc, Mutex};

use bytes::Bytes;
use tokio::task::AbortHandle;
use tokio_tungstenite::tungstenite::Utf8Bytes;

use crate::codec::socketio::encode;
use crate::codec::socketio::packet::{self, PacketType, SocketIoPacket};
use crate::codec::socketio::{Event, Received};
use crate::engine::{CloseReason, EngineHandler, EngineSession, Message};
use crate::namespace::{Cmd, DisconnectReason, Session};
use crate::ns::IoShared;
use crate::socket::{AckResponse, SocketShared};

/// Event names a client may not emit.
const RESERVED: &[&str] = &[
    "connect",
    "connect_error",
    "disconnect",
    "disconnecting",
    "newListener",
    "removeListener",
];

/// Per-connection Socket.IO state, kept inside the Engine.IO session.
#[derive(Default)]
pub(crate) struct ClientData {
    state: Mutex<ClientState>,
    /// Data shared by every namespace of this connection.
    pub(crate) session: Session,
}

#[derive(Default)]
struct ClientState {
    sockets: Vec<Arc<SocketShared>>,
    partial: Option<Partial>,
    connect_timer: Option<AbortHandle>,
}

/// A binary packet waiting for its attachments.
struct Partial {
    text: Utf8Bytes,
    kind: PacketType,
    expected: usize,
    attachments: Vec<Bytes>,
}

impl ClientData {
    fn lock(&self) -> std::sync::MutexGuard<'_, ClientState> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn socket(&self, nsp: &str) -> Option<Arc<SocketShared>> {
        self.lock().sockets.iter().find(|s| s.nsp() == nsp).cloned()
    }

    /// Forgets a socket that left its namespace; returns whether none is left.
    pub(crate) fn remove(&self, socket: &Arc<SocketShared>) -> bool {
        let mut st = self.lock();
        st.sockets.retain(|s| !Arc::ptr_eq(s, socket));
        st.sockets.is_empty()
    }
}

/// Closes the connection unless it joins a namespace within `timeout`. Armed when the
/// connection opens and again whenever its last namespace goes.
pub(crate) fn arm_connect_timer(conn: &Conn, timeout: std::time::Duration) {
    let weak = Arc::downgrade(&conn.inner);
    let timer = tokio::spawn(async move {
        tokio::time::sleep(timeout).await;
        if let Some(inner) = weak.upgrade() {
            let conn = EngineSession { inner };
            if conn.data().lock().sockets.is_empty() {
                tracing::debug!(sid = conn.sid(), "no namespace joined in time, closing");
                conn.close(CloseReason::ServerClose);
            }
        }
    });
    if let Some(old) = conn
        .data()
        .lock()
        .connect_timer
        .replace(timer.abort_handle())
    {
        old.abort();
    }
}

/// The [`EngineHandler`] that speaks Socket.IO.
pub(crate) struct IoHandler {
    pub(crate) io: Arc<IoShared>,
}

type Conn = EngineSession<ClientData>;

impl IoHandler {
    fn protocol_error(&self, conn: &Conn, what: &str) {
        tracing::debug!(
            sid = conn.sid(),
            what,
            "invalid Socket.IO packet, closing the connection"
        );
        conn.close(CloseReason::TransportError);
    }

    fn on_text(&self, conn: &Conn, text: Utf8Bytes) {
        if conn.data().lock().partial.is_some() {
            return self.protocol_error(conn, "text packet while waiting for attachments");
        }
        let p = match packet::decode(text.as_str(), self.io.config.max_attachments) {
            Ok(p) => p,
            Err(e) => return self.protocol_error(conn, &e.to_string()),
        };
        match p.kind {
            PacketType::Connect => self.connect(conn, p.nsp, p.data),
            PacketType::Disconnect => {
                if let Some(s) = conn.data().socket(p.nsp) {
                    let _ = s.mailbox.push(Cmd::Disconnect(
                        DisconnectReason::ClientNamespaceDisconnect,
                        true,
                    ));
                }
            }
            PacketType::Event | PacketType::Ack => self.dispatch(conn, &text, &p, Vec::new()),
            PacketType::BinaryEvent | PacketType::BinaryAck => {
                conn.data().lock().partial = Some(Partial {
                    text: text.clone(),
                    kind: p.kind,
                    expected: p.attachments,
                    attachments: Vec::with_capacity(p.attachments),
                });
            }
            PacketType::ConnectError => self.protocol_error(conn, "CONNECT_ERROR from a client"),
        }
    }

    fn on_binary(&self, conn: &Conn, data: Bytes) {
        let done = {
            let mut st = conn.data().lock();
            let Some(partial) = st.partial.as_mut() else {
                drop(st);
                return self.protocol_error(conn, "unexpected binary attachment");
            };
            partial.attachments.push(data);
            if partial.attachments.len() == partial.expected {
                st.partial.take()
            } else {
                None
            }
        };
        if let Some(partial) = done {
            let p = match packet::decode(partial.text.as_str(), self.io.config.max_attachments) {
                Ok(p) => p,
                Err(e) => return self.protocol_error(conn, &e.to_string()),
            };
            debug_assert_eq!(p.kind, partial.kind);
            self.dispatch(conn, &partial.text, &p, partial.attachments);
        }
    }

    /// An EVENT or ACK with all its attachments.
    fn dispatch(
        &self,
        conn: &Conn,
        text: &Utf8Bytes,
        p: &SocketIoPacket<'_>,
        attachments: Vec<Bytes>,
    ) {
        let data = p.data.unwrap_or("");
        match p.kind {
            PacketType::Event | PacketType::BinaryEvent => {
                let ev = match packet::parse_event(data) {
                    Ok(ev) => ev,
                    Err(e) => return self.protocol_error(conn, &e.to_string()),
                };
                if RESERVED.contains(&ev.name.as_ref()) {
                    return self.protocol_error(conn, "reserved event name");
                }
                let Some(socket) = conn.data().socket(p.nsp) else {
                    tracing::debug!(nsp = p.nsp, "event for a namespace not joined, ignored");
                    return;
                };
                let event = Event::new(text, ev, attachments, p.id);
                if socket.mailbox.push(Cmd::Event(event)).is_err() {
                    tracing::warn!(sid = %socket.id, "too many pending events, closing the connection");
                    conn.close(CloseReason::TransportError);
                }
            }
            _ => {
                let args = match packet::parse_ack(data) {
                    Ok(a) => a,
                    Err(e) => return self.protocol_error(conn, &e.to_string()),
                };
                let Some(id) = p.id else {
                    return self.protocol_error(conn, "ACK without id");
                };
                let Some(socket) = conn.data().socket(p.nsp) else {
                    return;
                };
                let answer = AckResponse::new(Received::new(text, &args, attachments));
                socket.resolve_ack(id, answer);
            }
        }
    }

    fn connect(&self, conn: &Conn, nsp: &str, auth: Option<&str>) {
        let Some((entry, ns)) = self.io.resolve(nsp) else {
            tracing::debug!(nsp, "CONNECT to an unknown namespace");
            let _ = conn.send_frame(encode::simple(
                PacketType::ConnectError,
                nsp,
                Some(r#"{"message":"Invalid namespace"}"#),
            ));
            return;
        };
        let socket = Arc::new(SocketShared::new(
            ns,
            conn.clone(),
            self.io.config.mailbox_limit,
        ));
        {
            let mut st = conn.data().lock();
            if st.sockets.iter().any(|s| s.nsp() == nsp) {
                tracing::debug!(nsp, "CONNECT to a namespace already joined, ignored");
                return;
            }
            st.sockets.push(socket.clone());
            if let Some(t) = st.connect_timer.take() {
                t.abort();
            }
        }
        entry.start(socket, self.io.clone(), auth.map(str::to_owned));
    }
}

impl EngineHandler for IoHandler {
    type Data = ClientData;

    fn on_open(&self, conn: &Conn) {
        arm_connect_timer(conn, self.io.config.connect_timeout);
    }

    fn on_message(&self, conn: &Conn, message: Message) {
        match message {
            Message::Text(t) => self.on_text(conn, t),
            Message::Binary(b) => self.on_binary(conn, b),
        }
    }

    fn on_close(&self, conn: &Conn, reason: CloseReason) {
        let sockets = {
            let mut st = conn.data().lock();
            if let Some(t) = st.connect_timer.take() {
                t.abort();
            }
            st.partial = None;
            std::mem::take(&mut st.sockets)
        };
        let reason = DisconnectReason::from_close(reason);
        for s in sockets {
            s.clear_acks();
            let _ = s.mailbox.push(Cmd::Disconnect(reason, true));
        }
    }
}
