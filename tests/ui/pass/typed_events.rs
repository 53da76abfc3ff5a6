// Declared outgoing events next to an undeclared namespace: the declared one emits its
// events with their payloads everywhere (context, operators, server handle, acks); the other
// keeps the string API.

use serde::Serialize;
use socketio_ns::{AckError, AckResponse, Context, Io, Server, events, namespace};

#[derive(Serialize)]
struct Line {
    text: String,
}

events! {
    /// What `/chat` sends.
    pub ChatEvents {
        /// One argument.
        Said = "said"(line: Line),
        /// Two.
        Moved = "moved"(from: String, to: String),
        /// None.
        Bye = "bye"(),
    }
}

#[derive(Default)]
struct Chat;

#[namespace("/chat", emits = ChatEvents)]
impl Chat {
    async fn on_say(&mut self, cx: &mut Context<Self>, text: String) {
        cx.emit(Said, Line { text });
        cx.try_emit(Bye, ()).unwrap_or_default();
        cx.emit_with_ack_then(Moved, ("a".to_owned(), "b".to_owned()), Self::answered);
        let _ = cx.to("lobby").except("x").emit(Bye, ()).await;
        let _ = cx.broadcast().emit_with_ack(Bye, ()).await;
        let _ = cx.broadcast_event(Said, Line { text: String::new() });
        let _ = cx.emit_with_ack(Bye, ()).await;
    }

    fn answered(&mut self, _cx: &mut Context<Self>, _answer: Result<AckResponse, AckError>) {}
}

#[derive(Default)]
struct Plain;

#[namespace("/plain")]
impl Plain {
    async fn on_say(&mut self, cx: &mut Context<Self>, text: String) {
        let name = String::from("said");
        cx.emit("said", &text);
        cx.emit(&name, 1);
        let _ = cx.to("lobby").emit(name, (1, 2)).await;
    }
}

async fn from_outside(io: Io) {
    let _ = io.namespace::<Chat>().to("lobby").emit(Said, Line { text: String::new() }).await;
    let _ = io.namespace::<Plain>().emit("anything", 1).await;
    let _ = io.of("/chat").unwrap().emit("by path: untyped", ()).await;
}

fn main() {
    assert_eq!(Said::NAME, "said");
    let _ = from_outside;
    let _ = Server::builder().namespace::<Chat>().namespace::<Plain>().build();
}
