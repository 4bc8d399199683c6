//! Value matchers: one Sigma value with its modifiers, compiled once.

use crate::event::FieldValue;
use base64::Engine as _;
use std::net::IpAddr;

/// A string pattern after wildcards and `contains`/`startswith`/`endswith`.
#[derive(Debug, Clone)]
pub enum StrPat {
    /// Whole value equals.
    Exact(String),
    /// Value starts with.
    Prefix(String),
    /// Value ends with.
    Suffix(String),
    /// Value contains.
    Contains(String),
    /// General wildcard pattern.
    Glob(Vec<GlobTok>),
}

/// One token of a wildcard pattern.
#[derive(Debug, Clone, PartialEq)]
pub enum GlobTok {
    /// Literal text.
    Lit(String),
    /// `*`: any run of characters.
    Star,
    /// `?`: one character.
    One,
}

/// Numeric comparison.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum CmpOp {
    /// `lt`.
    Lt,
    /// `lte`.
    Lte,
    /// `gt`.
    Gt,
    /// `gte`.
    Gte,
}

/// How a `fieldref` compares.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum RefMode {
    /// Equal.
    Equal,
    /// Contains.
    Contains,
    /// Starts with.
    Prefix,
    /// Ends with.
    Suffix,
}

/// One compiled value.
#[derive(Debug, Clone)]
pub enum Matcher {
    /// A string pattern; `cased` makes it case-sensitive.
    Str {
        /// The pattern (lowercase unless cased).
        pat: StrPat,
        /// Case-sensitive.
        cased: bool,
    },
    /// A regular expression.
    Re(regex::Regex),
    /// An IP network.
    Cidr(ipnet::IpNet),
    /// A numeric comparison.
    Num(CmpOp, f64),
    /// Field presence.
    Exists(bool),
    /// Field absent or null.
    Null,
    /// Compare with another field (candidate paths).
    FieldRef {
        /// Candidate paths of the other field.
        paths: Vec<String>,
        /// Comparison.
        mode: RefMode,
        /// Case-sensitive.
        cased: bool,
    },
}

/// Parses a Sigma value with wildcards into glob tokens. `\*`, `\?` and
/// `\\` are escapes; any other backslash is literal.
pub fn parse_wildcards(s: &str) -> Vec<GlobTok> {
    let mut out = Vec::new();
    let mut lit = String::new();
    let mut chars = s.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '\\' => match chars.peek() {
                Some(&n) if n == '*' || n == '?' || n == '\\' => {
                    lit.push(n);
                    chars.next();
                }
                _ => lit.push('\\'),
            },
            '*' | '?' => {
                if !lit.is_empty() {
                    out.push(GlobTok::Lit(std::mem::take(&mut lit)));
                }
                let t = if c == '*' { GlobTok::Star } else { GlobTok::One };
                if !(t == GlobTok::Star && out.last() == Some(&GlobTok::Star)) {
                    out.push(t);
                }
            }
            _ => lit.push(c),
        }
    }
    if !lit.is_empty() {
        out.push(GlobTok::Lit(lit));
    }
    out
}

/// Simplifies a glob to the cheapest equivalent pattern.
pub fn compile_glob(mut toks: Vec<GlobTok>, cased: bool) -> StrPat {
    if !cased {
        for t in &mut toks {
            if let GlobTok::Lit(s) = t {
                *s = s.to_lowercase();
            }
        }
    }
    let lits = |ts: &[GlobTok]| ts.iter().all(|t| matches!(t, GlobTok::Lit(_)));
    let join = |ts: &[GlobTok]| -> String {
        ts.iter()
            .map(|t| if let GlobTok::Lit(s) = t { s.as_str() } else { "" })
            .collect()
    };
    let n = toks.len();
    let star_first = toks.first() == Some(&GlobTok::Star);
    let star_last = n > 1 && toks.last() == Some(&GlobTok::Star);
    match (star_first, star_last) {
        (false, false) if lits(&toks) => StrPat::Exact(join(&toks)),
        (true, true) if lits(&toks[1..n - 1]) => StrPat::Contains(join(&toks[1..n - 1])),
        (false, true) if lits(&toks[..n - 1]) => StrPat::Prefix(join(&toks[..n - 1])),
        (true, false) if lits(&toks[1..]) => StrPat::Suffix(join(&toks[1..])),
        _ => StrPat::Glob(toks),
    }
}

