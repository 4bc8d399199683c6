//! Sigma semantics, one test per modifier and condition form, correlations,
//! the prefilter against brute force, and the bundled rule sets.

use logsieve_detect::{Correlator, Detector, JsonEvent, Mapping, Scratch};
use serde_json::json;
use std::path::{Path, PathBuf};

fn testdata(p: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../testdata")
        .join(p)
}

fn rule(detection: &str) -> Detector {
    let y = format!("title: t\nid: r1\nlevel: high\nlogsource: {{product: test}}\ndetection:\n{detection}");
    let d = Detector::from_yaml(&y, None).unwrap();
    assert!(d.rejections().is_empty(), "{:?}", d.rejections());
    d
}

fn hits(d: &Detector, ev: serde_json::Value) -> bool {
    !d.matching_rules(&JsonEvent(&ev), &mut Scratch::default())
        .is_empty()
}

fn rejected(detection: &str) -> String {
    let y = format!("title: t\nid: r1\nlogsource: {{product: test}}\ndetection:\n{detection}");
    let d = Detector::from_yaml(&y, None).unwrap();
    assert_eq!(d.rules().len(), 0);
    d.rejections()[0].reason.clone()
}

#[test]
fn maps_are_and_lists_of_maps_are_or_value_lists_are_or() {
    let d = rule("  sel:\n    a: x\n    b: y\n  condition: sel");
    assert!(hits(&d, json!({"a": "x", "b": "y"})));
    assert!(!hits(&d, json!({"a": "x", "b": "z"})));
    let d = rule("  sel:\n    - a: x\n    - b: y\n  condition: sel");
    assert!(hits(&d, json!({"a": "q", "b": "y"})));
    let d = rule("  sel:\n    a: [x, y]\n  condition: sel");
    assert!(hits(&d, json!({"a": "y"})));
    assert!(!hits(&d, json!({"a": "z"})));
}

#[test]
fn case_insensitive_by_default_and_cased() {
    let d = rule("  sel:\n    a: HeLLo\n  condition: sel");
    assert!(hits(&d, json!({"a": "hello"})));
    let d = rule("  sel:\n    a|cased: HeLLo\n  condition: sel");
    assert!(!hits(&d, json!({"a": "hello"})));
    assert!(hits(&d, json!({"a": "HeLLo"})));
}

#[test]
fn wildcards_and_escapes() {
    let d = rule("  sel:\n    a: 'ab*cd?'\n  condition: sel");
    assert!(hits(&d, json!({"a": "abXXcdY"})));
    assert!(!hits(&d, json!({"a": "abXXcd"})));
    let d = rule("  sel:\n    a: 'ab\\*'\n  condition: sel");
    assert!(hits(&d, json!({"a": "ab*"})));
    assert!(!hits(&d, json!({"a": "abc"})));
}

#[test]
fn contains_startswith_endswith_all() {
    let d = rule("  sel:\n    a|contains: mid\n  condition: sel");
    assert!(hits(&d, json!({"a": "xxMIDxx"})));
    let d = rule("  sel:\n    a|startswith: pre\n  condition: sel");
    assert!(hits(&d, json!({"a": "prefix"})) && !hits(&d, json!({"a": "xpre"})));
    let d = rule("  sel:\n    a|endswith: fix\n  condition: sel");
    assert!(hits(&d, json!({"a": "suffix"})) && !hits(&d, json!({"a": "fixx"})));
    let d = rule("  sel:\n    a|contains|all: [one, two]\n  condition: sel");
    assert!(hits(&d, json!({"a": "two and one"})));
    assert!(!hits(&d, json!({"a": "one only"})));
}

#[test]
fn null_empty_exists() {
    let d = rule("  sel:\n    a: null\n  condition: sel");
    assert!(hits(&d, json!({"b": 1})));
    assert!(hits(&d, json!({"a": null})));
    assert!(!hits(&d, json!({"a": "x"})));
    let d = rule("  sel:\n    a: ''\n  condition: sel");
    assert!(hits(&d, json!({"a": ""})));
    assert!(!hits(&d, json!({"a": "x"})));
    let d = rule("  sel:\n    a|exists: true\n  condition: sel");
    assert!(hits(&d, json!({"a": "x"})) && !hits(&d, json!({"b": "x"})));
    let d = rule("  sel:\n    a|exists: false\n  condition: sel");
    assert!(hits(&d, json!({"b": "x"})));
}

