//! [`NamespaceInstance`]: one live namespace, its sockets and its adapter; and
//! [`LocalSockets`], the socket table that adapters reach through [`SocketEmitter`].

use std::collections::HashMap;
use std::fmt;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, OnceLock, RwLock};
use std::time::Duration;

use crate::adapter::{
    AckSink, Adapter, AdapterFactory, BroadcastOperator, BroadcastPacket, HandshakeData, Room,
    Selection, SocketEmitter,
};
use crate::connection::{DisconnectReason, Sid, Socket};

/// One live namespace: a static path, or one instance of a pattern such as `/game/{id}`.
pub(crate) struct NamespaceInstance {
    pub(crate) path: Arc<str>,
    /// The pattern's parameters (`id` → `42` for `/game/42`).
    pub(crate) params: Vec<(Box<str>, Box<str>)>,
    pub(crate) sockets: Arc<LocalSockets>,
    pub(crate) adapter: Arc<dyn Adapter>,
    /// The server's `closing` flag.
    closing: Arc<AtomicBool>,
    /// Connection state recovery, when on for this namespace.
    pub(crate) recovery: OnceLock<super::recovery::Recovery>,
    /// The server's observer (the admin UI), when one is installed.
    pub(crate) observer: OnceLock<Arc<dyn super::observe::Observer>>,
}

impl fmt::Debug for NamespaceInstance {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Namespace")
            .field("path", &self.path)
            .finish()
    }
}

impl NamespaceInstance {
    pub(crate) fn new(
        path: &str,
        params: Vec<(Box<str>, Box<str>)>,
        adapters: &dyn AdapterFactory,
        closing: Arc<AtomicBool>,
    ) -> Arc<Self> {
        let path: Arc<str> = path.into();
        let sockets = Arc::new(LocalSockets {
            path: path.clone(),
            map: RwLock::new(HashMap::new()),
        });
        let adapter = adapters.create(sockets.clone());
        Arc::new(NamespaceInstance {
            path,
            params,
            sockets,
            adapter,
            closing,
            recovery: OnceLock::new(),
            observer: OnceLock::new(),
        })
    }

    /// A connected socket by id.
    pub(crate) fn get(&self, sid: &str) -> Option<Arc<Socket>> {
        self.sockets.read().get(sid).cloned()
    }

    /// Whether a socket of this id is connected.
    pub(crate) fn sockets_contains(&self, sid: &str) -> bool {
        self.sockets.read().contains_key(sid)
    }

    /// Every connected socket.
    pub(crate) fn all(&self) -> Vec<Arc<Socket>> {
        self.sockets.read().values().cloned().collect()
    }

    /// Adds a socket that joined. During shutdown it is told to leave at once (the flag is read
    /// under the lock `close()` reads the sockets under, so no socket escapes both).
    pub(crate) fn insert(&self, socket: Arc<Socket>) {
        let mut sockets = self.sockets.write();
        sockets.insert(socket.id.clone(), socket.clone());
        let closing = self.closing.load(Ordering::SeqCst);
        drop(sockets);
        if closing {
            socket.disconnect(DisconnectReason::ServerShutdown, true);
        }
    }

    /// Removes a socket that left, with its rooms.
    pub(crate) fn remove(&self, sid: &Sid) {
        self.adapter.del_all(sid);
        self.sockets.write().remove(sid);
    }

    /// Every socket of the namespace, as a broadcast operator.
    pub(crate) fn operator(&self, ack_timeout: Duration) -> BroadcastOperator {
        BroadcastOperator::new(self.path.clone(), self.adapter.clone(), ack_timeout)
    }

    /// A broadcast from `socket`: every socket of the namespace but itself.
    pub(crate) fn operator_from(
        &self,
        socket: &Socket,
        ack_timeout: Duration,
    ) -> BroadcastOperator {
        self.operator(ack_timeout)
            .except(Room::Owned(socket.id.to_string()))
    }

    /// A parameter of a pattern's instance.
    pub(crate) fn param(&self, name: &str) -> Option<&str> {
        self.params
            .iter()
            .find(|(k, _)| &**k == name)
            .map(|(_, v)| &**v)
    }

    // ----- rooms of one socket -----

    /// Makes a socket join rooms, up to `max` rooms in all (beyond, joins are ignored with a
    /// warning: rooms named from client input must not grow a socket without bound).
    pub(crate) fn join(&self, sid: &Sid, mut rooms: Vec<Room>, max: usize) {
        let room = max.saturating_sub(self.adapter.socket_room_count(sid));
        if rooms.len() > room {
            tracing::warn!(%sid, max, "too many rooms for one socket, joins ignored");
            rooms.truncate(room);
        }
        self.adapter.add_all(sid, &rooms);
    }

