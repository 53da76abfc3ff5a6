//! One build lists every bad handler, each at its token, and nothing else: the impl is still
//! there, and so are `ChatMethod` and `impl Namespace for Chat`, so the code that uses them
//! compiles.

use socketio_ns::{Context, Server, namespace};

#[derive(Default)]
struct Chat;

#[namespace("/chat", acl = [on_login, on_typo])]
impl Chat {
    fn on_login(&mut self, cx: &mut Context<Self>) {
        cx.add_acl_method(ChatMethod::on_say);
    }

    fn on_say(&self, _cx: &mut Context<Self>, _text: String) {}

    fn on_connect(&mut self, _cx: &mut Context<Self>) {}

    fn on_shout<T>(&mut self, _cx: &mut Context<Self>, _text: T) {}

    fn helper(&self) -> u32 {
        1
    }
}

fn main() {
    let _ = Chat.helper();
    let _ = Server::builder().namespace::<Chat>();
}
