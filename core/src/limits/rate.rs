//! Inbound rate limits: a token bucket with exact integer arithmetic, and the
//! frames/s + bytes/s limiter a session applies to what it decodes.
//!
//! A token is split into [`UNITS_PER_TOKEN`] units, so a rate of `r` tokens
//! per second adds exactly `r` units per nanosecond: refilling is one integer
//! multiplication, never a float, and refilling in many small steps gives the
//! same level as refilling once. Time is injected; a `now` earlier than one
//! already seen is treated as that earlier-seen instant.

use crate::frame::ConfigError;
use std::time::{Duration, Instant};

/// How many units one token is divided into: one per nanosecond of a
/// one-token-per-second rate.
const UNITS_PER_TOKEN: i128 = 1_000_000_000;

/// A refill rate and the most a bucket can save up.
///
/// ```
/// use castnet_core::limits::Rate;
///
/// let rate = Rate::per_sec(15).burst(30);
/// assert_eq!((rate.tokens_per_sec(), rate.burst_tokens()), (15, 30));
/// // Without `burst`, a bucket holds one second's worth.
/// assert_eq!(Rate::per_sec(15).burst_tokens(), 15);
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Rate {
    per_sec: u64,
    burst: u64,
}

impl Rate {
    /// `per_sec` tokens per second, with a burst of one second's worth.
    pub const fn per_sec(per_sec: u64) -> Self {
        Rate {
            per_sec,
            burst: per_sec,
        }
    }

    /// Sets how many tokens a full bucket holds: what may be spent at once
    /// after a quiet period.
    pub const fn burst(mut self, burst: u64) -> Self {
        self.burst = burst;
        self
    }

    /// Tokens added per second.
    pub const fn tokens_per_sec(&self) -> u64 {
        self.per_sec
    }

    /// Capacity of the bucket, in tokens.
    pub const fn burst_tokens(&self) -> u64 {
        self.burst
    }

    /// Both numbers must be at least 1: a zero rate never refills and a zero
    /// burst never admits anything.
    fn validate(&self, what: &'static str) -> Result<(), ConfigError> {
        if self.per_sec == 0 || self.burst == 0 {
            return Err(ConfigError::OutOfRange {
                what,
                detail: format!(
                    "rate {}/s with burst {}: both must be at least 1",
                    self.per_sec, self.burst
                ),
            });
        }
        Ok(())
    }
}

/// A token bucket: holds up to `burst` tokens, refills at `per_sec` tokens per
/// second, starts full.
///
/// [`try_take`](Self::try_take) is the strict form (take `n` only if `n` are
/// there); [`take`](Self::take) charges unconditionally and may leave the
/// bucket in debt, for costs that are known only after the fact (bytes that
/// already arrived). A bucket in debt refills its debt first.
///
/// ```
/// use std::time::{Duration, Instant};
/// use castnet_core::limits::{Rate, TokenBucket};
///
/// let t0 = Instant::now();
/// let mut bucket = TokenBucket::new(Rate::per_sec(10).burst(2), t0).unwrap();
/// assert!(bucket.try_take(1, t0));
/// assert!(bucket.try_take(1, t0));
/// assert!(!bucket.try_take(1, t0));
/// // One token every 100 ms, exactly.
/// assert_eq!(bucket.ready_at(1), Some(t0 + Duration::from_millis(100)));
/// assert!(!bucket.try_take(1, t0 + Duration::from_nanos(99_999_999)));
/// assert!(bucket.try_take(1, t0 + Duration::from_millis(100)));
/// ```
#[derive(Debug, Clone)]
pub struct TokenBucket {
    rate: Rate,
    /// Units added per nanosecond (= tokens per second).
    per_ns: i128,
    /// Capacity in units.
    cap: i128,
    /// Current level in units as of `last`; negative while in debt.
    level: i128,
    last: Instant,
}

impl TokenBucket {
    /// A full bucket, or [`ConfigError::OutOfRange`] if the rate or the burst
    /// is zero.
    pub fn new(rate: Rate, now: Instant) -> Result<Self, ConfigError> {
        rate.validate("token bucket")?;
        let cap = i128::from(rate.burst) * UNITS_PER_TOKEN;
        Ok(TokenBucket {
            rate,
            per_ns: i128::from(rate.per_sec),
            cap,
            level: cap,
            last: now,
        })
    }

    /// The configured rate.
    pub fn rate(&self) -> Rate {
        self.rate
    }

