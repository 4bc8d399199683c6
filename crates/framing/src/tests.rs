use super::*;

/// A reader returning 1..=7 bytes per call, pseudo-randomly.
struct Dribble<'a> {
    data: &'a [u8],
    state: u64,
}

impl Read for Dribble<'_> {
    fn read(&mut self, out: &mut [u8]) -> io::Result<usize> {
        self.state = self
            .state
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        let want = 1 + (self.state >> 33) as usize % 7;
        let n = want.min(out.len()).min(self.data.len());
        out[..n].copy_from_slice(&self.data[..n]);
        self.data = &self.data[n..];
        Ok(n)
    }
}

/// A reader that fails after delivering its data.
struct FailAfter<'a>(&'a [u8]);
impl Read for FailAfter<'_> {
    fn read(&mut self, out: &mut [u8]) -> io::Result<usize> {
        if self.0.is_empty() {
            return Err(io::Error::new(io::ErrorKind::UnexpectedEof, "truncated"));
        }
        let n = out.len().min(self.0.len());
        out[..n].copy_from_slice(&self.0[..n]);
        self.0 = &self.0[n..];
        Ok(n)
    }
}

type Line = (Vec<u8>, bool, bool);

fn frames<R: Read>(mut f: LineFramer<R>) -> Vec<Line> {
    let mut out = Vec::new();
    let mut n = 0;
    while let Some(fr) = f.next_frame().unwrap() {
        n += 1;
        assert_eq!(fr.line_no, n);
        out.push((fr.bytes.to_vec(), fr.truncated, fr.had_crlf));
    }
    out
}

fn batches<R: Read>(mut f: LineFramer<R>, max_lines: usize, max_bytes: usize) -> Vec<Line> {
    let mut out = Vec::new();
    let mut b = LineBatch::new();
    let mut expected_no = 1;
    while f.next_batch(&mut b, max_lines, max_bytes).unwrap() > 0 {
        assert_eq!(b.first_line_no, expected_no);
        assert!(b.len() <= max_lines.max(1));
        expected_no += b.len() as u64;
        for (bytes, fl) in b.iter() {
            out.push((bytes.to_vec(), fl.truncated(), fl.had_crlf()));
        }
    }
    out
}

/// Naive reference: split on `\n`, drop the empty tail, strip `\r`, truncate.
fn reference(data: &[u8], max: usize) -> Vec<Line> {
    let mut parts: Vec<&[u8]> = data.split(|&b| b == b'\n').collect();
    if parts.last().is_some_and(|p| p.is_empty()) {
        parts.pop();
    }
    parts
        .into_iter()
        .map(|p| {
            let (p, crlf) = match p.strip_suffix(b"\r") {
                Some(q) => (q, true),
                None => (p, false),
            };
            if p.len() > max {
                (p[..max].to_vec(), true, false)
            } else {
                (p.to_vec(), false, crlf)
            }
        })
        .collect()
}

fn cfg(max: usize) -> FramerConfig {
    FramerConfig { max_line_bytes: max }
}

fn l(s: &str, t: bool, c: bool) -> Line {
    (s.as_bytes().to_vec(), t, c)
}

#[test]
fn crlf_empty_and_no_trailing_newline() {
    let data = b"a\r\nb\n\n\r\nlast";
    let got = frames(LineFramer::new(&data[..], FramerConfig::default()));
    assert_eq!(
        got,
        vec![
            l("a", false, true),
            l("b", false, false),
            l("", false, false),
            l("", false, true),
            l("last", false, false)
        ]
    );
}

#[test]
fn trailing_newline_gives_no_extra_line_and_empty_input_none() {
    assert_eq!(frames(LineFramer::new(&b"x\n"[..], cfg(10))).len(), 1);
    assert!(frames(LineFramer::new(&b""[..], cfg(10))).is_empty());
    assert_eq!(
        frames(LineFramer::new(&b"\n"[..], cfg(10))),
        vec![l("", false, false)]
    );
}

