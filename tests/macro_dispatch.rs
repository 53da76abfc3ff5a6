//! `#[namespace]` namespaces driven through the real server by a minimal Socket.IO client
//! written here (Engine.IO v4 over WebSocket, packets spelled out by hand), so that each test
//! shows the exact frames a handler produces: acks from return values, error replies, the ACL,
//! the fallback, `message` routing, binary arguments and returns, connect refusal,
//! `recv_disconnect`, and a panicking handler.

use std::time::Duration;

use futures_util::{SinkExt, StreamExt};
use serde::Deserialize;
use serde_json::{Value, json};
use socketio_ns::{
    Bytes, ConnectError, Context, DisconnectReason, Event, HandlerError, Server, namespace,
};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::mpsc;
use tokio_tungstenite::WebSocketStream;
use tokio_tungstenite::tungstenite::Message;

// ---------------------------------------------------------------------------------------------
// Namespaces under test

/// Where `recv_disconnect` reports, through the builder's state.
struct Reports(mpsc::UnboundedSender<String>);

#[derive(Deserialize)]
struct Auth {
    token: String,
}

#[derive(Default)]
struct Chat {
    nick: Option<String>,
}

#[namespace("/chat", acl = [on_login, recv_message, recv_json, on_lock_state])]
impl Chat {
    async fn recv_connect(
        &mut self,
        _cx: &mut Context<Self>,
        auth: Option<Auth>,
    ) -> Result<(), ConnectError> {
        match auth {
            Some(a) if a.token == "secret" => Ok(()),
            Some(a) => Err(ConnectError::new("bad token").with_data(json!({ "token": a.token }))),
            None => Err(ConnectError::new("no auth")),
        }
    }

    async fn on_login(
        &mut self,
        cx: &mut Context<Self>,
        nick: String,
    ) -> Result<String, HandlerError> {
        if nick.is_empty() {
            return Err(HandlerError::new("bad_nick", "empty nick"));
        }
        let greeting = format!("welcome {nick}");
        self.nick = Some(nick);
        cx.lift_acl_restrictions();
        Ok(greeting)
    }

    fn on_lock_state(&mut self, cx: &mut Context<Self>) -> (bool, bool) {
        (
            cx.is_method_allowed(ChatMethod::on_add),
            cx.is_method_allowed(ChatMethod::on_login),
        )
    }

    fn on_relock(&mut self, cx: &mut Context<Self>) {
        cx.reset_acl();
    }

    fn on_add(&mut self, _cx: &mut Context<Self>, a: i64, b: i64) -> i64 {
        a + b
    }

    async fn on_fail(&mut self, _cx: &mut Context<Self>) -> Result<(), std::io::Error> {
        Err(std::io::Error::other("disk on fire"))
    }

    #[event("chat message")]
    fn on_chat_message(&mut self, _cx: &mut Context<Self>, text: String) -> (String, usize) {
        (
            format!("{}: {text}", self.nick.as_deref().unwrap_or("?")),
            text.len(),
        )
    }

    fn on_optional(&mut self, _cx: &mut Context<Self>, a: Option<String>) -> Option<String> {
        a
    }

    async fn on_upload(
        &mut self,
        _cx: &mut Context<Self>,
        name: String,
        data: Bytes,
    ) -> (String, Vec<u8>) {
        (name, data.to_vec())
    }

    fn on_echo_bytes(&mut self, _cx: &mut Context<Self>, data: Bytes) -> Bytes {
        data
    }

    fn recv_message(&mut self, _cx: &mut Context<Self>, message: String) -> String {
        format!("message:{message}")
    }

    fn recv_json(&mut self, _cx: &mut Context<Self>, value: Value) -> Value {
        json!({ "json": value })
    }

    fn recv_error(&mut self, cx: &mut Context<Self>, name: String) {
        cx.emit("error-seen", name);
    }

    fn on_panic(&mut self, _cx: &mut Context<Self>) {
        panic!("handler exploded");
    }

