//! Tokenizing and variable masking: one line of content in, a sequence of
//! masked tokens out (`blk_-4123` → `<*>`, `uid=0` → `uid=<*>`).
//!
//! The rules follow the published Loghub-2.0 annotation conventions
//! (Khan et al., ICSE 2022): a token part that holds a variable becomes `<*>`,
//! digit-only parts, paths, booleans and null-like values are variables, and
//! variables joined by nothing or by `.` merge into one. They are generic:
//! nothing here knows any particular log.

use crate::kind::{self, VarKind};

/// Where a token or a variable lies: a byte range in the content.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Span {
    /// First byte.
    pub start: u32,
    /// One past the last byte.
    pub end: u32,
}

impl Span {
    fn new(start: usize, end: usize) -> Span {
        Span {
            start: start as u32,
            end: end as u32,
        }
    }
    /// The text of this span in `content`.
    pub fn of<'a>(&self, content: &'a str) -> &'a str {
        &content[self.start as usize..self.end as usize]
    }
}

/// One whitespace-separated token after masking.
#[derive(Debug, Clone, Copy)]
pub struct MaskedToken {
    /// The token in the content.
    pub raw: Span,
    /// The masked text in [`MaskedLine::masked`].
    pub masked: Span,
    /// Index of this token's first variable in [`MaskedLine::vars`].
    pub vars_start: u32,
    /// One past the index of this token's last variable.
    pub vars_end: u32,
}

/// Caller-owned scratch holding one masked line; reuse it across lines so
/// masking allocates nothing once warm.
#[derive(Debug, Default, Clone)]
pub struct MaskedLine {
    /// The tokens in order.
    pub tokens: Vec<MaskedToken>,
    /// All masked token texts, concatenated.
    pub masked: String,
    /// Variable spans in the content, in order.
    pub vars: Vec<Span>,
    /// 128-bit hash of the masked tokens: the line's exact template key.
    pub key: u128,
    elems: Vec<Elem>,
    spans: Vec<(usize, usize, bool, TokenInfo)>,
    marks: Vec<bool>,
    memo: memo::TokenMemo,
}

#[derive(Debug, Clone, Copy)]
enum Elem {
    Lit(usize, usize),
    Var(usize, usize),
}

impl MaskedLine {
    /// A line whose masker keeps the results of up to `slots` tokens
    /// (rounded up to a power of two) that needed the general rules, and
    /// replays them when the same token comes again; 0 keeps none. The
    /// default keeps 2,048. What is kept never changes a result, only
    /// its cost (see `mask/memo.rs`).
    pub fn with_token_memo(slots: usize) -> MaskedLine {
        MaskedLine {
            memo: memo::TokenMemo::with_slots(slots),
            ..MaskedLine::default()
        }
    }

    /// Empties the line: no token, no variable, key 0 (a line not masked).
    pub fn clear(&mut self) {
        self.tokens.clear();
        self.masked.clear();
        self.vars.clear();
        self.key = 0;
    }

    /// The masked text of token `i`.
    pub fn masked_token(&self, i: usize) -> &str {
        self.tokens[i].masked.of(&self.masked)
    }

    /// Number of tokens.
    pub fn len(&self) -> usize {
        self.tokens.len()
    }

    /// Whether the line has no token (empty or blank).
    pub fn is_empty(&self) -> bool {
        self.tokens.is_empty()
    }

    /// The variable spans of token `i`.
    pub fn token_vars(&self, i: usize) -> &[Span] {
        let t = &self.tokens[i];
        &self.vars[t.vars_start as usize..t.vars_end as usize]
    }
}

/// The marker written for a variable.
pub const VAR: &str = "<*>";

/// Delimiters that end a path-like segment (the Loghub PS rule).
#[inline]
fn is_path_delim(b: u8) -> bool {
    CLASS[b as usize] & PD != 0
}

/// Bytes that make up a compound word (`host-1.example.org`, `blk_-42`).
#[inline]
fn is_compound(b: u8) -> bool {
    CLASS[b as usize] & CP != 0
}

/// Splits `content` into whitespace tokens and masks the variables of each.
///
/// `out.masked` holds the masked tokens joined by one space, which is the
/// template text of the line before any mining generalises it.
pub fn mask_line(content: &str, out: &mut MaskedLine) {
    out.tokens.clear();
    out.masked.clear();
    out.vars.clear();
    let bytes = content.as_bytes();
    let mut spans = std::mem::take(&mut out.spans);
    spans.clear();
    // One table-driven pass finds the tokens and what each holds, so that
    // plain words (most tokens) need no further look.
    let n = bytes.len();
    let mut i = 0;
    while let Some(start) = token_start(bytes, i) {
        i = start;
        // Per byte only what every token needs: the classes present (an
        // OR) and whether all bytes are digits (an AND). Counts and the
        // null-word check run later, on the few tokens that need them.
        let (mut any, mut all) = (0u16, u16::MAX);
        while i < n {
            let c = CLASS[bytes[i] as usize];
            if c & SP != 0 {
                break;
            }
            any |= c;
            all &= c;
            i += 1;
        }
        spans.push((
            start,
            i,
            false,
            TokenInfo {
                class: any,
                all_digits: all & DG != 0,
                all_alnum: all & AN != 0,
                all_numeric: all & NU != 0,
                all,
                fast: true,
            },
        ));
    }
    // Day and month names are variables when they lead into a date
    // (`Sat Jun 11 03:44:44 2005`).
    let mut k = spans.len();
    while k > 1 {
        k -= 1;
        let (s, e, _, _) = spans[k - 1];
        let (ns, _, ndate, _) = spans[k];
        if (ndate || bytes[ns].is_ascii_digit()) && kind::is_date_word(&content[s..e]) {
            spans[k - 1].2 = true;
        }
    }
    for (n, &(start, end, date, info)) in spans.iter().enumerate() {
        if n > 0 {
            out.masked.push(' ');
        }
        if date {
            out.elems.clear();
            out.elems.push(Elem::Var(start, end));
            emit(content, start, end, out);
        } else {
            mask_token(content, start, end, info, out);
        }
    }
    out.spans = spans;
    out.key = xxhash_rust::xxh3::xxh3_128(out.masked.as_bytes());
}

/// Where the next token starts at or after `i`: past whitespace; `None`
/// at the end.
#[inline]
fn token_start(bytes: &[u8], mut i: usize) -> Option<usize> {
    while i < bytes.len() && CLASS[bytes[i] as usize] & SP != 0 {
        i += 1;
    }
    (i < bytes.len()).then_some(i)
}

