//! What a gevent-socketio application ported to `#[namespace]` relies on (issue 12): event
//! names routed as gevent routed them, no silent traps, and the everyday API. Handlers run
//! over `socketio_ns::testing::TestSocket`, without a server, or through a real server and a
//! minimal WebSocket client written at the end of this file.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use futures_util::{SinkExt, StreamExt};
use socketio_ns::testing::TestSocket;
use socketio_ns::{Context, HandlerError, Server, namespace};
use tokio::net::{TcpListener, TcpStream};
use tokio_tungstenite::WebSocketStream;
use tokio_tungstenite::tungstenite::Message;

// ---------------------------------------------------------------------------------------------
// 1. `on_user_message` takes `user message`, as gevent's `name.replace(' ', '_')` routed it.

#[derive(Default)]
struct Chat;

#[namespace("/chat")]
impl Chat {
    fn on_user_message(&mut self, _cx: &mut Context<Self>, text: String) -> String {
        format!("user message: {text}")
    }

    #[event("nick name")]
    fn nick(&mut self, _cx: &mut Context<Self>, nick: String) -> String {
        format!("nick: {nick}")
    }

    fn on_add_to_cart(&mut self, _cx: &mut Context<Self>, item: String) -> String {
        format!("added {item}")
    }
}

async fn chat() -> TestSocket<Chat> {
    let mut t = TestSocket::new(Chat);
    t.connect(None).await.unwrap();
    t
}

