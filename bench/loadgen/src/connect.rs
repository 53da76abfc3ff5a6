//! `connect`: open N Socket.IO connections (WebSocket + Engine.IO handshake +
//! namespace connect acknowledged) with at most `--concurrency` handshakes in
//! flight and report connections/s; then hold them idle for `--hold` seconds
//! and report the server's RSS growth per connection.
//!
//! Warm-up: `--warmup-conns` connections are opened first and held for the
//! whole run, so the server's runtime, allocator and first-connection costs
//! are paid before the RSS baseline and the timed window.

use std::time::{Duration, Instant};

use serde_json::{Map, Value, json};
use tokio::sync::watch;

use crate::procstat::{CpuSnap, rss_kb};
use crate::proto::{self};
use crate::{Ctx, lat_json, r3};

pub async fn run(ctx: &Ctx) -> Result<Map<String, Value>, String> {
    let o = &ctx.opts;
    let (stop_tx, stop_rx) = watch::channel(false);
    let mut holders = Vec::new();

    let (warm, _, warm_err) =
        proto::connect_many(&ctx.engine_url, &ctx.prefix, false, o.warmup_conns, o.concurrency, o.transport).await;
    if warm.len() < o.warmup_conns {
        return Err(format!(
            "warm-up: only {}/{} connected; first error: {}",
            warm.len(),
            o.warmup_conns,
            warm_err.first().map(String::as_str).unwrap_or("?")
        ));
    }
    holders.extend(warm.into_iter().map(|ws| tokio::spawn(proto::idle(ws, stop_rx.clone()))));
    tokio::time::sleep(Duration::from_millis(500)).await;

    let rss_before = ctx.server_pid.and_then(rss_kb);
    let cpu0 = CpuSnap::take(ctx.server_pid);
    let t0 = Instant::now();
    let (conns, hist, errors) =
        proto::connect_many(&ctx.engine_url, &ctx.prefix, false, o.clients, o.concurrency, o.transport).await;
    let elapsed = t0.elapsed().as_secs_f64();
    let cpu1 = CpuSnap::take(ctx.server_pid);
    let connected = conns.len();
    holders.extend(conns.into_iter().map(|ws| tokio::spawn(proto::idle(ws, stop_rx.clone()))));

    // Settle (the last handshakes' tasks), then the idle window: what the server spends on
    // connections that do nothing (heartbeats, timers).
    let settle = o.hold.min(1.0);
    tokio::time::sleep(Duration::from_secs_f64(settle)).await;
    let idle0 = CpuSnap::take(ctx.server_pid);
    let ti = Instant::now();
    tokio::time::sleep(Duration::from_secs_f64(o.hold - settle)).await;
    let idle_window = ti.elapsed().as_secs_f64();
    let idle1 = CpuSnap::take(ctx.server_pid);
    let rss_after = ctx.server_pid.and_then(rss_kb);
    // Count connections that died while idle (before closing them all).
    let alive_before_close = holders.iter().filter(|h| !h.is_finished()).count();
    let _ = stop_tx.send(true);
    for h in holders {
        let _ = tokio::time::timeout(Duration::from_secs(2), h).await;
    }

    let mut m = ctx.base_json();
    m.insert("connections".into(), json!(o.clients));
    m.insert("warmup_conns".into(), json!(o.warmup_conns));
    m.insert("connected".into(), json!(connected));
    m.insert("failed".into(), json!(errors.len()));
    if let Some(e) = errors.first() {
        m.insert("first_error".into(), json!(e));
    }
    m.insert("window_s".into(), r3(Some(elapsed)));
    m.insert("msgs".into(), json!(connected));
    m.insert("msg_unit".into(), json!("connection"));
    m.insert("rate".into(), r3(Some(connected as f64 / elapsed)));
    m.insert("connections_per_s".into(), r3(Some(connected as f64 / elapsed)));
    m.insert("lat_us".into(), lat_json(&hist));
    ctx.cpu_json(&mut m, &cpu0, &cpu1, connected as u64);
    m.insert("hold_s".into(), json!(o.hold));
    let (idle_cpu, _) = idle0.delta_secs(&idle1, ctx.tck);
    m.insert("idle_window_s".into(), r3(Some(idle_window)));
    m.insert("idle_server_cpu_s".into(), r3(idle_cpu));
    m.insert("rss_before_kb".into(), json!(rss_before));
    m.insert("rss_after_kb".into(), json!(rss_after));
    let per_conn = match (rss_before, rss_after) {
        (Some(b), Some(a)) if connected > 0 => Some((a as f64 - b as f64) * 1024.0 / connected as f64),
        _ => None,
    };
    m.insert("rss_per_conn_bytes".into(), per_conn.map_or(Value::Null, |v| json!(v.round())));
    let held = o.warmup_conns + connected;
    m.insert("alive_after_hold".into(), json!(alive_before_close));
    m.insert("ok".into(), json!(connected == o.clients && alive_before_close == held));
    Ok(m)
}
