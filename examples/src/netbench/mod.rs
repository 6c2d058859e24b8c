//! The engine of `netbench`, the load generator of `docs/bench-protocol.md`.
//!
//! It drives any server that speaks PacketN (an N-byte length header, then
//! the payload) or, with `--header varint`, a LEB128 varint length prefix
//! (`--endian` is then ignored), in one of three modes:
//!
//! - **echo**: each connection keeps `--pipeline` frames in flight; reports
//!   echoes per second and send-to-echo latency.
//! - **fanout**: every connection subscribes, the first `--publishers`
//!   (default 1) also publish at `--pipeline` depth; reports deliveries per
//!   second (every copy every subscriber receives) and publish-to-receipt
//!   latency.
//! - **idle**: opens `--conns` connections and holds them; reports how many
//!   stayed open and, with `--server-pid`, the server's memory per
//!   connection.
//!
//! Timing: connections are opened first (at most 256 connects at once, each
//! bounded by `--connect-timeout`), then the warm-up runs, then the
//! measurement window of `--duration`; only frames received inside the window
//! count. Connections close 100 ms after the window, once the server's memory
//! has been read. Everything netbench starts ends with the run.
//!
//! The generator is written not to be the bottleneck: per connection, one
//! `write` per batch of frames and one `read` per batch of echoes, one clock
//! read per batch, latencies recorded into sharded histograms under one lock
//! per read. `--builtin-echo` measures its ceiling against a trivial
//! in-process echo.
//!
//! With `--server-pid`, the server's CPU time over the window is read from
//! `/proc` next to netbench's own: CPU per frame is the figure a busy shared
//! machine distorts least.
//!
//! The library never prints: [`run`] returns a [`Report`], which the binary
//! prints as text or as one JSON line.

mod conn;
mod echo;
mod fanout;
mod idle;
mod report;
mod sink;
mod stats;
mod wire;

use std::io::IsTerminal;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use clap::{Parser, ValueEnum};
use futures_util::StreamExt;
use indicatif::{ProgressBar, ProgressStyle};
use serde::Serialize;
use tokio::net::TcpStream;
use tokio::task::JoinSet;

pub use report::{HeaderKind, Report};

use crate::flags::{default_workers, parse_header, parse_seconds, workers_parser, Endian, Header};
use report::Measured;
use stats::{nanos, read_cpu_seconds, read_rss_kib, Clock, Latency, Plan, Totals};
use wire::{Framing, Template, STAMP_LEN};

/// Connects in progress at once, so a large `--conns` does not overflow the
/// server's accept backlog.
const CONNECT_CONCURRENCY: usize = 256;
/// Connections stay open this long after the window, while the server's
/// memory is read.
const GRACE: Duration = Duration::from_millis(100);
/// Largest payload netbench generates.
const MAX_PAYLOAD: usize = 64 * 1024 * 1024;