#[tokio::test]
async fn an_on_name_takes_its_event_with_underscores_and_with_spaces() {
    let mut t = chat().await;
    t.event(r#"2/chat,1["user message","hi"]"#).await;
    t.event(r#"2/chat,2["user_message","ho"]"#).await;
    assert_eq!(
        t.sent(),
        [
            r#"43/chat,1["user message: hi"]"#,
            r#"43/chat,2["user message: ho"]"#
        ]
    );
}

#[tokio::test]
async fn an_on_name_takes_every_mix_of_underscores_and_spaces() {
    let mut t = chat().await;
    for (i, name) in ["add_to_cart", "add to cart", "add to_cart", "add_to cart"]
        .iter()
        .enumerate()
    {
        t.event(&format!(r#"2/chat,{i}["{name}","{name}"]"#)).await;
        assert_eq!(t.sent(), [format!(r#"43/chat,{i}["added {name}"]"#)]);
    }
    // Only `_` and single spaces in their places: other spellings are other events.
    for name in ["add  to_cart", "add-to cart", "add_to_cart ", "Add to cart"] {
        t.event(&format!(r#"2/chat,9["{name}"]"#)).await;
        let sent = t.sent();
        assert!(sent[0].contains("no_such_method"), "{name}: {sent:?}");
    }
}

#[tokio::test]
async fn an_explicit_event_name_is_taken_exactly() {
    let mut t = chat().await;
    t.event(r#"2/chat,1["nick name","ann"]"#).await;
    t.event(r#"2/chat,2["nick_name","bob"]"#).await;
    let sent = t.sent();
    assert_eq!(sent[0], r#"43/chat,1["nick: ann"]"#);
    assert!(sent[1].contains("no_such_method"), "{sent:?}");
}

// ---------------------------------------------------------------------------------------------
// 3. Under a closed ACL an unknown event is refused like a known one (gevent checked the ACL
//    first), so that handler names cannot be probed.

#[derive(Default)]
struct Guarded;

#[namespace("/guarded", acl = [on_login])]
impl Guarded {
    fn on_login(&mut self, cx: &mut Context<Self>) {
        cx.lift_acl_restrictions();
    }

    fn on_secret(&mut self, _cx: &mut Context<Self>) {}
}

#[tokio::test]
async fn under_a_closed_acl_an_unknown_event_is_refused_like_a_known_one() {
    let mut t = TestSocket::new(Guarded);
    t.connect(None).await.unwrap();
    t.event(r#"2/guarded,1["secret"]"#).await;
    t.event(r#"2/guarded,2["no such thing"]"#).await;
    assert_eq!(
        t.sent(),
        [
            r#"43/guarded,1[{"error":"method_access_denied","message":"secret is not allowed"}]"#,
            r#"43/guarded,2[{"error":"method_access_denied","message":"no such thing is not allowed"}]"#,
        ]
    );
    // Once the ACL is lifted, an unknown event is what it is.
    t.event(r#"2/guarded,3["login"]"#).await;
    t.event(r#"2/guarded,4["no such thing"]"#).await;
    let sent = t.sent();
    assert!(sent[1].contains(r#""error":"no_such_method""#), "{sent:?}");
}

// ---------------------------------------------------------------------------------------------
// 4. A refused connect leaves the rooms `initialize` and `recv_connect` joined.

#[derive(Default)]
struct Picky;

#[namespace("/picky")]
impl Picky {
    fn initialize(&mut self, cx: &mut Context<Self>) {
        cx.join("from initialize");
    }

    fn recv_connect(
        &mut self,
        cx: &mut Context<Self>,
        token: Option<String>,
    ) -> Result<(), socketio_ns::ConnectError> {
        cx.join("from recv_connect");
        match token {
            Some(_) => Ok(()),
            None => Err(socketio_ns::ConnectError::new("no token")),
        }
    }
}

#[tokio::test]
async fn a_refused_connect_leaves_the_rooms_it_joined() {
    let mut t = TestSocket::new(Picky);
    assert!(t.connect(None).await.is_err());
    assert_eq!(t.rooms().len(), 1, "only the id room: {:?}", t.rooms());

    let mut t = TestSocket::new(Picky);
    t.connect(Some(r#""t0k""#)).await.unwrap();
    assert_eq!(t.rooms().len(), 3, "{:?}", t.rooms());
}

// ---------------------------------------------------------------------------------------------
// 9. The everyday API without friction.

#[derive(Default)]
struct Everyday {
    name: String,
}

type BoxError = Box<dyn std::error::Error + Send + Sync>;

#[namespace("/everyday")]
impl Everyday {
    // Returns `()`: no `let _ =` in front of an emit.
    fn on_hello(&mut self, cx: &mut Context<Self>, name: String) {
        cx.emit("hello", &name);
        self.name = name;
        // Rooms from a borrowed `&str`, and from an iterator.
        cx.join(self.name.as_str());
        cx.join(["a", "b"].iter().map(|r| format!("{r}:{}", self.name)));
        cx.send("sent");
    }

    fn on_rooms(&mut self, cx: &mut Context<Self>) -> Vec<String> {
        let mut rooms: Vec<String> = cx.joined_rooms().into_iter().map(Into::into).collect();
        rooms.sort();
        rooms
    }

    fn on_boxed(&mut self, _cx: &mut Context<Self>, n: u32) -> Result<u32, BoxError> {
        if n == 0 {
            return Err("zero".into());
        }
        Ok(n)
    }

    fn on_io(&mut self, _cx: &mut Context<Self>) -> Result<(), BoxError> {
        Err(std::io::Error::other("disk on fire").into())
    }

    // A `Result` under an alias that does not say `Result` is still answered as one (`Ok` the
    // ack, `Err` an error reply), never serialized as `{"Ok": ..}`.
    fn on_half(&mut self, _cx: &mut Context<Self>, n: u32) -> Halved {
        if n % 2 == 1 {
            return Err(HandlerError::new("odd", format!("{n} is odd")));
        }
        Ok(n / 2)
    }

    fn on_parse(&mut self, _cx: &mut Context<Self>, text: String) -> std::io::Result<u32> {
        text.trim().parse().map_err(std::io::Error::other)
    }
}

type Halved = std::result::Result<u32, HandlerError>;

#[tokio::test]
async fn the_everyday_api() {
    let mut t = TestSocket::new(Everyday::default());
    t.connect(None).await.unwrap();
    t.event(r#"2/everyday,["hello","ann"]"#).await;
    assert_eq!(
        t.sent(),
        [
            r#"42/everyday,["hello","ann"]"#,
            r#"42/everyday,["message","sent"]"#
        ]
    );
    t.event(r#"2/everyday,1["rooms"]"#).await;
    assert_eq!(t.sent(), [r#"43/everyday,1[["a:ann","ann","b:ann"]]"#]);
    t.event(r#"2/everyday,2["boxed",0]"#).await;
    t.event(r#"2/everyday,3["boxed",2]"#).await;
    t.event(r#"2/everyday,4["io"]"#).await;
    assert_eq!(
        t.sent(),
        [
            r#"43/everyday,2[{"error":"handler_error","message":"zero"}]"#,
            r#"43/everyday,3[2]"#,
            r#"43/everyday,4[{"error":"handler_error","message":"disk on fire"}]"#,
        ]
    );
    t.event(r#"2/everyday,5["half",8]"#).await;
    t.event(r#"2/everyday,6["half",7]"#).await;
    t.event(r#"2/everyday,7["parse"," 12 "]"#).await;
    t.event(r#"2/everyday,8["parse","x"]"#).await;
    assert_eq!(
        t.sent(),
        [
            r#"43/everyday,5[4]"#,
            r#"43/everyday,6[{"error":"odd","message":"7 is odd"}]"#,
            r#"43/everyday,7[12]"#,
            r#"43/everyday,8[{"error":"handler_error","message":"invalid digit found in string"}]"#,
        ]
    );
}

/// Point 9: `get_initial_acl` may see the handshake. A client whose auth says it is a reader
/// starts with `read` only; everyone else with `login` only.
#[derive(Default)]
struct Shelf;

#[namespace("/shelf", acl = [on_login])]
impl Shelf {
    fn get_initial_acl(&self, handshake: &socketio_ns::Handshake) -> Option<Vec<ShelfMethod>> {
        #[derive(serde::Deserialize)]
        struct Auth {
            reader: bool,
        }
        match handshake.auth::<Auth>() {
            Ok(Auth { reader: true }) => Some(vec![ShelfMethod::on_read]),
            _ => Some(vec![ShelfMethod::on_login]),
        }
    }

    fn on_login(&mut self, cx: &mut Context<Self>) -> &'static str {
        cx.lift_acl_restrictions();
        "in"
    }

    fn on_read(&mut self, _cx: &mut Context<Self>) -> &'static str {
        "a page"
    }
}

#[tokio::test]
async fn get_initial_acl_sees_the_handshake() {
    let mut reader = TestSocket::new(Shelf);
    reader.connect(Some(r#"{"reader":true}"#)).await.unwrap();
    reader.event(r#"2/shelf,1["read"]"#).await;
    reader.event(r#"2/shelf,2["login"]"#).await;
    assert_eq!(
        reader.sent(),
        [
            r#"43/shelf,1["a page"]"#,
            r#"43/shelf,2[{"error":"method_access_denied","message":"login is not allowed"}]"#,
        ]
    );
    let mut other = TestSocket::new(Shelf);
    other.connect(None).await.unwrap();
    other.event(r#"2/shelf,1["read"]"#).await;
    other.event(r#"2/shelf,2["login"]"#).await;
    other.event(r#"2/shelf,3["read"]"#).await;
    assert_eq!(
        other.sent(),
        [
            r#"43/shelf,1[{"error":"method_access_denied","message":"read is not allowed"}]"#,
            r#"43/shelf,2["in"]"#,
            r#"43/shelf,3["a page"]"#,
        ]
    );
}

// ---------------------------------------------------------------------------------------------
// 10. A broadcast to the whole namespace, sender included, in one call (and, 11, without
//     `.await`, from a plain `fn`).

#[derive(Default)]
struct News;

#[namespace("/news")]
impl News {
    fn on_shout(&mut self, cx: &mut Context<Self>, text: String) {
        cx.broadcast_event("shouted", &text);
        cx.everyone().to("nobody-here").emit("never", ());
    }
}

#[tokio::test]
async fn broadcast_event_reaches_the_sender_too() {
    let mut t = TestSocket::new(News);
    t.connect(None).await.unwrap();
    t.event(r#"2/news,["shout","hi"]"#).await;
    assert_eq!(t.sent(), [r#"42/news,["shouted","hi"]"#]);
}

// ---------------------------------------------------------------------------------------------
// 8. `cx.error_quiet` logs and reports without sending; `Builder::on_error` sees every refused
//    or failed call.

#[derive(Default)]
struct Guard;

#[namespace("/guard", acl = [on_open, on_quiet])]
impl Guard {
    fn on_open(&mut self, cx: &mut Context<Self>) {
        cx.lift_acl_restrictions();
    }

    fn on_quiet(&mut self, cx: &mut Context<Self>) {
        cx.error_quiet("too_soon", "not now");
    }

    fn on_fail(&mut self, _cx: &mut Context<Self>) -> Result<(), HandlerError> {
        Err(HandlerError::new("boom", "it failed"))
    }
}

type Seen = Arc<Mutex<Vec<String>>>;

async fn server_with(
    seen: &Seen,
    build: impl FnOnce(socketio_ns::Builder) -> socketio_ns::Builder,
) -> String {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap().to_string();
    let seen = seen.clone();
    let io = build(Server::builder().on_error(move |e| {
        seen.lock().unwrap().push(format!(
            "{} {} {} {:?} sent={} {}",
            e.namespace,
            e.name,
            e.message,
            e.event,
            e.sent,
            e.socket.len()
        ));
    }))
    .build();
    tokio::spawn(io.serve_listener(listener));
    addr
}

#[tokio::test]
async fn quiet_errors_are_not_sent_and_the_hook_sees_every_failed_call() {
    let seen = Seen::default();
    let addr = server_with(&seen, |b| b.namespace::<Guard>()).await;
    let mut c = Client::join(&addr, "/guard").await;
    c.send(r#"2/guard,["quiet"]"#).await;
    // Nothing was sent for the quiet error: the next frame answers the next event.
    c.send(r#"2/guard,1["fail"]"#).await;
    let refused = c.recv().await;
    assert!(
        refused.starts_with(r#"3/guard,1[{"error":"method_access_denied""#),
        "{refused}"
    );
    c.send(r#"2/guard,["open"]"#).await;
    c.send(r#"2/guard,2["fail"]"#).await;
    assert_eq!(
        c.recv().await,
        r#"3/guard,2[{"error":"boom","message":"it failed"}]"#
    );
    c.send(r#"2/guard,["nothing_here"]"#).await;
    assert!(
        c.recv()
            .await
            .starts_with(r#"2/guard,["error","no_such_method""#)
    );
    let seen = seen.lock().unwrap().clone();
    assert_eq!(seen.len(), 4, "{seen:?}");
    assert_eq!(
        seen[0],
        r#"/guard too_soon not now Some("quiet") sent=false 20"#
    );
    assert!(
        seen[1].starts_with(r#"/guard method_access_denied "#)
            && seen[1].ends_with(r#" Some("fail") sent=true 20"#),
        "{seen:?}"
    );
    assert_eq!(
        seen[2],
        r#"/guard boom it failed Some("fail") sent=true 20"#
    );
    assert!(seen[3].starts_with("/guard no_such_method "), "{seen:?}");
}

// ---------------------------------------------------------------------------------------------
// 5. `cx.spawn` returns a handle that aborts that one job; a job acts on its socket through a
//    `SocketRef`: emit, error, join, leave, the session.

#[derive(Default)]
struct Jobs {
    slow: Option<socketio_ns::JobHandle>,
}

#[namespace("/jobs")]
impl Jobs {
    fn on_start(&mut self, cx: &mut Context<Self>) {
        let socket = cx.socket();
        self.slow = Some(cx.spawn(async move {
            tokio::time::sleep(Duration::from_millis(50)).await;
            socket.emit("slow", ());
        }));
        let socket = cx.socket();
        cx.spawn(async move {
            tokio::time::sleep(Duration::from_millis(10)).await;
            socket.join(["from-job", "left-by-job"]);
            socket.leave("left-by-job");
            socket.session().insert(7u32);
            socket.emit("fast", ());
            socket.error("job_error", "from a job");
            socket.error_quiet("job_quiet", "not sent");
        });
    }

    fn on_cancel(&mut self, _cx: &mut Context<Self>) {
        if let Some(slow) = &self.slow {
            slow.abort();
        }
    }
}

#[tokio::test]
async fn a_spawned_job_can_be_aborted_alone_and_acts_on_its_socket() {
    let mut t = TestSocket::new(Jobs::default());
    t.connect(None).await.unwrap();
    t.event(r#"2/jobs,["start"]"#).await;
    assert_eq!(t.context().running_jobs(), 2);
    t.event(r#"2/jobs,["cancel"]"#).await;
    tokio::time::sleep(Duration::from_millis(120)).await;
    assert_eq!(
        t.sent(),
        [
            r#"42/jobs,["fast"]"#,
            r#"42/jobs,["error","job_error","from a job"]"#
        ]
    );
    assert!(t.value().slow.as_ref().unwrap().is_finished());
    assert_eq!(t.context().running_jobs(), 0);
    let rooms = t.rooms();
    assert!(rooms.iter().any(|r| r == "from-job"), "{rooms:?}");
    assert!(!rooms.iter().any(|r| r == "left-by-job"), "{rooms:?}");
    assert_eq!(t.context().session().get::<u32>(), Some(7));

    // Jobs still die with `kill_local_jobs` and with the socket, handles or not.
    t.event(r#"2/jobs,["start"]"#).await;
    let slow = t.value().slow.clone().unwrap();
    t.context().kill_local_jobs();
    tokio::task::yield_now().await;
    assert!(slow.is_finished());
    t.event(r#"2/jobs,["start"]"#).await;
    let slow = t.value().slow.clone().unwrap();
    t.disconnect(socketio_ns::DisconnectReason::ClientNamespaceDisconnect)
        .await;
    tokio::time::sleep(Duration::from_millis(80)).await;
    assert!(slow.is_finished());
    assert!(t.sent().is_empty(), "aborted jobs sent nothing");
}

// ---------------------------------------------------------------------------------------------
// 7. The same connection's socket in another namespace (gevent's `self.socket['/other']`), and
//    the whole connection closed from a handler in one call.

/// Where `recv_disconnect` reports, through the builder's state.
struct Left(Seen);

#[derive(Default)]
struct Front;

#[namespace("/front")]
impl Front {
    fn on_poke(&mut self, cx: &mut Context<Self>, text: String) -> Option<String> {
        assert!(cx.socket_in("/nowhere").is_none());
        let back = cx.socket_in("/back")?;
        back.emit("poked", &text);
        back.join("poked-from-front");
        Some(back.id().to_owned())
    }

    fn on_bye(&mut self, cx: &mut Context<Self>) {
        cx.close_connection();
    }

    fn recv_disconnect(&mut self, cx: &mut Context<Self>, reason: socketio_ns::DisconnectReason) {
        cx.state::<Left>()
            .0
            .lock()
            .unwrap()
            .push(format!("front {reason}"));
    }
}

#[derive(Default)]
struct Back;

#[namespace("/back")]
impl Back {
    fn on_rooms(&mut self, cx: &mut Context<Self>) -> Vec<String> {
        cx.joined_rooms()
            .into_iter()
            .map(|r| r.to_string())
            .collect()
    }

    fn recv_disconnect(&mut self, cx: &mut Context<Self>, reason: socketio_ns::DisconnectReason) {
        cx.state::<Left>()
            .0
            .lock()
            .unwrap()
            .push(format!("back {reason}"));
    }
}

#[tokio::test]
async fn a_handler_reaches_its_connections_other_namespace_and_closes_the_connection() {
    let left = Seen::default();
    let addr = server_with(&Seen::default(), |b| {
        b.state(Left(left.clone()))
            .namespace::<Front>()
            .namespace::<Back>()
    })
    .await;
    let mut c = Client::join(&addr, "/front").await;
    // Not joined yet: the handler answers `null`.
    c.send(r#"2/front,1["poke","hi"]"#).await;
    assert_eq!(c.recv().await, r#"3/front,1[null]"#);
    let back_id = c.connect("/back").await;
    c.send(r#"2/front,2["poke","hi"]"#).await;
    assert_eq!(c.recv().await, r#"2/back,["poked","hi"]"#);
    assert_eq!(c.recv().await, format!(r#"3/front,2["{back_id}"]"#));
    c.send(r#"2/back,3["rooms"]"#).await;
    assert_eq!(c.recv().await, r#"3/back,3[["poked-from-front"]]"#);
    c.send(r#"2/front,["bye"]"#).await;
    loop {
        let packet = c.recv().await;
        if packet == "closed" {
            break;
        }
        assert!(!packet.starts_with('2'), "{packet}");
    }
    for _ in 0..100 {
        if left.lock().unwrap().len() == 2 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    let mut left = left.lock().unwrap().clone();
    left.sort();
    assert_eq!(
        left,
        [
            "back server namespace disconnect",
            "front server namespace disconnect"
        ]
    );
}

// ---------------------------------------------------------------------------------------------
// 6. An ack's answer comes back into the namespace value, in order with the handlers, and
//    waiting for it does not hold the socket's other events.

#[derive(Default)]
struct Quiz {
    asked: u32,
    score: u32,
    log: Vec<String>,
}

#[namespace("/quiz")]
impl Quiz {
    fn on_start(&mut self, cx: &mut Context<Self>, timeout_ms: u64) {
        self.asked += 1;
        let asked = self.asked;
        cx.emit_with_ack_timeout_then(
            "question",
            ("2 + 2?", asked),
            Duration::from_millis(timeout_ms),
            Self::answered,
        );
        self.log.push(format!("asked {asked}"));
    }

    fn on_note(&mut self, _cx: &mut Context<Self>, note: String) -> Vec<String> {
        self.log.push(note);
        self.log.clone()
    }

    /// Not an event handler: the callback of `on_start`'s question.
    fn answered(
        &mut self,
        cx: &mut Context<Self>,
        answer: Result<socketio_ns::AckResponse, socketio_ns::AckError>,
    ) {
        match answer.map(|a| a.arg::<u32>(0)) {
            Ok(Ok(4)) => {
                self.score += 1;
                self.log.push("right".into());
                cx.emit("score", self.score);
            }
            Ok(_) => {
                self.log.push("wrong".into());
                cx.emit("score", self.score);
            }
            Err(e) => {
                self.log.push(format!("no answer: {e}"));
                cx.emit("late", e.to_string());
            }
        }
    }

    fn on_boom(&mut self, cx: &mut Context<Self>) {
        cx.emit_with_ack_then("question", (), |_: &mut Self, _, _| panic!("callback"));
    }
}

#[tokio::test]
async fn an_ack_answer_runs_a_method_of_the_instance_in_order_with_the_handlers() {
    let addr = server_with(&Seen::default(), |b| b.namespace::<Quiz>()).await;
    let mut c = Client::join(&addr, "/quiz").await;

    c.send(r#"2/quiz,["start",5000]"#).await;
    let q = c.recv().await;
    assert!(
        q.starts_with(r#"2/quiz,"#) && q.ends_with(r#"["question","2 + 2?",1]"#),
        "{q}"
    );
    let ack_id: u32 = q["2/quiz,".len()..q.find('[').unwrap()].parse().unwrap();
    // The question is pending: the socket's other events are handled meanwhile.
    c.send(r#"2/quiz,7["note","while waiting"]"#).await;
    assert_eq!(c.recv().await, r#"3/quiz,7[["asked 1","while waiting"]]"#);
    // The answer runs the callback with the value as the handlers left it.
    c.send(&format!("3/quiz,{ack_id}[4]")).await;
    assert_eq!(c.recv().await, r#"2/quiz,["score",1]"#);
    c.send(r#"2/quiz,8["note","after"]"#).await;
    assert_eq!(
        c.recv().await,
        r#"3/quiz,8[["asked 1","while waiting","right","after"]]"#
    );

    // No answer in time: the callback runs with the timeout, once; a late answer is ignored.
    c.send(r#"2/quiz,["start",100]"#).await;
    let q = c.recv().await;
    assert!(q.ends_with(r#"["question","2 + 2?",2]"#), "{q}");
    let ack_id: u32 = q["2/quiz,".len()..q.find('[').unwrap()].parse().unwrap();
    assert_eq!(c.recv().await, r#"2/quiz,["late","ack timed out"]"#);
    c.send(&format!("3/quiz,{ack_id}[4]")).await;
    c.send(r#"2/quiz,9["note","end"]"#).await;
    assert_eq!(
        c.recv().await,
        r#"3/quiz,9[["asked 1","while waiting","right","after","asked 2","no answer: ack timed out","end"]]"#
    );

    // A callback that panics costs its socket, as a handler's panic does.
    c.send(r#"2/quiz,["boom"]"#).await;
    let q = c.recv().await;
    let ack_id: u32 = q["2/quiz,".len()..q.find('[').unwrap()].parse().unwrap();
    c.send(&format!("3/quiz,{ack_id}[]")).await;
    assert_eq!(
        c.recv().await,
        r#"2/quiz,["error","handler_error","the handler failed"]"#
    );
    assert_eq!(c.recv().await, "1/quiz,");
}

// ---------------------------------------------------------------------------------------------
// 12. The porting guide in the crate docs is the README's.

#[test]
fn the_readme_carries_the_crate_docs_porting_guide() {
    let readme = include_str!("../README.md");
    let guide = include_str!("../socketio-ns/src/porting.md");
    assert!(
        readme.contains(&format!(
            "## Coming from gevent-socketio / python-socketio\n\n{guide}"
        )),
        "copy socketio-ns/src/porting.md into the README's section"
    );
}

// ---------------------------------------------------------------------------------------------
// A minimal Socket.IO client: Engine.IO v4 over WebSocket, packets spelled out by hand.

const TIMEOUT: Duration = Duration::from_secs(5);

struct Client {
    ws: WebSocketStream<TcpStream>,
}

impl Client {
    async fn open(addr: &str) -> Client {
        let stream = TcpStream::connect(addr).await.unwrap();
        let url = format!("ws://{addr}/socket.io/?EIO=4&transport=websocket");
        let (ws, _) = tokio_tungstenite::client_async(url, stream).await.unwrap();
        let mut c = Client { ws };
        let open = c.next_raw().await;
        assert!(
            open.as_deref().is_some_and(|t| t.starts_with("0{")),
            "{open:?}"
        );
        c
    }

    /// Opens a connection and joins `nsp`.
    async fn join(addr: &str, nsp: &str) -> Client {
        let mut c = Client::open(addr).await;
        c.connect(nsp).await;
        c
    }

    /// Joins one more namespace on this connection; returns the socket id.
    async fn connect(&mut self, nsp: &str) -> String {
        self.send(&format!("0{nsp},")).await;
        let reply = self.recv().await;
        let prefix = format!(r#"0{nsp},{{"sid":""#);
        let rest = reply
            .strip_prefix(&prefix)
            .unwrap_or_else(|| panic!("expected CONNECT for {nsp}, got {reply}"));
        rest[..rest.find('"').unwrap()].to_owned()
    }

    /// The next Engine.IO text frame; `None` once the connection is closed.
    async fn next_raw(&mut self) -> Option<String> {
        loop {
            let msg = tokio::time::timeout(TIMEOUT, self.ws.next())
                .await
                .expect("the server answers in time");
            match msg {
                Some(Ok(Message::Text(t))) => return Some(t.to_string()),
                Some(Ok(Message::Close(_))) | None | Some(Err(_)) => return None,
                Some(Ok(_)) => {}
            }
        }
    }

    /// The next Socket.IO packet (the Engine.IO `4` stripped), answering pings; `"closed"`
    /// on Engine.IO CLOSE or once the connection is closed.
    async fn recv(&mut self) -> String {
        loop {
            match self.next_raw().await {
                Some(t) if t == "2" => self.ws.send(Message::text("3")).await.unwrap(),
                // Engine.IO CLOSE.
                Some(t) if t == "1" => return "closed".to_owned(),
                Some(t) => {
                    return t
                        .strip_prefix('4')
                        .unwrap_or_else(|| panic!("not a message: {t}"))
                        .to_owned();
                }
                None => return "closed".to_owned(),
            }
        }
    }

    /// Sends a Socket.IO packet (the Engine.IO `4` is added).
    async fn send(&mut self, packet: &str) {
        self.ws
            .send(Message::text(format!("4{packet}")))
            .await
            .unwrap();
    }
}
