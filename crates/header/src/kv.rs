//! Key-value presets: logfmt and CEF (ArcSight Common Event Format).
//!
//! Each has a simple, obviously correct twin in the tests (`slow_logfmt`,
//! `slow_cef`: character by character over a `Vec<char>`), and a property
//! test that both give the same fields on arbitrary lines.

use crate::ParsedHeader;

/// CEF header field names, in order.
pub(crate) const CEF_FIELDS: &[&str] = &[
    "cef_version",
    "device_vendor",
    "device_product",
    "device_version",
    "signature_id",
    "name",
    "severity",
];

/// The message key among logfmt pairs: `message_field`, else the first of
/// `msg`, `message`, `log` present.
fn message_key<'a>(pairs: &[(String, String)], message_field: Option<&'a str>) -> Option<&'a str> {
    match message_field {
        Some(f) => Some(f),
        None => ["msg", "message", "log"]
            .into_iter()
            .find(|k| pairs.iter().any(|(n, _)| n == k)),
    }
}

/// Splits a logfmt line into pairs: `key=value`, `key="quoted \"value\""`,
/// or a bare `key` (empty value). `None` when the line is not logfmt: no
/// `key=` pair at all, an unterminated quote, or a quote or `=` where a
/// key should start.
pub(crate) fn logfmt_pairs(line: &str) -> Option<Vec<(String, String)>> {
    let b = line.as_bytes();
    let mut i = 0;
    let mut pairs = Vec::new();
    let mut any_eq = false;
    while i < b.len() {
        if b[i] == b' ' || b[i] == b'\t' {
            i += 1;
            continue;
        }
        let start = i;
        while i < b.len() && !matches!(b[i], b' ' | b'\t' | b'=' | b'"') {
            i += 1;
        }
        if i == start {
            return None; // `=` or `"` where a key starts
        }
        let key = &line[start..i];
        if i < b.len() && b[i] == b'"' {
            return None;
        }
        if i >= b.len() || b[i] != b'=' {
            pairs.push((key.to_string(), String::new()));
            continue;
        }
        any_eq = true;
        i += 1; // '='
        let mut value = String::new();
        if i < b.len() && b[i] == b'"' {
            i += 1;
            let mut closed = false;
            while i < b.len() {
                match b[i] {
                    b'\\' if i + 1 < b.len() => {
                        let c = b[i + 1];
                        match c {
                            b'n' => value.push('\n'),
                            b't' => value.push('\t'),
                            b'r' => value.push('\r'),
                            b'"' | b'\\' => value.push(c as char),
                            _ => {
                                value.push('\\');
                                i += 1;
                                continue;
                            }
                        }
                        i += 2;
                    }
                    b'"' => {
                        closed = true;
                        i += 1;
                        break;
                    }
                    _ => {
                        // Copy the whole UTF-8 character.
                        let len = utf8_len(b[i]);
                        value.push_str(&line[i..i + len]);
                        i += len;
                    }
                }
            }
            if !closed {
                return None;
            }
            if i < b.len() && !matches!(b[i], b' ' | b'\t') {
                return None; // `k="a"b`
            }
        } else {
            let vs = i;
            while i < b.len() && !matches!(b[i], b' ' | b'\t') {
                i += 1;
            }
            value.push_str(&line[vs..i]);
        }
        pairs.push((key.to_string(), value));
    }
    any_eq.then_some(pairs)
}

fn utf8_len(first: u8) -> usize {
    match first {
        0xF0..=0xFF => 4,
        0xE0..=0xEF => 3,
        0xC0..=0xDF => 2,
        _ => 1,
    }
}

/// logfmt: every pair goes to `extra`, except the message (see
/// [`message_key`]), which is the content; without one the whole line is
/// the content (text is never lost).
pub(crate) fn logfmt(line: &str, message_field: Option<&str>, out: &mut ParsedHeader) -> bool {
    let Some(pairs) = logfmt_pairs(line) else {
        return false;
    };
    let msg = message_key(&pairs, message_field);
    let mut found = false;
    for (k, v) in pairs {
        if !found && Some(k.as_str()) == msg {
            found = true;
            out.content.push_str(&v);
        } else {
            out.extra.push((k, v));
        }
    }
    if !found {
        out.content.push_str(line);
    }
    true
}

