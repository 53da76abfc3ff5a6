//! `broadcast`: N receivers and one sender, all in the same namespace.
//!
//! The sender emits `42<nsp>,["broadcast","<seq>,<t_us>,<padding>"]`; the
//! server re-emits it to every socket of the namespace (sender included).
//! `t_us` is the send time in microseconds since this process's start (one
//! clock for all tasks), so each receiver's fan-out latency is `now - t_us`.
//!
//! Flow control is a closed loop with a window: at most `--concurrency`
//! broadcasts are in flight, and a broadcast leaves the window when *every*
//! receiver has got it (a per-seq delivery counter; the receiver that
//! completes a seq tells the sender). The sender's own copy is read and
//! discarded.
//!
//! Accounting: broadcasts sent during the measured window are
//! `[s0, s_end)`; after the window the sender stops and the run drains, and
//! `received` (deliveries of those seqs to receivers) is compared with
//! `expected = (s_end - s0) * receivers`.

use std::sync::Arc;
use std::sync::atomic::{AtomicU8, AtomicU32, AtomicU64, Ordering::*};
use std::time::{Duration, Instant};

use hdrhistogram::Histogram;
use serde_json::{Map, Value, json};
use tokio::sync::{mpsc, watch};
use tokio_tungstenite::tungstenite::Utf8Bytes;

use crate::proto::{self, Conn};
use crate::{Ctx, lat_json, new_hist, procstat::CpuSnap, r3};

const WARMUP: u8 = 0;
const MEASURING: u8 = 1;
const DRAINING: u8 = 2;
const UNSET: u64 = u64::MAX;
/// The sender gives up when nothing completed for this long.
const STALL: Duration = Duration::from_secs(3);

struct Shared {
    phase: AtomicU8,
    s0: AtomicU64,
    s_end: AtomicU64,
    next_seq: AtomicU64,
    ring: Vec<AtomicU32>,
    mask: u64,
    receivers: u32,
    deliveries_total: AtomicU64,
    received_measured: AtomicU64,
    base: Instant,
    prefix: String,
    padding: String,
    window: usize,
    done_tx: mpsc::UnboundedSender<u64>,
}

#[derive(Default)]
struct RecvStats {
    hist: Option<Histogram<u64>>,
    bad: u64,
    unexpected: u64,
    died: bool,
}

/// Parse `42<nsp>,["broadcast","<seq>,<t_us>,...` into `(seq, t_us)`.
fn parse_broadcast(text: &str, head: &str) -> Option<(u64, u64)> {
    let body = text.strip_prefix(head)?;
    let (seq, rest) = proto::leading_u64(body)?;
    let (t_us, _) = proto::leading_u64(rest.strip_prefix(',')?)?;
    Some((seq, t_us))
}

async fn receiver(mut ws: Conn, sh: Arc<Shared>, mut stop: watch::Receiver<bool>) -> RecvStats {
    let mut st = RecvStats::default();
    let mut hist = new_hist();
    let head = format!("42{}[\"broadcast\",\"", sh.prefix);
    loop {
        tokio::select! {
            biased;
            _ = stop.changed() => break,
            m = ws.recv() => {
                let Some(t) = m else { st.died = true; break; };
                let Some((seq, t_us)) = parse_broadcast(&t, &head) else {
                    if t.starts_with(head.as_str()) { st.bad += 1 } else { st.unexpected += 1 }
                    continue;
                };
                let now_us = sh.base.elapsed().as_micros() as u64;
                sh.deliveries_total.fetch_add(1, Relaxed);
                if seq >= sh.s0.load(Acquire) {
                    sh.received_measured.fetch_add(1, Relaxed);
                    hist.saturating_record(now_us.saturating_sub(t_us).max(1));
                }
                let c = sh.ring[(seq & sh.mask) as usize].fetch_add(1, AcqRel) + 1;
                if c == sh.receivers {
                    let _ = sh.done_tx.send(seq);
                }
            }
        }
    }
    st.hist = Some(hist);
    st
}

#[derive(Default)]
struct SendStats {
    own_copies: u64,
    stalled: bool,
    died: bool,
}

