//! Rooms, broadcasting, the server handle, connect middlewares and dynamic namespaces, against
//! several socket.io-client 4.8 instances (node, `tests/js/rooms.mjs`) on an in-process server.
//! Each scenario runs three times: every client on polling, every client on WebSocket, and a
//! mix of polling, WebSocket and upgraded clients in the same rooms.
//!
//! Run: `cargo test -p socketio-ns --test rooms` (needs node and npm; the harness installs
//! `tests/node_modules` when missing).
//!
//! The clients drive the server through the commands of the [`Lab`] namespace below (written by
//! hand against the `Namespace` trait): each command is acked once it is done, so that the
//! steps of different clients happen in the order of the script.

#[macro_use]
#[allow(unused_macros)]
mod common;
#[macro_use]
#[path = "common/rooms_support.rs"]
mod rooms_support;

use std::sync::{Arc, Mutex};
use std::time::Duration;

use base64::Engine as _;
use bytes::Bytes;
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use socketio_ns::{
    BroadcastAcks, BroadcastOperator, ConnectError, Context, DisconnectReason, Event, HandlerError,
    Handshake, Io, Namespace, NoMethods, Server,
};

use rooms_support::{Mix, Outcome, Script, TestServer, ack, event};

const BLOB: &[u8] = &[0, 1, 2, 255];
const BLOB_B64: &str = "AAEC/w==";

/// What the namespaces record, for the assertions made after a scenario.
#[derive(Default)]
struct Log(Mutex<Vec<Value>>);

impl Log {
    fn push(&self, v: Value) {
        self.0.lock().unwrap().push(v);
    }

    fn entries(&self) -> Vec<Value> {
        self.0.lock().unwrap().clone()
    }
}

/// A command's selection and payload.
#[derive(Debug, Default, Deserialize)]
#[serde(default)]
struct Spec {
    /// The namespace, for commands using the server handle (default: the sender's).
    ns: Option<String>,
    to: Vec<String>,
    except: Vec<String>,
    local: bool,
    volatile: bool,
    timeout_ms: Option<u64>,
    event: String,
    data: Value,
    /// Sends binary attachments along: `(data, BLOB, {"blob": BLOB, "n": 1})`.
    binary: bool,
    /// For `sockets-join` / `sockets-leave`.
    rooms: Vec<String>,
    /// For `disconnect-sockets`.
    close: bool,
}

#[derive(Serialize)]
struct Nested {
    blob: Bytes,
    n: u32,
}

impl Spec {
    fn refine(&self, mut op: BroadcastOperator) -> BroadcastOperator {
        if !self.to.is_empty() {
            op = op.to(self.to.clone());
        }
        if !self.except.is_empty() {
            op = op.except(self.except.clone());
        }
        if self.local {
            op = op.local();
        }
        if self.volatile {
            op = op.volatile();
        }
        if let Some(ms) = self.timeout_ms {
            op = op.timeout(Duration::from_millis(ms));
        }
        op
    }

    /// From a context: excludes the sender.
    /// (Generic code names the operator of a namespace that declares no events: this one relays
    /// whatever event name the client gives.)
    fn select_in_cx<T: Namespace<Method = NoMethods>>(&self, cx: &Context<T>) -> BroadcastOperator {
        self.refine(cx.broadcast())
    }

    /// From the server handle: excludes nobody.
    fn select_in_io(&self, io: &Io, sender_ns: &str) -> BroadcastOperator {
        let ns = self.ns.as_deref().unwrap_or(sender_ns);
        self.refine(io.of(ns).expect("a registered namespace"))
    }

    async fn emit(&self, op: BroadcastOperator) -> Result<(), HandlerError> {
        let res = if self.binary {
            let nested = Nested {
                blob: Bytes::from_static(BLOB),
                n: 1,
            };
            op.emit(&self.event, (&self.data, Bytes::from_static(BLOB), nested))
                .await
        } else {
            op.emit(&self.event, &self.data).await
        };
        res.map_err(|e| HandlerError::new("emit_failed", e.to_string()))
    }

    async fn ask(&self, op: BroadcastOperator) -> Result<Value, HandlerError> {
        let acks = op
            .emit_with_ack(&self.event, &self.data)
            .await
            .map_err(|e| HandlerError::new("emit_failed", e.to_string()))?;
        Ok(acks_json(&acks))
    }
}

/// `{"responses": {id: {"values": [...], "attachments": [base64...]}}, "timed_out": [id...]}`
fn acks_json(acks: &BroadcastAcks) -> Value {
    let b64 = base64::engine::general_purpose::STANDARD;
    let responses: serde_json::Map<String, Value> = acks
        .responses
        .iter()
        .map(|(id, r)| {
            let attachments: Vec<String> = r.attachments().iter().map(|a| b64.encode(a)).collect();
            (
                id.to_string(),
                json!({ "values": r.values(), "attachments": attachments }),
            )
        })
        .collect();
    let timed_out: Vec<&str> = acks.timed_out.iter().map(|s| &**s).collect();
    json!({ "responses": responses, "timed_out": timed_out })
}

