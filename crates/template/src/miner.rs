//! The online template miner.
//!
//! Every line is first masked ([`crate::mask_line`]); its masked token
//! sequence is its *key*. A line is assigned by one rule: **the oldest
//! template, live or merged away, that takes the line** (its text equals
//! the line's masked tokens, or it has the same constants and each of its
//! `<*>` matches any value), followed to the live template it was merged
//! into; when no template takes the line it starts a new one. Templates
//! that differ in exactly one position are merged into one with a variable
//! there once that position has shown [`MinerConfig::merge_threshold`]
//! distinct values, which is how variables without digits (user names,
//! states) are found.
//!
//! Templates are never removed by mining (a merged one keeps pointing at
//! its merge), so once some template takes a key, the oldest one that does
//! never changes: the answer for a key is fixed from the first line that has
//! it, and a later [`Miner::lookup`] gives every learned line the live
//! template its learning ended in.
//!
//! **Eviction.** Only [`Miner::evict_to`] removes templates: it drops the
//! least recently used live templates (recency is a tick of the miner,
//! bumped by every line learned) together with every template merged into
//! them, and renumbers the rest, keeping their creation order. The miner
//! left is the one [`Miner::load`] would build from the templates kept:
//! the rule above then holds over the templates kept, so a line whose
//! template was evicted goes to the oldest kept template that takes it, or
//! starts a new one. A miner on which `evict_to` is never called (the CLI)
//! mines exactly as before.
//!
//! **Merge events.** Each time a template that [`Miner::learn`] had handed
//! out (live before the call) is merged into another, the pair of
//! [`TemplateId`]s is queued for [`Miner::take_merges`].
//!
//! Finding that template goes through indices whose size grows with the
//! number of templates, not of lines: the templates with variables are
//! grouped by length and variable positions and indexed by the hash of
//! their constant tokens; all templates are indexed by the hash of their
//! text. In front of them sits a bounded hot-key cache (capacity
//! [`MinerConfig::cache_keys`], CLOCK eviction) from key to the template
//! found, so that a repeated line costs one probe.
//!
//! **Invariant: the template a line gets never depends on what the cache
//! holds.** The cache only memoises the rule above, whose answer for a key
//! never changes once it exists; a miss, an eviction or a capacity of 0
//! only costs the index search. [`Miner::lookup`] takes `&self`, does not
//! touch the cache and can run on many threads.
//!
//! Memory is O(templates + cache capacity): nothing is kept per distinct
//! line. All decisions depend only on the order of lines, so mining is
//! deterministic.

use crate::cache::KeyCache;
use crate::id::TemplateId;
use crate::mask::{MaskedLine, Span, VAR};
use rustc_hash::{FxHashMap, FxHashSet};
use serde::{Deserialize, Serialize};

/// Index of a template inside one [`Miner`] (a merged template keeps
/// pointing at the one it was merged into).
///
/// **Validity:** an id is valid until the next [`Miner::evict_to`] call that
/// evicts something (returns a non-empty list; [`Miner::generation`] then
/// changes): that call renumbers the templates, so an id from before it may
/// name another template or none (and the accessors may panic on it). Keep
/// [`TemplateId`]s across evictions, `ClusterId`s only within a batch.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ClusterId(pub u32);

/// The miner's knobs, with defaults that serve every log.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct MinerConfig {
    /// Distinct constant values a position must show, among templates
    /// otherwise equal, before it becomes a variable. A position where one
    /// template already has a variable merges at once. Default 8.
    pub merge_threshold: usize,
    /// Keys the hot-key cache holds (0: no cache; at most 2^24). It
    /// changes speed and memory only, never a result. Default
    /// [`DEFAULT_CACHE_KEYS`].
    #[serde(default = "default_cache_keys")]
    pub cache_keys: usize,
}

/// An index or vector rebuilt by [`Miner::evict_to`] keeps its allocation
/// while that is at most this many times what it held before the eviction
/// (so a table grown in a much larger past is let go).
const KEEP_SLACK: usize = 4;
/// ... and always while it is below this many entries.
const KEEP_MIN: usize = 1024;

/// Whether a table or vector of `capacity` that held `len` entries keeps
/// its allocation through a rebuild.
/// Templates of one index key (one position apart, one shape and rest, one
/// tail prefix): almost always one or two, so they live inline in the map's
/// entry, and re-indexing thousands of templates allocates nothing per key.
type Group = smallvec::SmallVec<[u32; 2]>;

fn keeps_room(capacity: usize, len: usize) -> bool {
    capacity <= KEEP_SLACK * len.max(KEEP_MIN)
}

/// Empties `m` for a rebuild: its table is kept (see [`keeps_room`]) or
/// freed, then grown to `need` entries at once.
fn reuse_map<K: Eq + std::hash::Hash, V>(m: &mut FxHashMap<K, V>, need: usize) {
    if keeps_room(m.capacity(), m.len()) {
        m.clear();
    } else {
        *m = FxHashMap::default();
    }
    m.reserve(need);
}

/// The default hot-key cache capacity: 65,536 keys, 24 bytes each, so
/// 1.5 MiB. Masking folds numbers and ids into `<*>`, so the keys a log
/// repeats are a few per template; 64 Ki of them cover the working set of
/// logs with thousands of templates, while the cache stays small beside
/// the 100 MB budget of a run and its misses only cost an index search.
pub const DEFAULT_CACHE_KEYS: usize = 65_536;

fn default_cache_keys() -> usize {
    DEFAULT_CACHE_KEYS
}

impl Default for MinerConfig {
    fn default() -> Self {
        MinerConfig {
            merge_threshold: 8,
            cache_keys: DEFAULT_CACHE_KEYS,
        }
    }
}

#[derive(Debug, Clone)]
struct Cluster {
    tokens: Vec<Box<str>>,
    hashes: Vec<u64>,
    /// [`term_sum`] of `hashes`.
    sum: u128,
    text: Box<str>,
    id: TemplateId,
    count: u64,
    parent: u32,
    example: Box<str>,
    /// The miner's tick when a line last went to this template (while
    /// live); 0 for a template loaded from a state.
    last_seen: u64,
    /// Whether the last token, `<*>`, spans the rest of the line (one
    /// token or more): a template aligned across lengths.
    tail: bool,
}

#[cfg(test)]
impl Cluster {
    /// The positions holding a variable, the obvious way: the twin of
    /// what [`Miner::index_shape`] computes.
    fn wild_positions(&self) -> Vec<u32> {
        self.tokens
            .iter()
            .enumerate()
            .filter(|(_, t)| t.contains(VAR))
            .map(|(i, _)| i as u32)
            .collect()
    }
}

/// Templates of one length whose variables sit at the same positions,
/// indexed by the hash of their constant tokens.
#[derive(Debug, Default, Clone)]
struct Shape {
    positions: Vec<u32>,
    by_rest: FxHashMap<u128, Group>,
}

/// A template as saved, in creation order: its tokens, count, example and,
/// for one merged away, the index of the live template it ended in.
pub(crate) type SavedCluster = (Vec<String>, u64, String, Option<u32>);

/// A summary of one template for listings.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct TemplateSummary {
    /// Stable id derived from the text.
    pub template_id: TemplateId,
    /// The template in Loghub notation.
    pub template: String,
    /// Lines assigned to it.
    pub count: u64,
    /// One line's content.
    pub example: String,
}

/// A live template removed by [`Miner::evict_to`], with what it had.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Evicted {
    /// Stable id derived from the text.
    pub template_id: TemplateId,
    /// The template in Loghub notation.
    pub template: String,
    /// Lines assigned to it (those of the templates merged into it included).
    pub count: u64,
    /// One line's content.
    pub example: String,
    /// The miner's tick ([`Miner::tick`]) when a line last went to it; 0 if
    /// none did since it was loaded from a state.
    pub last_seen: u64,
    /// Whether a kept live template has the same text, hence the same id
    /// (so the id itself is still live; only this copy's count went).
    pub still_live: bool,
}

/// A template generalised into another: lines that went to `from` now go
/// to `into`. Queued by [`Miner::learn`], drained by [`Miner::take_merges`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
pub struct TemplateMerge {
    /// The template merged away (handed out by an earlier `learn`).
    pub from: TemplateId,
    /// The live template it went into when the `learn` call returned.
    pub into: TemplateId,
}

/// The online template miner; see the module documentation.
#[derive(Debug, Clone)]
pub struct Miner {
    config: MinerConfig,
    clusters: Vec<Cluster>,
    cache: KeyCache,
    /// xxh3-128 of a template's text (which is how a line's key is made
    /// from its masked tokens) → the oldest template with that text.
    exact: FxHashMap<u128, u32>,
    patterns: FxHashMap<u128, u32>,
    wild: FxHashMap<u128, Group>,
    shapes: Vec<Shape>,
    shapes_by_len: FxHashMap<(u32, u128), usize>,
    shape_lists: FxHashMap<u32, Vec<usize>>,
    /// Shapes a line is looked up in, by its length and first token: the
    /// shapes of that length whose first token is constant and is that
    /// token in one of their templates, by `(length, token hash)`
    /// (`shape_open`), and those whose first token is a variable
    /// (`shape_var0`). A line then probes the few shapes that can take it,
    /// not every shape of its length: the cost of a new key stays flat as
    /// templates, and so shapes, grow.
    shape_open: FxHashMap<(u32, u64), smallvec::SmallVec<[usize; 4]>>,
    shape_var0: FxHashMap<u32, Vec<usize>>,
    /// Bumped by every line learned; orders templates by recency.
    tick: u64,
    /// Live templates (`parent == self`), kept so that `evict_to` with
    /// nothing to do costs nothing.
    live: usize,
    /// Bumped by every `evict_to` that renumbers templates.
    generation: u64,
    /// Merges not yet taken by [`Miner::take_merges`].
    merges: Vec<TemplateMerge>,
    /// Templates of one constant prefix whose lines go on with tails of
    /// different lengths, by the hash of the prefix ([`tail_starts`]).
    tail_groups: FxHashMap<u128, Group>,
    /// Tail templates (`prefix <*>`, the `<*>` spanning the rest of the
    /// line) by the hash of their prefix: the oldest one per prefix.
    tails: FxHashMap<u128, u32>,
    /// Index of the first template created by the `learn` call under way:
    /// templates below it were handed out before.
    born: u32,
}

