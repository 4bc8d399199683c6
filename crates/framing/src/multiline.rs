//! Multi-line events: joins continuation lines (stack traces, tracebacks,
//! goroutine dumps) onto the line that starts their event.
//!
//! A [`Joiner`] turns batches of lines into batches of events. Each event is
//! one [`LineBatch`] entry: its lines joined with `\n`, numbered by its first
//! line, covering [`LineBatch::line_count`] input lines. Flags: `truncated` if
//! any of its lines was, `had_crlf` of its first line, and
//! [`LineFlags::continued`] when the event had to be split.
//!
//! Rules per [`Multiline`] mode:
//! * `none`: every line is its own entry (lines pass through unchanged).
//! * `regex`: a line that matches the regex starts an event, any other line
//!   continues the current one. The regex sees the line decoded like
//!   [`crate::decode_lossy`] does.
//! * `auto`: generic continuation patterns, plus the header predicate given
//!   to [`Joiner::new`]:
//!   - With a header format (`Some(_)` from the predicate), a line that does
//!     not match the header continues the previous event; a line that matches
//!     starts one, unless one of the patterns below says it continues.
//!   - Without (`None`), only the patterns continue; everything else starts an
//!     event.
//!   - Patterns (they continue even a header-matching line): a line starting
//!     with a space or tab (Java `\tat …`, `\t... 12 more`, Python frames,
//!     indented Go frames); `Caused by: …`; `Traceback (most recent call
//!     last):`, which opens a Python block that takes the indented lines after
//!     it and the first non-indented, non-blank line (the exception line);
//!     Go: after `panic: …` / `fatal error: …` the `[signal …]` line and
//!     `goroutine N […]:` headers continue, and inside a goroutine block the
//!     frame lines (`pkg.func(…)`, `created by …`, indented `file.go:12 +0x1d`)
//!     continue until a blank line.
//!   - Blank lines (empty or only spaces/tabs): without a header format, a
//!     blank line is its own record and the line after it always starts an
//!     event (an indented line after a blank line is not joined to it). The
//!     one exception is inside a Go block: a blank line followed by another
//!     `goroutine N […]:` header is part of the dump (`GOTRACEBACK=all`
//!     separates goroutines with blank lines); a blank line followed by
//!     anything else ends the block and stays its own record. With a header
//!     format, a blank line does not match the header, so it continues the
//!     previous event like any other non-matching line.
//! * In every mode the first line of an input starts an event.
//!
//! Events are capped ([`JoinerConfig`]): a line that would make an event
//! exceed `max_lines` lines or `max_bytes` joined bytes starts a new event
//! flagged [`LineFlags::continued`]. A single line is never cut (the framer
//! already bounds lines). [`Joiner::flush`] emits the pending event; lines of
//! the same event that arrive after it form a new event, flagged `continued`
//! (the Python/Go block context survives a flush).
//!
//! Accounting: every input line lands in exactly one output entry, in order;
//! the sum of [`LineBatch::line_count`] over the output equals the input lines.

use std::fmt;
use std::str::FromStr;

use crate::{decode_lossy, LineBatch, LineFlags, DEFAULT_MAX_LINE_BYTES};

/// How lines are grouped into events (the CLI's `--multiline` value).
#[derive(Debug, Clone)]
pub enum Multiline {
    /// One line, one event.
    None,
    /// Header-based and built-in continuation patterns (see the module docs).
    Auto,
    /// A line matching the regex starts an event; others continue it.
    Regex(regex::Regex),
}

/// A `--multiline` value that cannot be used.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum MultilineError {
    /// Neither `none` nor `auto`, and not a valid regex.
    #[error("invalid multiline pattern `{pattern}` (expected `none`, `auto`, or a regex matching the first line of an event): {source}")]
    InvalidRegex {
        /// The pattern as given.
        pattern: String,
        /// Why the regex did not compile.
        #[source]
        source: regex::Error,
    },
}

