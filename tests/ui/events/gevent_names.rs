use socketio_ns::{Context, namespace};

#[derive(Default)]
struct Chat;

#[namespace("/chat")]
impl Chat {
    // Takes `user_message` and `user message`.
    fn on_user_message(&mut self, _cx: &mut Context<Self>, _text: String) {}

    // A second handler for `user message`.
    #[event("user message")]
    fn spaced(&mut self, _cx: &mut Context<Self>, _text: String) {}

    #[event("nick name")]
    fn nick(&mut self, _cx: &mut Context<Self>, _nick: String) {}

    // Would also take `nick name`.
    fn on_nick_name(&mut self, _cx: &mut Context<Self>, _nick: String) {}
}

fn main() {}
