use std::rc::Rc;

use socketio_ns::{Context, namespace};

async fn tick() {}

#[derive(Default)]
struct Chat;

#[namespace("/chat")]
impl Chat {
    async fn on_count(&mut self, _cx: &mut Context<Self>) -> usize {
        let counter = Rc::new(1);
        tick().await;
        *counter
    }
}

fn main() {}