/// Rebuilds what [`mask_line`] wrote for `content` from the variable spans
/// it gave for that same content, without the masking rules: the tokens
/// (whitespace split), the masked text (each variable replaced by `<*>`,
/// tokens joined by one space), the spans and the key (the masked text's
/// hash, as [`mask_line`] computes it). For a second pass over content
/// masked once already.
///
/// `vars` must be `mask_line(content)`'s; the result is then
/// `mask_line(content)`'s (`tests::rebuilt_lines_equal_masked_lines`).
/// Spans that cannot be that content's (out of order, out of bounds, off
/// a character boundary) return false, and `out` is then to be masked.
pub fn rebuild_masked(content: &str, vars: impl IntoIterator<Item = Span>, out: &mut MaskedLine) -> bool {
    out.tokens.clear();
    out.masked.clear();
    out.vars.clear();
    let bytes = content.as_bytes();
    // The masked text is copied from the content in runs: from content
    // position `from` on, position p is masked position p - from + base.
    // A run ends at a variable (`<*>` is written instead) and at a gap
    // between tokens that is not one space (one space is written).
    let (mut from, mut base) = (0usize, 0usize);
    let mut i = 0;
    let mut vars = vars.into_iter().peekable();
    while let Some(start) = token_start(bytes, i) {
        if out.tokens.is_empty() {
            from = start;
        } else if !(start == i + 1 && bytes[i] == b' ') {
            out.masked.push_str(&content[from..i]);
            out.masked.push(' ');
            (from, base) = (start, out.masked.len());
        }
        let end = token_end(bytes, start);
        let (mstart, vstart) = (base + (start - from), out.vars.len());
        let mut at = start;
        while let Some(sp) = vars.next_if(|sp| (sp.start as usize) < end) {
            let (s, e) = (sp.start as usize, sp.end as usize);
            if !(at <= s && s < e && e <= end && content.is_char_boundary(s) && content.is_char_boundary(e)) {
                return false;
            }
            out.masked.push_str(&content[from..s]);
            out.masked.push_str(VAR);
            out.vars.push(sp);
            (at, from, base) = (e, e, out.masked.len());
        }
        out.tokens.push(MaskedToken {
            raw: Span::new(start, end),
            masked: Span::new(mstart, base + (end - from)),
            vars_start: vstart as u32,
            vars_end: out.vars.len() as u32,
        });
        i = end;
    }
    out.masked.push_str(&content[from..i]);
    out.key = xxhash_rust::xxh3::xxh3_128(out.masked.as_bytes());
    vars.next().is_none()
}

const ONES: u64 = 0x0101_0101_0101_0101;
const HIGHS: u64 = 0x8080_8080_8080_8080;

/// Where the token that starts at `i` ends: at the next whitespace byte
/// or the end of `bytes`. Eight bytes at a time: one word tells where its
/// first byte below 0x21 is (whitespace is all below 0x21; other such
/// bytes, control characters, are rare and send the rest of the token
/// byte by byte). `tests::token_end_slowly` is its twin.
#[inline]
fn token_end(bytes: &[u8], mut i: usize) -> usize {
    while let Some(chunk) = bytes.get(i..i + 8) {
        let w = u64::from_le_bytes(chunk.try_into().expect("eight bytes"));
        // Bytes below 0x21 as high bits: the lowest set bit is exact.
        let low = w.wrapping_sub(ONES * 0x21) & !w & HIGHS;
        if low != 0 {
            let k = (low.trailing_zeros() / 8) as usize;
            if CLASS[chunk[k] as usize] & SP != 0 {
                return i + k;
            }
            i += k + 1;
            break;
        }
        i += 8;
    }
    while i < bytes.len() && CLASS[bytes[i] as usize] & SP == 0 {
        i += 1;
    }
    i
}

/// What one scan learned about a token.
#[derive(Debug, Default, Clone, Copy)]
struct TokenInfo {
    /// The OR of its bytes' classes.
    class: u16,
    /// Whether every byte is a digit.
    all_digits: bool,
    /// Whether every byte is an ASCII letter or digit.
    all_alnum: bool,
    /// Whether every byte is a digit or one of `: , - .` (times, dates,
    /// addresses, decimals).
    all_numeric: bool,
    /// The AND of its bytes' classes.
    all: u16,
    /// Whether the fast paths for numeric tokens and segments may run
    /// (false: the general rules only, their slow twin in the tests).
    fast: bool,
}

/// How many times `b` occurs in `bytes`.
fn count(bytes: &[u8], b: u8) -> u32 {
    bytes.iter().filter(|&&c| c == b).count() as u32
}

/// Whether a run of letters and digits in `bytes` (between bytes that are
/// neither) is a boolean or user string ([`is_null_word`]).
fn has_null_word(bytes: &[u8], all_alnum: bool) -> bool {
    if all_alnum {
        // One run: the usual word.
        return (3..=5).contains(&bytes.len()) && is_null_word(bytes);
    }
    let mut run = 0;
    for (i, &c) in bytes.iter().enumerate() {
        if CLASS[c as usize] & AN == 0 {
            if (3..=5).contains(&(i - run)) && is_null_word(&bytes[run..i]) {
                return true;
            }
            run = i + 1;
        }
    }
    (3..=5).contains(&(bytes.len() - run)) && is_null_word(&bytes[run..])
}

const SP: u16 = 1;
const DG: u16 = 2;
const AT: u16 = 4;
const SL: u16 = 8;
const AN: u16 = 16;
const PD: u16 = 32;
const CP: u16 = 64;
const BS: u16 = 128;
const CO: u16 = 256;
const DA: u16 = 512;
const DO: u16 = 1024;
const NU: u16 = 2048;

/// Byte classes: space, digit, `@`, `/`, alphanumeric, path delimiter,
/// compound-word byte, backslash, `:`, `-`, `.`, numeric (digits and
/// `: , - .`).
static CLASS: [u16; 256] = {
    let mut t = [0u16; 256];
    let mut b = 0;
    while b < 256 {
        let c = b as u8;
        let mut k = if matches!(c, b' ' | b'\t' | b'\r' | b'\n' | 0x0b | 0x0c) {
            SP
        } else if c.is_ascii_digit() {
            DG | AN
        } else if c.is_ascii_alphabetic() {
            AN
        } else if c == b'@' {
            AT
        } else if c == b'/' {
            SL
        } else if c == b'\\' {
            BS
        } else {
            0
        };
        if matches!(
            c,
            b',' | b'!' | b';' | b':' | b'=' | b'|' | b'"' | b'\'' | b'[' | b']' | b'(' | b')' | b'{' | b'}'
        ) {
            k |= PD;
        }
        if c.is_ascii_alphanumeric() || c == b'_' || c == b'.' || c == b'-' || c >= 0x80 {
            k |= CP;
        }
        if c.is_ascii_digit() || matches!(c, b':' | b',' | b'-' | b'.') {
            k |= NU;
        }
        k |= match c {
            b':' => CO,
            b'-' => DA,
            b'.' => DO,
            _ => 0,
        };
        t[b] = k;
        b += 1;
    }
    t
};

/// A boolean or a Loghub-2.0 "user string" (`true`, `false`, `null`,
/// `root`, `admin`), matched on bytes without building a string.
fn is_null_word(w: &[u8]) -> bool {
    let x: &[u8] = match w.len() {
        4 => match w[0] | 0x20 {
            b't' => b"true",
            b'n' => b"null",
            b'r' => b"root",
            _ => return false,
        },
        5 => match w[0] | 0x20 {
            b'f' => b"false",
            b'a' => b"admin",
            _ => return false,
        },
        _ => return false,
    };
    x.eq_ignore_ascii_case(w)
}

