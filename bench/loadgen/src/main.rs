//! `socketio-ns-bench`: a load generator speaking Engine.IO v4 + Socket.IO v5
//! over WebSocket, for comparing Socket.IO servers that implement the shared
//! benchmark contract (see `bench/README.md`).
//!
//! ```text
//! socketio-ns-bench <connect|echo|broadcast> [options]   # one JSON line on stdout
//! socketio-ns-bench summarize <results.jsonl>...         # medians + ratio table
//! ```

mod broadcast;
mod connect;
mod echo;
mod poll;
mod procstat;
mod proto;
mod summarize;

use std::time::{Duration, Instant};

use hdrhistogram::Histogram;
use serde_json::{Value, json};

const USAGE: &str = "\
usage: socketio-ns-bench <connect|echo|broadcast> [options]
       socketio-ns-bench summarize <results.jsonl>...

options:
  --url URL            server base URL (default ws://127.0.0.1:3000); the
                       Engine.IO path /socket.io/?EIO=4&transport=websocket is
                       appended unless the URL already has a path
  --namespace NSP      Socket.IO namespace (default /bench)
  --server-pid PID     server process for CPU/RSS (default: whoever listens on the URL's port)
  --clients N          connect: measured connections (default 1000)
                       echo: closed-loop clients (default 10)
                       broadcast: receivers, plus one extra sender (default 100)
  --duration S         measured window in seconds (default 5; echo, broadcast)
  --warmup S           warm-up before the window, excluded (default 2; echo, broadcast)
  --concurrency C      connect: handshakes in flight (default 100)
                       echo: requests in flight per client (default 1)
                       broadcast: broadcasts in flight (default 16)
  --payload-bytes B    payload string length (default 64)
  --hold S             connect: idle hold before measuring RSS (default 3)
  --warmup-conns N     connect: connections opened and held before the
                       measured ones (default min(100, clients))
  --transport T        websocket (default) or polling (Engine.IO long-polling:
                       one keep-alive HTTP connection for GETs, one for POSTs)
  --raw                echo: plain WebSocket echo, no Socket.IO framing (bench-raw-ws)
  --label NAME         copied into the JSON line (e.g. ours, socketioxide, raw)
  --receiver-urls U,.. broadcast: spread the receivers round-robin over these
                       server URLs (several processes of one cluster); the
                       sender stays on --url
  --other-pids P,..    CPU of these processes too (other cluster members),
                       reported as other_servers_cpu_s
  --threads T          client tokio worker threads (default: tokio's default)
";

/// Parsed command line.
#[derive(Debug, Clone)]
pub struct Opts {
    pub scenario: String,
    pub url: String,
    pub namespace: String,
    pub server_pid: Option<u32>,
    pub clients: usize,
    pub duration: f64,
    pub warmup: f64,
    pub concurrency: usize,
    pub payload_bytes: usize,
    pub hold: f64,
    pub warmup_conns: usize,
    pub raw: bool,
    pub transport: proto::Transport,
    pub label: String,
    pub threads: Option<usize>,
    pub receiver_urls: Vec<String>,
    pub other_pids: Vec<u32>,
}

fn die(msg: &str) -> ! {
    eprintln!("error: {msg}\n\n{USAGE}");
    std::process::exit(2)
}

fn parse_args(args: Vec<String>) -> Opts {
    let scenario = args.first().cloned().unwrap_or_else(|| die("missing scenario"));
    if !matches!(scenario.as_str(), "connect" | "echo" | "broadcast") {
        die(&format!("unknown scenario {scenario:?}"));
    }
    let mut clients = None;
    let mut concurrency = None;
    let mut warmup_conns = None;
    let mut o = Opts {
        scenario: scenario.clone(),
        url: "ws://127.0.0.1:3000".into(),
        namespace: "/bench".into(),
        server_pid: None,
        clients: 0,
        duration: 5.0,
        warmup: 2.0,
        concurrency: 0,
        payload_bytes: 64,
        hold: 3.0,
        warmup_conns: 0,
        raw: false,
        transport: proto::Transport::WebSocket,
        label: String::new(),
        threads: None,
        receiver_urls: Vec::new(),
        other_pids: Vec::new(),
    };
    let mut it = args.into_iter().skip(1);
    while let Some(flag) = it.next() {
        if flag == "--raw" {
            o.raw = true;
            continue;
        }
        if flag == "-h" || flag == "--help" {
            print!("{USAGE}");
            std::process::exit(0);
        }
        let val = it.next().unwrap_or_else(|| die(&format!("{flag} needs a value")));
        fn num<T: std::str::FromStr>(flag: &str, v: &str) -> T {
            v.parse().unwrap_or_else(|_| die(&format!("bad value for {flag}: {v:?}")))
        }
        match flag.as_str() {
            "--url" => o.url = val,
            "--namespace" => o.namespace = val,
            "--server-pid" => o.server_pid = Some(num(&flag, &val)),
            "--clients" => clients = Some(num(&flag, &val)),
            "--duration" => o.duration = num(&flag, &val),
            "--warmup" => o.warmup = num(&flag, &val),
            "--concurrency" => concurrency = Some(num(&flag, &val)),
            "--payload-bytes" => o.payload_bytes = num(&flag, &val),
            "--hold" => o.hold = num(&flag, &val),
            "--warmup-conns" => warmup_conns = Some(num(&flag, &val)),
            "--label" => o.label = val,
            "--transport" => {
                o.transport = match val.as_str() {
                    "websocket" => proto::Transport::WebSocket,
                    "polling" => proto::Transport::Polling,
                    _ => die(&format!("bad value for --transport: {val:?}")),
                }
            }
            "--threads" => o.threads = Some(num(&flag, &val)),
            "--receiver-urls" => {
                o.receiver_urls = val.split(',').filter(|u| !u.is_empty()).map(str::to_owned).collect()
            }
            "--other-pids" => o.other_pids = val.split(',').map(|p| num(&flag, p)).collect(),
            _ => die(&format!("unknown option {flag}")),
        }
    }
    let (def_clients, def_conc) = match scenario.as_str() {
        "connect" => (1000, 100),
        "echo" => (10, 1),
        _ => (100, 16),
    };
    o.clients = clients.unwrap_or(def_clients).max(1);
    o.concurrency = concurrency.unwrap_or(def_conc).max(1);
    o.warmup_conns = warmup_conns.unwrap_or(o.clients.min(100));
    if !o.receiver_urls.is_empty() && scenario != "broadcast" {
        die("--receiver-urls is only for the broadcast scenario");
    }
    if o.raw && scenario != "echo" {
        die("--raw is only for the echo scenario");
    }
    if o.raw && o.transport == proto::Transport::Polling {
        die("--raw is WebSocket only");
    }
    if o.label.is_empty() {
        o.label = if o.raw { "raw".into() } else { "server".into() };
    }
    o
}

/// The port of a `ws://host:port/...` URL.
fn url_port(url: &str) -> Option<u16> {
    let rest = url.split_once("://")?.1;
    let hostport = rest.split('/').next()?;
    let port = hostport.rsplit_once(':')?.1;
    port.parse().ok()
}

/// A latency histogram in microseconds.
pub fn new_hist() -> Histogram<u64> {
    Histogram::new_with_bounds(1, 120_000_000, 3).expect("histogram bounds")
}

/// Record `d` (as microseconds, at least 1) into `h`.
pub fn record(h: &mut Histogram<u64>, d: Duration) {
    h.saturating_record((d.as_micros() as u64).max(1));
}

/// `{"p50":..,"p99":..,"max":..}` in microseconds (nulls for an empty histogram).
pub fn lat_json(h: &Histogram<u64>) -> Value {
    if h.is_empty() {
        return json!({"p50": null, "p90": null, "p99": null, "max": null, "mean": null, "count": 0});
    }
    json!({
        "p50": h.value_at_quantile(0.50),
        "p90": h.value_at_quantile(0.90),
        "p99": h.value_at_quantile(0.99),
        "max": h.max(),
        "mean": (h.mean() * 10.0).round() / 10.0,
        "count": h.len(),
    })
}

/// Round to 3 decimals for the JSON line (`null` stays `null`).
pub fn r3(v: Option<f64>) -> Value {
    match v {
        Some(x) if x.is_finite() => json!((x * 1000.0).round() / 1000.0),
        _ => Value::Null,
    }
}

/// Per-run context shared by every scenario.
#[derive(Debug, Clone)]
pub struct Ctx {
    pub opts: Opts,
    pub engine_url: String,
    pub prefix: String,
    pub server_pid: Option<u32>,
    pub tck: f64,
    pub started: Instant,
}

impl Ctx {
    /// The fields every JSON line starts with.
    pub fn base_json(&self) -> serde_json::Map<String, Value> {
        let o = &self.opts;
        let mut m = serde_json::Map::new();
        m.insert("scenario".into(), json!(o.scenario));
        m.insert("label".into(), json!(o.label));
        m.insert("raw".into(), json!(o.raw));
        m.insert("url".into(), json!(o.url));
        m.insert("namespace".into(), json!(o.namespace));
        m.insert("server_pid".into(), json!(self.server_pid));
        m.insert("size".into(), json!(o.clients));
        m.insert("concurrency".into(), json!(o.concurrency));
        m.insert("payload_bytes".into(), json!(o.payload_bytes));
        m.insert(
            "transport".into(),
            json!(if o.transport == proto::Transport::Polling { "polling" } else { "websocket" }),
        );
        if !o.receiver_urls.is_empty() {
            m.insert("receiver_urls".into(), json!(o.receiver_urls));
        }
        m
    }

    /// Fill in the CPU fields for `msgs` messages measured between two snapshots.
    pub fn cpu_json(
        &self,
        m: &mut serde_json::Map<String, Value>,
        before: &procstat::CpuSnap,
        after: &procstat::CpuSnap,
        msgs: u64,
    ) {
        let (srv, cli) = before.delta_secs(after, self.tck);
        let per_k = |c: Option<f64>| c.filter(|_| msgs > 0).map(|c| c / (msgs as f64 / 1000.0));
        m.insert("server_cpu_s".into(), r3(srv));
        m.insert("server_cpu_s_per_1k_msgs".into(), per_k(srv).map_or(Value::Null, |v| json!((v * 1e6).round() / 1e6)));
        m.insert("client_cpu_s".into(), r3(cli));
        m.insert("client_cpu_s_per_1k_msgs".into(), per_k(cli).map_or(Value::Null, |v| json!((v * 1e6).round() / 1e6)));
        // Interference: CPU used by everything else on the machine meanwhile.
        m.insert("other_cpu_s".into(), r3(before.other_secs(after, self.tck)));
        m.insert(
            "cpus".into(),
            json!(std::thread::available_parallelism().map(|n| n.get()).unwrap_or(1)),
        );
        m.insert(
            "loadavg".into(),
            json!(std::fs::read_to_string("/proc/loadavg").ok().and_then(|s| s.split_whitespace().next().map(str::to_string))),
        );
    }
}

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    if args.first().map(String::as_str) == Some("summarize") {
        if args.len() < 2 {
            die("summarize needs at least one results file");
        }
        std::process::exit(summarize::run(&args[1..]));
    }
    if args.is_empty() || args[0] == "-h" || args[0] == "--help" {
        print!("{USAGE}");
        std::process::exit(if args.is_empty() { 2 } else { 0 });
    }
    let opts = parse_args(args);

    let server_pid = opts.server_pid.or_else(|| url_port(&opts.url).and_then(procstat::find_pid_by_port));
    if server_pid.is_none() {
        eprintln!("warning: server pid not found (pass --server-pid); CPU/RSS fields will be null");
    }
    let engine_url = if opts.raw { opts.url.clone() } else { proto::engine_url(&opts.url) };
    let ctx = Ctx {
        prefix: proto::nsp_prefix(&opts.namespace),
        engine_url,
        server_pid,
        tck: procstat::clk_tck(),
        started: Instant::now(),
        opts,
    };

    let mut rt = tokio::runtime::Builder::new_multi_thread();
    rt.enable_all();
    if let Some(t) = ctx.opts.threads {
        rt.worker_threads(t.max(1));
    }
    let rt = rt.build().expect("tokio runtime");
    let result = rt.block_on(async {
        match ctx.opts.scenario.as_str() {
            "connect" => connect::run(&ctx).await,
            "echo" => echo::run(&ctx).await,
            _ => broadcast::run(&ctx).await,
        }
    });
    // Do not wait for lingering connection tasks.
    rt.shutdown_timeout(Duration::from_millis(200));
    match result {
        Ok(line) => {
            println!("{}", Value::Object(line));
        }
        Err(e) => {
            eprintln!("error: {e}");
            let mut m = ctx.base_json();
            m.insert("error".into(), json!(e));
            println!("{}", Value::Object(m));
            std::process::exit(1);
        }
    }
}
