use super::*;
use crate::{FramerConfig, LineFramer};
use proptest::prelude::*;

/// One output entry: text, first line, line count, flags.
type Ev = (String, u64, u32, LineFlags);

fn no_header() -> StartsEvent {
    Box::new(|_| None)
}

/// A header predicate: lines starting with a `YYYY-MM-DD` date match.
fn date_header() -> StartsEvent {
    let re = regex::bytes::Regex::new(r"^\d{4}-\d\d-\d\d ").unwrap();
    Box::new(move |l| Some(re.is_match(l)))
}

/// Frames `text` into lines with the real framer.
fn framed(text: &str) -> LineBatch {
    let mut f = LineFramer::new(text.as_bytes(), FramerConfig::default());
    let mut b = LineBatch::new();
    f.next_batch(&mut b, usize::MAX, usize::MAX).unwrap();
    b
}

/// Splits `input` into batches of the given sizes (cyclic), keeping numbers.
fn split(input: &LineBatch, sizes: &[usize]) -> Vec<LineBatch> {
    let mut out = Vec::new();
    let mut i = 0;
    let mut k = 0;
    while i < input.len() {
        let n = sizes[k % sizes.len()].max(1).min(input.len() - i);
        k += 1;
        let mut b = LineBatch::new();
        for j in i..i + n {
            b.push_lines(
                input.line(j),
                input.flags(j),
                input.line_no(j),
                input.line_count(j),
            );
        }
        out.push(b);
        i += n;
    }
    out
}

fn events(b: &LineBatch) -> Vec<Ev> {
    (0..b.len())
        .map(|i| {
            (
                String::from_utf8_lossy(b.line(i)).into_owned(),
                b.line_no(i),
                b.line_count(i),
                b.flags(i),
            )
        })
        .collect()
}

fn run(joiner: &mut Joiner, batches: &[LineBatch]) -> LineBatch {
    let mut out = LineBatch::new();
    for b in batches {
        joiner.push(b, &mut out);
    }
    joiner.flush(&mut out);
    assert!(!joiner.has_pending());
    out
}

fn join(mode: Multiline, pred: StartsEvent, text: &str) -> Vec<Ev> {
    let input = framed(text);
    let out = run(&mut Joiner::new(mode, pred), &[input]);
    events(&out)
}

/// Texts and first line numbers only.
fn texts(evs: &[Ev]) -> Vec<(&str, u64)> {
    evs.iter().map(|(t, n, _, _)| (t.as_str(), *n)).collect()
}

const JAVA: &str = "\
2024-03-01 12:00:00 ERROR [main] shop.Checkout - payment failed
shop.PaymentException: card declined
\tat shop.Gateway.charge(Gateway.java:88)
\tat shop.Checkout.pay(Checkout.java:41)
Caused by: java.net.SocketTimeoutException: read timed out
\tat java.net.Socket.read(Socket.java:12)
\t... 7 more
2024-03-01 12:00:01 INFO [main] shop.Checkout - retrying
";

#[test]
fn auto_java_trace_without_header() {
    let got = join(Multiline::Auto, no_header(), JAVA);
    assert_eq!(
        texts(&got),
        vec![
            (
                "2024-03-01 12:00:00 ERROR [main] shop.Checkout - payment failed",
                1
            ),
            (
                "shop.PaymentException: card declined\n\
                 \tat shop.Gateway.charge(Gateway.java:88)\n\
                 \tat shop.Checkout.pay(Checkout.java:41)\n\
                 Caused by: java.net.SocketTimeoutException: read timed out\n\
                 \tat java.net.Socket.read(Socket.java:12)\n\
                 \t... 7 more",
                2
            ),
            ("2024-03-01 12:00:01 INFO [main] shop.Checkout - retrying", 8),
        ]
    );
    assert_eq!(got[1].2, 6);
}

