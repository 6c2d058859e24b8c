//! Sending through the handle: `try_send` refusals that hand the message
//! back, `send` waiting for room, `async_send` outcomes (sent, timed out,
//! closed, queue full), the send quota, and every send ending exactly once.
//!
//! The stalled peer is a raw socket that does not read, with small socket
//! buffers on both sides, and frames larger than those buffers: the first
//! frame can then never be completely written, so the queue behind it stays
//! put until the peer reads.

use crate::raw;
use crate::rt::timeout;
use crate::support::{
    dial, echo, recorded_with_queue_bound, small_send_buffer, wait_until, Running, Seen, Server,
};
use crate::TestRuntime;
use bytes::Bytes;
use castnet_core::frame::{HeaderLen, PacketN};
use castnet_core::session::{SendFailure, SendOutcome, SessionConfig};
use castnet_engine::{Config, SendError, SendWorkError, Session, TrySendError};
use std::collections::HashMap;
use std::io::Read;
use std::net::TcpStream;
use std::time::Duration;

/// Larger than every socket buffer between the two ends.
const BIG: usize = 256 * 1024;

fn big(tag: u8) -> Bytes {
    Bytes::from(vec![tag; BIG])
}

/// A client dialled to a raw peer that accepts and does not read yet.
async fn client_and_stalled_peer<T: TestRuntime>(
    session: SessionConfig,
) -> (Session<PacketN>, TcpStream) {
    let (listener, addr) = raw::stalled_listener();
    let client = dial::<T>(addr, small_send_buffer(session)).await;
    let peer = raw::accept(&listener);
    (client, peer)
}

/// Reads `n` default-codec frames of `BIG` bytes on a thread, returning
/// their tags and the peer.
async fn read_big_frames(mut peer: TcpStream, n: usize) -> (Vec<u8>, TcpStream) {
    raw::thread(move || {
        let mut tags = Vec::new();
        for _ in 0..n {
            let frame = raw::read_packet(&mut peer).expect("frame");
            assert_eq!(frame.len(), BIG);
            assert!(frame.iter().all(|&b| b == frame[0]), "frame corrupted");
            tags.push(frame[0]);
        }
        (tags, peer)
    })
    .join()
    .await
}

pub async fn try_send_hands_the_message_back_when_full_and_send_waits_until_the_peer_reads<
    T: TestRuntime,
>() {
    let session = SessionConfig::builder()
        .max_queue_frames(2)
        .build()
        .unwrap();
    let (client, peer) = client_and_stalled_peer::<T>(session).await;
    client.try_send(big(1)).unwrap();
    client.try_send(big(2)).unwrap();
    match client.try_send(big(3)) {
        Err(TrySendError::QueueFull(m)) => assert_eq!(m, big(3), "message handed back"),
        other => panic!("expected QueueFull, got {other:?}"),
    }

    let mut send = Box::pin(client.send(big(3)));
    // A negative check: nothing can free the queue while the peer does not
    // read, so `send` is still waiting after this window.
    assert!(
        timeout::<T, _>(Duration::from_millis(100), &mut send)
            .await
            .is_none(),
        "send must wait while the queue is full"
    );
    let reader = raw::thread(move || {
        let mut peer = peer;
        let mut tags = Vec::new();
        for _ in 0..3 {
            let frame = raw::read_packet(&mut peer).expect("frame");
            assert_eq!(frame.len(), BIG);
            tags.push(frame[0]);
        }
        (tags, peer)
    });
    send.await.unwrap();
    let (tags, _peer) = reader.join().await;
    assert_eq!(tags, [1, 2, 3]);
    client.close();
    client.closed().await;
}

pub async fn async_send_times_out_behind_a_stalled_peer_and_fails_closed_after_abort<
    T: TestRuntime,
