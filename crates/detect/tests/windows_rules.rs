//! The whole SigmaHQ Windows rule set (testdata/sigma-rules/windows) with
//! the built-in `windows` mapping: every rule loads or is rejected with a
//! reason; the regression events raise exactly the listed alerts with all
//! rules loaded; and the fast path (logsource dispatch, prefilter, field
//! values resolved once, the flat JSON decoding) gives the same rules as
//! evaluating every rule on serde_json's `Value`, on every bundled event
//! and on events generated from the rules themselves.

use logsieve_detect::value::{GlobTok, Matcher, StrPat};
use logsieve_detect::{Detector, Event, JsonEvent, JsonTape, Mapping, Scratch, Selection};
use proptest::prelude::*;
use serde_json::{json, Map, Value};
use std::path::{Path, PathBuf};
use std::sync::OnceLock;

fn testdata(p: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../testdata")
        .join(p)
}

fn detector() -> &'static Detector {
    static D: OnceLock<Detector> = OnceLock::new();
    D.get_or_init(|| Detector::load(&[testdata("sigma-rules/windows")], Mapping::builtin("windows")).unwrap())
}

#[test]
fn every_windows_rule_loads_or_is_rejected_with_a_reason() {
    let d = detector();
    let mut files = 0;
    let mut stack = vec![testdata("sigma-rules/windows")];
    while let Some(p) = stack.pop() {
        for e in std::fs::read_dir(p).unwrap() {
            let p = e.unwrap().path();
            if p.is_dir() {
                stack.push(p);
            } else if p.extension().is_some_and(|x| x == "yml") {
                files += 1;
            }
        }
    }
    println!(
        "{} files: {} rules, {} correlations loaded, {} rejected",
        d.files_read(),
        d.rules().len(),
        d.correlations().len(),
        d.rejections().len()
    );
    for r in d.rejections() {
        println!("rejected: {} ({:?}): {}", r.file, r.title, r.reason);
        assert!(
            !r.reason.trim().is_empty(),
            "{}: rejected without a reason",
            r.file
        );
    }
    assert_eq!(d.files_read(), files);
    // One rule per file: every file is a loaded rule or a rejection.
    assert_eq!(
        d.rules().len() + d.correlations().len() + d.rejections().len(),
        files
    );
    // The counts README.md states.
    assert_eq!(files, 2872);
    assert_eq!(d.rules().len(), 2856);
    assert_eq!(d.correlations().len(), 0);
    assert_eq!(d.rejections().len(), 16);
}

