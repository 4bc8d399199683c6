//! `logsieve detect`, and detection in the same pass as `parse`.

use crate::input::InputArgs;
use anyhow::{bail, Context, Result};
use clap::Args;
use logsieve_detect::{
    Alert, Correlator, Detector, Event, FlatEvent, Hit, JsonEvent, JsonPrefix, JsonTape, Mapping, Scratch,
};
use logsieve_engine::{Engine, Observer, RecordView};
use logsieve_source::Input;
use std::cell::RefCell;
use std::collections::BTreeMap;
use std::io::{Read, Write};
use std::path::PathBuf;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

/// Rule loading flags shared by `detect` and `parse --rules`.
#[derive(Args, Debug, Clone)]
pub struct RuleArgs {
    /// Sigma rule file or folder (searched recursively for .yml/.yaml);
    /// repeat --rules for more.
    #[arg(long = "rules", value_name = "PATH", required = true)]
    pub rules: Vec<PathBuf>,

    /// Field mapping: a built-in (windows, linux, webserver), a YAML file
    /// (see docs/DETECTION.md), or none. Default: from the input (windows
    /// for Windows event JSON and .evtx files, linux for --preset syslog/rfc5424, webserver
    /// for --preset combined); other inputs need one. Rules the mapping
    /// cannot serve are rejected with the reason. `none`: rule field names
    /// are event paths as written and every rule runs on every event.
    #[arg(long, value_name = "NAME|FILE|none")]
    pub mapping: Option<String>,

    /// Values for `%name%` placeholders of rules using the `expand`
    /// modifier: a YAML map from name to a value or a list of values. A
    /// rule using a placeholder that has no value is rejected.
    #[arg(long, value_name = "FILE")]
    pub placeholders: Option<PathBuf>,

    /// A pySigma processing pipeline (YAML) applied to every rule before
    /// the mapping: field_name_mapping, field_name_prefix/suffix,
    /// add_condition, replace_string, value_placeholders, rule_failure,
    /// change_logsource, with logsource and include/exclude field
    /// conditions. Anything else is refused with the reason. Repeat for
    /// more (run by priority).
    #[arg(long = "pipeline", value_name = "FILE")]
    pub pipelines: Vec<PathBuf>,

    /// Fail (exit 2) if any rule is rejected.
    #[arg(long)]
    pub strict: bool,
}

#[derive(Args, Debug)]
pub struct DetectArgs {
    #[command(flatten)]
    pub rules: RuleArgs,

    #[command(flatten)]
    pub input: InputArgs,

    /// Alert encoding: jsonl (one JSON object per alert), csv (a header
    /// row, then one row per alert), table (aligned columns for reading).
    /// As everywhere in logsieve, -o is the encoding and --output-file the
    /// file.
    #[arg(long, short = 'o', value_enum, default_value_t = DetectOutput::Jsonl)]
    pub output: DetectOutput,

    /// The table of alerts per rule (rule, level, count) on stderr at the
    /// end: auto (when stderr is a terminal and not --quiet), always,
    /// never.
    #[arg(long, value_enum, default_value_t = SummaryTable::Auto, value_name = "WHEN")]
    pub summary_table: SummaryTable,

    /// Write alerts to FILE instead of standard output (as FILE.tmp,
    /// renamed to FILE when the run ends without error; with --follow,
    /// FILE directly).
    #[arg(long = "output-file", visible_alias = "alerts", value_name = "FILE")]
    pub alerts: Option<PathBuf>,
}

/// Alert encodings of `detect`.
#[derive(clap::ValueEnum, Clone, Copy, Debug, PartialEq, Eq)]
pub enum DetectOutput {
    /// One JSON object per alert.
    Jsonl,
    /// Aligned columns: level, line, source, title, details.
    Table,
    /// CSV with a header row.
    Csv,
}

/// When `detect` prints the per-rule summary table.
#[derive(clap::ValueEnum, Clone, Copy, Debug, PartialEq, Eq)]
pub enum SummaryTable {
    /// When stderr is a terminal (and not --quiet).
    Auto,
    /// Always (even with --quiet).
    Always,
    /// Never.
    Never,
}

/// The Sigma levels, most severe first.
const LEVELS: [&str; 5] = ["critical", "high", "medium", "low", "informational"];

fn level_rank(l: &str) -> usize {
    LEVELS.iter().position(|x| *x == l).unwrap_or(LEVELS.len())
}

/// `k=v` pairs joined with `; ` (matched fields, correlation groups).
fn pairs(m: &BTreeMap<String, String>) -> String {
    m.iter()
        .map(|(k, v)| format!("{k}={v}"))
        .collect::<Vec<_>>()
        .join("; ")
}

/// What an alert shows besides its rule: matched fields, or a
/// correlation's type, group and lines.
fn details(a: &Alert) -> String {
    match &a.correlation {
        Some(kind) => {
            let lines: Vec<String> = a.lines.iter().flatten().map(u64::to_string).collect();
            format!(
                "{kind} {}{}",
                a.group.as_ref().map(pairs).unwrap_or_default(),
                if lines.is_empty() {
                    String::new()
                } else {
                    format!(" lines {}", lines.join(","))
                }
            )
        }
        None => pairs(&a.matched),
    }
}

/// The header that goes before the first alert in `format` (none for
/// JSON lines).
fn write_header(out: &mut dyn Write, format: DetectOutput) -> std::io::Result<()> {
    match format {
        DetectOutput::Jsonl => Ok(()),
        DetectOutput::Csv => {
            let mut buf = Vec::new();
            logsieve_sink::csv_row(
                &mut buf,
                [
                    "rule_id",
                    "title",
                    "level",
                    "line",
                    "source",
                    "timestamp",
                    "correlation",
                    "group",
                    "lines",
                    "matched",
                ],
            );
            out.write_all(&buf)
        }
        DetectOutput::Table => writeln!(
            out,
            "{:<13} {:>8}  {:<24} {:<48} DETAILS",
            "LEVEL", "LINE", "SOURCE", "RULE"
        ),
    }
}

