//! The Redis adapter against the real thing: a `redis-server` started on a free loopback port,
//! two of our servers (in this process, on their own ports, each with its own
//! `RedisAdapterFactory`) and one Node.js `socket.io` 4.8 server with `@socket.io/redis-adapter`
//! 8.3 (`tests/js/redis_cluster.mjs`, which also runs the socket.io-client clients), in one
//! cluster. Every operation is driven in both directions, then Redis is stopped and restarted
//! under the servers and garbage is published on the channels. Our `RedisEmitter` is compared
//! byte for byte with `@socket.io/redis-emitter` and drives both kinds of server, as the Node
//! emitter does.
//!
//! Run: `cargo build -p socketio-ns --features redis --example chat && cargo test -p socketio-ns
//! --features redis --test redis_cluster` (needs `redis-server`, node and npm; `.ci/run`
//! installs them). Fails, never skips, without them.

#[allow(unused_macros)]
mod common;
#[path = "common/redis_support.rs"]
mod redis_support;

use std::collections::HashMap;
use std::process::Command;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use serde_json::{Value, json};
use socketio_ns::adapter::redis::{RedisAdapterFactory, RedisEmitter};
use socketio_ns::{Bytes, Context, Io, Server, namespace};

use redis_support::{Node, Redis, free_port};

/// The rooms namespace both kinds of server run: `join` joins a room and acks the socket id.
#[derive(Default)]
struct Lobby;

#[namespace("/")]
impl Lobby {
    async fn on_join(&mut self, cx: &mut Context<Self>, room: String) -> String {
        cx.join(room);
        cx.id().to_owned()
    }
}

impl Node {
    /// `tests/js/redis_cluster.mjs`: with a port, a Node server on `createAdapter`.
    fn start(redis: &Redis, port: Option<u16>) -> Node {
        Node::spawn(
            "redis_cluster.mjs",
            json!({ "redis": redis.url(), "port": port }),
        )
    }
}

// ---------------------------------------------------------------------------------------------
// our servers

/// One of our servers on a free port, and the server events it received.
struct Ours {
    io: Io,
    port: u16,
    received: Arc<Mutex<Vec<Value>>>,
}

async fn ours(redis: &Redis, name: &'static str) -> Ours {
    let received = Arc::new(Mutex::new(Vec::new()));
    let log = received.clone();
    let adapter = RedisAdapterFactory::new(&redis.url())
        .unwrap()
        .requests_timeout(Duration::from_millis(1500));
    let server = Server::builder()
        .namespace::<Lobby>()
        .adapter(adapter)
        .on_server_event(move |ev| {
            log.lock()
                .unwrap()
                .push(json!({"event": ev.event, "args": ev.args}));
            if let Some(ack) = ev.ack {
                ack.send(json!({ "from": name }));
            }
        })
        .build();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    let io = server.io();
    tokio::spawn(server.serve_listener(listener));
    Ours { io, port, received }
}

/// Event names, sorted.
fn names(events: &[Value]) -> Vec<String> {
    let mut n: Vec<String> = events
        .iter()
        .map(|e| e["event"].as_str().unwrap().to_owned())
        .collect();
    n.sort();
    n
}

fn sorted(mut v: Vec<String>) -> Vec<String> {
    v.sort();
    v
}

const BLOB: &[u8] = &[0, 1, 2, 255];

