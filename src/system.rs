//! Host figures for the dashboard and metrics, read from /proc (Linux): CPU use since the
//! previous sample, memory, this process's RSS and open files, network counters.

use std::sync::Mutex;

/// CPU jiffies (busy, total) at the previous `cpu_percent` call.
static LAST_CPU: Mutex<Option<(u64, u64)>> = Mutex::new(None);

/// Whole-machine CPU use in percent since the previous call (0 on the first call).
pub fn cpu_percent() -> f64 {
    let Some((busy, total)) = read_cpu() else {
        return 0.0;
    };
    let Ok(mut last) = LAST_CPU.lock() else {
        return 0.0;
    };
    let pct = match *last {
        Some((b0, t0)) if total > t0 => {
            (busy.saturating_sub(b0)) as f64 * 100.0 / (total - t0) as f64
        }
        _ => 0.0,
    };
    *last = Some((busy, total));
    pct
}

fn read_cpu() -> Option<(u64, u64)> {
    let stat = std::fs::read_to_string("/proc/stat").ok()?;
    let line = stat.lines().next()?.strip_prefix("cpu ")?;
    let v: Vec<u64> = line
        .split_whitespace()
        .filter_map(|x| x.parse().ok())
        .collect();
    let total: u64 = v.iter().sum();
    // idle + iowait are not busy.
    let idle = v.get(3).copied().unwrap_or(0) + v.get(4).copied().unwrap_or(0);
    Some((total - idle, total))
}

/// (total, available) memory in bytes.
pub fn memory() -> Option<(u64, u64)> {
    let info = std::fs::read_to_string("/proc/meminfo").ok()?;
    let field = |name: &str| {
        info.lines()
            .find_map(|l| l.strip_prefix(name))
            .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<u64>().ok())
            .map(|kib| kib * 1024)
    };
    Some((field("MemTotal:")?, field("MemAvailable:")?))
}

/// This process's resident set size in bytes.
pub fn rss_bytes() -> Option<u64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<u64>().ok())
        .map(|kib| kib * 1024)
}

/// Open file descriptors of this process, and its soft limit.
pub fn fd_usage() -> (u64, Option<u64>) {
    let open = std::fs::read_dir("/proc/self/fd")
        .map(|d| d.count() as u64)
        .unwrap_or(0);
    let limit = nix::sys::resource::getrlimit(nix::sys::resource::Resource::RLIMIT_NOFILE)
        .ok()
        .map(|(soft, _)| soft);
    (open, limit)
}

/// Bytes (received, sent) on every interface but loopback.
pub fn network_bytes() -> (u64, u64) {
    let Ok(dev) = std::fs::read_to_string("/proc/net/dev") else {
        return (0, 0);
    };
    dev.lines()
        .skip(2)
        .filter_map(|l| l.split_once(':'))
        .filter(|(iface, _)| iface.trim() != "lo")
        .fold((0, 0), |(rx, tx), (_, counters)| {
            let v: Vec<u64> = counters
                .split_whitespace()
                .filter_map(|x| x.parse().ok())
                .collect();
            (
                rx + v.first().copied().unwrap_or(0),
                tx + v.get(8).copied().unwrap_or(0),
            )
        })
}

/// Seconds since boot.
pub fn uptime_seconds() -> f64 {
    std::fs::read_to_string("/proc/uptime")
        .ok()
        .and_then(|s| s.split_whitespace().next()?.parse().ok())
        .unwrap_or(0.0)
}

pub fn hostname() -> String {
    nix::unistd::gethostname()
        .map(|h| h.to_string_lossy().into_owned())
        .unwrap_or_default()
}

/// A child process of ours, as `/proc` shows it.
#[derive(Debug, Clone)]
pub struct ChildProcess {
    pub pid: i32,
    pub name: String,
    /// User + system CPU time since it started.
    pub cpu_seconds: f64,
    pub rss_bytes: u64,
    /// How long it has run.
    pub age_seconds: f64,
}

/// Our direct children named `name` (`ffmpeg`), from `/proc/*/stat`; empty off Linux.
pub fn children_named(name: &str) -> Vec<ChildProcess> {
    let me = std::process::id() as i32;
    // Clock ticks per second in /proc: USER_HZ, 100 on every Linux we build for.
    let ticks = 100.0;
    let boot_age = uptime_seconds();
    let Ok(dir) = std::fs::read_dir("/proc") else {
        return Vec::new();
    };
    let mut out = Vec::new();
    for entry in dir.flatten() {
        let Some(pid) = entry
            .file_name()
            .to_str()
            .and_then(|p| p.parse::<i32>().ok())
        else {
            continue;
        };
        let Ok(stat) = std::fs::read_to_string(format!("/proc/{pid}/stat")) else {
            continue;
        };
        // "pid (comm) state ppid …": the name may hold spaces, so split at the last ')'.
        let (Some(open), Some(close)) = (stat.find('('), stat.rfind(')')) else {
            continue;
        };
        let comm = &stat[open + 1..close];
        let fields: Vec<&str> = stat[close + 1..].split_whitespace().collect();
        let field = |n: usize| fields.get(n - 3).and_then(|f| f.parse::<f64>().ok());
        if comm != name || field(4) != Some(f64::from(me)) {
            continue;
        }
        let cpu = field(14).unwrap_or(0.0) + field(15).unwrap_or(0.0);
        let started = field(22).unwrap_or(0.0) / ticks;
        out.push(ChildProcess {
            pid,
            name: comm.to_string(),
            cpu_seconds: cpu / ticks,
            rss_bytes: status_kib(pid, "VmRSS:").unwrap_or(0) * 1024,
            age_seconds: (boot_age - started).max(0.0),
        });
    }
    out.sort_by_key(|c| c.pid);
    out
}

fn status_kib(pid: i32, key: &str) -> Option<u64> {
    let text = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    let line = text.lines().find(|l| l.starts_with(key))?;
    line[key.len()..]
        .trim()
        .trim_end_matches("kB")
        .trim()
        .parse()
        .ok()
}