/// Splits a CEF line (an optional syslog prefix, then
/// `CEF:Version|Vendor|Product|Version|Signature ID|Name|Severity|Extension`)
/// into its 7 header fields (`\|` and `\\` unescaped), the prefix, and the
/// extension's pairs. `None` when there is no `CEF:` or fewer than 7 `|`.
#[allow(clippy::type_complexity)]
pub(crate) fn cef_parts(line: &str) -> Option<(Vec<String>, String, Vec<(String, String)>)> {
    let at = line.find("CEF:")?;
    let prefix = line[..at].trim().to_string();
    let rest = &line[at + 4..];
    let mut fields = Vec::with_capacity(7);
    let mut cur = String::new();
    let mut chars = rest.char_indices();
    let mut ext_start = None;
    while let Some((i, c)) = chars.next() {
        match c {
            '\\' => match chars.clone().next() {
                Some((_, n @ ('|' | '\\'))) => {
                    cur.push(n);
                    chars.next();
                }
                _ => cur.push('\\'),
            },
            '|' => {
                fields.push(std::mem::take(&mut cur));
                if fields.len() == 7 {
                    ext_start = Some(i + 1);
                    break;
                }
            }
            _ => cur.push(c),
        }
    }
    let ext = &rest[ext_start?..];
    Some((fields, prefix, cef_extension(ext)))
}

/// The extension's `key=value` pairs: a value runs up to the space before
/// the next `key=` (so it may hold spaces); `\=`, `\\`, `\n`, `\r` are
/// unescaped. Text before the first key is kept under `extension`.
fn cef_extension(ext: &str) -> Vec<(String, String)> {
    // Where keys start: a run of key characters preceded by start-of-text
    // or a space, followed by an unescaped `=`.
    let b = ext.as_bytes();
    let mut keys: Vec<(usize, usize)> = Vec::new(); // (key start, '=' position)
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'=' && (i == 0 || b[i - 1] != b'\\') {
            let mut s = i;
            while s > 0 && is_key_byte(b[s - 1]) {
                s -= 1;
            }
            if s < i && (s == 0 || b[s - 1] == b' ') {
                keys.push((s, i));
            }
        }
        i += 1;
    }
    let mut out = Vec::new();
    let first = keys.first().map_or(ext.len(), |k| k.0);
    if !ext[..first].trim().is_empty() {
        out.push(("extension".to_string(), ext[..first].trim().to_string()));
    }
    for (n, &(ks, eq)) in keys.iter().enumerate() {
        let end = keys.get(n + 1).map_or(ext.len(), |k| k.0);
        let raw = ext[eq + 1..end].trim_end_matches(' ');
        out.push((ext[ks..eq].to_string(), cef_unescape(raw)));
    }
    out
}

fn is_key_byte(c: u8) -> bool {
    c.is_ascii_alphanumeric() || matches!(c, b'_' | b'.' | b'-' | b'[' | b']')
}

fn cef_unescape(v: &str) -> String {
    let mut out = String::with_capacity(v.len());
    let mut it = v.chars().peekable();
    while let Some(c) = it.next() {
        if c == '\\' {
            match it.peek() {
                Some('=') => out.push('='),
                Some('\\') => out.push('\\'),
                Some('n') => out.push('\n'),
                Some('r') => out.push('\r'),
                _ => {
                    out.push('\\');
                    continue;
                }
            }
            it.next();
        } else {
            out.push(c);
        }
    }
    out
}

