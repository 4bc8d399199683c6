//! Sigma features beyond plain rules and counting correlations, each from
//! the specification's semantics: meta filters, value_sum / value_avg /
//! value_median / value_percentile correlations, chained correlations, and
//! the `expand` modifier with placeholder values.

use logsieve_detect::{Alert, Correlator, Detector, JsonEvent, LoadOptions, Placeholders, Scratch};
use serde_json::{json, Value};

const BASE: &str = r#"
title: login
id: base-login
name: login
logsource: {product: test}
detection:
  sel: {action: login}
  condition: sel
---
title: failed login
id: base-failed
name: failed_login
logsource: {product: test}
detection:
  sel: {action: failed}
  condition: sel
---
title: transfer
id: base-transfer
name: transfer
logsource: {product: test}
detection:
  sel: {action: transfer}
  condition: sel
"#;

fn load(extra: &str) -> Detector {
    Detector::from_yaml(&format!("{BASE}---\n{extra}"), None).unwrap()
}

/// Runs events `(seconds, fields)`; returns every alert (during the stream,
/// then from flush).
fn run(d: &Detector, events: &[(u64, Value)]) -> Vec<Alert> {
    let mut c = Correlator::new(d);
    let mut s = Scratch::default();
    let mut out = Vec::new();
    for (i, (t, fields)) in events.iter().enumerate() {
        let mut e = fields.clone();
        e["timestamp"] = json!(format!(
            "2025-01-01T{:02}:{:02}:{:02}Z",
            t / 3600,
            t / 60 % 60,
            t % 60
        ));
        for h in d.evaluate(&JsonEvent(&e), i as u64 + 1, "s", &mut s) {
            out.extend(h.alert.clone());
            out.extend(c.feed(d, &h, i as u64 + 1, "s"));
        }
    }
    out.extend(c.flush(d));
    out
}

fn ids(a: &[Alert]) -> Vec<&str> {
    a.iter().map(|a| a.rule_id.as_ref()).collect()
}

// --- meta filters -------------------------------------------------------

const FILTER: &str = r#"
title: admins log in all day
id: filter-admins
logsource: {product: test}
filter:
  rules: [base-login, failed_login]
  selection:
    user|startswith: adm_
  condition: selection
"#;

#[test]
fn a_filter_suppresses_the_rules_it_names_when_it_holds() {
    let d = load(FILTER);
    assert!(d.rejections().is_empty(), "{:?}", d.rejections());
    assert_eq!(d.filters().len(), 1);
    let a = run(
        &d,
        &[
            (0, json!({"action": "login", "user": "adm_bob"})),
            (1, json!({"action": "login", "user": "alice"})),
            (2, json!({"action": "failed", "user": "adm_bob"})),
            (3, json!({"action": "transfer", "user": "adm_bob"})),
        ],
    );
    // login by adm_ filtered (by id), failed by adm_ filtered (by name),
    // transfer is not named by the filter.
    assert_eq!(ids(&a), ["base-login", "base-transfer"]);
    assert_eq!(a[0].line, 2);
}

#[test]
fn a_filtered_hit_does_not_count_towards_correlations_either() {
    let d = load(&format!(
        "{FILTER}---\ntitle: two logins\nid: c\ncorrelation:\n  type: event_count\n  rules: [login]\n  group-by: [host]\n  timespan: 1m\n  condition: {{gte: 2}}\n"
    ));
    assert!(d.rejections().is_empty(), "{:?}", d.rejections());
    let two_admins = run(
        &d,
        &[
            (0, json!({"action": "login", "user": "adm_a", "host": "h"})),
            (1, json!({"action": "login", "user": "adm_b", "host": "h"})),
        ],
    );
    assert!(two_admins.is_empty(), "{two_admins:?}");
    let two_users = run(
        &d,
        &[
            (0, json!({"action": "login", "user": "a", "host": "h"})),
            (1, json!({"action": "login", "user": "b", "host": "h"})),
        ],
    );
    assert_eq!(ids(&two_users), ["c"]);
}