#[test]
fn regular_expressions_with_flags() {
    let d = rule("  sel:\n    a|re: '^ab+c$'\n  condition: sel");
    assert!(hits(&d, json!({"a": "abbbc"})));
    assert!(!hits(&d, json!({"a": "ABC"})), "re is case-sensitive");
    let d = rule("  sel:\n    a|re|i: '^abc$'\n  condition: sel");
    assert!(hits(&d, json!({"a": "ABC"})));
    let d = rule("  sel:\n    a|re|m: '^two$'\n  condition: sel");
    assert!(hits(&d, json!({"a": "one\ntwo"})));
    let d = rule("  sel:\n    a|re|s: 'one.two'\n  condition: sel");
    assert!(hits(&d, json!({"a": "one\ntwo"})));
    assert!(rejected("  sel:\n    a|re: '(?<=x)y'\n  condition: sel").contains("regex"));
}

#[test]
fn cidr_and_numeric_comparisons() {
    let d = rule("  sel:\n    ip|cidr: 10.0.0.0/8\n  condition: sel");
    assert!(hits(&d, json!({"ip": "10.1.2.3"})) && !hits(&d, json!({"ip": "11.1.2.3"})));
    let d = rule("  sel:\n    ip|cidr: 'fe80::/10'\n  condition: sel");
    assert!(hits(&d, json!({"ip": "fe80::1"})));
    for (m, v, yes, no) in [
        ("lt", 5, 4, 5),
        ("lte", 5, 5, 6),
        ("gt", 5, 6, 5),
        ("gte", 5, 5, 4),
    ] {
        let d = rule(&format!("  sel:\n    n|{m}: {v}\n  condition: sel"));
        assert!(hits(&d, json!({"n": yes})), "{m}");
        assert!(!hits(&d, json!({"n": no})), "{m}");
        assert!(hits(&d, json!({"n": yes.to_string()})), "{m} numeric text");
    }
}

#[test]
fn numbers_match_numbers_and_numeric_text() {
    let d = rule("  sel:\n    EventID: 4688\n  condition: sel");
    assert!(hits(&d, json!({"EventID": 4688})));
    assert!(hits(&d, json!({"EventID": "4688"})));
    assert!(!hits(&d, json!({"EventID": 4689})));
}

#[test]
fn base64_offset_utf16_windash() {
    let d = rule("  sel:\n    a|base64: 'hello'\n  condition: sel");
    assert!(hits(&d, json!({"a": "aGVsbG8="})));
    let d = rule("  sel:\n    a|base64offset|contains: '/bin/bash'\n  condition: sel");
    // "xx/bin/bash" base64 holds the offset-2 form.
    assert!(hits(&d, json!({"a": "eHgvYmluL2Jhc2g="})));
    assert!(hits(&d, json!({"a": "L2Jpbi9iYXNo"})));
    let d = rule("  sel:\n    a|wide|base64offset|contains: 'ping'\n  condition: sel");
    // base64 of UTF-16LE "ping" is cABpAG4AZwA=
    assert!(hits(&d, json!({"a": "cABpAG4AZwA="})));
    let d = rule("  sel:\n    a|utf16be|base64: 'A'\n  condition: sel");
    assert!(hits(&d, json!({"a": "AEE="})));
    let d = rule("  sel:\n    a|windash|contains: ' -enc '\n  condition: sel");
    assert!(hits(&d, json!({"a": "powershell /enc abc"})));
    assert!(hits(&d, json!({"a": "powershell \u{2013}enc abc"})));
    assert!(hits(&d, json!({"a": "powershell -enc abc"})));
}

#[test]
fn fieldref() {
    let d = rule("  sel:\n    a|fieldref: b\n  condition: sel");
    assert!(hits(&d, json!({"a": "Same", "b": "same"})));
    assert!(!hits(&d, json!({"a": "x", "b": "y"})));
    let d = rule("  sel:\n    a|fieldref|contains: b\n  condition: sel");
    assert!(hits(&d, json!({"a": "xxyy", "b": "xy"})));
}

