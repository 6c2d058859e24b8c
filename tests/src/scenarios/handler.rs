//! Handler callbacks: `on_open`, `on_frame`, `on_sent` and `on_close` arrive
//! in order, once, with the right close reason for each way a session ends;
//! a panicking callback ends only its session; `REPORT_SENT`; the queue
//! bound holds for a handler flooding its own session through the handle.

use crate::raw;
use crate::support::{round_trip, Echo, Recorder, Running, Seen, SeenRx};
use crate::TestRuntime;
use bytes::Bytes;
use castnet_core::frame::{FrameError, PacketN};
use castnet_core::hub::ServerState;
use castnet_core::session::{CloseReason, SendFailure, SendId, SendOutcome, SessionConfig};
use castnet_core::SessionId;
use castnet_engine::{Config, Conn, Handler, SendWork, TrySendError};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Arc;

/// Everything seen for session `id` up to and including its close.
async fn seen_until_close<T: TestRuntime>(seen: &SeenRx<T>, id: SessionId) -> Vec<Seen> {
    let mut out = Vec::new();
    loop {
        let s = seen.next().await;
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

async fn callbacks_in_order<T: TestRuntime>(echo: Echo) {
    let (recorder, seen) = Recorder::new::<T>(echo);
    let running = Running::<T>::start(Config::default(), recorder).await;
    let (client, id) = running.connect(&seen).await;
    for word in ["one", "two", "three"] {
        client.send(word).await.unwrap();
    }
    for _ in 0..3 {
        client.recv().await.unwrap();
    }
    client.close();
    let events = seen_until_close(&seen, id).await;

    let frames: Vec<_> = events
        .iter()
        .filter_map(|s| match s {
            Seen::Frame(_, f) => Some(f.clone()),
            _ => None,
        })
        .collect();
    assert_eq!(frames, ["one", "two", "three"]);
    // One on_sent per echo, in the order the sends were made, each after
    // the frame that caused it.
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
}

/// Echoed with `Conn::send_tracked`.
pub async fn callbacks_arrive_open_then_frames_and_their_sends_then_close_once<T: TestRuntime>() {
    callbacks_in_order::<T>(Echo::ConnTracked).await;
}

/// Echoed through the session handle's `try_send`.
pub async fn callbacks_arrive_in_order_for_sends_through_the_session_handle<T: TestRuntime>() {
    callbacks_in_order::<T>(Echo::Handle).await;
}

pub async fn on_close_reports_local_aborted_peer_eof_reset_and_frame_errors<T: TestRuntime>() {
    let (recorder, seen) = Recorder::new::<T>(Echo::Conn);
    let running = Running::<T>::start(Config::default(), recorder).await;
    let server = running.server.clone();

    // Closed by the server: Local.
    let (_a, a) = running.connect(&seen).await;
    server.session(a).unwrap().close();
    assert!(matches!(seen.close_of(a).await, CloseReason::Local));

    // Aborted by the server.
    let (_b, b) = running.connect(&seen).await;
    server.session(b).unwrap().abort();
    assert!(matches!(seen.close_of(b).await, CloseReason::Aborted));

    // The peer ends its side: PeerEof.
    let c_stream = raw::connect(running.addr());
    let c = seen.open().await;
    raw::shutdown_write(&c_stream);
    assert!(matches!(seen.close_of(c).await, CloseReason::PeerEof));

    // The peer resets the connection: an IO error.
    let d_stream = raw::connect(running.addr());
    let d = seen.open().await;
    raw::reset(d_stream);
    assert!(matches!(seen.close_of(d).await, CloseReason::Io(_)));

    // The peer ends mid-frame: a decode error.
    let mut e_stream = raw::connect(running.addr());
    let e = seen.open().await;
    raw::write(&mut e_stream, &raw::packet(b"cut short")[..6]);
    raw::shutdown_write(&e_stream);
    assert!(matches!(
        seen.close_of(e).await,
        CloseReason::Frame(FrameError::UnexpectedEof { .. })
    ));

    assert_eq!(server.stats().connections_open, 0);
    running.stop().await;
    drop((c_stream, e_stream));
}

/// Echoes; panics on the frame "boom", and in the first `on_open`.
struct Fragile {
    first_open: AtomicBool,
    opened: async_channel::Sender<SessionId>,
}

impl Handler<PacketN> for Fragile {
    fn on_open(&self, cx: &mut Conn<'_, PacketN>) {
        if self.first_open.swap(false, Ordering::Relaxed) {
            panic!("on_open panicked (on purpose)");
        }
        let _ = self.opened.try_send(cx.id());
    }
    fn on_frame(&self, cx: &mut Conn<'_, PacketN>, f: Bytes) {
        if &f[..] == b"boom" {
            panic!("on_frame panicked (on purpose)");
        }
        let _ = cx.send(f);
    }
}

pub async fn a_panicking_callback_ends_only_its_own_session_and_stop_still_completes<
    T: TestRuntime,
>() {
    let (opened, opens) = async_channel::unbounded();
    let handler = Fragile {
        first_open: AtomicBool::new(true),
        opened,
    };
    let running = Running::<T>::start(Config::default(), handler).await;
    let server = running.server.clone();
    // The first session's on_open panics: that session ends, and the server
    // goes on accepting.
    let first = running.dial().await;
    assert_eq!(first.recv().await, None);
    let good = running.dial().await;
    opens.recv().await.unwrap();
    round_trip::<T>(&good, "fine").await;

    let bad = running.dial().await;
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

    round_trip::<T>(&good, "still fine").await;
    running.stop().await;
    assert_eq!(server.state(), ServerState::Closed);
}

/// Echoes (with `Conn::send`, or through the handle) and counts `on_sent`
/// calls, leaving `REPORT_SENT` at its default.
struct QuietEcho {
    calls: Arc<AtomicUsize>,
    via_handle: bool,
}

impl Handler<PacketN> for QuietEcho {
    fn on_frame(&self, cx: &mut Conn<'_, PacketN>, frame: Bytes) {
        if self.via_handle {
            let _ = cx.session().try_send(frame);
        } else {
            let _ = cx.send(frame);
        }
    }
    fn on_sent(&self, _: &mut Conn<'_, PacketN>, _: SendId, _: SendOutcome) {
        self.calls.fetch_add(1, Ordering::Relaxed);
    }
}

async fn on_sent_not_called<T: TestRuntime>(via_handle: bool) {
    let calls = Arc::new(AtomicUsize::new(0));
    let handler = QuietEcho {
        calls: calls.clone(),
        via_handle,
    };
    let running = Running::<T>::start(Config::default(), handler).await;
    let client = running.dial().await;
    // More than the default queue bound holds at once: untracked sends must
    // give their room back as they are written, or this stalls.
    let frames = 5 * SessionConfig::default().max_queue_frames();
    for i in 0..frames as u32 {
        client.send(i.to_be_bytes().to_vec()).await.unwrap();
        assert_eq!(client.recv().await.unwrap()[..], i.to_be_bytes());
    }
    let server = running.stop().await;
    let stats = server.stats();
    assert_eq!(stats.sent, frames as u64);
    assert_eq!(calls.load(Ordering::Relaxed), 0);
}

pub async fn on_sent_is_not_called_unless_the_handler_asks_for_it_and_sends_still_complete<
    T: TestRuntime,
>() {
    on_sent_not_called::<T>(false).await;
}

pub async fn on_sent_is_not_called_for_handle_sends_unless_asked_and_their_room_comes_back<
    T: TestRuntime,
>() {
    on_sent_not_called::<T>(true).await;
}

/// Answers every frame with `burst` copies through the handle, counting
/// refusals and checking that each refused message comes back intact.
struct Burst {
    burst: usize,
    refused: Arc<AtomicUsize>,
}

impl Handler<PacketN> for Burst {
    fn on_frame(&self, cx: &mut Conn<'_, PacketN>, frame: Bytes) {
        let session = cx.session();
        for _ in 0..self.burst {
            match session.try_send(frame.clone()) {
                Ok(()) => {}
                Err(TrySendError::QueueFull(back)) => {
                    assert_eq!(back, frame, "refused message handed back");
                    self.refused.fetch_add(1, Ordering::Relaxed);
                }
                Err(other) => panic!("unexpected refusal {other:?}"),
            }
        }
    }
}

pub async fn a_handler_flooding_its_own_session_is_held_to_the_queue_bound_every_time<
    T: TestRuntime,
>() {
    // Sends through the handle are admitted against the queue bound: it must
    // hold exactly, and the room must come back once they are written.
    let bound = 8;
    let session = SessionConfig::builder()
        .max_queue_frames(bound)
        .build()
        .unwrap();
    let refused = Arc::new(AtomicUsize::new(0));
    let handler = Burst {
        burst: 20,
        refused: refused.clone(),
    };
    let running = Running::<T>::start(Config::default().session(session), handler).await;
    let client = running.dial().await;
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
}

/// Answers each frame with three replies through the handle: quiet,
/// awaited, quiet again, the awaited one's outcome reported on a channel.
struct Mixed(async_channel::Sender<SendWork>);

impl Handler<PacketN> for Mixed {
    fn on_frame(&self, cx: &mut Conn<'_, PacketN>, frame: Bytes) {
        let session = cx.session();
        let tag = |t: u8| [&frame[..], &[t]].concat();
        session.try_send(tag(b'a')).unwrap();
        let _ = self.0.try_send(session.async_send(tag(b'b')));
        session.try_send(tag(b'c')).unwrap();
    }
}

pub async fn quiet_replies_packed_together_keep_their_order_around_an_awaited_send<
    T: TestRuntime,
>() {
    let (tx, works) = async_channel::unbounded();
    let running = Running::<T>::start(Config::default(), Mixed(tx)).await;
    let client = running.dial().await;
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
}
