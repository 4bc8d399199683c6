//! What the masker's general rules made of tokens seen before.
//!
//! Masking a token is a pure function of its bytes (`mask_token` reads
//! nothing outside `[start, end)`), and the tokens that need the general
//! rules (class names, `key=value` pairs, paths, host names) repeat: in the
//! Loghub logs 55–96% of them were seen among the last few thousand. So
//! the result of those rules (the masked text and the variable spans,
//! relative to the token) is kept in a direct-mapped table keyed by the
//! token's bytes and replayed when the same bytes come again.
//!
//! Invariants: an entry is used only when its stored bytes equal the
//! token's (the hash only picks the slot), so a replay writes exactly what
//! the rules would; the table has a fixed number of slots, each reusing its
//! buffers, so memory is bounded (slots × the longest token kept) and
//! warm masking allocates nothing. The table is per [`super::MaskedLine`],
//! so per thread: what it holds never changes a result, only its cost.

use super::{MaskedToken, Span, VAR};

/// Slots in the table unless [`super::MaskedLine::with_token_memo`] says
/// otherwise (a power of two).
pub(super) const DEFAULT_SLOTS: usize = 4096;

/// Tokens longer than this are masked by the rules every time (rare; a
/// slot would otherwise hold them).
pub(super) const MAX_TOKEN: usize = 192;

/// The table: empty until the first token is kept.
#[derive(Debug, Clone)]
pub(super) struct TokenMemo {
    /// Slot count (a power of two), 0 for no memo.
    size: usize,
    slots: Vec<Slot>,
}

impl Default for TokenMemo {
    fn default() -> Self {
        TokenMemo::with_slots(DEFAULT_SLOTS)
    }
}

#[derive(Debug, Default, Clone)]
struct Slot {
    /// The hash of the token kept or marked.
    hash: u64,
    /// Whether the slot was ever marked (a zero hash is then a token's).
    marked: bool,
    /// The token's bytes; empty while it was seen once only (tokens are
    /// never empty).
    token: Vec<u8>,
    /// The masked text of the token.
    masked: String,
    /// Variable spans relative to the token's first byte.
    vars: Vec<(u32, u32)>,
}

impl TokenMemo {
    /// A table of `slots` slots (rounded up to a power of two); 0: none.
    pub(super) fn with_slots(slots: usize) -> TokenMemo {
        TokenMemo {
            size: if slots == 0 { 0 } else { slots.next_power_of_two() },
            slots: Vec::new(),
        }
    }

    /// Whether tokens are looked up at all.
    #[inline]
    pub(super) fn is_on(&self) -> bool {
        self.size != 0
    }

    /// The hash that picks a token's slot.
    #[inline]
    pub(super) fn hash(token: &[u8]) -> u64 {
        xxhash_rust::xxh3::xxh3_64(token)
    }

    /// Where `token` stands in the table. Allocates the table on first
    /// use.
    #[inline]
    pub(super) fn lookup(&mut self, token: &[u8], hash: u64) -> Lookup {
        if self.slots.is_empty() {
            self.slots = vec![Slot::default(); self.size];
        }
        let i = hash as usize & (self.size - 1);
        let slot = &self.slots[i];
        if !slot.marked || slot.hash != hash {
            Lookup::New(i)
        } else if slot.token.is_empty() {
            Lookup::SeenOnce(i)
        } else if slot.token == token {
            Lookup::Kept(i)
        } else {
            // Same hash, other bytes: treat as new (the slot is marked for
            // this token).
            Lookup::New(i)
        }
    }

    /// Marks slot `i` as seen once by the token of hash `hash`, dropping
    /// what it held.
    #[inline]
    pub(super) fn mark(&mut self, i: usize, hash: u64) {
        let slot = &mut self.slots[i];
        slot.hash = hash;
        slot.marked = true;
        slot.token.clear();
    }

