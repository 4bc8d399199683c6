//! The prefilter is never wrong: the prefiltered detector and the slow,
//! obviously correct twin (every rule evaluated) agree on events built
//! from the rules' own values, so that many events match, many nearly
//! match (a character dropped, case changed, text around), and some hold
//! non-ASCII text.

use logsieve_detect::{Detector, FlatEvent, JsonEvent, Mapping, Scratch};
use serde_json::{json, Map, Value};
use serde_yaml::Value as Y;
use std::path::{Path, PathBuf};

fn testdata(p: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../testdata")
        .join(p)
}

fn yaml_files(dir: &Path, out: &mut Vec<PathBuf>) {
    for e in std::fs::read_dir(dir).unwrap() {
        let p = e.unwrap().path();
        if p.is_dir() {
            yaml_files(&p, out);
        } else if p.extension().is_some_and(|x| x == "yml" || x == "yaml") {
            out.push(p);
        }
    }
}

fn scalar(v: &Y) -> Option<String> {
    match v {
        Y::String(s) => Some(s.clone()),
        Y::Number(n) => Some(n.to_string()),
        Y::Bool(b) => Some(b.to_string()),
        _ => None,
    }
}

/// Variants of one rule value: as is (wildcards removed), with text
/// around, upper case, one character dropped, and a non-ASCII twist.
fn variants(v: &str) -> Vec<String> {
    let plain: String = v.replace(['*', '?'], "");
    let mut out = vec![
        plain.clone(),
        format!("xx {plain} yy"),
        plain.to_uppercase(),
        format!("\u{212A}{plain}\u{130}"),
        // KELVIN SIGN lowercases to ASCII `k`.
        plain.replace(['k', 'K'], "\u{212A}"),
    ];
    if plain.chars().count() > 1 {
        let mut c = plain.chars();
        c.next();
        out.push(c.as_str().to_string());
        let mut s = plain.clone();
        s.pop();
        out.push(s);
    }
    out
}

/// Events built from one rule's detection: per selection map, one event
/// with every field at each variant index, plus keyword events.
fn events_for(doc: &Y, windows: bool) -> Vec<Value> {
    let mut out = Vec::new();
    let Some(Y::Mapping(det)) = doc.get("detection") else {
        return out;
    };
    let wrap = |m: Map<String, Value>| -> Value {
        if windows {
            json!({"Event": {"System": {"EventID": 1, "Channel": "Microsoft-Windows-Sysmon/Operational"}, "EventData": m}})
        } else {
            Value::Object(m)
        }
    };
    for (k, sel) in det {
        if k.as_str() == Some("condition") {
            continue;
        }
        let maps: Vec<&serde_yaml::Mapping> = match sel {
            Y::Mapping(m) => vec![m],
            Y::Sequence(items) => items.iter().filter_map(|i| i.as_mapping()).collect(),
            _ => vec![],
        };
        if let Y::Sequence(items) = sel {
            for v in items.iter().filter_map(scalar) {
                for x in variants(&v) {
                    out.push(json!({"message": x, "raw": x}));
                }
            }
        }
        for m in maps {
            for i in 0..6 {
                let mut ev = Map::new();
                for (f, vals) in m {
                    let Some(f) = f.as_str() else { continue };
                    let field = f.split('|').next().unwrap_or_default();
                    let all: Vec<String> = match vals {
                        Y::Sequence(s) => s.iter().filter_map(scalar).collect(),
                        other => scalar(other).into_iter().collect(),
                    };
                    if all.is_empty() {
                        continue;
                    }
                    let joined = all.join(" ");
                    let v = &all[i % all.len()];
                    let vs = variants(if f.contains("|all") { &joined } else { v });
                    ev.insert(field.to_string(), json!(vs[i % vs.len()]));
                }
                out.push(wrap(ev));
            }
        }
    }
    out
}

