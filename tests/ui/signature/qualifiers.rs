use socketio_ns::{Context, namespace};

#[derive(Default)]
struct Chat;

#[namespace("/chat")]
impl Chat {
    const fn on_a(&mut self, _cx: &mut Context<Self>) {}

    unsafe fn on_b(&mut self, _cx: &mut Context<Self>) {}

    extern "C" fn on_c(&mut self, _cx: &mut Context<Self>) {}
}

fn main() {}