>() {
    let (client, _peer) = client_and_stalled_peer::<T>(SessionConfig::default()).await;
    // The first frame is partly written and stays stuck.
    let stuck = client.async_send(big(1));
    let short = client.async_send_timeout(big(2), Some(Duration::from_millis(100)));
    let waiting = client.async_send(big(3));
    assert_eq!(
        short.await.unwrap_err().failure(),
        Some(SendFailure::TimedOut)
    );
    client.abort();
    // A frame already partly written is never cut by a timeout; the abort
    // fails it, and the one behind it, `Closed`.
    assert_eq!(
        stuck.await.unwrap_err().failure(),
        Some(SendFailure::Closed)
    );
    assert_eq!(
        waiting.await.unwrap_err().failure(),
        Some(SendFailure::Closed)
    );
    assert_eq!(
        client.async_send("late").await.unwrap_err().failure(),
        Some(SendFailure::Closed)
    );
    match client.try_send("late") {
        Err(TrySendError::Closed(m)) => assert_eq!(m, "late"),
        other => panic!("expected Closed, got {other:?}"),
    }
    client.closed().await;
}

pub async fn async_send_refused_for_a_full_queue_resolves_queue_full_at_once<T: TestRuntime>() {
    let session = SessionConfig::builder()
        .max_queue_frames(1)
        .build()
        .unwrap();
    let (client, _peer) = client_and_stalled_peer::<T>(session).await;
    let first = client.async_send(big(1));
    let refused = client.async_send(big(2));
    assert_eq!(
        refused.await.unwrap_err().failure(),
        Some(SendFailure::QueueFull)
    );
    client.abort();
    assert!(first.await.is_err());
}

pub async fn a_dropped_send_work_does_not_cancel_the_send<T: TestRuntime>() {
    let running = Running::<T>::start(Config::default(), echo()).await;
    let client = running.dial().await;
    drop(client.async_send("still sent"));
    assert_eq!(&client.recv().await.unwrap()[..], b"still sent");
    running.stop().await;
}

pub async fn every_send_ends_exactly_once_in_its_send_work_and_in_on_sent<T: TestRuntime>() {
    let (running, seen) = recorded_with_queue_bound::<T>(16).await;
    let peer = raw::stalled(running.addr());
    let id = seen.open().await;
    let s = running.server.session(id).unwrap();

    // Sends of every fate: some time out behind the stuck first frame, some
    // are refused for a full queue, the rest fail at the abort, and the
    // first few are written once the peer reads a little.
    let mut works = Vec::new();
    for i in 0..40u8 {
        let timeout = (i % 3 == 1).then_some(Duration::from_millis(50));
        works.push(s.async_send_timeout(vec![i; 64 * 1024], timeout));
    }
    let _peer = raw::thread(move || {
        let mut peer = peer;
        let mut buf = vec![0u8; 200 * 1024];
        peer.read_exact(&mut buf).unwrap();
        peer
    })
    .join()
    .await;
    // Wait until a short-timeout send has timed out (there is a Sent or
    // Failed callback for each send as it ends).
    let mut outcomes = HashMap::new();
    while !outcomes
        .values()
        .any(|o| *o == SendOutcome::Failed(SendFailure::TimedOut))
    {
        if let Seen::Sent(_, send, outcome) = seen.next().await {
            assert!(
                outcomes.insert(send, outcome).is_none(),
                "{send} ended twice"
            );
        }
    }
    s.abort();

    let mut tally: HashMap<Result<(), SendFailure>, usize> = HashMap::new();
    for work in works {
        let result = work.await.map_err(|e| e.failure().expect("a send failure"));
        *tally.entry(result).or_default() += 1;
    }
    loop {
        match seen.next().await {
            Seen::Sent(_, send, outcome) => {
                assert!(
                    outcomes.insert(send, outcome).is_none(),
                    "{send} ended twice"
                );
            }
            Seen::Close(..) => break,
            _ => {}
        }
    }
    let count = |want: Result<(), SendFailure>| tally.get(&want).copied().unwrap_or(0);
    let ended = |want: SendOutcome| outcomes.values().filter(|o| **o == want).count();
    assert_eq!(tally.values().sum::<usize>(), 40);
    assert!(count(Ok(())) > 0);
    assert!(count(Err(SendFailure::TimedOut)) > 0);
    assert!(count(Err(SendFailure::QueueFull)) > 0);
    assert!(count(Err(SendFailure::Closed)) > 0);
    // Every admitted send got a SendId and exactly one on_sent; refusals for
    // a full queue never got an id.
    assert_eq!(outcomes.len(), 40 - count(Err(SendFailure::QueueFull)));
    assert_eq!(ended(SendOutcome::Sent), count(Ok(())));
    for why in [SendFailure::TimedOut, SendFailure::Closed] {
        assert_eq!(ended(SendOutcome::Failed(why)), count(Err(why)));
    }
    let stats = running.server.stats();
    assert_eq!(stats.sent as usize, count(Ok(())));
    assert_eq!(
        stats.failed_timed_out as usize,
        count(Err(SendFailure::TimedOut))
    );
    assert_eq!(
        stats.failed_closed as usize,
        count(Err(SendFailure::Closed))
    );
    assert_eq!(
        stats.refused_queue_full as usize,
        count(Err(SendFailure::QueueFull))
    );
    running.stop().await;
}

