//! The RFC 6587 framer gives the same frames and errors however the stream is split, never
//! yields a frame over its limit, and every frame parses without panicking.
#![no_main]
use libfuzzer_sys::fuzz_target;
use logsieve_ingest::{syslog, SyslogFramer};

fn run(chunks: &[&[u8]], max: usize) -> Vec<Result<Vec<u8>, String>> {
    let mut f = SyslogFramer::new(max);
    let mut out = Vec::new();
    for c in chunks {
        f.push(c);
        while let Some(r) = f.next_frame() {
            out.push(r.map(<[u8]>::to_vec).map_err(|e| e.to_string()));
        }
    }
    if let Some(r) = f.finish() {
        out.push(r.map(<[u8]>::to_vec).map_err(|e| e.to_string()));
    }
    out
}

fuzz_target!(|input: (u8, u8, &[u8])| {
    let (max, step, data) = input;
    let max = max as usize % 64 + 1;
    let whole = run(&[data], max);
    let chunks: Vec<&[u8]> = data.chunks(step as usize % 16 + 1).collect();
    assert_eq!(run(&chunks, max), whole);
    for fr in whole.iter().flatten() {
        assert!(fr.len() <= max);
        let _ = syslog::parse_at(fr, 1_700_000_000_000);
    }
    let _ = syslog::parse_at(data, 1_700_000_000_000);
});
