use socketio_ns::{Context, namespace};

#[derive(Default)]
struct Chat;

#[namespace("/chat", acl = on_login)]
impl Chat {
    fn on_login(&mut self, _cx: &mut Context<Self>) {}
}

fn main() {}
