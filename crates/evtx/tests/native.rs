//! SigmaHQ's native `.evtx` files (recorded on Windows, bundled beside each
//! regression case's event.json) decode as that JSON, record for record.
//!
//! SigmaHQ's JSON was rendered by an older evtx-to-JSON tool, and three
//! renderings differ from what this crate gives (which is what Windows
//! itself renders): GUIDs are `{lowercase}` here and `UPPERCASE` without
//! braces there; `SystemTime` has seven fractional digits here (FILETIME's
//! 100 ns) and six there; a string's trailing spaces are kept here (they
//! are in the file: Sysmon's `CommandLine` often ends in one) and trimmed
//! there. The test brings the native decode to those three renderings and
//! then requires it to equal the JSON exactly: field layout, `#attributes`,
//! numbers and every other value.

mod common;

use common::{cases, json_events};
use logsieve_evtx::EvtxFile;
use serde_json::Value;

/// How many values each of the three renderings changed.
#[derive(Debug, Default, PartialEq)]
struct Changed {
    guids: usize,
    timestamps: usize,
    trailing_spaces: usize,
}

fn is_guid_in_braces(s: &str) -> bool {
    let b = s.as_bytes();
    b.len() == 38
        && b[0] == b'{'
        && b[37] == b'}'
        && b[1..37].iter().enumerate().all(|(i, c)| match i {
            8 | 13 | 18 | 23 => *c == b'-',
            _ => c.is_ascii_hexdigit(),
        })
}

/// `YYYY-MM-DDTHH:MM:SS.fffffffZ`.
fn is_timestamp_with_seven_digits(s: &str) -> bool {
    let b = s.as_bytes();
    b.len() == 28
        && b[10] == b'T'
        && b[19] == b'.'
        && b[27] == b'Z'
        && b[20..27].iter().all(u8::is_ascii_digit)
}

/// Renders `v`'s strings as SigmaHQ's JSON does, counting the changes.
fn as_sigmahq_json_renders(v: &mut Value, changed: &mut Changed) {
    match v {
        Value::String(s) if is_guid_in_braces(s) => {
            *s = s[1..37].to_ascii_uppercase();
            changed.guids += 1;
        }
        Value::String(s) if is_timestamp_with_seven_digits(s) => {
            *s = format!("{}Z", &s[..26]);
            changed.timestamps += 1;
        }
        Value::String(s) if s.ends_with(' ') => {
            s.truncate(s.trim_end_matches(' ').len());
            changed.trailing_spaces += 1;
        }
        Value::Array(a) => a.iter_mut().for_each(|x| as_sigmahq_json_renders(x, changed)),
        Value::Object(o) => o.values_mut().for_each(|x| as_sigmahq_json_renders(x, changed)),
        _ => {}
    }
}

#[test]
fn every_native_regression_evtx_decodes_as_its_json_but_for_three_renderings() {
    let cases = cases();
    assert_eq!(cases.len(), 20);
    let mut total = Changed::default();
    for case in &cases {
        let want = json_events(case);
        let got = EvtxFile::open(&case.join("event.evtx")).unwrap().events(1);
        assert_eq!(got.len(), want.len(), "{}: records", case.display());
        for (i, (g, w)) in got.into_iter().zip(&want).enumerate() {
            let g = g.unwrap_or_else(|e| panic!("{}: {e}", case.display()));
            assert_eq!(g.position, i as u64 + 1);
            // An exported log: its record headers number from 1, the
            // events keep their EventRecordID (compared below).
            assert_eq!(g.record_id, i as u64 + 1, "{}", case.display());
            assert_ne!(
                Some(g.record_id),
                w["Event"]["System"]["EventRecordID"].as_u64(),
                "{}",
                case.display()
            );
            let mut event = g.event;
            as_sigmahq_json_renders(&mut event, &mut total);
            assert_eq!(&event, w, "{} record {}", case.display(), i + 1);
        }
    }
    // The differences are really there (if an evtx upgrade changes them,
    // this file's doc and docs/DETECTION.md must change too): each record
    // has its provider GUID and SystemTime, and 10 command lines end in a
    // space.
    let records: usize = cases.iter().map(|c| json_events(c).len()).sum();
    assert_eq!(records, 25);
    assert!(total.guids > records, "{total:?}");
    assert_eq!(total.timestamps, records, "{total:?}");
    assert!(total.trailing_spaces > 0, "{total:?}");
}

#[test]
fn native_evtx_decodes_the_same_on_any_number_of_threads() {
    for case in cases() {
        let decode = |threads| -> Vec<Value> {
            EvtxFile::open(&case.join("event.evtx"))
                .unwrap()
                .events(threads)
                .into_iter()
                .map(|r| r.unwrap().event)
                .collect()
        };
        assert_eq!(decode(1), decode(4), "{}", case.display());
    }
}