/// Hash of one token, the unit that template hashes are combined from.
fn token_hash(t: &str) -> u64 {
    xxhash_rust::xxh3::xxh3_64(t.as_bytes())
}

/// Stands for a blanked position in a combined hash.
const BLANK: u64 = 0x9e37_79b9_7f4a_7c15;

/// A 64-bit finaliser (splitmix64's): every input bit moves every output
/// bit.
fn mix(mut x: u64) -> u64 {
    x ^= x >> 30;
    x = x.wrapping_mul(0xbf58_476d_1ce4_e5b9);
    x ^= x >> 27;
    x = x.wrapping_mul(0x94d0_49bb_1331_11eb);
    x ^ (x >> 31)
}

/// The share of position `i` holding a token of hash `h` in a
/// position-wise hash: two lanes of 64 bits.
fn term(i: usize, h: u64) -> u128 {
    let x = h.wrapping_add((i as u64).wrapping_add(1).wrapping_mul(0x9e37_79b9_7f4a_7c15));
    (u128::from(mix(x)) << 64) | u128::from(mix(x ^ 0x6a09_e667_f3bc_c909))
}

/// The sum of the terms of a whole sequence: blanking position `p` is then
/// one subtraction and one addition ([`blanked`]), so the hashes of a
/// template with each position blanked cost O(n) together, not O(n²).
fn term_sum(hashes: &[u64]) -> u128 {
    hashes
        .iter()
        .enumerate()
        .fold(0u128, |s, (i, &h)| s.wrapping_add(term(i, h)))
}

/// `sum` (of a sequence whose token `p` hashes to `h`) with position `p`
/// blanked.
fn blanked(sum: u128, p: usize, h: u64) -> u128 {
    sum.wrapping_sub(term(p, h)).wrapping_add(term(p, BLANK))
}

/// The hash of a sequence of `n` tokens from its term sum: the length is
/// part of it.
fn finish_sum(sum: u128, n: usize) -> u128 {
    sum ^ term(usize::MAX, n as u64)
}

/// Combines token hashes (position-sensitive, two 64-bit lanes) without
/// building strings; `None` blanks a position. Equal to what
/// [`term_sum`], [`blanked`] and [`finish_sum`] give for the same blanks.
fn combine(hashes: impl Iterator<Item = Option<u64>>) -> u128 {
    let mut sum = 0u128;
    let mut n = 0;
    for (i, h) in hashes.enumerate() {
        sum = sum.wrapping_add(term(i, h.unwrap_or(BLANK)));
        n = i + 1;
    }
    finish_sum(sum, n)
}

/// The running state of [`combine`], so that the hashes of every prefix
/// of a sequence cost one step each.
#[derive(Clone, Copy)]
struct Combiner {
    a: u64,
    b: u64,
}

impl Default for Combiner {
    fn default() -> Combiner {
        Combiner {
            a: 0x243f_6a88_85a3_08d3,
            b: 0x1319_8a2e_0370_7344,
        }
    }
}

impl Combiner {
    fn push(&mut self, x: u64) {
        self.a = (self.a ^ x).wrapping_mul(0x0000_0100_0000_01b3).rotate_left(29);
        self.b = (self.b.rotate_left(17) ^ x.wrapping_mul(0xff51_afd7_ed55_8ccd))
            .wrapping_mul(0xc4ce_b9fe_1a85_ec53);
    }

    fn finish(self) -> u128 {
        (u128::from(self.a) << 64) | u128::from(self.b ^ self.a.rotate_left(7))
    }
}

fn hash_tokens<'a>(tokens: impl Iterator<Item = Option<&'a str>>) -> u128 {
    combine(tokens.map(|t| t.map(token_hash)))
}

fn hash_positions(p: &[u32]) -> u128 {
    let b: Vec<u8> = p.iter().flat_map(|x| x.to_le_bytes()).collect();
    xxhash_rust::xxh3::xxh3_128(&b)
}

/// Glob match where each `<*>` in `pattern` matches any bytes (an empty
/// value too: `()` is `(<*>)` with nothing inside).
pub(crate) fn glob_spans(pattern: &str, text: &str, out: &mut Vec<(usize, usize)>) -> bool {
    out.clear();
    let Some(v) = find_var(pattern) else {
        return pattern == text;
    };
    let first = &pattern[..v];
    if !text.starts_with(first) {
        return false;
    }
    let mut pos = first.len();
    let mut rest = &pattern[v + VAR.len()..];
    loop {
        // The literal up to the next `<*>`, or the last one.
        let (lit, last) = match find_var(rest) {
            Some(k) => (&rest[..k], false),
            None => (rest, true),
        };
        let from = pos;
        if from > text.len() {
            return false;
        }
        let found = if last {
            (text.len() >= from + lit.len() && text.ends_with(lit)).then(|| text.len() - lit.len())
        } else if lit.is_empty() {
            Some(from)
        } else {
            text.get(from..).and_then(|t| t.find(lit)).map(|x| x + from)
        };
        let Some(at) = found else { return false };
        out.push((pos, at));
        pos = at + lit.len();
        if last {
            return pos == text.len();
        }
        rest = &rest[lit.len() + VAR.len()..];
    }
}

/// Where the first `<*>` of `s` starts: a scan for `<`, cheaper than a
/// substring search on these short tokens.
fn find_var(s: &str) -> Option<usize> {
    let b = s.as_bytes();
    let mut i = 0;
    while let Some(k) = b[i..].iter().position(|&c| c == b'<') {
        if b[i + k..].starts_with(VAR.as_bytes()) {
            return Some(i + k);
        }
        i += k + 1;
    }
    None
}

/// Whether `text` matches `pattern`, each `<*>` matching any bytes: what
/// [`glob_spans`] answers, without allocating.
pub(crate) fn glob_match(pattern: &str, text: &str) -> bool {
    let mut parts = pattern.split(VAR);
    let first = parts.next().unwrap_or_default();
    let Some(mut rest) = text.strip_prefix(first) else {
        return false;
    };
    let mut parts = parts.peekable();
    if parts.peek().is_none() {
        return rest.is_empty();
    }
    while let Some(lit) = parts.next() {
        if parts.peek().is_none() {
            return rest.ends_with(lit);
        }
        match rest.find(lit) {
            Some(at) => rest = &rest[at + lit.len()..],
            None => return false,
        }
    }
    true
}

/// Where a tail may start in a sequence of `n` tokens: after a token that
/// ends an argument name (`statement:`, `members=`), and at the start of a
/// trailing run of values (`delete <*> <*> <*>`, `$<*> = '<*>', $<*> = …`:
/// tokens of variables and punctuation, at least one variable). A tail holds at least
/// one token, so `j < n`; at most [`MAX_TAIL_STARTS`] of them, the last
/// ones, are kept.
fn tail_starts<'a>(n: usize, token: impl Fn(usize) -> &'a str, out: &mut Vec<usize>) {
    out.clear();
    // An argument that opens the line is a tag (`LOG:`): no free-text tail
    // starts there, so it is not registered (its group would hold every
    // template of the tag). Nor after a line that opens with variables: that
    // is a header nobody split off (`<*> <*> host kernel: …`), and its
    // `prog:` tag is followed by messages, not free text.
    if n > 0 && opens_message(token(0)) {
        for j in 2..n {
            let t = token(j - 1);
            if t.ends_with(':') || t.ends_with('=') {
                out.push(j);
            }
        }
    }
    let mut k = n;
    let mut vars = false;
    while k > 1 && value_only(token(k - 1)) {
        vars |= has_var(token(k - 1));
        k -= 1;
    }
    if k < n && vars && !out.contains(&k) {
        out.push(k);
        out.sort_unstable();
    }
    if out.len() > MAX_TAIL_STARTS {
        out.drain(..out.len() - MAX_TAIL_STARTS);
    }
}

/// Whether a line whose first token is `t` opens with message text: a
/// constant word (`query`, `LOG:`, `[req-<*>`), not a variable or bare
/// punctuation (`<*>`, `[`, `<*>-<*>-<*>`), which is what an unparsed header
/// (a timestamp) looks like. Free text after an argument is looked for only
/// in such lines.
fn opens_message(t: &str) -> bool {
    has_word(t)
}

/// Whether a token holds a letter outside its variables (`ms,`, `req-<*>`).
/// The bytes of [`VAR`] are no letters, so every byte may be looked at
/// (the twin test splits the token on `VAR` first).
fn has_word(t: &str) -> bool {
    t.bytes().any(|b| b.is_ascii_alphabetic())
}

/// Whether a token holds nothing but variables and punctuation (`<*>`,
/// `$<*>`, `=`, `'<*>',`): a piece of a list of values. As in [`has_word`],
/// the bytes of [`VAR`] need not be skipped.
fn value_only(t: &str) -> bool {
    !t.bytes().any(|b| b.is_ascii_alphanumeric() || b >= 0x80)
}

/// `t.contains(VAR)` without setting up a substring searcher per call (it
/// runs for every token of every template an eviction re-indexes).
fn has_var(t: &str) -> bool {
    let b = t.as_bytes();
    (1..b.len().saturating_sub(1)).any(|i| b[i] == b'*' && b[i - 1] == b'<' && b[i + 1] == b'>')
}

/// Templates a tail group keeps: enough to show lengths and first tokens
/// ([`MinerConfig::merge_threshold`] of them and more), few enough that a
/// new template's cost stays flat however many share a prefix.
const MAX_TAIL_GROUP: usize = 32;

/// Tail starts considered per template or line: the cost of a new key
/// stays bounded on lines made of many `key=value` pairs.
const MAX_TAIL_STARTS: usize = 4;

