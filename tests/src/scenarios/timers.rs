//! Timers and ticks, on real time with short intervals and generous bounds:
//! what is asserted is order and counts (and lower bounds that follow from
//! deadlines), never precise timing.
//!
//! Per-session timers (`Conn::run_after`, `run_every`, `cancel_timer`) fire
//! on the connection's owner with their token, once or repeatedly, stop when
//! cancelled, never fire after `on_close`, and serve as an application
//! timeout; the server's tick (`Handler::on_tick`) follows the interval each
//! tick returns and stops with the server.

use crate::rt::{sleep, timeout};
use crate::support::{within, Running};
use crate::TestRuntime;
use bytes::Bytes;
use castnet_core::frame::PacketN;
use castnet_core::session::CloseReason;
use castnet_engine::{Config, Conn, Handler, Session, TimerError, TimerId};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// How long a negative check waits for something that must not happen.
const QUIET: Duration = Duration::from_millis(300);

fn ms(n: u64) -> Duration {
    Duration::from_millis(n)
}

/// What a timer handler saw, in order.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Event {
    Timer(u64),
    /// The handler called `close`.
    CloseCalled,
    /// `on_close`; whether the reason is `CloseReason::Local`.
    Close {
        local: bool,
    },
}

type Log = Arc<Mutex<Vec<Event>>>;

fn closed(reason: &CloseReason) -> Event {
    Event::Close {
        local: matches!(reason, CloseReason::Local),
    }
}

fn log(log: &Log, event: Event) {
    log.lock().unwrap().push(event);
}

/// The next frame from the server, as text.
async fn next<T: TestRuntime>(client: &Session<PacketN>) -> String {
    let frame = within::<T, _>("a frame from the server", client.recv())
        .await
        .expect("the server closed the connection");
    String::from_utf8(frame.to_vec()).unwrap()
}

/// The next frame from the server that is not one of `skipped` (frames
/// already on their way, such as timer ticks queued before a cancel).
async fn next_besides<T: TestRuntime>(client: &Session<PacketN>, skipped: &[&str]) -> String {
    loop {
        let frame = next::<T>(client).await;
        if !skipped.contains(&frame.as_str()) {
            return frame;
        }
    }
}

/// Nothing more arrives from the server for [`QUIET`].
async fn quiet<T: TestRuntime>(client: &Session<PacketN>) {
    if let Some(Some(frame)) = timeout::<T, _>(QUIET, client.recv()).await {
        panic!("unexpected frame {frame:?}");
    }
}

/// Sets two one-shot timers on open (the later one first) in a session
/// allowed two, and a third once the first has fired; tells the client
/// about each one that fires.
struct OneShots(Log);

impl Handler<PacketN> for OneShots {
    fn on_open(&self, cx: &mut Conn<'_, PacketN>) {
        cx.run_after(ms(600), 2).unwrap();
        cx.run_after(ms(30), 1).unwrap();
        assert_eq!(cx.run_after(ms(1), 9), Err(TimerError::Full { max: 2 }));
    }

    fn on_frame(&self, _cx: &mut Conn<'_, PacketN>, _frame: Bytes) {}

    fn on_timer(&self, cx: &mut Conn<'_, PacketN>, token: u64) {
        log(&self.0, Event::Timer(token));
        if token == 1 {
            // The fired timer's place is free again.
            cx.run_after(ms(10), 3).unwrap();
        }
        let _ = cx.send(format!("timer {token}"));
    }
}

pub async fn run_after_fires_once_with_its_token_in_deadline_order_within_max_timers<
    T: TestRuntime,
>() {
    let events = Log::default();
    let config = Config::default().max_timers(2);
    let running = Running::<T>::start(config, OneShots(events.clone())).await;
    let client = running.dial().await;
    assert_eq!(next::<T>(&client).await, "timer 1");
    assert_eq!(next::<T>(&client).await, "timer 3");
    assert_eq!(next::<T>(&client).await, "timer 2");
    quiet::<T>(&client).await;
    assert_eq!(
        *events.lock().unwrap(),
        [Event::Timer(1), Event::Timer(3), Event::Timer(2)]
    );
    running.stop().await;
}

/// A repeating timer that tells the client about each tick, cancelled when
/// the client says "stop" (the reply says whether the cancel found it).
#[derive(Default)]
struct Repeating {
    id: Mutex<Option<TimerId>>,
}

impl Handler<PacketN> for Repeating {
    fn on_open(&self, cx: &mut Conn<'_, PacketN>) {
        assert_eq!(cx.run_every(ms(0), 9), Err(TimerError::ZeroInterval));
        *self.id.lock().unwrap() = Some(cx.run_every(ms(20), 5).unwrap());
    }