    async fn recv_disconnect(&mut self, cx: &mut Context<Self>, reason: DisconnectReason) {
        if let Some(r) = cx.try_state::<Reports>() {
            let _ = r.0.send(format!("/chat {reason}"));
        }
    }
}

/// No ACL, a fallback, no `recv_connect`; registered through `registered_namespaces()`.
#[derive(Default)]
struct Open;

#[namespace("/open")]
impl Open {
    fn on_known(&mut self, _cx: &mut Context<Self>) -> &'static str {
        "known"
    }

    #[fallback]
    async fn other(&mut self, _cx: &mut Context<Self>, event: Event) -> Value {
        json!({ "fallback": event.name(), "args": event.len() })
    }
}

/// Overrides of the low-level methods, calling the defaults; the ACL from `get_initial_acl`.
#[derive(Default)]
struct Low {
    packets: u32,
}

#[namespace("/low")]
impl Low {
    fn get_initial_acl(&self) -> Option<Vec<LowMethod>> {
        Some(vec![
            LowMethod::on_count,
            LowMethod::on_ping,
            LowMethod::on_secret,
        ])
    }

    fn on_ping(&mut self, _cx: &mut Context<Self>) -> &'static str {
        "pong"
    }

    fn on_count(&mut self, _cx: &mut Context<Self>) -> u32 {
        self.packets
    }

    fn on_locked(&mut self, _cx: &mut Context<Self>) {}

    // Allowed, but `call_method` answers before the generated dispatch runs it. (Without a
    // handler, the restricted ACL would refuse `secret` before `call_method`, as gevent did.)
    fn on_secret(&mut self, _cx: &mut Context<Self>) {}

    async fn process_packet(&mut self, cx: &mut Context<Self>, event: Event) {
        self.packets += 1;
        socketio_ns::default_process_packet(self, cx, event).await;
    }

    async fn call_method(
        &mut self,
        cx: &mut Context<Self>,
        event: Event,
    ) -> Result<(), HandlerError> {
        if event.name() == "secret" {
            return Err(HandlerError::new("hidden", "intercepted by call_method"));
        }
        socketio_ns::default_call_method(self, cx, event).await
    }
}

/// A `call_method_with_acl` that lets one event past the ACL by calling `call_method`
/// directly, and a `call_method` that answers some events itself; registered through
/// `registered_namespaces()`.
#[derive(Default)]
struct Bypass;

#[namespace("/bypass", acl = [on_a])]
impl Bypass {
    fn on_a(&mut self, _cx: &mut Context<Self>) -> &'static str {
        "a"
    }

    fn on_b(&mut self, _cx: &mut Context<Self>) -> &'static str {
        "b"
    }

    async fn call_method_with_acl(
        &mut self,
        cx: &mut Context<Self>,
        event: Event,
    ) -> Result<(), HandlerError> {
        if event.name() == "b" {
            return self.call_method(cx, event).await;
        }
        socketio_ns::default_call_method_with_acl(self, cx, event).await
    }

    async fn call_method(
        &mut self,
        cx: &mut Context<Self>,
        event: Event,
    ) -> Result<(), HandlerError> {
        if !event.is_empty() {
            return Err(HandlerError::new("intercepted", "no arguments here"));
        }
        socketio_ns::default_call_method(self, cx, event).await
    }
}

/// A word kept in the connection's session.
#[derive(Clone)]
struct Word(String);

/// What a handler can learn of its socket and connection; registered through
/// `registered_namespaces()`.
#[derive(Default)]
struct Whoami;

fn whoami<T: socketio_ns::Namespace>(cx: &Context<T>) -> Value {
    let hs = cx.handshake();
    json!({
        "id": cx.id(),
        "engine": hs.engine_id(),
        "ns": cx.namespace(),
        "host": hs.headers().get("host").and_then(|h| h.to_str().ok()),
        "eio": hs.query_param("EIO"),
        "auth": hs.auth::<Value>().ok(),
        "loopback": hs.remote_addr().map(|a| a.ip().is_loopback()),
    })
}

