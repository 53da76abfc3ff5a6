// `crate = "..."` for a renamed dependency; `vis = ...` for the method enum.

extern crate socketio_ns as sio;

mod inner {
    #[derive(Default)]
    pub(crate) struct Chat;

    #[sio::namespace("/chat", crate = "sio", vis = pub(crate), acl = [on_login])]
    impl Chat {
        fn on_login(&mut self, cx: &mut sio::Context<Self>) {
            cx.add_acl_method(ChatMethod::on_say);
        }

        fn on_say(&mut self, _cx: &mut sio::Context<Self>, _text: String) {}
    }
}

fn main() {
    use sio::Namespace;
    assert_eq!(inner::Chat::METHODS, ["on_login", "on_say"]);
    let _ = inner::ChatMethod::on_say;
}
