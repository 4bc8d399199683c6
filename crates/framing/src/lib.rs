//! logsieve framing: turns a byte stream into lines, and lines into events.
//!
//! [`LineFramer`] reads from any [`std::io::Read`] through one reused buffer and
//! yields lines either one at a time ([`LineFramer::next_frame`], borrowed, zero
//! copy) or in batches ([`LineFramer::next_batch`], one contiguous copy per batch,
//! for the parallel pipeline). [`LineFramer::next_batch_prompt`] is the batch
//! form for streams: it never waits for more input once the batch holds a line.
//!
//! [`Joiner`] groups lines into multi-line events (stack traces, tracebacks,
//! goroutine dumps) by a [`Multiline`] mode; [`multiline`] has the rules.
//!
//! Key invariants:
//! * A line is the bytes between two `\n`; the `\n` is never part of the line and a
//!   single trailing `\r` is removed too (reported as `had_crlf`).
//! * The last line of the input is a line even without a final `\n`; an input that
//!   ends with `\n` does not produce an extra empty line. Empty lines are frames
//!   with empty bytes.
//! * No line is ever longer than `max_line_bytes` (default [`DEFAULT_MAX_LINE_BYTES`],
//!   1 MiB): a longer line keeps its first `max_line_bytes` bytes, is flagged
//!   `truncated`, and the rest of it is skipped (counted, never buffered) up to the
//!   next `\n`. Memory use is bounded by `max_line_bytes + chunk size`.
//! * Bytes are passed through untouched; [`decode_lossy`] turns them into text
//!   (borrowed when valid UTF-8 without NUL).
//! * All three framer calls deliver the same lines with the same flags and line
//!   numbers, however the reader splits its data; they differ only in how many
//!   lines one call returns. `next_batch_prompt` calls `read()` only while its
//!   batch is empty, so a batch never waits for lines that have not arrived.
//! * A [`LineBatch`] entry is one line or one joined event (lines joined with
//!   `\n`); every entry records its first input line number and how many input
//!   lines it covers. Framer batches are dense (entry `i` = line
//!   `first_line_no + i`) and carry no per-entry table.
//! * The [`Joiner`] accounts for every line: each input line lands in exactly
//!   one output entry, in order, so the sum of [`LineBatch::line_count`] over
//!   its output equals the lines pushed. Events are bounded by
//!   [`JoinerConfig`] (lines and bytes); a longer event is split and the later
//!   part flagged [`LineFlags::continued`]. Its pending event is the only
//!   thing it buffers, so its memory is bounded by `max_bytes` too.
//!
//! ```
//! use logsieve_framing::{FramerConfig, LineFramer};
//! let mut f = LineFramer::new(&b"one\r\n\ntwo"[..], FramerConfig::default());
//! let a = f.next_frame().unwrap().unwrap();
//! assert_eq!((a.bytes, a.had_crlf), (&b"one"[..], true));
//! assert_eq!(f.next_frame().unwrap().unwrap().bytes, b"");
//! assert_eq!(f.next_frame().unwrap().unwrap().bytes, b"two");
//! assert!(f.next_frame().unwrap().is_none());
//! ```

use std::io::{self, Read};

pub mod multiline;
pub use multiline::{Joiner, JoinerConfig, Multiline, MultilineError, StartsEvent};

/// Default maximum line length in bytes (1 MiB). Longer lines are truncated to
/// this many bytes and flagged; the remainder of the line is skipped.
pub const DEFAULT_MAX_LINE_BYTES: usize = 1 << 20;

/// Default size of one read from the underlying reader (256 KiB).
pub const DEFAULT_CHUNK_BYTES: usize = 256 * 1024;

/// Framing configuration.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FramerConfig {
    /// Maximum kept bytes per line (without `\r\n`). Values below 1 are treated as 1.
    pub max_line_bytes: usize,
}

impl Default for FramerConfig {
    fn default() -> Self {
        FramerConfig {
            max_line_bytes: DEFAULT_MAX_LINE_BYTES,
        }
    }
}

/// Errors from framing.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum FramingError {
    /// The underlying reader failed (for example a truncated compressed file).
    #[error("{source}; the {after_line} lines before it were processed, the rest of this input is skipped")]
    Io {
        /// Number of lines delivered before the error.
        after_line: u64,
        /// The underlying I/O error.
        #[source]
        source: io::Error,
    },
}

