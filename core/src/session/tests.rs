//! Unit tests of `Session`, one per rule, named for the rule.

use super::*;
use crate::frame::{ByteOrder, Encoder, FrameError, HeaderLen, OversizePolicy, PacketN};
use crate::limits::{Rate, RateLimit, RatePolicy};
use bytes::{BufMut, Bytes, BytesMut};
use std::io::IoSlice;
use std::time::{Duration, Instant};

#[allow(clippy::disallowed_methods)] // an arbitrary origin: tests only add durations to it
fn t0() -> Instant {
    Instant::now()
}

fn ms(n: u64) -> Duration {
    Duration::from_millis(n)
}

fn secs(n: u64) -> Duration {
    Duration::from_secs(n)
}

fn new(config: SessionConfig) -> (Session<PacketN>, Instant) {
    let now = t0();
    (Session::new(PacketN::default(), config, now), now)
}

fn config() -> SessionConfigBuilder {
    SessionConfig::builder()
}

fn b(s: &'static str) -> Bytes {
    Bytes::from_static(s.as_bytes())
}

/// PacketN (4-byte big-endian) encoding of `payloads`, back to back.
fn wire(payloads: &[&str]) -> Vec<u8> {
    let mut out = BytesMut::new();
    for p in payloads {
        PacketN::default().encode(p.as_bytes(), &mut out).unwrap();
    }
    out.to_vec()
}

fn feed(s: &mut Session<PacketN>, bytes: &[u8], now: Instant) {
    s.read_buf().put_slice(bytes);
    s.on_read(bytes.len(), now);
}

/// Writes up to `limit` queued bytes, as a socket that takes only that much.
fn write(s: &mut Session<PacketN>, limit: usize, now: Instant) -> Vec<u8> {
    let mut out = Vec::new();
    {
        let mut slices = [IoSlice::new(&[]); 8];
        let k = s.chunks_vectored(&mut slices);
        for slice in &slices[..k] {
            let take = slice.len().min(limit - out.len());
            out.extend_from_slice(&slice[..take]);
        }
    }
    s.on_written(out.len(), now);
    out
}

fn write_all(s: &mut Session<PacketN>, now: Instant) -> Vec<u8> {
    let mut out = Vec::new();
    while s.wants_write() {
        out.extend(write(s, usize::MAX, now));
    }
    out
}

fn events(s: &mut Session<PacketN>) -> Vec<Event<Bytes>> {
    std::iter::from_fn(|| s.poll_event()).collect()
}

fn frames(events: &[Event<Bytes>]) -> Vec<Bytes> {
    events
        .iter()
        .filter_map(|e| match e {
            Event::Frame(f) => Some(f.clone()),
            _ => None,
        })
        .collect()
}

fn outcomes(events: &[Event<Bytes>]) -> Vec<(u64, SendOutcome)> {
    events
        .iter()
        .filter_map(Event::outcome)
        .map(|(id, o)| (id.get(), o))
        .collect()
}

fn closed_reason(events: &[Event<Bytes>]) -> Option<&CloseReason> {
    match events.last() {
        Some(Event::Closed(reason)) => Some(reason),
        _ => None,
    }
}

const TIMED_OUT: SendOutcome = SendOutcome::Failed(SendFailure::TimedOut);
const CLOSED: SendOutcome = SendOutcome::Failed(SendFailure::Closed);

// ----- driving API -----

#[test]
fn frames_come_out_in_order_whatever_the_read_boundaries() {
    let bytes = wire(&["one", "", "three"]);
    for split in 0..=bytes.len() {
        let (mut s, now) = new(SessionConfig::default());
        feed(&mut s, &bytes[..split], now);
        feed(&mut s, &bytes[split..], now);
        assert_eq!(
            frames(&events(&mut s)),
            [b("one"), b(""), b("three")],
            "split {split}"
        );
    }
}

#[test]
fn one_vectored_write_spans_several_queued_frames() {
    let (mut s, now) = new(SessionConfig::default());
    for p in ["a", "bb", "ccc"] {
        s.send(b(p), now).unwrap();
    }
    let mut slices = [IoSlice::new(&[]); 16];
    // Header and payload of each frame are separate slices: never copied together.
    assert_eq!(s.chunks_vectored(&mut slices), 6);
    let joined: Vec<u8> = slices[..6].iter().flat_map(|s| s.to_vec()).collect();
    assert_eq!(joined, wire(&["a", "bb", "ccc"]));
}

#[test]
fn on_written_may_stop_mid_header_and_each_frame_completes_once() {
    let (mut s, now) = new(SessionConfig::default());
    let first = s.send(b("hello"), now).unwrap();
    let second = s.send(b("x"), now).unwrap();
    let mut out = write(&mut s, 2, now); // half of the first header
    assert!(outcomes(&events(&mut s)).is_empty());
    assert_eq!(s.chunk(), &[0, 5]);
    out.extend(write(&mut s, 9, now)); // rest of frame 1, 2 bytes of frame 2's header
    assert_eq!(
        outcomes(&events(&mut s)),
        [(first.get(), SendOutcome::Sent)]
    );
    out.extend(write_all(&mut s, now));
    assert_eq!(
        outcomes(&events(&mut s)),
        [(second.get(), SendOutcome::Sent)]
    );
    assert_eq!(out, wire(&["hello", "x"]));
}

#[test]
#[should_panic(expected = "only 5 bytes are queued")]
fn on_written_beyond_the_queue_is_a_runtime_bug() {
    let (mut s, now) = new(SessionConfig::default());
    s.send(b("x"), now).unwrap();
    s.on_written(6, now);
}

#[test]
fn bytes_reported_written_after_the_session_closed_are_ignored() {
    let (mut s, now) = new(SessionConfig::default());
    s.send(b("x"), now).unwrap();
    let n = s.queued_bytes();
    s.abort(); // the queue is gone; the runtime's write had taken it all
    s.on_written(n, now);
    assert_eq!(s.stats().bytes_out, 0);
}

#[test]
fn read_space_keeps_only_the_bytes_reported_by_on_read() {
    let (mut s, now) = new(SessionConfig::default());
    let bytes = wire(&["ping"]);
    let space = s.read_space();
    assert!(space.len() >= 8 * 1024);
    space[..bytes.len()].copy_from_slice(&bytes);
    s.on_read(bytes.len(), now);
    assert_eq!(frames(&events(&mut s)), [b("ping")]);
}

#[test]
fn read_space_behind_a_partial_frame_is_the_spare_capacity_and_allocates_nothing_more() {
    let (mut s, now) = new(SessionConfig::default());
    feed(&mut s, &wire(&["partial"])[..6], now);
    // Room for a read chunk made once; asked again, it is the same room.
    let _ = s.read_space();
    s.on_read(0, now);
    let capacity = s.read_buffer_capacity();
    let space = s.read_space().len();
    // The 2 payload bytes read so far stay; the room is the rest.
    assert_eq!(space, capacity - 2);
    assert_eq!(s.read_buffer_capacity(), capacity, "no reallocation");
    s.on_read(0, now);
}

#[test]
fn read_space_withdrawn_by_a_zero_read_leaves_no_zeroes_behind() {
    let (mut s, now) = new(SessionConfig::default());
    let _ = s.read_space(); // the read would block
    s.on_read(0, now);
    // Zeroes left in the buffer would decode as empty PacketN frames.
    feed(&mut s, &wire(&["a"]), now);
    assert_eq!(frames(&events(&mut s)), [b("a")]);
}

#[test]
fn with_keep_buffers_zero_the_read_buffer_goes_as_soon_as_decoding_empties_it() {
    let (mut s, now) = new(config().keep_buffers(Duration::ZERO).build().unwrap());
    assert_eq!(s.read_buffer_capacity(), 0);
    feed(&mut s, &wire(&["whole"]), now);
    assert_eq!(
        s.read_buffer_capacity(),
        0,
        "released once decoding emptied it"
    );
    feed(&mut s, &wire(&["partial"])[..6], now);
    assert!(
        s.read_buffer_capacity() > 0,
        "a partial frame keeps its bytes"
    );
    feed(&mut s, &wire(&["partial"])[6..], now);
    assert_eq!(s.read_buffer_capacity(), 0);
    assert_eq!(frames(&events(&mut s)), [b("whole"), b("partial")]);
    assert_eq!(s.poll_timeout(), None, "nothing kept, nothing to free");
}

#[test]
fn a_busy_session_reads_into_one_buffer_and_frees_it_once_idle_for_keep_buffers() {
    let (mut s, now) = new(SessionConfig::default());
    assert_eq!(s.config().keep_buffers(), secs(1));
    feed(&mut s, &wire(&["one"]), now);
    assert!(s.read_buffer_capacity() > 0, "kept for the next read");
    assert_eq!(frames(&events(&mut s)), [b("one")]);
    // The frames split off it are gone: each read reuses it in place.
    let first = s.read_buf().as_ptr();
    feed(&mut s, &wire(&["two"]), now + ms(300));
    assert_eq!(frames(&events(&mut s)), [b("two")]);
    assert_eq!(s.read_buf().as_ptr(), first, "same allocation");
    // Idle from the last read on: freed `keep_buffers` later.
    let release = now + ms(1300);
    assert_eq!(s.poll_timeout(), Some(release));
    s.handle_timeout(release - ms(1));
    assert!(s.read_buffer_capacity() > 0);
    s.handle_timeout(release);
    assert_eq!(s.read_buffer_capacity(), 0);
    assert_eq!(s.poll_timeout(), None);
    assert!(s.poll_event().is_none(), "freeing buffers is not an event");
}

