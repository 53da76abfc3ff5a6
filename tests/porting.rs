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
