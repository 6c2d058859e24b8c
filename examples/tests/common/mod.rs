//! Shared by the integration tests: start a server binary on a free port,
//! run netbench against it, read its JSON report. Every child process is
//! killed if a test ends early, and every wait is bounded.
#![allow(dead_code)] // each test file uses a different subset

use std::net::SocketAddr;
use std::process::{ExitStatus, Stdio};
use std::time::Duration;

use tokio::io::{AsyncBufReadExt, BufReader, Lines};
use tokio::process::{Child, ChildStdout, Command};
use tokio::time::timeout;

pub const NETBENCH: &str = env!("CARGO_BIN_EXE_netbench");
pub const BASELINE_ECHO: &str = env!("CARGO_BIN_EXE_baseline_echo");
pub const BASELINE_FANOUT: &str = env!("CARGO_BIN_EXE_baseline_fanout");
/// castnet's echo server (castnet-tokio).
pub const ECHO_SERVER: &str = env!("CARGO_BIN_EXE_echo_server");
/// castnet's fan-out server (castnet-tokio).
pub const FANOUT_SERVER: &str = env!("CARGO_BIN_EXE_fanout_server");
/// The echo server that drives castnet-core from its own mio loop.
pub const CUSTOM_EVENT_LOOP: &str = env!("CARGO_BIN_EXE_custom_event_loop");
/// The ceiling probe of `compare.sh`: every byte echoed, no framing.
pub const BYTE_ECHO: &str = env!("CARGO_BIN_EXE_byte_echo");
/// The P2P router and its nodes (`castnet_examples::p2p`).
pub const P2P_ROUTER: &str = env!("CARGO_BIN_EXE_p2p_router");

/// An echo server of the bench protocol, and the flags that pick its
/// runtime and one worker.
#[derive(Debug, Clone, Copy)]
pub struct EchoServer {
    pub name: &'static str,
    bin: &'static str,
    flags: &'static [&'static str],
}

pub const CASTNET_TOKIO: EchoServer = EchoServer {
    name: "echo_server --runtime tokio",
    bin: ECHO_SERVER,
    flags: &["--runtime", "tokio", "--workers", "1"],
};
pub const CASTNET_SMOL: EchoServer = EchoServer {
    name: "echo_server --runtime smol",
    bin: ECHO_SERVER,
    flags: &["--runtime", "smol", "--workers", "1"],
};
/// One thread of its own: it takes neither `--runtime` nor `--workers`.
pub const OWN_LOOP: EchoServer = EchoServer {
    name: "custom_event_loop",
    bin: CUSTOM_EVENT_LOOP,
    flags: &[],
};
/// castnet-std, on one loop thread.
pub const CASTNET_STD: EchoServer = EchoServer {
    name: "echo_server --runtime std",
    bin: ECHO_SERVER,
    flags: &["--runtime", "std", "--workers", "1"],
};
/// Every echo server that must behave the same to any client.
pub const ECHO_SERVERS: [EchoServer; 4] = [CASTNET_TOKIO, CASTNET_SMOL, CASTNET_STD, OWN_LOOP];

impl EchoServer {
    /// Starts it on a free 127.0.0.1 port with `extra` flags.
    #[allow(clippy::print_stderr)] // test output, shown when a test fails
    pub async fn start(&self, extra: &[&str]) -> Server {
        // Shown only if the test fails: which server it was.
        eprintln!("{} {}", self.name, extra.join(" "));
        Server::spawn(self.bin, self.flags, extra).await
    }
}

const STARTUP: Duration = Duration::from_secs(20);
const RUN_LIMIT: Duration = Duration::from_secs(60);

/// A server binary running on 127.0.0.1 with one worker.
pub struct Server {
    child: Child,
    pub addr: SocketAddr,
    // Kept so the server never writes into a closed pipe.
    _stdout: Lines<BufReader<ChildStdout>>,
}

impl Server {
    /// Starts `bin --addr 127.0.0.1:0 --workers 1 EXTRA..` and reads the
    /// address from its `listening on` line.
    pub async fn start(bin: &str, extra: &[&str]) -> Server {
        Server::spawn(bin, &["--workers", "1"], extra).await
    }