/// The prefiltered detector and the brute-force twin agree on each event
/// as a JSON value, and (its top-level strings) as a flat event, the
/// shape the text pipeline builds.
fn agree(d: &Detector, events: &[Value]) -> usize {
    let mut s = Scratch::default();
    let mut matched = 0;
    for ev in events {
        let a = d.matching_rules(&JsonEvent(ev), &mut s);
        let b = d.matching_rules_brute_force(&JsonEvent(ev));
        assert_eq!(a, b, "prefilter disagrees on {ev}");
        matched += a.len();
        // The same event decoded on a tape (prefiltered field by field,
        // keywords in the line).
        let line = serde_json::to_string(ev).unwrap();
        let mut tape = logsieve_detect::JsonTape::default();
        let t = tape.parse(line.as_bytes()).unwrap();
        assert_eq!(
            d.matching_rules(&t, &mut s),
            b,
            "prefilter disagrees on the tape {line}"
        );
        let mut flat = FlatEvent::default();
        for (k, v) in ev.as_object().into_iter().flatten() {
            if let Some(t) = v.as_str() {
                flat.push(k, t);
            }
        }
        let a = d.matching_rules(&flat, &mut s);
        let b = d.matching_rules_brute_force(&flat);
        assert_eq!(a, b, "prefilter disagrees on the flat event {flat:?}");
    }
    matched
}

/// Events made from every bundled rule's values (`events_for`).
fn rule_derived_events() -> Vec<Value> {
    let mut files = Vec::new();
    yaml_files(&testdata("sigma-rules/rules"), &mut files);
    let mut events = Vec::new();
    for f in &files {
        let text = std::fs::read_to_string(f).unwrap();
        for doc in serde_yaml::Deserializer::from_str(&text) {
            if let Ok(doc) = <Y as serde::Deserialize>::deserialize(doc) {
                events.extend(events_for(&doc, false));
            }
        }
    }
    events
}

#[test]
fn prefilter_agrees_with_brute_force_on_rule_derived_events() {
    let events = rule_derived_events();
    let d = Detector::load(&[testdata("sigma-rules/rules")], None).unwrap();
    let matched = agree(&d, &events);
    assert!(
        matched > events.len() / 10,
        "{matched} matches over {} events: the events exercise the rules",
        events.len()
    );
}

#[test]
fn prefilter_agrees_with_brute_force_with_the_windows_mapping() {
    let mut rules = Vec::new();
    let mut events = Vec::new();
    for e in std::fs::read_dir(testdata("sigma-regression")).unwrap() {
        let p = e.unwrap().path().join("rule.yml");
        if p.exists() {
            let doc: Y = serde_yaml::from_str(&std::fs::read_to_string(&p).unwrap()).unwrap();
            events.extend(events_for(&doc, true));
            rules.push(p);
        }
    }
    let d = Detector::load(&rules, Mapping::builtin("windows")).unwrap();
    assert_eq!(d.rules().len(), 20);
    let matched = agree(&d, &events);
    assert!(matched > 0);
}

/// Rules whose field tests are prefiltered by where their literal must lie
/// (the whole value, its start, its end, anywhere) and by the literals
/// their regexes start with, one rule per kind.
const KIND_RULES: &str = r#"
title: exact
id: 00000000-0000-0000-0000-000000000001
logsource: {product: windows}
detection:
  sel: {Image: 'C:\Windows\cmd.exe'}
  condition: sel
