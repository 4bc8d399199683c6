//! `TapeEvent` (the flat, reused JSON decoding of the fast path) answers
//! exactly what `JsonEvent` over serde_json's `Value` answers: on every
//! bundled Windows event and on generated JSON; and the decoder never
//! takes a line serde_json would reject.

use logsieve_detect::{Event, JsonEvent, JsonTape};
use proptest::prelude::*;
use serde_json::Value;
use std::path::Path;

/// Every path `JsonEvent::get` could be asked for about `v`: each nested
/// key path, with `*` for each segment in turn, and some that are absent.
fn paths(v: &Value, prefix: &str, out: &mut Vec<String>) {
    if let Value::Object(o) = v {
        for (k, x) in o {
            let p = if prefix.is_empty() {
                k.clone()
            } else {
                format!("{prefix}.{k}")
            };
            let star = if prefix.is_empty() {
                "*".to_string()
            } else {
                format!("{prefix}.*")
            };
            out.push(p.clone());
            out.push(format!("{p}.nope"));
            paths(x, &p, out);
            let mut under_star = Vec::new();
            paths(x, &star, &mut under_star);
            out.extend(under_star.into_iter().take(8));
        }
    }
}

fn texts(e: &dyn Event) -> Vec<String> {
    let mut v = Vec::new();
    e.for_each_text(&mut |t| v.push(t.to_string()));
    v.sort();
    v
}

fn scan_covers(e: &dyn Event, want: &[String]) -> bool {
    let mut scanned = Vec::new();
    e.for_each_scan_text(&mut |t| scanned.push(t.to_string()));
    want.iter()
        .all(|w| scanned.iter().any(|s| s.contains(w.as_str())))
}

/// Decodes `line` both ways and compares every answer.
fn same(line: &str) {
    let mut tape = JsonTape::default();
    let Some(t) = tape.parse(line.as_bytes()) else {
        return;
    };
    let v: Value = serde_json::from_str(line)
        .unwrap_or_else(|e| panic!("tape took what serde_json rejects ({e}): {line}"));
    let j = JsonEvent(&v);
    let mut ps = Vec::new();
    paths(&v, "", &mut ps);
    ps.extend(["", "*", "nope", "a.b", "*.*"].map(String::from));
    for p in &ps {
        assert_eq!(t.get(p), j.get(p), "path {p:?} of {line}");
    }
    assert_eq!(t.keyword_text(), j.keyword_text(), "{line}");
    let jt = texts(&j);
    assert_eq!(texts(&t), jt, "{line}");
    assert!(scan_covers(&t, &jt), "{line}");
}

#[test]
fn bundled_windows_events_decode_the_same() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../testdata/sigma-regression");
    let mut n = 0;
    let mut tape = JsonTape::default();
    for e in std::fs::read_dir(root).unwrap() {
        let p = e.unwrap().path().join("event.json");
        let Ok(text) = std::fs::read_to_string(&p) else {
            continue;
        };
        for v in serde_json::Deserializer::from_str(&text).into_iter::<Value>() {
            let line = serde_json::to_string(&v.unwrap()).unwrap();
            assert!(
                tape.parse(line.as_bytes()).is_some(),
                "{}: not decoded",
                p.display()
            );
            same(&line);
            // Pretty-printed the same event is one object over many lines:
            // whitespace anywhere is fine.
            same(&serde_json::to_string_pretty(&serde_json::from_str::<Value>(&line).unwrap()).unwrap());
            n += 1;
        }
    }
    assert_eq!(n, 25);
}

#[test]
fn what_the_decoder_leaves_to_serde_json() {
    let mut tape = JsonTape::default();
    for line in [
        r#"[{"a": 1}]"#,          // a list of events
        r#"{"a": 1, "a": 2}"#,    // a repeated key
        r#"{"a": 1} x"#,          // trailing text
        r#"{"a": 01}"#,           // a leading zero
        r#"{"a": 1.}"#,           // no digits after the point
        r#"{"a": "\ud800"}"#,     // a lone surrogate
        r#"{"a": "\x"}"#,         // an unknown escape
        "{\"a\": \"tab\there\"}", // a raw control character
        r#"{"a": tru}"#,          // a bad literal
        r#"{"a": [1, 2,]}"#,      // a trailing comma
        r#"{"a" 1}"#,             // no colon
        "",
        "42",
    ] {
        assert!(tape.parse(line.as_bytes()).is_none(), "{line}");
    }
    assert!(tape.parse(b"{\"a\": \"\xff\"}").is_none(), "invalid UTF-8");
    let deep = format!("{}{}{}", "{\"a\":".repeat(150), "1", "}".repeat(150));
    assert!(tape.parse(deep.as_bytes()).is_none(), "deep nesting");
}

