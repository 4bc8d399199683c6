//! JSON events decoded once into a flat, reused table (a "tape"): no
//! allocation per event once the buffers have grown, strings borrowed from
//! the line unless they hold escapes.
//!
//! [`TapeEvent`] answers exactly what [`crate::JsonEvent`] answers for the
//! same JSON (the tests compare them on every bundled event and on
//! generated ones). The decoder is deliberately narrow: any line it does
//! not take on — not one JSON object, invalid UTF-8, a syntax error, a
//! number it cannot convert the way `serde_json` does, a repeated key,
//! deep nesting — gives `None`, and the caller decodes that line with
//! `serde_json` as before (which then also reports a malformed line with
//! its usual message).

use crate::event::{format_num, int_text, Event, FieldValue};
use std::borrow::Cow;
use std::sync::OnceLock;

/// Whether `serde_json::Map` iterates by key (its default) rather than in
/// insertion order (`preserve_order`, which any crate of the build can turn
/// on): asked of serde_json itself once, so that the tape answers as
/// [`crate::JsonEvent`] does in this very build.
fn map_is_sorted() -> bool {
    static SORTED: OnceLock<bool> = OnceLock::new();
    *SORTED.get_or_init(|| {
        let v: serde_json::Value = serde_json::from_str(r#"{"b":0,"a":0}"#).unwrap_or_default();
        v.as_object()
            .and_then(|o| o.keys().next())
            .is_some_and(|k| k == "a")
    })
}
use std::fmt::Write as _;

/// A number's text on the stack (`format_num` without a String).
#[derive(Default)]
struct StackText {
    buf: [u8; 32],
    len: usize,
}

impl StackText {
    fn as_str(&self) -> &str {
        std::str::from_utf8(&self.buf[..self.len]).expect("only str is written")
    }
}

impl std::fmt::Write for StackText {
    fn write_str(&mut self, s: &str) -> std::fmt::Result {
        let end = self.len + s.len();
        if end > self.buf.len() {
            return Err(std::fmt::Error);
        }
        self.buf[self.len..end].copy_from_slice(s.as_bytes());
        self.len = end;
        Ok(())
    }
}

/// Where a string's text is: in the line (`escaped == false`) or in the
/// tape's buffer of unescaped strings.
#[derive(Debug, Clone, Copy)]
struct Span {
    escaped: bool,
    start: u32,
    len: u32,
}

#[derive(Debug, Clone, Copy)]
enum Node {
    Str(Span),
    /// An object key; its value's nodes follow.
    Key(Span),
    Num(f64),
    Bool(bool),
    Null,
    /// `end`: the index one past the array's last node.
    Arr {
        end: u32,
    },
    /// `end`: the index one past the object's last node; keys and values
    /// alternate inside.
    Obj {
        end: u32,
    },
}

/// Reusable buffers for decoding JSON lines into [`TapeEvent`]s.
#[derive(Debug, Default)]
pub struct JsonTape {
    nodes: Vec<Node>,
    unescaped: String,
    /// Key hashes and spans of the objects being decoded (a stack, for
    /// the repeated key check).
    keys: Vec<(u64, Span)>,
    /// Every object member, by the hash of its dotted path.
    index: Vec<Entry>,
    /// Whether some key holds a `.` (then dotted paths are ambiguous and
    /// lookups take the general way).
    dotted: bool,
    /// Whether some key holds a space ([`TapeEvent::has_spaced_key`]).
    spaced: bool,
}

/// One object member: the hash of its dotted path ([`path_hash`]), its
/// value's node, its parent member (`NO_PARENT` at the top) and its key.
#[derive(Debug, Clone, Copy)]
struct Entry {
    hash: u64,
    node: u32,
    parent: u32,
    key: Span,
}

const NO_PARENT: u32 = u32::MAX;
/// The parent of members inside an array: they are not indexed (no dotted
/// path reaches into an array).
const IN_ARRAY: u32 = u32::MAX - 1;
const HASH_SEED: u64 = 0xcbf2_9ce4_8422_2325;
const HASH_MUL: u64 = 0x517c_c1b7_2722_0a95;

const ONES: u64 = 0x0101_0101_0101_0101;
const HIGHS: u64 = 0x8080_8080_8080_8080;

/// The bytes of `w` below `n` (`n` at most 0x80), as high bits: the lowest
/// set bit is the first such byte (bits above it may be wrong).
fn below(w: u64, n: u8) -> u64 {
    w.wrapping_sub(ONES * n as u64) & !w & HIGHS
}

/// The bytes of `w` equal to `b`, as [`below`] gives them.
fn equal(w: u64, b: u8) -> u64 {
    below(w ^ (ONES * b as u64), 1)
}

/// Up to 8 bytes as one little-endian word, zero-padded.
fn word(b: &[u8]) -> u64 {
    let mut buf = [0u8; 8];
    buf[..b.len()].copy_from_slice(b);
    u64::from_le_bytes(buf)
}

/// The hash of one key (a segment of a dotted path) after its parent's
/// hash `h`, eight bytes at a time; and whether the key holds a `.` and
/// whether it holds a space.
fn key_hash(h: u64, key: &[u8]) -> (u64, bool, bool) {
    let mix = |h: u64, w: u64| (h.rotate_left(5) ^ w).wrapping_mul(HASH_MUL);
    let (mut h, mut dot, mut space) = (h, 0, 0);
    let mut chunks = key.chunks_exact(8);
    for c in chunks.by_ref() {
        let w = u64::from_le_bytes(c.try_into().expect("eight bytes"));
        h = mix(h, w);
        dot |= equal(w, b'.');
        space |= equal(w, b' ');
    }
    let rest = chunks.remainder();
    if !rest.is_empty() {
        // Zero padding holds neither a `.` nor a space.
        let w = word(rest);
        h = mix(h, w);
        dot |= equal(w, b'.');
        space |= equal(w, b' ');
    }
    (mix(h, key.len() as u64), dot != 0, space != 0)
}

/// The hash of a dotted path, as the tape's index holds it: each
/// `.`-separated key's [`key_hash`] after its parent's (so a member's
/// hash is its parent's and its key's).
pub(crate) fn path_hash(path: &str) -> u64 {
    path.split('.')
        .fold(HASH_SEED, |h, k| key_hash(h, k.as_bytes()).0)
}

/// The `"`, `\` and control bytes (below 0x20) of `w`, as [`below`]
/// gives them (the lowest set bit is the first such byte).
#[inline]
fn special_mask(w: u64) -> u64 {
    equal(w, b'"') | equal(w, b'\\') | below(w, 0x20)
}

/// The index of the first `"`, `\` or control character (below 0x20)
/// in `b` at or after `i`, eight bytes at a time.
#[inline]
pub(crate) fn special(b: &[u8], mut i: usize) -> Option<usize> {
    let find = special_mask;
    while let Some(c) = b.get(i..i + 8) {
        let m = find(u64::from_le_bytes(c.try_into().expect("eight bytes")));
        if m != 0 {
            return Some(i + (m.trailing_zeros() / 8) as usize);
        }
        i += 8;
    }
    // The last few bytes, padded with a quote (not a control character)
    // so that a miss is told by its position.
    let rest = &b[i..];
    let mut buf = [b'"'; 8];
    buf[..rest.len()].copy_from_slice(rest);
    let m = find(u64::from_le_bytes(buf));
    let n = (m.trailing_zeros() / 8) as usize;
    (n < rest.len()).then_some(i + n)
}

/// Deeper nesting is left to `serde_json` (which has its own limit).
const MAX_DEPTH: usize = 100;
/// Objects with more keys are left to `serde_json` (the repeated key check
/// is quadratic).
const MAX_KEYS: usize = 256;

struct Parser<'s, 't> {
    /// The member being decoded (parent of the next members) and its
    /// path hash.
    parent: u32,
    parent_hash: u64,
    src: &'s [u8],
    /// The same line as text (checked to be UTF-8 once).
    text: &'s str,
    pos: usize,
    t: &'t mut JsonTape,
}

/// A span's bytes (what [`span_text`] gives, without the checks that a
/// `str` slice ends on character boundaries: the decoder's spans do).
#[inline]
fn span_bytes<'a>(src: &'a [u8], unescaped: &'a str, s: Span) -> &'a [u8] {
    let (a, b) = (s.start as usize, (s.start + s.len) as usize);
    if s.escaped {
        &unescaped.as_bytes()[a..b]
    } else {
        &src[a..b]
    }
}

fn span_text<'a>(src: &'a str, unescaped: &'a str, s: Span) -> &'a str {
    let (a, b) = (s.start as usize, (s.start + s.len) as usize);
    if s.escaped {
        &unescaped[a..b]
    } else {
        &src[a..b]
    }
}

impl Parser<'_, '_> {
    fn ws(&mut self) {
        // Every whitespace byte is at most a space: one test for the
        // common case of none.
        if self.src.get(self.pos).is_some_and(|&b| b > b' ') {
            return;
        }
        while let Some(b' ' | b'\t' | b'\n' | b'\r') = self.src.get(self.pos) {
            self.pos += 1;
        }
    }

    fn eat(&mut self, b: u8) -> Option<()> {
        (self.src.get(self.pos) == Some(&b)).then(|| self.pos += 1)
    }

    fn lit(&mut self, word: &[u8]) -> Option<()> {
        self.src[self.pos..]
            .starts_with(word)
            .then(|| self.pos += word.len())
    }

    fn value(&mut self, depth: usize) -> Option<()> {
        self.ws();
        match *self.src.get(self.pos)? {
            b'{' => self.object(depth + 1),
            b'[' => self.array(depth + 1),
            b'"' => {
                let s = self.string()?;
                self.t.nodes.push(Node::Str(s));
                Some(())
            }
            b't' => {
                self.lit(b"true")?;
                self.t.nodes.push(Node::Bool(true));
                Some(())
            }
            b'f' => {
                self.lit(b"false")?;
                self.t.nodes.push(Node::Bool(false));
                Some(())
            }
            b'n' => {
                self.lit(b"null")?;
                self.t.nodes.push(Node::Null);
                Some(())
            }
            b'-' | b'0'..=b'9' => {
                let n = self.number()?;
                self.t.nodes.push(Node::Num(n));
                Some(())
            }
            _ => None,
        }
    }

    fn object(&mut self, depth: usize) -> Option<()> {
        if depth > MAX_DEPTH {
            return None;
        }
        self.pos += 1; // `{`
        let at = self.t.nodes.len();
        self.t.nodes.push(Node::Obj { end: 0 });
        let keys_from = self.t.keys.len();
        let mut seen = 0u64;
        self.ws();
        if self.eat(b'}').is_none() {
            loop {
                self.ws();
                if self.src.get(self.pos) != Some(&b'"') {
                    return None;
                }
                // The member's path hash (in an array, the key's own): equal
                // keys of one object have equal hashes, so only keys with
                // the same hash are compared.
                let h = match self.parent {
                    NO_PARENT | IN_ARRAY => HASH_SEED,
                    _ => self.parent_hash,
                };
                let (k, hash, dot, space) = self.key(h)?;
                // A repeated key: serde_json keeps the last value; leave
                // such events to it rather than mirror that here.
                // (Large objects are left to it too: the check is
                // quadratic.)
                // A bit per hash seen in this object: a repeat has its
                // bit set, and only then are the keys compared.
                let bit = 1u64 << (hash >> 58);
                if self.t.keys.len() - keys_from >= MAX_KEYS
                    || (seen & bit != 0 && {
                        let (src, un) = (self.src, &self.t.unescaped);
                        let text = span_bytes(src, un, k);
                        self.t.keys[keys_from..]
                            .iter()
                            .any(|&(h, o)| h == hash && span_bytes(src, un, o) == text)
                    })
                {
                    return None;
                }
                seen |= bit;
                self.t.keys.push((hash, k));
                self.t.nodes.push(Node::Key(k));
                self.t.dotted |= dot;
                self.t.spaced |= space;
                let (up, up_hash) = (self.parent, self.parent_hash);
                if self.parent != IN_ARRAY {
                    self.t.index.push(Entry {
                        hash,
                        node: self.t.nodes.len() as u32,
                        parent: self.parent,
                        key: k,
                    });
                    self.parent = self.t.index.len() as u32 - 1;
                    self.parent_hash = hash;
                }
                if self.src.get(self.pos) == Some(&b':') {
                    self.pos += 1;
                } else {
                    self.ws();
                    self.eat(b':')?;
                }
                self.value(depth)?;
                self.parent = up;
                self.parent_hash = up_hash;
                self.ws();
                match self.src.get(self.pos)? {
                    b',' => self.pos += 1,
                    b'}' => {
                        self.pos += 1;
                        break;
                    }
                    _ => return None,
                }
            }
        }
        self.t.keys.truncate(keys_from);
        let end = self.t.nodes.len() as u32;
        self.t.nodes[at] = Node::Obj { end };
        Some(())
    }

    fn array(&mut self, depth: usize) -> Option<()> {
        if depth > MAX_DEPTH {
            return None;
        }
        self.pos += 1; // `[`
        let at = self.t.nodes.len();
        self.t.nodes.push(Node::Arr { end: 0 });
        let up = std::mem::replace(&mut self.parent, IN_ARRAY);
        self.ws();
        if self.eat(b']').is_none() {
            loop {
                self.value(depth)?;
                self.ws();
                match self.src.get(self.pos)? {
                    b',' => self.pos += 1,
                    b']' => {
                        self.pos += 1;
                        break;
                    }
                    _ => return None,
                }
            }
        }
        self.parent = up;
        let end = self.t.nodes.len() as u32;
        self.t.nodes[at] = Node::Arr { end };
        Some(())
    }

    fn hex4(&mut self) -> Option<u32> {
        let h = self.src.get(self.pos..self.pos + 4)?;
        let mut v = 0u32;
        for &b in h {
            v = v * 16 + (b as char).to_digit(16)?;
        }
        self.pos += 4;
        Some(v)
    }

    /// An object key at `"`: its span (as [`Parser::string`] gives it)
    /// and its [`key_hash`] after `h` (hash, holds a `.`, holds a space).
    ///
    /// A key without escapes is hashed while it is scanned, eight bytes
    /// at a time: each word before the closing quote's is mixed in as it
    /// is read, and the quote's own word with the bytes from the quote on
    /// masked to zero (the zero padding [`key_hash`] gives the last
    /// bytes). Any other key (an escape, a control character, fewer than
    /// eight bytes left in the line) is scanned and hashed the two-pass
    /// way, [`Parser::key_slow`] (the tests compare the two).
    #[inline(always)]
    fn key(&mut self, h: u64) -> Option<(Span, u64, bool, bool)> {
        let mix = |h: u64, w: u64| (h.rotate_left(5) ^ w).wrapping_mul(HASH_MUL);
        let start = self.pos + 1;
        let (mut i, mut hash, mut dot, mut space) = (start, h, 0, 0);
        while let Some(c) = self.src.get(i..i + 8) {
            let w = u64::from_le_bytes(c.try_into().expect("eight bytes"));
            let m = special_mask(w);
            if m == 0 {
                hash = mix(hash, w);
                dot |= equal(w, b'.');
                space |= equal(w, b' ');
                i += 8;
                continue;
            }
            let n = (m.trailing_zeros() / 8) as usize;
            if self.src[i + n] != b'"' {
                break;
            }
            if n > 0 {
                let w = w & (u64::MAX >> (64 - 8 * n));
                hash = mix(hash, w);
                dot |= equal(w, b'.');
                space |= equal(w, b' ');
            }
            let len = i + n - start;
            self.pos = i + n + 1;
            let span = Span {
                escaped: false,
                start: start as u32,
                len: len as u32,
            };
            return Some((span, mix(hash, len as u64), dot != 0, space != 0));
        }
        self.key_slow(h)
    }

    /// The slow twin of [`Parser::key`] (and its way for the keys it does
    /// not take on): [`Parser::string`], then [`key_hash`] over the text.
    #[inline(never)]
    fn key_slow(&mut self, h: u64) -> Option<(Span, u64, bool, bool)> {
        let k = self.string()?;
        let (hash, dot, space) = key_hash(h, span_bytes(self.src, &self.t.unescaped, k));
        Some((k, hash, dot, space))
    }

    /// A string at `"`; its span in the line, or in `unescaped` when it
    /// holds escapes.
    #[inline]
    fn string(&mut self) -> Option<Span> {
        self.pos += 1; // `"`
        let start = self.pos;
        // The closing quote, the first escape or a control character (an
        // error, below).
        self.pos = special(self.src, start)?;
        if self.src[self.pos] == b'"' {
            let len = self.pos - start;
            self.pos += 1;
            return Some(Span {
                escaped: false,
                start: start as u32,
                len: len as u32,
            });
        }
        self.escaped_string(start)
    }

    /// The rest of [`Parser::string`] from its first escape (or control
    /// character) on, the string starting at `start`: kept out of line, so
    /// that the common string without escapes is decoded inline.
    #[inline(never)]
    fn escaped_string(&mut self, start: usize) -> Option<Span> {
        // Escapes: copy into the unescaped buffer.
        let from = self.t.unescaped.len();
        self.t.unescaped.push_str(&self.text[start..self.pos]);
        loop {
            match *self.src.get(self.pos)? {
                b'"' => {
                    self.pos += 1;
                    return Some(Span {
                        escaped: true,
                        start: from as u32,
                        len: (self.t.unescaped.len() - from) as u32,
                    });
                }
                b'\\' => {
                    self.pos += 1;
                    let (c, len) = match *self.src.get(self.pos)? {
                        b'"' => ('"', 1),
                        b'\\' => ('\\', 1),
                        b'/' => ('/', 1),
                        b'b' => ('\u{8}', 1),
                        b'f' => ('\u{c}', 1),
                        b'n' => ('\n', 1),
                        b'r' => ('\r', 1),
                        b't' => ('\t', 1),
                        b'u' => {
                            self.pos += 1;
                            let hi = self.hex4()?;
                            let code = match hi {
                                0xD800..=0xDBFF => {
                                    // Only a well-formed surrogate pair is
                                    // taken on here.
                                    self.lit(b"\\u")?;
                                    let lo = self.hex4()?;
                                    if !(0xDC00..=0xDFFF).contains(&lo) {
                                        return None;
                                    }
                                    0x10000 + ((hi - 0xD800) << 10) + (lo - 0xDC00)
                                }
                                0xDC00..=0xDFFF => return None,
                                other => other,
                            };
                            (char::from_u32(code)?, 0)
                        }
                        _ => return None,
                    };
                    self.pos += len;
                    self.t.unescaped.push(c);
                }
                _ => return None, // a control character
            }
            // The run up to the next quote, escape or control character.
            let run = self.pos;
            self.pos = special(self.src, run)?;
            self.t.unescaped.push_str(&self.text[run..self.pos]);
        }
    }

    /// A number as `serde_json` reads it into a `Value` and `as_f64` gives
    /// it back: non-negative integers of up to 19 digits are converted
    /// here; anything else (sign, fraction, exponent, more digits) goes
    /// through `serde_json` itself, so the value is the same to the bit.
    fn number(&mut self) -> Option<f64> {
        let start = self.pos;
        self.eat(b'-');
        let int_start = self.pos;
        match *self.src.get(self.pos)? {
            b'0' => self.pos += 1,
            b'1'..=b'9' => {
                while self.src.get(self.pos).is_some_and(u8::is_ascii_digit) {
                    self.pos += 1;
                }
            }
            _ => return None,
        }
        let int_end = self.pos;
        if self.eat(b'.').is_some() {
            let d = self.pos;
            while self.src.get(self.pos).is_some_and(u8::is_ascii_digit) {
                self.pos += 1;
            }
            if self.pos == d {
                return None;
            }
        }
        if let Some(b'e' | b'E') = self.src.get(self.pos) {
            self.pos += 1;
            if let Some(b'+' | b'-') = self.src.get(self.pos) {
                self.pos += 1;
            }
            let d = self.pos;
            while self.src.get(self.pos).is_some_and(u8::is_ascii_digit) {
                self.pos += 1;
            }
            if self.pos == d {
                return None;
            }
        }
        let text = &self.text[start..self.pos];
        if int_start == start && int_end == self.pos && int_end - int_start <= 19 {
            return text.parse::<u64>().ok().map(|n| n as f64);
        }
        serde_json::from_str::<f64>(text).ok()
    }
}

impl JsonTape {
    /// Decodes one JSON object (a whole line; surrounding whitespace
    /// allowed) into this tape; `None` when the line is anything else or
    /// uses something this decoder leaves to `serde_json` (see the module
    /// doc).
    pub fn parse<'a>(&'a mut self, line: &'a [u8]) -> Option<TapeEvent<'a>> {
        self.nodes.clear();
        self.unescaped.clear();
        self.keys.clear();
        self.index.clear();
        self.dotted = false;
        self.spaced = false;
        let src = std::str::from_utf8(line).ok()?;
        let mut p = Parser {
            parent: NO_PARENT,
            parent_hash: HASH_SEED,
            src: line,
            text: src,
            pos: 0,
            t: self,
        };
        p.ws();
        if p.src.get(p.pos) != Some(&b'{') {
            return None;
        }
        p.value(0)?;
        p.ws();
        if p.pos != line.len() {
            return None;
        }
        Some(TapeEvent { src, tape: self })
    }
}

/// One JSON event on a [`JsonTape`]; the same answers as
/// [`crate::JsonEvent`] over the same JSON.
#[derive(Debug, Clone, Copy)]
pub struct TapeEvent<'a> {
    src: &'a str,
    tape: &'a JsonTape,
}