fn rooms_json<T: Namespace>(cx: &Context<T>) -> Value {
    json!({ "rooms": cx.rooms() })
}

/// The commands the clients drive the server with. Registered at `/`, `/other` and
/// `/game/{id}`.
#[derive(Default)]
struct Lab;

impl Namespace for Lab {
    const PATH: &'static str = "/";
    const METHODS: &'static [&'static str] = &[];
    type Method = NoMethods;

    async fn connect(
        &mut self,
        cx: &mut Context<Self>,
        _auth: Option<&str>,
    ) -> Result<(), ConnectError> {
        cx.state::<Arc<Log>>()
            .push(json!({ "connect": cx.namespace(), "id": cx.id() }));
        if let Some(id) = cx.param("id") {
            let id = id.to_owned();
            cx.try_emit("welcome", id)
                .map_err(|e| ConnectError::new(e.to_string()))?;
        }
        Ok(())
    }

    async fn disconnect(&mut self, cx: &mut Context<Self>, reason: DisconnectReason) {
        // Runs while the socket is still in its rooms.
        let entry = json!({
            "id": cx.id(),
            "ns": cx.namespace(),
            "reason": reason.as_str(),
            "rooms": rooms_json(cx)["rooms"],
        });
        cx.state::<Arc<Log>>().push(json!({ "disconnect": entry }));
        let _ = cx.to("watchers").emit("gone", &entry).await;
    }

    fn method_of(_: &Event) -> Option<NoMethods> {
        None
    }

    async fn call_method(
        &mut self,
        cx: &mut Context<Self>,
        event: Event,
    ) -> Result<(), HandlerError> {
        let spec: Spec = if event.is_empty() {
            Spec::default()
        } else {
            event.arg(0)?
        };
        let io = cx.io();
        let ns = cx.namespace().to_owned();
        let reply = match event.name() {
            "join" => {
                cx.join(spec.rooms.clone());
                rooms_json(cx)
            }
            "leave" => {
                cx.leave(spec.rooms.clone());
                rooms_json(cx)
            }
            "rooms" => rooms_json(cx),
            "where" => json!({ "ns": cx.namespace(), "id": cx.param("id") }),
            "cx-emit" => {
                spec.emit(spec.select_in_cx(cx)).await?;
                json!(true)
            }
            "cx-ask" => spec.ask(spec.select_in_cx(cx)).await?,
            // The server handle, from a background task.
            "io-emit" => tokio::spawn(async move {
                let op = spec.select_in_io(&io, &ns);
                spec.emit(op).await.map(|()| json!(true))
            })
            .await
            .unwrap()?,
            "io-ask" => tokio::spawn(async move {
                let op = spec.select_in_io(&io, &ns);
                spec.ask(op).await
            })
            .await
            .unwrap()?,
            "fetch" => {
                let sockets = spec
                    .select_in_io(&io, &ns)
                    .fetch_sockets()
                    .await
                    .map_err(|e| HandlerError::new("adapter", e.to_string()))?;
                let map: serde_json::Map<String, Value> = sockets
                    .into_iter()
                    .map(|s| {
                        let auth: Value =
                            serde_json::from_str(s.handshake.auth.as_deref().unwrap_or("null"))
                                .unwrap();
                        let eio = s.handshake.query().is_some_and(|q| q.contains("EIO=4"));
                        (
                            s.id,
                            json!({ "ns": s.ns, "rooms": s.rooms, "auth": auth, "eio4": eio }),
                        )
                    })
                    .collect();
                Value::Object(map)
            }
            "sockets-join" => {
                let op = spec.select_in_io(&io, &ns);
                op.sockets_join(spec.rooms.clone())
                    .await
                    .map_err(|e| HandlerError::new("adapter", e.to_string()))?;
                json!(true)
            }
            "sockets-leave" => {
                let op = spec.select_in_io(&io, &ns);
                op.sockets_leave(spec.rooms.clone())
                    .await
                    .map_err(|e| HandlerError::new("adapter", e.to_string()))?;
                json!(true)
            }
            "disconnect-sockets" => {
                let op = spec.select_in_io(&io, &ns);
                op.disconnect_sockets(spec.close)
                    .await
                    .map_err(|e| HandlerError::new("adapter", e.to_string()))?;
                json!(true)
            }
            "close-server" => {
                // Not awaited here: close() waits for every socket's handler, this one too.
                let log = cx.state::<Arc<Log>>().clone();
                tokio::spawn(async move {
                    io.close().await;
                    log.push(json!("closed"));
                });
                json!(true)
            }
            other => return Err(HandlerError::new("unknown_command", other)),
        };
        cx.ack(reply)?;
        Ok(())
    }
}

fn builder(log: &Arc<Log>) -> socketio_ns::Builder {
    Server::builder()
        .ack_timeout(Duration::from_secs(5))
        .state(log.clone())
        .namespace::<Lab>()
        .namespace_at("/other", Lab::default)
        .namespace_at("/game/{id}", Lab::default)
}