/// [`glob_match`] for patterns of literals and `*` alone (`None` for any
/// other): a leading literal is a prefix, a trailing one a suffix, and
/// those between stars are found leftmost, in order.
fn glob_stars(toks: &[GlobTok], s: &str) -> Option<bool> {
    fn lit(t: &GlobTok) -> Option<&str> {
        match t {
            GlobTok::Lit(l) => Some(l.as_str()),
            _ => None,
        }
    }
    if toks.contains(&GlobTok::One) {
        return None;
    }
    let (mut toks, mut rest) = (toks, s);
    if let Some(l) = toks.first().and_then(lit) {
        match rest.strip_prefix(l) {
            Some(r) => rest = r,
            None => return Some(false),
        }
        toks = &toks[1..];
        if toks.is_empty() {
            return Some(rest.is_empty());
        }
    }
    if toks.first() != Some(&GlobTok::Star) {
        return None;
    }
    if let Some(l) = toks.last().and_then(lit) {
        match rest.strip_suffix(l) {
            Some(r) => rest = r,
            None => return Some(false),
        }
        toks = &toks[..toks.len() - 1];
    }
    for l in toks.iter().filter_map(lit) {
        match rest.find(l) {
            Some(i) => rest = &rest[i + l.len()..],
            None => return Some(false),
        }
    }
    Some(true)
}

fn glob_match(toks: &[GlobTok], s: &str) -> bool {
    match toks.first() {
        None => s.is_empty(),
        Some(GlobTok::Lit(l)) => s
            .strip_prefix(l.as_str())
            .is_some_and(|r| glob_match(&toks[1..], r)),
        Some(GlobTok::One) => {
            let mut c = s.chars();
            c.next().is_some() && glob_match(&toks[1..], c.as_str())
        }
        Some(GlobTok::Star) => {
            if toks.len() == 1 {
                return true;
            }
            match toks.get(1) {
                // What follows the star starts with a literal: only where
                // it occurs can the rest match (found, not tried at every
                // character).
                Some(GlobTok::Lit(l)) if !l.is_empty() => {
                    let mut from = 0;
                    while let Some(i) = s[from..].find(l.as_str()) {
                        let at = from + i;
                        if glob_match(&toks[2..], &s[at + l.len()..]) {
                            return true;
                        }
                        from = at + s[at..].chars().next().map_or(1, char::len_utf8);
                    }
                    return false;
                }
                _ => {}
            }
            let mut rest = s;
            loop {
                if glob_match(&toks[1..], rest) {
                    return true;
                }
                let mut c = rest.chars();
                if c.next().is_none() {
                    return false;
                }
                rest = c.as_str();
            }
        }
    }
}

impl StrPat {
    /// Whether `s` (already lowercased when the pattern is not cased) matches.
    pub fn matches(&self, s: &str) -> bool {
        match self {
            StrPat::Exact(p) => s == p,
            StrPat::Prefix(p) => s.starts_with(p.as_str()),
            StrPat::Suffix(p) => s.ends_with(p.as_str()),
            StrPat::Contains(p) => s.contains(p.as_str()),
            StrPat::Glob(t) => glob_stars(t, s).unwrap_or_else(|| glob_match(t, s)),
        }
    }

    /// The longest literal every match must contain (for the prefilter).
    pub fn needle(&self) -> Option<&str> {
        let n = match self {
            StrPat::Exact(p) | StrPat::Prefix(p) | StrPat::Suffix(p) | StrPat::Contains(p) => {
                Some(p.as_str())
            }
            StrPat::Glob(t) => t
                .iter()
                .filter_map(|t| {
                    if let GlobTok::Lit(s) = t {
                        Some(s.as_str())
                    } else {
                        None
                    }
                })
                .max_by_key(|s| s.len()),
        };
        n.filter(|s| !s.is_empty())
    }
}

/// Lowercases only when needed.
pub fn lower(s: &str) -> std::borrow::Cow<'_, str> {
    if s.bytes().any(|b| b.is_ascii_uppercase()) || !s.is_ascii() {
        std::borrow::Cow::Owned(s.to_lowercase())
    } else {
        std::borrow::Cow::Borrowed(s)
    }
}

