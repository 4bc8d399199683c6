//! Output encodings for logsieve records: JSON lines and the Loghub
//! structured CSV layout.
//!
//! Encoders append to a caller-owned `Vec<u8>` so a worker thread can render
//! a whole batch into one reused buffer and the writer only copies bytes in
//! order. Invariants: every string is escaped (JSON: RFC 8259, control
//! characters as `\u00XX`; CSV: RFC 4180 quoting when a field holds `,`,
//! `"`, CR or LF), so one record is always exactly one output line.
//!
//! ```
//! let mut out = Vec::new();
//! logsieve_sink::json_str(&mut out, "say \"hi\"\n");
//! assert_eq!(out, b"\"say \\\"hi\\\"\\n\"");
//! out.clear();
//! logsieve_sink::csv_field(&mut out, "a,b");
//! assert_eq!(out, b"\"a,b\"");
//! ```
#![deny(missing_docs)]

const HEX: &[u8; 16] = b"0123456789abcdef";

/// Whether any byte of the 8 in `x` is `"`, `\\` or below 0x20 (SWAR).
#[inline]
fn needs_escape8(x: u64) -> bool {
    const ONES: u64 = 0x0101_0101_0101_0101;
    const HIGH: u64 = 0x8080_8080_8080_8080;
    let zero = |v: u64| v.wrapping_sub(ONES) & !v & HIGH;
    let below = x.wrapping_sub(ONES * 0x20) & !x & HIGH;
    (below | zero(x ^ (ONES * b'"' as u64)) | zero(x ^ (ONES * b'\\' as u64))) != 0
}

/// Bytes a JSON string cannot hold as they are: controls, `"` and `\`.
static ESCAPED: [bool; 256] = {
    let mut t = [false; 256];
    let mut c = 0;
    while c < 256 {
        t[c] = c < 0x20 || c == b'"' as usize || c == b'\\' as usize;
        c += 1;
    }
    t
};

/// Whether `s` is a JSON string's content as it stands (no byte to
/// escape). Every part of such a text is then plain too: a caller that
/// checked a line once can write pieces of it without scanning them
/// ([`JsonObject::plain_str_array`]).
pub fn is_plain(s: &str) -> bool {
    first_escaped(s.as_bytes()).is_none()
}

/// Appends `s` as a JSON string literal.
pub fn json_str(out: &mut Vec<u8>, s: &str) {
    let b = s.as_bytes();
    out.reserve(b.len() + 2);
    out.push(b'"');
    match first_escaped(b) {
        // The usual case: nothing to escape, one copy.
        None => out.extend_from_slice(b),
        Some(i) => escape_from(out, b, i),
    }
    out.push(b'"');
}

/// The index of the first byte of `b` that a JSON string cannot hold as it
/// is: 8 bytes at a time, then byte by byte.
#[inline]
fn first_escaped(b: &[u8]) -> Option<usize> {
    let mut i = 0;
    while i + 8 <= b.len() {
        let word = u64::from_le_bytes(b[i..i + 8].try_into().expect("8 bytes"));
        if needs_escape8(word) {
            break;
        }
        i += 8;
    }
    b[i..].iter().position(|&c| ESCAPED[c as usize]).map(|k| i + k)
}

/// Appends `b` escaped, knowing that `b[..first]` needs no escaping.
fn escape_from(out: &mut Vec<u8>, b: &[u8], first: usize) {
    let mut start = 0;
    let mut i = first;
    while i < b.len() {
        let c = b[i];
        if !ESCAPED[c as usize] {
            i += 1;
            continue;
        }
        out.extend_from_slice(&b[start..i]);
        match c {
            b'"' => out.extend_from_slice(b"\\\""),
            b'\\' => out.extend_from_slice(b"\\\\"),
            b'\n' => out.extend_from_slice(b"\\n"),
            b'\r' => out.extend_from_slice(b"\\r"),
            b'\t' => out.extend_from_slice(b"\\t"),
            _ => {
                out.extend_from_slice(b"\\u00");
                out.push(HEX[(c >> 4) as usize]);
                out.push(HEX[(c & 15) as usize]);
            }
        }
        i += 1;
        start = i;
    }
    out.extend_from_slice(&b[start..]);
}

