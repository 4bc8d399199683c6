//! Header parsers never panic, and a line that does not match is kept
//! whole as content.
#![no_main]
use libfuzzer_sys::fuzz_target;
use logsieve_header::{HeaderParser, ParsedHeader, Preset};

fuzz_target!(|line: &str| {
    let mut out = ParsedHeader::default();
    for p in Preset::ALL {
        let h = HeaderParser::preset(p, None);
        if !h.parse(line, &mut out) {
            assert_eq!(out.content, line);
        }
    }
    let h = HeaderParser::from_format("<Date> <Time> <Level> <Component>: <Content>").unwrap();
    let mut slow = ParsedHeader::default();
    let fast_ok = h.parse(line, &mut out);
    let slow_ok = h.parse_with_regex(line, &mut slow);
    assert_eq!(fast_ok, slow_ok);
    assert_eq!(out.content, slow.content);
    assert_eq!(out.values, slow.values);
});
