use socketio_ns::{Context, namespace};

#[derive(Default)]
struct Chat;

#[namespace("/chat")]
impl Chat {
    fn on_a<T: serde::de::DeserializeOwned>(&mut self, _cx: &mut Context<Self>, _value: T) {}

    fn on_b(&mut self, _cx: &mut Context<Self>, _value: impl serde::de::DeserializeOwned) {}

    fn on_c(&mut self, _cx: &mut Context<Self>) -> impl std::future::Future<Output = u32> {
        async { 1 }
    }
}

fn main() {}