/// Appends an unsigned integer.
pub fn uint(out: &mut Vec<u8>, v: u64) {
    let mut buf = itoa::Buffer::new();
    out.extend_from_slice(buf.format(v).as_bytes());
}

/// Appends one CSV field, quoted only when needed.
pub fn csv_field(out: &mut Vec<u8>, s: &str) {
    let b = s.as_bytes();
    if !needs_quotes(b) {
        out.extend_from_slice(b);
        return;
    }
    out.reserve(b.len() + 2);
    out.push(b'"');
    // Runs up to and including each `"`, which is then doubled.
    let mut rest = b;
    while let Some(i) = memchr_quote(rest) {
        out.extend_from_slice(&rest[..=i]);
        out.push(b'"');
        rest = &rest[i + 1..];
    }
    out.extend_from_slice(rest);
    out.push(b'"');
}

/// Whether a CSV field must be quoted: it holds `,`, `"`, CR or LF (8
/// bytes at a time, then byte by byte).
#[inline]
fn needs_quotes(b: &[u8]) -> bool {
    const ONES: u64 = 0x0101_0101_0101_0101;
    const HIGH: u64 = 0x8080_8080_8080_8080;
    let zero = |v: u64| v.wrapping_sub(ONES) & !v & HIGH;
    let mut chunks = b.chunks_exact(8);
    for c in &mut chunks {
        let x = u64::from_le_bytes(c.try_into().expect("8 bytes"));
        let hit = zero(x ^ (ONES * b',' as u64))
            | zero(x ^ (ONES * b'"' as u64))
            | zero(x ^ (ONES * b'\n' as u64))
            | zero(x ^ (ONES * b'\r' as u64));
        if hit != 0 {
            return true;
        }
    }
    chunks
        .remainder()
        .iter()
        .any(|&c| matches!(c, b',' | b'"' | b'\n' | b'\r'))
}

/// The position of the first `"` in `b`.
#[inline]
fn memchr_quote(b: &[u8]) -> Option<usize> {
    b.iter().position(|&c| c == b'"')
}

/// Appends a CSV row of fields followed by `\n`.
pub fn csv_row<'a>(out: &mut Vec<u8>, fields: impl IntoIterator<Item = &'a str>) {
    for (i, f) in fields.into_iter().enumerate() {
        if i > 0 {
            out.push(b',');
        }
        csv_field(out, f);
    }
    out.push(b'\n');
}

/// A tiny JSON object writer: `{"k":v,...}` with keys written once.
pub struct JsonObject<'a> {
    out: &'a mut Vec<u8>,
    first: bool,
}

impl<'a> JsonObject<'a> {
    /// Opens an object.
    pub fn new(out: &'a mut Vec<u8>) -> Self {
        out.push(b'{');
        JsonObject { out, first: true }
    }

    /// Starts a member and returns the buffer to write its value into.
    /// Member names are the program's own (`'static`, checked in debug
    /// builds to need no escaping): written as they are, without a scan.
    pub fn key(&mut self, k: &'static str) -> &mut Vec<u8> {
        debug_assert!(is_plain(k), "{k:?} needs escaping");
        if !self.first {
            self.out.push(b',');
        }
        self.first = false;
        self.out.push(b'"');
        self.out.extend_from_slice(k.as_bytes());
        self.out.extend_from_slice(b"\":");
        self.out
    }

    /// A string member.
    pub fn str(&mut self, k: &'static str, v: &str) {
        let o = self.key(k);
        json_str(o, v);
    }

    /// A string member whose value needs no escaping ([`is_plain`], checked
    /// in debug builds): written as it is, without the escape scan.
    pub fn plain_str(&mut self, k: &'static str, v: &str) {
        debug_assert!(is_plain(v), "{v:?} needs escaping");
        let o = self.key(k);
        o.push(b'"');
        o.extend_from_slice(v.as_bytes());
        o.push(b'"');
    }

    /// [`JsonObject::plain_str`] when `plain` (the caller found `v`, or a
    /// text it is part of, [`is_plain`]), else [`JsonObject::str`].
    pub fn str_checked(&mut self, k: &'static str, v: &str, plain: bool) {
        if plain {
            self.plain_str(k, v);
        } else {
            self.str(k, v);
        }
    }

