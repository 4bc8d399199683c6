//! Reading, batching, the parallel per-line work and ordered output.

use crate::memo::{Kept, Memo, MemoPart};
use crate::record::{LineFlags, Stats};
use crossbeam_channel::{bounded, unbounded};
use logsieve_framing::{decode_lossy, FramerConfig, Joiner, LineBatch, LineFramer, Multiline};
use logsieve_header::{HeaderParser, ParsedHeader};
use logsieve_sink::{csv_field, json_str, JsonObject};
use logsieve_source::Input;
use logsieve_template::{mask_line, ClusterId, MaskedLine, Miner, Span};
use std::io::{Read, Write};

mod ordered;

/// How records are written.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OutputFormat {
    /// One JSON object per line.
    Jsonl,
    /// The Loghub structured CSV layout.
    Csv,
    /// Only the template text, one per line (used by the evaluator).
    TemplateText,
}

/// Engine settings.
#[derive(Debug, Clone)]
pub struct Options {
    /// Worker threads (at least 1).
    pub threads: usize,
    /// Longest line kept; longer lines are cut and flagged.
    pub max_line_bytes: usize,
    /// Lines per batch.
    pub batch_lines: usize,
    /// Bytes per batch (soft limit).
    pub batch_bytes: usize,
    /// Assign lines to known templates only; never create templates.
    pub match_only: bool,
    /// How lines are joined into multi-line events before parsing.
    pub multiline: Multiline,
    /// Mask lines and give them templates. `false`: no line is masked,
    /// learned or looked up, and records carry no template and no params
    /// (and are not flagged `no_template`): for detection whose rules read
    /// no template field.
    pub templates: bool,
}

impl Default for Options {
    fn default() -> Self {
        Options {
            threads: std::thread::available_parallelism().map_or(1, |n| n.get()),
            max_line_bytes: logsieve_framing::DEFAULT_MAX_LINE_BYTES,
            batch_lines: 2048,
            batch_bytes: 1 << 20,
            match_only: false,
            multiline: Multiline::None,
            templates: true,
        }
    }
}