#[test]
fn a_borrowed_read_buffer_is_read_into_in_place_and_returned_once_its_frames_are_polled() {
    let (mut s, now) = new(SessionConfig::default());
    let mut spare = SpareBuffers::new();
    // Room for a read chunk as it is: reading reallocates nothing.
    let lent_capacity = 2 * s.config().read_chunk();
    let mut lent = BytesMut::with_capacity(lent_capacity);
    lent.put_slice(b"stale");
    let at = lent.as_ptr();
    let within_lent =
        |p: *const u8| (at as usize..at as usize + lent_capacity).contains(&(p as usize));
    spare.read = Some(lent);
    s.borrow_buffers(&mut spare);
    assert!(spare.read.is_none(), "adopted");
    assert_eq!(s.read_buf().as_ptr(), at, "read into the lent allocation");
    assert!(s.read_buf().is_empty(), "its old contents are not input");
    feed(&mut s, &wire(&["one", "tw"])[..10], now);
    // Frames wait to be polled: they are slices of the buffer.
    s.return_buffers(&mut spare);
    assert!(spare.read.is_none() && s.read_buffer_capacity() > 0);
    let first = s.poll_event();
    assert!(matches!(&first, Some(Event::Frame(f)) if f == "one"));
    // A short partial frame keeps its bytes in an allocation of their own
    // size; the large buffer goes back.
    s.return_buffers(&mut spare);
    assert_eq!(s.read_buffer_capacity(), 3, "the 3 bytes of `tw` read");
    drop(first);
    let taken = spare.read.take().expect("given back");
    assert!(taken.is_empty());
    assert!(within_lent(taken.as_ptr()), "the lent allocation");
    // Borrowing again copies the partial frame into the thread's buffer.
    spare.read = Some(taken);
    s.borrow_buffers(&mut spare);
    assert!(spare.read.is_none(), "adopted");
    assert!(within_lent(s.read_buf().as_ptr()));
    feed(&mut s, &wire(&["one", "tw"])[10..], now);
    assert_eq!(frames(&events(&mut s)), [b("tw")]);
    s.return_buffers(&mut spare);
    assert_eq!(s.read_buffer_capacity(), 0, "the session holds none");
    assert_eq!(s.poll_timeout(), None, "nothing kept, nothing to free");
    assert!(within_lent(
        spare.read.as_ref().expect("given back").as_ptr()
    ));
}

#[test]
fn a_partial_frame_longer_than_an_eighth_of_read_chunk_keeps_its_buffer() {
    let chunk = 1024;
    let (mut s, now) = new(config().read_chunk(chunk).build().unwrap());
    let mut spare = SpareBuffers::new();
    let long = "x".repeat(chunk);
    let bytes = wire(&[&long]);
    // The decoder takes the header once it has it: the partial frame left
    // is the payload read so far. An eighth, and one byte more.
    let head = bytes.len() - long.len();
    for (cut, kept_whole) in [(head + chunk / 8, false), (head + chunk / 8 + 1, true)] {
        spare.read = Some(BytesMut::with_capacity(4 * chunk));
        s.borrow_buffers(&mut spare);
        feed(&mut s, &bytes[..cut], now);
        s.return_buffers(&mut spare);
        assert_eq!(spare.read.is_none(), kept_whole, "cut at {cut}");
        assert_eq!(
            s.read_buffer_capacity() > cut - head,
            kept_whole,
            "cut at {cut}"
        );
        // A moved-out partial frame is not moved again.
        let (cap, read) = (s.read_buffer_capacity(), spare.read.take());
        s.return_buffers(&mut spare);
        assert!(spare.read.is_none() && s.read_buffer_capacity() == cap);
        spare.read = read;
        feed(&mut s, &bytes[cut..], now);
        assert_eq!(frames(&events(&mut s)), [Bytes::from(long.clone())]);
        s.return_buffers(&mut spare);
    }
}

#[test]
fn returned_buffers_go_to_an_empty_spare_and_are_freed_when_it_is_full() {
    let (mut s, now) = new(SessionConfig::default());
    let mut spare = SpareBuffers::new();
    assert_eq!(spare.capacity(), 0);
    feed(&mut s, &wire(&["ping"]), now);
    let _ = events(&mut s);
    s.reply(b("pong"), now).unwrap();
    assert_eq!(write(&mut s, usize::MAX, now), wire(&["pong"]));
    assert!(s.holds_spare_run(), "kept for keep_buffers");
    // Full slots: the session frees its own, and holds nothing either way.
    let mut full = SpareBuffers::new();
    full.read = Some(BytesMut::with_capacity(64));
    full.run.buf.reserve(64);
    let before = full.capacity();
    s.return_buffers(&mut full);
    assert_eq!(full.capacity(), before, "a full spare is left as it was");
    assert_eq!(s.read_buffer_capacity(), 0);
    assert!(!s.holds_spare_run());
    assert_eq!(s.poll_timeout(), None);
    // Empty slots take them; borrowing hands them to the next session.
    feed(&mut s, &wire(&["ping"]), now);
    let _ = events(&mut s);
    s.reply(b("pong"), now).unwrap();
    let _ = write(&mut s, usize::MAX, now);
    s.return_buffers(&mut spare);
    assert!(spare.read.is_some() && spare.run.capacity() > 0);
    let read = spare.read.as_ref().map_or(0, BytesMut::capacity);
    assert!(read > 0);
    assert_eq!(spare.capacity(), read + spare.run.capacity());
    let (mut next, _) = new(SessionConfig::default());
    next.borrow_buffers(&mut spare);
    assert_eq!(spare.capacity(), 0, "both lent");
    assert!(next.read_buffer_capacity() > 0 && next.holds_spare_run());
    // A run still waiting to be written stays with its session.
    next.reply(b("queued"), now).unwrap();
    next.return_buffers(&mut spare);
    assert_eq!(spare.run.capacity(), 0);
    assert_eq!(write(&mut next, usize::MAX, now), wire(&["queued"]));
}

#[test]
fn a_borrowed_read_buffer_is_not_taken_mid_read_and_a_closed_session_keeps_none() {
    let (mut s, now) = new(SessionConfig::default());
    let mut spare = SpareBuffers::new();
    // Room handed out by `read_space` and not yet confirmed is a buffer in use.
    assert!(!s.read_space().is_empty());
    spare.read = Some(BytesMut::with_capacity(64));
    s.borrow_buffers(&mut spare);
    assert!(spare.read.is_some(), "not adopted mid-read");
    s.on_read(0, now);
    spare.read = None;
    s.return_buffers(&mut spare);
    assert!(spare.read.is_some(), "withdrawn room leaves it idle");
    // Closing: it still reads, but sends nothing new.
    spare.run.buf.reserve(64);
    let (mut closing, _) = new(SessionConfig::default());
    closing.reply(b("draining"), now).unwrap();
    closing.close(now);
    assert!(closing.is_closing());
    closing.borrow_buffers(&mut spare);
    assert!(spare.read.is_none(), "a closing session still reads");
    assert!(spare.run.capacity() > 0, "and takes no run memory");
    closing.return_buffers(&mut spare);
    s.abort();
    s.borrow_buffers(&mut spare);
    assert!(spare.read.is_some(), "a closed session takes nothing");
    feed(&mut s, &wire(&["late"]), now);
    assert!(events(&mut s).iter().all(|e| !matches!(e, Event::Frame(_))));
    assert_eq!(
        s.read_buffer_capacity(),
        0,
        "a closed session keeps nothing"
    );
}

#[test]
fn poll_timer_leaves_out_the_events_waiting_to_be_polled() {
    let (mut s, now) = new(SessionConfig::default());
    feed(&mut s, &wire(&["held", "back"]), now + ms(10));
    // Events wait: `poll_timeout` says "now"; the timers say later.
    assert_eq!(s.poll_timeout(), Some(now + ms(10)));
    assert_eq!(s.poll_timer(), Some(now + ms(1010)), "keep_buffers only");
    assert_eq!(frames(&events(&mut s)), [b("held"), b("back")]);
    assert_eq!(s.poll_timeout(), s.poll_timer());
}

#[test]
fn a_partial_frame_is_never_freed_and_a_grown_buffer_is_not_kept() {
    let (mut s, now) = new(SessionConfig::default());
    feed(&mut s, &wire(&["partial"])[..6], now);
    assert_eq!(s.poll_timeout(), None, "bytes waiting for their frame");
    s.handle_timeout(now + secs(60));
    assert!(s.read_buffer_capacity() > 0);
    feed(&mut s, &wire(&["partial"])[6..], now + secs(60));
    assert_eq!(frames(&events(&mut s)), [b("partial")]);
    assert!(s.read_buffer_capacity() > 0);
    // A frame larger than four read chunks grows the buffer: not kept.
    let big = "x".repeat(5 * s.config().read_chunk());
    feed(&mut s, &wire(&[big.as_str()]), now + secs(61));
    assert_eq!(frames(&events(&mut s)).len(), 1);
    assert_eq!(s.read_buffer_capacity(), 0);
    // Decoded to the very end of its capacity, it reports none, yet would
    // hold the large allocation once the frame is dropped: it is let go, so
    // the next read starts a buffer of the usual size, kept as usual.
    let chunk = s.config().read_chunk();
    assert!(
        s.read_buf().capacity() < 2 * chunk,
        "not the large allocation"
    );
    feed(&mut s, &wire(&["small"]), now + secs(62));
    assert_eq!(frames(&events(&mut s)), [b("small")]);
    assert!((1..2 * chunk).contains(&s.read_buffer_capacity()));
}

