// Handler forms: `async fn` and plain `fn`, any number of arguments, and every kind of return.

use std::collections::HashMap;

use serde::{Deserialize, Serialize};
use socketio_ns::{Bytes, Context, EmitError, HandlerError, Namespace, RawArgs, namespace};

#[derive(Deserialize)]
struct Move {
    x: i32,
    y: i32,
}

#[derive(Serialize)]
struct Position {
    x: i32,
    y: i32,
}

#[derive(Default)]
struct Game {
    at: (i32, i32),
}

#[namespace("/game")]
impl Game {
    fn on_nothing(&mut self, _cx: &mut Context<Self>) {}

    fn on_unit(&mut self, _cx: &mut Context<Self>) -> () {}

    async fn on_move(&mut self, _cx: &mut Context<Self>, m: Move) -> Position {
        self.at = (self.at.0 + m.x, self.at.1 + m.y);
        Position {
            x: self.at.0,
            y: self.at.1,
        }
    }

    fn on_many(
        &mut self,
        _cx: &mut Context<Self>,
        a: u8,
        b: Option<String>,
        c: Vec<f64>,
        d: HashMap<String, bool>,
        e: serde_json::Value,
        f: Bytes,
    ) -> (u8, Option<String>, usize, usize, serde_json::Value, Bytes) {
        (a, b, c.len(), d.len(), e, f)
    }

    async fn on_checked(&mut self, _cx: &mut Context<Self>, n: u32) -> Result<u32, HandlerError> {
        n.checked_mul(2)
            .ok_or_else(|| HandlerError::new("overflow", "too big"))
    }

    fn on_io(&mut self, _cx: &mut Context<Self>) -> std::io::Result<&'static str> {
        Ok("io")
    }

    fn on_parse(
        &mut self,
        _cx: &mut Context<Self>,
        s: String,
    ) -> Result<i64, std::num::ParseIntError> {
        s.parse()
    }

    async fn on_relay(&mut self, cx: &mut Context<Self>, text: String) -> Result<(), EmitError> {
        cx.broadcast().emit("relay", text).await
    }

    fn on_maybe(&mut self, _cx: &mut Context<Self>) -> Option<Position> {
        None
    }

    fn on_raw(&mut self, _cx: &mut Context<Self>) -> RawArgs {
        RawArgs::default()
    }

    #[event("with spaces and ünïcödé")]
    fn on_odd(&mut self, _cx: &mut Context<Self>) -> &'static str {
        "odd"
    }

    #[event("type")]
    fn r#type(&mut self, _cx: &mut Context<Self>) {}
}

fn main() {
    assert_eq!(
        Game::METHODS,
        [
            "on_nothing",
            "on_unit",
            "on_move",
            "on_many",
            "on_checked",
            "on_io",
            "on_parse",
            "on_relay",
            "on_maybe",
            "on_raw",
            "on_odd",
            "type",
        ]
    );
    let _ = GameMethod::r#type;
}
