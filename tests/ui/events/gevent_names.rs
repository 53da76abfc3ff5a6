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

    // Takes `add_to_cart`, `add to cart`, `add to_cart` and `add_to cart`.
    fn on_add_to_cart(&mut self, _cx: &mut Context<Self>, _item: String) {}

    // A second handler for one of those spellings.
    #[event("add to_cart")]
    fn add(&mut self, _cx: &mut Context<Self>, _item: String) {}

    // The other way round: the `on_` name comes second.
    #[event("remove_from cart")]
    fn remove(&mut self, _cx: &mut Context<Self>, _item: String) {}

    fn on_remove_from_cart(&mut self, _cx: &mut Context<Self>, _item: String) {}
}

fn main() {}
