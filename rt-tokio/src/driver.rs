//! The connection task: the one owner of a core [`castnet_core::Session`].
//!
//! Sockets in, core out. Each turn it fires due timers, hands every event
//! the core produced to the user, applies every command waiting in the inbox
//! (replies a handler just sent included), writes everything queued in
//! vectored writes, then waits for the socket, the inbox or the next
//! deadline. Reading goes until the socket is empty or a fairness budget is
//! spent. The task compares `now >= deadline` itself rather than trusting
//! that a sleep fired on time.

use crate::lane::Subscription;
use crate::pending::Pending;
use crate::session::{Command, Done, LocalBatch, Shared, TrackedSend};
use crate::socket::Stream;
use crate::stats::StatsCell;
use castnet_core::session::{CloseReason, Event, SendDeadline, Session as CoreSession};
use castnet_core::session::{SendFailure, SendId, SendOutcome, SessionStats};
use castnet_core::{Decoder, EncodedFrame};
use std::future::Future;
use std::io::{self, IoSlice};
use std::sync::Arc;
use std::task::{Context, Poll};
use tokio::sync::mpsc;
use tokio::time::Instant;

/// Largest number of slices handed to one vectored write.
const MAX_IOVECS: usize = 64;
/// Runs of queued bytes up to this size are copied into one buffer before a
/// write rather than handed to the kernel as many small iovecs.
const COALESCE_MAX: usize = 16 * 1024;
/// Bytes read per turn before other work gets a turn.
const READ_BUDGET: usize = 256 * 1024;
/// Inbox commands applied per turn before IO gets a turn.
const INBOX_BUDGET: usize = 4096;

/// What the driver does with what the core reports.
pub(crate) trait Sink<C: Decoder>: Send {
    /// The session starts: called first, on the connection's task.
    fn open(&mut self) {}
    /// A decoded frame. Returning `false` asks the driver to stop reading
    /// until [`Sink::ready`] resolves (the receiver is full).
    fn frame(&mut self, frame: C::Item) -> bool;
    /// Waits until frames can be delivered again.
    fn ready(&mut self) -> impl Future<Output = ()> + Send;
    /// Whether every send's outcome goes to [`Sink::sent`]. When false,
    /// sends nobody awaits are queued untracked (no event per frame).
    fn tracks_sends(&self) -> bool {
        false
    }
    /// A send finished.
    fn sent(&mut self, _id: SendId, _outcome: SendOutcome) {}
    /// The session closed. Called exactly once, last.
    fn closed(&mut self, reason: &CloseReason);
}

