//! The `#[namespace]` attribute macro of `socketio-ns`. Use it through the `socketio_ns`
//! crate, which documents it.

mod ast;
mod attr;
mod errors;
mod expand;
mod validate;

#[cfg(test)]
mod tests;

use proc_macro::TokenStream;

/// Turns an `impl` block into a Socket.IO namespace (documented in the `socketio_ns` crate).
#[proc_macro_attribute]
pub fn namespace(attr: TokenStream, item: TokenStream) -> TokenStream {
    expand::namespace(attr.into(), item.into()).into()
}
