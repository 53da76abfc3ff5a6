//! Compile-time behaviour of `#[namespace]`, pinned with trybuild: every error the macro
//! reports (`tests/ui/<topic>/*.rs`, each with the `.stderr` the compiler prints) and the
//! forms it accepts (`tests/ui/pass/*.rs`, which must compile and run).
//!
//! The `.stderr` snapshots depend on the compiler's wording, so they are pinned to the
//! toolchain this project uses (rustc 1.95); on another toolchain this test is skipped
//! (`SOCKETIO_NS_UI=1` runs it anyway). After a deliberate change, refresh the snapshots with
//!
//! ```text
//! TRYBUILD=overwrite cargo test -p socketio-ns --test ui
//! ```
//!
//! and review the diff of `tests/ui/**/*.stderr`.

/// The toolchain the snapshots were taken with.
const PINNED: &str = "rustc 1.95.";

fn toolchain_matches() -> bool {
    if std::env::var_os("SOCKETIO_NS_UI").is_some_and(|v| v == "1") {
        return true;
    }
    let rustc = std::env::var_os("RUSTC").unwrap_or_else(|| "rustc".into());
    let version = std::process::Command::new(rustc)
        .arg("--version")
        .output()
        .map(|o| String::from_utf8_lossy(&o.stdout).into_owned())
        .unwrap_or_default();
    if version.starts_with(PINNED) {
        return true;
    }
    eprintln!(
        "skipping the UI tests: their snapshots are pinned to {PINNED}x, this is {:?} (SOCKETIO_NS_UI=1 runs them anyway)",
        version.trim()
    );
    false
}

#[test]
fn ui() {
    if !toolchain_matches() {
        return;
    }
    let t = trybuild::TestCases::new();
    t.pass("../tests/ui/pass/*.rs");
    for topic in [
        "attr",
        "acl",
        "events",
        "signature",
        "types",
        "limits",
        "errors",
    ] {
        t.compile_fail(format!("../tests/ui/{topic}/*.rs"));
    }
}
