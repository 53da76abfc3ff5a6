// `emits = ...` names a declaration made with `events!`.

use socketio_ns::namespace;

#[derive(Default)]
struct Chat;

#[namespace("/chat", emits = String)]
impl Chat {}

fn main() {}
