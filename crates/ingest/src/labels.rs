//! Prometheus label-set strings, as Loki's protobuf push carries them: `{job="x", app="y\"q"}`.
//!
//! The grammar accepted: optional whitespace around everything, `{`, zero or more
//! `name="value"` pairs separated by `,` (a trailing comma is allowed), `}`, nothing after.
//! Names match `[a-zA-Z_][a-zA-Z0-9_]*`; values are double-quoted Go strings with the escapes
//! `\\ \" \' \n \r \t \a \b \f \v \xHH \ooo \uHHHH \UHHHHHHHH`; the decoded value must be
//! UTF-8. Duplicate names are an error, as in Loki.

use crate::{IngestError, Result};

/// Parses a label-set string into `(name, value)` pairs in their written order.
pub fn parse_labels(s: &str) -> Result<Vec<(String, String)>> {
    let mut p = P {
        b: s.as_bytes(),
        i: 0,
        src: s,
    };
    let mut out: Vec<(String, String)> = Vec::new();
    p.ws();
    p.expect(b'{', "expected '{'")?;
    loop {
        p.ws();
        if p.peek() == Some(b'}') {
            p.i += 1;
            break;
        }
        let name_at = p.i;
        let name = p.name()?;
        p.ws();
        p.expect(b'=', "expected '=' after the label name")?;
        p.ws();
        let value = p.value()?;
        if out.iter().any(|(n, _)| n == name) {
            return Err(p.err_at(name_at, format!("duplicate label name \"{}\"", crate::clip(name))));
        }
        out.push((name.to_string(), value));
        p.ws();
        match p.peek() {
            Some(b',') => p.i += 1,
            Some(b'}') => {}
            _ => return Err(p.err("expected ',' or '}' after a label value")),
        }
    }
    p.ws();
    if p.i != p.b.len() {
        return Err(p.err("unexpected bytes after '}'"));
    }
    Ok(out)
}

/// Writes labels as a label-set string that [`parse_labels`] reads back unchanged (names are
/// written as given; values escape `\`, `"` and control characters).
pub fn format_labels(labels: &[(String, String)]) -> String {
    let mut s = String::from("{");
    for (k, (n, v)) in labels.iter().enumerate() {
        if k > 0 {
            s.push_str(", ");
        }
        s.push_str(n);
        s.push_str("=\"");
        for c in v.chars() {
            match c {
                '\\' => s.push_str("\\\\"),
                '"' => s.push_str("\\\""),
                '\n' => s.push_str("\\n"),
                '\r' => s.push_str("\\r"),
                '\t' => s.push_str("\\t"),
                c if c.is_control() => s.push_str(&format!("\\u{:04x}", u32::from(c))),
                c => s.push(c),
            }
        }
        s.push('"');
    }
    s.push('}');
    s
}

struct P<'a> {
    b: &'a [u8],
    i: usize,
    src: &'a str,
}