/// `fieldref` on events decoded onto a tape reads the other field through
/// the paths resolved for the event (interned with the rule's own): the
/// same verdicts as evaluating every rule on serde_json's tree, with the
/// other field absent, a number, nested, under a mapping with several
/// candidate paths, and through the same `Scratch` event after event.
#[test]
fn fieldref_on_the_tape_equals_the_slow_twin() {
    let rules = r#"
title: same image
id: r1
logsource: {product: windows, category: process_creation}
detection:
  sel: {ParentImage|fieldref: Image}
  condition: sel
---
title: contains user
id: r2
logsource: {product: windows}
detection:
  sel: {CommandLine|fieldref|contains: User}
  condition: sel
---
title: ends with pid
id: r3
logsource: {product: windows}
detection:
  sel: {CommandLine|fieldref|endswith: ProcessId}
  condition: sel
---
title: cased prefix
id: r4
logsource: {product: test}
detection:
  sel: {a.b|fieldref|cased|startswith: c}
  condition: sel
"#;
    let win = Detector::from_yaml(rules, Mapping::builtin("windows")).unwrap();
    let plain = Detector::from_yaml(rules, None).unwrap();
    let events = [
        r#"{"Event":{"System":{"Channel":"Microsoft-Windows-Sysmon/Operational","EventID":1},"EventData":{"Image":"C:\\A\\x.exe","ParentImage":"c:\\a\\X.EXE","CommandLine":"x.exe -u BOB 42","User":"bob","ProcessId":42}}}"#,
        r#"{"Event":{"System":{"Channel":"Security","EventID":4688},"EventData":{"NewProcessName":"C:\\y.exe","ParentProcessName":"C:\\Y.exe","CommandLine":"y.exe","SubjectUserName":"carol"}}}"#,
        r#"{"Event":{"System":{"Channel":"Microsoft-Windows-Sysmon/Operational","EventID":1},"EventData":{"ParentImage":"C:\\z.exe","CommandLine":"z.exe 7","ProcessId":"7"}}}"#,
        r#"{"Event":{"System":{"Channel":"Microsoft-Windows-Sysmon/Operational","EventID":1},"EventData":{"Image":null,"ParentImage":"null","CommandLine":"run as Dave","User":"DAVE"}}}"#,
        r#"{"a":{"b":"Prefix-rest"},"c":"Prefix"}"#,
        r#"{"a":{"b":"prefix-rest"},"c":"Prefix"}"#,
        r#"{"a":{"b":"Prefix-rest"}}"#,
        r#"{"a":{"b":"12x"},"c":12}"#,
    ];
    let mut s = Scratch::default();
    let mut tape = logsieve_detect::JsonTape::default();
    for _ in 0..2 {
        for e in events {
            let v: serde_json::Value = serde_json::from_str(e).unwrap();
            for d in [&win, &plain] {
                let slow = d.matching_rules_brute_force(&JsonEvent(&v));
                let t = tape.parse(e.as_bytes()).unwrap();
                assert_eq!(d.matching_rules(&t, &mut s), slow, "{e}");
            }
        }
    }
    // The twin is not vacuous: these events do match.
    let v: serde_json::Value = serde_json::from_str(events[0]).unwrap();
    assert_eq!(win.matching_rules_brute_force(&JsonEvent(&v)), vec![0, 1, 2]);
    let v: serde_json::Value = serde_json::from_str(events[4]).unwrap();
    assert_eq!(plain.matching_rules_brute_force(&JsonEvent(&v)), vec![3]);
}

#[test]
fn keywords_search_the_message() {
    let d = rule("  keywords:\n    - 'failed password'\n    - 'invalid user'\n  condition: keywords");
    assert!(hits(&d, json!({"message": "Failed password for root"})));
    assert!(!hits(&d, json!({"message": "accepted"})));
    let d = rule("  keywords:\n    '|all':\n      - 'a1'\n      - 'b2'\n  condition: keywords");
    assert!(hits(&d, json!({"message": "b2 then a1"})));
    assert!(!hits(&d, json!({"message": "a1 only"})));
}