#[test]
fn a_filter_whose_rules_are_not_loaded_is_rejected_with_the_reason() {
    let d = load("title: f\nid: f\nlogsource: {product: test}\nfilter:\n  rules: [nope]\n  sel: {user: x}\n  condition: sel\n");
    assert_eq!(d.filters().len(), 0);
    let r = &d.rejections()[0];
    assert!(r.reason.contains("none of which is loaded"), "{}", r.reason);
    let d =
        load("title: f\nid: f\nlogsource: {product: test}\nfilter:\n  sel: {user: x}\n  condition: sel\n");
    assert!(d.rejections()[0].reason.contains("filter without `rules`"));
}

#[test]
fn filters_agree_between_prefiltered_and_brute_force_matching() {
    let d = load(FILTER);
    let mut s = Scratch::default();
    for ev in [
        json!({"action": "login", "user": "adm_x"}),
        json!({"action": "login", "user": "x"}),
        json!({"action": "failed", "user": "ADM_x"}),
        json!({"action": "failed"}),
        json!({"action": "transfer", "user": "adm_"}),
    ] {
        assert_eq!(
            d.matching_rules(&JsonEvent(&ev), &mut s),
            d.matching_rules_brute_force(&JsonEvent(&ev)),
            "{ev}"
        );
    }
}

// --- value_sum / value_avg / value_median / value_percentile ------------

fn metric(kind: &str, cond: &str) -> Detector {
    let d = load(&format!(
        "title: bytes\nid: m\nlevel: high\ncorrelation:\n  type: {kind}\n  rules: [transfer]\n  group-by: [user]\n  timespan: 1h\n  condition: {cond}\n"
    ));
    assert!(d.rejections().is_empty(), "{:?}", d.rejections());
    d
}

fn transfers(user: &str, bytes: &[Value]) -> Vec<(u64, Value)> {
    bytes
        .iter()
        .enumerate()
        .map(|(i, b)| {
            (
                i as u64 * 60,
                json!({"action": "transfer", "user": user, "bytes": b}),
            )
        })
        .collect()
}

#[test]
fn value_sum_adds_the_field_and_is_decided_at_window_end() {
    let d = metric("value_sum", "{field: bytes, gt: 100}");
    // 40 + 50 + "20" (numeric text) = 110 > 100; a value that is not a
    // number adds nothing.
    let a = run(
        &d,
        &transfers("bob", &[json!(40), json!(50), json!("x"), json!("20")]),
    );
    let corr: Vec<&Alert> = a.iter().filter(|a| &*a.rule_id == "m").collect();
    assert_eq!(corr.len(), 1, "{a:?}");
    assert_eq!(corr[0].correlation.as_deref(), Some("value_sum"));
    assert_eq!(corr[0].lines.as_deref(), Some(&[1, 2, 3, 4][..]));
    let a = run(&d, &transfers("bob", &[json!(40), json!(50)]));
    assert!(a.iter().all(|a| &*a.rule_id != "m"), "90 is not > 100");
}

#[test]
fn value_avg_median_and_percentile_compare_the_statistic() {
    let vals = [json!(1), json!(2), json!(3), json!(4), json!(100)];
    let fired = |kind: &str, cond: &str| {
        run(&metric(kind, cond), &transfers("u", &vals))
            .iter()
            .any(|a| &*a.rule_id == "m")
    };
    // mean 22, median 3, 75th percentile 4 (linear between ranks), 90th
    // percentile 4 + 0.6 * 96 = 61.6.
    assert!(fired("value_avg", "{field: bytes, eq: 22}"));
    assert!(!fired("value_avg", "{field: bytes, lt: 22}"));
    assert!(fired("value_median", "{field: bytes, eq: 3}"));
    assert!(fired("value_median", "{field: bytes, lte: 3}"));
    assert!(!fired("value_median", "{field: bytes, gt: 3}"));
    assert!(fired("value_percentile", "{field: bytes, percentile: 75, eq: 4}"));
    assert!(fired(
        "value_percentile",
        "{field: bytes, percentile: 90, gt: 61.5, lt: 61.7}"
    ));
    assert!(fired("value_percentile", "{field: bytes, percentile: 0, eq: 1}"));
    assert!(fired(
        "value_percentile",
        "{field: bytes, percentile: 100, eq: 100}"
    ));
}

#[test]
fn a_median_of_an_even_count_is_the_mean_of_the_middle_two() {
    let d = metric("value_median", "{field: bytes, eq: 2.5}");
    let a = run(&d, &transfers("u", &[json!(4), json!(1), json!(3), json!(2)]));
    assert!(a.iter().any(|a| &*a.rule_id == "m"), "{a:?}");
}