/// The hash of the first `j` tokens (by their hashes), the key of
/// [`Miner::tail_groups`] and [`Miner::tails`].
fn prefix_hash(hashes: &[u64], j: usize) -> u128 {
    let mut c = Combiner::default();
    for &h in &hashes[..j] {
        c.push(h);
    }
    tail_key(c)
}

/// A prefix state as a tail key (kept apart from whole-template hashes).
fn tail_key(c: Combiner) -> u128 {
    c.finish() ^ 0x7a11
}

/// Lines of up to this many tokens are matched without allocating.
const STACK_TOKENS: usize = 64;

fn is_delim(c: u8) -> bool {
    !(c.is_ascii_alphanumeric() || c == b'_' || c >= 0x80)
}

/// The common form of the values seen at one position: a shared prefix that
/// ends on a delimiter and a shared suffix that starts on one, around `<*>`
/// (`user=guest`, `user=test` → `user=<*>`).
fn generalize(values: &[&str]) -> String {
    let first = values[0].as_bytes();
    let mut pre = first.len();
    let mut suf = first.len();
    for v in &values[1..] {
        let b = v.as_bytes();
        pre = pre.min(first.iter().zip(b).take_while(|(a, b)| a == b).count());
        suf = suf.min(
            first
                .iter()
                .rev()
                .zip(b.iter().rev())
                .take_while(|(a, b)| a == b)
                .count(),
        );
    }
    let min_len = values.iter().map(|v| v.len()).min().unwrap_or(0);
    // A cut must fall on a delimiter and outside every `<*>` of the
    // values (`$<*>` and `<*>` share the suffix `*>`, which is no affix).
    let pre_ok = |pre: usize| is_delim(first[pre - 1]) && values.iter().all(|v| !splits_var(v, pre));
    let suf_ok = |suf: usize| {
        is_delim(first[first.len() - suf]) && values.iter().all(|v| !splits_var(v, v.len() - suf))
    };
    while pre > 0 && !pre_ok(pre) {
        pre -= 1;
    }
    while suf > 0 && !suf_ok(suf) {
        suf -= 1;
    }
    while pre + suf > min_len || (pre + suf == min_len && min_len > 0) {
        if suf > 0 {
            suf -= 1;
            while suf > 0 && !suf_ok(suf) {
                suf -= 1;
            }
        } else if pre > 0 {
            pre -= 1;
            while pre > 0 && !pre_ok(pre) {
                pre -= 1;
            }
        } else {
            break;
        }
    }
    let s = values[0];
    let mut out = format!("{}{}{}", &s[..pre], VAR, &s[s.len() - suf..]);
    loop {
        let before = out.len();
        out = out.replace("<*><*>", VAR).replace("<*>.<*>", VAR);
        if out.len() == before {
            break;
        }
    }
    out
}

/// Whether byte offset `i` of `v` falls strictly inside a `<*>`.
fn splits_var(v: &str, i: usize) -> bool {
    let b = v.as_bytes();
    (1..VAR.len()).any(|k| i >= k && b[i - k..].starts_with(VAR.as_bytes()))
}

/// Whether the values hold digits and are equal once every run of digits
/// is blanked (`eth0`/`eth12`, `J16`/`J18`), a `<*>` counting as a run; a
/// value that is only `<*>` goes with any of them (`storage234` beside a
/// `<*>` that masked `storage1412`).
fn same_but_digits(values: &[&str]) -> bool {
    fn shape(v: &str) -> impl Iterator<Item = u8> + '_ {
        let b = v.as_bytes();
        let mut i = 0;
        std::iter::from_fn(move || {
            if i >= b.len() {
                return None;
            }
            if b[i].is_ascii_digit() || b[i..].starts_with(VAR.as_bytes()) {
                while i < b.len() && (b[i].is_ascii_digit() || b[i..].starts_with(VAR.as_bytes())) {
                    i += if b[i].is_ascii_digit() { 1 } else { VAR.len() };
                }
                return Some(0);
            }
            i += 1;
            Some(b[i - 1])
        })
    }
    let mut rest = values.iter().filter(|v| **v != VAR);
    let Some(first) = rest.next() else {
        return false;
    };
    let has_digits = values.iter().any(|v| v.bytes().any(|b| b.is_ascii_digit()));
    has_digits && rest.all(|v| shape(v).eq(shape(first)))
}

/// Units written after a number (`12 KB`, `250 ms`).
fn is_unit(v: &str) -> bool {
    const UNITS: [&str; 27] = [
        "b", "kb", "mb", "gb", "tb", "pb", "k", "m", "g", "t", "kib", "mib", "gib", "tib", "bytes", "ns",
        "us", "µs", "ms", "s", "sec", "secs", "seconds", "min", "minutes", "h", "hours",
    ];
    let v = v.trim_end_matches([',', ';', '.', ')']);
    UNITS.iter().any(|u| v.eq_ignore_ascii_case(u))
}

/// Whether one of the values already is the general form of all of them
/// (`<*>` beside `foo`, `(<*>)` beside `()`): such a position has shown
/// itself variable, so it counts one value more.
fn already_general(values: &[&str]) -> bool {
    if !values.iter().any(|v| has_var(v)) {
        return false;
    }
    let g = generalize(values);
    values.iter().any(|v| *v == g)
}

impl Default for Miner {
    /// A miner with no templates and the default configuration.
    fn default() -> Miner {
        Miner::new(MinerConfig::default())
    }
}

impl Miner {
    /// A miner with no templates.
    pub fn new(config: MinerConfig) -> Miner {
        Miner {
            cache: KeyCache::new(config.cache_keys),
            config,
            clusters: Vec::new(),
            exact: FxHashMap::default(),
            patterns: FxHashMap::default(),
            wild: FxHashMap::default(),
            shapes: Vec::new(),
            shapes_by_len: FxHashMap::default(),
            shape_lists: FxHashMap::default(),
            shape_open: FxHashMap::default(),
            shape_var0: FxHashMap::default(),
            tick: 0,
            live: 0,
            generation: 0,
            merges: Vec::new(),
            tail_groups: FxHashMap::default(),
            tails: FxHashMap::default(),
            born: 0,
        }
    }

    /// The configuration in force.
    pub fn config(&self) -> &MinerConfig {
        &self.config
    }

    fn root(&self, mut c: u32) -> u32 {
        while self.clusters[c as usize].parent != c {
            c = self.clusters[c as usize].parent;
        }
        c
    }

    /// The live template a (possibly merged) id now belongs to.
    pub fn resolve(&self, c: ClusterId) -> ClusterId {
        ClusterId(self.root(c.0))
    }

    /// Learns one masked line and returns its template. `content` is kept as
    /// the example of a new template.
    pub fn learn(&mut self, line: &MaskedLine, content: &str) -> ClusterId {
        if let Some(c) = self.cache.touch(line.key) {
            return self.hit(c);
        }
        if let Some(c) = self.find(line) {
            self.cache.insert(line.key, c);
            return self.hit(c);
        }
        self.tick += 1;
        let tokens: Vec<Box<str>> = (0..line.len()).map(|i| line.masked_token(i).into()).collect();
        let c = self.add_cluster(tokens, 1, content.into());
        self.cache.insert(line.key, c);
        let mark = self.merges.len();
        self.born = c;
        let r = self.register_wild(c);
        let r = self.register_tail(r);
        self.clusters[r as usize].last_seen = self.tick;
        if self.merges.len() > mark {
            // Merges inside one call chain into `r`: report where each
            // handed-out template ended, not the templates in between.
            let into = self.clusters[r as usize].id;
            let mut w = mark;
            for i in mark..self.merges.len() {
                let m = TemplateMerge {
                    from: self.merges[i].from,
                    into,
                };
                if m.from != into && !self.merges[mark..w].contains(&m) {
                    self.merges[w] = m;
                    w += 1;
                }
            }
            self.merges.truncate(w);
        }
        ClusterId(r)
    }

    /// Counts a line that went to template `c` (or what it was merged into).
    fn hit(&mut self, c: u32) -> ClusterId {
        let r = self.root(c);
        self.tick += 1;
        let cl = &mut self.clusters[r as usize];
        cl.count += 1;
        cl.last_seen = self.tick;
        ClusterId(r)
    }

    /// Counts a line whose key the hot-key cache holds and returns its
    /// template; `None` means the key is not cached and the line must go
    /// through [`Miner::learn`], which gives the same answer whatever the
    /// cache held. Lets callers mask lines in parallel and only re-mask the
    /// others on the sequential path.
    pub fn learn_known(&mut self, key: u128) -> Option<ClusterId> {
        let c = self.cache.touch(key)?;
        Some(self.hit(c))
    }

    /// Finds the template of a line without learning (the rule of the
    /// module documentation). Read-only, the cache included: it may run on
    /// many threads at once.
    pub fn lookup(&self, line: &MaskedLine) -> Option<ClusterId> {
        let c = match self.cache.get(line.key) {
            Some(c) => c,
            None => self.find(line)?,
        };
        Some(ClusterId(self.root(c)))
    }

