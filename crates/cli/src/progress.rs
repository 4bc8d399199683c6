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
//! - Lines are counted once: the command marks its phases ([`mining`]
//!   before a mining pass, [`reporting`] before a report pass; streams
//!   are one report pass). The count shows the lines mined, then "N of M"
//!   lines written, so the second read of a file never adds to it. (The
//!   engine's byte counts cannot tell the passes apart: its fast framing
//!   path counts each `\n` twice, so they only drive the percentage,
//!   which is clamped to 100%.)

use crate::diag::thousands;
use crate::input::InputArgs;
use indicatif::{ProgressBar, ProgressStyle};
use logsieve_engine::Engine;
use logsieve_source::{Compression, Input};
use std::io::IsTerminal;
use std::sync::atomic::{AtomicBool, AtomicU32, Ordering};
use std::sync::Mutex;
use std::time::Instant;

static PASSES: AtomicU32 = AtomicU32::new(1);
static BAR: Mutex<Option<ProgressBar>> = Mutex::new(None);
/// The phase in progress: false = report (the default), true = mining.
static MINING: AtomicBool = AtomicBool::new(false);

/// The groups that follow belong to a mining pass.
pub fn mining() {
    MINING.store(true, Ordering::Relaxed);
}

/// The groups that follow belong to a report pass (or a stream).
pub fn reporting() {
    MINING.store(false, Ordering::Relaxed);
}

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
    let inputs = args.inputs().unwrap_or_default();
    let stream = args.follow || inputs.iter().any(logsieve_source::is_stream);
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
    let counter = Mutex::new(Counter::new(total.filter(|&s| s > 0).map(|s| s * passes)));
    let started = Instant::now();
    engine.set_progress(Box::new(move |lines, bytes| {
        let mut c = counter.lock().unwrap_or_else(|e| e.into_inner());
        c.add(MINING.load(Ordering::Relaxed), lines, bytes);
        let secs = started.elapsed().as_secs_f64().max(1e-9);
        let rate = format!(
            "({:.0} lines/s, {:.1} MB/s)",
            c.lines as f64 / secs,
            c.bytes as f64 / 1e6 / secs
        );
        if c.work.is_some() {
            bar.set_position(c.position());
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

/// Lines and bytes seen, by phase.
#[derive(Debug)]
pub struct Counter {
    /// Bytes of the whole run (all passes), when known.
    work: Option<u64>,
    /// Lines of mining passes and of report passes.
    mined: u64,
    reported: u64,
    /// Bytes and lines over all passes (for the rates).
    bytes: u64,
    lines: u64,
}

impl Counter {
    pub fn new(work: Option<u64>) -> Self {
        Counter {
            work,
            mined: 0,
            reported: 0,
            bytes: 0,
            lines: 0,
        }
    }

    /// Counts one batch of a mining (`mining`) or report pass.
    pub fn add(&mut self, mining: bool, lines: u64, bytes: u64) {
        if mining {
            self.mined += lines;
        } else {
            self.reported += lines;
        }
        self.lines += lines;
        self.bytes += bytes;
    }

    /// Distinct lines seen: every line is mined once, or (with
    /// `--match-only` and streams) reported once. The invariant the
    /// message keeps (tests only).
    #[cfg(test)]
    pub fn distinct_lines(&self) -> u64 {
        if self.mined > 0 {
            self.mined
        } else {
            self.reported
        }
    }

    /// The bar position, at most the total work.
    pub fn position(&self) -> u64 {
        self.work.map_or(self.bytes, |w| self.bytes.min(w))
    }

    /// The message: distinct lines so far, and in a mine-then-report run
    /// how many of them were written.
    pub fn describe(&self) -> String {
        match (self.mined, self.reported) {
            (0, r) => format!("{} lines", thousands(r)),
            (m, 0) => format!("mining: {} lines", thousands(m)),
            (m, r) => format!("writing: {} of {} lines", thousands(r), thousands(m)),
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

    /// A mine-then-report run over the same groups: the count never
    /// exceeds the real number of lines.
    #[test]
    fn two_passes_count_each_line_once() {
        let groups = [(100u64, 1000u64), (100, 1000), (50, 480)];
        let size: u64 = groups.iter().map(|g| g.1).sum();
        let lines: u64 = groups.iter().map(|g| g.0).sum();
        let mut c = Counter::new(Some(2 * size));
        let mut seen = Vec::new();
        for mining in [true, false] {
            for &(l, b) in &groups {
                c.add(mining, l, b);
                seen.push(c.distinct_lines());
                assert!(c.distinct_lines() <= lines);
            }
        }
        assert_eq!(seen, vec![100, 200, 250, 250, 250, 250]);
        assert_eq!(c.describe(), "writing: 250 of 250 lines");
        assert_eq!(c.position(), 2 * size);
        // Over-reported bytes never move the bar past its end.
        c.add(false, 0, 10);
        assert_eq!(c.position(), 2 * size);
    }

    #[test]
    fn report_only_and_streams_count_all_lines() {
        let mut c = Counter::new(Some(100));
        c.add(false, 10, 60);
        c.add(false, 5, 40);
        assert_eq!(c.distinct_lines(), 15);
        assert_eq!(c.describe(), "15 lines");
        let mut s = Counter::new(None);
        s.add(false, 1000, 10);
        s.add(false, 1000, 10);
        assert_eq!(s.describe(), "2,000 lines");
        assert_eq!(s.position(), 20);
        let mut m = Counter::new(None);
        m.add(true, 1000, 10);
        assert_eq!(m.describe(), "mining: 1,000 lines");
    }
}