impl FramingError {
    /// Whether reading may continue after this error. I/O errors are fatal for
    /// this input (`false`): after one, the framer delivers any partial line it
    /// still holds and then reports end of input.
    pub fn can_continue(&self) -> bool {
        match self {
            FramingError::Io { .. } => false,
        }
    }
}

/// One line, borrowed from the framer's buffer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Frame<'a> {
    /// Line bytes, without `\n` and without a trailing `\r`.
    pub bytes: &'a [u8],
    /// The line was longer than `max_line_bytes`; `bytes` holds its first
    /// `max_line_bytes` bytes and the rest was skipped.
    pub truncated: bool,
    /// The line ended with `\r\n` (or with `\r` at end of input). Always `false`
    /// for truncated lines.
    pub had_crlf: bool,
    /// 1-based line number within this input.
    pub line_no: u64,
}

/// Per-line flags in a [`LineBatch`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct LineFlags(u8);

impl LineFlags {
    const TRUNCATED: u8 = 1;
    const CRLF: u8 = 2;
    const CONTINUED: u8 = 4;

    /// Builds flags.
    pub fn new(truncated: bool, had_crlf: bool) -> Self {
        let mut v = 0;
        if truncated {
            v |= Self::TRUNCATED;
        }
        if had_crlf {
            v |= Self::CRLF;
        }
        LineFlags(v)
    }
    /// See [`Frame::truncated`].
    pub fn truncated(self) -> bool {
        self.0 & Self::TRUNCATED != 0
    }
    /// See [`Frame::had_crlf`].
    pub fn had_crlf(self) -> bool {
        self.0 & Self::CRLF != 0
    }
    /// The entry's first line continues the event of the entry before it: the
    /// [`Joiner`] split an event because it reached its cap
    /// ([`JoinerConfig`]) or because [`Joiner::flush`] was called in the middle
    /// of it. Never set by the framer.
    pub fn continued(self) -> bool {
        self.0 & Self::CONTINUED != 0
    }
    /// These flags with [`LineFlags::continued`] set to `yes`.
    #[must_use]
    pub fn with_continued(self, yes: bool) -> Self {
        if yes {
            LineFlags(self.0 | Self::CONTINUED)
        } else {
            LineFlags(self.0 & !Self::CONTINUED)
        }
    }
}

/// A reusable batch of entries stored in one contiguous byte buffer.
///
/// An entry is one input line (as produced by [`LineFramer`]) or one
/// multi-line event (as produced by [`Joiner`]: its lines joined with `\n`).
/// Every entry knows the input lines it covers: [`LineBatch::line_no`] (its
/// first line), [`LineBatch::line_count`] and [`LineBatch::last_line_no`].
///
/// Numbering is stored sparsely: while every entry covers exactly one line and
/// entry `i` is line `first_line_no + i` (always the case for framer batches),
/// no per-entry table exists and the framer's fast path writes spans only. The
/// first entry that breaks this pattern materialises a per-entry table.
///
/// `clear()` keeps all allocations, so a batch cycled through the pipeline
/// allocates only while it grows to its steady-state size.
#[derive(Debug, Default, Clone)]
pub struct LineBatch {
    data: Vec<u8>,
    spans: Vec<(u32, u32, LineFlags)>,
    /// Per-entry `(first line number, line count)`; empty while the batch is
    /// dense (entry `i` = line `first_line_no + i`, one line each).
    numbering: Vec<(u64, u32)>,
    /// 1-based line number of the first line of entry 0 (0 when the batch is
    /// empty and was never filled). In a dense batch entry `i` is line
    /// `first_line_no + i`.
    pub first_line_no: u64,
}

