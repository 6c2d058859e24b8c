//! Every echo server process (`echo_server` on castnet-tokio and on
//! castnet-smol, and `custom_event_loop`) against peers that push it: a
//! burst written before reading, megabytes of large frames, a client that
//! never reads, a slow reader, oversized headers and truncated tails, and
//! peers that trickle their frames in. Independent load generators and
//! hostile-peer suites drive these servers as processes, so this is where
//! they must hold, with nothing but a client's view and the process's memory
//! to judge by.
//!
//! The client halves are castnet-tests' (`castnet_tests::peers`), which also
//! runs them against in-process servers and checks the server's counters.
//! Every run is bounded (the peers' socket timeouts, `common`'s limits),
//! talks to 127.0.0.1 only, and stops its server with a signal (exit 0).

mod common;

use castnet_tests::{peers, raw};
use common::{EchoServer, Server, ECHO_SERVERS};
use std::io::{ErrorKind, Read};
use std::net::TcpStream;
use std::time::{Duration, Instant};

/// Stops the server, which must exit 0 as on any other signal.
async fn stop(server: EchoServer, running: Server) {
    let status = running.stop_with("TERM").await;
    assert_eq!(status.code(), Some(0), "{}: {status}", server.name);
}

#[tokio::test]
async fn ten_thousand_small_frames_written_before_reading_are_all_echoed_in_order() {
    for server in ECHO_SERVERS {
        let running = server.start(&[]).await;
        let stream =
            peers::small_frames_pipelined_in_one_write_are_all_echoed(running.addr, 10_000).await;
        drop(stream);
        stop(server, running).await;
    }
}

#[tokio::test]
async fn twelve_megabytes_of_large_frames_come_back_intact_with_four_and_eight_byte_headers() {
    let sizes = peers::large_sizes(400, 200_000);
    for server in ECHO_SERVERS {
        for n in [4, 8] {
            let running = server.start(&["--header", &n.to_string()]).await;
            let halves =
                peers::large_frames_pipelined_are_echoed_intact(running.addr, n, &sizes).await;
            drop(halves);
            stop(server, running).await;
        }
    }
}

#[tokio::test]
async fn a_client_that_never_reads_is_held_back_with_bounded_server_memory_while_others_are_served()
{
    for server in ECHO_SERVERS {
        let running = server.start(&[]).await;
        let mut good = raw::connect(running.addr);
        round_trip(&mut good, b"warm");
        let before = running.rss();
        // 256 MiB: far beyond the send queue's bound (1 MiB) and what the
        // kernel buffers on both sides (tens of MiB at most), so only
        // backpressure stops it.
        let flood_frames = 256 * 1024;
        let bad = peers::flood(running.addr, flood_frames);
        let started = Instant::now();
        while started.elapsed() < Duration::from_secs(2) {
            round_trip(&mut good, b"still served");
        }
        let (written, mut bad) = bad.join().await;
        let grown = running.rss().saturating_sub(before);
        assert!(
            written < flood_frames * 1028 / 4,
            "{}: the flood was not held back: {written} bytes written",
            server.name
        );
        assert!(
            grown < 16 << 20,
            "{}: RSS grew by {grown} bytes for a client that never reads",
            server.name
        );
        // Still connected: the echoes are there once it reads.
        assert_eq!(raw::read_packet(&mut bad), Some(vec![0x5a; 1024]));
        stop(server, running).await;
    }
}

#[tokio::test]
async fn a_slow_reader_gets_every_echo_and_is_not_disconnected() {
    // 2 MiB in 1 KiB frames, twice the send queue's bound, written at once;
    // then read a little at a time.
    let payloads: Vec<Vec<u8>> = (0..2048u32).map(|i| i.to_be_bytes().repeat(256)).collect();
    let burst = raw::packets(&payloads);
    for server in ECHO_SERVERS {
        let running = server.start(&[]).await;
        let mut writer = raw::connect(running.addr);
        let mut reader = writer.try_clone().unwrap();
        let bytes = burst.clone();
        let write = raw::thread(move || {
            raw::write(&mut writer, &bytes);
            writer
        });
        let expected = burst.len();
        let got = raw::thread(move || {
            let mut got = Vec::with_capacity(expected);
            let mut chunk = [0u8; 16 * 1024];
            while got.len() < expected {
                let n = reader.read(&mut chunk).expect("an echo");
                assert_ne!(n, 0, "disconnected after {} bytes", got.len());
                got.extend_from_slice(&chunk[..n]);
                std::thread::sleep(Duration::from_millis(5));
            }
            (got, reader)
        });
        let writer = write.join().await;
        let (got, reader) = got.join().await;
        assert!(got == burst, "{}: the echoes differ", server.name);
        drop((writer, reader));
        stop(server, running).await;
    }
}

