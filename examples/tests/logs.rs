//! What the echo server logs, read from its stderr as an operator would: an
//! accept loop out of file descriptors backs off and says so once, then
//! serves every waiting client once descriptors free up; and log output
//! that goes to a pipe carries no ANSI colour codes.
//!
//! Every wait is bounded, every server talks on 127.0.0.1 only and is
//! stopped with SIGTERM (exit 0), and a child left behind by a failed
//! assertion is killed when dropped.

mod common;

use std::process::{ExitStatus, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use common::ECHO_SERVER;
use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};
use tokio::net::TcpStream;
use tokio::process::{Child, Command};
use tokio::time::timeout;

const LIMIT: Duration = Duration::from_secs(20);

/// An echo server process whose stderr is collected line by line.
struct Logged {
    child: Child,
    addr: std::net::SocketAddr,
    stderr: Arc<Mutex<Vec<String>>>,
    /// The stderr reader: it ends when the pipe closes.
    reader: tokio::task::JoinHandle<()>,
}

impl Logged {
    /// Starts `program ARGS.. echo_server --addr 127.0.0.1:0 --runtime RT
    /// --workers 1` with `RUST_LOG=filter`, stderr piped (not a terminal).
    async fn start(program: &str, args: &[&str], runtime: &str, filter: &str) -> Logged {
        let mut child = Command::new(program)
            .args(args)
            .args([ECHO_SERVER, "--addr", "127.0.0.1:0", "--workers", "1"])
            .args(["--runtime", runtime])
            .env("RUST_LOG", filter)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .kill_on_drop(true)
            .spawn()
            .expect("the server starts");
        let stderr = Arc::new(Mutex::new(Vec::new()));
        let mut err_lines = BufReader::new(child.stderr.take().unwrap()).lines();
        let sink = stderr.clone();
        let reader = tokio::spawn(async move {
            while let Ok(Some(line)) = err_lines.next_line().await {
                sink.lock().unwrap().push(line);
            }
        });
        let mut out_lines = BufReader::new(child.stdout.take().unwrap()).lines();
        let line = timeout(LIMIT, out_lines.next_line())
            .await
            .expect("the server announces itself in time")
            .unwrap()
            .expect("a listening line");
        // Kept draining, so the server never writes into a closed pipe.
        tokio::spawn(async move { while let Ok(Some(_)) = out_lines.next_line().await {} });
        let addr = line
            .strip_prefix("listening on ")
            .unwrap_or_else(|| panic!("unexpected first line {line:?}"))
            .parse()
            .unwrap();
        Logged {
            child,
            addr,
            stderr,
            reader,
        }
    }

    fn lines(&self) -> Vec<String> {
        self.stderr.lock().unwrap().clone()
    }

    fn count(&self, pred: impl Fn(&str) -> bool) -> usize {
        self.lines().iter().filter(|l| pred(l)).count()
    }