/// Appends `a` as one JSON line (`\n` included) or one CSV row to `buf`;
/// `false` for a table, which [`write_alert`] lays out itself.
fn encode_alert(buf: &mut Vec<u8>, prefix: &mut JsonPrefix, format: DetectOutput, a: &Alert) -> bool {
    match format {
        DetectOutput::Jsonl => {
            a.write_json_with(buf, prefix);
            buf.push(b'\n');
        }
        DetectOutput::Csv => {
            let line = a.line.to_string();
            let group = a.group.as_ref().map(pairs).unwrap_or_default();
            let lines: Vec<String> = a.lines.iter().flatten().map(u64::to_string).collect();
            let lines = lines.join(" ");
            let matched = pairs(&a.matched);
            logsieve_sink::csv_row(
                buf,
                [
                    &*a.rule_id,
                    &*a.title,
                    &*a.level,
                    line.as_str(),
                    &*a.source,
                    a.timestamp.as_deref().unwrap_or(""),
                    a.correlation.as_deref().unwrap_or(""),
                    group.as_str(),
                    lines.as_str(),
                    matched.as_str(),
                ],
            );
        }
        DetectOutput::Table => return false,
    }
    true
}

/// Writes `a` in `format`. `buf` is reused memory: a JSON line or CSV row
/// is built in it and written with one call.
fn write_alert(
    out: &mut dyn Write,
    buf: &mut Vec<u8>,
    prefix: &mut JsonPrefix,
    format: DetectOutput,
    a: &Alert,
) -> std::io::Result<()> {
    buf.clear();
    if encode_alert(buf, prefix, format, a) {
        return out.write_all(buf);
    }
    writeln!(
        out,
        "{:<13} {:>8}  {:<24} {:<48} {}",
        a.level,
        a.line,
        clip_to(&a.source, 24),
        clip_to(&a.title, 48),
        details(a)
    )
}

/// `s` cut to `n` characters (the end kept for paths, marked with `…`).
fn clip_to(s: &str, n: usize) -> String {
    let count = s.chars().count();
    if count <= n {
        return s.to_string();
    }
    let tail: String = s.chars().skip(count - (n - 1)).collect();
    format!("…{tail}")
}

/// Loads the rules `args` name, reading and compiling the rule files on
/// `threads` threads, and prints what loaded and what was rejected.
pub fn load_detector(args: &RuleArgs, quiet: bool, threads: usize) -> Result<Detector> {
    if args.rules.is_empty() {
        bail!("--rules needs at least one file or folder");
    }
    if args.mapping.is_none() && !quiet {
        eprintln!("logsieve: --mapping none: every rule runs on every event, whatever its logsource");
    }
    let mapping = match &args.mapping {
        None => None,
        Some(m) => match Mapping::builtin(m) {
            Some(b) => Some(b),
            None if std::path::Path::new(m).exists() => Some(Mapping::from_file(std::path::Path::new(m))?),
            None => bail!(
                "unknown --mapping {:?}: use windows, linux, webserver, none or a YAML file",
                crate::run::clip(m)
            ),
        },
    };
    let placeholders = match &args.placeholders {
        None => logsieve_detect::Placeholders::new(),
        Some(p) => {
            let text = std::fs::read_to_string(p).with_context(|| {
                format!(
                    "reading --placeholders {}",
                    crate::run::clip(&p.display().to_string())
                )
            })?;
            logsieve_detect::placeholders_from_yaml(&text, &p.display().to_string())?
        }
    };
    let mut pipelines = Vec::new();
    for p in &args.pipelines {
        pipelines.push(logsieve_detect::Pipeline::from_file(p)?);
    }
    let options = logsieve_detect::LoadOptions {
        placeholders,
        pipelines,
        threads,
    };
    let d = Detector::load_with(&args.rules, mapping, &options)?;
    if !quiet || args.strict {
        for r in d.rejections() {
            eprintln!(
                "logsieve: rule rejected: {}{}: {}",
                crate::run::clip(&r.file),
                r.title
                    .as_ref()
                    .map(|t| format!(" ({})", crate::run::clip(t)))
                    .unwrap_or_default(),
                crate::run::clip_words(&r.reason)
            );
        }
    }
    if !quiet {
        eprintln!(
            "logsieve: {} rule files, {} rules and {} correlations loaded{}, {} rejected",
            d.files_read(),
            d.rules().len(),
            d.correlations().len(),
            if d.filters().is_empty() {
                String::new()
            } else {
                format!(", {} filters", d.filters().len())
            },
            d.rejections().len()
        );
    }
    if args.strict && !d.rejections().is_empty() {
        bail!("{} rules rejected (--strict)", d.rejections().len());
    }
    Ok(d)
}

thread_local! {
    static SCRATCH: RefCell<Scratch> = RefCell::new(Scratch::default());
}

/// Alerts per rule: rule id → (title, level, count).
type PerRule = BTreeMap<String, (String, String, u64)>;

/// The output and what writing to it keeps.
struct Out<'a> {
    w: Box<dyn Write + Send + 'a>,
    /// Reused memory an alert is encoded in.
    buf: Vec<u8>,
    prefix: JsonPrefix,
    /// An alert was written (the CSV and table headers went before it).
    started: bool,
}

impl Out<'_> {
    /// Writes the header before the first alert.
    fn begin(&mut self, format: DetectOutput) -> std::io::Result<()> {
        if !self.started {
            write_header(&mut *self.w, format)?;
            self.started = true;
        }
        Ok(())
    }

    /// Writes bytes of whole alerts, the header first if none was written.
    fn alerts(&mut self, format: DetectOutput, bytes: &[u8]) -> std::io::Result<()> {
        if bytes.is_empty() {
            return Ok(());
        }
        self.begin(format)?;
        self.w.write_all(bytes)
    }
}

