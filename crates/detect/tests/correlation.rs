//! Correlations decided at window end (`lt`, `lte`, `eq`, ranges) with
//! `flush`, aliases, temporal with a minimum, and the group cap.

use logsieve_detect::{correlation::MAX_GROUPS, Alert, Correlator, Detector, JsonEvent, Scratch};
use serde_json::json;

const BASE: &str = r#"
title: login
id: base-login
name: login
logsource: {product: test}
detection:
  sel: {action: login}
  condition: sel
---
title: download
id: base-dl
name: download
logsource: {product: test}
detection:
  sel: {action: download}
  condition: sel
---
title: exec
id: base-exec
name: exec
logsource: {product: test}
detection:
  sel: {action: exec}
  condition: sel
"#;

fn detector(corr: &str) -> Detector {
    let d = Detector::from_yaml(&format!("{BASE}---\n{corr}"), None).unwrap();
    assert!(d.rejections().is_empty(), "{:?}", d.rejections());
    assert_eq!(d.correlations().len(), 1);
    d
}

/// Runs events `(seconds, fields)` and returns (alerts during the stream,
/// alerts from flush).
fn run(d: &Detector, events: &[(u64, serde_json::Value)]) -> (Vec<Alert>, Vec<Alert>) {
    let mut c = Correlator::new(d);
    let mut s = Scratch::default();
    let mut during = Vec::new();
    for (i, (t, fields)) in events.iter().enumerate() {
        let mut e = fields.clone();
        e["timestamp"] = json!(format!("2025-01-01T00:{:02}:{:02}Z", t / 60, t % 60));
        for h in d.evaluate(&JsonEvent(&e), i as u64 + 1, "s", &mut s) {
            during.extend(c.feed(d, &h, i as u64 + 1, "s"));
        }
    }
    (during, c.flush(d))
}

#[test]
fn lt_is_decided_at_window_end_and_by_flush() {
    let d = detector(
        "title: rare login\nid: c\nlevel: low\ncorrelation:\n  type: event_count\n  rules: [login]\n  group-by: [user]\n  timespan: 1m\n  condition: {lt: 3}\n",
    );
    let (during, flushed) = run(
        &d,
        &[
            (0, json!({"action": "login", "user": "bob"})),
            (10, json!({"action": "login", "user": "amy"})),
            (20, json!({"action": "login", "user": "amy"})),
            (30, json!({"action": "login", "user": "amy"})),
            // 70s: bob's window (0..60) ended with 1 login (< 3): fires now;
            // amy's (10..70) is still open.
            (70, json!({"action": "login", "user": "carl"})),
        ],
    );
    assert_eq!(during.len(), 1, "{during:?}");
    assert_eq!(during[0].group.as_ref().unwrap()["user"], "bob");
    assert_eq!(during[0].lines.as_deref(), Some(&[1][..]));
    // At the end: amy had 3 (not < 3), carl had 1.
    assert_eq!(flushed.len(), 1, "{flushed:?}");
    assert_eq!(flushed[0].group.as_ref().unwrap()["user"], "carl");
    assert_eq!(flushed[0].line, 5);
    assert_eq!(flushed[0].timestamp.as_deref(), Some("2025-01-01T00:01:10Z"));
}

#[test]
fn eq_and_ranges_wait_for_the_window_to_end() {
    let d = detector(
        "title: exactly two\nid: c\ncorrelation:\n  type: event_count\n  rules: [login]\n  group-by: [user]\n  timespan: 1m\n  condition: {gte: 2, lte: 2}\n",
    );
    let (during, flushed) = run(
        &d,
        &[
            (0, json!({"action": "login", "user": "bob"})),
            (5, json!({"action": "login", "user": "bob"})),
            (6, json!({"action": "login", "user": "amy"})),
            (7, json!({"action": "login", "user": "amy"})),
            (8, json!({"action": "login", "user": "amy"})),
        ],
    );
    assert!(during.is_empty());
    assert_eq!(flushed.len(), 1);
    assert_eq!(flushed[0].group.as_ref().unwrap()["user"], "bob");
    assert_eq!(flushed[0].lines.as_deref(), Some(&[1, 2][..]));

    let d = detector(
        "title: eq\nid: c\ncorrelation:\n  type: event_count\n  rules: [login]\n  group-by: [user]\n  timespan: 1m\n  condition: {eq: 3}\n",
    );
    let (during, flushed) = run(
        &d,
        &[
            (0, json!({"action": "login", "user": "amy"})),
            (1, json!({"action": "login", "user": "amy"})),
            (2, json!({"action": "login", "user": "amy"})),
        ],
    );
    assert!(during.is_empty());
    assert_eq!(flushed.len(), 1);
}

