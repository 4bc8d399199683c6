//! Per-line flags and the run's counters.

use std::ops::AddAssign;

/// What was unusual about one line. A flagged line is still reported.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct LineFlags {
    /// The line did not match the header format; its whole text is content.
    pub header_mismatch: bool,
    /// Invalid UTF-8 was replaced by U+FFFD.
    pub invalid_utf8: bool,
    /// The line held NUL bytes.
    pub nul: bool,
    /// The line was longer than the maximum and was cut.
    pub truncated: bool,
    /// `--match-only` found no template for it.
    pub no_template: bool,
    /// A multi-line event that was split (at the size cap, or by the quiet
    /// timer of a stream): this record continues the previous one.
    pub continued: bool,
}

impl LineFlags {
    /// Whether any flag is set.
    pub fn any(&self) -> bool {
        self.header_mismatch
            || self.invalid_utf8
            || self.nul
            || self.truncated
            || self.no_template
            || self.continued
    }

    /// The names of the flags set, for output.
    pub fn names(&self) -> impl Iterator<Item = &'static str> {
        [
            (self.header_mismatch, "header_mismatch"),
            (self.invalid_utf8, "invalid_utf8"),
            (self.nul, "nul"),
            (self.truncated, "truncated"),
            (self.no_template, "no_template"),
            (self.continued, "continued"),
        ]
        .into_iter()
        .filter(|(on, _)| *on)
        .map(|(_, n)| n)
    }
}

/// Counters of one run; `records == parsed + flagged` and
/// `lines == records + joined` always.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Stats {
    /// Lines read (framed), empty ones included.
    pub lines: u64,
    /// Records written: one per line, or one per multi-line event.
    pub records: u64,
    /// Continuation lines joined into the record of the line that started
    /// their event (`--multiline`).
    pub joined: u64,
    /// Bytes read (after decompression).
    pub bytes: u64,
    /// Lines without any flag.
    pub parsed: u64,
    /// Lines with at least one flag.
    pub flagged: u64,
    /// Empty lines (reported with an empty template; not a flag).
    pub empty: u64,
    /// Lines not matching the header format.
    pub header_mismatch: u64,
    /// Lines with invalid UTF-8.
    pub invalid_utf8: u64,
    /// Lines with NUL bytes.
    pub nul: u64,
    /// Lines cut at the maximum length.
    pub truncated: u64,
    /// Lines without a template under `--match-only`.
    pub no_template: u64,
}

impl Stats {
    /// Counts one record of `lines` input lines (`bytes` long, joined).
    pub fn count(&mut self, f: &LineFlags, bytes: usize, empty: bool, lines: u32) {
        self.lines += u64::from(lines);
        self.records += 1;
        self.joined += u64::from(lines.saturating_sub(1));
        self.bytes += bytes as u64 + 1;
        self.empty += u64::from(empty);
        if f.any() {
            self.flagged += 1;
        } else {
            self.parsed += 1;
        }
        self.header_mismatch += u64::from(f.header_mismatch);
        self.invalid_utf8 += u64::from(f.invalid_utf8);
        self.nul += u64::from(f.nul);
        self.truncated += u64::from(f.truncated);
        self.no_template += u64::from(f.no_template);
    }
}

impl AddAssign for Stats {
    fn add_assign(&mut self, o: Stats) {
        self.lines += o.lines;
        self.records += o.records;
        self.joined += o.joined;
        self.bytes += o.bytes;
        self.parsed += o.parsed;
        self.flagged += o.flagged;
        self.empty += o.empty;
        self.header_mismatch += o.header_mismatch;
        self.invalid_utf8 += o.invalid_utf8;
        self.nul += o.nul;
        self.truncated += o.truncated;
        self.no_template += o.no_template;
    }
}