/// netbench's command line.
#[derive(Debug, Clone, Parser)]
#[command(
    name = "netbench",
    version,
    args_override_self = true,
    about = "Load generator for PacketN servers (docs/bench-protocol.md): echo, fan-out and idle modes."
)]
pub struct NetbenchArgs {
    /// Server address.
    #[arg(long, value_name = "HOST:PORT", default_value = "127.0.0.1:7000")]
    pub addr: SocketAddr,
    /// What to measure.
    #[arg(long, value_enum, default_value_t = Mode::Echo)]
    pub mode: Mode,
    /// Connections to open.
    #[arg(long, value_name = "N", default_value_t = 50, value_parser = clap::value_parser!(u32).range(1..=1_000_000))]
    pub conns: u32,
    /// Payload bytes per frame (fan-out needs at least 20).
    #[arg(long, value_name = "BYTES", default_value_t = 64)]
    pub payload: usize,
    /// Frames in flight per connection (fan-out: per publisher).
    #[arg(long, value_name = "K", default_value_t = 16, value_parser = clap::value_parser!(u32).range(1..=65_536))]
    pub pipeline: u32,
    /// Measurement window in seconds (fractions allowed).
    #[arg(long, value_name = "SECS", default_value = "10", value_parser = parse_seconds)]
    pub duration: Duration,
    /// Warm-up before the window, in seconds; not counted.
    #[arg(long, value_name = "SECS", default_value = "2", value_parser = parse_seconds)]
    pub warmup: Duration,
    /// Length header size in bytes, or `varint` for a LEB128 length prefix.
    #[arg(long, value_name = "1|2|4|8|varint", default_value = "4", value_parser = parse_header)]
    pub header: Header,
    /// Length header byte order (ignored with `--header varint`).
    #[arg(long, value_enum, default_value_t = Endian::Be)]
    pub endian: Endian,
    /// Check every received frame byte for byte and in order.
    #[arg(long)]
    pub verify: bool,
    /// Print the report as one JSON line.
    #[arg(long)]
    pub json: bool,
    /// Worker threads of netbench's runtime.
    #[arg(long, value_name = "N", default_value_t = default_workers(), value_parser = workers_parser())]
    pub workers: usize,
    /// Fan-out: how many connections publish (the first ones).
    #[arg(long, value_name = "P", default_value_t = 1, value_parser = clap::value_parser!(u32).range(1..))]
    pub publishers: u32,
    /// Read the server's RSS (/proc/PID/status) before connecting and at the
    /// end of the window.
    #[arg(long, value_name = "PID")]
    pub server_pid: Option<u32>,
    /// Drive a trivial in-process echo server instead of --addr, to measure
    /// netbench's own ceiling (echo and idle modes).
    #[arg(long)]
    pub builtin_echo: bool,
    /// Give up on a connect after this many seconds.
    #[arg(long, value_name = "SECS", default_value = "10", value_parser = parse_seconds)]
    pub connect_timeout: Duration,
}

/// netbench's modes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, ValueEnum, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Mode {
    /// Pipelined request/echo.
    Echo,
    /// Publish to a broadcasting server; every connection subscribes.
    Fanout,
    /// Hold connections open.
    Idle,
}

impl Mode {
    /// The flag spelling: `echo`, `fanout` or `idle`.
    pub fn as_str(self) -> &'static str {
        match self {
            Mode::Echo => "echo",
            Mode::Fanout => "fanout",
            Mode::Idle => "idle",
        }
    }
}

/// Why a run could not take place.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum NetbenchError {
    /// The options contradict each other.
    #[error("invalid options: {0}")]
    Config(String),
    /// Not a single connection could be opened.
    #[error("no connection to {addr} could be opened ({errors} attempts failed)")]
    NoConnection {
        /// The address tried.
        addr: SocketAddr,
        /// Failed attempts.
        errors: u64,
    },
    /// The runtime or the built-in echo server could not start.
    #[error(transparent)]
    Io(#[from] std::io::Error),
}

impl NetbenchArgs {
    /// Checks the combinations clap cannot.
    pub fn validate(&self) -> Result<(), NetbenchError> {
        let fail = |msg: String| Err(NetbenchError::Config(msg));
        if self.duration.is_zero() {
            return fail("--duration must be more than 0 seconds".into());
        }
        let header_max = usize::try_from(self.header.max_len()).unwrap_or(usize::MAX);
        if self.payload > header_max.min(MAX_PAYLOAD) {
            return fail(format!(
                "--payload {} does not fit: at most {} with --header {}",
                self.payload,
                header_max.min(MAX_PAYLOAD),
                self.header.as_str()
            ));
        }
        if self.mode == Mode::Fanout {
            if self.payload < STAMP_LEN {
                return fail(format!(
                    "fanout needs --payload >= {STAMP_LEN}: each frame carries its sender, sequence and timestamp"
                ));
            }
            if self.publishers > self.conns {
                return fail("--publishers cannot exceed --conns".into());
            }
            if self.builtin_echo {
                return fail(
                    "--builtin-echo is an echo server: use it with --mode echo or idle".into(),
                );
            }
        }
        Ok(())
    }
}

