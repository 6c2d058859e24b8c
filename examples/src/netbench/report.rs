//! What a run measured, as one JSON object or as text for a person.

use std::fmt;
use std::net::SocketAddr;

use hdrhistogram::Histogram;
use serde::Serialize;

use super::stats::Totals;
use super::Mode;
use crate::flags::Header;

/// A report's `header`: the fixed header's size in bytes (a JSON number,
/// as before varint headers existed), or the string `"varint"`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(untagged)]
pub enum HeaderKind {
    /// A fixed header of this many bytes.
    Bytes(usize),
    /// A varint prefix: serialised as `"varint"`.
    Named(&'static str),
}

impl HeaderKind {
    /// What a run with `--header header` reports.
    pub fn of(header: Header) -> Self {
        match header {
            Header::Fixed(header) => HeaderKind::Bytes(header.bytes()),
            Header::Varint => HeaderKind::Named("varint"),
        }
    }
}

impl fmt::Display for HeaderKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            HeaderKind::Bytes(n) => write!(f, "{n}"),
            HeaderKind::Named(name) => f.write_str(name),
        }
    }
}

/// The result of one netbench run: its parameters and its figures.
///
/// Serialised (with `--json`) as one flat JSON object; fields that do not
/// apply to the mode are `null`. Rates are over the measurement window only
/// (the warm-up is excluded); MB is 10^6 bytes of payload received, headers
/// not counted.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Report {
    /// `echo`, `fanout` or `idle`.
    pub mode: Mode,
    /// The server address driven.
    pub addr: SocketAddr,
    /// Connections asked for.
    pub conns: u32,
    /// Connections established.
    pub connected: u64,
    /// Fan-out: connections that publish.
    pub publishers: Option<u32>,
    /// Payload bytes per frame.
    pub payload: usize,
    /// Frames in flight per connection (per publisher in fan-out).
    pub pipeline: u32,
    /// Length of the measurement window in seconds.
    pub duration_s: f64,
    /// Warm-up before it, in seconds.
    pub warmup_s: f64,
    /// Header bytes, or `"varint"`.
    pub header: HeaderKind,
    /// Header byte order, `be` or `le`.
    pub endian: &'static str,
    /// Whether received frames were checked byte for byte.
    pub verify: bool,
    /// netbench's worker threads.
    pub workers: usize,
    /// Whether the in-process echo sink was driven instead of `addr`'s server.
    pub builtin_echo: bool,
    /// Frames received in the window (fan-out: deliveries to all subscribers).
    pub frames: u64,
    /// `frames` per second.
    pub frames_per_sec: f64,
    /// Payload megabytes (10^6) received per second.
    pub payload_mb_per_sec: f64,
    /// Frames sent in the window (fan-out: published).
    pub sent: u64,
    /// Median latency in microseconds (echo: send to echo; fan-out: publish
    /// to receipt).
    pub latency_p50_us: Option<f64>,
    /// 99th percentile latency in microseconds.
    pub latency_p99_us: Option<f64>,
    /// 99.9th percentile latency in microseconds.
    pub latency_p999_us: Option<f64>,
    /// Largest latency seen, in microseconds.
    pub latency_max_us: Option<f64>,
    /// Failed connects, IO errors, connections the server closed early,
    /// frames that could not be parsed.
    pub errors: u64,
    /// Frames that were not the bytes sent, or out of order (counted only
    /// with `--verify`).
    pub verify_failures: u64,
    /// Fan-out: frames a subscriber never received (gaps in a sender's
    /// sequence), e.g. dropped by a slow-subscriber policy.
    pub lost: Option<u64>,
    /// Fan-out: times a publisher stopped waiting for its own frames.
    pub publisher_stalls: Option<u64>,
    /// Idle: connections still open at the end of the window.
    pub open: Option<u64>,
    /// CPU seconds (user + system) netbench used during the window, the
    /// built-in echo's thread included.
    pub netbench_cpu_s: Option<f64>,
    /// netbench's CPU microseconds per received frame: its own cost, which
    /// a busy shared machine does not inflate the way it does wall time.
    pub netbench_cpu_us_per_frame: Option<f64>,
    /// CPU seconds the server used during the window (`--server-pid`).
    pub server_cpu_s: Option<f64>,
    /// The server's CPU microseconds per frame received by netbench.
    pub server_cpu_us_per_frame: Option<f64>,
    /// Server RSS in KiB before connecting (`--server-pid`).
    pub server_rss_before_kib: Option<u64>,
    /// Server RSS in KiB at the end of the window, connections still open.
    pub server_rss_after_kib: Option<u64>,
    /// (after − before) per connection held, in bytes: per connection
    /// still open in idle mode, per connection established otherwise.
    pub server_rss_per_conn_bytes: Option<f64>,
}

