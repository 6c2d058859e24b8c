//! The loops: a few threads, each with its own `mio` poller (epoll,
//! kqueue), its queue of runnable tasks and its timers. A task (a
//! connection's owner, an accept loop) stays on the loop it was spawned on;
//! its sockets register with that loop's poller the first time it waits on
//! them, edge-triggered, once.

use castnet_engine::Handoff;
use std::collections::{BTreeMap, VecDeque};
use std::future::Future;
use std::io;
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, OnceLock};
use std::task::{Context, Poll, Wake, Waker};
use std::time::{Duration, Instant};

use mio::unix::SourceFd;
use mio::{Events, Interest, Poll as Poller, Registry, Token};
use std::os::fd::AsRawFd;

/// The token of a loop's own waker (other threads' wake-ups).
const WAKE: Token = Token(usize::MAX);
/// Tasks polled before the loop looks at its sockets again.
const TASK_BUDGET: usize = 256;

type BoxFuture = Pin<Box<dyn Future<Output = ()> + Send>>;

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

/// Every loop of the process, started on first use.
pub(crate) struct Loops {
    loops: Vec<Arc<Loop>>,
    next: AtomicUsize,
}

static LOOPS: OnceLock<Loops> = OnceLock::new();

thread_local! {
    /// The loop this thread runs, if it is a loop thread.
    static CURRENT: std::cell::RefCell<Option<Arc<Loop>>> = const { std::cell::RefCell::new(None) };
}

impl Loops {
    /// The process's loops: `CASTNET_STD_THREADS` of them (default: one per
    /// available core), started the first time anything needs one.
    pub(crate) fn get() -> &'static Loops {
        LOOPS.get_or_init(|| {
            let threads = std::env::var("CASTNET_STD_THREADS")
                .ok()
                .and_then(|v| v.parse::<usize>().ok())
                .filter(|&n| n > 0)
                .unwrap_or_else(|| std::thread::available_parallelism().map_or(1, |n| n.get()));
            let loops = (0..threads)
                .map(|i| Loop::start(i).expect("castnet-std: cannot start a loop thread"))
                .collect();
            Loops {
                loops,
                next: AtomicUsize::new(0),
            }
        })
    }

    /// Spawns `future` on the next loop, round robin.
    pub(crate) fn spawn(&self, future: BoxFuture) {
        let i = self.next.fetch_add(1, Ordering::Relaxed) % self.loops.len();
        let task = Arc::new(Task {
            future: Mutex::new(Some(future)),
            queued: AtomicBool::new(false),
            home: self.loops[i].clone(),
        });
        task.schedule();
    }

    /// The loop of the calling thread, or the first loop for threads that
    /// run none (a blocking caller's wake-ups come from there).
    pub(crate) fn local(&self) -> Arc<Loop> {
        CURRENT
            .with_borrow(|current| current.clone())
            .unwrap_or_else(|| self.loops[0].clone())
    }
}

/// One loop: its poller's registry, what is runnable, and its timers.
pub(crate) struct Loop {
    registry: Registry,
    waker: mio::Waker,
    /// What is runnable, and whether a push must wake the poller.
    runnable: Handoff<Arc<Task>>,
    /// Tasks that yielded, woken after the next look at the sockets.
    deferred: Mutex<Vec<Waker>>,
    /// Sources by token.
    sources: Mutex<slab::Slab<Arc<Source>>>,
    timers: Mutex<BTreeMap<(Instant, u64), Waker>>,
    next_timer: AtomicU64,
}

impl Loop {
    fn start(index: usize) -> io::Result<Arc<Loop>> {
        let poller = Poller::new()?;
        let registry = poller.registry().try_clone()?;
        let waker = mio::Waker::new(poller.registry(), WAKE)?;
        let this = Arc::new(Loop {
            registry,
            waker,
            runnable: Handoff::new(),
            deferred: Mutex::new(Vec::new()),
            sources: Mutex::new(slab::Slab::new()),
            timers: Mutex::new(BTreeMap::new()),
            next_timer: AtomicU64::new(0),
        });
        let run = this.clone();
        std::thread::Builder::new()
            .name(format!("castnet-std-{index}"))
            .spawn(move || run.run(poller))?;
        Ok(this)
    }

