// The low-level methods, overridden in the impl, calling the defaults.

use socketio_ns::{Context, Event, HandlerError, namespace};

#[derive(Default)]
struct Audit {
    seen: u64,
}

#[namespace("/audit")]
impl Audit {
    async fn process_packet(&mut self, cx: &mut Context<Self>, event: Event) {
        self.seen += 1;
        socketio_ns::default_process_packet(self, cx, event).await
    }

    async fn call_method_with_acl(
        &mut self,
        cx: &mut Context<Self>,
        event: Event,
    ) -> Result<(), HandlerError> {
        socketio_ns::default_call_method_with_acl(self, cx, event).await
    }

    async fn call_method(
        &mut self,
        cx: &mut Context<Self>,
        event: Event,
    ) -> Result<(), HandlerError> {
        if event.name().starts_with('_') {
            return Err(HandlerError::new(
                "private",
                "events starting with _ are private",
            ));
        }
        socketio_ns::default_call_method(self, cx, event).await
    }

    fn on_seen(&mut self, _cx: &mut Context<Self>) -> u64 {
        self.seen
    }
}

fn main() {}
