//! The `#[namespace]` attribute macro of `socketio-ns`. Use it through the `socketio_ns` crate.

use proc_macro::TokenStream;

/// Turns an `impl` block into a Socket.IO namespace. See `socketio_ns::namespace`.
#[proc_macro_attribute]
pub fn namespace(_attr: TokenStream, item: TokenStream) -> TokenStream {
    item
}
