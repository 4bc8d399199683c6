//! The prefiltered detector raises what its brute-force twin (every rule
//! evaluated, no prefilter, no dispatch) raises, for rules and events made
//! from the input. Its first line is a regex, its second a literal: they
//! make a `CommandLine|re` rule, a rule of several needle clauses (a
//! selection's fields, `contains|all` values, `all of` selections) beside
//! a `not` filter, and a keyword rule; the other lines are the event's
//! CommandLine, Image and a keyword text. The event is checked as a
//! serde_json tree, on a JSON tape and flat.
#![no_main]
use libfuzzer_sys::fuzz_target;
use logsieve_detect::{Detector, FlatEvent, JsonEvent, JsonTape, Mapping, Scratch};

/// A YAML single-quoted scalar.
fn quoted(s: &str) -> String {
    format!("'{}'", s.replace('\'', "''"))
}

fuzz_target!(|text: &str| {
    let mut lines = text.split('\n');
    let mut next = || lines.next().unwrap_or("");
    let (re, lit, cmd, image, kw) = (next(), next(), next(), next(), next());
    if lit.is_empty() || regex::Regex::new(re).is_err() {
        return;
    }
    let (re, lit) = (quoted(re), quoted(lit));
    let yaml = format!(
        "title: regex
id: 00000000-0000-0000-0000-000000000001
logsource: {{product: windows, category: process_creation}}
detection:
  sel: {{CommandLine|re: {re}}}
  condition: sel
---
title: clauses
id: 00000000-0000-0000-0000-000000000002
logsource: {{product: windows, category: process_creation}}
detection:
  sel_a:
    Image|endswith: {lit}
    CommandLine|contains|all: [{lit}, 'x']
  sel_b:
    CommandLine|re: {re}
  filter:
    Image|startswith: {lit}
  condition: all of sel_* and not filter
---
title: keywords
id: 00000000-0000-0000-0000-000000000003
logsource: {{product: windows}}
detection:
  keywords: [{lit}]
  sel: {{CommandLine|contains: {lit}}}
  condition: keywords or sel
"
    );
    let Ok(d) = Detector::from_yaml(&yaml, Mapping::builtin("windows")) else {
        return;
    };
    let v = serde_json::json!({"Event": {
        "System": {"EventID": 1, "Channel": "Microsoft-Windows-Sysmon/Operational"},
        "EventData": {"CommandLine": cmd, "Image": image, "Data": kw}}});
    let want = d.matching_rules_brute_force(&JsonEvent(&v));
    let mut s = Scratch::default();
    assert_eq!(d.matching_rules(&JsonEvent(&v), &mut s), want, "{v}");
    let line = serde_json::to_string(&v).unwrap();
    let mut tape = JsonTape::default();
    let t = tape.parse(line.as_bytes()).expect("serde_json's line decodes on a tape");
    assert_eq!(d.matching_rules(&t, &mut s), want, "tape {line}");
    let mut flat = FlatEvent::default();
    flat.push("CommandLine", cmd);
    flat.push("Image", image);
    flat.push("message", kw);
    let want = d.matching_rules_brute_force(&flat);
    assert_eq!(d.matching_rules(&flat, &mut s), want, "flat {flat:?}");
});