fn untracked(s: &mut Session<PacketN>, body: &'static str, deadline: SendDeadline, now: Instant) {
    let frame = PacketN::default().encode_frame(b(body)).unwrap();
    s.send_untracked(frame, deadline, now).unwrap();
}

#[test]
fn a_written_run_is_kept_for_the_next_until_idle_for_keep_buffers() {
    let (mut s, now) = new(SessionConfig::default());
    assert!(!s.holds_spare_run(), "nothing written yet");
    for body in ["a", "b"] {
        untracked(&mut s, body, SendDeadline::Default, now);
    }
    assert_eq!(write(&mut s, usize::MAX, now), wire(&["a", "b"]));
    assert!(s.holds_spare_run());
    assert_eq!(s.poll_timeout(), Some(now + secs(1)));
    // The next run takes the kept memory, and gives it back once written.
    untracked(&mut s, "c", SendDeadline::Default, now);
    assert!(!s.holds_spare_run(), "reused");
    write(&mut s, usize::MAX, now);
    assert!(s.holds_spare_run());
    // Freed after `keep_buffers` without traffic.
    s.handle_timeout(now + secs(1));
    assert!(!s.holds_spare_run());
    untracked(&mut s, "d", SendDeadline::Default, now + secs(2));
    write(&mut s, usize::MAX, now + secs(2));
    assert!(s.holds_spare_run());
    // A closed session keeps none.
    s.abort();
    assert!(!s.holds_spare_run());
}

#[test]
fn with_keep_buffers_zero_a_written_run_is_freed_at_once() {
    let (mut s, now) = new(config().keep_buffers(Duration::ZERO).build().unwrap());
    untracked(&mut s, "a", SendDeadline::Default, now);
    write(&mut s, usize::MAX, now);
    assert!(!s.holds_spare_run());
}

#[test]
fn untracked_frames_due_at_one_instant_share_a_run_whether_default_or_override() {
    // The session_ops fuzz repro: a default deadline (send timeout 257 ms)
    // and an `After(257 ms)` override at the same `now` are one instant, so
    // the second frame joins the first's run and one slice writes both;
    // later expiry cuts neither, since the run has started.
    let (mut s, now) = new(config().send_timeout(Some(ms(257))).build().unwrap());
    untracked(&mut s, "12345678", SendDeadline::Default, now);
    let second = PacketN::default().encode_frame(b("1234567890")).unwrap();
    s.send_untracked(second, SendDeadline::After(ms(257)), now)
        .unwrap();
    let mut slices = [IoSlice::new(&[]); 1];
    assert_eq!(s.chunks_vectored(&mut slices), 1);
    assert_eq!(slices[0].len(), 12 + 14, "one run holds both frames");
    let n = slices[0].len().min(145);
    s.on_written(n, now);
    s.handle_timeout(now + ms(513));
    let done = s.take_untracked_finished();
    assert_eq!((done.frames, done.bytes), (2, 26));
    let st = s.stats();
    assert_eq!((st.sends_accepted, st.sent, st.failed_timed_out), (2, 2, 0));
    assert!(events(&mut s).is_empty());
}

// ----- send queue -----

#[test]
fn queue_full_at_the_frame_bound_hands_the_message_back() {
    let (mut s, now) = new(config().max_queue_frames(2).build().unwrap());
    s.send(b("1"), now).unwrap();
    s.send(b("2"), now).unwrap();
    let err = s.send(b("3"), now).unwrap_err();
    assert!(matches!(err, SendError::QueueFull(_)));
    assert_eq!(err.failure(), Some(SendFailure::QueueFull));
    assert_eq!(err.into_inner(), Some(b("3")));
    assert_eq!(s.stats().refused_queue_full, 1);
}

#[test]
fn queue_full_at_the_byte_bound_is_checked_before_adding() {
    // 10 bytes allowed: a 9-byte frame (4 + 5) leaves room, the next one fills it over.
    let (mut s, now) = new(config().max_queue_bytes(10).build().unwrap());
    s.send(b("12345"), now).unwrap();
    s.send(b("123456"), now).unwrap();
    assert_eq!(s.queued_bytes(), 19);
    assert!(matches!(s.send(b("x"), now), Err(SendError::QueueFull(_))));
}

#[test]
fn a_frame_larger_than_the_byte_bound_is_accepted_into_an_empty_queue() {
    let (mut s, now) = new(config().max_queue_bytes(16).build().unwrap());
    let big = Bytes::from(vec![7u8; 1000]);
    s.send(big.clone(), now).unwrap();
    assert!(matches!(s.send(b("x"), now), Err(SendError::QueueFull(_))));
    let out = write_all(&mut s, now);
    assert_eq!(out.len(), 1004);
}

#[test]
fn writable_follows_a_queue_full_refusal_once_there_is_room() {
    let (mut s, now) = new(config().max_queue_frames(1).build().unwrap());
    s.send(b("a"), now).unwrap();
    assert!(s.send(b("b"), now).is_err());
    write(&mut s, 3, now); // not complete yet: still full
    assert!(!events(&mut s).iter().any(|e| matches!(e, Event::Writable)));
    write_all(&mut s, now);
    let evs = events(&mut s);
    assert!(matches!(evs.as_slice(), [Event::Sent(_), Event::Writable]));
    // Once per refusal: more room does not repeat it.
    s.send(b("c"), now).unwrap();
    write_all(&mut s, now);
    assert!(!events(&mut s).iter().any(|e| matches!(e, Event::Writable)));
}

#[test]
fn an_encode_error_is_a_frame_error_and_queues_nothing() {
    let now = t0();
    let codec = PacketN::new(HeaderLen::One, ByteOrder::Big);
    let mut s = Session::new(codec, SessionConfig::default(), now);
    let err = s.send(Bytes::from(vec![0u8; 256]), now).unwrap_err();
    assert!(matches!(
        err,
        SendError::Frame(FrameError::PayloadTooLarge { len: 256, .. })
    ));
    assert_eq!(err.into_inner(), None);
    assert!(!s.wants_write());
    assert_eq!(s.stats().sends_accepted, 0);
}

#[test]
fn a_pre_encoded_broadcast_frame_is_queued_without_copying() {
    let shared = PacketN::default().encode_to_bytes(b"news").unwrap();
    let (mut a, now) = new(SessionConfig::default());
    let mut c = Session::new(PacketN::default(), SessionConfig::default(), now);
    for s in [&mut a, &mut c] {
        s.send_encoded(shared.clone().into(), SendDeadline::Default, now)
            .unwrap();
        assert_eq!(
            s.chunk().as_ptr(),
            shared.as_ptr(),
            "the same bytes, not a copy"
        );
    }
    assert_eq!(write_all(&mut a, now), shared);
}

#[test]
fn the_default_send_timeout_is_five_seconds() {
    assert_eq!(SessionConfig::default().send_timeout(), Some(secs(5)));
    let (mut s, now) = new(SessionConfig::default());
    let id = s.send(b("late"), now).unwrap();
    assert_eq!(s.poll_timeout(), Some(now + secs(5)));
    s.handle_timeout(now + secs(5) - Duration::from_nanos(1));
    assert!(events(&mut s).is_empty());
    s.handle_timeout(now + secs(5));
    assert_eq!(outcomes(&events(&mut s)), [(id.get(), TIMED_OUT)]);
    assert!(
        !s.wants_write(),
        "a timed-out frame is removed, not written"
    );
}

#[test]
fn a_partly_written_frame_is_never_cut_by_its_deadline() {
    let (mut s, now) = new(SessionConfig::default());
    let started = s.send(b("started"), now).unwrap();
    let waiting = s.send(b("waiting"), now).unwrap();
    let mut out = write(&mut s, 1, now);
    s.handle_timeout(now + secs(60));
    assert_eq!(outcomes(&events(&mut s)), [(waiting.get(), TIMED_OUT)]);
    out.extend(write_all(&mut s, now + secs(61)));
    assert_eq!(
        outcomes(&events(&mut s)),
        [(started.get(), SendOutcome::Sent)]
    );
    assert_eq!(out, wire(&["started"]));
}

#[test]
fn per_send_deadlines_override_the_default_in_any_order() {
    let (mut s, now) = new(SessionConfig::default());
    let blocker = s.send(b("blocker"), now).unwrap();
    write(&mut s, 1, now); // the socket stalls after one byte
    let default = s.send(b("d"), now).unwrap();
    let soon = s
        .send_with(b("s"), SendDeadline::After(secs(1)), now)
        .unwrap();
    let never = s.send_with(b("n"), SendDeadline::Never, now).unwrap();
    let at = s
        .send_with(b("a"), SendDeadline::At(now + secs(3)), now)
        .unwrap();
    assert_eq!(s.poll_timeout(), Some(now + secs(1)));
    s.handle_timeout(now + secs(1));
    assert_eq!(outcomes(&events(&mut s)), [(soon.get(), TIMED_OUT)]);
    assert_eq!(s.poll_timeout(), Some(now + secs(3)));
    s.handle_timeout(now + secs(3600));
    assert_eq!(
        outcomes(&events(&mut s)),
        [(at.get(), TIMED_OUT), (default.get(), TIMED_OUT)]
    );
    write_all(&mut s, now + secs(3600));
    assert_eq!(
        outcomes(&events(&mut s)),
        [
            (blocker.get(), SendOutcome::Sent),
            (never.get(), SendOutcome::Sent)
        ]
    );
}

// ----- outcomes -----