/// The delimiters of Loghub-2.0's token rules (whitespace and
/// `, ! ; : = | " ' [ ] ( ) { } . - + @ # $ % &`). A token part between two
/// of them that holds a variable is one variable (the WV rule): `<`, `>`,
/// `*`, `~`, `\`, `_` and `/` are not delimiters, so `Name<5>` and
/// `1~deb12u1` are one variable each.
#[inline]
fn is_token_delim(b: u8) -> bool {
    matches!(
        b,
        b' ' | b'\t'
            | b','
            | b'!'
            | b';'
            | b':'
            | b'='
            | b'|'
            | b'"'
            | b'\''
            | b'['
            | b']'
            | b'('
            | b')'
            | b'{'
            | b'}'
            | b'.'
            | b'-'
            | b'+'
            | b'@'
            | b'#'
            | b'$'
            | b'%'
            | b'&'
    )
}

/// Masks one token: numbers and plain words by their fast paths; the
/// others by the general rules or, for a token seen before, by replaying
/// what those rules wrote then (`memo`; not with `info.fast` off, where
/// the rules run every time: the slow twin). Inlined: called once per
/// token, from one place in `mask_line` (and the twins).
#[inline(always)]
fn mask_token(content: &str, start: usize, end: usize, info: TokenInfo, out: &mut MaskedLine) {
    out.elems.clear();
    let bytes = content.as_bytes();
    let tok = &bytes[start..end];
    let at = info.class & AT != 0;
    let slash = info.class & SL != 0;
    let len = end - start;
    if info.all_digits {
        // Fast path: a bare number.
        let mstart = out.masked.len();
        out.masked.push_str(VAR);
        let v = out.vars.len() as u32;
        out.vars.push(Span::new(start, end));
        out.tokens.push(MaskedToken {
            raw: Span::new(start, end),
            masked: Span::new(mstart, out.masked.len()),
            vars_start: v,
            vars_end: v + 1,
        });
        return;
    }
    if info.fast && info.all_numeric && mask_numeric(content, start, end, out) {
        return;
    }
    let backslash = info.class & BS != 0;
    let colons = if info.class & CO != 0 { count(tok, b':') } else { 0 };
    let plain = !at && !slash && !backslash && colons < 2 && info.class & DG == 0;
    // A domain name without digits (`mail.example.net`) is a host.
    let domain = plain && info.class & DO != 0 && {
        let t = content[start..end].trim_end_matches(['.', ',', ';', ')', ']', '"', '\'']);
        let t = t.trim_start_matches(['(', '[', '"', '\'']);
        kind::is_fqdn(t)
    };
    if plain && !domain && !has_null_word(tok, info.all_alnum) {
        // Fast path: a token without digits, paths, addresses or null-like
        // words is a constant as it stands.
        let mstart = out.masked.len();
        out.masked.push_str(&content[start..end]);
        let v = out.vars.len() as u32;
        out.tokens.push(MaskedToken {
            raw: Span::new(start, end),
            masked: Span::new(mstart, out.masked.len()),
            vars_start: v,
            vars_end: v,
        });
        return;
    }
    // A token seen once is only marked (its hash); one seen again is kept,
    // so tokens that never repeat (random ids) cost one hash.
    let keep = if info.fast && len <= memo::MAX_TOKEN && out.memo.is_on() {
        let hash = memo::TokenMemo::hash(tok);
        match out.memo.lookup(tok, hash) {
            logsieve_memo::Probe::Kept(slot) => {
                out.memo.replay(
                    slot,
                    content,
                    start,
                    &mut out.masked,
                    &mut out.vars,
                    &mut out.tokens,
                );
                return;
            }
            logsieve_memo::Probe::SeenOnce(slot) => Some((slot, hash, out.masked.len(), out.vars.len())),
            logsieve_memo::Probe::New(slot) => {
                out.memo.mark(slot, hash);
                None
            }
        }
    } else {
        None
    };
    let (ws, we) = kind::strip_wrapping(bytes, start, end);
    // Versions and date-times start with a digit (or `v` and a digit).
    let numeric = ws < we
        && (bytes[ws].is_ascii_digit()
            || (bytes[ws] == b'v' && bytes.get(ws + 1).is_some_and(u8::is_ascii_digit)));
    let dashes = if info.class & DA != 0 { count(tok, b'-') } else { 0 };
    let delimited = at
        || colons >= 2
        || (slash && colons >= 1)
        || (dashes >= 4 && len >= 36)
        || (dashes == 5 && len >= 17);
    // Whole-token typed values whose inner punctuation is part of the value.
    let (cs, ce) = (ws, we);
    let whole = cs < ce && {
        let w = &content[cs..ce];
        (delimited && kind::is_delimited_kind_in(w, at, slash))
            || (numeric && kind::is_numeric_kind(w))
            || (backslash && kind::is_windows_path(w))
    };
    if whole {
        if cs > start {
            out.elems.push(Elem::Lit(start, cs));
        }
        out.elems.push(Elem::Var(cs, ce));
        if ce < end {
            out.elems.push(Elem::Lit(ce, end));
        }
    } else {
        // Host names are variables, but not inside a URL: a constant link
        // in a message (`http://wiki.example.org/x`) stays as it is.
        let hosts = !(slash && colons >= 1 && kind::scheme_sep(&content[start..end]).is_some());
        let mut s = start;
        while s < end {
            if is_path_delim(bytes[s]) {
                push_lit(&mut out.elems, s, s + 1);
                s += 1;
                continue;
            }
            // The segment and the classes of its bytes: without a path
            // delimiter in the token, the whole token, as the tokenizer
            // saw it (no second scan).
            let (mut e, mut any, mut all) = (s, 0u16, u16::MAX);
            if info.fast && info.class & PD == 0 {
                (e, any, all) = (end, info.class, info.all);
            } else {
                while e < end && !is_path_delim(bytes[e]) {
                    any |= CLASS[bytes[e] as usize];
                    all &= CLASS[bytes[e] as usize];
                    e += 1;
                }
            }
            if slash && kind::is_path(&content[s..e]) {
                out.elems.push(Elem::Var(s, e));
            } else if !(info.fast && all & NU != 0 && numeric_segment(bytes, s, e, &mut out.elems)) {
                let classes = info.fast.then_some((any, all));
                mask_segment(content, s, e, end, hosts, classes, &mut out.elems);
            }
            s = e;
        }
    }
    widen_to_delimiters(bytes, start, end, &mut out.elems, &mut out.marks);
    emit(content, start, end, out);
    if let Some((slot, hash, mstart, vstart)) = keep {
        out.memo
            .record(slot, tok, hash, start, &out.masked[mstart..], &out.vars[vstart..]);
    }
}

