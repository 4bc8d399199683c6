//! What the masker's general rules made of tokens seen before.
//!
//! Masking a token is a pure function of its bytes (`mask_token` reads
//! nothing outside `[start, end)`), and the tokens that need the general
//! rules (class names, `key=value` pairs, paths, host names) repeat: in the
//! Loghub logs 55–96% of them were seen among the last few thousand. So
//! the result of those rules (the variable spans, relative to the token)
//! is kept in a direct-mapped table keyed by the
//! token's bytes and replayed when the same bytes come again.
//!
//! A token's masked text is its bytes with each variable span replaced by
//! `<*>`, so a slot keeps only the token's bytes and its spans; a replay
//! copies the literal runs from the line being masked.
//!
//! Invariants: an entry is used only when its stored bytes equal the
//! token's (the hash only picks the slot), so a replay writes exactly what
//! the rules would; the table has a fixed number of fixed-size slots,
//! allocated once, so memory is bounded and masking allocates nothing for
//! it after the first token. The table is per [`super::MaskedLine`], so
//! per thread: what it holds never changes a result, only its cost.

use super::{MaskedToken, Span, VAR};
use logsieve_memo::{Probe, Tags};

/// Slots in the table unless [`super::MaskedLine::with_token_memo`] says
/// otherwise (a power of two).
pub(super) const DEFAULT_SLOTS: usize = 2048;

/// Bytes a slot holds: the token, then two bytes per variable.
const SLOT_BYTES: usize = 126;

/// Tokens longer than this are masked by the rules every time (rare; 99.6%
/// of the tokens that need the general rules in the Loghub logs are
/// shorter).
pub(super) const MAX_TOKEN: usize = SLOT_BYTES;

/// The table: a tag per slot ([`logsieve_memo::Tags`]), looked at for
/// every token that needs the general rules, and what a kept token masks
/// to, looked at only for those; allocated on first use.
#[derive(Debug, Clone)]
pub(super) struct TokenMemo {
    tags: Tags,
    slots: Vec<Slot>,
}

impl Default for TokenMemo {
    fn default() -> Self {
        TokenMemo::with_slots(DEFAULT_SLOTS)
    }
}

/// One kept token: its bytes, then its variable spans (relative to the
/// token, a byte each for start and end).
#[derive(Debug, Clone)]
struct Slot {
    len: u8,
    vars: u8,
    bytes: [u8; SLOT_BYTES],
}

const EMPTY: Slot = Slot {
    len: 0,
    vars: 0,
    bytes: [0; SLOT_BYTES],
};

impl Slot {
    fn token(&self) -> &[u8] {
        &self.bytes[..self.len as usize]
    }

    fn spans(&self) -> impl Iterator<Item = (usize, usize)> + '_ {
        let at = self.len as usize;
        self.bytes[at..at + 2 * self.vars as usize]
            .chunks_exact(2)
            .map(|c| (c[0] as usize, c[1] as usize))
    }
}

impl TokenMemo {
    /// A table of `slots` slots (rounded up to a power of two); 0: none.
    pub(super) fn with_slots(slots: usize) -> TokenMemo {
        TokenMemo {
            tags: Tags::new(slots),
            slots: Vec::new(),
        }
    }

    /// Whether tokens are looked up at all.
    #[inline]
    pub(super) fn is_on(&self) -> bool {
        self.tags.is_on()
    }

    /// The hash that picks a token's slot.
    #[inline]
    pub(super) fn hash(token: &[u8]) -> u64 {
        Tags::hash(token, 0)
    }

    /// Where `token` stands in the table.
    #[inline]
    pub(super) fn lookup(&mut self, token: &[u8], hash: u64) -> Probe {
        match self.tags.probe(hash) {
            // Same tag, other bytes: treat as new (the slot is then
            // marked for this token).
            Probe::Kept(i) if self.slots[i].token() != token => Probe::New(i),
            p => p,
        }
    }

    /// Marks slot `i` as seen once by the token of hash `hash`, dropping
    /// what it kept.
    #[inline]
    pub(super) fn mark(&mut self, i: usize, hash: u64) {
        self.tags.mark(i, hash);
    }

    /// Writes what slot `i` kept for its token, found at `start` in
    /// `content`, to the line's buffers, as the rules would write it: the
    /// token's text with each variable replaced by `<*>`.
    #[inline]
    pub(super) fn replay(
        &self,
        i: usize,
        content: &str,
        start: usize,
        masked: &mut String,
        vars: &mut Vec<Span>,
        tokens: &mut Vec<MaskedToken>,
    ) {
        let slot = &self.slots[i];
        let end = start + slot.len as usize;
        let (mstart, vstart) = (masked.len(), vars.len());
        let mut at = start;
        for (s, e) in slot.spans() {
            let (s, e) = (start + s, start + e);
            masked.push_str(&content[at..s]);
            masked.push_str(VAR);
            vars.push(Span::new(s, e));
            at = e;
        }
        masked.push_str(&content[at..end]);
        tokens.push(MaskedToken {
            raw: Span::new(start, end),
            masked: Span::new(mstart, masked.len()),
            vars_start: vstart as u32,
            vars_end: vars.len() as u32,
        });
    }