    /// The oldest template, live or merged away, that takes the line: the
    /// one answer the cache memoises. Allocates nothing for lines of up to
    /// [`STACK_TOKENS`] tokens.
    fn find(&self, line: &MaskedLine) -> Option<u32> {
        let mut best = self
            .exact
            .get(&line.key)
            .copied()
            .filter(|&c| *self.clusters[c as usize].text == *line.masked);
        let n = line.len();
        let list = self.shape_lists.get(&(n as u32));
        if list.is_none() && self.tails.is_empty() {
            return best;
        }
        let mut stack = [0u64; STACK_TOKENS];
        let mut heap = Vec::new();
        let hashes: &mut [u64] = if n <= STACK_TOKENS {
            &mut stack[..n]
        } else {
            heap.resize(n, 0);
            &mut heap
        };
        for (i, h) in hashes.iter_mut().enumerate() {
            *h = token_hash(line.masked_token(i));
        }
        let sum = term_sum(hashes);
        let var0 = self.shape_var0.get(&(n as u32)).map(Vec::as_slice);
        let open = hashes
            .first()
            .and_then(|&h| self.shape_open.get(&(n as u32, h)))
            .map(|l| l.as_slice());
        for &si in var0.unwrap_or_default().iter().chain(open.unwrap_or_default()) {
            let shape = &self.shapes[si];
            let rest = finish_sum(
                shape
                    .positions
                    .iter()
                    .fold(sum, |s, &p| blanked(s, p as usize, hashes[p as usize])),
                n,
            );
            let Some(cands) = shape.by_rest.get(&rest) else {
                continue;
            };
            // Candidates are in creation order: the first that takes the
            // line is the oldest of this shape.
            for &c in cands {
                if best.is_some_and(|b| b <= c) {
                    break;
                }
                let cl = &self.clusters[c as usize];
                if shape
                    .positions
                    .iter()
                    .all(|&p| glob_match(&cl.tokens[p as usize], line.masked_token(p as usize)))
                {
                    best = Some(c);
                    break;
                }
            }
        }
        if !self.tails.is_empty() {
            best = self.find_tail(line, hashes, best);
        }
        best
    }

    /// The oldest tail template whose prefix is the line's first tokens,
    /// if older than `best`. Every prefix of the line that could start a
    /// tail is probed (one hashing step per token, no allocation).
    fn find_tail(&self, line: &MaskedLine, hashes: &[u64], mut best: Option<u32>) -> Option<u32> {
        let n = line.len();
        let mut run = n;
        let mut vars = false;
        while run > 1 && value_only(line.masked_token(run - 1)) {
            vars |= has_var(line.masked_token(run - 1));
            run -= 1;
        }
        if !vars {
            run = n;
        }
        let mut c = Combiner::default();
        for j in 1..n {
            c.push(hashes[j - 1]);
            let t = line.masked_token(j - 1);
            if !(t.ends_with(':') || t.ends_with('=') || j == run) {
                continue;
            }
            let Some(&cand) = self.tails.get(&tail_key(c)) else {
                continue;
            };
            if best.is_some_and(|b| b <= cand) {
                continue;
            }
            let cl = &self.clusters[cand as usize];
            if cl.tokens.len() == j + 1 && (0..j).all(|i| *cl.tokens[i] == *line.masked_token(i)) {
                best = Some(cand);
            }
        }
        best
    }

    fn add_cluster(&mut self, tokens: Vec<Box<str>>, count: u64, example: Box<str>) -> u32 {
        let c = self.clusters.len() as u32;
        let text: Box<str> = tokens.join(" ").into();
        let id = TemplateId::of(&text);
        let pat = hash_tokens(tokens.iter().map(|t| Some(&**t)));
        self.patterns.insert(pat, c);
        self.exact
            .entry(xxhash_rust::xxh3::xxh3_128(text.as_bytes()))
            .or_insert(c);
        let hashes: Vec<u64> = tokens.iter().map(|t| token_hash(t)).collect();
        let sum = term_sum(&hashes);
        self.clusters.push(Cluster {
            tokens,
            hashes,
            sum,
            text,
            id,
            count,
            parent: c,
            example,
            last_seen: self.tick,
            tail: false,
        });
        self.live += 1;
        self.index_shape(c);
        c
    }

    fn index_shape(&mut self, c: u32) {
        let cl = &self.clusters[c as usize];
        // On the stack: a shape's own copy is made only for a new shape.
        let positions: smallvec::SmallVec<[u32; 16]> = cl
            .tokens
            .iter()
            .enumerate()
            .filter(|(_, t)| has_var(t))
            .map(|(i, _)| i as u32)
            .collect();
        if positions.is_empty() {
            return;
        }
        let n = cl.tokens.len() as u32;
        let rest = hash_tokens(cl.tokens.iter().enumerate().map(|(i, t)| {
            if positions.binary_search(&(i as u32)).is_ok() {
                None
            } else {
                Some(&**t)
            }
        }));
        let key = (n, hash_positions(&positions));
        let si = match self.shapes_by_len.get(&key) {
            Some(&si) => si,
            None => {
                let si = self.shapes.len();
                self.shapes.push(Shape {
                    positions: positions.to_vec(),
                    by_rest: FxHashMap::default(),
                });
                self.shapes_by_len.insert(key, si);
                self.shape_lists.entry(n).or_default().push(si);
                if positions[0] == 0 {
                    self.shape_var0.entry(n).or_default().push(si);
                }
                si
            }
        };
        if positions[0] != 0 {
            let open = self.shape_open.entry((n, cl.hashes[0])).or_default();
            if !open.contains(&si) {
                open.push(si);
            }
        }
        self.shapes[si].by_rest.entry(rest).or_default().push(c);
    }

    /// Drops the shapes that hold no template, and their entries in
    /// `shapes_by_len`, `shape_lists`, `shape_var0` and `shape_open`.
    fn drop_empty_shapes(&mut self) {
        if self.shapes.iter().all(|s| !s.by_rest.is_empty()) {
            return;
        }
        let mut map = vec![usize::MAX; self.shapes.len()];
        let mut next = 0;
        for (si, shape) in self.shapes.iter().enumerate() {
            if !shape.by_rest.is_empty() {
                map[si] = next;
                next += 1;
            }
        }
        self.shapes.retain(|s| !s.by_rest.is_empty());
        self.shapes_by_len.retain(|_, si| {
            *si = map[*si];
            *si != usize::MAX
        });
        // Each list loses the dropped shapes and names the others anew;
        // an emptied list goes.
        macro_rules! remap {
            ($lists:expr) => {
                $lists.retain(|_, list| {
                    list.retain(|si| map[*si] != usize::MAX);
                    for si in list.iter_mut() {
                        *si = map[*si];
                    }
                    !list.is_empty()
                })
            };
        }
        remap!(self.shape_lists);
        remap!(self.shape_var0);
        remap!(self.shape_open);
    }

    fn wild_key(&self, c: u32, p: usize) -> u128 {
        let cl = &self.clusters[c as usize];
        finish_sum(blanked(cl.sum, p, cl.hashes[p]), cl.hashes.len())
    }

    /// Adds a new template to the one-position-apart groups and merges a
    /// group that has shown enough distinct values. Returns the live
    /// template the new one ended in.
    fn register_wild(&mut self, c: u32) -> u32 {
        let n = self.clusters[c as usize].tokens.len();
        for p in 0..n {
            let w = self.wild_key(c, p);
            let clusters = &self.clusters;
            let group = self.wild.entry(w).or_default();
            group.retain(|&mut x| clusters[x as usize].parent == x && !clusters[x as usize].tail);
            group.push(c);
            if group.len() < 2 {
                // The usual case: nothing else differs from `c` at `p` only.
                continue;
            }
            let mut values: Vec<&str> = group.iter().map(|&x| &*clusters[x as usize].tokens[p]).collect();
            values.sort_unstable();
            values.dedup();
            // A position where one template already has a variable has
            // shown itself variable: once a template with `<*>` there
            // exists, lines with other words go to it and never form new
            // templates, so waiting for more values would wait forever.
            let enough = already_general(&values) || values.len() >= self.evidence_needed(c, p, &values);
            if !self.keeps_anchor(c, p) {
                continue;
            }
            if enough {
                let group = self.wild.remove(&w).unwrap_or_default();
                let merged = self.merge(&group, p);
                return self.register_wild(merged);
            }
            if let Some(sub) = self.absorbed(w, p) {
                if let Some(group) = self.wild.get_mut(&w) {
                    group.retain(|x| !sub.contains(x));
                }
                let merged = self.merge(&sub, p);
                return self.register_wild(merged);
            }
        }
        c
    }

    /// A template of group `w` with a variable at `p` and the other
    /// templates of the group whose value there it takes (`<*>:amd64` and
    /// `libfoo0:amd64`), when there are such: lines with new values go to
    /// the general template and never join the group, so the group alone
    /// would never show enough values to merge the older ones.
    fn absorbed(&self, w: u128, p: usize) -> Option<Vec<u32>> {
        let group = self.wild.get(&w)?;
        for &g in group {
            let general = &*self.clusters[g as usize].tokens[p];
            if !has_var(general) {
                continue;
            }
            let mut sub: Vec<u32> = group
                .iter()
                .copied()
                .filter(|&x| x == g || glob_match(general, &self.clusters[x as usize].tokens[p]))
                .collect();
            if sub.len() >= 2 {
                sub.sort_unstable();
                return Some(sub);
            }
        }
        None
    }