impl Matcher {
    /// Whether the matcher accepts a field value (`None`: field absent).
    /// `get` resolves other fields for `fieldref`.
    pub fn matches(&self, v: Option<&FieldValue<'_>>, get: &dyn Fn(&[String]) -> Option<String>) -> bool {
        match self {
            Matcher::Exists(want) => v.is_some_and(|v| !matches!(v, FieldValue::Null)) == *want,
            Matcher::Null => v.is_none_or(|v| matches!(v, FieldValue::Null)),
            _ => match v {
                None | Some(FieldValue::Null) => false,
                Some(FieldValue::List(items)) => items.iter().any(|i| self.matches(Some(i), get)),
                Some(v) => self.matches_scalar(v, get),
            },
        }
    }

    fn matches_scalar(&self, v: &FieldValue<'_>, get: &dyn Fn(&[String]) -> Option<String>) -> bool {
        match self {
            Matcher::Str { pat, cased } => {
                let Some(t) = v.as_text() else { return false };
                if *cased {
                    pat.matches(&t)
                } else {
                    pat.matches(&lower(&t))
                }
            }
            Matcher::Re(re) => v.as_text().is_some_and(|t| re.is_match(&t)),
            Matcher::Cidr(net) => v
                .as_text()
                .and_then(|t| t.trim().parse::<IpAddr>().ok())
                .is_some_and(|ip| net.contains(&ip)),
            Matcher::Num(op, x) => v.as_num().is_some_and(|n| match op {
                CmpOp::Lt => n < *x,
                CmpOp::Lte => n <= *x,
                CmpOp::Gt => n > *x,
                CmpOp::Gte => n >= *x,
            }),
            Matcher::FieldRef { paths, mode, cased } => {
                let (Some(t), Some(other)) = (v.as_text(), get(paths)) else {
                    return false;
                };
                let (a, b) = if *cased {
                    (t.to_string(), other)
                } else {
                    (t.to_lowercase(), other.to_lowercase())
                };
                match mode {
                    RefMode::Equal => a == b,
                    RefMode::Contains => a.contains(&b),
                    RefMode::Prefix => a.starts_with(&b),
                    RefMode::Suffix => a.ends_with(&b),
                }
            }
            Matcher::Exists(_) | Matcher::Null => unreachable!("handled in matches"),
        }
    }

    /// The literal every match must contain, lowercased, for the prefilter.
    pub fn needle(&self) -> Option<String> {
        match self {
            Matcher::Str { pat, .. } => pat.needle().map(|s| s.to_lowercase()),
            _ => None,
        }
    }
}

/// Encodes text as UTF-16 bytes.
pub fn utf16(s: &[u8], big_endian: bool) -> Vec<u8> {
    let text = String::from_utf8_lossy(s);
    text.encode_utf16()
        .flat_map(|u| {
            if big_endian {
                u.to_be_bytes()
            } else {
                u.to_le_bytes()
            }
        })
        .collect()
}

/// Plain base64.
pub fn b64(s: &[u8]) -> String {
    base64::engine::general_purpose::STANDARD.encode(s)
}

/// The three base64 forms of `s` at byte offsets 0, 1 and 2 inside a larger
/// encoded string, trimmed to the characters that do not depend on the
/// unknown neighbours (Sigma's `base64offset`).
pub fn b64_offsets(s: &[u8]) -> Vec<String> {
    // pySigma's slices: start (0, 2, 3), end (None, -3, -2) indexed by
    // (len + offset) % 3, on the padded encoding.
    let start = [0usize, 2, 3];
    let end_trim = [0usize, 3, 2];
    (0..3)
        .map(|i| {
            let mut buf = vec![b' '; i];
            buf.extend_from_slice(s);
            let enc = b64(&buf);
            let e = enc.len().saturating_sub(end_trim[(s.len() + i) % 3]);
            enc[start[i].min(e)..e].to_string()
        })
        .collect()
}