#[namespace("/whoami")]
impl Whoami {
    fn on_whoami(&mut self, cx: &mut Context<Self>) -> Value {
        whoami(cx)
    }

    fn on_remember(&mut self, cx: &mut Context<Self>, word: String) -> bool {
        cx.session().insert(Word(word)).is_none()
    }
}

/// A second namespace on the same connection, reading the session the first one wrote.
#[derive(Default)]
struct Recall;

#[namespace("/recall")]
impl Recall {
    fn on_whoami(&mut self, cx: &mut Context<Self>) -> Value {
        whoami(cx)
    }

    fn on_recall(&mut self, cx: &mut Context<Self>) -> Option<String> {
        cx.session().get::<Word>().map(|w| w.0)
    }
}

// ---------------------------------------------------------------------------------------------
// Server and client

async fn server() -> (String, mpsc::UnboundedReceiver<String>) {
    let (tx, rx) = mpsc::unbounded_channel();
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap().to_string();
    let io = Server::builder()
        .state(Reports(tx))
        .namespace::<Chat>()
        .namespace::<Low>()
        .registered_namespaces()
        .build();
    tokio::spawn(io.serve_listener(listener));
    (addr, rx)
}

const TIMEOUT: Duration = Duration::from_secs(5);

/// One Engine.IO connection over WebSocket. `recv` yields Socket.IO packets (the Engine.IO
/// `4` stripped) and binary frames, answering pings on the way.
struct Client {
    ws: WebSocketStream<TcpStream>,
}

#[derive(Debug, PartialEq)]
enum Frame {
    Text(String),
    Binary(Vec<u8>),
    Closed,
}

impl Client {
    async fn open(addr: &str) -> Client {
        let stream = TcpStream::connect(addr).await.unwrap();
        let url = format!("ws://{addr}/socket.io/?EIO=4&transport=websocket");
        let (ws, _) = tokio_tungstenite::client_async(url, stream).await.unwrap();
        let mut c = Client { ws };
        match c.next_raw().await {
            Frame::Text(t) if t.starts_with("0{") => {}
            other => panic!("expected the Engine.IO handshake, got {other:?}"),
        }
        c
    }

    /// Opens a connection and joins `nsp` with `auth`, returning the CONNECT reply.
    async fn join(addr: &str, nsp: &str, auth: Option<Value>) -> (Client, String) {
        let mut c = Client::open(addr).await;
        let auth = auth.map(|a| a.to_string()).unwrap_or_default();
        c.send(&format!("0{nsp},{auth}")).await;
        let reply = c.recv_text().await;
        (c, reply)
    }

    async fn next_raw(&mut self) -> Frame {
        loop {
            let msg = tokio::time::timeout(TIMEOUT, self.ws.next())
                .await
                .expect("the server answers in time");
            match msg {
                Some(Ok(Message::Text(t))) => return Frame::Text(t.to_string()),
                Some(Ok(Message::Binary(b))) => return Frame::Binary(b.to_vec()),
                Some(Ok(Message::Close(_))) | None | Some(Err(_)) => return Frame::Closed,
                Some(Ok(_)) => {}
            }
        }
    }

    /// The next Socket.IO packet or attachment.
    async fn recv(&mut self) -> Frame {
        loop {
            match self.next_raw().await {
                Frame::Text(t) if t == "2" => self.ws.send(Message::text("3")).await.unwrap(),
                Frame::Text(t) => {
                    let packet = t
                        .strip_prefix('4')
                        .unwrap_or_else(|| panic!("not a message: {t}"));
                    return Frame::Text(packet.to_owned());
                }
                other => return other,
            }
        }
    }

    async fn recv_text(&mut self) -> String {
        match self.recv().await {
            Frame::Text(t) => t,
            other => panic!("expected a packet, got {other:?}"),
        }
    }

