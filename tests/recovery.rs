//! Connection state recovery (issue 11), on one process: a stock socket.io-client 4.8 whose
//! transport is cut while the server keeps sending to it comes back with the same id, rooms,
//! namespace value and every missed event once, in order; not after the duration, not after a
//! disconnect the server chose; the wire without the option is unchanged; and 10,000 parked
//! sessions are all released after the duration.

mod common;

use std::process::Command;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use futures_util::SinkExt;
use serde::Deserialize;
use serde_json::{Value, json};
use socketio_ns::adapter::{Adapter, AdapterFactory, LocalAdapter, SocketEmitter};
use socketio_ns::{
    ConnectError, ConnectionStateRecovery, Context, DisconnectReason, Io, ServeOptions, Server,
    namespace,
};
use tokio::sync::mpsc;
use tokio_tungstenite::tungstenite::Message;

use common::ws::{Ws, next_text, open};
use common::{run_child, tests_dir};

/// Where `recv_connect` and `recv_disconnect` report, through the builder's state.
struct Report(mpsc::UnboundedSender<Seen>);

#[derive(Debug, Clone, PartialEq)]
enum Seen {
    Connect { recovered: bool },
    Disconnect(DisconnectReason),
}

/// Handler state that must survive a recovery.
#[derive(Default)]
struct Root {
    bumps: u64,
    connects: u64,
}

#[derive(Deserialize)]
struct Later {
    n: u64,
    delay_ms: u64,
}

#[namespace("/")]
impl Root {
    async fn recv_connect(
        &mut self,
        cx: &mut Context<Self>,
        _auth: Value,
    ) -> Result<(), ConnectError> {
        self.connects += 1;
        report(
            cx,
            Seen::Connect {
                recovered: cx.recovered(),
            },
        );
        Ok(())
    }

    fn on_join(&mut self, cx: &mut Context<Self>, room: String) -> bool {
        cx.join(room);
        true
    }

    fn on_bump(&mut self, _cx: &mut Context<Self>) -> u64 {
        self.bumps += 1;
        self.bumps
    }

    // `news` 1..=n to the room "r" (the sender included).
    async fn on_burst(&mut self, cx: &mut Context<Self>, n: u64) -> bool {
        for i in 1..=n {
            cx.io().to("r").emit("news", i).await.unwrap();
        }
        true
    }

    // After `delay_ms`, while the client is cut off: `news` 4..=3+n to "r" and `direct` 1..=n
    // to this socket's id from the server handle, `tick` 1..=n from a job of the socket.
    fn on_later(&mut self, cx: &mut Context<Self>, later: Later) -> bool {
        let (io, sid) = (cx.io(), cx.id().to_owned());
        let delay = Duration::from_millis(later.delay_ms);
        tokio::spawn(async move {
            tokio::time::sleep(delay).await;
            for i in 1..=later.n {
                io.to("r").emit("news", 3 + i).await.unwrap();
                io.to(sid.clone()).emit("direct", i).await.unwrap();
            }
        });
        let socket = cx.socket();
        cx.spawn(async move {
            tokio::time::sleep(delay).await;
            for i in 1..=later.n {
                socket.try_emit("tick", i).unwrap();
            }
            // The handle taken before the cut follows the recovered socket: once the client is
            // back, it is connected again and an ack through it is answered.
            for _ in 0..250 {
                if socket.is_connected() {
                    let answer = socket.emit_with_ack("ask", ()).await;
                    let answer = answer.map(|a| a.values()).map_err(|e| e.to_string());
                    socket.emit("tick", format!("{answer:?}"));
                    return;
                }
                tokio::time::sleep(Duration::from_millis(20)).await;
            }
        });
        true
    }

    async fn on_once_more(&mut self, cx: &mut Context<Self>, news: u64, direct: u64) -> bool {
        cx.io().to("r").emit("news", news).await.unwrap();
        cx.try_emit("direct", direct).unwrap();
        true
    }

