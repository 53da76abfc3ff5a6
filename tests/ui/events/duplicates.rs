use socketio_ns::{Context, Event, namespace};

#[derive(Default)]
struct Chat;

#[namespace("/chat")]
impl Chat {
    fn on_login(&mut self, _cx: &mut Context<Self>) {}

    #[event("login")]
    fn login_again(&mut self, _cx: &mut Context<Self>) {}

    fn recv_message(&mut self, _cx: &mut Context<Self>, _text: String) {}

    fn on_message(&mut self, _cx: &mut Context<Self>, _text: String) {}

    fn recv_error(&mut self, _cx: &mut Context<Self>) {}

    fn on_error(&mut self, _cx: &mut Context<Self>) {}

    #[fallback]
    fn first(&mut self, _cx: &mut Context<Self>, _event: Event) {}

    #[fallback]
    fn second(&mut self, _cx: &mut Context<Self>, _event: Event) {}
}

fn main() {}
