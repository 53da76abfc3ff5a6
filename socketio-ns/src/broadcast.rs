//! Broadcast operators: `to`, `within`, `except`, `local`, `volatile`, `timeout`, composable.

use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use crate::adapter::{BroadcastOptions, Packet, Room};
use crate::namespace::EmitError;
use crate::ns::{IoShared, NsShared};
use crate::protocol::Args;
use crate::protocol::encode;

/// One or several room names.
pub trait IntoRooms {
    /// The rooms.
    fn into_rooms(self) -> Vec<Room>;
}

impl IntoRooms for &'static str {
    fn into_rooms(self) -> Vec<Room> {
        vec![Room::Borrowed(self)]
    }
}

impl IntoRooms for String {
    fn into_rooms(self) -> Vec<Room> {
        vec![Room::Owned(self)]
    }
}

impl IntoRooms for &String {
    fn into_rooms(self) -> Vec<Room> {
        vec![Room::Owned(self.clone())]
    }
}

impl IntoRooms for Room {
    fn into_rooms(self) -> Vec<Room> {
        vec![self]
    }
}

impl<R: IntoRooms> IntoRooms for Vec<R> {
    fn into_rooms(self) -> Vec<Room> {
        self.into_iter().flat_map(IntoRooms::into_rooms).collect()
    }
}

impl<R: IntoRooms, const N: usize> IntoRooms for [R; N] {
    fn into_rooms(self) -> Vec<Room> {
        self.into_iter().flat_map(IntoRooms::into_rooms).collect()
    }
}

/// A selection of sockets of one namespace, built by chaining operators, ending in an emit.
#[must_use = "a broadcast operator does nothing until `emit` is awaited"]
#[derive(Clone)]
pub struct BroadcastOperator {
    pub(crate) ns: Arc<NsShared>,
    pub(crate) io: Arc<IoShared>,
    pub(crate) opts: BroadcastOptions,
    pub(crate) timeout: Option<Duration>,
}

impl fmt::Debug for BroadcastOperator {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("BroadcastOperator")
            .field("ns", &self.ns.path)
            .field("opts", &self.opts)
            .field("timeout", &self.timeout)
            .finish()
    }
}

impl BroadcastOperator {
    pub(crate) fn new(ns: Arc<NsShared>, io: Arc<IoShared>) -> Self {
        BroadcastOperator {
            ns,
            io,
            opts: BroadcastOptions::default(),
            timeout: None,
        }
    }

    /// Adds rooms to target (sockets in any of them).
    pub fn to(mut self, rooms: impl IntoRooms) -> Self {
        for r in rooms.into_rooms() {
            if !self.opts.rooms.contains(&r) {
                self.opts.rooms.push(r);
            }
        }
        self
    }

    /// Same as [`BroadcastOperator::to`].
    pub fn within(self, rooms: impl IntoRooms) -> Self {
        self.to(rooms)
    }

    /// Excludes the sockets in these rooms (a socket id excludes that socket).
    pub fn except(mut self, rooms: impl IntoRooms) -> Self {
        for r in rooms.into_rooms() {
            if !self.opts.except.contains(&r) {
                self.opts.except.push(r);
            }
        }
        self
    }

    /// Only this process's sockets.
    pub fn local(mut self) -> Self {
        self.opts.local = true;
        self
    }

    /// Drops the packet for sockets whose transport is backed up instead of queueing it.
    pub fn volatile(mut self) -> Self {
        self.opts.volatile = true;
        self
    }

    /// The ack timeout for [`BroadcastOperator::emit_with_ack`].
    pub fn timeout(mut self, timeout: Duration) -> Self {
        self.timeout = Some(timeout);
        self
    }

    /// The options this operator selects with.
    pub fn options(&self) -> &BroadcastOptions {
        &self.opts
    }

    /// Emits `event` to every selected socket. The packet is encoded once and shared.
    pub async fn emit<A: Args>(self, event: &str, args: A) -> Result<(), EmitError> {
        let packet = encode::event(&self.ns.path, event, &args, None)
            .map_err(|e| EmitError::Serialize(e.to_string()))?;
        self.ns.adapter.broadcast(Packet(packet), self.opts).await?;
        Ok(())
    }
}
