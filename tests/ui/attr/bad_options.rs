use socketio_ns::{Context, namespace};

#[derive(Default)]
struct Chat;

// Every problem of the attribute at once: the path, an unknown option, a bad crate path, a
// repeated option.
#[namespace("chat", colour = "red", crate = "not a path", vis = pub, vis = pub(crate))]
impl Chat {
    fn on_login(&mut self, _cx: &mut Context<Self>) {}
}

fn main() {}
