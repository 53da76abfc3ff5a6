use socketio_ns::{Context, namespace};

#[derive(Default)]
struct Other;

#[namespace("/other")]
impl Other {}

#[derive(Default)]
struct Chat;

#[namespace("/chat")]
impl Chat {
    fn on_login(&mut self, _cx: &mut Context<Other>, _nick: String) {}

    fn on_logout(&mut self, _cx: &mut String) {}
}

fn main() {}
