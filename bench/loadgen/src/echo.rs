//! `echo`: N clients in closed loop. Each keeps `--concurrency` requests in
//! flight: it emits `42<nsp>,<id>["echo","<payload>"]` and waits for the ack
//! `43<nsp>,<id>["<payload>"]` before sending the next one. With `--raw` the
//! request is a bare text frame and the reply its echo (bench-raw-ws).

use std::collections::VecDeque;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use hdrhistogram::Histogram;
use serde_json::{Map, Value, json};
use tokio::sync::watch;
use tokio_tungstenite::tungstenite::Utf8Bytes;

use crate::proto::{self, Conn};
use crate::{Ctx, lat_json, new_hist, procstat::CpuSnap, r3, record};

#[derive(Debug, Default)]
struct ClientStats {
    acks: u64,
    bad: u64,
    unexpected: u64,
    died: bool,
    hist: Option<Histogram<u64>>,
}

struct Shared {
    measuring: AtomicBool,
    prefix: String,
    payload: String,
    concurrency: usize,
    raw: bool,
}

async fn client(mut ws: Conn, sh: Arc<Shared>, mut stop: watch::Receiver<bool>) -> ClientStats {
    let mut st = ClientStats::default();
    let mut hist = new_hist();
    let ack_prefix = format!("43{}", sh.prefix);
    let expected_tail = format!("[\"{}\"]", sh.payload);
    // Socket.IO: ack ids may come back in any order (handlers run as tasks).
    let mut pending: Vec<(u64, Instant)> = Vec::with_capacity(sh.concurrency);
    // Raw: the echo server answers in order.
    let mut raw_pending: VecDeque<Instant> = VecDeque::with_capacity(sh.concurrency);
    let mut next_id: u64 = 0;
    let raw_msg = Utf8Bytes::from(sh.payload.clone());

    macro_rules! send_one {
        () => {{
            let msg = if sh.raw {
                raw_pending.push_back(Instant::now());
                raw_msg.clone()
            } else {
                let id = next_id;
                next_id += 1;
                pending.push((id, Instant::now()));
                Utf8Bytes::from(format!("42{}{}[\"echo\",\"{}\"]", sh.prefix, id, sh.payload))
            };
            ws.send(msg).await
        }};
    }

    for _ in 0..sh.concurrency {
        if !send_one!() {
            st.died = true;
            break;
        }
    }
    while !st.died {
        tokio::select! {
            biased;
            _ = stop.changed() => break,
            m = ws.recv() => {
                let Some(t) = m else { st.died = true; break; };
                let sent_at = if sh.raw {
                    match raw_pending.pop_front() {
                        Some(at) if t.as_str() == sh.payload => at,
                        Some(at) => { st.bad += 1; at }
                        None => { st.unexpected += 1; continue; }
                    }
                } else if let Some((id, tail)) = proto::parse_ack(&t, &ack_prefix) {
                    let Some(pos) = pending.iter().position(|(i, _)| *i == id) else {
                        st.unexpected += 1;
                        continue;
                    };
                    if tail != expected_tail { st.bad += 1; }
                    pending.swap_remove(pos).1
                } else {
                    st.unexpected += 1;
                    continue;
                };
                if sh.measuring.load(Ordering::Relaxed) {
                    st.acks += 1;
                    record(&mut hist, sent_at.elapsed());
                }
                if !send_one!() { st.died = true; break; }
            }
        }
    }
    st.hist = Some(hist);
    st
}

pub async fn run(ctx: &Ctx) -> Result<Map<String, Value>, String> {
    let o = &ctx.opts;
    let sh = Arc::new(Shared {
        measuring: AtomicBool::new(false),
        prefix: ctx.prefix.clone(),
        payload: proto::padding(o.payload_bytes),
        concurrency: o.concurrency,
        raw: o.raw,
    });
    let (conns, _, errors) =
        proto::connect_many(&ctx.engine_url, &ctx.prefix, o.raw, o.clients, 64, o.transport).await;
    if conns.len() < o.clients {
        return Err(format!(
            "only {}/{} clients connected; first error: {}",
            conns.len(),
            o.clients,
            errors.first().map(String::as_str).unwrap_or("?")
        ));
    }
    let (stop_tx, stop_rx) = watch::channel(false);
    let tasks: Vec<_> = conns
        .into_iter()
        .map(|ws| tokio::spawn(client(ws, sh.clone(), stop_rx.clone())))
        .collect();

    tokio::time::sleep(Duration::from_secs_f64(o.warmup)).await;
    let cpu0 = CpuSnap::take(ctx.server_pid);
    let t0 = Instant::now();
    sh.measuring.store(true, Ordering::Relaxed);
    tokio::time::sleep(Duration::from_secs_f64(o.duration)).await;
    sh.measuring.store(false, Ordering::Relaxed);
    let window = t0.elapsed().as_secs_f64();
    let cpu1 = CpuSnap::take(ctx.server_pid);
    let _ = stop_tx.send(true);

    let mut hist = new_hist();
    let (mut acks, mut bad, mut unexpected, mut died, mut hung) = (0u64, 0u64, 0u64, 0u64, 0u64);
    for t in tasks {
        match tokio::time::timeout(Duration::from_secs(5), t).await {
            Ok(Ok(st)) => {
                acks += st.acks;
                bad += st.bad;
                unexpected += st.unexpected;
                died += st.died as u64;
                if let Some(h) = &st.hist {
                    hist.add(h).ok();
                }
            }
            _ => hung += 1,
        }
    }

    let mut m = ctx.base_json();
    m.insert("clients".into(), json!(o.clients));
    m.insert("warmup_s".into(), json!(o.warmup));
    m.insert("window_s".into(), r3(Some(window)));
    m.insert("msgs".into(), json!(acks));
    m.insert("msg_unit".into(), json!(if o.raw { "echo" } else { "ack" }));
    m.insert("rate".into(), r3(Some(acks as f64 / window)));
    m.insert("acks_per_s".into(), r3(Some(acks as f64 / window)));
    m.insert("lat_us".into(), lat_json(&hist));
    ctx.cpu_json(&mut m, &cpu0, &cpu1, acks);
    m.insert("bad_payloads".into(), json!(bad));
    m.insert("unexpected_msgs".into(), json!(unexpected));
    m.insert("clients_died".into(), json!(died));
    m.insert("clients_hung".into(), json!(hung));
    m.insert("ok".into(), json!(acks > 0 && bad == 0 && died == 0 && hung == 0));
    Ok(m)
}
