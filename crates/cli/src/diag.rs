//! Messages on standard error that echo user input, and the end-of-run
//! header-mismatch warning.
//!
//! Every message that quotes user input (a log line, a format, a path)
//! passes it through [`clip`]: at most 200 characters, control characters
//! escaped, so one bad line cannot flood or repaint the terminal.

use crate::input::InputArgs;
use logsieve_engine::Stats;
use logsieve_header::{HeaderParser, ParsedHeader};
use std::io::BufRead;
use std::path::Path;

/// The longest echo of user input in a message, in characters.
pub const CLIP: usize = 200;

/// `s` cut to at most `max` characters (a cut is marked with `…`, which
/// counts towards `max`), with control characters escaped (`\u{1b}`,
/// `\t`, …).
pub fn clip(s: &str, max: usize) -> String {
    let total = s.chars().count();
    let cut = total > max;
    let keep = if cut { max.saturating_sub(1) } else { total };
    let mut out = String::with_capacity(s.len().min(4 * max));
    for c in s.chars().take(keep) {
        if c.is_control() {
            out.extend(c.escape_default());
        } else {
            out.push(c);
        }
    }
    if cut && max > 0 {
        out.push('…');
    }
    out
}

/// A path for a message, clipped.
pub fn clip_path(p: &Path) -> String {
    clip(&p.display().to_string(), CLIP)
}

/// `1234567` as `1,234,567`.
pub fn thousands(n: u64) -> String {
    let digits = n.to_string();
    let mut out = String::with_capacity(digits.len() + digits.len() / 3);
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i) % 3 == 0 {
            out.push(',');
        }
        out.push(c);
    }
    out
}

/// The warning printed when more than half of the lines miss the header
/// format, or `None` when at most half do. `format_desc` names the format
/// as the user gave it (`--format '<Date> <Content>'`, `--preset syslog`);
/// `example` is one line that did not match.
pub fn header_mismatch_message(stats: &Stats, format_desc: &str, example: Option<&str>) -> Option<String> {
    // Under --multiline, a line that misses the header is joined to the
    // event before it: those count as missing too.
    let missed = stats.header_mismatch + stats.joined;
    if stats.lines == 0 || missed * 2 <= stats.lines {
        return None;
    }
    let mut pct = (missed * 100 + stats.lines / 2) / stats.lines;
    if pct == 100 && missed < stats.lines {
        pct = 99;
    }
    let what = match (stats.joined, stats.header_mismatch) {
        (0, _) => "they were kept whole as content and flagged header_mismatch".to_string(),
        (j, 0) => format!("{} were joined to the event before them as continuation lines (--multiline)", thousands(j)),
        (j, m) => format!(
            "{} were joined to the event before them as continuation lines (--multiline), {} kept whole as content and flagged header_mismatch",
            thousands(j),
            thousands(m)
        ),
    };
    let mut msg = format!(
        "logsieve: warning: {} of {} lines ({pct}%) do not match {}; {what}; check the format",
        thousands(missed),
        thousands(stats.lines),
        clip(format_desc, CLIP),
    );
    if let Some(e) = example {
        msg.push_str(&format!(
            "\nlogsieve: a line that does not match: {}",
            clip(e, CLIP)
        ));
    }
    Some(msg)
}

/// Prints [`header_mismatch_message`], if any, on standard error.
pub fn warn_header_mismatch(stats: &Stats, format_desc: &str, example: Option<&str>) {
    if let Some(m) = header_mismatch_message(stats, format_desc, example) {
        crate::progress::finish();
        eprintln!("{m}");
    }
}

/// How the user named the header format, or `None` without one.
pub fn format_desc(args: &InputArgs) -> Option<String> {
    if let Some(f) = &args.format {
        return Some(format!("--format '{f}'"));
    }
    args.preset.as_ref().map(|p| format!("--preset {p}"))
}

/// Lines searched for an example by [`mismatch_example`].
const EXAMPLE_SCAN_LINES: usize = 100_000;