async fn start() -> (TestServer, Arc<Log>) {
    let log = Arc::new(Log::default());
    (TestServer::start(builder(&log)).await, log)
}

/// The lines of `out` but acks of commands that only say `true`.
fn without_true_acks(out: &Outcome) -> Vec<Value> {
    out.lines
        .iter()
        .filter(|l| !(l.get("ack").is_some() && l["args"] == json!([true])))
        .cloned()
        .collect()
}

fn rooms(list: &[&str]) -> Value {
    json!({ "rooms": list })
}

per_mix!(
    rooms_join_leave,
    to_within_rooms,
    except_and_broadcast,
    broadcast_with_acks,
    binary_broadcast,
    volatile_broadcast,
    socket_operations,
    dynamic_namespaces,
    several_namespaces_one_connection,
    middleware_refusal,
    close_server,
);

/// join / leave / rooms; the rooms are still there in `recv_disconnect`, and left after it.
async fn rooms_join_leave(mix: Mix) {
    let (server, log) = start().await;
    let script = Script::new(mix)
        .connect_all(&["a", "b", "w"], "/")
        .emit("w", "join", json!({ "rooms": ["watchers"] }))
        .emit("a", "join", json!({ "rooms": ["r1", "r2", "r3"] }))
        .emit("a", "leave", json!({ "rooms": ["r2"] }))
        .emit("a", "leave", json!({ "rooms": ["r3", "never-joined"] }))
        .emit("a", "rooms", json!({}))
        .emit("b", "join", json!({ "rooms": ["r1"] }))
        .emit("w", "fetch", json!({ "to": ["r1"] }))
        .step(json!({ "disconnect": "a" }))
        .expect("gone", &["w"])
        .emit("w", "fetch", json!({ "to": ["r1"] }));
    let out = server.run(script).await;
    let fetched = |ids: &[&str]| {
        let map: serde_json::Map<String, Value> = ids
            .iter()
            .map(|id| {
                (
                    id.to_string(),
                    json!({ "ns": "/", "rooms": [id, "r1"], "auth": null, "eio4": true }),
                )
            })
            .collect();
        Value::Object(map)
    };
    assert_eq!(
        out.lines,
        [
            ack("w", "join", rooms(&["@w", "watchers"])),
            ack("a", "join", rooms(&["@a", "r1", "r2", "r3"])),
            ack("a", "leave", rooms(&["@a", "r1", "r3"])),
            ack("a", "leave", rooms(&["@a", "r1"])),
            ack("a", "rooms", rooms(&["@a", "r1"])),
            ack("b", "join", rooms(&["@b", "r1"])),
            ack("w", "fetch", fetched(&["@a", "@b"])),
            event(
                "gone",
                "w",
                json!([{ "id": "@a", "ns": "/", "reason": "client namespace disconnect", "rooms": ["@a", "r1"] }])
            ),
            ack("w", "fetch", fetched(&["@b"])),
        ]
    );
    // (The other clients disconnect when the script ends.)
    let first = log
        .entries()
        .into_iter()
        .find_map(|e| e.get("disconnect").cloned());
    assert_eq!(first.unwrap()["reason"], "client namespace disconnect");
}

/// to / within one and several rooms (each socket once), from a context (sender excluded) and
/// from the server handle in a background task.
async fn to_within_rooms(mix: Mix) {
    let (server, _) = start().await;
    let all = ["a", "b", "c", "d", "e"];
    let script = Script::new(mix)
        .connect_all(&all, "/")
        .emit("b", "join", json!({ "rooms": ["r1"] }))
        .emit("c", "join", json!({ "rooms": ["r1"] }))
        .emit("d", "join", json!({ "rooms": ["r2"] }))
        .emit("e", "join", json!({ "rooms": ["r1", "r2"] }))
        .emit(
            "a",
            "cx-emit",
            json!({ "to": ["r1"], "event": "m", "data": 1 }),
        )
        .emit(
            "a",
            "cx-emit",
            json!({ "to": ["r1", "r2"], "event": "m", "data": 2 }),
        )
        // b is in r1: a broadcast from its context skips it.
        .emit(
            "b",
            "cx-emit",
            json!({ "to": ["r1"], "event": "m", "data": 3 }),
        )
        // The server handle excludes nobody: b gets it.
        .emit(
            "b",
            "io-emit",
            json!({ "to": ["r2", "r1"], "event": "m", "data": 4 }),
        )
        // A socket id is a room.
        .emit(
            "a",
            "io-emit",
            json!({ "to": ["@d", "@a"], "event": "m", "data": 5 }),
        )
        .emit("a", "io-emit", json!({ "event": "mark" }))
        .expect("m", &["b", "c", "e"])
        .expect("m", &["b", "c", "d", "e"])
        .expect("m", &["c", "e"])
        .expect("m", &["b", "c", "d", "e"])
        .expect("m", &["a", "d"])
        .expect("mark", &all)
        .nothing(&all);
    let out = server.run(script).await;
    let got: Vec<Value> = out
        .lines
        .iter()
        .filter(|l| l.get("by").is_some())
        .cloned()
        .collect();
    let m = |by: &str, n: i32| event("m", by, json!([n]));
    let mut want = vec![
        m("b", 1),
        m("c", 1),
        m("e", 1),
        m("b", 2),
        m("c", 2),
        m("d", 2),
        m("e", 2),
    ];
    want.extend([
        m("c", 3),
        m("e", 3),
        m("b", 4),
        m("c", 4),
        m("d", 4),
        m("e", 4),
        m("a", 5),
        m("d", 5),
    ]);
    want.extend(all.iter().map(|c| event("mark", c, json!([null]))));
    assert_eq!(got, want);
}