#[test]
fn aliases_group_different_fields_of_different_rules() {
    let d = detector(
        r#"title: login then download from the same host
id: c
correlation:
  type: temporal
  rules: [login, download]
  group-by: [host]
  timespan: 1m
  aliases:
    host:
      login: src_host
      download: dst_host
"#,
    );
    let (during, _) = run(
        &d,
        &[
            (0, json!({"action": "login", "src_host": "h1"})),
            (5, json!({"action": "download", "dst_host": "h2"})),
            (9, json!({"action": "download", "dst_host": "h1"})),
        ],
    );
    assert_eq!(during.len(), 1, "{during:?}");
    assert_eq!(during[0].group.as_ref().unwrap()["host"], "h1");
    assert_eq!(during[0].lines.as_deref(), Some(&[1, 3][..]));
}

#[test]
fn temporal_with_a_minimum_number_of_rules() {
    let d = detector(
        "title: two of three\nid: c\ncorrelation:\n  type: temporal\n  rules: [login, download, exec]\n  group-by: [user]\n  timespan: 1m\n  condition: {gte: 2}\n",
    );
    let (during, _) = run(
        &d,
        &[
            (0, json!({"action": "login", "user": "u"})),
            (1, json!({"action": "login", "user": "u"})),
            (2, json!({"action": "exec", "user": "u"})),
        ],
    );
    assert_eq!(during.len(), 1);
    assert_eq!(during[0].line, 3);
    // temporal_ordered with a condition other than "all" is rejected.
    let y = format!(
        "{BASE}---\ntitle: x\nid: c\ncorrelation:\n  type: temporal_ordered\n  rules: [login, exec]\n  timespan: 1m\n  condition: {{lt: 2}}\n"
    );
    let d = Detector::from_yaml(&y, None).unwrap();
    assert!(
        d.rejections()[0].reason.contains("temporal_ordered"),
        "{:?}",
        d.rejections()
    );
}

#[test]
fn temporal_ordered_needs_the_order() {
    let d = detector(
        "title: login then exec\nid: c\ncorrelation:\n  type: temporal_ordered\n  rules: [login, exec]\n  group-by: [user]\n  timespan: 1m\n",
    );
    let (during, _) = run(
        &d,
        &[
            (0, json!({"action": "exec", "user": "u"})),
            (1, json!({"action": "login", "user": "u"})),
            (2, json!({"action": "login", "user": "v"})),
            (3, json!({"action": "exec", "user": "v"})),
        ],
    );
    assert_eq!(during.len(), 1);
    assert_eq!(during[0].group.as_ref().unwrap()["user"], "v");
    assert_eq!(during[0].lines.as_deref(), Some(&[3, 4][..]));
}

#[test]
fn group_state_is_capped_and_evictions_counted() {
    let d = detector(
        "title: many\nid: c\ncorrelation:\n  type: event_count\n  rules: [login]\n  group-by: [user]\n  timespan: 1h\n  condition: {gte: 2}\n",
    );
    let mut c = Correlator::new(&d);
    let mut s = Scratch::default();
    let n = MAX_GROUPS + MAX_GROUPS / 5;
    for i in 0..n {
        let e = json!({"action": "login", "user": format!("u{i}"), "timestamp": 1_700_000_000 + (i as u64 / 1000)});
        for h in d.evaluate(&JsonEvent(&e), i as u64 + 1, "s", &mut s) {
            assert!(c.feed(&d, &h, i as u64 + 1, "s").is_empty());
        }
    }
    assert!(c.groups() <= MAX_GROUPS, "{}", c.groups());
    assert!(c.evicted > 0);
    assert_eq!(c.groups() as u64 + c.evicted, n as u64);
}

#[test]
fn hits_without_time_are_counted_not_windowed() {
    let d = detector(
        "title: c\nid: c\ncorrelation:\n  type: event_count\n  rules: [login]\n  timespan: 1m\n  condition: {gte: 1}\n",
    );
    let mut c = Correlator::new(&d);
    let e = json!({"action": "login"});
    for h in d.evaluate(&JsonEvent(&e), 1, "s", &mut Scratch::default()) {
        assert!(c.feed(&d, &h, 1, "s").is_empty());
    }
    assert_eq!(c.untimed, 1);
}
