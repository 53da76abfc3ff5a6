use socketio_ns::{Context, namespace};

#[derive(Default)]
struct Chat;

#[namespace("/chat")]
impl Chat {
    async fn recv_conect(&mut self, _cx: &mut Context<Self>) {}

    fn recv_login(&mut self, _cx: &mut Context<Self>) {}
}

fn main() {}