/// The regression events (case folder, 1-based event in its event.json)
/// and every rule of the whole Windows set that alerts on them with all
/// rules loaded. Besides each case's own rule, these rules truly match
/// their event (broader rules of the same family):
/// - 0e8cfe08 (chrome --headless --dump-dom http://...): "Browser
///   Execution In Headless Mode", "File Download From Browser Process Via
///   Inline URL";
/// - 27ba3207 (chrome --load-extension): "Chromium Browser Instance
///   Executed With Custom Extension";
/// - 3c89a1e8 (wmic process call create): "Process Creation Attempt via
///   Wmic.EXE";
/// - 50a0aa3d (python -c with base64): "Python Inline Command Execution",
///   "Potentially Suspicious Windows App Activity" (python from WindowsApps);
/// - 526cc8bc (TaskCache\Tree registry value): "Scheduled Task Created -
///   Registry";
/// - 54773c5f (Advanced Port Scanner): "PUA - Advanced IP Scanner
///   Execution" (its `/portable`, `/lng` flags);
/// - afa71271 (node.exe running a .js file): "NodeJS Execution of
///   JavaScript File";
/// - cd8b36ac (an .exe written by an .exe): "Creation of an Executable by
///   an Executable";
/// - e76ca062 (kdu.exe): "HackTool - UACMe Akagi Execution" (its
///   `-prv`/`-map` flags).
const EXPECTED: &[(&str, usize, &str)] = &[
    ("0e8cfe08", 1, "0e8cfe08-02c9-4815-a2f8-0d157b7ed33e"),
    ("0e8cfe08", 1, "ef9dcfed-690c-4c5d-a9d1-482cd422225c"),
    ("0e8cfe08", 1, "94771a71-ba41-4b6e-a757-b531372eaab6"),
    ("0f60b28c", 1, "0f60b28c-64dd-4e2c-9a63-5334d3e3a6e6"),
    ("13c02350", 1, "13c02350-4177-4e45-ac17-cf7ca628ff5e"),
    ("27ba3207", 1, "27ba3207-dd30-4812-abbf-5d20c57d474e"),
    ("27ba3207", 1, "88d6e60c-759d-4ac1-a447-c0f1466c2d21"),
    ("2b140a5c", 1, "2b140a5c-dc02-4bb8-b6b1-8bdb45714cde"),
    ("2fcda7e2", 1, "2fcda7e2-8c57-4904-86ac-37fc3157e09d"),
    ("33efc23c", 1, "33efc23c-6ea2-4503-8cfe-bdf82ce8f705"),
    ("3c89a1e8", 1, "3c89a1e8-0fba-449e-8f1b-8409d6267ec8"),
    ("3c89a1e8", 1, "526be59f-a573-4eea-b5f7-f0973207634d"),
    ("50a0aa3d", 1, "50a0aa3d-ab16-4594-a8aa-5145a6e6792b"),
    ("50a0aa3d", 1, "899133d5-4d7c-4a7f-94ee-27355c879d90"),
    ("50a0aa3d", 1, "f91ed517-a6ba-471d-9910-b3b4a398c0f3"),
    ("51cbac1e", 1, "51cbac1e-eee3-4a90-b1b7-358efb81fa0a"),
    ("526cc8bc", 1, "526cc8bc-1cdc-48ad-8b26-f19bff969cec"),
    ("526cc8bc", 1, "93ff0ceb-e0ef-4586-8cd8-a6c277d738e3"),
    ("54773c5f", 1, "54773c5f-f1cc-4703-9126-2f797d96a69d"),
    ("54773c5f", 1, "bef37fa2-f205-4a7b-b484-0759bfd5f86f"),
    ("5cdb711b", 1, "5cdb711b-5740-4fb2-ba88-f7945027afac"),
    ("8fbf3271", 1, "8fbf3271-1ef6-4e94-8210-03c2317947f6"),
    ("8fbf3271", 3, "8fbf3271-1ef6-4e94-8210-03c2317947f6"),
    ("8fbf3271", 5, "8fbf3271-1ef6-4e94-8210-03c2317947f6"),
    ("afa71271", 1, "afa71271-6a97-4e47-810f-83120fb1a4ce"),
    ("afa71271", 1, "ba3874b9-0fae-465f-836c-eb5d071a1789"),
    ("c3d76afc", 1, "c3d76afc-93df-461e-8e67-9b2bad3f2ac4"),
    ("cd8b36ac", 1, "cd8b36ac-8e4a-4c2f-a402-a29b8fbd5bca"),
    ("cd8b36ac", 1, "297afac9-5d02-4138-8c58-b977bac60556"),
    ("d7a63acb", 1, "d7a63acb-1284-49bc-bfea-7771146c8b1c"),
    ("e76ca062", 1, "e76ca062-4de0-4d79-8d90-160a0d335eca"),
    ("e76ca062", 1, "d38d2fa4-98e6-4a24-aff1-410b0c9ad177"),
    ("e9b61244", 1, "e9b61244-893f-427c-b287-3e708f321c6b"),
];