/// Counts how many `try_send`s of big frames are admitted before the first
/// `QueueFull`.
fn admitted_until_full(client: &Session<PacketN>, tag: u8) -> usize {
    let mut n = 0;
    while client.try_send(big(tag)).is_ok() {
        n += 1;
        assert!(n <= 64, "the queue bound is not enforced");
    }
    n
}

pub async fn the_send_quota_is_released_exactly_once_per_admitted_frame<T: TestRuntime>() {
    let session = SessionConfig::builder()
        .max_queue_frames(4)
        .build()
        .unwrap();
    let (client, peer) = client_and_stalled_peer::<T>(session).await;
    // One frame stuck; three that time out behind it; one refused.
    let stuck = client.async_send(big(1));
    let short = Some(Duration::from_millis(50));
    let expiring: Vec<_> = (0..3)
        .map(|_| client.async_send_timeout(big(2), short))
        .collect();
    let refused = client.async_send(big(2));
    assert_eq!(
        refused.await.unwrap_err().failure(),
        Some(SendFailure::QueueFull)
    );
    for work in expiring {
        assert_eq!(
            work.await.unwrap_err().failure(),
            Some(SendFailure::TimedOut)
        );
    }
    // Each timed-out frame gave its place back, once: exactly three fit
    // beside the stuck one (a leak admits fewer, a double release more).
    assert_eq!(admitted_until_full(&client, 3), 3);

    // The peer reads everything: every place comes back.
    let (tags, mut peer) = read_big_frames(peer, 4).await;
    assert_eq!(tags, [1, 3, 3, 3]);
    stuck.await.unwrap();
    let last = client.async_send("sync");
    let (sync, peer) = raw::thread(move || (raw::read_packet(&mut peer).unwrap(), peer))
        .join()
        .await;
    assert_eq!(sync, b"sync");
    last.await.unwrap();
    assert_eq!(admitted_until_full(&client, 4), 4);
    client.abort();
    client.closed().await;
    drop(peer);
}

pub async fn a_message_the_codec_refuses_is_reported_and_nothing_is_queued<T: TestRuntime>() {
    let codec = PacketN::builder()
        .header_len(HeaderLen::One)
        .build()
        .unwrap();
    let server = Server::<T>::bind("127.0.0.1:0", Config::new(codec.clone()))
        .await
        .unwrap();
    let running = Running::<T>::serve(server, echo());
    let client = dial::<T>(running.addr(), Config::new(codec)).await;
    // 256 bytes do not fit a one-byte header.
    let too_big = vec![0u8; 256];
    assert!(matches!(
        client.try_send(too_big.clone()),
        Err(TrySendError::Frame(_))
    ));
    assert!(matches!(
        client.send(too_big.clone()).await,
        Err(SendError::Frame(_))
    ));
    assert!(matches!(
        client.async_send(too_big.clone()).await,
        Err(SendWorkError::Frame(_))
    ));
    assert!(client
        .set_heartbeat(Some((Duration::from_secs(1), too_big.clone())))
        .is_err());
    assert!(running.server.broadcast(too_big.clone()).is_err());
    assert!(running.server.broadcast_detached(too_big).is_err());
    // Nothing was queued, nothing leaked: the next frame goes through.
    client.send("fits").await.unwrap();
    assert_eq!(&client.recv().await.unwrap()[..], b"fits");
    // Counters are published after the turn's write: the echo may arrive
    // first.
    let server = running.server.clone();
    wait_until::<T>("the frame is counted", || server.stats().frames_in >= 1).await;
    assert_eq!(server.stats().frames_in, 1);
    running.stop().await;
}
