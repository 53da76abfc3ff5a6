//! The server's namespace table: registered namespaces (static paths and patterns such as
//! `/game/{id}`), their live instances, and the state every socket shares.

use std::any::{Any, TypeId};
use std::collections::HashMap;
use std::fmt;
use std::sync::{Arc, RwLock};
use std::time::Duration;

use crate::adapter::{Adapter, AdapterFactory};
use crate::middleware::Middleware;
use crate::namespace::{Namespace, spawn_socket};
use crate::socket::{Sid, SocketShared};

/// Socket.IO options (the Engine.IO ones live in [`crate::engine::EngineConfig`]).
#[derive(Debug, Clone)]
pub(crate) struct IoConfig {
    pub(crate) connect_timeout: Duration,
    pub(crate) ack_timeout: Duration,
    pub(crate) max_attachments: usize,
    pub(crate) mailbox_limit: usize,
}

impl Default for IoConfig {
    fn default() -> Self {
        IoConfig {
            connect_timeout: Duration::from_secs(45),
            ack_timeout: Duration::from_secs(10),
            max_attachments: 16,
            mailbox_limit: 1024,
        }
    }
}

/// Application state given to the builder, shared by every socket.
#[derive(Default)]
pub(crate) struct StateMap(HashMap<TypeId, Box<dyn Any + Send + Sync>>);

impl StateMap {
    pub(crate) fn insert<S: Send + Sync + 'static>(&mut self, s: S) {
        self.0.insert(TypeId::of::<S>(), Box::new(s));
    }

    pub(crate) fn get<S: 'static>(&self) -> Option<&S> {
        self.0.get(&TypeId::of::<S>())?.downcast_ref()
    }
}

/// What the server shares with every connection.
pub(crate) struct IoShared {
    pub(crate) config: IoConfig,
    pub(crate) entries: Vec<NsEntry>,
    pub(crate) state: StateMap,
    pub(crate) middlewares: Vec<Arc<dyn Middleware>>,
    pub(crate) adapter: Arc<dyn AdapterFactory>,
    /// The engine serving this server, for shutting down.
    pub(crate) engine: std::sync::OnceLock<std::sync::Weak<crate::engine::EngineShared<crate::client::IoHandler>>>,
}

impl fmt::Debug for IoShared {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("IoShared")
            .field("config", &self.config)
            .field("namespaces", &self.entries.iter().map(|e| &e.pattern.raw).collect::<Vec<_>>())
            .finish()
    }
}

impl IoShared {
    /// The entry and live instance for a path, creating the instance of a pattern on first use.
    pub(crate) fn resolve(self: &Arc<Self>, path: &str) -> Option<(&NsEntry, Arc<NsShared>)> {
        for e in &self.entries {
            if let Some(params) = e.pattern.matches(path) {
                if let Some(ns) = e.instances.read().unwrap_or_else(|x| x.into_inner()).get(path) {
                    return Some((e, ns.clone()));
                }
                let mut map = e.instances.write().unwrap_or_else(|x| x.into_inner());
                let ns = map
                    .entry(path.into())
                    .or_insert_with(|| NsShared::new(path, params, &self.adapter))
                    .clone();
                return Some((e, ns));
            }
        }
        None
    }

    /// The live instance of a path, if any socket ever joined it (or it is static).
    pub(crate) fn instance(&self, path: &str) -> Option<Arc<NsShared>> {
        self.entries.iter().find_map(|e| {
            e.instances
                .read()
                .unwrap_or_else(|x| x.into_inner())
                .get(path)
                .cloned()
        })
    }

    /// Every live namespace instance.
    pub(crate) fn instances(&self) -> Vec<Arc<NsShared>> {
        self.entries
            .iter()
            .flat_map(|e| {
                e.instances
                    .read()
                    .unwrap_or_else(|x| x.into_inner())
                    .values()
                    .cloned()
                    .collect::<Vec<_>>()
            })
            .collect()
    }
}

/// A registered namespace: its path pattern, how to build its value, its middlewares.
pub(crate) struct NsEntry {
    pub(crate) pattern: Pattern,
    pub(crate) starter: Box<dyn Starter>,
    pub(crate) middlewares: Vec<Arc<dyn Middleware>>,
    pub(crate) instances: RwLock<HashMap<Box<str>, Arc<NsShared>>>,
}

impl NsEntry {
    pub(crate) fn start(&self, socket: Arc<SocketShared>, io: Arc<IoShared>, auth: Option<String>) {
        self.starter.start(socket, io, self.middlewares.clone(), auth);
    }
}

/// Builds a namespace's value for a new socket and starts its actor.
pub(crate) trait Starter: Send + Sync + 'static {
    fn start(
        &self,
        socket: Arc<SocketShared>,
        io: Arc<IoShared>,
        middlewares: Vec<Arc<dyn Middleware>>,
        auth: Option<String>,
    );
}

