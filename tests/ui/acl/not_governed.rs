use socketio_ns::{Context, DisconnectReason, namespace};

#[derive(Default)]
struct Chat;

// `recv_connect` and `recv_disconnect` always run; hooks and plain methods are not handlers.
#[namespace("/chat", acl = [recv_connect, recv_disconnect, initialize, helper, on_login])]
impl Chat {
    fn initialize(&mut self, _cx: &mut Context<Self>) {}

    async fn recv_disconnect(&mut self, _cx: &mut Context<Self>, _reason: DisconnectReason) {}

    fn on_login(&mut self, _cx: &mut Context<Self>) {
        self.helper();
    }

    fn helper(&self) {}
}

fn main() {}
