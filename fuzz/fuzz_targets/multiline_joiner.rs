//! The joiner accounts for every line: line counts add up, numbering is
//! contiguous, and each event's bytes are its lines joined with `\n`.
#![no_main]
use libfuzzer_sys::fuzz_target;
use logsieve_framing::{FramerConfig, Joiner, LineBatch, LineFramer, Multiline};

fuzz_target!(|input: (u8, Vec<u8>)| {
    let (mode, data) = input;
    let mode = match mode % 3 {
        0 => Multiline::None,
        1 => Multiline::Auto,
        _ => Multiline::Regex(regex::Regex::new("^[A-Z]").unwrap()),
    };
    let with_header = data.first().is_some_and(|b| b % 2 == 0);
    let starts: logsieve_framing::StartsEvent = if with_header {
        Box::new(|l: &[u8]| Some(l.first().is_some_and(|b| b.is_ascii_digit())))
    } else {
        Box::new(|_| None)
    };
    let mut j = Joiner::new(mode, starts);
    let mut f = LineFramer::new(&data[..], FramerConfig { max_line_bytes: 40 });
    let mut lines = LineBatch::default();
    let mut all_lines: Vec<Vec<u8>> = Vec::new();
    let mut out = LineBatch::default();
    let mut events: Vec<(u64, u32, Vec<u8>)> = Vec::new();
    loop {
        let n = f.next_batch(&mut lines, 3, 1 << 20).unwrap();
        for i in 0..lines.len() {
            all_lines.push(lines.line(i).to_vec());
        }
        out.clear();
        if n == 0 {
            j.finish(&mut out);
        } else {
            j.push(&lines, &mut out);
        }
        for i in 0..out.len() {
            events.push((out.line_no(i), out.line_count(i), out.line(i).to_vec()));
        }
        if n == 0 {
            break;
        }
    }
    let mut next = 1u64;
    for (first, count, bytes) in &events {
        assert_eq!(*first, next, "contiguous numbering");
        let joined = all_lines[(*first - 1) as usize..(*first - 1 + *count as u64) as usize].join(&b'\n');
        assert_eq!(&joined, bytes);
        next += u64::from(*count);
    }
    assert_eq!(next - 1, all_lines.len() as u64, "every line in one event");
});
