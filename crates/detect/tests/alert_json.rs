//! `Alert::write_json` (the CLI's JSON lines) against its slow twin,
//! `serde_json` serializing the same alert through `Serialize`.

use logsieve_detect::{Alert, JsonPrefix};
use proptest::prelude::*;
use std::collections::BTreeMap;
use std::sync::Arc;

fn both(a: &Alert) -> (String, String) {
    let mut fast = Vec::new();
    a.write_json(&mut fast);
    (
        String::from_utf8(fast).expect("UTF-8"),
        serde_json::to_string(a).unwrap(),
    )
}

fn alert(text: &str) -> Alert {
    Alert {
        rule_id: text.into(),
        title: format!("t{text}").into(),
        level: "high".into(),
        line: 7,
        source: text.into(),
        timestamp: None,
        matched: BTreeMap::new(),
        correlation: None,
        group: None,
        lines: None,
    }
}

/// Every byte below 0x80 (each control character, `"`, `\`, DEL), alone
/// and between other characters, and characters of every UTF-8 length.
#[test]
fn every_ascii_byte_and_utf8_lengths_as_serde_json_writes_them() {
    let mut texts: Vec<String> = (0u8..0x80).map(|b| (b as char).to_string()).collect();
    texts.extend((0u8..0x80).map(|b| format!("ab{}cdefghij{}", b as char, b as char)));
    texts.extend(
        [
            "",
            "é",
            "€",
            "😀",
            "C:\\Windows\\System32\\cmd.exe \"/c\"\r\n\t",
            "\u{7f}\u{80}\u{ffff}",
        ]
        .map(String::from),
    );
    for t in &texts {
        let mut a = alert(t);
        a.timestamp = Some(t.as_str().into());
        a.matched.insert(t.clone(), t.clone());
        a.matched.insert(format!("{t}2"), String::new());
        let (fast, slow) = both(&a);
        assert_eq!(fast, slow, "{t:?}");
    }
}

/// Correlation alerts: type, group (also empty) and lines (also none).
#[test]
fn correlation_fields_as_serde_json_writes_them() {
    for (group, lines) in [
        (None, None),
        (Some(BTreeMap::new()), Some(vec![])),
        (
            Some(BTreeMap::from([
                ("User".to_string(), "a\"b".to_string()),
                ("b".to_string(), String::new()),
            ])),
            Some(vec![1, 0, u64::MAX, 10, 99]),
        ),
    ] {
        let mut a = alert("x");
        a.line = u64::MAX;
        a.correlation = Some("event_count".to_string());
        a.group = group;
        a.lines = lines;
        let (fast, slow) = both(&a);
        assert_eq!(fast, slow);
    }
}

/// `write_json_with` through one kept prefix, over alerts of rules
/// that share their texts (the same `Arc`s), rules whose texts are equal
/// but not shared, and rules that differ in one field only: each line is
/// what `serde_json` writes for its own alert.
#[test]
fn alerts_written_through_one_kept_prefix_are_each_their_own() {
    let shared =
        |id: &str, title: &str, level: &str| -> [Arc<str>; 3] { [id.into(), title.into(), level.into()] };
    let a = shared("a", "T \"a\"", "high");
    let a_copy = shared("a", "T \"a\"", "high");
    let rules = [
        a.clone(),
        a.clone(),
        ["b".into(), a[1].clone(), a[2].clone()],
        a.clone(),
        [a[0].clone(), "other".into(), a[2].clone()],
        a.clone(),
        [a[0].clone(), a[1].clone(), "low".into()],
        a_copy,
        a.clone(),
        shared("é\n", "", ""),
        a,
    ];
    let mut prefix = JsonPrefix::default();
    for (k, [id, title, level]) in rules.into_iter().enumerate() {
        let mut x = alert("s");
        (x.rule_id, x.title, x.level, x.line) = (id, title, level, k as u64);
        let mut fast = Vec::new();
        x.write_json_with(&mut fast, &mut prefix);
        assert_eq!(
            String::from_utf8(fast).unwrap(),
            serde_json::to_string(&x).unwrap(),
            "alert {k}"
        );
    }
}

proptest! {
    #[test]
    fn any_alert_as_serde_json_writes_it(
        id in "\\PC*", title in ".*", level in "[a-z]{0,12}", line in any::<u64>(),
        source in any::<String>(), ts in proptest::option::of(any::<String>()),
        matched in proptest::collection::btree_map(any::<String>(), any::<String>(), 0..4),
        corr in proptest::option::of("[a-z_]{1,12}"),
        group in proptest::option::of(proptest::collection::btree_map(any::<String>(), any::<String>(), 0..3)),
        lines in proptest::option::of(proptest::collection::vec(any::<u64>(), 0..4)),
    ) {
        let a = Alert { rule_id: id.into(), title: title.into(), level: level.into(), line,
            source: source.into(), timestamp: ts.map(Into::into), matched,
            correlation: corr, group, lines };
        let (fast, slow) = both(&a);
        prop_assert_eq!(fast, slow);
    }
}
