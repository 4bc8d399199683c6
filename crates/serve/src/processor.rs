//! The processing thread and the store writer thread.
//!
//! Ingestion tasks send [`Job`]s (lines already framed into a
//! [`LineBatch`] per source) on one channel. The processor owns every
//! source's miner and runs the engine's own per-line path on them
//! ([`Engine::learn_batch`], the CLI's stream path), with detection as an
//! observer; it folds the results into one pending group commit (template
//! counts per minute, examples, variable values, merges, alerts). Every
//! `commit_interval` (or sooner when it is large) it hands that group with
//! the acknowledgements it holds to the writer thread, which commits it in
//! one transaction and only then acknowledges: a 2xx means the lines'
//! counts are in the store.
//!
//! The queue is bounded in lines by a semaphore whose permits travel with
//! the job and are released after the commit, so memory stays bounded
//! whatever the senders do.

use crate::metrics::Metrics;
use crossbeam_channel::{Receiver, RecvTimeoutError, Sender};
use logsieve_detect::{Alert, Correlator, Detector, FlatEvent, Hit};
use logsieve_engine::{BatchScratch, Engine, Observer, Options, OutputFormat, RecordView};
use logsieve_framing::LineBatch;
use logsieve_header::{HeaderParser, Preset};
use logsieve_store::{AlertRecord, CommitBatch, MergeRecord, PartitionAdvance, StoreWriter, TemplateDelta};
use logsieve_template::{Miner, MinerConfig, TemplateId};
use rustc_hash::FxHashMap;
use std::sync::atomic::Ordering;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime};
use tokio::sync::{oneshot, OwnedSemaphorePermit};

/// Distinct values kept per template variable in one pending commit (the
/// store keeps the first 64 ever seen too).
const MAX_VALUES: usize = 64;
/// Example lines kept per template.
const MAX_EXAMPLES: u8 = 5;
/// A pending group commit this large is committed without waiting.
const COMMIT_LINES: u64 = 200_000;
/// How often a changed miner is saved to the store.
const STATE_EVERY: Duration = Duration::from_secs(30);
/// How often the variable values gathered are written: top values need
/// no group-commit durability, and writing them every commit would cost
/// an upsert per distinct value per commit.
const VALUES_EVERY: Duration = Duration::from_secs(5);
/// Distinct values a commit may carry whenever it goes.
const CHEAP_VALUES: usize = 512;

/// How a part's lines are split into header fields and message.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum FormatKey {
    /// The whole line is the message.
    Whole,
    /// A Loghub-style `--format`.
    Format(String),
    /// A `--preset` name.
    Preset(String),
}

impl FormatKey {
    /// The header parser, or what is wrong with the key.
    pub fn parser(&self) -> Result<HeaderParser, String> {
        match self {
            FormatKey::Whole => HeaderParser::from_format("<Content>").map_err(|e| e.to_string()),
            FormatKey::Format(f) => HeaderParser::from_format(f)
                .map_err(|e| format!("invalid format {:?}: {e}", crate::config::clip(f))),
            FormatKey::Preset(p) => {
                let preset: Preset = p.parse().map_err(|_| {
                    format!(
                        "unknown preset {:?}: use syslog, rfc5424, combined, json, logfmt or cef",
                        crate::config::clip(p)
                    )
                })?;
                Ok(HeaderParser::preset(preset, None))
            }
        }
    }
}

/// Lines of one source, framed.
pub struct Part {
    /// The source (stream) the lines belong to.
    pub source: String,
    /// How to read their headers.
    pub format: FormatKey,
    /// The lines, numbered from 1.
    pub batch: LineBatch,
    /// Per entry, the labels or attributes its shipper sent (empty: none).
    pub fields: Vec<Vec<(String, String)>>,
}

impl Part {
    /// A part with no lines yet.
    pub fn new(source: String, format: FormatKey) -> Part {
        let mut batch = LineBatch::new();
        batch.first_line_no = 1;
        Part {
            source,
            format,
            batch,
            fields: Vec::new(),
        }
    }
}

/// Why lines were not acknowledged.
#[derive(Debug, Clone)]
pub enum AckError {
    /// The request itself is wrong (4xx).
    Refused(String),
    /// The service could not keep them (5xx; the sender should retry).
    Unavailable(String),
}

/// Answers an ingestion: the lines committed, or why not.
pub type Ack = oneshot::Sender<Result<u64, AckError>>;