#[test]
fn every_send_id_ends_exactly_once_in_queue_order() {
    let (mut s, now) = new(SessionConfig::default());
    let ids: Vec<u64> = (0..5)
        .map(|i| s.send(Bytes::from(vec![i; 3]), now).unwrap().get())
        .collect();
    write(&mut s, 7 + 2, now); // first frame and part of the second
    s.abort();
    s.abort();
    let evs = events(&mut s);
    let got = outcomes(&evs);
    assert_eq!(
        got,
        [
            (ids[0], SendOutcome::Sent),
            (ids[1], CLOSED),
            (ids[2], CLOSED),
            (ids[3], CLOSED),
            (ids[4], CLOSED)
        ]
    );
    assert!(matches!(closed_reason(&evs), Some(CloseReason::Aborted)));
    assert_eq!(
        evs.iter().filter(|e| matches!(e, Event::Closed(_))).count(),
        1
    );
}

// ----- heartbeat and liveness -----

#[test]
fn a_heartbeat_goes_out_after_an_interval_without_writes() {
    let (mut s, now) = new(SessionConfig::default());
    s.set_heartbeat(Some((secs(10), b("hb"))), now).unwrap();
    assert_eq!(s.poll_timeout(), Some(now + secs(10)));
    s.handle_timeout(now + secs(10));
    assert_eq!(write_all(&mut s, now + secs(10)), wire(&["hb"]));
    assert_eq!(s.stats().heartbeats_sent, 1);
    assert!(events(&mut s).is_empty(), "a heartbeat has no SendId");
    assert_eq!(s.poll_timeout(), Some(now + secs(20)));
}

#[test]
fn a_write_that_would_block_does_not_put_the_heartbeat_off() {
    let (mut s, now) = new(SessionConfig::default());
    s.set_heartbeat(Some((secs(10), b("hb"))), now).unwrap();
    s.on_written(0, now + secs(5));
    s.handle_timeout(now + secs(10));
    assert_eq!(write_all(&mut s, now + secs(10)), wire(&["hb"]));
}

#[test]
fn a_busy_link_sends_no_heartbeat() {
    let (mut s, now) = new(SessionConfig::default());
    s.set_heartbeat(Some((secs(10), b("hb"))), now).unwrap();
    let mut out = Vec::new();
    for i in 1..=5 {
        let t = now + secs(6 * i);
        s.handle_timeout(t);
        s.send(b("data"), t).unwrap();
        out.extend(write_all(&mut s, t));
    }
    assert_eq!(out, wire(&["data"; 5]));
    assert_eq!(s.stats().heartbeats_sent, 0);
}

#[test]
fn set_heartbeat_takes_effect_at_once_and_none_or_zero_stops_it() {
    let (mut s, now) = new(SessionConfig::default());
    s.set_heartbeat(Some((secs(10), b("hb"))), now).unwrap();
    // Already 10 s without a write: a shorter interval is due at once.
    s.set_heartbeat(Some((secs(3), b("hb"))), now + secs(9))
        .unwrap();
    assert_eq!(s.poll_timeout(), Some(now + secs(9)));
    s.set_heartbeat(None::<(Duration, Bytes)>, now + secs(9))
        .unwrap();
    assert_eq!(s.poll_timeout(), None);
    s.set_heartbeat(Some((secs(3), b("hb"))), now + secs(9))
        .unwrap();
    s.set_heartbeat(Some((Duration::ZERO, b("hb"))), now + secs(9))
        .unwrap();
    assert_eq!(
        s.poll_timeout(),
        None,
        "HeartBeat(0, nil) stops it, as in go-libnet"
    );
    s.set_heartbeat(Some((secs(3), b("hb"))), now + secs(9))
        .unwrap();
    s.clear_heartbeat(now + secs(9));
    assert_eq!(s.poll_timeout(), None);
}

#[test]
fn a_pre_encoded_heartbeat_goes_out_as_given_and_none_stops_it() {
    let (mut s, now) = new(SessionConfig::default());
    let frame = PacketN::default().encode_frame(b("hb")).unwrap();
    s.set_heartbeat_frame(Some((secs(10), frame.clone())), now);
    assert_eq!(s.poll_timeout(), Some(now + secs(10)));
    s.handle_timeout(now + secs(10));
    assert_eq!(write_all(&mut s, now + secs(10)), wire(&["hb"]));
    assert_eq!(s.stats().heartbeats_sent, 1);
    s.set_heartbeat_frame(None, now + secs(10));
    assert_eq!(s.poll_timeout(), None);
    s.set_heartbeat_frame(Some((Duration::ZERO, frame.clone())), now + secs(10));
    assert_eq!(s.poll_timeout(), None, "a zero interval stops it");
    s.close(now + secs(10));
    s.set_heartbeat_frame(Some((secs(1), frame)), now + secs(10));
    let _ = events(&mut s);
    assert_eq!(s.poll_timeout(), None, "after close it does nothing");
}

#[test]
fn a_heartbeat_the_codec_refuses_leaves_the_previous_one() {
    let now = t0();
    let mut s = Session::new(
        PacketN::new(HeaderLen::One, ByteOrder::Big),
        SessionConfig::default(),
        now,
    );
    s.set_heartbeat(Some((secs(1), b("ok"))), now).unwrap();
    let err = s.set_heartbeat(Some((secs(2), Bytes::from(vec![0; 300]))), now);
    assert!(matches!(err, Err(FrameError::PayloadTooLarge { .. })));
    assert_eq!(s.poll_timeout(), Some(now + secs(1)));
    // A zero interval stops it, whatever the payload: nothing is encoded.
    s.set_heartbeat(Some((Duration::ZERO, Bytes::from(vec![0; 300]))), now)
        .unwrap();
    assert_eq!(s.poll_timeout(), None);
}

#[test]
fn heartbeat_after_close_is_a_no_op() {
    let (mut s, now) = new(SessionConfig::default());
    s.close(now);
    assert!(s.set_heartbeat(Some((secs(1), b("hb"))), now).is_ok());
    s.clear_heartbeat(now);
    s.handle_timeout(now + secs(5));
    assert!(!s.wants_write());
    assert_eq!(
        s.poll_timeout(),
        Some(now + secs(5)),
        "only the Closed event waits"
    );
    let _ = events(&mut s);
    assert_eq!(s.poll_timeout(), None);
}

#[test]
fn the_peer_timeout_closes_a_session_that_hears_nothing() {
    let (mut s, now) = new(config().peer_timeout(Some(secs(30))).build().unwrap());
    // Our own writes do not count: the peer must be heard.
    s.send(b("x"), now + secs(20)).unwrap();
    write_all(&mut s, now + secs(20));
    assert_eq!(
        s.poll_timeout(),
        Some(now + secs(20)),
        "the Sent event waits"
    );
    let _ = events(&mut s);
    assert_eq!(s.poll_timeout(), Some(now + secs(30)));
    s.handle_timeout(now + secs(30));
    assert!(matches!(
        closed_reason(&events(&mut s)),
        Some(CloseReason::PeerTimeout)
    ));
    assert!(s.is_closed());
}

#[test]
fn inbound_bytes_keep_the_peer_timeout_away() {
    let (mut s, now) = new(config().peer_timeout(Some(secs(30))).build().unwrap());
    feed(&mut s, &wire(&["hb"])[..1], now + secs(25)); // even a partial frame
    s.handle_timeout(now + secs(54));
    assert!(!s.is_closed());
    assert_eq!(s.poll_timeout(), Some(now + secs(55)));
}

#[test]
fn a_read_that_would_block_does_not_count_as_hearing_the_peer() {
    let (mut s, now) = new(config().peer_timeout(Some(secs(30))).build().unwrap());
    let _ = s.read_space();
    s.on_read(0, now + secs(25));
    s.handle_timeout(now + secs(30));
    assert!(matches!(
        closed_reason(&events(&mut s)),
        Some(CloseReason::PeerTimeout)
    ));
}

#[test]
fn the_first_frame_deadline_closes_a_connection_that_sends_no_frame() {
    let (mut s, now) = new(config().first_frame_timeout(Some(secs(2))).build().unwrap());
    feed(&mut s, &wire(&["slow"])[..5], now + secs(1)); // bytes, but no whole frame
    s.handle_timeout(now + secs(2));
    assert!(matches!(
        closed_reason(&events(&mut s)),
        Some(CloseReason::FirstFrameTimeout)
    ));

    let (mut s, now) = new(config().first_frame_timeout(Some(secs(2))).build().unwrap());
    feed(&mut s, &wire(&["hi"]), now + secs(1));
    s.handle_timeout(now + secs(100));
    assert!(!s.is_closed(), "a first frame disarms it");
}

#[test]
fn the_idle_timeout_closes_when_no_byte_moves_either_way() {
    let (mut s, now) = new(config().idle_timeout(Some(secs(60))).build().unwrap());
    s.send(b("out"), now + secs(50)).unwrap();
    write_all(&mut s, now + secs(50));
    s.handle_timeout(now + secs(100));
    assert!(!s.is_closed(), "a write is traffic");
    feed(&mut s, &wire(&["in"]), now + secs(100));
    s.handle_timeout(now + secs(159));
    assert!(!s.is_closed(), "a read is traffic");
    s.handle_timeout(now + secs(160));
    assert!(matches!(
        closed_reason(&events(&mut s)),
        Some(CloseReason::IdleTimeout)
    ));
}

// ----- close -----

