use socketio_ns::{Context, namespace};

#[derive(Default)]
struct Chat;

// Two handlers of one event are allowed under `#[cfg]`s, which must then exclude each other:
// here both hold, and the generated `match` says so.
#[namespace("/chat")]
impl Chat {
    #[cfg(all())]
    fn on_login(&mut self, _cx: &mut Context<Self>) {}

    #[cfg(not(any()))]
    #[event("login")]
    fn login_v2(&mut self, _cx: &mut Context<Self>) {}
}

fn main() {}
