// A declared event takes its declared payload type, and no other, wherever it is emitted.

use serde::Serialize;
use socketio_ns::{Context, Io, events, namespace};

#[derive(Serialize)]
struct Line {
    text: String,
}

events! {
    pub ChatEvents {
        Said = "said"(line: Line),
        Moved = "moved"(from: String, to: String),
    }
}

#[derive(Default)]
struct Chat;

#[namespace("/chat", emits = ChatEvents)]
impl Chat {
    async fn on_say(&mut self, cx: &mut Context<Self>, text: String) {
        cx.emit(Said, text);
        cx.emit(Moved, "a");
        let _ = cx.everyone().emit(Said, 5).await;
    }
}

async fn from_outside(io: Io) {
    let _ = io.namespace::<Chat>().to("lobby").emit(Said, "text").await;
}

fn main() {
    let _ = from_outside;
}