/// Runs detection on records from the parse pipeline and writes alerts.
pub struct DetectionSink<'a> {
    detector: &'a Detector,
    correlator: Mutex<Correlator>,
    out: Mutex<Out<'a>>,
    format: DetectOutput,
    levels: Mutex<BTreeMap<String, u64>>,
    per_rule: Mutex<PerRule>,
    events: AtomicU64,
    /// Byte buffers of [`Encoded`] batches already written, for the next
    /// ones (a batch's alerts can take hundreds of KiB: a fresh buffer per
    /// batch costs page faults).
    spare: Mutex<Vec<Vec<u8>>>,
    /// Vectors of hit batches written, for the workers to clear and fill.
    spent: Mutex<Vec<SpentHits>>,
}

/// Spare buffers kept at most (more batches than this are rarely in flight).
const SPARE_BUFFERS: usize = 256;

/// A rule's alerts in one batch: (rule id, title, level, count).
type Tally = (Arc<str>, Arc<str>, Arc<str>, u64);

/// The alerts of a batch's rule hits encoded where the hits were found (on
/// a worker thread), so that the thread writing in input order copies
/// bytes instead of encoding every alert itself
/// ([`DetectionSink::handle_encoded`]). The bytes are the ones
/// [`DetectionSink::handle`] writes for the same hits. Table output is
/// laid out when written: nothing is encoded ahead for it.
#[derive(Debug, Default)]
pub struct Encoded {
    bytes: Vec<u8>,
    /// Per hit with an alert, in order: where its bytes end.
    ends: Vec<usize>,
    prefix: JsonPrefix,
    /// Alerts per rule index.
    tally: BTreeMap<usize, Tally>,
}

impl<'a> DetectionSink<'a> {
    pub fn new(detector: &'a Detector, out: Box<dyn Write + Send + 'a>) -> Self {
        DetectionSink::with_format(detector, out, DetectOutput::Jsonl)
    }

    /// A sink writing alerts in `format`.
    pub fn with_format(
        detector: &'a Detector,
        out: Box<dyn Write + Send + 'a>,
        format: DetectOutput,
    ) -> Self {
        DetectionSink {
            detector,
            correlator: Mutex::new(Correlator::new(detector)),
            out: Mutex::new(Out {
                w: out,
                buf: Vec::new(),
                prefix: JsonPrefix::default(),
                started: false,
            }),
            format,
            levels: Mutex::new(BTreeMap::new()),
            per_rule: Mutex::new(BTreeMap::new()),
            events: AtomicU64::new(0),
            spare: Mutex::new(Vec::new()),
            spent: Mutex::new(Vec::new()),
        }
    }

    fn write(&self, a: &Alert) -> std::io::Result<()> {
        {
            let mut out = self.out.lock().unwrap_or_else(|e| e.into_inner());
            out.begin(self.format)?;
            let Out { w, buf, prefix, .. } = &mut *out;
            write_alert(&mut **w, buf, prefix, self.format, a)?;
        }
        self.count(&a.rule_id, &a.title, &a.level, 1);
        Ok(())
    }

    /// Adds `n` alerts of a rule to the summary counts (copies of the
    /// texts only the first time a rule or level is seen).
    fn count(&self, rule_id: &str, title: &str, level: &str, n: u64) {
        let mut levels = self.levels.lock().unwrap_or_else(|e| e.into_inner());
        match levels.get_mut(level) {
            Some(k) => *k += n,
            None => {
                levels.insert(level.to_string(), n);
            }
        }
        let mut per = self.per_rule.lock().unwrap_or_else(|e| e.into_inner());
        match per.get_mut(rule_id) {
            Some(row) => row.2 += n,
            None => {
                per.insert(rule_id.to_string(), (title.to_string(), level.to_string(), n));
            }
        }
    }

    /// Encodes the alerts of `hits` (in order) into `enc`; any thread may
    /// call it. Table output encodes nothing here.
    pub fn encode(&self, hits: &[Hit], enc: &mut Encoded) {
        for h in hits {
            let Some(a) = &h.alert else { continue };
            if enc.bytes.capacity() == 0 {
                if let Some(b) = self.spare.lock().unwrap_or_else(|e| e.into_inner()).pop() {
                    enc.bytes = b;
                }
            }
            if !encode_alert(&mut enc.bytes, &mut enc.prefix, self.format, a) {
                return;
            }
            enc.ends.push(enc.bytes.len());
            enc.tally
                .entry(h.rule)
                .or_insert_with(|| (a.rule_id.clone(), a.title.clone(), a.level.clone(), 0))
                .3 += 1;
        }
    }

