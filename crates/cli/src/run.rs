//! The one processing path of `parse`, `templates` and `detect` over text
//! inputs: regular files in two passes, everything that can be read only
//! once (standard input, pipes, FIFOs, process substitution, `--follow`)
//! in one streaming pass; signals as a clean stop; per-input errors printed
//! once, the other inputs still read.

use crate::input::InputArgs;
use anyhow::{Context, Result};
use logsieve_engine::{Engine, EngineError, Observer, OutputFormat, Stats, StreamControl, StreamInput};
use logsieve_source::Input;
use std::io::Write;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, OnceLock};

/// Longest piece of user input echoed in a message.
pub const ECHO_LIMIT: usize = logsieve_source::MAX_ECHO_CHARS;

/// `s` cut to [`ECHO_LIMIT`] characters (the source crate's rule, so every
/// message cuts user input the same way).
pub use logsieve_source::clip;

/// A cause longer than the user-input limit plus room for its own words is
/// cut (messages that embed user input clip it themselves; this catches
/// causes from libraries that echo it whole).
pub fn clip_cause(c: &str) -> String {
    const ROOM: usize = ECHO_LIMIT + 400;
    match c.char_indices().nth(ROOM) {
        None => c.to_string(),
        Some((i, _)) => format!("{}… (message cut at {ROOM} characters)", &c[..i]),
    }
}

/// Cuts every run of more than [`ECHO_LIMIT`] characters without a space
/// (how user input such as a quoted identifier or value shows up inside a
/// message), keeping the message's own words.
pub fn clip_words(m: &str) -> String {
    let mut out = String::with_capacity(m.len().min(4 * ECHO_LIMIT));
    for (i, word) in m.split(' ').enumerate() {
        if i > 0 {
            out.push(' ');
        }
        out.push_str(&clip(word));
    }
    out
}

static STOP: OnceLock<Arc<AtomicBool>> = OnceLock::new();

/// The process-wide stop flag, set by the first SIGINT/SIGTERM. A second
/// signal ends the process at once with exit 130.
pub fn stop_flag() -> Arc<AtomicBool> {
    STOP.get_or_init(|| {
        let flag = Arc::new(AtomicBool::new(false));
        for sig in [signal_hook::consts::SIGINT, signal_hook::consts::SIGTERM] {
            // Order matters: the conditional exit is checked before the
            // flag is set by this same signal, so only a second one exits.
            let _ = signal_hook::flag::register_conditional_shutdown(sig, 130, flag.clone());
            let _ = signal_hook::flag::register(sig, flag.clone());
        }
        flag
    })
    .clone()
}

/// Whether a stop was requested.
pub fn stopping() -> bool {
    STOP.get().is_some_and(|f| f.load(Ordering::Acquire))
}

/// An input, with its reader when it was already opened (and peeked at).
pub type OpenedInput = (Input, Option<Box<dyn std::io::Read + Send>>);

/// What one run over the inputs did.
#[derive(Debug, Default)]
pub struct RunResult {
    /// Counters over every input.
    pub stats: Stats,
    /// Inputs that failed (opened or read part-way); each was reported once.
    pub failed: usize,
    /// The run ended early on a signal.
    pub stopped: bool,
}

impl RunResult {
    /// The exit code: 2 when an input failed, else 0 (a signal-stop is a
    /// clean end).
    pub fn code(&self) -> i32 {
        if self.failed > 0 {
            2
        } else {
            0
        }
    }
}

/// Prints one error about one input, once.
pub fn report_error(e: &dyn std::fmt::Display) {
    eprintln!("logsieve: error: {e}");
}

/// Whether the inputs must be read in one pass.
pub fn is_stream(args: &InputArgs, inputs: &[Input]) -> bool {
    args.follow || inputs.iter().any(logsieve_source::is_stream)
}