impl LineBatch {
    /// An empty batch.
    pub fn new() -> Self {
        Self::default()
    }
    /// An empty batch with preallocated room.
    pub fn with_capacity(bytes: usize, lines: usize) -> Self {
        LineBatch {
            data: Vec::with_capacity(bytes),
            spans: Vec::with_capacity(lines),
            numbering: Vec::new(),
            first_line_no: 0,
        }
    }
    /// Removes all entries, keeping capacity.
    pub fn clear(&mut self) {
        self.data.clear();
        self.spans.clear();
        self.numbering.clear();
        self.first_line_no = 0;
    }
    /// Number of entries (lines, or events after a [`Joiner`]).
    pub fn len(&self) -> usize {
        self.spans.len()
    }
    /// Whether the batch holds no entry.
    pub fn is_empty(&self) -> bool {
        self.spans.is_empty()
    }
    /// The whole batch as text when every byte of it is UTF-8 and none is
    /// NUL (one check over the batch instead of one per line), else `None`.
    /// Give it to [`LineBatch::line_text`] for each entry.
    pub fn text(&self) -> Option<&str> {
        if memchr::memchr(0, &self.data).is_some() {
            return None;
        }
        std::str::from_utf8(&self.data).ok()
    }
    /// Entry `i` as text, cut from `whole` (what [`LineBatch::text`] gave
    /// for this batch): `None` when the entry does not start and end on
    /// character boundaries (a line truncated inside a character) or when
    /// `whole` is not this batch's text, and then its bytes need
    /// [`decode_lossy`]. Where it is `Some`, it is exactly what
    /// `decode_lossy` gives for [`LineBatch::line`], with nothing changed.
    #[inline]
    pub fn line_text<'a>(&self, whole: &'a str, i: usize) -> Option<&'a str> {
        if !std::ptr::eq(whole.as_bytes(), self.data.as_slice()) {
            return None;
        }
        let (s, e, _) = self.spans[i];
        whole.get(s as usize..e as usize)
    }
    /// Entry `i` as text: cut from `whole` ([`LineBatch::line_text`]) when
    /// it can be, else its bytes through [`decode_lossy`] into `scratch`.
    #[inline]
    pub fn decode<'a>(
        &'a self,
        whole: Option<&'a str>,
        i: usize,
        scratch: &'a mut String,
    ) -> (&'a str, Decoded) {
        match whole.and_then(|w| self.line_text(w, i)) {
            Some(t) => (t, Decoded::default()),
            None => decode_lossy(self.line(i), scratch),
        }
    }
    /// Bytes of entry `i` (panics if out of range).
    #[inline]
    pub fn line(&self, i: usize) -> &[u8] {
        let (s, e, _) = self.spans[i];
        &self.data[s as usize..e as usize]
    }
    /// Flags of entry `i` (panics if out of range).
    #[inline]
    pub fn flags(&self, i: usize) -> LineFlags {
        self.spans[i].2
    }
    /// 1-based line number of the first input line of entry `i`.
    #[inline]
    pub fn line_no(&self, i: usize) -> u64 {
        if self.numbering.is_empty() {
            self.first_line_no + i as u64
        } else {
            self.numbering[i].0
        }
    }
    /// How many input lines entry `i` covers (1 for a plain line).
    #[inline]
    pub fn line_count(&self, i: usize) -> u32 {
        if self.numbering.is_empty() {
            1
        } else {
            self.numbering[i].1
        }
    }
    /// 1-based line number of the last input line of entry `i`.
    #[inline]
    pub fn last_line_no(&self, i: usize) -> u64 {
        self.line_no(i) + u64::from(self.line_count(i)) - 1
    }
    /// Total number of input lines covered by all entries.
    pub fn lines_covered(&self) -> u64 {
        if self.numbering.is_empty() {
            self.spans.len() as u64
        } else {
            self.numbering.iter().map(|&(_, c)| u64::from(c)).sum()
        }
    }
    /// Total bytes stored (may include stripped `\r` bytes).
    pub fn data_len(&self) -> usize {
        self.data.len()
    }
    /// Iterates `(bytes, flags)` of all entries.
    pub fn iter(&self) -> impl ExactSizeIterator<Item = (&[u8], LineFlags)> + '_ {
        self.spans
            .iter()
            .map(move |&(s, e, f)| (&self.data[s as usize..e as usize], f))
    }
    /// Appends one line numbered after the previous entry (`first_line_no + i`
    /// in a dense batch). Used by the framer; handy for tests.
    ///
    /// Panics if the batch would exceed 4 GiB of data.
    pub fn push(&mut self, bytes: &[u8], flags: LineFlags) {
        let (s, e) = self.push_data(bytes);
        if !self.numbering.is_empty() {
            let next = self.last_line_no(self.spans.len() - 1) + 1;
            self.numbering.push((next, 1));
        }
        self.spans.push((s, e, flags));
    }
    /// Appends one entry that covers `count` input lines starting at line
    /// `first_line_no` (`count` is 1 for a plain line, more for a joined
    /// event). The first entry of an empty batch sets
    /// [`LineBatch::first_line_no`].
    ///
    /// Panics if `count` is 0 or the batch would exceed 4 GiB of data.
    pub fn push_lines(&mut self, bytes: &[u8], flags: LineFlags, first_line_no: u64, count: u32) {
        let (s, e) = self.push_data(bytes);
        self.push_span(s, e, flags, first_line_no, count);
    }
    /// Appends all entries of `other`, keeping their flags and line numbers
    /// (one copy of its bytes).
    pub fn append(&mut self, other: &LineBatch) {
        if other.is_empty() {
            return;
        }
        if self.is_empty() {
            self.first_line_no = other.first_line_no;
        }
        let dense = self.numbering.is_empty()
            && other.numbering.is_empty()
            && (self.is_empty() || other.first_line_no == self.first_line_no + self.len() as u64);
        if !dense {
            self.materialise();
            for i in 0..other.len() {
                self.numbering.push((other.line_no(i), other.line_count(i)));
            }
        }
        let base = self.data.len();
        offset(base + other.data.len());
        self.data.extend_from_slice(&other.data);
        let base = base as u32;
        self.spans
            .extend(other.spans.iter().map(|&(s, e, f)| (s + base, e + base, f)));
    }
    /// Appends `parts` joined with `\n` as one entry covering `count` lines.
    pub(crate) fn push_joined<'p>(
        &mut self,
        parts: impl Iterator<Item = &'p [u8]>,
        flags: LineFlags,
        first_line_no: u64,
        count: u32,
    ) {
        let s = self.data.len();
        for (k, p) in parts.enumerate() {
            if k > 0 {
                self.data.push(b'\n');
            }
            self.data.extend_from_slice(p);
        }
        let e = self.data.len();
        let (s, e) = (offset(s), offset(e));
        self.push_span(s, e, flags, first_line_no, count);
    }
    fn push_data(&mut self, bytes: &[u8]) -> (u32, u32) {
        let s = self.data.len();
        let e = s + bytes.len();
        let (s32, e32) = (offset(s), offset(e));
        self.data.extend_from_slice(bytes);
        (s32, e32)
    }
    fn push_span(&mut self, s: u32, e: u32, flags: LineFlags, first_line_no: u64, count: u32) {
        assert!(count >= 1, "a LineBatch entry covers at least one line");
        if self.spans.is_empty() {
            self.first_line_no = first_line_no;
        }
        if self.numbering.is_empty() {
            let dense = count == 1 && first_line_no == self.first_line_no + self.spans.len() as u64;
            if !dense {
                self.materialise();
                self.numbering.push((first_line_no, count));
            }
        } else {
            self.numbering.push((first_line_no, count));
        }
        self.spans.push((s, e, flags));
    }
    /// Builds the per-entry table of a dense batch (no-op if it exists).
    fn materialise(&mut self) {
        if self.numbering.is_empty() {
            let first = self.first_line_no;
            self.numbering
                .extend((0..self.spans.len() as u64).map(|i| (first + i, 1)));
        }
    }
}