    fn on_frame(&self, cx: &mut Conn<'_, PacketN>, frame: Bytes) {
        assert_eq!(&frame[..], b"stop");
        let id = self.id.lock().unwrap().expect("set on open");
        let first = cx.cancel_timer(id);
        let again = cx.cancel_timer(id);
        let _ = cx.send(format!("cancelled {first} {again}"));
    }

    fn on_timer(&self, cx: &mut Conn<'_, PacketN>, token: u64) {
        let _ = cx.send(format!("tick {token}"));
    }
}

pub async fn run_every_fires_repeatedly_until_cancelled<T: TestRuntime>() {
    let running = Running::<T>::start(Config::default(), Repeating::default()).await;
    let client = running.dial().await;
    for _ in 0..4 {
        assert_eq!(next::<T>(&client).await, "tick 5");
    }
    client.send("stop").await.unwrap();
    // Ticks already queued before the cancel may come first; none after it.
    assert_eq!(
        next_besides::<T>(&client, &["tick 5"]).await,
        "cancelled true false"
    );
    quiet::<T>(&client).await;
    running.stop().await;
}

/// Two repeating timers and a one-shot; "cancel all" cancels every one of
/// them at once, after which none is live.
#[derive(Default)]
struct CancelAll {
    ids: Mutex<Vec<TimerId>>,
}

impl Handler<PacketN> for CancelAll {
    fn on_open(&self, cx: &mut Conn<'_, PacketN>) {
        let mut ids = self.ids.lock().unwrap();
        ids.push(cx.run_every(ms(20), 1).unwrap());
        ids.push(cx.run_every(ms(30), 2).unwrap());
        ids.push(cx.run_after(ms(150), 3).unwrap());
    }

    fn on_frame(&self, cx: &mut Conn<'_, PacketN>, frame: Bytes) {
        assert_eq!(&frame[..], b"cancel all");
        cx.cancel_timers();
        let live = (self.ids.lock().unwrap().iter())
            .filter(|&&id| cx.cancel_timer(id))
            .count();
        let _ = cx.send(format!("cancelled, {live} live"));
    }

    fn on_timer(&self, cx: &mut Conn<'_, PacketN>, token: u64) {
        let _ = cx.send(format!("timer {token}"));
    }
}

pub async fn cancel_timers_stops_every_timer_of_the_session<T: TestRuntime>() {
    let running = Running::<T>::start(Config::default(), CancelAll::default()).await;
    let client = running.dial().await;
    // Both repeating timers have fired (the one-shot most likely not yet:
    // on a slow machine it may, and then it is not live either).
    let (mut one, mut two) = (false, false);
    while !(one && two) {
        match next::<T>(&client).await.as_str() {
            "timer 1" => one = true,
            "timer 2" => two = true,
            "timer 3" => {}
            other => panic!("unexpected {other:?}"),
        }
    }
    client.send("cancel all").await.unwrap();
    let timers = ["timer 1", "timer 2", "timer 3"];
    assert_eq!(
        next_besides::<T>(&client, &timers).await,
        "cancelled, 0 live"
    );
    // Past the one-shot's deadline and many periods: nothing fires.
    quiet::<T>(&client).await;
    running.stop().await;
}

/// Timers that keep firing until the client says "close"; then the
/// handler closes the session, and a timer set after that is refused.
struct UntilClose {
    log: Log,
    refused: Mutex<Option<Result<TimerId, TimerError>>>,
}

impl Handler<PacketN> for UntilClose {
    fn on_open(&self, cx: &mut Conn<'_, PacketN>) {
        cx.run_every(ms(10), 1).unwrap();
        cx.run_every(ms(15), 2).unwrap();
    }

    fn on_frame(&self, cx: &mut Conn<'_, PacketN>, frame: Bytes) {
        assert_eq!(&frame[..], b"close");
        cx.close();
        *self.refused.lock().unwrap() = Some(cx.run_after(ms(0), 3));
    }

    fn on_timer(&self, cx: &mut Conn<'_, PacketN>, token: u64) {
        log(&self.log, Event::Timer(token));
        if token == 1 {
            let _ = cx.send("tick");
        }
    }

