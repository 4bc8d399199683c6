//! OTLP logs decoding (protobuf and JSON) never panics and respects the limits.
#![no_main]
use libfuzzer_sys::fuzz_target;
use logsieve_ingest::{otlp, Limits};

fuzz_target!(|data: &[u8]| {
    let lim = Limits { max_body_bytes: 1 << 20, max_line_bytes: 64, max_entries: 100 };
    for r in [otlp::parse_protobuf(data, &lim), otlp::parse_json(data, &lim)] {
        if let Ok(v) = r {
            assert!(v.len() <= lim.max_entries);
            assert!(v.iter().all(|e| e.line.len() <= lim.max_line_bytes));
        }
    }
});