    /// Whole tokens available at `now` (0 while in debt).
    pub fn available(&mut self, now: Instant) -> u64 {
        self.refill(now);
        // `level <= cap = burst * UNITS`, so the quotient fits in a u64.
        u64::try_from(self.level.max(0) / UNITS_PER_TOKEN).unwrap_or(u64::MAX)
    }

    /// True while more has been charged than the bucket held.
    pub fn is_in_debt(&mut self, now: Instant) -> bool {
        self.refill(now);
        self.level < 0
    }

    /// Takes `n` tokens if at least `n` are available at `now`; otherwise takes
    /// nothing and returns `false`.
    pub fn try_take(&mut self, n: u64, now: Instant) -> bool {
        self.refill(now);
        let cost = i128::from(n) * UNITS_PER_TOKEN;
        if self.level >= cost {
            self.level -= cost;
            true
        } else {
            false
        }
    }

    /// Charges `n` tokens whatever the level, leaving the bucket in debt if it
    /// held fewer.
    pub fn take(&mut self, n: u64, now: Instant) {
        self.refill(now);
        self.level = self.level.saturating_sub(i128::from(n) * UNITS_PER_TOKEN);
    }

    /// The earliest instant at which the bucket will hold `n` tokens if
    /// nothing more is taken (`n = 0`: when a debt is paid off). An instant
    /// at or before the last `now` seen means "already". `None` if `n` exceeds
    /// the burst (never), or the instant is beyond what [`Instant`] can
    /// represent.
    pub fn ready_at(&self, n: u64) -> Option<Instant> {
        let target = i128::from(n) * UNITS_PER_TOKEN;
        if target > self.cap {
            return None;
        }
        let deficit = target - self.level;
        if deficit <= 0 {
            return Some(self.last);
        }
        // Round up: the first whole nanosecond at which the level reaches it.
        let nanos = (deficit + self.per_ns - 1) / self.per_ns;
        let nanos = u128::try_from(nanos).ok()?;
        let secs = u64::try_from(nanos / 1_000_000_000).ok()?;
        let wait = Duration::new(secs, (nanos % 1_000_000_000) as u32);
        self.last.checked_add(wait)
    }

    /// Brings the level up to `now`. Capping at each step gives the same
    /// result as capping once, so how often this runs does not matter.
    fn refill(&mut self, now: Instant) {
        let Some(elapsed) = now.checked_duration_since(self.last) else {
            return; // time went backwards: keep the later instant
        };
        self.last = now;
        let deficit = self.cap - self.level;
        if deficit <= 0 {
            return;
        }
        let elapsed = elapsed.as_nanos();
        // Units needed to fill up, as nanoseconds, rounded up; comparing
        // first keeps `elapsed * per_ns` from overflowing on long pauses.
        let to_full = (deficit + self.per_ns - 1) / self.per_ns;
        match i128::try_from(elapsed) {
            Ok(elapsed) if elapsed < to_full => self.level += elapsed * self.per_ns,
            _ => self.level = self.cap,
        }
    }
}

/// What a session does when a peer goes over its [`RateLimit`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
#[non_exhaustive]
pub enum RatePolicy {
    /// Stop reading (and delivering) until the buckets refill: backpressure
    /// through TCP flow control, nothing lost. The default.
    #[default]
    Pause,
    /// Close the session with `CloseReason::RateLimited`; the frame that went
    /// over is not delivered.
    Close,
}

/// A per-session limit on inbound frames per second and bytes per second,
/// each a token bucket, and what to do when a peer exceeds it.
///
/// ```
/// use castnet_core::limits::{Rate, RateLimit, RatePolicy};
///
/// // At most 15 frames/s; a peer that sends more is dropped.
/// let limit = RateLimit::new(RatePolicy::Close)
///     .frames(Rate::per_sec(15))
///     .bytes(Rate::per_sec(64 * 1024).burst(256 * 1024));
/// assert_eq!(limit.policy(), RatePolicy::Close);
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub struct RateLimit {
    frames: Option<Rate>,
    bytes: Option<Rate>,
    policy: RatePolicy,
}

impl RateLimit {
    /// No limit yet, with this policy; add [`frames`](Self::frames) and/or
    /// [`bytes`](Self::bytes).
    pub const fn new(policy: RatePolicy) -> Self {
        RateLimit {
            frames: None,
            bytes: None,
            policy,
        }
    }

    /// Limits decoded frames (delivered or discarded) per second.
    pub const fn frames(mut self, rate: Rate) -> Self {
        self.frames = Some(rate);
        self
    }

    /// Limits inbound bytes per second, counted as the decoder consumes them
    /// (headers and skipped bytes included).
    pub const fn bytes(mut self, rate: Rate) -> Self {
        self.bytes = Some(rate);
        self
    }

