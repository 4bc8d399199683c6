//! `Alert::write_json` (the CLI's JSON lines) against its slow twin,
//! `serde_json` serializing the same alert through `Serialize`.

use logsieve_detect::Alert;
use proptest::prelude::*;
use std::collections::BTreeMap;

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
        rule_id: text.to_string(),
        title: format!("t{text}"),
        level: "high".to_string(),
        line: 7,
        source: text.to_string(),
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
        a.timestamp = Some(t.clone());
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
        let a = Alert { rule_id: id, title, level, line, source, timestamp: ts, matched,
            correlation: corr, group, lines };
        let (fast, slow) = both(&a);
        prop_assert_eq!(fast, slow);
    }
}
