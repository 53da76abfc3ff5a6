//! The TypeScript export (feature `typescript`: `cargo test -p socketio-ns --features
//! typescript --test typescript`):
//!
//! - the chat example's committed `examples/chat/chat.d.ts` is current (`UPDATE_TYPES=1`
//!   rewrites it);
//! - serde's attributes shape the exported types;
//! - a client typed by it (`tests/ts/chat_client.ts`) type-checks with `tsc --strict`, then runs
//!   against the chat server;
//! - a deliberately wrong call (`tests/ts/wrong_call.ts`) fails `tsc` with the expected error.

#[macro_use]
#[allow(unused_macros)]
mod common;

/// The chat example itself, for its namespace type.
#[allow(dead_code, unreachable_pub, missing_docs)]
#[path = "../examples/chat/main.rs"]
mod chat;

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::Once;
use std::time::Duration;

use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use socketio_ns::{Bytes, Context, HandlerError, events, namespace};

use common::{ExampleServer, node_modules, npm_install_once, run_child, tests_dir};

fn chat_dts() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../examples/chat/chat.d.ts")
}

#[test]
fn chat_types_are_current() {
    socketio_ns::typescript::check::<chat::Chat>(chat_dts()).unwrap();
}

// ---------------------------------------------------------------------------------------------
// serde attributes

#[allow(dead_code)] // only decoded
#[derive(Deserialize, ts_rs::TS)]
#[serde(rename_all = "camelCase")]
struct Profile {
    display_name: String,
    #[serde(rename = "years")]
    age: Option<u32>,
    tags: HashMap<String, u64>,
}

#[allow(dead_code)] // only exported
#[derive(Serialize, ts_rs::TS)]
#[serde(tag = "kind", rename_all = "snake_case")]
enum Notice {
    Joined { nick: String },
    TimedOut,
}

#[derive(Serialize, ts_rs::TS)]
struct Status {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    away: Option<String>,
    #[ts(type = "ArrayBuffer | Buffer")]
    avatar: Bytes,
}

events! {
    /// What `/typed` sends.
    pub TypedEvents {
        /// A notice.
        NoticeEvent = "notice"(notice: Notice),
        /// A status and its owner.
        StatusEvent = "status"(nick: String, status: Status),
    }
}

#[derive(Default)]
struct Typed;

#[namespace("/typed", emits = TypedEvents)]
impl Typed {
    fn recv_connect(&mut self, _cx: &mut Context<Self>, _auth: Option<Profile>) {}

    fn on_profile(&mut self, _cx: &mut Context<Self>, p: Profile) -> Result<Status, HandlerError> {
        let _ = p;
        Err(HandlerError::new("no", "no"))
    }

    fn on_avatar(&mut self, cx: &mut Context<Self>, data: Bytes) -> usize {
        cx.emit(NoticeEvent, Notice::TimedOut);
        data.len()
    }

    #[event("set away")]
    fn on_away(&mut self, _cx: &mut Context<Self>, _text: Option<String>) {}
}

#[test]
fn serde_attributes_shape_the_types() {
    let dts = socketio_ns::typescript::render::<Typed>().unwrap();
    for expected in [
        // rename_all, rename, Option, a map, 64-bit integers as numbers.
        "export type Profile = { displayName: string, years: number | null, tags: { [key in string]: number }, };",
        // An internally tagged enum.
        r#"export type Notice = { "kind": "joined", nick: string, } | { "kind": "timed_out" };"#,
        // skip_serializing_if: optional.
        "away?: string | null,",
        "avatar: ArrayBuffer | Buffer,",
        "export type Auth = Profile | null;",
        r#""profile": (p: Profile, callback: (answer: Status | HandlerError) => void) => void;"#,
        r#""avatar": (data: ArrayBuffer | Buffer, callback: (answer: number | HandlerError) => void) => void;"#,
        r#""set away": (text: string | null) => void;"#,
        r#""notice": (notice: Notice) => void;"#,
        r#""status": (nick: string, status: Status) => void;"#,
    ] {
        assert!(dts.contains(expected), "missing {expected}\nin:\n{dts}");
    }
}