    /// The frame rate, if limited.
    pub const fn frame_rate(&self) -> Option<Rate> {
        self.frames
    }

    /// The byte rate, if limited.
    pub const fn byte_rate(&self) -> Option<Rate> {
        self.bytes
    }

    /// What happens over the limit.
    pub const fn policy(&self) -> RatePolicy {
        self.policy
    }

    /// Every configured rate and burst must be at least 1.
    pub fn validate(&self) -> Result<(), ConfigError> {
        if let Some(rate) = self.frames {
            rate.validate("frame rate limit")?;
        }
        if let Some(rate) = self.bytes {
            rate.validate("byte rate limit")?;
        }
        Ok(())
    }
}

/// A peer went over its rate limit.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, thiserror::Error)]
#[error("inbound rate limit exceeded")]
pub struct RateExceeded {
    /// When the buckets will allow the refused step, if nothing else is
    /// charged meanwhile. `None` only for a debt too large to ever clear
    /// within the range of [`Instant`].
    pub retry_at: Option<Instant>,
}

/// The two buckets of a [`RateLimit`], applied to one inbound stream.
///
/// Bytes are charged as they are consumed ([`charge_bytes`](Self::charge_bytes),
/// which may put the byte bucket in debt: they already arrived). A frame is
/// admitted ([`admit_frame`](Self::admit_frame)) when the frame bucket holds a
/// whole token and the byte bucket, with every byte up to and including that
/// frame charged, is not in debt. So over any interval of length `t`, the
/// admitted frames number at most `frame_burst + frame_rate * t`, and the
/// bytes consumed before the last admitted frame at most
/// `byte_burst + byte_rate * t`.
#[derive(Debug, Clone)]
pub struct RateLimiter {
    frames: Option<TokenBucket>,
    bytes: Option<TokenBucket>,
    policy: RatePolicy,
}

impl RateLimiter {
    /// Full buckets for `limit`, or the first invalid rate.
    pub fn new(limit: RateLimit, now: Instant) -> Result<Self, ConfigError> {
        Ok(RateLimiter {
            frames: limit.frames.map(|r| TokenBucket::new(r, now)).transpose()?,
            bytes: limit.bytes.map(|r| TokenBucket::new(r, now)).transpose()?,
            policy: limit.policy,
        })
    }

    /// What to do over the limit.
    pub fn policy(&self) -> RatePolicy {
        self.policy
    }

    /// Charges `n` inbound bytes.
    pub fn charge_bytes(&mut self, n: u64, now: Instant) {
        if let Some(bytes) = &mut self.bytes {
            bytes.take(n, now);
        }
    }

    /// `Ok` if more input may be consumed now: the byte bucket is not in debt.
    pub fn check_bytes(&mut self, now: Instant) -> Result<(), RateExceeded> {
        let Some(bytes) = &mut self.bytes else {
            return Ok(());
        };
        if bytes.is_in_debt(now) {
            return Err(RateExceeded {
                retry_at: bytes.ready_at(0),
            });
        }
        Ok(())
    }

