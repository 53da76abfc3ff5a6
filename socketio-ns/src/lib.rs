//! # socketio-ns
//!
//! Socket.IO v5 servers (Engine.IO v4 underneath) written the way gevent-socketio's
//! `BaseNamespace` let Python programmers write them: one struct per namespace, one method
//! per event. The `#[namespace]` attribute turns an `impl` block's `on_*` / `recv_*` methods
//! into a type-checked dispatch `match` and an ACL table.
//!
//! The protocol layers are usable on their own: [`engine`] is a complete Engine.IO server
//! for raw messages, and [`protocol`] holds the sans-IO Socket.IO codecs.

#![cfg_attr(docsrs, feature(doc_cfg))]

pub mod adapter;
pub mod engine;
pub mod protocol;

mod broadcast;
mod client;
mod middleware;
mod namespace;
mod ns;
mod serve;
mod server;
mod socket;
mod socket_ref;

#[doc(hidden)]
pub mod __private {
    pub use crate::private::*;
}
mod private;

pub use broadcast::{BroadcastAcks, BroadcastOperator, IntoRooms};
pub use middleware::Middleware;
pub use namespace::{
    Acl, ConnectError, Context, DisconnectReason, EmitError, Event, HandlerError, Handshake,
    MethodId, Namespace, NoMethods, RawArgs, Session, UnknownMethod, default_call_method, default_call_method_with_acl,
    default_process_packet,
};
pub use protocol::Args;
pub use server::{Builder, Io, Server, SocketIoService};
pub use socket::{AckError, AckResponse};
pub use socket_ref::SocketRef;

pub use bytes::Bytes;

#[doc(inline)]
pub use socketio_ns_derive::namespace;
