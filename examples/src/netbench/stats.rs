//! The clock, the measurement window, the latency histogram and the
//! per-connection counters that every mode fills.

use std::ops::AddAssign;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Mutex, PoisonError};
use std::time::{Duration, Instant};

use hdrhistogram::Histogram;

use super::wire::Framing;

/// Latencies above this are recorded as this (60 s).
const MAX_LATENCY_NS: u64 = 60_000_000_000;

/// netbench's clock: nanoseconds since the run began. One `Instant` base is
/// shared by every task, so a timestamp written by one connection can be
/// compared with a receipt time read by another (fan-out latency).
#[derive(Debug, Clone, Copy)]
pub(crate) struct Clock {
    base: Instant,
}

impl Clock {
    pub(crate) fn start() -> Self {
        Clock {
            base: Instant::now(),
        }
    }

    pub(crate) fn now_ns(&self) -> u64 {
        nanos(self.base.elapsed())
    }

    pub(crate) fn instant(&self, ns: u64) -> tokio::time::Instant {
        tokio::time::Instant::from_std(self.base + Duration::from_nanos(ns))
    }
}

pub(crate) fn nanos(d: Duration) -> u64 {
    u64::try_from(d.as_nanos()).unwrap_or(u64::MAX)
}

/// Everything a connection task needs, shared read-only (plus the shared
/// histogram and the live counter).
#[derive(Debug)]
pub(crate) struct Plan {
    pub(crate) framing: Framing,
    pub(crate) payload: usize,
    pub(crate) pipeline: usize,
    pub(crate) verify: bool,
    pub(crate) clock: Clock,
    /// Measurement starts here (the warm-up ends).
    pub(crate) window_start_ns: u64,
    /// Measurement ends here.
    pub(crate) window_end_ns: u64,
    /// Connections close here, a little after the window, so the server's
    /// memory can be read while they are all still open.
    pub(crate) stop_at: tokio::time::Instant,
    pub(crate) latency: Latency,
    /// Frames received so far (echo, fan-out) or connections closed (idle),
    /// warm-up included: for the progress bar only.
    pub(crate) live: AtomicU64,
}

impl Plan {
    pub(crate) fn in_window(&self, ns: u64) -> bool {
        (self.window_start_ns..self.window_end_ns).contains(&ns)
    }

    pub(crate) fn frame_len(&self) -> usize {
        self.framing.head_len(self.payload) + self.payload
    }

    pub(crate) fn add_live(&self, n: u64) {
        if n > 0 {
            self.live.fetch_add(n, Ordering::Relaxed);
        }
    }
}

/// Latency histograms in nanoseconds, 3 significant digits, sharded so that
/// connections rarely share a lock and memory does not grow with the number
/// of connections. A connection records a whole read's worth of samples
/// under one lock.
#[derive(Debug)]
pub(crate) struct Latency {
    shards: Box<[Mutex<Histogram<u64>>]>,
}

impl Latency {
    pub(crate) fn new(shards: usize) -> Self {
        let shards = (0..shards.max(1))
            .map(|_| Mutex::new(empty_histogram()))
            .collect();
        Latency { shards }
    }

    pub(crate) fn record(&self, conn: u32, samples: &[u64]) {
        if samples.is_empty() {
            return;
        }
        let shard = &self.shards[conn as usize % self.shards.len()];
        let mut histogram = shard.lock().unwrap_or_else(PoisonError::into_inner);
        for &ns in samples {
            histogram.saturating_record(ns);
        }
    }

    pub(crate) fn merged(&self) -> Histogram<u64> {
        let mut all = empty_histogram();
        for shard in self.shards.iter() {
            let shard = shard.lock().unwrap_or_else(PoisonError::into_inner);
            // Same bounds everywhere, so adding cannot fail.
            let _ = all.add(&*shard);
        }
        all
    }
}

fn empty_histogram() -> Histogram<u64> {
    // Static, valid bounds: 1 ns to 60 s at 3 significant digits.
    Histogram::new_with_bounds(1, MAX_LATENCY_NS, 3).unwrap_or_else(|_| unreachable!())
}

