//! NDJSON and Content-Encoding decoding never panic and respect the limits.
#![no_main]
use libfuzzer_sys::fuzz_target;
use logsieve_ingest::{body, plain, Limits};

fuzz_target!(|input: (u8, &[u8])| {
    let (enc, data) = input;
    let lim = Limits { max_body_bytes: 1 << 16, max_line_bytes: 64, max_entries: 100 };
    if let Ok(v) = plain::parse_ndjson(data, &lim) {
        assert!(v.len() <= lim.max_entries);
        assert!(v.iter().all(|e| e.line.len() <= lim.max_line_bytes));
    }
    let enc = ["gzip", "deflate", "zstd", "identity"][enc as usize % 4];
    if let Ok(b) = body::decode_content(Some(enc), data, &lim) {
        assert!(b.len() <= lim.max_body_bytes);
    }
});