#[test]
fn giant_line_truncated_following_lines_intact() {
    let mut data = b"before\n".to_vec();
    data.extend(std::iter::repeat_n(b'x', 10_000));
    data.extend_from_slice(b"\r\nafter\n");
    for chunk in [1, 3, 64, 4096, DEFAULT_CHUNK_BYTES] {
        let mut f = LineFramer::with_chunk_size(&data[..], cfg(100), chunk);
        let a = f.next_frame().unwrap().unwrap();
        assert_eq!(a.bytes, b"before");
        let g = f.next_frame().unwrap().unwrap();
        assert!(g.truncated);
        assert!(!g.had_crlf);
        assert_eq!(g.bytes.len(), 100);
        assert_eq!(g.line_no, 2);
        let c = f.next_frame().unwrap().unwrap();
        assert_eq!((c.bytes, c.truncated, c.line_no), (&b"after"[..], false, 3));
        assert!(f.next_frame().unwrap().is_none());
        assert_eq!(f.truncated_lines(), 1);
        assert_eq!(f.skipped_bytes(), 9_900 + 1, "chunk {chunk}");
    }
}

#[test]
fn giant_line_memory_is_bounded() {
    // 50 MB line with a 1 KiB max: the framer's buffer never grows.
    struct Endless(usize);
    impl Read for Endless {
        fn read(&mut self, out: &mut [u8]) -> io::Result<usize> {
            if self.0 == 0 {
                return Ok(0);
            }
            let n = out.len().min(self.0);
            out[..n].fill(b'y');
            self.0 -= n;
            if self.0 == 0 {
                out[n - 1] = b'\n';
            }
            Ok(n)
        }
    }
    let mut f = LineFramer::with_chunk_size(Endless(50_000_000), cfg(1024), 4096);
    let fr = f.next_frame().unwrap().unwrap();
    assert!(fr.truncated);
    assert_eq!(fr.bytes.len(), 1024);
    assert!(f.next_frame().unwrap().is_none());
    assert!(f.buf.len() <= 1024 + 2 + 4096);
}

#[test]
fn line_exactly_max_with_crlf_is_not_truncated() {
    let got = frames(LineFramer::with_chunk_size(&b"abc\r\nabcd\n"[..], cfg(3), 1));
    assert_eq!(got, vec![l("abc", false, true), l("abc", true, false)]);
}

#[test]
fn invalid_utf8_and_nul_pass_through_framing() {
    let data = b"ok\n\xff\xfe bad\na\0b\n";
    let got = frames(LineFramer::new(&data[..], cfg(100)));
    assert_eq!(got[1].0, b"\xff\xfe bad");
    assert_eq!(got[2].0, b"a\0b");
}

#[test]
fn byte_at_a_time_reader_matches_reference() {
    let data = b"first line\r\nsecond\n\nthird with more text\r\n\r\nend";
    let got = frames(LineFramer::with_chunk_size(Dribble { data, state: 7 }, cfg(8), 5));
    assert_eq!(got, reference(data, 8));
}

#[test]
fn io_error_is_reported_and_not_continuable() {
    let mut f = LineFramer::new(FailAfter(b"a\nb\npartial"), cfg(100));
    assert_eq!(f.next_frame().unwrap().unwrap().bytes, b"a");
    assert_eq!(f.next_frame().unwrap().unwrap().bytes, b"b");
    let e = f.next_frame().unwrap_err();
    assert!(!e.can_continue());
    let msg = e.to_string();
    assert!(
        msg.contains("the 2 lines before it") && msg.contains("truncated"),
        "{msg}"
    );
    // The partial line read before the error is still delivered, then end.
    assert_eq!(f.next_frame().unwrap().unwrap().bytes, b"partial");
    assert!(f.next_frame().unwrap().is_none());
}

#[test]
fn batch_keeps_lines_before_error() {
    let mut f = LineFramer::new(FailAfter(b"a\nb\n"), cfg(100));
    let mut b = LineBatch::new();
    assert!(f.next_batch(&mut b, 100, 1 << 20).is_err());
    assert_eq!(b.len(), 2);
    assert_eq!(b.line(1), b"b");
}