    /// The loop: run what is runnable (a budget's worth), then wait for
    /// sockets and timers (without sleeping if tasks are still runnable).
    fn run(self: Arc<Self>, mut poller: Poller) {
        CURRENT.with_borrow_mut(|current| *current = Some(self.clone()));
        castnet_engine::blocking::forbid_on_this_thread(
            "castnet-std: a blocking call on a loop thread would stall its connections; \
             reply through the handler's `Conn` instead",
        );
        let mut events = Events::with_capacity(1024);
        let mut batch = VecDeque::new();
        let mut yielded = Vec::new();
        loop {
            // Tasks woken while this batch runs wait for the next one.
            std::mem::swap(&mut batch, &mut *self.runnable.queue());
            let mut polled = 0;
            while let Some(task) = batch.pop_front() {
                task.run();
                polled += 1;
                if polled == TASK_BUDGET {
                    break;
                }
            }
            if !batch.is_empty() {
                let mut runnable = self.runnable.queue();
                while let Some(task) = batch.pop_back() {
                    runnable.push_front(task);
                }
            }

            let timeout = if lock(&self.deferred).is_empty() && self.runnable.may_sleep() {
                self.next_timer_in()
            } else {
                Some(Duration::ZERO)
            };
            let polled = poller.poll(&mut events, timeout);
            self.runnable.awake();
            if let Err(e) = polled {
                if e.kind() != io::ErrorKind::Interrupted {
                    tracing::error!(error = %e, "castnet-std: poll failed");
                }
                continue;
            }
            {
                let sources = lock(&self.sources);
                for event in events.iter() {
                    // The waker's token (`WAKE`) is no source's.
                    if let Some(source) = sources.get(event.token().0) {
                        source.ready(event);
                    }
                }
            }
            self.fire_timers(Instant::now());
            std::mem::swap(&mut yielded, &mut *lock(&self.deferred));
            yielded.drain(..).for_each(Waker::wake);
        }
    }

    fn next_timer_in(&self) -> Option<Duration> {
        let timers = lock(&self.timers);
        let (&(at, _), _) = timers.first_key_value()?;
        // Round up: a poller timeout is in milliseconds on some systems,
        // and waking early only to sleep again costs a turn.
        Some(at.saturating_duration_since(Instant::now()) + Duration::from_micros(500))
    }

    fn fire_timers(&self, now: Instant) {
        let due = {
            let mut timers = lock(&self.timers);
            let later = timers.split_off(&(now, u64::MAX));
            std::mem::replace(&mut *timers, later)
        };
        for waker in due.into_values() {
            waker.wake();
        }
    }

    fn push(&self, task: Arc<Task>) {
        if self.runnable.push(task) {
            let _ = self.waker.wake();
        }
    }

    /// Registers a timer entry: `waker` is woken once `at` has passed.
    pub(crate) fn add_timer(&self, at: Instant, waker: Waker) -> (Instant, u64) {
        let key = (at, self.next_timer.fetch_add(1, Ordering::Relaxed));
        lock(&self.timers).insert(key, waker);
        if self.runnable.is_sleeping() {
            // It may sleep past this deadline otherwise.
            let _ = self.waker.wake();
        }
        key
    }

    pub(crate) fn remove_timer(&self, key: (Instant, u64)) {
        lock(&self.timers).remove(&key);
    }
}

/// Lets the task run again after its loop has looked at its sockets and
/// queued the tasks they woke, as Tokio's `yield_now`.
pub(crate) async fn yield_to_io() {
    let mut yielded = false;
    std::future::poll_fn(|cx| {
        if std::mem::replace(&mut yielded, true) {
            return Poll::Ready(());
        }
        match CURRENT.with_borrow(Option::clone) {
            Some(home) => lock(&home.deferred).push(cx.waker().clone()),
            None => cx.waker().wake_by_ref(),
        }
        Poll::Pending
    })
    .await
}

/// A spawned future, and whether it is already queued to run.
struct Task {
    future: Mutex<Option<BoxFuture>>,
    queued: AtomicBool,
    home: Arc<Loop>,
}

impl Task {
    fn schedule(self: &Arc<Self>) {
        if !self.queued.swap(true, Ordering::AcqRel) {
            self.home.push(self.clone());
        }
    }

    fn run(self: Arc<Self>) {
        // Cleared first: a wake-up during the poll queues it again.
        self.queued.store(false, Ordering::Release);
        let waker = Waker::from(self.clone());
        let mut slot = lock(&self.future);
        if let Some(future) = slot.as_mut() {
            let mut cx = Context::from_waker(&waker);
            let done = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
                future.as_mut().poll(&mut cx).is_ready()
            }));
            match done {
                Ok(false) => {}
                Ok(true) => *slot = None,
                Err(_) => {
                    tracing::error!("castnet-std: a task panicked; it is dropped");
                    *slot = None;
                }
            }
        }
    }
}

impl Wake for Task {
    fn wake(self: Arc<Self>) {
        self.schedule();
    }

    fn wake_by_ref(self: &Arc<Self>) {
        self.schedule();
    }
}

/// One direction's readiness. `generation` counts the poller's events, so
/// that a `WouldBlock` clears only the readiness it saw, never one that
/// arrived since.
#[derive(Default)]
struct Direction {
    ready: bool,
    /// Closed in this direction (end of stream, error): ready for good.
    closed: bool,
    generation: u64,
    waker: Option<Waker>,
}

impl Direction {
    /// An event that says `ready`, or `closed` (ready for good).
    fn set(&mut self, ready: bool, closed: bool) -> Option<Waker> {
        if !(ready || closed) {
            return None;
        }
        self.closed |= closed;
        self.ready = true;
        self.generation += 1;
        self.waker.take()
    }
}