#[test]
fn escapes_numbers_and_evtx_shapes() {
    for line in [
        r##"{"Event":{"System":{"EventID":{"#attributes":{"Qualifiers":16384},"#text":7045}},"EventData":{"Data":{"#text":["a","HostApplication=powershell.exe"]}},"UserData":{"LogFileCleared":{"SubjectUserName":"bob"}}}}"##,
        r#"{"s":"C:\\Windows\\System32\\cmd.exe \"x\" \u00e9\ud83d\ude00 \/ \b\f\n\r\t","k.l":2,"a":{"b.c":{"d":true}}}"#,
        r#"{"n":[0,-0,1,-1,1.5,-2.25e3,1e300,12345678901234567890,-9223372036854775809,18446744073709551615,1E2,0.1]}"#,
        r#"{"message":"hello","raw":"x","o":{},"l":[],"z":null,"m":{"b":1,"a":[{"c":"d"}]}}"#,
        r#"  {"msg": 5, "log": "text"}  "#,
    ] {
        let mut tape = JsonTape::default();
        assert!(tape.parse(line.as_bytes()).is_some(), "{line}");
        same(line);
    }
}

fn arb_json() -> impl Strategy<Value = Value> {
    let key = prop_oneof![
        Just("Event".to_string()),
        Just("EventData".to_string()),
        Just("#text".to_string()),
        Just("message".to_string()),
        Just("a.b".to_string()),
        Just("*".to_string()),
        "[a-cA-C.]{1,3}",
        "[ab. ]{7,18}",
        "\\PC{0,4}",
    ];
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::Bool),
        any::<i64>().prop_map(Value::from),
        any::<u64>().prop_map(Value::from),
        (-1e20f64..1e20).prop_map(Value::from),
        "\\PC{0,12}".prop_map(Value::String),
        "[a-zA-Z\\\\\"/ \u{212A}\u{130}]{0,12}".prop_map(Value::String),
        // Longer strings with every kind of escape serde_json writes
        // (control characters as `\n`, `\t`, `\u001f`...), across the
        // decoder's eight-byte steps.
        "[a-z\\\\\"/\u{0}-\u{1f}\u{7f}\u{e9}\u{1F600}]{0,40}".prop_map(Value::String),
    ];
    leaf.prop_recursive(4, 40, 6, move |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..4).prop_map(Value::Array),
            prop::collection::btree_map(key.clone(), inner, 0..6)
                .prop_map(|m| Value::Object(m.into_iter().collect())),
        ]
    })
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    /// Any JSON object, compact or pretty: the same answers both ways.
    #[test]
    fn generated_json_decodes_the_same(v in arb_json()) {
        let v = match v {
            Value::Object(_) => v,
            other => serde_json::json!({"root": other}),
        };
        let line = serde_json::to_string(&v).unwrap();
        let mut tape = JsonTape::default();
        prop_assert!(tape.parse(line.as_bytes()).is_some(), "not decoded: {}", line);
        same(&line);
        same(&serde_json::to_string_pretty(&v).unwrap());
    }

    /// Mangled lines: whatever the decoder takes, serde_json takes too,
    /// with the same answers.
    #[test]
    fn mangled_json_is_never_taken_wrongly(v in arb_json(), at in any::<prop::sample::Index>(), with in any::<u8>()) {
        let mut line = serde_json::to_string(&serde_json::json!({"x": v})).unwrap().into_bytes();
        let i = at.index(line.len());
        line[i] = with;
        if let Ok(text) = std::str::from_utf8(&line) {
            same(text);
        } else {
            prop_assert!(JsonTape::default().parse(&line).is_none());
        }
    }
}

/// A repeated key is left to serde_json wherever it is among up to 80
/// keys (the decoder compares keys only when their hashes' bit was seen
/// before in the object), nested or not; distinct keys are decoded.
#[test]
fn repeated_keys_are_found_among_many() {
    let mut tape = JsonTape::default();
    for n in 1..80 {
        let keys: Vec<String> = (0..n).map(|i| format!("Key{i}")).collect();
        let obj = |ks: &[String]| {
            let members: Vec<String> = ks.iter().map(|k| format!("\"{k}\":1")).collect();
            format!("{{{}}}", members.join(","))
        };
        let line = obj(&keys);
        assert!(tape.parse(line.as_bytes()).is_some(), "{line}");
        assert!(
            tape.parse(format!("{{\"a\":{line}}}").as_bytes()).is_some(),
            "{line}"
        );
        for r in 0..n {
            let mut ks = keys.clone();
            ks.push(keys[r].clone());
            let line = obj(&ks);
            assert!(tape.parse(line.as_bytes()).is_none(), "{line}");
            assert!(
                tape.parse(format!("{{\"a\":{line}}}").as_bytes()).is_none(),
                "{line}"
            );
        }
    }
}