/// Runs netbench to completion on a runtime of its own and returns the
/// report. `progress` shows a progress bar on stderr (the binary passes
/// "stdout is a terminal").
pub fn run(args: &NetbenchArgs, progress: bool) -> Result<Report, NetbenchError> {
    args.validate()?;
    let sink = if args.builtin_echo {
        Some(sink::BuiltinEcho::start()?)
    } else {
        None
    };
    let addr = sink.as_ref().map_or(args.addr, sink::BuiltinEcho::addr);
    let runtime = crate::server::tokio_runtime(args.workers)?;
    let result = runtime.block_on(drive(args, addr, progress));
    // Connection tasks have all ended by now; this bounds the teardown anyway.
    runtime.shutdown_timeout(Duration::from_secs(1));
    drop(sink);
    result
}

/// True when a progress bar should be drawn: stdout is a terminal.
pub fn progress_wanted() -> bool {
    std::io::stdout().is_terminal()
}

async fn drive(
    args: &NetbenchArgs,
    addr: SocketAddr,
    progress: bool,
) -> Result<Report, NetbenchError> {
    let rss = |pid: u32| read_rss_kib(pid).ok();
    let rss_before_kib = args.server_pid.and_then(rss);
    let (streams, connect_errors) = connect_all(addr, args.conns, args.connect_timeout).await;
    if streams.is_empty() {
        return Err(NetbenchError::NoConnection {
            addr,
            errors: connect_errors,
        });
    }

    let clock = Clock::start();
    let window_start_ns = nanos(args.warmup);
    let window_end_ns = window_start_ns + nanos(args.duration);
    let plan = Arc::new(Plan {
        framing: Framing::new(args.header, args.endian),
        payload: args.payload,
        pipeline: args.pipeline as usize,
        verify: args.verify,
        clock,
        window_start_ns,
        window_end_ns,
        stop_at: clock.instant(window_end_ns) + GRACE,
        latency: Latency::new(args.workers * 4),
        live: AtomicU64::new(0),
    });
    let bar = progress.then(|| progress_bar(args, &plan, streams.len()));

    let mut tasks = JoinSet::new();
    let templates: Arc<[Template]> = (0..args.publishers)
        .map(|sender| Template::new(sender, args.payload))
        .collect();
    for (id, stream) in streams {
        let plan = Arc::clone(&plan);
        match args.mode {
            Mode::Echo => {
                let traffic = echo::Echo::new(id, Arc::clone(&plan));
                tasks.spawn(conn::drive(id, stream, plan, traffic))
            }
            Mode::Fanout => {
                let traffic = fanout::Fanout::new(id, Arc::clone(&plan), Arc::clone(&templates));
                tasks.spawn(conn::drive(id, stream, plan, traffic))
            }
            Mode::Idle => tasks.spawn(idle::connection(stream, plan)),
        };
    }

    // CPU used by both sides during the window only.
    let cpu = || {
        let server = args.server_pid.map(|pid| read_cpu_seconds(Some(pid)).ok());
        (read_cpu_seconds(None).ok(), server.flatten())
    };
    tokio::time::sleep_until(clock.instant(window_start_ns)).await;
    let cpu_start = cpu();
    tokio::time::sleep_until(clock.instant(window_end_ns)).await;
    let cpu_end = cpu();
    let rss_after_kib = args.server_pid.and_then(rss);
    let used = |start: Option<f64>, end: Option<f64>| Some(end? - start?);

    let mut totals = Totals {
        errors: connect_errors,
        ..Totals::default()
    };
    while let Some(done) = tasks.join_next().await {
        match done {
            Ok(t) => totals += t,
            // A panicked connection task: count it rather than lose the run.
            Err(_) => totals.errors += 1,
        }
    }
    if let Some(bar) = bar {
        bar.finish_and_clear();
    }
    let measured = Measured {
        totals,
        netbench_cpu_s: used(cpu_start.0, cpu_end.0),
        server_cpu_s: used(cpu_start.1, cpu_end.1),
        latency: plan.latency.merged(),
        rss_before_kib,
        rss_after_kib,
    };
    Ok(report(args, addr, &measured))
}