    /// [`JsonObject::plain_str_array`] when `plain`, else
    /// [`JsonObject::str_array`].
    pub fn str_array_checked<'s>(
        &mut self,
        k: &'static str,
        items: impl IntoIterator<Item = &'s str>,
        plain: bool,
    ) {
        if plain {
            self.plain_str_array(k, items);
        } else {
            self.str_array(k, items);
        }
    }

    /// An integer member.
    pub fn uint(&mut self, k: &'static str, v: u64) {
        let o = self.key(k);
        uint(o, v);
    }

    /// An array of strings.
    pub fn str_array<'s>(&mut self, k: &'static str, items: impl IntoIterator<Item = &'s str>) {
        let o = self.key(k);
        o.push(b'[');
        for (i, s) in items.into_iter().enumerate() {
            if i > 0 {
                o.push(b',');
            }
            json_str(o, s);
        }
        o.push(b']');
    }

    /// An array of strings that need no escaping (names the program
    /// chose, such as variable kinds, or parts of a text found
    /// [`is_plain`]): written as they are, without the escape scan.
    /// Checked in debug builds.
    pub fn plain_str_array<'s>(&mut self, k: &'static str, items: impl IntoIterator<Item = &'s str>) {
        let o = self.key(k);
        o.push(b'[');
        for (i, s) in items.into_iter().enumerate() {
            debug_assert!(is_plain(s), "{s:?} needs escaping");
            if i > 0 {
                o.push(b',');
            }
            o.push(b'"');
            o.extend_from_slice(s.as_bytes());
            o.push(b'"');
        }
        o.push(b']');
    }

    /// Closes the object.
    pub fn end(self) {
        self.out.push(b'}');
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn plain_str_array_writes_what_str_array_writes_for_plain_names() {
        let names = ["int", "ipv4", "timestamp", "", "a_b-c.d"];
        let (mut fast, mut slow) = (Vec::new(), Vec::new());
        let mut o = JsonObject::new(&mut fast);
        o.plain_str_array("k", names);
        o.end();
        let mut o = JsonObject::new(&mut slow);
        o.str_array("k", names);
        o.end();
        assert_eq!(String::from_utf8(fast).unwrap(), String::from_utf8(slow).unwrap());
    }

    /// A plain text's parts written without the scan are what the
    /// escaping writer gives; a text with any byte to escape is not plain.
    #[test]
    fn plain_members_write_what_escaped_ones_write() {
        let text = "user=alice src=10.0.0.1 msg='ok' é😀 <*>";
        assert!(is_plain(text));
        let parts: Vec<&str> = text.split(' ').collect();
        let (mut fast, mut slow) = (Vec::new(), Vec::new());
        let mut o = JsonObject::new(&mut fast);
        o.plain_str_array("params", parts.iter().copied());
        o.plain_str("message", text);
        o.end();
        let mut o = JsonObject::new(&mut slow);
        o.str_array("params", parts.iter().copied());
        o.str("message", text);
        o.end();
        assert_eq!(String::from_utf8(fast).unwrap(), String::from_utf8(slow).unwrap());
        for bad in ["a\"b", "a\\b", "tab\there", "nl\n", "\u{1}", "\u{1f}"] {
            assert!(!is_plain(bad), "{bad:?}");
        }
        assert!(is_plain("\u{7f} \u{20}"));
    }

    #[test]
    fn json_escapes_round_trip() {
        let s = "a\"b\\c\n\r\t\u{1}\u{7f}é😀";
        let mut out = Vec::new();
        json_str(&mut out, s);
        let back: String = serde_json_lite(&out);
        assert_eq!(back, s);
    }

    // Decodes the subset of JSON that json_str writes, as an independent twin.
    fn serde_json_lite(b: &[u8]) -> String {
        let s = std::str::from_utf8(&b[1..b.len() - 1]).unwrap();
        let mut out = String::new();
        let mut it = s.chars();
        while let Some(c) = it.next() {
            if c != '\\' {
                out.push(c);
                continue;
            }
            match it.next().unwrap() {
                'n' => out.push('\n'),
                'r' => out.push('\r'),
                't' => out.push('\t'),
                'u' => {
                    let h: String = it.by_ref().take(4).collect();
                    out.push(char::from_u32(u32::from_str_radix(&h, 16).unwrap()).unwrap());
                }
                c => out.push(c),
            }
        }
        out
    }

    #[test]
    fn json_escapes_at_every_offset() {
        // The 8-byte fast path must never skip a byte that needs escaping.
        for special in ['"', '\\', '\n', '\u{1f}', '\u{0}'] {
            for pos in 0..24 {
                let mut s: String = "abcdefghijklmnopqrstuvwx".into();
                s.replace_range(pos..pos + 1, &special.to_string());
                let mut out = Vec::new();
                json_str(&mut out, &s);
                assert_eq!(serde_json_lite(&out), s, "{special:?} at {pos}");
            }
        }
    }

    /// The slow, obviously correct twin of [`json_str`]: char by char.
    fn json_str_slowly(s: &str) -> Vec<u8> {
        let mut o = String::from("\"");
        for c in s.chars() {
            match c {
                '"' => o.push_str("\\\""),
                '\\' => o.push_str("\\\\"),
                '\n' => o.push_str("\\n"),
                '\r' => o.push_str("\\r"),
                '\t' => o.push_str("\\t"),
                c if (c as u32) < 0x20 => o.push_str(&format!("\\u{:04x}", c as u32)),
                c => o.push(c),
            }
        }
        o.push('"');
        o.into_bytes()
    }

    /// Strings of every length from 0 to 39, `rounds` of each: the first
    /// plain, the others with bytes of `alphabet` at every offset (a
    /// fixed xorshift sequence, so every run tests the same strings).
    fn soups(alphabet: &str, rounds: usize) -> Vec<String> {
        let alphabet: Vec<char> = alphabet.chars().collect();
        let mut x = 0x9e37_79b9_7f4a_7c15u64;
        let mut out = Vec::new();
        for len in 0..40 {
            for round in 0..rounds {
                out.push(
                    (0..len)
                        .map(|k| {
                            x ^= x << 13;
                            x ^= x >> 7;
                            x ^= x << 17;
                            if round == 0 {
                                'a'
                            } else if k % 7 == round % 7 || round % 5 == 0 {
                                alphabet[(x % alphabet.len() as u64) as usize]
                            } else {
                                'z'
                            }
                        })
                        .collect(),
                );
            }
        }
        out
    }

    #[test]
    fn json_str_matches_its_slow_twin() {
        for s in soups("ab\"\\\n\r\t\u{0}\u{1f} é😀~\u{7f}", 50) {
            let mut out = vec![b'#'];
            json_str(&mut out, &s);
            assert_eq!(&out[1..], &json_str_slowly(&s)[..], "{s:?}");
        }
    }

    /// The slow, obviously correct twin of [`csv_field`]: byte by byte.
    fn csv_field_slowly(s: &str) -> Vec<u8> {
        let mut out = Vec::new();
        if s.bytes().any(|c| matches!(c, b',' | b'"' | b'\n' | b'\r')) {
            out.push(b'"');
            for &c in s.as_bytes() {
                if c == b'"' {
                    out.push(b'"');
                }
                out.push(c);
            }
            out.push(b'"');
        } else {
            out.extend_from_slice(s.as_bytes());
        }
        out
    }

    #[test]
    fn csv_field_matches_its_slow_twin() {
        for s in soups("ab,\"\n\r x\té😀;'", 60) {
            let mut out = vec![b'#'];
            csv_field(&mut out, &s);
            assert_eq!(&out[1..], &csv_field_slowly(&s)[..], "{s:?}");
        }
    }

    #[test]
    fn csv_quotes_only_when_needed() {
        let mut out = Vec::new();
        csv_row(&mut out, ["1", "plain", "with,comma", "say \"x\"", "line\nbreak"]);
        assert_eq!(out, b"1,plain,\"with,comma\",\"say \"\"x\"\"\",\"line\nbreak\"\n");
    }

    #[test]
    fn object_writer() {
        let mut out = Vec::new();
        let mut o = JsonObject::new(&mut out);
        o.uint("line", 3);
        o.str("t", "x");
        o.str_array("p", ["a", "b"]);
        o.end();
        assert_eq!(out, br#"{"line":3,"t":"x","p":["a","b"]}"#);
    }
}
