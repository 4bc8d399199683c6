//! `logsieve detect` on Windows `.evtx` files: every SigmaHQ regression
//! case alerts from its `.evtx` exactly as from its JSON, alone and with all
//! rules loaded.
//!
//! The `.evtx` files are written by `logsieve_evtx::write::to_evtx` from
//! each case's event.json (SigmaHQ's own `.evtx` files are not bundled);
//! `crates/evtx/tests/roundtrip.rs` checks that they read back as the same
//! JSON.

mod detect_common;

use detect_common::{cases, json_events, rule_id, testdata};
use serde_json::Value;
use std::path::Path;
use std::process::Output;

fn run(args: &[String]) -> Output {
    detect_common::run(args)
}

fn alerts(out: &Output) -> Vec<Value> {
    detect_common::alerts(&detect_common::stdout(out))
}

/// The alerts without `source` (the file name differs between the runs).
fn without_source(mut a: Vec<Value>) -> Vec<Value> {
    for x in &mut a {
        x.as_object_mut().unwrap().remove("source");
    }
    a
}

fn s(p: &Path) -> String {
    p.display().to_string()
}

#[test]
fn each_regression_case_alerts_from_evtx_as_from_json() {
    let dir = tempfile::tempdir().unwrap();
    for case in cases() {
        let events = json_events(&case);
        let evtx = dir.path().join("case.evtx");
        std::fs::write(&evtx, logsieve_evtx::write::to_evtx(&events).unwrap()).unwrap();
        // The same events as JSON lines, so that lines and record positions
        // agree.
        let jsonl = dir.path().join("case.jsonl");
        let text: String = events.iter().map(|e| format!("{e}\n")).collect();
        std::fs::write(&jsonl, text).unwrap();
        let rules = s(&case.join("rule.yml"));
        // No --mapping: an .evtx file calls for the windows mapping.
        let from_evtx = run(&["detect".into(), "--rules".into(), rules.clone(), s(&evtx)]);
        let err = String::from_utf8_lossy(&from_evtx.stderr).to_string();
        let a = alerts(&from_evtx);
        assert!(
            a.iter().any(|x| x["rule_id"] == rule_id(&case).as_str()),
            "{} did not alert from .evtx: {err}",
            case.display()
        );
        assert!(
            err.contains("1 rules and 0 correlations loaded, 0 rejected"),
            "{err}"
        );
        assert!(
            err.contains(&format!("{} events (0 malformed)", events.len())),
            "{err}"
        );
        let from_json = alerts(&run(&["detect".into(), "--rules".into(), rules, s(&jsonl)]));
        assert_eq!(without_source(a), without_source(from_json), "{}", case.display());
    }
}

#[test]
fn all_cases_in_one_evtx_with_all_rules_loaded_alert_as_json_does() {
    let dir = tempfile::tempdir().unwrap();
    let mut events = Vec::new();
    let mut expect = Vec::new();
    for case in cases() {
        for e in json_events(&case) {
            events.push(e);
            expect.push(rule_id(&case));
        }
    }
    let evtx = dir.path().join("all.evtx");
    std::fs::write(&evtx, logsieve_evtx::write::to_evtx(&events).unwrap()).unwrap();
    let jsonl = dir.path().join("all.jsonl");
    std::fs::write(
        &jsonl,
        events.iter().map(|e| format!("{e}\n")).collect::<String>(),
    )
    .unwrap();
    let mut args: Vec<String> = vec!["detect".into(), "--rules".into(), s(&testdata("sigma-rules"))];
    for case in cases() {
        args.push("--rules".into());
        args.push(s(&case.join("rule.yml")));
    }
    let with = |input: &Path, threads: &str| {
        let mut a = args.clone();
        a.extend(["--threads".into(), threads.into(), s(input)]);
        alerts(&run(&a))
    };
    let from_evtx = with(&evtx, "1");
    for (i, id) in expect.iter().enumerate() {
        assert!(from_evtx.iter().any(|x| x["rule_id"] == id.as_str()), "{id}");
        if expect.iter().filter(|e| *e == id).count() == 1 {
            let line = i as u64 + 1;
            assert!(
                from_evtx
                    .iter()
                    .any(|x| x["rule_id"] == id.as_str() && x["line"] == line),
                "record {line}: {id}"
            );
        }
    }
    assert_eq!(with(&evtx, "4"), from_evtx, "same alerts whatever --threads");
    assert_eq!(without_source(from_evtx), without_source(with(&jsonl, "1")));
}

#[test]
fn a_damaged_evtx_record_is_counted_and_reported_and_the_rest_alerts() {
    let dir = tempfile::tempdir().unwrap();
    let cases = cases();
    let events: Vec<Value> = cases.iter().take(3).flat_map(|c| json_events(c)).collect();
    let mut bytes = logsieve_evtx::write::to_evtx(&events).unwrap();
    let second = (4096 + 512..bytes.len() - 4)
        .filter(|&i| &bytes[i..i + 4] == b"**\0\0")
        .nth(1)
        .unwrap();
    for b in &mut bytes[second + 24..second + 40] {
        *b = 0xee;
    }
    let evtx = dir.path().join("damaged.evtx");
    std::fs::write(&evtx, bytes).unwrap();
    let mut args: Vec<String> = vec!["detect".into()];
    for case in cases.iter().take(3) {
        args.push("--rules".into());
        args.push(s(&case.join("rule.yml")));
    }
    args.push(s(&evtx));
    let out = run(&args);
    let err = String::from_utf8_lossy(&out.stderr).to_string();
    assert!(err.contains("malformed EVTX record 2"), "{err}");
    assert!(
        err.contains(&format!("{} events (1 malformed)", events.len() - 1)),
        "{err}"
    );
    let a = alerts(&out);
    assert!(a.iter().any(|x| x["rule_id"] == rule_id(&cases[0]).as_str()));
    assert!(a.iter().any(|x| x["rule_id"] == rule_id(&cases[2]).as_str()));
}

#[test]
fn an_evtx_file_on_standard_input_is_read_too() {
    let case = &cases()[0];
    let bytes = logsieve_evtx::write::to_evtx(&json_events(case)).unwrap();
    let out = detect_common::run_stdin(&["detect", "--rules", &s(&case.join("rule.yml")), "-"], &bytes);
    let a = alerts(&out);
    assert!(a.iter().any(|x| x["rule_id"] == rule_id(case).as_str()), "{a:?}");
}

#[test]
fn a_broken_evtx_file_fails_alone_and_the_other_inputs_are_read() {
    let dir = tempfile::tempdir().unwrap();
    let case = &cases()[0];
    let good = dir.path().join("good.evtx");
    std::fs::write(&good, logsieve_evtx::write::to_evtx(&json_events(case)).unwrap()).unwrap();
    // The magic, then nothing an EVTX reader can use.
    let bad = dir.path().join("bad.evtx");
    std::fs::write(&bad, b"ElfFile\0 and then not a header at all").unwrap();
    let out = run(&[
        "detect".into(),
        "--rules".into(),
        s(&case.join("rule.yml")),
        s(&bad),
        s(&good),
    ]);
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr).to_string();
    assert!(err.contains("bad.evtx: not a Windows event log"), "{err}");
    let a: Vec<Value> = String::from_utf8_lossy(&out.stdout)
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert!(a.iter().any(|x| x["rule_id"] == rule_id(case).as_str()), "{a:?}");
}