---
title: prefix
id: 00000000-0000-0000-0000-000000000002
logsource: {product: windows}
detection:
  sel: {Image|startswith: 'C:\Users\'}
  condition: sel
---
title: suffix
id: 00000000-0000-0000-0000-000000000003
logsource: {product: windows}
detection:
  sel: {Image|endswith: ['\powershell.exe', '\pwsh.exe', 'h.exe']}
  condition: sel
---
title: contains
id: 00000000-0000-0000-0000-000000000004
logsource: {product: windows}
detection:
  sel: {CommandLine|contains: ['-enc', ' /c ', 'k']}
  condition: sel
---
title: regex
id: 00000000-0000-0000-0000-000000000005
logsource: {product: windows}
detection:
  sel:
    CommandLine|re:
      - 'ipconfig\s+/all'
      - '(?i)net\s+(user|group)\b'
      - '(arp|route)\s+(-a|print)'
  condition: sel
---
title: regex case-insensitive by modifier
id: 00000000-0000-0000-0000-000000000006
logsource: {product: windows}
detection:
  sel: {CommandLine|re|i: 'whoami(\.exe)?\s+/priv'}
  condition: sel
---
title: regex with no literal
id: 00000000-0000-0000-0000-000000000007
logsource: {product: windows}
detection:
  sel: {CommandLine|re: '^\S{40,}$'}
  condition: sel
---
title: cased exact and a number
id: 00000000-0000-0000-0000-000000000008
logsource: {product: windows}
detection:
  sel:
    Image|cased: 'C:\Temp\X.exe'
    ProcessId: 42
  condition: sel
"#;

/// Pieces of Image and CommandLine values: the rules' literals, near
/// misses, other cases, non-ASCII letters (KELVIN SIGN lowercases to `k`,
/// `İ` to two characters).
const PIECES: &[&str] = &[
    "C:\\Windows\\cmd.exe",
    "c:\\windows\\CMD.EXE",
    "C:\\Users\\",
    "C:\\Users",
    "\\powershell.exe",
    "\\pwsh.exe",
    "h.exe",
    ".exe",
    "C:\\Temp\\X.exe",
    "c:\\temp\\x.exe",
    "-enc",
    "-ENC",
    " /c ",
    "k",
    "\u{212A}",
    "\u{130}",
    "ipconfig /all",
    "ipconfig  /all",
    "IPCONFIG /ALL",
    "ipconfig/all",
    "net user",
    "NET\tGROUP",
    "net users",
    "arp -a",
    "route print",
    "whoami /priv",
    "WHOAMI.EXE /PRIV",
    "whoami.exe/priv",
    "x",
    " ",
];

/// Up to three of `from`, concatenated.
fn concat_of(from: &'static [&'static str]) -> impl Strategy<Value = String> {
    proptest::collection::vec(proptest::sample::select(from), 0..4).prop_map(|v| v.concat())
}

/// The prefiltered detector, on serde_json's tree and on the tape, raises
/// what the brute-force twin raises for `v`.
fn agrees_with_brute_force(d: &Detector, v: &Value) -> Result<(), TestCaseError> {
    let want = d.matching_rules_brute_force(&JsonEvent(v));
    let mut s = Scratch::default();
    prop_assert_eq!(&d.matching_rules(&JsonEvent(v), &mut s), &want);
    let line = serde_json::to_string(v).unwrap();
    let mut tape = logsieve_detect::JsonTape::default();
    let t = tape.parse(line.as_bytes()).unwrap();
    prop_assert_eq!(&d.matching_rules(&t, &mut s), &want, "{}", line);
    Ok(())
}

use proptest::prelude::*;

proptest! {
    #![proptest_config(ProptestConfig::with_cases(3000))]

    /// Whole-value, prefix, suffix and regex-literal needles never hide a
    /// match: the prefiltered detector (on the flat decoding, field by
    /// field, and on serde_json's `Value`, the whole event) and the
    /// brute-force twin agree.
    #[test]
    fn needle_kinds_and_regex_literals_agree_with_brute_force(
        image in concat_of(PIECES),
        cmd in concat_of(PIECES),
        pid in prop_oneof![Just(json!(42)), Just(json!(42.0)), Just(json!("42")), Just(json!(7))],
        nested in any::<bool>(),
    ) {
        let d = kind_detector();
        let data = if nested {
            json!({"Image": [image, "C:\\other"], "CommandLine": {"#text": cmd}, "ProcessId": pid})
        } else {
            json!({"Image": image, "CommandLine": cmd, "ProcessId": pid})
        };
        let v = json!({"Event": {"System": {"EventID": 1, "Channel": "Microsoft-Windows-Sysmon/Operational"}, "EventData": data}});
        agrees_with_brute_force(d, &v)?;
    }
}