#[tokio::test(flavor = "multi_thread", worker_threads = 3)]
async fn mixed_cluster_of_ours_and_node() {
    let started = Instant::now();
    let redis = Redis::start();
    let a = ours(&redis, "A").await;
    let b = ours(&redis, "B").await;
    let node_port = free_port();
    let mut node = Node::start(&redis, Some(node_port));
    redis.wait_servers(3);

    // One client on each server; rooms: r1 everywhere, r2 on B only.
    let sa = node.client("a", a.port);
    let sb = node.client("b", b.port);
    let sn = node.client("n", node_port);
    for (c, room) in [("a", "r1"), ("b", "r1"), ("b", "r2"), ("n", "r1")] {
        node.join(c, room);
    }

    // Ours -> every process: a room, binary arguments.
    a.io.to("r1")
        .emit("news", ("hi", Bytes::from_static(BLOB)))
        .await
        .unwrap();
    for c in ["a", "b", "n"] {
        let ev = node.events(c, 1, 3000);
        assert_eq!(ev.len(), 1, "{c}: {ev:?}");
        assert_eq!(ev[0]["event"], "news");
        assert_eq!(ev[0]["args"], json!(["hi", {"$binary": "AAEC/w=="}]), "{c}");
    }
    // except, and local.
    b.io.to("r1").except("r2").emit("ex", 1).await.unwrap();
    a.io.local().emit("loc", 2).await.unwrap();
    assert_eq!(names(&node.events("a", 2, 3000)), ["ex", "loc"]);
    assert_eq!(names(&node.events("n", 1, 3000)), ["ex"]);
    assert_eq!(names(&node.events("b", 0, 300)), Vec::<String>::new());

    // Node -> ours: a single room (its own channel), binary; except.
    node.call(json!({"cmd": "emit", "to": ["r2"], "event": "solo", "args": [{"$binary": "AAEC/w=="}, {"k": 1.5}]}));
    let ev = node.events("b", 1, 3000);
    assert_eq!(ev[0]["args"], json!([{"$binary": "AAEC/w=="}, {"k": 1.5}]));
    node.call(json!({"cmd": "emit", "except": ["r2"], "event": "others", "args": []}));
    assert_eq!(names(&node.events("a", 1, 3000)), ["others"]);
    assert_eq!(names(&node.events("n", 1, 3000)), ["others"]);
    assert!(node.events("b", 0, 300).is_empty());

    // Broadcast with acks, ours -> every process: three answers.
    let acks =
        a.io.timeout(Duration::from_secs(3))
            .emit_with_ack("ask", 7)
            .await
            .unwrap();
    assert!(acks.is_complete(), "{acks:?}");
    let mut froms: Vec<String> = acks
        .responses
        .iter()
        .map(|(_, r)| {
            r.arg::<Value>(0).unwrap()["from"]
                .as_str()
                .unwrap()
                .to_owned()
        })
        .collect();
    froms.sort();
    assert_eq!(froms, ["a", "b", "n"]);
    for c in ["a", "b", "n"] {
        assert_eq!(names(&node.events(c, 1, 2000)), ["ask"]);
    }
    // Node -> ours.
    let r = node.call(json!({"cmd": "emit_ack", "event": "ask2", "args": [1]}));
    let mut froms: Vec<String> = r["responses"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v["from"].as_str().unwrap().to_owned())
        .collect();
    froms.sort();
    assert_eq!(froms, ["a", "b", "n"]);
    for c in ["a", "b", "n"] {
        node.events(c, 1, 2000);
    }

    // fetch_sockets merges every process, both ways.
    let all = b.io.fetch_sockets().await.unwrap();
    let ids = sorted(all.iter().map(|s| s.id.clone()).collect());
    assert_eq!(ids, sorted(vec![sa.clone(), sb.clone(), sn.clone()]));
    let n_info = all.iter().find(|s| s.id == sn).unwrap();
    assert!(n_info.rooms.iter().any(|r| r == "r1"), "{n_info:?}");
    assert!(
        n_info.handshake.url.starts_with("/socket.io/"),
        "{n_info:?}"
    );
    let in_r2 = a.io.to("r2").fetch_sockets().await.unwrap();
    assert_eq!(in_r2.len(), 1);
    assert_eq!(in_r2[0].id, sb);
    let r = node.call(json!({"cmd": "fetch", "to": ["r1"]}));
    let node_ids = sorted(
        r["sockets"]
            .as_array()
            .unwrap()
            .iter()
            .map(|s| s["id"].as_str().unwrap().to_owned())
            .collect(),
    );
    assert_eq!(node_ids, sorted(vec![sa.clone(), sb.clone(), sn.clone()]));
    let a_from_node = r["sockets"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["id"] == sa.as_str())
        .unwrap();
    assert!(
        a_from_node["rooms"]
            .as_array()
            .unwrap()
            .contains(&json!("r1"))
    );

    // sockets_join from ours reaches Node's sockets; Node's socketsLeave reaches ours.
    a.io.to("r1").sockets_join("r3").await.unwrap();
    tokio::time::sleep(Duration::from_millis(200)).await;
    node.call(json!({"cmd": "emit", "to": ["r3"], "event": "in-r3", "args": []}));
    for c in ["a", "b", "n"] {
        assert_eq!(names(&node.events(c, 1, 3000)), ["in-r3"], "{c}");
    }
    node.call(json!({"cmd": "sockets_leave", "to": ["r2"], "rooms": ["r3"]}));
    tokio::time::sleep(Duration::from_millis(200)).await;
    a.io.to("r3").emit("r3-again", ()).await.unwrap();
    assert_eq!(names(&node.events("a", 1, 3000)), ["r3-again"]);
    assert_eq!(names(&node.events("n", 1, 3000)), ["r3-again"]);
    assert!(
        node.events("b", 0, 300).is_empty(),
        "b left r3 by Node's request"
    );

    // all_rooms.
    let rooms = a.io.all_rooms().await.unwrap();
    for r in ["r1", "r2", "r3", sn.as_str(), sb.as_str()] {
        assert!(rooms.iter().any(|x| x == r), "{r} in {rooms:?}");
    }
    let r = node.call(json!({"cmd": "all_rooms"}));
    assert!(r["rooms"].as_array().unwrap().contains(&json!("r2")));

    // Server-side emits: ours -> B and Node; Node -> A and B; with acks both ways.
    a.io.server_side_emit("hello", (1, "x")).await.unwrap();
    let answers = a.io.server_side_emit_with_ack("ping", ()).await.unwrap();
    let mut froms: Vec<String> = answers
        .iter()
        .map(|v| v["from"].as_str().unwrap().to_owned())
        .collect();
    froms.sort();
    assert_eq!(froms, ["B", "node"]);
    let r = node.call(json!({"cmd": "server_events"}));
    assert_eq!(
        r["events"],
        json!([{"event": "hello", "args": [1, "x"]}, {"event": "ping", "args": []}])
    );
    assert!(
        a.received.lock().unwrap().is_empty(),
        "a process does not receive its own"
    );
    node.call(json!({"cmd": "server_side_emit", "event": "hello", "args": [{"n": 2}]}));
    let r = node.call(json!({"cmd": "server_side_emit_ack", "event": "ping", "args": ["?"]}));
    let mut froms: Vec<String> = r["answers"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v["from"].as_str().unwrap().to_owned())
        .collect();
    froms.sort();
    assert_eq!(froms, ["A", "B"]);
    for o in [&a, &b] {
        let got = o.received.lock().unwrap().clone();
        assert!(
            got.contains(&json!({"event": "hello", "args": [{"n": 2}]})),
            "{got:?}"
        );
        assert!(
            got.contains(&json!({"event": "ping", "args": ["?"]})),
            "{got:?}"
        );
    }

    // The Node emitter (not a server) drives our sockets too.
    node.call(json!({"cmd": "emitter", "op": "emit", "to": ["r2"], "event": "from-emitter", "args": [{"$binary": "AAEC/w=="}]}));
    let ev = node.events("b", 1, 3000);
    assert_eq!(ev[0]["event"], "from-emitter");
    assert_eq!(ev[0]["args"], json!([{"$binary": "AAEC/w=="}]));

    // disconnect_sockets: Node disconnects ours, ours disconnects Node's.
    node.call(json!({"cmd": "disconnect", "to": ["r2"]}));
    assert_eq!(names(&node.events("b", 1, 3000)), ["disconnect"]);
    a.io.to(sn.clone()).disconnect_sockets(false).await.unwrap();
    assert_eq!(names(&node.events("n", 1, 3000)), ["disconnect"]);
    assert!(node.events("a", 0, 300).is_empty());

    eprintln!("mixed cluster scenario: {:?}", started.elapsed());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 3)]
