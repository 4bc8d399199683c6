//! `logsieve detect` on Windows `.evtx` files: every SigmaHQ regression
//! case alerts from its native `.evtx` (SigmaHQ's original file, bundled as
//! testdata/sigma-regression/<case>/event.evtx) exactly as from its
//! event.json, alone and with all rules loaded: the same rules on the same
//! events, with the same fields matched.
//!
//! The matched values and the timestamp are compared by name only: the
//! native decode renders GUIDs, `SystemTime` and trailing spaces as Windows
//! does and SigmaHQ's JSON does not (`crates/evtx/tests/native.rs` checks
//! that those are the only differences). The damaged-record test writes its
//! file with `logsieve_evtx::write::to_evtx`, which can break a record at a
//! known place.

mod detect_common;

use detect_common::{cases, json_events, rule_id, testdata};
use serde_json::Value;
use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::process::Output;

fn run(args: &[String]) -> Output {
    detect_common::run(args)
}

fn alerts(out: &Output) -> Vec<Value> {
    detect_common::alerts(&detect_common::stdout(out))
}

fn s(p: &Path) -> String {
    p.display().to_string()
}

fn native(case: &Path) -> PathBuf {
    case.join("event.evtx")
}

/// An alert as compared between the runs: the case it came from (the
/// input's folder or file stem), rule, title, level, record position or
/// line, and the names of the fields it matched.
fn key(alert: &Value) -> String {
    let source = Path::new(alert["source"].as_str().unwrap());
    let case = if source.extension().is_some_and(|e| e == "evtx") {
        source.parent().unwrap().file_name().unwrap()
    } else {
        source.file_stem().unwrap()
    };
    let matched: Vec<&String> = alert["matched"].as_object().unwrap().keys().collect();
    format!(
        "{} {} {} {} line {} matched {matched:?}",
        case.to_string_lossy(),
        alert["rule_id"],
        alert["title"],
        alert["level"],
        alert["line"]
    )
}

fn keys(alerts: &[Value]) -> BTreeSet<String> {
    alerts.iter().map(key).collect()
}

/// Writes the case's events as JSON lines, `dir/<case>.jsonl`, so that
/// lines and record positions agree (some event.json files hold several
/// pretty-printed events).
fn jsonl(dir: &Path, case: &Path) -> String {
    let name = format!("{}.jsonl", case.file_name().unwrap().to_string_lossy());
    let text: String = json_events(case).iter().map(|e| format!("{e}\n")).collect();
    detect_common::write(dir, &name, &text)
}

#[test]
fn each_regression_case_alerts_from_its_native_evtx_as_from_its_json() {
    let dir = tempfile::tempdir().unwrap();
    let cases = cases();
    assert_eq!(cases.len(), 20);
    for case in cases {
        let n = json_events(&case).len();
        let rules = s(&case.join("rule.yml"));
        // No --mapping: an .evtx file calls for the windows mapping.
        let from_evtx = run(&[
            "detect".into(),
            "--rules".into(),
            rules.clone(),
            s(&native(&case)),
        ]);
        let err = detect_common::stderr(&from_evtx);
        let a = alerts(&from_evtx);
        assert!(
            a.iter().any(|x| x["rule_id"] == rule_id(&case).as_str()),
            "{} did not alert from its .evtx: {err}",
            case.display()
        );
        detect_common::assert_stderr_has(&from_evtx, "1 rules and 0 correlations loaded, 0 rejected");
        detect_common::assert_stderr_has(&from_evtx, &format!("{n} events (0 malformed)"));
        let from_json = alerts(&run(&[
            "detect".into(),
            "--rules".into(),
            rules,
            jsonl(dir.path(), &case),
        ]));
        assert_eq!(a.len(), from_json.len(), "{}", case.display());
        assert_eq!(keys(&a), keys(&from_json), "{}", case.display());
    }
}

#[test]
fn all_native_evtx_files_with_all_rules_loaded_alert_as_their_json_does() {
    let dir = tempfile::tempdir().unwrap();
    let cases = cases();
    let mut args: Vec<String> = vec!["detect".into(), "--rules".into(), s(&testdata("sigma-rules"))];
    for case in &cases {
        args.push("--rules".into());
        args.push(s(&case.join("rule.yml")));
    }
    let with = |inputs: Vec<String>, threads: &str| {
        let mut a = args.clone();
        a.extend(["--threads".into(), threads.into()]);
        a.extend(inputs);
        let out = run(&a);
        detect_common::assert_stderr_has(&out, "25 events (0 malformed)");
        alerts(&out)
    };
    let from_evtx = with(cases.iter().map(|c| s(&native(c))).collect(), "1");
    let from_json = with(cases.iter().map(|c| jsonl(dir.path(), c)).collect(), "1");
    for case in &cases {
        let name = case.file_name().unwrap().to_string_lossy();
        let id = rule_id(case);
        assert!(
            keys(&from_evtx)
                .iter()
                .any(|k| k.starts_with(&format!("{name} \"{id}\""))),
            "{name}: its own rule did not alert from its .evtx"
        );
    }
    assert_eq!(from_evtx.len(), from_json.len());
    assert_eq!(keys(&from_evtx), keys(&from_json));
    let four = with(cases.iter().map(|c| s(&native(c))).collect(), "4");
    assert_eq!(four, from_evtx, "same alerts whatever --threads");
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
    let bytes = std::fs::read(native(case)).unwrap();
    let out = detect_common::run_stdin(&["detect", "--rules", &s(&case.join("rule.yml")), "-"], &bytes);
    let a = alerts(&out);
    assert!(a.iter().any(|x| x["rule_id"] == rule_id(case).as_str()), "{a:?}");
}

#[test]
fn a_broken_evtx_file_fails_alone_and_the_other_inputs_are_read() {
    let dir = tempfile::tempdir().unwrap();
    let case = &cases()[0];
    let good = native(case);
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