    /// Starts `bin --addr 127.0.0.1:0 FLAGS.. EXTRA..` and reads the
    /// address from its `listening on` line.
    pub async fn spawn(bin: &str, flags: &[&str], extra: &[&str]) -> Server {
        let mut args = vec!["--addr", "127.0.0.1:0"];
        args.extend_from_slice(flags);
        args.extend_from_slice(extra);
        let Announced {
            child,
            line,
            stdout: lines,
        } = Announced::start(bin, &args).await;
        let addr = line
            .strip_prefix("listening on ")
            .unwrap_or_else(|| panic!("unexpected first line {line:?}"))
            .parse()
            .expect("a socket address");
        Server {
            child,
            addr,
            _stdout: lines,
        }
    }

    pub fn pid(&self) -> u32 {
        self.child.id().expect("still running")
    }

    /// The server process's resident memory now, in bytes.
    pub fn rss(&self) -> u64 {
        let status = std::fs::read_to_string(format!("/proc/{}/status", self.pid()))
            .expect("the server's /proc status");
        let kib: u64 = status
            .lines()
            .find_map(|l| l.strip_prefix("VmRSS:"))
            .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
            .expect("a VmRSS line");
        kib * 1024
    }

    /// Sends `signal` (e.g. "TERM") and waits for the exit status.
    pub async fn stop_with(mut self, signal: &str) -> ExitStatus {
        let sent = std::process::Command::new("kill")
            .arg(format!("-{signal}"))
            .arg(self.pid().to_string())
            .status()
            .expect("kill runs");
        assert!(sent.success(), "kill -{signal} failed");
        timeout(STARTUP, self.child.wait())
            .await
            .expect("server exits in time after the signal")
            .expect("exit status")
    }
}

/// A process that announced itself with a first line on stdout.
pub struct Announced {
    pub child: Child,
    /// Its first line.
    pub line: String,
    /// The rest of its stdout, kept so it never writes into a closed pipe.
    pub stdout: Lines<BufReader<ChildStdout>>,
}

impl Announced {
    /// Starts `bin ARGS..` (killed when dropped) and reads its first line.
    pub async fn start(bin: &str, args: &[&str]) -> Announced {
        let mut child = Command::new(bin)
            .args(args)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .kill_on_drop(true)
            .spawn()
            .expect("the process starts");
        let stdout = child.stdout.take().expect("piped stdout");
        let mut lines = BufReader::new(stdout).lines();
        let line = timeout(STARTUP, lines.next_line())
            .await
            .expect("the process announces itself in time")
            .expect("stdout readable")
            .expect("a line before stdout closes");
        Announced {
            child,
            line,
            stdout: lines,
        }
    }
}

/// Runs `bin --addr 127.0.0.1:0 ARGS..`, which must refuse its flags: a
/// usage error (status 2) within the time limit, nothing announced.
/// Returns its stderr.
pub async fn refused(bin: &str, args: &[&str]) -> String {
    // Bounded: a server that wrongly starts would otherwise run on.
    let output = bounded_output(
        Command::new(bin).args(["--addr", "127.0.0.1:0"]).args(args),
        STARTUP,
    )
    .await;
    assert_eq!(
        output.status.code(),
        Some(2),
        "{bin} {args:?} should be a usage error"
    );
    assert!(output.stdout.is_empty(), "nothing announced");
    String::from_utf8(output.stderr).expect("utf-8")
}

/// One finished netbench run.
pub struct Run {
    pub status: ExitStatus,
    pub stdout: String,
    pub stderr: String,
}

impl Run {
    /// The JSON report: the one line of stdout.
    pub fn report(&self) -> serde_json::Value {
        let mut lines = self.stdout.lines();
        let line = lines
            .next()
            .unwrap_or_else(|| panic!("no report; stderr: {}", self.stderr));
        assert_eq!(lines.next(), None, "exactly one line on stdout");
        serde_json::from_str(line).expect("the report is JSON")
    }
}

/// Runs netbench with one worker, a 1 s window after 0.2 s of warm-up, and
/// `extra` (later flags override earlier ones).
pub async fn netbench(addr: SocketAddr, extra: &[&str]) -> Run {
    let output = Command::new(NETBENCH)
        .args(["--addr", &addr.to_string(), "--workers", "1"])
        .args(["--duration", "1", "--warmup", "0.2"])
        .args(extra)
        .stdin(Stdio::null())
        .kill_on_drop(true)
        .output();
    let output = timeout(RUN_LIMIT, output)
        .await
        .expect("netbench ends in time")
        .expect("netbench runs");
    Run {
        status: output.status,
        stdout: String::from_utf8(output.stdout).expect("utf-8"),
        stderr: String::from_utf8(output.stderr).expect("utf-8"),
    }
}