/// except (rooms and socket ids), broadcast from a context, and the same from the server
/// handle.
async fn except_and_broadcast(mix: Mix) {
    let (server, _) = start().await;
    let all = ["a", "b", "c", "d", "e"];
    let script = Script::new(mix)
        .connect_all(&all, "/")
        .emit("c", "join", json!({ "rooms": ["muted"] }))
        .emit("d", "join", json!({ "rooms": ["muted", "r"] }))
        .emit("b", "join", json!({ "rooms": ["r"] }))
        .emit(
            "a",
            "cx-emit",
            json!({ "except": ["muted"], "event": "m", "data": 1 }),
        )
        .emit("a", "cx-emit", json!({ "event": "m", "data": 2 }))
        .emit(
            "a",
            "io-emit",
            json!({ "except": ["muted"], "event": "m", "data": 3 }),
        )
        .emit(
            "a",
            "io-emit",
            json!({ "to": ["muted"], "except": ["@d"], "event": "m", "data": 4 }),
        )
        .emit(
            "a",
            "io-emit",
            json!({ "to": ["r"], "except": ["muted"], "event": "m", "data": 5 }),
        )
        .emit(
            "a",
            "cx-emit",
            json!({ "local": true, "except": ["r"], "event": "m", "data": 6 }),
        )
        .emit("a", "io-emit", json!({ "event": "mark" }))
        .expect("m", &["b", "e"])
        .expect("m", &["b", "c", "d", "e"])
        .expect("m", &["a", "b", "e"])
        .expect("m", &["c"])
        .expect("m", &["b"])
        .expect("m", &["c", "e"])
        .expect("mark", &all)
        .nothing(&all);
    let out = server.run(script).await;
    let got: Vec<Value> = without_true_acks(&out)
        .into_iter()
        .filter(|l| l["event"] == "m")
        .map(|l| json!([l["by"], l["args"][0]]))
        .collect();
    let want = json!([
        ["b", 1],
        ["e", 1],
        ["b", 2],
        ["c", 2],
        ["d", 2],
        ["e", 2],
        ["a", 3],
        ["b", 3],
        ["e", 3],
        ["c", 4],
        ["b", 5],
        ["c", 6],
        ["e", 6],
    ]);
    assert_eq!(Value::Array(got), want);
}

/// A broadcast with acks gathers every answer (binary ones included) and names the clients that
/// did not answer in time; from a context and from the server handle.
async fn broadcast_with_acks(mix: Mix) {
    let (server, _) = start().await;
    let script = Script::new(mix)
        .connect_all(&["a", "b", "c", "d", "e"], "/")
        .step(json!({ "answers": { "question": ["b-ok"] }, "by": "b" }))
        .step(json!({ "answers": { "question": null }, "by": "d" }))
        .step(json!({ "answers": { "question": [{ "$binary": BLOB_B64 }] }, "by": "e" }))
        .emit("b", "join", json!({ "rooms": ["q"] }))
        .emit("c", "join", json!({ "rooms": ["q"] }))
        .emit("d", "join", json!({ "rooms": ["q"] }))
        .emit("e", "join", json!({ "rooms": ["q"] }))
        .emit(
            "a",
            "cx-ask",
            json!({ "to": ["q"], "timeout_ms": 1000, "event": "question", "data": { "n": 1 } }),
        )
        .emit(
            "b",
            "io-ask",
            json!({ "except": ["@e"], "timeout_ms": 1000, "event": "question", "data": 2 }),
        )
        // Everyone answers: complete before the timeout (which would fail the script's ack).
        .emit(
            "b",
            "cx-ask",
            json!({ "except": ["@d", "@e"], "timeout_ms": 60000, "event": "question", "data": 3 }),
        )
        .expect("question", &["b", "c", "d", "e"])
        .expect("question", &["a", "b", "c", "d"])
        .expect("question", &["a", "c"]);
    let out = server.run(script).await;
    let asks: Vec<Value> = out
        .lines
        .iter()
        .filter(|l| l["event"] == "cx-ask" || l["event"] == "io-ask")
        .cloned()
        .collect();
    let value = |v: Value| json!({ "values": [v], "attachments": [] });
    let placeholder =
        json!({ "values": [{ "_placeholder": true, "num": 0 }], "attachments": [BLOB_B64] });
    assert_eq!(
        asks,
        [
            ack(
                "a",
                "cx-ask",
                json!({
                    "responses": { "@b": value(json!("b-ok")), "@c": value(json!({ "n": 1 })), "@e": placeholder },
                    "timed_out": ["@d"],
                })
            ),
            ack(
                "b",
                "io-ask",
                json!({
                    "responses": { "@a": value(json!(2)), "@b": value(json!("b-ok")), "@c": value(json!(2)) },
                    "timed_out": ["@d"],
                })
            ),
            ack(
                "b",
                "cx-ask",
                json!({
                    "responses": { "@a": value(json!(3)), "@c": value(json!(3)) },
                    "timed_out": [],
                })
            ),
        ]
    );
    let questions: Vec<Value> = out
        .lines
        .iter()
        .filter(|l| l["event"] == "question")
        .map(|l| json!([l["by"], l["args"][0], l["acked"]]))
        .collect();
    assert_eq!(
        Value::Array(questions),
        json!([
            ["b", { "n": 1 }, true], ["c", { "n": 1 }, true], ["d", { "n": 1 }, false], ["e", { "n": 1 }, true],
            ["a", 2, true], ["b", 2, true], ["c", 2, true], ["d", 2, false],
            ["a", 3, true], ["c", 3, true],
        ])
    );
}