/// A data offset as `u32`; panics past 4 GiB.
#[inline]
fn offset(n: usize) -> u32 {
    u32::try_from(n).expect("LineBatch data exceeds 4 GiB")
}

/// Splits a reader into lines; see the crate docs for the rules.
pub struct LineFramer<R: Read> {
    reader: R,
    buf: Vec<u8>,
    /// Start of unconsumed data.
    start: usize,
    /// End of valid data.
    end: usize,
    /// Bytes `start..scanned` are known to contain no `\n`.
    scanned: usize,
    max_line: usize,
    chunk: usize,
    eof: bool,
    /// Inside the tail of a truncated line, skipping until `\n`.
    skipping: bool,
    lines: u64,
    truncated_lines: u64,
    skipped_bytes: u64,
}

/// What [`LineFramer::step`] found in the buffered data.
enum Step {
    Line(Span),
    /// No complete line is buffered; a read is needed.
    NeedRead,
    /// End of input.
    End,
}

/// A line located in the buffer: `buf[s..e]`.
struct Span {
    s: usize,
    e: usize,
    flags: LineFlags,
}

impl<R: Read> LineFramer<R> {
    /// A framer reading `reader` in [`DEFAULT_CHUNK_BYTES`] chunks.
    pub fn new(reader: R, config: FramerConfig) -> Self {
        Self::with_chunk_size(reader, config, DEFAULT_CHUNK_BYTES)
    }