    /// Keeps in slot `i` the token (which starts at content byte `start`
    /// and has hash `hash`) and the variable spans the rules gave it,
    /// when they fit a slot; else leaves it marked. Allocates the slots on
    /// first use.
    /// `masked` is what the rules wrote for the token, checked in debug
    /// builds against what a replay will write.
    pub(super) fn record(
        &mut self,
        i: usize,
        token: &[u8],
        hash: u64,
        start: usize,
        masked: &str,
        vars: &[Span],
    ) {
        debug_assert_eq!(masked.as_bytes(), replayed(token, start, vars), "{token:?}");
        let need = token.len() + 2 * vars.len();
        if need > SLOT_BYTES || vars.len() > u8::MAX as usize {
            return;
        }
        if self.slots.is_empty() {
            self.slots = vec![EMPTY; self.tags.slots()];
        }
        self.tags.keep(i, hash);
        let slot = &mut self.slots[i];
        slot.len = token.len() as u8;
        slot.vars = vars.len() as u8;
        slot.bytes[..token.len()].copy_from_slice(token);
        let base = start as u32;
        for (k, v) in vars.iter().enumerate() {
            // Within the token, so below SLOT_BYTES.
            slot.bytes[token.len() + 2 * k] = (v.start - base) as u8;
            slot.bytes[token.len() + 2 * k + 1] = (v.end - base) as u8;
        }
    }
}

/// The token's bytes with each variable replaced by `<*>` (what
/// [`TokenMemo::replay`] writes), for the debug check in `record`.
fn replayed(token: &[u8], start: usize, vars: &[Span]) -> Vec<u8> {
    let mut out = Vec::new();
    let mut at = 0;
    for v in vars {
        let (s, e) = (v.start as usize - start, v.end as usize - start);
        out.extend_from_slice(&token[at..s]);
        out.extend_from_slice(VAR.as_bytes());
        at = e;
    }
    out.extend_from_slice(&token[at..]);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn state(m: &mut TokenMemo, token: &[u8], hash: u64) -> &'static str {
        match m.lookup(token, hash) {
            Probe::Kept(_) => "kept",
            Probe::SeenOnce(_) => "seen once",
            Probe::New(_) => "new",
        }
    }

    /// A token is marked the first time, kept the second, replayed after;
    /// another token of the same hash (a collision, forced here) is never
    /// taken for it; a table of no slot is off.
    #[test]
    fn tokens_are_marked_then_kept_then_replayed_and_bytes_decide() {
        let mut m = TokenMemo::with_slots(4);
        let (a, h) = (b"key=v1".as_slice(), 7u64);
        let Probe::New(i) = m.lookup(a, h) else {
            panic!("new table")
        };
        m.mark(i, h);
        let Probe::SeenOnce(i) = m.lookup(a, h) else {
            panic!("marked")
        };
        m.record(i, a, h, 10, "key=<*>", &[Span::new(14, 16)]);
        let Probe::Kept(i) = m.lookup(a, h) else {
            panic!("kept")
        };
        let content = format!("{}key=v1 rest", " ".repeat(100));
        let (mut masked, mut vs, mut toks) = (String::from("x "), Vec::new(), Vec::new());
        m.replay(i, &content, 100, &mut masked, &mut vs, &mut toks);
        assert_eq!(masked, "x key=<*>");
        assert_eq!(vs, [Span::new(104, 106)]);
        assert_eq!(toks[0].raw, Span::new(100, 106));
        assert_eq!(
            (toks[0].masked, toks[0].vars_start, toks[0].vars_end),
            (Span::new(2, 9), 0, 1)
        );
        // The same hash with other bytes, and another hash in the slot.
        assert_eq!(state(&mut m, b"key=v2", h), "new");
        assert_eq!(state(&mut m, a, h + (4 << 32)), "new");
        assert_eq!(state(&mut m, a, h), "kept");
        // A token too long for a slot stays marked, never kept.
        let long = vec![b'a'; MAX_TOKEN + 1];
        let Probe::New(i) = m.lookup(&long, 1) else {
            panic!("new")
        };
        m.mark(i, 1);
        m.record(i, &long, 1, 0, std::str::from_utf8(&long).unwrap(), &[]);
        assert_eq!(state(&mut m, &long, 1), "seen once");
        assert!(!TokenMemo::with_slots(0).is_on());
    }
}