#[test]
fn batch_limits_and_reuse() {
    let data: Vec<u8> = (0..1000)
        .flat_map(|i| format!("line {i}\r\n").into_bytes())
        .collect();
    let mut f = LineFramer::new(&data[..], FramerConfig::default());
    let mut b = LineBatch::with_capacity(1024, 16);
    assert_eq!(f.next_batch(&mut b, 10, 1 << 20).unwrap(), 10);
    assert_eq!(b.first_line_no, 1);
    assert_eq!(b.line(9), b"line 9");
    assert!(b.flags(9).had_crlf());
    assert_eq!(b.line_no(9), 10);
    // Byte limit: stops once at least 20 bytes are held.
    let n = f.next_batch(&mut b, 1000, 20).unwrap();
    assert!((1..=3).contains(&n), "{n}");
    assert_eq!(b.first_line_no, 11);
    assert_eq!(b.line(0), b"line 10");
    let cap = b.data.capacity();
    b.clear();
    assert!(b.is_empty());
    assert_eq!(b.data.capacity(), cap);
}

/// Small deterministic PRNG (xorshift64*).
struct Rng(u64);
impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545F4914F6CDD1D)
    }
    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }
}

fn random_input(rng: &mut Rng) -> Vec<u8> {
    let len = rng.below(400) as usize;
    let alphabet = b"ab\n\n\r\0\xff \xc3\xa9";
    let mut v = Vec::with_capacity(len);
    for _ in 0..len {
        // Occasionally emit a long run to exercise truncation.
        if rng.below(50) == 0 {
            v.extend(std::iter::repeat_n(b'z', rng.below(60) as usize));
        }
        v.push(alphabet[rng.below(alphabet.len() as u64) as usize]);
    }
    v
}

#[test]
fn property_frames_and_batches_match_naive_split() {
    let mut rng = Rng(0x9E3779B97F4A7C15);
    for case in 0..3000 {
        let data = random_input(&mut rng);
        let max = 1 + rng.below(40) as usize;
        let chunk = 1 + rng.below(32) as usize;
        let want = reference(&data, max);
        let got = frames(LineFramer::with_chunk_size(&data[..], cfg(max), chunk));
        assert_eq!(got, want, "frames case {case} max {max} chunk {chunk}");
        let got = frames(LineFramer::with_chunk_size(
            Dribble {
                data: &data,
                state: case,
            },
            cfg(max),
            chunk,
        ));
        assert_eq!(got, want, "dribble case {case}");
        let max_lines = 1 + rng.below(8) as usize;
        let max_bytes = 1 + rng.below(100) as usize;
        let got = batches(
            LineFramer::with_chunk_size(&data[..], cfg(max), chunk),
            max_lines,
            max_bytes,
        );
        assert_eq!(got, want, "batch case {case} max {max} chunk {chunk}");
        let got = batches(
            LineFramer::with_chunk_size(
                Dribble {
                    data: &data,
                    state: case + 1,
                },
                cfg(max),
                chunk,
            ),
            max_lines,
            usize::MAX,
        );
        assert_eq!(got, want, "batch dribble case {case}");
    }
}

#[test]
fn lines_spanning_default_chunk_boundaries() {
    let mut data = Vec::new();
    let mut i = 0u32;
    while data.len() < 3 * DEFAULT_CHUNK_BYTES {
        data.extend_from_slice(format!("{i} {}\n", "q".repeat((i % 997) as usize)).as_bytes());
        i += 1;
    }
    let want = reference(&data, DEFAULT_MAX_LINE_BYTES);
    assert_eq!(frames(LineFramer::new(&data[..], FramerConfig::default())), want);
    assert_eq!(
        batches(LineFramer::new(&data[..], FramerConfig::default()), 4096, 1 << 20),
        want
    );
}

#[test]
fn decode_valid_is_borrowed() {
    let mut s = String::from("junk");
    let bytes = "héllo".as_bytes();
    let (t, d) = decode_lossy(bytes, &mut s);
    assert_eq!(t, "héllo");
    assert_eq!(d, Decoded::default());
    assert_eq!(t.as_ptr(), bytes.as_ptr());
}

