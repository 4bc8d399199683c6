//! EVTX reading through files written by `write::to_evtx`: the writer's
//! round trip, what SigmaHQ's native files cannot show (several chunks,
//! `EventID` with `Qualifiers`, `UserData`, damaged records) and bad input.
//! SigmaHQ's own `.evtx` files are read in `native.rs`.

mod common;

use common::{cases, json_events};
use logsieve_evtx::{write::to_evtx, EvtxError, EvtxFile};
use serde_json::{json, Value};

fn read_back(bytes: Vec<u8>, threads: usize) -> Vec<Value> {
    EvtxFile::from_bytes(bytes, "test.evtx")
        .unwrap()
        .events(threads)
        .into_iter()
        .map(|r| r.unwrap().event)
        .collect()
}

#[test]
fn the_writer_round_trips_every_regression_event() {
    let cases = cases();
    assert_eq!(cases.len(), 20);
    for case in cases {
        let events = json_events(&case);
        let back = read_back(to_evtx(&events).unwrap(), 1);
        assert_eq!(back, events, "{}", case.display());
    }
}

#[test]
fn many_chunks_come_back_in_order_whatever_the_threads() {
    // Enough events for several 64 KiB chunks.
    let mut events = Vec::new();
    for case in cases() {
        events.extend(json_events(&case));
    }
    let mut many = Vec::new();
    for i in 0..400 {
        let mut e = events[i % events.len()].clone();
        e["Event"]["System"]["EventRecordID"] = json!(i);
        many.push(e);
    }
    let bytes = to_evtx(&many).unwrap();
    assert!(
        bytes.len() > 4096 + 3 * 65536,
        "{} bytes: several chunks",
        bytes.len()
    );
    let one = read_back(bytes.clone(), 1);
    assert_eq!(one, many);
    assert_eq!(read_back(bytes, 4), many);
    let positions: Vec<u64> = EvtxFile::from_bytes(to_evtx(&many).unwrap(), "t")
        .unwrap()
        .events(2)
        .into_iter()
        .map(|r| r.unwrap().position)
        .collect();
    assert_eq!(positions, (1..=400).collect::<Vec<u64>>());
}

#[test]
fn layout_details_survive_the_round_trip() {
    // #text with attributes (EventID with Qualifiers), unnamed Data,
    // UserData's wrapper element, names with spaces, negative numbers,
    // booleans, nulls.
    let ev = json!({"Event": {
        "#attributes": {"xmlns": "http://schemas.microsoft.com/win/2004/08/events/event"},
        "System": {
            "Provider": {"#attributes": {"Name": "Microsoft-Windows-Windows Defender"}},
            "EventID": {"#attributes": {"Qualifiers": 0}, "#text": 1116},
            "Channel": "Microsoft-Windows-Windows Defender/Operational",
            "Correlation": null,
            "TimeCreated": {"#attributes": {"SystemTime": "2025-01-02T03:04:05.000000Z"}}
        },
        "EventData": {"Threat Name": "EICAR", "Process Name": "C:\\x.exe", "Delta": -5, "On": true},
        "UserData": {"EventXML": {"#attributes": {"xmlns": "Event_NS"}, "Param1": "a", "Param2": "b"}}
    }});
    assert_eq!(
        read_back(to_evtx(std::slice::from_ref(&ev)).unwrap(), 1),
        vec![ev]
    );
    // A double is written as one and reads back as text, as evtx renders
    // real doubles.
    let ev = json!({"Event": {"EventData": {"Ratio": 0.5}}});
    let back = read_back(to_evtx(&[ev]).unwrap(), 1);
    assert_eq!(back[0]["Event"]["EventData"]["Ratio"], json!("0.5"));
}

#[test]
fn a_file_that_is_not_evtx_is_an_error_saying_so() {
    let e = EvtxFile::from_bytes(b"{\"Event\": 1}".to_vec(), "x.evtx").unwrap_err();
    assert!(matches!(e, EvtxError::NotEvtx { .. }), "{e}");
    assert!(e.to_string().contains("x.evtx: not a Windows event log"), "{e}");
    let dir = std::env::temp_dir().join(format!("logsieve-evtx-missing-{}", std::process::id()));
    let e = EvtxFile::open(&dir.join("none.evtx")).unwrap_err();
    assert!(matches!(e, EvtxError::Io { .. }), "{e}");
}

#[test]
fn a_damaged_record_is_reported_with_its_position_and_the_others_still_read() {
    let events: Vec<Value> = cases().iter().take(3).flat_map(|c| json_events(c)).collect();
    let mut bytes = to_evtx(&events).unwrap();
    // Break the second record's BinXML: find its magic and overwrite the
    // fragment after the header with an invalid token.
    let chunk = 4096;
    let second = (chunk + 512..bytes.len() - 4)
        .filter(|&i| &bytes[i..i + 4] == b"**\0\0")
        .nth(1)
        .unwrap();
    for b in &mut bytes[second + 24..second + 40] {
        *b = 0xee;
    }
    let got = EvtxFile::from_bytes(bytes, "t").unwrap().events(1);
    assert_eq!(got.len(), events.len(), "every record accounted for");
    assert!(got[0].is_ok());
    let err = got[1].as_ref().unwrap_err();
    assert_eq!(err.position, 2, "{err}");
    assert!(got[2].is_ok());
}

#[test]
fn writing_something_that_is_not_an_event_object_is_an_error() {
    let e = to_evtx(&[json!({"Event": {}}), json!([1, 2])]).unwrap_err();
    assert!(e.to_string().contains("event 1"), "{e}");
}
