// A namespace that declares its outgoing events (`emits = ...`): the input of the expansion
// snapshot `typed.expanded.rs`, which shows the TypeScript description generated for it
// (`__socketio_ns_typescript`, inert without the feature `typescript`).

use serde::{Deserialize, Serialize};
use socketio_ns::{ConnectError, Context, HandlerError};

/// The CONNECT auth payload.
#[derive(Debug, Deserialize)]
pub struct Auth {
    /// A token.
    pub token: String,
}

/// A line of chat.
#[derive(Debug, Serialize)]
pub struct Line {
    /// Who said it.
    pub nick: String,
    /// What was said.
    pub text: String,
}

socketio_ns::events! {
    /// What `/room` sends.
    pub RoomEvents {
        /// A line said in the room.
        Said = "said"(line: Line),
        /// Someone came in, and how many are in now.
        Joined = "joined"(nick: String, count: u32),
    }
}

/// A room.
#[derive(Debug, Default)]
pub struct Room {
    nick: String,
}

#[socketio_ns::namespace("/room", emits = RoomEvents)]
impl Room {
    async fn recv_connect(&mut self, _cx: &mut Context<Self>, auth: Auth) -> Result<(), ConnectError> {
        self.nick = auth.token;
        Ok(())
    }

    async fn on_enter(&mut self, cx: &mut Context<Self>, count: u32) -> Result<u32, HandlerError> {
        let _ = cx.broadcast().emit(Joined, (self.nick.clone(), count)).await;
        Ok(count)
    }

    #[event("say it")]
    async fn on_say(&mut self, cx: &mut Context<Self>, text: String) {
        let line = Line {
            nick: self.nick.clone(),
            text,
        };
        cx.emit(Said, line);
    }
}