#[test]
fn close_drains_the_queue_then_reports_closed_local() {
    let (mut s, now) = new(SessionConfig::default());
    let id = s.send(b("bye"), now).unwrap();
    s.close(now);
    assert!(s.is_closing());
    assert!(matches!(s.send(b("late"), now), Err(SendError::Closed(_))));
    assert_eq!(s.stats().refused_closed, 1);
    assert_eq!(write_all(&mut s, now + secs(1)), wire(&["bye"]));
    let evs = events(&mut s);
    assert_eq!(outcomes(&evs), [(id.get(), SendOutcome::Sent)]);
    assert!(matches!(closed_reason(&evs), Some(CloseReason::Local)));
    assert!(s.is_closed());
    assert!(matches!(s.send(b("after"), now), Err(SendError::Closed(_))));
}

#[test]
fn inbound_frames_are_still_delivered_while_closing() {
    let (mut s, now) = new(SessionConfig::default());
    s.send(b("bye"), now).unwrap();
    s.close(now);
    feed(&mut s, &wire(&["late reply"]), now);
    assert_eq!(frames(&events(&mut s)), [b("late reply")]);
}

#[test]
fn the_linger_cuts_what_did_not_drain_and_says_so() {
    let (mut s, now) = new(config().linger(secs(2)).send_timeout(None).build().unwrap());
    let started = s.send(b("started"), now).unwrap();
    let queued = s.send(b("queued"), now).unwrap();
    write(&mut s, 3, now);
    s.close(now);
    assert_eq!(s.poll_timeout(), Some(now + secs(2)));
    s.handle_timeout(now + secs(2));
    let evs = events(&mut s);
    assert_eq!(
        outcomes(&evs),
        [(started.get(), CLOSED), (queued.get(), CLOSED)]
    );
    assert!(matches!(
        closed_reason(&evs),
        Some(CloseReason::LingerExpired)
    ));
}

#[test]
fn abort_fails_every_pending_send_at_once() {
    let (mut s, now) = new(SessionConfig::default());
    let a = s.send(b("a"), now).unwrap();
    let c = s.send(b("c"), now).unwrap();
    s.close(now);
    s.abort();
    let evs = events(&mut s);
    assert_eq!(outcomes(&evs), [(a.get(), CLOSED), (c.get(), CLOSED)]);
    assert!(matches!(closed_reason(&evs), Some(CloseReason::Aborted)));
    assert_eq!(s.stats().failed_closed, 2);
    assert!(!s.wants_write() && !s.wants_read());
}

#[test]
fn an_io_error_ends_the_session_with_its_kind_and_fails_pending_sends_closed() {
    let (mut s, now) = new(SessionConfig::default());
    let a = s.send(b("a"), now).unwrap();
    let _ = write(&mut s, 2, now); // partly written: still pending
    let c = s.send(b("c"), now).unwrap();
    s.on_io_error(std::io::ErrorKind::ConnectionReset);
    let evs = events(&mut s);
    assert_eq!(outcomes(&evs), [(a.get(), CLOSED), (c.get(), CLOSED)]);
    assert!(matches!(
        closed_reason(&evs),
        Some(CloseReason::Io(std::io::ErrorKind::ConnectionReset))
    ));
    assert!(!s.wants_write() && !s.wants_read());
    // Once closed, a later error changes nothing: Closed came once.
    s.on_io_error(std::io::ErrorKind::BrokenPipe);
    assert!(events(&mut s).is_empty());
}

#[test]
fn closed_is_the_last_event_and_comes_once() {
    let (mut s, now) = new(SessionConfig::default());
    s.close(now);
    s.close(now);
    s.abort();
    s.on_eof(now);
    s.handle_timeout(now + secs(100));
    let evs = events(&mut s);
    assert_eq!(evs.len(), 1);
    assert!(matches!(closed_reason(&evs), Some(CloseReason::Local)));
}

#[test]
fn end_of_stream_drains_the_queue_then_closes_with_peer_eof() {
    let (mut s, now) = new(SessionConfig::default());
    let id = s.send(b("answer"), now).unwrap();
    feed(&mut s, &wire(&["last"]), now);
    s.on_eof(now);
    assert!(!s.wants_read());
    assert!(s.is_closing());
    write_all(&mut s, now);
    let evs = events(&mut s);
    assert_eq!(frames(&evs), [b("last")]);
    assert_eq!(outcomes(&evs), [(id.get(), SendOutcome::Sent)]);
    assert!(matches!(closed_reason(&evs), Some(CloseReason::PeerEof)));
}

#[test]
fn end_of_stream_inside_a_frame_is_a_fatal_frame_error() {
    // Inside the payload, or right after the header: the decoder has taken
    // the header, so nothing is left in the buffer, yet the frame was cut.
    for cut in [5, 4] {
        let (mut s, now) = new(SessionConfig::default());
        feed(&mut s, &wire(&["cut"])[..cut], now);
        s.on_eof(now);
        assert!(!s.wants_read());
        assert!(
            matches!(
                closed_reason(&events(&mut s)),
                Some(CloseReason::Frame(FrameError::UnexpectedEof { buffered })) if *buffered == cut
            ),
            "cut at {cut}"
        );
    }
}

#[test]
fn a_fatal_decode_error_stops_reading_and_drains_the_queue_before_closing_with_that_reason() {
    let (mut s, now) = new(SessionConfig::default());
    let id = s.send(b("pending"), now).unwrap();
    feed(&mut s, &[0xff, 0xff, 0xff, 0xff], now); // 4 GiB declared, 8 MiB allowed
    assert!(!s.wants_read());
    assert_eq!(s.poll_timeout(), Some(now), "the close is due");
    // Nothing came before the error: the first poll begins the close.
    assert!(s.poll_event().is_none());
    assert!(s.is_closing());
    assert!(s.send(b("late"), now).is_err());
    // Bytes a runtime reads anyway are dropped, not decoded.
    feed(&mut s, &wire(&["ignored"]), now);
    write_all(&mut s, now);
    let evs = events(&mut s);
    assert_eq!(outcomes(&evs), [(id.get(), SendOutcome::Sent)]);
    assert!(frames(&evs).is_empty());
    assert!(matches!(
        closed_reason(&evs),
        Some(CloseReason::Frame(FrameError::FrameTooLarge { .. }))
    ));
}

#[test]
fn when_the_linger_runs_out_after_a_fatal_decode_error_the_reason_stays_that_error() {
    let (mut s, now) = new(config().linger(secs(1)).build().unwrap());
    let id = s.send(b("stuck"), now).unwrap();
    feed(&mut s, &[0xff, 0xff, 0xff, 0xff], now);
    // A loop that only checks `has_events` is woken by `poll_timeout`.
    assert!(!s.has_events());
    assert_eq!(s.poll_timeout(), Some(now));
    s.handle_timeout(now);
    assert!(s.is_closing());
    assert_eq!(s.poll_timeout(), Some(now + secs(1)));
    s.handle_timeout(now + secs(1));
    let evs = events(&mut s);
    assert_eq!(outcomes(&evs), [(id.get(), CLOSED)]);
    assert!(matches!(
        closed_reason(&evs),
        Some(CloseReason::Frame(FrameError::FrameTooLarge { .. }))
    ));
}

/// Polls every event, replying `re:<frame>` untracked to each frame before
/// the next poll, and writes everything queued; returns the frames polled
/// and the events that were not frames.
fn reply_to_each(s: &mut Session<PacketN>, now: Instant) -> (usize, Vec<Event<Bytes>>, Vec<u8>) {
    let (mut polled, mut rest, mut out) = (0, Vec::new(), Vec::new());
    while let Some(event) = s.poll_event() {
        match event {
            Event::Frame(f) => {
                polled += 1;
                let reply = PacketN::default().encode_frame(f).unwrap();
                s.send_untracked(reply, SendDeadline::Default, now).unwrap();
            }
            other => rest.push(other),
        }
        out.extend(write_all(s, now));
    }
    (polled, rest, out)
}

#[test]
fn frames_before_an_oversize_header_are_delivered_and_their_replies_drain() {
    let (mut s, now) = new(SessionConfig::default());
    let payloads: Vec<String> = (0..100).map(|i| format!("frame {i}")).collect();
    let names: Vec<&str> = payloads.iter().map(String::as_str).collect();
    let mut bytes = wire(&names);
    bytes.extend_from_slice(&[0xff, 0xff, 0xff, 0xff]); // 4 GiB declared
    feed(&mut s, &bytes, now);
    assert!(!s.wants_read(), "reading stops at the error");
    let (polled, rest, out) = reply_to_each(&mut s, now);
    assert_eq!(polled, 100);
    assert_eq!(out, wire(&names), "every reply is written, in order");
    assert_eq!(s.stats().sent, 100);
    assert!(matches!(
        rest.as_slice(),
        [Event::Closed(CloseReason::Frame(
            FrameError::FrameTooLarge { .. }
        ))]
    ));
    assert!(s.is_closed());
}

#[test]
fn frames_before_a_truncated_tail_at_eof_are_delivered_and_their_replies_drain() {
    let (mut s, now) = new(SessionConfig::default());
    let payloads: Vec<String> = (0..1000).map(|i| format!("frame {i}")).collect();
    let names: Vec<&str> = payloads.iter().map(String::as_str).collect();
    let mut bytes = wire(&names);
    let tail = wire(&["half a frame"]);
    bytes.extend_from_slice(&tail[..tail.len() / 2]);
    feed(&mut s, &bytes, now);
    s.on_eof(now);
    assert!(!s.wants_read());
    let (polled, rest, out) = reply_to_each(&mut s, now);
    assert_eq!(polled, 1000);
    assert_eq!(out, wire(&names), "every reply is written, in order");
    assert_eq!(s.stats().failed_closed, 0);
    assert!(matches!(
        rest.as_slice(),
        [Event::Closed(CloseReason::Frame(
            FrameError::UnexpectedEof { .. }
        ))]
    ));
}

