//! Handlers unit-tested without a server: `socketio_ns::testing::TestSocket` runs a
//! namespace's handlers over an in-memory socket, as its actor would, and shows the frames
//! they queued for the client and the rooms they joined.

use serde::Deserialize;
use socketio_ns::testing::TestSocket;
use socketio_ns::{ConnectError, Context, DisconnectReason, HandlerError, namespace};

#[derive(Deserialize)]
struct Auth {
    token: String,
}

#[derive(Default)]
struct Lobby {
    nick: Option<String>,
    left: Option<DisconnectReason>,
}

#[namespace("/lobby", acl = [on_login])]
impl Lobby {
    fn initialize(&mut self, cx: &mut Context<Self>) {
        cx.join("everyone");
    }

    fn recv_connect(&mut self, cx: &mut Context<Self>, auth: Auth) -> Result<(), ConnectError> {
        if auth.token != "t0k" {
            return Err(ConnectError::new("bad token"));
        }
        cx.emit("hello", "stranger");
        Ok(())
    }

    fn on_login(&mut self, cx: &mut Context<Self>, nick: String) -> Result<String, HandlerError> {
        if nick.is_empty() {
            return Err(HandlerError::new("bad_nick", "empty nick"));
        }
        cx.lift_acl_restrictions();
        cx.join(format!("user:{nick}"));
        self.nick = Some(nick.clone());
        Ok(format!("welcome {nick}"))
    }

    fn on_say(&mut self, cx: &mut Context<Self>, text: String) {
        cx.emit("said", (&self.nick, text));
    }

    fn on_quit(&mut self, cx: &mut Context<Self>) {
        cx.leave("everyone");
        cx.disconnect();
    }

    fn recv_disconnect(&mut self, _cx: &mut Context<Self>, reason: DisconnectReason) {
        self.left = Some(reason);
    }
}

async fn connected() -> TestSocket<Lobby> {
    let mut t = TestSocket::new(Lobby::default());
    t.connect(Some(r#"{"token":"t0k"}"#)).await.unwrap();
    t
}

#[tokio::test]
async fn connect_runs_initialize_then_recv_connect_and_sends_what_it_emitted() {
    let mut t = connected().await;
    assert_eq!(t.sent(), [r#"42/lobby,["hello","stranger"]"#]);
    let rooms = t.rooms();
    assert_eq!(rooms[0], t.context().id(), "its own id room first");
    assert!(rooms.iter().any(|r| r == "everyone"));
}

#[tokio::test]
async fn a_refused_connect_sends_nothing() {
    let mut t = TestSocket::new(Lobby::default());
    let err = t.connect(Some(r#"{"token":"nope"}"#)).await.unwrap_err();
    assert_eq!(err.message(), "bad token");
    assert!(t.sent().is_empty());
    let mut t = TestSocket::new(Lobby::default());
    let err = t.connect(Some("42")).await.unwrap_err();
    assert_eq!(err.message(), "invalid auth payload");
}

#[tokio::test]
async fn the_acl_refuses_until_login_lifts_it() {
    let mut t = connected().await;
    t.sent();
    t.event(r#"2/lobby,1["say","hi"]"#).await;
    assert_eq!(
        t.sent(),
        [r#"43/lobby,1[{"error":"method_access_denied","message":"say is not allowed"}]"#]
    );

    t.event(r#"2/lobby,2["login","ann"]"#).await;
    assert_eq!(t.sent(), [r#"43/lobby,2["welcome ann"]"#]);
    assert!(t.rooms().iter().any(|r| r == "user:ann"));

    t.event(r#"2/lobby,["say","hi"]"#).await;
    assert_eq!(t.sent(), [r#"42/lobby,["said","ann","hi"]"#]);
}

#[tokio::test]
async fn handler_errors_answer_the_ack_or_emit_error() {
    let mut t = connected().await;
    t.sent();
    t.event(r#"2/lobby,5["login",""]"#).await;
    assert_eq!(
        t.sent(),
        [r#"43/lobby,5[{"error":"bad_nick","message":"empty nick"}]"#]
    );
    t.event(r#"2/lobby,["login",7]"#).await;
    let sent = t.sent();
    assert_eq!(sent.len(), 1);
    assert!(
        sent[0].starts_with(r#"42/lobby,["error","invalid_arguments","#),
        "{sent:?}"
    );
}

#[tokio::test]
async fn a_handler_can_leave_and_recv_disconnect_runs() {
    let mut t = connected().await;
    t.event(r#"2/lobby,["login","bob"]"#).await;
    t.event(r#"2/lobby,["quit"]"#).await;
    assert!(t.is_leaving());
    assert!(!t.rooms().iter().any(|r| r == "everyone"));
    t.disconnect(DisconnectReason::ServerNamespaceDisconnect)
        .await;
    assert_eq!(
        t.value().left,
        Some(DisconnectReason::ServerNamespaceDisconnect)
    );
    assert_eq!(t.rooms().len(), 1, "only its own id room is left");
}