impl<'a> TapeEvent<'a> {
    fn text(&self, s: Span) -> &'a str {
        span_text(self.src, &self.tape.unescaped, s)
    }

    /// The index after node `i` and everything inside it.
    fn skip(&self, i: usize) -> usize {
        match self.tape.nodes[i] {
            Node::Arr { end } | Node::Obj { end } => end as usize,
            _ => i + 1,
        }
    }

    /// (key, value index) of each member of the object at `i`, in file
    /// order (keys are unique: the decoder leaves repeats to serde_json).
    fn members(&self, i: usize) -> impl Iterator<Item = (&'a str, usize)> + '_ {
        let end = match self.tape.nodes[i] {
            Node::Obj { end } => end as usize,
            _ => i + 1,
        };
        let mut at = i + 1;
        std::iter::from_fn(move || {
            if at >= end {
                return None;
            }
            let Node::Key(k) = self.tape.nodes[at] else {
                unreachable!("an object holds keys and values in turn")
            };
            let v = at + 1;
            at = self.skip(v);
            Some((self.text(k), v))
        })
    }

    /// Whether some key of the event holds a space (`Threat Name`): such
    /// events need the spaceless twins of [`crate::add_spaceless_keys`],
    /// which the tape does not add, so callers decode them with serde_json.
    pub fn has_spaced_key(&self) -> bool {
        self.tape.spaced
    }

    /// The values of the array at `i`.
    fn items(&self, i: usize) -> impl Iterator<Item = usize> + '_ {
        let end = self.skip(i);
        let mut at = i + 1;
        std::iter::from_fn(move || {
            (at < end).then(|| {
                let v = at;
                at = self.skip(v);
                v
            })
        })
    }

    fn is_object(&self, i: usize) -> bool {
        matches!(self.tape.nodes[i], Node::Obj { .. })
    }

    fn member(&self, obj: usize, key: &str) -> Option<usize> {
        self.members(obj).find(|(k, _)| *k == key).map(|(_, v)| v)
    }

    /// The members of an object in `serde_json::Map` order: by key, or in
    /// file order when serde_json's `preserve_order` feature is on (a
    /// dependency of the build may turn it on; the `evtx` crate does).
    fn sorted_members(&self, obj: usize) -> Vec<(&'a str, usize)> {
        let mut m: Vec<(&str, usize)> = self.members(obj).collect();
        if map_is_sorted() {
            m.sort_unstable_by(|a, b| a.0.cmp(b.0));
        }
        m
    }

    /// Whether index entry `e` is the member at `path`.
    fn entry_is(&self, mut e: u32, path: &str) -> bool {
        let mut rest = path;
        loop {
            let ent = self.tape.index[e as usize];
            let Some(r) = rest.strip_suffix(self.text(ent.key)) else {
                return false;
            };
            if ent.parent == NO_PARENT {
                return r.is_empty();
            }
            let Some(r) = r.strip_suffix('.') else {
                return false;
            };
            rest = r;
            e = ent.parent;
        }
    }

    /// Whether dotted paths without a `*` segment can be looked up in
    /// the index (no key holds a `.`, so a path names at most one member,
    /// the one `lookup` reaches).
    pub(crate) fn indexed(&self) -> bool {
        !self.tape.dotted
    }

    /// The node at `path` (hash `h`) by the index; only when
    /// [`TapeEvent::indexed`] and the path has no `*`.
    fn find(&self, path: &str, h: u64) -> Option<usize> {
        (0..self.tape.index.len() as u32)
            .find(|&e| self.tape.index[e as usize].hash == h && self.entry_is(e, path))
            .map(|e| self.tape.index[e as usize].node as usize)
    }

    /// The node of entry `e`'s value (for [`TapeEvent::node_value`]).
    pub(crate) fn entry_node(&self, e: u32) -> u32 {
        self.tape.index[e as usize].node
    }

    /// The value at node `node` (from [`TapeEvent::entry_node`]): what
    /// [`Event::get`] gives for the member's path.
    pub(crate) fn node_value(&self, node: u32) -> FieldValue<'a> {
        self.field(node as usize)
    }

    /// Calls `f` with each indexed member's path hash and entry (members
    /// inside arrays are not indexed).
    pub(crate) fn members_by_hash(&self, mut f: impl FnMut(u64, u32)) {
        for (i, e) in self.tape.index.iter().enumerate() {
            f(e.hash, i as u32);
        }
    }

    /// Whether entry `e` is the member at `path` (for a hash match).
    pub(crate) fn entry_at(&self, e: u32, path: &str) -> bool {
        self.entry_is(e, path)
    }

    /// Entry `e`'s key, and its parent entry (`None` at the top; a parent
    /// comes before its members in the index).
    /// (As bytes: no `str` slicing checks per member; the key's text is
    /// these bytes.)
    pub(crate) fn entry_key_parent(&self, e: u32) -> (&'a [u8], Option<u32>) {
        let ent = self.tape.index[e as usize];
        (
            span_bytes(self.src.as_bytes(), &self.tape.unescaped, ent.key),
            (ent.parent != NO_PARENT).then_some(ent.parent),
        )
    }

    /// Calls `f` with the text of every string, number and boolean of the
    /// value at `node` (from [`TapeEvent::entry_node`]), or everything
    /// inside it.
    pub(crate) fn node_texts(&self, node: u32, f: impl FnMut(&str)) {
        let node = node as usize;
        let end = self.skip(node);
        scan_nodes(self, &self.tape.nodes[node..end], f);
    }

    /// [`Event::for_each_scan_text`] with the callback known (inlined,
    /// not called through `dyn`).
    pub(crate) fn scan_texts(&self, f: impl FnMut(&str)) {
        scan_nodes(self, &self.tape.nodes, f)
    }

    /// `event::lookup` over the tape.
    fn lookup(&self, v: usize, path: &str) -> Option<usize> {
        if !self.is_object(v) {
            return None;
        }
        if let Some(x) = self.member(v, path) {
            return Some(x);
        }
        let mut cut = path.len();
        while let Some(i) = path[..cut].rfind('.') {
            let (head, rest) = (&path[..i], &path[i + 1..]);
            if head == "*" {
                // The first key in map order whose value has `rest`.
                let mut hits = self
                    .members(v)
                    .filter_map(|(k, x)| self.lookup(x, rest).map(|f| (k, f)));
                let found = match map_is_sorted() {
                    true => hits.min_by(|a, b| a.0.cmp(b.0)),
                    false => hits.next(),
                };
                if let Some(found) = found {
                    return Some(found.1);
                }
            } else if let Some(x) = self.member(v, head) {
                if let Some(found) = self.lookup(x, rest) {
                    return Some(found);
                }
            }
            cut = i;
        }
        None
    }

    /// `event::json_field` over the tape.
    fn field(&self, i: usize) -> FieldValue<'a> {
        match self.tape.nodes[i] {
            Node::Str(s) => FieldValue::Str(Cow::Borrowed(self.text(s))),
            Node::Num(n) => FieldValue::Num(n),
            Node::Bool(b) => FieldValue::Bool(b),
            Node::Null => FieldValue::Null,
            Node::Arr { .. } => FieldValue::List(self.items(i).map(|x| self.field(x)).collect()),
            Node::Obj { .. } => match self.member(i, "#text") {
                Some(t) => self.field(t),
                None => FieldValue::List(
                    self.sorted_members(i)
                        .into_iter()
                        .map(|(_, x)| self.field(x))
                        .collect(),
                ),
            },
            Node::Key(_) => unreachable!("keys are never values"),
        }
    }

    fn walk_text(&self, i: usize, f: &mut dyn FnMut(&str)) {
        match self.tape.nodes[i] {
            Node::Str(s) => f(self.text(s)),
            Node::Num(n) => f(&format_num(n)),
            Node::Bool(b) => f(if b { "true" } else { "false" }),
            Node::Null | Node::Key(_) => {}
            Node::Arr { .. } => {
                for x in self.items(i) {
                    self.walk_text(x, f);
                }
            }
            Node::Obj { .. } => {
                for (_, x) in self.members(i) {
                    self.walk_text(x, f);
                }
            }
        }
    }
}