/// What `POST /v1/analyze` gets back.
pub struct Analyzed {
    /// One JSON record per entry (the CLI's JSONL), in order.
    pub records: Vec<u8>,
    /// Per 1-based line, the alerts its rules raised.
    pub alerts: Vec<(u64, Vec<Alert>)>,
}

/// Work for the processor.
pub enum Job {
    /// Lines to learn, count and keep.
    Ingest {
        /// Per source.
        parts: Vec<Part>,
        /// Which protocol brought them (metrics).
        protocol: &'static str,
        /// When they arrived.
        received: Instant,
        /// Queue room they hold until committed.
        permit: Option<OwnedSemaphorePermit>,
        /// Told once they are committed.
        ack: Option<Ack>,
        /// Arrival time stamped by whoever accepted them (a front end that
        /// published them to the broker); `None`: now.
        at_ms: Option<i64>,
        /// Their stream sequence in the partition this processor owns
        /// (scale-out workers only; see [`PartitionCtl`]).
        seq: Option<u64>,
    },
    /// Lines to analyse and answer, not kept.
    Analyze {
        /// The lines.
        part: Part,
        /// The answer.
        reply: oneshot::Sender<Result<Analyzed, AckError>>,
    },
    /// New rules, taking effect from the next batch.
    Rules(Option<Arc<Detector>>),
    /// Commit what is pending and stop.
    Stop,
}

impl Job {
    /// Lines the job holds.
    pub fn lines(parts: &[Part]) -> u64 {
        parts.iter().map(|p| p.batch.lines_covered()).sum()
    }
}

/// Now, in ms since the epoch.
pub fn now_ms() -> i64 {
    SystemTime::now()
        .duration_since(SystemTime::UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as i64)
}

struct SourceState {
    name: String,
    miner: Miner,
    /// Examples sent per template (entries of evicted templates go).
    examples: FxHashMap<u64, u8>,
    dirty: bool,
}

#[derive(Default)]
struct TAcc {
    template: String,
    count: u64,
    example: Option<String>,
    values: FxHashMap<(u32, u64), (String, u64)>,
    per_pos: FxHashMap<u32, usize>,
    /// Occurrences of values past the cap, per position.
    other: FxHashMap<u32, u64>,
}

impl TAcc {
    fn value(&mut self, pos: u32, v: &str) {
        let key = (pos, xxhash_rust::xxh3::xxh3_64(v.as_bytes()));
        if let Some(e) = self.values.get_mut(&key) {
            e.1 += 1;
            return;
        }
        let n = self.per_pos.entry(pos).or_default();
        if *n < MAX_VALUES {
            *n += 1;
            self.values.insert(key, (v.to_string(), 1));
        } else {
            *self.other.entry(pos).or_default() += 1;
        }
    }
}

/// One record's detection hits: (line, hits, raw line, fields, template id).
type Hits = (u64, Vec<Hit>, String, Vec<(String, String)>, Option<String>);

/// What the observer gathers from one batch.
#[derive(Default)]
pub struct Gathered {
    templates: FxHashMap<u64, TAcc>,
    hits: Vec<Hits>,
}

/// The engine observer of the service: counts templates and their values,
/// and runs detection on every record.
struct Gather<'a> {
    detector: Option<&'a Detector>,
    extras: &'a [Vec<(String, String)>],
    aggregate: bool,
    out: Mutex<Option<Gathered>>,
}

thread_local! {
    static DETECT_SCRATCH: std::cell::RefCell<logsieve_detect::Scratch> =
        std::cell::RefCell::new(logsieve_detect::Scratch::default());
}

impl Observer for Gather<'_> {
    type Batch = Gathered;

    fn observe(&self, rec: &RecordView<'_>, g: &mut Gathered) {
        let extra = self
            .extras
            .get((rec.line as usize).wrapping_sub(1))
            .map(|v| v.as_slice())
            .unwrap_or_default();
        if self.aggregate {
            if let (Some(hex), Some(text)) = (rec.template_id, rec.template) {
                let id = u64::from_str_radix(hex, 16).unwrap_or_default();
                let acc = g.templates.entry(id).or_insert_with(|| TAcc {
                    template: text.to_string(),
                    example: Some(rec.raw.to_string()),
                    ..TAcc::default()
                });
                acc.count += 1;
                for (i, p) in rec.params.iter().enumerate() {
                    acc.value(i as u32, p);
                }
            }
        }
        if let Some(d) = self.detector {
            let ev = FlatEvent::of_record(
                &rec.fields,
                extra.iter().map(|(k, v)| (k.as_str(), v.as_str())),
                rec.content,
                rec.raw,
                rec.template,
                rec.template_id,
                &rec.params,
            );
            let hits = DETECT_SCRATCH.with(|s| d.evaluate(&ev, rec.line, rec.source, &mut s.borrow_mut()));
            if !hits.is_empty() {
                let mut fields: Vec<(String, String)> = rec
                    .fields
                    .iter()
                    .map(|(k, v)| (k.to_string(), v.to_string()))
                    .collect();
                fields.extend(extra.iter().cloned());
                g.hits.push((
                    rec.line,
                    hits,
                    rec.raw.to_string(),
                    fields,
                    rec.template_id.map(str::to_string),
                ));
            }
        }
    }

    fn collect(&self, g: Gathered) -> std::io::Result<()> {
        *self.out.lock().unwrap_or_else(|e| e.into_inner()) = Some(g);
        Ok(())
    }
}