pub(crate) async fn drive<C, S>(
    mut stream: Stream,
    mut core: CoreSession<C>,
    shared: Arc<Shared<C>>,
    mut inbox: mpsc::UnboundedReceiver<Command>,
    mut sink: S,
    stats: Arc<StatsCell>,
    lanes: Vec<Subscription>,
) where
    C: Decoder + Send + Sync + 'static,
    C::Item: Send,
    S: Sink<C>,
{
    // However this task ends (a callback may panic, the runtime may drop
    // it), handles learn that it did.
    let _finished = Finished(&shared);
    let mut sends = Sends {
        pending: Pending::new(),
        lanes,
        track: sink.tracks_sends(),
    };
    sink.open();
    let mut local: Vec<Command> = Vec::new();
    let mut scratch: Vec<u8> = Vec::new();
    // Outcomes of one turn: the quota comes back in one step, then waiters
    // learn their outcome (so room is free by the time they see it).
    let mut finished: Vec<(Done, SendOutcome)> = Vec::new();
    let mut published = Published {
        stats: SessionStats::default(),
        buffer: BufferGauge {
            stats: &stats,
            held: 0,
        },
    };
    let mut timer = Timer::new();
    let mut sink_full = false;
    let mut eof_seen = false;
    let mut handles_alive = true;

    // The clock as last read while waking (by a read or a command), so a
    // turn reads it once.
    let mut woke_at: Option<std::time::Instant> = None;

    let reason = loop {
        let now = woke_at.take().unwrap_or_else(|| Instant::now().into_std());

        // Timers: the core decides what expired.
        if core.poll_timeout().is_some_and(|at| now >= at) {
            core.handle_timeout(now);
        }

        // Events, then the commands they may have caused, until both are dry.
        let mut closed = None;
        let (mut freed_bytes, mut freed_frames) = (0, 0);
        loop {
            let packed = (!sends.track).then(|| core.packed_batch());
            let batch = LocalBatch::enter(shared.id, std::mem::take(&mut local), packed);
            while let Some(event) = core.poll_event() {
                match event {
                    Event::Frame(frame) => sink_full |= !sink.frame(frame),
                    Event::Closed(reason) => closed = Some(reason),
                    event => {
                        if let Some((id, outcome)) = event.outcome() {
                            if let Some((len, done)) = sends.pending.remove(id.get()) {
                                freed_bytes += len;
                                freed_frames += 1;
                                if done.is_awaited() {
                                    finished.push((done, outcome));
                                }
                                sink.sent(id, outcome);
                            }
                        } else if let Event::FrameDiscarded(error) = &event {
                            tracing::debug!(%error, "oversized frame discarded");
                        }
                    }
                }
            }
            // What the handler sent, charged to the quota before it is applied.
            let unused;
            (local, unused) = batch.exit(&shared.quota);
            if let Some(empty) = unused {
                // Nothing queued: the core keeps the memory for next time.
                let _ = core.send_untracked_packed(empty, SendDeadline::Default, now);
            }
            let mut applied = local.len();
            for cmd in local.drain(..) {
                apply(&mut core, &shared, &mut sends, cmd, now);
            }
            if closed.is_some() {
                break;
            }
            for _ in 0..INBOX_BUDGET {
                match inbox.try_recv() {
                    Ok(cmd) => apply(&mut core, &shared, &mut sends, cmd, now),
                    Err(_) => break,
                }
                applied += 1;
            }
            // End of stream is reported only now, after every frame that came
            // before it was handled and every reply to it queued.
            if eof_seen && applied == 0 {
                eof_seen = false;
                core.on_eof(now);
                continue;
            }
            // Another pass only if the commands made events (a close, an
            // empty frame sent at once) or the end of stream waits for its
            // turn; more inbox commands are taken after the write.
            if applied == 0 || !(core.has_events() || eof_seen) {
                break;
            }
        }
        shared.release(freed_bytes, freed_frames);
        for (done, outcome) in finished.drain(..) {
            done.complete(outcome);
        }
        if let Some(reason) = closed {
            break reason;
        }

        // Detached broadcasts: take what the queue has room for.
        if !sends.lanes.is_empty() {
            for lane in &mut sends.lanes {
                pull(lane, &mut core, &shared, &stats, now);
            }
            // Channels left: gone once they gave what came before leaving.
            sends.lanes.retain(|lane| !lane.is_done());
        }

        // Write what is queued, as long as the socket takes it.
        if core.wants_write() {
            if let Err(e) = write_some(&stream, &mut core, &mut scratch, now) {
                tracing::debug!(error = %e, "write failed");
                core.on_io_error(e.kind());
                continue;
            }
        }
        // Untracked sends that ended this turn (written, timed out, refused)
        // free their room in one step: no event comes for them.
        let untracked = core.take_untracked_finished();
        shared.release(untracked.bytes, untracked.frames);
        publish(&stats, &core, &mut published);
        // What the write completed (send outcomes, room for waiting senders,
        // a drained close) is handled now, not after the next wake-up.
        let next = core.poll_timeout();
        if next.is_some_and(|at| at <= now) {
            continue;
        }

        // Wait for the next thing to do.
        let read = !sink_full && core.wants_read();
        let write = core.wants_write();
        timer.arm(next.map(Instant::from_std));
        // Wait for the broadcast lane only while its frames could be taken.
        let lane_open = !sends.lanes.is_empty() && has_room(&core, &shared);
        tokio::select! {
            biased;
            cmd = inbox.recv(), if handles_alive => {
                let now = Instant::now().into_std();
                woke_at = Some(now);
                match cmd {
                    Some(cmd) => apply(&mut core, &shared, &mut sends, cmd, now),
                    // Every handle is gone (a server keeps one per session,
                    // so this is a client nobody holds): nobody can send or
                    // receive any more, so close gracefully.
                    None => {
                        handles_alive = false;
                        core.close(now);
                    }
                }
            }
            io = std::future::poll_fn(|cx| poll_io(cx, &mut stream, &mut core, read, write, &mut woke_at)), if read || write => {
                match io {
                    Ok(eof) => eof_seen |= eof,
                    Err(e) => {
                        tracing::debug!(error = %e, "connection failed");
                        core.on_io_error(e.kind());
                    }
                }
            }
            _ = sink.ready(), if sink_full => sink_full = false,
            _ = std::future::poll_fn(|cx| {
                // Every lane parks (or reports unread frames): any of them
                // wakes this task.
                let mut ready = false;
                for lane in &mut sends.lanes {
                    ready |= lane.poll_unread(cx).is_ready();
                }
                if ready { std::task::Poll::Ready(()) } else { std::task::Poll::Pending }
            }), if lane_open => {
                // Flush consolidation: woken by new broadcast frames, let
                // every task already runnable (publishers among them) have
                // its turn first, then take everything they published in
                // one pull and one write. One scheduler pass of delay; under
                // fan-out load, far fewer and fuller writes.
                tokio::task::yield_now().await;
            }
            _ = timer.sleep.as_mut(), if timer.armed.is_some() => timer.armed = None,
        }
    };

    // The session is closed: nothing more reaches the wire. Whatever is still
    // in the inbox or pending ends as Closed.
    shared.mark_closed();
    drop(std::mem::take(&mut sends.lanes));
    inbox.close();
    while let Ok(cmd) = inbox.try_recv() {
        match cmd {
            Command::Send(send) => shared.end_unqueued_closed(send.frame.len(), send.done),
            Command::Quiet(frame) => shared.end_unqueued_closed(frame.len(), Done::NOBODY),
            Command::Packed(packed) => {
                shared.end_refused(packed.len(), packed.frames(), SendFailure::Closed)
            }
            _ => {}
        }
    }
    for (len, done) in sends.pending.drain() {
        shared.end_unqueued_closed(len, done);
    }
    let untracked = core.take_untracked_finished();
    shared.release(untracked.bytes, untracked.frames);
    publish(&stats, &core, &mut published);
    if matches!(reason, CloseReason::Local | CloseReason::PeerEof) {
        // Everything queued was written: tell the peer we are done.
        let _ = stream.shutdown_write();
    }
    tracing::debug!(%reason, "session closed");
    sink.closed(&reason);
    drop(stream);
}

