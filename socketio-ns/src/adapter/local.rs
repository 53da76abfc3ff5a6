//! [`LocalAdapter`]: rooms in this process's memory.

use std::collections::{HashMap, HashSet};
use std::fmt;
use std::sync::{Arc, OnceLock, RwLock};
use std::time::Duration;

use super::{
    AckSink, Adapter, AdapterError, AdapterFactory, BoxFuture, BroadcastOptions, BroadcastPacket,
    ResumeFn, Room, Selection, SessionStore, SessionToPersist, Sid, SocketEmitter, SocketInfo,
    StoreConfig,
};

/// The default adapter: rooms in this process's memory, every operation applied to this
/// process's sockets.
///
/// A multi-process adapter can wrap one and delegate to it the part of each operation that
/// concerns this process.
///
/// With connection state recovery enabled ([`Adapter::enable_recovery`]) it keeps the sessions
/// and stamped packets in a [`SessionStore`].
///
/// Lock order: the recovery store, the rooms (read), then whatever the emitter takes; room
/// changes take the rooms' write lock alone, and the emitter is never called under it.
pub struct LocalAdapter {
    sockets: Arc<dyn SocketEmitter>,
    rooms: RwLock<Rooms>,
    recovery: OnceLock<Arc<SessionStore>>,
}

impl fmt::Debug for LocalAdapter {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("LocalAdapter")
            .field("namespace", &self.sockets.path())
            .field("rooms", &self.read().members.len())
            .finish()
    }
}

#[derive(Debug, Default)]
struct Rooms {
    /// room -> sockets in it (socket id rooms are implicit, never stored).
    members: HashMap<Room, HashSet<Sid>>,
    /// socket -> rooms it joined.
    joined: HashMap<Sid, HashSet<Room>>,
}

/// Rooms looked up once for a walk over many sockets: each name with its members (none are
/// stored for a socket id room), so that testing a socket hashes no room name.
type Resolved<'a> = Vec<(&'a str, Option<&'a HashSet<Sid>>)>;

/// Whether `sid` is in any of `rooms` (its own id room included).
#[inline]
fn in_any(rooms: &[(&str, Option<&HashSet<Sid>>)], sid: &Sid) -> bool {
    rooms
        .iter()
        .any(|(name, members)| *name == &**sid || members.is_some_and(|m| m.contains(sid)))
}

impl Rooms {
    /// `rooms` with their members, for [`in_any`].
    fn resolve<'a>(&'a self, rooms: &'a [Room]) -> Resolved<'a> {
        rooms.iter().map(|r| (&**r, self.members.get(r))).collect()
    }

    fn add(&mut self, sid: &Sid, rooms: &[Room]) {
        for r in rooms {
            if **r == **sid {
                continue;
            }
            self.members
                .entry(r.clone())
                .or_default()
                .insert(sid.clone());
            self.joined
                .entry(sid.clone())
                .or_default()
                .insert(r.clone());
        }
    }

    fn del(&mut self, sid: &Sid, rooms: &[Room]) {
        for room in rooms {
            if let Some(m) = self.members.get_mut(room) {
                m.remove(sid);
                if m.is_empty() {
                    self.members.remove(room);
                }
            }
            if let Some(j) = self.joined.get_mut(sid) {
                j.remove(room);
                if j.is_empty() {
                    self.joined.remove(sid);
                }
            }
        }
    }

    /// The rooms of a socket, its own id room first.
    fn of(&self, sid: &Sid) -> Vec<Room> {
        let joined = self.joined.get(sid);
        let mut out = Vec::with_capacity(1 + joined.map_or(0, HashSet::len));
        out.push(Room::Owned(sid.to_string()));
        out.extend(joined.into_iter().flatten().cloned());
        out
    }
}

/// Builds [`LocalAdapter`]s.
#[derive(Debug, Default, Clone, Copy)]
pub struct LocalAdapterFactory;