    /// Adds a new template to the groups of templates that share a prefix
    /// and go on with tails of other lengths, and turns a group that has
    /// shown enough into one tail template (`prefix <*>`, the `<*>`
    /// spanning the rest of the line). Returns the live template `r` ended
    /// in. The decision rule (alignment across lengths):
    ///
    /// - the tails are runs of values of different lengths (`delete <*>
    ///   <*>` and `delete <*> <*> <*>`, `$<*> = '<*>'` and `$<*> = '<*>',
    ///   $<*> = '<*>'`): a list, two lengths are enough;
    /// - the prefix ends with an argument name (`statement:`) that is not
    ///   the first token (that is a tag such as `LOG:`), the line opens
    ///   with a word (not with the variables of a header left in the
    ///   message, before a `prog:` tag: [`opens_message`]), the group
    ///   holds [`MinerConfig::merge_threshold`] templates of at least two
    ///   lengths, and their tails start with three different tokens or
    ///   more: free text after an argument;
    ///
    /// and the prefix keeps a constant word. A tail template never merges
    /// further.
    fn register_tail(&mut self, r: u32) -> u32 {
        if self.clusters[r as usize].tail {
            return r;
        }
        let mut starts = Vec::new();
        {
            let cl = &self.clusters[r as usize];
            tail_starts(cl.tokens.len(), |i| &cl.tokens[i], &mut starts);
        }
        let words = self.config.merge_threshold.max(2);
        for j in starts {
            let key = prefix_hash(&self.clusters[r as usize].hashes, j);
            let clusters = &self.clusters;
            let group = self.tail_groups.entry(key).or_default();
            group.retain(|&mut x| {
                let cl = &clusters[x as usize];
                cl.parent == x && !cl.tail && cl.tokens[..j] == clusters[r as usize].tokens[..j]
            });
            if !group.contains(&r) {
                if group.len() >= MAX_TAIL_GROUP {
                    // A full group has shown all it can: keep the cost of
                    // a new template bounded whatever the prefix.
                    continue;
                }
                group.push(r);
            }
            let len0 = clusters[group[0] as usize].tokens.len();
            if group.iter().all(|&x| clusters[x as usize].tokens.len() == len0) {
                continue;
            }
            let runs = group.iter().all(|&x| {
                let tail = &clusters[x as usize].tokens[j..];
                tail.iter().all(|t| value_only(t)) && tail.iter().any(|t| has_var(t))
            });
            let prefix = &clusters[r as usize].tokens[..j];
            let argument =
                opens_message(&prefix[0]) && (prefix[j - 1].ends_with(':') || prefix[j - 1].ends_with('='));
            let anchored = prefix.iter().any(|t| has_word(t));
            // Free text starts right after the argument: the tails differ
            // in their first token already (`statement: SELECT …`,
            // `statement: INSERT …`), unlike a fixed part that follows
            // (`[instance: <*>] VM Started`, `[instance: <*>] Took …`).
            let free = || {
                let mut firsts: Vec<&str> = group.iter().map(|&x| &*clusters[x as usize].tokens[j]).collect();
                firsts.sort_unstable();
                firsts.dedup();
                firsts.len() >= 3
            };
            if anchored && (runs || (argument && group.len() >= words && free())) {
                let group = self.tail_groups.remove(&key).unwrap_or_default();
                return self.merge_tail(&group, j, key);
            }
        }
        r
    }

    /// Merges `group` (templates with the same first `j` tokens) into one
    /// tail template and indexes it under `key`.
    fn merge_tail(&mut self, group: &[u32], j: usize, key: u128) -> u32 {
        let first = *group.iter().min().unwrap_or(&group[0]);
        let mut tokens: Vec<Box<str>> = self.clusters[first as usize].tokens[..j].to_vec();
        tokens.push(VAR.into());
        let count: u64 = group.iter().map(|&x| self.clusters[x as usize].count).sum();
        let example = self.clusters[first as usize].example.clone();
        let t = self.add_cluster(tokens, count, example);
        self.clusters[t as usize].tail = true;
        self.point_at(group, t);
        self.tails.entry(key).or_insert(t);
        t
    }

    /// Rebuilds the tail indices from the templates (after loading or
    /// evicting): the oldest tail template per prefix, and the groups of
    /// the live templates.
    fn index_tails(&mut self) {
        reuse_map(&mut self.tails, 0);
        reuse_map(&mut self.tail_groups, 0);
        let mut starts = Vec::new();
        for c in 0..self.clusters.len() as u32 {
            let cl = &self.clusters[c as usize];
            if cl.tail {
                let j = cl.tokens.len() - 1;
                self.tails.entry(prefix_hash(&cl.hashes, j)).or_insert(c);
            } else if cl.parent == c {
                tail_starts(cl.tokens.len(), |i| &cl.tokens[i], &mut starts);
                for &j in &starts {
                    self.tail_groups
                        .entry(prefix_hash(&cl.hashes, j))
                        .or_default()
                        .push(c);
                }
            }
        }
    }

    /// How many distinct values position `p` of template `c` must show
    /// (among templates equal but there) before it becomes a variable. The
    /// decision rule of the merger, from what the values and their slot
    /// say, never from which log they come from:
    ///
    /// - values that differ only in their digits (`eth0`/`eth1`,
    ///   `J16`/`J18`, `bglio91`/`bglio716`): 2, digits are the mark of a
    ///   value (`ee0`/`alt0` differ in letters: they are names);
    /// - a unit after a variable (`12 KB` / `3 MB`): 2;
    /// - an argument slot: the token before ends with `:` or `=`
    ///   (`state: X`), or the values differ right after `=`, `:`, an
    ///   opening bracket or a quote (`tag="A"`, `(sshd)`): 3;
    /// - a word of the message text: [`MinerConfig::merge_threshold`].
    fn evidence_needed(&self, c: u32, p: usize, values: &[&str]) -> usize {
        let words = self.config.merge_threshold.max(2);
        let arguments = words.min(3);
        let tokens = &self.clusters[c as usize].tokens;
        let prev = p.checked_sub(1).map(|i| &*tokens[i]);
        if values.len() >= 2 && same_but_digits(values) {
            return 2;
        }
        if prev.is_some_and(|t| t.ends_with(VAR)) && values.iter().all(|v| is_unit(v)) {
            return 2;
        }
        if prev.is_some_and(|t| t.ends_with(':') || t.ends_with('=')) {
            return arguments;
        }
        let g = generalize(values);
        let at = g.find(VAR).unwrap_or(0);
        if at > 0
            && matches!(
                g.as_bytes()[at - 1],
                b'=' | b':' | b'(' | b'[' | b'{' | b'<' | b'"' | b'\''
            )
        {
            return arguments;
        }
        words
    }

    /// Whether a template would keep at least half of its tokens constant
    /// with position `p` made variable: a template needs anchors, so lines
    /// of one lone word never collapse into `<*>`. A token with a constant
    /// word around its variable (`key=<*>`) is an anchor too.
    fn keeps_anchor(&self, c: u32, p: usize) -> bool {
        let tokens = &self.clusters[c as usize].tokens;
        let constant = tokens
            .iter()
            .enumerate()
            .filter(|(i, t)| *i != p && has_word(t))
            .count();
        constant * 2 >= tokens.len() && constant > 0
    }

    /// Merges `group` (templates equal but at `p`) into one template.
    fn merge(&mut self, group: &[u32], p: usize) -> u32 {
        let mut values: Vec<&str> = group
            .iter()
            .map(|&x| &*self.clusters[x as usize].tokens[p])
            .collect();
        values.sort_unstable();
        values.dedup();
        let token: Box<str> = generalize(&values).into();
        let first = *group.iter().min().unwrap_or(&group[0]);
        let mut tokens = self.clusters[first as usize].tokens.clone();
        tokens[p] = token;
        let count: u64 = group.iter().map(|&x| self.clusters[x as usize].count).sum();
        let pat = hash_tokens(tokens.iter().map(|t| Some(&**t)));
        let target = match self.patterns.get(&pat) {
            Some(&e) if self.clusters[e as usize].parent == e && !group.contains(&e) => {
                self.clusters[e as usize].count += count;
                e
            }
            _ => {
                let example = self.clusters[first as usize].example.clone();
                self.add_cluster(tokens, count, example)
            }
        };
        self.point_at(group, target);
        target
    }

    /// Merges every template of `group` into `target`, queueing a merge
    /// event for those handed out before the `learn` call under way.
    fn point_at(&mut self, group: &[u32], target: u32) {
        for &x in group {
            if x < self.born {
                // Handed out before this call; `into` is set by `learn`.
                let from = self.clusters[x as usize].id;
                self.merges.push(TemplateMerge { from, into: from });
            }
            if self.clusters[x as usize].parent == x {
                self.live -= 1;
            }
            self.clusters[x as usize].parent = target;
        }
    }

    /// Points every merged template straight at its live one, so that
    /// later lookups resolve in one step. Call after mining a whole input.
    pub fn finalize(&mut self) {
        let roots: Vec<u32> = (0..self.clusters.len() as u32).map(|c| self.root(c)).collect();
        for (i, r) in roots.iter().enumerate() {
            self.clusters[i].parent = *r;
        }
    }

    /// The text of a template (Loghub notation).
    pub fn template_text(&self, c: ClusterId) -> &str {
        &self.clusters[self.root(c.0) as usize].text
    }

    /// The stable id of a template.
    pub fn template_id(&self, c: ClusterId) -> TemplateId {
        self.clusters[self.root(c.0) as usize].id
    }

    /// Number of live templates (distinct texts may be fewer).
    pub fn live_count(&self) -> usize {
        self.live
    }

    /// Lines the template of `c` (followed to its live one) was given.
    pub fn template_count(&self, c: ClusterId) -> u64 {
        self.clusters[self.root(c.0) as usize].count
    }

    /// The tick ([`Miner::tick`]) when a line last went to the template of
    /// `c` (followed to its live one); 0 if none did since it was loaded.
    pub fn last_seen(&self, c: ClusterId) -> u64 {
        self.clusters[self.root(c.0) as usize].last_seen
    }

    /// The miner's clock: lines learned so far by this miner (a loaded
    /// miner starts at 0). Monotonic; recency is not saved in a state.
    pub fn tick(&self) -> u64 {
        self.tick
    }

    /// Bumped by every [`Miner::evict_to`] call that removed templates,
    /// which invalidates the [`ClusterId`]s handed out before it.
    pub fn generation(&self) -> u64 {
        self.generation
    }

    /// The merges queued since the last call, in the order they happened:
    /// each time a template handed out by an earlier [`Miner::learn`] was
    /// generalised, `(from, into)` with `into` the live template the
    /// `learn` call ended in (templates created and merged within one call
    /// were never handed out and are skipped; a chain `a → b`, later
    /// `b → c`, is two merges). A merge that keeps the id (the new
    /// template has the same text) is not reported. Merges stay queued
    /// across [`Miner::evict_to`] (an `into` may have been evicted since).
    /// Costs nothing when nothing merged; the queue holds 16 bytes per
    /// merge until taken.
    pub fn take_merges(&mut self) -> Vec<TemplateMerge> {
        std::mem::take(&mut self.merges)
    }

    /// The merges queued and not yet taken, without taking them: a caller
    /// that notes the length before a [`Miner::learn`] call finds the
    /// merges that call made after it (the stream output reports them
    /// with the line), while [`Miner::take_merges`] still gets them all.
    pub fn pending_merges(&self) -> &[TemplateMerge] {
        &self.merges
    }