/// What the poller said about one socket.
#[derive(Default)]
pub(crate) struct Source {
    read: Mutex<Direction>,
    write: Mutex<Direction>,
}

impl Source {
    fn ready(&self, event: &mio::event::Event) {
        let error = event.is_error();
        let readable = event.is_readable() || event.is_priority();
        let read = lock(&self.read).set(readable, error || event.is_read_closed());
        let writable = event.is_writable() || event.is_write_closed();
        let write = lock(&self.write).set(writable, error);
        read.into_iter().chain(write).for_each(Waker::wake);
    }
}

/// A non-blocking std socket on castnet-std's loops (the [`Std`](crate::Std)
/// runtime's stream and listener types). It registers with the poller of
/// the loop whose thread first waits on it, once, edge-triggered.
pub struct Io<T: AsRawFd> {
    io: T,
    registered: OnceLock<(Arc<Loop>, usize)>,
    source: Arc<Source>,
}

/// Which way a wait is for.
#[derive(Clone, Copy)]
pub(crate) enum Dir {
    Read,
    Write,
}

impl<T: AsRawFd> Io<T> {
    pub(crate) fn new(io: T) -> Self {
        let source = Source::default();
        // Until the poller says otherwise, assume the socket is ready: the
        // first attempt finds out.
        lock(&source.read).ready = true;
        lock(&source.write).ready = true;
        Io {
            io,
            registered: OnceLock::new(),
            source: Arc::new(source),
        }
    }

    /// The socket.
    pub fn get_ref(&self) -> &T {
        &self.io
    }

    /// Forgets that `dir` was ready: the next wait is for a new event.
    pub(crate) fn unready(&self, dir: Dir) {
        lock(self.direction(dir)).ready = false;
    }

    fn direction(&self, dir: Dir) -> &Mutex<Direction> {
        match dir {
            Dir::Read => &self.source.read,
            Dir::Write => &self.source.write,
        }
    }

    fn register(&self) -> io::Result<()> {
        if self.registered.get().is_some() {
            return Ok(());
        }
        let home = Loops::get().local();
        let token = lock(&home.sources).insert(self.source.clone());
        let result = home.registry.register(
            &mut SourceFd(&self.io.as_raw_fd()),
            Token(token),
            Interest::READABLE | Interest::WRITABLE,
        );
        if let Err(e) = result {
            lock(&home.sources).try_remove(token);
            return Err(e);
        }
        let _ = self.registered.set((home, token));
        Ok(())
    }

    /// Ready while the poller's last word is "ready" in `dir`; otherwise
    /// registers `cx` for the next event.
    pub(crate) fn poll_ready(&self, dir: Dir, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        self.register()?;
        let mut d = lock(self.direction(dir));
        if d.ready {
            Poll::Ready(Ok(()))
        } else {
            d.waker = Some(cx.waker().clone());
            Poll::Pending
        }
    }

    /// Runs `op` (a non-blocking attempt). On `WouldBlock`, or a result that
    /// `drained` says emptied the socket (a short read: Tokio saves the
    /// call that would say `WouldBlock` the same way), it clears the
    /// readiness seen before the attempt, unless an event came in between.
    /// A `WouldBlock` then registers `cx`, or tries again.
    pub(crate) fn attempt<R>(
        &self,
        dir: Dir,
        cx: Option<&mut Context<'_>>,
        mut op: impl FnMut(&T) -> io::Result<R>,
        drained: impl Fn(&R) -> bool,
    ) -> Poll<io::Result<R>> {
        if let Err(e) = self.register() {
            return Poll::Ready(Err(e));
        }
        let waker = cx.map(|cx| cx.waker().clone());
        loop {
            let seen = lock(self.direction(dir)).generation;
            match op(&self.io) {
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => {
                    let mut d = lock(self.direction(dir));
                    if d.generation == seen {
                        d.ready = false;
                        if let Some(w) = &waker {
                            d.waker = Some(w.clone());
                        }
                        return match waker {
                            Some(_) => Poll::Pending,
                            None => Poll::Ready(Err(e)),
                        };
                    }
                }
                Ok(r) if drained(&r) => {
                    let mut d = lock(self.direction(dir));
                    d.ready &= d.closed || d.generation != seen;
                    return Poll::Ready(Ok(r));
                }
                done => return Poll::Ready(done),
            }
        }
    }
}

impl<T: AsRawFd> Drop for Io<T> {
    fn drop(&mut self) {
        if let Some((home, token)) = self.registered.get() {
            let _ = home
                .registry
                .deregister(&mut SourceFd(&self.io.as_raw_fd()));
            lock(&home.sources).try_remove(*token);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_dropped_socket_leaves_its_loop() {
        let (socket, _peer) = std::os::unix::net::UnixStream::pair().unwrap();
        socket.set_nonblocking(true).unwrap();
        let io = Io::new(socket);
        io.register().unwrap();
        let (home, token) = io.registered.get().cloned().unwrap();
        assert!(lock(&home.sources).contains(token));
        drop(io);
        assert!(!lock(&home.sources).contains(token));
    }
}