    /// Admits one frame (taking its frame token) or says when it could be.
    pub fn admit_frame(&mut self, now: Instant) -> Result<(), RateExceeded> {
        let frame_ok = self.frames.as_mut().is_none_or(|f| f.available(now) >= 1);
        let bytes_ok = self.check_bytes(now).is_ok();
        if frame_ok && bytes_ok {
            if let Some(frames) = &mut self.frames {
                frames.take(1, now);
            }
            return Ok(());
        }
        let frames_at = self.frames.as_ref().map(|f| f.ready_at(1));
        let bytes_at = self.bytes.as_ref().map(|b| b.ready_at(0));
        // The later of the two; an unrepresentable one wins as `None`.
        let retry_at = [frames_at, bytes_at]
            .into_iter()
            .flatten()
            .try_fold(now, |acc, at| at.map(|at| acc.max(at)));
        Err(RateExceeded { retry_at })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[allow(clippy::disallowed_methods)] // an arbitrary origin: tests only add durations to it
    fn t0() -> Instant {
        Instant::now()
    }

    #[test]
    fn zero_rate_or_burst_is_a_config_error() {
        let now = t0();
        assert!(TokenBucket::new(Rate::per_sec(0), now).is_err());
        assert!(TokenBucket::new(Rate::per_sec(5).burst(0), now).is_err());
        assert!(RateLimit::new(RatePolicy::Pause)
            .bytes(Rate::per_sec(0))
            .validate()
            .is_err());
    }

    #[test]
    fn bucket_starts_full_and_refuses_past_the_burst() {
        let now = t0();
        let mut b = TokenBucket::new(Rate::per_sec(3).burst(5), now).unwrap();
        assert_eq!(b.available(now), 5);
        assert!(b.try_take(5, now));
        assert!(!b.try_take(1, now));
        assert_eq!(b.available(now), 0);
    }

    #[test]
    fn a_third_of_a_token_per_step_adds_up_exactly() {
        // 3 tokens/s is 3 units per nanosecond. Three steps of 111,111,111 ns
        // add 999,999,999 units: one unit short of a token, however the
        // steps are split. One more nanosecond completes it.
        let now = t0();
        let mut b = TokenBucket::new(Rate::per_sec(3).burst(1), now).unwrap();
        b.take(1, now);
        let mut t = now;
        for _ in 0..3 {
            t += Duration::from_nanos(111_111_111);
            assert_eq!(b.available(t), 0);
        }
        t += Duration::from_nanos(1);
        assert_eq!(b.available(t), 1);
    }

    #[test]
    fn ready_at_is_the_first_nanosecond_with_enough_tokens() {
        let now = t0();
        let mut b = TokenBucket::new(Rate::per_sec(3).burst(1), now).unwrap();
        b.take(1, now);
        let at = b.ready_at(1).unwrap();
        assert_eq!(at, now + Duration::from_nanos(333_333_334));
        let mut early = b.clone();
        assert!(!early.try_take(1, at - Duration::from_nanos(1)));
        assert!(b.try_take(1, at));
    }

    #[test]
    fn ready_at_beyond_the_burst_is_never() {
        let now = t0();
        let b = TokenBucket::new(Rate::per_sec(10).burst(4), now).unwrap();
        assert_eq!(b.ready_at(5), None);
        assert_eq!(b.ready_at(4), Some(now));
    }

    #[test]
    fn debt_is_repaid_before_tokens_return() {
        let now = t0();
        let mut b = TokenBucket::new(Rate::per_sec(100).burst(100), now).unwrap();
        b.take(300, now); // 200 in debt
        assert!(b.is_in_debt(now));
        assert_eq!(b.ready_at(0), Some(now + Duration::from_secs(2)));
        assert!(b.is_in_debt(now + Duration::from_millis(1999)));
        assert!(!b.is_in_debt(now + Duration::from_secs(2)));
        assert_eq!(b.available(now + Duration::from_secs(2)), 0);
        assert_eq!(b.available(now + Duration::from_secs(3)), 100);
    }

    #[test]
    fn time_going_backwards_neither_refills_nor_panics() {
        let now = t0();
        let later = now + Duration::from_secs(1);
        let mut b = TokenBucket::new(Rate::per_sec(1).burst(1), now).unwrap();
        assert!(b.try_take(1, later));
        assert!(!b.try_take(1, now));
        assert_eq!(b.ready_at(1), Some(later + Duration::from_secs(1)));
    }

    #[test]
    fn a_long_pause_fills_the_bucket_without_overflow() {
        let now = t0();
        let mut b = TokenBucket::new(Rate::per_sec(u64::MAX).burst(u64::MAX), now).unwrap();
        b.take(u64::MAX, now);
        b.take(u64::MAX, now);
        let far = now + Duration::from_secs(100 * 365 * 24 * 3600);
        assert_eq!(b.available(far), u64::MAX);
    }

    #[test]
    fn limiter_admits_a_frame_only_with_a_frame_token_and_no_byte_debt() {
        let now = t0();
        let limit = RateLimit::new(RatePolicy::Pause)
            .frames(Rate::per_sec(2))
            .bytes(Rate::per_sec(100));
        let mut l = RateLimiter::new(limit, now).unwrap();
        l.charge_bytes(60, now);
        assert_eq!(l.admit_frame(now), Ok(()));
        l.charge_bytes(60, now); // 20 bytes of debt: 200 ms to repay
        assert_eq!(
            l.admit_frame(now),
            Err(RateExceeded {
                retry_at: Some(now + Duration::from_millis(200))
            })
        );
        let later = now + Duration::from_millis(200);
        assert_eq!(l.admit_frame(later), Ok(()));
        // Frame bucket: 2 - 1 + 0.4 (refilled by 200 ms) - 1 = 0.4 tokens;
        // the missing 0.6 take 300 ms at 2/s.
        assert_eq!(
            l.admit_frame(later),
            Err(RateExceeded {
                retry_at: Some(now + Duration::from_millis(500))
            })
        );
    }
}
