//! The chat page and the admin dashboard in a real browser: headless Chromium (the system's
//! `chromium`, Debian's package) driven over the DevTools protocol by `puppeteer-core` under
//! node (`tests/js/browser.mjs`), against the chat example started with `ADMIN_PASSWORD`.
//!
//! - The chat page, over polling only (`?transport=polling`), WebSocket only
//!   (`?transport=websocket`) and polling upgraded to WebSocket: it loads, logs in, joins a
//!   room; two tabs exchange messages; closing one tab sends `left` to the other.
//! - The admin dashboard (`/admin/`): refused with a wrong password (the UI's "Invalid
//!   credentials"), logged in with the right one; it lists the chat's sockets and rooms; its
//!   "join" and "disconnect" actions take effect on live chat tabs.
//!
//! - The chat page again with the chat started with `PARSER=msgpack` (the page then loads
//!   socket.io-client's msgpack build): the same three transports.
//!
//! A further run does the chat page and the dashboard with WebSocket compression on
//! (`WS_COMPRESSION=0`).
//!
//! Screenshots of both pages are written to `target/tmp/browser/` (`CARGO_TARGET_TMPDIR`), and
//! `browser-deflate/` for the compression run.
//! Without chromium the test fails (install it with `apt-get install -y chromium`; `.ci/run`
//! does).
//!
//! Run: `cargo build -p socketio-ns --features admin-ui --example chat && cargo test -p
//! socketio-ns --features admin-ui --test browser` (the test starts that binary).

#[macro_use]
#[allow(unused_macros)]
mod common;

use std::path::Path;
use std::process::Command;
use std::sync::Once;
use std::time::Duration;

use serde_json::{Value, json};

use common::{ExampleServer, chromium, node_modules, npm_install_once, run_child, tests_dir};

const PASSWORD: &str = "browser-secret";

fn line<'a>(lines: &'a [Value], key: &str) -> Vec<&'a Value> {
    lines.iter().filter_map(|l| l.get(key)).collect()
}

#[test]
fn the_chat_page_and_the_admin_dashboard_in_chromium() {
    chat_and_dashboard("browser", &[]);
}

/// The same with WebSocket compression on for every message (threshold 0): Chromium offers
/// `permessage-deflate`, so the page's and the dashboard's WebSocket traffic is compressed
/// both ways (`tests/compression.rs` checks the negotiation from Chromium's side).
#[test]
fn the_chat_page_and_the_admin_dashboard_with_websocket_compression() {
    chat_and_dashboard("browser-deflate", &[("WS_COMPRESSION", "0")]);
}

/// Runs `tests/js/browser.mjs` against the chat example started with `env`, its screenshots
/// in `target/tmp/<shots>/`.
fn chat_and_dashboard(shots: &str, env: &[(&str, &str)]) {
    let chromium = chromium();
    static INSTALL: Once = Once::new();
    npm_install_once(
        &INSTALL,
        &Path::new(env!("CARGO_MANIFEST_DIR")).join("../examples/chat"),
    );
    let shots = Path::new(env!("CARGO_TARGET_TMPDIR")).join(shots);
    std::fs::create_dir_all(&shots).unwrap();
    let mut env = env.to_vec();
    env.push(("ADMIN_PASSWORD", PASSWORD));
    let server = ExampleServer::spawn_with_env("chat", &env);

    node_modules();
    let mut command = Command::new("node");
    command
        .arg(tests_dir().join("js/browser.mjs"))
        .current_dir(tests_dir());
    let args = json!({
        "url": server.url(),
        "password": PASSWORD,
        "chromium": chromium,
        "shots": shots,
        "timeout_ms": 110_000,
    });
    let lines = run_child(&mut command, "node", &args, Duration::from_secs(120))
        .json_lines(|run| run.describe("node browser.mjs", "stderr", None));

    // The chat page on every transport.
    let chats = line(&lines, "chat");
    assert_eq!(chats.len(), 3, "{lines:#?}");
    for (chat, mode) in chats.iter().zip(["polling", "websocket", "upgrade"]) {
        assert_eq!(chat["mode"], mode);
        let transport = if mode == "polling" {
            "polling"
        } else {
            "websocket"
        };
        assert_eq!(
            chat["status"],
            format!("connected over {transport}"),
            "{chat}"
        );
        assert_eq!(chat["a_got"], true, "{chat}");
        assert_eq!(chat["b_got"], true, "{chat}");
        assert_eq!(chat["left"], true, "{chat}");
    }

    // The dashboard.
    assert_eq!(
        line(&lines, "admin_refused"),
        [&json!("Invalid credentials")]
    );
    assert_eq!(
        line(&lines, "admin"),
        [&json!({"sockets": true, "rooms": true})]
    );
    assert_eq!(line(&lines, "join"), [&json!("rooms: lobby, vip")]);
    assert_eq!(line(&lines, "disconnect"), [&json!("io server disconnect")]);

    let written: Vec<&str> = line(&lines, "shot")
        .iter()
        .map(|s| s.as_str().unwrap())
        .collect();
    for name in ["chat", "admin", "admin-sockets"] {
        let path = shots.join(format!("{name}.png"));
        assert!(
            written.contains(&path.to_str().unwrap()) && path.is_file(),
            "{} not written",
            path.display()
        );
    }
    eprintln!("screenshots: {}", shots.display());
}

/// With `PARSER=msgpack` the page loads socket.io-client's msgpack build and works the same on
/// every transport.
#[test]
fn the_chat_page_with_the_msgpack_parser_in_chromium() {
    let chromium = chromium();
    static INSTALL: Once = Once::new();
    npm_install_once(
        &INSTALL,
        &Path::new(env!("CARGO_MANIFEST_DIR")).join("../examples/chat"),
    );
    let shots = Path::new(env!("CARGO_TARGET_TMPDIR")).join("browser-msgpack");
    std::fs::create_dir_all(&shots).unwrap();
    let server = ExampleServer::spawn_with_env("chat", &[("PARSER", "msgpack")]);

    node_modules();
    let mut command = Command::new("node");
    command
        .arg(tests_dir().join("js/browser.mjs"))
        .current_dir(tests_dir());
    let args = json!({
        "url": server.url(),
        "chromium": chromium,
        "shots": shots,
        "chat_only": true,
        "timeout_ms": 110_000,
    });
    let lines = run_child(&mut command, "node", &args, Duration::from_secs(120))
        .json_lines(|run| run.describe("node browser.mjs", "stderr", None));
    let chats = line(&lines, "chat");
    assert_eq!(chats.len(), 3, "{lines:#?}");
    for (chat, mode) in chats.iter().zip(["polling", "websocket", "upgrade"]) {
        let transport = if mode == "polling" {
            "polling"
        } else {
            "websocket"
        };
        assert_eq!(
            chat["status"],
            format!("connected over {transport}"),
            "{chat}"
        );
        assert_eq!(chat["a_got"], true, "{chat}");
        assert_eq!(chat["b_got"], true, "{chat}");
        // On long-polling the page posts its DISCONNECT as a beacon, in the msgpack form here.
        assert_eq!(chat["left"], true, "{chat}");
    }
    assert_eq!(line(&lines, "parser"), [&json!("msgpack")]);
}
