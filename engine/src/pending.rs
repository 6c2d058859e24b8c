//! The owner task's table of sends whose outcome is not in yet.

use crate::handle::Done;
use std::collections::VecDeque;

/// Sends in flight, indexed by `SendId`.
///
/// The core hands out ids in increasing order and reports outcomes nearly in
/// order (`Sent` strictly in queue order; only timeouts and refusals skip
/// ahead), so a ring indexed by `id - base` gives O(1) insert and remove with
/// no hashing: finished slots at the front are popped, a slot finished out of
/// order waits as `None` until everything before it is done.
pub(crate) type Pending = Table<(usize, Done)>;

/// The ring behind [`Pending`], generic so it can be tested on its own.
pub(crate) struct Table<T> {
    base: u64,
    slots: VecDeque<Option<T>>,
    live: usize,
}

impl<T> Table<T> {
    pub(crate) fn new() -> Self {
        Table {
            base: 0,
            slots: VecDeque::new(),
            live: 0,
        }
    }

    /// Records a send the core accepted. Ids must be inserted in increasing
    /// order (they are: the core allocates them so).
    pub(crate) fn insert(&mut self, id: u64, value: T) {
        if self.slots.is_empty() {
            self.base = id;
        }
        debug_assert!(id >= self.base + self.slots.len() as u64);
        while self.base + (self.slots.len() as u64) < id {
            self.slots.push_back(None);
        }
        self.slots.push_back(Some(value));
        self.live += 1;
    }

    /// Takes the send with this id, if it is in flight.
    pub(crate) fn remove(&mut self, id: u64) -> Option<T> {
        let index = id.checked_sub(self.base)?;
        let taken = self.slots.get_mut(usize::try_from(index).ok()?)?.take();
        if taken.is_some() {
            self.live -= 1;
            while let Some(None) = self.slots.front() {
                self.slots.pop_front();
                self.base += 1;
            }
        }
        taken
    }

    /// Takes every send still in flight.
    pub(crate) fn drain(&mut self) -> impl Iterator<Item = T> + '_ {
        self.live = 0;
        self.slots.drain(..).flatten()
    }

    /// Sends in flight.
    #[cfg(test)]
    fn len(&self) -> usize {
        self.live
    }
}

#[cfg(test)]
mod tests {
    use super::Table;

    #[test]
    fn in_order_outcomes_keep_the_ring_empty_behind_them() {
        let mut t = Table::new();
        for id in 10..20 {
            t.insert(id, id * 2);
        }
        for id in 10..20 {
            assert_eq!(t.remove(id), Some(id * 2));
        }
        assert_eq!(t.len(), 0);
        assert!(t.slots.is_empty());
    }

    #[test]
    fn out_of_order_removal_keeps_every_other_entry_once() {
        let mut t = Table::new();
        for id in 0..5 {
            t.insert(id, id);
        }
        assert_eq!(t.remove(3), Some(3));
        assert_eq!(t.remove(3), None, "an outcome is taken once");
        assert_eq!(t.remove(0), Some(0));
        assert_eq!(t.remove(1), Some(1));
        assert_eq!(t.remove(2), Some(2));
        // 3 was already gone: the front advances past it to 4.
        assert_eq!(t.slots.len(), 1);
        assert_eq!(t.remove(4), Some(4));
        assert_eq!(t.len(), 0);
    }

    #[test]
    fn gaps_in_ids_and_unknown_ids_are_handled() {
        let mut t = Table::new();
        t.insert(5, 'a');
        t.insert(9, 'b');
        assert_eq!(t.remove(7), None);
        assert_eq!(t.remove(4), None);
        assert_eq!(t.remove(100), None);
        assert_eq!(t.remove(9), Some('b'));
        assert_eq!(t.remove(5), Some('a'));
        assert_eq!(t.len(), 0);
        t.insert(200, 'c');
        assert_eq!(t.drain().collect::<Vec<_>>(), vec!['c']);
    }
}