/// Counters of one connection, summed over all of them at the end.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub(crate) struct Totals {
    /// Connections that were established.
    pub(crate) connected: u64,
    /// Frames received inside the window (fan-out: deliveries).
    pub(crate) frames: u64,
    /// Frames sent inside the window.
    pub(crate) sent: u64,
    /// Connection failures, IO errors, early closes, unparseable frames.
    pub(crate) errors: u64,
    /// Frames that were not what was sent, or not in order.
    pub(crate) verify_failures: u64,
    /// Fan-out: frames a subscriber never got (gaps in a sender's sequence).
    pub(crate) lost: u64,
    /// Fan-out: times a publisher gave up waiting for its own frames.
    pub(crate) stalls: u64,
    /// Idle: connections still open at the end of the window.
    pub(crate) open: u64,
}

impl AddAssign for Totals {
    fn add_assign(&mut self, o: Totals) {
        self.connected += o.connected;
        self.frames += o.frames;
        self.sent += o.sent;
        self.errors += o.errors;
        self.verify_failures += o.verify_failures;
        self.lost += o.lost;
        self.stalls += o.stalls;
        self.open += o.open;
    }
}

/// Reads `VmRSS` of a process from `/proc/PID/status`, in KiB.
pub(crate) fn read_rss_kib(pid: u32) -> std::io::Result<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status"))?;
    parse_vm_rss_kib(&status).ok_or_else(|| {
        std::io::Error::new(
            std::io::ErrorKind::InvalidData,
            format!("no VmRSS line in /proc/{pid}/status"),
        )
    })
}

/// CPU time (user + system) a process has used so far, in seconds, from
/// `/proc/PID/stat` (`None`: this process). Resolution is the kernel's
/// USER_HZ tick, 10 ms on Linux.
pub(crate) fn read_cpu_seconds(pid: Option<u32>) -> std::io::Result<f64> {
    let path = pid.map_or_else(
        || "/proc/self/stat".to_owned(),
        |pid| format!("/proc/{pid}/stat"),
    );
    let stat = std::fs::read_to_string(&path)?;
    parse_cpu_ticks(&stat)
        .map(|ticks| ticks as f64 / USER_HZ)
        .ok_or_else(|| {
            std::io::Error::new(
                std::io::ErrorKind::InvalidData,
                format!("unexpected {path}"),
            )
        })
}

/// Linux reports `/proc` CPU times in USER_HZ ticks, 100 per second on every
/// architecture it supports.
const USER_HZ: f64 = 100.0;

fn parse_cpu_ticks(stat: &str) -> Option<u64> {
    // The command name (field 2) may hold spaces and parentheses: count
    // fields from the last ')'. utime and stime are fields 14 and 15.
    let mut rest = stat
        .get(stat.rfind(')')? + 1..)?
        .split_whitespace()
        .skip(11);
    let utime: u64 = rest.next()?.parse().ok()?;
    let stime: u64 = rest.next()?.parse().ok()?;
    Some(utime + stime)
}

fn parse_vm_rss_kib(status: &str) -> Option<u64> {
    let line = status.lines().find(|l| l.starts_with("VmRSS:"))?;
    line["VmRSS:".len()..]
        .split_whitespace()
        .next()?
        .parse()
        .ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn vm_rss_is_read_from_the_status_format() {
        let status = "Name:\tx\nVmPeak:\t  9000 kB\nVmRSS:\t    1234 kB\nThreads:\t2\n";
        assert_eq!(parse_vm_rss_kib(status), Some(1234));
        assert_eq!(parse_vm_rss_kib("Name:\tkernel thread\n"), None);
    }

    #[test]
    fn own_rss_and_cpu_are_readable_on_linux() {
        if cfg!(target_os = "linux") {
            assert!(read_rss_kib(std::process::id()).unwrap() > 0);
            assert!(read_cpu_seconds(None).unwrap() >= 0.0);
            read_cpu_seconds(Some(std::process::id())).unwrap();
        }
    }

    #[test]
    fn cpu_ticks_are_fields_14_and_15_even_with_odd_command_names() {
        let stat = "42 (a b) c)) S 1 42 42 0 -1 4194560 100 0 0 0 250 70 0 0 20 0 1 0";
        assert_eq!(parse_cpu_ticks(stat), Some(320));
        assert_eq!(parse_cpu_ticks("42 (x) S 1 2"), None);
    }

    #[test]
    fn shards_merge_into_one_histogram() {
        let latency = Latency::new(3);
        latency.record(0, &[1_000, 2_000]);
        latency.record(1, &[3_000]);
        latency.record(5, &[MAX_LATENCY_NS * 2]);
        let all = latency.merged();
        assert_eq!(all.len(), 4);
        assert!(all.max() >= MAX_LATENCY_NS / 1000 * 999);
        assert_eq!(all.value_at_quantile(0.5), all.highest_equivalent(2_000));
    }
}