fn kind_detector() -> &'static Detector {
    static D: std::sync::OnceLock<Detector> = std::sync::OnceLock::new();
    D.get_or_init(|| Detector::from_yaml(KIND_RULES, Mapping::builtin("windows")).unwrap())
}

/// The regexes' literals do keep their rules out: only the regex rule
/// without a literal is evaluated on an event holding none of them.
#[test]
fn regex_rules_are_candidates_only_when_their_literals_occur() {
    let d = kind_detector();
    assert_eq!(d.rules().len(), 8);
    assert_eq!(d.unfiltered_rules(), 1, "only `^\\S{{40,}}$` has no literal");
    let ev = |cmd: &str| {
        json!({"Event": {"System": {"EventID": 1, "Channel": "Microsoft-Windows-Sysmon/Operational"},
            "EventData": {"Image": "C:\\Program Files\\a.dll", "CommandLine": cmd}}})
    };
    let titles = |v: &Value| -> Vec<String> {
        let line = serde_json::to_string(v).unwrap();
        let mut tape = logsieve_detect::JsonTape::default();
        let t = tape.parse(line.as_bytes()).unwrap();
        d.candidate_rules(&t, &mut Scratch::default())
            .into_iter()
            .map(|r| d.rules()[r].title.clone())
            .collect()
    };
    assert_eq!(titles(&ev("dir /s")), ["regex with no literal"]);
    assert_eq!(
        titles(&ev("IPCONFIG /ALL")),
        ["regex", "regex with no literal"],
        "a candidate (literals are looked for case-insensitively), not a match"
    );
    assert!(d
        .matching_rules(
            &logsieve_detect::JsonEvent(&ev("IPCONFIG /ALL")),
            &mut Scratch::default()
        )
        .is_empty());
    assert_eq!(
        titles(&ev("Whoami /PRIV")),
        ["regex case-insensitive by modifier", "regex with no literal"]
    );
}