impl AdapterFactory for LocalAdapterFactory {
    fn create(&self, sockets: Arc<dyn SocketEmitter>) -> Arc<dyn Adapter> {
        Arc::new(LocalAdapter::new(sockets))
    }
}

impl LocalAdapter {
    /// An adapter for the sockets `sockets` reaches.
    pub fn new(sockets: Arc<dyn SocketEmitter>) -> Self {
        LocalAdapter {
            sockets,
            rooms: RwLock::new(Rooms::default()),
            recovery: OnceLock::new(),
        }
    }

    /// The recovery store, when recovery is enabled.
    pub fn session_store(&self) -> Option<&Arc<SessionStore>> {
        self.recovery.get()
    }

    /// The sockets it serves.
    pub fn sockets(&self) -> &Arc<dyn SocketEmitter> {
        &self.sockets
    }

    fn read(&self) -> std::sync::RwLockReadGuard<'_, Rooms> {
        self.rooms.read().unwrap_or_else(|x| x.into_inner())
    }

    fn write(&self) -> std::sync::RwLockWriteGuard<'_, Rooms> {
        self.rooms.write().unwrap_or_else(|x| x.into_inner())
    }

    /// Hands the selection `opts` makes to `f`, as the emitter takes it. Every socket
    /// selected once; ids of rooms naming no connected socket are left to the emitter to skip.
    fn select<R>(&self, opts: &BroadcastOptions, f: impl FnOnce(Selection<'_>) -> R) -> R {
        if opts.rooms.is_empty() {
            if opts.except.is_empty() {
                return f(Selection::All);
            }
            let rooms = self.read();
            let except = rooms.resolve(&opts.except);
            let excluded = |sid: &Sid| in_any(&except, sid);
            return f(Selection::AllBut(&excluded));
        }
        let ids = {
            let rooms = self.read();
            let except = rooms.resolve(&opts.except);
            let excluded = |sid: &Sid| in_any(&except, sid);
            let targets = rooms.resolve(&opts.rooms);
            let mut ids = Vec::new();
            for (i, &(r, members)) in targets.iter().enumerate() {
                // A socket in several target rooms is reached through the first of them.
                let first = |sid: &Sid| !in_any(&targets[..i], sid);
                match members {
                    Some(members) => ids.extend(
                        members
                            .iter()
                            .filter(|sid| first(sid) && !excluded(sid))
                            .cloned(),
                    ),
                    // A socket id is a room holding that socket.
                    None => {
                        let sid: Sid = Arc::from(r);
                        if first(&sid) && !excluded(&sid) {
                            ids.push(sid);
                        }
                    }
                }
            }
            ids
        };
        f(Selection::Only(&ids))
    }

    /// The ids of the selected connected sockets.
    fn targets(&self, opts: &BroadcastOptions) -> Vec<Sid> {
        if opts.rooms.is_empty() {
            let mut ids = self.sockets.socket_ids();
            if !opts.except.is_empty() {
                let rooms = self.read();
                let except = rooms.resolve(&opts.except);
                ids.retain(|sid| !in_any(&except, sid));
            }
            return ids;
        }
        self.select(opts, |sel| match sel {
            Selection::Only(ids) => ids
                .iter()
                .filter(|sid| self.sockets.contains(sid))
                .cloned()
                .collect(),
            _ => unreachable!("rooms select by id"),
        })
    }

    /// Sends `packet` to the selected local sockets; returns how many it was queued for.
    /// With recovery enabled, a packet that is kept is stamped with its offset first.
    pub fn broadcast_local(&self, packet: &BroadcastPacket, opts: &BroadcastOptions) -> usize {
        let deliver = |packet: &BroadcastPacket| {
            self.select(opts, |to| self.sockets.deliver(to, packet, opts.volatile))
        };
        match self.recovery.get() {
            Some(store) if SessionStore::keeps(packet, opts) => store.push(packet, opts, deliver),
            _ => deliver(packet),
        }
    }

    /// Sends `packet` to the selected local sockets, registering its ack id on each, and
    /// reports them to `acks` ([`AckSink::expect`], called once).
    pub fn broadcast_with_ack_local(
        &self,
        packet: &BroadcastPacket,
        opts: &BroadcastOptions,
        acks: &AckSink,
    ) {
        let expected = if packet.ack_id().is_some() {
            self.select(opts, |to| {
                self.sockets
                    .deliver_with_ack(to, packet, opts.volatile, acks)
            })
        } else {
            Vec::new()
        };
        acks.expect(expected);
    }

    /// The selected local sockets, as plain data.
    pub fn fetch_sockets_local(&self, opts: &BroadcastOptions) -> Vec<SocketInfo> {
        let path = self.sockets.path();
        self.targets(opts)
            .into_iter()
            .filter_map(|sid| {
                let handshake = self.sockets.describe(&sid)?;
                Some(SocketInfo {
                    id: sid.to_string(),
                    ns: path.to_owned(),
                    rooms: self.read().of(&sid),
                    handshake,
                })
            })
            .collect()
    }

    /// Makes the selected local sockets join `rooms`.
    pub fn add_sockets_local(&self, opts: &BroadcastOptions, rooms: &[Room]) {
        let sids = self.targets(opts);
        let mut st = self.write();
        for sid in &sids {
            st.add(sid, rooms);
        }
    }

    /// Makes the selected local sockets leave `rooms`.
    pub fn del_sockets_local(&self, opts: &BroadcastOptions, rooms: &[Room]) {
        let sids = self.targets(opts);
        let mut st = self.write();
        for sid in &sids {
            st.del(sid, rooms);
        }
    }

    /// Whether some local socket joined `room` (socket id rooms are not counted).
    #[cfg(feature = "redis")]
    pub(crate) fn has_room(&self, room: &str) -> bool {
        self.read().members.contains_key(room)
    }

    /// Every room with a local socket in it, each socket's own id room included.
    pub fn rooms_local(&self) -> Vec<Room> {
        let mut rooms: Vec<Room> = self.read().members.keys().cloned().collect();
        rooms.extend(
            self.sockets
                .socket_ids()
                .into_iter()
                .map(|sid| Room::Owned(sid.to_string())),
        );
        rooms
    }

    /// Disconnects the selected local sockets (or closes their connections).
    pub fn disconnect_sockets_local(&self, opts: &BroadcastOptions, close: bool) {
        let sids = self.targets(opts);
        if close {
            self.sockets.close(&sids);
        } else {
            self.sockets.disconnect(&sids);
        }
    }
}

