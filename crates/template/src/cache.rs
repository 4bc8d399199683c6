//! The hot-key cache: a fixed-size map from line keys to the template the
//! miner's indices give them, so that a repeated line costs one probe.
//!
//! It is set-associative (sets of [`WAYS`] slots, chosen by the key's high
//! bits) with CLOCK eviction inside a set: a hit through [`KeyCache::touch`]
//! marks its slot, and an insert into a full set takes the first unmarked
//! slot after the set's hand, unmarking the ones it passes. The slots are
//! allocated once, on the first insert; nothing is allocated per line and
//! nothing is locked. [`KeyCache::get`] is read-only so that `&self`
//! lookups can run on many threads at once.
//!
//! The cache is a memo only: an entry holds what the indices answer for the
//! key (an answer that never changes, see the miner's module doc), so a
//! miss, an eviction or a capacity of 0 changes the cost, never the result.

/// Slots per set.
const WAYS: usize = 8;
/// The most keys a cache holds (384 MiB of slots), whatever is asked.
pub(crate) const MAX_KEYS: usize = 1 << 24;
/// Marks a free slot.
const FREE: u32 = u32::MAX;

#[derive(Debug, Clone, Copy)]
struct Slot {
    hi: u64,
    lo: u64,
    cluster: u32,
    referenced: bool,
}

const EMPTY: Slot = Slot {
    hi: 0,
    lo: 0,
    cluster: FREE,
    referenced: false,
};

/// See the module documentation.
#[derive(Debug, Clone, Default)]
pub(crate) struct KeyCache {
    ways: usize,
    sets: usize,
    slots: Vec<Slot>,
    hands: Vec<u8>,
}

impl KeyCache {
    /// A cache holding at most `capacity` keys (0: none): `capacity`,
    /// capped at [`MAX_KEYS`], rounded down to whole sets.
    pub(crate) fn new(capacity: usize) -> KeyCache {
        let capacity = capacity.min(MAX_KEYS);
        let ways = capacity.min(WAYS);
        let sets = capacity.checked_div(ways).unwrap_or(0);
        KeyCache {
            ways,
            sets,
            slots: Vec::new(),
            hands: Vec::new(),
        }
    }

    /// The slots of the key's set (empty before the first insert).
    fn set_of(&self, key: u128) -> std::ops::Range<usize> {
        if self.slots.is_empty() {
            return 0..0;
        }
        // Lemire's multiply-shift maps the high bits onto 0..sets.
        let s = ((u128::from((key >> 64) as u64) * self.sets as u128) >> 64) as usize;
        s * self.ways..(s + 1) * self.ways
    }

    fn find(&self, key: u128) -> Option<usize> {
        let (hi, lo) = ((key >> 64) as u64, key as u64);
        self.set_of(key)
            .find(|&i| self.slots[i].cluster != FREE && self.slots[i].hi == hi && self.slots[i].lo == lo)
    }

    /// The cluster held for `key`, without marking it.
    pub(crate) fn get(&self, key: u128) -> Option<u32> {
        self.find(key).map(|i| self.slots[i].cluster)
    }

    /// The cluster held for `key`, marking it recently used.
    pub(crate) fn touch(&mut self, key: u128) -> Option<u32> {
        let i = self.find(key)?;
        self.slots[i].referenced = true;
        Some(self.slots[i].cluster)
    }

    /// Holds `cluster` for `key`, evicting a key of the same set if full.
    pub(crate) fn insert(&mut self, key: u128, cluster: u32) {
        if self.sets == 0 {
            return;
        }
        if self.slots.is_empty() {
            self.slots = vec![EMPTY; self.sets * self.ways];
            self.hands = vec![0; self.sets];
        }
        let range = self.set_of(key);
        let (hi, lo) = ((key >> 64) as u64, key as u64);
        let new = Slot {
            hi,
            lo,
            cluster,
            referenced: false,
        };
        if let Some(i) = self.find(key) {
            self.slots[i].cluster = cluster;
            return;
        }
        if let Some(i) = range.clone().find(|&i| self.slots[i].cluster == FREE) {
            self.slots[i] = new;
            return;
        }
        let set = range.start / self.ways;
        let mut hand = usize::from(self.hands[set]);
        // At most two sweeps: the first unmarks every slot it passes.
        loop {
            let i = range.start + hand;
            hand = (hand + 1) % self.ways;
            if self.slots[i].referenced {
                self.slots[i].referenced = false;
            } else {
                self.slots[i] = new;
                break;
            }
        }
        self.hands[set] = hand as u8;
    }

    /// Renumbers the clusters held: `map[old]` is the new number, or
    /// `u32::MAX` (a cluster removed, or one past the end of `map`) to
    /// forget the keys that held it. Costs one pass over the slots.
    pub(crate) fn remap(&mut self, map: &[u32]) {
        for s in &mut self.slots {
            if s.cluster == FREE {
                continue;
            }
            let to = map.get(s.cluster as usize).copied().unwrap_or(FREE);
            if to == FREE {
                *s = EMPTY;
            } else {
                s.cluster = to;
            }
        }
    }

    /// The clusters held, for consistency checks.
    #[cfg(test)]
    pub(crate) fn held(&self) -> impl Iterator<Item = u32> + '_ {
        self.slots.iter().filter(|s| s.cluster != FREE).map(|s| s.cluster)
    }

    /// Keys held now.
    #[cfg(test)]
    pub(crate) fn len(&self) -> usize {
        self.slots.iter().filter(|s| s.cluster != FREE).count()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(i: u64) -> u128 {
        // Spread over the high bits, which choose the set.
        u128::from(i.wrapping_mul(0x9e37_79b9_7f4a_7c15)) << 64 | u128::from(i)
    }

    #[test]
    fn holds_at_most_capacity_and_keeps_what_it_holds_right() {
        for cap in [0usize, 1, 3, 16, 100] {
            let mut c = KeyCache::new(cap);
            for i in 0..1000u64 {
                c.insert(key(i), i as u32);
                assert!(c.len() <= cap, "capacity {cap}");
            }
            for i in 0..1000u64 {
                if let Some(v) = c.get(key(i)) {
                    assert_eq!(v, i as u32);
                }
            }
            if cap > 0 {
                assert!(c.len() > 0);
                // The last key inserted is always there.
                assert_eq!(c.get(key(999)), Some(999));
            }
        }
    }

    #[test]
    fn clock_spares_touched_keys() {
        let mut c = KeyCache::new(2);
        c.insert(key(1), 1);
        c.insert(key(2), 2);
        assert_eq!(c.touch(key(1)), Some(1));
        c.insert(key(3), 3);
        assert_eq!(c.get(key(1)), Some(1), "the touched key survives");
        assert_eq!(c.get(key(2)), None, "the untouched one goes");
        assert_eq!(c.get(key(3)), Some(3));
        // Updating a held key does not take a second slot.
        c.insert(key(3), 30);
        assert_eq!(c.get(key(3)), Some(30));
        assert_eq!(c.len(), 2);
    }
}