    /// Waits until a stderr line satisfies `pred`.
    async fn wait_for(&self, what: &str, pred: impl Fn(&str) -> bool) {
        let start = Instant::now();
        while self.count(&pred) == 0 {
            assert!(
                start.elapsed() < LIMIT,
                "no log line {what} within {LIMIT:?}:\n{}",
                self.lines().join("\n")
            );
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }

    /// SIGTERM, then the exit status, and every stderr line.
    async fn stop(mut self) -> (ExitStatus, Vec<String>) {
        let pid = self.child.id().expect("still running");
        let sent = std::process::Command::new("kill")
            .args(["-TERM", &pid.to_string()])
            .status()
            .unwrap();
        assert!(sent.success());
        let status = timeout(LIMIT, self.child.wait())
            .await
            .expect("the server exits in time")
            .unwrap();
        // Every line is in once the reader has seen the pipe close.
        timeout(LIMIT, &mut self.reader)
            .await
            .expect("stderr closes once the server has exited")
            .expect("the stderr reader");
        (status, self.lines())
    }
}

/// A 4-byte big-endian length header (the default framing) and `payload`.
fn frame(payload: &[u8]) -> Vec<u8> {
    let mut f = (payload.len() as u32).to_be_bytes().to_vec();
    f.extend_from_slice(payload);
    f
}

async fn read_echo(client: &mut TcpStream, sent: &[u8], what: &str) {
    let mut back = vec![0; sent.len()];
    timeout(LIMIT, client.read_exact(&mut back))
        .await
        .unwrap_or_else(|_| panic!("no echo for {what} within {LIMIT:?}"))
        .unwrap();
    assert_eq!(back, sent, "{what}");
}

fn no_escape_codes(lines: &[String]) {
    for line in lines {
        assert!(!line.contains('\x1b'), "an ANSI escape in {line:?}");
    }
}

/// Descriptors the server may have open (about 15 are its own).
const NOFILE: &str = "--nofile=48:48";
/// More clients than that at once.
const CLIENTS: usize = 80;

#[tokio::test]
async fn out_of_descriptors_the_accept_loop_backs_off_warns_once_and_serves_everyone_later() {
    for runtime in ["tokio", "smol", "std"] {
        let started = Instant::now();
        let server =
            Logged::start("prlimit", &[NOFILE, "--"], runtime, "castnet_engine=debug").await;
        let is_warning = |l: &str| l.contains(" WARN ") && l.contains("backing off");
        // Every client connects (the kernel completes the handshake; the
        // ones the server cannot accept wait in the backlog) and sends one
        // frame.
        let mut clients = Vec::new();
        for i in 0..CLIENTS {
            let mut client = TcpStream::connect(server.addr).await.unwrap();
            let sent = frame(format!("client {i}").as_bytes());
            client.write_all(&sent).await.unwrap();
            clients.push((client, sent));
        }
        server.wait_for("warning of the back-off", is_warning).await;
        // While nothing frees a descriptor the retries come ever later
        // (10 ms, 20 ms, 40 ms, ...), at DEBUG.
        server
            .wait_for("of a third retry, 40 ms later", |l| {
                l.contains("DEBUG")
                    && l.contains("accept still failing")
                    && l.contains("delay_ms=40")
            })
            .await;
        // Each client, in the order they connected, gets its echo, then
        // leaves: its descriptor frees one for a client still waiting.
        for (i, (mut client, sent)) in clients.into_iter().enumerate() {
            read_echo(&mut client, &sent, &format!("{runtime}: client {i}")).await;
        }
        // And a newcomer is served at once.
        let mut late = TcpStream::connect(server.addr).await.unwrap();
        let sent = frame(b"late");
        late.write_all(&sent).await.unwrap();
        read_echo(&mut late, &sent, &format!("{runtime}: late client")).await;
        drop(late);

        let (status, lines) = server.stop().await;
        assert_eq!(status.code(), Some(0), "{runtime}: {status}");
        let log = lines.join("\n");
        let warnings = lines.iter().filter(|l| is_warning(l)).count();
        let retries = lines
            .iter()
            .filter(|l| l.contains("accept still failing"))
            .count();
        let resumed = lines
            .iter()
            .filter(|l| l.contains("accepting connections again"))
            .count();
        // One WARN per minute at most, however many back-offs there were.
        let minutes = started.elapsed().as_secs() as usize / 60;
        assert!(
            (1..=1 + minutes).contains(&warnings),
            "{runtime}: {warnings} warnings:\n{log}"
        );
        assert!(retries > 0, "{runtime}: the back-off never retried:\n{log}");
        assert!(resumed >= 1, "{runtime}: never accepted again:\n{log}");
        assert!(
            !log.contains("accept failed; retrying"),
            "{runtime}: descriptor exhaustion taken for a transient error:\n{log}"
        );
        no_escape_codes(&lines);
    }
}

#[tokio::test]
async fn logs_written_to_a_pipe_carry_no_colour_codes() {
    for runtime in ["tokio", "smol", "std"] {
        let server = Logged::start("env", &[], runtime, "debug").await;
        let mut client = TcpStream::connect(server.addr).await.unwrap();
        let sent = frame(b"hello");
        client.write_all(&sent).await.unwrap();
        read_echo(&mut client, &sent, runtime).await;
        drop(client);
        server
            .wait_for("of the session's close", |l| l.contains("session closed"))
            .await;
        let (status, lines) = server.stop().await;
        assert_eq!(status.code(), Some(0), "{runtime}: {status}");
        // Levels of every kind went through (INFO serving, DEBUG close).
        assert!(lines.iter().any(|l| l.contains(" INFO ")), "{lines:?}");
        assert!(lines.iter().any(|l| l.contains("DEBUG")), "{lines:?}");
        no_escape_codes(&lines);
    }
}