pub(crate) struct TypedStarter<T, F> {
    pub(crate) make: F,
    pub(crate) _t: std::marker::PhantomData<fn() -> T>,
}

impl<T, F> Starter for TypedStarter<T, F>
where
    T: Namespace,
    F: Fn() -> T + Send + Sync + 'static,
{
    fn start(
        &self,
        socket: Arc<SocketShared>,
        io: Arc<IoShared>,
        middlewares: Vec<Arc<dyn Middleware>>,
        auth: Option<String>,
    ) {
        spawn_socket((self.make)(), socket, io, middlewares, auth);
    }
}

/// One live namespace: its sockets and its adapter.
pub(crate) struct NsShared {
    pub(crate) path: Box<str>,
    pub(crate) params: Vec<(Box<str>, Box<str>)>,
    pub(crate) sockets: RwLock<HashMap<Sid, Arc<SocketShared>>>,
    pub(crate) adapter: Arc<dyn Adapter>,
}

impl fmt::Debug for NsShared {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Namespace").field("path", &self.path).finish()
    }
}

impl NsShared {
    fn new(path: &str, params: Vec<(Box<str>, Box<str>)>, adapters: &Arc<dyn AdapterFactory>) -> Arc<Self> {
        Arc::new_cyclic(|weak| NsShared {
            path: path.into(),
            params,
            sockets: RwLock::new(HashMap::new()),
            adapter: adapters.create(crate::adapter::LocalNamespace::new(weak.clone())),
        })
    }

    pub(crate) fn get(&self, sid: &str) -> Option<Arc<SocketShared>> {
        self.sockets
            .read()
            .unwrap_or_else(|x| x.into_inner())
            .get(sid)
            .cloned()
    }

    pub(crate) fn insert(&self, socket: Arc<SocketShared>) {
        self.sockets
            .write()
            .unwrap_or_else(|x| x.into_inner())
            .insert(socket.id.clone(), socket);
    }

    pub(crate) fn remove(&self, sid: &str) {
        self.sockets
            .write()
            .unwrap_or_else(|x| x.into_inner())
            .remove(sid);
    }

    pub(crate) fn all(&self) -> Vec<Arc<SocketShared>> {
        self.sockets
            .read()
            .unwrap_or_else(|x| x.into_inner())
            .values()
            .cloned()
            .collect()
    }
}

/// A namespace path or pattern: `/chat`, `/game/{id}`.
#[derive(Debug, Clone)]
pub(crate) struct Pattern {
    pub(crate) raw: Box<str>,
    segments: Vec<Segment>,
}

#[derive(Debug, Clone)]
enum Segment {
    Lit(Box<str>),
    Param(Box<str>),
}

impl Pattern {
    pub(crate) fn parse(raw: &str) -> Self {
        let raw = if raw.starts_with('/') {
            raw.to_owned()
        } else {
            format!("/{raw}")
        };
        let segments = raw
            .split('/')
            .skip(1)
            .map(|s| match s.strip_prefix('{').and_then(|s| s.strip_suffix('}')) {
                Some(name) => Segment::Param(name.into()),
                None => Segment::Lit(s.into()),
            })
            .collect();
        Pattern {
            raw: raw.into(),
            segments,
        }
    }

    pub(crate) fn is_static(&self) -> bool {
        self.segments.iter().all(|s| matches!(s, Segment::Lit(_)))
    }

    /// The parameters, when `path` matches.
    pub(crate) fn matches(&self, path: &str) -> Option<Vec<(Box<str>, Box<str>)>> {
        if self.is_static() {
            return (*self.raw == *path).then(Vec::new);
        }
        let rest = path.strip_prefix('/')?;
        let parts: Vec<&str> = rest.split('/').collect();
        if parts.len() != self.segments.len() {
            return None;
        }
        let mut params = Vec::new();
        for (seg, part) in self.segments.iter().zip(parts) {
            match seg {
                Segment::Lit(l) if **l == *part => {}
                Segment::Param(name) if !part.is_empty() => params.push((name.clone(), part.into())),
                _ => return None,
            }
        }
        Some(params)
    }
}

#[cfg(test)]
mod tests {
    use super::Pattern;

    #[test]
    fn patterns_match_paths() {
        let p = Pattern::parse("/game/{id}");
        assert_eq!(
            p.matches("/game/42").unwrap(),
            vec![("id".into(), "42".into())]
        );
        assert!(p.matches("/game").is_none());
        assert!(p.matches("/game/").is_none());
        assert!(p.matches("/game/1/2").is_none());
        let s = Pattern::parse("/chat");
        assert!(s.matches("/chat").is_some());
        assert!(s.matches("/chat2").is_none());
        assert!(Pattern::parse("/").matches("/").is_some());
    }
}