/// Binary attachments (top-level and nested) in broadcasts, from a context and the handle.
async fn binary_broadcast(mix: Mix) {
    let (server, _) = start().await;
    let all = ["a", "b", "c", "d"];
    let script = Script::new(mix)
        .connect_all(&all, "/")
        .emit("b", "join", json!({ "rooms": ["bin"] }))
        .emit("c", "join", json!({ "rooms": ["bin"] }))
        .emit(
            "a",
            "cx-emit",
            json!({ "to": ["bin"], "event": "blob", "data": { "k": "v" }, "binary": true }),
        )
        .emit(
            "a",
            "io-emit",
            json!({ "event": "blob", "data": 2, "binary": true }),
        )
        .expect("blob", &["b", "c"])
        .expect("blob", &all)
        .nothing(&all);
    let out = server.run(script).await;
    let blob = json!({ "$binary": BLOB_B64 });
    let args = |data: Value| json!([data, blob, { "blob": blob, "n": 1 }]);
    let got: Vec<Value> = out
        .lines
        .iter()
        .filter(|l| l["event"] == "blob")
        .cloned()
        .collect();
    let mut want: Vec<Value> = ["b", "c"]
        .iter()
        .map(|c| event("blob", c, args(json!({ "k": "v" }))))
        .collect();
    want.extend(all.iter().map(|c| event("blob", c, args(json!(2)))));
    assert_eq!(got, want);
}

/// Volatile broadcasts reach clients whose transport is writable (idle clients are).
async fn volatile_broadcast(mix: Mix) {
    let (server, _) = start().await;
    let all = ["a", "b", "c", "d", "e"];
    let script = Script::new(mix)
        .connect_all(&all, "/")
        // Let every polling client settle on a pending GET.
        .step(json!({ "sleep": 200 }))
        .emit(
            "a",
            "cx-emit",
            json!({ "volatile": true, "event": "v", "data": 1 }),
        )
        .step(json!({ "sleep": 200 }))
        .emit(
            "a",
            "io-emit",
            json!({ "volatile": true, "except": ["@e"], "event": "v", "data": 2 }),
        )
        .expect("v", &["b", "c", "d", "e"])
        .expect("v", &["a", "b", "c", "d"])
        .nothing(&all);
    let out = server.run(script).await;
    let got: Vec<Value> = out
        .lines
        .iter()
        .filter(|l| l["event"] == "v")
        .map(|l| json!([l["by"], l["args"][0]]))
        .collect();
    assert_eq!(
        Value::Array(got),
        json!([
            ["b", 1],
            ["c", 1],
            ["d", 1],
            ["e", 1],
            ["a", 2],
            ["b", 2],
            ["c", 2],
            ["d", 2]
        ])
    );
}