/// Opens `conns` connections, at most [`CONNECT_CONCURRENCY`] at a time.
/// Returns them with their index (their id) and the number that failed.
async fn connect_all(
    addr: SocketAddr,
    conns: u32,
    timeout: Duration,
) -> (Vec<(u32, TcpStream)>, u64) {
    let attempts = futures_util::stream::iter(0..conns)
        .map(|id| async move {
            let stream = tokio::time::timeout(timeout, TcpStream::connect(addr)).await;
            (id, stream)
        })
        .buffer_unordered(CONNECT_CONCURRENCY);
    let results: Vec<_> = attempts.collect().await;
    let mut streams = Vec::with_capacity(results.len());
    let mut errors = 0;
    for (id, result) in results {
        match result {
            Ok(Ok(stream)) => {
                // Small frames must not wait for Nagle's algorithm.
                let _ = stream.set_nodelay(true);
                streams.push((id, stream));
            }
            _ => errors += 1,
        }
    }
    streams.sort_unstable_by_key(|(id, _)| *id);
    (streams, errors)
}

fn progress_bar(args: &NetbenchArgs, plan: &Arc<Plan>, connected: usize) -> ProgressBar {
    let total_ms = (plan.window_end_ns / 1_000_000).max(1);
    let bar = ProgressBar::new(total_ms);
    if let Ok(style) =
        ProgressStyle::with_template("{prefix:>8} [{elapsed_precise}] {wide_bar} {msg}")
    {
        bar.set_style(style);
    }
    let plan = Arc::clone(plan);
    let mode = args.mode;
    let ticker = bar.clone();
    tokio::spawn(async move {
        let mut tick = tokio::time::interval(Duration::from_millis(250));
        let mut last = (0u64, 0u64);
        while !ticker.is_finished() && tokio::time::Instant::now() < plan.stop_at {
            tick.tick().await;
            let now = plan.clock.now_ns();
            let live = plan.live.load(Ordering::Relaxed);
            ticker.set_prefix(if now < plan.window_start_ns {
                "warm-up"
            } else {
                "measure"
            });
            ticker.set_position((now / 1_000_000).min(total_ms));
            let message = match mode {
                Mode::Idle => format!("{} open", connected as u64 - live),
                _ => {
                    let secs = now.saturating_sub(last.0) as f64 / 1e9;
                    let rate = if secs > 0.0 {
                        (live - last.1) as f64 / secs
                    } else {
                        0.0
                    };
                    format!("{rate:.0} frames/s")
                }
            };
            ticker.set_message(message);
            last = (now, live);
        }
    });
    bar
}

