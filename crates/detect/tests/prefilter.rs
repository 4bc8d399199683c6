//! The prefilter is never wrong: the prefiltered detector and the slow,
//! obviously correct twin (every rule evaluated) agree on events built
//! from the rules' own values, so that many events match, many nearly
//! match (a character dropped, case changed, text around), and some hold
//! non-ASCII text.

use logsieve_detect::{Detector, JsonEvent, Mapping, Scratch};
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

fn agree(d: &Detector, events: &[Value]) -> usize {
    let mut s = Scratch::default();
    let mut matched = 0;
    for ev in events {
        let a = d.matching_rules(&JsonEvent(ev), &mut s);
        let b = d.matching_rules_brute_force(&JsonEvent(ev));
        assert_eq!(a, b, "prefilter disagrees on {ev}");
        matched += a.len();
    }
    matched
}

#[test]
fn prefilter_agrees_with_brute_force_on_rule_derived_events() {
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