#[test]
fn abort_after_a_fatal_decode_error_ends_at_once() {
    let (mut s, now) = new(SessionConfig::default());
    let id = s.send(b("pending"), now).unwrap();
    let mut bytes = wire(&["one"]);
    bytes.extend_from_slice(&[0xff, 0xff, 0xff, 0xff]);
    feed(&mut s, &bytes, now);
    s.abort();
    let evs = events(&mut s);
    assert_eq!(frames(&evs), [b("one")]);
    assert_eq!(outcomes(&evs), [(id.get(), CLOSED)]);
    assert!(matches!(closed_reason(&evs), Some(CloseReason::Aborted)));
    assert_eq!(s.poll_timeout(), None);
}

#[test]
fn a_fatal_decode_error_during_a_local_close_becomes_its_reason() {
    let (mut s, now) = new(SessionConfig::default());
    let id = s.send(b("pending"), now).unwrap();
    s.close(now);
    let mut bytes = wire(&["one"]);
    bytes.extend_from_slice(&[0xff, 0xff, 0xff, 0xff]);
    feed(&mut s, &bytes, now);
    assert!(matches!(s.poll_event(), Some(Event::Frame(_))));
    assert!(s.poll_event().is_none());
    write_all(&mut s, now);
    let evs = events(&mut s);
    assert_eq!(outcomes(&evs), [(id.get(), SendOutcome::Sent)]);
    assert!(matches!(
        closed_reason(&evs),
        Some(CloseReason::Frame(FrameError::FrameTooLarge { .. }))
    ));
}

/// A PacketN codec that skips frames longer than 4 bytes.
fn discarding_over_4() -> PacketN {
    PacketN::builder()
        .max_frame_len(4)
        .oversize_policy(OversizePolicy::Discard)
        .build()
        .unwrap()
}

#[test]
fn a_recoverable_decode_error_is_reported_and_decoding_goes_on() {
    let now = t0();
    let mut s = Session::new(discarding_over_4(), SessionConfig::default(), now);
    feed(&mut s, &wire(&["ok", "too long", "ok2"]), now);
    let evs = events(&mut s);
    assert!(matches!(
        evs.as_slice(),
        [
            Event::Frame(_),
            Event::FrameDiscarded(FrameError::FrameDiscarded { declared: 8, .. }),
            Event::Frame(_)
        ]
    ));
    assert_eq!(frames(&evs), [b("ok"), b("ok2")]);
    assert_eq!(s.stats().frames_discarded, 1);
}

// ----- timers -----

#[test]
fn poll_timeout_returns_now_while_events_wait() {
    let (mut s, now) = new(SessionConfig::default());
    assert_eq!(s.poll_timeout(), None);
    feed(&mut s, &wire(&["x"]), now + secs(1));
    assert_eq!(s.poll_timeout(), Some(now + secs(1)));
    let _ = events(&mut s);
    // Only the read buffer kept for reuse is left to free.
    assert_eq!(s.poll_timeout(), Some(now + secs(2)));
}

#[test]
fn has_events_says_whether_poll_event_has_one() {
    let (mut s, now) = new(SessionConfig::default());
    assert!(!s.has_events());
    feed(&mut s, &wire(&["x"]), now);
    assert!(s.has_events());
    assert!(matches!(s.poll_event(), Some(Event::Frame(_))));
    assert!(!s.has_events());
}

#[test]
fn poll_timeout_is_the_earliest_armed_slot() {
    let cfg = config()
        .peer_timeout(Some(secs(30)))
        .idle_timeout(Some(secs(20)))
        .first_frame_timeout(Some(secs(40)))
        .build()
        .unwrap();
    let (mut s, now) = new(cfg);
    s.set_heartbeat(Some((secs(15), b("hb"))), now).unwrap();
    assert_eq!(s.poll_timeout(), Some(now + secs(15)));
    s.send_with(b("x"), SendDeadline::After(secs(4)), now)
        .unwrap();
    assert_eq!(s.poll_timeout(), Some(now + secs(4)));
    s.close(now + secs(1)); // linger 5 s from 1 s: 6 s; the send deadline is still earlier
    assert_eq!(s.poll_timeout(), Some(now + secs(4)));
}

#[test]
fn handle_timeout_is_idempotent() {
    let (mut s, now) = new(SessionConfig::default());
    s.set_heartbeat(Some((secs(1), b("hb"))), now).unwrap();
    s.send_with(b("x"), SendDeadline::At(now + secs(1)), now)
        .unwrap();
    let due = now + secs(1);
    s.handle_timeout(due);
    let first = outcomes(&events(&mut s));
    let queued = s.queued_bytes();
    s.handle_timeout(due);
    s.handle_timeout(due);
    assert_eq!(first.len(), 1);
    assert!(events(&mut s).is_empty());
    assert_eq!(s.queued_bytes(), queued, "one heartbeat, not three");
}

#[test]
fn handle_timeout_far_past_every_deadline_fires_them_all_once() {
    let cfg = config().peer_timeout(Some(secs(10))).build().unwrap();
    let (mut s, now) = new(cfg);
    let id = s.send(b("x"), now).unwrap();
    s.handle_timeout(now + secs(86_400));
    let evs = events(&mut s);
    assert_eq!(outcomes(&evs), [(id.get(), TIMED_OUT)]);
    assert!(matches!(
        closed_reason(&evs),
        Some(CloseReason::PeerTimeout)
    ));
    assert_eq!(s.poll_timeout(), None);
}

#[test]
fn time_going_backwards_is_ignored() {
    let (mut s, now) = new(SessionConfig::default());
    let later = now + secs(10);
    let id = s.send(b("x"), later).unwrap();
    s.handle_timeout(now); // earlier than `later`: treated as `later`
    assert!(events(&mut s).is_empty());
    // The deadline was taken from `later`, the latest instant seen.
    assert_eq!(s.poll_timeout(), Some(later + secs(5)));
    s.on_written(2, now);
    s.handle_timeout(now + secs(1));
    write_all(&mut s, now);
    assert_eq!(outcomes(&events(&mut s)), [(id.get(), SendOutcome::Sent)]);
}

#[test]
fn nothing_is_due_after_handle_timeout() {
    let cfg = config()
        .linger(Duration::ZERO)
        .idle_timeout(Some(secs(3)))
        .build()
        .unwrap();
    let (mut s, now) = new(cfg);
    s.set_heartbeat(Some((secs(1), b("hb"))), now).unwrap();
    for step in 1..=4 {
        let t = now + ms(700 * step);
        s.handle_timeout(t);
        let _ = events(&mut s);
        assert!(s.poll_timeout().is_none_or(|at| at > t), "step {step}");
        write_all(&mut s, t);
        let _ = events(&mut s);
    }
    s.send(b("x"), now + secs(3)).unwrap();
    s.close(now + secs(3)); // zero linger: due at once
    s.handle_timeout(now + secs(3));
    assert!(matches!(
        closed_reason(&events(&mut s)),
        Some(CloseReason::LingerExpired)
    ));
    assert_eq!(s.poll_timeout(), None);
}

// ----- counters -----

#[test]
fn stats_count_frames_bytes_outcomes_and_heartbeats() {
    let (mut s, now) = new(config().max_queue_frames(2).build().unwrap());
    feed(&mut s, &wire(&["in1", "in2"]), now);
    s.send(b("a"), now).unwrap();
    s.send_with(b("b"), SendDeadline::After(secs(1)), now)
        .unwrap();
    assert!(s.send(b("c"), now).is_err());
    write(&mut s, 5, now);
    s.handle_timeout(now + secs(1));
    s.set_heartbeat(Some((secs(1), b("hb"))), now + secs(1))
        .unwrap();
    s.handle_timeout(now + secs(2));
    write_all(&mut s, now + secs(2));
    s.send(b("d"), now + secs(2)).unwrap();
    s.abort();
    let st = s.stats();
    assert_eq!((st.frames_in, st.bytes_in), (2, 14));
    assert_eq!(
        (st.frames_out, st.bytes_out, st.heartbeats_sent),
        (2, 11, 1)
    );
    assert_eq!(
        (
            st.sends_accepted,
            st.sent,
            st.failed_timed_out,
            st.failed_closed
        ),
        (3, 1, 1, 1)
    );
    assert_eq!(st.refused_queue_full, 1);
}

// ----- inbound rate limit -----

fn limited(
    policy: RatePolicy,
    frames: Option<Rate>,
    bytes: Option<Rate>,
) -> (Session<PacketN>, Instant) {
    limited_with(PacketN::default(), policy, frames, bytes)
}

fn limited_with(
    codec: PacketN,
    policy: RatePolicy,
    frames: Option<Rate>,
    bytes: Option<Rate>,
) -> (Session<PacketN>, Instant) {
    let mut limit = RateLimit::new(policy);
    if let Some(r) = frames {
        limit = limit.frames(r);
    }
    if let Some(r) = bytes {
        limit = limit.bytes(r);
    }
    let now = t0();
    let config = config().rate_limit(Some(limit)).build().unwrap();
    (Session::new(codec, config, now), now)
}