#[test]
fn decode_invalid_utf8_matches_std_lossy() {
    let mut s = String::new();
    for bytes in [
        &b"\xff"[..],
        b"a\xc3",
        b"\xe2\x82x\xf0\x9f\x98\x80",
        b"\xed\xa0\x80",
    ] {
        let (t, d) = decode_lossy(bytes, &mut s);
        assert_eq!(t, String::from_utf8_lossy(bytes));
        assert!(d.invalid_utf8 && !d.had_nul);
    }
}

#[test]
fn decode_nul_replaced_and_flagged() {
    let mut s = String::new();
    let (t, d) = decode_lossy(b"\0a\0\0", &mut s);
    assert_eq!(t, "\u{FFFD}a\u{FFFD}\u{FFFD}");
    assert!(d.had_nul && !d.invalid_utf8);
}

// ---- prompt batches -------------------------------------------------------

use proptest::prelude::*;
use std::cell::RefCell;
use std::collections::VecDeque;
use std::rc::Rc;

/// A pipe stand-in: `read()` returns queued bytes (at most one queued chunk
/// per call), `Ok(0)` once closed and drained, and panics when nothing is
/// queued and it is not closed: the framer would block there.
#[derive(Clone, Default)]
struct Gate(Rc<RefCell<GateState>>);

#[derive(Default)]
struct GateState {
    queue: VecDeque<Vec<u8>>,
    closed: bool,
    reads: usize,
}

impl Gate {
    fn feed(&self, bytes: &[u8]) {
        self.0.borrow_mut().queue.push_back(bytes.to_vec());
    }
    fn close(&self) {
        self.0.borrow_mut().closed = true;
    }
    fn reads(&self) -> usize {
        self.0.borrow().reads
    }
}

impl Read for Gate {
    fn read(&mut self, out: &mut [u8]) -> io::Result<usize> {
        let mut g = self.0.borrow_mut();
        g.reads += 1;
        let Some(mut chunk) = g.queue.pop_front() else {
            assert!(g.closed, "read() with no data available: the framer would block");
            return Ok(0);
        };
        let n = out.len().min(chunk.len());
        out[..n].copy_from_slice(&chunk[..n]);
        if n < chunk.len() {
            chunk.drain(..n);
            g.queue.push_front(chunk);
        }
        Ok(n)
    }
}

/// Lines of one prompt batch, with their line numbers.
fn prompt_lines<R: Read>(f: &mut LineFramer<R>, b: &mut LineBatch) -> Vec<(Line, u64)> {
    f.next_batch_prompt(b, usize::MAX, usize::MAX).unwrap();
    (0..b.len())
        .map(|i| {
            assert_eq!(b.line_count(i), 1);
            let fl = b.flags(i);
            ((b.line(i).to_vec(), fl.truncated(), fl.had_crlf()), b.line_no(i))
        })
        .collect()
}

#[test]
fn prompt_batch_returns_buffered_lines_without_waiting() {
    let gate = Gate::default();
    let mut f = LineFramer::with_chunk_size(gate.clone(), cfg(100), 64);
    let mut b = LineBatch::new();
    gate.feed(b"a\nb\npa");
    // One read brings two lines; a second read would block (the gate panics).
    let got = prompt_lines(&mut f, &mut b);
    assert_eq!(got, vec![(l("a", false, false), 1), (l("b", false, false), 2)]);
    assert_eq!(gate.reads(), 1);
    // The partial line waits for its newline; CRLF split across reads.
    gate.feed(b"rt\r");
    gate.feed(b"\nc");
    let got = prompt_lines(&mut f, &mut b);
    assert_eq!(got, vec![(l("part", false, true), 3)]);
    assert_eq!(
        gate.reads(),
        3,
        "a read that brings no complete line is followed by another"
    );
    gate.close();
    assert_eq!(prompt_lines(&mut f, &mut b), vec![(l("c", false, false), 4)]);
    assert_eq!(f.next_batch_prompt(&mut b, 10, 10).unwrap(), 0);
    assert!(b.is_empty());
}