impl FromStr for Multiline {
    type Err = MultilineError;
    /// `none`, `auto`, or any other text as a regex matching an event's first
    /// line.
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "none" => Ok(Multiline::None),
            "auto" => Ok(Multiline::Auto),
            pattern => regex::Regex::new(pattern)
                .map(Multiline::Regex)
                .map_err(|source| MultilineError::InvalidRegex {
                    pattern: pattern.to_string(),
                    source,
                }),
        }
    }
}

impl fmt::Display for Multiline {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Multiline::None => f.write_str("none"),
            Multiline::Auto => f.write_str("auto"),
            Multiline::Regex(r) => f.write_str(r.as_str()),
        }
    }
}

/// Bounds on one joined event.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct JoinerConfig {
    /// Most input lines in one event (at least 1). Default 1000.
    pub max_lines: usize,
    /// Most joined bytes in one event (lines plus the `\n` between them).
    /// Default [`DEFAULT_MAX_LINE_BYTES`]; set it to the framer's
    /// `max_line_bytes`.
    pub max_bytes: usize,
}

impl Default for JoinerConfig {
    fn default() -> Self {
        JoinerConfig {
            max_lines: 1000,
            max_bytes: DEFAULT_MAX_LINE_BYTES,
        }
    }
}

/// The header predicate: `Some(true)` the line matches the header format (an
/// event start), `Some(false)` it does not, `None` no header format is
/// configured.
pub type StartsEvent = Box<dyn Fn(&[u8]) -> Option<bool> + Send>;

/// State of a Go panic / goroutine dump.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Go {
    Off,
    /// After `panic: …` or `fatal error: …`.
    Panic,
    /// Inside a `goroutine N […]:` block.
    Frames,
}

/// The event being built. Its lines are `owned` (joined lines from earlier
/// input batches) followed by entries `from..to` of the current input batch.
#[derive(Debug, Default)]
struct Pending {
    open: bool,
    owned: Vec<u8>,
    owned_lines: u32,
    from: usize,
    to: usize,
    first_no: u64,
    lines: u64,
    bytes: usize,
    flags: LineFlags,
}

/// A blank line inside a Go block, waiting for the next line to decide.
#[derive(Debug, Default)]
struct Held {
    present: bool,
    bytes: Vec<u8>,
    flags: LineFlags,
    line_no: u64,
    count: u32,
}

/// Joins lines into multi-line events; see the module docs for the rules.
///
/// ```
/// use logsieve_framing::{Joiner, LineBatch, LineFlags, Multiline};
/// let mut lines = LineBatch::new();
/// for (i, l) in ["boom", "\tat A.b(A.java:1)", "next"].iter().enumerate() {
///     lines.push_lines(l.as_bytes(), LineFlags::default(), 1 + i as u64, 1);
/// }
/// let mut j = Joiner::new(Multiline::Auto, Box::new(|_| None));
/// let mut events = LineBatch::new();
/// j.push(&lines, &mut events);
/// assert_eq!(events.line(0), b"boom\n\tat A.b(A.java:1)");
/// assert_eq!((events.line_no(0), events.line_count(0)), (1, 2));
/// assert!(j.has_pending()); // `next` waits for what follows it
/// j.flush(&mut events);
/// assert_eq!((events.line(1), events.line_no(1)), (&b"next"[..], 3));
/// ```
pub struct Joiner {
    mode: Multiline,
    starts_event: StartsEvent,
    max_lines: u64,
    max_bytes: usize,
    pending: Pending,
    held: Held,
    /// A line of this input was seen.
    started: bool,
    /// The previous line was blank and formed its own record.
    prev_blank: bool,
    /// Inside a Python traceback block.
    python: bool,
    go: Go,
    scratch: String,
}

impl fmt::Debug for Joiner {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Joiner")
            .field("mode", &self.mode)
            .field("max_lines", &self.max_lines)
            .field("max_bytes", &self.max_bytes)
            .field("has_pending", &self.has_pending())
            .finish_non_exhaustive()
    }
}