/// Field tests with many `startswith` / `endswith` / whole values (looked
/// up by length and end word, `Ends`), beside cased ones, `contains` ones and other matchers in the same
/// list, `|all` lists (never an automaton), and values that are
/// suffixes or prefixes of one another.
const ANCHORED_RULES: &str = r#"
title: suffixes
id: 00000000-0000-0000-0000-000000000021
logsource: {product: windows}
detection:
  sel:
    Image|endswith: ['\cmd.exe', 'd.exe', '\powershell.exe', '\pwsh.exe', 'h.exe', '.exe\', 'é\é\', '\é', 'KELVIN']
  condition: sel
---
title: prefixes
id: 00000000-0000-0000-0000-000000000022
logsource: {product: windows}
detection:
  sel:
    Image|startswith: ['C:\Windows\', 'c:\win', 'C:\Users\', 'D:', '\\', 'é\é', 'İ', 'x']
  condition: sel
---
title: cased suffixes beside uncased ones
id: 00000000-0000-0000-0000-000000000023
logsource: {product: windows}
detection:
  sel:
    - Image|endswith|cased: ['\CMD.EXE', 'X.exe', '\Pwsh.exe', 'H.EXE']
    - Image|endswith: ['\whoami.exe', 'ami.exe', 'i.exe', '\net.exe']
  condition: sel
---
title: mixed list
id: 00000000-0000-0000-0000-000000000024
logsource: {product: windows}
detection:
  sel:
    CommandLine|startswith: ['cmd ', 'powershell', 'pwsh', 'net ', 'x']
  other:
    CommandLine|endswith: [' /all', ' /priv', '-enc', ' /c', 'k']
  condition: sel or other
---
title: all suffixes
id: 00000000-0000-0000-0000-000000000025
logsource: {product: windows}
detection:
  sel:
    Image|endswith|all: ['.exe', 'h.exe', 'sh.exe', 'wsh.exe']
  condition: sel
---
title: whole values
id: 00000000-0000-0000-0000-000000000026
logsource: {product: windows}
detection:
  sel:
    Image: ['C:\Windows\cmd.exe', 'c:\win', 'D:', 'x', 'é\é', 'KELVIN', '', 'İ']
  condition: sel
"#;

const ANCHORED_PIECES: &[&str] = &[
    "C:\\Windows\\",
    "c:\\win",
    "C:\\Users\\",
    "D:",
    "\\\\",
    "\\",
    "é\\é",
    "é",
    "İ",
    "i̇",
    "x",
    "X",
    "\\cmd.exe",
    "\\CMD.EXE",
    "d.exe",
    "\\powershell.exe",
    "\\pwsh.exe",
    "\\Pwsh.exe",
    "h.exe",
    "H.EXE",
    ".exe\\",
    "\\whoami.exe",
    "ami.exe",
    "\\net.exe",
    "kelvin",
    "\u{212A}ELVIN",
    "cmd ",
    "net ",
    " /all",
    " /priv",
    "-enc",
    " /c",
    "k",
    "\u{212A}",
    "wsh.exe",
    "sh.exe",
];

fn anchored_detector() -> &'static Detector {
    static D: std::sync::OnceLock<Detector> = std::sync::OnceLock::new();
    D.get_or_init(|| Detector::from_yaml(ANCHORED_RULES, Mapping::builtin("windows")).unwrap())
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(3000))]

    /// The lookups give `StrPat::matches`'s verdicts: the fast
    /// path agrees with the brute-force twin (every value compared one by
    /// one), on the tape and on serde_json's tree.
    #[test]
    fn startswith_and_endswith_lists_agree_with_brute_force(
        image in concat_of(ANCHORED_PIECES),
        cmd in concat_of(ANCHORED_PIECES),
        list in any::<bool>(),
    ) {
        let d = anchored_detector();
        let data = if list {
            json!({"Image": [image, "C:\\other"], "CommandLine": cmd})
        } else {
            json!({"Image": image, "CommandLine": cmd})
        };
        let v = json!({"Event": {"System": {"EventID": 1, "Channel": "Microsoft-Windows-Sysmon/Operational"}, "EventData": data}});
        agrees_with_brute_force(d, &v)?;
    }
}

/// The lists above do match (the twin is not vacuous), and a value's
/// suffix that the automaton's state lists but that does not end the
/// value (`\é` in `ax\\é\`, read backwards along `é\é\`) is no match.
#[test]
fn anchored_lists_match_what_they_should() {
    let d = anchored_detector();
    assert_eq!(d.rules().len(), 6);
    let titles = |image: &str, cmd: &str| -> Vec<String> {
        let v = json!({"Event": {"System": {"EventID": 1, "Channel": "Microsoft-Windows-Sysmon/Operational"},
            "EventData": {"Image": image, "CommandLine": cmd}}});
        let line = serde_json::to_string(&v).unwrap();
        let mut tape = logsieve_detect::JsonTape::default();
        let t = tape.parse(line.as_bytes()).unwrap();
        d.matching_rules(&t, &mut Scratch::default())
            .into_iter()
            .map(|r| d.rules()[r].title.clone())
            .collect()
    };
    assert_eq!(
        titles("C:\\Windows\\System32\\cmd.exe", ""),
        ["suffixes", "prefixes"]
    );
    assert_eq!(
        titles("a\\PWSH.EXE", ""),
        ["suffixes", "cased suffixes beside uncased ones", "all suffixes"],
        "`H.EXE` as written"
    );
    assert_eq!(
        titles("a\\Pwsh.exe", ""),
        ["suffixes", "cased suffixes beside uncased ones", "all suffixes"]
    );
    assert_eq!(
        titles("a\\WHOAMI.exe", ""),
        ["cased suffixes beside uncased ones"]
    );
    assert_eq!(titles("ax\\\\é\\", ""), Vec::<String>::new());
    assert_eq!(titles("ax\\é", ""), ["suffixes"]);
    assert_eq!(titles("q", "PowerShell -Enc"), ["mixed list"]);
    assert_eq!(titles("q", "dir /s"), Vec::<String>::new());
    assert_eq!(titles("C:\\WIN", ""), ["prefixes", "whole values"]);
    assert_eq!(titles("\u{212A}elvin", ""), ["suffixes", "whole values"]);
}