#[test]
fn prompt_batch_emits_long_line_before_its_newline() {
    let gate = Gate::default();
    let mut f = LineFramer::with_chunk_size(gate.clone(), cfg(4), 3);
    let mut b = LineBatch::new();
    gate.feed(b"ok\nabcdefgh");
    // The first read brings `ok\nabcdef` (the buffer holds 4 + 2 + 3 bytes);
    // `abcdef` is already longer than 4 + `\r\n`, so it is emitted
    // truncated without waiting for its newline.
    let got = prompt_lines(&mut f, &mut b);
    assert_eq!(got, vec![(l("ok", false, false), 1), (l("abcd", true, false), 2)]);
    assert_eq!(gate.reads(), 1);
    // Its tail is skipped; the next line comes after the newline.
    gate.feed(b"ijk\nz\n");
    assert_eq!(prompt_lines(&mut f, &mut b), vec![(l("z", false, false), 3)]);
    assert_eq!(f.skipped_bytes(), 7);
    gate.close();
    assert_eq!(f.next_batch_prompt(&mut b, 10, 10).unwrap(), 0);
}

#[test]
fn prompt_batch_io_error_then_partial_line_then_end() {
    let mut f = LineFramer::with_chunk_size(FailAfter(b"a\nb\npartial"), cfg(100), 4);
    let mut b = LineBatch::new();
    let mut seen = Vec::new();
    let err = loop {
        match f.next_batch_prompt(&mut b, 100, 1 << 20) {
            Ok(n) => {
                assert!(n > 0);
                seen.extend(b.iter().map(|(x, _)| x.to_vec()));
            }
            Err(e) => break e,
        }
    };
    assert!(!err.can_continue());
    assert!(b.is_empty());
    assert_eq!(seen, vec![b"a".to_vec(), b"b".to_vec()]);
    assert_eq!(f.next_batch_prompt(&mut b, 100, 1 << 20).unwrap(), 1);
    assert_eq!((b.line(0), b.line_no(0)), (&b"partial"[..], 3));
    assert_eq!(f.next_batch_prompt(&mut b, 100, 1 << 20).unwrap(), 0);
}

/// A reader that returns chunks of the given sizes, cyclically.
struct Chunked<'a> {
    data: &'a [u8],
    sizes: Vec<usize>,
    k: usize,
}

impl Read for Chunked<'_> {
    fn read(&mut self, out: &mut [u8]) -> io::Result<usize> {
        let want = self.sizes[self.k % self.sizes.len()];
        self.k += 1;
        let n = want.min(out.len()).min(self.data.len());
        out[..n].copy_from_slice(&self.data[..n]);
        self.data = &self.data[n..];
        Ok(n)
    }
}

fn input_bytes() -> impl Strategy<Value = Vec<u8>> {
    let piece = prop_oneof![
        8 => prop::sample::select(&b"ab\n\n\r\0\xff \xc3\xa9"[..]).prop_map(|b| vec![b]),
        1 => (0usize..60).prop_map(|n| vec![b'z'; n]),
    ];
    prop::collection::vec(piece, 0..200).prop_map(|v| v.concat())
}

/// Slow twin: every line from `next_frame`, with its number.
fn frames_numbered(data: &[u8], max: usize, chunk: usize) -> Vec<(Line, u64)> {
    let mut f = LineFramer::with_chunk_size(data, cfg(max), chunk);
    let mut out = Vec::new();
    while let Some(fr) = f.next_frame().unwrap() {
        out.push(((fr.bytes.to_vec(), fr.truncated, fr.had_crlf), fr.line_no));
    }
    out
}