/// Fast path for numeric tokens: digit groups joined by single `:`, `,`,
/// `-` or `.` (`17:42:56`, `2017-05-16`, `10.0.0.1:80`, `88:55:76,229`,
/// `0.25`), starting and ending with a digit. Returns false, writing
/// nothing, for any other token.
///
/// What the general path makes of such a token, rule by rule: a
/// whole-token kind (UUID, MAC, IPv6, a version...) is one variable; else
/// `:` and `,` split it into segments (path delimiters, never a host here:
/// no letters), a segment with a `.` is one value (its first label is a
/// number), and the `-`-joined groups of the others are a variable each.
/// Every variable then ends at a delimiter, so nothing widens, and none
/// touches another or is `.`-joined to one. `twins::numeric_tokens_*`
/// compare this with the general path.
fn mask_numeric(content: &str, start: usize, end: usize, out: &mut MaskedLine) -> bool {
    let bytes = content.as_bytes();
    let tok = &bytes[start..end];
    let (mut colons, mut dashes, mut dots) = (0u32, 0u32, 0u32);
    let mut prev_digit = false;
    for &c in tok {
        let digit = c.is_ascii_digit();
        if !digit {
            if !prev_digit {
                // Two separators in a row, or one first.
                return false;
            }
            colons += u32::from(c == b':');
            dashes += u32::from(c == b'-');
            dots += u32::from(c == b'.');
        }
        prev_digit = digit;
    }
    if !prev_digit {
        return false;
    }
    let len = end - start;
    let delimited = colons >= 2 || (dashes >= 4 && len >= 36) || (dashes == 5 && len >= 17);
    // Of the delimited kinds only those of these lengths can take digits
    // and single separators: a UUID (36), a MAC (17), a PCI address (12),
    // hex bytes (11, 14, 17, ...), and IPv6 without `::` needs 6 colons.
    // The numeric kinds: a date-time needs a `T`; a version, a `.`.
    let delimited_kind = delimited
        && (len == 36 || len == 17 || len == 12 || (len >= 11 && len % 3 == 2) || colons >= 6)
        && kind::is_delimited_kind_in(&content[start..end], false, false);
    let mstart = out.masked.len();
    let vstart = out.vars.len();
    if delimited_kind || (dots > 0 && kind::is_version(&content[start..end])) {
        out.vars.push(Span::new(start, end));
        out.masked.push_str(VAR);
    } else {
        let mut s = start;
        while s < end {
            let mut e = s;
            let mut dot = false;
            while e < end && !matches!(bytes[e], b':' | b',') {
                dot |= bytes[e] == b'.';
                e += 1;
            }
            if dot {
                out.vars.push(Span::new(s, e));
                out.masked.push_str(VAR);
            } else {
                // Digit groups joined by `-`.
                let mut g = s;
                while g < e {
                    let ge = bytes[g..e].iter().position(|&c| c == b'-').map_or(e, |k| g + k);
                    out.vars.push(Span::new(g, ge));
                    out.masked.push_str(VAR);
                    if ge < e {
                        out.masked.push('-');
                    }
                    g = ge + 1;
                }
            }
            if e < end {
                out.masked.push(bytes[e] as char);
            }
            s = e + 1;
        }
    }
    out.tokens.push(MaskedToken {
        raw: Span::new(start, end),
        masked: Span::new(mstart, out.masked.len()),
        vars_start: vstart as u32,
        vars_end: out.vars.len() as u32,
    });
    true
}

/// Fast path for a segment (a token part between path delimiters) of digit
/// groups joined by single `-` or `.`, starting and ending with a digit:
/// pushes what [`mask_segment`] would push and returns true, or pushes
/// nothing and returns false for any other segment.
///
/// [`mask_segment`] sees one compound (all its bytes are compound bytes),
/// never a host (no letter), whose pieces are all digits, so variables:
/// with a `.`, the first label holds a variable and the compound is one
/// value; without, the groups are variables joined by literal `-`s.
fn numeric_segment(bytes: &[u8], s: usize, e: usize, elems: &mut Vec<Elem>) -> bool {
    let seg = &bytes[s..e];
    let mut prev_digit = false;
    let mut dot = false;
    for &c in seg {
        let digit = c.is_ascii_digit();
        if !digit {
            if !prev_digit || !matches!(c, b'.' | b'-') {
                return false;
            }
            dot |= c == b'.';
        }
        prev_digit = digit;
    }
    if !prev_digit {
        return false;
    }
    if dot {
        elems.push(Elem::Var(s, e));
        return true;
    }
    let mut g = s;
    while g < e {
        let ge = bytes[g..e].iter().position(|&c| c == b'-').map_or(e, |k| g + k);
        elems.push(Elem::Var(g, ge));
        if ge < e {
            elems.push(Elem::Lit(ge, ge + 1));
        }
        g = ge + 1;
    }
    true
}

/// The WV rule of Loghub-2.0: a part of the token between two token
/// delimiters ([`is_token_delim`]) that holds a variable becomes one
/// variable as a whole, unless a `/` outside variables sits in it (`Name<5>` → `<*>`,
/// `vCores:-17>` → `vCores:<*>`, `HTTP/1.1` stays `HTTP/<*>`). It only
/// widens variables, never narrows or removes one; a variable that holds
/// delimiters itself takes what touches it (`<fe80::1>`, `~-3`).
fn widen_to_delimiters(bytes: &[u8], start: usize, end: usize, elems: &mut Vec<Elem>, marks: &mut Vec<bool>) {
    // Nothing to widen when every variable already starts and ends at a
    // delimiter (or the token's edge): the usual case, checked per
    // variable instead of per byte.
    let bounded = elems.iter().all(|el| match *el {
        Elem::Var(s, e) => {
            (s == start || is_token_delim(bytes[s - 1])) && (e == end || is_token_delim(bytes[e]))
        }
        Elem::Lit(..) => true,
    });
    if bounded {
        return;
    }
    marks.clear();
    marks.resize(end - start, false);
    for el in elems.iter() {
        if let Elem::Var(s, e) = *el {
            marks[s - start..e - start].fill(true);
        }
    }
    // A part runs between delimiters that are not inside a variable: a
    // variable that holds delimiters (`0::1`, a sign) is one part with
    // what touches it (`<fe80::1>` is one variable).
    let mut changed = false;
    let mut i = start;
    let cut = |i: usize, marks: &[bool]| is_token_delim(bytes[i]) && !marks[i - start];
    while i < end {
        if cut(i, marks) {
            i += 1;
            continue;
        }
        let ps = i;
        let (mut var, mut lit, mut slash) = (false, false, false);
        while i < end && !cut(i, marks) {
            var |= marks[i - start];
            lit |= !marks[i - start];
            slash |= bytes[i] == b'/' && !marks[i - start];
            i += 1;
        }
        if var && lit && !slash {
            marks[ps - start..i - start].fill(true);
            changed = true;
        }
    }
    if !changed {
        return;
    }
    elems.clear();
    let mut s = start;
    while s < end {
        let m = marks[s - start];
        let mut e = s + 1;
        // A lone `.` stays its own literal, so that `.`-joined variables
        // still merge in `emit`.
        while e < end && marks[e - start] == m && (m || (bytes[e] != b'.' && bytes[e - 1] != b'.')) {
            e += 1;
        }
        elems.push(if m { Elem::Var(s, e) } else { Elem::Lit(s, e) });
        s = e;
    }
}

