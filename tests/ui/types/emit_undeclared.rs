// A namespace that declares its outgoing events (`emits = ...`) cannot emit by name: every
// emit, from the context, a broadcast operator or the server handle, is an error at the
// event, and says how to declare it.

use serde::Serialize;
use socketio_ns::{Context, Io, events, namespace};

#[derive(Serialize)]
struct Line {
    text: String,
}

events! {
    pub ChatEvents {
        Said = "said"(line: Line),
    }
}

#[derive(Default)]
struct Chat;

#[namespace("/chat", emits = ChatEvents)]
impl Chat {
    async fn on_say(&mut self, cx: &mut Context<Self>, text: String) {
        cx.emit("said", Line { text });
        let _ = cx.to("lobby").emit("said", Line { text: String::new() }).await;
        let _ = cx.broadcast_event("hello", ());
        let _ = cx.emit_with_ack("question", "2 + 2?").await;
    }
}

async fn from_outside(io: Io) {
    let _ = io.namespace::<Chat>().emit("shutdown", ()).await;
}

fn main() {
    let _ = from_outside;
}