async fn redis_restart_and_garbage() {
    let mut redis = Redis::start();
    let a = ours(&redis, "A").await;
    let b = ours(&redis, "B").await;
    redis.wait_servers(2);
    let mut node = Node::start(&redis, None);
    node.client("a", a.port);
    node.client("b", b.port);

    // Garbage and truncated messages on every channel: ignored, the servers carry on.
    let good = {
        // A valid broadcast from a foreign uid, to truncate.
        let mut m = vec![0x93, 0xa3, b'x', b'y', b'z', 0x83];
        m.extend_from_slice(&[0xa4, b't', b'y', b'p', b'e', 0x02]);
        m.extend_from_slice(&[0xa4, b'd', b'a', b't', b'a', 0x91, 0xa2, b'g', b'o']);
        m.extend_from_slice(&[0xa3, b'n', b's', b'p', 0xa1, b'/', 0x80]);
        m
    };
    redis.publish("socket.io#/#", &good);
    assert_eq!(
        names(&node.events("a", 1, 3000)),
        ["go"],
        "the valid message is delivered"
    );
    node.events("b", 1, 3000);
    for channel in [
        "socket.io#/#",
        "socket.io#/#r1#",
        "socket.io-request#/#",
        "socket.io-response#/#",
    ] {
        for payload in [
            &b"garbage"[..],
            &good[..good.len() - 3],
            b"{\"type\":",
            b"{\"type\":7}",
            b"",
            b"\x93\xc0\xc0\xc0",
            b"\xdd\xff\xff\xff\xff",
        ] {
            redis.publish(channel, payload);
        }
    }
    a.io.emit("after-garbage", ()).await.unwrap();
    assert_eq!(names(&node.events("b", 1, 3000)), ["after-garbage"]);
    assert_eq!(names(&node.events("a", 1, 3000)), ["after-garbage"]);
    assert_eq!(redis.servers(), 2);

    // Redis goes away: local delivery goes on, requests fail fast with a clear error.
    redis.stop();
    let t = Instant::now();
    let err = a.io.emit("while-down", ()).await.unwrap_err();
    assert!(t.elapsed() < Duration::from_secs(4), "{:?}", t.elapsed());
    assert!(err.to_string().contains("redis"), "{err}");
    assert_eq!(names(&node.events("a", 1, 2000)), ["while-down"]);
    assert!(node.events("b", 0, 300).is_empty());
    let t = Instant::now();
    let err = a.io.fetch_sockets().await.unwrap_err();
    assert!(t.elapsed() < Duration::from_secs(4), "{:?}", t.elapsed());
    eprintln!(
        "fetch_sockets with Redis down: {err} after {:?}",
        t.elapsed()
    );

    // Redis comes back: both adapters subscribe again, cross-process delivery resumes.
    redis.restart();
    redis.wait_servers(2);
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        if a.io.emit("back", ()).await.is_ok() && !node.events("b", 1, 500).is_empty() {
            break;
        }
        assert!(Instant::now() < deadline, "delivery did not resume");
    }
    node.events("a", 0, 200);
    assert_eq!(b.io.fetch_sockets().await.unwrap().len(), 2);
}

