//! The connection task: the one owner of a core [`castnet_core::session::Session`].
//!
//! Sockets in, core out. Per wake-up it reads until the socket is empty (or a
//! fairness budget is spent), lets the core decode every frame, applies every
//! command waiting in the inbox, then writes everything queued in vectored
//! writes. Timers come from the core's `poll_timeout`; the task compares
//! `now >= deadline` itself rather than trusting that a sleep fired on time.

use crate::session::{Command, Shared};
use crate::socket::Stream;
use castnet_core::session::{CloseReason, Event, Session as CoreSession};
use castnet_core::session::{SendFailure, SendId, SendOutcome};
use castnet_core::Decoder;
use std::collections::HashMap;
use std::io::{self, IoSlice};
use std::sync::Arc;
use tokio::io::Interest;
use tokio::sync::{mpsc, oneshot};
use tokio::time::Instant;

/// Largest number of slices handed to one vectored write.
const MAX_IOVECS: usize = 64;
/// Bytes read per wake-up before other work gets a turn.
const READ_BUDGET: usize = 256 * 1024;
/// Inbox commands applied per wake-up before IO gets a turn.
const INBOX_BUDGET: usize = 1024;

/// What the driver does with what the core reports.
pub(crate) trait Sink<C: Decoder>: Send {
    /// A decoded frame. Returning `false` asks the driver to stop reading
    /// until [`Sink::ready`] resolves (the receiver is full).
    fn frame(&mut self, frame: C::Item) -> bool;
    /// Waits until frames can be delivered again.
    fn ready(&mut self) -> impl std::future::Future<Output = ()> + Send;
    /// A send finished (outcome already routed to its `SendWork`).
    fn sent(&mut self, _id: SendId, _outcome: SendOutcome) {}
    /// The session closed. Called exactly once, last.
    fn closed(&mut self, reason: &CloseReason);
}

struct Pending {
    len: usize,
    done: Option<oneshot::Sender<SendOutcome>>,
}

pub(crate) async fn drive<C, S>(
    stream: Stream,
    mut core: CoreSession<C>,
    shared: Arc<Shared<C>>,
    mut inbox: mpsc::UnboundedReceiver<Command>,
    mut sink: S,
) where
    C: Decoder + Send + 'static,
    S: Sink<C>,
{
    let mut pending: HashMap<SendId, Pending> = HashMap::new();
    let mut paused_by_sink = false;
    let mut read_eof = false;
    let mut close_reason = None;

    loop {
        let now = Instant::now().into_std();

        // 1. Commands from handles, in a batch.
        for _ in 0..INBOX_BUDGET {
            match inbox.try_recv() {
                Ok(cmd) => apply(&mut core, &shared, &mut pending, cmd, now),
                Err(_) => break,
            }
        }

        // 2. Timers: the core decides what expired.
        if let Some(deadline) = core.poll_timeout() {
            if now >= deadline {
                core.handle_timeout(now);
            }
        }

        // 3. Everything the core has to say.
        while let Some(event) = core.poll_event() {
            match event {
                Event::Frame(frame) => {
                    if !sink.frame(frame) {
                        paused_by_sink = true;
                    }
                }
                Event::Sent(id) => finish(&shared, &mut pending, &mut sink, id, SendOutcome::Sent),
                Event::Failed(id, why) => {
                    finish(&shared, &mut pending, &mut sink, id, SendOutcome::Failed(why))
                }
                Event::Closed(reason) => close_reason = Some(reason),
                other => tracing::trace!(event = ?other, "session event"),
            }
        }
        if let Some(reason) = close_reason.take() {
            shared.mark_closed();
            // Whatever reached the inbox after the close ends as Closed.
            inbox.close();
            while let Ok(cmd) = inbox.try_recv() {
                if let Command::Send { frame, done, .. } = cmd {
                    shared.quota.release(frame.len());
                    if let Some(done) = done {
                        let _ = done.send(SendOutcome::Failed(SendFailure::Closed));
                    }
                }
            }
            for (_, p) in pending.drain() {
                shared.quota.release(p.len);
                if let Some(done) = p.done {
                    let _ = done.send(SendOutcome::Failed(SendFailure::Closed));
                }
            }
            shared.room.notify_waiters();
            tracing::debug!(reason = ?reason, "session closed");
            sink.closed(&reason);
            break;
        }

        // 4. Write what is queued, as long as the socket takes it.
        if core.wants_write() {
            if let Err(e) = write_some(&stream, &mut core, now) {
                core.on_io_error(e.kind(), now);
                continue;
            }
        }
        if core.wants_close_write() {
            let _ = stream.shutdown_write();
        }

        // 5. Wait for the next thing to do.
        let mut interest = None;
        if !read_eof && !paused_by_sink && core.wants_read() {
            interest = Some(Interest::READABLE);
        }
        if core.wants_write() {
            interest = Some(match interest {
                Some(i) => i | Interest::WRITABLE,
                None => Interest::WRITABLE,
            });
        }
        let deadline = core.poll_timeout().map(Instant::from_std);
        tokio::select! {
            biased;
            cmd = inbox.recv() => match cmd {
                Some(cmd) => apply(&mut core, &shared, &mut pending, cmd, Instant::now().into_std()),
                // Every handle is gone: nobody can send or close any more, but
                // the peer may still talk to a handler; keep going.
                None => {}
            },
            ready = async { stream.ready(interest.unwrap()).await }, if interest.is_some() => {
                let now = Instant::now().into_std();
                match ready {
                    Ok(r) => {
                        if r.is_readable() {
                            match read_some(&stream, &mut core, now) {
                                Ok(true) => {}
                                Ok(false) => read_eof = true,
                                Err(e) => core.on_io_error(e.kind(), now),
                            }
                        }
                    }
                    Err(e) => core.on_io_error(e.kind(), now),
                }
            }
            _ = sink.ready(), if paused_by_sink => paused_by_sink = false,
            _ = async { tokio::time::sleep_until(deadline.unwrap()).await }, if deadline.is_some() => {}
        }
    }
    shared.mark_finished();
}

