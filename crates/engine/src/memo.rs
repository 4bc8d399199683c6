//! What pass one of a file masked, kept for pass two (up to a memory
//! budget), so that pass two rebuilds each masked line from its variable
//! spans and key instead of masking it again.
//!
//! Invariant: a kept entry is used only for the same content (its 64-bit
//! hash is checked); any other entry, or one past the budget, is masked
//! as usual. The rebuilt line equals the masked one
//! ([`logsieve_template::rebuild_masked`]), so output does not depend on
//! what was kept.

use logsieve_template::{MaskedLine, Span};

/// Bytes of kept entries and spans at most (about 600,000 lines of 150
/// bytes with ten variables each); later entries are masked again.
pub(crate) const BUDGET_BYTES: usize = 64 << 20;

#[derive(Debug, Clone, Copy)]
struct Entry {
    /// xxh3-64 of the content masked.
    hash: u64,
    key: u128,
    /// One past this entry's last span in `spans`.
    spans_end: u32,
}

/// Pass one's masked entries, in input order.
#[derive(Debug, Default)]
pub(crate) struct Memo {
    entries: Vec<Entry>,
    spans: Vec<Span>,
    budget: usize,
    /// The budget ran out: no entry after the last kept one is kept.
    full: bool,
}

/// One kept entry, for [`Memo::get`]'s caller.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Kept<'a> {
    hash: u64,
    key: u128,
    spans: &'a [Span],
}

impl Kept<'_> {
    /// Rebuilds `out` when `content` is the content kept; false otherwise
    /// (the caller masks).
    pub(crate) fn rebuild(&self, content: &str, out: &mut MaskedLine) -> bool {
        if xxhash_rust::xxh3::xxh3_64(content.as_bytes()) != self.hash {
            return false;
        }
        logsieve_template::rebuild_masked(content, self.spans, self.key, out)
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
        !self.full
            && self.keep(
                xxhash_rust::xxh3::xxh3_64(content.as_bytes()),
                masked.key,
                &masked.vars,
            )
    }

    /// Appends `part` (the next entries, kept by a worker) while the budget
    /// lasts.
    pub(crate) fn append(&mut self, part: &MemoPart) {
        let mut start = 0;
        for e in &part.entries {
            let end = e.spans_end as usize;
            if self.full || !self.keep(e.hash, e.key, &part.spans[start..end]) {
                return;
            }
            start = end;
        }
    }

    /// Keeps one entry if the budget allows; else marks the memo full.
    fn keep(&mut self, hash: u64, key: u128, spans: &[Span]) -> bool {
        let bytes = (self.entries.len() + 1) * std::mem::size_of::<Entry>()
            + (self.spans.len() + spans.len()) * std::mem::size_of::<Span>();
        if bytes > self.budget || self.spans.len() + spans.len() > u32::MAX as usize {
            self.full = true;
            return false;
        }
        self.spans.extend_from_slice(spans);
        self.entries.push(Entry {
            hash,
            key,
            spans_end: self.spans.len() as u32,
        });
        true
    }

    /// Entry `n` (0-based, in input order), when kept.
    pub(crate) fn get(&self, n: u64) -> Option<Kept<'_>> {
        let n = usize::try_from(n).ok()?;
        let e = self.entries.get(n)?;
        let start = match n {
            0 => 0,
            _ => self.entries[n - 1].spans_end as usize,
        };
        Some(Kept {
            hash: e.hash,
            key: e.key,
            spans: &self.spans[start..e.spans_end as usize],
        })
    }

    /// Bytes held by the entries and spans kept.
    pub(crate) fn bytes(&self) -> usize {
        self.entries.len() * std::mem::size_of::<Entry>() + self.spans.len() * std::mem::size_of::<Span>()
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
    spans: Vec<Span>,
}

impl MemoPart {
    /// Keeps the next entry of the batch.
    pub(crate) fn push(&mut self, content: &str, masked: &MaskedLine) {
        self.spans.extend_from_slice(&masked.vars);
        self.entries.push(Entry {
            hash: xxhash_rust::xxh3::xxh3_64(content.as_bytes()),
            key: masked.key,
            spans_end: self.spans.len() as u32,
        });
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
            Memo::with_budget(10 * (std::mem::size_of::<Entry>() + 2 * std::mem::size_of::<Span>()));
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
}