#[derive(Default)]
struct Delta {
    template: String,
    count: u64,
    first_ms: i64,
    last_ms: i64,
    examples: Vec<String>,
    buckets: Vec<(i64, u64)>,
    values: FxHashMap<(u32, u64), (String, u64)>,
    other: FxHashMap<u32, u64>,
}

/// Variable values of one template gathered since they were last written.
struct ValAcc {
    template: String,
    last_ms: i64,
    values: FxHashMap<(u32, u64), (String, u64)>,
    per_pos: FxHashMap<u32, usize>,
    other: FxHashMap<u32, u64>,
}

struct PendingAck {
    ack: Option<Ack>,
    permit: Option<OwnedSemaphorePermit>,
    received: Instant,
    lines: u64,
}

#[derive(Default)]
struct Pending {
    templates: FxHashMap<(u32, u64), Delta>,
    merges: Vec<MergeRecord>,
    alerts: Vec<AlertRecord>,
    states: Vec<(String, Vec<u8>)>,
    acks: Vec<PendingAck>,
    lines: u64,
    since: Option<Instant>,
}

/// A group commit for the writer.
pub struct Commit {
    batch: CommitBatch,
    acks: Vec<PendingAck>,
    lines: u64,
}

/// The stream partition a scale-out worker's processor owns. Its commits
/// carry a [`PartitionAdvance`] (the store's compare-and-set on the applied
/// sequence, fenced by `epoch`), and every `checkpoint_every` the complete
/// miner states of the partition's sources with the sequence they cover.
///
/// Jobs with `seq <= applied_seq` are the replay of what the previous owner
/// already committed: they are learned (to rebuild the miners exactly) and
/// their effects are dropped. Jobs with `seq <= ` the last sequence fed are
/// redeliveries: acknowledged, not learned again.
#[derive(Debug, Clone)]
pub struct PartitionCtl {
    /// Partition number.
    pub partition: u32,
    /// Fencing token of the owner (its lease revision).
    pub epoch: u64,
    /// Last sequence whose effects are in the store.
    pub applied_seq: u64,
    /// Last sequence the loaded miner states cover.
    pub checkpoint_seq: u64,
    /// How often the complete miner states are checkpointed.
    pub checkpoint_every: Duration,
}

/// Progress of the owned partition.
struct PartitionRun {
    ctl: PartitionCtl,
    /// Highest sequence learned.
    fed: u64,
    /// `to_seq` of the last commit handed to the writer.
    sent: u64,
    /// A checkpoint goes with the next commit.
    checkpoint_due: bool,
    last_checkpoint: Instant,
}

impl PartitionRun {
    /// Everything learned so far is already in the store (its effects are
    /// to be dropped).
    fn all_replayed(&self) -> bool {
        self.fed <= self.ctl.applied_seq
    }

    /// The miners are at or past what the store holds, so their states
    /// can be a checkpoint at `fed`.
    fn can_checkpoint(&self) -> bool {
        self.fed >= self.ctl.applied_seq
    }
}

impl Commit {
    /// An empty commit whose acknowledgement says that every commit sent
    /// before it on the same channel is done (the writer commits in order).
    pub fn barrier(ack: Ack) -> Commit {
        Commit {
            batch: CommitBatch::default(),
            acks: vec![PendingAck {
                ack: Some(ack),
                permit: None,
                received: Instant::now(),
                lines: 0,
            }],
            lines: 0,
        }
    }
}

