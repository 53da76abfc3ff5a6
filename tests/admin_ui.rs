//! The admin UI's namespace (feature `admin-ui`), driven by socket.io-client under node as the
//! `@socket.io/admin-ui` 0.5 dashboard drives it (`tests/js/admin_ui.mjs`): the chat example
//! with `ADMIN_PASSWORD` (development mode, basic auth), and an in-process server without
//! auth, read-only, in production mode.
//!
//! Run: `cargo build -p socketio-ns --features admin-ui --example chat && cargo test -p
//! socketio-ns --features admin-ui --test admin_ui` (the test starts that binary; needs node and
//! npm; the harness installs `tests/node_modules` and `examples/chat/node_modules`).

#[macro_use]
#[allow(unused_macros)]
mod common;

use std::path::Path;
use std::sync::Once;
use std::time::Duration;

use serde_json::{Value, json};
use socketio_ns::admin_ui::{AdminMode, AdminUi, INVALID_CREDENTIALS};
use socketio_ns::{Bytes, Context, Server, namespace};

use common::{ExampleServer, npm_install_once, run_node};

const PASSWORD: &str = "correct horse";

fn chat_with_admin() -> ExampleServer {
    static INSTALL: Once = Once::new();
    npm_install_once(
        &INSTALL,
        &Path::new(env!("CARGO_MANIFEST_DIR")).join("../examples/chat"),
    );
    ExampleServer::spawn_with_env("chat", &[("ADMIN_PASSWORD", PASSWORD)])
}

/// The line of `lines` that has `key`.
fn line<'a>(lines: &'a [Value], key: &str) -> &'a Value {
    lines
        .iter()
        .find_map(|l| l.get(key))
        .unwrap_or_else(|| panic!("no {key:?} in {lines:#?}"))
}

/// The events of `seen` named `name`.
fn named<'a>(seen: &'a Value, name: &str) -> Vec<&'a Value> {
    seen.as_array()
        .unwrap()
        .iter()
        .filter(|e| e[0] == name)
        .collect()
}

/// The same dashboard with its "MessagePack parser" option, on the chat started with
/// `PARSER=msgpack`: logins, the stats, and the operations on a chat client.
#[test]
fn the_dashboard_protocol_with_the_msgpack_parser() {
    static INSTALL: Once = Once::new();
    npm_install_once(
        &INSTALL,
        &Path::new(env!("CARGO_MANIFEST_DIR")).join("../examples/chat"),
    );
    let server = ExampleServer::spawn_with_env(
        "chat",
        &[("ADMIN_PASSWORD", PASSWORD), ("PARSER", "msgpack")],
    );
    let lines = run_node(
        "admin_ui.mjs",
        json!({
            "url": server.url(),
            "admin": "/admin",
            "password": PASSWORD,
            "parser": "msgpack",
            "client": {"nsp": "/chat", "auth": {"token": "t"}, "login": "alice"},
        }),
    );
    let refused: Vec<&Value> = lines.iter().filter_map(|l| l.get("refused")).collect();
    assert_eq!(refused.len(), 4, "{lines:#?}");
    assert!(refused.iter().all(|r| r["message"] == INVALID_CREDENTIALS));
    assert_eq!(line(&lines, "session").as_str().map(str::len), Some(16));
    assert_eq!(line(&lines, "server_stats")["pid"], server.pid());
    assert!(
        line(&lines, "client_rooms")
            .as_array()
            .is_some_and(|r| r.contains(&json!("lobby"))),
        "{lines:#?}"
    );
    assert_eq!(
        line(&lines, "client_disconnected"),
        &json!("io server disconnect")
    );
    assert_eq!(line(&lines, "session_reuse"), &json!("connected"));
}

