//! Slow, obviously correct twins of the masker's shortcuts: each shortcut
//! must give what the plain rule gives, on property-generated tokens.
use super::*;
use crate::kind;
use proptest::prelude::*;

/// What the tokenizer once counted per byte, the slow way.
#[derive(Debug, PartialEq)]
struct Counted {
    all_digits: bool,
    colons: u32,
    dashes: u32,
    has_dot: bool,
    null_like: bool,
}

fn counted_slowly(t: &[u8]) -> Counted {
    let words = ["true", "false", "null", "root", "admin"];
    Counted {
        all_digits: t.iter().all(u8::is_ascii_digit),
        colons: t.iter().filter(|&&c| c == b':').count() as u32,
        dashes: t.iter().filter(|&&c| c == b'-').count() as u32,
        has_dot: t.contains(&b'.'),
        null_like: t
            .split(|c| !c.is_ascii_alphanumeric())
            .any(|w| words.iter().any(|x| x.as_bytes().eq_ignore_ascii_case(w))),
    }
}

/// The token's facts as the fast path derives them: classes OR-ed and
/// AND-ed in one pass, counts only where the class says the byte occurs.
fn counted_fast(t: &[u8]) -> Counted {
    let (mut any, mut all) = (0u16, u16::MAX);
    for &b in t {
        any |= CLASS[b as usize];
        all &= CLASS[b as usize];
    }
    Counted {
        all_digits: all & DG != 0,
        colons: if any & CO != 0 { count(t, b':') } else { 0 },
        dashes: if any & DA != 0 { count(t, b'-') } else { 0 },
        has_dot: any & DO != 0,
        null_like: has_null_word(t, all & AN != 0),
    }
}

/// IPv6 as first written: split and count, no one-pass rejection.
fn is_ipv6_slowly(s: &str) -> bool {
    let colons = s.bytes().filter(|&b| b == b':').count();
    if !(2..=7).contains(&colons) || s.len() < 3 || s.matches("::").count() > 1 {
        return false;
    }
    let compressed = s.contains("::");
    let mut ok_groups = 0;
    for (i, g) in s.split(':').enumerate() {
        if g.is_empty() {
            continue;
        }
        if i == colons && kind::is_ipv4(g) {
            ok_groups += 2;
            continue;
        }
        if !(1..=4).contains(&g.len()) || !g.bytes().all(|c| c.is_ascii_hexdigit()) {
            return false;
        }
        ok_groups += 1;
    }
    (compressed && ok_groups >= 1 && s.bytes().any(|b| b.is_ascii_digit())) || (!compressed && ok_groups == 8)
}

fn is_date_word_slowly(s: &str) -> bool {
    let words = [
        "mon",
        "tue",
        "wed",
        "thu",
        "fri",
        "sat",
        "sun",
        "jan",
        "feb",
        "mar",
        "apr",
        "may",
        "jun",
        "jul",
        "aug",
        "sep",
        "oct",
        "nov",
        "dec",
        "monday",
        "tuesday",
        "wednesday",
        "thursday",
        "friday",
        "saturday",
        "sunday",
        "january",
        "february",
        "march",
        "april",
        "june",
        "july",
        "august",
        "september",
        "october",
        "november",
        "december",
    ];
    words.iter().any(|w| s.eq_ignore_ascii_case(w))
}