fn report(args: &NetbenchArgs, addr: SocketAddr, m: &Measured) -> Report {
    let t = &m.totals;
    let secs = args.duration.as_secs_f64();
    let (is_fanout, is_idle) = (args.mode == Mode::Fanout, args.mode == Mode::Idle);
    let per_conn = match (m.rss_before_kib, m.rss_after_kib) {
        (Some(before), Some(after)) if t.open > 0 || !is_idle => {
            let held = if is_idle { t.open } else { t.connected };
            Some((after as f64 - before as f64) * 1024.0 / held.max(1) as f64)
        }
        _ => None,
    };
    Report {
        mode: args.mode,
        addr,
        conns: args.conns,
        connected: t.connected,
        publishers: is_fanout.then_some(args.publishers),
        payload: args.payload,
        pipeline: args.pipeline,
        duration_s: secs,
        warmup_s: args.warmup.as_secs_f64(),
        header: report::HeaderKind::of(args.header),
        endian: args.endian.as_str(),
        verify: args.verify,
        workers: args.workers,
        builtin_echo: args.builtin_echo,
        frames: t.frames,
        frames_per_sec: t.frames as f64 / secs,
        payload_mb_per_sec: (t.frames as f64 * args.payload as f64) / secs / 1e6,
        sent: t.sent,
        latency_p50_us: m.latency_us(0.5),
        latency_p99_us: m.latency_us(0.99),
        latency_p999_us: m.latency_us(0.999),
        latency_max_us: m.latency_us(1.0),
        errors: t.errors,
        verify_failures: t.verify_failures,
        lost: is_fanout.then_some(t.lost),
        publisher_stalls: is_fanout.then_some(t.stalls),
        open: is_idle.then_some(t.open),
        netbench_cpu_s: m.netbench_cpu_s,
        netbench_cpu_us_per_frame: m.per_frame_us(m.netbench_cpu_s),
        server_cpu_s: m.server_cpu_s,
        server_cpu_us_per_frame: m.per_frame_us(m.server_cpu_s),
        server_rss_before_kib: m.rss_before_kib,
        server_rss_after_kib: m.rss_after_kib,
        server_rss_per_conn_bytes: per_conn,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn args(extra: &[&str]) -> NetbenchArgs {
        NetbenchArgs::try_parse_from(std::iter::once("netbench").chain(extra.iter().copied()))
            .unwrap()
    }

    #[test]
    fn defaults_are_the_documented_ones() {
        let a = args(&[]);
        assert_eq!(a.addr, "127.0.0.1:7000".parse().unwrap());
        assert_eq!(a.mode, Mode::Echo);
        assert_eq!((a.conns, a.payload, a.pipeline), (50, 64, 16));
        assert_eq!(a.duration, Duration::from_secs(10));
        assert_eq!(a.warmup, Duration::from_secs(2));
        assert_eq!(
            a.header,
            Header::Fixed(castnet_core::frame::HeaderLen::Four)
        );
        assert_eq!(a.endian, Endian::Be);
        assert!(!a.verify && !a.json);
        assert_eq!(a.workers, default_workers());
        a.validate().unwrap();
    }

    #[test]
    fn a_flag_given_twice_takes_the_last_value() {
        assert_eq!(args(&["--conns", "3", "--conns", "5"]).conns, 5);
    }

    #[test]
    fn payload_that_the_header_cannot_express_is_refused() {
        assert!(args(&["--header", "1", "--payload", "256"])
            .validate()
            .is_err());
        args(&["--header", "1", "--payload", "255"])
            .validate()
            .unwrap();
    }

    #[test]
    fn fanout_refuses_payloads_without_room_for_the_stamp() {
        let err = args(&["--mode", "fanout", "--payload", "19"])
            .validate()
            .unwrap_err();
        assert!(err.to_string().contains("--payload >= 20"), "{err}");
        args(&["--mode", "fanout", "--payload", "20"])
            .validate()
            .unwrap();
        assert!(
            args(&["--mode", "fanout", "--conns", "2", "--publishers", "3"])
                .validate()
                .is_err()
        );
    }

    #[test]
    fn zero_duration_is_refused() {
        assert!(args(&["--duration", "0"]).validate().is_err());
    }

    #[test]
    fn unreachable_server_is_an_error_not_an_empty_report() {
        // Bind then drop: the port is closed, so every connect is refused.
        let addr = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap();
        let a = args(&[
            "--addr",
            &addr.to_string(),
            "--conns",
            "2",
            "--duration",
            "0.1",
            "--warmup",
            "0",
            "--workers",
            "1",
        ]);
        match run(&a, false) {
            Err(NetbenchError::NoConnection { errors, .. }) => assert_eq!(errors, 2),
            other => panic!("expected NoConnection, got {other:?}"),
        }
    }
}
