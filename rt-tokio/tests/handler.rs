//! Handler callbacks: `on_open`, `on_frame`, `on_sent` and `on_close` arrive
//! in order, once, with the right close reason for each way a session ends.

mod common;

use bytes::Bytes;
use castnet_core::frame::{FrameError, PacketN};
use castnet_core::hub::ServerState;
use castnet_core::session::{CloseReason, SendFailure, SendOutcome};
use castnet_core::SessionId;
use castnet_tokio::{dial, Config, Conn, Handler};
use common::{
    bounded, close_of, next_open, next_seen, packet, round_trip, Recorder, Running, Seen,
};
use socket2::SockRef;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;
use tokio::io::AsyncWriteExt;
use tokio::net::TcpStream;
use tokio::sync::mpsc::{self, UnboundedReceiver};

/// Everything seen for session `id` up to and including its close.
async fn seen_until_close(seen: &mut UnboundedReceiver<Seen>, id: SessionId) -> Vec<Seen> {
    let mut out = Vec::new();
    loop {
        let s = next_seen(seen).await;
        match &s {
            Seen::Open(who) | Seen::Frame(who, _) | Seen::Sent(who, ..) | Seen::Close(who, _)
                if *who != id => {}
            Seen::Close(..) => {
                out.push(s);
                return out;
            }
            _ => out.push(s),
        }
    }
}

#[tokio::test]
async fn callbacks_arrive_open_then_frames_and_their_sends_then_close_once() {
    bounded(async {
        let (recorder, mut seen) = Recorder::new(true);
        let running = Running::<String>::start(Config::default(), recorder).await;
        let client = dial(running.addr(), Config::default()).await.unwrap();
        for word in ["one", "two", "three"] {
            client.send(word).await.unwrap();
        }
        for _ in 0..3 {
            client.recv().await.unwrap();
        }
        let id = next_open(&mut seen).await;
        client.close();
        let events = seen_until_close(&mut seen, id).await;

        let frames: Vec<_> = events
            .iter()
            .filter_map(|s| match s {
                Seen::Frame(_, f) => Some(f.clone()),
                _ => None,
            })
            .collect();
        assert_eq!(frames, ["one", "two", "three"]);
        // One on_sent per echo, in the order the sends were made, each
        // after the frame that caused it.
        let mut frames_so_far = 0;
        let mut sends = Vec::new();
        for s in &events {
            match s {
                Seen::Frame(..) => frames_so_far += 1,
                Seen::Sent(_, send, outcome) => {
                    assert_eq!(*outcome, SendOutcome::Sent);
                    sends.push(*send);
                    assert!(sends.len() <= frames_so_far, "on_sent before its frame");
                }
                Seen::Open(_) => panic!("on_open twice"),
                Seen::Close(..) => {}
            }
        }
        assert_eq!(sends.len(), 3);
        assert!(sends.windows(2).all(|w| w[0] < w[1]));
        assert!(matches!(
            events.last(),
            Some(Seen::Close(_, CloseReason::PeerEof))
        ));
        running.stop().await;
    })
    .await;
}

#[tokio::test]
async fn on_close_reports_local_aborted_peer_eof_reset_and_frame_errors() {
    bounded(async {
        let (recorder, mut seen) = Recorder::new(true);
        let running = Running::<String>::start(Config::default(), recorder).await;
        let server = running.server.clone();

        // Closed by the server: Local.
        let (_a, a) = running.connect(&mut seen).await;
        server.session(a).unwrap().close();
        assert!(matches!(close_of(&mut seen, a).await, CloseReason::Local));

        // Aborted by the server.
        let (_b, b) = running.connect(&mut seen).await;
        server.session(b).unwrap().abort();
        assert!(matches!(close_of(&mut seen, b).await, CloseReason::Aborted));

        // The peer ends its side: PeerEof.
        let mut c_stream = TcpStream::connect(running.addr()).await.unwrap();
        let c = next_open(&mut seen).await;
        c_stream.shutdown().await.unwrap();
        assert!(matches!(close_of(&mut seen, c).await, CloseReason::PeerEof));

        // The peer resets the connection: an IO error.
        let d_stream = TcpStream::connect(running.addr()).await.unwrap();
        let d = next_open(&mut seen).await;
        SockRef::from(&d_stream)
            .set_linger(Some(Duration::ZERO))
            .unwrap();
        drop(d_stream);
        assert!(matches!(close_of(&mut seen, d).await, CloseReason::Io(_)));

        // The peer ends mid-frame: a decode error.
        let mut e_stream = TcpStream::connect(running.addr()).await.unwrap();
        let e = next_open(&mut seen).await;
        e_stream
            .write_all(&packet(b"cut short")[..6])
            .await
            .unwrap();
        e_stream.shutdown().await.unwrap();
        assert!(matches!(
            close_of(&mut seen, e).await,
            CloseReason::Frame(FrameError::UnexpectedEof { .. })
        ));

        assert_eq!(server.stats().connections_open, 0);
        running.stop().await;
    })
    .await;
}