/// Settings the processor needs.
pub struct ProcessorConfig {
    /// Templates kept per source.
    pub max_templates: usize,
    /// Sources kept.
    pub max_sources: usize,
    /// Longest line.
    pub max_line_bytes: usize,
    /// Longest wait before a commit.
    pub commit_interval: Duration,
    /// The partition owned, for a scale-out worker; `None` for `serve`.
    pub partition: Option<PartitionCtl>,
}

/// Owns the miners; see the module documentation.
pub struct Processor {
    cfg: ProcessorConfig,
    engines: FxHashMap<FormatKey, (Engine, BatchScratch)>,
    sources: Vec<SourceState>,
    by_name: FxHashMap<String, u32>,
    detector: Option<Arc<Detector>>,
    correlator: Option<Correlator>,
    pending: Pending,
    metrics: Arc<Metrics>,
    last_state: Instant,
    buf: Vec<u8>,
    /// Live templates over every source.
    live_total: u64,
    values: FxHashMap<(u32, u64), ValAcc>,
    /// Distinct values in `values`.
    value_entries: usize,
    last_values: Instant,
    part: Option<PartitionRun>,
}

impl Processor {
    /// A processor with the miners saved in the store.
    pub fn new(
        mut cfg: ProcessorConfig,
        states: Vec<(String, Vec<u8>)>,
        detector: Option<Arc<Detector>>,
        metrics: Arc<Metrics>,
    ) -> Processor {
        let part = cfg.partition.take().map(|ctl| PartitionRun {
            fed: ctl.checkpoint_seq,
            sent: ctl.applied_seq,
            checkpoint_due: false,
            last_checkpoint: Instant::now(),
            ctl,
        });
        let mut p = Processor {
            part,
            cfg,
            engines: FxHashMap::default(),
            sources: Vec::new(),
            by_name: FxHashMap::default(),
            correlator: detector.as_deref().map(Correlator::new),
            detector,
            pending: Pending::default(),
            metrics,
            last_state: Instant::now(),
            buf: Vec::new(),
            live_total: 0,
            values: FxHashMap::default(),
            value_entries: 0,
            last_values: Instant::now(),
        };
        for (name, bytes) in states {
            match Miner::load(&bytes[..]) {
                Ok(miner) => {
                    p.live_total += miner.live_count() as u64;
                    p.add_source(name, miner);
                }
                Err(e) => {
                    tracing::warn!(source = %name, error = %e, "saved templates of a source could not be read; it starts afresh")
                }
            }
        }
        p.metrics.sources.store(p.sources.len() as u64, Ordering::Relaxed);
        p
    }

    fn add_source(&mut self, name: String, miner: Miner) -> u32 {
        let idx = self.sources.len() as u32;
        self.by_name.insert(name.clone(), idx);
        self.sources.push(SourceState {
            name,
            miner,
            examples: FxHashMap::default(),
            dirty: false,
        });
        self.metrics
            .sources
            .store(self.sources.len() as u64, Ordering::Relaxed);
        idx
    }

    /// The source's index, created if new and there is room.
    fn source(&mut self, name: &str) -> Result<u32, AckError> {
        if let Some(&i) = self.by_name.get(name) {
            return Ok(i);
        }
        // A worker takes every source: the front end answered 2xx before
        // the lines reached it, so a refusal here could only drop them.
        if self.part.is_none() && self.sources.len() >= self.cfg.max_sources {
            return Err(AckError::Refused(format!(
                "source limit reached ({} sources, --max-sources): new source {:?} refused",
                self.cfg.max_sources,
                crate::config::clip(name)
            )));
        }
        Ok(self.add_source(name.to_string(), Miner::new(MinerConfig::default())))
    }

    fn engine(&mut self, key: &FormatKey) -> Result<(), AckError> {
        if self.engines.contains_key(key) {
            return Ok(());
        }
        let header = key.parser().map_err(AckError::Refused)?;
        let opts = Options {
            threads: 1,
            max_line_bytes: self.cfg.max_line_bytes,
            ..Options::default()
        };
        let engine =
            Engine::new(header, Miner::default(), opts).map_err(|e| AckError::Unavailable(e.to_string()))?;
        let scratch = engine.batch_scratch();
        self.engines.insert(key.clone(), (engine, scratch));
        Ok(())
    }