    fn on_whoami(&mut self, cx: &mut Context<Self>) -> Value {
        let mut rooms: Vec<String> = cx
            .rooms()
            .into_iter()
            .filter(|r| r != cx.id())
            .map(|r| r.into_owned())
            .collect();
        rooms.sort();
        json!({
            "id": cx.id(), "recovered": cx.recovered(), "bumps": self.bumps,
            "connects": self.connects, "rooms": rooms,
        })
    }

    fn on_kick(&mut self, cx: &mut Context<Self>) -> bool {
        cx.disconnect();
        true
    }

    fn recv_disconnect(&mut self, cx: &mut Context<Self>, reason: DisconnectReason) {
        report(cx, Seen::Disconnect(reason));
    }
}

fn report(cx: &Context<Root>, seen: Seen) {
    let _ = cx.state::<Report>().0.send(seen);
}

/// The adapters the server creates, kept to look into their recovery stores.
#[derive(Clone, Default)]
struct Keep(Arc<Mutex<Vec<Arc<LocalAdapter>>>>);

impl AdapterFactory for Keep {
    fn create(&self, sockets: Arc<dyn SocketEmitter>) -> Arc<dyn Adapter> {
        let adapter = Arc::new(LocalAdapter::new(sockets));
        self.0.lock().unwrap().push(adapter.clone());
        adapter
    }
}

struct Running {
    addr: String,
    io: Io,
    seen: mpsc::UnboundedReceiver<Seen>,
    adapters: Keep,
}

async fn start(recovery: Option<ConnectionStateRecovery>) -> Running {
    let (tx, seen) = mpsc::unbounded_channel();
    let adapters = Keep::default();
    let mut builder = Server::builder()
        .namespace::<Root>()
        .state(Report(tx))
        .adapter(adapters.clone())
        .ping_interval(Duration::from_millis(300))
        .ping_timeout(Duration::from_millis(300));
    if let Some(r) = recovery {
        builder = builder.connection_state_recovery(r);
    }
    let server = builder.build();
    let io = server.io();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap().to_string();
    tokio::spawn(socketio_ns::serve_with(
        listener,
        server.service(),
        ServeOptions::default(),
        std::future::pending(),
    ));
    Running {
        addr,
        io,
        seen,
        adapters,
    }
}

fn recovery(duration: Duration) -> ConnectionStateRecovery {
    ConnectionStateRecovery::new().max_disconnection_duration(duration)
}

/// Runs `tests/js/recovery.mjs` with `args` on a blocking thread.
async fn client(addr: &str, args: Value) -> Vec<Value> {
    let mut args = args;
    args["url"] = json!(format!("http://{addr}"));
    tokio::task::spawn_blocking(move || {
        common::node_modules();
        let mut command = Command::new("node");
        command
            .arg(tests_dir().join("js").join("recovery.mjs"))
            .current_dir(tests_dir());
        run_child(&mut command, "node", &args, Duration::from_secs(20))
            .json_lines(|run| run.describe("node recovery.mjs", "stderr", None))
    })
    .await
    .unwrap()
}

fn line<'a>(lines: &'a [Value], key: &str) -> &'a Value {
    lines
        .iter()
        .find_map(|l| l.get(key))
        .unwrap_or_else(|| panic!("no {key:?} in {lines:#?}"))
}

fn drain(seen: &mut mpsc::UnboundedReceiver<Seen>) -> Vec<Seen> {
    let mut out = Vec::new();
    while let Ok(s) = seen.try_recv() {
        out.push(s);
    }
    out
}

