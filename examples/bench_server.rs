//! The benchmark server (see `bench/README.md` for the shared contract).
//!
//! `cargo run --release --example bench_server` serves 127.0.0.1:3000 (`PORT` overrides),
//! namespaces `/` and `/bench`: `echo` is acked with the same arguments; `broadcast` makes
//! the server emit `broadcast` with the same arguments to every socket of the namespace,
//! sender included. Ping interval 25 s, timeout 20 s.

use std::time::Duration;

use socketio_ns::{Context, Event, HandlerError, Namespace, NoMethods, Server};

async fn handle<T: Namespace>(cx: &mut Context<T>, event: Event) -> Result<(), HandlerError> {
    match event.name() {
        "echo" => {
            cx.ack(event.into_args())?;
        }
        "broadcast" => {
            if let Some(ns) = cx.io().of(cx.namespace()) {
                ns.emit("broadcast", event.into_args()).await?;
            }
        }
        _ => {}
    }
    Ok(())
}

#[derive(Default)]
struct Root;

impl Namespace for Root {
    const PATH: &'static str = "/";
    const METHODS: &'static [&'static str] = &[];
    type Method = NoMethods;

    fn method_of(_: &Event) -> Option<NoMethods> {
        None
    }

    async fn call_method(
        &mut self,
        cx: &mut Context<Self>,
        event: Event,
    ) -> Result<(), HandlerError> {
        handle(cx, event).await
    }
}

#[derive(Default)]
struct Bench;

impl Namespace for Bench {
    const PATH: &'static str = "/bench";
    const METHODS: &'static [&'static str] = &[];
    type Method = NoMethods;

    fn method_of(_: &Event) -> Option<NoMethods> {
        None
    }

    async fn call_method(
        &mut self,
        cx: &mut Context<Self>,
        event: Event,
    ) -> Result<(), HandlerError> {
        handle(cx, event).await
    }
}

fn main() -> std::io::Result<()> {
    let port: u16 = std::env::var("PORT")
        .ok()
        .and_then(|p| p.parse().ok())
        .unwrap_or(3000);
    tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?
        .block_on(
            Server::builder()
                .ping_interval(Duration::from_secs(25))
                .ping_timeout(Duration::from_secs(20))
                .namespace::<Root>()
                .namespace::<Bench>()
                .serve(("127.0.0.1", port)),
        )
}
