//! The admin namespace across processes (features `admin-ui` and `redis`): two of our servers
//! share a private `redis-server` through the Redis adapter; the dashboard (socket.io-client
//! driven as `@socket.io/admin-ui` drives it, `tests/js/admin_ui.mjs`) connects to the first,
//! the client to the second. The dashboard lists the other process's socket (`all_sockets`,
//! through `fetch_sockets`), and its `join`, `emit`, `leave` and `_disconnect` act on it.
//!
//! Run: `cargo test -p socketio-ns --features admin-ui,redis --test admin_cluster` (needs
//! `redis-server`, node and npm; `.ci/run` installs them). Fails, never skips, without them.

#[macro_use]
#[allow(unused_macros)]
mod common;
#[path = "common/redis_support.rs"]
mod redis_support;

use std::time::Duration;

use serde_json::{Value, json};
use socketio_ns::adapter::redis::RedisAdapterFactory;
use socketio_ns::admin_ui::AdminUi;
use socketio_ns::{Server, namespace};

use common::run_node;
use redis_support::Redis;

#[derive(Default)]
struct Root;

#[namespace("/")]
impl Root {}

/// One of our servers on the Redis adapter, with the admin namespace or not; its URL.
async fn ours(redis: &Redis, admin: bool) -> String {
    let adapter = RedisAdapterFactory::new(&redis.url())
        .unwrap()
        .requests_timeout(Duration::from_millis(1500));
    let mut builder = Server::builder().namespace::<Root>().adapter(adapter);
    if admin {
        builder = builder.admin_ui(AdminUi::without_auth());
    }
    let server = builder.build();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(server.serve_listener(listener));
    url
}

/// The line of `lines` that has `key`.
fn line<'a>(lines: &'a [Value], key: &str) -> &'a Value {
    lines
        .iter()
        .find_map(|l| l.get(key))
        .unwrap_or_else(|| panic!("no {key:?} in {lines:#?}"))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_dashboard_on_one_process_acts_on_the_other() {
    let redis = Redis::start();
    let with_admin = ours(&redis, true).await;
    let other = ours(&redis, false).await;
    // Both processes listen on the adapter's channels before anything is asked of them.
    redis.wait_servers(2);
    let lines = tokio::task::spawn_blocking(move || {
        run_node(
            "admin_ui.mjs",
            json!({
                "url": with_admin,
                "client_url": other,
                "admin": "/admin",
                "password": null,
                "client": {"nsp": "/", "auth": null},
            }),
        )
    })
    .await
    .unwrap();

    let client = line(&lines, "client").as_str().unwrap();
    // A fresh dashboard lists the client of the other process, with its rooms.
    let later = &lines
        .iter()
        .find(|l| l.get("all_sockets").is_some())
        .unwrap()["later"];
    let it = later
        .as_array()
        .unwrap_or_else(|| panic!("no all_sockets: {lines:#?}"))
        .iter()
        .find(|s| s["id"] == client)
        .unwrap_or_else(|| panic!("{client} not in {later:#}"));
    assert_eq!(it["nsp"], "/");
    assert!(
        it["rooms"].as_array().unwrap().contains(&json!(client)),
        "{it}"
    );
    // `join` made it join `news` on its process: the emit to `news` reached it.
    let events = line(&lines, "client_events");
    assert!(
        events
            .as_array()
            .unwrap()
            .iter()
            .any(|e| e[0] == "said"
                && e[1] == json!({"room": "news", "nick": "admin", "text": "hello"})),
        "{events:#}"
    );
    // `_disconnect` disconnected it there.
    assert_eq!(line(&lines, "client_disconnected"), "io server disconnect");
}
