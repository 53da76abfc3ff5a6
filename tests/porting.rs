//! What a gevent-socketio application ported to `#[namespace]` relies on (issue 12): event
//! names routed as gevent routed them, no silent traps, and the everyday API. Handlers run
//! over `socketio_ns::testing::TestSocket`, without a server.

use socketio_ns::testing::TestSocket;
use socketio_ns::{Context, namespace};

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
}

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
