//! An alert as one JSON line, written straight into a reused buffer: the
//! same bytes `serde_json::to_writer` writes for [`Alert`] (its `Serialize`
//! stays the reference; `tests/alert_json.rs` compares the two), without a
//! call through `Write` per fragment or a byte-by-byte escape.

use crate::detector::Alert;
use std::collections::BTreeMap;
use std::sync::Arc;

/// Appends `s` as a JSON string the way `serde_json` escapes it: `"` and
/// `\` escaped, `\b \f \n \r \t` short, other bytes below 0x20 as
/// `\u00xx`; runs without any of these copied whole (found eight bytes at
/// a time). The slow twin is `serde_json` itself
/// (`tests::push_str_escapes_as_serde_json_does`).
pub(crate) fn push_str(out: &mut Vec<u8>, s: &str) {
    push_utf8(out, s.as_bytes())
}

/// [`push_str`] of a text's bytes (`b` is whole UTF-8: escaping looks at
/// ASCII bytes only and copies the rest as it is).
pub(crate) fn push_utf8(out: &mut Vec<u8>, b: &[u8]) {
    const HEX: &[u8; 16] = b"0123456789abcdef";
    out.reserve(b.len() + 2);
    out.push(b'"');
    let mut start = 0;
    while let Some(i) = crate::tape::special(b, start) {
        out.extend_from_slice(&b[start..i]);
        match b[i] {
            b'"' => out.extend_from_slice(b"\\\""),
            b'\\' => out.extend_from_slice(b"\\\\"),
            0x08 => out.extend_from_slice(b"\\b"),
            0x0c => out.extend_from_slice(b"\\f"),
            b'\n' => out.extend_from_slice(b"\\n"),
            b'\r' => out.extend_from_slice(b"\\r"),
            b'\t' => out.extend_from_slice(b"\\t"),
            c => out.extend_from_slice(&[
                b'\\',
                b'u',
                b'0',
                b'0',
                HEX[(c >> 4) as usize],
                HEX[(c & 0xf) as usize],
            ]),
        }
        start = i + 1;
    }
    out.extend_from_slice(&b[start..]);
    out.push(b'"');
}

/// `{"rule_id":…,"title":…,"level":…` of `a`.
fn push_prefix(out: &mut Vec<u8>, a: &Alert) {
    out.extend_from_slice(b"{\"rule_id\":");
    push_str(out, &a.rule_id);
    push_key(out, "title");
    push_str(out, &a.title);
    push_key(out, "level");
    push_str(out, &a.level);
}

fn push_u64(out: &mut Vec<u8>, n: u64) {
    out.extend_from_slice(itoa::Buffer::new().format(n).as_bytes());
}

/// `"key":` after a `,` (every field but the first); `key` is one of the
/// alert's field names, which need no escape.
fn push_key(out: &mut Vec<u8>, key: &str) {
    debug_assert!(crate::tape::special(key.as_bytes(), 0).is_none(), "{key}");
    out.extend_from_slice(b",\"");
    out.extend_from_slice(key.as_bytes());
    out.extend_from_slice(b"\":");
}

fn push_map(out: &mut Vec<u8>, m: &BTreeMap<String, String>) {
    out.push(b'{');
    for (i, (k, v)) in m.iter().enumerate() {
        if i > 0 {
            out.push(b',');
        }
        push_str(out, k);
        out.push(b':');
        push_str(out, v);
    }
    out.push(b'}');
}

/// The start of an alert's JSON that depends only on its rule
/// (`{"rule_id":…,"title":…,"level":…`), kept for the last rule written:
/// alerts of one rule share its texts (the same `Arc`s), so the next
/// alert of that rule copies the bytes instead of escaping three strings
/// again. Told by pointer: the same `Arc<str>` is the same text, so a
/// kept prefix can never be another rule's.
#[derive(Debug, Default)]
pub struct JsonPrefix {
    rule: Option<[Arc<str>; 3]>,
    bytes: Vec<u8>,
}

impl Alert {
    /// Appends the alert as JSON (no end of line) to `out`: byte for byte
    /// what `serde_json::to_writer` writes for it (fields in declaration
    /// order, the optional ones left out as `skip_serializing_if` says).
    pub fn write_json(&self, out: &mut Vec<u8>) {
        push_prefix(out, self);
        self.write_json_rest(out);
    }

    /// [`Alert::write_json`], with the rule's part of the JSON taken from
    /// `prefix` when the last alert written with it had the same rule.
    pub fn write_json_with(&self, out: &mut Vec<u8>, prefix: &mut JsonPrefix) {
        let same = prefix.rule.as_ref().is_some_and(|[i, t, l]| {
            Arc::ptr_eq(i, &self.rule_id) && Arc::ptr_eq(t, &self.title) && Arc::ptr_eq(l, &self.level)
        });
        if !same {
            prefix.bytes.clear();
            push_prefix(&mut prefix.bytes, self);
            prefix.rule = Some([self.rule_id.clone(), self.title.clone(), self.level.clone()]);
        }
        out.extend_from_slice(&prefix.bytes);
        self.write_json_rest(out);
    }

    /// The fields after `level`, and the closing brace.
    fn write_json_rest(&self, out: &mut Vec<u8>) {
        push_key(out, "line");
        push_u64(out, self.line);
        push_key(out, "source");
        push_str(out, &self.source);
        if let Some(t) = &self.timestamp {
            push_key(out, "timestamp");
            push_utf8(out, t.as_bytes());
        }
        if !self.matched.is_empty() {
            push_key(out, "matched");
            push_map(out, &self.matched);
        }
        if let Some(c) = &self.correlation {
            push_key(out, "correlation");
            push_str(out, c);
        }
        if let Some(g) = &self.group {
            push_key(out, "group");
            push_map(out, g);
        }
        if let Some(lines) = &self.lines {
            push_key(out, "lines");
            out.push(b'[');
            for (i, &n) in lines.iter().enumerate() {
                if i > 0 {
                    out.push(b',');
                }
                push_u64(out, n);
            }
            out.push(b']');
        }
        out.push(b'}');
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn check(s: &str) {
        let mut out = b"x".to_vec();
        push_str(&mut out, s);
        let want = serde_json::to_string(s).expect("a string serializes");
        assert_eq!(std::str::from_utf8(&out[1..]).expect("UTF-8"), want, "{s:?}");
    }

    #[test]
    fn push_str_escapes_as_serde_json_does() {
        let specials = [
            '"', '\\', '\u{0}', '\u{8}', '\u{c}', '\n', '\r', '\t', '\u{1f}', ' ', 'a', 'é', '\u{7f}',
        ];
        for len in 0..26 {
            for (k, &f) in specials.iter().enumerate() {
                for at in 0..=len {
                    let mut s: Vec<char> = (0..len).map(|j| specials[(j + k) % 3 + 9]).collect();
                    if at < len {
                        s[at] = f;
                    }
                    check(&s.iter().collect::<String>());
                }
            }
        }
        check(r"C:\Program Files\Google\Chrome\Application\chrome.exe");
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(2000))]
        #[test]
        fn push_str_on_generated_strings(s in "([\\\\\"\\x00-\\x1f a-zA-Z0-9é€]|\\\\\\\\){0,64}") {
            check(&s);
        }
    }
}
