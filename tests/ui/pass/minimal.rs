// `#[namespace]` alone: the root namespace, no handlers. Every event is `no_such_method`.

use socketio_ns::{MethodId, Namespace, Server, namespace};

#[derive(Default)]
struct Root;

#[namespace]
impl Root {}

fn main() {
    assert_eq!(Root::PATH, "/");
    assert!(Root::METHODS.is_empty());
    assert_eq!(Root::INITIAL_ACL, None);
    assert_eq!(RootMethod::from_index(0), None);
    let _ = Server::builder().namespace::<Root>().build();
}