/// Lines the framer can deliver from `fed` bytes without knowing more: one per
/// `\n`, plus the trailing partial line once it is certainly too long.
fn deliverable(fed: &[u8], max: usize) -> usize {
    let newlines = fed.iter().filter(|&&b| b == b'\n').count();
    let tail = fed.len() - fed.iter().rposition(|&b| b == b'\n').map_or(0, |p| p + 1);
    newlines + usize::from(tail >= max + 2)
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(400))]

    #[test]
    fn prop_prompt_batches_equal_next_frame(
        data in input_bytes(),
        sizes in prop::collection::vec(1usize..24, 1..16),
        max in 1usize..40,
        chunk in 1usize..32,
        max_lines in 1usize..10,
        max_bytes in 1usize..120,
    ) {
        let want = frames_numbered(&data, max, 7);
        let reader = Chunked { data: &data, sizes, k: 0 };
        let mut f = LineFramer::with_chunk_size(reader, cfg(max), chunk);
        let mut b = LineBatch::new();
        let mut got = Vec::new();
        while f.next_batch_prompt(&mut b, max_lines, max_bytes).unwrap() > 0 {
            prop_assert!(b.len() <= max_lines);
            prop_assert_eq!(b.lines_covered(), b.len() as u64);
            for i in 0..b.len() {
                let fl = b.flags(i);
                got.push(((b.line(i).to_vec(), fl.truncated(), fl.had_crlf()), b.line_no(i)));
            }
        }
        prop_assert_eq!(got, want);
    }

    /// The framer reads only when no line can be delivered from what it has:
    /// it is called only while the fed bytes hold an undelivered line, and the
    /// gate panics on a read with nothing queued.
    #[test]
    fn prop_prompt_batch_never_waits_with_a_deliverable_line(
        data in input_bytes(),
        cuts in prop::collection::vec(1usize..30, 1..40),
        max in 1usize..40,
        chunk in 1usize..32,
        max_lines in 1usize..6,
    ) {
        let want = frames_numbered(&data, max, 5);
        let gate = Gate::default();
        let mut f = LineFramer::with_chunk_size(gate.clone(), cfg(max), chunk);
        let mut b = LineBatch::new();
        let mut got = Vec::new();
        let mut fed = 0;
        let mut k = 0;
        while fed < data.len() {
            let n = cuts[k % cuts.len()].min(data.len() - fed);
            k += 1;
            gate.feed(&data[fed..fed + n]);
            fed += n;
            while deliverable(&data[..fed], max) > got.len() {
                let n = f.next_batch_prompt(&mut b, max_lines, usize::MAX).unwrap();
                prop_assert!(n > 0 && n <= max_lines);
                for i in 0..b.len() {
                    let fl = b.flags(i);
                    got.push(((b.line(i).to_vec(), fl.truncated(), fl.had_crlf()), b.line_no(i)));
                }
            }
        }
        gate.close();
        while f.next_batch_prompt(&mut b, max_lines, usize::MAX).unwrap() > 0 {
            for i in 0..b.len() {
                let fl = b.flags(i);
                got.push(((b.line(i).to_vec(), fl.truncated(), fl.had_crlf()), b.line_no(i)));
            }
        }
        prop_assert_eq!(got, want);
    }
}

// ---- LineBatch numbering ----------------------------------------------------

#[test]
fn batch_stays_dense_for_consecutive_single_lines() {
    let mut b = LineBatch::new();
    b.push_lines(b"x", LineFlags::default(), 7, 1);
    b.push_lines(b"y", LineFlags::default(), 8, 1);
    b.push(b"z", LineFlags::default());
    assert!(b.numbering.is_empty());
    assert_eq!(b.first_line_no, 7);
    assert_eq!((b.line_no(2), b.line_count(2), b.last_line_no(2)), (9, 1, 9));
    assert_eq!(b.lines_covered(), 3);
}

#[test]
fn batch_multi_line_entries_number_each_entry() {
    let mut b = LineBatch::new();
    b.push_lines(b"head", LineFlags::default(), 3, 1);
    b.push_lines(b"ev\n\tat x", LineFlags::new(true, false), 4, 2);
    b.push(b"after", LineFlags::default());
    b.push_lines(b"gap", LineFlags::default(), 10, 1);
    let nums: Vec<_> = (0..b.len())
        .map(|i| (b.line_no(i), b.line_count(i), b.last_line_no(i)))
        .collect();
    assert_eq!(nums, vec![(3, 1, 3), (4, 2, 5), (6, 1, 6), (10, 1, 10)]);
    assert_eq!(b.first_line_no, 3);
    assert_eq!(b.lines_covered(), 5);
    assert_eq!(b.line(1), b"ev\n\tat x");
    assert!(b.flags(1).truncated());
    b.clear();
    b.push(b"again", LineFlags::default());
    assert_eq!((b.line_no(0), b.line_count(0)), (0, 1));
}

#[test]
#[should_panic(expected = "at least one line")]
fn batch_entry_of_zero_lines_is_refused() {
    LineBatch::new().push_lines(b"", LineFlags::default(), 1, 0);
}

