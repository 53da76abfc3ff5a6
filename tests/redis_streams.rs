//! The Redis streams adapter against the real thing: a `redis-server` started on a free loopback
//! port, our servers and a Node.js `socket.io` 4.8.1 server with
//! `@socket.io/redis-streams-adapter` 0.3 (`tests/js/redis_streams.mjs`, which also runs the
//! socket.io-client clients) in one cluster:
//! - every cluster operation in both directions (rooms, except, binary, acks, fetch_sockets,
//!   sockets_join, server-side emits), garbage in the stream, Redis stopped and restarted;
//! - connection state recovery across processes with two `examples/chat` processes
//!   (`REDIS_ADAPTER=streams`) and the Node server: a client cut from one process comes back on
//!   another (ours or Node's) with its id, rooms, data (its nick) and every event sent to it
//!   meanwhile, in order, once.
//!
//! Run: `cargo build -p socketio-ns --features redis --example chat && cargo test -p socketio-ns
//! --features redis --test redis_streams` (needs `redis-server`, node and npm; `.ci/run`
//! installs them). Fails, never skips, without them.

#[allow(unused_macros)]
mod common;

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::process::{Child, ChildStdin, ChildStdout, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use serde_json::{Value, json};
use socketio_ns::adapter::redis::RedisStreamsAdapterFactory;
use socketio_ns::{Bytes, ConnectionStateRecovery, Context, Io, Server, namespace};

/// The namespace our in-process servers run: `join` joins a room and acks the socket id.
#[derive(Default)]
struct Lobby;

#[namespace("/")]
impl Lobby {
    async fn on_join(&mut self, cx: &mut Context<Self>, room: String) -> String {
        cx.join(room);
        cx.id().to_owned()
    }

    // A broadcast (appended to the stream first) then an emit to this socket alone: the
    // socket receives them in that order.
    fn on_both(&mut self, cx: &mut Context<Self>) -> bool {
        cx.everyone().emit("first-everyone", ());
        cx.emit("then-me", ());
        true
    }
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

// ---------------------------------------------------------------------------------------------
// redis-server

/// A `redis-server` on 127.0.0.1, killed (by PID) when dropped.
struct Redis {
    port: u16,
    child: Option<Child>,
}

impl Redis {
    fn start() -> Redis {
        let mut r = Redis {
            port: free_port(),
            child: None,
        };
        r.restart();
        r
    }

    fn url(&self) -> String {
        format!("redis://127.0.0.1:{}", self.port)
    }

    fn restart(&mut self) {
        let child = Command::new("redis-server")
            .args(["--port", &self.port.to_string(), "--bind", "127.0.0.1"])
            .args(["--save", "", "--appendonly", "no"])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect(
                "redis-server must be installed (apt-get install redis-server); .ci/run does it",
            );
        self.child = Some(child);
        let deadline = Instant::now() + Duration::from_secs(10);
        while self.command(&[b"PING"]).as_deref() != Some("+PONG") {
            assert!(Instant::now() < deadline, "redis-server did not start");
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    fn stop(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }

    /// Sends one command in RESP and returns the reply's text (None when unreachable).
    fn command(&self, args: &[&[u8]]) -> Option<String> {
        let mut s = TcpStream::connect(("127.0.0.1", self.port)).ok()?;
        s.set_read_timeout(Some(Duration::from_secs(2))).ok()?;
        let mut req = format!("*{}\r\n", args.len()).into_bytes();
        for a in args {
            req.extend_from_slice(format!("${}\r\n", a.len()).as_bytes());
            req.extend_from_slice(a);
            req.extend_from_slice(b"\r\n");
        }
        s.write_all(&req).ok()?;
        let mut buf = [0u8; 4096];
        let n = s.read(&mut buf).ok()?;
        Some(String::from_utf8_lossy(&buf[..n]).trim_end().to_owned())
    }

    /// `PUBSUB NUMSUB socket.io#<nsp>#`: how many servers serve the namespace.
    fn servers_of(&self, nsp: &str) -> usize {
        let channel = format!("socket.io#{nsp}#");
        self.command(&[b"PUBSUB", b"NUMSUB", channel.as_bytes()])
            .and_then(|r| r.rsplit(':').next().and_then(|n| n.trim().parse().ok()))
            .unwrap_or(0)
    }

    fn wait_servers(&self, nsp: &str, n: usize) {
        let deadline = Instant::now() + Duration::from_secs(15);
        while self.servers_of(nsp) != n {
            assert!(
                Instant::now() < deadline,
                "{} servers on {nsp}, expected {n}",
                self.servers_of(nsp)
            );
            std::thread::sleep(Duration::from_millis(20));
        }
    }
}

impl Drop for Redis {
    fn drop(&mut self) {
        self.stop();
    }
}

// ---------------------------------------------------------------------------------------------
// the Node member (server and clients)

/// `tests/js/redis_streams.mjs`, driven by commands on its stdin; killed when dropped.
struct Node {
    child: Child,
    stdin: ChildStdin,
    stdout: BufReader<ChildStdout>,
    next: u64,
}

impl Node {
    fn start(redis: &Redis, port: Option<u16>) -> Node {
        let modules = common::node_modules();
        let mut child = Command::new("node")
            .arg(common::tests_dir().join("js/redis_streams.mjs"))
            .arg(json!({ "redis": redis.url(), "port": port }).to_string())
            .env("NODE_PATH", &modules)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .spawn()
            .expect("node must be installed");
        let stdin = child.stdin.take().unwrap();
        let stdout = BufReader::new(child.stdout.take().unwrap());
        let mut node = Node {
            child,
            stdin,
            stdout,
            next: 0,
        };
        assert_eq!(node.line()["ready"], true);
        node
    }

    fn line(&mut self) -> Value {
        let mut line = String::new();
        self.stdout.read_line(&mut line).expect("read node");
        assert!(!line.is_empty(), "the node script exited");
        serde_json::from_str(&line).unwrap_or_else(|e| panic!("{e}: {line}"))
    }

    /// Runs one command (blocking this worker thread only) and returns its answer.
    fn call(&mut self, mut cmd: Value) -> Value {
        self.next += 1;
        cmd["id"] = json!(self.next);
        tokio::task::block_in_place(|| {
            writeln!(self.stdin, "{cmd}").unwrap();
            let answer = self.line();
            assert_eq!(answer["id"], json!(self.next));
            assert!(answer.get("error").is_none(), "{cmd} -> {answer}");
            answer
        })
    }

    /// The events client `name` received (waiting until `count` arrived or `wait_ms` passed).
    fn events(&mut self, name: &str, count: usize, wait_ms: u64) -> Vec<Value> {
        let r =
            self.call(json!({"cmd": "events", "name": name, "count": count, "wait_ms": wait_ms}));
        r["events"].as_array().unwrap().clone()
    }

    fn client(&mut self, name: &str, url: &str, auth: Value) -> String {
        let r = self.call(json!({"cmd": "client", "name": name, "url": url, "auth": auth}));
        r["sid"].as_str().unwrap().to_owned()
    }

    fn ask(&mut self, name: &str, event: &str, args: Value) -> Value {
        let r = self.call(json!({"cmd": "ask", "name": name, "event": event, "args": args}));
        r["answer"].clone()
    }
}

impl Drop for Node {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

// ---------------------------------------------------------------------------------------------
// our in-process servers

struct Ours {
    io: Io,
    port: u16,
    received: Arc<Mutex<Vec<Value>>>,
}

async fn ours(redis: &Redis, name: &'static str) -> Ours {
    let received = Arc::new(Mutex::new(Vec::new()));
    let log = received.clone();
    let adapter = RedisStreamsAdapterFactory::new(&redis.url())
        .unwrap()
        .requests_timeout(Duration::from_millis(1500))
        .block_time(Duration::from_secs(3));
    let server = Server::builder()
        .namespace::<Lobby>()
        .adapter(adapter)
        .connection_state_recovery(ConnectionStateRecovery::new())
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

fn froms(list: &Value) -> Vec<String> {
    sorted(
        list.as_array()
            .unwrap()
            .iter()
            .map(|v| v["from"].as_str().unwrap().to_owned())
            .collect(),
    )
}

const BLOB: &[u8] = &[0, 1, 2, 255];

async fn wait_until(what: &str, mut ok: impl FnMut() -> bool) {
    let deadline = Instant::now() + Duration::from_secs(5);
    while !ok() {
        assert!(Instant::now() < deadline, "{what}: not within 5 s");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 3)]
async fn mixed_streams_cluster_of_ours_and_node() {
    let mut redis = Redis::start();
    let a = ours(&redis, "A").await;
    let b = ours(&redis, "B").await;
    let node_port = free_port();
    let mut node = Node::start(&redis, Some(node_port));
    redis.wait_servers("/", 3);

    let url = |port: u16| format!("http://127.0.0.1:{port}");
    let sa = node.client("a", &url(a.port), Value::Null);
    let sb = node.client("b", &url(b.port), Value::Null);
    let sn = node.client("n", &url(node_port), Value::Null);
    for (c, room) in [("a", "r1"), ("b", "r1"), ("b", "r2"), ("n", "r1")] {
        node.ask(c, "join", json!([room]));
    }

    // Ours -> every process: a room, binary arguments; each event carries its stream offset.
    a.io.to("r1")
        .emit("news", ("hi", Bytes::from_static(BLOB)))
        .await
        .unwrap();
    let mut offsets = Vec::new();
    for c in ["a", "b", "n"] {
        let ev = node.events(c, 1, 3000);
        assert_eq!(ev.len(), 1, "{c}: {ev:?}");
        assert_eq!(ev[0]["event"], "news");
        assert_eq!(ev[0]["args"], json!(["hi", {"$binary": "AAEC/w=="}]), "{c}");
        offsets.push(ev[0]["offset"].clone());
    }
    assert!(offsets[0].is_string(), "{offsets:?}");
    assert!(
        offsets.iter().all(|o| *o == offsets[0]),
        "one entry, one offset everywhere: {offsets:?}"
    );
    // except, and local.
    b.io.to("r1").except("r2").emit("ex", 1).await.unwrap();
    a.io.local().emit("loc", 2).await.unwrap();
    assert_eq!(names(&node.events("a", 2, 3000)), ["ex", "loc"]);
    assert_eq!(names(&node.events("n", 1, 3000)), ["ex"]);
    assert!(node.events("b", 0, 300).is_empty());

    // Node -> ours: binary; except.
    node.call(json!({"cmd": "emit", "to": ["r2"], "event": "solo", "args": [{"$binary": "AAEC/w=="}, {"k": 1.5}]}));
    let ev = node.events("b", 1, 3000);
    assert_eq!(ev[0]["args"], json!([{"$binary": "AAEC/w=="}, {"k": 1.5}]));
    assert!(ev[0]["offset"].is_string(), "{ev:?}");
    node.call(json!({"cmd": "emit", "except": ["r2"], "event": "others", "args": []}));
    assert_eq!(names(&node.events("a", 1, 3000)), ["others"]);
    assert_eq!(names(&node.events("n", 1, 3000)), ["others"]);
    assert!(node.events("b", 0, 300).is_empty());

    // The readers block on XREAD for seconds (3 s here) on a connection each that they keep:
    // idle for longer than that, nobody connects to Redis (but this test, once per command).
    let connections = || {
        let info = redis.command(&[b"INFO", b"stats"]).unwrap();
        info.lines()
            .find_map(|l| l.strip_prefix("total_connections_received:"))
            .unwrap()
            .trim()
            .parse::<u64>()
            .unwrap()
    };
    let before = connections();
    tokio::time::sleep(Duration::from_millis(4000)).await;
    assert_eq!(connections() - before, 1, "reconnections while idle");
    // And they deliver at once.
    for i in 0..5 {
        tokio::time::sleep(Duration::from_millis(i * 300)).await;
        let t = Instant::now();
        node.call(json!({"cmd": "emit", "to": ["r2"], "event": "quick", "args": [i]}));
        assert_eq!(node.events("b", 1, 2000).len(), 1);
        assert!(
            t.elapsed() < Duration::from_millis(400),
            "{i}: {:?}",
            t.elapsed()
        );
    }

    // Broadcasts with acks, both ways: one answer per socket of every process.
    let acks =
        a.io.timeout(Duration::from_secs(3))
            .emit_with_ack("ask", 7)
            .await
            .unwrap();
    assert!(acks.is_complete(), "{acks:?}");
    let answers: Vec<Value> = acks
        .responses
        .iter()
        .map(|(_, r)| r.arg::<Value>(0).unwrap())
        .collect();
    assert_eq!(froms(&json!(answers)), ["a", "b", "n"]);
    for c in ["a", "b", "n"] {
        assert_eq!(names(&node.events(c, 1, 2000)), ["ask"]);
    }
    let r = node.call(json!({"cmd": "emit_ack", "event": "ask2", "args": [1]}));
    assert_eq!(froms(&r["responses"]), ["a", "b", "n"]);
    for c in ["a", "b", "n"] {
        node.events(c, 1, 2000);
    }

    // fetch_sockets merges every process, both ways.
    let all = b.io.fetch_sockets().await.unwrap();
    let ids = sorted(all.iter().map(|s| s.id.clone()).collect());
    assert_eq!(ids, sorted(vec![sa.clone(), sb.clone(), sn.clone()]));
    let n_info = all.iter().find(|s| s.id == sn).unwrap();
    assert!(n_info.rooms.iter().any(|r| r == "r1"), "{n_info:?}");
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

    // sockets_join from ours reaches Node's sockets, Node's reaches ours.
    a.io.to("r1").sockets_join("r3").await.unwrap();
    tokio::time::sleep(Duration::from_millis(200)).await;
    node.call(json!({"cmd": "emit", "to": ["r3"], "event": "in-r3", "args": []}));
    for c in ["a", "b", "n"] {
        assert_eq!(names(&node.events(c, 1, 3000)), ["in-r3"], "{c}");
    }
    node.call(json!({"cmd": "sockets_join", "to": [sa.as_str()], "rooms": ["r4"]}));
    tokio::time::sleep(Duration::from_millis(200)).await;
    b.io.to("r4").emit("in-r4", ()).await.unwrap();
    assert_eq!(names(&node.events("a", 1, 3000)), ["in-r4"]);
    assert!(node.events("n", 0, 200).is_empty());

    // Server-side emits, both ways, with acks.
    a.io.server_side_emit("hello", (1, "x")).await.unwrap();
    let answers = a.io.server_side_emit_with_ack("ping", ()).await.unwrap();
    assert_eq!(froms(&json!(answers)), ["B", "node"]);
    let r = node.call(json!({"cmd": "server_events"}));
    assert_eq!(
        r["events"],
        json!([{"event": "hello", "args": [1, "x"]}, {"event": "ping", "args": []}])
    );
    assert!(a.received.lock().unwrap().is_empty(), "not to itself");
    node.call(json!({"cmd": "server_side_emit", "event": "hello", "args": [{"n": 2}]}));
    let r = node.call(json!({"cmd": "server_side_emit_ack", "event": "ping", "args": ["?"]}));
    assert_eq!(froms(&r["answers"]), ["A", "B"]);
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

    // A client cut from A comes back on B: recovered there; the value A parked learns that the
    // session moved and ends (without recv_disconnect).
    let sr = node.client("r", &url(a.port), Value::Null);
    node.ask("r", "join", json!(["r5"]));
    a.io.to("r5").emit("first", ()).await.unwrap();
    assert_eq!(node.events("r", 1, 3000)[0]["event"], "first");
    node.call(json!({"cmd": "cut", "name": "r", "url": url(b.port)}));
    wait_until("A parks the socket", || a.io.recovering_sockets("/") == 1).await;
    node.call(
        json!({"cmd": "emit", "to": ["r5"], "event": "missed", "args": [{"$binary": "AAEC/w=="}]}),
    );
    tokio::time::sleep(Duration::from_millis(200)).await;
    let back = node.call(json!({"cmd": "reconnect", "name": "r"}));
    assert_eq!(
        back,
        json!({"id": back["id"], "sid": sr, "recovered": true})
    );
    let ev = node.events("r", 1, 3000);
    assert_eq!(ev.len(), 1, "{ev:?}");
    assert_eq!(ev[0]["event"], "missed");
    assert_eq!(ev[0]["args"], json!([{"$binary": "AAEC/w=="}]));
    assert_eq!(b.io.to("r5").fetch_sockets().await.unwrap().len(), 1);
    wait_until("A's parked value ends", || {
        a.io.recovering_sockets("/") == 0
    })
    .await;

    // A client that received nothing stamped (no offset) is recovered on another process too,
    // from where it connected (ours only: Node needs an offset).
    let sq = node.client("q", &url(b.port), Value::Null);
    node.ask("q", "join", json!(["r6"]));
    node.call(json!({"cmd": "cut", "name": "q", "url": url(a.port)}));
    wait_until("B parks the socket", || b.io.recovering_sockets("/") == 1).await;
    b.io.to("r6").emit("q-missed", 1).await.unwrap();
    let back = node.call(json!({"cmd": "reconnect", "name": "q"}));
    assert_eq!(back["recovered"], true, "{back}");
    assert_eq!(back["sid"], sq.as_str());
    assert_eq!(names(&node.events("q", 1, 3000)), ["q-missed"]);

    // One socket receives in the order of the calls, appended or not.
    node.ask("q", "both", json!([]));
    let ev = node.events("q", 2, 3000);
    let order: Vec<&str> = ev.iter().map(|e| e["event"].as_str().unwrap()).collect();
    assert_eq!(order, ["first-everyone", "then-me"]);
    for c in ["a", "b", "n", "r"] {
        assert_eq!(names(&node.events(c, 1, 3000)), ["first-everyone"], "{c}");
    }

    // Garbage in the stream: warned about and skipped; what follows is delivered. (Not `{}`:
    // the Node adapter 0.3 then throws on every read and stops consuming the stream.)
    for data in ["!!!not base64", "{\"packet\": 1", "wQ=="] {
        redis.command(&[
            b"XADD",
            b"socket.io",
            b"*",
            b"uid",
            b"intruder",
            b"nsp",
            b"/",
            b"type",
            b"3",
            b"data",
            data.as_bytes(),
        ]);
    }
    redis.command(&[
        b"XADD",
        b"socket.io",
        b"*",
        b"uid",
        b"intruder",
        b"nsp",
        b"/",
        b"type",
        b"nope",
    ]);
    a.io.emit("after-garbage", ()).await.unwrap();
    for c in ["a", "b", "n"] {
        assert_eq!(names(&node.events(c, 1, 3000)), ["after-garbage"], "{c}");
    }

    // Redis down: local delivery goes on, requests fail within the timeout.
    redis.stop();
    tokio::time::sleep(Duration::from_millis(200)).await;
    let t = Instant::now();
    let sent = a.io.emit("while-down", ()).await;
    assert!(sent.is_err(), "the append fails");
    assert_eq!(names(&node.events("a", 1, 3000)), ["while-down"]);
    let err = a.io.fetch_sockets().await.unwrap_err();
    assert!(t.elapsed() < Duration::from_secs(5), "{:?}", t.elapsed());
    eprintln!("fetch_sockets with Redis down: {err}");
    // Redis back (empty): the readers reconnect and read again.
    redis.restart();
    redis.wait_servers("/", 3);
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        if a.io.emit("back", ()).await.is_ok() && !node.events("b", 1, 500).is_empty() {
            break;
        }
        assert!(Instant::now() < deadline, "delivery did not resume");
    }
    let _ = node.events("n", 1, 2000);
    assert_eq!(b.io.fetch_sockets().await.unwrap().len(), 5);
}

// ---------------------------------------------------------------------------------------------
// connection state recovery across processes, with the chat example

/// One client of `/chat` cut from `from`, events sent to it and its room meanwhile by
/// `sender` (a client on another process), then brought back on `to`.
struct Case<'a> {
    name: &'a str,
    from: &'a str,
    to: &'a str,
    sender_at: &'a str,
}

fn recover_case(node: &mut Node, case: &Case<'_>) {
    let Case {
        name,
        from,
        to,
        sender_at,
    } = *case;
    let room = format!("room-{name}");
    let auth = json!({"token": "t"});
    let chat = |u: &str| format!("{u}/chat");
    let sender = format!("{name}-sender");
    let sid = node.client(name, &chat(from), auth.clone());
    node.client(&sender, &chat(sender_at), auth.clone());
    node.ask(name, "login", json!([name]));
    node.ask(&sender, "login", json!([sender]));
    let rooms = node.ask(name, "join", json!([room]));
    assert_eq!(rooms["rooms"], json!([room]), "{rooms}");
    node.ask(name, "join", json!(["extra"]));
    node.ask(&sender, "join", json!([room]));
    // One event live, so that the client holds an offset (Node recovers only with one).
    node.ask(&sender, "say", json!([room, "before"]));
    let ev = node.events(name, 1, 3000);
    assert_eq!(ev.len(), 1, "{ev:?}");
    assert!(ev[0]["offset"].is_string(), "{ev:?}");

    let cut = node.call(json!({"cmd": "cut", "name": name, "url": chat(to)}));
    assert_eq!(cut["reason"], "transport close");
    std::thread::sleep(Duration::from_millis(300));
    // Meanwhile: to its room from another process, to its id from Node, and to a room it is
    // not in.
    for text in ["m1", "m2", "m3"] {
        node.ask(&sender, "say", json!([room, text]));
    }
    node.call(json!({"cmd": "emit", "nsp": "/chat", "to": [sid.as_str()], "event": "direct", "args": [1]}));
    node.call(json!({"cmd": "emit", "nsp": "/chat", "to": ["elsewhere"], "event": "not-yours", "args": []}));
    node.ask(&sender, "say", json!([room, "m4"]));
    std::thread::sleep(Duration::from_millis(300));

    let back = node.call(json!({"cmd": "reconnect", "name": name}));
    assert_eq!(back["recovered"], true, "{name}: {back}");
    assert_eq!(back["sid"], sid.as_str(), "{name}: same id");
    let missed = node.events(name, 5, 3000);
    let seen: Vec<String> = missed
        .iter()
        .map(|e| match e["event"].as_str().unwrap() {
            "said" => e["args"][0]["text"].as_str().unwrap().to_owned(),
            other => other.to_owned(),
        })
        .collect();
    assert_eq!(
        seen,
        ["m1", "m2", "m3", "direct", "m4"],
        "{name}: {missed:?}"
    );
    let nicks: Vec<&Value> = missed
        .iter()
        .filter(|e| e["event"] == "said")
        .map(|e| &e["args"][0]["nick"])
        .collect();
    assert!(nicks.iter().all(|n| **n == json!(sender)), "{nicks:?}");
    let offsets: Vec<&str> = missed
        .iter()
        .map(|e| e["offset"].as_str().unwrap())
        .collect();
    let mut in_order = offsets.clone();
    in_order.sort_by_key(|o| {
        let (ms, seq) = o.split_once('-').unwrap();
        (ms.parse::<u64>().unwrap(), seq.parse::<u64>().unwrap())
    });
    assert_eq!(offsets, in_order, "in stream order");
    assert!(node.events(name, 0, 300).is_empty(), "each once");

    // Its rooms and its data (the nick) came along: no login needed, `say` signs with it.
    let rooms = node.ask(name, "leave", json!(["nowhere"]));
    assert_eq!(
        rooms["rooms"],
        json!(sorted(vec![room.clone(), "extra".into()])),
        "{name}"
    );
    node.ask(name, "say", json!([room, "i am back"]));
    let ev = node.events(&sender, 1, 3000);
    let last = ev
        .last()
        .unwrap_or_else(|| panic!("{name}: nothing said back"));
    assert_eq!(last["args"][0]["nick"], name, "{ev:?}");
    assert_eq!(last["args"][0]["text"], "i am back");
    // Live again: the next event reaches it once.
    node.ask(&sender, "say", json!([room, "live"]));
    let ev = node.events(name, 1, 3000);
    assert_eq!(ev.len(), 1, "{ev:?}");
    assert_eq!(ev[0]["args"][0]["text"], "live");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn recovery_across_processes_with_the_chat_example() {
    let redis = Redis::start();
    let url = redis.url();
    let env = [("REDIS_URL", url.as_str()), ("REDIS_ADAPTER", "streams")];
    let one = common::ExampleServer::spawn_with_env("chat", &env);
    let two = common::ExampleServer::spawn_with_env("chat", &env);
    let node_port = free_port();
    let mut node = Node::start(&redis, Some(node_port));
    redis.wait_servers("/chat", 3);
    let n = format!("http://127.0.0.1:{node_port}");
    let (a, b) = (one.url(), two.url());

    // Ours -> ours, events sent from Node.
    recover_case(
        &mut node,
        &Case {
            name: "ab",
            from: &a,
            to: &b,
            sender_at: &n,
        },
    );
    // Ours -> Node, events sent from our other process.
    recover_case(
        &mut node,
        &Case {
            name: "an",
            from: &a,
            to: &n,
            sender_at: &b,
        },
    );
    // Node -> ours.
    recover_case(
        &mut node,
        &Case {
            name: "nb",
            from: &n,
            to: &b,
            sender_at: &a,
        },
    );
    // Back to the same process of ours: the parked value resumes.
    recover_case(
        &mut node,
        &Case {
            name: "aa",
            from: &a,
            to: &a,
            sender_at: &b,
        },
    );
    // A `pid` nobody kept, a malformed offset: connected afresh, at once.
    for (pid, offset) in [("nope", "1-0"), ("nope2", "x")] {
        let auth = json!({"token": "t", "pid": pid, "offset": offset});
        let sid = node.client(pid, &format!("{a}/chat"), auth);
        assert!(!sid.is_empty());
    }
}
