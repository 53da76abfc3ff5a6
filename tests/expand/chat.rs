// A representative namespace: the input of the expansion snapshot `chat.expanded.rs`.
// Included (not a module of its own) by `tests/expand.rs`, which compiles both under strict
// lints; `socketio-ns-derive`'s unit tests check the snapshot.

use serde::{Deserialize, Serialize};
use socketio_ns::{Bytes, ConnectError, Context, DisconnectReason, EmitError, Event, HandlerError};

/// The CONNECT auth payload.
#[derive(Debug, Deserialize)]
pub struct Auth {
    /// A token; empty ones are refused.
    pub token: String,
}

/// The answer to `login`.
#[derive(Debug, Serialize)]
pub struct Login {
    /// The nick taken.
    pub nick: String,
    /// A welcome.
    pub greeting: String,
}

/// The answer to `upload`.
#[derive(Debug, Serialize)]
pub struct Upload {
    /// The file name.
    pub name: String,
    /// Its size in bytes.
    pub size: usize,
}

/// A chat room: log in, then talk.
#[derive(Debug, Default)]
pub struct Chat {
    nick: Option<String>,
}

#[socketio_ns::namespace("/chat", acl = [on_login, recv_message])]
impl Chat {
    fn initialize(&mut self, cx: &mut Context<Self>) {
        cx.join("lobby");
    }

    async fn recv_connect(
        &mut self,
        _cx: &mut Context<Self>,
        auth: Auth,
    ) -> Result<(), ConnectError> {
        if auth.token.is_empty() {
            return Err(ConnectError::new("no token"));
        }
        Ok(())
    }

    async fn on_login(
        &mut self,
        cx: &mut Context<Self>,
        nick: String,
    ) -> Result<Login, HandlerError> {
        if nick.is_empty() {
            return Err(HandlerError::new("bad_nick", "empty nick"));
        }
        self.nick = Some(nick.clone());
        cx.lift_acl_restrictions();
        Ok(Login {
            nick,
            greeting: self.greeting(),
        })
    }

    #[event("chat message")]
    async fn on_chat_message(
        &mut self,
        cx: &mut Context<Self>,
        text: String,
    ) -> Result<(), EmitError> {
        cx.to("lobby")
            .emit("chat message", (&self.nick, text))
            .await
    }

    async fn on_upload(&mut self, _cx: &mut Context<Self>, name: String, data: Bytes) -> Upload {
        Upload {
            name,
            size: data.len(),
        }
    }

    fn recv_message(&mut self, _cx: &mut Context<Self>, message: String) -> String {
        message
    }

    fn recv_json(&mut self, _cx: &mut Context<Self>, _value: serde_json::Value) {}

    fn recv_error(&mut self, _cx: &mut Context<Self>, _name: String, _message: Option<String>) {}

    #[cfg(debug_assertions)]
    fn on_debug(&mut self, _cx: &mut Context<Self>) -> Option<String> {
        self.nick.clone()
    }

    #[fallback]
    async fn unknown(&mut self, _cx: &mut Context<Self>, event: Event) -> Result<(), HandlerError> {
        Err(HandlerError::new("unknown_event", event.name()))
    }

    async fn recv_disconnect(&mut self, _cx: &mut Context<Self>, _reason: DisconnectReason) {
        self.nick = None;
    }

    /// Not a handler: left alone.
    fn greeting(&self) -> String {
        format!("hello {}", self.nick.as_deref().unwrap_or("stranger"))
    }
}