impl Joiner {
    /// A joiner with the default [`JoinerConfig`].
    pub fn new(mode: Multiline, starts_event: StartsEvent) -> Self {
        Self::with_config(mode, starts_event, JoinerConfig::default())
    }

    /// A joiner with explicit caps.
    pub fn with_config(mode: Multiline, starts_event: StartsEvent, config: JoinerConfig) -> Self {
        Joiner {
            mode,
            starts_event,
            max_lines: config.max_lines.max(1) as u64,
            max_bytes: config.max_bytes,
            pending: Pending::default(),
            held: Held::default(),
            started: false,
            prev_blank: false,
            python: false,
            go: Go::Off,
            scratch: String::new(),
        }
    }

    /// The grouping mode.
    pub fn mode(&self) -> &Multiline {
        &self.mode
    }

    /// Appends to `out` the events of `input` that are complete (an event is
    /// complete once the next event's first line has arrived). The last event
    /// stays pending for the next call or [`Joiner::flush`]. `input` must
    /// continue the lines pushed before (consecutive line numbers).
    ///
    /// In [`Multiline::None`] mode the lines are appended unchanged (one copy;
    /// a caller that owns the batch can skip the joiner altogether).
    pub fn push(&mut self, input: &LineBatch, out: &mut LineBatch) {
        match self.mode {
            Multiline::None => {
                out.append(input);
                return;
            }
            Multiline::Auto => {
                for i in 0..input.len() {
                    self.auto_line(input, i, out);
                }
            }
            Multiline::Regex(_) => {
                for i in 0..input.len() {
                    self.regex_line(input, i, out);
                }
            }
        }
        self.absorb(input);
    }

    /// Emits the pending event, if any (end of input, or a quiet period on a
    /// stream). Lines that continue it later form a new event flagged
    /// [`LineFlags::continued`].
    pub fn flush(&mut self, out: &mut LineBatch) {
        if self.held.present {
            // At a flush a held blank line ends the Go block.
            self.held_to_own_event(None, out);
        }
        self.emit(None, out);
    }

    /// [`Joiner::flush`], then forget the context: the next line pushed is
    /// treated as the first line of a new input.
    pub fn finish(&mut self, out: &mut LineBatch) {
        self.flush(out);
        self.started = false;
        self.prev_blank = false;
        self.python = false;
        self.go = Go::Off;
    }

    /// Whether lines are waiting for [`Joiner::flush`] or more input.
    pub fn has_pending(&self) -> bool {
        self.pending.open || self.held.present
    }

    fn regex_line(&mut self, input: &LineBatch, i: usize, out: &mut LineBatch) {
        let Multiline::Regex(r) = &self.mode else {
            return;
        };
        let starts = !self.started || r.is_match(decode_lossy(input.line(i), &mut self.scratch).0);
        self.started = true;
        if starts {
            self.begin(input, i, out, false);
        } else {
            self.extend(input, i, out);
        }
    }

    fn auto_line(&mut self, input: &LineBatch, i: usize, out: &mut LineBatch) {
        let line = input.line(i);
        let blank = is_blank(line);
        let indented = matches!(line.first(), Some(b' ' | b'\t'));
        if self.held.present {
            if !blank && is_goroutine_header(line) {
                self.release_held(input, out);
                self.extend(input, i, out);
                self.go = Go::Frames;
                return;
            }
            // The Go block ended at the blank line.
            self.held_to_own_event(Some(input), out);
        }
        if !self.started {
            self.started = true;
            self.begin(input, i, out, false);
            self.update_context(line, blank, indented, true);
            return;
        }
        let strong = !blank
            && (self.python
                || match self.go {
                    Go::Off => false,
                    Go::Panic => indented || line.starts_with(b"[signal ") || is_goroutine_header(line),
                    Go::Frames => indented || is_goroutine_header(line) || is_go_frame(line),
                }
                || (!self.prev_blank
                    && (indented || line.starts_with(b"Caused by: ") || is_traceback_start(line))));
        let start = if strong {
            false
        } else {
            match (self.starts_event)(line) {
                Some(false) => false,
                header => {
                    if blank && self.go != Go::Off && header.is_none() {
                        self.hold(input, i);
                        return;
                    }
                    true
                }
            }
        };
        if start {
            self.begin(input, i, out, false);
        } else {
            self.extend(input, i, out);
        }
        self.update_context(line, blank, indented, start);
    }

