//! Faulty and hostile peers. Each scenario checks that the rest of the
//! server is unaffected: another client still round-trips, and the counters
//! show only the faulty connection going away.

use crate::raw;
use crate::support::{dial, round_trip, small_send_buffer, wait_until, Echo, Recorder, Running};
use crate::TestRuntime;
use castnet_core::frame::{FrameError, HeaderLen, PacketN};
use castnet_core::session::{CloseReason, SessionConfig};
use castnet_engine::{Config, Stats, TrySendError};
use std::time::Duration;

pub async fn peer_reset_mid_frame_closes_only_that_session<T: TestRuntime>() {
    let (recorder, seen) = Recorder::new::<T>(Echo::Conn);
    let running = Running::<T>::start(Config::default(), recorder).await;
    let good = running.dial().await;
    seen.open().await;
    let mut bad = raw::connect(running.addr());
    let bad_id = seen.open().await;
    // Half a frame, then a reset.
    raw::write(&mut bad, &raw::packet(&[9u8; 1000])[..500]);
    raw::reset(bad);
    let reason = seen.close_of(bad_id).await;
    assert!(
        matches!(
            reason,
            CloseReason::Io(_) | CloseReason::Frame(FrameError::UnexpectedEof { .. })
        ),
        "{reason:?}"
    );
    round_trip::<T>(&good, "unaffected").await;
    // Counters are published after the turn's write: the echo may arrive
    // first.
    let server = running.server.clone();
    wait_until::<T>("the round trip is counted", || {
        server.stats().frames_in >= 1
    })
    .await;
    let stats = server.stats();
    assert_eq!(stats.connections_open, 1);
    assert_eq!(stats.frames_in, 1, "the cut frame was never delivered");
    running.stop().await;
}

pub async fn half_close_by_the_client_still_gets_every_echo_before_the_server_closes<
    T: TestRuntime,
>() {
    let (recorder, seen) = Recorder::new::<T>(Echo::Conn);
    let running = Running::<T>::start(Config::default(), recorder).await;
    let stream = raw::connect(running.addr());
    let id = seen.open().await;
    let frames: Vec<Vec<u8>> = (0..2000u32)
        .map(|i| i.to_be_bytes().repeat((i % 64) as usize))
        .collect();
    let mut writer = stream.try_clone().unwrap();
    let sent = frames.clone();
    let write = raw::thread(move || {
        for f in &sent {
            raw::write(&mut writer, &raw::packet(f));
        }
        // Half-close: nothing more from us, but we keep reading.
        raw::shutdown_write(&writer);
    });
    let mut reader = stream;
    let read = raw::thread(move || raw::read_to_end(&mut reader));
    write.join().await;
    let got = read.join().await;
    assert_eq!(got, frames, "every echo arrives, in order, before the end");
    assert!(matches!(seen.close_of(id).await, CloseReason::PeerEof));
    assert_eq!(running.server.stats().sent, 2000);
    running.stop().await;
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

pub async fn declared_length_over_the_max_disconnects_on_every_header_size<T: TestRuntime>() {
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
            hostile_header_is_dropped_promptly::<T>(codec(header_len), header(n, declared)).await;
        }
    }
}

async fn hostile_header_is_dropped_promptly<T: TestRuntime>(codec: PacketN, hostile: Vec<u8>) {
    let (recorder, seen) = Recorder::new::<T>(Echo::Conn);
    let running = Running::<T>::start(Config::new(codec.clone()), recorder).await;
    let good = dial::<T>(running.addr(), Config::new(codec)).await;
    seen.open().await;
    let mut bad = raw::connect(running.addr());
    let bad_id = seen.open().await;
    raw::write(&mut bad, &hostile);
    let reason = seen.close_of(bad_id).await;
    assert!(
        matches!(
            reason,
            CloseReason::Frame(FrameError::FrameTooLarge { max: 100, .. })
        ),
        "{hostile:?}: {reason:?}"
    );
    // The server dropped the connection: the peer sees the end, and nothing
    // before it.
    let rest = raw::thread(move || {
        let mut rest = Vec::new();
        let _ = std::io::Read::read_to_end(&mut bad, &mut rest);
        rest
    })
    .join()
    .await;
    assert!(rest.is_empty());
    round_trip::<T>(&good, "unaffected").await;
    // Counters are published after the turn's write: the echo may arrive
    // first.
    let server = running.server.clone();
    wait_until::<T>("the round trip is counted", || {
        server.stats().frames_in == 1
    })
    .await;
    assert_eq!(server.stats().connections_open, 1);
    running.stop().await;
}