#[test]
fn metric_correlations_group_by_and_window() {
    let d = metric("value_sum", "{field: bytes, gte: 10}");
    let mut evs = transfers("a", &[json!(5), json!(5)]);
    evs.extend(transfers("b", &[json!(5)]));
    // A third transfer for `a` two hours later opens a new window.
    evs.push((7200, json!({"action": "transfer", "user": "a", "bytes": 5})));
    let a = run(&d, &evs);
    let corr: Vec<&Alert> = a.iter().filter(|a| &*a.rule_id == "m").collect();
    assert_eq!(corr.len(), 1, "{corr:?}");
    assert_eq!(corr[0].group.as_ref().unwrap()["user"], "a");
}

#[test]
fn metric_correlations_without_their_parameters_are_rejected() {
    for (kind, cond, why) in [
        ("value_sum", "{gt: 1}", "value_sum needs `condition.field`"),
        ("value_avg", "{field: bytes}", "value_avg needs a condition"),
        (
            "value_percentile",
            "{field: bytes, gt: 1}",
            "needs `condition.percentile`",
        ),
        (
            "value_percentile",
            "{field: bytes, percentile: 101, gt: 1}",
            "from 0 to 100",
        ),
    ] {
        let d = load(&format!(
            "title: x\nid: x\ncorrelation:\n  type: {kind}\n  rules: [transfer]\n  timespan: 1h\n  condition: {cond}\n"
        ));
        assert!(d.correlations().is_empty());
        assert!(
            d.rejections()[0].reason.contains(why),
            "{}",
            d.rejections()[0].reason
        );
    }
}

// --- chained correlations -----------------------------------------------

/// The specification's example: many failed logins followed by a
/// successful login of the same user.
const CHAIN: &str = r#"
title: many failed logins then a login
id: outer
level: high
correlation:
  type: temporal_ordered
  rules: [many_failed, login]
  group-by: [user]
  timespan: 10m
---
title: many failed logins
id: inner
name: many_failed
correlation:
  type: event_count
  rules: [failed_login]
  group-by: [user]
  timespan: 10m
  condition: {gte: 3}
"#;

#[test]
fn a_correlation_over_a_correlation_fires_on_its_alerts() {
    let d = load(CHAIN);
    assert!(d.rejections().is_empty(), "{:?}", d.rejections());
    let failed = |t: u64, u: &str| (t, json!({"action": "failed", "user": u}));
    let login = |t: u64, u: &str| (t, json!({"action": "login", "user": u}));
    let a = run(
        &d,
        &[
            failed(0, "bob"),
            failed(10, "bob"),
            failed(20, "eve"),
            failed(30, "bob"),
            login(40, "eve"),
            login(50, "bob"),
        ],
    );
    // The inner correlation is referred to without `generate`, so only the
    // outer one alerts; `login` is referred to as well, so it is silent too.
    let outer: Vec<&Alert> = a.iter().filter(|a| &*a.rule_id == "outer").collect();
    assert_eq!(ids(&a), ["outer"], "{a:?}");
    assert_eq!(outer[0].group.as_ref().unwrap()["user"], "bob");
    assert_eq!(outer[0].line, 6);
    // Lines: the inner alert's (its last event, line 4), then the login.
    assert_eq!(outer[0].lines.as_deref(), Some(&[4, 6][..]));
    // The login before the failures does not complete the order.
    let a = run(
        &d,
        &[
            login(0, "bob"),
            failed(1, "bob"),
            failed(2, "bob"),
            failed(3, "bob"),
        ],
    );
    assert!(a.is_empty(), "{a:?}");
}

#[test]
fn generate_keeps_the_inner_correlations_alerts() {
    // `generate` on the outer correlation: what it refers to (the inner
    // correlation and the login rule) alert on their own too.
    let d = load(&CHAIN.replace("level: high\n", "level: high\ngenerate: true\n"));
    let a = run(
        &d,
        &[
            (0, json!({"action": "failed", "user": "bob"})),
            (1, json!({"action": "failed", "user": "bob"})),
            (2, json!({"action": "failed", "user": "bob"})),
            (3, json!({"action": "login", "user": "bob"})),
        ],
    );
    assert_eq!(ids(&a), ["inner", "base-login", "outer"]);
}