async fn sender(
    mut ws: Conn,
    sh: Arc<Shared>,
    mut done_rx: mpsc::UnboundedReceiver<u64>,
    mut stop: watch::Receiver<bool>,
) -> SendStats {
    let mut st = SendStats::default();
    let head = format!("42{}[\"broadcast\",\"", sh.prefix);
    let mut inflight = 0usize;
    let mut seq = 0u64;
    let mut stopping = false;
    let mut last_progress = Instant::now();
    let mut tick = tokio::time::interval(Duration::from_millis(500));
    loop {
        while !stopping && inflight < sh.window {
            let phase = sh.phase.load(Acquire);
            if phase == DRAINING {
                sh.s_end.store(seq, Release);
                stopping = true;
                break;
            }
            if phase == MEASURING && sh.s0.load(Relaxed) == UNSET {
                sh.s0.store(seq, Release);
            }
            sh.ring[(seq & sh.mask) as usize].store(0, Release);
            let t_us = sh.base.elapsed().as_micros() as u64;
            let msg = format!("{head}{seq},{t_us},{}\"]", sh.padding);
            if !ws.send(Utf8Bytes::from(msg)).await {
                st.died = true;
                return st;
            }
            seq += 1;
            sh.next_seq.store(seq, Release);
            inflight += 1;
        }
        tokio::select! {
            biased;
            _ = stop.changed() => break,
            Some(_) = done_rx.recv() => {
                inflight -= 1;
                last_progress = Instant::now();
            }
            m = ws.recv() => match m {
                Some(t) => {
                    if t.starts_with(head.as_str()) {
                        st.own_copies += 1;
                    }
                }
                None => { st.died = true; break; }
            },
            _ = tick.tick() => {
                if inflight > 0 && last_progress.elapsed() > STALL && !st.stalled {
                    st.stalled = true;
                    eprintln!("broadcast: no broadcast completed for {STALL:?} ({inflight} in flight); stalled");
                    // Stop sending; the window is stuck on lost deliveries.
                    if !stopping {
                        sh.s_end.store(seq, Release);
                        stopping = true;
                    }
                }
            }
        }
    }
    st
}