/// `windash`: the value plus variants with every `-` replaced by `/`, en
/// dash, em dash and horizontal bar.
pub fn windash(s: &str) -> Vec<String> {
    let mut v = vec![s.to_string()];
    if s.contains('-') {
        for r in ["/", "\u{2013}", "\u{2014}", "\u{2015}"] {
            v.push(s.replace('-', r));
        }
    }
    v
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pat(s: &str) -> StrPat {
        compile_glob(parse_wildcards(s), false)
    }

    #[test]
    fn wildcards_and_escapes() {
        assert!(matches!(pat("abc"), StrPat::Exact(_)));
        assert!(matches!(pat("*abc*"), StrPat::Contains(_)));
        assert!(matches!(pat("abc*"), StrPat::Prefix(_)));
        assert!(matches!(pat("*abc"), StrPat::Suffix(_)));
        assert!(pat("a?c").matches("abc"));
        assert!(!pat("a?c").matches("ac"));
        assert!(pat("a*c*e").matches("abxcde"));
        assert!(pat("a\\*c").matches("a*c"));
        assert!(!pat("a\\*c").matches("abc"));
        // `\*` escapes the wildcard; `\\*` is a backslash then a wildcard.
        assert!(pat(r"c:\windows\*").matches(r"c:\windows*"));
        assert!(!pat(r"c:\windows\*").matches(r"c:\windows\x"));
        assert!(pat(r"c:\windows\\*").matches(r"c:\windows\x"));
        assert!(pat(r"c:\windows\system32").matches(r"c:\windows\system32"));
        assert!(pat("a\\\\b").matches("a\\b"));
    }

    proptest::proptest! {
        #![proptest_config(proptest::prelude::ProptestConfig::with_cases(5000))]

        /// The literal-and-star fast path agrees with the backtracking
        /// matcher.
        #[test]
        fn glob_fast_path_equals_backtracking(
            lits in proptest::collection::vec("[abé\\\\?]{0,3}", 0..4),
            lead in proptest::bool::ANY,
            trail in proptest::bool::ANY,
            text in "[abé\\\\]{0,10}",
        ) {
            let pat = format!("{}{}{}", if lead { "*" } else { "" }, lits.join("*"), if trail { "*" } else { "" });
            let toks = parse_wildcards(&pat);
            if let Some(fast) = glob_stars(&toks, &text) {
                proptest::prop_assert_eq!(fast, glob_match(&toks, &text), "{:?} on {:?}", toks, text);
            }
        }
    }

    /// The slow twin of [`glob_match`]: after a star, every character
    /// tried in turn.
    fn glob_match_slow(toks: &[GlobTok], s: &str) -> bool {
        match toks.first() {
            None => s.is_empty(),
            Some(GlobTok::Lit(l)) => s
                .strip_prefix(l.as_str())
                .is_some_and(|r| glob_match_slow(&toks[1..], r)),
            Some(GlobTok::One) => {
                let mut c = s.chars();
                c.next().is_some() && glob_match_slow(&toks[1..], c.as_str())
            }
            Some(GlobTok::Star) => {
                let mut rest = s;
                loop {
                    if glob_match_slow(&toks[1..], rest) {
                        return true;
                    }
                    let mut c = rest.chars();
                    if c.next().is_none() {
                        return false;
                    }
                    rest = c.as_str();
                }
            }
        }
    }

    proptest::proptest! {
        #![proptest_config(proptest::prelude::ProptestConfig::with_cases(5000))]

        /// Globs with `?` and `*` anywhere: the literal-finding matcher
        /// agrees with trying every character.
        #[test]
        fn glob_match_equals_the_slow_twin(
            pat in "[abé\\\\?*]{0,8}",
            text in "[abé\\\\]{0,12}",
        ) {
            let toks = parse_wildcards(&pat);
            proptest::prop_assert_eq!(glob_match(&toks, &text), glob_match_slow(&toks, &text), "{:?} on {:?}", toks, text);
        }
    }

    #[test]
    fn glob_fast_path_cases() {
        let toks = |p: &str| parse_wildcards(p);
        assert_eq!(glob_stars(&toks("ab*ba"), "aba"), Some(false));
        assert_eq!(glob_stars(&toks("ab*ba"), "abba"), Some(true));
        assert_eq!(glob_stars(&toks("*a*b*"), "xxaxxbxx"), Some(true));
        assert_eq!(glob_stars(&toks("*a*b"), "bba"), Some(false));
        assert_eq!(glob_stars(&toks("a?c"), "abc"), None);
    }

    #[test]
    fn base64_offsets_are_the_known_triplet() {
        // Sigma spec example for "/bin/bash" with base64offset|contains.
        assert_eq!(
            b64_offsets(b"/bin/bash"),
            ["L2Jpbi9iYXNo", "9iaW4vYmFza", "vYmluL2Jhc2"]
        );
    }

    #[test]
    fn windash_variants() {
        assert_eq!(windash("-enc").len(), 5);
        assert_eq!(windash("x")[0], "x");
    }
}
