//! Session identifiers, and the process-wide counters behind every id the hub
//! hands out.

use std::fmt;
use std::sync::atomic::{AtomicU64, Ordering};

/// Identifies a session within a process. Never reused: a hub hands out each
/// value once.
///
/// Ids come from one process-wide counter (the way `std::thread::ThreadId`
/// does it), so they stay unique across several hubs in one process and
/// across client sessions that have no hub: a runtime gives those
/// [`SessionId::allocate`]. The counter is the only state the hub shares
/// beyond its own value: one relaxed atomic increment per session.
///
/// ```
/// use castnet_core::SessionId;
///
/// let a = SessionId::allocate();
/// let b = SessionId::allocate();
/// assert_ne!(a, b);
/// assert!(b > a);
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct SessionId(pub(crate) u64);

impl SessionId {
    /// A fresh id that no other call in this process has returned or will
    /// return. Ids increase in the order they were allocated and start at 1.
    pub fn allocate() -> Self {
        static NEXT: AtomicU64 = AtomicU64::new(1);
        SessionId(next(&NEXT))
    }

    /// The raw number.
    pub fn get(self) -> u64 {
        self.0
    }

    /// A `SessionId` from a raw number, for tests and for ids that come from
    /// outside castnet. Such ids are outside the never-reused guarantee: use
    /// [`SessionId::allocate`] for a real session.
    pub fn from_raw(raw: u64) -> Self {
        SessionId(raw)
    }
}

impl fmt::Display for SessionId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "session#{}", self.0)
    }
}

/// Takes the next value of a process-wide id counter.
///
/// `Relaxed` is enough: uniqueness needs only the atomicity of one
/// read-modify-write, and no other memory is published through the counter.
/// The counter is 64 bits wide; wrapping would take 584 years at one id per
/// nanosecond, so it is not guarded.
pub(crate) fn next(counter: &AtomicU64) -> u64 {
    counter.fetch_add(1, Ordering::Relaxed)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn allocated_ids_are_never_reused() {
        let ids: Vec<SessionId> = (0..1000).map(|_| SessionId::allocate()).collect();
        // Other tests allocate concurrently, so ids need not be consecutive,
        // only strictly increasing within this thread.
        assert!(ids.windows(2).all(|w| w[0] < w[1]));
    }

    // The id counter is process-wide shared state; this test is the one place
    // core spawns threads, to prove it.
    #[allow(clippy::disallowed_methods)]
    #[test]
    fn allocated_ids_never_collide_across_threads() {
        let threads: Vec<_> = (0..4)
            .map(|_| {
                std::thread::spawn(|| (0..500).map(|_| SessionId::allocate()).collect::<Vec<_>>())
            })
            .collect();
        let mut all: Vec<SessionId> = threads
            .into_iter()
            .flat_map(|t| t.join().expect("allocating thread"))
            .collect();
        let n = all.len();
        all.sort();
        all.dedup();
        assert_eq!(all.len(), n);
    }
}
