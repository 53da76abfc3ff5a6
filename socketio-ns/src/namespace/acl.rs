use std::fmt;

use super::Namespace;

/// A generated method identifier (`ChatMethod::on_login`): an index into
/// [`Namespace::METHODS`].
pub trait MethodId: Copy + Eq + fmt::Debug + Send + Sync + 'static {
    /// The index of this method in [`Namespace::METHODS`].
    fn index(self) -> usize;

    /// The identifier with that index.
    fn from_index(index: usize) -> Option<Self>;

    /// The method's name, for example `on_login`.
    fn name<T: Namespace<Method = Self>>(self) -> &'static str {
        T::METHODS.get(self.index()).copied().unwrap_or("?")
    }
}

/// A method name that the namespace does not have.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("no ACL-governed method named `{0}`")]
pub struct UnknownMethod(pub String);

/// The set of methods a socket may call: unrestricted, or a set of method indices.
///
/// Up to 128 ACL-governed methods per namespace (the macro checks the count).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Acl {
    /// `None`: every method is allowed.
    bits: Option<u128>,
}

impl Acl {
    /// No restriction.
    pub const OPEN: Acl = Acl { bits: None };

    /// Only these method indices.
    pub fn only(indices: impl IntoIterator<Item = usize>) -> Acl {
        let mut bits = 0u128;
        for i in indices {
            if i < 128 {
                bits |= 1 << i;
            }
        }
        Acl { bits: Some(bits) }
    }

    /// Whether the method with this index may run.
    pub fn allows(&self, index: usize) -> bool {
        match self.bits {
            None => true,
            Some(b) => index < 128 && b & (1 << index) != 0,
        }
    }

    /// Adds a method (no effect when unrestricted).
    pub fn add(&mut self, index: usize) {
        if let (Some(b), true) = (&mut self.bits, index < 128) {
            *b |= 1 << index;
        }
    }

    /// Removes a method; an unrestricted ACL becomes "everything but this one".
    pub fn remove(&mut self, index: usize, method_count: usize) {
        let all = if method_count >= 128 {
            u128::MAX
        } else {
            (1u128 << method_count) - 1
        };
        let b = self.bits.get_or_insert(all);
        if index < 128 {
            *b &= !(1 << index);
        }
    }

    /// Whether every method is allowed.
    pub fn is_open(&self) -> bool {
        self.bits.is_none()
    }
}

/// The method identifier type of a namespace without ACL-governed methods.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NoMethods {}

impl MethodId for NoMethods {
    fn index(self) -> usize {
        match self {}
    }

    fn from_index(_: usize) -> Option<Self> {
        None
    }
}
