//! Application timers, sans IO: a bounded table of one-shot and repeating
//! timers ([`Timers`]) and a one-slot tick schedule whose interval the
//! ticking code chooses each time ([`Ticker`]).
//!
//! Neither reads a clock: every call takes the `now` its caller read, and
//! the caller asks [`Timers::next_deadline`] / [`Ticker::next_deadline`]
//! when to come back. castnet-engine keeps one [`Timers`] per connection
//! (`Conn::run_after`, `Conn::run_every`) and one [`Ticker`] per served
//! server (`Handler::on_tick`); a custom event loop can do the same.
//!
//! # Repeating timers: no drift, no bursts
//!
//! A repeating timer of interval `i` first fires at `start + i`, and its
//! deadlines stay on that grid, `start + k·i`, however late it is served:
//! the next deadline is computed from the previous *deadline*, never from
//! the `now` it was served at, so lateness does not accumulate (no drift).
//! When the timer is served a whole interval late or more (the loop was
//! stalled), the periods missed meanwhile are skipped, not replayed: it
//! fires once, reports how many periods it skipped
//! ([`Expired::missed`]), and its next deadline is the first grid point
//! after `now` (no burst). [`Ticker`] follows the same rule with the
//! interval each tick returns.

use std::collections::{BTreeMap, HashMap};
use std::time::{Duration, Instant};

/// A timer of a [`Timers`] table. Ids are never reused within a table.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct TimerId(u64);

impl TimerId {
    /// The id as a number (unique within its table).
    pub const fn get(self) -> u64 {
        self.0
    }
}

/// Why a timer could not be scheduled.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum TimerError {
    /// The table already holds its maximum of live timers.
    #[error("timer table full ({max} live timers)")]
    Full {
        /// The table's bound.
        max: usize,
    },
    /// A repeating timer needs an interval above zero.
    #[error("a repeating timer needs a non-zero interval")]
    ZeroInterval,
    /// The deadline is beyond what `Instant` can represent.
    #[error("timer deadline out of range")]
    OutOfRange,
    /// The table was [closed](Timers::close): its owner is going away
    /// (castnet-engine: the session is closing).
    #[error("timers closed")]
    Closed,
}

/// A timer that came due, from [`Timers::pop_expired`] or
/// [`Timers::expire`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Expired<T> {
    /// Which timer. A repeating one stays scheduled under this id.
    pub id: TimerId,
    /// The token it was scheduled with.
    pub token: T,
    /// The deadline it fired for (at or before the `now` it was served at).
    pub deadline: Instant,
    /// Repeating timers: how many periods after `deadline` had also passed
    /// and were skipped (see the [module docs](self)). Always 0 for a
    /// one-shot timer.
    pub missed: u64,
}

/// A point in a table's arming order, from [`Timers::mark`]: timers armed
/// (or re-armed, for repeating ones) after it are not served by a
/// [`Timers::pop_expired`] given it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub struct Mark(u64);

struct Entry<T> {
    token: T,
    every: Option<Duration>,
    /// Its key in the queue: deadline and arming sequence number.
    key: (Instant, u64),
}

/// A bounded table of timers, each carrying a token of type `T`.
///
/// Timers come due in deadline order, ties in the order they were armed (a
/// repeating timer is re-armed when it fires). The table holds at most
/// `max` live timers (one-shot timers that have not fired, repeating timers
/// not cancelled); scheduling beyond that fails with [`TimerError::Full`].
///
/// ```
/// use castnet_core::timer::Timers;
/// use std::time::{Duration, Instant};
///
/// let ms = Duration::from_millis;
/// let start = Instant::now(); // any instant: the table never reads a clock
/// let mut timers = Timers::new(16);
/// let once = timers.after(start, ms(30), "once").unwrap();
/// let tick = timers.every(start, ms(20), "tick").unwrap();
/// assert_eq!(timers.next_deadline(), Some(start + ms(20)));
///
/// let due: Vec<_> = timers.expire(start + ms(35)).map(|e| e.token).collect();
/// assert_eq!(due, ["tick", "once"]); // deadlines 20 ms and 30 ms
///
/// // Served 70 ms late: "tick" fires once for 40 ms, skips 60, 80 and
/// // 100 ms, and stays on its grid.
/// let late: Vec<_> = timers.expire(start + ms(110)).collect();
/// assert_eq!((late.len(), late[0].deadline, late[0].missed), (1, start + ms(40), 3));
/// assert_eq!(timers.next_deadline(), Some(start + ms(120)));
///
/// assert_eq!(timers.cancel(tick), Some("tick"));
/// assert_eq!(timers.cancel(once), None); // fired already
/// assert!(timers.is_empty());
/// ```
pub struct Timers<T> {
    queue: BTreeMap<(Instant, u64), TimerId>,
    live: HashMap<TimerId, Entry<T>>,
    max: usize,
    next_id: u64,
    next_seq: u64,
    closed: bool,
}

