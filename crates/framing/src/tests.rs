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
    assert!(msg.contains("after line 2") && msg.contains("truncated"), "{msg}");
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