/// Appends punctuation as a literal, extending the previous literal when
/// adjacent (fewer elements to emit). Safe for the `.`-join rule: what is
/// appended here is never a `.`, so a `.` that ends up inside a longer
/// literal was not directly followed by a variable.
fn push_lit(elems: &mut Vec<Elem>, s: usize, e: usize) {
    if let Some(Elem::Lit(_, pe)) = elems.last_mut() {
        if *pe == s {
            *pe = e;
            return;
        }
    }
    elems.push(Elem::Lit(s, e));
}

/// Masks a segment free of path delimiters: compounds of `[A-Za-z0-9_.-]`
/// separated by other punctuation. `tok_end` is the end of the whole token,
/// for what follows the segment; with `hosts`, host names are variables.
///
/// `classes`: the OR and the AND of the segment's byte classes, when the
/// caller knows them (a segment of compound bytes only is then one
/// compound, found without a scan).
fn mask_segment(
    content: &str,
    start: usize,
    end: usize,
    tok_end: usize,
    hosts: bool,
    classes: Option<(u16, u16)>,
    elems: &mut Vec<Elem>,
) {
    let bytes = content.as_bytes();
    let mut s = start;
    while s < end {
        if !is_compound(bytes[s]) {
            push_lit(elems, s, s + 1);
            s += 1;
            continue;
        }
        // The compound, and whether it holds a digit, in one scan.
        let (mut e, mut class) = (s, 0);
        match classes {
            Some((any, all)) if s == start && all & CP != 0 => (e, class) = (end, any),
            _ => {
                while e < end && is_compound(bytes[e]) {
                    class |= CLASS[bytes[e] as usize];
                    e += 1;
                }
            }
        }
        if hosts && is_host(content, s, e, tok_end) {
            // A sentence's final `.` is not part of the name.
            let mut ve = e;
            while ve > s && bytes[ve - 1] == b'.' {
                ve -= 1;
            }
            elems.push(Elem::Var(s, ve));
            if ve < e {
                elems.push(Elem::Lit(ve, e));
            }
        } else {
            mask_compound_with(content, s, e, class & DG != 0, elems);
        }
        s = e;
    }
}

/// Whether the compound `[s, e)` is a host name: a domain name
/// (`cdn.vendor.com`), or a name followed by `:port` or `/address`
/// (`msra-sa-41:8030`, `db-7/10.0.0.7`).
fn is_host(content: &str, s: usize, e: usize, tok_end: usize) -> bool {
    let bytes = content.as_bytes();
    let next = bytes.get(e).copied().filter(|_| e < tok_end);
    if !matches!(next, Some(b':' | b'/')) {
        // Only a domain name: it ends with letters (a sentence's final
        // dots aside) and has a dot.
        let mut ve = e;
        while ve > s && bytes[ve - 1] == b'.' {
            ve -= 1;
        }
        if ve == s || !bytes[ve - 1].is_ascii_alphabetic() || !bytes[s..ve].contains(&b'.') {
            return false;
        }
        return kind::is_fqdn(&content[s..ve]);
    }
    let name = &content[s..e];
    let rest = &bytes[e + 1..tok_end];
    // What follows first (a port, an address): most `word:` are keys.
    let port_or_address = match next {
        Some(b':') => {
            let digits = rest.iter().take_while(|c| c.is_ascii_digit()).count();
            (1..=5).contains(&digits) && rest.get(digits).is_none_or(|c| !c.is_ascii_alphanumeric())
        }
        _ => {
            let n = rest
                .iter()
                .take_while(|c| c.is_ascii_digit() || **c == b'.')
                .count();
            n >= 7 && kind::is_ipv4(content[e + 1..e + 1 + n].trim_end_matches('.'))
        }
    };
    if port_or_address {
        return kind::is_host_before_port(name);
    }
    name.as_bytes().last().is_some_and(u8::is_ascii_alphabetic) && name.contains('.') && kind::is_fqdn(name)
}

/// Whether a `-` at `i` is the sign of a number rather than a separator.
fn is_sign(bytes: &[u8], start: usize, i: usize, end: usize) -> bool {
    bytes[i] == b'-' && i + 1 < end && bytes[i + 1].is_ascii_digit() && (i == start || bytes[i - 1] == b'_')
}

/// A compound is split at `.` and `-` into pieces. A piece with digits is a
/// variable unless it reads as a name (`ext3`, `v2`, `HttpServer2`). A
/// dotted compound whose first label holds a variable is one value as a
/// whole (addresses, host names, versions, decimals); `core.2275` keeps its
/// name (`core.<*>`).
#[cfg(test)]
fn mask_compound(content: &str, start: usize, end: usize, elems: &mut Vec<Elem>) {
    let digit = content.as_bytes()[start..end].iter().any(u8::is_ascii_digit);
    mask_compound_with(content, start, end, digit, elems)
}

/// [`mask_compound`] for a caller that knows whether the compound holds a
/// digit (`digit`).
fn mask_compound_with(content: &str, start: usize, end: usize, digit: bool, elems: &mut Vec<Elem>) {
    let c = &content.as_bytes()[start..end];
    if !digit && !has_null_word(c, false) {
        // No digits and no boolean or user string: no piece is a variable
        // and nothing below would change that, so the compound is one
        // literal (`emit` writes literals as they are, whatever their
        // split; a `.` joins variables only when it is a literal of its
        // own between two, which needs a variable piece here).
        elems.push(Elem::Lit(start, end));
        return;
    }
    mask_pieces(content, start, end, elems);
}

/// [`mask_compound`] without its shortcut for compounds that cannot hold a
/// variable: the rules piece by piece (the slow twin of the shortcut).
fn mask_pieces(content: &str, start: usize, end: usize, elems: &mut Vec<Elem>) {
    let bytes = content.as_bytes();
    let first = elems.len();
    // Whether the first `.`-separated label holds a variable piece.
    let mut first_label_var = false;
    let mut soft_in_first_label = false;
    let mut digit_pieces = 0usize;
    let mut in_first_label = true;
    let mut has_dot = false;
    let mut s = start;
    while s < end {
        let b = bytes[s];
        if (b == b'.' || b == b'-') && !is_sign(bytes, start, s, end) {
            if b == b'.' {
                has_dot = true;
                in_first_label = false;
            }
            elems.push(Elem::Lit(s, s + 1));
            s += 1;
            continue;
        }
        // One scan splits the piece off and counts its digits.
        let mut e = s;
        let mut ndigits = 0;
        loop {
            ndigits += usize::from(bytes[e].is_ascii_digit());
            e += 1;
            if e >= end || ((bytes[e] == b'.' || bytes[e] == b'-') && !is_sign(bytes, start, e, end)) {
                break;
            }
        }
        let digits = ndigits > 0;
        digit_pieces += usize::from(digits);
        if kind::is_variable_piece_with(&bytes[s..e], ndigits) {
            first_label_var |= in_first_label;
            elems.push(Elem::Var(s, e));
        } else {
            soft_in_first_label |= digits && in_first_label;
            elems.push(Elem::Lit(s, e));
        }
        s = e;
    }
    if digit_pieces >= 2 {
        // Several numbered parts make an identifier (`R02-M1-N0-C`,
        // `J12-U11`): none of them is a name, even if it reads like one.
        first_label_var |= soft_in_first_label;
        for el in &mut elems[first..] {
            if let Elem::Lit(ps, pe) = *el {
                if bytes[ps..pe].iter().any(u8::is_ascii_digit) {
                    *el = Elem::Var(ps, pe);
                }
            }
        }
    }
    if first_label_var && has_dot {
        // Leading and trailing punctuation is not part of the value
        // (`CPU#0.` ends a sentence).
        let (mut s, mut e) = (start, end);
        while s < e && matches!(bytes[s], b'.' | b'-') && !is_sign(bytes, start, s, end) {
            s += 1;
        }
        while e > s && matches!(bytes[e - 1], b'.' | b'-') {
            e -= 1;
        }
        elems.truncate(first);
        if s > start {
            elems.push(Elem::Lit(start, s));
        }
        elems.push(Elem::Var(s, e));
        if e < end {
            elems.push(Elem::Lit(e, end));
        }
    }
}