#[tokio::test]
async fn every_frame_before_an_oversized_header_is_echoed_then_the_connection_ends() {
    let payloads: Vec<Vec<u8>> = (0..100).map(peers::small_payload).collect();
    let mut bytes = raw::packets(&payloads);
    bytes.extend_from_slice(&1001u32.to_be_bytes());
    for server in ECHO_SERVERS {
        echoed_then_ended(server, &["--max-frame", "1000"], &bytes, false, &payloads).await;
    }
}

/// Two megabytes of frames, an oversized header, then bytes the server will
/// never decode, all written before reading: the server stops reading at
/// the header with most echoes still in its send buffer, and must not reset
/// the connection (which would throw them away) by closing with input
/// unread.
#[tokio::test]
async fn every_echo_before_an_oversized_header_arrives_though_more_follows_and_the_peer_reads_late()
{
    let (payloads, bytes) = peers::frames_then_an_oversized_header_then_more();
    for server in ECHO_SERVERS {
        echoed_then_ended(server, &["--max-frame", "4096"], &bytes, false, &payloads).await;
    }
}

#[tokio::test]
async fn every_frame_before_end_of_stream_is_echoed_with_or_without_a_truncated_tail() {
    let payloads: Vec<Vec<u8>> = (0..1000).map(peers::small_payload).collect();
    let whole = raw::packets(&payloads);
    let mut truncated = whole.clone();
    truncated.extend_from_slice(&raw::packet(&[7u8; 100])[..52]);
    for server in ECHO_SERVERS {
        for bytes in [&whole, &truncated] {
            echoed_then_ended(server, &[], bytes, true, &payloads).await;
        }
    }
}

/// Starts `server` with `flags`, writes `bytes` in one go (then ends our
/// side if `eof`), and checks that `payloads` come back, in order, and then
/// the end of the stream.
async fn echoed_then_ended(
    server: EchoServer,
    flags: &[&str],
    bytes: &[u8],
    eof: bool,
    payloads: &[Vec<u8>],
) {
    let running = server.start(flags).await;
    let stream = raw::connect(running.addr);
    let (got, stream) = peers::send_all_then_read_to_end(stream, bytes.to_vec(), eof).await;
    assert!(
        got == payloads,
        "{}: every echo, in order, then the end",
        server.name
    );
    drop(stream);
    stop(server, running).await;
}

#[tokio::test]
async fn a_header_declaring_more_than_the_max_is_dropped_on_every_header_size() {
    for server in ECHO_SERVERS {
        for n in [1usize, 2, 4, 8] {
            let header = n.to_string();
            let running = server
                .start(&["--header", &header, "--max-frame", "100"])
                .await;
            let mut good = raw::connect(running.addr);
            let max_declared = u64::MAX >> (64 - 8 * n);
            for declared in [101, max_declared, 1 << 63] {
                if declared > max_declared {
                    continue;
                }
                let mut bad = raw::connect(running.addr);
                raw::write(&mut bad, &declared.to_be_bytes()[8 - n..]);
                // Nothing comes back: the server ends the connection at
                // once (a reset counts), not at our read timeout.
                let mut rest = Vec::new();
                if let Err(e) = bad.read_to_end(&mut rest) {
                    let kind = e.kind();
                    assert_eq!(kind, ErrorKind::ConnectionReset, "{}: {e}", server.name);
                }
                assert!(rest.is_empty(), "{} --header {n}: {declared}", server.name);
                raw::write(&mut good, &peers::frame(n, b"unaffected"));
                assert_eq!(peers::read_frame(n, &mut good), b"unaffected");
            }
            stop(server, running).await;
        }
    }
}

#[tokio::test]
async fn peers_trickling_partial_frames_do_not_stall_others_and_are_echoed_once_complete() {
    let frame = raw::packet(&[3u8; 100_000]);
    for server in ECHO_SERVERS {
        let running = server.start(&[]).await;
        let mut good = raw::connect(running.addr);
        let mut slow: Vec<TcpStream> = (0..20).map(|_| raw::connect(running.addr)).collect();
        // A byte at a time from each, for a second, while another client is
        // answered as usual.
        let mut sent = 0;
        let started = Instant::now();
        while started.elapsed() < Duration::from_secs(1) {
            for s in &mut slow {
                raw::write(s, &frame[sent..sent + 1]);
            }
            sent += 1;
            round_trip(&mut good, b"not stalled");
        }
        for s in &mut slow {
            raw::write(s, &frame[sent..]);
            assert_eq!(raw::read_packet(s).as_deref(), Some(&frame[4..]));
        }
        drop(slow);
        stop(server, running).await;
    }
}

/// Writes `payload` as one frame and reads the echo.
fn round_trip(stream: &mut TcpStream, payload: &[u8]) {
    raw::write(stream, &raw::packet(payload));
    assert_eq!(raw::read_packet(stream).as_deref(), Some(payload));
}