    fn on_close(&self, _session: &Session<PacketN>, _: (), reason: &CloseReason) {
        log(&self.log, closed(reason));
    }
}

pub async fn closing_a_session_cancels_its_timers_and_refuses_new_ones<T: TestRuntime>() {
    let events = Log::default();
    let handler = Arc::new(UntilClose {
        log: events.clone(),
        refused: Mutex::new(None),
    });
    let running = Running::<T>::start(Config::default(), SharedHandler(handler.clone())).await;
    let client = running.dial().await;
    for _ in 0..3 {
        assert_eq!(next::<T>(&client).await, "tick");
    }
    client.send("close").await.unwrap();
    // The server closes: the client sees the end after the ticks in flight.
    while within::<T, _>("the server's close", client.recv())
        .await
        .is_some()
    {}
    crate::support::wait_until::<T>("on_close", || {
        events
            .lock()
            .unwrap()
            .contains(&Event::Close { local: true })
    })
    .await;
    // Long enough for several more periods of both timers.
    sleep::<T>(QUIET).await;
    let events = events.lock().unwrap().clone();
    let closed_at = events.iter().position(|e| matches!(e, Event::Close { .. }));
    assert_eq!(
        closed_at,
        Some(events.len() - 1),
        "after on_close: {events:?}"
    );
    assert!(
        events.contains(&Event::Timer(2)),
        "both timers ran: {events:?}"
    );
    assert_eq!(
        *handler.refused.lock().unwrap(),
        Some(Err(TimerError::Closed))
    );
    running.stop().await;
}

/// Marks in the log where the handler asked to close: a repeating timer, and
/// on "close" 4 MiB of replies (more than a stalled peer's socket takes),
/// then the close.
struct CloseWhileBusy(Log);

impl Handler<PacketN> for CloseWhileBusy {
    fn on_open(&self, cx: &mut Conn<'_, PacketN>) {
        cx.run_every(ms(5), 1).unwrap();
    }

    fn on_frame(&self, cx: &mut Conn<'_, PacketN>, frame: Bytes) {
        assert_eq!(&frame[..], b"close");
        let chunk = Bytes::from(vec![7u8; 64 << 10]);
        for _ in 0..64 {
            let _ = cx.send(chunk.clone());
        }
        log(&self.0, Event::CloseCalled);
        cx.close();
    }

    fn on_timer(&self, _cx: &mut Conn<'_, PacketN>, token: u64) {
        log(&self.0, Event::Timer(token));
    }

    fn on_close(&self, _session: &Session<PacketN>, _: (), reason: &CloseReason) {
        log(&self.0, closed(reason));
    }
}

pub async fn no_timer_fires_while_a_closing_session_drains_its_queue<T: TestRuntime>() {
    let events = Log::default();
    let running = Running::<T>::start(Config::default(), CloseWhileBusy(events.clone())).await;
    let mut peer = crate::raw::stalled(running.addr());
    crate::support::wait_until::<T>("the timer", || {
        events.lock().unwrap().contains(&Event::Timer(1))
    })
    .await;
    crate::raw::write(&mut peer, &crate::raw::packet(b"close"));
    crate::support::wait_until::<T>("the close call", || {
        events.lock().unwrap().contains(&Event::CloseCalled)
    })
    .await;
    // The queue cannot drain into a peer that does not read: the session
    // stays closing (up to its 5 s linger) for many of the timer's periods.
    sleep::<T>(QUIET).await;
    {
        let events = events.lock().unwrap();
        let called = (events.iter())
            .position(|e| *e == Event::CloseCalled)
            .unwrap();
        assert_eq!(events.len(), called + 1, "after close: {events:?}");
    }
    crate::raw::reset(peer);
    crate::support::wait_until::<T>("on_close", || {
        matches!(events.lock().unwrap().last(), Some(Event::Close { .. }))
    })
    .await;
    running.stop().await;
}

/// A [`Handler`] shared with the test through an `Arc`.
struct SharedHandler<H>(Arc<H>);

impl<H: Handler<PacketN>> Handler<PacketN> for SharedHandler<H> {
    fn on_open(&self, cx: &mut Conn<'_, PacketN>) {
        self.0.on_open(cx)
    }

    fn on_frame(&self, cx: &mut Conn<'_, PacketN>, frame: Bytes) {
        self.0.on_frame(cx, frame)
    }

    fn on_timer(&self, cx: &mut Conn<'_, PacketN>, token: u64) {
        self.0.on_timer(cx, token)
    }