    /// A framer with an explicit read chunk size (at least 1; tests use small ones).
    pub fn with_chunk_size(reader: R, config: FramerConfig, chunk: usize) -> Self {
        let max_line = config.max_line_bytes.max(1);
        let chunk = chunk.max(1);
        LineFramer {
            reader,
            // Room for an unterminated kept line (max + `\r` + 1) plus one chunk.
            buf: vec![0; max_line + 2 + chunk],
            start: 0,
            end: 0,
            scanned: 0,
            max_line,
            chunk,
            eof: false,
            skipping: false,
            lines: 0,
            truncated_lines: 0,
            skipped_bytes: 0,
        }
    }

    /// Lines delivered so far.
    pub fn lines_read(&self) -> u64 {
        self.lines
    }
    /// Lines delivered truncated so far.
    pub fn truncated_lines(&self) -> u64 {
        self.truncated_lines
    }
    /// Bytes dropped from truncated lines so far (including their `\r`, if any).
    pub fn skipped_bytes(&self) -> u64 {
        self.skipped_bytes
    }
    /// The configured maximum line length.
    pub fn max_line_bytes(&self) -> usize {
        self.max_line
    }
    /// Gives the reader back.
    pub fn into_inner(self) -> R {
        self.reader
    }

    /// The next line, or `None` at end of input.
    pub fn next_frame(&mut self) -> Result<Option<Frame<'_>>, FramingError> {
        match self.next_span()? {
            None => Ok(None),
            Some(sp) => Ok(Some(Frame {
                bytes: &self.buf[sp.s..sp.e],
                truncated: sp.flags.truncated(),
                had_crlf: sp.flags.had_crlf(),
                line_no: self.lines,
            })),
        }
    }

    /// Clears `batch` and fills it with up to `max_lines` lines, stopping early
    /// once it holds at least `max_bytes` bytes (a batch always gets at least one
    /// line unless the input is exhausted). Returns the number of lines; `0`
    /// means end of input.
    ///
    /// On error the batch keeps the lines read before the error; they are valid
    /// and should be processed before reporting the error.
    pub fn next_batch(
        &mut self,
        batch: &mut LineBatch,
        max_lines: usize,
        max_bytes: usize,
    ) -> Result<usize, FramingError> {
        self.fill_batch(batch, max_lines, max_bytes, false)
    }

    /// Like [`LineFramer::next_batch`], but never waits for more input once
    /// the batch holds a line: it takes the lines already buffered and reads
    /// from the underlying reader only while the batch is still empty (each
    /// read is one `read()` call). A partial last line stays buffered until its
    /// `\n` arrives or the input ends. Returns the number of lines; `0` means
    /// end of input. Line content, flags and numbering are exactly those of
    /// [`LineFramer::next_frame`].
    ///
    /// For a pipe this yields a batch as soon as one `read()` brings complete
    /// lines; for a fast producer each read returns up to one chunk
    /// ([`DEFAULT_CHUNK_BYTES`]), so batches stay large.
    ///
    /// On error the batch is empty (reads happen only while it is empty) and
    /// the next call reports any partial line read before the error, then end.
    pub fn next_batch_prompt(
        &mut self,
        batch: &mut LineBatch,
        max_lines: usize,
        max_bytes: usize,
    ) -> Result<usize, FramingError> {
        self.fill_batch(batch, max_lines, max_bytes, true)
    }

    /// The one batching loop: buffered lines first (fast path), then one
    /// line at a time; with `prompt`, a batch that holds a line never waits
    /// for more input.
    fn fill_batch(
        &mut self,
        batch: &mut LineBatch,
        max_lines: usize,
        max_bytes: usize,
        prompt: bool,
    ) -> Result<usize, FramingError> {
        batch.clear();
        batch.first_line_no = self.lines + 1;
        let max_lines = max_lines.max(1);
        // Keep spans addressable with u32 offsets.
        let limit = (u32::MAX as usize - self.buf.len()).min(max_bytes.max(1));
        while batch.spans.len() < max_lines && batch.data.len() < limit {
            // Fast inner loop: complete lines already in the buffer.
            if !self.skipping && self.scanned == self.start {
                let remaining_lines = max_lines - batch.spans.len();
                self.batch_from_buffer(batch, remaining_lines, limit);
                if batch.spans.len() >= max_lines || batch.data.len() >= limit {
                    break;
                }
            }
            match self.step() {
                Step::Line(sp) => batch.push(&self.buf[sp.s..sp.e], sp.flags),
                Step::NeedRead => {
                    if prompt && !batch.spans.is_empty() {
                        break;
                    }
                    // On an error the batch keeps the lines read before it.
                    if self.fill()? == 0 {
                        self.eof = true;
                    }
                }
                Step::End => break,
            }
        }
        Ok(batch.spans.len())
    }

    /// Copies complete, short lines that are already buffered.
    #[inline]
    fn batch_from_buffer(&mut self, batch: &mut LineBatch, max_lines: usize, limit: usize) {
        // Writes spans directly: only valid for a dense batch (framer batches
        // are cleared first, so they always are).
        debug_assert!(batch.numbering.is_empty());
        let mut pos = self.start;
        let region_start = self.start;
        let base = batch.data.len();
        let mut added = 0usize;
        let hay = &self.buf[..self.end];
        for nl in memchr::memchr_iter(b'\n', &hay[region_start..]) {
            let e_raw = region_start + nl;
            let (e, crlf) = if e_raw > pos && hay[e_raw - 1] == b'\r' {
                (e_raw - 1, true)
            } else {
                (e_raw, false)
            };
            if e - pos > self.max_line {
                break; // let the general path handle truncation
            }
            let s_off = base + (pos - region_start);
            let e_off = base + (e - region_start);
            batch.spans.push((
                s_off as u32,
                e_off as u32,
                LineFlags(if crlf { LineFlags::CRLF } else { 0 }),
            ));
            added += 1;
            pos = e_raw + 1;
            if added >= max_lines || (e_raw + 1 - region_start) + base >= limit {
                break;
            }
        }
        if added > 0 {
            batch.data.extend_from_slice(&self.buf[region_start..pos]);
            self.start = pos;
            self.scanned = pos;
            self.lines += added as u64;
        }
    }

    /// Makes room and reads one chunk. Returns the number of bytes read.
    fn fill(&mut self) -> Result<usize, FramingError> {
        if self.start == self.end {
            self.start = 0;
            self.end = 0;
            self.scanned = 0;
        } else if self.buf.len() - self.end < self.chunk {
            self.buf.copy_within(self.start..self.end, 0);
            self.end -= self.start;
            self.scanned -= self.start;
            self.start = 0;
        }
        loop {
            match self.reader.read(&mut self.buf[self.end..]) {
                Ok(n) => {
                    self.end += n;
                    return Ok(n);
                }
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(e) => {
                    self.eof = true;
                    return Err(FramingError::Io {
                        after_line: self.lines,
                        source: e,
                    });
                }
            }
        }
    }

    fn next_span(&mut self) -> Result<Option<Span>, FramingError> {
        loop {
            match self.step() {
                Step::Line(sp) => return Ok(Some(sp)),
                Step::End => return Ok(None),
                Step::NeedRead => {
                    if self.fill()? == 0 {
                        self.eof = true;
                    }
                }
            }
        }
    }

    /// Takes the next line out of the buffered data without reading: a line
    /// ended by `\n`, the kept prefix of a line already known to be too long,
    /// or the final partial line at end of input. Bytes of a truncated line's
    /// tail are skipped on the way.
    #[inline]
    fn step(&mut self) -> Step {
        loop {
            if self.skipping {
                match memchr::memchr(b'\n', &self.buf[self.start..self.end]) {
                    Some(i) => {
                        self.skipped_bytes += i as u64;
                        self.start += i + 1;
                        self.scanned = self.start;
                        self.skipping = false;
                    }
                    None => {
                        self.skipped_bytes += (self.end - self.start) as u64;
                        self.start = self.end;
                        self.scanned = self.end;
                        if self.eof {
                            self.skipping = false;
                            return Step::End;
                        }
                        return Step::NeedRead;
                    }
                }
                continue;
            }
            if let Some(i) = memchr::memchr(b'\n', &self.buf[self.scanned..self.end]) {
                let nl = self.scanned + i;
                let s = self.start;
                self.start = nl + 1;
                self.scanned = self.start;
                return Step::Line(self.finish(s, nl, false));
            }
            self.scanned = self.end;
            let pending = self.end - self.start;
            if pending >= self.max_line + 2 {
                // Certainly too long: emit the kept prefix now, skip the rest.
                let s = self.start;
                self.skipped_bytes += (pending - self.max_line) as u64;
                self.start = self.end;
                self.scanned = self.end;
                self.skipping = true;
                self.lines += 1;
                self.truncated_lines += 1;
                return Step::Line(Span {
                    s,
                    e: s + self.max_line,
                    flags: LineFlags::new(true, false),
                });
            }
            if self.eof {
                if pending == 0 {
                    return Step::End;
                }
                let s = self.start;
                self.start = self.end;
                self.scanned = self.end;
                return Step::Line(self.finish(s, self.end, true));
            }
            return Step::NeedRead;
        }
    }

    /// Builds the span of the raw line `buf[s..e]` (no `\n`), stripping `\r` and
    /// applying truncation.
    #[inline]
    fn finish(&mut self, s: usize, e: usize, _at_eof: bool) -> Span {
        self.lines += 1;
        let raw_end = e;
        let (e, crlf) = if e > s && self.buf[e - 1] == b'\r' {
            (e - 1, true)
        } else {
            (e, false)
        };
        if e - s > self.max_line {
            self.truncated_lines += 1;
            // Counted on the raw line, so a dropped `\r` counts too.
            self.skipped_bytes += (raw_end - s - self.max_line) as u64;
            Span {
                s,
                e: s + self.max_line,
                flags: LineFlags::new(true, false),
            }
        } else {
            Span {
                s,
                e,
                flags: LineFlags::new(false, crlf),
            }
        }
    }
}

