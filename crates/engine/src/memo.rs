//! What pass one of a file masked, kept for pass two (up to a memory
//! budget), so that pass two rebuilds each masked line from its variable
//! spans instead of masking it again.
//!
//! Invariant: a kept entry is used only for the same content (its 64-bit
//! hash is checked); any other entry, or one past the budget, is masked
//! as usual. The rebuilt line equals the masked one, key included
//! ([`logsieve_template::rebuild_masked`]), so output does not depend on
//! what was kept.
//!
//! An entry is 12 bytes and a span 4 (two `u16`: contents of up to 65,535
//! bytes; a longer content's entry is marked not kept). The key is not
//! kept: the rebuild hashes the masked text it writes, as masking does.

use logsieve_template::{MaskedLine, Span};

/// Bytes of kept entries and spans at most (about 1.4 million lines of
/// 150 bytes with eight variables each); later entries are masked again.
pub(crate) const BUDGET_BYTES: usize = 64 << 20;

/// The top bit of [`Entry::spans_end`]: the entry keeps nothing (its
/// content was longer than a `u16` span can reach).
const NOT_KEPT: u32 = 1 << 31;

/// One line's entry: the xxh3-64 of its content (two halves, so that an
/// entry is 12 bytes) and one past its last span in the spans kept, with
/// [`NOT_KEPT`].
#[derive(Debug, Clone, Copy)]
struct Entry {
    hash: [u32; 2],
    spans_end: u32,
}

impl Entry {
    fn new(hash: u64, spans_end: usize, flag: u32) -> Entry {
        Entry {
            hash: [hash as u32, (hash >> 32) as u32],
            spans_end: spans_end as u32 | flag,
        }
    }

    fn hash(&self) -> u64 {
        u64::from(self.hash[0]) | u64::from(self.hash[1]) << 32
    }

    /// One past its last span.
    fn end(&self) -> usize {
        (self.spans_end & !NOT_KEPT) as usize
    }

    fn flag(&self) -> u32 {
        self.spans_end & NOT_KEPT
    }
}

/// A variable span as kept: start and end, each below 2^16.
type Short = [u16; 2];

fn short(v: &Span) -> Short {
    [v.start as u16, v.end as u16]
}

/// The spans of `content` to keep and its entry's flag: none and
/// [`NOT_KEPT`] when the content is longer than a `u16` reaches.
fn to_keep<'a>(content: &str, vars: &'a [Span]) -> (&'a [Span], u32) {
    if content.len() <= u16::MAX as usize {
        (vars, 0)
    } else {
        (&[], NOT_KEPT)
    }
}

/// Pass one's masked entries, in input order.
#[derive(Debug, Default)]
pub(crate) struct Memo {
    entries: Vec<Entry>,
    spans: Vec<Short>,
    budget: usize,
    /// The budget ran out: no entry after the last kept one is kept.
    full: bool,
}

/// One kept entry, for [`Memo::get`]'s caller.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Kept<'a> {
    hash: u64,
    spans: &'a [Short],
}

impl Kept<'_> {
    /// Rebuilds `out` when `content` is the content kept; false otherwise
    /// (the caller masks).
    pub(crate) fn rebuild(&self, content: &str, out: &mut MaskedLine) -> bool {
        if xxhash_rust::xxh3::xxh3_64(content.as_bytes()) != self.hash {
            return false;
        }
        let spans = self.spans.iter().map(|&[s, e]| Span {
            start: u32::from(s),
            end: u32::from(e),
        });
        logsieve_template::rebuild_masked(content, spans, out)
    }
}

impl Memo {
    /// An empty memo that keeps up to `budget` bytes.
    pub(crate) fn with_budget(budget: usize) -> Memo {
        Memo {
            budget,
            ..Memo::default()
        }
    }

    /// Keeps the next entry: `content` masked into `masked`. Returns false
    /// (keeping nothing more) once the budget is spent.
    pub(crate) fn push(&mut self, content: &str, masked: &MaskedLine) -> bool {
        if self.full {
            return false;
        }
        let (vars, flag) = to_keep(content, &masked.vars);
        let hash = xxhash_rust::xxh3::xxh3_64(content.as_bytes());
        self.keep(hash, vars.len(), vars.iter().map(short), flag)
    }

    /// Appends `part` (the next entries, kept by a worker) while the budget
    /// lasts.
    pub(crate) fn append(&mut self, part: &MemoPart) {
        let mut start = 0;
        for e in &part.entries {
            let spans = &part.spans[start..e.end()];
            if self.full || !self.keep(e.hash(), spans.len(), spans.iter().copied(), e.flag()) {
                return;
            }
            start = e.end();
        }
    }

    /// Keeps one entry (its `n` spans) if the budget allows; else marks
    /// the memo full.
    fn keep(&mut self, hash: u64, n: usize, spans: impl Iterator<Item = Short>, flag: u32) -> bool {
        let bytes = (self.entries.len() + 1) * std::mem::size_of::<Entry>()
            + (self.spans.len() + n) * std::mem::size_of::<Short>();
        if bytes > self.budget || self.spans.len() + n >= NOT_KEPT as usize {
            self.full = true;
            return false;
        }
        self.spans.extend(spans);
        self.entries.push(Entry::new(hash, self.spans.len(), flag));
        true
    }