    /// Bounds the templates kept: when more than `keep` live templates
    /// exist, removes the least recently used ones (ties: the oldest
    /// first) until `keep` remain, with every template merged into them,
    /// and returns them, least recently used first, one per template id.
    ///
    /// The miner left is the one [`Miner::load`] would build from the
    /// templates kept (in their creation order, with their counts and
    /// recency): every index and the hot-key cache forget the evicted
    /// templates and their memory is released. If anything was evicted,
    /// the kept templates are renumbered and every [`ClusterId`] handed out
    /// before is invalid ([`Miner::generation`] changes). Pending merges
    /// ([`Miner::take_merges`]) are kept.
    ///
    /// Costs nothing when at most `keep` templates are live; otherwise
    /// O(templates + cache capacity), so call it per batch, not per line
    /// (or with some slack: evict to `keep` when more than `keep + keep /
    /// 8` are live).
    pub fn evict_to(&mut self, keep: usize) -> Vec<Evicted> {
        if self.live <= keep {
            return Vec::new();
        }
        let n = self.clusters.len();
        let mut live: Vec<(u64, u32)> = (0..n as u32)
            .filter(|&c| self.clusters[c as usize].parent == c)
            .map(|c| (self.clusters[c as usize].last_seen, c))
            .collect();
        let drop = live.len() - keep;
        if drop < live.len() {
            live.select_nth_unstable(drop);
        }
        live.truncate(drop);
        live.sort_unstable();
        let mut gone = vec![false; n];
        for &(_, c) in &live {
            gone[c as usize] = true;
        }
        let gone: Vec<bool> = (0..n as u32).map(|c| gone[self.root(c) as usize]).collect();

        let mut map = vec![u32::MAX; n];
        let old = std::mem::take(&mut self.clusters);
        let kept_len = gone.iter().filter(|g| !**g).count();
        // The templates' vector keeps its room (unless far larger than
        // needed, see `reindex`): a miner at its cap refills it to the cap
        // after every eviction, and an exact fit would be regrown (by
        // doubling, old and new side by side) each time.
        let room = match keeps_room(old.capacity(), old.len()) {
            true => old.capacity().max(kept_len),
            false => kept_len,
        };
        let mut kept = Vec::with_capacity(room);
        let mut removed: FxHashMap<u32, Cluster> = FxHashMap::default();
        for (i, cl) in old.into_iter().enumerate() {
            if gone[i] {
                if cl.parent == i as u32 {
                    removed.insert(i as u32, cl);
                }
            } else {
                map[i] = kept.len() as u32;
                kept.push(cl);
            }
        }
        for cl in &mut kept {
            cl.parent = map[cl.parent as usize];
        }
        self.clusters = kept;
        self.live -= live.len();
        self.reindex();
        self.cache.remap(&map);
        self.generation += 1;

        let still: FxHashSet<TemplateId> = self
            .clusters
            .iter()
            .enumerate()
            .filter(|(i, cl)| cl.parent == *i as u32)
            .map(|(_, cl)| cl.id)
            .collect();
        let mut out: Vec<Evicted> = Vec::with_capacity(live.len());
        let mut at: FxHashMap<TemplateId, usize> = FxHashMap::default();
        for (_, c) in live {
            let Some(cl) = removed.remove(&c) else { continue };
            match at.get(&cl.id) {
                Some(&i) => {
                    out[i].count += cl.count;
                    out[i].last_seen = out[i].last_seen.max(cl.last_seen);
                }
                None => {
                    at.insert(cl.id, out.len());
                    out.push(Evicted {
                        template_id: cl.id,
                        template: cl.text.into_string(),
                        count: cl.count,
                        example: cl.example.into_string(),
                        last_seen: cl.last_seen,
                        still_live: still.contains(&cl.id),
                    });
                }
            }
        }
        out
    }

    /// Rebuilds every index (exact, patterns, shapes, one-apart groups)
    /// from the templates, as loading a state does. An index keeps its
    /// table when that is at most [`KEEP_SLACK`] times what it held (emptied,
    /// and sized for the templates where it has one entry each), and is
    /// freed otherwise: a miner held at a cap evicts again and again,
    /// and rebuilding every table from nothing each time made its memory
    /// swing by the tables' growth (and their rehash copies) on every
    /// eviction, while a table kept from a much larger past is let go.
    fn reindex(&mut self) {
        let n = self.clusters.len();
        reuse_map(&mut self.exact, n);
        reuse_map(&mut self.patterns, n);
        reuse_map(&mut self.wild, 0);
        // Shapes stay, with their tables emptied and refilled; the ones no
        // template fills again go afterwards. (Their order does not matter:
        // a line goes to the oldest template of any shape that takes it.)
        for shape in &mut self.shapes {
            reuse_map(&mut shape.by_rest, 0);
        }
        reuse_map(&mut self.shape_open, 0);
        for c in 0..self.clusters.len() as u32 {
            let cl = &self.clusters[c as usize];
            let pat = combine(cl.hashes.iter().map(|&h| Some(h)));
            let text = xxhash_rust::xxh3::xxh3_128(cl.text.as_bytes());
            self.patterns.insert(pat, c);
            self.exact.entry(text).or_insert(c);
            self.index_shape(c);
        }
        self.drop_empty_shapes();
        for c in 0..self.clusters.len() as u32 {
            if self.clusters[c as usize].parent != c || self.clusters[c as usize].tail {
                continue;
            }
            for p in 0..self.clusters[c as usize].tokens.len() {
                let w = self.wild_key(c, p);
                self.wild.entry(w).or_default().push(c);
            }
        }
        self.index_tails();
    }

    /// The variable values of a line under its template, as spans of
    /// `content`, in order.
    pub fn params(&self, c: ClusterId, content: &str, line: &MaskedLine, out: &mut Vec<Span>) {
        out.clear();
        let cl = &self.clusters[self.root(c.0) as usize];
        if !cl.tail && *cl.text == line.masked {
            // The template is the line's own masked text (tokens hold no
            // whitespace, so the texts are equal exactly when every token
            // is): each token gives its own variables, which are the
            // line's, in order.
            out.extend_from_slice(&line.vars);
            return;
        }
        self.params_token_by_token(cl, content, line, out);
    }

    /// [`Miner::params`] token by token (its slow twin, and its way for
    /// templates more general than the line).
    fn params_token_by_token(&self, cl: &Cluster, content: &str, line: &MaskedLine, out: &mut Vec<Span>) {
        let mut spans = Vec::new();
        // A tail template's last `<*>` is the rest of the line.
        let (tokens, tail) = match cl.tail {
            true => (&cl.tokens[..cl.tokens.len() - 1], Some(cl.tokens.len() - 1)),
            false => (&cl.tokens[..], None),
        };
        for (i, pat) in tokens.iter().enumerate() {
            if i >= line.len() {
                break;
            }
            if **pat == *line.masked_token(i) {
                out.extend_from_slice(line.token_vars(i));
                continue;
            }
            let raw = line.tokens[i].raw;
            let text = raw.of(content);
            if glob_spans(pat, text, &mut spans) {
                out.extend(spans.iter().map(|&(s, e)| Span {
                    start: raw.start + s as u32,
                    end: raw.start + e as u32,
                }));
            } else {
                out.push(raw);
            }
        }
        if let Some(j) = tail {
            if j < line.len() {
                out.push(Span {
                    start: line.tokens[j].raw.start,
                    end: line.tokens[line.len() - 1].raw.end,
                });
            }
        }
    }

    /// Every template with its count and an example, templates with the
    /// same text counted together; most frequent first, then by text.
    pub fn summaries(&self) -> Vec<TemplateSummary> {
        let mut by_id: FxHashMap<TemplateId, TemplateSummary> = FxHashMap::default();
        for (i, cl) in self.clusters.iter().enumerate() {
            if cl.parent != i as u32 {
                continue;
            }
            let e = by_id.entry(cl.id).or_insert_with(|| TemplateSummary {
                template_id: cl.id,
                template: cl.text.to_string(),
                count: 0,
                example: cl.example.to_string(),
            });
            e.count += cl.count;
        }
        let mut v: Vec<_> = by_id.into_values().collect();
        v.sort_by(|a, b| b.count.cmp(&a.count).then_with(|| a.template.cmp(&b.template)));
        v
    }

    /// Every template in creation order (what matching needs), a merged
    /// one with the index of its live template.
    pub(crate) fn export(&self) -> Vec<SavedCluster> {
        self.clusters
            .iter()
            .enumerate()
            .map(|(i, cl)| {
                let r = self.root(i as u32);
                let live = r == i as u32;
                // A tail template ends with an empty token (no real token
                // is empty) so that loading restores it.
                let mut tokens: Vec<String> = cl.tokens.iter().map(|t| t.to_string()).collect();
                if cl.tail {
                    tokens.push(String::new());
                }
                (
                    tokens,
                    if live { cl.count } else { 0 },
                    if live {
                        cl.example.to_string()
                    } else {
                        String::new()
                    },
                    (!live).then_some(r),
                )
            })
            .collect()
    }

