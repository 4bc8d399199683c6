//! Shared by the peer runners: read the corpus into memory (not timed) and
//! print one JSON object, the shape `bench/measure.py --json-stdout` embeds.

use std::borrow::Cow;
use std::process::exit;

/// The corpus, read whole. `text` borrows `bytes` when they are valid UTF-8
/// (the usual case); otherwise it is a lossy copy and `lossy` says so.
pub struct Corpus {
    pub path: String,
    bytes: Vec<u8>,
}

impl Corpus {
    /// Reads the file at `path`, or exits with the I/O error (status 1).
    pub fn read(path: &str) -> Corpus {
        let path = path.to_string();
        match std::fs::read(&path) {
            Ok(bytes) => Corpus { path, bytes },
            Err(e) => {
                eprintln!("{path}: {e}");
                exit(1);
            }
        }
    }

    /// The text (lossy when the file is not valid UTF-8) and whether it was.
    pub fn text(&self) -> (Cow<'_, str>, bool) {
        let text = String::from_utf8_lossy(&self.bytes);
        let lossy = matches!(text, Cow::Owned(_));
        (text, lossy)
    }
}

/// The command line: `[--OPTION VALUE]... FILE`, options among `known`.
/// Returns the file and the options given; exits with `usage` (status 2)
/// on anything else.
pub fn args(usage: &str, known: &[&str]) -> (String, Vec<(String, String)>) {
    let fail = || -> ! {
        eprintln!("usage: {usage}");
        exit(2)
    };
    let mut opts = Vec::new();
    let mut file = None;
    let mut it = std::env::args().skip(1);
    while let Some(a) = it.next() {
        if let Some(name) = a.strip_prefix("--") {
            if !known.contains(&name) {
                fail();
            }
            let Some(v) = it.next() else { fail() };
            opts.push((name.to_string(), v));
        } else if file.is_none() {
            file = Some(a);
        } else {
            fail();
        }
    }
    match file {
        Some(f) => (f, opts),
        None => fail(),
    }
}

/// CPU time this thread has run, from `/proc/thread-self/schedstat`
/// (nanoseconds, Linux), so a loop's CPU time can be reported beside its
/// wall time on a shared machine. `None` where that file is missing.
pub fn thread_cpu_seconds() -> Option<f64> {
    let s = std::fs::read_to_string("/proc/thread-self/schedstat").ok()?;
    let ns: u64 = s.split_whitespace().next()?.parse().ok()?;
    Some(ns as f64 / 1e9)
}

/// Splits `text` into lines on `\n`, a trailing `\r` removed. A last line
/// without `\n` counts too, so for a file that ends in `\n` (the bench
/// corpora do) the count is `wc -l`'s.
pub fn lines(text: &str) -> Vec<&str> {
    if text.is_empty() {
        return Vec::new();
    }
    let body = text.strip_suffix('\n').unwrap_or(text);
    body.split('\n')
        .map(|l| l.strip_suffix('\r').unwrap_or(l))
        .collect()
}

/// A JSON value for [`print_json`].
pub enum Val<'a> {
    Int(u64),
    Float(f64),
    Str(&'a str),
    Bool(bool),
    /// A float, or null when absent.
    OptFloat(Option<f64>),
}

