use socketio_ns::{Context, namespace};

#[derive(Default)]
struct Chat;

#[namespace("/chat")]
impl Chat {
    fn on_a(&self, _cx: &mut Context<Self>) {}

    fn on_b(self, _cx: &mut Context<Self>) {}

    fn on_d(_cx: &mut Context<Self>) {}

    fn on_e(self: Box<Self>, _cx: &mut Context<Self>) {}

    fn get_initial_acl(&mut self) -> Option<Vec<ChatMethod>> {
        None
    }
}

fn main() {}