/// Why a run failed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum EngineError {
    /// The input could not be opened.
    #[error(transparent)]
    Source(#[from] logsieve_source::SourceError),
    /// Reading or framing the input failed part-way; the lines before the
    /// failure were processed and are counted.
    #[error("{}", read_message(input, source))]
    Read {
        /// The input's name.
        input: String,
        /// What failed.
        source: logsieve_framing::FramingError,
    },
    /// A stream input could not be opened (the message names it).
    #[error("{message}")]
    Input {
        /// The input's name.
        input: String,
        /// What failed.
        message: String,
    },
    /// Writing the output failed.
    #[error("writing output: {0}")]
    Write(#[from] std::io::Error),
}

/// `input: what failed`, without naming the input twice when the cause
/// already starts with its name.
fn read_message(input: &str, source: &logsieve_framing::FramingError) -> String {
    let cause = source.to_string();
    if cause.starts_with(input) {
        cause
    } else {
        format!("{input}: {cause}")
    }
}

pub use smallvec::SmallVec;

/// One record as an observer (e.g. detection) sees it.
pub struct RecordView<'a> {
    /// 1-based line number in its input.
    pub line: u64,
    /// The input's name.
    pub source: &'a str,
    /// The whole line (lossily decoded).
    pub raw: &'a str,
    /// The content (the message templates are mined from).
    pub content: &'a str,
    /// Header fields: (name, value), fixed ones then dynamic (JSON) ones
    /// (inline up to 8: no allocation per record for most lines).
    pub fields: SmallVec<[(&'a str, &'a str); 8]>,
    /// The template text, when the line has one.
    pub template: Option<&'a str>,
    /// The template id (16 hex digits), when the line has one.
    pub template_id: Option<&'a str>,
    /// The variable values, in order (inline up to 16).
    pub params: SmallVec<[&'a str; 16]>,
}

/// Sees every record: `observe` runs on worker threads (in parallel) and
/// fills a per-batch value; `collect` receives those values in input order.
pub trait Observer: Sync {
    /// What one batch produces.
    type Batch: Send + Default;
    /// Looks at one record.
    fn observe(&self, rec: &RecordView<'_>, batch: &mut Self::Batch);
    /// Takes one batch's results, in input order.
    fn collect(&self, batch: Self::Batch) -> std::io::Result<()>;
    /// Makes everything collected so far visible (streams call it whenever
    /// they have caught up with their input).
    fn flush(&self) -> std::io::Result<()> {
        Ok(())
    }
}

/// The observer that observes nothing.
pub struct NoObserver;

impl Observer for NoObserver {
    type Batch = ();
    fn observe(&self, _: &RecordView<'_>, _: &mut ()) {}
    fn collect(&self, _: ()) -> std::io::Result<()> {
        Ok(())
    }
}

#[allow(clippy::too_many_arguments)]
pub(crate) fn observe_record<O: Observer>(
    o: &O,
    miner: &Miner,
    header: &HeaderParser,
    line: u64,
    source: &str,
    (b, text, i): (&LineBatch, Option<&str>, usize),
    c: Option<ClusterId>,
    s: &mut Scratch,
    batch: &mut O::Batch,
) {
    let content = s.header.content.as_str();
    if let Some(c) = c {
        miner.params(c, content, &s.masked, &mut s.params);
    } else {
        s.params.clear();
    }
    // Entry `i` of `b`, `text` being what `LineBatch::text` gave for `b`.
    let mut raw_buf = String::new();
    let (raw, _) = b.decode(text, i, &mut raw_buf);
    let hex = c.map(|c| miner.template_id(c).hex());
    let rec = RecordView {
        line,
        source,
        raw,
        content,
        fields: header
            .field_names()
            .iter()
            .map(|n| n.as_str())
            .zip(s.header.values.iter().map(|v| v.as_str()))
            .chain(s.header.extra.iter().map(|(k, v)| (k.as_str(), v.as_str())))
            .collect(),
        template: c.map(|c| miner.template_text(c)),
        template_id: hex.as_ref().map(|h| std::str::from_utf8(h).unwrap_or_default()),
        params: s.params.iter().map(|p| p.of(content)).collect(),
    };
    o.observe(&rec, batch);
}

/// Caller-owned scratch for one worker.
pub(crate) struct Scratch {
    decode: String,
    pub(crate) header: ParsedHeader,
    pub(crate) masked: MaskedLine,
    params: Vec<Span>,
    /// The lines after the first of a multi-line event (lossily decoded),
    /// valid when `has_rest`.
    pub(crate) rest: String,
    pub(crate) has_rest: bool,
}

/// Called after each batch with the lines and bytes it held.
pub type ProgressFn = Box<dyn Fn(u64, u64) + Send + Sync>;

/// Header, miner and settings: everything a run needs.
pub struct Engine {
    /// The header parser for every input.
    pub header: HeaderParser,
    /// The template miner (possibly loaded from saved state).
    pub miner: Miner,
    pub(crate) opts: Options,
    /// One scratch per worker ([`Engine::with_worker_scratch`]).
    scratches: Vec<std::sync::Mutex<Scratch>>,
    pub(crate) progress: Option<ProgressFn>,
    /// Microseconds each batch took from arrival to written output.
    latencies: std::sync::Mutex<Vec<u32>>,
    /// Set by a signal handler: file passes stop reading after the batch at hand.
    stop: Option<std::sync::Arc<std::sync::atomic::AtomicBool>>,
    /// What pass one masked, by input, for pass two of the same input.
    memos: Vec<(String, Memo)>,
    /// Bytes all `memos` together may hold (0: pass two masks every line
    /// again).
    memo_budget: usize,
}

/// Per-batch latency summary, in milliseconds.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Latency {
    /// Median.
    pub p50: f64,
    /// 99th percentile.
    pub p99: f64,
    /// Worst.
    pub max: f64,
    /// Batches measured.
    pub count: usize,
}

impl Engine {
    /// A new engine (`opts.threads` 0 counts as 1).
    pub fn new(header: HeaderParser, miner: Miner, opts: Options) -> Engine {
        let threads = opts.threads.max(1);
        let mut engine = Engine {
            header,
            miner,
            opts: Options { threads, ..opts },
            scratches: Vec::new(),
            progress: None,
            latencies: std::sync::Mutex::new(Vec::new()),
            stop: None,
            memos: Vec::new(),
            memo_budget: crate::memo::BUDGET_BYTES,
        };
        engine.scratches = (0..threads)
            .map(|_| std::sync::Mutex::new(engine.scratch()))
            .collect();
        engine
    }

    /// How many bytes pass one of files may keep of what it masked (all
    /// inputs together), so that pass two rebuilds those lines instead of
    /// masking them again (the output is the same either way). 0 turns it
    /// off: for a run without pass two (`templates`), or to save memory.
    pub fn set_pass_one_memo(&mut self, budget_bytes: usize) {
        self.memo_budget = budget_bytes;
        if budget_bytes == 0 {
            self.memos.clear();
        }
    }

    /// Latency of the batches processed so far: from a batch's arrival
    /// from the reader to its output written.
    pub fn batch_latency(&self) -> Option<Latency> {
        let mut v = self.latencies.lock().unwrap_or_else(|e| e.into_inner()).clone();
        if v.is_empty() {
            return None;
        }
        v.sort_unstable();
        let at = |q: f64| v[((v.len() - 1) as f64 * q).round() as usize] as f64 / 1000.0;
        Some(Latency {
            p50: at(0.5),
            p99: at(0.99),
            max: at(1.0),
            count: v.len(),
        })
    }

    /// A flag that stops [`Engine::mine`] after the batch at hand
    /// (the lines read so far are mined; report them with a `limit`).
    pub fn set_stop(&mut self, stop: std::sync::Arc<std::sync::atomic::AtomicBool>) {
        self.stop = Some(stop);
    }

    fn stop_requested(&self) -> bool {
        self.stop
            .as_ref()
            .is_some_and(|s| s.load(std::sync::atomic::Ordering::Acquire))
    }

    /// Reports progress (lines, bytes read) after every batch.
    pub fn set_progress(&mut self, f: ProgressFn) {
        self.progress = Some(f);
    }

    /// The settings in force.
    /// Turns template mining on or off for the runs to come (see
    /// [`Options::templates`]).
    pub fn set_templates(&mut self, on: bool) {
        self.opts.templates = on;
    }

    pub fn options(&self) -> &Options {
        &self.opts
    }

    /// Runs `f` with worker `w`'s own scratch, kept across batches and
    /// passes so that the masker's token memo stays warm; with a fresh one
    /// should that scratch be taken: what a scratch holds between lines
    /// changes no result, only the cost.
    pub(crate) fn with_worker_scratch<R>(&self, w: usize, f: impl FnOnce(&mut Scratch) -> R) -> R {
        if let Some(Ok(mut s)) = self.scratches.get(w).map(|m| m.try_lock()) {
            return f(&mut s);
        }
        f(&mut self.scratch())
    }

    pub(crate) fn scratch(&self) -> Scratch {
        Scratch {
            decode: String::new(),
            header: ParsedHeader::default(),
            masked: MaskedLine::default(),
            params: Vec::new(),
            rest: String::new(),
            has_rest: false,
        }
    }

    /// The joiner for one input, or `None` when lines are not joined. Its
    /// predicate asks the header parser whether a line starts an event.
    pub(crate) fn joiner(&self) -> Option<Joiner> {
        if matches!(self.opts.multiline, Multiline::None) {
            return None;
        }
        let whole_line = self.header.format_str() == Some("<Content>");
        let starts: logsieve_framing::StartsEvent = if whole_line {
            Box::new(|_| None)
        } else {
            let header = self.header.clone();
            let scratch = std::cell::RefCell::new((String::new(), ParsedHeader::default()));
            Box::new(move |bytes| {
                let mut guard = scratch.borrow_mut();
                let (decode, parsed) = &mut *guard;
                let (text, _) = decode_lossy(bytes, decode);
                Some(header.parse(text, parsed))
            })
        };
        Some(Joiner::with_config(
            self.opts.multiline.clone(),
            starts,
            logsieve_framing::JoinerConfig {
                max_bytes: self.opts.max_line_bytes,
                ..Default::default()
            },
        ))
    }

    /// Decode, header and mask one line into `s`; returns its flags.
    /// Entry `i` of `b`: a multi-line event is parsed and mined by its first
    /// line; the other lines are kept in `s.rest` for the record. `text` is
    /// what [`LineBatch::text`] gave for `b` (asked once per batch): an
    /// entry cut from it needs no decoding of its own.
    pub(crate) fn prepare_entry(
        &self,
        b: &LineBatch,
        text: Option<&str>,
        i: usize,
        s: &mut Scratch,
    ) -> LineFlags {
        self.prepare_entry_kept(b, text, i, s, None)
    }

    /// [`Engine::prepare_entry`] that rebuilds the masked line from `kept`
    /// (what pass one masked) when it holds this entry's content.
    pub(crate) fn prepare_entry_kept(
        &self,
        b: &LineBatch,
        text: Option<&str>,
        i: usize,
        s: &mut Scratch,
        kept: Option<Kept<'_>>,
    ) -> LineFlags {
        let Scratch {
            decode,
            header,
            masked,
            rest,
            has_rest,
            ..
        } = s;
        *has_rest = b.line_count(i) > 1;
        let (text, dec) = if *has_rest {
            let bytes = b.line(i);
            let nl = memchr::memchr(b'\n', bytes).unwrap_or(bytes.len());
            rest.clear();
            rest.push_str(&String::from_utf8_lossy(bytes.get(nl + 1..).unwrap_or_default()));
            decode_lossy(&bytes[..nl], decode)
        } else {
            b.decode(text, i, decode)
        };
        let mut flags = self.prepare(text, dec, b.flags(i).truncated(), header, masked, kept);
        flags.continued = b.flags(i).continued();
        flags
    }

    /// Header and mask one line's text into `header` and `masked`; `dec`
    /// is what decoding it changed.
    pub(crate) fn prepare(
        &self,
        text: &str,
        dec: logsieve_framing::Decoded,
        truncated: bool,
        header: &mut ParsedHeader,
        masked: &mut MaskedLine,
        kept: Option<Kept<'_>>,
    ) -> LineFlags {
        let matched = self.header.parse(text, header);
        if self.opts.templates {
            if !kept.is_some_and(|k| k.rebuild(&header.content, masked)) {
                mask_line(&header.content, masked);
            }
        } else {
            masked.clear();
        }
        LineFlags {
            header_mismatch: !matched,
            invalid_utf8: dec.invalid_utf8,
            nul: dec.had_nul,
            truncated,
            no_template: false,
            continued: false,
        }
    }

    /// Records how long a batch took from its arrival from the
    /// reader (`at`) to its output written.
    fn record_latency(&self, at: std::time::Instant) {
        let took = at.elapsed().as_micros().min(u128::from(u32::MAX)) as u32;
        self.latencies
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .push(took);
    }

    /// The reader thread's loop: frames `reader` into batches of lines of
    /// up to `max_line_bytes` (with `join`, joined into events as
    /// `--multiline` says), each filled in a batch `next` gives
    /// (`None`: stop), and hands each to `send` (false: stop), then the
    /// failure, if reading fails, after the batch it cut short.
    fn read_batches(
        &self,
        reader: Box<dyn Read + Send>,
        max_line_bytes: usize,
        join: bool,
        mut next: impl FnMut() -> Option<LineBatch>,
        mut send: impl FnMut(Result<LineBatch, logsieve_framing::FramingError>) -> bool,
    ) {
        let (batch_lines, batch_bytes) = (self.opts.batch_lines, self.opts.batch_bytes);
        let mut framer = LineFramer::new(reader, FramerConfig { max_line_bytes });
        let mut joiner = if join { self.joiner() } else { None };
        let mut lines = LineBatch::default();
        // A batch left empty (an event still open) is filled again.
        let mut spare: Option<LineBatch> = None;
        while let Some(mut b) = spare.take().or_else(&mut next) {
            b.clear();
            // Without joining, the framer fills the batch itself; with it,
            // lines go through the joiner (one more copy).
            let framed = match &mut joiner {
                None => framer.next_batch(&mut b, batch_lines, batch_bytes),
                Some(j) => {
                    let r = framer.next_batch(&mut lines, batch_lines, batch_bytes);
                    j.push(&lines, &mut b);
                    if matches!(r, Ok(0) | Err(_)) {
                        j.finish(&mut b);
                    }
                    r.map(|n| if n == 0 { b.len() } else { n })
                }
            };
            match framed {
                Ok(0) => break,
                Ok(_) => {
                    if b.is_empty() {
                        spare = Some(b);
                        continue; // an event still open: read on
                    }
                    if !send(Ok(b)) {
                        break;
                    }
                }
                Err(e) => {
                    if !b.is_empty() {
                        send(Ok(b));
                    }
                    send(Err(e));
                    break;
                }
            }
        }
    }

    /// The one-thread pass over a file: reads `input` in batches on a
    /// reader thread and hands each, in order, to `on_batch` on the
    /// calling thread (several threads: [`Engine::drive_ordered`]).
    /// `honour_stop`: stop after the current batch once the stop flag is
    /// set. `on_batch` returns `false` to stop reading.
    fn drive(
        &self,
        input: &Input,
        honour_stop: bool,
        mut on_batch: impl FnMut(&LineBatch) -> Result<bool, EngineError>,
    ) -> Result<(), EngineError> {
        let reader = logsieve_source::open(input)?;
        std::thread::scope(|sc| {
            let (tx, rx) = bounded::<Result<LineBatch, logsieve_framing::FramingError>>(2);
            let (free_tx, free_rx) = unbounded::<LineBatch>();
            sc.spawn(move || {
                let next = || Some(free_rx.try_recv().unwrap_or_default());
                self.read_batches(reader, self.opts.max_line_bytes, true, next, |b| {
                    tx.send(b).is_ok()
                });
            });
            while let Ok(read) = rx.recv() {
                let arrived = std::time::Instant::now();
                let b = read.map_err(|source| EngineError::Read {
                    input: input.display_name(),
                    source,
                })?;
                // Batches hold each line's `\n` (the framer copies whole
                // lines), so their data length is the bytes read.
                let go_on = on_batch(&b)?;
                self.record_latency(arrived);
                if let Some(p) = &self.progress {
                    p(b.lines_covered(), b.data_len() as u64);
                }
                let _ = free_tx.send(b);
                if !go_on || (honour_stop && self.stop_requested()) {
                    break;
                }
            }
            Ok(())
        })
    }

    /// Pass one over a file: learns every line's template. Masking runs in
    /// parallel; only lines with a key never seen go through the sequential
    /// miner a second time.
    pub fn mine(&mut self, input: &Input) -> Result<Stats, EngineError> {
        match self.mine_partial(input) {
            (stats, None) => Ok(stats),
            (_, Some(e)) => Err(e),
        }
    }

    /// [`Engine::mine`] that also returns the counters when the input fails
    /// part-way (or the stop flag ends it early): the lines counted were
    /// mined, and `report_observed` with `limit = stats.lines` reports
    /// exactly them.
    pub fn mine_partial(&mut self, input: &Input) -> (Stats, Option<EngineError>) {
        let mut miner = std::mem::take(&mut self.miner);
        let mut stats = Stats::default();
        let mut seq = self.scratch();
        let single = self.opts.threads <= 1;
        let templates = self.opts.templates;
        // What this pass masks, kept for pass two (see `memo`).
        // A new pass one over an input replaces what was kept of it.
        let name = input.display_name();
        self.memos.retain(|(n, _)| *n != name);
        let kept: usize = self.memos.iter().map(|(_, m)| m.bytes()).sum();
        let budget = if templates {
            self.memo_budget.saturating_sub(kept)
        } else {
            0
        };
        let mut memo = Memo::with_budget(budget);
        let r = if single {
            self.drive(input, true, |b| {
                // One thread: mask each line once and learn it at once,
                // without the hand-off to a worker and the second masking
                // of lines whose key is new (`learn` checks the cache
                // first, as `learn_known` does: the same answers).
                let text = b.text();
                for i in 0..b.len() {
                    let f = self.prepare_entry(b, text, i, &mut seq);
                    stats.count(&f, b.line(i).len(), b.line(i).is_empty(), b.line_count(i));
                    if templates {
                        memo.push(&seq.header.content, &seq.masked);
                        miner.learn(&seq.masked, &seq.header.content);
                    }
                }
                Ok(true)
            })
        } else {
            // Several threads: workers mask batches as they come while
            // this thread learns the batches masked, in input order (the
            // miner sees the same lines in the same order as with one
            // thread, so the templates are the same). Workers stop
            // keeping what they mask once the memo is full.
            let memo_full = std::sync::atomic::AtomicBool::new(memo.is_full());
            self.drive_ordered(
                input,
                true,
                |_, b, s| {
                    let keep = !memo_full.load(std::sync::atomic::Ordering::Relaxed);
                    let mut st = Stats::default();
                    let mut part = MemoPart::default();
                    let text = b.text();
                    let keys: Vec<u128> = (0..b.len())
                        .map(|i| {
                            let f = self.prepare_entry(b, text, i, s);
                            st.count(&f, b.line(i).len(), b.line(i).is_empty(), b.line_count(i));
                            if keep {
                                part.push(&s.header.content, &s.masked);
                            }
                            s.masked.key
                        })
                        .collect();
                    (keys, st, part)
                },
                |b, (keys, st, part)| {
                    stats += st;
                    // A part left empty is only ever one after the memo
                    // filled up: what is kept stays entry n = line n.
                    memo.append(&part);
                    if memo.is_full() {
                        memo_full.store(true, std::sync::atomic::Ordering::Relaxed);
                    }
                    if templates {
                        self.learn_keyed(&mut miner, &mut seq, b, keys);
                    }
                    Ok(true)
                },
            )
        };
        miner.finalize();
        self.miner = miner;
        if memo.len() > 0 {
            self.memos.push((name, memo));
        }
        (stats, r.err())
    }

    /// Learns the lines of batch `b` whose keys were computed by a worker:
    /// a key the miner knows is one cache probe; a line with a new key is
    /// masked again here and learned in full.
    fn learn_keyed(&self, miner: &mut Miner, seq: &mut Scratch, b: &LineBatch, keys: Vec<u128>) {
        // The batch's text is checked only when a line has a new key.
        let mut text = None;
        for (i, key) in keys.into_iter().enumerate() {
            if miner.learn_known(key).is_none() {
                let text = *text.get_or_insert_with(|| b.text());
                self.prepare_entry(b, text, i, seq);
                miner.learn(&seq.masked, &seq.header.content);
            }
        }
    }

    /// Pass two over a file (or the only pass with `--match-only`): reports
    /// every line with its final template, rendered in parallel and written
    /// in input order.
    pub fn report(
        &self,
        input: &Input,
        format: OutputFormat,
        out: &mut dyn Write,
    ) -> Result<Stats, EngineError> {
        self.report_observed::<NoObserver>(input, Some(format), out, None, None)
    }

    /// [`Engine::report`] with an observer that sees every record (in
    /// parallel) and collects per batch in input order. With `format`
    /// `None` no record is written (detection only). With `limit`, only the
    /// first `limit` lines are reported (those a stopped or failed
    /// [`Engine::mine`] saw).
    pub fn report_observed<O: Observer>(
        &self,
        input: &Input,
        format: Option<OutputFormat>,
        out: &mut dyn Write,
        observer: Option<&O>,
        limit: Option<u64>,
    ) -> Result<Stats, EngineError> {
        match self.report_partial(input, format, out, observer, limit) {
            Ok((stats, None)) => Ok(stats),
            Ok((_, Some(e))) | Err(e) => Err(e),
        }
    }

    /// [`Engine::report_observed`] that also returns the counters of the
    /// lines reported before the input failed part-way. The outer error is
    /// for failures that are not the input's (writing the output).
    pub fn report_partial<O: Observer>(
        &self,
        input: &Input,
        format: Option<OutputFormat>,
        out: &mut dyn Write,
        observer: Option<&O>,
        limit: Option<u64>,
    ) -> Result<(Stats, Option<EngineError>), EngineError> {
        let mut stats = Stats::default();
        let mut line_no = 0u64;
        let source = input.display_name();
        if format == Some(OutputFormat::Csv) {
            let mut head = Vec::new();
            self.csv_header(&mut head);
            out.write_all(&head)?;
        }
        // A full report stops on the stop flag; a limited one reports
        // exactly the lines a stopped or failed mining pass saw.
        let honour_stop = limit.is_none();
        let limit = limit.unwrap_or(u64::MAX);
        // Pass one of this input kept what it masked: entry n of this pass
        // is entry n of that one (same framing), checked by its content.
        let memo = self.memos.iter().find(|(n, _)| *n == source).map(|(_, m)| m);
        let mut entry_no = 0u64;
        // One batch's records: rendered into a buffer (and observed) by
        // a worker, then written (and collected) in input order.
        let render = |first: u64, b: &LineBatch, s: &mut Scratch| {
            let mut buf = Vec::with_capacity(b.data_len() * 2);
            let mut st = Stats::default();
            let mut ob = O::Batch::default();
            // Entries (whole events) up to the limit line.
            let n = (0..b.len()).take_while(|&i| b.last_line_no(i) <= limit).count();
            let text = b.text();
            for i in 0..n {
                let kept = memo.and_then(|m| m.get(first + i as u64));
                let mut f = self.prepare_entry_kept(b, text, i, s, kept);
                let c = if self.opts.templates {
                    self.miner.lookup(&s.masked)
                } else {
                    None
                };
                f.no_template = c.is_none() && self.opts.templates;
                st.count(&f, b.line(i).len(), b.line(i).is_empty(), b.line_count(i));
                let line = b.line_no(i);
                if let Some(o) = observer {
                    observe_record(
                        o,
                        &self.miner,
                        &self.header,
                        line,
                        &source,
                        (b, text, i),
                        c,
                        s,
                        &mut ob,
                    );
                }
                if let Some(format) = format {
                    render_with(
                        &self.miner,
                        &self.header,
                        format,
                        line,
                        b.last_line_no(i),
                        &source,
                        c,
                        &[],
                        &f,
                        s,
                        &mut buf,
                    );
                }
            }
            (buf, st, ob)
        };
        let mut write =
            |b: &LineBatch, (buf, st, ob): (Vec<u8>, Stats, O::Batch)| -> Result<bool, EngineError> {
                line_no += b.lines_covered();
                out.write_all(&buf)?;
                stats += st;
                if let Some(o) = observer {
                    o.collect(ob)?;
                }
                Ok(line_no < limit)
            };
        let r = if self.opts.threads <= 1 {
            self.drive(input, honour_stop, |b| {
                let first = entry_no;
                entry_no += b.len() as u64;
                let done = self.with_worker_scratch(0, |s| render(first, b, s));
                write(b, done)
            })
        } else {
            self.drive_ordered(input, honour_stop, render, write)
        };
        out.flush()?;
        match r {
            Err(EngineError::Write(e)) => Err(EngineError::Write(e)),
            r => Ok((stats, r.err())),
        }
    }

    pub(crate) fn csv_header(&self, out: &mut Vec<u8>) {
        let names = self.header.field_names();
        logsieve_sink::csv_row(
            out,
            ["LineId"]
                .into_iter()
                .chain(names.iter().map(|s| s.as_str()))
                .chain(["Content", "EventId", "EventTemplate"]),
        );
    }
}

#[allow(clippy::too_many_arguments)]
pub(crate) fn render_with(
    miner: &Miner,
    header: &HeaderParser,
    format: OutputFormat,
    line_no: u64,
    last_line: u64,
    source: &str,
    c: Option<ClusterId>,
    merged: &[logsieve_template::TemplateMerge],
    f: &LineFlags,
    s: &mut Scratch,
    out: &mut Vec<u8>,
) {
    let content = s.header.content.as_str();
    match format {
        OutputFormat::TemplateText => {
            if let Some(c) = c {
                out.extend_from_slice(miner.template_text(c).as_bytes());
            }
            out.push(b'\n');
        }
        OutputFormat::Csv => {
            logsieve_sink::uint(out, line_no);
            for v in &s.header.values {
                out.push(b',');
                csv_field(out, v);
            }
            out.push(b',');
            csv_field(out, content);
            out.push(b',');
            if let Some(c) = c {
                out.extend_from_slice(&miner.template_id(c).hex());
                out.push(b',');
                csv_field(out, miner.template_text(c));
            } else {
                out.push(b',');
            }
            out.push(b'\n');
        }
        OutputFormat::Jsonl => {
            // A content without a byte to escape (most lines) is written,
            // and so are its parts (the parameters), without the escape
            // scan.
            let plain = logsieve_sink::is_plain(content);
            let mut o = JsonObject::new(out);
            o.uint("line", line_no);
            if last_line > line_no {
                o.uint("last_line", last_line);
            }
            o.str("source", source);
            match c {
                Some(c) => {
                    let hex = miner.template_id(c).hex();
                    o.plain_str("template_id", std::str::from_utf8(&hex).unwrap_or_default());
                    o.str("template", miner.template_text(c));
                    miner.params(c, content, &s.masked, &mut s.params);
                    o.str_array_checked("params", s.params.iter().map(|p| p.of(content)), plain);
                    o.plain_str_array(
                        "param_types",
                        s.params
                            .iter()
                            .map(|p| logsieve_template::kind::classify(p.of(content)).name()),
                    );
                }
                None => {
                    o.key("template_id").extend_from_slice(b"null");
                    o.key("template").extend_from_slice(b"null");
                    o.key("params").extend_from_slice(b"[]");
                    o.key("param_types").extend_from_slice(b"[]");
                }
            }
            let fields = o.key("fields");
            fields.push(b'{');
            let mut first = true;
            let names = header.field_names();
            let pairs = names
                .iter()
                .map(|n| n.as_str())
                .zip(s.header.values.iter().map(|v| v.as_str()))
                .chain(s.header.extra.iter().map(|(k, v)| (k.as_str(), v.as_str())));
            for (k, v) in pairs {
                if !first {
                    fields.push(b',');
                }
                first = false;
                json_str(fields, k);
                fields.push(b':');
                json_str(fields, v);
            }
            fields.push(b'}');
            o.str_checked("message", content, plain);
            if s.has_rest {
                o.str("continuation", &s.rest);
            }
            if f.any() {
                o.str_array("flags", f.names());
            }
            if !merged.is_empty() {
                // Learning this line generalised templates handed out
                // before (stream runs): old id -> new id, for stores that
                // keep the earlier records.
                let m = o.key("merged");
                m.push(b'[');
                for (i, x) in merged.iter().enumerate() {
                    if i > 0 {
                        m.push(b',');
                    }
                    m.extend_from_slice(b"{\"from\":\"");
                    m.extend_from_slice(&x.from.hex());
                    m.extend_from_slice(b"\",\"into\":\"");
                    m.extend_from_slice(&x.into.hex());
                    m.extend_from_slice(b"\"}");
                }
                m.push(b']');
            }
            o.end();
            out.push(b'\n');
        }
    }
}
