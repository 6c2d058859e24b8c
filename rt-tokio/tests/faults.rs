//! Faulty and hostile peers. Each test checks that the rest of the server is
//! unaffected: another client still round-trips, and the counters show only
//! the faulty connection going away.

mod common;

use castnet_core::frame::{FrameError, HeaderLen, PacketN};
use castnet_core::session::{CloseReason, SessionConfig};
use castnet_tokio::{dial, Config, Server, TrySendError};
use common::{
    bounded, close_of, next_open, packet, round_trip, small_send_buffer, stalled_client, Recorder,
    Running,
};
use socket2::SockRef;
use std::time::Duration;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

#[tokio::test]
async fn peer_reset_mid_frame_closes_only_that_session() {
    bounded(async {
        let (recorder, mut seen) = Recorder::new(true);
        let running = Running::<String>::start(Config::default(), recorder).await;
        let good = dial(running.addr(), Config::default()).await.unwrap();
        next_open(&mut seen).await;
        let mut bad = TcpStream::connect(running.addr()).await.unwrap();
        let bad_id = next_open(&mut seen).await;
        // Half a frame, then a reset.
        bad.write_all(&packet(&[9u8; 1000])[..500]).await.unwrap();
        SockRef::from(&bad)
            .set_linger(Some(Duration::ZERO))
            .unwrap();
        drop(bad);
        let reason = close_of(&mut seen, bad_id).await;
        assert!(
            matches!(
                reason,
                CloseReason::Io(_) | CloseReason::Frame(FrameError::UnexpectedEof { .. })
            ),
            "{reason:?}"
        );
        round_trip(&good, "unaffected").await;
        let stats = running.server.stats();
        assert_eq!(stats.connections_open, 1);
        assert_eq!(stats.frames_in, 1, "the cut frame was never delivered");
        running.stop().await;
    })
    .await;
}

#[tokio::test]
async fn half_close_by_the_client_still_gets_every_echo_before_the_server_closes() {
    bounded(async {
        let (recorder, mut seen) = Recorder::new(true);
        let running = Running::<String>::start(Config::default(), recorder).await;
        let mut stream = TcpStream::connect(running.addr()).await.unwrap();
        let id = next_open(&mut seen).await;
        let frames: Vec<Vec<u8>> = (0..2000u32)
            .map(|i| i.to_be_bytes().repeat((i % 64) as usize))
            .collect();
        let (mut rd, mut wr) = stream.split();
        let write = async {
            for f in &frames {
                wr.write_all(&packet(f)).await.unwrap();
            }
            // Half-close: nothing more from us, but we keep reading.
            wr.shutdown().await.unwrap();
        };
        let read = async {
            let mut got = Vec::new();
            let mut head = [0u8; 4];
            while rd.read_exact(&mut head).await.is_ok() {
                let mut payload = vec![0u8; u32::from_be_bytes(head) as usize];
                rd.read_exact(&mut payload).await.unwrap();
                got.push(payload);
            }
            got
        };
        let ((), got) = tokio::join!(write, read);
        assert_eq!(got, frames, "every echo arrives, in order, before the end");
        assert!(matches!(
            close_of(&mut seen, id).await,
            CloseReason::PeerEof
        ));
        assert_eq!(running.server.stats().sent, 2000);
        running.stop().await;
    })
    .await;
}

/// A codec with this header size and a 100-byte maximum.
fn codec(header: HeaderLen) -> PacketN {
    PacketN::builder()
        .header_len(header)
        .max_frame_len(100)
        .build()
        .unwrap()
}

/// A header of `n` bytes (big-endian) declaring `len`.
fn header(n: usize, len: u64) -> Vec<u8> {
    len.to_be_bytes()[8 - n..].to_vec()
}

#[tokio::test]
async fn declared_length_over_the_max_disconnects_on_every_header_size() {
    bounded(async {
        for (header_len, n) in [
            (HeaderLen::One, 1),
            (HeaderLen::Two, 2),
            (HeaderLen::Four, 4),
            (HeaderLen::Eight, 8),
        ] {
            let max_declared = if n == 8 {
                u64::MAX
            } else {
                (1u64 << (8 * n)) - 1
            };
            for declared in [101, max_declared, 1 << 63] {
                if declared > max_declared {
                    continue;
                }
                hostile_header_is_dropped_promptly(codec(header_len), header(n, declared)).await;
            }
        }
    })
    .await;
}