/// The client is cut off, the server sends 5 of each kind meanwhile, the client comes back.
async fn recovers(transport: &str, cut: &str) {
    let mut server = start(Some(recovery(Duration::from_secs(5)))).await;
    let lines = client(
        &server.addr,
        json!({
            "transports": [transport], "cut": cut, "reconnect_after_ms": 600,
            "later": {"n": 5, "delay_ms": 150}, "expect_missed": true, "job_asks": true,
        }),
    )
    .await;
    let first = line(&lines, "first");
    let second = line(&lines, "second");
    assert_eq!(first["recovered"], json!(false), "{lines:#?}");
    assert_eq!(second["recovered"], json!(true), "{lines:#?}");
    assert_eq!(second["id"], first["id"], "same socket id");
    // Every event once, in order: 3 live, 5 missed, 1 live after the recovery.
    let events = line(&lines, "events");
    assert_eq!(
        events["news"],
        json!([1, 2, 3, 4, 5, 6, 7, 8, 9]),
        "{lines:#?}"
    );
    assert_eq!(events["direct"], json!([1, 2, 3, 4, 5, 6]), "{lines:#?}");
    assert_eq!(
        events["tick"],
        json!([1, 2, 3, 4, 5, r#"Ok([String("answered")])"#]),
        "a job kept running, its handle on the recovered socket: {lines:#?}"
    );
    // The same namespace value, rooms and no second recv_connect.
    let after = line(&lines, "after");
    assert_eq!(after["bumps"], json!(2), "{lines:#?}");
    assert_eq!(after["connects"], json!(1), "{lines:#?}");
    assert_eq!(after["rooms"], json!(["r"]), "{lines:#?}");
    assert_eq!(after["recovered"], json!(true), "{lines:#?}");
    // recv_connect once; recv_disconnect only when the client finally left.
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(
        drain(&mut server.seen),
        vec![
            Seen::Connect { recovered: false },
            Seen::Disconnect(DisconnectReason::ClientNamespaceDisconnect)
        ]
    );
    assert_eq!(server.io.recovering_sockets("/"), 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_websocket_client_whose_tcp_connection_dies_recovers_everything() {
    recovers("websocket", "terminate").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_polling_client_whose_engine_closes_recovers_everything() {
    recovers("polling", "close").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_websocket_client_whose_engine_closes_recovers_everything() {
    recovers("websocket", "close").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn after_the_duration_the_client_connects_afresh_and_the_old_socket_leaves() {
    let mut server = start(Some(recovery(Duration::from_millis(300)))).await;
    let lines = client(
        &server.addr,
        json!({
            "transports": ["websocket"], "cut": "terminate", "reconnect_after_ms": 1200,
            "later": {"n": 2, "delay_ms": 50}, "expect_missed": false,
        }),
    )
    .await;
    let (first, second) = (line(&lines, "first"), line(&lines, "second"));
    assert_eq!(second["recovered"], json!(false), "{lines:#?}");
    assert_ne!(second["id"], first["id"]);
    // A fresh value, in no room: nothing sent meanwhile arrives.
    let after = line(&lines, "after");
    assert_eq!(after["bumps"], json!(0), "{lines:#?}");
    assert_eq!(after["rooms"], json!([]), "{lines:#?}");
    let events = line(&lines, "events");
    assert_eq!(events["news"], json!([1, 2, 3]), "{lines:#?}");
    assert_eq!(events["tick"], json!([]), "{lines:#?}");
    tokio::time::sleep(Duration::from_millis(300)).await;
    let seen = drain(&mut server.seen);
    assert_eq!(seen.len(), 4, "{seen:?}");
    assert_eq!(seen[0], Seen::Connect { recovered: false });
    assert!(
        matches!(
            seen[1],
            Seen::Disconnect(DisconnectReason::TransportClose | DisconnectReason::TransportError)
        ),
        "the first socket leaves with the reason its connection was lost: {seen:?}"
    );
    assert_eq!(seen[2], Seen::Connect { recovered: false });
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_client_the_server_disconnected_is_not_recovered() {
    let mut server = start(Some(recovery(Duration::from_secs(5)))).await;
    let lines = client(
        &server.addr,
        json!({
            "transports": ["polling"], "cut": "kick", "reconnect_after_ms": 100,
            "later": {"n": 2, "delay_ms": 50}, "expect_missed": false,
        }),
    )
    .await;
    let (first, second) = (line(&lines, "first"), line(&lines, "second"));
    assert_eq!(second["recovered"], json!(false), "{lines:#?}");
    assert_ne!(second["id"], first["id"]);
    assert_eq!(line(&lines, "after")["bumps"], json!(0));
    assert_eq!(
        line(&lines, "disconnects"),
        &json!(["io server disconnect"])
    );
    let seen = drain(&mut server.seen);
    assert_eq!(
        seen[..3],
        [
            Seen::Connect { recovered: false },
            Seen::Disconnect(DisconnectReason::ServerNamespaceDisconnect),
            Seen::Connect { recovered: false },
        ],
        "{seen:?}"
    );
}

// ---------------------------------------------------------------------------------------------
// The wire, byte for byte.

async fn ws_connect(addr: &str, connect: &str) -> (Ws, String) {
    let mut ws = open(&format!("ws://{addr}/socket.io/?EIO=4&transport=websocket")).await;
    ws.send(Message::text(connect)).await.unwrap();
    let reply = next_text(&mut ws).await;
    (ws, reply)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn without_the_option_the_wire_has_no_pid_and_no_offsets() {
    let server = start(None).await;
    let (mut ws, reply) = ws_connect(&server.addr, "40").await;
    let v: Value = serde_json::from_str(reply.strip_prefix("40").unwrap()).unwrap();
    assert_eq!(v.as_object().unwrap().keys().collect::<Vec<_>>(), ["sid"]);
    ws.send(Message::text(r#"421["join","r"]"#)).await.unwrap();
    assert_eq!(next_text(&mut ws).await, "431[true]");
    ws.send(Message::text(r#"422["burst",1]"#)).await.unwrap();
    assert_eq!(next_text(&mut ws).await, r#"42["news",1]"#);
    assert_eq!(next_text(&mut ws).await, "432[true]");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn with_the_option_connect_carries_pid_and_events_an_offset_acks_none() {
    let server = start(Some(recovery(Duration::from_secs(5)))).await;
    let (mut ws, reply) = ws_connect(&server.addr, "40").await;
    let v: Value = serde_json::from_str(reply.strip_prefix("40").unwrap()).unwrap();
    assert_eq!(v.as_object().unwrap().len(), 2, "{reply}");
    assert!(
        reply.starts_with(r#"40{"sid":""#),
        "sid first, as the reference: {reply}"
    );
    ws.send(Message::text(r#"421["join","r"]"#)).await.unwrap();
    assert_eq!(next_text(&mut ws).await, "431[true]");
    ws.send(Message::text(r#"422["burst",2]"#)).await.unwrap();
    let one: Value = serde_json::from_str(&next_text(&mut ws).await[2..]).unwrap();
    let two: Value = serde_json::from_str(&next_text(&mut ws).await[2..]).unwrap();
    assert_eq!(next_text(&mut ws).await, "432[true]");
    assert_eq!((&one[0], &one[1]), (&json!("news"), &json!(1)));
    assert_eq!((&two[0], &two[1]), (&json!("news"), &json!(2)));
    let (o1, o2) = (one[2].as_str().unwrap(), two[2].as_str().unwrap());
    assert_ne!(o1, o2);

    // Cut; one event meanwhile; back with {pid, offset of "news" 1}: "news" 2 again (it was
    // after that offset), the event sent meanwhile, then the CONNECT reply with the same sid.
    drop(ws);
    let mut tries = 0;
    while server.io.recovering_sockets("/") == 0 {
        tokio::time::sleep(Duration::from_millis(10)).await;
        tries += 1;
        assert!(tries < 300, "the socket never parked");
    }
    server.io.to("r").emit("news", 3).await.unwrap();
    let auth = json!({"pid": v["pid"], "offset": o1});
    let (mut ws, first) = ws_connect(&server.addr, &format!("40{auth}")).await;
    let missed: Value = serde_json::from_str(&first[2..]).unwrap();
    assert_eq!(missed, two);
    let next: Value = serde_json::from_str(&next_text(&mut ws).await[2..]).unwrap();
    assert_eq!((&next[0], &next[1]), (&json!("news"), &json!(3)));
    let reply = next_text(&mut ws).await;
    assert_eq!(
        reply,
        format!(
            r#"40{{"sid":"{}","pid":"{}"}}"#,
            v["sid"].as_str().unwrap(),
            v["pid"].as_str().unwrap()
        )
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_unknown_pid_or_offset_is_a_new_connection() {
    let server = start(Some(recovery(Duration::from_secs(5)))).await;
    let (_ws, reply) = ws_connect(&server.addr, r#"40{"pid":"nope","offset":"nope"}"#).await;
    assert!(reply.starts_with(r#"40{"sid":""#), "{reply}");
    let (ws, reply) = ws_connect(&server.addr, "40").await;
    let v: Value = serde_json::from_str(&reply[2..]).unwrap();
    drop(ws);
    while server.io.recovering_sockets("/") == 0 {
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    // The right pid with an offset that is not ours: afresh, and the parked socket leaves.
    let auth = json!({"pid": v["pid"], "offset": "garbage"});
    let (_ws, reply) = ws_connect(&server.addr, &format!("40{auth}")).await;
    let fresh: Value = serde_json::from_str(&reply[2..]).unwrap();
    assert_ne!(fresh["sid"], v["sid"]);
    assert_eq!(server.io.recovering_sockets("/"), 0);
}

// ---------------------------------------------------------------------------------------------
// Memory: 10,000 disconnected sessions and the packets they miss are all released.

fn rss_kib() -> u64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap();
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .unwrap()
}

/// Opens `n` WebSocket sockets, 50 at a time, each dropped right after its CONNECT reply.
async fn park_many(addr: &str, n: usize) {
    let addr: Arc<str> = addr.into();
    let mut tasks = tokio::task::JoinSet::new();
    for i in 0..n {
        if i >= 50 {
            tasks.join_next().await.unwrap().unwrap();
        }
        let addr = addr.clone();
        tasks.spawn(async move {
            let (ws, reply) = ws_connect(&addr, "40").await;
            assert!(reply.contains("pid"));
            drop(ws);
        });
    }
    while let Some(r) = tasks.join_next().await {
        r.unwrap();
    }
}

async fn wait_parked(io: &Io, n: usize) {
    let mut tries = 0;
    while io.recovering_sockets("/") != n {
        tokio::time::sleep(Duration::from_millis(20)).await;
        tries += 1;
        assert!(
            tries < 3000,
            "{} parked, {n} expected",
            io.recovering_sockets("/")
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ten_thousand_parked_sessions_are_released_after_the_duration() {
    const N: usize = 10_000;
    // Long enough for every socket to be parked at once before the first expires, even on a
    // loaded machine (parking 10,000 took up to 20 s with the other tests running).
    let duration = Duration::from_secs(40);
    let server = start(Some(recovery(duration))).await;
    let store = || {
        let adapters = server.adapters.0.lock().unwrap();
        adapters[0].session_store().unwrap().clone()
    };
    let baseline = rss_kib();
    let mut peaks = Vec::new();
    for round in 0..2 {
        let started = std::time::Instant::now();
        park_many(&server.addr, N).await;
        wait_parked(&server.io, N).await;
        let parked_in = started.elapsed();
        // Events to every socket while they are away: kept for them.
        for i in 0..1000 {
            server.io.emit("news", i).await.unwrap();
        }
        assert_eq!(store().len(), (N, 1000), "round {round}");
        peaks.push(rss_kib());
        // After the duration (and a pruning period) nothing is held any more: no parked
        // actor, no session, no packet.
        wait_parked(&server.io, 0).await;
        let mut tries = 0;
        while store().len() != (0, 0) {
            tokio::time::sleep(Duration::from_millis(100)).await;
            tries += 1;
            // Within one pruning period (a quarter of the duration).
            assert!(tries < 100, "store still holds {:?}", store().len());
        }
        eprintln!("round {round}: {N} sockets parked in {parked_in:?}, released");
    }
    let after = rss_kib();
    eprintln!("RSS KiB: baseline {baseline}, peaks {peaks:?}, after {after}");
    assert!(
        peaks[0] > baseline + 10_000,
        "10,000 parked sessions should show: {peaks:?}"
    );
    // The allocator keeps what was freed rather than giving it to the system, so the proof
    // that it was freed is its reuse: a second round of 10,000 does not grow the process.
    assert!(
        peaks[1] < peaks[0] + peaks[0] / 10,
        "memory grew between rounds: baseline {baseline}, peaks {peaks:?}"
    );
    assert!(after <= peaks[1], "{after} {peaks:?}");
}