    /// Runs until [`Job::Stop`] or until every sender is gone, handing
    /// group commits to `writer`.
    pub fn run(mut self, jobs: Receiver<Job>, writer: Sender<Commit>) {
        let mut writer_busy = false;
        loop {
            let wait = match self.pending.since {
                // A commit is due but the writer is still on the last one:
                // look again soon, gathering what arrives meanwhile.
                Some(_) if writer_busy => Duration::from_millis(2),
                Some(t) => self.cfg.commit_interval.saturating_sub(t.elapsed()),
                None => Duration::from_millis(500),
            };
            let stop = match jobs.recv_timeout(wait) {
                Ok(Job::Stop) | Err(RecvTimeoutError::Disconnected) => true,
                Ok(job) => {
                    self.handle(job);
                    false
                }
                Err(RecvTimeoutError::Timeout) => false,
            };
            match &self.part {
                None if self.last_state.elapsed() >= STATE_EVERY => self.save_states(false),
                Some(r) if r.last_checkpoint.elapsed() >= r.ctl.checkpoint_every && r.can_checkpoint() => {
                    self.checkpoint()
                }
                _ => {}
            }
            let due = self
                .pending
                .since
                .is_some_and(|t| t.elapsed() >= self.cfg.commit_interval)
                || self.pending.lines >= COMMIT_LINES;
            if stop {
                // What was queued before the stop is still processed.
                while let Ok(job) = jobs.try_recv() {
                    if !matches!(job, Job::Stop) {
                        self.handle(job);
                    }
                }
                match &self.part {
                    None => self.save_states(true),
                    Some(r) if r.can_checkpoint() => self.checkpoint(),
                    Some(_) => {}
                }
                let _ = writer.send(self.take_commit(true));
                return;
            }
            // Group commit: while the writer commits one group, the next
            // one grows (the channel holds one waiting group at most).
            writer_busy = due && !writer.is_empty();
            if due && !writer_busy {
                // Few values are cheap to write at once; many wait for
                // the next VALUES_EVERY.
                let values = self.value_entries <= CHEAP_VALUES || self.last_values.elapsed() >= VALUES_EVERY;
                if writer.send(self.take_commit(values)).is_err() {
                    tracing::error!("the store writer is gone; stopping");
                    return;
                }
            }
        }
    }

    fn handle(&mut self, job: Job) {
        match job {
            Job::Ingest {
                parts,
                protocol,
                received,
                permit,
                ack,
                at_ms,
                seq,
            } => {
                let lines = Job::lines(&parts);
                if let (Some(run), Some(seq)) = (&mut self.part, seq) {
                    if seq <= run.fed {
                        // A redelivery of what was learned already: its
                        // effects are committed or pending.
                        if let Some(a) = ack {
                            let _ = a.send(Ok(0));
                        }
                        return;
                    }
                    let first_new = run.all_replayed() && seq > run.ctl.applied_seq;
                    run.fed = seq;
                    if first_new {
                        // What was learned before is in the store already.
                        self.discard_effects();
                    }
                }
                match self.ingest(parts, protocol, at_ms) {
                    Ok(()) => {
                        self.pending.lines += lines;
                        self.pending.since.get_or_insert(received);
                        self.pending.acks.push(PendingAck {
                            ack,
                            permit,
                            received,
                            lines,
                        });
                    }
                    Err(e) => {
                        if let Some(a) = ack {
                            let _ = a.send(Err(e));
                        }
                    }
                }
            }
            Job::Analyze { part, reply } => {
                let _ = reply.send(self.analyze(part));
            }
            Job::Rules(d) => {
                self.correlator = d.as_deref().map(Correlator::new);
                self.detector = d;
            }
            Job::Stop => {}
        }
    }

    /// Drops what learning produced for the store (the replayed part of a
    /// partition); acknowledgements stay.
    fn discard_effects(&mut self) {
        let p = &mut self.pending;
        p.templates.clear();
        p.merges.clear();
        p.alerts.clear();
        p.states.clear();
        // Variable values stay: a worker writes them only with a
        // checkpoint, so those of every message after the checkpoint the
        // replay started from were never written.
    }

    /// Asks for a checkpoint with the next commit. The states are taken
    /// in [`Processor::take_commit`], at the sequence that commit ends at:
    /// taken any earlier, jobs handled in between would be in the commit's
    /// sequence but not in its states.
    fn checkpoint(&mut self) {
        if let Some(run) = &mut self.part {
            run.checkpoint_due = true;
            run.last_checkpoint = Instant::now();
        }
        self.pending.since.get_or_insert_with(Instant::now);
    }

