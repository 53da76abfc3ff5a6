//! `summarize`: read JSON lines written by the scenarios and print, per
//! scenario and size, the median of each metric for every server label, and
//! the ratio ours/socketioxide.

use std::collections::BTreeMap;

use serde_json::Value;

/// (metric key as a JSON pointer, column title, higher-is-better)
const METRICS: &[(&str, &str, bool)] = &[
    ("/rate", "rate/s", true),
    ("/lat_us/p50", "p50 us", false),
    ("/lat_us/p99", "p99 us", false),
    ("/server_cpu_s_per_1k_msgs", "srv cpu ms/1k", false),
    ("/rss_per_conn_bytes", "rss B/conn", false),
];

fn median(mut v: Vec<f64>) -> Option<f64> {
    if v.is_empty() {
        return None;
    }
    v.sort_by(f64::total_cmp);
    let n = v.len();
    Some(if n % 2 == 1 { v[n / 2] } else { (v[n / 2 - 1] + v[n / 2]) / 2.0 })
}

fn fmt(v: Option<f64>) -> String {
    match v {
        None => "-".into(),
        Some(x) if x.abs() >= 1000.0 => format!("{x:.0}"),
        Some(x) if x.abs() >= 10.0 => format!("{x:.1}"),
        Some(x) => format!("{x:.3}"),
    }
}

/// Returns the process exit code.
pub fn run(files: &[String]) -> i32 {
    // (scenario, size) -> label -> metric -> values
    type Runs = BTreeMap<String, BTreeMap<&'static str, Vec<f64>>>;
    let mut groups: BTreeMap<(String, u64), Runs> = BTreeMap::new();
    let mut not_ok: BTreeMap<(String, u64, String), usize> = BTreeMap::new();
    let mut labels_seen: Vec<String> = Vec::new();
    let mut disturbed: Vec<String> = Vec::new();
    for f in files {
        let Ok(text) = std::fs::read_to_string(f) else {
            eprintln!("cannot read {f}");
            return 1;
        };
        for line in text.lines().filter(|l| l.trim_start().starts_with('{')) {
            let Ok(v) = serde_json::from_str::<Value>(line) else { continue };
            let mut scen = v["scenario"].as_str().unwrap_or("?").to_string();
            if v["transport"] == "polling" {
                scen.push_str("/polling");
            }
            let size = v["size"].as_u64().unwrap_or(0);
            let label = v["label"].as_str().unwrap_or("?").to_string();
            if !labels_seen.contains(&label) {
                labels_seen.push(label.clone());
            }
            if v.get("error").is_some() || v["ok"] != Value::Bool(true) {
                *not_ok.entry((scen.clone(), size, label.clone())).or_default() += 1;
                if v.get("error").is_some() {
                    continue;
                }
            }
            // Flag runs where other processes used >10% of the machine's CPU.
            if let (Some(other), Some(win), Some(cpus)) =
                (v["other_cpu_s"].as_f64(), v["window_s"].as_f64(), v["cpus"].as_f64())
                && win > 0.0
                && other / (win * cpus) > 0.10
            {
                disturbed.push(format!(
                    "{scen} size {size} {label}: other processes used {:.0}% of the CPU",
                    100.0 * other / (win * cpus)
                ));
            }
            let runs = groups.entry((scen, size)).or_default().entry(label).or_default();
            for (ptr, _, _) in METRICS {
                if let Some(x) = v.pointer(ptr).and_then(Value::as_f64) {
                    let x = if *ptr == "/server_cpu_s_per_1k_msgs" { x * 1000.0 } else { x };
                    runs.entry(ptr).or_default().push(x);
                }
            }
            runs.entry("n").or_default().push(1.0);
        }
    }
    // Column order: ours, socketioxide, raw, then anything else.
    let mut labels: Vec<String> = ["ours", "socketioxide", "raw"]
        .iter()
        .map(|s| s.to_string())
        .filter(|l| labels_seen.contains(l))
        .collect();
    labels.extend(labels_seen.iter().filter(|l| !labels.contains(l)).cloned().collect::<Vec<_>>());

    let mut header = format!("{:<18} {:>5}  {:<14}", "scenario", "size", "metric");
    for l in &labels {
        header += &format!(" {:>14}", format!("{l} (med)"));
    }
    header += &format!(" {:>16}", "ours/socketioxide");
    println!("{header}");
    println!("{}", "-".repeat(header.len()));
    for ((scen, size), by_label) in &groups {
        let runs: Vec<String> = labels
            .iter()
            .map(|l| by_label.get(l).and_then(|m| m.get("n")).map_or(0, Vec::len).to_string())
            .collect();
        for (ptr, title, higher_better) in METRICS {
            let meds: Vec<Option<f64>> = labels
                .iter()
                .map(|l| by_label.get(l).and_then(|m| m.get(ptr)).and_then(|v| median(v.clone())))
                .collect();
            if meds.iter().all(Option::is_none) {
                continue;
            }
            let mut row = format!("{scen:<18} {size:>5}  {title:<14}");
            for m in &meds {
                row += &format!(" {:>14}", fmt(*m));
            }
            let get = |l: &str| labels.iter().position(|x| x == l).and_then(|i| meds[i]);
            let ratio = match (get("ours"), get("socketioxide")) {
                (Some(a), Some(b)) if b != 0.0 => {
                    let r = a / b;
                    let better = if *higher_better { r > 1.0 } else { r < 1.0 };
                    format!("{r:.2}x {}", if better { "(better)" } else { "(worse) " })
                }
                _ => "-".into(),
            };
            row += &format!(" {ratio:>16}");
            println!("{row}");
        }
        let spread: Vec<String> = labels
            .iter()
            .map(|l| match by_label.get(l).and_then(|m| m.get("/rate")) {
                Some(v) if !v.is_empty() => {
                    let lo = v.iter().copied().fold(f64::INFINITY, f64::min);
                    let hi = v.iter().copied().fold(f64::NEG_INFINITY, f64::max);
                    format!("{:>14}", format!("{}..{}", fmt(Some(lo)), fmt(Some(hi))))
                }
                _ => format!("{:>14}", "-"),
            })
            .collect();
        println!("{:<18} {:>5}  {:<14} {}", "", "", "rate min..max", spread.join(" "));
        println!("{:<18} {:>5}  {:<14} {}", "", "", "runs", runs.iter().map(|r| format!("{r:>14}")).collect::<Vec<_>>().join(" "));
    }
    println!();
    println!("rate/s: acks/s (echo), deliveries/s to receivers (broadcast), connections/s (connect);");
    println!("p50/p99: ack round trip, send-to-delivery fan-out, or handshake latency;");
    println!("srv cpu ms/1k: server utime+stime per 1000 msgs (= us per msg); rss B/conn: VmRSS growth per held connection.");
    println!("Medians over runs; ratio = ours/socketioxide (higher is better for rate, lower for the rest).");
    if !disturbed.is_empty() {
        println!();
        println!("WARNING: {} run(s) shared the machine with other load (numbers less trustworthy):", disturbed.len());
        for d in &disturbed {
            println!("  {d}");
        }
    }
    if !not_ok.is_empty() {
        println!();
        for ((scen, size, label), n) in &not_ok {
            println!("WARNING: {n} {label} run(s) of {scen} size {size} not ok (errors, lost messages or dead clients): see the JSON lines");
        }
    }
    0
}