/// CEF: the 7 header fields by name, extension pairs in `extra` (and the
/// syslog prefix as `prefix`), content = the `msg` extension, else `name`.
pub(crate) fn cef(line: &str, out: &mut ParsedHeader) -> bool {
    let Some((fields, prefix, ext)) = cef_parts(line) else {
        return false;
    };
    for (slot, f) in out.values.iter_mut().zip(&fields) {
        slot.push_str(f);
    }
    if !prefix.is_empty() {
        out.extra.push(("prefix".to_string(), prefix));
    }
    let mut found = false;
    for (k, v) in ext {
        if !found && k == "msg" {
            found = true;
            out.content.push_str(&v);
        } else {
            out.extra.push((k, v));
        }
    }
    if !found {
        out.content.push_str(&fields[5]);
    }
    true
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{HeaderParser, Preset};
    use proptest::prelude::*;

    /// The obviously correct logfmt twin: a state machine over characters.
    fn slow_logfmt(line: &str) -> Option<Vec<(String, String)>> {
        let c: Vec<char> = line.chars().collect();
        let mut i = 0;
        let mut out = Vec::new();
        let mut any = false;
        let blank = |c: char| c == ' ' || c == '\t';
        while i < c.len() {
            if blank(c[i]) {
                i += 1;
                continue;
            }
            let mut key = String::new();
            while i < c.len() && !blank(c[i]) && c[i] != '=' && c[i] != '"' {
                key.push(c[i]);
                i += 1;
            }
            if key.is_empty() || (i < c.len() && c[i] == '"') {
                return None;
            }
            if i == c.len() || c[i] != '=' {
                out.push((key, String::new()));
                continue;
            }
            any = true;
            i += 1;
            let mut v = String::new();
            if i < c.len() && c[i] == '"' {
                i += 1;
                let mut closed = false;
                while i < c.len() {
                    if c[i] == '\\' && i + 1 < c.len() {
                        let e = match c[i + 1] {
                            'n' => Some('\n'),
                            't' => Some('\t'),
                            'r' => Some('\r'),
                            '"' => Some('"'),
                            '\\' => Some('\\'),
                            _ => None,
                        };
                        match e {
                            Some(e) => {
                                v.push(e);
                                i += 2;
                            }
                            None => {
                                v.push('\\');
                                i += 1;
                            }
                        }
                    } else if c[i] == '"' {
                        closed = true;
                        i += 1;
                        break;
                    } else {
                        v.push(c[i]);
                        i += 1;
                    }
                }
                if !closed || (i < c.len() && !blank(c[i])) {
                    return None;
                }
            } else {
                while i < c.len() && !blank(c[i]) {
                    v.push(c[i]);
                    i += 1;
                }
            }
            out.push((key, v));
        }
        any.then_some(out)
    }

    #[test]
    fn logfmt_pairs_quotes_escapes_and_bare_keys() {
        let p =
            logfmt_pairs(r#"ts=2024-01-01T00:00:00Z level=info msg="user \"bob\" logged in" ok dur=1.5ms"#)
                .unwrap();
        assert_eq!(
            p,
            [
                ("ts", "2024-01-01T00:00:00Z"),
                ("level", "info"),
                ("msg", "user \"bob\" logged in"),
                ("ok", ""),
                ("dur", "1.5ms")
            ]
            .map(|(a, b)| (a.to_string(), b.to_string()))
        );
        assert_eq!(logfmt_pairs("just some words"), None, "no key=value");
        assert_eq!(logfmt_pairs("a=\"open"), None, "unterminated quote");
        assert_eq!(logfmt_pairs("=x"), None);
        assert_eq!(logfmt_pairs("k=\"a\"b"), None);
        assert_eq!(
            logfmt_pairs("k=é x=\"ü\""),
            Some(vec![("k".into(), "é".into()), ("x".into(), "ü".into())])
        );
    }

    #[test]
    fn logfmt_preset_content_is_the_message_and_the_rest_is_extra() {
        let h = HeaderParser::preset(Preset::Logfmt, None);
        let mut out = ParsedHeader::new();
        assert!(h.parse(r#"level=warn msg="disk full" host=db1"#, &mut out));
        assert_eq!(out.content, "disk full");
        assert_eq!(out.get(&h, "host"), Some("db1"));
        assert_eq!(out.get(&h, "level"), Some("warn"));
        // No message key: the whole line is the content.
        assert!(h.parse("a=1 b=2", &mut out));
        assert_eq!(out.content, "a=1 b=2");
        // Not logfmt: kept whole, not matched.
        assert!(!h.parse("plain text", &mut out));
        assert_eq!((out.matched, out.content.as_str()), (false, "plain text"));
        let h = HeaderParser::preset(Preset::Logfmt, Some("event"));
        assert!(h.parse("event=login msg=x", &mut out));
        assert_eq!(out.content, "login");
        assert_eq!(out.get(&h, "msg"), Some("x"));
    }

    #[test]
    fn cef_header_extension_and_escapes() {
        let h = HeaderParser::preset(Preset::Cef, None);
        let mut out = ParsedHeader::new();
        let line = r"Sep 19 08:26:10 host CEF:0|Security|threatmanager|1.0|100|worm successfully stopped \| really|10|src=10.0.0.1 dst=2.1.2.2 spt=1232 msg=Detected a threat. No action needed cs1=a\=b c\\d";
        assert!(h.parse(line, &mut out));
        assert_eq!(
            out.values,
            [
                "0",
                "Security",
                "threatmanager",
                "1.0",
                "100",
                "worm successfully stopped | really",
                "10"
            ]
        );
        assert_eq!(out.content, "Detected a threat. No action needed");
        assert_eq!(out.get(&h, "src"), Some("10.0.0.1"));
        assert_eq!(out.get(&h, "spt"), Some("1232"));
        assert_eq!(out.get(&h, "cs1"), Some(r"a=b c\d"));
        assert_eq!(out.get(&h, "prefix"), Some("Sep 19 08:26:10 host"));
        assert_eq!(out.get(&h, "device_vendor"), Some("Security"));
        // No msg: the content is the name.
        assert!(h.parse("CEF:0|V|P|1|sig|Port scan|5|src=1.2.3.4", &mut out));
        assert_eq!(out.content, "Port scan");
        // Not CEF, or a header cut short.
        assert!(!h.parse("CEF:0|V|P|1", &mut out));
        assert_eq!(out.content, "CEF:0|V|P|1");
        assert!(!h.parse("hello", &mut out));
    }

    /// The obviously correct CEF extension twin: for each unescaped `=`,
    /// walk back over key characters; values are what lies between.
    fn slow_extension(ext: &str) -> Vec<(String, String)> {
        let c: Vec<char> = ext.chars().collect();
        let key_char = |c: char| c.is_ascii_alphanumeric() || "_.-[]".contains(c);
        let mut keys = Vec::new();
        for i in 0..c.len() {
            if c[i] == '=' && (i == 0 || c[i - 1] != '\\') {
                let mut s = i;
                while s > 0 && key_char(c[s - 1]) {
                    s -= 1;
                }
                if s < i && (s == 0 || c[s - 1] == ' ') {
                    keys.push((s, i));
                }
            }
        }
        let text = |a: usize, b: usize| c[a..b].iter().collect::<String>();
        let mut out = Vec::new();
        let first = keys.first().map_or(c.len(), |k| k.0);
        if !text(0, first).trim().is_empty() {
            out.push(("extension".to_string(), text(0, first).trim().to_string()));
        }
        for (n, &(ks, eq)) in keys.iter().enumerate() {
            let end = keys.get(n + 1).map_or(c.len(), |k| k.0);
            let raw = text(eq + 1, end);
            out.push((text(ks, eq), cef_unescape(raw.trim_end_matches(' '))));
        }
        out
    }

    proptest! {
        #[test]
        fn logfmt_agrees_with_its_slow_twin(line in r#"[a-z=" \\é\tnt]{0,40}"#) {
            prop_assert_eq!(logfmt_pairs(&line), slow_logfmt(&line));
        }

        #[test]
        fn cef_extension_agrees_with_its_slow_twin(ext in r"[a-z0-9=\\ .é\[\]]{0,40}") {
            prop_assert_eq!(cef_extension(&ext), slow_extension(&ext));
        }

        #[test]
        fn kv_presets_never_panic_and_keep_unmatched_lines_whole(line in "\\PC{0,80}") {
            let mut out = ParsedHeader::new();
            for p in [Preset::Logfmt, Preset::Cef] {
                let h = HeaderParser::preset(p, None);
                if !h.parse(&line, &mut out) {
                    prop_assert_eq!(&out.content, &line);
                }
            }
        }

        #[test]
        fn cef_headers_with_escapes_round_trip(fields in proptest::collection::vec("[a-z|\\\\ ]{0,6}", 7)) {
            let esc: Vec<String> = fields.iter().map(|f| f.replace('\\', "\\\\").replace('|', "\\|")).collect();
            let line = format!("CEF:{}|k=v", esc.join("|"));
            let (got, _, ext) = cef_parts(&line).unwrap();
            // The version field follows "CEF:" directly.
            prop_assert_eq!(got, fields);
            prop_assert_eq!(ext, vec![("k".to_string(), "v".to_string())]);
        }
    }
}
