// A generic namespace (not registered in the inventory: there is no one type), and one without
// `Default`, registered with a factory.

use std::marker::PhantomData;

use socketio_ns::{Context, Namespace, Server, namespace};

struct Store<T> {
    items: Vec<T>,
}

#[namespace("/store")]
impl<T> Store<T>
where
    T: serde::de::DeserializeOwned + serde::Serialize + Clone + Send + 'static,
{
    fn on_put(&mut self, _cx: &mut Context<Self>, item: T) -> usize {
        self.items.push(item);
        self.items.len()
    }

    fn on_all(&mut self, _cx: &mut Context<Self>) -> Vec<T> {
        self.items.clone()
    }
}

struct Configured {
    greeting: String,
    _p: PhantomData<()>,
}

#[namespace("/configured")]
impl Configured {
    fn on_hello(&mut self, _cx: &mut Context<Self>) -> String {
        self.greeting.clone()
    }
}

fn main() {
    assert_eq!(<Store<u32> as Namespace>::METHODS, ["on_put", "on_all"]);
    let _ = Server::builder()
        .namespace_with(|| Store::<String> { items: Vec::new() })
        .namespace_with(|| Configured {
            greeting: "hi".into(),
            _p: PhantomData,
        })
        .registered_namespaces()
        .build();
}
