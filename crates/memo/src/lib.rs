//! The tag table behind logsieve's memos: results of pure functions of
//! bytes (what the masker's rules make of a token, what the prefilter's
//! scans find in a field value) kept for inputs seen before, so that a
//! repeated input costs a hash and a compare instead of the function.
//!
//! A [`Tags`] table is direct-mapped: a hash picks one slot, whose u32 tag
//! (the hash's high half, with a state in its two low bits) says whether
//! the input there was seen once or is kept. An input is only marked the
//! first time and kept the second, so inputs that never repeat (ids,
//! times) cost one hash and one tag write, never a copy. The caller keeps
//! its payload (the input's bytes and the result) in a slot array of the
//! same size.
//!
//! Invariants: a tag only narrows the search. [`Probe::Kept`] means that
//! an input with the same slot and tag was kept there; the caller must
//! compare the kept bytes with the input before using the result, so a
//! hash collision can never change a result. The table has a fixed size,
//! allocated on first use; nothing here allocates afterwards.

/// Where an input stands in a [`Tags`] table (the slot's index).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Probe {
    /// Something was kept under this tag: compare its bytes, then replay.
    Kept(usize),
    /// Seen once under this tag: compute, then keep (see [`Tags::keep`]).
    SeenOnce(usize),
    /// Not seen (or pushed out since): compute, then mark (see
    /// [`Tags::mark`]).
    New(usize),
}

const STATE: u32 = 3;
const SEEN_ONCE: u32 = 1;
const KEPT: u32 = 2;

/// The tag of `hash` in `state`.
#[inline]
fn tag(hash: u64, state: u32) -> u32 {
    ((hash >> 32) as u32 & !STATE) | state
}

/// A direct-mapped table of slot tags.
#[derive(Debug, Clone)]
pub struct Tags {
    /// Slot count (a power of two), 0 for none.
    size: usize,
    /// Per slot: 0 (empty) or a tag.
    tags: Vec<u32>,
}

impl Tags {
    /// A table of `slots` slots (rounded up to a power of two); 0: off
    /// (every probe is [`Probe::New`], and nothing need be kept).
    pub fn new(slots: usize) -> Tags {
        Tags {
            size: if slots == 0 { 0 } else { slots.next_power_of_two() },
            tags: Vec::new(),
        }
    }

    /// Whether the table is on.
    #[inline]
    pub fn is_on(&self) -> bool {
        self.size != 0
    }

    /// Its slot count (a power of two; 0 when off).
    pub fn slots(&self) -> usize {
        self.size
    }

    /// The hash of an input (and a seed, for inputs that are a pair).
    #[inline]
    pub fn hash(bytes: &[u8], seed: u64) -> u64 {
        xxhash_rust::xxh3::xxh3_64_with_seed(bytes, seed)
    }

    /// Where the input of hash `hash` stands. Allocates the table on
    /// first use. Call only when [`Tags::is_on`].
    #[inline]
    pub fn probe(&mut self, hash: u64) -> Probe {
        if self.tags.is_empty() {
            self.tags = vec![0; self.size];
        }
        let i = hash as usize & (self.size - 1);
        let t = self.tags[i];
        if t == 0 || (t ^ tag(hash, 0)) & !STATE != 0 {
            Probe::New(i)
        } else if t & STATE == SEEN_ONCE {
            Probe::SeenOnce(i)
        } else {
            Probe::Kept(i)
        }
    }

    /// Marks slot `i` as seen once by the input of hash `hash` (what was
    /// kept there is dropped).
    #[inline]
    pub fn mark(&mut self, i: usize, hash: u64) {
        self.tags[i] = tag(hash, SEEN_ONCE);
    }

    /// Forgets every input (the table stays allocated).
    pub fn clear(&mut self) {
        self.tags.fill(0);
    }

    /// Records that slot `i` now keeps the input of hash `hash` (the
    /// caller has stored its bytes and result in its own slot `i`).
    #[inline]
    pub fn keep(&mut self, i: usize, hash: u64) {
        self.tags[i] = tag(hash, KEPT);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Marked, then kept; another hash in the same slot is new; off is
    /// off; sizes round up.
    #[test]
    fn an_input_is_marked_then_kept_and_other_hashes_are_new() {
        let mut t = Tags::new(5);
        assert_eq!(t.slots(), 8);
        let h = 0x1234_5678_0000_0003u64;
        let Probe::New(i) = t.probe(h) else {
            panic!("empty table")
        };
        assert_eq!(i, 3);
        t.mark(i, h);
        assert_eq!(t.probe(h), Probe::SeenOnce(3));
        t.keep(3, h);
        assert_eq!(t.probe(h), Probe::Kept(3));
        // Same slot, other high bits: new, and marking it drops the kept one.
        let other = h ^ (1 << 40);
        assert_eq!(t.probe(other), Probe::New(3));
        t.mark(3, other);
        assert_eq!(t.probe(h), Probe::New(3));
        // A zero hash is a real tag, not an empty slot, once marked.
        t.mark(0, 0);
        assert_eq!(t.probe(0), Probe::SeenOnce(0));
        t.clear();
        assert_eq!(t.probe(h), Probe::New(3));
        assert_eq!(t.probe(0), Probe::New(0));
        assert!(!Tags::new(0).is_on());
        assert_ne!(Tags::hash(b"a", 1), Tags::hash(b"a", 2));
    }
}
