//! The message format: what is encoded comes back the same, and bytes that
//! are not a message give an error, never a panic.

use logsieve_cluster::wire::{decode, encode, WireError};
use logsieve_framing::LineFlags;
use logsieve_serve::processor::{FormatKey, Part};
use proptest::prelude::*;

fn part(source: &str, format: FormatKey, lines: &[(Vec<u8>, u8, u32)], with_fields: bool) -> Part {
    let mut p = Part::new(source.to_string(), format);
    let mut no = 1u64;
    for (i, (b, f, count)) in lines.iter().enumerate() {
        let flags = LineFlags::new(f & 1 != 0, f & 2 != 0).with_continued(f & 4 != 0);
        p.batch.push_lines(b, flags, no, *count);
        no += u64::from(*count);
        if with_fields {
            p.fields.push(vec![("k".into(), i.to_string())]);
        }
    }
    p
}

fn lines_of(p: &Part) -> Vec<(Vec<u8>, bool, bool, bool, u64, u32)> {
    (0..p.batch.len())
        .map(|i| {
            let f = p.batch.flags(i);
            (
                p.batch.line(i).to_vec(),
                f.truncated(),
                f.had_crlf(),
                f.continued(),
                p.batch.line_no(i),
                p.batch.line_count(i),
            )
        })
        .collect()
}

proptest! {
    #[test]
    fn round_trip_keeps_sources_formats_lines_numbers_flags_and_fields(
        parts in proptest::collection::vec(
            ("[a-z]{1,8}", 0u8..3, proptest::collection::vec((proptest::collection::vec(any::<u8>(), 0..40), 0u8..8, 1u32..4), 0..20), any::<bool>()),
            0..5),
        at in any::<i64>(),
    ) {
        let parts: Vec<Part> = parts.iter().map(|(s, f, lines, wf)| {
            let format = match f { 0 => FormatKey::Whole, 1 => FormatKey::Preset("syslog".into()), _ => FormatKey::Format("<Date> <Content>".into()) };
            part(s, format, lines, *wf)
        }).collect();
        let refs: Vec<&Part> = parts.iter().collect();
        let bytes = encode(&refs, "loki", at);
        let back = decode(&bytes).map_err(|e| TestCaseError::fail(e.to_string()))?;
        prop_assert_eq!(back.at_ms, at);
        prop_assert_eq!(back.protocol.as_str(), "loki");
        prop_assert_eq!(back.parts.len(), parts.len());
        for (a, b) in parts.iter().zip(&back.parts) {
            prop_assert_eq!(&a.source, &b.source);
            prop_assert_eq!(&a.format, &b.format);
            prop_assert_eq!(lines_of(a), lines_of(b));
            prop_assert_eq!(&a.fields, &b.fields);
            prop_assert_eq!(a.batch.lines_covered(), b.batch.lines_covered());
        }
    }

    #[test]
    fn arbitrary_bytes_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..200)) {
        let _ = decode(&bytes);
    }

    #[test]
    fn truncated_messages_are_errors(cut in 0usize..1000) {
        let p = part("web", FormatKey::Whole, &[(b"GET / 200".to_vec(), 0, 1), (b"GET /x 404".to_vec(), 2, 1)], true);
        let bytes = encode(&[&p], "http", 5);
        let cut = cut % bytes.len();
        prop_assert!(decode(&bytes[..cut]).is_err());
    }
}

#[test]
fn another_version_is_refused_with_both_versions_named() {
    let p = part("web", FormatKey::Whole, &[(b"x".to_vec(), 0, 1)], false);
    let mut bytes = encode(&[&p], "http", 5);
    bytes[0] = 9;
    let Err(e) = decode(&bytes) else {
        panic!("decoded a version 9 message")
    };
    assert!(matches!(e, WireError::Version { found: 9 }), "{e}");
    assert!(e.to_string().contains("version 9") && e.to_string().contains("version 1"));
}

#[test]
fn partition_of_is_stable_and_spreads_sources() {
    // Part of the format: front ends and workers of different builds agree.
    assert_eq!(
        logsieve_cluster::partition_of("web", 8),
        logsieve_cluster::partition_of("web", 8)
    );
    let mut seen = [0u32; 8];
    for i in 0..800 {
        seen[logsieve_cluster::partition_of(&format!("source-{i}"), 8) as usize] += 1;
    }
    assert!(seen.iter().all(|&n| n > 50), "{seen:?}");
}