fn token() -> impl Strategy<Value = String> {
    prop_oneof![
        r"[a-fA-F0-9:.\-_@/\\ntrueadmiox]{0,16}",
        r"[\x00-\x7f]{0,12}",
        r"[ -~é€]{0,10}",
        prop::sample::select(vec![
            "fe80::1",
            "::",
            ":::",
            "1::2::3",
            "::ffff:10.0.0.1",
            "2001:db8:0:0:0:0:2:1",
            "a:b:c",
            "Mon",
            "mONDAY",
            "Sept",
            "Ju",
            "june",
            "junE",
            "Ma\u{e9}",
            "TRUE",
            "x_null",
            "True",
            "fALSE",
            "NULL",
            "root",
            "Admin",
            "rOOt1",
            "root.",
            "-admin-",
            "falsey",
        ])
        .prop_map(str::to_string),
    ]
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(4000))]

    #[test]
    fn token_facts_match_the_per_byte_count(t in token()) {
        prop_assert_eq!(counted_fast(t.as_bytes()), counted_slowly(t.as_bytes()), "{:?}", t);
    }

    #[test]
    fn is_ipv6_matches_its_slow_twin(t in token()) {
        prop_assert_eq!(kind::is_ipv6(&t), is_ipv6_slowly(&t), "{:?}", t);
    }

    #[test]
    fn is_variable_piece_matches_its_slow_twin(t in token()) {
        let digits = t.bytes().filter(u8::is_ascii_digit).count();
        prop_assert_eq!(kind::is_variable_piece_with(t.as_bytes(), digits), is_variable_piece_slowly(&t), "{:?}", t);
        prop_assert_eq!(kind::is_variable_piece(&t), is_variable_piece_slowly(&t), "{:?}", t);
    }

    #[test]
    fn is_date_word_matches_its_slow_twin(t in token()) {
        prop_assert_eq!(kind::is_date_word(&t), is_date_word_slowly(&t), "{:?}", t);
    }

    /// A compound without digits or null words is one literal: the rules
    /// piece by piece give literals only, and so the same masked text.
    #[test]
    fn digitless_compounds_are_literal(c in r"[a-zA-Z_.\-é日]{1,20}") {
        prop_assume!(!has_null_word(c.as_bytes(), false));
        let mut slow = Vec::new();
        mask_pieces(&c, 0, c.len(), &mut slow);
        prop_assert!(slow.iter().all(|e| matches!(e, Elem::Lit(..))), "{:?} -> {:?}", c, slow);
        let mut fast = Vec::new();
        mask_compound(&c, 0, c.len(), &mut fast);
        prop_assert_eq!(fast.len(), 1);
    }
}

/// A dotted quad as first written: split, no length rejection.
fn is_ipv4_slowly(s: &str) -> bool {
    let groups: Vec<&str> = s.split('.').collect();
    groups.len() == 4
        && groups.iter().all(|g| {
            (1..=3).contains(&g.len())
                && g.bytes().all(|c| c.is_ascii_digit())
                && g.parse::<u16>().is_ok_and(|v| v <= 255)
        })
}

proptest! {
    #[test]
    fn is_ipv4_matches_its_slow_twin(t in r"[0-9.]{0,17}|([0-9]{1,4}\.){3}[0-9]{1,4}") {
        prop_assert_eq!(kind::is_ipv4(&t), is_ipv4_slowly(&t), "{:?}", t);
    }
}

/// A compound's piece as the rule reads: a boolean or null word, or digits
/// in something that is not a name (a name starts with a letter, has at
/// most three digits, no `_` before a digit and is not long hex).
fn is_variable_piece_slowly(p: &str) -> bool {
    let digits = p.chars().filter(char::is_ascii_digit).count();
    if digits == 0 {
        return ["true", "false", "null", "root", "admin"]
            .iter()
            .any(|w| p.eq_ignore_ascii_case(w));
    }
    let starts_like_a_name = p
        .chars()
        .next()
        .is_some_and(|c| c.is_ascii_alphabetic() || !c.is_ascii());
    let underscore_then_digit = p.match_indices('_').any(|(i, _)| {
        p[i + 1..]
            .trim_start_matches('-')
            .starts_with(|c: char| c.is_ascii_digit())
    });
    let long_hex = p.len() >= 8 && p.chars().all(|c| c.is_ascii_hexdigit());
    !starts_like_a_name || digits > 3 || underscore_then_digit || long_hex
}

/// One token masked by `mask_token` with the numeric fast path on or off
/// (off: the general rules): masked text, variable spans, token span.
fn mask_one(t: &str, numeric_fast_path: bool) -> (String, Vec<(u32, u32)>, (u32, u32)) {
    let (mut any, mut all) = (0u16, u16::MAX);
    for &b in t.as_bytes() {
        any |= CLASS[b as usize];
        all &= CLASS[b as usize];
    }
    let info = TokenInfo {
        class: any,
        all_digits: all & DG != 0,
        all_alnum: all & AN != 0,
        all_numeric: all & NU != 0,
        all,
        fast: numeric_fast_path,
    };
    let mut m = MaskedLine::default();
    mask_token(t, 0, t.len(), info, &mut m);
    let tok = m.tokens[0];
    (
        m.masked.clone(),
        m.vars.iter().map(|v| (v.start, v.end)).collect(),
        (tok.masked.start, tok.masked.end),
    )
}