    /// Block state after `line` was placed.
    fn update_context(&mut self, line: &[u8], blank: bool, indented: bool, started_event: bool) {
        self.prev_blank = blank && started_event;
        if is_traceback_start(line) {
            self.python = true;
        } else if self.python && (blank || !indented) {
            // The exception line (or a blank line) ends the traceback.
            self.python = false;
        }
        if !indented && (line.starts_with(b"panic: ") || line.starts_with(b"fatal error: ")) {
            self.go = Go::Panic;
        } else if is_goroutine_header(line) {
            self.go = Go::Frames;
        } else {
            let stays = match self.go {
                Go::Off => true,
                Go::Panic => indented || blank || line.starts_with(b"[signal "),
                Go::Frames => indented || blank || is_go_frame(line),
            };
            if !stays || (blank && started_event) {
                self.go = Go::Off;
            }
        }
    }

    /// Emits the open event and opens a new one with entry `i`.
    fn begin(&mut self, input: &LineBatch, i: usize, out: &mut LineBatch, continued: bool) {
        self.emit(Some(input), out);
        let p = &mut self.pending;
        p.open = true;
        p.owned.clear();
        p.owned_lines = 0;
        p.from = i;
        p.to = i + 1;
        p.first_no = input.line_no(i);
        p.lines = u64::from(input.line_count(i));
        p.bytes = input.line(i).len();
        p.flags = input.flags(i).with_continued(continued);
    }

    /// Adds entry `i` to the open event, or starts a `continued` event when
    /// none is open or the cap is reached.
    fn extend(&mut self, input: &LineBatch, i: usize, out: &mut LineBatch) {
        let count = input.line_count(i);
        let len = input.line(i).len();
        if !self.pending.open || self.over_cap(count, len) {
            self.begin(input, i, out, true);
            return;
        }
        let p = &mut self.pending;
        if p.from == p.to {
            p.from = i;
        }
        debug_assert_eq!(p.to.max(p.from), i, "pending lines are consecutive");
        p.to = i + 1;
        p.lines += u64::from(count);
        p.bytes += 1 + len;
        if input.flags(i).truncated() {
            p.flags = LineFlags::new(true, p.flags.had_crlf()).with_continued(p.flags.continued());
        }
    }

    fn over_cap(&self, count: u32, len: usize) -> bool {
        self.pending.lines + u64::from(count) > self.max_lines
            || self.pending.bytes + 1 + len > self.max_bytes
    }

    /// Keeps blank entry `i` aside until the next line decides its fate.
    fn hold(&mut self, input: &LineBatch, i: usize) {
        let h = &mut self.held;
        h.present = true;
        h.bytes.clear();
        h.bytes.extend_from_slice(input.line(i));
        h.flags = input.flags(i);
        h.line_no = input.line_no(i);
        h.count = input.line_count(i);
    }

    /// The held blank line continues the open event.
    fn release_held(&mut self, input: &LineBatch, out: &mut LineBatch) {
        self.held.present = false;
        let len = self.held.bytes.len();
        if !self.pending.open || self.over_cap(self.held.count, len) {
            self.emit(Some(input), out);
            self.open_from_held(true);
            return;
        }
        self.own_range(input);
        let p = &mut self.pending;
        if p.owned_lines > 0 {
            p.owned.push(b'\n');
        }
        p.owned.extend_from_slice(&self.held.bytes);
        p.owned_lines += 1;
        p.lines += u64::from(self.held.count);
        p.bytes += 1 + len;
        if self.held.flags.truncated() {
            p.flags = LineFlags::new(true, p.flags.had_crlf()).with_continued(p.flags.continued());
        }
    }