#[test]
fn auto_java_trace_with_header_joins_exception_line() {
    let got = join(Multiline::Auto, date_header(), JAVA);
    assert_eq!(got.len(), 2);
    assert_eq!((got[0].1, got[0].2), (1, 7));
    assert!(got[0].0.starts_with("2024-03-01 12:00:00 ERROR"));
    assert!(got[0].0.ends_with("\n\t... 7 more"));
    assert_eq!((got[1].1, got[1].2), (8, 1));
}

const PYTHON: &str = "\
2024-03-01 12:00:02 ERROR worker crashed
Traceback (most recent call last):
  File \"/srv/app/worker.py\", line 31, in run
    self.step()
  File \"/srv/app/worker.py\", line 12, in step
    raise ValueError(\"bad input\")
ValueError: bad input
next line without a header
";

#[test]
fn auto_python_traceback_without_header() {
    let got = join(Multiline::Auto, no_header(), PYTHON);
    assert_eq!(got.len(), 2);
    let lines: Vec<&str> = got[0].0.split('\n').collect();
    assert_eq!(lines.len(), 7);
    assert_eq!(lines[1], "Traceback (most recent call last):");
    assert_eq!(lines[6], "ValueError: bad input");
    assert_eq!((got[0].1, got[0].2), (1, 7));
    // The block ended at the exception line: the next line starts an event.
    assert_eq!(texts(&got)[1], ("next line without a header", 8));
}

#[test]
fn auto_python_traceback_with_header() {
    let got = join(Multiline::Auto, date_header(), PYTHON);
    // Without a date, the last line continues the event too.
    assert_eq!(got.len(), 1);
    assert_eq!((got[0].1, got[0].2), (1, 8));
}

const GO: &str = "\
panic: runtime error: invalid memory address or nil pointer dereference
[signal SIGSEGV: segmentation violation code=0x1 addr=0x0 pc=0x47e0b0]

goroutine 1 [running]:
main.(*Server).handle(0x0, {0xc000012345, 0x3})
\t/src/server.go:42 +0x1d
main.main()
\t/src/main.go:9 +0x25

goroutine 6 [chan receive]:
main.worker()
\t/src/worker.go:17 +0x3a
created by main.main in goroutine 1
\t/src/main.go:7 +0x1f

exit status 2
";

#[test]
fn auto_go_panic_with_goroutine_blocks() {
    let got = join(Multiline::Auto, no_header(), GO);
    assert_eq!(
        got.iter().map(|e| (e.1, e.2)).collect::<Vec<_>>(),
        vec![(1, 14), (15, 1), (16, 1)]
    );
    assert!(got[0].0.starts_with("panic: runtime error"));
    assert!(got[0].0.contains("\n\ngoroutine 1 [running]:\nmain.(*Server)"));
    assert!(got[0].0.contains("\n\ngoroutine 6 [chan receive]:\n"));
    assert!(got[0].0.ends_with("\t/src/main.go:7 +0x1f"));
    assert_eq!(texts(&got)[1..], [("", 15), ("exit status 2", 16)]);
}

#[test]
fn auto_go_blank_line_decided_in_next_batch_and_at_flush() {
    let input = framed(GO);
    // Every split point, including right after each blank line.
    let whole = events(&run(
        &mut Joiner::new(Multiline::Auto, no_header()),
        std::slice::from_ref(&input),
    ));
    for n in 1..input.len() {
        let parts = split(&input, &[n]);
        let got = events(&run(&mut Joiner::new(Multiline::Auto, no_header()), &parts));
        assert_eq!(got, whole, "batches of {n}");
    }
    // A flush while a blank line is held: the block ends there.
    let mut j = Joiner::new(Multiline::Auto, no_header());
    let mut out = LineBatch::new();
    let first = split(&input, &[3]).remove(0);
    j.push(&first, &mut out);
    assert!(out.is_empty() && j.has_pending());
    j.flush(&mut out);
    assert_eq!(
        texts(&events(&out)),
        vec![
            (
                "panic: runtime error: invalid memory address or nil pointer dereference\n\
                 [signal SIGSEGV: segmentation violation code=0x1 addr=0x0 pc=0x47e0b0]",
                1
            ),
            ("", 3)
        ]
    );
}

#[test]
fn auto_blank_line_is_its_own_record_without_header() {
    let got = join(
        Multiline::Auto,
        no_header(),
        "a\n\n  indented\n\t\nCaused by: x\nb\n",
    );
    assert_eq!(
        texts(&got),
        vec![
            ("a", 1),
            ("", 2),
            ("  indented", 3),
            ("\t", 4),
            ("Caused by: x", 5),
            ("b", 6)
        ]
    );
}

#[test]
fn auto_blank_lines_continue_with_header() {
    let text = "2024-01-01 a\n\nmore\n2024-01-02 b\n";
    let got = join(Multiline::Auto, date_header(), text);
    assert_eq!(
        texts(&got),
        vec![("2024-01-01 a\n\nmore", 1), ("2024-01-02 b", 4)]
    );
}

#[test]
fn auto_patterns_continue_even_when_the_header_matches() {
    // A header that matches every line: only the built-in patterns join.
    let all: StartsEvent = Box::new(|_| Some(true));
    let got = join(Multiline::Auto, all, JAVA);
    assert_eq!(
        got.iter().map(|e| (e.1, e.2)).collect::<Vec<_>>(),
        vec![(1, 1), (2, 6), (8, 1)]
    );
    let all: StartsEvent = Box::new(|_| Some(true));
    let got = join(Multiline::Auto, all, PYTHON);
    assert_eq!(
        got.iter().map(|e| (e.1, e.2)).collect::<Vec<_>>(),
        vec![(1, 7), (8, 1)]
    );
}

#[test]
fn first_line_starts_an_event_in_every_mode() {
    let text = "\tat a.B.c(B.java:1)\n\tat a.B.d(B.java:2)\nx\n";
    let got = join(Multiline::Auto, date_header(), text);
    assert_eq!(got[0].1, 1);
    assert!(!got[0].3.continued());
    assert_eq!(got.len(), 1);
    let got = join("^x".parse().unwrap(), no_header(), text);
    assert_eq!(
        texts(&got),
        vec![("\tat a.B.c(B.java:1)\n\tat a.B.d(B.java:2)", 1), ("x", 3)]
    );
}

#[test]
fn regex_mode_starts_events_on_matching_lines() {
    let mode: Multiline = r"^\[\d+\]".parse().unwrap();
    let text = "[1] start\ndetail\n\n[2] next\n[3] last\ntrailing\n";
    let got = join(mode, no_header(), text);
    assert_eq!(
        texts(&got),
        vec![
            ("[1] start\ndetail\n", 1),
            ("[2] next", 4),
            ("[3] last\ntrailing", 5)
        ]
    );
    assert_eq!(got.iter().map(|e| e.2).collect::<Vec<_>>(), vec![3, 1, 2]);
}

#[test]
fn regex_mode_sees_lossy_decoded_lines() {
    let mode: Multiline = "^\u{FFFD}".parse().unwrap();
    let mut input = LineBatch::new();
    input.push_lines(b"head", LineFlags::default(), 1, 1);
    input.push_lines(b"\xffbad start", LineFlags::default(), 2, 1);
    input.push_lines(b"more", LineFlags::default(), 3, 1);
    let got = events(&run(&mut Joiner::new(mode, no_header()), &[input]));
    assert_eq!(
        got.iter().map(|e| (e.1, e.2)).collect::<Vec<_>>(),
        vec![(1, 1), (2, 2)]
    );
}

#[test]
fn none_mode_passes_lines_through() {
    let input = framed("a\r\n\tat b\n\nc");
    let mut out = LineBatch::new();
    let mut j = Joiner::new(Multiline::None, no_header());
    for b in split(&input, &[2]) {
        j.push(&b, &mut out);
    }
    assert!(!j.has_pending());
    assert_eq!(events(&out), events(&input));
    assert!(out.flags(0).had_crlf());
}

#[test]
fn flags_truncated_if_any_line_crlf_of_first() {
    let mut input = LineBatch::new();
    input.push_lines(b"2024-01-01 head", LineFlags::new(false, false), 1, 1);
    input.push_lines(b"\tcont", LineFlags::new(true, false), 2, 1);
    input.push_lines(b"2024-01-02 next", LineFlags::new(false, true), 3, 1);
    input.push_lines(b"\tmore", LineFlags::new(false, false), 4, 1);
    let got = events(&run(&mut Joiner::new(Multiline::Auto, date_header()), &[input]));
    assert_eq!(got[0].3, LineFlags::new(true, false));
    assert_eq!(got[1].3, LineFlags::new(false, true));
}

#[test]
fn cap_on_lines_starts_a_continued_event() {
    let text = "head\n\ta\n\tb\n\tc\n\td\nnext\n";
    let cfg = JoinerConfig {
        max_lines: 2,
        max_bytes: 1 << 20,
    };
    let mut j = Joiner::with_config(Multiline::Auto, no_header(), cfg);
    let got = events(&run(&mut j, &[framed(text)]));
    assert_eq!(
        texts(&got),
        vec![("head\n\ta", 1), ("\tb\n\tc", 3), ("\td", 5), ("next", 6)]
    );
    let continued: Vec<bool> = got.iter().map(|e| e.3.continued()).collect();
    assert_eq!(continued, vec![false, true, true, false]);
}

#[test]
fn cap_on_bytes_starts_a_continued_event() {
    let text = "0123456789\n\tabc\n\tdef\n";
    let cfg = JoinerConfig {
        max_lines: 100,
        max_bytes: 15,
    };
    let mut j = Joiner::with_config(Multiline::Auto, no_header(), cfg);
    let got = events(&run(&mut j, &[framed(text)]));
    // 10 + 1 + 4 = 15 fits; one more line would not.
    assert_eq!(texts(&got), vec![("0123456789\n\tabc", 1), ("\tdef", 3)]);
    assert!(got[1].3.continued());
}

#[test]
fn flush_splits_an_event_and_marks_the_rest_continued() {
    let input = framed(PYTHON);
    let parts = split(&input, &[3]);
    let mut j = Joiner::new(Multiline::Auto, no_header());
    let mut out = LineBatch::new();
    j.push(&parts[0], &mut out);
    assert!(out.is_empty() && j.has_pending());
    j.flush(&mut out); // quiet timer
    assert_eq!(out.len(), 1);
    assert_eq!((out.line_no(0), out.line_count(0)), (1, 3));
    j.push(&parts[1], &mut out);
    j.push(&parts[2], &mut out);
    j.flush(&mut out);
    let got = events(&out);
    // The Python block survived the flush: lines 4..7 form one event.
    assert_eq!(
        got.iter().map(|e| (e.1, e.2)).collect::<Vec<_>>(),
        vec![(1, 3), (4, 4), (8, 1)]
    );
    assert!(got[1].3.continued());
    assert!(!got[2].3.continued());
}

#[test]
fn finish_treats_the_next_line_as_a_first_line() {
    let mut j = Joiner::new(Multiline::Auto, no_header());
    let mut out = LineBatch::new();
    j.push(&framed("a\n\tb\n"), &mut out);
    j.finish(&mut out);
    j.push(&framed("\tc\n"), &mut out);
    j.finish(&mut out);
    let got = events(&out);
    assert_eq!(texts(&got), vec![("a\n\tb", 1), ("\tc", 1)]);
    assert!(!got[1].3.continued());
}

#[test]
fn mode_from_str_and_invalid_regex_names_the_pattern() {
    assert!(matches!("none".parse::<Multiline>(), Ok(Multiline::None)));
    assert!(matches!("auto".parse::<Multiline>(), Ok(Multiline::Auto)));
    let m: Multiline = r"^\d+ ".parse().unwrap();
    assert!(matches!(&m, Multiline::Regex(r) if r.as_str() == r"^\d+ "));
    assert_eq!(m.to_string(), r"^\d+ ");
    let e = "^(unclosed".parse::<Multiline>().unwrap_err();
    let msg = e.to_string();
    assert!(msg.contains("`^(unclosed`"), "{msg}");
    assert!(std::error::Error::source(&e).is_some());
}

#[test]
fn joiner_is_send() {
    fn send<T: Send>(_: &T) {}
    send(&Joiner::new(Multiline::Auto, no_header()));
}

// ---- properties ---------------------------------------------------------------

const VOCAB: &[&str] = &[
    "2024-01-01 INFO started",
    "2024-01-01 ERROR failed",
    "plain words here",
    "\tat a.b.C.d(C.java:1)",
    "\t... 3 more",
    "Caused by: x.Y: boom",
    "Traceback (most recent call last):",
    "  File \"a.py\", line 3, in f",
    "ValueError: bad",
    "panic: boom",
    "fatal error: deadlock",
    "[signal SIGSEGV: x]",
    "goroutine 7 [running]:",
    "main.main()",
    "created by main.f in goroutine 1",
    "\t/src/x.go:1 +0x1",
    "",
    "  ",
];

fn input_lines() -> impl Strategy<Value = Vec<(usize, bool, bool)>> {
    prop::collection::vec((0..VOCAB.len(), prop::bool::weighted(0.1), any::<bool>()), 0..80)
}

fn mode_and_pred(k: u8) -> (Multiline, StartsEvent) {
    match k {
        0 => (Multiline::None, no_header()),
        1 => (Multiline::Auto, no_header()),
        2 => (Multiline::Auto, date_header()),
        _ => (r"^\d{4}-".parse().unwrap(), no_header()),
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(300))]

    /// Every input line lands in exactly one entry, in order; an entry's bytes
    /// are its input lines joined with `\n` (slow twin); flags follow the
    /// rules; caps hold; and batch boundaries do not change the events.
    #[test]
    fn prop_joiner_accounts_for_every_line_in_any_batching(
        lines in input_lines(),
        first in 1u64..1000,
        mode in 0u8..4,
        max_lines in 1usize..8,
        max_bytes in 1usize..120,
        sizes in prop::collection::vec(1usize..10, 1..8),
    ) {
        let mut input = LineBatch::new();
        for (k, &(w, trunc, crlf)) in lines.iter().enumerate() {
            input.push_lines(VOCAB[w].as_bytes(), LineFlags::new(trunc, crlf && !trunc), first + k as u64, 1);
        }
        let cfg = JoinerConfig { max_lines, max_bytes };
        let (m, p) = mode_and_pred(mode);
        let whole = run(&mut Joiner::with_config(m, p, cfg), std::slice::from_ref(&input));
        let (m, p) = mode_and_pred(mode);
        let parts = split(&input, &sizes);
        let pieces = run(&mut Joiner::with_config(m, p, cfg), &parts);
        prop_assert_eq!(events(&pieces), events(&whole));

        prop_assert_eq!(whole.lines_covered(), lines.len() as u64);
        let mut next = first;
        for i in 0..whole.len() {
            prop_assert_eq!(whole.line_no(i), next);
            let n = whole.line_count(i) as usize;
            prop_assert!(n >= 1 && n <= max_lines.max(1) || mode == 0);
            let k0 = (next - first) as usize;
            let want: Vec<&[u8]> = (k0..k0 + n).map(|k| input.line(k)).collect();
            prop_assert_eq!(whole.line(i), &want.join(&b'\n')[..]);
            prop_assert!(n == 1 || whole.line(i).len() <= max_bytes);
            let fl = whole.flags(i);
            prop_assert_eq!(fl.truncated(), (k0..k0 + n).any(|k| input.flags(k).truncated()));
            prop_assert_eq!(fl.had_crlf(), input.flags(k0).had_crlf());
            next = whole.last_line_no(i) + 1;
        }
        prop_assert_eq!(next, first + lines.len() as u64);
    }
}
