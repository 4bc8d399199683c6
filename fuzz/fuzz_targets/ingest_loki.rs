//! Loki push decoding (snappy protobuf, raw protobuf, JSON) never panics and respects the
//! limits: no more entries than max_entries, no line longer than max_line_bytes.
#![no_main]
use libfuzzer_sys::fuzz_target;
use logsieve_ingest::{loki, Limits};

fuzz_target!(|data: &[u8]| {
    let lim = Limits { max_body_bytes: 1 << 20, max_line_bytes: 64, max_entries: 100 };
    for r in [
        loki::parse(None, data, &lim, "job"),
        loki::parse_protobuf_uncompressed(data, &lim, "job"),
        loki::parse_json(data, &lim, "job"),
    ] {
        if let Ok(v) = r {
            assert!(v.len() <= lim.max_entries);
            assert!(v.iter().all(|e| e.line.len() <= lim.max_line_bytes));
        }
    }
});
