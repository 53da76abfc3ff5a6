// Methods a gevent-socketio namespace overrides, which nothing here calls.
use socketio_ns::{Context, Event, namespace};

#[derive(Default)]
struct Chat;

#[namespace("/chat")]
impl Chat {
    fn process_event(&mut self, _cx: &mut Context<Self>, _event: Event) {}

    fn disconnect(&mut self, _silent: bool) {}

    fn exception_handler_decorator(&self) {}

    fn is_method_allowed(&self, _name: &str) -> bool {
        true
    }

    fn get_initial_acl(&self) {}

    // Plainly a handler: allowed.
    #[event("disconnect me")]
    fn disconnect_me(&mut self, _cx: &mut Context<Self>) {}
}

fn main() {}