/// fetch_sockets (ids, rooms, handshake), sockets_join, sockets_leave, disconnect_sockets
/// (namespace disconnect, and closing the connection).
async fn socket_operations(mix: Mix) {
    let (server, log) = start().await;
    let script = Script::new(mix)
        .connect_with("a", "/", json!({ "auth": { "user": "A" } }))
        .connect_with("b", "/", json!({ "auth": { "user": "B" } }))
        .connect_all(&["c", "d"], "/")
        .emit("c", "join", json!({ "rooms": ["watchers"] }))
        .emit("a", "join", json!({ "rooms": ["r"] }))
        .emit("b", "join", json!({ "rooms": ["r"] }))
        .emit("c", "fetch", json!({ "to": ["r"] }))
        .emit(
            "c",
            "sockets-join",
            json!({ "to": ["r"], "rooms": ["s1", "s2"] }),
        )
        .emit("c", "fetch", json!({ "to": ["s2"] }))
        .emit(
            "c",
            "io-emit",
            json!({ "to": ["s1"], "event": "m", "data": 1 }),
        )
        .expect("m", &["a", "b"])
        .emit(
            "c",
            "sockets-leave",
            json!({ "to": ["r"], "rooms": ["s1"] }),
        )
        .emit("c", "fetch", json!({ "to": ["s1"] }))
        .emit("c", "rooms", json!({}))
        .emit("c", "disconnect-sockets", json!({ "to": ["r"] }))
        .step(json!({ "expect_disconnect": ["a", "b"] }))
        // `gone` comes from recv_disconnect, and the socket leaves the namespace right after,
        // before the actor yields: the fetch below cannot see them any more.
        .expect("gone", &["c", "c"])
        .emit(
            "c",
            "disconnect-sockets",
            json!({ "to": ["@d"], "close": true }),
        )
        .step(json!({ "expect_disconnect": "d" }))
        .expect("gone", &["c"])
        .emit("c", "fetch", json!({}))
        .nothing(&["a", "b", "c", "d"]);
    let out = server.run(script).await;
    let info = |id: &str, rooms: &[&str], auth: Value| {
        let mut all = vec![id];
        all.extend(rooms);
        json!({ "ns": "/", "rooms": all, "auth": auth, "eio4": true })
    };
    let gone = |id: &str, rooms: &[&str]| {
        let mut all = vec![id];
        all.extend(rooms);
        let reason = "server namespace disconnect";
        event(
            "gone",
            "c",
            json!([{ "id": id, "ns": "/", "reason": reason, "rooms": all }]),
        )
    };
    let (mut gone_lines, lines): (Vec<Value>, Vec<Value>) = without_true_acks(&out)
        .into_iter()
        .partition(|l| l["event"] == "gone");
    // a and b leave concurrently.
    gone_lines[..2].sort_by_key(|l| l["args"][0]["id"].to_string());
    assert_eq!(
        gone_lines,
        [
            gone("@a", &["r", "s2"]),
            gone("@b", &["r", "s2"]),
            gone("@d", &[])
        ]
    );
    assert_eq!(
        lines,
        [
            ack("c", "join", rooms(&["@c", "watchers"])),
            ack("a", "join", rooms(&["@a", "r"])),
            ack("b", "join", rooms(&["@b", "r"])),
            ack(
                "c",
                "fetch",
                json!({ "@a": info("@a", &["r"], json!({ "user": "A" })), "@b": info("@b", &["r"], json!({ "user": "B" })) })
            ),
            ack(
                "c",
                "fetch",
                json!({
                    "@a": info("@a", &["r", "s1", "s2"], json!({ "user": "A" })),
                    "@b": info("@b", &["r", "s1", "s2"], json!({ "user": "B" })),
                })
            ),
            event("m", "a", json!([1])),
            event("m", "b", json!([1])),
            ack("c", "fetch", json!({})),
            ack("c", "rooms", rooms(&["@c", "watchers"])),
            json!({ "disconnected": "a", "reason": "io server disconnect" }),
            json!({ "disconnected": "b", "reason": "io server disconnect" }),
            json!({ "disconnected": "d", "reason": "transport close" }),
            ack(
                "c",
                "fetch",
                json!({ "@c": info("@c", &["watchers"], Value::Null) })
            ),
            json!({ "nothing": ["a", "b", "c", "d"] }),
        ]
    );
    let reasons: Vec<String> = log
        .entries()
        .iter()
        .filter_map(|e| e["disconnect"]["reason"].as_str().map(str::to_owned))
        .collect();
    // a, b and d; c disconnects when the script ends.
    assert!(reasons.len() >= 3, "{reasons:?}");
    assert!(
        reasons[..3]
            .iter()
            .all(|r| r == "server namespace disconnect"),
        "{reasons:?}"
    );
}

/// A namespace pattern: each path is its own namespace with its own sockets and rooms; the
/// parameter reaches handlers.
async fn dynamic_namespaces(mix: Mix) {
    let (server, _) = start().await;
    let script = Script::new(mix)
        .connect_all(&["a", "b"], "/game/1")
        .connect("c", "/game/2")
        .expect("welcome", &["a", "b", "c"])
        .emit("a", "where", json!({}))
        .emit("c", "where", json!({}))
        .emit("a", "cx-emit", json!({ "event": "m", "data": 1 }))
        .emit(
            "a",
            "io-emit",
            json!({ "ns": "/game/2", "event": "m", "data": 2 }),
        )
        .emit("c", "join", json!({ "rooms": ["r"] }))
        .emit(
            "a",
            "io-emit",
            json!({ "to": ["r"], "event": "m", "data": 3 }),
        )
        .emit("c", "io-emit", json!({ "ns": "/game/1", "event": "mark" }))
        .emit("c", "io-emit", json!({ "ns": "/game/2", "event": "mark" }))
        .expect("m", &["b", "c"])
        .expect("mark", &["a", "b", "c"])
        .nothing(&["a", "b", "c"]);
    let out = server.run(script).await;
    assert_eq!(
        without_true_acks(&out),
        [
            event("welcome", "a", json!(["1"])),
            event("welcome", "b", json!(["1"])),
            event("welcome", "c", json!(["2"])),
            ack("a", "where", json!({ "ns": "/game/1", "id": "1" })),
            ack("c", "where", json!({ "ns": "/game/2", "id": "2" })),
            ack("c", "join", rooms(&["@c", "r"])),
            event("m", "b", json!([1])),
            event("m", "c", json!([2])),
            event("mark", "a", json!([null])),
            event("mark", "b", json!([null])),
            event("mark", "c", json!([null])),
            json!({ "nothing": ["a", "b", "c"] }),
        ]
    );
}

