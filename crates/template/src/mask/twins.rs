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

/// A compound's piece as first written: a variable when it holds digits
/// and does not read as a name, or when it is a boolean or null word.
fn is_variable_piece_slowly(p: &str) -> bool {
    let b = p.as_bytes();
    let digits = b.iter().filter(|c| c.is_ascii_digit()).count();
    if digits == 0 {
        return ["true", "false", "null", "root", "admin"]
            .iter()
            .any(|w| p.eq_ignore_ascii_case(w));
    }
    let starts_alpha = b[0].is_ascii_alphabetic() || b[0] >= 0x80;
    if !starts_alpha || digits > 3 {
        return true;
    }
    let underscore_digit = b.iter().enumerate().any(|(i, &c)| {
        c == b'_'
            && b[i + 1..]
                .iter()
                .find(|&&n| n != b'-')
                .is_some_and(|n| n.is_ascii_digit())
    });
    let long_hex = b.len() >= 8 && b.iter().all(|c| c.is_ascii_hexdigit());
    underscore_digit || long_hex
}