#[test]
fn a_chain_decided_at_window_end_is_flushed_after_what_it_refers_to() {
    // Inner: fewer than 2 transfers per user in the window (decided at
    // window end); outer: at least 2 such quiet users in the hour.
    let d = load(
        "title: quiet users\nid: outer\ncorrelation:\n  type: event_count\n  rules: [quiet]\n  group-by: []\n  timespan: 1h\n  condition: {gte: 2}\n---\ntitle: quiet\nid: inner\nname: quiet\ncorrelation:\n  type: event_count\n  rules: [transfer]\n  group-by: [user]\n  timespan: 1m\n  condition: {lt: 2}\n",
    );
    assert!(d.rejections().is_empty(), "{:?}", d.rejections());
    let a = run(
        &d,
        &[
            (0, json!({"action": "transfer", "user": "a"})),
            (1, json!({"action": "transfer", "user": "b"})),
            (2, json!({"action": "transfer", "user": "c"})),
            (3, json!({"action": "transfer", "user": "c"})),
        ],
    );
    assert_eq!(ids(&a), ["outer"], "{a:?}");
}

#[test]
fn chains_that_loop_or_name_nothing_are_rejected() {
    let d = load(
        "title: a\nid: ca\nname: ca\ncorrelation:\n  type: event_count\n  rules: [cb]\n  timespan: 1m\n  condition: {gte: 1}\n---\ntitle: b\nid: cb\nname: cb\ncorrelation:\n  type: event_count\n  rules: [ca]\n  timespan: 1m\n  condition: {gte: 1}\n---\ntitle: c\nid: cc\ncorrelation:\n  type: event_count\n  rules: [ca]\n  timespan: 1m\n  condition: {gte: 1}\n",
    );
    assert!(d.correlations().is_empty(), "{:?}", d.correlations());
    let reasons: Vec<&str> = d.rejections().iter().map(|r| r.reason.as_str()).collect();
    assert_eq!(reasons.len(), 3, "{reasons:?}");
    assert!(
        reasons.iter().filter(|r| r.contains("loops back")).count() == 2,
        "{reasons:?}"
    );
    assert!(
        reasons.iter().any(|r| r.contains("refers to rule `ca`")),
        "{reasons:?}"
    );
}

// --- expand ---------------------------------------------------------------

const EXPAND: &str = r#"
title: admin tool from an admin share
id: ex
logsource: {product: test}
detection:
  sel:
    path|expand|startswith: '//%servers%/%shares%/'
  condition: sel
"#;

fn placeholders(pairs: &[(&str, &[&str])]) -> LoadOptions {
    let placeholders: Placeholders = pairs
        .iter()
        .map(|(k, v)| (k.to_string(), v.iter().map(|s| s.to_string()).collect()))
        .collect();
    LoadOptions {
        placeholders,
        ..Default::default()
    }
}

#[test]
fn expand_replaces_each_placeholder_with_each_of_its_values() {
    let ph = placeholders(&[("servers", &["dc1", "dc2"]), ("shares", &["admin$", "c$"])]);
    let d = Detector::from_yaml_with(EXPAND, None, &ph).unwrap();
    assert!(d.rejections().is_empty(), "{:?}", d.rejections());
    let mut s = Scratch::default();
    let mut hit = |p: &str| {
        !d.evaluate(&JsonEvent(&json!({"path": p})), 1, "s", &mut s)
            .is_empty()
    };
    assert!(hit("//dc1/admin$/tool.exe"));
    assert!(hit("//DC2/C$/x"));
    assert!(!hit("//dc3/admin$/x"));
    assert!(!hit("//dc1/d$/x"));
    assert!(!hit("//%servers%/%shares%/x"));
}

#[test]
fn a_placeholder_without_values_rejects_the_rule_with_that_reason() {
    let d = Detector::from_yaml_with(EXPAND, None, &placeholders(&[("servers", &["dc1"])])).unwrap();
    assert!(d.rules().is_empty());
    assert!(
        d.rejections()[0]
            .reason
            .contains("placeholder `%shares%` has no value"),
        "{}",
        d.rejections()[0].reason
    );
    let d = Detector::from_yaml_with(
        EXPAND,
        None,
        &placeholders(&[("servers", &["dc1"]), ("shares", &[])]),
    )
    .unwrap();
    assert!(
        d.rejections()[0].reason.contains("empty list"),
        "{}",
        d.rejections()[0].reason
    );
}