/// `write_all` writes one file per registered namespace with a declaration, named after its
/// path, and nothing for the others.
#[test]
fn write_all_writes_each_declaring_namespace() {
    let dir = std::env::temp_dir().join(format!("socketio-ns-ts-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    let mut files = socketio_ns::typescript::write_all(&dir).unwrap();
    files.sort();
    assert_eq!(files, vec![dir.join("chat.d.ts"), dir.join("typed.d.ts")]);
    let typed = std::fs::read_to_string(dir.join("typed.d.ts")).unwrap();
    assert_eq!(Some(typed), socketio_ns::typescript::render::<Typed>());
    let chat = std::fs::read_to_string(dir.join("chat.d.ts")).unwrap();
    assert_eq!(chat, std::fs::read_to_string(chat_dts()).unwrap());
    // Unchanged files are left alone; a namespace without a declaration has no types.
    assert!(!socketio_ns::typescript::write::<Typed>(dir.join("typed.d.ts")).unwrap());
    assert!(socketio_ns::typescript::render::<Plain>().is_none());
    std::fs::remove_dir_all(&dir).unwrap();
}

#[derive(Default)]
struct Plain;

#[namespace("/plain")]
impl Plain {
    fn on_ping(&mut self, cx: &mut Context<Self>) {
        cx.emit("pong", ());
    }
}

// ---------------------------------------------------------------------------------------------
// tsc and node

const TSC_TIMEOUT: Duration = Duration::from_secs(120);

/// `tsc <args>` in `tests/`.
fn tsc(args: &[&str]) -> common::ChildRun {
    node_modules();
    let mut command = Command::new("node");
    command
        .arg("node_modules/typescript/bin/tsc")
        .args(args)
        .current_dir(tests_dir());
    run_child(
        &mut command,
        "node (is it installed?)",
        &Value::Null,
        TSC_TIMEOUT,
    )
}

#[test]
fn typed_client_compiles_and_runs() {
    let compiled = tsc(&["-p", "ts/tsconfig.json"]);
    assert!(
        compiled.status.is_some_and(|s| s.success()),
        "tsc failed:\n{}{}",
        compiled.stdout,
        compiled.stderr
    );

    static INSTALL: Once = Once::new();
    npm_install_once(
        &INSTALL,
        &Path::new(env!("CARGO_MANIFEST_DIR")).join("../examples/chat"),
    );
    let server = ExampleServer::spawn("chat");
    let mut command = Command::new("node");
    command
        .arg("ts/out/chat_client.js")
        .arg(server.url())
        .current_dir(tests_dir());
    let run = run_child(&mut command, "node", &Value::Null, Duration::from_secs(30));
    let lines = run.json_lines(|run| run.describe("node ts/out/chat_client.js", "stderr", None));
    assert_eq!(
        lines,
        vec![json!({
            "refused": "method_access_denied",
            "nick": "alice",
            "empty": "invalid_nick",
            "joined": ["lobby"],
            "sent": true,
            "said": { "room": "lobby", "nick": "alice", "text": "hello" },
            "ticks": [1, 2],
            "bytes": [0, 1, 2, 3],
            "upload": { "name": "f.bin", "size": 3 },
            "leaver": "alice",
        })]
    );
}

#[test]
fn wrong_call_fails_tsc() {
    let run = tsc(&[
        "--noEmit",
        "--strict",
        "--target",
        "es2022",
        "--module",
        "nodenext",
        "--moduleResolution",
        "nodenext",
        "--types",
        "node",
        "ts/wrong_call.ts",
    ]);
    assert!(
        run.status.is_some_and(|s| !s.success()),
        "tsc accepted the wrong call:\n{}",
        run.stdout
    );
    let expected = "ts/wrong_call.ts(7,22): error TS2345: Argument of type 'number' is not assignable to parameter of type 'string'.";
    assert!(
        run.stdout.contains(expected),
        "expected {expected}\ngot:\n{}{}",
        run.stdout,
        run.stderr
    );
    // The only error.
    assert_eq!(run.stdout.matches("error TS").count(), 1, "{}", run.stdout);
}