    /// Writes what slot `i` kept for its token, which starts at content
    /// byte `start`, to the line's buffers, as the rules would write it.
    #[inline]
    pub(super) fn replay(
        &self,
        i: usize,
        start: usize,
        masked: &mut String,
        vars: &mut Vec<Span>,
        tokens: &mut Vec<MaskedToken>,
    ) {
        let slot = &self.slots[i];
        let (mstart, vstart) = (masked.len(), vars.len());
        masked.push_str(&slot.masked);
        let base = start as u32;
        vars.extend(slot.vars.iter().map(|&(s, e)| Span {
            start: base + s,
            end: base + e,
        }));
        tokens.push(MaskedToken {
            raw: Span::new(start, start + slot.token.len()),
            masked: Span::new(mstart, masked.len()),
            vars_start: vstart as u32,
            vars_end: vars.len() as u32,
        });
    }

    /// Keeps in slot `i` what the rules wrote for `token` (starting at
    /// content byte `start`): its masked text and its variable spans.
    pub(super) fn record(&mut self, i: usize, token: &[u8], start: usize, masked: &str, vars: &[Span]) {
        let slot = &mut self.slots[i];
        debug_assert!(masked.len() >= VAR.len() * vars.len());
        slot.token.clear();
        slot.token.extend_from_slice(token);
        slot.masked.clear();
        slot.masked.push_str(masked);
        slot.vars.clear();
        let base = start as u32;
        slot.vars
            .extend(vars.iter().map(|v| (v.start - base, v.end - base)));
    }
}

/// Where a token stands in the table (the slot's index).
pub(super) enum Lookup {
    /// Kept: replay it.
    Kept(usize),
    /// Seen once before (its hash marks the slot): mask it by the rules and
    /// keep the result.
    SeenOnce(usize),
    /// Not seen (or pushed out since): mask it by the rules and mark the
    /// slot.
    New(usize),
}

#[cfg(test)]
mod tests {
    use super::*;

    fn state(m: &mut TokenMemo, token: &[u8], hash: u64) -> &'static str {
        match m.lookup(token, hash) {
            Lookup::Kept(_) => "kept",
            Lookup::SeenOnce(_) => "seen once",
            Lookup::New(_) => "new",
        }
    }

    /// A token is marked the first time, kept the second, replayed after;
    /// another token of the same hash (a collision, forced here) is never
    /// taken for it; a table of no slot is off.
    #[test]
    fn tokens_are_marked_then_kept_then_replayed_and_bytes_decide() {
        let mut m = TokenMemo::with_slots(4);
        let (a, h) = (b"key=v1".as_slice(), 7u64);
        let Lookup::New(i) = m.lookup(a, h) else {
            panic!("new table")
        };
        m.mark(i, h);
        let Lookup::SeenOnce(i) = m.lookup(a, h) else {
            panic!("marked")
        };
        let vars = [Span::new(14, 16)];
        m.record(i, a, 10, "key=<*>", &vars);
        let Lookup::Kept(i) = m.lookup(a, h) else {
            panic!("kept")
        };
        let (mut masked, mut vs, mut toks) = (String::from("x "), Vec::new(), Vec::new());
        m.replay(i, 100, &mut masked, &mut vs, &mut toks);
        assert_eq!(masked, "x key=<*>");
        assert_eq!(vs, [Span::new(104, 106)]);
        assert_eq!(toks[0].raw, Span::new(100, 106));
        assert_eq!(
            (toks[0].masked, toks[0].vars_start, toks[0].vars_end),
            (Span::new(2, 9), 0, 1)
        );
        // The same hash with other bytes, and other hashes in the slot.
        assert_eq!(state(&mut m, b"key=v2", h), "new");
        assert_eq!(state(&mut m, a, h + 4), "new");
        assert_eq!(state(&mut m, a, h), "kept");
        assert!(!TokenMemo::with_slots(0).is_on());
        assert_eq!(TokenMemo::with_slots(5).size, 8);
    }
}
