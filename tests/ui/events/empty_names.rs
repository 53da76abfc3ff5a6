use socketio_ns::{Context, namespace};

#[derive(Default)]
struct Chat;

#[namespace("/chat")]
impl Chat {
    fn on_(&mut self, _cx: &mut Context<Self>) {}

    #[event("")]
    fn nameless(&mut self, _cx: &mut Context<Self>) {}
}

fn main() {}