/// Writes the token's elements to `out`, merging variables that touch or are
/// joined by `.` (the CV and DV conventions).
fn emit(content: &str, start: usize, end: usize, out: &mut MaskedLine) {
    let bytes = content.as_bytes();
    let mstart = out.masked.len();
    let vstart = out.vars.len();
    if let [one] = out.elems[..] {
        // One element, the usual result for a value: nothing to merge.
        match one {
            Elem::Var(s, e) => {
                out.vars.push(Span::new(s, e));
                out.masked.push_str(VAR);
            }
            Elem::Lit(s, e) => out.masked.push_str(&content[s..e]),
        }
        out.tokens.push(MaskedToken {
            raw: Span::new(start, end),
            masked: Span::new(mstart, out.masked.len()),
            vars_start: vstart as u32,
            vars_end: out.vars.len() as u32,
        });
        return;
    }
    // The elements cover the token in order, so the literal text between
    // two variables is one slice of the content: one copy per gap, not
    // one per literal element.
    debug_assert!(covers(&out.elems, start, end), "{:?}", out.elems);
    let elems = std::mem::take(&mut out.elems);
    let mut pending: Option<(usize, usize)> = None;
    // Content before `at` is written (or inside the pending variable).
    let mut at = start;
    for el in &elems {
        let Elem::Var(s, e) = *el else { continue };
        match pending {
            // Touching, or joined by a `.` of its own: one variable.
            Some((ps, pe)) if s == pe || (s == pe + 1 && bytes[pe] == b'.') => pending = Some((ps, e)),
            _ => {
                if let Some((ps, pe)) = pending {
                    out.vars.push(Span::new(ps, pe));
                    out.masked.push_str(VAR);
                    at = pe;
                }
                push_gap(&mut out.masked, &content[at..s]);
                pending = Some((s, e));
            }
        }
    }
    if let Some((ps, pe)) = pending {
        out.vars.push(Span::new(ps, pe));
        out.masked.push_str(VAR);
        at = pe;
    }
    push_gap(&mut out.masked, &content[at..end]);
    out.elems = elems;
    out.tokens.push(MaskedToken {
        raw: Span::new(start, end),
        masked: Span::new(mstart, out.masked.len()),
        vars_start: vstart as u32,
        vars_end: out.vars.len() as u32,
    });
}

/// Appends the literal text between variables: most often one byte (`-`,
/// `:`), pushed without a call to `memcpy`.
#[inline]
fn push_gap(masked: &mut String, gap: &str) {
    match gap.as_bytes() {
        [] => {}
        // One byte of a `str` is ASCII: the same character.
        &[b] => masked.push(b as char),
        _ => masked.push_str(gap),
    }
}

/// Whether `elems` cover `[start, end)` in order, without gaps or overlaps.
fn covers(elems: &[Elem], start: usize, end: usize) -> bool {
    let mut at = start;
    for el in elems {
        let (Elem::Lit(s, e) | Elem::Var(s, e)) = *el;
        if s != at || e <= s {
            return false;
        }
        at = e;
    }
    at == end
}

/// The kind of each variable of a masked line, in order.
pub fn var_kinds<'a>(content: &'a str, line: &'a MaskedLine) -> impl Iterator<Item = VarKind> + 'a {
    line.vars.iter().map(move |v| kind::classify(v.of(content)))
}

mod memo;
#[cfg(test)]
mod twins;

#[cfg(test)]
mod tests {
    use super::*;

    fn masked(s: &str) -> String {
        let mut m = MaskedLine::default();
        mask_line(s, &mut m);
        (0..m.len())
            .map(|i| m.masked_token(i).to_string())
            .collect::<Vec<_>>()
            .join(" ")
    }

    fn vars(s: &str) -> Vec<String> {
        let mut m = MaskedLine::default();
        mask_line(s, &mut m);
        m.vars.iter().map(|v| v.of(s).to_string()).collect()
    }

    #[test]
    fn numbers_and_ids() {
        assert_eq!(
            masked("PacketResponder 1 for block blk_38865049064139660 terminating"),
            "PacketResponder <*> for block <*> terminating"
        );
        assert_eq!(masked("blk_-6952295868487656571"), "<*>");
        assert_eq!(masked("keyId: -127633188)"), "keyId: <*>)");
        assert_eq!(masked("node-246"), "node-<*>");
        assert_eq!(masked("R02-M1-N0-C:J12-U11"), "<*>-<*>-<*>-C:<*>-<*>");
    }

    #[test]
    fn addresses_and_ports() {
        assert_eq!(masked("10.251.73.220:50010"), "<*>:<*>");
        assert_eq!(masked("src: /10.250.19.102:54106"), "src: <*>:<*>");
        assert_eq!(masked("rhost=220-135-151-1.hinet-ip.hinet.net"), "rhost=<*>");
        assert_eq!(
            masked("HttpServer2$SelectChannelConnectorWithSafeStartup@0.0.0.0:62267"),
            "HttpServer2$SelectChannelConnectorWithSafeStartup@<*>:<*>"
        );
        assert_eq!(vars("at 10.0.0.1:80"), vec!["10.0.0.1", "80"]);
    }

    #[test]
    fn names_with_digits_stay() {
        assert_eq!(
            masked("org.apache.hadoop.mapreduce.v2.app.MRAppMaster:"),
            "org.apache.hadoop.mapreduce.v2.app.MRAppMaster:"
        );
        assert_eq!(masked("hadoop-metrics2.properties"), "hadoop-metrics2.properties");
        assert_eq!(masked("L3 flush2DB"), "L3 flush2DB");
    }

    #[test]
    fn decimals_dates_and_merges() {
        assert_eq!(masked("time: 0.2477829"), "time: <*>");
        assert_eq!(masked("2017-05-16 00:00:00.008"), "<*>-<*>-<*> <*>:<*>:<*>");
        assert_eq!(masked("a 1514038440000##7007##548365"), "a <*>##<*>##<*>");
        assert_eq!(masked("(uid=0)"), "(uid=<*>)");
        assert_eq!(vars("took 0.25s"), vec!["0.25s"]);
    }

