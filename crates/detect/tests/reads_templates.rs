//! `Detector::reads_templates`: which rule sets need template mining in the
//! text pipeline (a field test on `template`, `template_id` or `params`, or
//! a correlation grouping or counting by one) and which do not (fields of
//! the header or message, keyword searches).

use logsieve_detect::Detector;

fn rule(detection: &str) -> String {
    format!("title: t\nid: t1\nname: t1\nlogsource: {{product: linux}}\ndetection:\n{detection}\n")
}

fn reads(yaml: &str) -> bool {
    Detector::from_yaml(yaml, None).unwrap().reads_templates()
}

#[test]
fn header_and_message_fields_need_no_templates() {
    assert!(!reads(&rule(
        "  sel: {message|contains: 'session opened'}\n  condition: sel"
    )));
    assert!(!reads(&rule(
        "  sel: {Component: sshd, Pid: '1'}\n  condition: sel"
    )));
}

#[test]
fn keyword_searches_need_no_templates() {
    assert!(!reads(&rule("  kw: ['Failed password']\n  condition: kw")));
}

#[test]
fn template_fields_need_templates() {
    assert!(reads(&rule(
        "  sel: {template|startswith: 'session opened'}\n  condition: sel"
    )));
    assert!(reads(&rule(
        "  sel: {template_id: 'c3adba8c5dde871a'}\n  condition: sel"
    )));
    assert!(reads(&rule("  sel: {params: root}\n  condition: sel")));
    // One such selection among others is enough.
    assert!(reads(&rule(
        "  a: {message|contains: x}\n  b: {params: root}\n  condition: a or b"
    )));
}

#[test]
fn meta_filters_and_correlations_count_too() {
    let base = rule("  sel: {message|contains: x}\n  condition: sel");
    let filter = "title: f\nid: f1\nlogsource: {product: linux}\nfilter:\n  rules: [t1]\n  selection: {template|contains: y}\n  condition: not selection\n";
    assert!(reads(&format!("{base}---\n{filter}")));
    let corr = |by: &str| {
        format!(
            "{base}---\ntitle: c\nid: c1\ncorrelation:\n  type: event_count\n  rules: [t1]\n  group-by: [{by}]\n  timespan: 1m\n  condition: {{gte: 2}}\n"
        )
    };
    assert!(reads(&corr("template_id")));
    assert!(!reads(&corr("host")));
}