impl Report {
    /// True when something was measured and nothing failed verification.
    pub fn passed(&self) -> bool {
        self.connected > 0 && self.verify_failures == 0
    }

    /// True when netbench used at least 90% of its workers' time during the
    /// window: the figures may then measure the generator, not the server.
    pub fn generator_saturated(&self) -> bool {
        self.netbench_cpu_s
            .is_some_and(|cpu| cpu >= 0.9 * self.duration_s * self.workers as f64)
    }
}

pub(crate) struct Measured {
    pub(crate) totals: Totals,
    /// CPU seconds used during the window by netbench and by the server.
    pub(crate) netbench_cpu_s: Option<f64>,
    pub(crate) server_cpu_s: Option<f64>,
    pub(crate) latency: Histogram<u64>,
    pub(crate) rss_before_kib: Option<u64>,
    pub(crate) rss_after_kib: Option<u64>,
}

impl Measured {
    pub(crate) fn per_frame_us(&self, cpu_s: Option<f64>) -> Option<f64> {
        let frames = self.totals.frames;
        cpu_s
            .filter(|_| frames > 0)
            .map(|s| s * 1e6 / frames as f64)
    }

    pub(crate) fn latency_us(&self, quantile: f64) -> Option<f64> {
        (!self.latency.is_empty()).then(|| self.latency.value_at_quantile(quantile) as f64 / 1e3)
    }
}

impl fmt::Display for Report {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "netbench {} -> {}{}: {}/{} connections",
            self.mode.as_str(),
            self.addr,
            if self.builtin_echo {
                " (built-in echo)"
            } else {
                ""
            },
            self.connected,
            self.conns
        )?;
        if let Some(p) = self.publishers {
            write!(f, " ({p} publishing)")?;
        }
        if self.mode != Mode::Idle {
            write!(
                f,
                ", {} B payload, pipeline {}, header {} {}",
                self.payload, self.pipeline, self.header, self.endian
            )?;
        }
        writeln!(
            f,
            ", {} s (+{} s warm-up), {} worker{}",
            self.duration_s,
            self.warmup_s,
            self.workers,
            if self.workers == 1 { "" } else { "s" }
        )?;
        if self.mode != Mode::Idle {
            writeln!(
                f,
                "  frames    {:>12.0} /s   {:.2} MB/s payload   ({} received, {} sent)",
                self.frames_per_sec, self.payload_mb_per_sec, self.frames, self.sent
            )?;
            if let (Some(p50), Some(p99), Some(p999), Some(max)) = (
                self.latency_p50_us,
                self.latency_p99_us,
                self.latency_p999_us,
                self.latency_max_us,
            ) {
                writeln!(
                    f,
                    "  latency   p50 {p50:.1} µs   p99 {p99:.1} µs   p99.9 {p999:.1} µs   max {max:.1} µs"
                )?;
            }
        }
        if let (Some(lost), Some(stalls)) = (self.lost, self.publisher_stalls) {
            writeln!(f, "  lost      {lost}   publisher stalls {stalls}")?;
        }
        if let Some(open) = self.open {
            writeln!(f, "  open      {open}/{}", self.connected)?;
        }
        if let Some(cpu) = self.netbench_cpu_s {
            write!(f, "  cpu       netbench {cpu:.2} s")?;
            if let Some(per) = self.netbench_cpu_us_per_frame {
                write!(f, " ({per:.3} µs/frame)")?;
            }
            if let Some(server) = self.server_cpu_s {
                write!(f, ", server {server:.2} s")?;
            }
            if let Some(per) = self.server_cpu_us_per_frame {
                write!(f, " ({per:.3} µs/frame)")?;
            }
            writeln!(f)?;
            if self.generator_saturated() {
                writeln!(
                    f,
                    "  note      netbench kept its {} worker(s) busy: it may be the bottleneck \
                     (raise --workers or --pipeline)",
                    self.workers
                )?;
            }
        }
        if let (Some(before), Some(after)) = (self.server_rss_before_kib, self.server_rss_after_kib)
        {
            write!(f, "  server    RSS {before} KiB -> {after} KiB")?;
            if let Some(per) = self.server_rss_per_conn_bytes {
                write!(f, "   {:.0} B per open connection", per)?;
            }
            writeln!(f)?;
        }
        write!(
            f,
            "  errors    {}   verification failures {}",
            self.errors, self.verify_failures
        )?;
        if !self.verify {
            write!(f, " (not verified: --verify)")?;
        }
        Ok(())
    }
}