    #[test]
    fn paths_urls_uuids() {
        assert_eq!(masked("file /mnt/hadoop/dfs/data/current"), "file <*>");
        assert_eq!(
            masked("\"GET /v2/54fad/servers/detail HTTP/1.1\""),
            "\"GET <*> HTTP/<*>\""
        );
        assert_eq!(
            masked("[instance: 38101a0b-2096-447d-96ea-a692162415ae]"),
            "[instance: <*>]"
        );
        assert_eq!(
            masked("see http://wiki.apache.org/hadoop/NoRouteToHost"),
            "see http://wiki.apache.org/hadoop/NoRouteToHost"
        );
        assert_eq!(masked("mail bob@example.org"), "mail <*>");
        assert_eq!(masked("mac 00:1a:2b:3c:4d:ee"), "mac <*>");
        assert_eq!(masked("addr fe80::1ff:fe23:4567:890a"), "addr <*>");
    }

    #[test]
    fn dates_spelled_out() {
        assert_eq!(
            masked("at Sat Jun 11 03:44:44 2005"),
            "at <*> <*> <*> <*>:<*>:<*> <*>"
        );
        assert_eq!(masked("May the force"), "May the force");
    }

    #[test]
    fn booleans_and_null_like() {
        assert_eq!(
            masked("enabled=true x=NULL user=root"),
            "enabled=<*> x=<*> user=<*>"
        );
    }

    #[test]
    fn giant_tokens_do_not_overflow() {
        // Regression: per-token counters were u16 and overflowed on a
        // 70 kB token in debug builds.
        let token = "a-b:".repeat(20_000);
        assert_eq!(masked(&token).len(), token.len());
        let digits = "7".repeat(70_000);
        assert_eq!(masked(&digits), "<*>");
    }

    #[test]
    fn whitespace_is_collapsed() {
        let mut m = MaskedLine::default();
        mask_line("  a \t b  ", &mut m);
        assert_eq!(m.len(), 2);
        mask_line("", &mut m);
        assert!(m.is_empty());
    }

    /// The content with each variable replaced by `<*>`, tokens joined by
    /// one space, checking that variables are ordered, non-empty spans
    /// inside their tokens, on character boundaries.
    fn spelled(line: &str, m: &MaskedLine) -> String {
        let mut rebuilt = String::new();
        for (i, t) in m.tokens.iter().enumerate() {
            if i > 0 {
                rebuilt.push(' ');
            }
            let (ts, te) = (t.raw.start as usize, t.raw.end as usize);
            let mut at = ts;
            for v in m.token_vars(i) {
                let (vs, ve) = (v.start as usize, v.end as usize);
                assert!(ts <= vs && vs < ve && ve <= te && vs >= at, "{line:?}");
                assert!(line.is_char_boundary(vs) && line.is_char_boundary(ve), "{line:?}");
                rebuilt.push_str(&line[at..vs]);
                rebuilt.push_str(VAR);
                at = ve;
            }
            rebuilt.push_str(&line[at..te]);
        }
        rebuilt
    }

    /// [`rebuild_masked`] token by token, each piece pushed on its own
    /// (its first version): the twin of the run-copying one.
    fn rebuild_masked_slowly(content: &str, vars: &[Span], out: &mut MaskedLine) -> bool {
        out.tokens.clear();
        out.masked.clear();
        out.vars.clear();
        let bytes = content.as_bytes();
        let n = bytes.len();
        let (mut i, mut v) = (0, 0);
        while let Some(start) = token_start(bytes, i) {
            i = start;
            while i < n && CLASS[bytes[i] as usize] & SP == 0 {
                i += 1;
            }
            if !out.tokens.is_empty() {
                out.masked.push(' ');
            }
            let (mstart, vstart) = (out.masked.len(), out.vars.len());
            let mut at = start;
            while let Some(&sp) = vars.get(v).filter(|sp| (sp.start as usize) < i) {
                let (Some(lit), true) = (
                    content.get(at..sp.start as usize),
                    sp.start < sp.end && sp.end as usize <= i,
                ) else {
                    return false;
                };
                out.masked.push_str(lit);
                out.masked.push_str(VAR);
                out.vars.push(sp);
                at = sp.end as usize;
                v += 1;
            }
            let Some(lit) = content.get(at..i) else {
                return false;
            };
            out.masked.push_str(lit);
            out.tokens.push(MaskedToken {
                raw: Span::new(start, i),
                masked: Span::new(mstart, out.masked.len()),
                vars_start: vstart as u32,
                vars_end: out.vars.len() as u32,
            });
        }
        out.key = xxhash_rust::xxh3::xxh3_128(out.masked.as_bytes());
        v == vars.len()
    }

    /// [`token_end`] byte by byte.
    fn token_end_slowly(bytes: &[u8], mut i: usize) -> usize {
        while i < bytes.len() && CLASS[bytes[i] as usize] & SP == 0 {
            i += 1;
        }
        i
    }

    fn token_fields(m: &MaskedLine) -> Vec<(Span, Span, u32, u32)> {
        m.tokens
            .iter()
            .map(|t| (t.raw, t.masked, t.vars_start, t.vars_end))
            .collect()
    }

    proptest::proptest! {
        #![proptest_config(proptest::prelude::ProptestConfig::with_cases(20_000))]
        /// Any content (whitespace runs, control bytes, multibyte
        /// characters) and any spans, valid or not: the run-copying
        /// rebuild and its twin accept the same and build the same.
        #[test]
        fn rebuild_masked_agrees_with_its_slow_twin(
            content in r"[ a\t\x0b\x01\x1f0-9é日<>*:. -]{0,40}",
            raw in proptest::collection::vec((0u32..44, 0u32..6), 0..6),
        ) {
            // Mostly ordered spans (as masking gives), some not.
            let mut vars: Vec<Span> = raw.iter().map(|&(s, l)| Span { start: s, end: s + l }).collect();
            if raw.len() % 3 != 0 {
                vars.sort_by_key(|s| (s.start, s.end));
            }
            let (mut fast, mut slow) = (MaskedLine::default(), MaskedLine::default());
            let ok = rebuild_masked(&content, vars.iter().copied(), &mut fast);
            proptest::prop_assert_eq!(ok, rebuild_masked_slowly(&content, &vars, &mut slow));
            if ok {
                proptest::prop_assert_eq!(&fast.masked, &slow.masked);
                proptest::prop_assert_eq!(fast.key, slow.key);
                proptest::prop_assert_eq!(&fast.vars, &slow.vars);
                proptest::prop_assert_eq!(token_fields(&fast), token_fields(&slow));
            }
        }

        #[test]
        fn token_end_agrees_with_its_slow_twin(content in r"[ a\t\n\x0b\x0c\r\x01\x1f\x20\x21é0-9]{0,40}", at in 0usize..40) {
            let bytes = content.as_bytes();
            let at = at.min(bytes.len());
            proptest::prop_assert_eq!(token_end(bytes, at), token_end_slowly(bytes, at));
        }
    }