    /// Handles a batch's events in input order, each `(line, source, its
    /// hits)`, whose alerts `encode` put in `enc` (all of them, in the same
    /// order): writes the same bytes as [`DetectionSink::handle`] on each
    /// event, with one lock of the output per run of alerts instead of one
    /// per alert. Correlations are fed on this thread, in order, and their
    /// alerts written right after the hit that completed them.
    pub fn handle_encoded<'h>(
        &self,
        events: impl IntoIterator<Item = (u64, &'h str, &'h [Hit])>,
        mut enc: Encoded,
    ) -> std::io::Result<()> {
        if matches!(self.format, DetectOutput::Table) {
            for (line, source, hits) in events {
                self.handle(line, source, hits)?;
            }
            return Ok(());
        }
        // Alerts of `enc` met so far; bytes of `enc` written so far.
        let (mut met, mut from) = (0usize, 0usize);
        for (line, source, hits) in events {
            for h in hits {
                met += usize::from(h.alert.is_some());
                if h.corr.is_empty() {
                    continue;
                }
                let to = if met == 0 { 0 } else { enc.ends[met - 1] };
                self.out
                    .lock()
                    .unwrap_or_else(|e| e.into_inner())
                    .alerts(self.format, &enc.bytes[from..to])?;
                from = to;
                self.feed(h, line, source)?;
            }
        }
        debug_assert_eq!(met, enc.ends.len(), "every alert encoded is handled");
        self.out
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .alerts(self.format, &enc.bytes[from..])?;
        for (id, title, level, n) in enc.tally.values() {
            self.count(id, title, level, *n);
        }
        if enc.bytes.capacity() > 0 {
            enc.bytes.clear();
            let mut spare = self.spare.lock().unwrap_or_else(|e| e.into_inner());
            if spare.len() < SPARE_BUFFERS {
                spare.push(std::mem::take(&mut enc.bytes));
            }
        }
        Ok(())
    }

    /// The alerts per rule as a table (rule, level, count), most severe
    /// level first, then most alerts.
    pub fn summary_table(&self) -> String {
        let per = self.per_rule.lock().unwrap_or_else(|e| e.into_inner());
        let mut rows: Vec<(&String, &(String, String, u64))> = per.iter().collect();
        rows.sort_by(|a, b| {
            (level_rank(&a.1 .1), std::cmp::Reverse(a.1 .2), &a.1 .0).cmp(&(
                level_rank(&b.1 .1),
                std::cmp::Reverse(b.1 .2),
                &b.1 .0,
            ))
        });
        let width = rows
            .iter()
            .map(|(_, (t, _, _))| t.chars().count().min(60))
            .max()
            .unwrap_or(0)
            .max(4);
        let mut s = format!("{:<width$}  {:<13} {:>8}\n", "RULE", "LEVEL", "ALERTS");
        for (_, (title, level, n)) in &rows {
            s.push_str(&format!(
                "{:<width$}  {:<13} {:>8}\n",
                clip_to(title, 60),
                level,
                n
            ));
        }
        let total: u64 = rows.iter().map(|r| r.1 .2).sum();
        s.push_str(&format!("{:<width$}  {:<13} {:>8}\n", "total", "", total));
        s
    }

    /// Handles one event's hits, in input order.
    pub fn handle(&self, line: u64, source: &str, hits: &[Hit]) -> std::io::Result<()> {
        for h in hits {
            if let Some(a) = &h.alert {
                self.write(a)?;
            }
            // No correlation refers to the rule: the correlator has
            // nothing to do (`feed` returns at once), so no lock.
            if h.corr.is_empty() {
                continue;
            }
            self.feed(h, line, source)?;
        }
        Ok(())
    }

    /// Feeds hit `h` (of the event at `line` of `source`) to the
    /// correlations that refer to its rule, and writes what they raise.
    fn feed(&self, h: &Hit, line: u64, source: &str) -> std::io::Result<()> {
        let more =
            self.correlator
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .feed(self.detector, h, line, source);
        for a in &more {
            self.write(a)?;
        }
        Ok(())
    }

    /// Counts an event.
    pub fn count_event(&self) {
        self.events.fetch_add(1, Ordering::Relaxed);
    }

    /// Ends the stream: decides the correlation windows still open
    /// (`lt`/`lte`/`eq` thresholds), writes their alerts, flushes the output
    /// and prints the summary.
    pub fn finish(&self, quiet: bool, malformed: u64) -> std::io::Result<()> {
        let last = self
            .correlator
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .flush(self.detector);
        for a in &last {
            self.write(a)?;
        }
        self.out.lock().unwrap_or_else(|e| e.into_inner()).w.flush()?;
        if !quiet {
            crate::progress::finish();
            let levels = self.levels.lock().unwrap_or_else(|e| e.into_inner());
            let total: u64 = levels.values().sum();
            let per: Vec<String> = LEVELS
                .iter()
                .map(|l| format!("{l} {}", levels.get(*l).copied().unwrap_or(0)))
                .chain(
                    levels
                        .iter()
                        .filter(|(k, _)| !LEVELS.contains(&k.as_str()))
                        .map(|(k, v)| format!("{k} {v}")),
                )
                .collect();
            let c = self.correlator.lock().unwrap_or_else(|e| e.into_inner());
            eprintln!(
                "logsieve: {} events ({} malformed), {} alerts: {}{}{}",
                self.events.load(Ordering::Relaxed),
                malformed,
                total,
                per.join(", "),
                if c.untimed > 0 {
                    format!("; {} correlation hits without a timestamp", c.untimed)
                } else {
                    String::new()
                },
                if c.evicted > 0 {
                    format!("; {} correlation groups evicted", c.evicted)
                } else {
                    String::new()
                },
            );
        }
        Ok(())
    }
}

/// One batch's hits, in input order, in one vector for the whole batch
/// (no vector, and no copy of the input's name, per event).
#[derive(Debug, Default)]
pub struct HitBatch {
    /// Every hit of the batch's events.
    hits: Vec<Hit>,
    /// Per event with hits: its line, its input (shared while it does not
    /// change) and where its hits end in `hits`.
    events: Vec<(u64, Arc<str>, usize)>,
    /// The hits' alerts, encoded on the worker.
    enc: Encoded,
    /// Its vectors were taken from the sink's spent ones (first record).
    primed: bool,
}

/// The vectors of a [`HitBatch`] written, for a worker to clear and fill.
type SpentHits = (Vec<Hit>, Vec<(u64, Arc<str>, usize)>);

impl Observer for DetectionSink<'_> {
    type Batch = HitBatch;

    fn observe(&self, rec: &RecordView<'_>, batch: &mut Self::Batch) {
        if !batch.primed {
            // Vectors of a batch already written, cleared here: the hits'
            // alerts are freed on this worker, not on the writing thread.
            batch.primed = true;
            if let Some((mut hits, mut events)) = self.spent.lock().unwrap_or_else(|e| e.into_inner()).pop() {
                hits.clear();
                events.clear();
                hits.append(&mut batch.hits);
                events.append(&mut batch.events);
                (batch.hits, batch.events) = (hits, events);
            }
        }
        self.count_event();
        let ev = FlatEvent::of_record(
            &rec.fields,
            [],
            rec.content,
            rec.raw,
            rec.template,
            rec.template_id,
            &rec.params,
        );
        let added = SCRATCH.with(|s| {
            self.detector
                .evaluate_into(&ev, rec.line, rec.source, &mut s.borrow_mut(), &mut batch.hits)
        });
        if added > 0 {
            self.encode(&batch.hits[batch.hits.len() - added..], &mut batch.enc);
            let source = match batch.events.last() {
                Some((_, s, _)) if **s == *rec.source => s.clone(),
                _ => Arc::from(rec.source),
            };
            batch.events.push((rec.line, source, batch.hits.len()));
        }
    }

    fn collect(&self, batch: Self::Batch) -> std::io::Result<()> {
        let mut from = 0;
        let events = batch.events.iter().map(|(line, source, to)| {
            let hits = &batch.hits[from..*to];
            from = *to;
            (*line, &**source, hits)
        });
        self.handle_encoded(events, batch.enc)?;
        self.spent
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .push((batch.hits, batch.events));
        Ok(())
    }

    fn flush(&self) -> std::io::Result<()> {
        self.out.lock().unwrap_or_else(|e| e.into_inner()).w.flush()
    }
}