    /// Rebuilds a miner from [`Miner::export`]'s list (or from live
    /// templates only, for a version 1 state). An `into` that does not
    /// point at a live template of the list is an error.
    pub(crate) fn import(config: MinerConfig, clusters: Vec<SavedCluster>) -> Result<Miner, String> {
        let mut m = Miner::new(config);
        let n = clusters.len();
        let mut parents = Vec::with_capacity(n);
        for (i, (mut tokens, count, example, into)) in clusters.into_iter().enumerate() {
            let tail = tokens.last().is_some_and(String::is_empty);
            if tail {
                tokens.pop();
                if tokens.last().map(String::as_str) != Some(VAR) {
                    return Err(format!(
                        "template {i} is marked as a tail but does not end with {VAR}"
                    ));
                }
            }
            // Tokens are what masking writes: never empty, never holding
            // the whitespace that separates them (`params` relies on it).
            if let Some(t) = tokens.iter().find(|t| {
                t.is_empty()
                    || t.bytes()
                        .any(|b| matches!(b, b' ' | b'\t' | b'\r' | b'\n' | 0x0b | 0x0c))
            }) {
                return Err(format!(
                    "template {i} has a token that is empty or holds whitespace: {t:?}"
                ));
            }
            let tokens = tokens.into_iter().map(Into::into).collect();
            let c = m.add_cluster(tokens, count, example.into());
            m.clusters[c as usize].tail = tail;
            parents.push(into.unwrap_or(i as u32));
        }
        for (i, &p) in parents.iter().enumerate() {
            if (p as usize) >= n || parents[p as usize] != p {
                return Err(format!(
                    "template {i} is merged into {p}, which is not a live template"
                ));
            }
            m.clusters[i].parent = p;
        }
        m.live = parents
            .iter()
            .enumerate()
            .filter(|(i, p)| **p == *i as u32)
            .count();
        for c in 0..n as u32 {
            if m.clusters[c as usize].parent != c || m.clusters[c as usize].tail {
                continue;
            }
            for p in 0..m.clusters[c as usize].tokens.len() {
                let w = m.wild_key(c, p);
                m.wild.entry(w).or_default().push(c);
            }
        }
        m.index_tails();
        Ok(m)
    }

    /// Distinct template texts.
    pub fn distinct_templates(&self) -> usize {
        let set: FxHashSet<TemplateId> = self
            .clusters
            .iter()
            .enumerate()
            .filter(|(i, c)| c.parent == *i as u32)
            .map(|(_, c)| c.id)
            .collect();
        set.len()
    }
}