fn regression_events() -> Vec<(String, usize, Value)> {
    let mut cases: Vec<PathBuf> = std::fs::read_dir(testdata("sigma-regression"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.join("event.json").exists())
        .collect();
    cases.sort();
    let mut out = Vec::new();
    for c in cases {
        let name = c.file_name().unwrap().to_str().unwrap()[..8].to_string();
        let text = std::fs::read_to_string(c.join("event.json")).unwrap();
        for (k, v) in serde_json::Deserializer::from_str(&text)
            .into_iter::<Value>()
            .enumerate()
        {
            out.push((name.clone(), k + 1, v.unwrap()));
        }
    }
    out
}

/// The fast path on the flat decoding and on serde_json's `Value`, and the
/// brute-force twin: all three must agree.
fn twin(d: &Detector, v: &Value, s: &mut Scratch, tape: &mut JsonTape) -> Vec<usize> {
    let want = d.matching_rules_brute_force(&JsonEvent(v));
    assert_eq!(
        d.matching_rules(&JsonEvent(v), s),
        want,
        "fast path on Value: {v}"
    );
    let line = serde_json::to_string(v).unwrap();
    let t = tape.parse(line.as_bytes()).expect("decoded");
    assert_eq!(d.matching_rules(&t, s), want, "fast path on the tape: {v}");
    want
}

#[test]
fn regression_events_raise_exactly_the_listed_alerts_with_all_rules() {
    let d = detector();
    let mut s = Scratch::default();
    let mut tape = JsonTape::default();
    let mut got = Vec::new();
    for (case, k, v) in regression_events() {
        twin(d, &v, &mut s, &mut tape);
        let line = serde_json::to_string(&v).unwrap();
        let ev = tape.parse(line.as_bytes()).unwrap();
        for h in d.evaluate(&ev, 1, "t", &mut s) {
            got.push((case.clone(), k, h.alert.unwrap().rule_id.to_string()));
        }
    }
    let mut want: Vec<(String, usize, String)> = EXPECTED
        .iter()
        .map(|(c, k, r)| (c.to_string(), *k, r.to_string()))
        .collect();
    got.sort();
    want.sort();
    assert_eq!(got, want);
}

/// Text that a string pattern accepts (wildcards filled in), or a near miss.
fn sample(p: &StrPat, variant: usize) -> String {
    let base = match p {
        StrPat::Exact(s) => s.clone(),
        StrPat::Prefix(s) => format!("{s} tail"),
        StrPat::Suffix(s) => format!("C:\\head {s}"),
        StrPat::Contains(s) => format!("x {s} y"),
        StrPat::Glob(t) => t
            .iter()
            .map(|t| match t {
                GlobTok::Lit(s) => s.as_str(),
                GlobTok::Star => "ab",
                GlobTok::One => "z",
            })
            .collect(),
    };
    match variant % 4 {
        0 => base,
        1 => base.to_uppercase(),
        2 => {
            // One character dropped: usually a near miss.
            let mut c = base.chars();
            c.next();
            c.as_str().to_string()
        }
        _ => base.replace(['k', 'K'], "\u{212A}"),
    }
}

fn value_for(m: &Matcher, variant: usize) -> Option<Value> {
    match m {
        Matcher::Str { pat, .. } => Some(Value::String(sample(pat, variant))),
        Matcher::Num(_, x) => Some(json!(x + (variant as f64 - 1.0))),
        Matcher::Cidr(net) => Some(Value::String(net.addr().to_string())),
        Matcher::Exists(_) => Some(Value::String("present".into())),
        Matcher::Null => Some(Value::Null),
        Matcher::Re(_) | Matcher::FieldRef { .. } => None,
    }
}

fn set(root: &mut Map<String, Value>, path: &str, v: Value) {
    let parts: Vec<&str> = path.split('.').map(|p| if p == "*" { "W" } else { p }).collect();
    let mut cur = root;
    for p in &parts[..parts.len() - 1] {
        let next = cur.entry(p.to_string()).or_insert_with(|| json!({}));
        if !next.is_object() {
            *next = json!({});
        }
        cur = next.as_object_mut().unwrap();
    }
    cur.insert(parts[parts.len() - 1].to_string(), v);
}

/// An event for rule `ri`: its logsource alternative `alt` (so the
/// dispatch lets it through), and for each field of each selection a
/// value from its matchers (picked and varied by `variant`), a field left
/// out when `skip` has its bit; then the fields of `other` on top.
fn event_for(d: &Detector, ri: usize, alt: usize, variant: usize, skip: u64, other: Option<usize>) -> Value {
    let mut root = Map::new();
    let r = &d.rules()[ri];
    if let Some(a) = r.logsource.get(alt % r.logsource.len().max(1)) {
        for (path, values) in a {
            let v = &values[variant % values.len()];
            let v = v
                .parse::<u64>()
                .map(Value::from)
                .unwrap_or_else(|_| Value::String(v.clone()));
            set(&mut root, path, v);
        }
    }
    let mut bit = 0;
    for ri in std::iter::once(ri).chain(other) {
        for sel in &d.rules()[ri].selections {
            match sel {
                Selection::Fields(groups) => {
                    let g = &groups[variant % groups.len()];
                    for f in g {
                        bit += 1;
                        if skip >> (bit % 64) & 1 == 1 {
                            continue;
                        }
                        let alts = &f.values[(variant / 4) % f.values.len()];
                        if let Some(v) = value_for(&alts[variant % alts.len()], variant) {
                            set(&mut root, &f.paths[variant % f.paths.len()], v);
                        }
                    }
                }
                Selection::Keywords { values, .. } => {
                    let alts = &values[variant % values.len()];
                    if let Some(v) = value_for(&alts[0], variant) {
                        set(&mut root, "Event.EventData.Data", v);
                    }
                }
            }
        }
    }
    Value::Object(root)
}

#[test]
fn fast_path_equals_brute_force_on_events_from_every_rule() {
    let d = detector();
    let mut s = Scratch::default();
    let mut tape = JsonTape::default();
    let (mut events, mut matched) = (0, 0);
    for ri in 0..d.rules().len() {
        for alt in 0..d.rules()[ri].logsource.len().clamp(1, 2) {
            for variant in 0..3 {
                let v = event_for(d, ri, alt, variant, 0, None);
                matched += twin(d, &v, &mut s, &mut tape).len();
                events += 1;
            }
        }
    }
    // The events do exercise the rules: many of them match something.
    assert!(matched > events / 4, "{matched} matches over {events} events");
}

/// The prefilter's value memo (what a (path, value) pair unlocked,
/// replayed when the pair comes again) changes nothing: the regression
/// events and events from every rule, three times each through one
/// scratch (marked, kept, replayed), with the default table and with 4
/// slots (pairs keep pushing each other out and share slots), give what
/// the brute-force twin gives.
#[test]
fn fast_path_with_values_seen_before_equals_brute_force() {
    let d = detector();
    let mut lines: Vec<String> = regression_events()
        .iter()
        .map(|(_, _, v)| serde_json::to_string(v).unwrap())
        .collect();
    for ri in (0..d.rules().len()).step_by(3) {
        let v = event_for(d, ri, 0, ri % 3, 0, None);
        lines.push(serde_json::to_string(&v).unwrap());
    }
    let mut tape = JsonTape::default();
    let want: Vec<Vec<usize>> = lines
        .iter()
        .map(|l| d.matching_rules_brute_force(&JsonEvent(&serde_json::from_str(l).unwrap())))
        .collect();
    for slots in [4096, 4] {
        let mut s = Scratch::with_value_memo(slots);
        for round in 0..3 {
            for (l, w) in lines.iter().zip(&want) {
                let ev = tape.parse(l.as_bytes()).expect("decoded");
                assert_eq!(
                    &d.matching_rules(&ev, &mut s),
                    w,
                    "{slots} slots, round {round}: {l}"
                );
            }
        }
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(2000))]

    /// Events mixing two rules' fields, with fields left out and values
    /// varied: the fast path never differs from the brute-force twin.
    #[test]
    fn fast_path_equals_brute_force_on_generated_events(
        a in any::<prop::sample::Index>(),
        b in any::<prop::sample::Index>(),
        alt in 0usize..2,
        variant in 0usize..16,
        skip in any::<u64>(),
        mix in any::<bool>(),
    ) {
        let d = detector();
        let n = d.rules().len();
        let v = event_for(d, a.index(n), alt, variant, skip, mix.then(|| b.index(n)));
        twin(d, &v, &mut Scratch::default(), &mut JsonTape::default());
    }
}

