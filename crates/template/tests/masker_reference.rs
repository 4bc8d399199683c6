//! Today's masker against the reference masker of `tests/reference/` (the
//! masker before the speed work of issue #11, kept as its slow twin): the
//! same tokens, masked text, variable spans, key and variable kinds, on
//! every line of the bundled logs and on random token soups (numbers,
//! addresses, paths, URLs, versions, dates, hosts and words glued by
//! punctuation).

#[allow(dead_code, clippy::all)]
#[path = "reference/kind.rs"]
mod kind;
#[allow(dead_code, clippy::all)]
#[path = "reference/mask.rs"]
mod mask;

use proptest::prelude::*;

/// Everything a masker (its `MaskedLine` type, `mask_line` and
/// `var_kinds`) says about `line`, as one comparable string.
macro_rules! describe {
    ($line:expr, $MaskedLine:ty, $mask_line:path, $var_kinds:path) => {{
        let mut m = <$MaskedLine>::default();
        describe!(with $line, &mut m, $mask_line, $var_kinds)
    }};
    (with $line:expr, $m:expr, $mask_line:path, $var_kinds:path) => {{
        let line: &str = $line;
        let m = $m;
        $mask_line(line, m);
        let toks: Vec<_> = m
            .tokens
            .iter()
            .map(|t| {
                (
                    t.raw.start,
                    t.raw.end,
                    t.masked.start,
                    t.masked.end,
                    t.vars_start,
                    t.vars_end,
                )
            })
            .collect();
        let vars: Vec<_> = m.vars.iter().map(|v| (v.start, v.end)).collect();
        let kinds: Vec<String> = $var_kinds(line, &m).map(|k| k.name().to_string()).collect();
        format!("{:?}|{toks:?}|{vars:?}|{:x}|{kinds:?}", m.masked, m.key)
    }};
}

/// What today's masker says about `line`.
fn fast(line: &str) -> String {
    describe!(
        line,
        logsieve_template::MaskedLine,
        logsieve_template::mask_line,
        logsieve_template::var_kinds
    )
}

/// What today's masker says about `line` with `m`, a line kept from the
/// lines before (its token memo holding what they left).
fn fast_with(line: &str, m: &mut logsieve_template::MaskedLine) -> String {
    describe!(with line, m, logsieve_template::mask_line, logsieve_template::var_kinds)
}

/// The same from the reference masker.
fn slow(line: &str) -> String {
    describe!(line, mask::MaskedLine, mask::mask_line, mask::var_kinds)
}

#[test]
fn the_masker_equals_its_reference_on_every_bundled_line() {
    let lines = bundled_lines();
    assert!(lines.len() > 14_000, "only {} lines read", lines.len());
    for line in &lines {
        assert_eq!(fast(line), slow(line), "{line:?}");
    }
}

/// The bundled lines, in file order.
fn bundled_lines() -> Vec<String> {
    let root = concat!(env!("CARGO_MANIFEST_DIR"), "/../../testdata");
    let mut lines = Vec::new();
    for dir in ["loghub-2k", "machine-logs"] {
        let mut files: Vec<_> = std::fs::read_dir(format!("{root}/{dir}"))
            .unwrap()
            .map(|e| e.unwrap().path())
            .filter(|d| d.is_dir())
            .flat_map(|d| std::fs::read_dir(d).unwrap().map(|f| f.unwrap().path()))
            .filter(|p| p.extension().is_some_and(|x| x == "log"))
            .collect();
        files.sort();
        for p in files {
            lines.extend(std::fs::read_to_string(&p).unwrap().lines().map(str::to_string));
        }
    }
    lines
}

/// The token memo (tokens seen before replayed, not masked again) changes
/// nothing: one masked line kept over every bundled line, each masked three
/// times (marked, kept, replayed), says what the reference says; with the
/// default table and with 16 slots, where tokens keep pushing each other
/// out and hashes share slots.
#[test]
fn the_masker_with_its_token_memo_equals_its_reference_on_every_bundled_line() {
    let lines = bundled_lines();
    assert!(lines.len() > 14_000, "only {} lines read", lines.len());
    let reference: Vec<String> = lines.iter().map(|l| slow(l)).collect();
    for slots in [4096, 16] {
        let mut m = logsieve_template::MaskedLine::with_token_memo(slots);
        for (line, want) in lines.iter().zip(&reference) {
            for round in 0..3 {
                assert_eq!(
                    &fast_with(line, &mut m),
                    want,
                    "{slots} slots, round {round}: {line:?}"
                );
            }
        }
        // Again in the other order, over what the first pass left.
        for (line, want) in lines.iter().zip(&reference).rev() {
            assert_eq!(
                &fast_with(line, &mut m),
                want,
                "{slots} slots, reversed: {line:?}"
            );
        }
    }
}

