//! A broker message that is not what a front end wrote is an error, never a
//! panic; what decodes re-encodes to a message that decodes the same.
#![no_main]
use libfuzzer_sys::fuzz_target;
use logsieve_cluster::wire::{decode, encode};

fuzz_target!(|data: &[u8]| {
    if let Ok(b) = decode(data) {
        let refs: Vec<_> = b.parts.iter().collect();
        let again = decode(&encode(&refs, &b.protocol, b.at_ms)).expect("re-encoded message decodes");
        assert_eq!(again.parts.len(), b.parts.len());
        for (x, y) in b.parts.iter().zip(&again.parts) {
            assert_eq!(x.source, y.source);
            assert_eq!(x.batch.lines_covered(), y.batch.lines_covered());
        }
    }
});
