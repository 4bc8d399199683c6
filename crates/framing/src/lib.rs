//! logsieve framing: turns a byte stream into lines.
//!
//! [`LineFramer`] reads from any [`std::io::Read`] through one reused buffer and
//! yields lines either one at a time ([`LineFramer::next_frame`], borrowed, zero
//! copy) or in batches ([`LineFramer::next_batch`], one contiguous copy per batch,
//! for the parallel pipeline).
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
    #[error("reading the input failed after line {after_line}: {source}; lines before it were delivered, the rest of this input cannot be read (check or re-fetch the file)")]
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
}

/// A reusable batch of lines stored in one contiguous byte buffer.
///
/// `clear()` keeps both allocations, so a batch cycled through the pipeline
/// allocates only while it grows to its steady-state size.
#[derive(Debug, Default, Clone)]
pub struct LineBatch {
    data: Vec<u8>,
    spans: Vec<(u32, u32, LineFlags)>,
    /// 1-based line number of line 0 of this batch (0 when the batch is empty and
    /// was never filled).
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
            first_line_no: 0,
        }
    }
    /// Removes all lines, keeping capacity.
    pub fn clear(&mut self) {
        self.data.clear();
        self.spans.clear();
        self.first_line_no = 0;
    }
    /// Number of lines.
    pub fn len(&self) -> usize {
        self.spans.len()
    }
    /// Whether the batch holds no line.
    pub fn is_empty(&self) -> bool {
        self.spans.is_empty()
    }
    /// Bytes of line `i` (panics if out of range).
    #[inline]
    pub fn line(&self, i: usize) -> &[u8] {
        let (s, e, _) = self.spans[i];
        &self.data[s as usize..e as usize]
    }
    /// Flags of line `i` (panics if out of range).
    #[inline]
    pub fn flags(&self, i: usize) -> LineFlags {
        self.spans[i].2
    }
    /// 1-based line number of line `i`.
    pub fn line_no(&self, i: usize) -> u64 {
        self.first_line_no + i as u64
    }
    /// Total bytes stored (may include stripped `\r` bytes).
    pub fn data_len(&self) -> usize {
        self.data.len()
    }
    /// Iterates `(bytes, flags)` of all lines.
    pub fn iter(&self) -> impl ExactSizeIterator<Item = (&[u8], LineFlags)> + '_ {
        self.spans
            .iter()
            .map(move |&(s, e, f)| (&self.data[s as usize..e as usize], f))
    }
    /// Appends one line (used by the framer; handy for tests).
    ///
    /// Panics if the batch would exceed 4 GiB of data.
    pub fn push(&mut self, bytes: &[u8], flags: LineFlags) {
        let s = self.data.len();
        self.data.extend_from_slice(bytes);
        let e = self.data.len();
        let s = u32::try_from(s).expect("LineBatch data exceeds 4 GiB");
        let e = u32::try_from(e).expect("LineBatch data exceeds 4 GiB");
        self.spans.push((s, e, flags));
    }
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
            match self.next_span()? {
                None => break,
                Some(sp) => {
                    let bytes = &self.buf[sp.s..sp.e];
                    batch.push(bytes, sp.flags);
                }
            }
        }
        Ok(batch.spans.len())
    }

    /// Copies complete, short lines that are already buffered.
    #[inline]
    fn batch_from_buffer(&mut self, batch: &mut LineBatch, max_lines: usize, limit: usize) {
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
                        if self.eof || self.fill()? == 0 {
                            self.eof = true;
                            self.skipping = false;
                            return Ok(None);
                        }
                    }
                }
                continue;
            }
            if let Some(i) = memchr::memchr(b'\n', &self.buf[self.scanned..self.end]) {
                let nl = self.scanned + i;
                let s = self.start;
                self.start = nl + 1;
                self.scanned = self.start;
                return Ok(Some(self.finish(s, nl, false)));
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
                return Ok(Some(Span {
                    s,
                    e: s + self.max_line,
                    flags: LineFlags::new(true, false),
                }));
            }
            if self.eof {
                if pending == 0 {
                    return Ok(None);
                }
                let s = self.start;
                self.start = self.end;
                self.scanned = self.end;
                return Ok(Some(self.finish(s, self.end, true)));
            }
            if self.fill()? == 0 {
                self.eof = true;
            }
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