fn ready<T: Send + 'static>(v: T) -> BoxFuture<'static, T> {
    Box::pin(std::future::ready(v))
}

impl Adapter for LocalAdapter {
    fn add_all(&self, sid: &Sid, rooms: &[Room]) {
        self.write().add(sid, rooms);
    }

    fn del(&self, sid: &Sid, rooms: &[Room]) {
        self.write().del(sid, rooms);
    }

    fn del_all(&self, sid: &Sid) {
        let mut st = self.write();
        if let Some(rooms) = st.joined.remove(sid) {
            for r in rooms {
                if let Some(m) = st.members.get_mut(&r) {
                    m.remove(sid);
                    if m.is_empty() {
                        st.members.remove(&r);
                    }
                }
            }
        }
    }

    fn socket_rooms(&self, sid: &Sid) -> Vec<Room> {
        self.read()
            .joined
            .get(sid)
            .map(|r| r.iter().cloned().collect())
            .unwrap_or_default()
    }

    fn socket_room_count(&self, sid: &Sid) -> usize {
        self.read().joined.get(sid).map_or(0, HashSet::len)
    }

    fn local_sockets(&self, opts: &BroadcastOptions) -> Vec<Sid> {
        self.targets(opts)
    }

    fn local_rooms(&self) -> Vec<Room> {
        self.rooms_local()
    }