#[test]
fn over_the_frame_rate_reading_pauses_until_poll_timeout_says_tokens_are_back() {
    let (mut s, now) = limited(RatePolicy::Pause, Some(Rate::per_sec(2)), None);
    feed(&mut s, &wire(&["1", "2", "3", "4"]), now);
    let evs = events(&mut s);
    assert_eq!(frames(&evs), [b("1"), b("2")]);
    assert!(
        matches!(evs.last(), Some(Event::RatePaused { resume_at: Some(at) }) if *at == now + ms(500))
    );
    assert!(!s.wants_read());
    assert_eq!(s.poll_timeout(), Some(now + ms(500)));
    s.handle_timeout(now + ms(500));
    assert_eq!(frames(&events(&mut s)), [b("3")]);
    assert_eq!(s.poll_timeout(), Some(now + secs(1)));
    s.handle_timeout(now + secs(1));
    assert_eq!(frames(&events(&mut s)), [b("4")]);
    assert!(s.wants_read());
    // Only the read buffer kept for reuse is left to free (the pause
    // restarted the traffic clock).
    assert_eq!(s.poll_timeout(), Some(now + secs(2)));
}

#[test]
fn over_the_rate_under_close_policy_closes_with_rate_limited() {
    let (mut s, now) = limited(RatePolicy::Close, Some(Rate::per_sec(15)), None);
    let burst: Vec<&str> = vec!["f"; 16];
    feed(&mut s, &wire(&burst), now);
    let evs = events(&mut s);
    assert_eq!(frames(&evs).len(), 15, "the 16th frame is not delivered");
    assert!(matches!(
        closed_reason(&evs),
        Some(CloseReason::RateLimited)
    ));
}

#[test]
fn byte_debt_pauses_reading_until_repaid() {
    // 100 B/s with a 10 B burst: a 4 + 46 byte frame leaves 40 B of debt.
    let (mut s, now) = limited(RatePolicy::Pause, None, Some(Rate::per_sec(100).burst(10)));
    let big = "x".repeat(46);
    feed(&mut s, &wire(&[big.as_str(), "next"]), now);
    let evs = events(&mut s);
    // Admitted only once its bytes are paid for; one pause says until when.
    assert!(
        matches!(evs.as_slice(), [Event::RatePaused { resume_at: Some(at) }] if *at == now + ms(400)),
        "{evs:?}"
    );
    assert_eq!(s.poll_timeout(), Some(now + ms(400)));
    s.handle_timeout(now + ms(400));
    let evs = events(&mut s);
    assert_eq!(frames(&evs).len(), 1);
    // "next" (8 B) is now 8 B in debt: another 80 ms.
    assert_eq!(s.poll_timeout(), Some(now + ms(480)));
    s.handle_timeout(now + ms(480));
    assert_eq!(frames(&events(&mut s)), [b("next")]);
}

#[test]
fn bytes_skipped_without_a_frame_to_refuse_still_pause_reading_until_repaid() {
    // 100 B/s with a 10 B burst: the 4-byte header of a frame over the
    // maximum is admitted as a discard report, then skipping its 46 bytes
    // leaves 40 B of debt.
    let (mut s, now) = limited_with(
        discarding_over_4(),
        RatePolicy::Pause,
        None,
        Some(Rate::per_sec(100).burst(10)),
    );
    let skipped = "x".repeat(46);
    feed(&mut s, &wire(&[skipped.as_str()]), now);
    let evs = events(&mut s);
    assert!(
        matches!(
            evs.as_slice(),
            [Event::FrameDiscarded(_), Event::RatePaused { resume_at: Some(at) }] if *at == now + ms(400)
        ),
        "{evs:?}"
    );
    assert!(!s.wants_read());
    s.handle_timeout(now + ms(400));
    assert!(s.wants_read());
}

#[test]
fn end_of_stream_while_paused_is_finished_after_the_pause() {
    let (mut s, now) = limited(RatePolicy::Pause, Some(Rate::per_sec(1)), None);
    feed(&mut s, &wire(&["1", "2"]), now);
    s.on_eof(now);
    let evs = events(&mut s);
    assert_eq!(frames(&evs), [b("1")]);
    assert!(!s.is_closed());
    s.handle_timeout(now + secs(1));
    let evs = events(&mut s);
    assert_eq!(frames(&evs), [b("2")]);
    assert!(matches!(closed_reason(&evs), Some(CloseReason::PeerEof)));
}

#[test]
fn a_rate_pause_suspends_the_peer_timeout() {
    let cfg = config()
        .peer_timeout(Some(secs(1)))
        .rate_limit(Some(
            RateLimit::new(RatePolicy::Pause).frames(Rate::per_sec(1).burst(1)),
        ))
        .build()
        .unwrap();
    let (mut s, now) = new(cfg);
    feed(&mut s, &wire(&["1", "2", "3"]), now);
    s.handle_timeout(now + secs(1)); // resumes, delivers "2", pauses again
    s.handle_timeout(now + secs(2)); // resumes, delivers "3"
    let evs = events(&mut s);
    assert_eq!(frames(&evs), [b("1"), b("2"), b("3")]);
    assert!(!s.is_closed(), "not listening is not the peer's silence");
    assert_eq!(s.poll_timeout(), Some(now + secs(3)));
}

// ----- config -----

#[test]
fn config_rejects_bounds_that_cannot_work() {
    assert!(config().max_queue_frames(0).build().is_err());
    assert!(config().max_queue_bytes(0).build().is_err());
    assert!(config().read_chunk(0).build().is_err());
    assert!(config().peer_timeout(Some(Duration::ZERO)).build().is_err());
    let bad = RateLimit::new(RatePolicy::Close).frames(Rate::per_sec(0));
    assert!(config().rate_limit(Some(bad)).build().is_err());
    assert!(config()
        .send_timeout(None)
        .linger(Duration::ZERO)
        .build()
        .is_ok());
}

#[test]
fn refusals_and_close_reasons_are_std_errors_that_cross_threads() {
    fn boxed<E: std::error::Error + Send + Sync + 'static>(
        e: E,
    ) -> Box<dyn std::error::Error + Send + Sync> {
        Box::new(e)
    }
    let refused = boxed(SendError::<Bytes>::QueueFull(b("x")));
    assert_eq!(refused.to_string(), "send queue full");
    let reason = boxed(CloseReason::Frame(FrameError::UnexpectedEof {
        buffered: 3,
    }));
    assert!(reason.source().is_some(), "the frame error is its source");
}

#[test]
fn accepts_sends_only_while_open_and_under_both_bounds() {
    let (mut s, now) = new(config().max_queue_frames(2).build().unwrap());
    assert!(s.accepts_sends());
    s.send(b("a"), now).unwrap();
    assert!(s.accepts_sends());
    s.send(b("b"), now).unwrap();
    assert!(!s.accepts_sends(), "two frames queued: full");
    // An untracked send is refused exactly when accepts_sends says so.
    let frame = crate::EncodedFrame::contiguous(Bytes::from_static(b"\0\0\0\x01c"));
    assert!(s.send_untracked(frame, SendDeadline::Default, now).is_err());
    s.on_written(5, now);
    assert!(s.accepts_sends());
    s.close(now);
    assert!(!s.accepts_sends(), "closing: no new sends");
}

// ----- replies and read backpressure -----

#[test]
fn replies_over_the_bound_are_accepted_and_reading_pauses() {
    let (mut s, now) = new(config().max_queue_frames(4).build().unwrap());
    for _ in 0..10 {
        s.reply(b("re"), now).unwrap();
    }
    let id = s.reply_tracked(b("tracked"), SendDeadline::Default, now);
    let encoded = PacketN::default().encode_frame(b("encoded")).unwrap();
    s.reply_encoded(encoded, now).unwrap();
    assert_eq!(s.queued_frames(), 12, "nothing refused");
    assert!(s.is_backpressured());
    assert!(!s.wants_read());
    assert_eq!(s.stats().read_pauses, 1);
    assert_eq!(s.stats().refused_queue_full, 0);
    // Bounded sends keep their refusal.
    assert!(matches!(s.send(b("x"), now), Err(SendError::QueueFull(_))));
    // What was already read is still decoded.
    feed(&mut s, &wire(&["in"]), now);
    write_all(&mut s, now);
    let evs = events(&mut s);
    assert_eq!(frames(&evs), [b("in")]);
    assert_eq!(outcomes(&evs), [(id.unwrap().get(), SendOutcome::Sent)]);
    let done = s.take_untracked_finished();
    assert_eq!(done.frames, 11, "untracked, as send_untracked");
    assert!(s.wants_read());
}

#[test]
fn replies_are_refused_only_once_closing_or_closed_or_when_the_codec_refuses() {
    let codec = PacketN::builder().max_frame_len(4).build().unwrap();
    let now = t0();
    let mut s = Session::new(codec, config().max_queue_frames(1).build().unwrap(), now);
    assert!(matches!(
        s.reply(b("too long"), now),
        Err(SendError::Frame(_))
    ));
    assert_eq!(s.queued_frames(), 0);
    s.reply(b("ok"), now).unwrap();
    s.reply(b("ok"), now).unwrap();
    // Refused while a run is open for more: the run keeps what it had.
    let bytes = s.queued_bytes();
    assert!(matches!(
        s.reply(b("too long"), now),
        Err(SendError::Frame(_))
    ));
    assert_eq!((s.queued_frames(), s.queued_bytes()), (2, bytes));
    s.reply(b("!"), now).unwrap();
    assert_eq!(s.stats().sends_accepted, 3);
    let mut wire = Vec::new();
    while s.wants_write() {
        let chunk = s.chunk().to_vec();
        s.on_written(chunk.len(), now);
        wire.extend_from_slice(&chunk);
    }
    assert_eq!(wire, self::wire(&["ok", "ok", "!"]));
    s.close(now);
    assert!(matches!(s.reply(b("late"), now), Err(SendError::Closed(_))));
    assert!(matches!(
        s.reply_tracked(b("late"), SendDeadline::Never, now),
        Err(SendError::Closed(_))
    ));
    let frame = crate::EncodedFrame::contiguous(Bytes::from_static(b"\0\0\0\x01c"));
    assert!(matches!(
        s.reply_encoded(frame, now),
        Err(SendError::Closed(_))
    ));
    assert_eq!(s.stats().refused_closed, 3);
}