/// Prints one JSON object on one line (string values are plain ASCII
/// names and versions here; quotes and backslashes are escaped anyway).
pub fn print_json(fields: &[(&str, Val<'_>)]) {
    let mut out = String::from("{");
    for (i, (k, v)) in fields.iter().enumerate() {
        if i > 0 {
            out.push_str(", ");
        }
        out.push_str(&format!("\"{k}\": "));
        match v {
            Val::Int(n) => out.push_str(&n.to_string()),
            Val::Float(x) => out.push_str(&format!("{x:.4}")),
            Val::Bool(b) => out.push_str(if *b { "true" } else { "false" }),
            Val::OptFloat(Some(x)) => out.push_str(&format!("{x:.4}")),
            Val::OptFloat(None) => out.push_str("null"),
            Val::Str(s) => {
                out.push('"');
                for c in s.chars() {
                    match c {
                        '"' => out.push_str("\\\""),
                        '\\' => out.push_str("\\\\"),
                        c if (c as u32) < 0x20 => out.push_str(&format!("\\u{:04x}", c as u32)),
                        c => out.push(c),
                    }
                }
                out.push('"');
            }
        }
    }
    out.push('}');
    println!("{out}");
}

/// Why drain3-rs would refuse a line (`Matcher::add_log_message` returns
/// `Error::LineTooLong` for all three; the first harness unwrapped
/// it and aborted).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Drain3Skip {
    /// Longer than `Config::max_bytes` (1,024 by default).
    Bytes,
    /// More than `Config::max_tokens` (64) tokens; drain3-rs splits on
    /// single spaces, so that is 64 or more spaces.
    Tokens,
    /// Empty: no token at all.
    Empty,
}

/// The same test drain3-rs 0.1.6 applies before mining a line (its
/// tokenizer's limits), so the runner can skip and count those lines
/// instead of feeding them. `tests::drain3_guard_agrees_with_the_crate`
/// checks it against the crate itself.
pub fn drain3_skip(line: &str, cfg: &drain3::Config) -> Option<Drain3Skip> {
    if line.len() > cfg.max_bytes {
        Some(Drain3Skip::Bytes)
    } else if line.is_empty() {
        Some(Drain3Skip::Empty)
    } else if line.bytes().filter(|&b| b == b' ').count() >= cfg.max_tokens {
        Some(Drain3Skip::Tokens)
    } else {
        None
    }
}

#[cfg(test)]
mod tests {
    use super::{drain3_skip, lines, Drain3Skip};

    /// The guard and drain3-rs agree on every line: a line the guard lets
    /// through is mined, a line it skips is refused by the crate.
    #[test]
    fn drain3_guard_agrees_with_the_crate() {
        let cfg = drain3::Config::default();
        let mut m = drain3::Matcher::new(cfg.clone());
        let word = |i: usize| format!("w{}", i % 7);
        let mut cases: Vec<String> = vec![String::new(), " ".into(), "a".into(), "a  b".into(), " a ".into()];
        for n in [1, 2, 63, 64, 65, 66, 200] {
            // n tokens separated by single spaces, then with a double space.
            cases.push((0..n).map(word).collect::<Vec<_>>().join(" "));
            cases.push((0..n).map(word).collect::<Vec<_>>().join("  "));
            cases.push((0..n).map(word).collect::<Vec<_>>().join("\t"));
        }
        for len in [1023, 1024, 1025, 4000] {
            cases.push("x".repeat(len));
            cases.push(format!("{} y", "x".repeat(len - 2)));
        }
        cases.push(format!("{} é", "x".repeat(1021))); // 1,024 bytes, 1,023 chars
        cases.push(format!("{} é", "x".repeat(1022))); // 1,025 bytes
        let mut skipped = [0usize; 3];
        for line in &cases {
            let skip = drain3_skip(line, &cfg);
            let mined = m.add_log_message(line).is_ok();
            assert_eq!(
                skip.is_none(),
                mined,
                "guard {skip:?}, crate mined {mined}: {} bytes",
                line.len()
            );
            if let Some(s) = skip {
                skipped[s as usize] += 1;
            }
        }
        // Every kind of skip was exercised.
        assert!(skipped.iter().all(|&n| n > 0), "{skipped:?}");
        assert_eq!(drain3_skip("", &cfg), Some(Drain3Skip::Empty));
    }

    #[test]
    fn lines_counts_like_wc_and_strips_cr() {
        assert_eq!(lines(""), Vec::<&str>::new());
        assert_eq!(lines("a\nb\n"), vec!["a", "b"]);
        assert_eq!(lines("a\r\nb"), vec!["a", "b"]);
        assert_eq!(lines("\n\n"), vec!["", ""]);
    }
}
