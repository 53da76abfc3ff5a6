use socketio_ns::{Context, Event, namespace};

#[derive(Default)]
struct Chat;

#[namespace("/chat")]
impl Chat {
    #[event]
    fn on_a(&mut self, _cx: &mut Context<Self>) {}

    #[event(name)]
    fn on_b(&mut self, _cx: &mut Context<Self>) {}

    #[event("c")]
    #[event("cc")]
    fn on_c(&mut self, _cx: &mut Context<Self>) {}

    #[fallback(all)]
    fn d(&mut self, _cx: &mut Context<Self>, _event: Event) {}

    #[event("e")]
    #[fallback]
    fn e(&mut self, _cx: &mut Context<Self>, _event: Event) {}

    #[event("text")]
    fn recv_message(&mut self, _cx: &mut Context<Self>, _text: String) {}

    #[fallback]
    fn recv_json(&mut self, _cx: &mut Context<Self>, _value: String) {}
}

fn main() {}
