use socketio_ns::namespace;

struct Chat;

#[namespace("/chat")]
impl Default for Chat {
    fn default() -> Self {
        Chat
    }
}

fn main() {}
