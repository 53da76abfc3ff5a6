use socketio_ns::namespace;

#[namespace("/chat")]
struct Chat;

fn main() {
    let _ = Chat;
}