impl<T> std::fmt::Debug for Timers<T> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Timers")
            .field("live", &self.live.len())
            .field("max", &self.max)
            .field("next_deadline", &self.next_deadline())
            .finish()
    }
}

impl<T> Timers<T> {
    /// An empty table holding at most `max` live timers.
    pub fn new(max: usize) -> Self {
        Timers {
            queue: BTreeMap::new(),
            live: HashMap::new(),
            max,
            next_id: 0,
            next_seq: 0,
            closed: false,
        }
    }

    /// The most live timers the table holds.
    pub fn max(&self) -> usize {
        self.max
    }

    /// How many timers are live.
    pub fn len(&self) -> usize {
        self.live.len()
    }

    /// True when no timer is live.
    pub fn is_empty(&self) -> bool {
        self.live.is_empty()
    }

    /// Whether `id` is live (a one-shot timer that has not fired, or a
    /// repeating timer not cancelled).
    pub fn contains(&self, id: TimerId) -> bool {
        self.live.contains_key(&id)
    }

    /// A one-shot timer: `token` comes due at `now + delay` (a zero delay
    /// is due at `now`).
    pub fn after(
        &mut self,
        now: Instant,
        delay: Duration,
        token: T,
    ) -> Result<TimerId, TimerError> {
        self.insert(now, delay, None, token)
    }

    /// A repeating timer: `token` comes due at `now + interval`, then every
    /// `interval` after that (see the [module docs](self) for late service).
    pub fn every(
        &mut self,
        now: Instant,
        interval: Duration,
        token: T,
    ) -> Result<TimerId, TimerError> {
        if interval.is_zero() {
            return Err(TimerError::ZeroInterval);
        }
        self.insert(now, interval, Some(interval), token)
    }

    fn insert(
        &mut self,
        now: Instant,
        delay: Duration,
        every: Option<Duration>,
        token: T,
    ) -> Result<TimerId, TimerError> {
        if self.closed {
            return Err(TimerError::Closed);
        }
        if self.live.len() >= self.max {
            return Err(TimerError::Full { max: self.max });
        }
        let at = now.checked_add(delay).ok_or(TimerError::OutOfRange)?;
        let id = TimerId(self.next_id);
        self.next_id += 1;
        let key = self.arm(at, id);
        self.live.insert(id, Entry { token, every, key });
        Ok(id)
    }

    /// Queues `id` at `at`, after everything armed before for the same
    /// instant.
    fn arm(&mut self, at: Instant, id: TimerId) -> (Instant, u64) {
        let key = (at, self.next_seq);
        self.next_seq += 1;
        self.queue.insert(key, id);
        key
    }

    /// Cancels a live timer and returns its token; `None` when `id` is not
    /// live (fired one-shot, cancelled, cleared, or of another table).
    pub fn cancel(&mut self, id: TimerId) -> Option<T> {
        let entry = self.live.remove(&id)?;
        self.queue.remove(&entry.key);
        Some(entry.token)
    }

    /// Cancels every timer.
    pub fn clear(&mut self) {
        self.queue.clear();
        self.live.clear();
    }

    /// Cancels every timer and refuses new ones from now on with
    /// [`TimerError::Closed`], for good.
    pub fn close(&mut self) {
        self.clear();
        self.closed = true;
    }

    /// Whether [`close`](Self::close) was called.
    pub fn is_closed(&self) -> bool {
        self.closed
    }

    /// The earliest deadline of a live timer: when to call
    /// [`expire`](Self::expire) next.
    pub fn next_deadline(&self) -> Option<Instant> {
        self.queue.keys().next().map(|&(at, _)| at)
    }

    /// The current point in the arming order: a
    /// [`pop_expired`](Self::pop_expired) given it serves only the timers armed before, so
    /// a loop that runs callbacks between pops ends even when they arm
    /// timers due at once (those wait for the next pass).
    pub fn mark(&self) -> Mark {
        Mark(self.next_seq)
    }