    /// Entry `n` (0-based, in input order), when kept.
    pub(crate) fn get(&self, n: u64) -> Option<Kept<'_>> {
        let n = usize::try_from(n).ok()?;
        let e = self.entries.get(n)?;
        if e.flag() != 0 {
            return None;
        }
        let start = match n {
            0 => 0,
            _ => self.entries[n - 1].end(),
        };
        Some(Kept {
            hash: e.hash(),
            spans: &self.spans[start..e.end()],
        })
    }

    /// Bytes held by the entries and spans kept.
    pub(crate) fn bytes(&self) -> usize {
        self.entries.len() * std::mem::size_of::<Entry>() + self.spans.len() * std::mem::size_of::<Short>()
    }

    /// Entries kept.
    pub(crate) fn len(&self) -> usize {
        self.entries.len()
    }

    /// Whether the budget ran out (nothing more is kept).
    pub(crate) fn is_full(&self) -> bool {
        self.full || self.budget == 0
    }
}

/// Entries kept by one worker for one batch, appended to the [`Memo`] in
/// input order.
#[derive(Debug, Default)]
pub(crate) struct MemoPart {
    entries: Vec<Entry>,
    spans: Vec<Short>,
}

impl MemoPart {
    /// Keeps the next entry of the batch.
    pub(crate) fn push(&mut self, content: &str, masked: &MaskedLine) {
        let (vars, flag) = to_keep(content, &masked.vars);
        self.spans.extend(vars.iter().map(short));
        let hash = xxhash_rust::xxh3::xxh3_64(content.as_bytes());
        self.entries.push(Entry::new(hash, self.spans.len(), flag));
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use logsieve_template::mask_line;

    fn masked(s: &str) -> MaskedLine {
        let mut m = MaskedLine::default();
        mask_line(s, &mut m);
        m
    }

    #[test]
    fn kept_entries_rebuild_their_own_content_only() {
        let lines = ["a 1 b 2", "", "x=7 y=ab12", "no vars here"];
        let mut memo = Memo::with_budget(BUDGET_BYTES);
        for l in lines {
            assert!(memo.push(l, &masked(l)));
        }
        let mut out = MaskedLine::default();
        for (n, l) in lines.iter().enumerate() {
            let k = memo.get(n as u64).expect("kept");
            assert!(k.rebuild(l, &mut out));
            let m = masked(l);
            assert_eq!(
                (out.masked.as_str(), &out.vars, out.key),
                (m.masked.as_str(), &m.vars, m.key)
            );
            // Another content: not rebuilt from this entry.
            assert!(!k.rebuild("something else 9", &mut out));
        }
        assert!(memo.get(lines.len() as u64).is_none());
    }

    #[test]
    fn the_budget_stops_keeping_and_parts_append_in_order() {
        let lines: Vec<String> = (0..100).map(|i| format!("line {i} at 10.0.0.{i}")).collect();
        // Room for a few entries only.
        let mut memo =
            Memo::with_budget(10 * (std::mem::size_of::<Entry>() + 2 * std::mem::size_of::<Short>()));
        let (mut a, mut b) = (MemoPart::default(), MemoPart::default());
        for (i, l) in lines.iter().enumerate() {
            if i < 5 { &mut a } else { &mut b }.push(l, &masked(l));
        }
        memo.append(&a);
        memo.append(&b);
        assert_eq!(memo.len(), 10);
        assert!(!memo.push(&lines[0], &masked(&lines[0])));
        let mut out = MaskedLine::default();
        for (n, l) in lines.iter().enumerate().take(10) {
            assert!(memo.get(n as u64).expect("kept").rebuild(l, &mut out), "{l}");
            assert_eq!(out.masked, masked(l).masked);
        }
        assert!(memo.get(10).is_none());
    }

    /// A content longer than a `u16` span reaches keeps an entry that says
    /// "not kept" (pass two masks it), and the entries after it still line
    /// up with their lines, pushed one by one or appended from parts.
    #[test]
    fn a_content_past_u16_spans_is_masked_again_and_the_rest_still_rebuilds() {
        let long = format!("start {} end 42", "x".repeat(70_000));
        let lines = ["a 1", long.as_str(), "b 2 c 3", "d=4"];
        let mut pushed = Memo::with_budget(BUDGET_BYTES);
        let mut appended = Memo::with_budget(BUDGET_BYTES);
        let mut part = MemoPart::default();
        for l in lines {
            assert!(pushed.push(l, &masked(l)));
            part.push(l, &masked(l));
        }
        appended.append(&part);
        for memo in [&pushed, &appended] {
            assert_eq!(memo.len(), lines.len());
            assert!(memo.get(1).is_none(), "the long line is not kept");
            let mut out = MaskedLine::default();
            for n in [0, 2, 3] {
                let m = masked(lines[n]);
                assert!(memo.get(n as u64).expect("kept").rebuild(lines[n], &mut out));
                assert_eq!((&out.masked, &out.vars, out.key), (&m.masked, &m.vars, m.key));
            }
        }
    }

    /// An entry and a span as small as the budget's arithmetic assumes.
    #[test]
    fn entries_are_twelve_bytes_and_spans_four() {
        assert_eq!(std::mem::size_of::<Entry>(), 12);
        assert_eq!(std::mem::size_of::<Short>(), 4);
    }
}