pub fn u64_field(report: &serde_json::Value, field: &str) -> u64 {
    report[field]
        .as_u64()
        .unwrap_or_else(|| panic!("{field} is not a number in {report}"))
}

pub fn f64_field(report: &serde_json::Value, field: &str) -> f64 {
    report[field]
        .as_f64()
        .unwrap_or_else(|| panic!("{field} is not a number in {report}"))
}

/// Runs netbench with `--verify --json`, 2 connections, pipeline 4 and
/// `extra`, and asserts the run is clean.
pub async fn verified(addr: SocketAddr, extra: &[&str]) -> serde_json::Value {
    let mut args = vec!["--verify", "--json", "--conns", "2", "--pipeline", "4"];
    args.extend_from_slice(extra);
    assert_clean(&netbench(addr, &args).await)
}

/// Asserts a clean measured run: exit 0, frames counted, nothing failed.
pub fn assert_clean(run: &Run) -> serde_json::Value {
    let report = run.report();
    assert!(
        run.status.success(),
        "netbench failed: {report}\n{}",
        run.stderr
    );
    assert!(u64_field(&report, "frames") > 0, "no frames: {report}");
    assert_eq!(u64_field(&report, "verify_failures"), 0, "{report}");
    assert_eq!(u64_field(&report, "errors"), 0, "{report}");
    assert_eq!(report["verify"], true, "{report}");
    report
}

/// netbench's flags for `--header` and `--endian`.
pub fn framing<'a>(header: &'a str, endian: &'a str) -> [&'a str; 4] {
    ["--header", header, "--endian", endian]
}

/// Drives a fan-out server with 6 connections, 2 of them publishing, verified,
/// and asserts each published frame reached every subscriber, not only its
/// sender. Returns the report for further checks.
pub async fn verified_fanout(addr: SocketAddr) -> serde_json::Value {
    verified_fanout_with(addr, &[]).await
}

/// [`verified_fanout`] with `extra` netbench flags.
pub async fn verified_fanout_with(addr: SocketAddr, extra: &[&str]) -> serde_json::Value {
    let mut flags = vec![
        "--mode",
        "fanout",
        "--conns",
        "6",
        "--publishers",
        "2",
        "--pipeline",
        "8",
    ];
    flags.extend_from_slice(extra);
    let report = verified(addr, &flags).await;
    assert_eq!(report["mode"], "fanout");
    assert_eq!(u64_field(&report, "publishers"), 2);
    let (sent, delivered) = (u64_field(&report, "sent"), u64_field(&report, "frames"));
    assert!(sent > 0, "{report}");
    assert!(
        delivered >= sent * 6 / 2,
        "sent {sent}, delivered {delivered}: {report}"
    );
    report
}

/// What a tour binary (`demo`, `p2p_router`, `custom_codec` run with no
/// arguments) wrote, after it ended on its own with status 0 within a
/// minute. Its narration is on stderr (tracing at INFO).
pub async fn run_tour(bin: &str) -> String {
    let mut command = Command::new(bin);
    command.env_remove("RUST_LOG").env("NO_COLOR", "1");
    let output = bounded_output(&mut command, RUN_LIMIT).await;
    let stdout = String::from_utf8_lossy(&output.stdout);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(
        output.status.code(),
        Some(0),
        "{bin}\nstdout:\n{stdout}\nstderr:\n{stderr}"
    );
    format!("{stdout}{stderr}")
}

/// Asserts `output` mentions each of `expected`.
pub fn assert_mentions(output: &str, expected: &[&str]) {
    for want in expected {
        assert!(output.contains(want), "missing {want:?} in:\n{output}");
    }
}

/// Runs `command` (stdin closed) to its end within `limit`, killed if it
/// runs longer, and returns what it wrote.
async fn bounded_output(command: &mut Command, limit: Duration) -> std::process::Output {
    let output = command.stdin(Stdio::null()).kill_on_drop(true).output();
    timeout(limit, output)
        .await
        .expect("the process ends in time")
        .expect("the process runs")
}