    /// The complete miner states of every source, or `None` when one
    /// could not be saved (an incomplete checkpoint would lose a source on
    /// takeover).
    fn all_states(&mut self) -> Option<Vec<(String, Vec<u8>)>> {
        let mut all = Vec::with_capacity(self.sources.len());
        for s in &mut self.sources {
            let mut bytes = Vec::new();
            match s.miner.save(&mut bytes) {
                Ok(()) => all.push((s.name.clone(), bytes)),
                Err(e) => {
                    // An incomplete checkpoint would lose the source on
                    // takeover: take none this time.
                    tracing::warn!(source = %s.name, error = %e, "saving templates failed; checkpoint skipped");
                    return None;
                }
            }
            s.dirty = false;
        }
        Some(all)
    }

    fn ingest(
        &mut self,
        parts: Vec<Part>,
        protocol: &'static str,
        at_ms: Option<i64>,
    ) -> Result<(), AckError> {
        // Refuse the whole job before learning any of it.
        let mut idx = Vec::with_capacity(parts.len());
        for p in &parts {
            idx.push(self.source(&p.source)?);
            self.engine(&p.format)?;
        }
        let at = at_ms.unwrap_or_else(now_ms);
        for (p, i) in parts.iter().zip(idx) {
            self.metrics
                .received(&p.source, protocol, p.batch.lines_covered());
            self.learn(p, i, at)?;
        }
        Ok(())
    }

    fn learn(&mut self, p: &Part, i: u32, at: i64) -> Result<(), AckError> {
        let gather = Gather {
            detector: self.detector.as_deref(),
            extras: &p.fields,
            aggregate: true,
            out: Mutex::new(None),
        };
        let src = &mut self.sources[i as usize];
        let live_before = src.miner.live_count() as u64;
        let (engine, scratch) = self
            .engines
            .get_mut(&p.format)
            .ok_or_else(|| AckError::Unavailable("engine missing".into()))?;
        self.buf.clear();
        let stats = engine
            .learn_batch(
                &mut src.miner,
                &p.batch,
                &src.name,
                Some(&gather),
                None,
                scratch,
                &mut self.buf,
            )
            .map_err(|e| AckError::Unavailable(e.to_string()))?;
        src.dirty = true;
        self.metrics
            .flagged_lines
            .fetch_add(stats.flagged, Ordering::Relaxed);
        let g = gather
            .out
            .into_inner()
            .unwrap_or_else(|e| e.into_inner())
            .unwrap_or_default();
        let minute = at.div_euclid(60_000);
        for (id, acc) in g.templates {
            let sent = src.examples.entry(id).or_default();
            let d = self.pending.templates.entry((i, id)).or_insert_with(|| Delta {
                template: acc.template,
                first_ms: at,
                ..Delta::default()
            });
            d.count += acc.count;
            d.last_ms = at;
            match d.buckets.last_mut() {
                Some((m, c)) if *m == minute => *c += acc.count,
                _ => d.buckets.push((minute, acc.count)),
            }
            if *sent < MAX_EXAMPLES {
                if let Some(e) = acc.example {
                    *sent += 1;
                    d.examples.push(e);
                }
            }
            if !acc.values.is_empty() || !acc.other.is_empty() {
                let va = self.values.entry((i, id)).or_insert_with(|| ValAcc {
                    template: d.template.clone(),
                    last_ms: at,
                    values: FxHashMap::default(),
                    per_pos: FxHashMap::default(),
                    other: FxHashMap::default(),
                });
                va.last_ms = at;
                for (pos, n) in acc.other {
                    *va.other.entry(pos).or_default() += n;
                }
                for (k, (v, n)) in acc.values {
                    if let Some(e) = va.values.get_mut(&k) {
                        e.1 += n;
                    } else {
                        let kept = va.per_pos.entry(k.0).or_default();
                        if *kept < MAX_VALUES {
                            *kept += 1;
                            va.values.insert(k, (v, n));
                            self.value_entries += 1;
                        } else {
                            *va.other.entry(k.0).or_default() += n;
                        }
                    }
                }
            }
        }
        for (line, hits, raw, fields, template_id) in g.hits {
            let mut alerts: Vec<Alert> = Vec::new();
            for h in &hits {
                if let Some(a) = &h.alert {
                    alerts.push(a.clone());
                }
                if let (Some(c), Some(d)) = (&mut self.correlator, self.detector.as_deref()) {
                    alerts.extend(c.feed(d, h, line, &src.name));
                }
            }
            for a in alerts {
                self.metrics.alert(&a.level);
                self.pending.alerts.push(AlertRecord {
                    at_ms: at,
                    source: src.name.clone(),
                    rule_id: a.rule_id.clone(),
                    title: a.title.clone(),
                    level: a.level.clone(),
                    line: raw.clone(),
                    template_id: template_id.clone(),
                    fields: serde_json::Value::Object(
                        fields
                            .iter()
                            .map(|(k, v)| (k.clone(), serde_json::Value::String(v.clone())))
                            .collect(),
                    ),
                    alert: serde_json::to_value(&a).unwrap_or_default(),
                });
            }
        }
        // Merges and the per-source cap.
        for m in src.miner.take_merges() {
            self.pending.merges.push(MergeRecord {
                source: src.name.clone(),
                from_id: hex(m.from),
                to_id: hex(m.into),
                at_ms: at,
            });
        }
        self.cap(i, live_before);
        Ok(())
    }

