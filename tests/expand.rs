//! The expansion snapshot compiles, under strict lints, and behaves as the macro's output.
//!
//! `tests/expand/chat.rs` is a representative namespace; `tests/expand/chat.expanded.rs` is
//! its expansion, pretty-printed, kept equal to the macro's output by `socketio-ns-derive`'s
//! unit tests (`TRYBUILD=overwrite cargo test -p socketio-ns-derive` refreshes it). Both are
//! compiled here: the input through the macro, the snapshot as plain code.

#![deny(warnings, missing_docs, unreachable_pub, unused, clippy::all)]

/// The namespace, through the macro.
pub mod input {
    include!("expand/chat.rs");
}

/// The namespace, from the snapshot.
pub mod expanded {
    include!("expand/chat.expanded.rs");
}

use socketio_ns::{MethodId, Namespace};

#[test]
fn snapshot_and_macro_agree() {
    assert_eq!(
        <input::Chat as Namespace>::METHODS,
        <expanded::Chat as Namespace>::METHODS
    );
    assert_eq!(<input::Chat as Namespace>::PATH, "/chat");
    assert_eq!(<expanded::Chat as Namespace>::PATH, "/chat");
    for (i, name) in <input::Chat as Namespace>::METHODS.iter().enumerate() {
        let m = input::ChatMethod::from_index(i).expect("an identifier per row");
        assert_eq!(m.index(), i);
        assert_eq!(m.name::<input::Chat>(), *name);
        let e = expanded::ChatMethod::from_index(i).expect("an identifier per row");
        assert_eq!(format!("{m:?}"), format!("{e:?}"));
    }
    assert_eq!(
        input::ChatMethod::from_index(<input::Chat as Namespace>::METHODS.len()),
        None
    );
    assert_eq!(
        <input::Chat as Namespace>::INITIAL_ACL,
        Some(&[input::ChatMethod::on_login, input::ChatMethod::recv_message][..])
    );
}

#[test]
fn cfg_handlers_follow_the_build() {
    let names = <input::Chat as Namespace>::METHODS;
    assert_eq!(names.contains(&"on_debug"), cfg!(debug_assertions));
    // The fallback's index follows the cfg'd-out row, wherever it is.
    let last = input::ChatMethod::from_index(names.len() - 1).expect("the fallback");
    assert_eq!(last, input::ChatMethod::unknown);
}