/// The events the CLI reads are decoded into the flat table, not a
/// `Value`: every bundled event is taken by it.
#[test]
fn every_regression_event_takes_the_flat_path() {
    let mut tape = JsonTape::default();
    for (case, k, v) in regression_events() {
        let line = serde_json::to_string(&v).unwrap();
        let t = tape.parse(line.as_bytes());
        assert!(t.is_some(), "{case} event {k}");
        let t = t.unwrap();
        assert_eq!(
            t.get("Event.System.EventID"),
            JsonEvent(&v).get("Event.System.EventID")
        );
    }
}

/// The fields an alert shows, read the slow way: each field's first
/// candidate path present through `Event::get`, as before the fast path
/// read them through the event's resolved paths.
fn matched_slow(d: &Detector, ri: usize, ev: &dyn Event) -> std::collections::BTreeMap<String, String> {
    use logsieve_detect::FieldValue;
    let mut out = std::collections::BTreeMap::new();
    for sel in &d.rules()[ri].selections {
        if let Selection::Fields(groups) = sel {
            for f in groups.iter().flatten() {
                if out.contains_key(&f.field) {
                    continue;
                }
                if let Some(v) = f.paths.iter().find_map(|p| ev.get(p)) {
                    let t = match &v {
                        FieldValue::List(items) => items
                            .iter()
                            .filter_map(|i| i.as_text().map(|t| t.into_owned()))
                            .collect::<Vec<_>>()
                            .join(", "),
                        other => other.as_text().map(|t| t.into_owned()).unwrap_or_default(),
                    };
                    out.insert(f.field.clone(), t);
                }
            }
        }
    }
    out
}

/// `v`'s member at `path`, made (with the objects on the way) if missing.
fn member_at<'v>(v: &'v mut Value, path: &[&str]) -> &'v mut Value {
    path.iter().fold(v, |v, k| {
        if !v.is_object() {
            *v = json!({});
        }
        v.as_object_mut()
            .unwrap()
            .entry(k.to_string())
            .or_insert(Value::Null)
    })
}