/// What the start of an input shows.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Sniffed {
    /// JSON events that look like Windows events (EventID/Channel/System).
    WindowsJson,
    /// Other JSON events.
    Json,
    /// A Windows event log file (`.evtx`).
    Evtx,
    /// Text lines.
    Text,
}

fn sniff(head: &[u8]) -> Sniffed {
    if logsieve_evtx::is_evtx(head) {
        return Sniffed::Evtx;
    }
    if !first_is_json(head) {
        return Sniffed::Text;
    }
    let has = |needle: &[u8]| memchr::memmem::find(head, needle).is_some();
    if has(b"\"EventID\"") || has(b"\"Channel\"") || has(b"\"System\"") {
        Sniffed::WindowsJson
    } else {
        Sniffed::Json
    }
}

fn first_is_json(head: &[u8]) -> bool {
    head.iter()
        .find(|b| !b.is_ascii_whitespace())
        .is_some_and(|&b| b == b'{' || b == b'[')
}

/// Opens an input once and looks at its first bytes without losing them:
/// the returned reader still yields every byte. Reads only as far as the
/// decision needs (a text line decides at its first byte, Windows JSON at
/// its `EventID`/`Channel`/`System` key), at most 64 KiB, so a slow stream
/// is not waited on longer than needed.
fn open_sniffed(input: &Input) -> Result<(Sniffed, Box<dyn Read + Send>)> {
    const MAX: usize = 64 * 1024;
    let mut r: Box<dyn Read + Send> = logsieve_source::open(input)?;
    let mut head: Vec<u8> = Vec::with_capacity(8192);
    let mut chunk = [0u8; 8192];
    loop {
        if head.len() >= logsieve_evtx::MAGIC.len() && !first_is_json(&head) {
            break; // text or EVTX
        }
        if head.iter().any(|b: &u8| !b.is_ascii_whitespace())
            && !first_is_json(&head)
            && !logsieve_evtx::MAGIC.starts_with(&head)
        {
            break; // text
        }
        if sniff(&head) == Sniffed::WindowsJson || head.len() >= MAX {
            break;
        }
        let n = match r.read(&mut chunk) {
            Ok(n) => n,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
            Err(e) => {
                return Err(anyhow::Error::new(e)
                    .context(format!("reading {}", crate::run::clip(&input.display_name()))))
            }
        };
        if n == 0 {
            break;
        }
        head.extend_from_slice(&chunk[..n]);
    }
    let kind = sniff(&head);
    Ok((kind, Box::new(std::io::Cursor::new(head).chain(r))))
}

/// The mapping to use: the one named (`none` = no mapping), else the one the
/// inputs call for (windows for Windows event JSON, linux for the syslog
/// presets, webserver for access logs).
pub fn choose_mapping(
    explicit: Option<&str>,
    preset: Option<&str>,
    sniffed: &[Sniffed],
) -> Result<Option<String>> {
    if let Some(m) = explicit {
        return Ok((!m.eq_ignore_ascii_case("none")).then(|| m.to_string()));
    }
    let mut wanted: Vec<&str> = Vec::new();
    for s in sniffed {
        let m = match (s, preset.map(str::to_ascii_lowercase).as_deref()) {
            (Sniffed::WindowsJson, None) | (Sniffed::Evtx, _) => "windows",
            (Sniffed::Text, Some("syslog" | "rfc5424")) | (Sniffed::Json | Sniffed::WindowsJson, Some("syslog" | "rfc5424")) => "linux",
            (_, Some("combined")) => "webserver",
            (Sniffed::Json, None) => bail!(
                "cannot tell which rules apply to these JSON events (they are not Windows events); pass --mapping windows|linux|webserver|FILE, or --mapping none to run every rule on every event"
            ),
            _ => bail!(
                "cannot tell which rules apply to this input; pass --mapping linux (syslog), webserver (access logs), windows, a mapping FILE, or --mapping none to run every rule on every event"
            ),
        };
        if !wanted.contains(&m) {
            wanted.push(m);
        }
    }
    match wanted.as_slice() {
        [] => Ok(None),
        [one] => Ok(Some(one.to_string())),
        many => bail!(
            "the inputs call for different mappings ({}); run them separately or pass --mapping",
            many.join(", ")
        ),
    }
}

/// Reads one line (without its end of line) into `buf`; false at the end.
fn next_line(r: &mut dyn std::io::BufRead, buf: &mut Vec<u8>) -> std::io::Result<bool> {
    buf.clear();
    if r.read_until(b'\n', buf)? == 0 {
        return Ok(false);
    }
    while buf.last().is_some_and(|&b| b == b'\n' || b == b'\r') {
        buf.pop();
    }
    Ok(true)
}

fn is_blank(l: &[u8]) -> bool {
    l.iter().all(u8::is_ascii_whitespace)
}