#[test]
fn batch_append_keeps_numbers_and_flags() {
    let mut a = LineBatch::new();
    a.push_lines(b"one", LineFlags::new(false, true), 1, 1);
    let mut b = LineBatch::new();
    b.push_lines(b"two", LineFlags::default(), 2, 1);
    b.push_lines(b"three", LineFlags::default(), 3, 1);
    a.append(&b);
    assert!(a.numbering.is_empty(), "consecutive single lines stay dense");
    let mut c = LineBatch::new();
    c.push_lines(b"four\nfive", LineFlags::default().with_continued(true), 4, 2);
    a.append(&c);
    let got: Vec<_> = (0..a.len())
        .map(|i| (a.line(i).to_vec(), a.flags(i), a.line_no(i), a.line_count(i)))
        .collect();
    assert_eq!(
        got,
        vec![
            (b"one".to_vec(), LineFlags::new(false, true), 1, 1),
            (b"two".to_vec(), LineFlags::default(), 2, 1),
            (b"three".to_vec(), LineFlags::default(), 3, 1),
            (
                b"four\nfive".to_vec(),
                LineFlags::default().with_continued(true),
                4,
                2
            ),
        ]
    );
    let mut empty = LineBatch::new();
    empty.append(&c);
    assert_eq!((empty.first_line_no, empty.line_count(0)), (4, 2));
}

#[test]
fn line_flags_continued_is_independent() {
    let f = LineFlags::new(true, true).with_continued(true);
    assert!(f.truncated() && f.had_crlf() && f.continued());
    let g = f.with_continued(false);
    assert_eq!(g, LineFlags::new(true, true));
    assert!(!LineFlags::new(true, true).continued());
}

/// The fast twin, [`LineBatch::line_text`] over [`LineBatch::text`], gives
/// exactly what the slow one, [`decode_lossy`] of each line, gives, and
/// only where that changes nothing: on random batches of clean text (with
/// two-byte characters that truncation may cut) and of dirty bytes (NUL,
/// invalid UTF-8).
#[test]
fn batch_text_agrees_with_decoding_each_line() {
    let mut rng = Rng(0x2545F4914F6CDD1D);
    let (mut fast, mut slow) = (0, 0);
    for case in 0..2000 {
        let mut data = random_input(&mut rng);
        if case % 2 == 0 {
            // Clean text: the dirty bytes become letters or `é`.
            let mut clean = Vec::with_capacity(data.len());
            for &b in &data {
                match b {
                    0 | 0xff => clean.extend_from_slice("é".as_bytes()),
                    0xc3 | 0xa9 => clean.push(b'c'),
                    b => clean.push(b),
                }
            }
            data = clean;
        }
        let max = 1 + rng.below(40) as usize;
        let mut f = LineFramer::with_chunk_size(&data[..], cfg(max), 1 + rng.below(32) as usize);
        let mut b = LineBatch::new();
        let mut scratch = String::new();
        while f
            .next_batch(&mut b, 1 + rng.below(8) as usize, usize::MAX)
            .unwrap()
            > 0
        {
            let whole = b.text();
            assert_eq!(
                whole.is_some(),
                std::str::from_utf8(&b.data).is_ok() && !b.data.contains(&0)
            );
            for i in 0..b.len() {
                let (want, d) = decode_lossy(b.line(i), &mut scratch);
                match whole.and_then(|w| b.line_text(w, i)) {
                    Some(t) => {
                        assert_eq!(t, want, "case {case} entry {i}");
                        assert_eq!(d, Decoded::default(), "case {case} entry {i}");
                        fast += 1;
                    }
                    None => slow += 1,
                }
            }
        }
    }
    assert!(fast > 1000 && slow > 1000, "fast {fast} slow {slow}");
}

#[test]
fn line_text_refuses_another_batchs_text() {
    let (mut a, mut b) = (LineBatch::new(), LineBatch::new());
    a.push(b"same", LineFlags::default());
    b.push(b"same", LineFlags::default());
    let whole = a.text().unwrap();
    assert_eq!(a.line_text(whole, 0), Some("same"));
    assert_eq!(b.line_text(whole, 0), None);
}
