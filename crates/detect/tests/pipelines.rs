//! pySigma-style processing pipelines: what each supported transformation
//! does to a rule, the logsource and field-name conditions, priority order,
//! and that anything unsupported is refused with the reason.

use logsieve_detect::{Detector, JsonEvent, LoadOptions, Mapping, Pipeline, Scratch};
use serde_json::{json, Value};

const RULE: &str = r#"
title: whoami
id: r1
logsource: {product: windows, category: process_creation}
detection:
  sel:
    Image|endswith: '\whoami.exe'
    CommandLine|contains: '/all'
  condition: sel
"#;

fn load(pipelines: &[&str], mapping: Option<Mapping>, rules: &str) -> Detector {
    let pipelines = pipelines
        .iter()
        .enumerate()
        .map(|(i, p)| Pipeline::from_yaml(p, &format!("p{i}")).unwrap())
        .collect();
    let options = LoadOptions {
        pipelines,
        ..Default::default()
    };
    Detector::from_yaml_with(rules, mapping, &options).unwrap()
}

fn hits(d: &Detector, ev: Value) -> bool {
    !d.evaluate(&JsonEvent(&ev), 1, "t", &mut Scratch::default())
        .is_empty()
}

const ECS: &str = r#"
name: ecs
priority: 10
transformations:
  - id: ecs_names
    type: field_name_mapping
    mapping:
      Image: process.executable
      CommandLine: [process.command_line, process.args]
    rule_conditions:
      - type: logsource
        product: windows
"#;

#[test]
fn field_name_mapping_renames_fields_for_matching_logsources() {
    let d = load(&[ECS], None, RULE);
    assert!(d.rejections().is_empty(), "{:?}", d.rejections());
    let ev = json!({"process": {"executable": "C:\\Windows\\System32\\whoami.exe", "command_line": "whoami /all"}});
    assert!(hits(&d, ev));
    // A list maps to alternatives: the second name is used when the first
    // is absent.
    let ev = json!({"process": {"executable": "C:\\x\\whoami.exe", "args": "whoami /all"}});
    assert!(hits(&d, ev));
    // The old names no longer match.
    assert!(!hits(
        &d,
        json!({"Image": "C:\\whoami.exe", "CommandLine": "/all"})
    ));
    // A rule of another product is not renamed.
    let linux = RULE.replace("product: windows", "product: linux");
    let d = load(&[ECS], None, &linux);
    assert!(hits(
        &d,
        json!({"Image": "/x\\whoami.exe", "CommandLine": "/all"})
    ));
}

#[test]
fn prefix_and_suffix_apply_to_the_fields_their_conditions_name() {
    let p = r#"
name: prefix
transformations:
  - type: field_name_prefix
    prefix: "winlog.event_data."
    field_name_conditions:
      - type: include_fields
        fields: [Image]
  - type: field_name_suffix
    suffix: ".text"
    field_name_conditions:
      - type: exclude_fields
        fields: [winlog.event_data.Image]
"#;
    let d = load(&[p], None, RULE);
    assert!(d.rejections().is_empty(), "{:?}", d.rejections());
    let ev = json!({"winlog": {"event_data": {"Image": "C:\\whoami.exe"}}, "CommandLine": {"text": "whoami /all"}});
    assert!(hits(&d, ev));
}

#[test]
fn pipelines_run_in_priority_order_then_the_mapping() {
    // Priority 1 runs first: Image → proc_image, then priority 5 prefixes
    // it; the windows mapping's default prefixes then apply.
    let first = "name: a\npriority: 5\ntransformations:\n  - type: field_name_prefix\n    prefix: x_\n";
    let second = "name: b\npriority: 1\ntransformations:\n  - type: field_name_mapping\n    mapping: {Image: proc_image, CommandLine: cmd}\n";
    let d = load(&[first, second], None, RULE);
    assert!(hits(
        &d,
        json!({"x_proc_image": "C:\\whoami.exe", "x_cmd": "whoami /all"})
    ));
    let d = load(&[first, second], Mapping::builtin("windows"), RULE);
    assert!(d.rejections().is_empty(), "{:?}", d.rejections());
    let ev = json!({"Event": {"System": {"Channel": "Microsoft-Windows-Sysmon/Operational", "EventID": 1},
        "EventData": {"x_proc_image": "C:\\whoami.exe", "x_cmd": "whoami /all"}}});
    assert!(hits(&d, ev));
}

#[test]
fn add_condition_replace_string_and_change_logsource() {
    let p = r#"
name: tune
transformations:
  - type: add_condition
    conditions:
      host: dc1
    rule_conditions:
      - type: logsource
        category: process_creation
  - type: replace_string
    regex: "^\\\\"
    replacement: "/"
    field_name_conditions:
      - type: include_fields
        fields: [Image]
  - type: change_logsource
    product: linux
  - type: field_name_mapping
    mapping: {Image: exe}
    rule_conditions:
      - type: logsource
        product: linux
"#;
    let d = load(&[p], None, RULE);
    assert!(d.rejections().is_empty(), "{:?}", d.rejections());
    // `\whoami.exe` became `/whoami.exe`; Image became exe (the logsource
    // is linux by then); host must be dc1.
    assert!(hits(
        &d,
        json!({"exe": "/usr/bin/whoami.exe", "CommandLine": "/all", "host": "dc1"})
    ));
    assert!(!hits(
        &d,
        json!({"exe": "/usr/bin/whoami.exe", "CommandLine": "/all", "host": "dc2"})
    ));
    assert!(!hits(
        &d,
        json!({"exe": "C:\\whoami.exe", "CommandLine": "/all", "host": "dc1"})
    ));
}