/// A client writes up to 4 MiB of frames and never reads the echoes, which
/// its server session sends through the handle (`try_send`), while a good
/// client round-trips 500 frames. With `disconnect`, the handler aborts a
/// session whose echo finds its queue full; otherwise the echo just fails.
/// Returns the bad session's close reason (if it closed) and the stats.
async fn client_that_never_reads<T: TestRuntime>(disconnect: bool) -> (Option<CloseReason>, Stats) {
    // Room for the good client's whole pipelined burst (500 small frames),
    // not for the flood of 1 KiB frames; a short linger so that `stop` does
    // not wait long for a queue that cannot drain.
    let session = SessionConfig::builder()
        .max_queue_bytes(64 * 1024)
        .linger(Duration::from_millis(100))
        .build()
        .unwrap();
    let echo = match disconnect {
        true => Echo::HandleOrAbort,
        false => Echo::Handle,
    };
    let (recorder, seen) = Recorder::new::<T>(echo);
    let running = Running::<T>::start(small_send_buffer(session), recorder).await;
    let server = running.server.clone();
    let good = running.dial().await;
    seen.open().await;
    let bad = raw::stalled(running.addr());
    let bad_id = seen.open().await;
    // The flood ends when it is all written or the server cuts it off (at
    // the disconnect, or at `stop` below when the server stopped reading).
    let mut bad_wr = bad.try_clone().unwrap();
    let flood = raw::thread(move || {
        let frame = raw::packet(&[0u8; 1024]);
        for _ in 0..4096 {
            if std::io::Write::write_all(&mut bad_wr, &frame).is_err() {
                break;
            }
        }
    });
    // Others keep their throughput: a pipelined run of round trips.
    for i in 0..500u32 {
        good.send(i.to_be_bytes().to_vec()).await.unwrap();
    }
    for i in 0..500u32 {
        assert_eq!(good.recv().await.unwrap()[..], i.to_be_bytes());
    }
    let reason = match disconnect {
        true => Some(seen.close_of(bad_id).await),
        false => {
            // Still open, its queue bounded: once the echoes have filled it,
            // sends are refused at once with the message handed back. (The
            // kernel may still take a few KiB of what was queued, so the
            // queue can be a little under its bound: a few more sends may
            // fit, never more than the bound's worth of frames.)
            wait_until::<T>("an echo to the bad client is refused", || {
                server.stats().refused_queue_full > 0
            })
            .await;
            let bad = server.session(bad_id).expect("the bad session stays open");
            let bound = SessionConfig::default().max_queue_frames();
            let mut admitted = 0;
            loop {
                match bad.try_send("more") {
                    Ok(()) => admitted += 1,
                    Err(TrySendError::QueueFull(m)) => break assert_eq!(m, "more"),
                    Err(other) => panic!("expected QueueFull, got {other:?}"),
                }
                assert!(admitted <= bound, "the queue bound is not enforced");
            }
            None
        }
    };
    round_trip::<T>(&good, "still fine").await;
    let stats = server.stats();
    running.stop().await;
    flood.join().await;
    drop(bad);
    (reason, stats)
}

pub async fn a_client_that_never_reads_gets_its_sends_refused_and_others_are_unaffected<
    T: TestRuntime,
>() {
    let (reason, stats) = client_that_never_reads::<T>(false).await;
    assert!(reason.is_none());
    assert!(stats.refused_queue_full > 0);
    assert_eq!(stats.connections_accepted, 2);
}

pub async fn a_client_that_never_reads_is_disconnected_by_policy_and_others_are_unaffected<
    T: TestRuntime,
>() {
    let (reason, stats) = client_that_never_reads::<T>(true).await;
    assert!(matches!(reason, Some(CloseReason::Aborted)), "{reason:?}");
    assert!(stats.refused_queue_full > 0);
}

pub async fn a_reply_cut_off_by_the_peer_s_decode_error_is_counted_as_failed_closed<
    T: TestRuntime,
>() {
    let (recorder, seen) = Recorder::new::<T>(Echo::Handle);
    let running = Running::<T>::start(Config::default(), recorder).await;
    let mut bad = raw::connect(running.addr());
    let id = seen.open().await;
    // A good frame and a hostile header in one write: the echo of the first,
    // admitted through the handle, reaches the session in the same turn
    // that the second ends it.
    let mut bytes = raw::packet(b"hello");
    bytes.extend_from_slice(&u32::MAX.to_be_bytes());
    raw::write(&mut bad, &bytes);
    assert!(matches!(
        seen.close_of(id).await,
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
    drop(bad);
}