/// The task's one sleep, armed for the core's next deadline.
///
/// A deadline that moves later (a liveness or buffer timer pushed back by
/// traffic, every turn on a busy session) leaves the sleep where it is: it
/// fires early, the turn finds nothing due (the task checks `now >= deadline`
/// itself) and re-arms it. Only an earlier deadline resets it, so a busy
/// session touches the runtime's timer wheel about once per timeout, not
/// once per turn.
struct Timer {
    sleep: std::pin::Pin<Box<tokio::time::Sleep>>,
    /// When the sleep fires; `None` once it fired (or before it is armed).
    armed: Option<Instant>,
}

impl Timer {
    fn new() -> Self {
        Timer {
            sleep: Box::pin(tokio::time::sleep_until(Instant::now())),
            armed: None,
        }
    }

    /// Makes sure the sleep fires no later than `deadline`.
    fn arm(&mut self, deadline: Option<Instant>) {
        if let Some(at) = deadline {
            if self.armed.is_none_or(|armed| at < armed) {
                self.sleep.as_mut().reset(at);
                self.armed = Some(at);
            }
        }
    }
}

/// Marks the session finished when the connection task ends, normally or
/// not.
struct Finished<'a, C: Decoder>(&'a Shared<C>);

impl<C: Decoder> Drop for Finished<'_, C> {
    fn drop(&mut self) {
        self.0.mark_finished();
    }
}

/// What the owner task keeps about its sends besides the core session.
struct Sends {
    /// Tracked sends in flight, for their outcomes.
    pending: Pending,
    /// Broadcast lanes followed: the server's, then each channel's.
    lanes: Vec<Subscription>,
    /// Every send is tracked (the sink wants every outcome).
    track: bool,
}

