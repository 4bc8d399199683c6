//! The progress display on standard error.
//!
//! - Shown only without `-q`, when stderr is a terminal and stdout is not
//!   that same terminal (records written there would garble it).
//! - When every input is a regular, uncompressed file, the total work is
//!   known: `passes` × the sum of the file sizes (files are read once to
//!   mine and once to report, see [`set_passes`]), and the bar shows a
//!   percentage and an ETA. Standard input, `--follow`, and compressed
//!   files (the engine counts decompressed bytes, whose total is unknown
//!   until the end) get a spinner with counts and rates instead.
//! - Lines are counted once: in a two-pass run the count shows the lines
//!   mined in pass 1, then "N of M" lines written in pass 2. A pass ends
//!   when the bytes read reach the total size again (every pass reads the
//!   same bytes); lines cut by `--max-line-bytes` drop bytes, which can
//!   only make the pass 2 count lag, never count a line twice.

use crate::diag::thousands;
use crate::input::InputArgs;
use indicatif::{ProgressBar, ProgressStyle};
use logsieve_engine::Engine;
use logsieve_source::{Compression, Input};
use std::io::IsTerminal;
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::Mutex;
use std::time::Instant;

static PASSES: AtomicU32 = AtomicU32::new(1);
static BAR: Mutex<Option<ProgressBar>> = Mutex::new(None);

/// How many times the command reads every file: 2 for mine-then-report
/// (`parse`, `detect` on text), 1 for `templates` and `--match-only`.
pub fn set_passes(n: u32) {
    PASSES.store(n.max(1), Ordering::Relaxed);
}

/// Whether the display is shown.
pub fn visible(quiet: bool, stderr_tty: bool, stdout_tty: bool, same_terminal: bool) -> bool {
    !quiet && stderr_tty && !(stdout_tty && same_terminal)
}

/// Installs the progress display on `engine` (nothing when hidden).
pub fn attach(engine: &mut Engine, args: &InputArgs) {
    let stdout_tty = std::io::stdout().is_terminal();
    let stderr_tty = std::io::stderr().is_terminal();
    if !visible(args.quiet, stderr_tty, stdout_tty, stdout_tty && same_terminal()) {
        return;
    }
    let inputs = args.inputs();
    let stream = args.follow || inputs.iter().any(|i| matches!(i, Input::Stdin));
    let total = if stream { None } else { known_size(&inputs) };
    // Streams are read once, whatever the command.
    let passes = if stream {
        1
    } else {
        u64::from(PASSES.load(Ordering::Relaxed))
    };
    let bar = match total {
        Some(size) if size > 0 => {
            let b = ProgressBar::new(size * passes);
            b.set_style(
                ProgressStyle::with_template("{spinner} {percent:>3}% [{bar:24}] {msg}  ETA {eta}")
                    .expect("progress template is valid")
                    .progress_chars("=> "),
            );
            b
        }
        _ => {
            let b = ProgressBar::new_spinner();
            b.set_style(ProgressStyle::with_template("{spinner} {msg}").expect("progress template is valid"));
            b
        }
    };
    *BAR.lock().unwrap_or_else(|e| e.into_inner()) = Some(bar.clone());
    let counter = Mutex::new(Counter::new(total.filter(|&s| s > 0), passes));
    let started = Instant::now();
    engine.set_progress(Box::new(move |lines, bytes| {
        let mut c = counter.lock().unwrap_or_else(|e| e.into_inner());
        c.add(lines, bytes);
        let secs = started.elapsed().as_secs_f64().max(1e-9);
        let rate = format!(
            "({:.0} lines/s, {:.1} MB/s)",
            c.lines as f64 / secs,
            c.bytes as f64 / 1e6 / secs
        );
        if c.size.is_some() {
            bar.set_position(c.bytes);
        }
        bar.set_message(format!("{}  {rate}", c.describe()));
        bar.tick();
    }));
}

/// Removes the display from the terminal (before the summary, a warning
/// or an error is printed).
pub fn finish() {
    if let Some(b) = BAR.lock().unwrap_or_else(|e| e.into_inner()).take() {
        b.finish_and_clear();
    }
}

/// The summed size of `inputs` when all are regular uncompressed files.
fn known_size(inputs: &[Input]) -> Option<u64> {
    let mut total = 0u64;
    for i in inputs {
        let Input::File(p) = i else {
            return None;
        };
        let meta = std::fs::metadata(p).ok()?;
        if !meta.is_file() {
            return None;
        }
        let (_, compression) = logsieve_source::open_with_compression(i).ok()?;
        if compression != Compression::None {
            return None;
        }
        total += meta.len();
    }
    Some(total)
}