impl Event for TapeEvent<'_> {
    fn get(&self, path: &str) -> Option<FieldValue<'_>> {
        if self.indexed() && !path.contains('*') {
            return self.find(path, path_hash(path)).map(|i| self.field(i));
        }
        self.lookup(0, path).map(|i| self.field(i))
    }

    fn as_tape(&self) -> Option<&TapeEvent<'_>> {
        Some(self)
    }

    fn for_each_text(&self, f: &mut dyn FnMut(&str)) {
        self.walk_text(0, f)
    }

    fn for_each_scan_text(&self, f: &mut dyn FnMut(&str)) {
        // Every string value is scanned where it lies (no joined copy).
        scan_nodes(self, &self.tape.nodes, f)
    }

    fn keyword_text(&self) -> Option<Cow<'_, str>> {
        ["message", "msg", "log", "raw"].iter().find_map(|k| {
            self.member(0, k).and_then(|i| match self.tape.nodes[i] {
                Node::Str(s) => Some(Cow::Borrowed(self.text(s))),
                _ => None,
            })
        })
    }
}

/// Calls `f` with the text of every string, number (`format_num`, written
/// on the stack when it fits) and boolean among `nodes`.
fn scan_nodes(ev: &TapeEvent<'_>, nodes: &[Node], mut f: impl FnMut(&str)) {
    for node in nodes {
        match *node {
            Node::Str(s) => f(ev.text(s)),
            Node::Num(n) => {
                if let Some(t) = int_text(n, &mut itoa::Buffer::new()) {
                    f(t);
                    continue;
                }
                let mut buf = StackText::default();
                match write!(buf, "{n}") {
                    Ok(()) => f(buf.as_str()),
                    Err(_) => f(&format_num(n)),
                }
            }
            Node::Bool(b) => f(if b { "true" } else { "false" }),
            _ => {}
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The slow twin of [`special`]: byte by byte.
    fn special_slow(b: &[u8], i: usize) -> Option<usize> {
        (i..b.len()).find(|&j| b[j] == b'"' || b[j] == b'\\' || b[j] < 0x20)
    }

    #[test]
    fn special_finds_what_a_byte_loop_finds() {
        // Every length to 40, every start, one special byte (or none) at
        // every place, among bytes on both sides of each boundary.
        let fill = [b'a', b' ', b'!', b'#', b'[', b']', 0x7f, 0x80, 0xff, b'.'];
        for len in 0..40 {
            for (k, &f) in fill.iter().enumerate() {
                let base: Vec<u8> = (0..len).map(|j| fill[(j + k) % fill.len()].max(f)).collect();
                for at in 0..=len {
                    for s in [b'"', b'\\', 0x00, 0x1f, b'\n', 0x20, b'!', b'#', b'\\' + 1] {
                        let mut b = base.clone();
                        if at < len {
                            b[at] = s;
                        }
                        for i in 0..=len {
                            assert_eq!(special(&b, i), special_slow(&b, i), "{b:?} from {i}");
                        }
                    }
                }
            }
        }
    }

    /// [`Parser::key`] and its slow twin [`Parser::key_slow`] on `line`
    /// (a key's opening quote at 0): the same text, escape flag, hash,
    /// flags and end position, or both `None`.
    fn keys_agree(line: &[u8], h: u64) {
        let Ok(text) = std::str::from_utf8(line) else {
            return;
        };
        let run = |slow: bool| {
            let mut t = JsonTape::default();
            let mut p = Parser {
                parent: NO_PARENT,
                parent_hash: HASH_SEED,
                src: line,
                text,
                pos: 0,
                t: &mut t,
            };
            let got = if slow { p.key_slow(h) } else { p.key(h) };
            let pos = p.pos;
            got.map(|(k, hash, dot, space)| {
                let bytes = span_bytes(line, &t.unescaped, k).to_vec();
                (bytes, k.escaped, hash, dot, space, pos)
            })
        };
        assert_eq!(run(false), run(true), "{line:?}");
    }

    #[test]
    fn key_hashes_while_scanning_as_the_slow_twin_does() {
        // Every key length to 40 (both sides of each word boundary), with
        // and without dots, spaces and escapes, followed by short and long
        // rests (quotes and dots after the key must not count).
        let rests: [&[u8]; 4] = [b"", b":1}", b":\"a.b c\"}", b"\" . \" \" \" \""];
        for len in 0..40 {
            for fill in [b'a', b'.', b' ', 0x7f] {
                for at in 0..=len {
                    for special in [b'x', b'.', b' ', b'\\', 0x01, 0xc3] {
                        let mut key: Vec<u8> =
                            (0..len).map(|j| if j % 5 == 3 { fill } else { b'k' }).collect();
                        if at < len {
                            key[at] = special;
                            if special == b'\\' {
                                key.insert(at + 1, b'n');
                            } else if special == 0xc3 {
                                key.insert(at + 1, 0xa9);
                            }
                        }
                        for rest in rests {
                            let mut line = vec![b'"'];
                            line.extend_from_slice(&key);
                            line.push(b'"');
                            line.extend_from_slice(rest);
                            keys_agree(&line, HASH_SEED);
                            keys_agree(&line, 0x1234_5678_9abc_def0);
                            // Unterminated: the line ends inside the key.
                            keys_agree(&line[..1 + key.len()], HASH_SEED);
                        }
                    }
                }
            }
        }
    }

    proptest::proptest! {
        #![proptest_config(proptest::prelude::ProptestConfig::with_cases(2000))]
        #[test]
        fn key_agrees_with_the_slow_twin_on_generated_lines(
            key in "([a-zA-Z0-9_. #:é]|\\\\[nt\"\\\\/]|\\\\u00[0-9a-f]{2}|\u{1}){0,30}",
            rest in "[\":,}. a-z\\\\]{0,20}",
            h in proptest::prelude::any::<u64>(),
        ) {
            keys_agree(format!("\"{key}\"{rest}").as_bytes(), h);
            keys_agree(format!("\"{key}").as_bytes(), h);
        }
    }

    #[test]
    fn key_hash_flags_dots_and_spaces_and_composes_paths() {
        for key in [
            "",
            "a",
            "a.b",
            "ab cd",
            "EventData",
            "a.",
            ".",
            "0123456789abcde.",
            "0123456789abcdef x",
        ] {
            let (_, dot, space) = key_hash(HASH_SEED, key.as_bytes());
            assert_eq!(dot, key.contains('.'), "{key:?}");
            assert_eq!(space, key.contains(' '), "{key:?}");
        }
        // A member's hash is its parent's then its key's: the path's.
        let (a, ..) = key_hash(HASH_SEED, b"Event");
        let (b, ..) = key_hash(a, b"EventData");
        let (c, ..) = key_hash(b, b"CommandLine");
        assert_eq!(c, path_hash("Event.EventData.CommandLine"));
        assert_eq!(a, path_hash("Event"));
        // Keys that differ only past eight bytes, or by length (padding).
        assert_ne!(path_hash("EventData1"), path_hash("EventData2"));
        assert_ne!(path_hash("ab"), path_hash("ab\0"));
    }
}