impl<'a> P<'a> {
    fn peek(&self) -> Option<u8> {
        self.b.get(self.i).copied()
    }
    fn ws(&mut self) {
        while matches!(self.peek(), Some(b' ' | b'\t' | b'\n' | b'\r')) {
            self.i += 1;
        }
    }
    fn err_at(&self, offset: usize, reason: impl Into<String>) -> IngestError {
        IngestError::Labels {
            offset,
            reason: reason.into(),
            input: crate::clip(self.src),
        }
    }
    fn err(&self, reason: &str) -> IngestError {
        let reason = match self.peek() {
            None => format!("{reason}, found the end"),
            Some(_) => reason.to_string(),
        };
        self.err_at(self.i, reason)
    }
    fn expect(&mut self, c: u8, reason: &str) -> Result<()> {
        if self.peek() == Some(c) {
            self.i += 1;
            Ok(())
        } else {
            Err(self.err(reason))
        }
    }
    fn name(&mut self) -> Result<&'a str> {
        let start = self.i;
        match self.peek() {
            Some(c) if c.is_ascii_alphabetic() || c == b'_' => self.i += 1,
            _ => return Err(self.err("expected a label name ([a-zA-Z_][a-zA-Z0-9_]*)")),
        }
        while matches!(self.peek(), Some(c) if c.is_ascii_alphanumeric() || c == b'_') {
            self.i += 1;
        }
        // ASCII only, so slicing the str here is on char boundaries.
        Ok(self.src.get(start..self.i).unwrap_or(""))
    }
    fn hex(&mut self, n: usize) -> Result<u32> {
        let mut v = 0u32;
        for _ in 0..n {
            let d = self
                .peek()
                .and_then(|c| (c as char).to_digit(16))
                .ok_or_else(|| self.err_at(self.i, format!("expected {n} hex digits in the escape")))?;
            v = v * 16 + d;
            self.i += 1;
        }
        Ok(v)
    }
    fn value(&mut self) -> Result<String> {
        let quote_at = self.i;
        self.expect(b'"', "expected '\"' to open the label value")?;
        let mut out: Vec<u8> = Vec::new();
        loop {
            let Some(c) = self.peek() else {
                return Err(self.err_at(quote_at, "label value is not closed by '\"'"));
            };
            let at = self.i;
            self.i += 1;
            match c {
                b'"' => break,
                b'\n' => return Err(self.err_at(at, "newline inside a label value (write it as \\n)")),
                b'\\' => {
                    let Some(e) = self.peek() else {
                        return Err(self.err_at(at, "label value ends inside an escape"));
                    };
                    self.i += 1;
                    match e {
                        b'\\' | b'"' | b'\'' => out.push(e),
                        b'n' => out.push(b'\n'),
                        b'r' => out.push(b'\r'),
                        b't' => out.push(b'\t'),
                        b'a' => out.push(7),
                        b'b' => out.push(8),
                        b'f' => out.push(12),
                        b'v' => out.push(11),
                        b'x' => out.push(self.hex(2)? as u8),
                        b'0'..=b'7' => {
                            let mut v = u32::from(e - b'0');
                            for _ in 0..2 {
                                match self.peek() {
                                    Some(d @ b'0'..=b'7') => {
                                        v = v * 8 + u32::from(d - b'0');
                                        self.i += 1;
                                    }
                                    _ => return Err(self.err_at(at, "octal escape needs 3 digits")),
                                }
                            }
                            let v =
                                u8::try_from(v).map_err(|_| self.err_at(at, "octal escape above \\377"))?;
                            out.push(v);
                        }
                        b'u' | b'U' => {
                            let v = self.hex(if e == b'u' { 4 } else { 8 })?;
                            let ch = char::from_u32(v).ok_or_else(|| {
                                self.err_at(at, format!("escape \\u{v:x} is not a Unicode scalar value"))
                            })?;
                            let mut buf = [0u8; 4];
                            out.extend_from_slice(ch.encode_utf8(&mut buf).as_bytes());
                        }
                        _ => return Err(self.err_at(at, format!("unknown escape '\\{}'", e.escape_ascii()))),
                    }
                }
                c => out.push(c),
            }
        }
        String::from_utf8(out).map_err(|e| {
            self.err_at(
                quote_at,
                format!(
                    "label value is not UTF-8 after unescaping (byte {} of the value)",
                    e.utf8_error().valid_up_to()
                ),
            )
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn l(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
        pairs
            .iter()
            .map(|(a, b)| (a.to_string(), b.to_string()))
            .collect()
    }

    #[test]
    fn parses_loki_style_sets() {
        assert_eq!(parse_labels("{}").unwrap(), l(&[]));
        assert_eq!(
            parse_labels(r#"{job="x", app="y\"q"}"#).unwrap(),
            l(&[("job", "x"), ("app", "y\"q")])
        );
        assert_eq!(
            parse_labels(" { a = \"1\" ,b=\"\\\\\\n\\t\\u00e9\\x41\\101\",} ").unwrap(),
            l(&[("a", "1"), ("b", "\\\n\téAA")])
        );
        assert_eq!(parse_labels(r#"{a="é日本"}"#).unwrap(), l(&[("a", "é日本")]));
    }

    #[test]
    fn errors_say_where() {
        let e = |s: &str| parse_labels(s).unwrap_err().to_string();
        assert_eq!(
            e(r#"job="x""#),
            "bad label set at byte 0: expected '{' in \"job=\\\"x\\\"\""
        );
        assert!(e(r#"{job="x"#).starts_with("bad label set at byte 5: label value is not closed"));
        assert!(e(r#"{job="x" app="y"}"#).starts_with("bad label set at byte 9: expected ',' or '}'"));
        assert!(e(r#"{1a="x"}"#).starts_with("bad label set at byte 1: expected a label name"));
        assert!(e(r#"{a="\q"}"#).starts_with("bad label set at byte 4: unknown escape '\\q'"));
        assert!(e(r#"{a="1", a="2"}"#).starts_with("bad label set at byte 8: duplicate label name \"a\""));
        assert!(e(r#"{a="1"} x"#).starts_with("bad label set at byte 8: unexpected bytes after '}'"));
        assert!(e(r#"{a="\xff"}"#).contains("not UTF-8"));
        assert!(e("{").contains("found the end"));
    }

    proptest! {
        #[test]
        fn round_trip(pairs in proptest::collection::btree_map("[a-zA-Z_][a-zA-Z0-9_]{0,8}", any::<String>(), 0..6)) {
            let labels: Vec<(String, String)> = pairs.into_iter().collect();
            let s = format_labels(&labels);
            prop_assert_eq!(parse_labels(&s).unwrap(), labels);
        }

        #[test]
        fn never_panics(s in any::<String>()) {
            let _ = parse_labels(&s);
        }

        #[test]
        fn never_panics_near_valid(s in r#"[{}=",a-z\\ xu0-9"]{0,30}"#) {
            let _ = parse_labels(&s);
        }
    }
}