/// Alerts read their matched fields and their time through the paths
/// resolved for the fast path: the same as `Event::get` gives (and
/// `Detector::event_time`), on every regression event and on an event
/// built from every rule, with the mapping's two time paths present,
/// absent, both, or the first one not text.
#[test]
fn alert_fields_equal_the_slow_lookup() {
    let d = detector();
    let mut s = Scratch::default();
    let mut tape = JsonTape::default();
    let mut events: Vec<Value> = regression_events().into_iter().map(|(_, _, v)| v).collect();
    for ri in 0..d.rules().len() {
        events.push(event_for(d, ri, 0, 0, 0, None));
    }
    let system = ["Event", "System", "TimeCreated", "#attributes", "SystemTime"];
    let utc = ["Event", "EventData", "UtcTime"];
    for (i, v) in events.iter_mut().enumerate() {
        let at = format!("2026-01-01T00:{:02}:{:02}.5Z", i / 60 % 60, i % 60);
        match i % 5 {
            0 => {}
            1 => *member_at(v, &system) = json!(at),
            2 => *member_at(v, &utc) = json!("2026-01-02 03:04:05.678"),
            3 => {
                *member_at(v, &system) = json!(at);
                *member_at(v, &utc) = json!("2026-01-02 03:04:05.678");
            }
            _ => {
                *member_at(v, &system) = json!(["not", "text"]);
                *member_at(v, &utc) = json!(at);
            }
        }
    }
    let (mut alerts, mut timed) = (0, 0);
    for v in &events {
        let line = serde_json::to_string(v).unwrap();
        let ev = tape.parse(line.as_bytes()).expect("decoded");
        // The slow twin: serde_json's tree, searched path by path.
        let time = d.event_time(&JsonEvent(v));
        for h in d.evaluate(&ev, 1, "t", &mut s) {
            assert_eq!(h.time, time.as_ref().map(|t| t.0), "on {v}");
            assert_eq!(h.timestamp, time.as_ref().map(|t| t.1.as_str().into()), "on {v}");
            let Some(a) = h.alert else { continue };
            assert_eq!(
                a.matched,
                matched_slow(d, h.rule, &ev),
                "rule {} on {v}",
                a.rule_id
            );
            assert_eq!(a.timestamp, h.timestamp, "rule {} on {v}", a.rule_id);
            alerts += 1;
            timed += usize::from(a.timestamp.is_some());
        }
    }
    assert!(
        alerts > events.len() / 4,
        "{alerts} alerts over {} events",
        events.len()
    );
    assert!(timed > alerts / 2, "{timed} of {alerts} alerts have a time");
}

#[test]
fn the_rule_files_load_the_same_on_any_thread_count() {
    let one = detector();
    let options = logsieve_detect::LoadOptions {
        threads: 3,
        ..Default::default()
    };
    let three = Detector::load_with(
        &[testdata("sigma-rules/windows")],
        Mapping::builtin("windows"),
        &options,
    )
    .unwrap();
    let rules = |d: &Detector| {
        d.rules()
            .iter()
            .map(|r| (r.id.clone(), r.file.clone(), r.title.clone(), r.level.clone()))
            .collect::<Vec<_>>()
    };
    let rejected = |d: &Detector| {
        d.rejections()
            .iter()
            .map(|r| (r.file.clone(), r.title.clone(), r.reason.clone()))
            .collect::<Vec<_>>()
    };
    assert!(rules(one).len() > 2_000);
    assert!(rules(&three) == rules(one), "the rules or their order differ");
    assert_eq!(rejected(&three), rejected(one));
    assert_eq!(three.correlations().len(), one.correlations().len());
    assert_eq!(three.filters().len(), one.filters().len());
    assert_eq!(three.files_read(), one.files_read());
    // The prefilter's field scans were built on 3 threads: the fast path
    // still takes exactly the rules the brute-force twin takes.
    let (mut s, mut tape, mut matched) = (Scratch::default(), JsonTape::default(), 0);
    for (_, _, v) in regression_events() {
        matched += twin(&three, &v, &mut s, &mut tape).len();
    }
    for ri in (0..three.rules().len()).step_by(3) {
        let v = event_for(&three, ri, 0, ri % 3, 0, None);
        let got = twin(&three, &v, &mut s, &mut tape);
        assert_eq!(got, twin(one, &v, &mut s, &mut tape));
        matched += got.len();
    }
    // The events do reach rules (as in the test of every rule's events).
    assert!(matched > three.rules().len() / 12, "{matched} matches");
}