/// Echoes; panics on the frame "boom", and in the first `on_open`.
struct Fragile {
    first_open: AtomicBool,
    opened: mpsc::UnboundedSender<SessionId>,
}

impl Handler<PacketN> for Fragile {
    fn on_open(&self, cx: &mut Conn<'_, PacketN>) {
        let s = cx.session();
        if self.first_open.swap(false, Ordering::Relaxed) {
            panic!("on_open panicked (on purpose)");
        }
        let _ = self.opened.send(s.id());
    }
    fn on_frame(&self, cx: &mut Conn<'_, PacketN>, f: Bytes) {
        let s = cx.session();
        if &f[..] == b"boom" {
            panic!("on_frame panicked (on purpose)");
        }
        let _ = s.try_send(f);
    }
}

#[tokio::test]
async fn a_panicking_callback_ends_only_its_own_session_and_stop_still_completes() {
    bounded(async {
        let (opened, mut opens) = mpsc::unbounded_channel();
        let handler = Fragile {
            first_open: AtomicBool::new(true),
            opened,
        };
        let running = Running::<String>::start(Config::default(), handler).await;
        let server = running.server.clone();
        // The first session's on_open panics: that session ends, and the
        // server goes on accepting.
        let first = dial(running.addr(), Config::default()).await.unwrap();
        assert_eq!(first.recv().await, None);
        let good = dial(running.addr(), Config::default()).await.unwrap();
        opens.recv().await.unwrap();
        round_trip(&good, "fine").await;

        let bad = dial(running.addr(), Config::default()).await.unwrap();
        let bad_id = opens.recv().await.unwrap();
        let bad_side = server.session(bad_id).unwrap();
        let room = server.channel("room".to_string());
        for s in server.sessions() {
            assert!(room.join(&s, |_, _| {}));
        }
        bad.send("boom").await.unwrap();
        assert_eq!(
            bad.recv().await,
            None,
            "the panicking session's peer sees the end"
        );
        bad_side.closed().await;
        assert!(bad_side.is_closed());
        assert_eq!(
            bad_side.async_send("late").await.unwrap_err().failure(),
            Some(SendFailure::Closed)
        );
        assert!(server.session(bad_id).is_none());
        assert_eq!(room.len(), 1);
        assert_eq!(server.stats().connections_open, 1);

        round_trip(&good, "still fine").await;
        running.stop().await;
        assert_eq!(server.state(), ServerState::Closed);
    })
    .await;
}

/// Echoes and counts `on_sent` calls, leaving `REPORT_SENT` at its default.
struct QuietEcho(std::sync::Arc<std::sync::atomic::AtomicUsize>);

impl Handler<PacketN> for QuietEcho {
    fn on_frame(&self, cx: &mut Conn<'_, PacketN>, frame: Bytes) {
        let session = cx.session();
        let _ = session.try_send(frame);
    }
    fn on_sent(&self, _: &mut Conn<'_, PacketN>, _: castnet_core::session::SendId, _: SendOutcome) {
        self.0.fetch_add(1, Ordering::Relaxed);
    }
}

