use socketio_ns::{Context, namespace};

#[derive(Default)]
struct Chat;

#[namespace("/chat")]
impl Chat {
    fn on_a(&mut self) {}

    fn on_b(&mut self, nick: String) -> String {
        nick
    }

    fn on_c(&mut self, _cx: &Context<Self>) {}
}

fn main() {}