#[test]
fn condition_forms() {
    let det = "  sel_a:\n    a: 1\n  sel_b:\n    b: 1\n  filter:\n    c: 1\n";
    let cases = [
        ("sel_a and sel_b", json!({"a": 1, "b": 1}), true),
        ("sel_a or sel_b", json!({"b": 1}), true),
        ("sel_a and not filter", json!({"a": 1, "c": 1}), false),
        ("(sel_a or sel_b) and not filter", json!({"b": 1}), true),
        ("1 of sel_*", json!({"b": 1}), true),
        ("all of sel_*", json!({"b": 1}), false),
        ("1 of them", json!({"c": 1}), true),
        ("all of them", json!({"a": 1, "b": 1, "c": 1}), true),
        ("all of them", json!({"a": 1, "b": 1}), false),
    ];
    for (cond, ev, want) in cases {
        let d = rule(&format!("{det}  condition: {cond}"));
        assert_eq!(hits(&d, ev.clone()), want, "{cond} on {ev}");
    }
}

#[test]
fn unsupported_things_reject_the_rule_with_a_reason() {
    assert!(rejected("  sel:\n    a|bogus: 1\n  condition: sel").contains("unsupported modifier `bogus`"));
    assert!(rejected("  sel:\n    a: 1\n  condition: nope").contains("unknown detection identifier"));
    assert!(rejected("  sel:\n    a: 1\n  condition: sel | count() > 5").contains("aggregation"));
    assert!(
        rejected("  sel:\n    a|expand: '%x%'\n  condition: sel").contains("placeholder `%x%` has no value")
    );
    assert!(rejected("  sel:\n    a|i: x\n  condition: sel").contains("only valid after `re`"));
}

