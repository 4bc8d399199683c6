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

use crate::event::{format_num, Event, FieldValue};
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

/// Whether `b` holds a control character (below 0x20), without an early
/// exit so that the loop is vectorised (JSON strings are mostly short and
/// never hold one).
fn has_control(b: &[u8]) -> bool {
    b.iter().fold(false, |acc, &c| acc | (c < 0x20))
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

fn hash_byte(h: u64, b: u8) -> u64 {
    (h.rotate_left(5) ^ b as u64).wrapping_mul(0x517c_c1b7_2722_0a95)
}

fn hash_more(h: u64, s: &str) -> u64 {
    s.bytes().fold(h, hash_byte)
}

/// The hash of a dotted path, as the tape's index holds it (a member's
/// path is its parent's path, `.`, its key).
pub(crate) fn path_hash(path: &str) -> u64 {
    hash_more(HASH_SEED, path)
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
        self.ws();
        if self.eat(b'}').is_none() {
            loop {
                self.ws();
                if self.src.get(self.pos) != Some(&b'"') {
                    return None;
                }
                let k = self.string()?;
                // A repeated key: serde_json keeps the last value; leave
                // such events to it rather than mirror that here.
                // (Large objects are left to it too: the check is
                // quadratic.)
                let src = self.text;
                let text = span_text(src, &self.t.unescaped, k);
                // The member's path hash (in an array, the key's own): equal
                // keys of one object have equal hashes, so only keys with
                // the same hash are compared.
                let hash = match self.parent {
                    NO_PARENT | IN_ARRAY => hash_more(HASH_SEED, text),
                    _ => hash_more(hash_byte(self.parent_hash, b'.'), text),
                };
                if self.t.keys.len() - keys_from >= MAX_KEYS
                    || self.t.keys[keys_from..]
                        .iter()
                        .any(|&(h, o)| h == hash && span_text(src, &self.t.unescaped, o) == text)
                {
                    return None;
                }
                self.t.keys.push((hash, k));
                self.t.nodes.push(Node::Key(k));
                let (dot, space) = text
                    .bytes()
                    .fold((false, false), |(d, s), c| (d | (c == b'.'), s | (c == b' ')));
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
                self.ws();
                self.eat(b':')?;
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

    /// A string at `"`; its span in the line, or in `unescaped` when it
    /// holds escapes.
    fn string(&mut self) -> Option<Span> {
        self.pos += 1; // `"`
        let start = self.pos;
        // The closing quote or the first escape, then no control
        // character before it.
        let n = memchr::memchr2(b'"', b'\\', &self.src[start..])?;
        if has_control(&self.src[start..start + n]) {
            return None;
        }
        self.pos = start + n;
        if self.src[self.pos] == b'"' {
            self.pos += 1;
            return Some(Span {
                escaped: false,
                start: start as u32,
                len: n as u32,
            });
        }
        // Escapes: copy into the unescaped buffer.
        let from = self.t.unescaped.len();
        self.t.unescaped.push_str(&self.text[start..self.pos]);
        loop {
            let run = self.pos;
            // Up to the next quote or escape; a control character before
            // it ends the run there (and the decoding, below).
            let n = memchr::memchr2(b'"', b'\\', &self.src[run..]).unwrap_or(self.src.len() - run);
            self.pos = run + self.src[run..run + n].iter().position(|&b| b < 0x20).unwrap_or(n);
            self.t.unescaped.push_str(&self.text[run..self.pos]);
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
                    let c = match *self.src.get(self.pos)? {
                        b'"' => '"',
                        b'\\' => '\\',
                        b'/' => '/',
                        b'b' => '\u{8}',
                        b'f' => '\u{c}',
                        b'n' => '\n',
                        b'r' => '\r',
                        b't' => '\t',
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
                            self.t.unescaped.push(char::from_u32(code)?);
                            continue;
                        }
                        _ => return None,
                    };
                    self.pos += 1;
                    self.t.unescaped.push(c);
                }
                _ => return None, // a control character
            }
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
    pub(crate) fn members_by_hash(&self, f: &mut dyn FnMut(u64, u32)) {
        for (i, e) in self.tape.index.iter().enumerate() {
            f(e.hash, i as u32);
        }
    }

    /// Whether entry `e` is the member at `path` (for a hash match).
    pub(crate) fn entry_at(&self, e: u32, path: &str) -> bool {
        self.entry_is(e, path)
    }

    /// Calls `f` with the text of every string, number and boolean of the
    /// value at `node` (from [`TapeEvent::entry_node`]), or everything
    /// inside it.
    pub(crate) fn node_texts(&self, node: u32, f: &mut dyn FnMut(&str)) {
        let node = node as usize;
        let end = self.skip(node);
        scan_nodes(self, &self.tape.nodes[node..end], f);
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
fn scan_nodes(ev: &TapeEvent<'_>, nodes: &[Node], f: &mut dyn FnMut(&str)) {
    for node in nodes {
        match *node {
            Node::Str(s) => f(ev.text(s)),
            Node::Num(n) => {
                let mut buf = StackText::default();
                let fits = if n.fract() == 0.0 && n.abs() < 1e15 {
                    write!(buf, "{}", n as i64)
                } else {
                    write!(buf, "{n}")
                };
                match fits {
                    Ok(()) => f(buf.as_str()),
                    Err(_) => f(&format_num(n)),
                }
            }
            Node::Bool(b) => f(if b { "true" } else { "false" }),
            _ => {}
        }
    }
}