    /// Sends a Socket.IO packet (the Engine.IO `4` is added).
    async fn send(&mut self, packet: &str) {
        self.ws
            .send(Message::text(format!("4{packet}")))
            .await
            .unwrap();
    }

    async fn send_binary(&mut self, data: &[u8]) {
        self.ws.send(Message::binary(data.to_vec())).await.unwrap();
    }

    /// Emits `[name, args...]` on `/chat` with ack id `id` and returns the ack's arguments.
    async fn call(&mut self, nsp: &str, id: u32, event: Value) -> Value {
        self.send(&format!("2{nsp},{id}{event}")).await;
        let reply = self.recv_text().await;
        let prefix = format!("3{nsp},{id}");
        let args = reply
            .strip_prefix(&prefix)
            .unwrap_or_else(|| panic!("expected the ack {prefix}.., got {reply}"));
        serde_json::from_str(args).unwrap()
    }
}

async fn logged_in(addr: &str) -> Client {
    let (mut c, reply) = Client::join(addr, "/chat", Some(json!({ "token": "secret" }))).await;
    assert!(reply.starts_with("0/chat,{\"sid\":"), "{reply}");
    assert_eq!(
        c.call("/chat", 1, json!(["login", "ann"])).await,
        json!(["welcome ann"])
    );
    c
}

fn error_ack(name: &str) -> impl Fn(&Value) -> bool + '_ {
    move |v| v[0]["error"] == name && v[0]["message"].is_string()
}

// ---------------------------------------------------------------------------------------------
// Tests

#[tokio::test]
async fn return_values_are_acks() {
    let (addr, _) = server().await;
    let mut c = logged_in(&addr).await;
    assert_eq!(c.call("/chat", 2, json!(["add", 2, 3])).await, json!([5]));
    // A tuple is several arguments; `#[event]` names the event.
    assert_eq!(
        c.call("/chat", 3, json!(["chat message", "hi"])).await,
        json!(["ann: hi", 2])
    );
    // A missing argument decodes as null: `Option` parameters may be left out.
    assert_eq!(c.call("/chat", 4, json!(["optional"])).await, json!([null]));
    assert_eq!(
        c.call("/chat", 5, json!(["optional", "x"])).await,
        json!(["x"])
    );
    // `()` acks with no arguments.
    assert_eq!(c.call("/chat", 6, json!(["relock"])).await, json!([]));
    // Extra arguments are ignored.
    assert_eq!(
        c.call("/chat", 7, json!(["login", "bob", 1, 2])).await,
        json!(["welcome bob"])
    );
}