fn apply<C: Decoder>(
    core: &mut CoreSession<C>,
    shared: &Shared<C>,
    sends: &mut Sends,
    cmd: Command,
    now: std::time::Instant,
) {
    let Sends {
        pending,
        lanes,
        track,
    } = sends;
    match cmd {
        Command::Follow(lane) => lanes.push(lane),
        // Every subscription to that lane: one left earlier and still
        // draining already stops sooner, so only the latest changes.
        Command::Unfollow(lane, until) => lanes
            .iter_mut()
            .filter(|sub| sub.is_to(&lane))
            .for_each(|sub| sub.leave_at(until)),
        Command::Quiet(frame) if !*track => {
            let len = frame.len();
            if let Err(err) = core.send_untracked(frame, SendDeadline::Default, now) {
                refused(shared, len, Done::NOBODY, err.failure());
            }
        }
        Command::Quiet(frame) => {
            send_tracked(core, shared, pending, frame, None, Done::NOBODY, now)
        }
        // Only made when sends are not tracked.
        Command::Packed(packed) => {
            if let Err(refused) = core.send_untracked_packed(packed, SendDeadline::Default, now) {
                shared.end_refused(refused.bytes, refused.frames, refused.failure);
            }
        }
        Command::Send(send) => {
            let TrackedSend {
                frame,
                timeout,
                done,
            } = *send;
            send_tracked(core, shared, pending, frame, timeout, done, now)
        }
        Command::SetHeartbeat(hb) => core.set_heartbeat_frame(*hb, now),
        Command::Close => core.close(now),
        Command::Abort => core.abort(),
    }
}

/// Queues a send whose outcome is reported.
fn send_tracked<C: Decoder>(
    core: &mut CoreSession<C>,
    shared: &Shared<C>,
    pending: &mut Pending,
    frame: EncodedFrame,
    timeout: Option<std::time::Duration>,
    done: Done,
    now: std::time::Instant,
) {
    let len = frame.len();
    let deadline = match timeout {
        Some(t) => SendDeadline::After(t),
        None => SendDeadline::Default,
    };
    match core.send_encoded(frame, deadline, now) {
        Ok(id) => pending.insert(id.get(), (len, done)),
        Err(err) => refused(shared, len, done, err.failure()),
    }
}

/// The shared quota admitted a send but the core refused it (closing, or its
/// own frames such as heartbeats filled the queue): it ends here, once. The
/// core counted a full queue.
fn refused<C: Decoder>(shared: &Shared<C>, len: usize, done: Done, why: Option<SendFailure>) {
    let why = match why {
        Some(SendFailure::QueueFull) => SendFailure::QueueFull,
        _ => SendFailure::Closed,
    };
    shared.end_refused(len, 1, why);
    done.complete(SendOutcome::Failed(why));
}

/// True when both the shared quota and the core would take another frame.
fn has_room<C: Decoder>(core: &CoreSession<C>, shared: &Shared<C>) -> bool {
    core.accepts_sends() && !shared.quota.is_full()
}

/// Moves unread detached-broadcast frames into the core's queue, untracked,
/// while there is room; counts what the session fell behind on.
fn pull<C: Decoder>(
    lane: &mut Subscription,
    core: &mut CoreSession<C>,
    shared: &Shared<C>,
    stats: &StatsCell,
    now: std::time::Instant,
) {
    if !has_room(core, shared) {
        return;
    }
    let read = lane.pull(|frame| {
        if shared.quota.try_acquire(frame.len()).is_err() {
            return false;
        }
        let shared_frame = EncodedFrame::contiguous(frame.clone());
        match core.send_untracked(shared_frame, SendDeadline::Default, now) {
            Ok(()) => true,
            Err(_) => {
                // Not queued after all: give the room back.
                shared.release(frame.len(), 1);
                false
            }
        }
    });
    if read.missed > 0 {
        stats
            .broadcast_missed
            .fetch_add(read.missed, std::sync::atomic::Ordering::Relaxed);
    }
}

/// Adds what the core counted since the last call to the shared counters.
/// Also moves the read-buffer gauge by how much this session's read buffer
/// grew or shrank.
fn publish<C: Decoder>(stats: &StatsCell, core: &CoreSession<C>, last: &mut Published<'_>) {
    let now = core.stats();
    if now != last.stats {
        stats.add_delta(&last.stats, &now);
        last.stats = now;
    }
    last.buffer.set(core.read_buffer_capacity());
}

/// What a session last added to the shared counters.
struct Published<'a> {
    stats: SessionStats,
    buffer: BufferGauge<'a>,
}

/// This session's share of [`StatsCell::read_buffer_bytes`], taken back when
/// the task ends however it ends.
struct BufferGauge<'a> {
    stats: &'a StatsCell,
    held: usize,
}