    /// Holds source `i` to the template cap and keeps the live gauge
    /// (`live_before`: its live templates before the batch).
    fn cap(&mut self, i: u32, live_before: u64) {
        let src = &mut self.sources[i as usize];
        if src.miner.live_count() > self.cfg.max_templates {
            // Evicting costs a pass over the miner: make room for an
            // eighth more at once, so a source that keeps making new
            // templates pays it once per max/8 new templates.
            let keep = (self.cfg.max_templates - self.cfg.max_templates / 8).max(1);
            let gone = src.miner.evict_to(keep);
            self.metrics
                .templates_evicted
                .fetch_add(gone.len() as u64, Ordering::Relaxed);
            for e in gone.iter().filter(|e| !e.still_live) {
                src.examples.remove(&e.template_id.0);
            }
        }
        let live_after = src.miner.live_count() as u64;
        self.live_total = (self.live_total + live_after).saturating_sub(live_before);
        self.metrics
            .templates_live
            .store(self.live_total, Ordering::Relaxed);
    }

    /// Analyses a part: with the source's live miner when the source
    /// exists (ids match the store's), else with a fresh miner that is
    /// dropped afterwards (analysis creates no source).
    fn analyze(&mut self, part: Part) -> Result<Analyzed, AckError> {
        self.engine(&part.format)?;
        let gather = Gather {
            detector: self.detector.as_deref(),
            extras: &part.fields,
            aggregate: false,
            out: Mutex::new(None),
        };
        let known = self.by_name.get(&part.source).copied();
        let mut scratch_miner = None;
        let miner = match known {
            Some(i) => &mut self.sources[i as usize].miner,
            None => scratch_miner.insert(Miner::new(MinerConfig::default())),
        };
        let (engine, scratch) = self
            .engines
            .get_mut(&part.format)
            .ok_or_else(|| AckError::Unavailable("engine missing".into()))?;
        let mut records = Vec::with_capacity(part.batch.data_len() * 3);
        let live_before = miner.live_count() as u64;
        engine
            .analyze_batch(
                miner,
                &part.batch,
                &part.source,
                Some(&gather),
                Some(OutputFormat::Jsonl),
                scratch,
                &mut records,
            )
            .map_err(|e| AckError::Unavailable(e.to_string()))?;
        let g = gather
            .out
            .into_inner()
            .unwrap_or_else(|e| e.into_inner())
            .unwrap_or_default();
        let alerts = g
            .hits
            .into_iter()
            .map(|(line, hits, ..)| (line, hits.into_iter().filter_map(|h| h.alert).collect()))
            .collect();
        if let Some(i) = known {
            // Analysis learns too: keep the cap and the gauge.
            self.sources[i as usize].dirty = true;
            self.cap(i, live_before);
        }
        Ok(Analyzed { records, alerts })
    }

    fn save_states(&mut self, all: bool) {
        self.last_state = Instant::now();
        for s in &mut self.sources {
            if s.dirty || all {
                let mut bytes = Vec::new();
                match s.miner.save(&mut bytes) {
                    Ok(()) => self.pending.states.push((s.name.clone(), bytes)),
                    Err(e) => tracing::warn!(source = %s.name, error = %e, "saving templates failed"),
                }
                s.dirty = false;
            }
        }
        self.pending.since.get_or_insert_with(Instant::now);
    }

