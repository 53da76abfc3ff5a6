use socketio_ns::{ConnectError, Context, namespace};

struct Token;

#[derive(Default)]
struct Chat;

#[namespace("/chat")]
impl Chat {
    fn get_initial_acl(&self) -> Vec<ChatMethod> {
        vec![]
    }

    async fn recv_connect(&mut self, _cx: &mut Context<Self>, _auth: Token) -> bool {
        true
    }

    async fn recv_disconnect(&mut self, _cx: &mut Context<Self>, _reason: String) {}

    #[fallback]
    fn other(&mut self, _cx: &mut Context<Self>, _event: String) {}

    fn on_x(&mut self, _cx: &mut Context<Self>) -> Result<(), ConnectError> {
        Ok(())
    }
}

fn main() {}