/// Tokens whose parts between path delimiters are numeric segments (the
/// segment fast path), next to words, addresses and paths.
fn token_with_numeric_segments() -> impl Strategy<Value = String> {
    let part = prop_oneof![
        numeric_token(),
        r"[0-9.\-]{1,10}",
        r"[a-zA-Z_]{1,8}[0-9]{0,3}",
        r"[a-z]{1,5}[.\-][0-9a-z]{1,5}",
        prop::sample::select(vec![
            "/x/1", "http://h", "@h.org", "-", ".", "_", "v1.2", "null", "C:\\"
        ])
        .prop_map(str::to_string),
    ];
    let delim = r"[:,=|;!\[\](){}\x22']";
    (
        proptest::collection::vec(part, 1..5),
        proptest::collection::vec(delim, 5),
        r"[\[(\x22]?",
        r"[\])\x22.,]?",
    )
        .prop_map(|(parts, delims, open, close)| {
            let mut t = open;
            for (i, p) in parts.iter().enumerate() {
                if i > 0 {
                    t.push_str(&delims[i]);
                }
                t.push_str(p);
            }
            t.push_str(&close);
            t
        })
}

/// Digit groups joined by `: , - .`, the numeric fast path's tokens, with
/// the shapes its rules care about (UUIDs, MACs, IPv6, versions, dates).
fn numeric_token() -> impl Strategy<Value = String> {
    prop_oneof![
        r"[0-9:,.\-]{1,24}",
        r"[0-9]{1,4}([:,.\-][0-9]{1,4}){0,9}",
        r"[0-9]{1,3}(\.[0-9]{1,3}){3}(:[0-9]{1,5})?",
        r"[0-9]{2}([:\-][0-9]{2}){5,7}",
        r"[0-9]{4}-[0-9]{2}-[0-9]{2}([:\-.,][0-9]{1,3}){0,4}",
        r"[0-9]{8}-[0-9]{4}-[0-9]{4}-[0-9]{4}-[0-9]{12}",
        r"[0-9]{1,4}(::?[0-9]{1,4}){1,8}",
        r"[0-9]{1,2}:[0-9]{1,3}\.[0-9]{1,3}(-[0-9]{1,3})?",
        r"[0-9]{4}:[0-9]{2}:[0-9]{2}\.[0-7]",
        r"-?[0-9]{1,3}([.,][0-9]{1,3}){0,3}[.,:\-]?",
    ]
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(20_000))]

    /// The numeric fast path writes what the general rules write, or
    /// declines and leaves the token to them.
    #[test]
    fn numeric_tokens_mask_as_the_general_rules_do(t in numeric_token()) {
        prop_assert_eq!(mask_one(&t, true), mask_one(&t, false), "{:?}", t);
    }

    /// Any token: the fast paths (numeric tokens and segments, segments
    /// and compounds taken from the tokenizer's classes) change nothing.
    #[test]
    fn any_token_masks_as_the_general_rules_do(t in token()) {
        // One token: no whitespace, not empty.
        let mut t: String = t.chars().filter(|&c| !c.is_ascii() || CLASS[c as usize] & SP == 0).collect();
        if t.is_empty() {
            t.push('x');
        }
        prop_assert_eq!(mask_one(&t, true), mask_one(&t, false), "{:?}", t);
    }

    /// The segment fast path pushes what `mask_segment` pushes.
    #[test]
    fn numeric_segments_mask_as_the_general_rules_do(t in token_with_numeric_segments()) {
        prop_assert_eq!(mask_one(&t, true), mask_one(&t, false), "{:?}", t);
    }
}

#[test]
fn numeric_tokens_of_every_kind_mask_as_the_general_rules_do() {
    for t in [
        "17:42:56",
        "2017-05-16",
        "10.0.0.1:80",
        "88:55:76,229",
        "0.25",
        "5935-38-51-67.33.88.738245",
        "00:1a:2b",
        "12:34:56:78:90:12",
        "12-34-56-78-90-12",
        "12345678-1234-1234-1234-123456789012",
        "1:2:3:4:5:6:7:8",
        "1::2",
        "0000:00:12.3",
        "1:2.3-4",
        "1.2.3-4-5",
        "1-2.3",
        "1,024",
        "1-",
        "-1",
        "1..2",
        "1.-2",
        "7",
        "totalCalories=472439",
        "ftpd[23146]:",
        "67769927-30:80:49:684|Step_LSC|82827700|onStandStepChanged",
        "[LeaseRenewer:msrabi@msra-sa-26:7962]",
        "x=1-2-3",
        "x=1.2-3",
        "x=-1",
        "x=1-",
        "(1.2.3.4)",
        "a:1.5:b",
        "http://h:80/1.2",
    ] {
        assert_eq!(mask_one(t, true), mask_one(t, false), "{t:?}");
    }
}
