//! [`DenseMap`]: a map from [`SessionId`] with O(1) insert, remove and lookup
//! whose keys also sit in one contiguous `Vec`, so taking a broadcast's
//! recipient list is a `memcpy`, not a walk over hash buckets.

use super::SessionId;
use std::collections::HashMap;
use std::hash::{BuildHasherDefault, Hasher};

/// Hashes a [`SessionId`] with one multiplication.
///
/// SipHash (the std default) defends a map against keys chosen by an attacker.
/// Session ids are chosen by this process, never by a peer, so that defence
/// buys nothing here, and multiplying by an odd constant spreads sequential
/// ids over both the bucket bits and the top bits hashbrown uses as tags.
#[derive(Debug, Default, Clone, Copy)]
pub(crate) struct IdHasher(u64);

/// Builds [`IdHasher`]s.
pub(crate) type IdHash = BuildHasherDefault<IdHasher>;

/// 2^64 / φ, odd: the Fibonacci hashing multiplier.
const MULTIPLIER: u64 = 0x9E37_79B9_7F4A_7C15;

impl Hasher for IdHasher {
    fn write(&mut self, bytes: &[u8]) {
        // Not reached for `SessionId` (it hashes as one `u64`); kept correct
        // for any other input.
        for &b in bytes {
            self.write_u64(self.0 ^ u64::from(b));
        }
    }

    fn write_u64(&mut self, n: u64) {
        self.0 = (self.0.rotate_left(5) ^ n).wrapping_mul(MULTIPLIER);
    }

    fn finish(&self) -> u64 {
        self.0
    }
}

/// Session ids with a value each, in an order that is arbitrary but dense.
///
/// Removal swaps the last key into the hole, so order changes on removal.
#[derive(Debug, Clone)]
pub(crate) struct DenseMap<V> {
    keys: Vec<SessionId>,
    slots: HashMap<SessionId, Slot<V>, IdHash>,
}

#[derive(Debug, Clone)]
struct Slot<V> {
    /// Where the key sits in `keys`.
    pos: usize,
    value: V,
}

impl<V> Default for DenseMap<V> {
    fn default() -> Self {
        DenseMap {
            keys: Vec::new(),
            slots: HashMap::default(),
        }
    }
}

impl<V> DenseMap<V> {
    /// Inserts `id` unless it is present; true when it was new. An existing
    /// value is left alone.
    pub(crate) fn insert(&mut self, id: SessionId, value: V) -> bool {
        use std::collections::hash_map::Entry;
        match self.slots.entry(id) {
            Entry::Occupied(_) => false,
            Entry::Vacant(vacant) => {
                vacant.insert(Slot {
                    pos: self.keys.len(),
                    value,
                });
                self.keys.push(id);
                true
            }
        }
    }

    /// Removes `id`, returning its value.
    pub(crate) fn remove(&mut self, id: SessionId) -> Option<V> {
        let Slot { pos, value } = self.slots.remove(&id)?;
        self.keys.swap_remove(pos);
        if let Some(&moved) = self.keys.get(pos) {
            if let Some(slot) = self.slots.get_mut(&moved) {
                slot.pos = pos;
            }
        }
        Some(value)
    }

    pub(crate) fn get(&self, id: SessionId) -> Option<&V> {
        self.slots.get(&id).map(|slot| &slot.value)
    }

    pub(crate) fn get_mut(&mut self, id: SessionId) -> Option<&mut V> {
        self.slots.get_mut(&id).map(|slot| &mut slot.value)
    }

    pub(crate) fn contains(&self, id: SessionId) -> bool {
        self.slots.contains_key(&id)
    }

    pub(crate) fn len(&self) -> usize {
        self.keys.len()
    }

    pub(crate) fn is_empty(&self) -> bool {
        self.keys.is_empty()
    }

    /// Every key with its value, in no particular order.
    pub(crate) fn iter(&self) -> impl ExactSizeIterator<Item = (SessionId, &V)> + '_ {
        self.slots.iter().map(|(&id, slot)| (id, &slot.value))
    }

    /// Every key, densely packed.
    pub(crate) fn keys(&self) -> &[SessionId] {
        &self.keys
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn id(n: u64) -> SessionId {
        SessionId::from_raw(n)
    }

    #[test]
    fn removal_keeps_keys_dense_and_positions_right() {
        let mut map = DenseMap::default();
        for n in 0..10 {
            assert!(map.insert(id(n), n));
        }
        assert!(map.remove(id(3)).is_some());
        assert!(map.remove(id(0)).is_some());
        assert!(map.remove(id(9)).is_some());
        assert_eq!(map.len(), 7);
        for (pos, &key) in map.keys().iter().enumerate() {
            assert_eq!(map.slots[&key].pos, pos);
            assert_eq!(map.get(key), Some(&key.get()));
        }
    }

    #[test]
    fn insert_of_a_present_key_keeps_the_old_value() {
        let mut map = DenseMap::default();
        assert!(map.insert(id(1), "first"));
        assert!(!map.insert(id(1), "second"));
        assert_eq!(map.get(id(1)), Some(&"first"));
        assert_eq!(map.len(), 1);
    }

    #[test]
    fn removing_an_absent_key_changes_nothing() {
        let mut map = DenseMap::default();
        map.insert(id(1), ());
        assert_eq!(map.remove(id(2)), None);
        assert_eq!(map.keys(), &[id(1)]);
    }
}