    /// Makes a socket leave rooms.
    pub(crate) fn leave(&self, sid: &Sid, rooms: Vec<Room>) {
        self.adapter.del(sid, &rooms);
    }

    /// Makes a socket leave every room but its own id room.
    pub(crate) fn leave_all(&self, sid: &Sid) {
        self.adapter.del_all(sid);
    }

    /// The rooms a socket is in, its own id room first.
    pub(crate) fn rooms(&self, sid: &Sid) -> Vec<Room> {
        let joined = self.adapter.socket_rooms(sid);
        let mut rooms = Vec::with_capacity(joined.len() + 1);
        rooms.push(Room::Owned(sid.to_string()));
        rooms.extend(joined);
        rooms
    }
}

/// The connected sockets of one namespace instance, by id: what its adapter delivers to.
pub(crate) struct LocalSockets {
    path: Arc<str>,
    map: RwLock<HashMap<Sid, Arc<Socket>>>,
}

impl LocalSockets {
    fn read(&self) -> std::sync::RwLockReadGuard<'_, HashMap<Sid, Arc<Socket>>> {
        self.map.read().unwrap_or_else(|x| x.into_inner())
    }

    fn write(&self) -> std::sync::RwLockWriteGuard<'_, HashMap<Sid, Arc<Socket>>> {
        self.map.write().unwrap_or_else(|x| x.into_inner())
    }

    /// Runs `f` on each selected socket, under the table's read lock.
    fn for_each(&self, to: Selection<'_>, mut f: impl FnMut(&Sid, &Socket)) {
        let map = self.read();
        match to {
            Selection::All => map.iter().for_each(|(sid, s)| f(sid, s)),
            Selection::AllBut(excluded) => map
                .iter()
                .filter(|(sid, _)| !excluded(sid))
                .for_each(|(sid, s)| f(sid, s)),
            Selection::Only(ids) => {
                for sid in ids {
                    if let Some((sid, s)) = map.get_key_value(sid) {
                        f(sid, s);
                    }
                }
            }
        }
    }

    /// The sockets of `sids` that are here, collected so that no lock is held while acting
    /// on them.
    fn collect(&self, sids: &[Sid]) -> Vec<Arc<Socket>> {
        let map = self.read();
        sids.iter()
            .filter_map(|sid| map.get(sid).cloned())
            .collect()
    }
}

fn send(socket: &Socket, packet: &BroadcastPacket, volatile: bool) -> bool {
    let res = if volatile {
        socket.send_volatile(&packet.encoded)
    } else {
        socket.send(&packet.encoded)
    };
    res.is_ok()
}

impl SocketEmitter for LocalSockets {
    fn path(&self) -> &str {
        &self.path
    }

    fn socket_ids(&self) -> Vec<Sid> {
        self.read().keys().cloned().collect()
    }

    fn contains(&self, sid: &str) -> bool {
        self.read().contains_key(sid)
    }

    fn deliver(&self, to: Selection<'_>, packet: &BroadcastPacket, volatile: bool) -> usize {
        let mut n = 0;
        self.for_each(to, |_, s| n += usize::from(send(s, packet, volatile)));
        n
    }

    fn deliver_with_ack(
        &self,
        to: Selection<'_>,
        packet: &BroadcastPacket,
        volatile: bool,
        acks: &AckSink,
    ) -> Vec<Sid> {
        let mut sent = Vec::new();
        let Some(id) = packet.ack_id() else {
            return sent;
        };
        self.for_each(to, |sid, s| {
            if !s.register_broadcast_ack(id, acks) {
                return;
            }
            if send(s, packet, volatile) {
                sent.push(sid.clone());
            } else {
                s.forget_ack(id);
            }
        });
        sent
    }

    fn disconnect(&self, sids: &[Sid]) {
        for s in self.collect(sids) {
            s.disconnect(DisconnectReason::ServerNamespaceDisconnect, false);
        }
    }

    fn close(&self, sids: &[Sid]) {
        for s in self.collect(sids) {
            s.close_connection();
        }
    }

    fn describe(&self, sid: &str) -> Option<HandshakeData> {
        let socket = self.read().get(sid).cloned()?;
        let conn = &socket.conn;
        Some(HandshakeData {
            url: conn
                .uri()
                .path_and_query()
                .map_or_else(|| conn.uri().to_string(), |p| p.to_string()),
            headers: conn
                .headers()
                .iter()
                .map(|(n, v)| {
                    (
                        n.as_str().to_owned(),
                        String::from_utf8_lossy(v.as_bytes()).into_owned(),
                    )
                })
                .collect(),
            address: conn.remote_addr(),
            auth: socket.auth.get().map(|a| a.to_string()),
            engine_id: conn.sid().to_owned(),
        })
    }
}