#[test]
fn rule_failure_rejects_the_rules_it_covers_with_its_message() {
    let p = "name: strict\ntransformations:\n  - type: rule_failure\n    message: process creation is not collected here\n    rule_conditions:\n      - type: logsource\n        category: process_creation\n";
    let d = load(&[p], None, RULE);
    assert!(d.rules().is_empty());
    assert!(
        d.rejections()[0]
            .reason
            .contains("pipeline strict: process creation is not collected here"),
        "{}",
        d.rejections()[0].reason
    );
}

#[test]
fn value_placeholders_take_the_pipeline_vars() {
    let p = "name: vars\nvars:\n  admins: [root, toor]\ntransformations:\n  - type: value_placeholders\n";
    let rule = "title: a\nid: a\nlogsource: {product: x}\ndetection:\n  sel:\n    user|expand: '%admins%'\n  condition: sel\n";
    let d = load(&[p], None, rule);
    assert!(d.rejections().is_empty(), "{:?}", d.rejections());
    assert!(hits(&d, json!({"user": "toor"})));
    assert!(!hits(&d, json!({"user": "bob"})));
    // Without the transformation the vars are not used.
    let d = load(&["name: vars\nvars:\n  admins: [root]\n"], None, rule);
    assert!(d.rejections()[0]
        .reason
        .contains("placeholder `%admins%` has no value"));
}

#[test]
fn unsupported_pipelines_are_refused_with_the_reason() {
    for (text, why) in [
        ("transformations:\n  - type: drop_detection_item\n", "transformation type `drop_detection_item` is not supported"),
        (
            "transformations:\n  - type: field_name_mapping\n    mapping: {a: b}\n    rule_conditions:\n      - type: contains_detection_item\n",
            "rule condition type `contains_detection_item` is not supported",
        ),
        (
            "transformations:\n  - type: field_name_mapping\n    mapping: {a: b}\n    rule_cond_op: or\n",
            "`rule_cond_op` other than `and`",
        ),
        ("transformations:\n  - type: add_condition\n", "`add_condition` needs `conditions`"),
        ("postprocessing:\n  - type: template\n", "`postprocessing` is for query backends"),
        ("backends: [x]\n", "unsupported key `backends`"),
        ("transformations:\n  - type: replace_string\n    regex: '('\n    replacement: x\n", "regex `(` is not supported"),
        ("- a\n", "a pipeline must be a map"),
        ("transformations:\n  - type: field_name_prefix\n    prefix: x\n    detection_item_conditions: []\n", "`detection_item_conditions` is not supported"),
    ] {
        let e = Pipeline::from_yaml(text, "p.yml").unwrap_err().to_string();
        assert!(e.contains("pipeline p.yml") && e.contains(why), "{text}: {e}");
    }
}

proptest::proptest! {
    #[test]
    fn pipeline_loading_never_panics_on_arbitrary_text(
        parts in proptest::collection::vec(
            proptest::sample::select(vec![
                "transformations:", "\n  - type: ", "field_name_mapping", "mapping:", " {a: [b, c]}",
                "rule_conditions:", "\n      - type: logsource", " product: x", "priority: ", "1", "vars:", "-",
                ":", "[", "]", "{", "}", " ", "\n", "replace_string", "regex: ", "'('", "field_name_conditions:",
                "include_fields", "fields: ", "%",
            ]),
            0..20,
        )
    ) {
        if let Ok(p) = Pipeline::from_yaml(&parts.concat(), "fuzz") {
            // A pipeline that loads also applies without panicking.
            let options = LoadOptions {
                pipelines: vec![p],
                ..Default::default()
            };
            let _ = Detector::from_yaml_with(RULE, None, &options);
        }
    }
}

#[test]
fn correlations_read_group_by_fields_through_the_rules_renames() {
    let p = "name: ecs\ntransformations:\n  - type: field_name_mapping\n    mapping: {User: user.name, Action: event.action}\n";
    let rules = "title: login\nid: l\nname: login\nlogsource: {product: x}\ndetection:\n  sel: {Action: login}\n  condition: sel\n---\ntitle: two logins\nid: c\ncorrelation:\n  type: event_count\n  rules: [login]\n  group-by: [User]\n  timespan: 1m\n  condition: {gte: 2}\n";
    let d = load(&[p], None, rules);
    assert!(d.rejections().is_empty(), "{:?}", d.rejections());
    let mut c = logsieve_detect::Correlator::new(&d);
    let mut s = Scratch::default();
    let mut alerts = Vec::new();
    for (i, user) in ["bob", "eve", "bob"].iter().enumerate() {
        let ev = json!({"event": {"action": "login"}, "user": {"name": user}, "timestamp": format!("2025-01-01T00:00:0{i}Z")});
        for h in d.evaluate(&JsonEvent(&ev), i as u64 + 1, "t", &mut s) {
            alerts.extend(c.feed(&d, &h, i as u64 + 1, "t"));
        }
    }
    // bob twice: grouped by the renamed field, not all together as "".
    assert_eq!(alerts.len(), 1, "{alerts:?}");
    assert_eq!(alerts[0].group.as_ref().unwrap()["User"], "bob");
    assert_eq!(alerts[0].lines.as_deref(), Some(&[1, 3][..]));
}