/// Whether stdout and stderr are the same file (the same terminal).
#[cfg(unix)]
fn same_terminal() -> bool {
    use std::os::fd::AsFd;
    use std::os::unix::fs::MetadataExt;
    let id = |fd: std::os::fd::BorrowedFd<'_>| {
        let f = std::fs::File::from(fd.try_clone_to_owned().ok()?);
        let m = f.metadata().ok()?;
        Some((m.dev(), m.ino(), m.rdev()))
    };
    match (id(std::io::stdout().as_fd()), id(std::io::stderr().as_fd())) {
        (Some(a), Some(b)) => a == b,
        _ => true,
    }
}

/// Without a way to compare, two terminals are assumed to be one.
#[cfg(not(unix))]
fn same_terminal() -> bool {
    true
}

/// Lines and bytes seen, and which pass they belong to.
#[derive(Debug)]
pub struct Counter {
    /// Bytes of one pass, when known.
    size: Option<u64>,
    passes: u64,
    /// Lines and bytes over all passes.
    lines: u64,
    bytes: u64,
    /// The pass in progress (0-based) and the line count when it began.
    pass: u64,
    pass_start: u64,
    /// Lines of the first pass, once it ended.
    first_pass_lines: Option<u64>,
}

impl Counter {
    pub fn new(size: Option<u64>, passes: u64) -> Self {
        Counter {
            size,
            passes: passes.max(1),
            lines: 0,
            bytes: 0,
            pass: 0,
            pass_start: 0,
            first_pass_lines: None,
        }
    }

    /// Counts one group of batches.
    pub fn add(&mut self, lines: u64, bytes: u64) {
        self.lines += lines;
        self.bytes += bytes;
        if let Some(size) = self.size {
            while self.pass + 1 < self.passes && self.bytes >= size * (self.pass + 1) {
                if self.pass == 0 {
                    self.first_pass_lines = Some(self.lines);
                }
                self.pass += 1;
                self.pass_start = self.lines;
            }
        }
    }

    /// Distinct lines seen (the invariant the display keeps; tests only):
    /// each line counts once across passes. `None`
    /// in a two-pass run of unknown size, where the passes cannot be told
    /// apart.
    #[cfg(test)]
    pub fn distinct_lines(&self) -> Option<u64> {
        match (self.passes, self.size, self.first_pass_lines) {
            (1, _, _) => Some(self.lines),
            (_, None, _) => None,
            (_, Some(_), Some(first)) => Some(first.max(self.lines - self.pass_start)),
            (_, Some(_), None) => Some(self.lines),
        }
    }

    /// The message: lines so far, and the pass in a two-pass run.
    pub fn describe(&self) -> String {
        match (self.passes, self.size, self.first_pass_lines) {
            (1, _, _) => format!("{} lines", thousands(self.lines)),
            // Compressed files read twice: only bytes can be shown.
            (_, None, _) => format!("{:.1} MB read (files are read twice)", self.bytes as f64 / 1e6),
            (_, Some(_), None) => format!("mining: {} lines", thousands(self.lines)),
            (_, Some(_), Some(first)) => format!(
                "writing: {} of {} lines",
                thousands(self.lines - self.pass_start),
                thousands(first)
            ),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hidden_when_quiet_or_sharing_the_terminal() {
        assert!(visible(false, true, false, false));
        assert!(visible(false, true, true, false));
        assert!(!visible(true, true, false, false));
        assert!(!visible(false, false, false, false));
        assert!(!visible(false, true, true, true));
    }

    /// Feeds groups of (lines, bytes) covering one pass `passes` times and
    /// checks that the count never exceeds the real number of lines.
    #[test]
    fn two_passes_count_each_line_once() {
        let groups = [(100u64, 1000u64), (100, 1000), (50, 480)];
        let size: u64 = groups.iter().map(|g| g.1).sum();
        let lines: u64 = groups.iter().map(|g| g.0).sum();
        let mut c = Counter::new(Some(size), 2);
        let mut seen = Vec::new();
        for _ in 0..2 {
            for &(l, b) in &groups {
                c.add(l, b);
                let d = c.distinct_lines().unwrap();
                seen.push(d);
                assert!(d <= lines);
            }
        }
        assert_eq!(seen, vec![100, 200, 250, 250, 250, 250]);
        assert_eq!(c.describe(), "writing: 250 of 250 lines");
        assert_eq!(c.bytes, 2 * size);
    }

    #[test]
    fn one_pass_and_unknown_size_count_all_lines() {
        let mut c = Counter::new(Some(100), 1);
        c.add(10, 60);
        c.add(5, 40);
        assert_eq!(c.distinct_lines(), Some(15));
        assert_eq!(c.describe(), "15 lines");
        let mut s = Counter::new(None, 1);
        s.add(1000, 10);
        s.add(1000, 10);
        assert_eq!(s.distinct_lines(), Some(2000));
        assert_eq!(s.describe(), "2,000 lines");
        // Two passes of unknown size: no line count that could double.
        let mut z = Counter::new(None, 2);
        z.add(1000, 2_000_000);
        assert_eq!(z.distinct_lines(), None);
        assert!(!z.describe().contains("lines"), "{}", z.describe());
    }
}
