//! The reference model of `castnet_core::timer`, shared by the proptest
//! `core/tests/timer_model.rs` and the fuzz target `timer_ops`: a plain list
//! of timers scanned in full at every step, and a ticker kept as one
//! optional deadline, with the rules written out directly. [`run`] applies
//! operations to a real `Timers` table, a real `Ticker` and the model side by
//! side, at a clock the operations move, and panics at the first difference.
//!
//! The rules, as the model states them:
//! - a timer is due when its deadline is at or before `now`; due timers are
//!   served smallest deadline first, ties by arming order (a repeating timer
//!   is re-armed, taking a new place in that order, each time it fires);
//! - a pass started at a mark serves only timers armed before the mark;
//! - a repeating timer served at `now` for deadline `d` moves to
//!   `d + interval`, and on by whole intervals while that is not after
//!   `now`; each extra step is one missed period;
//! - scheduling fails when `max` timers are live, and a repeating timer with
//!   a zero interval is refused;
//! - the ticker ticks when its deadline is at or before `now`; its next
//!   deadline follows the same stepping from the served deadline with the
//!   interval the tick returns (a zero interval: `now`; none: stopped).

use castnet_core::timer::{Expired, Mark, Ticker, TimerError, TimerId, Timers};
use std::time::{Duration, Instant};

/// One operation on the table, the ticker (and the model).
#[derive(Debug, Clone)]
pub enum Op {
    /// A one-shot timer after this many milliseconds, with this token.
    After(u64, u32),
    /// A repeating timer of this many milliseconds, with this token.
    Every(u64, u32),
    /// Cancel the timer issued this many schedulings ago (modulo how many
    /// were issued, live or not); nothing when none was.
    Cancel(usize),
    /// Cancel every timer.
    Clear,
    /// The clock moves on this many milliseconds.
    Advance(u64),
    /// Serve every due timer (`Timers::expire`).
    Expire,
    /// Remember the arming order's current point.
    Mark,
    /// Serve one due timer armed before the remembered point, as a callback
    /// would, then arm a one-shot timer due at once with this token (which
    /// the same pass must not serve).
    PopAndArm(u32),
    /// (Re)start the ticker with this interval in milliseconds, or stop it.
    TickStart(Option<u64>),
    /// Offer the ticker a tick at `now`; the tick returns this interval.
    Tick(Option<u64>),
}

struct ModelTimer {
    id: TimerId,
    token: u32,
    at: Duration,
    every: Option<Duration>,
    seq: u64,
}

struct Model {
    max: usize,
    timers: Vec<ModelTimer>,
    seq: u64,
    ticker: Option<Duration>,
}

impl Model {
    fn schedule(&mut self, id: TimerId, now: Duration, delay: Duration, every: bool, token: u32) {
        self.timers.push(ModelTimer {
            id,
            token,
            at: now + delay,
            every: every.then_some(delay),
            seq: self.seq,
        });
        self.seq += 1;
    }

    /// What scheduling should answer, before the real table is asked.
    fn refusal(&self, interval: Option<Duration>) -> Option<TimerError> {
        if interval.is_some_and(|i| i.is_zero()) {
            Some(TimerError::ZeroInterval)
        } else if self.timers.len() >= self.max {
            Some(TimerError::Full { max: self.max })
        } else {
            None
        }
    }

    fn next_deadline(&self) -> Option<Duration> {
        self.timers.iter().map(|t| t.at).min()
    }

    /// Serves the first due timer armed before `before`, as (id, token,
    /// deadline, missed).
    fn pop(&mut self, now: Duration, before: u64) -> Option<(TimerId, u32, Duration, u64)> {
        let i = (0..self.timers.len())
            .filter(|&i| self.timers[i].at <= now && self.timers[i].seq < before)
            .min_by_key(|&i| (self.timers[i].at, self.timers[i].seq))?;
        let t = &mut self.timers[i];
        let (id, token, deadline) = (t.id, t.token, t.at);
        let Some(interval) = t.every else {
            self.timers.remove(i);
            return Some((id, token, deadline, 0));
        };
        let mut next = deadline + interval;
        let mut missed = 0;
        while next <= now {
            next += interval;
            missed += 1;
        }
        t.at = next;
        t.seq = self.seq;
        self.seq += 1;
        Some((id, token, deadline, missed))
    }

    fn tick(&mut self, now: Duration, interval: Option<Duration>) -> bool {
        let Some(due) = self.ticker.filter(|&at| at <= now) else {
            return false;
        };
        self.ticker = interval.map(|i| {
            if i.is_zero() {
                return now;
            }
            let mut next = due + i;
            while next <= now {
                next += i;
            }
            next
        });
        true
    }
}