/// JSON events from one input; returns how many were malformed.
///
/// - JSON lines (the first or second non-blank line is a JSON value on its
///   own): read line by line, streaming; each line is one event at its
///   line number; a malformed line is counted, reported and skipped.
/// - Otherwise (one pretty-printed object, or several in a row): the input
///   is read whole as a sequence of JSON values, each an event at the line
///   where it starts; a syntax error is counted and reported, and the rest
///   of that input is skipped (there is no safe place to resume).
///
/// A top-level array is a list of events at the array's line.
fn detect_json(
    reader: Box<dyn Read + Send>,
    source: &str,
    max_line_bytes: usize,
    parallel: Option<&Engine>,
    d: &Detector,
    sink: &DetectionSink<'_>,
) -> Result<u64> {
    let mut r = std::io::BufReader::with_capacity(1 << 16, reader);
    let mut scratch = Scratch::default();
    let mut malformed = 0u64;
    let mut eval = |ev: &dyn Event, line: u64| -> Result<()> {
        sink.count_event();
        let hits = d.evaluate(ev, line, source, &mut scratch);
        sink.handle(line, source, &hits)?;
        Ok(())
    };
    // Events decoded through serde_json get the spaceless twins of their
    // spaced Windows event data names (`Threat Name` -> `ThreatName`).
    let handle =
        |mut v: serde_json::Value, line: u64, eval: &mut dyn FnMut(&dyn Event, u64) -> Result<()>| {
            let items = match &mut v {
                serde_json::Value::Array(a) => a.as_mut_slice(),
                other => std::slice::from_mut(other),
            };
            items.iter_mut().try_for_each(|item| {
                logsieve_detect::add_spaceless_keys(item);
                eval(&JsonEvent(item), line)
            })
        };
    let bad = |line: u64, e: &dyn std::fmt::Display| {
        eprintln!("logsieve: {source}:{line}: malformed JSON event: {e}");
    };
    // Look at the first two non-blank lines to tell JSON lines from
    // pretty-printed JSON; keep them to process afterwards.
    let mut head: Vec<(u64, Vec<u8>)> = Vec::new();
    let mut line_no = 0u64;
    let mut buf = Vec::new();
    let mut nonblank = 0;
    while nonblank < 2 && next_line(&mut r, &mut buf)? {
        line_no += 1;
        if !is_blank(&buf) {
            nonblank += 1;
        }
        head.push((line_no, buf.clone()));
    }
    let jsonl = head
        .iter()
        .filter(|(_, l)| !is_blank(l))
        .any(|(_, l)| serde_json::from_slice::<serde_json::Value>(l).is_ok());
    if jsonl {
        if let Some(engine) = parallel {
            // The lines read to look are put back in front of the rest.
            let mut back = Vec::new();
            for (_, l) in &head {
                back.extend_from_slice(l);
                back.push(b'\n');
            }
            let rest = Box::new(std::io::Cursor::new(back).chain(r));
            return detect_json_lines_parallel(engine, rest, source, max_line_bytes, d, sink);
        }
        // Most lines decode straight into a reused flat table; the others
        // (a top-level array, a repeated key, a malformed line...) go
        // through serde_json as before.
        let mut tape = JsonTape::default();
        let mut one = |n: u64, l: &[u8]| -> Result<()> {
            if is_blank(l) {
                return Ok(());
            }
            if l.len() > max_line_bytes {
                malformed += 1;
                bad(n, &too_long(max_line_bytes));
                return Ok(());
            }
            if let Err(e) = each_json_event(&mut tape, l, &mut |ev| eval(ev, n))? {
                malformed += 1;
                bad(n, &e);
            }
            Ok(())
        };
        for (n, l) in &head {
            one(*n, l)?;
        }
        sink.flush()?;
        while !crate::run::stopping() && next_line(&mut r, &mut buf)? {
            line_no += 1;
            one(line_no, &buf)?;
            if r.buffer().is_empty() {
                // Caught up with the producer: alerts so far become visible.
                sink.flush()?;
            }
        }
        return Ok(malformed);
    }
    let mut text = Vec::new();
    for (_, l) in &head {
        text.extend_from_slice(l);
        text.push(b'\n');
    }
    r.read_to_end(&mut text)
        .with_context(|| format!("reading {source}"))?;
    let mut stream = serde_json::Deserializer::from_slice(&text).into_iter::<serde_json::Value>();
    loop {
        // The event's line is where its first byte is.
        let at = stream.byte_offset();
        let skip = text[at..].iter().take_while(|b| b.is_ascii_whitespace()).count();
        let line = text[..at + skip].iter().filter(|&&b| b == b'\n').count() as u64 + 1;
        match stream.next() {
            None => break,
            Some(Ok(v)) => handle(v, line, &mut eval)?,
            Some(Err(e)) => {
                malformed += 1;
                eprintln!(
                    "logsieve: {source}:{}: malformed JSON event (the rest of this input is skipped): {e}",
                    e.line()
                );
                break;
            }
        }
    }
    Ok(malformed)
}

/// Hands each event of one JSON line to `f` (a top-level array: each of
/// its items). Most lines decode straight into the reused flat `tape`;
/// the others (an array, a repeated key, a spaced key, a malformed
/// line...) go through serde_json, which also gives spaced Windows event
/// data names their spaceless twins (`Threat Name` -> `ThreatName`; the
/// tape holds the line as written). The inner error: the line is not
/// JSON, and no event was handed on.
fn each_json_event<E>(
    tape: &mut JsonTape,
    l: &[u8],
    f: &mut dyn FnMut(&dyn Event) -> Result<(), E>,
) -> Result<Result<(), serde_json::Error>, E> {
    if let Some(ev) = tape.parse(l) {
        if !ev.has_spaced_key() {
            return f(&ev).map(Ok);
        }
    }
    let mut v = match serde_json::from_slice::<serde_json::Value>(l) {
        Ok(v) => v,
        Err(e) => return Ok(Err(e)),
    };
    let items = match &mut v {
        serde_json::Value::Array(a) => a.as_mut_slice(),
        other => std::slice::from_mut(other),
    };
    for item in items {
        logsieve_detect::add_spaceless_keys(item);
        f(&JsonEvent(item))?;
    }
    Ok(Ok(()))
}

/// Why a JSON line longer than `--max-line-bytes` is not read.
fn too_long(max_line_bytes: usize) -> String {
    format!("the line is longer than --max-line-bytes ({max_line_bytes} bytes)")
}

/// A worker's state for JSON lines: its tape and detection scratch.
#[derive(Default)]
struct JsonWorker {
    tape: JsonTape,
    scratch: Scratch,
}

/// What one batch of JSON lines gave, in line order.
#[derive(Default)]
struct JsonBatch {
    /// Every hit of the batch's events.
    hits: Vec<Hit>,
    items: Vec<JsonItem>,
    /// The hits' alerts, encoded on the worker.
    enc: Encoded,
}