#[test]
fn bad_rules_never_stop_the_others() {
    let dir = std::env::temp_dir().join(format!("logsieve-rules-{}", std::process::id()));
    std::fs::create_dir_all(dir.join("sub")).unwrap();
    std::fs::write(
        dir.join("good.yml"),
        "title: g\nid: g\nlogsource: {product: x}\ndetection:\n  s:\n    a: 1\n  condition: s\n",
    )
    .unwrap();
    std::fs::write(
        dir.join("sub/broken.yml"),
        "title: b\ndetection:\n  s: [unclosed\n",
    )
    .unwrap();
    std::fs::write(
        dir.join("sub/bad_mod.yaml"),
        "title: m\nlogsource: {product: x}\ndetection:\n  s:\n    a|nope: 1\n  condition: s\n",
    )
    .unwrap();
    std::fs::write(dir.join("notes.txt"), "not a rule").unwrap();
    let d = Detector::load(std::slice::from_ref(&dir), None).unwrap();
    assert_eq!(d.rules().len(), 1);
    assert_eq!(d.rejections().len(), 2);
    let yaml = d
        .rejections()
        .iter()
        .find(|r| r.file.ends_with("broken.yml"))
        .unwrap();
    assert!(
        yaml.reason.contains("invalid YAML") && yaml.reason.contains("line"),
        "{}",
        yaml.reason
    );
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn correlations_event_count_value_count_temporal() {
    let y = r#"
title: failed login
id: base-1
name: failed_login
logsource: {product: test}
detection:
  sel:
    action: fail
  condition: sel
---
title: success
id: base-2
name: success_login
logsource: {product: test}
detection:
  sel:
    action: ok
  condition: sel
---
title: brute force
id: corr-1
level: high
correlation:
  type: event_count
  rules: [failed_login]
  group-by: [user]
  timespan: 1m
  condition: {gte: 3}
---
title: spraying
id: corr-2
level: medium
correlation:
  type: value_count
  rules: [failed_login]
  group-by: [src]
  timespan: 1m
  condition: {field: user, gte: 2}
---
title: fail then success
id: corr-3
level: critical
correlation:
  type: temporal_ordered
  rules: [failed_login, success_login]
  group-by: [user]
  timespan: 30s
"#;
    let d = Detector::from_yaml(y, None).unwrap();
    assert!(d.rejections().is_empty(), "{:?}", d.rejections());
    assert_eq!(d.correlations().len(), 3);
    let mut c = Correlator::new(&d);
    let mut s = Scratch::default();
    let events = [
        json!({"timestamp": "2025-01-01T00:00:00Z", "action": "fail", "user": "bob", "src": "1.1.1.1"}),
        json!({"timestamp": "2025-01-01T00:00:10Z", "action": "fail", "user": "bob", "src": "1.1.1.1"}),
        json!({"timestamp": "2025-01-01T00:00:20Z", "action": "fail", "user": "amy", "src": "1.1.1.1"}),
        json!({"timestamp": "2025-01-01T00:00:25Z", "action": "ok", "user": "amy", "src": "1.1.1.1"}),
        json!({"timestamp": "2025-01-01T00:05:00Z", "action": "fail", "user": "bob", "src": "2.2.2.2"}),
        json!({"timestamp": "2025-01-01T00:05:01Z", "action": "fail", "user": "bob", "src": "2.2.2.2"}),
    ];
    let mut alerts = Vec::new();
    for (i, e) in events.iter().enumerate() {
        for h in d.evaluate(&JsonEvent(e), i as u64 + 1, "t", &mut s) {
            assert!(
                h.alert.is_none(),
                "base rules are suppressed by their correlations"
            );
            alerts.extend(c.feed(&d, &h, i as u64 + 1, "t"));
        }
    }
    let ids: Vec<(&str, u64)> = alerts.iter().map(|a| (a.rule_id.as_ref(), a.line)).collect();
    // Spraying: bob and amy from 1.1.1.1 within a minute, at line 3.
    // Fail then success for amy at line 4.
    // Bob's third failure is 5 minutes later: the window had expired.
    assert_eq!(ids, [("corr-2", 3), ("corr-3", 4)]);
    let spray = &alerts[0];
    assert_eq!(spray.group.as_ref().unwrap()["src"], "1.1.1.1");
    assert_eq!(spray.lines.as_ref().unwrap(), &[1, 2, 3]);
    assert_eq!(spray.correlation.as_deref(), Some("value_count"));
    // Three failures inside one minute do fire event_count.
    let mut c = Correlator::new(&d);
    let mut fired = Vec::new();
    for (i, t) in ["00:00:00", "00:00:20", "00:00:40"].iter().enumerate() {
        let e = json!({"timestamp": format!("2025-01-01T{t}Z"), "action": "fail", "user": "eve", "src": format!("9.9.9.{i}")});
        for h in d.evaluate(&JsonEvent(&e), i as u64 + 1, "t", &mut s) {
            fired.extend(c.feed(&d, &h, i as u64 + 1, "t"));
        }
    }
    assert_eq!(fired.len(), 1);
    assert_eq!(&*fired[0].rule_id, "corr-1");
    assert_eq!(fired[0].group.as_ref().unwrap()["user"], "eve");
}

#[test]
fn correlation_to_an_unknown_rule_is_rejected() {
    let y = "title: c\nid: c\ncorrelation:\n  type: event_count\n  rules: [nope]\n  timespan: 1m\n  condition: {gte: 2}\n";
    let d = Detector::from_yaml(y, None).unwrap();
    assert!(d.rejections()[0].reason.contains("`nope`"));
}

#[test]
fn every_bundled_rule_loads_or_is_rejected_with_a_reason() {
    let dir = testdata("sigma-rules/rules");
    for mapping in [None, Some("linux"), Some("webserver")] {
        let d = Detector::load(std::slice::from_ref(&dir), mapping.and_then(Mapping::builtin)).unwrap();
        let total = d.rules().len() + d.correlations().len() + d.rejections().len();
        assert!(total >= 400, "{total}");
        assert!(d.rejections().iter().all(|r| !r.reason.is_empty()));
        if mapping.is_none() {
            // Without a mapping only unsupported features reject a rule.
            assert!(
                d.rules().len() >= 380,
                "{} loaded; {:?}",
                d.rules().len(),
                &d.rejections()[..3.min(d.rejections().len())]
            );
        }
    }
}

#[test]
fn prefilter_agrees_with_brute_force() {
    let d = Detector::load(
        &[testdata("sigma-rules/rules"), testdata("sigma-regression")],
        None,
    )
    .unwrap();
    let mut events = Vec::new();
    for e in std::fs::read_dir(testdata("sigma-regression")).unwrap() {
        let p = e.unwrap().path().join("event.json");
        if let Ok(text) = std::fs::read_to_string(&p) {
            for v in serde_json::Deserializer::from_str(&text).into_iter::<serde_json::Value>() {
                events.push(v.unwrap());
            }
        }
    }
    for l in std::fs::read_to_string(testdata("loghub-2k/Linux/Linux_2k.log"))
        .unwrap()
        .lines()
    {
        events.push(json!({"message": l, "raw": l}));
    }
    let mut s = Scratch::default();
    let mut total = 0;
    for ev in &events {
        let a = d.matching_rules(&JsonEvent(ev), &mut s);
        let b = d.matching_rules_brute_force(&JsonEvent(ev));
        assert_eq!(a, b, "{ev}");
        total += a.len();
    }
    assert!(total > 0, "the comparison saw some matches");
}

/// Groups a rejection reason into a kind, for the counts in
/// docs/DETECTION.md.
fn reason_kind(reason: &str) -> &'static str {
    if reason.contains("not covered by mapping") {
        "logsource not covered by the mapping"
    } else if reason.contains("is not provided by mapping") {
        "field not provided by the mapping"
    } else if reason.contains("modifier") {
        "unsupported modifier"
    } else if reason.contains("regex") {
        "regex not supported by the Rust engine"
    } else if reason.contains("aggregation") || reason.contains("timeframe") {
        "aggregation / timeframe"
    } else if reason.contains("invalid YAML") {
        "invalid YAML"
    } else {
        "other"
    }
}