    /// Takes the first timer due at `now` (deadline order, ties in arming
    /// order) among those armed before `before`. A one-shot timer leaves the
    /// table; a repeating one is re-armed for its next deadline (after
    /// `now`, so at most once per `now`).
    pub fn pop_expired(&mut self, now: Instant, before: Mark) -> Option<Expired<T>>
    where
        T: Clone,
    {
        let (&key, &id) = self
            .queue
            .range(..=(now, u64::MAX))
            .find(|((_, seq), _)| *seq < before.0)?;
        self.queue.remove(&key);
        let deadline = key.0;
        let every = self.live.get(&id).and_then(|entry| entry.every);
        let Some(interval) = every else {
            let entry = self.live.remove(&id).expect("queued timers are live");
            return Some(Expired {
                id,
                token: entry.token,
                deadline,
                missed: 0,
            });
        };
        let token = self.live[&id].token.clone();
        let missed = match next_deadline(deadline, interval, now) {
            Some((next, missed)) => {
                let key = self.arm(next, id);
                self.live.get_mut(&id).expect("still live").key = key;
                missed
            }
            // The next deadline is past what `Instant` represents: it
            // never comes.
            None => {
                self.live.remove(&id);
                0
            }
        };
        Some(Expired {
            id,
            token,
            deadline,
            missed,
        })
    }

    /// Every timer due at `now`, in deadline order (ties in arming order),
    /// among those armed before this call; each live timer at most once.
    pub fn expire(&mut self, now: Instant) -> Expire<'_, T>
    where
        T: Clone,
    {
        let before = self.mark();
        Expire {
            timers: self,
            now,
            before,
        }
    }
}

/// The iterator of [`Timers::expire`]. Timers not taken stay due.
pub struct Expire<'a, T> {
    timers: &'a mut Timers<T>,
    now: Instant,
    before: Mark,
}

impl<T: Clone> Iterator for Expire<'_, T> {
    type Item = Expired<T>;

    fn next(&mut self) -> Option<Expired<T>> {
        self.timers.pop_expired(self.now, self.before)
    }
}

/// The next deadline of a schedule of `interval` whose deadline `previous`
/// was served at `now`: `previous + interval` if that is after `now`,
/// otherwise the first `previous + k·interval` after `now`, with the `k - 1`
/// periods skipped. A zero interval is due again at `now`. `None` when the
/// deadline cannot be represented.
fn next_deadline(previous: Instant, interval: Duration, now: Instant) -> Option<(Instant, u64)> {
    if interval.is_zero() {
        return Some((now.max(previous), 0));
    }
    let late = now.saturating_duration_since(previous).as_nanos();
    // Periods to add: the smallest k with previous + k·interval > now.
    let periods = late / interval.as_nanos() + 1;
    let offset = interval.as_nanos().checked_mul(periods)?;
    let offset = Duration::new(
        u64::try_from(offset / 1_000_000_000).ok()?,
        (offset % 1_000_000_000) as u32,
    );
    let missed = u64::try_from(periods - 1).unwrap_or(u64::MAX);
    Some((previous.checked_add(offset)?, missed))
}

/// A tick schedule with one slot: started with an interval, it comes due
/// every interval, and each tick says how long until the next one (or that
/// the ticking stops). The next deadline counts from the previous deadline,
/// with the same no-drift, no-burst rule as repeating [`Timers`] (see the
/// [module docs](self)); a zero interval ticks again at the next call.
///
/// ```
/// use castnet_core::timer::Ticker;
/// use std::time::{Duration, Instant};
///
/// let ms = Duration::from_millis;
/// let start = Instant::now();
/// let mut ticker = Ticker::new();
/// ticker.start(start, Some(ms(10)));
/// assert!(!ticker.tick(start + ms(5), |_| unreachable!()));
/// // Due at 10 ms, served at 12: the next interval is 30 ms, from 10 ms.
/// assert!(ticker.tick(start + ms(12), |_| Some(ms(30))));
/// assert_eq!(ticker.next_deadline(), Some(start + ms(40)));
/// // Returning None stops it.
/// assert!(ticker.tick(start + ms(40), |_| None));
/// assert_eq!(ticker.next_deadline(), None);
/// ```
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Ticker {
    next: Option<Instant>,
}

impl Ticker {
    /// A stopped ticker.
    pub const fn new() -> Self {
        Ticker { next: None }
    }

    /// Starts (or restarts) ticking: first due at `now + interval`; `None`
    /// stops it.
    pub fn start(&mut self, now: Instant, interval: Option<Duration>) {
        self.next = interval.and_then(|i| now.checked_add(i));
    }

    /// Stops ticking.
    pub fn stop(&mut self) {
        self.next = None;
    }

    /// When the next tick is due; `None` when stopped.
    pub fn next_deadline(&self) -> Option<Instant> {
        self.next
    }