#[tokio::test]
async fn no_ack_asked_no_ack_sent() {
    let (addr, _) = server().await;
    let mut c = logged_in(&addr).await;
    c.send(r#"2/chat,["add",1,1]"#).await;
    // The next thing the client hears is the answer to the next call, not an ack of the first.
    assert_eq!(c.call("/chat", 2, json!(["add", 2, 2])).await, json!([4]));
}

#[tokio::test]
async fn result_errors_answer_the_ack_or_emit_error() {
    let (addr, _) = server().await;
    let (mut c, _) = Client::join(&addr, "/chat", Some(json!({ "token": "secret" }))).await;
    // A `HandlerError` keeps its name.
    let v = c.call("/chat", 1, json!(["login", ""])).await;
    assert_eq!(v, json!([{ "error": "bad_nick", "message": "empty nick" }]));
    // Without an ack, the error is an `error` event.
    c.send(r#"2/chat,["login",""]"#).await;
    assert_eq!(
        c.recv_text().await,
        r#"2/chat,["error","bad_nick","empty nick"]"#
    );
    // Any std error is a `handler_error`.
    assert_eq!(
        c.call("/chat", 2, json!(["login", "ann"])).await,
        json!(["welcome ann"])
    );
    let v = c.call("/chat", 3, json!(["fail"])).await;
    assert_eq!(
        v,
        json!([{ "error": "handler_error", "message": "disk on fire" }])
    );
}

#[tokio::test]
async fn arguments_that_do_not_decode_run_nothing() {
    let (addr, _) = server().await;
    let mut c = logged_in(&addr).await;
    let v = c.call("/chat", 2, json!(["add", "two", 3])).await;
    assert!(error_ack("invalid_arguments")(&v), "{v}");
    assert!(
        v[0]["message"].as_str().unwrap().starts_with("argument 0:"),
        "{v}"
    );
    // A missing non-optional argument decodes as null, which is refused.
    let v = c.call("/chat", 3, json!(["add", 1])).await;
    assert!(error_ack("invalid_arguments")(&v), "{v}");
    assert!(
        v[0]["message"].as_str().unwrap().starts_with("argument 1:"),
        "{v}"
    );
    // Nothing ran: the nick is still ann.
    assert_eq!(
        c.call("/chat", 4, json!(["login", 42])).await[0]["error"],
        "invalid_arguments"
    );
    assert_eq!(
        c.call("/chat", 5, json!(["chat message", "x"])).await,
        json!(["ann: x", 1])
    );
}

#[tokio::test]
async fn unknown_events_without_fallback() {
    let (addr, _) = server().await;
    let mut c = logged_in(&addr).await;
    let v = c.call("/chat", 2, json!(["nope", 1])).await;
    assert_eq!(
        v,
        json!([{ "error": "no_such_method", "message": "no handler for event `nope`" }])
    );
}

#[tokio::test]
async fn the_acl_refuses_until_a_handler_lifts_it() {
    let (addr, _) = server().await;
    let (mut c, _) = Client::join(&addr, "/chat", Some(json!({ "token": "secret" }))).await;
    let v = c.call("/chat", 1, json!(["add", 1, 2])).await;
    assert_eq!(
        v,
        json!([{ "error": "method_access_denied", "message": "add is not allowed" }])
    );
    // Without an ack: an `error` event.
    c.send(r#"2/chat,["add",1,2]"#).await;
    assert_eq!(
        c.recv_text().await,
        r#"2/chat,["error","method_access_denied","add is not allowed"]"#
    );
    // Generated identifiers reach the ACL from handlers.
    assert_eq!(
        c.call("/chat", 2, json!(["lock_state"])).await,
        json!([false, true])
    );
    assert_eq!(
        c.call("/chat", 3, json!(["login", "ann"])).await,
        json!(["welcome ann"])
    );
    assert_eq!(c.call("/chat", 4, json!(["add", 1, 2])).await, json!([3]));
    assert_eq!(
        c.call("/chat", 5, json!(["lock_state"])).await,
        json!([true, true])
    );
    // `reset_acl` returns to `acl = [...]`.
    assert_eq!(c.call("/chat", 6, json!(["relock"])).await, json!([]));
    assert_eq!(
        c.call("/chat", 7, json!(["add", 1, 2])).await[0]["error"],
        "method_access_denied"
    );
}

#[tokio::test]
async fn message_goes_to_recv_message_or_recv_json() {
    let (addr, _) = server().await;
    let (mut c, _) = Client::join(&addr, "/chat", Some(json!({ "token": "secret" }))).await;
    // Both are in the initial ACL.
    assert_eq!(
        c.call("/chat", 1, json!(["message", "hi"])).await,
        json!(["message:hi"])
    );
    assert_eq!(
        c.call("/chat", 2, json!(["message", { "a": 1 }])).await,
        json!([{ "json": { "a": 1 } }])
    );
    assert_eq!(
        c.call("/chat", 3, json!(["message", 7])).await,
        json!([{ "json": 7 }])
    );
    // `error` from the client goes to `recv_error`, which the ACL governs too.
    let v = c.call("/chat", 4, json!(["error", "oops"])).await;
    assert_eq!(v[0]["error"], "method_access_denied");
    c.call("/chat", 5, json!(["login", "ann"])).await;
    c.send(r#"2/chat,["error","oops"]"#).await;
    assert_eq!(c.recv_text().await, r#"2/chat,["error-seen","oops"]"#);
}

#[tokio::test]
async fn fallback_takes_unknown_events() {
    let (addr, _) = server().await;
    let (mut c, reply) = Client::join(&addr, "/open", None).await;
    assert!(reply.starts_with("0/open,{\"sid\":"), "{reply}");
    assert_eq!(c.call("/open", 1, json!(["known"])).await, json!(["known"]));
    assert_eq!(
        c.call("/open", 2, json!(["whatever", 1, 2])).await,
        json!([{ "fallback": "whatever", "args": 2 }])
    );
}

#[tokio::test]
async fn binary_arguments_and_returns() {
    let (addr, _) = server().await;
    let mut c = logged_in(&addr).await;
    c.send(r#"51-/chat,2["upload","f.bin",{"_placeholder":true,"num":0}]"#)
        .await;
    c.send_binary(&[1, 2, 3]).await;
    assert_eq!(c.recv_text().await, r#"3/chat,2["f.bin",[1,2,3]]"#);

    c.send(r#"51-/chat,3["echo_bytes",{"_placeholder":true,"num":0}]"#)
        .await;
    c.send_binary(&[9, 8]).await;
    assert_eq!(
        c.recv_text().await,
        r#"61-/chat,3[{"_placeholder":true,"num":0}]"#
    );
    assert_eq!(c.recv().await, Frame::Binary(vec![9, 8]));
}

#[tokio::test]
async fn recv_connect_refuses_with_connect_error() {
    let (addr, _) = server().await;
    let (_, reply) = Client::join(&addr, "/chat", Some(json!({ "token": "guess" }))).await;
    assert_eq!(
        reply,
        r#"4/chat,{"message":"bad token","data":{"token":"guess"}}"#
    );
    let (_, reply) = Client::join(&addr, "/chat", None).await;
    assert_eq!(reply, r#"4/chat,{"message":"no auth"}"#);
    // An auth payload that does not decode into the parameter's type.
    let (_, reply) = Client::join(&addr, "/chat", Some(json!({ "token": 5 }))).await;
    assert!(
        reply.starts_with(r#"4/chat,{"message":"invalid auth payload","data":"#),
        "{reply}"
    );
}

#[tokio::test]
async fn recv_disconnect_runs_with_the_reason() {
    let (addr, mut reports) = server().await;
    let mut c = logged_in(&addr).await;
    c.send("1/chat,").await;
    let r = tokio::time::timeout(TIMEOUT, reports.recv()).await.unwrap();
    assert_eq!(r.as_deref(), Some("/chat client namespace disconnect"));

    let c = logged_in(&addr).await;
    drop(c);
    let r = tokio::time::timeout(TIMEOUT, reports.recv()).await.unwrap();
    assert_eq!(r.as_deref(), Some("/chat transport close"));
}

#[tokio::test]
async fn a_panicking_handler_drops_the_socket_and_the_server_goes_on() {
    let (addr, mut reports) = server().await;
    let mut c = logged_in(&addr).await;
    let v = c.call("/chat", 2, json!(["panic"])).await;
    assert!(error_ack("handler_error")(&v), "{v}");
    assert_eq!(c.recv_text().await, "1/chat,");
    let r = tokio::time::timeout(TIMEOUT, reports.recv()).await.unwrap();
    assert_eq!(r.as_deref(), Some("/chat handler panic"));
    // The server keeps serving.
    let mut d = logged_in(&addr).await;
    assert_eq!(
        d.call("/chat", 2, json!(["add", 20, 22])).await,
        json!([42])
    );
}

#[tokio::test]
async fn overrides_wrap_the_defaults() {
    let (addr, _) = server().await;
    let (mut c, reply) = Client::join(&addr, "/low", None).await;
    assert!(reply.starts_with("0/low,{\"sid\":"), "{reply}");
    assert_eq!(c.call("/low", 1, json!(["ping"])).await, json!(["pong"]));
    // `call_method` intercepts before the generated dispatch.
    let v = c.call("/low", 2, json!(["secret"])).await;
    assert_eq!(
        v,
        json!([{ "error": "hidden", "message": "intercepted by call_method" }])
    );
    // `get_initial_acl` left `locked` out.
    assert_eq!(
        c.call("/low", 3, json!(["locked"])).await[0]["error"],
        "method_access_denied"
    );
    // `process_packet` saw every packet, this one included.
    assert_eq!(c.call("/low", 4, json!(["count"])).await, json!([4]));
}

#[tokio::test]
async fn call_method_without_call_method_with_acl_looks_the_method_up_itself() {
    let (addr, _) = server().await;
    let (mut c, reply) = Client::join(&addr, "/bypass", None).await;
    assert!(reply.starts_with("0/bypass,{\"sid\":"), "{reply}");
    // Past the ACL, without `default_call_method_with_acl`.
    assert_eq!(c.call("/bypass", 1, json!(["b"])).await, json!(["b"]));
    // `default_call_method_with_acl` looks `on_a` up; `call_method` answers without using it.
    assert_eq!(
        c.call("/bypass", 2, json!(["a", 1])).await[0]["error"],
        "intercepted"
    );
    // What was looked up for the previous event does not carry over to this one.
    assert_eq!(c.call("/bypass", 3, json!(["b"])).await, json!(["b"]));
    assert_eq!(c.call("/bypass", 4, json!(["a"])).await, json!(["a"]));
}

#[test]
fn registered_namespaces_finds_the_generated_registrations() {
    let paths: Vec<&str> =
        socketio_ns::__private::inventory::iter::<socketio_ns::__private::Registration>
            .into_iter()
            .map(|r| r.path)
            .collect();
    for p in ["/chat", "/open", "/low", "/bypass"] {
        assert!(paths.contains(&p), "{p} not in {paths:?}");
    }
}

#[tokio::test]
async fn the_context_knows_its_ids_handshake_and_connection_session() {
    let (addr, _reports) = server().await;
    let (mut c, reply) = Client::join(&addr, "/whoami", Some(json!({ "k": 1 }))).await;
    let sid: Value = serde_json::from_str(reply.strip_prefix("0/whoami,").unwrap()).unwrap();
    c.send("0/recall,").await;
    assert!(c.recv_text().await.starts_with("0/recall,{\"sid\":"));

    let a = c.call("/whoami", 1, json!(["whoami"])).await[0].clone();
    let b = c.call("/recall", 2, json!(["whoami"])).await[0].clone();
    assert_eq!(
        a["id"], sid["sid"],
        "the id is the one the CONNECT reply gave"
    );
    assert_ne!(a["id"], b["id"], "each namespace has its own socket id");
    assert_ne!(
        a["id"], a["engine"],
        "the Socket.IO id is not the Engine.IO id"
    );
    assert_eq!(a["engine"], b["engine"], "one connection");
    assert_eq!(a["ns"], "/whoami");
    assert_eq!(a["host"], json!(addr));
    assert_eq!(a["eio"], "4");
    assert_eq!(a["auth"], json!({ "k": 1 }));
    assert_eq!(b["auth"], Value::Null, "auth is per namespace CONNECT");
    assert_eq!(a["loopback"], true);

    // The session is shared by the namespaces of one connection, and only by them.
    assert_eq!(c.call("/recall", 3, json!(["recall"])).await, json!([null]));
    assert_eq!(
        c.call("/whoami", 4, json!(["remember", "hello"])).await,
        json!([true])
    );
    assert_eq!(
        c.call("/recall", 5, json!(["recall"])).await,
        json!(["hello"])
    );
    let (mut other, _) = Client::join(&addr, "/recall", None).await;
    assert_eq!(
        other.call("/recall", 1, json!(["recall"])).await,
        json!([null])
    );
}
