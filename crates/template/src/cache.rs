//! The hot-key cache: a fixed-size map from line keys to the template the
//! miner's indices give them, so that a repeated line costs one probe.
//!
//! It is set-associative (sets of [`WAYS`] slots, chosen by the key's high
//! bits) with CLOCK eviction inside a set: a hit through [`KeyCache::touch`]
//! marks its slot, and an insert into a full set takes the first unmarked
//! slot after the set's hand, unmarking the ones it passes. The table starts
//! small and doubles (rehashing what it holds) whenever it is half full,
//! up to its capacity: a miner with a few keys neither allocates nor
//! touches the 1.5 MiB a full default table takes, and one with a few
//! thousand probes a table sized for them. Nothing is allocated per line
//! beyond those doublings (at most log2 of the capacity of them) and
//! nothing is locked.
//! [`KeyCache::get`] is read-only so that `&self` lookups can run on many
//! threads at once.
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
    /// Sets of the table now (0 before the first insert).
    sets: usize,
    /// Sets of the table at its capacity.
    max_sets: usize,
    /// Slots in use.
    held: usize,
    slots: Vec<Slot>,
    hands: Vec<u8>,
}

/// Sets of a new table (at most the capacity's): 64 sets of [`WAYS`], 12 KiB.
const FIRST_SETS: usize = 64;

impl KeyCache {
    /// A cache holding at most `capacity` keys (0: none): `capacity`,
    /// capped at [`MAX_KEYS`], rounded down to whole sets.
    pub(crate) fn new(capacity: usize) -> KeyCache {
        let capacity = capacity.min(MAX_KEYS);
        let ways = capacity.min(WAYS);
        let max_sets = capacity.checked_div(ways).unwrap_or(0);
        KeyCache {
            ways,
            sets: 0,
            max_sets,
            held: 0,
            slots: Vec::new(),
            hands: Vec::new(),
        }
    }

    /// Replaces the table by one of `sets` sets holding what this one held
    /// (a key that finds its new set full is dropped, as an eviction would).
    fn resize(&mut self, sets: usize) {
        let old = std::mem::replace(&mut self.slots, vec![EMPTY; sets * self.ways]);
        self.hands = vec![0; sets];
        self.sets = sets;
        self.held = 0;
        for s in old.into_iter().filter(|s| s.cluster != FREE) {
            let range = self.set_of(u128::from(s.hi) << 64 | u128::from(s.lo));
            if let Some(i) = range.clone().find(|&i| self.slots[i].cluster == FREE) {
                self.slots[i] = s;
                self.held += 1;
            }
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
        if self.max_sets == 0 {
            return;
        }
        if self.slots.is_empty() {
            self.resize(self.max_sets.min(FIRST_SETS));
        } else if self.held * 2 >= self.slots.len() && self.sets < self.max_sets {
            self.resize(self.max_sets.min(self.sets * 2));
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
            self.held += 1;
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
                self.held -= 1;
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
    fn a_cache_sized_for_65536_keys_probed_a_table_of_that_size_for_a_few_thousand() {
        // The table was allocated at its capacity on the first insert, so
        // even a run with 50 keys paid for 1.5 MiB of slots (page faults
        // and zeroing) and 5,000 keys were scattered over all of it. It
        // now grows with what it holds, keeping (almost) every key through
        // the doublings.
        let mut c = KeyCache::new(65_536);
        for i in 0..5_000u64 {
            c.insert(key(i), i as u32);
            assert!(
                c.slots.len() <= 4 * c.held.max(FIRST_SETS * WAYS),
                "{} slots for {}",
                c.slots.len(),
                c.held
            );
        }
        assert_eq!(c.held, c.len());
        let kept = (0..5_000u64).filter(|&i| c.get(key(i)) == Some(i as u32)).count();
        assert!(kept >= 4_950, "kept {kept} of 5,000");
        for i in 5_000..100_000u64 {
            c.insert(key(i), i as u32);
        }
        assert_eq!(c.slots.len(), 65_536, "grows up to its capacity, no further");
        assert!(c.len() <= 65_536);
        assert_eq!(c.held, c.len());
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
