use socketio_ns::{Context, namespace};

#[derive(Default)]
struct Chat;

#[namespace("/chat")]
impl Chat {
    fn on_connect(&mut self, _cx: &mut Context<Self>) {}

    fn on_disconnect(&mut self, _cx: &mut Context<Self>) {}

    fn on_connect_error(&mut self, _cx: &mut Context<Self>) {}

    fn on_disconnecting(&mut self, _cx: &mut Context<Self>) {}

    fn on_new_listener(&mut self, _cx: &mut Context<Self>) {}

    fn on_remove_listener(&mut self, _cx: &mut Context<Self>) {}

    #[event("newListener")]
    fn listener(&mut self, _cx: &mut Context<Self>) {}

    #[event("connect")]
    fn joined(&mut self, _cx: &mut Context<Self>) {}
}

fn main() {}