    /// The held blank line ends the Go block and becomes its own event.
    fn held_to_own_event(&mut self, input: Option<&LineBatch>, out: &mut LineBatch) {
        self.held.present = false;
        self.emit(input, out);
        self.open_from_held(false);
        self.go = Go::Off;
        self.python = false;
        self.prev_blank = true;
    }

    /// Opens a new event holding only the held line (the open one was
    /// emitted). The current input range is empty.
    fn open_from_held(&mut self, continued: bool) {
        let p = &mut self.pending;
        p.open = true;
        p.owned.clear();
        p.owned.extend_from_slice(&self.held.bytes);
        p.owned_lines = 1;
        p.from = 0;
        p.to = 0;
        p.first_no = self.held.line_no;
        p.lines = u64::from(self.held.count);
        p.bytes = self.held.bytes.len();
        p.flags = self.held.flags.with_continued(continued);
    }

    /// Copies the open event's lines from `input` into its own buffer.
    fn own_range(&mut self, input: &LineBatch) {
        let p = &mut self.pending;
        for k in p.from..p.to {
            if p.owned_lines > 0 {
                p.owned.push(b'\n');
            }
            p.owned.extend_from_slice(input.line(k));
            p.owned_lines += 1;
        }
        p.from = 0;
        p.to = 0;
    }

    /// At the end of a push: the pending event must not borrow the batch.
    fn absorb(&mut self, input: &LineBatch) {
        if self.pending.open {
            self.own_range(input);
        }
    }

    /// Appends the open event to `out` and closes it. `input` is the current
    /// batch (`None` only when the event holds no line of it).
    fn emit(&mut self, input: Option<&LineBatch>, out: &mut LineBatch) {
        let p = &mut self.pending;
        if !p.open {
            return;
        }
        p.open = false;
        // Caps keep `lines` far below u32::MAX unless a single input entry
        // already covers more; saturate rather than wrap in that case.
        let count = u32::try_from(p.lines).unwrap_or(u32::MAX);
        let range = p.from..p.to;
        match input {
            Some(input) if p.owned_lines == 0 && range.len() == 1 => {
                out.push_lines(input.line(range.start), p.flags, p.first_no, count);
            }
            _ => {
                let owned = (p.owned_lines > 0).then_some(&p.owned[..]);
                let rest = input
                    .into_iter()
                    .flat_map(|b| range.clone().map(move |k| b.line(k)));
                debug_assert!(input.is_some() || range.is_empty());
                out.push_joined(owned.into_iter().chain(rest), p.flags, p.first_no, count);
            }
        }
    }
}

/// Empty, or only spaces and tabs.
fn is_blank(line: &[u8]) -> bool {
    line.iter().all(|&b| b == b' ' || b == b'\t')
}

fn is_traceback_start(line: &[u8]) -> bool {
    line.starts_with(b"Traceback (most recent call last):")
}

/// `goroutine 12 [running]:` (also with extra words before the `[`).
fn is_goroutine_header(line: &[u8]) -> bool {
    let Some(rest) = line.strip_prefix(b"goroutine ") else {
        return false;
    };
    let digits = rest.iter().take_while(|b| b.is_ascii_digit()).count();
    digits > 0 && rest.get(digits) == Some(&b' ') && rest.ends_with(b"]:") && rest[digits..].contains(&b'[')
}

/// A non-indented Go stack frame line: `pkg.func(…)` (no blank before the
/// first `(`, ends with `)`), `created by …`, or the elision marker.
fn is_go_frame(line: &[u8]) -> bool {
    if line.starts_with(b"created by ") || line.starts_with(b"...additional frames elided...") {
        return true;
    }
    match memchr::memchr(b'(', line) {
        Some(p) => p > 0 && line.ends_with(b")") && !line[..p].iter().any(|&b| b == b' ' || b == b'\t'),
        None => false,
    }
}

#[cfg(test)]
mod tests;