#[test]
fn the_dashboard_protocol_on_the_chat_example() {
    let server = chat_with_admin();
    let lines = run_node(
        "admin_ui.mjs",
        json!({
            "url": server.url(),
            "admin": "/admin",
            "password": PASSWORD,
            "client": {"nsp": "/chat", "auth": {"token": "t"}, "login": "alice"},
        }),
    );

    // Every wrong login gets the Node package's own message, and nothing else.
    let refused: Vec<&Value> = lines.iter().filter_map(|l| l.get("refused")).collect();
    assert_eq!(refused.len(), 4, "{lines:#?}");
    for r in &refused {
        assert_eq!(r["ok"], false, "{r}");
        assert_eq!(r["message"], INVALID_CREDENTIALS, "{r}");
    }
    assert_eq!(INVALID_CREDENTIALS, "invalid credentials");

    // A good one: a session id, the features of development mode.
    let session = line(&lines, "session").as_str().expect("a session id");
    assert_eq!(session.len(), 16);
    let config = line(&lines, "config");
    assert_eq!(
        config["supportedFeatures"],
        json!([
            "EMIT",
            "JOIN",
            "LEAVE",
            "DISCONNECT",
            "MJOIN",
            "MLEAVE",
            "MDISCONNECT",
            "AGGREGATED_EVENTS",
            "ALL_EVENTS"
        ])
    );
    let client = line(&lines, "client").as_str().unwrap();

    // all_sockets: the admin socket itself at first; later, the chat client, with its rooms.
    let later = &lines
        .iter()
        .find(|l| l.get("all_sockets").is_some())
        .unwrap()["later"];
    let me = later
        .as_array()
        .expect("all_sockets for the second admin socket")
        .iter()
        .find(|s| s["id"] == client)
        .unwrap_or_else(|| panic!("{client} not in {later:#}"));
    assert_eq!(me["nsp"], "/chat");
    assert!(
        me["rooms"].as_array().unwrap().contains(&json!("lobby")),
        "{me}"
    );
    assert_eq!(me["clientId"].as_str().unwrap().len(), 12, "{me}");
    assert!(me["handshake"]["headers"].is_object(), "{me}");
    assert!(
        ["polling", "websocket"].contains(&me["transport"].as_str().unwrap()),
        "{me}"
    );

    // server_stats, as the Node package writes it.
    let stats = line(&lines, "server_stats");
    for key in [
        "serverId",
        "hostname",
        "pid",
        "uptime",
        "clientsCount",
        "pollingClientsCount",
        "aggregatedEvents",
        "namespaces",
    ] {
        assert!(stats.get(key).is_some(), "{key} missing from {stats}");
    }
    assert_eq!(stats["pid"], server.pid());
    let names: Vec<&str> = stats["namespaces"]
        .as_array()
        .unwrap()
        .iter()
        .map(|n| n["name"].as_str().unwrap())
        .collect();
    assert!(
        names.contains(&"/chat") && names.contains(&"/admin"),
        "{stats}"
    );

    // Development mode: every step of the client, as it happened.
    let seen = line(&lines, "seen");
    let connected = named(seen, "socket_connected");
    assert!(
        connected
            .iter()
            .any(|e| e[1]["id"] == client && e[1]["nsp"] == "/chat"),
        "{seen:#}"
    );
    let received = named(seen, "event_received");
    let names: Vec<&Value> = received
        .iter()
        .filter(|e| e[2] == client)
        .map(|e| &e[3][0])
        .collect();
    assert_eq!(
        names,
        [
            &json!("login"),
            &json!("join"),
            &json!("ticker"),
            &json!("stop_ticker"),
            &json!("join")
        ],
        "{seen:#}"
    );
    assert!(received.iter().all(|e| e[1] == "/chat"), "{seen:#}");
    assert!(
        named(seen, "event_sent")
            .iter()
            .any(|e| e[2] == client && e[3][0] == "tick" && e[3][1] == 1),
        "{seen:#}"
    );
    let joined = named(seen, "room_joined");
    for room in ["lobby", "news"] {
        assert!(
            joined
                .iter()
                .any(|e| e[1] == "/chat" && e[2] == room && e[3] == client),
            "{room}: {seen:#}"
        );
    }
    assert!(
        named(seen, "room_left")
            .iter()
            .any(|e| e[2] == "news" && e[3] == client),
        "{seen:#}"
    );
    // The client started on polling and upgraded: the next stats tick says so.
    assert!(
        named(seen, "socket_updated")
            .iter()
            .any(|e| e[1]["id"] == client && e[1]["transport"] == "websocket"),
        "{seen:#}"
    );
    let gone = named(seen, "socket_disconnected");
    assert!(
        gone.iter()
            .any(|e| e[1] == "/chat" && e[2] == client && e[3] == "server namespace disconnect"),
        "{seen:#}"
    );
    // Timestamps as JavaScript dates serialize (an offset may follow: the chat example has
    // connection state recovery on, for every namespace, this one included).
    let stamps = connected
        .iter()
        .map(|e| &e[2])
        .chain(gone.iter().map(|e| &e[4]));
    for ts in stamps {
        let ts = ts.as_str().unwrap();
        assert!(ts.ends_with('Z') && ts.len() == 24, "{ts}");
    }

    // The operations took effect on the client: joined `news`, got the emit, was disconnected.
    let rooms = line(&lines, "client_rooms");
    assert_eq!(rooms, &json!(["lobby", "news"]));
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
    assert_eq!(line(&lines, "client_disconnected"), "io server disconnect");

    // The session id the dashboard keeps lets it back in without the password.
    assert_eq!(line(&lines, "session_reuse"), "connected");
}

// ---------------------------------------------------------------------------------------------
// Read-only, production mode, no auth: an in-process server.

