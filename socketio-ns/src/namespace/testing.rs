//! Handlers tested without a server: a [`Context`] over an in-memory socket.
//!
//! Not a stable API (hidden from the docs): for this crate's tests and benchmarks, and for
//! users who want to unit-test a namespace's handlers.
//!
//! ```
//! use socketio_ns::testing::TestSocket;
//! use socketio_ns::{Context, namespace};
//!
//! #[derive(Default)]
//! struct Echo;
//!
//! #[namespace("/echo")]
//! impl Echo {
//!     fn on_ping(&mut self, cx: &mut Context<Self>, n: u32) -> u32 {
//!         cx.join("pinged");
//!         n + 1
//!     }
//! }
//!
//! # tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap().block_on(async {
//! let mut t = TestSocket::new(Echo);
//! t.connect(None).await.unwrap();
//! t.event(r#"2/echo,7["ping",41]"#).await;
//! assert_eq!(t.sent(), [r#"43/echo,7[42]"#]);
//! assert!(t.rooms().iter().any(|r| r == "pinged"));
//! # });
//! ```

use std::fmt;
use std::sync::Arc;
use std::sync::atomic::AtomicBool;

use bytes::Bytes;

use super::actor::Bound;
use super::instance::NamespaceInstance;
use super::registry::{Runtime, RuntimeConfig, StateMap};
use super::{ConnectError, Context, Namespace};
use crate::adapter::{LocalAdapterFactory, Room};
use crate::codec::engine::packet::Frame;
use crate::codec::socketio::Event;
use crate::connection::{Connection, ConnectionConfig, DisconnectReason, Socket};
use crate::engine::{EngineSession, HandshakeInfo, Transport};

/// One socket of namespace `T` on a connection that exists only in memory: call its handlers
/// as the actor would, and read what they sent.
pub struct TestSocket<T: Namespace> {
    b: Bound<T>,
    socket: Arc<Socket>,
    ns: Arc<NamespaceInstance>,
}

impl<T: Namespace> fmt::Debug for TestSocket<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TestSocket")
            .field("context", &self.b.cx)
            .finish_non_exhaustive()
    }
}

impl<T: Namespace> TestSocket<T> {
    /// A socket of `value`'s namespace (at `T::PATH`), not connected yet, on a server with
    /// the default options. Must be called inside a tokio runtime.
    pub fn new(value: T) -> Self {
        let rt = Arc::new(Runtime::new(
            RuntimeConfig::default(),
            Vec::new(),
            StateMap::default(),
            Vec::new(),
            Arc::new(LocalAdapterFactory),
        ));
        let ns = NamespaceInstance::new(
            T::PATH,
            Vec::new(),
            &LocalAdapterFactory,
            Arc::new(AtomicBool::new(false)),
        );
        let handshake = HandshakeInfo {
            uri: "/socket.io/?EIO=4&transport=websocket"
                .parse()
                .expect("a valid URI"),
            headers: http::HeaderMap::new(),
            remote: None,
        };
        let conn = EngineSession::new(
            crate::engine::new_sid().into_boxed_str(),
            Connection::default(),
            handshake,
            Transport::WebSocket,
            usize::MAX,
            usize::MAX,
            None,
        );
        let config = ConnectionConfig {
            mailbox_limit: usize::MAX,
            ..ConnectionConfig::default()
        };
        let socket = Connection::attach(&conn, ns.path.clone(), &config)
            .expect("a new connection has no socket yet");
        let cx = Context::new(socket.clone(), ns.clone(), rt);
        TestSocket {
            b: Bound { value, cx },
            socket,
            ns,
        }
    }

    /// Connects: `initialize`, the initial ACL, then `recv_connect` with `auth` (raw JSON),
    /// as the actor does. On success the socket is in its namespace and what `recv_connect`
    /// emitted is sent; on refusal, nothing is.
    pub async fn connect(&mut self, auth: Option<&str>) -> Result<(), ConnectError> {
        if let Some(auth) = auth {
            let _ = self.socket.auth.set(auth.into());
        }
        let rt = self.b.cx.core.rt.clone();
        super::actor::connect(&mut self.b, &rt, &[], false).await?;
        self.ns.insert(self.socket.clone());
        self.socket.set_connected(true);
        for packet in self.b.cx.core.release_held() {
            let _ = self.socket.send(&packet);
        }
        Ok(())
    }

    /// Handles one EVENT packet, written as the client sends it without the Engine.IO prefix
    /// (`2["login","ann"]`, `2/chat,7["add",1,2]` with ack id 7; a binary event's `5..`
    /// header with `attachments`), through [`Namespace::process_packet`] as the actor does.
    ///
    /// # Panics
    /// When `packet` is not an EVENT, or its attachment count differs.
    pub async fn event_with(&mut self, packet: &str, attachments: Vec<Bytes>) {
        let event = Event::from_text(packet, attachments).expect("an EVENT packet");
        self.b.cx.core.begin_event(Some(&event));
        self.b.value.process_packet(&mut self.b.cx, event).await;
        self.b.cx.core.begin_event(None);
    }

    /// [`TestSocket::event_with`] without attachments.
    pub async fn event(&mut self, packet: &str) {
        self.event_with(packet, Vec::new()).await;
    }

    /// Leaves the namespace as the actor does: jobs killed, `recv_disconnect` run, rooms left.
    pub async fn disconnect(&mut self, reason: DisconnectReason) {
        self.socket.set_connected(false);
        self.b.cx.kill_local_jobs();
        self.b.value.disconnect(&mut self.b.cx, reason).await;
        self.b.cx.kill_local_jobs();
        self.ns.remove(&self.socket.id);
    }

    /// The frames queued for the client since the last call, text or binary.
    pub fn sent_frames(&mut self) -> Vec<Frame> {
        let mut frames = Vec::new();
        self.socket.conn.drain(&mut frames);
        frames
    }

    /// The text frames queued for the client since the last call, Engine.IO prefix and all
    /// (`42["echo","hi"]`); binary frames are left out.
    pub fn sent(&mut self) -> Vec<String> {
        self.sent_frames()
            .into_iter()
            .filter_map(|f| match f {
                Frame::Text(t) => Some(t.as_str().to_owned()),
                Frame::Binary(_) => None,
            })
            .collect()
    }

    /// The rooms the socket is in, its own id room first.
    pub fn rooms(&self) -> Vec<Room> {
        self.b.cx.rooms()
    }

    /// Whether a handler asked to leave the namespace (`cx.disconnect()`).
    pub fn is_leaving(&self) -> bool {
        self.b.cx.core.leaving.is_some()
    }

    /// The context, as handlers get it.
    pub fn context(&mut self) -> &mut Context<T> {
        &mut self.b.cx
    }

    /// The namespace's value.
    pub fn value(&mut self) -> &mut T {
        &mut self.b.value
    }
}