    /// Tokens ending exactly at a word's end, one byte past it, at a
    /// control byte: the cases the word-at-a-time scan splits on.
    #[test]
    fn token_end_at_word_edges() {
        for content in [
            "abcdefgh",
            "abcdefgh ",
            "abcdefg h",
            "abcdefghi j",
            "a\u{1}bcdefghij k",
            "\u{1}\u{1}",
            "é日本語テキスト x",
        ] {
            let b = content.as_bytes();
            for at in 0..=b.len() {
                assert_eq!(token_end(b, at), token_end_slowly(b, at), "{content:?} {at}");
            }
        }
    }

    /// The masked line of `line` and the one rebuilt from its spans and
    /// key: the same tokens, text, spans and key.
    fn assert_rebuilds(line: &str) {
        let mut m = MaskedLine::default();
        mask_line(line, &mut m);
        let mut r = MaskedLine::default();
        // Reused scratch: nothing of an earlier line stays.
        assert!(rebuild_masked("stale tokens 42", [Span::new(13, 15)], &mut r));
        assert!(rebuild_masked(line, m.vars.iter().copied(), &mut r), "{line:?}");
        assert_eq!(r.masked, m.masked, "{line:?}");
        assert_eq!(r.vars, m.vars, "{line:?}");
        assert_eq!(r.key, m.key, "{line:?}");
        assert_eq!(r.tokens.len(), m.tokens.len(), "{line:?}");
        for (a, b) in r.tokens.iter().zip(&m.tokens) {
            assert_eq!(
                (a.raw, a.masked, a.vars_start, a.vars_end),
                (b.raw, b.masked, b.vars_start, b.vars_end),
                "{line:?}"
            );
        }
    }

    #[test]
    fn spans_that_cannot_be_the_contents_are_refused() {
        let mut r = MaskedLine::default();
        let line = "ab 12 é3";
        for bad in [
            vec![Span::new(3, 9)],                    // past the end
            vec![Span::new(3, 5), Span::new(3, 5)],   // out of order
            vec![Span::new(4, 3)],                    // empty, reversed
            vec![Span::new(7, 9)],                    // inside `é`
            vec![Span::new(6, 7)],                    // ends inside `é`
            vec![Span::new(1, 4)],                    // across tokens
            vec![Span::new(3, 5), Span::new(40, 41)], // one left over
        ] {
            assert!(!rebuild_masked(line, bad.iter().copied(), &mut r), "{bad:?}");
        }
        assert!(rebuild_masked(line, [Span::new(3, 5), Span::new(8, 9)], &mut r));
        assert_eq!(r.masked, "ab <*> é<*>");
    }

    #[test]
    fn rebuilt_lines_equal_masked_lines() {
        for line in [
            "",
            "   ",
            "PacketResponder 1 for block blk_38865049064139660 terminating",
            "  a \t b  ",
            "at Sat Jun 11 03:44:44 2005 <*> x=<*>",
            "src: /10.250.19.102:54106 \"GET /v2/54fad/servers/detail HTTP/1.1\" 200",
            "é 1é2 ü-3 日本 4",
        ] {
            assert_rebuilds(line);
        }
    }

    proptest::proptest! {
        #[test]
        fn rebuilt_token_soups_equal_masked_lines(
            words in proptest::collection::vec("[a-zA-Z0-9<>*~_/.:=()\\[\\]é-]{1,12}", 0..12),
            seps in proptest::collection::vec("[ \t]{1,3}", 12),
        ) {
            let mut line = String::new();
            for (w, s) in words.iter().zip(&seps) {
                line.push_str(s);
                line.push_str(w);
            }
            assert_rebuilds(&line);
        }
    }

    /// Odd bytes and multibyte characters next to the punctuation the
    /// host, version, date and path rules look at: masking never panics,
    /// variables are ordered spans on character boundaries, and the
    /// masked text is the content with each variable replaced by `<*>`.
    mod odd_bytes {
        use super::super::*;
        use proptest::prelude::*;

        fn piece() -> impl Strategy<Value = String> {
            prop_oneof![
                r#"[a-z0-9.:/@=\\\-_\[\]()"'<>,;~+v]{1,6}"#,
                r"[é€😀ßü\u{80}-\u{7ff}]{1,2}",
                prop::sample::select(vec![
                    "db-7.example.org",
                    ":8080",
                    "/10.0.0.1",
                    "2024-01-02T03:04:05Z",
                    "1:2.3-4~x",
                    "C:\\x",
                    "\\\\srv\\s",
                    "0000:00:1f.0",
                    "ff:ee:dd:cc",
                    "v1.2",
                    "http://",
                    "null",
                    "Mon",
                    "<*>",
                ])
                .prop_map(str::to_string),
            ]
        }

        #[test]
        fn long_odd_tokens_mask_whole() {
            for t in [
                format!("{}:8080", "é.".repeat(40_000)),
                format!("{}org", "a-b.".repeat(40_000)),
                format!("1.{}", "2-x~".repeat(40_000)),
                format!("C:\\{}", "€\\".repeat(40_000)),
            ] {
                let mut m = MaskedLine::default();
                mask_line(&t, &mut m);
                assert_eq!(m.len(), 1);
            }
        }

        proptest! {
            #[test]
            fn masking_spells_the_content(parts in proptest::collection::vec(piece(), 1..10),
                                          spaces in proptest::collection::vec(any::<bool>(), 10)) {
                let mut line = String::new();
                for (i, p) in parts.iter().enumerate() {
                    line.push_str(p);
                    if spaces[i] {
                        line.push(' ');
                    }
                }
                let mut m = MaskedLine::default();
                mask_line(&line, &mut m);
                let rebuilt = super::spelled(&line, &m);
                prop_assert_eq!(rebuilt, m.masked.clone(), "{:?}", line);
                let _ = var_kinds(&line, &m).count();
            }
        }
    }

    /// The WV rule, checked against its definition on random token soups:
    /// each masked token is a fixed point of the rule as the annotation
    /// conventions state it on template text (a part between delimiters
    /// that holds a `<*>` and no `/` is one `<*>`); variables are ordered
    /// spans inside their tokens; and the masked text is the content with
    /// each variable replaced by `<*>`, tokens joined by one space.
    mod wv_property {
        use super::super::*;
        use proptest::prelude::*;

        const DELIMS: &[u8] = b",!;:=|\"'[](){}.-+@#$%&";

        proptest! {
            #[test]
            fn variables_end_at_delimiters(words in proptest::collection::vec(
                "[a-zA-Z0-9<>*~_/.:=()\\[\\]-]{1,12}", 1..8)) {
                let line = words.join(" ");
                let mut m = MaskedLine::default();
                mask_line(&line, &mut m);
                // Content that spells the marker itself is not a variable.
                prop_assume!(!line.contains(VAR));
                let rebuilt = super::spelled(&line, &m);
                for i in 0..m.len() {
                    // The masked token is a fixed point of the WV rule:
                    // each part between delimiters that holds a `<*>` and
                    // no `/` is exactly `<*>`.
                    for part in m.masked_token(i).split(|c: char| c.is_ascii() && DELIMS.contains(&(c as u8))) {
                        if part.contains(VAR) && !part.contains('/') {
                            prop_assert_eq!(part, VAR, "{:?} -> {:?}", line, m.masked_token(i));
                        }
                    }
                }
                prop_assert_eq!(rebuilt, m.masked.clone());
            }
        }
    }
}