fn apply<C: Decoder>(
    core: &mut CoreSession<C>,
    shared: &Shared<C>,
    pending: &mut HashMap<SendId, Pending>,
    cmd: Command,
    now: std::time::Instant,
) {
    match cmd {
        Command::Send {
            frame,
            timeout,
            done,
        } => {
            let len = frame.len();
            match core.send_encoded(frame, timeout, now) {
                Ok(id) => {
                    pending.insert(id, Pending { len, done });
                }
                Err(err) => {
                    shared.quota.release(len);
                    shared.room.notify_waiters();
                    let why = err.failure();
                    if let Some(done) = done {
                        let _ = done.send(SendOutcome::Failed(why));
                    }
                }
            }
        }
        Command::SetHeartbeat(hb) => core.set_heartbeat(hb, now),
        Command::Close => core.close(now),
        Command::Abort => core.abort(now),
    }
}

fn finish<C: Decoder, S: Sink<C>>(
    shared: &Shared<C>,
    pending: &mut HashMap<SendId, Pending>,
    sink: &mut S,
    id: SendId,
    outcome: SendOutcome,
) {
    // Heartbeats are the core's own frames: they have no pending entry.
    if let Some(p) = pending.remove(&id) {
        shared.quota.release(p.len);
        shared.room.notify_waiters();
        if let Some(done) = p.done {
            let _ = done.send(outcome);
        }
        sink.sent(id, outcome);
    }
}

/// Reads until the socket would block or the budget is spent. `Ok(false)` on EOF.
fn read_some<C: Decoder>(
    stream: &Stream,
    core: &mut CoreSession<C>,
    now: std::time::Instant,
) -> io::Result<bool> {
    let mut total = 0;
    while total < READ_BUDGET && core.wants_read() {
        let buf = core.read_buf();
        match stream.try_read_buf(buf) {
            Ok(0) => {
                core.on_eof(now);
                return Ok(false);
            }
            Ok(n) => {
                total += n;
                core.on_read(n, now);
            }
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => break,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(e),
        }
    }
    Ok(true)
}

/// Writes queued frames in vectored writes until the queue is empty or the
/// socket would block.
fn write_some<C: Decoder>(
    stream: &Stream,
    core: &mut CoreSession<C>,
    now: std::time::Instant,
) -> io::Result<()> {
    while core.wants_write() {
        let mut slices = [IoSlice::new(&[]); MAX_IOVECS];
        let n = core.chunks_vectored(&mut slices);
        if n == 0 {
            break;
        }
        match stream.try_write_vectored(&slices[..n]) {
            Ok(0) => return Err(io::ErrorKind::WriteZero.into()),
            Ok(written) => core.on_written(written, now),
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => break,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(e),
        }
    }
    Ok(())
}