/// The first non-empty line of the regular-file inputs (read again, from
/// their start, at most [`EXAMPLE_SCAN_LINES`] lines) that `header` does
/// not match. Standard input cannot be read again: it gives no example.
pub fn mismatch_example(args: &InputArgs, header: &HeaderParser) -> Option<String> {
    let mut parsed = ParsedHeader::default();
    let mut budget = EXAMPLE_SCAN_LINES;
    let limit = args.max_line_bytes as u64 + 2;
    for input in args.inputs().unwrap_or_default() {
        // Only a regular file can be read again: a pipe or FIFO cannot.
        if logsieve_source::is_stream(&input) {
            continue;
        }
        let Ok(r) = logsieve_source::open(&input) else {
            continue;
        };
        let mut r = std::io::BufReader::with_capacity(1 << 16, r);
        let mut buf = Vec::new();
        while budget > 0 {
            budget -= 1;
            buf.clear();
            let n =
                match std::io::Read::take(std::io::Read::by_ref(&mut r), limit).read_until(b'\n', &mut buf) {
                    Ok(0) | Err(_) => break,
                    Ok(n) => n,
                };
            if buf.last() == Some(&b'\n') {
                buf.pop();
            } else if n as u64 == limit {
                // A line longer than the limit: skip its rest.
                let mut skip = Vec::new();
                while let Ok(k) =
                    std::io::Read::take(std::io::Read::by_ref(&mut r), 1 << 16).read_until(b'\n', &mut skip)
                {
                    if k == 0 || skip.last() == Some(&b'\n') {
                        break;
                    }
                    skip.clear();
                }
            }
            if buf.last() == Some(&b'\r') {
                buf.pop();
            }
            if buf.is_empty() {
                continue;
            }
            let line = String::from_utf8_lossy(&buf);
            if !header.parse(&line, &mut parsed) {
                return Some(clip(&line, CLIP));
            }
        }
        if budget == 0 {
            break;
        }
    }
    None
}

/// After a run: the header-mismatch warning, with an example line when
/// one can be found again in the inputs.
pub fn after_run(args: &InputArgs, header: &HeaderParser, stats: &Stats) {
    let Some(desc) = format_desc(args) else {
        return;
    };
    if header_mismatch_message(stats, &desc, None).is_none() {
        return;
    }
    let example = mismatch_example(args, header);
    warn_header_mismatch(stats, &desc, example.as_deref());
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The obviously-correct twin of [`clip`] for printable text.
    fn clip_slow(s: &str, max: usize) -> String {
        let chars: Vec<char> = s.chars().collect();
        if chars.len() <= max {
            s.to_string()
        } else {
            let mut t: String = chars[..max - 1].iter().collect();
            t.push('…');
            t
        }
    }

    #[test]
    fn clip_keeps_short_cuts_long_and_escapes_controls() {
        assert_eq!(clip("abc", 200), "abc");
        let long = "é".repeat(300);
        let c = clip(&long, 200);
        assert_eq!(c.chars().count(), 200);
        assert!(c.ends_with('…'));
        assert_eq!(clip("a\x1b[31mb", 200), "a\\u{1b}[31mb");
        for n in [0usize, 1, 5, 199, 200, 201, 450] {
            let s: String = (0..n).map(|i| char::from(b'a' + (i % 26) as u8)).collect();
            assert_eq!(clip(&s, 200), clip_slow(&s, 200), "length {n}");
        }
    }

    #[test]
    fn thousands_groups_digits() {
        assert_eq!(thousands(0), "0");
        assert_eq!(thousands(999), "999");
        assert_eq!(thousands(1000), "1,000");
        assert_eq!(thousands(1234567), "1,234,567");
    }

    fn stats(lines: u64, mismatch: u64) -> Stats {
        Stats {
            lines,
            header_mismatch: mismatch,
            ..Stats::default()
        }
    }

    #[test]
    fn mismatch_warning_only_above_half() {
        assert!(header_mismatch_message(&stats(2000, 1000), "--preset syslog", None).is_none());
        assert!(header_mismatch_message(&stats(0, 0), "--preset syslog", None).is_none());
        let m = header_mismatch_message(&stats(2000, 1234), "--format '<A> <Content>'", Some("x y")).unwrap();
        assert!(
            m.starts_with(
                "logsieve: warning: 1,234 of 2,000 lines (62%) do not match --format '<A> <Content>'"
            ),
            "{m}"
        );
        assert!(m.contains("check the format"));
        assert!(m.ends_with("does not match: x y"));
        let almost = header_mismatch_message(&stats(1000, 999), "--preset json", None).unwrap();
        assert!(almost.contains("(99%)"), "{almost}");
    }
}