#[cfg(test)]
mod evict_tests;

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use crate::mask::mask_line;

    /// Mines with a low threshold so that small examples show merges.
    fn mine(lines: &[&str]) -> (Miner, Vec<ClusterId>) {
        mine_with(
            MinerConfig {
                merge_threshold: 3,
                ..MinerConfig::default()
            },
            lines,
        )
    }

    fn mine_with(config: MinerConfig, lines: &[&str]) -> (Miner, Vec<ClusterId>) {
        let mut m = Miner::new(config);
        let mut ml = MaskedLine::default();
        let ids = lines
            .iter()
            .map(|l| {
                mask_line(l, &mut ml);
                m.learn(&ml, l)
            })
            .collect();
        m.finalize();
        (m, ids)
    }

    #[test]
    fn same_key_same_template() {
        let (m, ids) = mine(&["open port 22", "open port 80", "close port 22"]);
        assert_eq!(m.resolve(ids[0]), m.resolve(ids[1]));
        assert_eq!(m.template_text(ids[0]), "open port <*>");
        assert_eq!(m.template_text(ids[2]), "close port <*>");
    }

    #[test]
    fn words_merge_after_threshold() {
        let (m, ids) = mine(&[
            "login user=alice ok",
            "login user=bob ok",
            "login user=carol ok",
            "login user=dave ok",
        ]);
        for id in &ids {
            assert_eq!(m.template_text(*id), "login user=<*> ok");
        }
        let (m, ids) = mine(&["state from NEW to RUNNING", "state from RUNNING to DONE"]);
        assert_ne!(m.template_text(ids[0]), m.template_text(ids[1]));
        // The default needs more evidence than three values.
        let (m, ids) = mine_with(MinerConfig::default(), &["GET x ok", "POST x ok", "PUT x ok"]);
        assert_eq!(m.template_text(ids[0]), "GET x ok");
        // A position that already holds a variable takes words at once.
        let (m, ids) = mine_with(MinerConfig::default(), &["session for cyrus", "session for root"]);
        assert_eq!(m.template_text(ids[0]), "session for <*>");
        // A lone word never becomes a bare variable.
        let (m, ids) = mine(&["active", "blocked", "closing", "running"]);
        assert_eq!(m.template_text(ids[3]), "running");
    }

    #[test]
    fn variable_positions_absorb_words() {
        let (m, ids) = mine(&["took 5 ms", "took many ms"]);
        assert_eq!(m.template_text(ids[1]), "took <*> ms");
    }

    #[test]
    fn params_in_order() {
        let lines = [
            "login user=alice from 10.0.0.1:22",
            "login user=bob from 10.0.0.2:22",
            "login user=carol from 10.0.0.3:22",
        ];
        let (m, ids) = mine(&lines);
        let mut ml = MaskedLine::default();
        mask_line(lines[0], &mut ml);
        let mut out = Vec::new();
        m.params(ids[0], lines[0], &ml, &mut out);
        let vals: Vec<&str> = out.iter().map(|s| s.of(lines[0])).collect();
        assert_eq!(vals, ["alice", "10.0.0.1", "22"]);
    }

    #[test]
    fn generalize_keeps_delimited_affixes() {
        assert_eq!(generalize(&["user=guest", "user=test"]), "user=<*>");
        assert_eq!(generalize(&["ASSIGNED", "UNASSIGNED"]), "<*>");
        assert_eq!(generalize(&["(a)", "(bb)"]), "(<*>)");
    }

    #[test]
    fn glob() {
        let mut v = Vec::new();
        assert!(glob_spans("user=<*>", "user=bob", &mut v));
        assert_eq!(v, [(5, 8)]);
        assert!(glob_spans("user=<*>", "user=", &mut v));
        assert_eq!(v, [(5, 5)]);
        assert!(glob_spans("<*>:<*>", "a:b:c", &mut v));
        assert!(!glob_spans("x<*>", "y1", &mut v));
    }

    /// The slow, obviously correct twin of [`Miner::find`]: the first
    /// template, in creation order, that takes the line. A template of the
    /// line's length takes it when every token matches; a tail template
    /// `P <*>` also takes a longer line that starts with the tokens `P`
    /// where a tail may start after them (the token before ends with `:`
    /// or `=`, or a trailing run of values with a variable starts there).
    /// [`glob_spans`] as first written: split the pattern at `<*>` into a
    /// list, then place each literal.
    fn glob_spans_slowly(pattern: &str, text: &str, out: &mut Vec<(usize, usize)>) -> bool {
        out.clear();
        let parts: Vec<&str> = pattern.split(VAR).collect();
        if parts.len() == 1 {
            return pattern == text;
        }
        if !text.starts_with(parts[0]) {
            return false;
        }
        let mut pos = parts[0].len();
        for (i, lit) in parts.iter().enumerate().skip(1) {
            let from = pos;
            if from > text.len() {
                return false;
            }
            let found = if i == parts.len() - 1 {
                (text.len() >= from + lit.len() && text.ends_with(lit)).then(|| text.len() - lit.len())
            } else if lit.is_empty() {
                Some(from)
            } else {
                text.get(from..).and_then(|t| t.find(lit)).map(|x| x + from)
            };
            let Some(at) = found else { return false };
            out.push((pos, at));
            pos = at + lit.len();
        }
        pos == text.len()
    }

    pub(crate) fn find_slow(m: &Miner, line: &MaskedLine) -> Option<u32> {
        let n = line.len();
        let mut run = n;
        while run > 1 && value_only(line.masked_token(run - 1)) {
            run -= 1;
        }
        if !(run..n).any(|i| has_var(line.masked_token(i))) {
            run = n;
        }
        let mut v = Vec::new();
        (0..m.clusters.len() as u32).find(|&c| {
            let cl = &m.clusters[c as usize];
            let positional = cl.tokens.len() == n
                && cl
                    .tokens
                    .iter()
                    .enumerate()
                    .all(|(i, t)| glob_spans(t, line.masked_token(i), &mut v));
            let j = cl.tokens.len().saturating_sub(1);
            let tail =
                cl.tail && j >= 1 && n > j && (0..j).all(|i| *cl.tokens[i] == *line.masked_token(i)) && {
                    let t = line.masked_token(j - 1);
                    t.ends_with(':') || t.ends_with('=') || j == run
                };
            positional || tail
        })
    }

    /// What one run gives: the final id of every line (learned the way the
    /// engine does, `learn_known` first), the id `lookup` gives it after
    /// `finalize`, and the summaries.
    struct Run {
        learned: Vec<TemplateId>,
        looked_up: Vec<Option<TemplateId>>,
        summaries: Vec<TemplateSummary>,
        clusters: usize,
    }

    fn run(lines: &[String], cache_keys: usize, known_first: bool) -> Run {
        let mut m = Miner::new(MinerConfig {
            merge_threshold: 3,
            cache_keys,
        });
        let mut ml = MaskedLine::default();
        let mut ids = Vec::with_capacity(lines.len());
        for l in lines {
            mask_line(l, &mut ml);
            let known = if known_first { m.learn_known(ml.key) } else { None };
            let c = match known {
                Some(c) => c,
                None => m.learn(&ml, l),
            };
            // The index search agrees with its slow twin at every step.
            let slow = find_slow(&m, &ml).expect("a learned line has a template");
            assert_eq!(m.find(&ml), Some(slow), "line {l:?}");
            assert_eq!(m.root(slow), c.0, "line {l:?}");
            ids.push(c);
        }
        m.finalize();
        let learned = ids.iter().map(|&c| m.template_id(c)).collect();
        let looked_up = lines
            .iter()
            .map(|l| {
                mask_line(l, &mut ml);
                m.lookup(&ml).map(|c| m.template_id(c))
            })
            .collect();
        Run {
            learned,
            looked_up,
            summaries: m.summaries(),
            clusters: m.clusters.len(),
        }
    }

    /// The invariant: capacities 0, 1 and 16 give what the default (far
    /// larger than any input here) gives, line by line, and `lookup` after
    /// `finalize` agrees with learning.
    fn assert_cache_independent(lines: &[String]) {
        let full = run(lines, DEFAULT_CACHE_KEYS, false);
        for (l, (a, b)) in lines.iter().zip(full.learned.iter().zip(&full.looked_up)) {
            assert_eq!(Some(*a), *b, "lookup after finalize differs for {l:?}");
        }
        for (cap, known_first) in [
            (0, false),
            (1, false),
            (1, true),
            (16, true),
            (DEFAULT_CACHE_KEYS, true),
        ] {
            let r = run(lines, cap, known_first);
            assert_eq!(r.learned, full.learned, "capacity {cap}");
            assert_eq!(r.looked_up, full.looked_up, "capacity {cap}");
            assert_eq!(r.summaries, full.summaries, "capacity {cap}");
            assert_eq!(r.clusters, full.clusters, "capacity {cap}");
        }
    }

    mod props {
        use super::*;
        use proptest::prelude::*;

        /// Tokens that mask to constants, to variables, and to partly
        /// masked forms, so that templates overlap.
        fn token() -> impl Strategy<Value = String> {
            prop_oneof![
                prop::sample::select(vec![
                    "a", "b", "c", "user", "ok", "(x)", "()", "k=v", "k=w", "<*>"
                ])
                .prop_map(str::to_string),
                "[a-d]{1,3}",
                "[0-9]{1,3}",
                "[a-c]=[0-9a-c]{1,2}",
                "[a-b][0-9]",
                "/[a-b]/[0-9]",
            ]
        }

        fn soup() -> impl Strategy<Value = Vec<String>> {
            prop::collection::vec(
                prop::collection::vec(token(), 0..6).prop_map(|t| t.join(" ")),
                1..120,
            )
        }

        /// Lines from a few templates with a random word or number in
        /// their slots.
        fn templated() -> impl Strategy<Value = Vec<String>> {
            let fill = prop_oneof!["[a-z]{1,6}", "[0-9]{1,4}", "[a-z]{1,3}[0-9]{0,2}"];
            prop::collection::vec((0usize..4, fill.clone(), fill), 1..200).prop_map(|v| {
                v.into_iter()
                    .map(|(t, x, y)| match t {
                        0 => format!("user {x} logged in from {y}"),
                        1 => format!("connection {x} closed"),
                        2 => format!("job {x} state {y} done"),
                        _ => format!("{x} {y} ok"),
                    })
                    .collect()
            })
        }

        proptest! {
            #[test]
            fn token_soups_do_not_depend_on_the_cache(lines in soup()) {
                assert_cache_independent(&lines);
            }

            #[test]
            fn templated_lines_do_not_depend_on_the_cache(lines in templated()) {
                assert_cache_independent(&lines);
            }

            /// The byte-scanning token predicates and their obvious
            /// twins: split on `VAR` first, search `VAR` as a substring.
            #[test]
            fn token_predicates_match_their_slow_twins(t in r"[a<*>9=:\u{e9} ]{0,9}") {
                prop_assert_eq!(has_var(&t), t.contains(VAR));
                prop_assert_eq!(
                    has_word(&t),
                    t.split(VAR).any(|part| part.bytes().any(|b| b.is_ascii_alphabetic()))
                );
                prop_assert_eq!(
                    value_only(&t),
                    !t.split(VAR).any(|part| part.bytes().any(|b| b.is_ascii_alphanumeric() || b >= 0x80))
                );
            }

            #[test]
            fn glob_spans_matches_its_slow_twin(
                pattern in r"(<\*>|[ab<*>]){0,6}",
                text in r"[ab<*>]{0,8}",
            ) {
                let mut fast = Vec::new();
                let ok = glob_spans(&pattern, &text, &mut fast);
                let mut slow = Vec::new();
                let slow_ok = glob_spans_slowly(&pattern, &text, &mut slow);
                prop_assert_eq!(ok, slow_ok, "{:?} {:?}", pattern, text);
                if ok {
                    prop_assert_eq!(fast, slow);
                }
            }

            #[test]
            fn blanking_by_subtraction_equals_combining_with_blanks(
                hashes in proptest::collection::vec(any::<u64>(), 1..40),
                blanks in proptest::collection::vec(any::<bool>(), 40),
            ) {
                // The fast path (one sum, a subtraction per blank) and the
                // slow one (every position combined again) agree.
                let fast = finish_sum(
                    (0..hashes.len())
                        .filter(|&i| blanks[i])
                        .fold(term_sum(&hashes), |s, p| blanked(s, p, hashes[p])),
                    hashes.len(),
                );
                let slow = combine(hashes.iter().enumerate().map(|(i, &h)| (!blanks[i]).then_some(h)));
                prop_assert_eq!(fast, slow);
                // A different length never gives the same hash here.
                let longer = combine(hashes.iter().map(|&h| Some(h)).chain([Some(BLANK)]));
                prop_assert_ne!(combine(hashes.iter().map(|&h| Some(h))), longer);
            }

            #[test]
            fn glob_match_agrees_with_glob_spans(
                pattern in "[ab<*>]{0,8}",
                text in "[ab<*>]{0,8}",
            ) {
                let mut v = Vec::new();
                prop_assert_eq!(glob_match(&pattern, &text), glob_spans(&pattern, &text, &mut v));
            }
        }
    }

    /// Lines with a random word (and address) each, of three templates.
    pub(crate) fn random_word_lines(n: usize, seed: u64) -> Vec<String> {
        let mut x = seed | 1;
        let mut next = move || {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            x
        };
        (0..n)
            .map(|_| {
                let r = next();
                let word: String = (0..8)
                    .map(|i| (b'a' + ((r >> (5 * i)) % 26) as u8) as char)
                    .collect();
                match r % 3 {
                    0 => format!(
                        "user {word} logged in from 10.{}.{}.7",
                        r >> 50 & 255,
                        r >> 42 & 255
                    ),
                    1 => format!("session opened for {word} by daemon"),
                    _ => format!("cache {word} evicted after timeout"),
                }
            })
            .collect()
    }

    /// The bug: memory grew with distinct lines (every key was kept). Now
    /// distinct lines of a few templates keep the miner at a few templates
    /// and at most the cache's keys.
    #[test]
    fn memory_grows_with_templates_not_distinct_lines() {
        let lines = random_word_lines(30_000, 42);
        let cap = 64;
        let mut m = Miner::new(MinerConfig {
            cache_keys: cap,
            ..MinerConfig::default()
        });
        let mut ml = MaskedLine::default();
        for l in &lines {
            mask_line(l, &mut ml);
            m.learn(&ml, l);
        }
        m.finalize();
        assert_eq!(m.distinct_templates(), 3, "{:?}", m.summaries());
        let texts: Vec<String> = m.summaries().into_iter().map(|s| s.template).collect();
        assert!(
            texts.contains(&"user <*> logged in from <*>".to_string()),
            "{texts:?}"
        );
        // Eight founders per template before the merge, plus the merges.
        assert!(m.clusters.len() <= 3 * 9, "{} clusters", m.clusters.len());
        let groups: usize = m.wild.values().map(|g| g.len()).sum();
        assert!(groups <= m.clusters.len() * 6, "{groups} group entries");
        assert!(m.exact.len() <= m.clusters.len() && m.patterns.len() <= m.clusters.len());
        assert!(m.cache.len() <= cap);
        let total: u64 = m.summaries().iter().map(|s| s.count).sum();
        assert_eq!(total, lines.len() as u64, "every line counted once");
    }

    #[test]
    fn oldest_matching_template_wins_whatever_was_cached() {
        // `a <*> <*>` (oldest) and `<*> b c` both take `a b c`; the oldest
        // wins, whether or not the key was seen before the second existed.
        let lines: Vec<String> = ["a 1 2", "7 b c", "a b c", "a b c"].map(String::from).to_vec();
        let (m, ids) = mine(&lines.iter().map(String::as_str).collect::<Vec<_>>());
        assert_eq!(m.template_text(ids[2]), "a <*> <*>");
        assert_eq!(m.template_text(ids[1]), "<*> b c");
        assert_cache_independent(&lines);
    }

    /// `params` takes the line's own variables when the template is the
    /// line's masked text; token by token (its slow twin) gives the same,
    /// for templates equal to the line and more general ones alike.
    #[test]
    fn params_of_a_line_under_its_own_text_equal_the_token_by_token_twin() {
        let mut lines = Vec::new();
        for i in 0..40 {
            lines.push(format!(
                "user u{} logged in from 10.0.0.{} port {}",
                i % 7,
                i,
                4000 + i
            ));
            lines.push(format!("job {} took {}ms on node-{}", i, i * 3, i % 4));
            lines.push(format!(
                "state {} reached",
                ["open", "closed", "idle", "busy", "done"][i % 5]
            ));
            lines.push(format!("connection {i} reset"));
        }
        let refs: Vec<&str> = lines.iter().map(String::as_str).collect();
        let (m, ids) = mine(&refs);
        let (mut own, mut general) = (0, 0);
        let mut ml = MaskedLine::default();
        let (mut fast, mut slow) = (Vec::new(), Vec::new());
        for (l, &c) in refs.iter().zip(&ids) {
            mask_line(l, &mut ml);
            m.params(c, l, &ml, &mut fast);
            let cl = &m.clusters[m.root(c.0) as usize];
            slow.clear();
            m.params_token_by_token(cl, l, &ml, &mut slow);
            assert_eq!(fast, slow, "{l:?} under {:?}", m.template_text(c));
            if *cl.text == ml.masked {
                own += 1;
            } else {
                general += 1;
            }
        }
        // Both ways were taken.
        assert!(own > 0 && general > 0, "own {own}, general {general}");
    }

    #[test]
    fn a_state_with_a_token_that_is_empty_or_holds_whitespace_is_refused() {
        for tokens in [vec!["a b", "c"], vec!["a", "", "c"], vec!["a\tb"], vec!["x\n"]] {
            let saved = vec![(
                tokens.iter().map(|t| t.to_string()).collect(),
                1,
                "a".to_string(),
                None,
            )];
            let err = Miner::import(MinerConfig::default(), saved).expect_err("refused");
            assert!(err.contains("empty or holds whitespace"), "{err}");
        }
        let ok = vec![(
            vec!["a".to_string(), VAR.to_string(), String::new()],
            1,
            "a 1".to_string(),
            None,
        )];
        assert!(Miner::import(MinerConfig::default(), ok).is_ok());
    }
}

#[cfg(test)]
mod tail_tests;
