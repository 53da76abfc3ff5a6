//! [`Session`]: data shared by every namespace of one connection.

use std::any::{Any, TypeId};
use std::collections::HashMap;
use std::fmt;
use std::sync::Mutex;

/// Data shared by every namespace of one connection (gevent's `socket.session`): a map from
/// type to value.
#[derive(Default)]
pub struct Session(Mutex<HashMap<TypeId, Box<dyn Any + Send>>>);

impl fmt::Debug for Session {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Session").finish_non_exhaustive()
    }
}

impl Session {
    fn map(&self) -> std::sync::MutexGuard<'_, HashMap<TypeId, Box<dyn Any + Send>>> {
        self.0.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Stores a value, returning the previous one of that type.
    pub fn insert<V: Send + 'static>(&self, value: V) -> Option<V> {
        self.map()
            .insert(TypeId::of::<V>(), Box::new(value))
            .and_then(|b| b.downcast().ok().map(|b| *b))
    }

    /// A copy of the value of type `V`.
    pub fn get<V: Clone + Send + 'static>(&self) -> Option<V> {
        self.map()
            .get(&TypeId::of::<V>())?
            .downcast_ref::<V>()
            .cloned()
    }

    /// Removes the value of type `V`.
    pub fn remove<V: Send + 'static>(&self) -> Option<V> {
        self.map()
            .remove(&TypeId::of::<V>())
            .and_then(|b| b.downcast().ok().map(|b| *b))
    }

    /// Runs `f` on the value of type `V`, if any, under the session's lock.
    pub fn with<V: Send + 'static, R>(&self, f: impl FnOnce(Option<&mut V>) -> R) -> R {
        let mut map = self.map();
        f(map
            .get_mut(&TypeId::of::<V>())
            .and_then(|b| b.downcast_mut()))
    }
}