enum JsonItem {
    /// An event at `line` whose hits end at `end` in `hits`.
    Event { line: u64, end: usize },
    /// A line that is not a JSON event, and why.
    Malformed { line: u64, error: String },
}

/// JSON lines from a file on the engine's threads: workers decode and
/// evaluate batches of lines as they come (as [`detect_json`] does line by
/// line: the tape first, serde_json for the rest), and the alerts, the
/// correlations fed and the malformed lines are handled in line order, so
/// the output is the same as with one thread. A line longer than
/// `max_line_bytes` is malformed, as on the one-thread path. Returns how
/// many lines were malformed.
fn detect_json_lines_parallel(
    engine: &Engine,
    reader: Box<dyn Read + Send>,
    source: &str,
    max_line_bytes: usize,
    d: &Detector,
    sink: &DetectionSink<'_>,
) -> Result<u64> {
    // The vectors of batches written, back to the workers: a worker clears
    // them (the hits' alerts are freed there, not on the writing thread,
    // which would free what other threads allocated, one by one) and
    // fills them again.
    let spent: Mutex<Vec<(Vec<Hit>, Vec<JsonItem>)>> = Mutex::new(Vec::new());
    let map = |b: &logsieve_engine::LineBatch, w: &mut JsonWorker| {
        let (mut hits, mut items) = spent
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .pop()
            .unwrap_or_default();
        hits.clear();
        items.clear();
        let mut out = JsonBatch {
            hits,
            items,
            enc: Encoded::default(),
        };
        for i in 0..b.len() {
            let (l, line) = (b.line(i), b.line_no(i));
            if b.flags(i).truncated() {
                let error = too_long(max_line_bytes);
                out.items.push(JsonItem::Malformed { line, error });
                continue;
            }
            if is_blank(l) {
                continue;
            }
            let JsonWorker { tape, scratch } = w;
            let (hits, items) = (&mut out.hits, &mut out.items);
            let decoded = each_json_event(tape, l, &mut |ev| -> Result<(), std::convert::Infallible> {
                d.evaluate_into(ev, line, source, scratch, hits);
                items.push(JsonItem::Event {
                    line,
                    end: hits.len(),
                });
                Ok(())
            });
            if let Ok(Err(e)) = decoded {
                let error = e.to_string();
                out.items.push(JsonItem::Malformed { line, error });
            }
        }
        sink.encode(&out.hits, &mut out.enc);
        out
    };
    let mut malformed = 0u64;
    let consume = |_: &logsieve_engine::LineBatch, out: JsonBatch| {
        // The batch's malformed lines are reported (on stderr) before its
        // alerts are written (on stdout).
        for item in &out.items {
            match item {
                JsonItem::Event { .. } => sink.count_event(),
                JsonItem::Malformed { line, error } => {
                    malformed += 1;
                    eprintln!("logsieve: {source}:{line}: malformed JSON event: {error}");
                }
            }
        }
        let mut from = 0;
        let events = out.items.iter().filter_map(|item| match *item {
            JsonItem::Event { line, end } => {
                let hits = &out.hits[from..end];
                from = end;
                Some((line, source, hits))
            }
            JsonItem::Malformed { .. } => None,
        });
        sink.handle_encoded(events, out.enc)?;
        spent
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .push((out.hits, out.items));
        Ok(!crate::run::stopping())
    };
    engine.map_lines(source, reader, max_line_bytes, map, consume)?;
    Ok(malformed)
}

/// Events from one `.evtx` input; returns how many records were
/// malformed (each reported with its position). Chunks are decoded in
/// parallel by the evtx reader and batches of events are evaluated in
/// parallel; alerts keep file order. An event's `line` is its record's
/// position in the file (1-based).
fn detect_evtx(
    source: &str,
    file: logsieve_evtx::EvtxFile,
    threads: Option<usize>,
    d: &Detector,
    sink: &DetectionSink<'_>,
) -> Result<u64> {
    use rayon::prelude::*;
    const BATCH: usize = 1024;
    let pool = rayon::ThreadPoolBuilder::new()
        .num_threads(threads.unwrap_or(0))
        .build()
        .context("starting the detection threads")?;
    let mut malformed = 0u64;
    let mut batch: Vec<(u64, serde_json::Value)> = Vec::with_capacity(BATCH);
    // Events of a batch are evaluated, and their alerts encoded, in
    // chunks of CHUNK across the pool; each chunk is then written in order.
    const CHUNK: usize = 64;
    let run_batch = |batch: &mut Vec<(u64, serde_json::Value)>| -> Result<()> {
        let done: Vec<(Vec<Vec<Hit>>, Encoded)> = pool.install(|| {
            batch
                .par_chunks(CHUNK)
                .map_init(Scratch::default, |s, chunk| {
                    let hits: Vec<Vec<Hit>> = chunk
                        .iter()
                        .map(|(pos, ev)| d.evaluate(&JsonEvent(ev), *pos, source, s))
                        .collect();
                    let mut enc = Encoded::default();
                    for h in &hits {
                        sink.encode(h, &mut enc);
                    }
                    (hits, enc)
                })
                .collect()
        });
        for (chunk, (hits, enc)) in batch.chunks(CHUNK).zip(done) {
            for _ in chunk {
                sink.count_event();
            }
            let events = chunk
                .iter()
                .zip(&hits)
                .map(|((pos, _), h)| (*pos, source, &h[..]));
            sink.handle_encoded(events, enc)?;
        }
        batch.clear();
        Ok(())
    };
    file.for_each(threads.unwrap_or(0), |r| -> Result<()> {
        match r {
            Ok(mut ev) => {
                logsieve_detect::add_spaceless_keys(&mut ev.event);
                batch.push((ev.position, ev.event));
                if batch.len() >= BATCH {
                    run_batch(&mut batch)?;
                }
            }
            Err(e) => {
                malformed += 1;
                eprintln!(
                    "logsieve: {}: malformed EVTX {e} (skipped)",
                    crate::run::clip(source)
                );
            }
        }
        Ok(())
    })?;
    run_batch(&mut batch)?;
    Ok(malformed)
}

