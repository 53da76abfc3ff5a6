// Methods under `#[cfg]`: a compiled-out handler is named nowhere (not in the enum, the
// `METHODS` rows, the `match`es or the ACL), indices stay dense, and handlers of one event under
// exclusive `#[cfg]`s are fine. `#[deprecated]` handlers do not warn from the expansion.

#![deny(warnings)]

use socketio_ns::{Context, DisconnectReason, Event, MethodId, Namespace, namespace};

#[derive(Default)]
struct Chat;

#[namespace("/chat", acl = [on_login, on_gone])]
impl Chat {
    #[cfg(any())]
    fn on_gone(&mut self, _cx: &mut Context<Self>, _x: NotEvenAType) {}

    fn on_login(&mut self, _cx: &mut Context<Self>) {}

    #[cfg(all())]
    fn on_v1(&mut self, _cx: &mut Context<Self>) -> u8 {
        1
    }

    #[cfg(any())]
    #[event("v1")]
    fn on_v1_next(&mut self, _cx: &mut Context<Self>) -> u8 {
        2
    }

    #[deprecated = "use on_login"]
    fn on_old_login(&mut self, _cx: &mut Context<Self>) {}

    #[cfg(any())]
    async fn recv_connect(&mut self, _cx: &mut Context<Self>, _auth: NotEvenAType) {}

    #[cfg(all())]
    async fn recv_disconnect(&mut self, _cx: &mut Context<Self>, _reason: DisconnectReason) {}

    #[cfg(any())]
    #[fallback]
    fn other(&mut self, _cx: &mut Context<Self>, _event: Event) {}
}

/// A fallback that is compiled in.
#[derive(Default)]
struct Open;

#[namespace("/open")]
impl Open {
    #[cfg(all())]
    #[fallback]
    fn other(&mut self, _cx: &mut Context<Self>, _event: Event) {}
}

fn main() {
    assert_eq!(Chat::METHODS, ["on_login", "on_v1", "on_old_login"]);
    assert_eq!(Chat::INITIAL_ACL, Some(&[ChatMethod::on_login][..]));
    assert_eq!(ChatMethod::on_v1.index(), 1);
    assert_eq!(
        ChatMethod::from_index(2).map(|m| m.name::<Chat>()),
        Some("on_old_login")
    );
    assert_eq!(Open::METHODS, ["other"]);
}