    /// If a tick is due at `now`, calls `on_tick(now)` and schedules the
    /// next one after the interval it returns, counted from the deadline
    /// just served (missed periods skipped); `None` stops the ticker.
    /// Returns whether it ticked.
    pub fn tick(
        &mut self,
        now: Instant,
        on_tick: impl FnOnce(Instant) -> Option<Duration>,
    ) -> bool {
        let Some(due) = self.next.filter(|&at| at <= now) else {
            return false;
        };
        self.next = on_tick(now).and_then(|i| next_deadline(due, i, now).map(|(at, _)| at));
        true
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ms(n: u64) -> Duration {
        Duration::from_millis(n)
    }

    #[allow(clippy::disallowed_methods)] // an arbitrary origin: only durations are added to it
    fn origin() -> Instant {
        Instant::now()
    }

    #[test]
    fn a_full_table_refuses_with_its_bound_until_a_timer_goes() {
        let t0 = origin();
        let mut timers = Timers::new(2);
        let a = timers.after(t0, ms(1), 1).unwrap();
        timers.every(t0, ms(1), 2).unwrap();
        assert_eq!(timers.after(t0, ms(1), 3), Err(TimerError::Full { max: 2 }));
        assert_eq!(timers.cancel(a), Some(1));
        assert!(timers.after(t0, ms(1), 3).is_ok());
    }

    #[test]
    fn ids_are_distinct_numbers_and_the_table_reports_its_bound() {
        let t0 = origin();
        let mut timers = Timers::new(3);
        assert_eq!(timers.max(), 3);
        let a = timers.after(t0, ms(1), ()).unwrap();
        let b = timers.after(t0, ms(1), ()).unwrap();
        assert_ne!(a.get(), b.get());
        assert_eq!(a.get() < b.get(), a < b);
        let shown = format!("{timers:?}");
        assert!(
            shown.contains("live: 2") && shown.contains("max: 3"),
            "{shown}"
        );
    }

    #[test]
    fn a_table_is_open_until_closed_and_a_stopped_ticker_has_no_deadline() {
        let t0 = origin();
        let mut timers: Timers<()> = Timers::new(1);
        assert!(!timers.is_closed());
        timers.close();
        assert!(timers.is_closed());
        let mut ticker = Ticker::default();
        ticker.start(t0, Some(ms(5)));
        assert_eq!(ticker.next_deadline(), Some(t0 + ms(5)));
        ticker.stop();
        assert_eq!(ticker.next_deadline(), None);
    }

    #[test]
    fn zero_intervals_and_unreachable_deadlines_are_refused() {
        let t0 = origin();
        let mut timers = Timers::new(4);
        assert_eq!(timers.every(t0, ms(0), ()), Err(TimerError::ZeroInterval));
        assert_eq!(
            timers.after(t0, Duration::MAX, ()),
            Err(TimerError::OutOfRange)
        );
        assert!(timers.is_empty());
    }

    #[test]
    fn a_closed_table_holds_nothing_and_refuses_for_good() {
        let t0 = origin();
        let mut timers = Timers::new(4);
        let id = timers.every(t0, ms(5), ()).unwrap();
        timers.close();
        assert!(timers.is_closed() && timers.is_empty());
        assert_eq!(timers.next_deadline(), None);
        assert_eq!(timers.expire(t0 + ms(50)).count(), 0);
        assert_eq!(timers.cancel(id), None);
        assert_eq!(timers.after(t0, ms(1), ()), Err(TimerError::Closed));
        timers.clear();
        assert_eq!(timers.every(t0, ms(1), ()), Err(TimerError::Closed));
    }

    #[test]
    fn a_timer_armed_during_a_pass_waits_for_the_next_one() {
        let t0 = origin();
        let mut timers = Timers::new(4);
        timers.after(t0, ms(0), "first").unwrap();
        let mark = timers.mark();
        let fired = timers.pop_expired(t0, mark).unwrap();
        assert_eq!(fired.token, "first");
        timers.after(t0, ms(0), "armed by the callback").unwrap();
        assert_eq!(timers.pop_expired(t0, mark), None);
        assert_eq!(timers.expire(t0).count(), 1);
    }

    #[test]
    fn a_zero_interval_tick_is_due_again_at_once() {
        let t0 = origin();
        let mut ticker = Ticker::new();
        ticker.start(t0, Some(ms(0)));
        assert!(ticker.tick(t0, |_| Some(ms(0))));
        assert_eq!(ticker.next_deadline(), Some(t0));
    }
}
