// The reserved methods in their shorter forms: no auth or reason parameter, plain `fn`,
// returning `()`; `get_initial_acl` returning a static slice.

use socketio_ns::{Context, MethodId, Namespace, namespace};

#[derive(Default)]
struct Lobby {
    joined: bool,
}

#[namespace("/lobby")]
impl Lobby {
    fn initialize(&mut self, _cx: &mut Context<Self>) {}

    fn recv_connect(&mut self, _cx: &mut Context<Self>) {
        self.joined = true;
    }

    fn recv_disconnect(&mut self, _cx: &mut Context<Self>) {
        self.joined = false;
    }

    fn get_initial_acl(&self) -> Option<&'static [LobbyMethod]> {
        Some(&[LobbyMethod::on_enter])
    }

    fn on_enter(&mut self, cx: &mut Context<Self>) {
        cx.add_acl_method(LobbyMethod::recv_error);
        let _ = cx.add_acl_method_by_name("on_enter");
    }

    fn recv_error(&mut self, _cx: &mut Context<Self>, _error: serde_json::Value) {}
}

#[derive(Default)]
struct Gate;

#[namespace("/gate", acl = [])]
impl Gate {
    async fn recv_connect(&mut self, _cx: &mut Context<Self>, _auth: Option<serde_json::Value>) {}

    fn get_initial_acl(&self) -> Option<std::borrow::Cow<'static, [GateMethod]>> {
        // Overrides `acl = []`, which stays readable as `INITIAL_ACL`.
        let _ = Self::INITIAL_ACL;
        None
    }

    fn on_pass(&mut self, _cx: &mut Context<Self>) {}
}

fn main() {
    assert_eq!(LobbyMethod::on_enter.index(), 0);
    assert_eq!(LobbyMethod::recv_error.name::<Lobby>(), "recv_error");
    assert_eq!(Gate::INITIAL_ACL, Some(&[][..]));
}