#[derive(Default)]
struct Root;

#[namespace("/")]
impl Root {
    fn on_echo(&mut self, _cx: &mut Context<Self>, value: Value) -> Value {
        value
    }

    fn on_echo_bytes(&mut self, _cx: &mut Context<Self>, data: Bytes) -> Bytes {
        data
    }

    fn on_set_data(&mut self, cx: &mut Context<Self>, name: String) {
        let mut data = cx.data().cloned().unwrap_or_else(|| json!({}));
        data["name"] = json!(name);
        cx.set_data(data);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn readonly_production_without_auth() {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    let server = Server::builder()
        .namespace::<Root>()
        .admin_ui(
            AdminUi::without_auth()
                .namespace("/watch")
                .readonly(true)
                .mode(AdminMode::Production)
                .server_id("ours"),
        )
        .build();
    tokio::spawn(server.serve_listener(listener));
    let lines = tokio::task::spawn_blocking(move || {
        run_node(
            "admin_ui.mjs",
            json!({
                "url": url,
                "admin": "/watch",
                "password": null,
                "client": {"nsp": "/", "auth": null},
            }),
        )
    })
    .await
    .unwrap();

    assert_eq!(line(&lines, "session"), &Value::Null);
    assert_eq!(
        line(&lines, "config")["supportedFeatures"],
        json!(["AGGREGATED_EVENTS"])
    );
    let sockets = lines
        .iter()
        .find(|l| l.get("all_sockets").is_some())
        .unwrap();
    assert_eq!(
        sockets["all_sockets"],
        Value::Null,
        "production mode: no all_sockets"
    );
    assert_eq!(sockets["later"], Value::Null);
    let stats = line(&lines, "server_stats");
    assert_eq!(stats["serverId"], "ours");
    // Production: nothing per socket. Read-only: the operations are ignored.
    assert_eq!(line(&lines, "seen"), &json!([]));
    assert_eq!(line(&lines, "client_events"), &json!([]));
    assert_eq!(line(&lines, "client_disconnected"), &Value::Null);
}

// ---------------------------------------------------------------------------------------------
// The live view: aggregated events, client counts, disconnect reasons, socket_updated, socket
// details; ours and the Node reference server (socket.io + @socket.io/admin-ui's instrument())
// held to the same expectations by one script (tests/js/admin_stats.mjs).

const PING: [u64; 2] = [300, 200];

/// The sum of the `aggregatedEvents` of `stats` of `kind` (and `sub`, when given).
fn aggregated(stats: &Value, kind: &str, sub: Option<&str>) -> u64 {
    stats
        .as_array()
        .unwrap()
        .iter()
        .flat_map(|s| s["aggregatedEvents"].as_array().unwrap())
        .filter(|e| e["type"] == kind && sub.is_none_or(|sub| e["subType"] == sub))
        .map(|e| e["count"].as_u64().unwrap())
        .sum()
}

fn check_live_view(lines: &[Value], who: &str) {
    let clients = line(lines, "clients");
    let id = |c: &str| clients[c].as_str().unwrap().to_owned();
    let seen = line(lines, "seen");
    let stats = line(lines, "stats");

    // Each socket left for the reason the reference server gives.
    let reasons: Vec<(String, &str)> = ["c1", "c2", "r3", "r4", "r5", "c6"]
        .iter()
        .map(|c| {
            let e = named(seen, "socket_disconnected")
                .into_iter()
                .find(|e| e[2] == id(c))
                .unwrap_or_else(|| panic!("{who}: {c} never left: {seen:#}"));
            assert_eq!(e[1], "/", "{who}: {e}");
            (c.to_string(), e[3].as_str().unwrap())
        })
        .collect();
    assert_eq!(
        reasons,
        [
            ("c1".into(), "client namespace disconnect"),
            ("c2".into(), "transport close"),
            ("r3".into(), "parse error"),
            ("r4".into(), "forced close"),
            ("r5".into(), "ping timeout"),
            ("c6".into(), "server namespace disconnect"),
        ],
        "{who}"
    );

    // aggregatedEvents: every Engine.IO connection and disconnection (with the engine's
    // reason), counted when it happened, in the second it happened.
    for e in stats
        .as_array()
        .unwrap()
        .iter()
        .flat_map(|s| s["aggregatedEvents"].as_array().unwrap())
    {
        assert_eq!(e["timestamp"].as_u64().unwrap() % 1000, 0, "{who}: {e}");
    }
    // c1, c2, the second admin socket, r3, r4, r5, c6.
    assert_eq!(
        aggregated(stats, "rawConnection", None),
        7,
        "{who}: {stats:#}"
    );
    for (sub, n) in [
        ("transport close", 3),
        ("parse error", 1),
        ("forced close", 2),
        ("ping timeout", 1),
    ] {
        assert_eq!(
            aggregated(stats, "rawDisconnection", Some(sub)),
            n,
            "{who}: {sub}: {stats:#}"
        );
    }
    assert_eq!(aggregated(stats, "rawDisconnection", None), 7, "{who}");
    // Packets and bytes: what the clients sent and received, message packets with data, the
    // data's length; plus, in, the error packet the reference decoder makes of what it cannot
    // decode ("parser error").
    let client = line(lines, "client_side");
    let n = |k: &str| client[k].as_u64().unwrap();
    assert_eq!(
        aggregated(stats, "packetsIn", None),
        n("packetsIn") + 1,
        "{who}: {client} {stats:#}"
    );
    assert_eq!(
        aggregated(stats, "bytesIn", None),
        n("bytesIn") + "parser error".len() as u64,
        "{who}: {client} {stats:#}"
    );
    assert_eq!(
        aggregated(stats, "packetsOut", None),
        n("packetsOut"),
        "{who}: {client} {stats:#}"
    );
    assert_eq!(
        aggregated(stats, "bytesOut", None),
        n("bytesOut"),
        "{who}: {client} {stats:#}"
    );
    // At the last tick only the admin socket is left.
    let last = stats.as_array().unwrap().last().unwrap();
    assert_eq!(last["clientsCount"], 1, "{who}: {last}");
    assert_eq!(last["pollingClientsCount"], 0, "{who}: {last}");

    // socket_updated: the upgrade, when it happened (before the first event the client sent
    // after it), and the data, when it was set.
    let c1 = id("c1");
    let position = |pred: &dyn Fn(&Value) -> bool| {
        seen.as_array()
            .unwrap()
            .iter()
            .position(pred)
            .unwrap_or_else(|| panic!("{who}: {seen:#}"))
    };
    let connected = position(&|e| e[0] == "socket_connected" && e[1]["id"] == c1);
    assert_eq!(seen[connected][1]["transport"], "polling", "{who}");
    // Its own room first, as the socket joins it on connecting.
    let own = position(&|e| e[0] == "room_joined" && e[2] == c1.as_str());
    assert_eq!(seen[own][1], "/", "{who}");
    assert_eq!(seen[own][3], c1.as_str(), "{who}");
    assert!(own < connected, "{who}: {seen:#}");
    let upgraded = position(&|e| {
        e[0] == "socket_updated" && e[1]["id"] == c1 && e[1]["transport"] == "websocket"
    });
    let echo = position(&|e| e[0] == "event_received" && e[2] == c1.as_str());
    assert!(upgraded < echo, "{who}: {seen:#}");
    let data =
        position(&|e| e[0] == "socket_updated" && e[1]["id"] == c1 && e[1].get("data").is_some());
    assert_eq!(
        seen[data][1],
        json!({"id": c1, "nsp": "/", "data": {"name": "alice"}}),
        "{who}"
    );

    // The socket as the dashboard shows it: its data, and when its handshake was.
    let all = line(lines, "all_sockets");
    let me = all
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["id"] == c1)
        .unwrap_or_else(|| panic!("{who}: {all:#}"));
    assert_eq!(me["data"], json!({"name": "alice"}), "{who}: {me}");
    assert_eq!(me["transport"], "websocket", "{who}: {me}");
    let issued = me["handshake"]["issued"].as_u64().expect("issued, ms");
    let time = me["handshake"]["time"]
        .as_str()
        .expect("time, a date string");
    assert!(time.contains(" GMT"), "{who}: {time}");
    // Date's toString() has whole seconds.
    assert_eq!(
        line(lines, "time_parsed").as_u64(),
        Some(issued / 1000 * 1000),
        "{who}: {time} {issued}"
    );
    for key in ["address", "headers", "query", "secure", "url", "xdomain"] {
        assert!(me["handshake"].get(key).is_some(), "{who}: {key}: {me}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_live_view_as_the_node_package_reports_it() {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    let server = Server::builder()
        .namespace::<Root>()
        .ping_interval(Duration::from_millis(PING[0]))
        .ping_timeout(Duration::from_millis(PING[1]))
        .admin_ui(AdminUi::without_auth())
        .build();
    tokio::spawn(server.serve_listener(listener));
    let (ours, node) = tokio::task::spawn_blocking(move || {
        let ours = run_node("admin_stats.mjs", json!({"url": url, "ping": PING}));
        let node = run_node(
            "admin_stats.mjs",
            json!({"url": null, "node_reference": true, "ping": PING}),
        );
        (ours, node)
    })
    .await
    .unwrap();
    check_live_view(&node, "node");
    check_live_view(&ours, "ours");
}