/// Several namespaces on one Engine.IO connection: separate sockets, rooms and broadcasts.
async fn several_namespaces_one_connection(mix: Mix) {
    let (server, _) = start().await;
    let script = Script::new(mix)
        .connect("a", "/")
        .connect_with("a7", "/game/7", json!({ "same_as": "a" }))
        .connect_with("ao", "/other", json!({ "same_as": "a" }))
        .connect("b", "/")
        .connect_with("b7", "/game/7", json!({ "same_as": "b" }))
        .expect("welcome", &["a7", "b7"])
        .emit("a", "join", json!({ "rooms": ["r"] }))
        .emit("a7", "rooms", json!({}))
        .emit("ao", "join", json!({ "rooms": ["r"] }))
        .emit("b7", "join", json!({ "rooms": ["r"] }))
        .emit(
            "a",
            "io-emit",
            json!({ "ns": "/game/7", "to": ["r"], "event": "m", "data": 1 }),
        )
        .emit("a7", "cx-emit", json!({ "event": "m", "data": 2 }))
        .emit(
            "b",
            "cx-emit",
            json!({ "to": ["r"], "event": "m", "data": 3 }),
        )
        .emit(
            "b",
            "io-emit",
            json!({ "ns": "/other", "event": "m", "data": 4 }),
        )
        .expect("m", &["b7", "b7", "a", "ao"])
        .emit("b", "io-emit", json!({ "ns": "/", "event": "mark" }))
        .expect("mark", &["a", "b"])
        .nothing(&["a", "a7", "ao", "b", "b7"]);
    let out = server.run(script).await;
    assert_eq!(out.engines["a"], out.engines["a7"]);
    assert_eq!(out.engines["a"], out.engines["ao"]);
    assert_eq!(out.engines["b"], out.engines["b7"]);
    assert_ne!(out.engines["a"], out.engines["b"]);
    assert_eq!(
        without_true_acks(&out),
        [
            event("welcome", "a7", json!(["7"])),
            event("welcome", "b7", json!(["7"])),
            ack("a", "join", rooms(&["@a", "r"])),
            ack("a7", "rooms", rooms(&["@a7"])),
            ack("ao", "join", rooms(&["@ao", "r"])),
            ack("b7", "join", rooms(&["@b7", "r"])),
            event("m", "b7", json!([1])),
            event("m", "b7", json!([2])),
            event("m", "a", json!([3])),
            event("m", "ao", json!([4])),
            event("mark", "a", json!([null])),
            event("mark", "b", json!([null])),
            json!({ "nothing": ["a", "a7", "ao", "b", "b7"] }),
        ]
    );
}

/// Connect middlewares (global, and per namespace pattern) refuse with CONNECT_ERROR
/// `{"message", "data"}` before `recv_connect` runs.
async fn middleware_refusal(mix: Mix) {
    let log = Arc::new(Log::default());
    let builder = builder(&log)
        .middleware(|hs: Handshake| async move {
            let auth: Value = hs.auth().unwrap_or(Value::Null);
            if auth["token"] == "bad" {
                return Err(ConnectError::new("forbidden").with_data(json!({ "code": 4003 })));
            }
            Ok(())
        })
        .namespace_middleware("/game/{id}", |hs: Handshake| async move {
            match hs.param("id") {
                Some("0") => Err(ConnectError::new("no such game").with_data(json!({ "id": "0" }))),
                _ => Ok(()),
            }
        });
    let server = TestServer::start(builder).await;
    let script = Script::new(mix)
        .connect_with(
            "x",
            "/",
            json!({ "auth": { "token": "bad" }, "expect_error": true }),
        )
        .connect_with("y", "/game/0", json!({ "expect_error": true }))
        .connect_with("z", "/", json!({ "auth": { "token": "good" } }))
        .connect_with("z5", "/game/5", json!({ "same_as": "z" }))
        .connect_with(
            "zx",
            "/game/6",
            json!({ "same_as": "z", "auth": { "token": "bad" }, "expect_error": true }),
        )
        .expect("welcome", &["z5"])
        .emit("z5", "where", json!({}));
    let out = server.run(script).await;
    assert_eq!(
        out.lines,
        [
            json!({ "connect_error": "x", "message": "forbidden", "data": { "code": 4003 } }),
            json!({ "connect_error": "y", "message": "no such game", "data": { "id": "0" } }),
            json!({ "connect_error": "zx", "message": "forbidden", "data": { "code": 4003 } }),
            event("welcome", "z5", json!(["5"])),
            ack("z5", "where", json!({ "ns": "/game/5", "id": "5" })),
        ]
    );
    let connects: Vec<Value> = log
        .entries()
        .into_iter()
        .filter(|e| e.get("connect").is_some())
        .map(|e| e["connect"].clone())
        .collect();
    assert_eq!(
        connects,
        [json!("/"), json!("/game/5")],
        "recv_connect ran for refused sockets"
    );
}

