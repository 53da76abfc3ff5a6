use std::collections::{HashMap, HashSet};
use std::sync::{Arc, RwLock};

use super::{Adapter, AdapterError, AdapterFactory, BoxFuture, BroadcastOptions, LocalNamespace, Packet, Room};
use crate::socket::{Sid, SocketShared};

/// The default adapter: rooms in this process's memory.
#[derive(Debug)]
pub struct LocalAdapter {
    ns: LocalNamespace,
    rooms: RwLock<Rooms>,
}

#[derive(Debug, Default)]
struct Rooms {
    /// room -> sockets in it (socket id rooms are implicit, never stored).
    members: HashMap<Room, HashSet<Sid>>,
    /// socket -> rooms it joined.
    joined: HashMap<Sid, HashSet<Room>>,
}

/// Builds [`LocalAdapter`]s.
#[derive(Debug, Default, Clone, Copy)]
pub struct LocalAdapterFactory;

impl AdapterFactory for LocalAdapterFactory {
    fn create(&self, ns: LocalNamespace) -> Arc<dyn Adapter> {
        Arc::new(LocalAdapter::new(ns))
    }
}

impl LocalAdapter {
    /// An adapter for `ns`.
    pub fn new(ns: LocalNamespace) -> Self {
        LocalAdapter {
            ns,
            rooms: RwLock::new(Rooms::default()),
        }
    }

    fn read(&self) -> std::sync::RwLockReadGuard<'_, Rooms> {
        self.rooms.read().unwrap_or_else(|x| x.into_inner())
    }

    fn write(&self) -> std::sync::RwLockWriteGuard<'_, Rooms> {
        self.rooms.write().unwrap_or_else(|x| x.into_inner())
    }

    /// Calls `f` for each local socket `opts` selects, each once.
    pub(crate) fn for_each_target(
        &self,
        opts: &BroadcastOptions,
        mut f: impl FnMut(&Sid, &Arc<SocketShared>),
    ) {
        self.ns.with_sockets(|sockets| {
            let rooms = self.read();
            let excluded = |sid: &Sid| {
                opts.except.iter().any(|r| {
                    **r == **sid || rooms.members.get(r).is_some_and(|m| m.contains(sid))
                })
            };
            if opts.rooms.is_empty() {
                for (sid, s) in sockets {
                    if !excluded(sid) {
                        f(sid, s);
                    }
                }
                return;
            }
            let single = opts.rooms.len() == 1;
            let mut seen: HashSet<&str> = HashSet::new();
            for r in &opts.rooms {
                match rooms.members.get(r) {
                    Some(members) => {
                        for sid in members {
                            if (single || seen.insert(sid)) && !excluded(sid) {
                                if let Some(s) = sockets.get(sid) {
                                    f(sid, s);
                                }
                            }
                        }
                    }
                    // A socket id is a room holding that socket.
                    None => {
                        if let Some((sid, s)) = sockets.get_key_value(&**r) {
                            if (single || seen.insert(sid)) && !excluded(sid) {
                                f(sid, s);
                            }
                        }
                    }
                }
            }
        });
    }
}

impl Adapter for LocalAdapter {
    fn add_all(&self, sid: &Sid, rooms: &[Room]) {
        let mut st = self.write();
        for r in rooms {
            if **r == **sid {
                continue;
            }
            st.members.entry(r.clone()).or_default().insert(sid.clone());
            st.joined.entry(sid.clone()).or_default().insert(r.clone());
        }
    }

    fn del(&self, sid: &Sid, room: &str) {
        let mut st = self.write();
        if let Some(m) = st.members.get_mut(room) {
            m.remove(sid);
            if m.is_empty() {
                st.members.remove(room);
            }
        }
        if let Some(j) = st.joined.get_mut(sid) {
            j.remove(room);
            if j.is_empty() {
                st.joined.remove(sid);
            }
        }
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

    fn local_sockets(&self, opts: &BroadcastOptions) -> Vec<Sid> {
        let mut out = Vec::new();
        self.for_each_target(opts, |sid, _| out.push(sid.clone()));
        out
    }

    fn broadcast(&self, packet: Packet, opts: BroadcastOptions) -> BoxFuture<'_, Result<(), AdapterError>> {
        self.for_each_target(&opts, |_, s| {
            let _ = if opts.volatile {
                s.send_volatile(&packet.0)
            } else {
                s.send(&packet.0)
            };
        });
        Box::pin(std::future::ready(Ok(())))
    }
}
