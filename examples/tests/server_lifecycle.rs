//! The baseline servers follow docs/bench-protocol.md's lifecycle: one
//! `listening on ADDR` line, a clean exit 0 on SIGTERM or SIGINT (with
//! clients connected), and clear refusals of flags they cannot honour.

mod common;

use std::time::Duration;

use common::{refused, Server, BASELINE_ECHO, BASELINE_FANOUT};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::time::timeout;

const LIMIT: Duration = Duration::from_secs(20);

/// Connects a client and checks one frame round-trips, so the server is
/// serving a live connection when it is signalled.
async fn connected_client(server: &Server) -> TcpStream {
    let mut client = TcpStream::connect(server.addr).await.unwrap();
    round_trip(&mut client, b"\0\0\0\x02hi").await;
    client
}

/// Writes `frame` and reads the same bytes back (an echo, or a broadcast
/// that reaches its sender too).
async fn round_trip(client: &mut TcpStream, frame: &[u8]) {
    client.write_all(frame).await.unwrap();
    let mut back = vec![0u8; frame.len()];
    timeout(LIMIT, client.read_exact(&mut back))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(back, frame);
}

#[tokio::test]
async fn sigterm_stops_baseline_echo_with_status_zero() {
    let server = Server::start(BASELINE_ECHO, &[]).await;
    let _client = connected_client(&server).await;
    let status = server.stop_with("TERM").await;
    assert_eq!(status.code(), Some(0), "{status}");
}

#[tokio::test]
async fn sigint_stops_baseline_echo_with_status_zero() {
    let server = Server::start(BASELINE_ECHO, &["--flush", "every"]).await;
    let _client = connected_client(&server).await;
    let status = server.stop_with("INT").await;
    assert_eq!(status.code(), Some(0), "{status}");
}

#[tokio::test]
async fn sigterm_stops_baseline_fanout_with_status_zero() {
    let server = Server::start(BASELINE_FANOUT, &[]).await;
    // The fan-out server sends a frame back to its sender too.
    let _client = connected_client(&server).await;
    let status = server.stop_with("TERM").await;
    assert_eq!(status.code(), Some(0), "{status}");
}

#[tokio::test]
async fn signal_right_after_the_listening_line_is_still_a_clean_exit() {
    for runtime in ["tokio", "smol", "std"] {
        for bin in [BASELINE_ECHO, BASELINE_FANOUT] {
            let server = Server::start(bin, &["--runtime", runtime]).await;
            let status = server.stop_with("TERM").await;
            assert_eq!(status.code(), Some(0), "{bin} {runtime}: {status}");
        }
    }
}

#[tokio::test]
async fn baselines_serve_on_smol_and_on_std_threads_and_stop_with_status_zero() {
    for runtime in ["smol", "std"] {
        for (bin, signal) in [(BASELINE_ECHO, "TERM"), (BASELINE_FANOUT, "INT")] {
            let server = Server::start(bin, &["--runtime", runtime]).await;
            // Echoed, or (fan-out) broadcast back to its sender.
            let mut client = connected_client(&server).await;
            round_trip(&mut client, b"\0\0\0\x01!").await;
            let status = server.stop_with(signal).await;
            assert_eq!(status.code(), Some(0), "{bin} {runtime}: {status}");
        }
    }
}

#[tokio::test]
async fn unsupported_header_size_is_refused_with_the_allowed_ones_named() {
    let stderr = refused(BASELINE_ECHO, &["--header", "3"]).await;
    assert!(
        stderr.contains("header must be 1, 2, 4 or 8 bytes"),
        "{stderr}"
    );
}