    fn broadcast(
        &self,
        packet: BroadcastPacket,
        opts: BroadcastOptions,
    ) -> BoxFuture<'_, Result<(), AdapterError>> {
        self.broadcast_local(&packet, &opts);
        ready(Ok(()))
    }

    fn broadcast_with_ack(
        &self,
        packet: BroadcastPacket,
        opts: BroadcastOptions,
        _timeout: Duration,
        acks: AckSink,
    ) -> BoxFuture<'_, Result<(), AdapterError>> {
        self.broadcast_with_ack_local(&packet, &opts, &acks);
        ready(Ok(()))
    }

    fn fetch_sockets(
        &self,
        opts: BroadcastOptions,
    ) -> BoxFuture<'_, Result<Vec<SocketInfo>, AdapterError>> {
        ready(Ok(self.fetch_sockets_local(&opts)))
    }

    fn add_sockets(
        &self,
        opts: BroadcastOptions,
        rooms: Vec<Room>,
    ) -> BoxFuture<'_, Result<(), AdapterError>> {
        self.add_sockets_local(&opts, &rooms);
        ready(Ok(()))
    }

    fn del_sockets(
        &self,
        opts: BroadcastOptions,
        rooms: Vec<Room>,
    ) -> BoxFuture<'_, Result<(), AdapterError>> {
        self.del_sockets_local(&opts, &rooms);
        ready(Ok(()))
    }

    fn disconnect_sockets(
        &self,
        opts: BroadcastOptions,
        close: bool,
    ) -> BoxFuture<'_, Result<(), AdapterError>> {
        self.disconnect_sockets_local(&opts, close);
        ready(Ok(()))
    }

    fn enable_recovery(&self, config: StoreConfig) -> bool {
        let _ = self.recovery.set(Arc::new(SessionStore::new(config)));
        true
    }

    fn current_offset(&self) -> Option<String> {
        self.recovery.get().map(|s| s.current_offset())
    }

    fn persist_session(&self, session: SessionToPersist) {
        if let Some(store) = self.recovery.get() {
            store.persist(session);
        }
    }

    fn restore_session(
        &self,
        pid: String,
        offset: Option<String>,
        resume: ResumeFn,
    ) -> BoxFuture<'_, Result<bool, AdapterError>> {
        let restored = self
            .recovery
            .get()
            .is_some_and(|store| store.restore(&pid, offset.as_deref(), resume));
        ready(Ok(restored))
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;
    use std::sync::atomic::{AtomicBool, Ordering};

    use bytes::Bytes;
    use futures_util::FutureExt;

    use super::*;
    use crate::codec::engine::packet::Frame;
    use crate::codec::socketio::encode;
    use crate::connection::{Connection, Socket};
    use crate::engine::{EngineSession, HandshakeInfo, Transport};
    use crate::namespace::instance::NamespaceInstance;

    // The adapter under test is the one a namespace instance builds over its socket table:
    // sockets are reached through the `SocketEmitter` the namespace runtime implements.
    fn namespace() -> Arc<NamespaceInstance> {
        NamespaceInstance::new(
            "/",
            Vec::new(),
            &LocalAdapterFactory,
            Arc::new(AtomicBool::new(false)),
        )
    }

    fn socket(ns: &Arc<NamespaceInstance>, transport: Transport) -> Arc<Socket> {
        let conn = EngineSession::new(
            crate::engine::new_sid().into_boxed_str(),
            Connection::default(),
            HandshakeInfo {
                uri: "/socket.io/?EIO=4".parse().unwrap(),
                headers: http::HeaderMap::new(),
                remote: None,
            },
            transport,
            64,
            1 << 20,
            None,
        );
        let s = Connection::attach(&conn, ns.path.clone(), &Default::default()).unwrap();
        ns.insert(s.clone());
        s
    }

    fn drain(s: &Socket) -> Vec<Frame> {
        let mut frames = Vec::new();
        s.conn.drain(&mut frames);
        frames
    }

    fn text(f: &Frame) -> &str {
        match f {
            Frame::Text(t) => t.as_str(),
            Frame::Binary(_) => panic!("expected a text frame"),
        }
    }

    fn binary(f: &Frame) -> &Bytes {
        match f {
            Frame::Binary(b) => b,
            Frame::Text(_) => panic!("expected a binary frame"),
        }
    }

    fn broadcast(ns: &NamespaceInstance, packet: &BroadcastPacket, opts: BroadcastOptions) {
        ns.adapter
            .broadcast(packet.clone(), opts)
            .now_or_never()
            .expect("the local adapter completes at once")
            .unwrap();
    }

    fn opts(rooms: &[&'static str], except: &[&'static str]) -> BroadcastOptions {
        BroadcastOptions {
            rooms: rooms.iter().map(|r| Room::Borrowed(*r)).collect(),
            except: except.iter().map(|r| Room::Borrowed(*r)).collect(),
            ..Default::default()
        }
    }

    /// Point 6 of the broadcast design: one encoding, shared by every recipient's queue, on
    /// both transports. Each queued frame points into the very buffers of the packet.
    #[test]
    fn fan_out_shares_one_encoding() {
        let ns = namespace();
        let recipients = [
            socket(&ns, Transport::WebSocket),
            socket(&ns, Transport::Polling),
            socket(&ns, Transport::WebSocket),
        ];
        let outsider = socket(&ns, Transport::Polling);
        for s in &recipients {
            ns.adapter.add_all(&s.id, &[Room::Borrowed("r")]);
        }
        let payload = Bytes::from(vec![7u8; 4096]);
        let encoded = encode::event("/", "ev", &("hello", payload.clone()), None).unwrap();
        let packet = BroadcastPacket::new(encoded, None);
        assert_eq!(packet.attachments().len(), 1);
        broadcast(&ns, &packet, opts(&["r"], &[]));

        for s in &recipients {
            let frames = drain(s);
            assert_eq!(frames.len(), 2, "the packet and its attachment");
            assert_eq!(text(&frames[0]), packet.text());
            assert_eq!(
                text(&frames[0]).as_ptr(),
                packet.text().as_ptr(),
                "the text frame is the shared encoding, not a copy"
            );
            assert_eq!(binary(&frames[1]), &payload);
            assert_eq!(
                binary(&frames[1]).as_ptr(),
                packet.attachments()[0].as_ptr(),
                "the attachment is the packet's buffer, not a copy"
            );
        }
        assert!(drain(&outsider).is_empty());
    }

    #[test]
    fn rooms_select_each_socket_once() {
        let ns = namespace();
        let [a, b, c, d] = [(); 4].map(|_| socket(&ns, Transport::WebSocket));
        ns.adapter.add_all(&a.id, &["r1".into(), "r2".into()]);
        ns.adapter.add_all(&b.id, &["r2".into()]);
        ns.adapter.add_all(&c.id, &["r3".into(), "muted".into()]);
        let packet = BroadcastPacket::new(encode::event("/", "ev", &1, None).unwrap(), None);

        // Several rooms: a socket in two of them gets the packet once; a socket id is a room.
        let mut o = opts(&["r1", "r2"], &[]);
        o.rooms.push(Room::Owned(d.id.to_string()));
        o.rooms.push(Room::Owned(a.id.to_string()));
        broadcast(&ns, &packet, o);
        assert_eq!(drain(&a).len(), 1);
        assert_eq!(drain(&b).len(), 1);
        assert_eq!(drain(&c).len(), 0);
        assert_eq!(drain(&d).len(), 1);

        // except: by room and by socket id; everyone when no room is given.
        let mut o = opts(&[], &["muted"]);
        o.except.push(Room::Owned(b.id.to_string()));
        broadcast(&ns, &packet, o);
        assert_eq!([&a, &b, &c, &d].map(|s| drain(s).len()), [1, 0, 0, 1]);

        // Rooms of a socket, and leaving them.
        let mut rooms = ns.adapter.socket_rooms(&a.id);
        rooms.sort();
        assert_eq!(rooms, ["r1", "r2"]);
        ns.adapter.del(&a.id, &["r1".into()]);
        assert_eq!(ns.adapter.socket_rooms(&a.id), ["r2"]);
        ns.adapter.del_all(&a.id);
        assert!(ns.adapter.socket_rooms(&a.id).is_empty());
        assert_eq!(
            ns.adapter.local_sockets(&opts(&["r2"], &[])),
            std::slice::from_ref(&b.id)
        );
    }

    #[test]
    fn volatile_is_dropped_when_not_writable() {
        let ns = namespace();
        let ws = socket(&ns, Transport::WebSocket);
        let polling = socket(&ns, Transport::Polling);
        let packet = BroadcastPacket::new(encode::event("/", "ev", &1, None).unwrap(), None);
        let volatile = BroadcastOptions {
            volatile: true,
            ..Default::default()
        };

        // WebSocket with nothing queued, polling with a GET pending: writable.
        polling.conn.inner.get_active.store(true, Ordering::Release);
        broadcast(&ns, &packet, volatile.clone());
        assert_eq!(drain(&ws).len(), 1);
        assert_eq!(drain(&polling).len(), 1);

        // A backlog, or no pending GET: dropped.
        broadcast(&ns, &packet, BroadcastOptions::default());
        polling
            .conn
            .inner
            .get_active
            .store(false, Ordering::Release);
        drain(&polling);
        broadcast(&ns, &packet, volatile);
        assert_eq!(drain(&ws).len(), 1, "only the non-volatile packet");
        assert_eq!(drain(&polling).len(), 0);
    }

    #[test]
    fn socket_operations() {
        let ns = namespace();
        let [a, b] = [(); 2].map(|_| socket(&ns, Transport::WebSocket));
        ns.adapter.add_all(&a.id, &["r".into()]);
        let adapter = &ns.adapter;
        adapter
            .add_sockets(opts(&["r"], &[]), vec!["x".into(), "y".into()])
            .now_or_never()
            .unwrap()
            .unwrap();
        let info = adapter
            .fetch_sockets(opts(&["x"], &[]))
            .now_or_never()
            .unwrap()
            .unwrap();
        assert_eq!(info.len(), 1);
        assert_eq!(info[0].id, *a.id);
        assert_eq!(info[0].rooms[0], *a.id, "its own id room first");
        let mut rooms = info[0].rooms[1..].to_vec();
        rooms.sort();
        assert_eq!(rooms, ["r", "x", "y"]);
        assert_eq!(info[0].handshake.query(), Some("EIO=4"));
        adapter
            .del_sockets(BroadcastOptions::default(), vec!["x".into()])
            .now_or_never()
            .unwrap()
            .unwrap();
        let all = adapter
            .fetch_sockets(BroadcastOptions::default())
            .now_or_never()
            .unwrap()
            .unwrap();
        assert_eq!(all.len(), 2);
        assert!(all.iter().all(|s| !s.rooms.iter().any(|r| r == "x")));
        assert!(all.iter().any(|s| s.id == *b.id));
    }

    /// A broadcast is sent when it is made, like an emit to one socket: written without
    /// `.await` (or dropped) it is delivered all the same.
    #[test]
    fn a_broadcast_is_sent_without_being_awaited() {
        let ns = namespace();
        let (a, b) = (
            socket(&ns, Transport::WebSocket),
            socket(&ns, Transport::Polling),
        );
        ns.adapter.add_all(&b.id, &[Room::Borrowed("r")]);
        let sent = ns
            .operator(std::time::Duration::from_secs(1))
            .to("r")
            .emit("ev", 1);
        assert_eq!(
            drain(&b).iter().map(text).collect::<Vec<_>>(),
            [r#"42["ev",1]"#]
        );
        assert!(
            sent.now_or_never().unwrap().is_ok(),
            "awaiting it reports the outcome"
        );
        drop(
            ns.operator(std::time::Duration::from_secs(1))
                .emit("dropped", ()),
        );
        assert_eq!(drain(&a).len(), 1);
        assert_eq!(drain(&b).len(), 1);
    }
}