#[tokio::test]
async fn on_sent_is_not_called_unless_the_handler_asks_for_it_and_sends_still_complete() {
    bounded(async {
        let calls = std::sync::Arc::new(std::sync::atomic::AtomicUsize::new(0));
        let running = Running::<String>::start(Config::default(), QuietEcho(calls.clone())).await;
        let client = dial(running.addr(), Config::default()).await.unwrap();
        // More than the default queue bound holds at once: untracked sends
        // must give their room back as they are written, or this stalls.
        let frames = 5 * castnet_core::session::SessionConfig::default().max_queue_frames();
        for i in 0..frames as u32 {
            client.send(i.to_be_bytes().to_vec()).await.unwrap();
            assert_eq!(client.recv().await.unwrap()[..], i.to_be_bytes());
        }
        let server = running.stop().await;
        let stats = server.stats();
        assert_eq!(stats.sent, frames as u64);
        assert_eq!(calls.load(Ordering::Relaxed), 0);
    })
    .await;
}

/// Answers every frame with `burst` copies, counting refusals and checking
/// that each refused message comes back intact.
struct Burst {
    burst: usize,
    refused: std::sync::Arc<std::sync::atomic::AtomicUsize>,
}

impl Handler<PacketN> for Burst {
    fn on_frame(&self, cx: &mut Conn<'_, PacketN>, frame: Bytes) {
        let session = cx.session();
        for _ in 0..self.burst {
            match session.try_send(frame.clone()) {
                Ok(()) => {}
                Err(castnet_tokio::TrySendError::QueueFull(back)) => {
                    assert_eq!(back, frame, "refused message handed back");
                    self.refused.fetch_add(1, Ordering::Relaxed);
                }
                Err(other) => panic!("unexpected refusal {other:?}"),
            }
        }
    }
}

#[tokio::test]
async fn a_handler_flooding_its_own_session_is_held_to_the_queue_bound_every_time() {
    bounded(async {
        // Sends from a session's own handler are admitted in a batch charged
        // when the handler returns: the bound must hold exactly all the same,
        // and the room must come back once they are written.
        let bound = 8;
        let session = castnet_core::session::SessionConfig::builder()
            .max_queue_frames(bound)
            .build()
            .unwrap();
        let refused = std::sync::Arc::new(std::sync::atomic::AtomicUsize::new(0));
        let handler = Burst {
            burst: 20,
            refused: refused.clone(),
        };
        let running = Running::<String>::start(Config::default().session(session), handler).await;
        let client = dial(running.addr(), Config::default()).await.unwrap();
        for round in 1..=3usize {
            client.send(Bytes::from(vec![round as u8])).await.unwrap();
            for _ in 0..bound {
                assert_eq!(client.recv().await.unwrap()[..], [round as u8]);
            }
            assert_eq!(refused.load(Ordering::Relaxed), round * (20 - bound));
            // Nothing beyond the bound was queued: the next frame the client
            // gets is the next round's.
        }
        let server = running.stop().await;
        assert_eq!(server.stats().sent, 3 * bound as u64);
    })
    .await;
}

/// Answers each frame with three replies: quiet, awaited, quiet again, the
/// awaited one's outcome reported on a channel.
struct Mixed(mpsc::UnboundedSender<castnet_tokio::SendWork>);

impl Handler<PacketN> for Mixed {
    fn on_frame(&self, cx: &mut Conn<'_, PacketN>, frame: Bytes) {
        let session = cx.session();
        let tag = |t: u8| [&frame[..], &[t]].concat();
        session.try_send(tag(b'a')).unwrap();
        let _ = self.0.send(session.async_send(tag(b'b')));
        session.try_send(tag(b'c')).unwrap();
    }
}

#[tokio::test]
async fn quiet_replies_packed_together_keep_their_order_around_an_awaited_send() {
    bounded(async {
        // Quiet sends from the handler are copied together as they are made;
        // an awaited send in between must still go out in its place.
        let (tx, mut works) = mpsc::unbounded_channel();
        let running = Running::<String>::start(Config::default(), Mixed(tx)).await;
        let client = dial(running.addr(), Config::default()).await.unwrap();
        for i in 0..50u8 {
            client.try_send(vec![i]).unwrap();
        }
        for i in 0..50u8 {
            for t in [b'a', b'b', b'c'] {
                assert_eq!(client.recv().await.unwrap()[..], [i, t]);
            }
            let work = works.recv().await.unwrap();
            assert_eq!(work.await.ok(), Some(()));
        }
        let server = running.stop().await;
        assert_eq!(server.stats().sent, 150);
    })
    .await;
}