/// What [`decode_lossy`] had to change.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Decoded {
    /// Some bytes were not valid UTF-8; each maximal invalid sequence became one
    /// U+FFFD (same rule as `String::from_utf8_lossy`).
    pub invalid_utf8: bool,
    /// The line contained NUL bytes; each became U+FFFD.
    pub had_nul: bool,
}

/// The replacement for invalid UTF-8 and NUL bytes.
pub const REPLACEMENT: char = '\u{FFFD}';

/// Decodes line bytes as text.
///
/// Valid UTF-8 without NUL is returned borrowed (no copy). Otherwise the text is
/// built in `scratch` (cleared first, capacity reused): invalid sequences become
/// U+FFFD like `String::from_utf8_lossy`, and every NUL byte becomes U+FFFD too
/// (NUL is never meaningful in a log line and breaks downstream C-string/terminal
/// consumers), flagged by `had_nul`.
///
/// ```
/// let mut s = String::new();
/// let (t, d) = logsieve_framing::decode_lossy(b"a\0b\xff", &mut s);
/// assert_eq!(t, "a\u{FFFD}b\u{FFFD}");
/// assert!(d.had_nul && d.invalid_utf8);
/// ```
pub fn decode_lossy<'a>(bytes: &'a [u8], scratch: &'a mut String) -> (&'a str, Decoded) {
    let has_nul = memchr::memchr(0, bytes).is_some();
    if !has_nul {
        if let Ok(s) = std::str::from_utf8(bytes) {
            return (s, Decoded::default());
        }
    }
    scratch.clear();
    let mut d = Decoded {
        invalid_utf8: false,
        had_nul: has_nul,
    };
    for chunk in bytes.utf8_chunks() {
        let valid = chunk.valid();
        if has_nul {
            let mut rest = valid;
            while let Some(i) = rest.find('\0') {
                scratch.push_str(&rest[..i]);
                scratch.push(REPLACEMENT);
                rest = &rest[i + 1..];
            }
            scratch.push_str(rest);
        } else {
            scratch.push_str(valid);
        }
        if !chunk.invalid().is_empty() {
            d.invalid_utf8 = true;
            scratch.push(REPLACEMENT);
        }
    }
    (scratch.as_str(), d)
}

#[cfg(test)]
mod tests;