/// What a follower saw of its file, copied after every read so the run can
/// report it at the end.
#[derive(Debug, Default, Clone)]
pub struct FollowReport {
    /// The followed path.
    pub path: String,
    /// Rename rotations.
    pub rotations: u64,
    /// Truncations (copytruncate).
    pub truncations: u64,
    /// Bytes read back from rotated copies after a truncation.
    pub recovered_bytes: u64,
    /// Truncations where no rotated copy was found: lines written just
    /// before them may be missing.
    pub truncations_without_copy: u64,
    /// Unterminated last lines ended by a rotation, a quiet period or the stop.
    pub partial_flushes: u64,
}

struct Reporting {
    inner: logsieve_source::Follower,
    report: Arc<std::sync::Mutex<FollowReport>>,
}

impl std::io::Read for Reporting {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let n = self.inner.read(buf)?;
        let f = &self.inner;
        let mut r = self.report.lock().unwrap_or_else(|e| e.into_inner());
        r.rotations = f.rotations();
        r.truncations = f.truncations();
        r.recovered_bytes = f.recovered_bytes();
        r.truncations_without_copy = f.truncations_without_copy();
        r.partial_flushes = f.partial_flushes();
        Ok(n)
    }
}

type SharedReport = Arc<std::sync::Mutex<FollowReport>>;

static FOLLOW_REPORTS: std::sync::Mutex<Vec<SharedReport>> = std::sync::Mutex::new(Vec::new());

/// One line per followed file that rotated, truncated or lost its copy.
pub fn print_follow_reports() {
    let reports = FOLLOW_REPORTS.lock().unwrap_or_else(|e| e.into_inner());
    for r in reports.iter() {
        let r = r.lock().unwrap_or_else(|e| e.into_inner()).clone();
        if r.rotations + r.truncations + r.partial_flushes == 0 {
            continue;
        }
        eprintln!(
            "logsieve: followed {}: {} rotations, {} truncations ({} bytes read back from rotated copies), {} unterminated last lines ended",
            clip(&r.path),
            r.rotations,
            r.truncations,
            r.recovered_bytes,
            r.partial_flushes
        );
        if r.truncations_without_copy > 0 {
            eprintln!(
                "logsieve: warning: {} was truncated {} times with no rotated copy found (looked for {}.* and {}-*): lines written just before those truncations may be missing",
                clip(&r.path),
                r.truncations_without_copy,
                clip(&r.path),
                clip(&r.path)
            );
        }
    }
}

fn open_stream(follow: bool, input: &Input, stop: &Arc<AtomicBool>) -> Result<Box<dyn std::io::Read + Send>> {
    if follow {
        let Input::File(path) = input else {
            anyhow::bail!(
                "--follow needs files, not standard input (pipe into logsieve without --follow instead)"
            );
        };
        let f = logsieve_source::Follower::new(
            path,
            logsieve_source::FollowOptions {
                from_start: true,
                stop: stop.clone(),
                wait_for_create: true,
                // A writer that pauses in the middle of a line for less
                // than this keeps its line whole.
                partial_flush: std::time::Duration::from_secs(5),
                ..Default::default()
            },
        )
        .with_context(|| format!("following {}", clip(&path.display().to_string())))?;
        let report = Arc::new(std::sync::Mutex::new(FollowReport {
            path: path.display().to_string(),
            ..Default::default()
        }));
        FOLLOW_REPORTS
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .push(report.clone());
        Ok(Box::new(Reporting { inner: f, report }))
    } else {
        Ok(logsieve_source::open(input)?)
    }
}

/// Runs the inputs through the engine: records to `out` (when `format` is
/// set) and every record through `observer`.
pub fn process<O: Observer>(
    args: &InputArgs,
    inputs: &[Input],
    engine: &mut Engine,
    format: Option<OutputFormat>,
    out: &mut dyn Write,
    observer: Option<&O>,
) -> Result<RunResult> {
    let opened = inputs.iter().map(|i| (i.clone(), None)).collect();
    process_opened(args, opened, engine, format, out, observer)
}