impl BufferGauge<'_> {
    fn set(&mut self, bytes: usize) {
        use std::sync::atomic::Ordering::Relaxed;
        let gauge = &self.stats.read_buffer_bytes;
        if bytes > self.held {
            gauge.fetch_add((bytes - self.held) as u64, Relaxed);
        } else if bytes < self.held {
            gauge.fetch_sub((self.held - bytes) as u64, Relaxed);
        }
        self.held = bytes;
    }
}

impl Drop for BufferGauge<'_> {
    fn drop(&mut self) {
        self.set(0);
    }
}

/// Waits for the socket: reads what it has (until it is drained, the budget
/// is spent or the core stops wanting input) and reports whether it can take
/// writes. Ready when anything happened; `Ok(true)` when the peer ended its
/// side.
///
/// Reads go through `poll_read`, not `try_read`: Tokio takes a read that did
/// not fill the buffer as proof that the socket is drained, so a turn costs no
/// extra `recv` that would only say "would block".
///
/// The clock is read once, at the first read, into `woke_at`: the next turn
/// goes on with it when this returns ready.
fn poll_io<C: Decoder>(
    cx: &mut Context<'_>,
    stream: &mut Stream,
    core: &mut CoreSession<C>,
    read: bool,
    write: bool,
    woke_at: &mut Option<std::time::Instant>,
) -> Poll<io::Result<bool>> {
    let mut now = || *woke_at.get_or_insert_with(|| Instant::now().into_std());
    let mut progress = false;
    if write {
        match stream.poll_write_ready(cx) {
            Poll::Ready(Ok(())) => progress = true,
            Poll::Ready(Err(e)) => return Poll::Ready(Err(e)),
            Poll::Pending => {}
        }
    }
    if read {
        let mut total = 0;
        while total < READ_BUDGET && core.wants_read() {
            // Readiness first: a connection waiting for its peer holds no
            // read buffer (the core makes room only when asked).
            match stream.poll_read_ready(cx) {
                Poll::Ready(Ok(())) => {}
                Poll::Ready(Err(e)) => return Poll::Ready(Err(e)),
                Poll::Pending => break,
            }
            match stream.poll_read_buf(cx, core.read_buf()) {
                Poll::Ready(Ok(0)) => return Poll::Ready(Ok(true)),
                Poll::Ready(Ok(n)) => {
                    total += n;
                    progress = true;
                    core.on_read(n, now());
                }
                Poll::Ready(Err(e)) if e.kind() == io::ErrorKind::Interrupted => {}
                Poll::Ready(Err(e)) => return Poll::Ready(Err(e)),
                Poll::Pending => {
                    // The readiness was stale: nothing came after all. Say so,
                    // which releases the room just made.
                    core.on_read(0, now());
                    break;
                }
            }
        }
    }
    if progress {
        Poll::Ready(Ok(false))
    } else {
        // Nothing read: the task may now sleep for long, so the clock read
        // here must not stand for the next turn's.
        *woke_at = None;
        Poll::Pending
    }
}

/// Writes queued frames until the queue is empty or the socket would block.
///
/// Many small frames are copied into `scratch` and written as one buffer: the
/// kernel pays for every iovec, and for 64-byte frames that costs more than
/// the copy. Larger runs go out as they are, in one vectored write, with no
/// payload copied.
fn write_some<C: Decoder>(
    stream: &Stream,
    core: &mut CoreSession<C>,
    scratch: &mut Vec<u8>,
    now: std::time::Instant,
) -> io::Result<()> {
    while core.wants_write() {
        let mut slices = [IoSlice::new(&[]); MAX_IOVECS];
        let n = core.chunks_vectored(&mut slices);
        if n == 0 {
            break;
        }
        let slices = &slices[..n];
        let total: usize = slices.iter().map(|s| s.len()).sum();
        let result = if n > 2 && total <= COALESCE_MAX {
            scratch.clear();
            for s in slices {
                scratch.extend_from_slice(s);
            }
            stream.try_write_vectored(&[IoSlice::new(scratch)])
        } else {
            stream.try_write_vectored(slices)
        };
        match result {
            Ok(0) => return Err(io::ErrorKind::WriteZero.into()),
            Ok(written) => core.on_written(written, now),
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => break,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(e),
        }
    }
    Ok(())
}
