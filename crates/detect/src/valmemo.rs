//! What the field scans found in values seen before.
//!
//! The prefilter looks for each field's needles in the lowercased value of
//! every member that stands for a rule field: a lowercasing and an
//! automaton walk per byte. What it finds is a pure function of the
//! member's path and its text, and events repeat their values (image
//! paths, users, providers, channels, logon types). So the lists a (path,
//! text) pair unlocked are kept in a direct-mapped table and replayed when
//! the same pair comes again.
//!
//! Invariants: an entry is used only when its path and text bytes equal
//! the member's (the hash only picks the slot), so a replay unlocks
//! exactly the lists the scans would; a pair seen once is only marked (its
//! tag), one seen twice is kept, so values that never repeat (record ids,
//! times, command lines) cost one hash; the table has a fixed number of
//! fixed-size slots, allocated once (texts over [`MAX_TEXT`] bytes, or that
//! unlock more than [`MAX_HITS`] lists, are never kept), so memory is
//! bounded and a warm table allocates nothing. The table is per
//! [`crate::Scratch`], so per thread: what it holds never changes a
//! result, only its cost.

use logsieve_memo::{Probe, Tags};

/// Slots in the table (a power of two).
const SLOTS: usize = 2048;

/// Texts longer than this are scanned every time.
pub(crate) const MAX_TEXT: usize = 200;

/// Texts whose scans unlock more lists than this are scanned every time.
const MAX_HITS: usize = 32;

/// The table: a tag per slot ([`logsieve_memo::Tags`]) and the kept
/// pairs; allocated on first use.
#[derive(Debug, Clone)]
pub(crate) struct ValueMemo {
    tags: Tags,
    slots: Vec<Slot>,
}

impl Default for ValueMemo {
    fn default() -> Self {
        ValueMemo::with_slots(SLOTS)
    }
}

#[derive(Debug, Clone)]
struct Slot {
    path: u32,
    len: u8,
    nhits: u8,
    text: [u8; MAX_TEXT],
    /// The lists the scans unlocked, in the order they did.
    hits: [u32; MAX_HITS],
}

const EMPTY: Slot = Slot {
    path: 0,
    len: 0,
    nhits: 0,
    text: [0; MAX_TEXT],
    hits: [0; MAX_HITS],
};

impl Slot {
    fn holds(&self, path: u32, text: &[u8]) -> bool {
        self.path == path && &self.text[..self.len as usize] == text
    }
}

impl ValueMemo {
    /// A table of `slots` slots (rounded up to a power of two); 0: none.
    pub(crate) fn with_slots(slots: usize) -> ValueMemo {
        ValueMemo {
            tags: Tags::new(slots),
            slots: Vec::new(),
        }
    }

    /// Whether values are looked up at all.
    #[inline]
    pub(crate) fn is_on(&self) -> bool {
        self.tags.is_on()
    }

    /// The hash of a (path, text) pair.
    #[inline]
    pub(crate) fn hash(path: u32, text: &[u8]) -> u64 {
        Tags::hash(text, u64::from(path))
    }

    /// Where the pair stands.
    #[inline]
    pub(crate) fn lookup(&mut self, path: u32, text: &[u8], hash: u64) -> Probe {
        match self.tags.probe(hash) {
            // Same tag, another pair: treat as new (the slot is then
            // marked for this one).
            Probe::Kept(i) if !self.slots[i].holds(path, text) => Probe::New(i),
            p => p,
        }
    }

    /// Forgets every pair (for another detector: list numbers are its
    /// own).
    pub(crate) fn clear(&mut self) {
        self.tags.clear();
    }

    /// Marks slot `i` as seen once by the pair of hash `hash`.
    #[inline]
    pub(crate) fn mark(&mut self, i: usize, hash: u64) {
        self.tags.mark(i, hash);
    }

    /// The lists slot `i` kept, in the order its scan unlocked them.
    #[inline]
    pub(crate) fn hits(&self, i: usize) -> &[u32] {
        &self.slots[i].hits[..self.slots[i].nhits as usize]
    }

    /// Keeps in slot `i` the pair of hash `hash` and the lists its scan
    /// unlocked, when they fit a slot (else the slot stays marked).
    /// Allocates the slots on first use.
    pub(crate) fn record(&mut self, i: usize, path: u32, text: &[u8], hash: u64, hits: &[u32]) {
        if text.len() > MAX_TEXT || hits.len() > MAX_HITS {
            return;
        }
        if self.slots.is_empty() {
            self.slots = vec![EMPTY; self.tags.slots()];
        }
        self.tags.keep(i, hash);
        let slot = &mut self.slots[i];
        slot.path = path;
        slot.len = text.len() as u8;
        slot.text[..text.len()].copy_from_slice(text);
        slot.nhits = hits.len() as u8;
        slot.hits[..hits.len()].copy_from_slice(hits);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn state(m: &mut ValueMemo, path: u32, text: &[u8], hash: u64) -> &'static str {
        match m.lookup(path, text, hash) {
            Probe::Kept(_) => "kept",
            Probe::SeenOnce(_) => "seen once",
            Probe::New(_) => "new",
        }
    }

    /// A pair is marked, then kept, then replayed; another text or path
    /// under the same hash (forced here) is never taken for it.
    #[test]
    fn pairs_are_marked_then_kept_and_bytes_and_path_decide() {
        let mut m = ValueMemo::with_slots(4);
        let (p, t, h) = (3u32, b"c:\\windows\\cmd.exe".as_slice(), 9u64);
        let Probe::New(i) = m.lookup(p, t, h) else {
            panic!("new table")
        };
        m.mark(i, h);
        let Probe::SeenOnce(i) = m.lookup(p, t, h) else {
            panic!("marked")
        };
        m.record(i, p, t, h, &[5, 2, 5]);
        let Probe::Kept(i) = m.lookup(p, t, h) else {
            panic!("kept")
        };
        assert_eq!(m.hits(i), [5, 2, 5]);
        assert_eq!(state(&mut m, p, b"c:\\windows\\cmd.exf", h), "new");
        assert_eq!(state(&mut m, p + 1, t, h), "new");
        assert_eq!(state(&mut m, p, t, h + (4 << 32)), "new");
        assert_eq!(state(&mut m, p, t, h), "kept");
        // Too many lists, or too long a text: left marked.
        let Probe::New(i) = m.lookup(7, b"x", 1) else {
            panic!("new")
        };
        m.mark(i, 1);
        m.record(i, 7, b"x", 1, &[0; MAX_HITS + 1]);
        assert_eq!(state(&mut m, 7, b"x", 1), "seen once");
        let long = [b'a'; MAX_TEXT + 1];
        m.record(i, 7, &long, 1, &[]);
        assert_eq!(state(&mut m, 7, &long, 1), "seen once");
        assert!(!ValueMemo::with_slots(0).is_on());
    }
}