/// Opens an `.evtx` input: a plain file is read as it is decoded; anything
/// else (standard input, a compressed file) is read whole first.
fn open_evtx(
    input: &logsieve_source::Input,
    mut reader: Box<dyn Read + Send>,
) -> Result<logsieve_evtx::EvtxFile> {
    let source = input.display_name();
    Ok(match input.path() {
        Some(p) if starts_as_evtx(p) => logsieve_evtx::EvtxFile::open(p)?,
        _ => {
            let mut bytes = Vec::new();
            reader
                .read_to_end(&mut bytes)
                .with_context(|| format!("reading {}", crate::run::clip(&source)))?;
            logsieve_evtx::EvtxFile::from_bytes(bytes, &source)?
        }
    })
}

/// `parse` and `templates` read text lines: a Windows event log among
/// their inputs is an error that says where it can be read, not binary
/// records mined as text.
pub fn refuse_evtx(inputs: &[logsieve_source::Input]) -> Result<()> {
    for i in inputs {
        if let Some(p) = i.path().filter(|p| p.is_file() && starts_as_evtx(p)) {
            bail!(
                "{} is a Windows event log (.evtx): `logsieve detect` reads it; parse and templates read text lines",
                crate::run::clip(&p.display().to_string())
            );
        }
    }
    Ok(())
}

/// Whether the file itself (not what it decompresses to) is EVTX.
fn starts_as_evtx(p: &std::path::Path) -> bool {
    let mut head = [0u8; 8];
    std::fs::File::open(p)
        .and_then(|mut f| f.read_exact(&mut head))
        .is_ok_and(|()| logsieve_evtx::is_evtx(&head))
}

/// The engine that reads JSON-lines files on several threads: only its
/// threads and batch size matter (no header, no templates).
fn json_engine(args: &InputArgs) -> Result<Engine> {
    let opts = logsieve_engine::Options {
        templates: false,
        multiline: logsieve_framing::Multiline::None,
        ..args.engine_options()?
    };
    let header = logsieve_header::HeaderParser::from_format("<Content>")?;
    Ok(Engine::new(header, logsieve_template::Miner::default(), opts))
}

pub fn run(args: &DetectArgs) -> Result<i32> {
    let text_mode = args.input.format.is_some() || args.input.preset.is_some();
    let (inputs, mut failed) = args.input.inputs_checked()?;
    // Look at every input once, keeping what was read.
    let mut opened: Vec<(Sniffed, crate::run::OpenedInput)> = Vec::new();
    for input in &inputs {
        if text_mode || args.input.follow {
            opened.push((Sniffed::Text, (input.clone(), None)));
            continue;
        }
        match open_sniffed(input) {
            Ok((kind, r)) => opened.push((kind, (input.clone(), Some(r)))),
            Err(e) => {
                crate::run::report_error(&format!("{e:#}"));
                failed += 1;
            }
        }
    }
    if opened.is_empty() {
        bail!("no input could be read (see the errors above)");
    }
    let kinds: Vec<Sniffed> = opened.iter().map(|(k, _)| *k).collect();
    let rule_args = RuleArgs {
        mapping: choose_mapping(
            args.rules.mapping.as_deref(),
            args.input.preset.as_deref(),
            &kinds,
        )?,
        ..args.rules.clone()
    };
    let d = load_detector(&rule_args, args.input.quiet, args.input.engine_options()?.threads)?;
    let out = crate::output::writer_for(&args.input, args.alerts.as_deref())?;
    let sink = DetectionSink::with_format(&d, out, args.output);
    let mut malformed = 0;
    let mut text_inputs = Vec::new();
    let json_engine = json_engine(&args.input)?;
    for (kind, (input, reader)) in opened {
        match (kind, reader) {
            (Sniffed::Json | Sniffed::WindowsJson, Some(r)) => {
                // A file's lines are all there: several threads take
                // batches of them. Standard input streams line by line,
                // alerts visible as soon as the producer pauses.
                let parallel = match &input {
                    Input::File(_) if json_engine.options().threads > 1 => Some(&json_engine),
                    _ => None,
                };
                malformed += detect_json(
                    r,
                    &input.display_name(),
                    args.input.max_line_bytes,
                    parallel,
                    &d,
                    &sink,
                )?;
            }
            (Sniffed::Evtx, Some(r)) => match open_evtx(&input, r) {
                // A file that is not a readable event log fails alone; the
                // other inputs are still read (exit status 2).
                Err(e) => {
                    crate::run::report_error(&format!("{e:#}"));
                    failed += 1;
                }
                Ok(file) => {
                    malformed += detect_evtx(&input.display_name(), file, args.input.threads, &d, &sink)?;
                }
            },
            (_, r) => text_inputs.push((input, r)),
        }
    }
    let mut code = if failed > 0 { 2 } else { 0 };
    if !text_inputs.is_empty() {
        let mut engine = args.input.engine()?;
        // Rules that read no template field get the same alerts without
        // mining; a state to load or save still needs the miner.
        if !d.reads_templates() && args.input.state.is_none() {
            engine.set_templates(false);
        }
        let res = crate::run::process_opened(
            &args.input,
            text_inputs,
            &mut engine,
            None,
            &mut std::io::sink(),
            Some(&sink),
        )?;
        code = code.max(res.code());
        args.input.save_state(&engine)?;
    }
    sink.finish(args.input.quiet, malformed)?;
    let table = match args.summary_table {
        SummaryTable::Always => true,
        SummaryTable::Never => false,
        SummaryTable::Auto => !args.input.quiet && std::io::IsTerminal::is_terminal(&std::io::stderr()),
    };
    if table {
        eprint!("{}", sink.summary_table());
    }
    // The output is closed (renamed into place) when the sink drops; the
    // detector's memory (thousands of rules, matchers and automata: some
    // 80M instructions to free, one by one) goes back with the process.
    drop(sink);
    std::mem::forget(d);
    Ok(code)
}