#[test]
fn bundled_rule_counts_per_mapping() {
    let dir = testdata("sigma-rules/rules");
    let mut report = String::new();
    let mut counts = Vec::new();
    for mapping in [None, Some("linux"), Some("webserver"), Some("windows")] {
        let d = Detector::load(std::slice::from_ref(&dir), mapping.and_then(Mapping::builtin)).unwrap();
        let mut by: std::collections::BTreeMap<&str, usize> = Default::default();
        for r in d.rejections() {
            *by.entry(reason_kind(&r.reason)).or_default() += 1;
            if mapping.is_none() {
                eprintln!("  rejected without a mapping: {}: {}", r.file, r.reason);
            }
        }
        report.push_str(&format!(
            "{:<10} files {} loaded {} (+{} correlations) rejected {} {:?}\n",
            mapping.unwrap_or("none"),
            d.files_read(),
            d.rules().len(),
            d.correlations().len(),
            d.rejections().len(),
            by
        ));
        assert_eq!(
            d.rules().len() + d.correlations().len() + d.rejections().len(),
            d.files_read(),
            "one outcome per file (these files hold one rule each)"
        );
        counts.push((d.rules().len(), d.rejections().len()));
    }
    eprintln!("{report}");
    // Keep docs/DETECTION.md in step with these numbers.
    assert_eq!(counts, [(407, 0), (75, 332), (32, 375), (0, 407)], "{report}");
}

#[test]
fn utf16le_escaped_backslash_wildcard_and_unsupported_regex() {
    let d = rule("  sel:\n    a|utf16le|base64offset|contains: 'cmd'\n  condition: sel");
    // base64 of UTF-16LE "cmd" is YwBtAGQA
    assert!(hits(&d, json!({"a": "xxYwBtAGQAyy"})));
    // `\\*` is a literal backslash then a wildcard.
    let d = rule("  sel:\n    a: 'C:\\\\*'\n  condition: sel");
    assert!(hits(&d, json!({"a": "C:\\Windows"})));
    assert!(!hits(&d, json!({"a": "C:Windows"})));
    // Look-around is not in Rust's regex syntax: rejected, not ignored.
    assert!(rejected("  sel:\n    a|re: 'foo(?!bar)'\n  condition: sel").contains("regex"));
}