    fn take_commit(&mut self, with_values: bool) -> Commit {
        if self.part.as_ref().is_some_and(|r| r.all_replayed()) {
            self.discard_effects();
        }
        // The states, taken now: they cover exactly `fed`, the sequence
        // this commit ends at.
        let states = match &self.part {
            Some(run) if run.checkpoint_due && run.can_checkpoint() => self.all_states(),
            _ => None,
        };
        let partitions = match &mut self.part {
            Some(run) if run.fed > run.sent || states.is_some() => {
                // A checkpoint is taken only once replay is over, so at
                // `fed >= applied`; effects before that were dropped.
                let to_seq = run.fed.max(run.sent);
                if states.is_some() {
                    run.checkpoint_due = false;
                }
                let adv = PartitionAdvance {
                    partition: run.ctl.partition,
                    epoch: run.ctl.epoch,
                    from_seq: run.sent,
                    to_seq,
                    checkpoint: states,
                };
                run.sent = to_seq;
                vec![adv]
            }
            _ => Vec::new(),
        };
        // A worker writes values only with a checkpoint (see
        // `discard_effects`): then exactly the values of the messages after
        // the previous checkpoint are in the store with it.
        let with_values = match &partitions[..] {
            [] if self.part.is_some() => false,
            [adv] => adv.checkpoint.is_some(),
            _ => with_values,
        };
        let mut p = std::mem::take(&mut self.pending);
        if with_values {
            self.last_values = Instant::now();
            self.value_entries = 0;
            for (key, va) in self.values.drain() {
                let d = p.templates.entry(key).or_insert_with(|| Delta {
                    template: va.template,
                    first_ms: va.last_ms,
                    last_ms: va.last_ms,
                    ..Delta::default()
                });
                d.values = va.values;
                d.other = va.other;
            }
        }
        let templates = p
            .templates
            .into_iter()
            .map(|((i, id), d)| TemplateDelta {
                source: self.sources[i as usize].name.clone(),
                template_id: hex(TemplateId(id)),
                template: d.template,
                count: d.count,
                first_seen_ms: d.first_ms,
                last_seen_ms: d.last_ms,
                examples: d.examples,
                buckets: d.buckets,
                values: d
                    .values
                    .into_iter()
                    .map(|((pos, _), (v, n))| (pos, v, n))
                    .collect(),
                other: d.other.into_iter().collect(),
            })
            .collect();
        Commit {
            batch: CommitBatch {
                templates,
                merges: p.merges,
                alerts: p.alerts,
                states: p.states,
                partitions,
            },
            acks: p.acks,
            lines: p.lines,
        }
    }
}

/// 16 hex digits.
pub fn hex(id: TemplateId) -> String {
    String::from_utf8_lossy(&id.hex()).into_owned()
}

/// The writer thread: commits each group and then acknowledges it.
pub fn write_loop(
    commits: Receiver<Commit>,
    mut store: Box<dyn StoreWriter>,
    metrics: Arc<Metrics>,
    retention: Option<Duration>,
) {
    let mut last_retention: Option<Instant> = None;
    for c in commits {
        let result = if c.batch.is_empty() {
            Ok(())
        } else {
            let t = Instant::now();
            let r = store.commit(&c.batch).map(|_| ());
            metrics.commit_seconds.observe_duration(t.elapsed());
            metrics.commit_lines.observe(c.lines as f64);
            r
        };
        match result {
            Ok(()) => {
                metrics.committed_lines.fetch_add(c.lines, Ordering::Relaxed);
                for a in c.acks {
                    metrics
                        .ingest_to_commit_seconds
                        .observe_duration(a.received.elapsed());
                    metrics.queue_lines.fetch_sub(a.lines, Ordering::Relaxed);
                    if let Some(ack) = a.ack {
                        let _ = ack.send(Ok(a.lines));
                    }
                    drop(a.permit);
                }
            }
            Err(e) => {
                metrics.commit_errors.fetch_add(1, Ordering::Relaxed);
                tracing::error!(error = %e, lines = c.lines, "group commit failed; its requests get 503");
                for a in c.acks {
                    metrics.queue_lines.fetch_sub(a.lines, Ordering::Relaxed);
                    if let Some(ack) = a.ack {
                        let _ = ack.send(Err(AckError::Unavailable(format!("store: {e}"))));
                    }
                }
            }
        }
        if let Some(keep) = retention {
            // Often enough for a short retention, at most every 10 minutes.
            let every = (keep / 4).clamp(Duration::from_secs(1), Duration::from_secs(600));
            if last_retention.is_none_or(|t| t.elapsed() >= every) {
                last_retention = Some(Instant::now());
                let cutoff = now_ms() - keep.as_millis() as i64;
                if let Err(e) = store.retain(cutoff) {
                    tracing::warn!(error = %e, "retention failed");
                }
            }
        }
    }
}
