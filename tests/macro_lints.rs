//! The expansion is lint-clean in the user's crate: this crate denies warnings, the
//! workspace's lints and clippy's `all` and `pedantic` groups (CI runs clippy on every target),
//! and uses `#[namespace]` in the shapes that could trip them: public and private types,
//! generics, `#[cfg]` and `#[deprecated]` handlers, plain-`fn` hooks, handlers that do not
//! await, namespaces without handlers.

#![deny(
    warnings,
    missing_docs,
    missing_debug_implementations,
    unreachable_pub,
    unused,
    unused_qualifications,
    rust_2018_idioms,
    deprecated,
    clippy::all,
    clippy::pedantic
)]

/// Public namespaces: their method enums are public API and documented.
pub mod public {
    use serde::{Deserialize, Serialize};
    use socketio_ns::{
        Bytes, ConnectError, Context, DisconnectReason, Event, HandlerError, namespace,
    };

    /// Auth payload.
    #[derive(Debug, Deserialize)]
    pub struct Auth {
        /// Token.
        pub token: String,
    }

    /// Ack payload.
    #[derive(Debug, Serialize)]
    pub struct Reply {
        /// Count.
        pub count: u64,
    }

    /// A namespace with every kind of method.
    #[derive(Debug, Default)]
    pub struct Chat {
        count: u64,
    }

    #[namespace("/chat", acl = [on_login, recv_message])]
    impl Chat {
        fn initialize(&mut self, _cx: &mut Context<Self>) {
            self.count = 0;
        }

        fn recv_connect(
            &mut self,
            _cx: &mut Context<Self>,
            auth: Auth,
        ) -> Result<(), ConnectError> {
            if auth.token.is_empty() {
                Err(ConnectError::new("no token"))
            } else {
                Ok(())
            }
        }

        fn on_login(
            &mut self,
            cx: &mut Context<Self>,
            nick: String,
        ) -> Result<Reply, HandlerError> {
            if nick.is_empty() {
                return Err(HandlerError::new("bad_nick", "empty"));
            }
            cx.add_acl_method(ChatMethod::on_count);
            self.count += 1;
            Ok(Reply { count: self.count })
        }

        fn on_count(&mut self, _cx: &mut Context<Self>) -> u64 {
            self.count
        }

        #[event("with space")]
        fn on_with_space(&mut self, _cx: &mut Context<Self>, _a: Option<u8>, _b: Bytes) {}

        fn recv_message(&mut self, _cx: &mut Context<Self>, message: String) -> String {
            message
        }

        fn recv_json(&mut self, _cx: &mut Context<Self>, _value: serde_json::Value) {}

        fn recv_error(&mut self, _cx: &mut Context<Self>) {}

        #[deprecated = "use on_count"]
        fn on_old_count(&mut self, _cx: &mut Context<Self>) -> u64 {
            self.count
        }

        async fn on_relay(
            &mut self,
            cx: &mut Context<Self>,
            text: String,
        ) -> Result<(), socketio_ns::EmitError> {
            cx.broadcast().emit("relay", text).await
        }

        #[cfg(any())]
        fn on_compiled_out(&mut self, _cx: &mut Context<Self>) {}

        #[fallback]
        fn other(&mut self, _cx: &mut Context<Self>, event: Event) -> Result<(), HandlerError> {
            Err(HandlerError::new("unknown", event.name()))
        }

        fn recv_disconnect(&mut self, _cx: &mut Context<Self>, _reason: DisconnectReason) {
            self.count = 0;
        }
    }

    /// A namespace without handlers.
    #[derive(Debug, Default)]
    pub struct Empty;

    #[namespace("/empty")]
    impl Empty {}

    /// A generic namespace.
    #[derive(Debug)]
    pub struct Store<T> {
        items: Vec<T>,
    }

    #[namespace("/store")]
    impl<T: serde::de::DeserializeOwned + Serialize + Clone + Send + 'static> Store<T> {
        fn on_put(&mut self, _cx: &mut Context<Self>, item: T) -> usize {
            self.items.push(item);
            self.items.len()
        }
    }
}

/// Private namespaces, in a private module of a crate that exports nothing.
mod private {
    use socketio_ns::{Context, Event, HandlerError, namespace};

    #[derive(Debug, Default)]
    pub(crate) struct Hidden;

    #[namespace("/hidden", vis = pub(crate))]
    impl Hidden {
        fn on_ping(&mut self, _cx: &mut Context<Self>) -> &'static str {
            "pong"
        }

        fn recv_connect(&mut self, _cx: &mut Context<Self>) {}

        async fn call_method(
            &mut self,
            cx: &mut Context<Self>,
            event: Event,
        ) -> Result<(), HandlerError> {
            socketio_ns::default_call_method(self, cx, event).await
        }
    }

    /// The default visibility, `pub`, inside a private module.
    #[derive(Debug, Default)]
    pub(crate) struct AlsoHidden;

    #[namespace("/also-hidden")]
    impl AlsoHidden {
        fn on_ping(&mut self, _cx: &mut Context<Self>) {}
    }
}

#[test]
fn the_namespaces_register() {
    use socketio_ns::Namespace;
    assert_eq!(public::Chat::PATH, "/chat");
    assert_eq!(private::Hidden::METHODS, ["on_ping"]);
    assert_eq!(private::AlsoHidden::METHODS, ["on_ping"]);
    assert!(public::Empty::METHODS.is_empty());
    assert_eq!(<public::Store<u8> as Namespace>::METHODS, ["on_put"]);
    let _ = socketio_ns::Server::builder()
        .registered_namespaces()
        .build();
}