/// `Io::close()`: every socket's `recv_disconnect` runs with the shutdown reason, the clients'
/// transports close, then the future completes; the serve loop stops accepting.
async fn close_server(mix: Mix) {
    let (server, log) = start().await;
    let all = ["a", "b", "c", "d"];
    let script = Script::new(mix)
        .connect_all(&all, "/")
        .connect_with("d1", "/game/1", json!({ "same_as": "d" }))
        .emit("a", "join", json!({ "rooms": ["r"] }))
        // Without an ack: socket.io-client dispatches packets on the next tick but handles the
        // Engine.IO close at once, so an ack arriving with the close packet in one polling
        // payload would be rejected as "socket has been disconnected".
        .step(json!({ "emit": "close-server", "by": "a", "args": [{}], "no_ack": true }))
        .step(json!({ "expect_disconnect": ["a", "b", "c", "d", "d1"] }));
    let out = server.run(script).await;
    let reasons: Vec<Value> = out
        .lines
        .iter()
        .filter(|l| l.get("disconnected").is_some())
        .map(|l| l["reason"].clone())
        .collect();
    assert_eq!(reasons.len(), 5);
    assert!(
        reasons.iter().all(|r| r == "transport close"),
        "{reasons:?}"
    );

    let ended = tokio::time::timeout(Duration::from_secs(5), server.serving).await;
    assert!(
        matches!(ended, Ok(Ok(Ok(())))),
        "the serve loop did not end: {ended:?}"
    );
    assert!(
        std::net::TcpStream::connect(("127.0.0.1", server.port)).is_err(),
        "still accepting after close()"
    );
    // close() completed after every recv_disconnect.
    let deadline = tokio::time::Instant::now() + Duration::from_secs(5);
    while !log.entries().contains(&json!("closed")) {
        assert!(
            tokio::time::Instant::now() < deadline,
            "close() did not complete"
        );
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    let entries = log.entries();
    let disconnects: Vec<&Value> = entries.iter().filter_map(|e| e.get("disconnect")).collect();
    assert_eq!(disconnects.len(), 5, "{entries:#?}");
    assert!(
        disconnects
            .iter()
            .all(|d| d["reason"] == "server shutting down"),
        "{entries:#?}"
    );
    assert_eq!(entries.last(), Some(&json!("closed")), "{entries:#?}");
    // The static namespaces remain; the dynamic /game/1 went with its last socket.
    let mut namespaces = server.io.namespaces();
    namespaces.sort();
    assert_eq!(namespaces.len(), 2, "{namespaces:?}");
    assert!(
        !namespaces.contains(&"/game/1".to_owned()),
        "{namespaces:?}"
    );
    assert!(server.io.fetch_sockets().await.unwrap().is_empty());
}

/// The server handle from a task outside any handler: waits for the clients through
/// fetch_sockets, then emits to the namespace and to a room.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn server_handle_from_outside() {
    let (server, _) = start().await;
    let io = server.io.clone();
    let task = tokio::spawn(async move {
        loop {
            let in_room = io.within("r").fetch_sockets().await.unwrap();
            if in_room.len() == 2 {
                break;
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        io.to("r").emit("ext", "room").await.unwrap();
        io.emit("ext", "all").await.unwrap();
        io.of("/game/3").unwrap().emit("ext", "game").await.unwrap();
        assert!(io.of("/nope").is_none());
    });
    let script = Script::new(Mix::Mixed)
        .connect_all(&["a", "b", "c"], "/")
        .connect("g", "/game/3")
        .expect("welcome", &["g"])
        .emit("a", "join", json!({ "rooms": ["r"] }))
        .emit("b", "join", json!({ "rooms": ["r"] }))
        .expect("ext", &["a", "b", "a", "b", "c", "g"])
        .nothing(&["a", "b", "c", "g"]);
    let out = server.run(script).await;
    tokio::time::timeout(Duration::from_secs(5), task)
        .await
        .unwrap()
        .unwrap();
    let got: Vec<Value> = out
        .lines
        .iter()
        .filter(|l| l["event"] == "ext")
        .map(|l| json!([l["by"], l["args"][0]]))
        .collect();
    assert_eq!(
        Value::Array(got),
        json!([
            ["a", "room"],
            ["b", "room"],
            ["a", "all"],
            ["b", "all"],
            ["c", "all"],
            ["g", "game"]
        ])
    );
}
