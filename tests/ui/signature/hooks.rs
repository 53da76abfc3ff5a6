use socketio_ns::{Context, DisconnectReason, Event, HandlerError, Handshake, namespace};

#[derive(Default)]
struct Chat;

#[namespace("/chat")]
impl Chat {
    async fn initialize(&mut self, _cx: &mut Context<Self>, _extra: u32) -> bool {
        true
    }

    fn get_initial_acl(&self, _handshake: &Handshake, _extra: u32) -> Option<Vec<ChatMethod>> {
        None
    }

    async fn recv_connect(&mut self, _cx: &mut Context<Self>, _auth: String, _more: String) {}

    async fn recv_disconnect(&mut self, _cx: &mut Context<Self>, _reason: DisconnectReason) -> u32 {
        1
    }

    fn process_packet(&mut self, _cx: &mut Context<Self>, _event: Event) {}

    async fn call_method(&mut self, _cx: &mut Context<Self>) -> Result<(), HandlerError> {
        Ok(())
    }

    #[fallback]
    fn other(&mut self, _cx: &mut Context<Self>) {}
}

fn main() {}