/// Flat events resolve the fields rules read once per list of field names
/// (the prefilter keeps the last resolution): events of changing name
/// lists through one scratch, as the text pipeline builds them (header
/// fields, labels, `message`, `raw`, `template`, params), with a name
/// given twice (its first value counts) and with the values in the
/// params only, agree with the brute-force twin.
#[test]
fn flat_events_with_changing_field_names_agree_with_brute_force() {
    let events = rule_derived_events();
    let d = Detector::load(&[testdata("sigma-rules/rules")], None).unwrap();
    let mut s = Scratch::default();
    let (mut checked, mut matched) = (0, 0);
    for ev in &events {
        let strings: Vec<(&str, &str)> = ev
            .as_object()
            .into_iter()
            .flatten()
            .filter_map(|(k, v)| Some((k.as_str(), v.as_str()?)))
            .collect();
        let message = strings
            .iter()
            .find(|(k, _)| *k == "message")
            .map_or("", |(_, v)| *v);
        let params: Vec<&str> = strings.iter().map(|(_, v)| *v).collect();
        // As the text pipeline: header fields, the strings as labels.
        let piped = FlatEvent::of_record(
            &[("host", "web-1"), ("program", "sshd")],
            strings.iter().copied(),
            message,
            "raw line",
            Some("template <*>"),
            Some("0123abcd"),
            &params,
        );
        // Every name again after its value, with a harmless one: `get`
        // takes the first, so the rules still match.
        let mut shadowed = FlatEvent::default();
        for (k, v) in &strings {
            shadowed.push(k, v);
        }
        for (k, _) in &strings {
            shadowed.push(k, "nothing here");
        }
        // The values only in the params.
        let only_params = FlatEvent::of_record(&[("host", "web-2")], [], "", "", None, None, &params);
        for flat in [&piped, &shadowed, &only_params, &piped] {
            let a = d.matching_rules(flat, &mut s);
            assert_eq!(a, d.matching_rules_brute_force(flat), "{flat:?}");
            matched += a.len();
            checked += 1;
        }
    }
    assert!(matched > checked / 10, "{matched} matches over {checked} events");
}

/// Rules every match of which satisfies several needle clauses (each of a
/// selection's fields, `all of` selections, each value of `contains|all`),
/// beside `not` filters, and regexes whose only literals lie inside.
const CLAUSE_RULES: &str = r#"
title: two fields
id: 00000000-0000-0000-0000-000000000031
logsource: {product: windows}
detection:
  sel:
    Image|endswith: '\cmd.exe'
    CommandLine|contains|all: [' /c ', 'whoami']
  condition: sel
---
title: all of two selections but a filter
id: 00000000-0000-0000-0000-000000000032
logsource: {product: windows}
detection:
  sel_img: {Image|endswith: ['h.exe', '\pwsh.exe']}
  sel_cli: {CommandLine|contains: '-enc'}
  filter: {CommandLine|contains: 'ipconfig'}
  condition: all of sel_* and not filter
---
title: one of two groups and a field
id: 00000000-0000-0000-0000-000000000033
logsource: {product: windows}
detection:
  sel:
    - Image|startswith: 'C:\Users\'
    - CommandLine|contains: 'net user'
  sel2: {CommandLine|contains: 'k'}
  condition: sel and sel2