/// Runs `ops` against a table of at most `max` timers, a ticker and the
/// model; panics at the first difference.
pub fn run(max: usize, ops: Vec<Op>) {
    let base = origin();
    let mut clock = Duration::ZERO;
    let mut timers: Timers<u32> = Timers::new(max);
    let mut ticker = Ticker::new();
    let mut model = Model {
        max,
        timers: Vec::new(),
        seq: 0,
        ticker: None,
    };
    let mut issued: Vec<TimerId> = Vec::new();
    let mut mark: (Mark, u64) = (timers.mark(), 0);
    let expired = |e: Expired<u32>| (e.id, e.token, e.deadline.duration_since(base), e.missed);
    for op in ops {
        let now = base + clock;
        match op {
            Op::After(ms, token) | Op::Every(ms, token) => {
                let every = matches!(op, Op::Every(..));
                let delay = Duration::from_millis(ms);
                let want = model.refusal(every.then_some(delay));
                let got = if every {
                    timers.every(now, delay, token)
                } else {
                    timers.after(now, delay, token)
                };
                match (got, want) {
                    (Ok(id), None) => {
                        assert!(!issued.contains(&id), "{id:?} issued twice");
                        issued.push(id);
                        model.schedule(id, clock, delay, every, token);
                    }
                    (Err(got), Some(want)) => assert_eq!(got, want),
                    (got, want) => panic!("{op:?}: table {got:?}, model {want:?}"),
                }
            }
            Op::Cancel(back) => {
                let id = match issued.len() {
                    0 => None,
                    n => Some(issued[n - 1 - back % n]),
                };
                if let Some(id) = id {
                    let want = model.timers.iter().position(|t| t.id == id);
                    let want = want.map(|i| model.timers.remove(i).token);
                    assert_eq!(timers.cancel(id), want, "cancel {id:?}");
                }
            }
            Op::Clear => {
                timers.clear();
                model.timers.clear();
            }
            Op::Advance(ms) => clock += Duration::from_millis(ms),
            Op::Expire => {
                let got: Vec<_> = timers.expire(now).map(expired).collect();
                let before = model.seq;
                let want: Vec<_> = std::iter::from_fn(|| model.pop(clock, before)).collect();
                assert_eq!(got, want, "expire at {clock:?}");
            }
            Op::Mark => mark = (timers.mark(), model.seq),
            Op::PopAndArm(token) => {
                let got = timers.pop_expired(now, mark.0).map(expired);
                assert_eq!(got, model.pop(clock, mark.1), "pop at {clock:?}");
                if got.is_some() {
                    let want = model.refusal(None);
                    match (timers.after(now, Duration::ZERO, token), want) {
                        (Ok(id), None) => {
                            issued.push(id);
                            model.schedule(id, clock, Duration::ZERO, false, token);
                        }
                        (Err(got), Some(want)) => assert_eq!(got, want),
                        (got, want) => panic!("arm in a pass: table {got:?}, model {want:?}"),
                    }
                }
            }
            Op::TickStart(interval) => {
                let interval = interval.map(Duration::from_millis);
                ticker.start(now, interval);
                model.ticker = interval.map(|i| clock + i);
            }
            Op::Tick(interval) => {
                let interval = interval.map(Duration::from_millis);
                let mut seen = None;
                let got = ticker.tick(now, |at| {
                    seen = Some(at);
                    interval
                });
                assert_eq!(got, model.tick(clock, interval), "tick at {clock:?}");
                assert_eq!(seen, got.then_some(now), "the tick sees the time it ran");
            }
        }
        // After every operation: what is live, and the deadlines.
        assert_eq!(timers.len(), model.timers.len(), "live timers");
        assert_eq!(timers.is_empty(), model.timers.is_empty());
        assert_eq!(
            timers.next_deadline().map(|at| at.duration_since(base)),
            model.next_deadline(),
            "next deadline"
        );
        for &id in &issued {
            let live = model.timers.iter().any(|t| t.id == id);
            assert_eq!(timers.contains(id), live, "{id:?} live");
        }
        assert_eq!(
            ticker.next_deadline().map(|at| at.duration_since(base)),
            model.ticker,
            "ticker deadline"
        );
    }
}

#[allow(clippy::disallowed_methods)] // an arbitrary origin: only durations are added to it
fn origin() -> Instant {
    Instant::now()
}

/// The operations an arbitrary byte string stands for (the fuzz target's
/// input layout, also used to replay its corpus): one byte for the table's
/// bound (modulo 16), then operations, each a kind byte (modulo 10) and its
/// fields, one byte each (a field past the end reads 0): `After` and
/// `Every` a delay (modulo 64, in milliseconds) and a token, `Cancel` an
/// index, `Advance` milliseconds (a byte of 255 stands for 1000),
/// `PopAndArm` a token, `TickStart` and `Tick` an interval (modulo 48, 47
/// meaning none); `Clear`, `Expire` and `Mark` have none. At most `max_ops`
/// operations.
pub fn from_bytes(data: &[u8], max_ops: usize) -> (usize, Vec<Op>) {
    let mut bytes = data.iter().copied();
    let mut next = || bytes.next().unwrap_or(0);
    let max = usize::from(next() % 16);
    let mut ops = Vec::new();
    let interval = |b: u8| (b % 48 != 47).then_some(u64::from(b % 48));
    while ops.len() < max_ops && ops.len() * 2 < data.len() {
        ops.push(match next() % 10 {
            0 => Op::After(u64::from(next() % 64), u32::from(next())),
            1 => Op::Every(u64::from(next() % 64), u32::from(next())),
            2 => Op::Cancel(usize::from(next())),
            3 => Op::Clear,
            4 => match next() {
                255 => Op::Advance(1000),
                ms => Op::Advance(u64::from(ms)),
            },
            5 => Op::Expire,
            6 => Op::Mark,
            7 => Op::PopAndArm(u32::from(next())),
            8 => Op::TickStart(interval(next())),
            _ => Op::Tick(interval(next())),
        });
    }
    (max, ops)
}
