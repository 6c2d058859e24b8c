//! What the accept loop does when `accept` fails: which errors are worth
//! retrying, and the back-off (with its logging) when the process or the
//! system is out of descriptors or memory.

use std::io;
use std::time::{Duration, Instant};

/// The first pause after an accept failed for want of resources.
const FIRST_DELAY: Duration = Duration::from_millis(10);
/// The longest pause: the delay doubles per failure up to this.
const MAX_DELAY: Duration = Duration::from_secs(1);
/// At most one WARN per this long, however often a back-off starts (a
/// server at its descriptor limit flips between accepting one connection
/// and failing the next).
const WARN_INTERVAL: Duration = Duration::from_secs(60);

/// How the accept loop treats a failed `accept`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum AcceptError {
    /// Out of descriptors (`EMFILE`, `ENFILE`) or memory (`ENOBUFS`,
    /// `ENOMEM`): the connection waits in the backlog; retry after a
    /// growing pause.
    Exhausted,
    /// The connection went away before it was accepted, or the call was
    /// interrupted: retry shortly.
    Transient,
    /// Anything else ends `serve`.
    Fatal,
}

impl AcceptError {
    pub(crate) fn of(e: &io::Error) -> Self {
        let exhausted = [libc::EMFILE, libc::ENFILE, libc::ENOBUFS, libc::ENOMEM];
        if e.kind() == io::ErrorKind::OutOfMemory
            || e.raw_os_error()
                .is_some_and(|code| exhausted.contains(&code))
        {
            return AcceptError::Exhausted;
        }
        match e.kind() {
            io::ErrorKind::ConnectionAborted
            | io::ErrorKind::ConnectionReset
            | io::ErrorKind::Interrupted
            | io::ErrorKind::WouldBlock => AcceptError::Transient,
            _ => AcceptError::Fatal,
        }
    }
}

/// The accept loop's back-off while resources are exhausted: the pause
/// starts at 10 ms and doubles per consecutive failure up to 1 s; an
/// accepted connection resets it. A back-off is logged once, at WARN, when
/// it starts (and no more often than once a minute); its further failures
/// at DEBUG, and its end at INFO when its start was logged at WARN.
#[derive(Debug, Default)]
pub(crate) struct Backoff {
    /// The current back-off: consecutive failures, the next pause, when it
    /// began, and whether its start was logged at WARN.
    current: Option<Current>,
    /// When the last WARN was logged.
    last_warn: Option<Instant>,
    /// Back-offs since the last WARN that were not logged at WARN.
    unwarned: u64,
}

#[derive(Debug)]
struct Current {
    failures: u64,
    delay: Duration,
    since: Instant,
    warned: bool,
}

impl Backoff {
    /// `accept` failed for want of resources at `now`: how long to pause.
    pub(crate) fn failed(&mut self, error: &io::Error, addr: &dyn std::fmt::Display) -> Duration {
        let now = Instant::now();
        if let Some(current) = &mut self.current {
            current.failures += 1;
            current.delay = (current.delay * 2).min(MAX_DELAY);
            tracing::debug!(
                %addr,
                %error,
                failures = current.failures,
                delay_ms = current.delay.as_millis() as u64,
                "accept still failing; backing off"
            );
            return current.delay;
        }
        let warn = self
            .last_warn
            .is_none_or(|at| now.duration_since(at) >= WARN_INTERVAL);
        if warn {
            tracing::warn!(
                %addr,
                %error,
                delay_ms = FIRST_DELAY.as_millis() as u64,
                unlogged_backoffs = self.unwarned,
                "accept failed: out of file descriptors or memory; backing off \
                 (growing pause up to 1 s; logged again when accepting resumes)"
            );
            self.last_warn = Some(now);
            self.unwarned = 0;
        } else {
            self.unwarned += 1;
            tracing::debug!(%addr, %error, "accept failed: out of file descriptors or memory; backing off");
        }
        self.current = Some(Current {
            failures: 1,
            delay: FIRST_DELAY,
            since: now,
            warned: warn,
        });
        FIRST_DELAY
    }

    /// A connection was accepted: the back-off, if any, ends.
    pub(crate) fn succeeded(&mut self, addr: &dyn std::fmt::Display) {
        let Some(current) = self.current.take() else {
            return;
        };
        let failures = current.failures;
        let after_ms = current.since.elapsed().as_millis() as u64;
        if current.warned {
            tracing::info!(%addr, failures, after_ms, "accepting connections again");
        } else {
            tracing::debug!(%addr, failures, after_ms, "accepting connections again");
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn os(code: i32) -> io::Error {
        io::Error::from_raw_os_error(code)
    }

    #[test]
    fn descriptor_and_memory_shortages_back_off_and_other_errors_keep_their_treatment() {
        for code in [libc::EMFILE, libc::ENFILE, libc::ENOBUFS, libc::ENOMEM] {
            assert_eq!(AcceptError::of(&os(code)), AcceptError::Exhausted, "{code}");
        }
        for code in [libc::ECONNABORTED, libc::EINTR, libc::EAGAIN] {
            assert_eq!(AcceptError::of(&os(code)), AcceptError::Transient, "{code}");
        }
        assert_eq!(AcceptError::of(&os(libc::EBADF)), AcceptError::Fatal);
    }

    #[test]
    fn the_pause_doubles_up_to_its_cap_and_resets_on_success() {
        let mut backoff = Backoff::default();
        let e = os(libc::EMFILE);
        let pauses: Vec<Duration> = (0..10).map(|_| backoff.failed(&e, &"a")).collect();
        assert_eq!(pauses[0], FIRST_DELAY);
        assert_eq!(pauses[1], FIRST_DELAY * 2);
        assert!(pauses.windows(2).all(|w| w[1] >= w[0]));
        assert_eq!(*pauses.last().unwrap(), MAX_DELAY);
        assert_eq!(backoff.current.as_ref().unwrap().failures, 10);
        backoff.succeeded(&"a");
        assert_eq!(backoff.failed(&e, &"a"), FIRST_DELAY);
        // The second back-off within the interval is not warned about.
        assert!(!backoff.current.as_ref().unwrap().warned);
        assert_eq!(backoff.unwarned, 1);
    }
}
