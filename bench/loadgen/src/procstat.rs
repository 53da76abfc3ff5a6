//! Reading a process's CPU time and RSS from `/proc`, and finding the process
//! that listens on a TCP port.

use std::fs;

/// Clock ticks per second (`getconf CLK_TCK`), 100 on every usual Linux.
pub fn clk_tck() -> f64 {
    std::process::Command::new("getconf")
        .arg("CLK_TCK")
        .output()
        .ok()
        .and_then(|o| String::from_utf8(o.stdout).ok())
        .and_then(|s| s.trim().parse::<f64>().ok())
        .filter(|v| *v > 0.0)
        .unwrap_or(100.0)
}

/// utime + stime of `pid` (or `self`) in clock ticks, from `/proc/<pid>/stat`.
pub fn cpu_ticks(pid: Option<u32>) -> Option<u64> {
    let path = match pid {
        Some(p) => format!("/proc/{p}/stat"),
        None => "/proc/self/stat".to_string(),
    };
    let stat = fs::read_to_string(path).ok()?;
    // The command name (field 2) is in parentheses and may contain spaces;
    // everything after the last ')' starts at field 3 (state).
    let rest = &stat[stat.rfind(')')? + 1..];
    let fields: Vec<&str> = rest.split_whitespace().collect();
    // utime is field 14 and stime field 15 (1-based) => indices 11 and 12 here.
    let utime: u64 = fields.get(11)?.parse().ok()?;
    let stime: u64 = fields.get(12)?.parse().ok()?;
    Some(utime + stime)
}

/// VmRSS of `pid` in KiB, from `/proc/<pid>/status`.
pub fn rss_kb(pid: u32) -> Option<u64> {
    let status = fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.split_whitespace().next())
        .and_then(|v| v.parse().ok())
}

/// Busy time of the whole machine in clock ticks (all CPUs), from the `cpu`
/// line of `/proc/stat`: user + nice + system + irq + softirq + steal.
pub fn system_busy_ticks() -> Option<u64> {
    let stat = fs::read_to_string("/proc/stat").ok()?;
    let line = stat.lines().find(|l| l.starts_with("cpu "))?;
    let v: Vec<u64> = line.split_whitespace().skip(1).filter_map(|x| x.parse().ok()).collect();
    // user nice system idle iowait irq softirq steal ...
    Some(v.first()? + v.get(1)? + v.get(2)? + v.get(5)? + v.get(6)? + v.get(7).unwrap_or(&0))
}

/// A CPU-time snapshot of the server, of this load generator and of the machine.
#[derive(Debug, Clone, Copy)]
pub struct CpuSnap {
    pub server: Option<u64>,
    pub client: Option<u64>,
    pub system: Option<u64>,
}

/// Seconds of CPU between two tick counters.
fn dsecs(a: Option<u64>, b: Option<u64>, tck: f64) -> Option<f64> {
    match (a, b) {
        (Some(a), Some(b)) => Some(b.saturating_sub(a) as f64 / tck),
        _ => None,
    }
}

impl CpuSnap {
    pub fn take(server_pid: Option<u32>) -> Self {
        Self {
            server: server_pid.and_then(|p| cpu_ticks(Some(p))),
            client: cpu_ticks(None),
            system: system_busy_ticks(),
        }
    }

    /// (server seconds, client seconds) spent between `self` and `later`.
    pub fn delta_secs(&self, later: &CpuSnap, tck: f64) -> (Option<f64>, Option<f64>) {
        (dsecs(self.server, later.server, tck), dsecs(self.client, later.client, tck))
    }

    /// CPU seconds the rest of the machine (neither server nor load generator)
    /// used between `self` and `later`: interference from other work.
    pub fn other_secs(&self, later: &CpuSnap, tck: f64) -> Option<f64> {
        let (srv, cli) = self.delta_secs(later, tck);
        let sys = dsecs(self.system, later.system, tck)?;
        Some((sys - srv.unwrap_or(0.0) - cli?).max(0.0))
    }
}

/// The pid of the process holding a socket that listens on 127.0.0.1/0.0.0.0/[::]:`port`.
pub fn find_pid_by_port(port: u16) -> Option<u32> {
    let mut inodes = Vec::new();
    for table in ["/proc/net/tcp", "/proc/net/tcp6"] {
        let Ok(text) = fs::read_to_string(table) else { continue };
        for line in text.lines().skip(1) {
            let f: Vec<&str> = line.split_whitespace().collect();
            if f.len() < 10 || f[3] != "0A" {
                continue; // 0A = TCP_LISTEN
            }
            let Some((_, port_hex)) = f[1].rsplit_once(':') else { continue };
            if u16::from_str_radix(port_hex, 16).ok() == Some(port) {
                inodes.push(format!("socket:[{}]", f[9]));
            }
        }
    }
    if inodes.is_empty() {
        return None;
    }
    let me = std::process::id();
    for entry in fs::read_dir("/proc").ok()?.flatten() {
        let Some(pid) = entry.file_name().to_str().and_then(|s| s.parse::<u32>().ok()) else {
            continue;
        };
        if pid == me {
            continue;
        }
        let Ok(fds) = fs::read_dir(entry.path().join("fd")) else { continue };
        for fd in fds.flatten() {
            if let Ok(target) = fs::read_link(fd.path())
                && inodes.iter().any(|i| target.as_os_str() == i.as_str())
            {
                return Some(pid);
            }
        }
    }
    None
}