#[test]
fn a_reply_is_packed_only_when_small_and_not_empty() {
    let now = t0();
    // Raw encodes an empty payload as nothing at all: done at once.
    let mut s = Session::new(crate::frame::RawCodec::new(), SessionConfig::default(), now);
    s.reply(Bytes::new(), now).unwrap();
    assert_eq!((s.queued_frames(), s.stats().sent), (0, 1));
    // Over PACK_FRAME_MAX: queued as it is, its payload not copied.
    let (mut s, now) = new(SessionConfig::default());
    let big = Bytes::from(vec![7u8; 1025]);
    let at = big.as_ptr();
    s.reply(b("small"), now).unwrap();
    s.reply(big, now).unwrap();
    let mut slices = [IoSlice::new(&[]); 4];
    let n = s.chunks_vectored(&mut slices);
    assert_eq!(
        n, 3,
        "the small frame's run, the big one's header, its payload"
    );
    assert_eq!(slices[2].as_ptr(), at, "written from the payload itself");
}

#[test]
fn reading_resumes_at_the_low_water_mark_not_before() {
    // Frame bound 5: low water 2 frames (half, rounded down).
    let (mut s, now) = new(config().max_queue_frames(5).build().unwrap());
    for _ in 0..6 {
        s.reply_tracked(b("abcd"), SendDeadline::Default, now)
            .unwrap();
    }
    assert!(s.is_backpressured());
    for left in [5, 4, 3] {
        write(&mut s, 8, now);
        assert_eq!(s.queued_frames(), left);
        assert!(!s.wants_read(), "{left} frames queued: still paused");
    }
    write(&mut s, 8, now);
    assert_eq!(s.queued_frames(), 2);
    assert!(s.wants_read() && !s.is_backpressured());

    // Byte bound 40: low water 20 bytes, whatever the frame count.
    let (mut s, now) = new(config().max_queue_bytes(40).build().unwrap());
    for _ in 0..5 {
        s.reply_tracked(b("abcd"), SendDeadline::Default, now)
            .unwrap(); // 8 bytes each
    }
    assert!(s.is_backpressured(), "40 bytes: at the bound");
    write(&mut s, 19, now);
    assert_eq!(s.queued_bytes(), 21);
    assert!(s.is_backpressured());
    write(&mut s, 1, now);
    assert!(!s.is_backpressured());
    assert_eq!(s.stats().read_pauses, 1);
}

#[test]
fn the_slow_consumer_timer_closes_with_slow_consumer_at_exactly_since_plus_t() {
    let t = secs(2);
    let (mut s, now) = new(config()
        .max_queue_frames(1)
        .slow_consumer_timeout(Some(t))
        .send_timeout(None)
        .build()
        .unwrap());
    assert_eq!(s.poll_timeout(), None, "nothing armed before the pause");
    let since = now + secs(1);
    let id = s.reply_tracked(b("unread"), SendDeadline::Default, since);
    assert!(s.is_backpressured());
    assert_eq!(s.poll_timeout(), Some(since + t));
    s.handle_timeout(since + t - Duration::from_nanos(1));
    assert!(!s.is_closed());
    s.handle_timeout(since + t);
    let evs = events(&mut s);
    assert_eq!(outcomes(&evs), [(id.unwrap().get(), CLOSED)]);
    assert!(matches!(
        closed_reason(&evs),
        Some(CloseReason::SlowConsumer)
    ));
}

#[test]
fn the_slow_consumer_timer_is_disarmed_when_reading_resumes() {
    let (mut s, now) = new(config()
        .max_queue_frames(1)
        .slow_consumer_timeout(Some(secs(2)))
        .build()
        .unwrap());
    s.reply(b("x"), now).unwrap();
    write_all(&mut s, now + secs(1));
    s.handle_timeout(now + secs(10));
    assert!(!s.is_closed());
    // A new pause counts from its own start.
    s.reply(b("y"), now + secs(10)).unwrap();
    assert_eq!(s.poll_timeout(), Some(now + secs(12)));
    assert_eq!(s.stats().read_pauses, 2);
}

#[test]
fn liveness_is_not_judged_while_backpressured_and_restarts_on_resume() {
    for (cfg, reason) in [
        (config().peer_timeout(Some(secs(1))), "peer"),
        (config().idle_timeout(Some(secs(1))), "idle"),
        (config().first_frame_timeout(Some(secs(1))), "first frame"),
    ] {
        let (mut s, now) = new(cfg.max_queue_frames(1).send_timeout(None).build().unwrap());
        s.reply(b("unread"), now).unwrap();
        assert!(s.is_backpressured());
        s.handle_timeout(now + secs(10));
        assert!(!s.is_closed(), "{reason}: judged while backpressured");
        let resumed = now + secs(10);
        write_all(&mut s, resumed);
        assert!(s.wants_read());
        s.handle_timeout(resumed + secs(1) - Duration::from_nanos(1));
        assert!(!s.is_closed(), "{reason}: its clock restarted on resume");
        s.handle_timeout(resumed + secs(1));
        let expected = match reason {
            "peer" => matches!(
                closed_reason(&events(&mut s)),
                Some(CloseReason::PeerTimeout)
            ),
            "idle" => matches!(
                closed_reason(&events(&mut s)),
                Some(CloseReason::IdleTimeout)
            ),
            _ => matches!(
                closed_reason(&events(&mut s)),
                Some(CloseReason::FirstFrameTimeout)
            ),
        };
        assert!(expected, "{reason}");
    }
}

#[test]
fn debug_shows_the_state_and_the_queue() {
    let (mut s, now) = new(SessionConfig::default());
    s.send(b("x"), now).unwrap();
    let shown = format!("{s:?}");
    assert!(shown.starts_with("Session {"), "{shown}");
    assert!(shown.contains("state: Open"), "{shown}");
    assert!(shown.contains("queued_frames: 1"), "{shown}");
}

#[test]
fn config_rejects_a_zero_slow_consumer_timeout() {
    assert!(config()
        .slow_consumer_timeout(Some(Duration::ZERO))
        .build()
        .is_err());
    assert_eq!(SessionConfig::default().slow_consumer_timeout(), None);
}

#[test]
fn replies_wait_for_a_late_reader_however_late_while_a_default_untracked_send_times_out() {
    let cfg = config().send_timeout(Some(secs(5))).build().unwrap();
    let (mut s, now) = new(cfg);
    // Small replies (packed), a large one (a frame of its own), and a
    // pre-encoded one, behind an untracked send with the default deadline.
    let big = "x".repeat(8 * 1024);
    let late = s.send_untracked(
        PacketN::default().encode_frame(b("dropped")).unwrap(),
        SendDeadline::Default,
        now,
    );
    assert!(late.is_ok());
    s.reply(b("one"), now).unwrap();
    s.reply(Bytes::from(big.clone()), now).unwrap();
    let encoded = PacketN::default().encode_frame(b("three")).unwrap();
    s.reply_encoded(encoded, now).unwrap();
    // The peer reads nothing for a minute.
    let later = now + secs(60);
    s.handle_timeout(later);
    assert_eq!(s.stats().failed_timed_out, 1, "only the plain send gave up");
    assert_eq!(write_all(&mut s, later), wire(&["one", &big, "three"]));
    assert_eq!(s.take_untracked_finished().frames, 4);
    assert!(!s.is_closed());
}

#[test]
fn small_replies_are_packed_into_one_slice_and_a_large_one_is_not() {
    let (mut s, now) = new(SessionConfig::default());
    for body in ["a", "bb", "ccc"] {
        s.reply(b(body), now).unwrap();
    }
    let mut slices = [IoSlice::new(&[]); 8];
    assert_eq!(s.chunks_vectored(&mut slices), 1, "one packed run");
    assert_eq!(&*slices[0], &wire(&["a", "bb", "ccc"])[..]);
    let big = "x".repeat(64 * 1024);
    s.reply(Bytes::from(big.clone()), now).unwrap();
    let mut slices = [IoSlice::new(&[]); 8];
    assert!(
        s.chunks_vectored(&mut slices) >= 2,
        "the large payload is not copied into the run"
    );
    assert_eq!(write_all(&mut s, now), wire(&["a", "bb", "ccc", &big]));
}

#[test]
fn only_local_closes_the_peer_s_end_and_decode_errors_are_orderly() {
    use std::io::ErrorKind;
    let frame_error = FrameError::UnexpectedEof { buffered: 1 };
    for orderly in [
        CloseReason::Local,
        CloseReason::PeerEof,
        CloseReason::Frame(frame_error),
    ] {
        assert!(orderly.is_orderly(), "{orderly:?}");
    }
    for other in [
        CloseReason::LingerExpired,
        CloseReason::Aborted,
        CloseReason::PeerTimeout,
        CloseReason::FirstFrameTimeout,
        CloseReason::IdleTimeout,
        CloseReason::SlowConsumer,
        CloseReason::RateLimited,
        CloseReason::Io(ErrorKind::ConnectionReset),
    ] {
        assert!(!other.is_orderly(), "{other:?}");
    }
}