pub async fn run(ctx: &Ctx) -> Result<Map<String, Value>, String> {
    let o = &ctx.opts;
    let window = o.concurrency;
    let ring_len = (window * 4).next_power_of_two().max(64);
    let (done_tx, done_rx) = mpsc::unbounded_channel();
    let sh = Arc::new(Shared {
        phase: AtomicU8::new(WARMUP),
        s0: AtomicU64::new(UNSET),
        s_end: AtomicU64::new(UNSET),
        next_seq: AtomicU64::new(0),
        ring: (0..ring_len).map(|_| AtomicU32::new(0)).collect(),
        mask: ring_len as u64 - 1,
        receivers: o.clients as u32,
        deliveries_total: AtomicU64::new(0),
        received_measured: AtomicU64::new(0),
        base: ctx.started,
        prefix: ctx.prefix.clone(),
        padding: proto::padding(o.payload_bytes),
        window,
        done_tx,
    });

    // The sender on --url; the receivers on --url, or spread over --receiver-urls.
    let (mut senders, mut conn_hist, mut errors) =
        proto::connect_many(&ctx.engine_url, &ctx.prefix, false, 1, 1, o.transport).await;
    let urls: Vec<String> = if o.receiver_urls.is_empty() {
        vec![ctx.engine_url.clone()]
    } else {
        o.receiver_urls.iter().map(|u| proto::engine_url(u)).collect()
    };
    let mut receiver_conns = Vec::with_capacity(o.clients);
    for (i, url) in urls.iter().enumerate() {
        let n = o.clients / urls.len() + usize::from(i < o.clients % urls.len());
        let (conns, hist, errs) = proto::connect_many(url, &ctx.prefix, false, n, 64, o.transport).await;
        receiver_conns.extend(conns);
        conn_hist.add(&hist).ok();
        errors.extend(errs);
    }
    if senders.len() + receiver_conns.len() < o.clients + 1 {
        return Err(format!(
            "only {}/{} sockets connected; first error: {}",
            senders.len() + receiver_conns.len(),
            o.clients + 1,
            errors.first().map(String::as_str).unwrap_or("?")
        ));
    }
    let sender_ws = senders.pop().expect("sender connection");
    let conns = receiver_conns.into_iter();
    let (stop_tx, stop_rx) = watch::channel(false);
    let receivers: Vec<_> = conns
        .map(|ws| tokio::spawn(receiver(ws, sh.clone(), stop_rx.clone())))
        .collect();
    let sender_task = tokio::spawn(sender(sender_ws, sh.clone(), done_rx, stop_rx.clone()));

    tokio::time::sleep(Duration::from_secs_f64(o.warmup)).await;
    let cpu0 = CpuSnap::take(ctx.server_pid);
    let others0: Vec<Option<u64>> = o.other_pids.iter().map(|p| crate::procstat::cpu_ticks(Some(*p))).collect();
    let d0 = sh.deliveries_total.load(Acquire);
    let t0 = Instant::now();
    sh.phase.store(MEASURING, Release);
    tokio::time::sleep(Duration::from_secs_f64(o.duration)).await;
    sh.phase.store(DRAINING, Release);
    let window_s = t0.elapsed().as_secs_f64();
    let d1 = sh.deliveries_total.load(Acquire);
    let cpu1 = CpuSnap::take(ctx.server_pid);
    let others1: Vec<Option<u64>> = o.other_pids.iter().map(|p| crate::procstat::cpu_ticks(Some(*p))).collect();

    // Wait for the sender to publish the end of the measured seqs, then for
    // the in-flight broadcasts to drain.
    let drain_start = Instant::now();
    let mut s_end = sh.s_end.load(Acquire);
    while s_end == UNSET && drain_start.elapsed() < Duration::from_secs(5) {
        tokio::time::sleep(Duration::from_millis(2)).await;
        s_end = sh.s_end.load(Acquire);
    }
    if s_end == UNSET {
        s_end = sh.next_seq.load(Acquire);
    }
    let s0 = sh.s0.load(Acquire);
    let measured = if s0 == UNSET { 0 } else { s_end.saturating_sub(s0) };
    let expected = measured * o.clients as u64;
    while sh.received_measured.load(Acquire) < expected
        && drain_start.elapsed() < Duration::from_secs(10)
    {
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    let received = sh.received_measured.load(Acquire);
    let _ = stop_tx.send(true);

    let mut hist = new_hist();
    let (mut bad, mut unexpected, mut died, mut hung) = (0u64, 0u64, 0u64, 0u64);
    for t in receivers {
        match tokio::time::timeout(Duration::from_secs(5), t).await {
            Ok(Ok(st)) => {
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
    let snd = match tokio::time::timeout(Duration::from_secs(5), sender_task).await {
        Ok(Ok(s)) => s,
        _ => SendStats { died: true, ..Default::default() },
    };

    let deliveries = d1 - d0;
    let mut m = ctx.base_json();
    m.insert("receivers".into(), json!(o.clients));
    m.insert("window".into(), json!(window));
    m.insert("warmup_s".into(), json!(o.warmup));
    m.insert("window_s".into(), r3(Some(window_s)));
    m.insert("msgs".into(), json!(deliveries));
    m.insert("msg_unit".into(), json!("delivery"));
    m.insert("rate".into(), r3(Some(deliveries as f64 / window_s)));
    m.insert("deliveries_per_s".into(), r3(Some(deliveries as f64 / window_s)));
    m.insert("broadcasts".into(), json!(measured));
    m.insert("broadcasts_per_s".into(), r3(Some(measured as f64 / window_s)));
    m.insert("expected".into(), json!(expected));
    m.insert("received".into(), json!(received));
    m.insert("sender_own_copies".into(), json!(snd.own_copies));
    m.insert("lat_us".into(), lat_json(&hist));
    m.insert("connect_lat_us".into(), lat_json(&conn_hist));
    ctx.cpu_json(&mut m, &cpu0, &cpu1, deliveries);
    if !o.other_pids.is_empty() {
        let other: Vec<Value> = others0
            .iter()
            .zip(&others1)
            .map(|(a, b)| match (a, b) {
                (Some(a), Some(b)) => r3(Some(b.saturating_sub(*a) as f64 / ctx.tck)),
                _ => Value::Null,
            })
            .collect();
        m.insert("other_servers_cpu_s".into(), json!(other));
    }
    m.insert("bad_payloads".into(), json!(bad));
    m.insert("unexpected_msgs".into(), json!(unexpected));
    m.insert("clients_died".into(), json!(died + snd.died as u64));
    m.insert("clients_hung".into(), json!(hung));
    m.insert("stalled".into(), json!(snd.stalled));
    m.insert(
        "ok".into(),
        json!(measured > 0 && received == expected && bad == 0 && died == 0 && hung == 0 && !snd.stalled && !snd.died),
    );
    Ok(m)
}

#[cfg(test)]
mod tests {
    use super::parse_broadcast;

    #[test]
    fn broadcast_payload() {
        let head = "42/bench,[\"broadcast\",\"";
        assert_eq!(parse_broadcast("42/bench,[\"broadcast\",\"5,123456,xxxx\"]", head), Some((5, 123456)));
        assert_eq!(parse_broadcast("42/bench,[\"broadcast\",\"5;1\"]", head), None);
        assert_eq!(parse_broadcast("42/bench,[\"echo\",\"5,1,x\"]", head), None);
    }
}