/// The chat example with `REDIS_URL`: two processes share the rooms of `/chat`.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn chat_example_shares_rooms_through_redis() {
    let redis = Redis::start();
    let url = redis.url();
    let env = [("REDIS_URL", url.as_str()), ("REDIS_ADAPTER", "classic")];
    let one = common::ExampleServer::spawn_with_env("chat", &env);
    let two = common::ExampleServer::spawn_with_env("chat", &env);
    let deadline = Instant::now() + Duration::from_secs(15);
    while redis.servers_of("/chat") != 2 {
        assert!(
            Instant::now() < deadline,
            "the chat processes did not subscribe"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
    let mut node = Node::start(&redis, None);
    for (name, server) in [("x", &one), ("y", &two)] {
        node.client_at(
            name,
            &format!("{}/chat", server.url()),
            json!({"token": "t"}),
        );
        node.call(json!({"cmd": "ask", "name": name, "event": "login", "args": [name]}));
        node.call(json!({"cmd": "ask", "name": name, "event": "join", "args": ["lobby"]}));
    }
    node.call(json!({"cmd": "ask", "name": "y", "event": "say", "args": ["lobby", "hello"]}));
    let ev = node.events("x", 1, 3000);
    assert_eq!(names(&ev), ["said"], "{ev:?}");
    assert!(ev[0]["args"].to_string().contains("hello"), "{ev:?}");
    assert!(
        node.events("y", 0, 300).is_empty(),
        "the sender is not told"
    );
}

/// Two chat processes with `PARSER=msgpack` on one Redis: msgpack clients on each share a
/// room (the adapter carries the runtime's packets; each process writes them in msgpack).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn msgpack_chat_processes_share_rooms() {
    let redis = Redis::start();
    let url = redis.url();
    let env = [("REDIS_URL", url.as_str()), ("PARSER", "msgpack")];
    let one = common::ExampleServer::spawn_with_env("chat", &env);
    let two = common::ExampleServer::spawn_with_env("chat", &env);
    let deadline = Instant::now() + Duration::from_secs(15);
    while redis.servers_of("/chat") != 2 {
        assert!(
            Instant::now() < deadline,
            "the chat processes did not subscribe"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
    let mut steps = Vec::new();
    for (name, server) in [("x", &one), ("y", &two)] {
        steps.push(json!({
            "connect": name, "nsp": "/chat", "url": server.url(),
            "transports": ["websocket"], "auth": { "token": "t" },
        }));
        steps.push(json!({ "emit": "login", "by": name, "args": [name] }));
        steps.push(json!({ "emit": "join", "by": name, "args": ["lobby"] }));
    }
    steps.push(json!({ "emit": "say", "by": "y", "args": ["lobby", "hello"] }));
    steps.push(json!({ "expect": "said", "by": "x" }));
    steps.push(json!({ "emit": "stop_ticker", "by": "y", "args": [] }));
    steps.push(json!({ "nothing": ["y"] }));
    let lines = tokio::task::spawn_blocking(move || {
        common::run_node(
            "rooms.mjs",
            json!({ "url": one.url(), "parser": "msgpack", "steps": steps }),
        )
    })
    .await
    .unwrap();
    let said: Vec<&Value> = lines.iter().filter(|l| l["event"] == "said").collect();
    assert_eq!(said.len(), 1, "{lines:#?}");
    assert_eq!(said[0]["by"], "x", "{lines:#?}");
    assert_eq!(
        said[0]["args"][0],
        json!({ "room": "lobby", "nick": "y", "text": "hello" }),
        "{lines:#?}"
    );
    assert!(
        lines.iter().any(|l| l.get("nothing").is_some()),
        "{lines:#?}"
    );
    drop(two);
}

// ---------------------------------------------------------------------------------------------
// emitters: processes that are not servers

/// Every message published on the Redis (channel, payload), in order, from a `PSUBSCRIBE *`.
struct Tap {
    rx: tokio::sync::mpsc::UnboundedReceiver<(String, Vec<u8>)>,
    task: tokio::task::JoinHandle<()>,
}

impl Tap {
    async fn start(redis: &Redis) -> Tap {
        use futures_util::StreamExt as _;
        let client = redis::Client::open(redis.url()).unwrap();
        let mut pubsub = client.get_async_pubsub().await.unwrap();
        pubsub.psubscribe("*").await.unwrap();
        let (tx, rx) = tokio::sync::mpsc::unbounded_channel();
        let task = tokio::spawn(async move {
            let mut stream = pubsub.on_message();
            while let Some(m) = stream.next().await {
                let _ = tx.send((
                    m.get_channel_name().to_owned(),
                    m.get_payload_bytes().to_vec(),
                ));
            }
        });
        Tap { rx, task }
    }

    /// The next `n` messages (fails after 5 s).
    async fn take(&mut self, n: usize) -> Vec<(String, Vec<u8>)> {
        let mut got = Vec::new();
        while got.len() < n {
            let m = tokio::time::timeout(Duration::from_secs(5), self.rx.recv())
                .await
                .unwrap_or_else(|_| panic!("{} of {n} messages published: {got:?}", got.len()))
                .unwrap();
            got.push(m);
        }
        got
    }
}

impl Drop for Tap {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// Our `RedisEmitter` publishes, byte for byte, what `@socket.io/redis-emitter` 5.1 publishes
/// for the same calls.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn our_emitter_publishes_what_the_node_emitter_publishes() {
    let redis = Redis::start();
    let mut tap = Tap::start(&redis).await;
    let mut node = Node::start(&redis, None);
    let b64 = json!({"$binary": "AAEC/w=="});
    let calls = [
        json!({"op": "emit", "event": "ev", "args": [1, "é", {"a": [1.5, true, null, -7, 300, 70000, 5_000_000_000_i64, -200, -40000, -3_000_000_000_i64, 0.1]}]}),
        json!({"op": "emit", "to": ["r"], "event": "bin", "args": [b64, {"x": b64}]}),
        json!({"op": "emit", "to": ["a", "b"], "except": ["c"], "volatile": true, "compress": false, "event": "v", "args": []}),
        json!({"op": "emit", "nsp": "/chat", "except": ["c"], "event": "e", "args": ["long string ".repeat(5)]}),
        json!({"op": "sockets_join", "nsp": "/chat", "to": ["r"], "rooms": ["n1", "n2"]}),
        json!({"op": "sockets_leave", "except": ["x"], "rooms": ["n"]}),
        json!({"op": "disconnect", "to": ["r"], "close": true}),
        json!({"op": "disconnect"}),
        json!({"op": "server_side_emit", "nsp": "/chat", "event": "hello", "args": [1, {"k": "v"}]}),
    ];
    for c in &calls {
        let mut cmd = c.clone();
        cmd["cmd"] = json!("emitter");
        node.call(cmd);
    }
    let theirs = tap.take(calls.len()).await;

    let io = RedisEmitter::new(&redis.url()).unwrap();
    let blob = Bytes::from_static(BLOB);
    io.emit("ev", (1, "é", json!({"a": [1.5, true, null, -7, 300, 70000, 5_000_000_000_i64, -200, -40000, -3_000_000_000_i64, 0.1]})))
        .await
        .unwrap();
    io.to("r")
        .emit("bin", (blob.clone(), HashMap::from([("x", blob.clone())])))
        .await
        .unwrap();
    io.to(["a", "b"])
        .except("c")
        .volatile()
        .compress(false)
        .emit("v", ())
        .await
        .unwrap();
    let chat = io.of("chat");
    chat.except("c")
        .emit("e", "long string ".repeat(5))
        .await
        .unwrap();
    chat.to("r").sockets_join(["n1", "n2"]).await.unwrap();
    io.except("x").sockets_leave("n").await.unwrap();
    io.to("r").disconnect_sockets(true).await.unwrap();
    io.disconnect_sockets(false).await.unwrap();
    chat.server_side_emit("hello", (1, json!({"k": "v"})))
        .await
        .unwrap();
    let ours = tap.take(calls.len()).await;
    for ((c, theirs), ours) in calls.iter().zip(&theirs).zip(&ours) {
        assert_eq!(
            ours,
            theirs,
            "{c}: ours {:?} / node {:?}",
            String::from_utf8_lossy(&ours.1),
            String::from_utf8_lossy(&theirs.1)
        );
    }

    // Nothing listens and nothing hangs: an unreachable Redis fails within the timeout.
    let dead = RedisEmitter::new(&format!("redis://127.0.0.1:{}", free_port()))
        .unwrap()
        .timeout(Duration::from_millis(500));
    let t = Instant::now();
    let err = dead.emit("x", ()).await.unwrap_err();
    assert!(t.elapsed() < Duration::from_secs(2), "{:?}", t.elapsed());
    assert!(err.to_string().contains("redis"), "{err}");
}

/// Our emitter drives the clients of a Node server and of ours alike; the Node emitter's
/// `socketsJoin`, `socketsLeave`, `disconnectSockets` and `serverSideEmit` drive ours.
#[tokio::test(flavor = "multi_thread", worker_threads = 3)]
async fn emitters_drive_every_server() {
    let redis = Redis::start();
    let a = ours(&redis, "A").await;
    let node_port = free_port();
    let mut node = Node::start(&redis, Some(node_port));
    redis.wait_servers(2);
    node.client("a", a.port);
    node.client("n", node_port);
    node.client("a2", a.port);
    node.join("a", "r1");
    node.join("n", "r1");
    node.join("a2", "r2");
    let io = RedisEmitter::new(&redis.url()).unwrap();

    // Emits: the namespace, binary; a room with except.
    io.emit("all", ("hi", Bytes::from_static(BLOB)))
        .await
        .unwrap();
    for c in ["a", "n", "a2"] {
        let ev = node.events(c, 1, 3000);
        assert_eq!(ev.len(), 1, "{c}: {ev:?}");
        assert_eq!(ev[0]["event"], "all");
        assert_eq!(ev[0]["args"], json!(["hi", {"$binary": "AAEC/w=="}]), "{c}");
    }
    io.to(["r1", "r2"])
        .except("r2")
        .emit("r1-only", 5)
        .await
        .unwrap();
    io.to("r2")
        .emit("r2-only", json!({"k": 1.5}))
        .await
        .unwrap();
    assert_eq!(names(&node.events("a", 1, 3000)), ["r1-only"]);
    assert_eq!(names(&node.events("n", 1, 3000)), ["r1-only"]);
    let ev = node.events("a2", 1, 3000);
    assert_eq!(names(&ev), ["r2-only"]);
    assert_eq!(ev[0]["args"], json!([{"k": 1.5}]));

    // Our emitter: sockets_join, sockets_leave.
    io.to("r1").sockets_join("r3").await.unwrap();
    tokio::time::sleep(Duration::from_millis(200)).await;
    a.io.to("r3").emit("in-r3", ()).await.unwrap();
    assert_eq!(names(&node.events("a", 1, 3000)), ["in-r3"]);
    assert_eq!(names(&node.events("n", 1, 3000)), ["in-r3"]);
    assert!(node.events("a2", 0, 300).is_empty());
    io.except("r2").sockets_leave("r1").await.unwrap();
    tokio::time::sleep(Duration::from_millis(200)).await;
    let in_r1 = a.io.to("r1").fetch_sockets().await.unwrap();
    assert!(in_r1.is_empty(), "{in_r1:?}");

    // The Node emitter: socketsJoin, socketsLeave on ours (and Node's).
    node.call(json!({"cmd": "emitter", "op": "sockets_join", "to": ["r3"], "rooms": ["r4"]}));
    tokio::time::sleep(Duration::from_millis(200)).await;
    let in_r4 = a.io.to("r4").fetch_sockets().await.unwrap();
    assert_eq!(in_r4.len(), 2, "{in_r4:?}");
    node.call(json!({"cmd": "emitter", "op": "sockets_leave", "except": ["r2"], "rooms": ["r4"]}));
    node.call(json!({"cmd": "emitter", "op": "sockets_join", "to": ["r2"], "rooms": ["r4"]}));
    tokio::time::sleep(Duration::from_millis(200)).await;
    let in_r4 = a.io.to("r4").fetch_sockets().await.unwrap();
    assert_eq!(in_r4.len(), 1, "{in_r4:?}");
    assert!(in_r4[0].rooms.iter().any(|r| r == "r2"), "{in_r4:?}");

    // Server-side emits: ours and the Node emitter's, to ours and to Node.
    io.server_side_emit("hello", (1, "x")).await.unwrap();
    node.call(
        json!({"cmd": "emitter", "op": "server_side_emit", "event": "hello", "args": [{"n": 2}]}),
    );
    let deadline = Instant::now() + Duration::from_secs(3);
    while a.received.lock().unwrap().len() < 2 && Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert_eq!(
        *a.received.lock().unwrap(),
        [
            json!({"event": "hello", "args": [1, "x"]}),
            json!({"event": "hello", "args": [{"n": 2}]})
        ]
    );
    let r = node.call(json!({"cmd": "server_events"}));
    assert_eq!(
        r["events"],
        json!([{"event": "hello", "args": [1, "x"]}, {"event": "hello", "args": [{"n": 2}]}])
    );

    // disconnect_sockets: the Node emitter's on ours, ours on Node's and ours.
    node.call(json!({"cmd": "emitter", "op": "disconnect", "to": ["r2"]}));
    assert_eq!(names(&node.events("a2", 1, 3000)), ["disconnect"]);
    assert!(node.events("a", 0, 300).is_empty());
    io.disconnect_sockets(false).await.unwrap();
    assert_eq!(names(&node.events("a", 1, 3000)), ["disconnect"]);
    assert_eq!(names(&node.events("n", 1, 3000)), ["disconnect"]);
}

// ---------------------------------------------------------------------------------------------
// a server process dies

/// A namespace `/chat` with no handlers: our in-test servers join the chat example's cluster.
#[derive(Default)]
struct ChatPeer;

#[namespace("/chat")]
impl ChatPeer {}

/// Sends `signal` (`STOP`, ...) to the process `pid`, one this test started.
fn signal(pid: u32, signal: &str) {
    let sent = Command::new("kill")
        .args([format!("-{signal}"), pid.to_string()])
        .status()
        .expect("run kill");
    assert!(sent.success(), "kill -{signal} {pid} failed");
}

/// A cluster of ours (A and B, in this process), a Node server and a chat example process
/// (our server, as a child process): the Node server is frozen (SIGSTOP), then killed
/// (SIGKILL), then the chat process is killed. While frozen, requests fail or complete at
/// their timeout instead of hanging; once a process is dead, the server count drops
/// (`PUBSUB NUMSUB`) and fetch_sockets, broadcasts with acks and server-side emits with acks
/// complete at once with the survivors' answers.
#[tokio::test(flavor = "multi_thread", worker_threads = 3)]
async fn a_killed_server_process_leaves_the_cluster() {
    let redis = Redis::start();
    let mut ours_ = Vec::new();
    for name in ["A", "B"] {
        let adapter = RedisAdapterFactory::new(&redis.url())
            .unwrap()
            .requests_timeout(Duration::from_millis(1500));
        let server = Server::builder()
            .namespace::<Lobby>()
            .namespace::<ChatPeer>()
            .adapter(adapter)
            .on_server_event(move |ev| {
                if let Some(ack) = ev.ack {
                    ack.send(json!({ "from": name }));
                }
            })
            .build();
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = listener.local_addr().unwrap().port();
        ours_.push((server.io(), port));
        tokio::spawn(server.serve_listener(listener));
    }
    let (a, a_port) = ours_[0].clone();
    let node_port = free_port();
    let mut node_server = Node::start(&redis, Some(node_port));
    let url = redis.url();
    let chat = common::ExampleServer::spawn_with_env("chat", &[("REDIS_URL", url.as_str())]);
    redis.wait_servers(3);
    let deadline = Instant::now() + Duration::from_secs(15);
    while redis.servers_of("/chat") != 3 {
        assert!(
            Instant::now() < deadline,
            "the chat process did not subscribe"
        );
        std::thread::sleep(Duration::from_millis(20));
    }

    // Clients (in a Node process that is not a server): on A and the Node server on `/`, on A
    // and the chat process on `/chat`.
    let mut clients = Node::start(&redis, None);
    let sa = clients.client("a", a_port);
    clients.client("n", node_port);
    let auth = json!({"token": "t"});
    let ca = clients.client_at(
        "ca",
        &format!("http://127.0.0.1:{a_port}/chat"),
        auth.clone(),
    );
    clients.client_at("cc", &format!("{}/chat", chat.url()), auth);
    assert_eq!(a.fetch_sockets().await.unwrap().len(), 2);
    let chat_ns = a.of("/chat").unwrap();
    assert_eq!(chat_ns.clone().fetch_sockets().await.unwrap().len(), 2);

    // The Node server freezes: still counted, it never answers. Requests end at their timeout.
    signal(node_server.child.id(), "STOP");
    let t = Instant::now();
    let err = a.fetch_sockets().await.unwrap_err();
    assert!(t.elapsed() < Duration::from_secs(4), "{:?}", t.elapsed());
    assert!(err.to_string().contains("timeout"), "{err}");
    let t = Instant::now();
    let acks = a
        .timeout(Duration::from_millis(1000))
        .emit_with_ack("ask", ())
        .await
        .unwrap();
    // It waited for the frozen server's report until its timeout, then ended with what it
    // had, counting the process that stayed silent.
    assert_eq!(acks.silent_servers, 1, "{acks:?}");
    assert!(!acks.is_complete(), "{acks:?}");
    assert!(
        (Duration::from_millis(900)..Duration::from_secs(3)).contains(&t.elapsed()),
        "{:?}",
        t.elapsed()
    );
    assert_eq!(acks.responses.len(), 1, "{acks:?}");
    clients.events("a", 1, 2000);
    let t = Instant::now();
    assert!(a.server_side_emit_with_ack("ping", ()).await.is_err());
    assert!(t.elapsed() < Duration::from_secs(4), "{:?}", t.elapsed());

    // Killed: Redis drops its subscriptions, the count falls to the survivors, and requests
    // complete at once.
    signal(node_server.child.id(), "KILL");
    let _ = node_server.child.wait();
    redis.wait_servers(2);
    let t = Instant::now();
    let all = a.fetch_sockets().await.unwrap();
    assert_eq!(
        all.iter().map(|s| s.id.as_str()).collect::<Vec<_>>(),
        [sa.as_str()]
    );
    let acks = a.emit_with_ack("ask", ()).await.unwrap();
    assert!(acks.is_complete(), "{acks:?}");
    assert_eq!(acks.responses.len(), 1, "{acks:?}");
    clients.events("a", 1, 2000);
    let answers = a.server_side_emit_with_ack("ping", ()).await.unwrap();
    assert_eq!(answers, [json!({"from": "B"})]);
    assert!(t.elapsed() < Duration::from_secs(1), "{:?}", t.elapsed());
    drop(node_server);

    // The chat process (ours, as a child process) is killed: the same on `/chat`.
    drop(chat);
    let deadline = Instant::now() + Duration::from_secs(15);
    while redis.servers_of("/chat") != 2 {
        assert!(
            Instant::now() < deadline,
            "the chat process is still counted"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
    let t = Instant::now();
    let all = chat_ns.clone().fetch_sockets().await.unwrap();
    assert_eq!(
        all.iter().map(|s| s.id.as_str()).collect::<Vec<_>>(),
        [ca.as_str()]
    );
    let acks = chat_ns.emit_with_ack("ask", ()).await.unwrap();
    assert!(acks.is_complete(), "{acks:?}");
    assert_eq!(acks.responses.len(), 1, "{acks:?}");
    assert!(t.elapsed() < Duration::from_secs(1), "{:?}", t.elapsed());
}