async fn hostile_header_is_dropped_promptly(codec: PacketN, hostile: Vec<u8>) {
    let (recorder, mut seen) = Recorder::new(true);
    let server: Server = Server::bind("127.0.0.1:0", Config::new(codec.clone()))
        .await
        .unwrap();
    let running = Running::serve(server, recorder);
    let good = dial(running.addr(), Config::new(codec)).await.unwrap();
    next_open(&mut seen).await;
    let mut bad = TcpStream::connect(running.addr()).await.unwrap();
    let bad_id = next_open(&mut seen).await;
    bad.write_all(&hostile).await.unwrap();
    let reason = close_of(&mut seen, bad_id).await;
    assert!(
        matches!(
            reason,
            CloseReason::Frame(FrameError::FrameTooLarge { max: 100, .. })
        ),
        "{hostile:?}: {reason:?}"
    );
    // The server dropped the connection: the peer sees the end.
    let mut rest = Vec::new();
    let _ = bad.read_to_end(&mut rest).await;
    assert!(rest.is_empty());
    round_trip(&good, "unaffected").await;
    let stats = running.server.stats();
    assert_eq!(stats.connections_open, 1);
    assert_eq!(stats.frames_in, 1);
    running.stop().await;
}

/// A client writes 4 MiB of frames and never reads the echoes, while a good
/// client round-trips 500 frames. With `disconnect`, the server aborts a
/// session whose echo finds its queue full; otherwise the echo just fails.
/// Returns the bad session's close reason (if it closed) and the stats.
async fn client_that_never_reads(disconnect: bool) -> (Option<CloseReason>, castnet_tokio::Stats) {
    // Room for the good client's whole pipelined burst (500 small frames),
    // not for the flood of 1 KiB frames; a short linger so that `stop` does
    // not wait long for a queue that cannot drain.
    let session = SessionConfig::builder()
        .max_queue_bytes(64 * 1024)
        .linger(Duration::from_millis(100))
        .build()
        .unwrap();
    let (recorder, mut seen) = match disconnect {
        true => Recorder::echo_or_abort_when_full(),
        false => Recorder::new(true),
    };
    let running = Running::<String>::start(small_send_buffer(session), recorder).await;
    let server = running.server.clone();
    let good = dial(running.addr(), Config::default()).await.unwrap();
    next_open(&mut seen).await;
    let (_bad_rd, mut bad_wr) = stalled_client(running.addr()).await.into_split();
    let bad_id = next_open(&mut seen).await;
    let flood = tokio::spawn(async move {
        let frame = packet(&[0u8; 1024]);
        for _ in 0..4096 {
            if bad_wr.write_all(&frame).await.is_err() {
                break; // disconnected
            }
        }
        bad_wr
    });
    // Others keep their throughput: a pipelined run of round trips.
    for i in 0..500u32 {
        good.send(i.to_be_bytes().to_vec()).await.unwrap();
    }
    for i in 0..500u32 {
        assert_eq!(good.recv().await.unwrap()[..], i.to_be_bytes());
    }
    let _bad_wr = flood.await.unwrap();
    let reason = match disconnect {
        true => Some(close_of(&mut seen, bad_id).await),
        false => {
            // Still open, its queue still full: a send is refused at once
            // and the message handed back.
            let bad = server.session(bad_id).expect("the bad session stays open");
            match bad.try_send("more") {
                Err(TrySendError::QueueFull(m)) => assert_eq!(m, "more"),
                other => panic!("expected QueueFull, got {other:?}"),
            }
            None
        }
    };
    round_trip(&good, "still fine").await;
    let stats = server.stats();
    running.stop().await;
    (reason, stats)
}

#[tokio::test]
async fn a_client_that_never_reads_gets_its_sends_refused_and_others_are_unaffected() {
    bounded(async {
        let (reason, stats) = client_that_never_reads(false).await;
        assert!(reason.is_none());
        assert!(stats.refused_queue_full > 0);
        assert_eq!(stats.connections_accepted, 2);
    })
    .await;
}

#[tokio::test]
async fn a_client_that_never_reads_is_disconnected_by_policy_and_others_are_unaffected() {
    bounded(async {
        let (reason, stats) = client_that_never_reads(true).await;
        assert!(matches!(reason, Some(CloseReason::Aborted)), "{reason:?}");
        assert!(stats.refused_queue_full > 0);
    })
    .await;
}

#[tokio::test]
async fn a_reply_cut_off_by_the_peer_s_decode_error_is_counted_as_failed_closed() {
    bounded(async {
        let (recorder, mut seen) = Recorder::new(true);
        let running = Running::<String>::start(Config::default(), recorder).await;
        let mut bad = TcpStream::connect(running.addr()).await.unwrap();
        let id = next_open(&mut seen).await;
        // A good frame and a hostile header in one write: the echo of the
        // first is accepted by its handler in the same turn that the second
        // ends the session.
        let mut bytes = packet(b"hello");
        bytes.extend_from_slice(&u32::MAX.to_be_bytes());
        bad.write_all(&bytes).await.unwrap();
        assert!(matches!(
            close_of(&mut seen, id).await,
            CloseReason::Frame(FrameError::FrameTooLarge { .. })
        ));
        let stats = running.server.stats();
        assert_eq!(stats.frames_in, 1);
        // The one accepted send ended, and is counted where it ended.
        assert_eq!(
            stats.sent + stats.failed_closed + stats.failed_timed_out + stats.refused_queue_full,
            1,
            "{stats:?}"
        );
        running.stop().await;
    })
    .await;
}