---
title: regex with inner literals
id: 00000000-0000-0000-0000-000000000034
logsource: {product: windows}
detection:
  sel:
    CommandLine|re:
      - '\w+\s+/all'
      - '(?i)\S+\s+(?:user|group)\b'
  condition: sel
"#;

fn clause_detector() -> &'static Detector {
    static D: std::sync::OnceLock<Detector> = std::sync::OnceLock::new();
    D.get_or_init(|| Detector::from_yaml(CLAUSE_RULES, Mapping::builtin("windows")).unwrap())
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(3000))]

    /// A rule is let through only when each of its clauses has a needle
    /// where it must lie, and that never hides a match.
    #[test]
    fn needle_clauses_agree_with_brute_force(
        image in concat_of(PIECES),
        cmd in concat_of(PIECES),
        nested in any::<bool>(),
    ) {
        let data = if nested {
            json!({"Image": [image, "C:\\other"], "CommandLine": {"#text": cmd}})
        } else {
            json!({"Image": image, "CommandLine": cmd})
        };
        let v = json!({"Event": {"System": {"EventID": 1, "Channel": "Microsoft-Windows-Sysmon/Operational"}, "EventData": data}});
        agrees_with_brute_force(clause_detector(), &v)?;
    }
}

/// Each clause keeps its rule out on its own: a rule whose first clause's
/// needle occurs is still no candidate while another clause has none.
#[test]
fn a_rule_is_a_candidate_only_when_every_clause_has_a_needle() {
    let d = clause_detector();
    assert_eq!(d.rules().len(), 4);
    assert_eq!(d.unfiltered_rules(), 0);
    let titles = |image: &str, cmd: &str| -> Vec<String> {
        let v = json!({"Event": {"System": {"EventID": 1, "Channel": "Microsoft-Windows-Sysmon/Operational"},
            "EventData": {"Image": image, "CommandLine": cmd}}});
        let line = serde_json::to_string(&v).unwrap();
        let mut tape = logsieve_detect::JsonTape::default();
        let t = tape.parse(line.as_bytes()).unwrap();
        let mut s = Scratch::default();
        let on_tape: Vec<String> = d
            .candidate_rules(&t, &mut s)
            .into_iter()
            .map(|r| d.rules()[r].title.clone())
            .collect();
        // serde_json's tree is prefiltered by `Event::get`, field by field.
        let on_tree: Vec<String> = d
            .candidate_rules(&JsonEvent(&v), &mut s)
            .into_iter()
            .map(|r| d.rules()[r].title.clone())
            .collect();
        assert_eq!(on_tape, on_tree, "{image:?} {cmd:?}");
        on_tape
    };
    let none: [&str; 0] = [];
    assert_eq!(titles("C:\\Windows\\cmd.exe", "cmd /c dir"), none, "no `whoami`");
    assert_eq!(titles("C:\\Windows\\cmd.exe", "cmd /c whoami"), ["two fields"]);
    assert_eq!(titles("C:\\x\\pwsh.exe", "pwsh -nop"), none, "no `-enc`");
    assert_eq!(titles("C:\\x\\notepad.exe", "x -enc y"), none, "no image suffix");
    assert_eq!(
        titles("C:\\x\\pwsh.exe", "x -enc y"),
        ["all of two selections but a filter"]
    );
    assert_eq!(titles("C:\\Users\\a.exe", "dir"), none, "no `k`");
    assert_eq!(
        titles("C:\\Users\\a.exe", "kill"),
        ["one of two groups and a field"]
    );
    assert_eq!(titles("C:\\x.exe", "ipconfig /s"), none, "no `/all`");
    assert_eq!(
        titles("C:\\x.exe", "ipconfig /all"),
        ["regex with inner literals"]
    );
    assert_eq!(titles("C:\\x.exe", "NET GROUP"), ["regex with inner literals"]);
}