/// [`process`] where some inputs were already opened (and peeked at): a
/// stream's reader is used as it is; a regular file is opened again for
/// each pass.
pub fn process_opened<O: Observer>(
    args: &InputArgs,
    opened: Vec<OpenedInput>,
    engine: &mut Engine,
    format: Option<OutputFormat>,
    out: &mut dyn Write,
    observer: Option<&O>,
) -> Result<RunResult> {
    let inputs: Vec<Input> = opened.iter().map(|(i, _)| i.clone()).collect();
    let inputs = inputs.as_slice();
    let stop = stop_flag();
    engine.set_stop(stop.clone());
    let mut result = RunResult::default();
    if is_stream(args, inputs) {
        let mut streams = Vec::new();
        for (input, reader) in opened {
            let name = input.display_name();
            if let Some(reader) = reader {
                streams.push(StreamInput::reader(name, reader));
                continue;
            }
            // Opened on the input's own reader thread: a FIFO without a
            // writer yet blocks only itself, and a signal still stops the run.
            let (follow, stop) = (args.follow, stop.clone());
            streams.push(StreamInput {
                name,
                open: Box::new(move || open_stream(follow, &input, &stop).map_err(|e| format!("{e:#}"))),
            });
        }
        let control = StreamControl {
            stop: stop.clone(),
            multiline_quiet: std::time::Duration::from_millis(args.multiline_wait),
            ..Default::default()
        };
        let mut sink = std::io::sink();
        let w: &mut dyn Write = if format.is_some() { out } else { &mut sink };
        let outcome = engine.stream_inputs(streams, format, w, observer, &control, &mut |e| {
            report_error(&read_error(e))
        })?;
        result.failed += outcome.errors.len();
        result.stopped = outcome.stopped;
        result.stats = outcome.stats;
        return Ok(result);
    }
    // Regular files: mine every input, then report every input. Without
    // templates (detection that reads none) there is nothing to mine: one
    // pass, as with --match-only.
    let one_pass = args.match_only || !engine.options().templates;
    if format.is_none() && observer.is_none() {
        // No pass two (`templates`): nothing to keep for it.
        engine.set_pass_one_memo(0);
    }
    let mut mined: Vec<(Stats, bool)> = Vec::with_capacity(inputs.len());
    if !one_pass {
        crate::progress::mining();
    }
    for input in inputs {
        if result.stopped {
            mined.push((Stats::default(), true));
            continue;
        }
        if one_pass {
            mined.push((Stats::default(), false));
            continue;
        }
        let (s, err) = engine.mine_partial(input);
        let failed = err.is_some();
        if let Some(e) = err {
            report_error(&read_error(&e));
            result.failed += 1;
        }
        result.stopped = stopping();
        mined.push((s, failed || result.stopped));
    }
    let mut from_report = Stats::default();
    let mut mined_total = Stats::default();
    crate::progress::reporting();
    for (input, (s, partial)) in inputs.iter().zip(&mined) {
        mined_total += *s;
        if format.is_none() && observer.is_none() && !one_pass {
            continue;
        }
        if *partial && s.lines == 0 {
            continue;
        }
        let limit = partial.then_some(s.lines);
        let (st, err) = engine.report_partial(input, format, out, observer, limit)?;
        from_report += st;
        if let Some(e) = err {
            // An input that failed while mining fails again at the same
            // place: it was reported once already.
            if !*partial || one_pass {
                report_error(&read_error(&e));
                result.failed += 1;
            }
        }
        if one_pass && stopping() {
            result.stopped = true;
            break;
        }
    }
    result.stats = if format.is_some() || one_pass {
        from_report
    } else {
        mined_total
    };
    Ok(result)
}

/// The message for a failed input: what failed and where, once.
pub fn read_error(e: &EngineError) -> String {
    clip_cause(&e.to_string())
}