    fn on_close(&self, session: &Session<PacketN>, state: (), reason: &CloseReason) {
        self.0.on_close(session, state, reason)
    }
}

/// The application's own idle timeout: each frame re-arms a one-shot
/// timer; when it fires, the handler closes the session.
struct AppTimeout {
    after: Duration,
    armed: Mutex<Option<TimerId>>,
    log: Log,
}

const IDLE: u64 = 7;

impl Handler<PacketN> for AppTimeout {
    fn on_open(&self, cx: &mut Conn<'_, PacketN>) {
        *self.armed.lock().unwrap() = Some(cx.run_after(self.after, IDLE).unwrap());
    }

    fn on_frame(&self, cx: &mut Conn<'_, PacketN>, frame: Bytes) {
        let mut armed = self.armed.lock().unwrap();
        assert!(cx.cancel_timer(armed.take().unwrap()), "still armed");
        *armed = Some(cx.run_after(self.after, IDLE).unwrap());
        let _ = cx.send(frame);
    }

    fn on_timer(&self, cx: &mut Conn<'_, PacketN>, token: u64) {
        log(&self.log, Event::Timer(token));
        let _ = cx.send("idle");
        cx.close();
    }

    fn on_close(&self, _session: &Session<PacketN>, _: (), reason: &CloseReason) {
        log(&self.log, closed(reason));
    }
}

pub async fn a_timer_implements_an_application_timeout_that_closes_an_idle_session<
    T: TestRuntime,
>() {
    let after = ms(800);
    let events = Log::default();
    let handler = AppTimeout {
        after,
        armed: Mutex::new(None),
        log: events.clone(),
    };
    let running = Running::<T>::start(Config::default(), handler).await;
    let client = running.dial().await;
    // Busy for longer than the timeout: every frame puts it off.
    let started = Instant::now();
    let mut sent = 0;
    while started.elapsed() < after + ms(400) {
        client.send("ping").await.unwrap();
        assert_eq!(next::<T>(&client).await, "ping");
        sent += 1;
        sleep::<T>(ms(50)).await;
    }
    assert!(sent >= 2);
    assert!(events.lock().unwrap().is_empty(), "closed while busy");
    // Silent: closed by the handler's timer, not before the timeout.
    let silent = Instant::now();
    assert_eq!(next::<T>(&client).await, "idle");
    assert_eq!(
        within::<T, _>("the close", client.recv()).await,
        None,
        "the session closed after its last word"
    );
    assert!(
        silent.elapsed() >= after - ms(100),
        "{:?}",
        silent.elapsed()
    );
    crate::support::wait_until::<T>("on_close", || events.lock().unwrap().len() == 2).await;
    assert_eq!(
        *events.lock().unwrap(),
        [Event::Timer(IDLE), Event::Close { local: true }]
    );
    running.stop().await;
}

/// Ticks every 20 ms three times, then every 300 ms, and records when each
/// tick ran.
struct Ticks {
    at: Arc<Mutex<Vec<Instant>>>,
}

const FIRST: Duration = Duration::from_millis(20);
const SLOW: Duration = Duration::from_millis(300);

impl Handler<PacketN> for Ticks {
    fn on_frame(&self, _cx: &mut Conn<'_, PacketN>, _frame: Bytes) {}

    fn tick_interval(&self) -> Option<Duration> {
        Some(FIRST)
    }

    fn on_tick(&self, now: Instant) -> Option<Duration> {
        let mut at = self.at.lock().unwrap();
        at.push(now);
        Some(if at.len() < 4 { FIRST } else { SLOW })
    }
}

pub async fn the_server_tick_follows_the_interval_it_returns_and_stops_with_the_server<
    T: TestRuntime,
>() {
    let at = Arc::<Mutex<Vec<Instant>>>::default();
    let started = Instant::now();
    let running = Running::<T>::start(Config::default(), Ticks { at: at.clone() }).await;
    crate::support::wait_until::<T>("six ticks", || at.lock().unwrap().len() >= 6).await;
    // Deadlines: 20, 40, 60, 80 ms, then 300 ms apart: the sixth is due
    // 680 ms after serve started at the earliest (later only if skipped
    // ticks pushed it), where an unchanged interval would have made it
    // 120 ms.
    let sixth = at.lock().unwrap()[5];
    assert!(
        sixth.duration_since(started) >= FIRST * 4 + SLOW * 2,
        "sixth tick after {:?}",
        sixth.duration_since(started)
    );
    let ticks = at.lock().unwrap().clone();
    assert!(ticks.windows(2).all(|w| w[0] <= w[1]));
    running.stop().await;
    let after_stop = at.lock().unwrap().len();
    sleep::<T>(SLOW + QUIET).await;
    assert_eq!(at.lock().unwrap().len(), after_stop, "ticked after stop");
}