/// One piece of a token: the values and words logs are made of.
fn piece() -> impl Strategy<Value = String> {
    prop_oneof![
        "[a-zA-Z]{1,8}",
        "[a-z]{1,5}[0-9]{1,3}",
        "[0-9]{1,12}",
        "-[0-9]{1,6}",
        "[0-9]{1,4}\\.[0-9]{1,4}",
        "0x[0-9a-fA-F]{1,16}",
        "[0-9a-f]{6,32}",
        "(true|false|null|root|admin|NULL|True|none|nil)",
        "([0-9]{1,3}\\.){3}[0-9]{1,3}(:[0-9]{1,5})?",
        "(fe80::[0-9a-f]{1,4}|::1|2001:db8::[0-9a-f]{1,4}:[0-9a-f]{1,4}|[0-9a-f]{1,4}(:[0-9a-f]{1,4}){7})",
        "(/[a-z0-9_.]{1,6}){1,4}",
        "[A-Z]:\\\\[A-Za-z]{1,6}\\\\[a-z]{1,5}\\.(dll|exe)",
        "https?://[a-z]{1,6}\\.(com|org|io)(:[0-9]{2,4})?(/[a-z0-9]{1,5}){0,3}(\\?[a-z]=[0-9]{1,3})?",
        "[a-z]{1,6}@[a-z]{1,6}\\.(com|net)",
        "[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}",
        "20[0-9]{2}-[01][0-9]-[0-3][0-9](T[0-2][0-9]:[0-5][0-9]:[0-5][0-9](\\.[0-9]{1,6})?Z?)?",
        "[0-2][0-9]:[0-5][0-9]:[0-5][0-9](,[0-9]{3})?",
        "(Jan|Jun|Mon|Sat|Dec|Tue)",
        "[a-z]{2,6}-[0-9]{1,2}\\.[a-z]{3,7}\\.(org|com|net)(:[0-9]{2,5})?",
        "[0-9]{1,3}\\.[0-9]{1,3}(-[0-9]{1,2})?(\\+deb[0-9]{2}u[0-9]{1,2})?(~[a-z0-9]{1,4})?",
        "([0-9a-f]{2}:){3,6}[0-9a-f]{2}",
        "[0-9]{1,4}(ms|KB|MB|s|%)",
        "blk_-?[0-9]{5,12}",
        "[é日ü]{1,3}[a-z0-9]{0,3}",
        "[\\x00-\\x7f]{1,6}",
    ]
}

/// Glue between pieces of one token.
fn glue() -> impl Strategy<Value = String> {
    prop_oneof![
        Just(String::new()),
        "[.:\\-_=/,;()\\[\\]{}<>*~@#$%&'\"!|+\\\\]{1,2}",
    ]
}

/// A token: one to four pieces glued by punctuation, sometimes wrapped.
fn token() -> impl Strategy<Value = String> {
    (
        prop::collection::vec((piece(), glue()), 1..4),
        "[\\[(\"']?",
        "[\\])\"',.:;]?",
    )
        .prop_map(|(parts, open, close)| {
            let mut t = open;
            for (p, g) in parts {
                t.push_str(&p);
                t.push_str(&g);
            }
            t.push_str(&close);
            t
        })
}

/// A line: tokens separated by spaces or tabs.
fn line() -> impl Strategy<Value = String> {
    prop::collection::vec((token(), prop_oneof![Just(" "), Just("  "), Just("\t")]), 0..14).prop_map(|v| {
        v.into_iter().fold(String::new(), |mut l, (t, sep)| {
            l.push_str(&t);
            l.push_str(sep);
            l
        })
    })
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(3000))]

    #[test]
    fn the_masker_equals_its_reference_on_random_token_soups(l in line()) {
        prop_assert_eq!(fast(&l), slow(&l), "line {:?}", l);
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(500))]

    /// Lines made of a few tokens in any order and with any neighbours,
    /// through one masked line with a small token memo: what a token
    /// replays never depends on the line it first came in.
    #[test]
    fn the_token_memo_changes_nothing_on_token_soups(
        pool in prop::collection::vec(token(), 1..12),
        picks in prop::collection::vec(prop::collection::vec(any::<prop::sample::Index>(), 1..10), 1..30),
        slots in prop_oneof![Just(1usize), Just(8), Just(4096)],
    ) {
        let mut m = logsieve_template::MaskedLine::with_token_memo(slots);
        for pick in &picks {
            let l = pick.iter().map(|i| i.get(&pool).as_str()).collect::<Vec<_>>().join(" ");
            prop_assert_eq!(fast_with(&l, &mut m), slow(&l), "line {:?}", l);
        }
    }
}
