//! The SigmaHQ regression cases: each rule must alert on its Windows event
//! with the built-in `windows` mapping, alone and with all rules loaded.

use logsieve_detect::{Detector, JsonEvent, Mapping, Scratch};
use std::path::{Path, PathBuf};

fn cases() -> Vec<PathBuf> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../testdata/sigma-regression");
    let mut v: Vec<PathBuf> = std::fs::read_dir(&root)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.join("rule.yml").exists())
        .collect();
    v.sort();
    v
}

fn events(case: &Path) -> Vec<serde_json::Value> {
    let text = std::fs::read_to_string(case.join("event.json")).unwrap();
    serde_json::Deserializer::from_str(&text)
        .into_iter()
        .map(|v| v.unwrap())
        .collect()
}

fn rule_id(case: &Path) -> String {
    let y: serde_yaml::Value =
        serde_yaml::from_str(&std::fs::read_to_string(case.join("rule.yml")).unwrap()).unwrap();
    y["id"].as_str().unwrap().to_string()
}

#[test]
fn each_case_alone() {
    let cases = cases();
    assert_eq!(cases.len(), 20);
    for case in &cases {
        let d = Detector::load(&[case.join("rule.yml")], Mapping::builtin("windows")).unwrap();
        assert!(
            d.rejections().is_empty(),
            "{}: {:?}",
            case.display(),
            d.rejections()
        );
        let mut s = Scratch::default();
        let fired = events(case).iter().any(|e| {
            d.evaluate(&JsonEvent(e), 1, "event.json", &mut s)
                .iter()
                .any(|h| h.alert.is_some())
        });
        assert!(fired, "{} did not alert", case.display());
    }
}

#[test]
fn all_rules_over_all_events_point_at_the_right_line() {
    let cases = cases();
    let d = Detector::load(
        &cases.iter().map(|c| c.join("rule.yml")).collect::<Vec<_>>(),
        Mapping::builtin("windows"),
    )
    .unwrap();
    assert_eq!(d.rules().len(), 20);
    let mut s = Scratch::default();
    let mut line = 0u64;
    for case in &cases {
        let want = rule_id(case);
        let mut fired = false;
        for e in events(case) {
            line += 1;
            for h in d.evaluate(&JsonEvent(&e), line, "all.jsonl", &mut s) {
                let a = h.alert.unwrap();
                assert_eq!(a.line, line);
                fired |= *a.rule_id == *want;
            }
        }
        assert!(fired, "{want} did not alert among all rules");
    }
}
