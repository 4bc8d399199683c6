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
use logsieve_store::{
    AlertRecord, CommitBatch, MergeRecord, PartitionAdvance, RetainInfo, StoreWriter, TemplateDelta,
};
use logsieve_template::{Miner, MinerConfig, TemplateId};
use rustc_hash::FxHashMap;
use std::collections::VecDeque;
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
/// How long a template's variable values are gathered before they are
/// written: top values need no group-commit durability, and writing them
/// every commit would cost an upsert per distinct value per commit.
const VALUES_EVERY: Duration = Duration::from_secs(5);
/// Distinct values a commit may carry whenever it goes.
const CHEAP_VALUES: usize = 512;
/// Distinct values one commit carries at most (whole templates, oldest
/// first; at least one template): the values gathered are written a slice
/// per commit, so no commit writes all of them at once.
const VALUES_PER_COMMIT: usize = 4096;

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
    dirty: bool,
    /// Bytes of its last saved state: the next save's buffer is sized
    /// from it, so a save allocates once instead of doubling its way up.
    state_len: usize,
}

/// A template of a source: (source index, template id).
type TKey = (u32, u64);

/// The processor's accumulators: what the pending group commit adds per
/// template, and the variable values gathered since they were last
/// written. They are lent to the observer for one batch at a time (see
/// [`Gather`]) and given back after it, so counting a line allocates
/// nothing: a line of a template already pending bumps counters, and a
/// variable value is copied only when its position keeps it (at most
/// [`MAX_VALUES`] a position until the values are written).
#[derive(Default)]
struct Acc {
    /// The source of the batch being observed.
    src: u32,
    /// Its arrival time (ms) and minute bucket.
    at: i64,
    minute: i64,
    /// Numbers the batches, so a template offers one example a batch.
    batch: u64,
    /// The pending commit, per template.
    templates: FxHashMap<TKey, Delta>,
    /// Examples sent per template (entries of evicted templates go).
    sent: FxHashMap<TKey, u8>,
    /// Variable values gathered per template since they were written.
    values: FxHashMap<TKey, ValAcc>,
    /// The keys of `values` in the order they were created (oldest first).
    order: VecDeque<(TKey, Instant)>,
    /// Distinct values in `values`.
    value_entries: usize,
}

impl Acc {
    /// Counts one line of template `id` (text `text`) with its variable
    /// values `params`.
    fn line(&mut self, id: u64, text: &str, raw: &str, params: &[&str]) {
        let key = (self.src, id);
        let (at, minute, batch) = (self.at, self.minute, self.batch);
        let d = self.templates.entry(key).or_insert_with(|| Delta {
            template: text.to_string(),
            first_ms: at,
            ..Delta::default()
        });
        d.count += 1;
        d.last_ms = at;
        match d.buckets.last_mut() {
            Some((m, c)) if *m == minute => *c += 1,
            _ => d.buckets.push((minute, 1)),
        }
        if d.batch != batch {
            // The template's first line in this batch is its example
            // candidate, while fewer than MAX_EXAMPLES were sent.
            d.batch = batch;
            let sent = self.sent.entry(key).or_default();
            if *sent < MAX_EXAMPLES {
                *sent += 1;
                d.examples.push(raw.to_string());
            }
        }
        if params.is_empty() {
            return;
        }
        let order = &mut self.order;
        let va = self.values.entry(key).or_insert_with(|| {
            order.push_back((key, Instant::now()));
            ValAcc {
                template: text.to_string(),
                last_ms: at,
                values: FxHashMap::default(),
                kept: Vec::new(),
                other: Vec::new(),
            }
        });
        va.last_ms = at;
        if va.kept.len() < params.len() {
            va.kept.resize(params.len(), 0);
            va.other.resize(params.len(), 0);
        }
        for (pos, v) in params.iter().enumerate() {
            let k = (pos as u32, xxhash_rust::xxh3::xxh3_64(v.as_bytes()));
            if let Some(e) = va.values.get_mut(&k) {
                e.1 += 1;
            } else if (va.kept[pos] as usize) < MAX_VALUES {
                va.kept[pos] += 1;
                va.values.insert(k, (v.to_string(), 1));
                self.value_entries += 1;
            } else {
                va.other[pos] += 1;
            }
        }
    }

    /// Moves the values of the templates whose turn it is into their
    /// deltas of the pending commit (creating deltas with no count where
    /// needed).
    fn take_values(&mut self, which: ValuesDue) {
        let cheap = self.value_entries <= CHEAP_VALUES;
        let mut budget = VALUES_PER_COMMIT;
        let mut taken = 0usize;
        while let Some(&(key, born)) = self.order.front() {
            let n = self.values.get(&key).map_or(0, |va| va.values.len());
            let go = match which {
                ValuesDue::None => false,
                ValuesDue::All => true,
                // Oldest first: once one is too young or the budget is
                // spent (after at least one), the rest wait.
                ValuesDue::Due => (cheap || born.elapsed() >= VALUES_EVERY) && (taken == 0 || n <= budget),
            };
            if !go {
                break;
            }
            self.order.pop_front();
            taken += 1;
            budget = budget.saturating_sub(n);
            let Some(va) = self.values.remove(&key) else {
                continue;
            };
            self.value_entries -= va.values.len();
            let d = self.templates.entry(key).or_insert_with(|| Delta {
                template: va.template,
                first_ms: va.last_ms,
                last_ms: va.last_ms,
                ..Delta::default()
            });
            d.values = va
                .values
                .into_iter()
                .map(|((pos, _), (v, n))| (pos, v, n))
                .collect();
            d.other = va
                .other
                .iter()
                .enumerate()
                .filter(|&(_, &n)| n > 0)
                .map(|(pos, &n)| (pos as u32, n))
                .collect();
        }
    }
}

/// Which gathered variable values go with a commit.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum ValuesDue {
    /// None (a worker between checkpoints).
    None,
    /// Those gathered for [`VALUES_EVERY`] (all when few), at most
    /// [`VALUES_PER_COMMIT`].
    Due,
    /// All (shutdown, checkpoints).
    All,
}

/// One record's detection hits: (line, hits, raw line, fields, template id).
type Hits = (u64, Vec<Hit>, String, Vec<(String, String)>, Option<String>);

/// What the observer gathers from one batch.
#[derive(Default)]
pub struct Gathered {
    /// The processor's accumulators, taken from [`Gather::lend`] at the
    /// batch's first counted line.
    acc: Option<Box<Acc>>,
    hits: Vec<Hits>,
}

/// The engine observer of the service: counts templates and their values,
/// and runs detection on every record.
struct Gather<'a> {
    detector: Option<&'a Detector>,
    extras: &'a [Vec<(String, String)>],
    aggregate: bool,
    /// The accumulators lent for this batch (one lock a batch).
    lend: Mutex<Option<Box<Acc>>>,
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
                let acc = g.acc.get_or_insert_with(|| {
                    self.lend
                        .lock()
                        .unwrap_or_else(|e| e.into_inner())
                        .take()
                        .unwrap_or_default()
                });
                acc.line(id, text, rec.raw, &rec.params);
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

/// What the pending commit adds for one template.
#[derive(Default)]
struct Delta {
    template: String,
    count: u64,
    first_ms: i64,
    last_ms: i64,
    examples: Vec<String>,
    buckets: Vec<(i64, u64)>,
    /// The last batch ([`Acc::batch`]) that counted a line of it.
    batch: u64,
    values: Vec<(u32, String, u64)>,
    other: Vec<(u32, u64)>,
}

/// Variable values of one template gathered since they were last written.
struct ValAcc {
    template: String,
    last_ms: i64,
    /// (position, hash of the value) -> (value, occurrences).
    values: FxHashMap<(u32, u64), (String, u64)>,
    /// Per position: distinct values kept, occurrences of the others.
    kept: Vec<u32>,
    other: Vec<u64>,
}

struct PendingAck {
    ack: Option<Ack>,
    permit: Option<OwnedSemaphorePermit>,
    received: Instant,
    lines: u64,
}

#[derive(Default)]
struct Pending {
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
    /// The accumulators (`None` only while lent to an observer).
    acc: Option<Box<Acc>>,
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
            acc: Some(Box::default()),
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
            dirty: false,
            state_len: 0,
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
        let engine = Engine::new(header, Miner::default(), opts);
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
                let _ = writer.send(self.take_commit(ValuesDue::All));
                return;
            }
            // Group commit: while the writer commits one group, the next
            // one grows (the channel holds one waiting group at most).
            writer_busy = due && !writer.is_empty();
            if due && !writer_busy && writer.send(self.take_commit(ValuesDue::Due)).is_err() {
                tracing::error!("the store writer is gone; stopping");
                return;
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
        if let Some(acc) = &mut self.acc {
            acc.templates.clear();
        }
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
            let mut bytes = Vec::with_capacity(state_room(s.state_len));
            match s.miner.save(&mut bytes) {
                Ok(()) => {
                    s.state_len = bytes.len();
                    all.push((s.name.clone(), bytes))
                }
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
        let src = &mut self.sources[i as usize];
        let live_before = src.miner.live_count() as u64;
        let (engine, scratch) = self
            .engines
            .get_mut(&p.format)
            .ok_or_else(|| AckError::Unavailable("engine missing".into()))?;
        let mut acc = self.acc.take().unwrap_or_default();
        acc.src = i;
        acc.at = at;
        acc.minute = at.div_euclid(60_000);
        acc.batch += 1;
        let gather = Gather {
            detector: self.detector.as_deref(),
            extras: &p.fields,
            aggregate: true,
            lend: Mutex::new(Some(acc)),
            out: Mutex::new(None),
        };
        self.buf.clear();
        let learned = engine.learn_batch(
            &mut src.miner,
            &p.batch,
            &src.name,
            Some(&gather),
            None,
            scratch,
            &mut self.buf,
        );
        let mut g = gather
            .out
            .into_inner()
            .unwrap_or_else(|e| e.into_inner())
            .unwrap_or_default();
        // The accumulators come back: from the observer when a line took
        // them, else from where they were lent. (The engine fails a batch
        // only when `collect` fails, and `Gather`'s never does: the
        // accumulators cannot be lost with the batch.)
        self.acc = g
            .acc
            .take()
            .or_else(|| gather.lend.into_inner().unwrap_or_else(|e| e.into_inner()));
        let stats = learned.map_err(|e| AckError::Unavailable(e.to_string()))?;
        src.dirty = true;
        self.metrics
            .flagged_lines
            .fetch_add(stats.flagged, Ordering::Relaxed);
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
                    rule_id: a.rule_id.to_string(),
                    title: a.title.to_string(),
                    level: a.level.to_string(),
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
            if let Some(acc) = &mut self.acc {
                for e in gone.iter().filter(|e| !e.still_live) {
                    acc.sent.remove(&(i, e.template_id.0));
                }
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
            lend: Mutex::new(None),
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
        let t = Instant::now();
        for s in &mut self.sources {
            if s.dirty || all {
                let mut bytes = Vec::with_capacity(state_room(s.state_len));
                match s.miner.save(&mut bytes) {
                    Ok(()) => {
                        s.state_len = bytes.len();
                        self.pending.states.push((s.name.clone(), bytes))
                    }
                    Err(e) => tracing::warn!(source = %s.name, error = %e, "saving templates failed"),
                }
                s.dirty = false;
            }
        }
        if t.elapsed() >= SLOW {
            tracing::warn!(
                ms = t.elapsed().as_millis() as u64,
                bytes = self.pending.states.iter().map(|s| s.1.len()).sum::<usize>(),
                "slow miner state save"
            );
        }
        self.pending.since.get_or_insert_with(Instant::now);
    }

    fn take_commit(&mut self, values: ValuesDue) -> Commit {
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
        let values = match &partitions[..] {
            [] if self.part.is_some() => ValuesDue::None,
            [adv] if adv.checkpoint.is_some() => ValuesDue::All,
            [_] => ValuesDue::None,
            _ => values,
        };
        let p = std::mem::take(&mut self.pending);
        let acc = self.acc.get_or_insert_with(Box::default);
        acc.take_values(values);
        let templates = acc
            .templates
            .drain()
            .map(|((i, id), d)| TemplateDelta {
                source: self.sources[i as usize].name.clone(),
                template_id: hex(TemplateId(id)),
                template: d.template,
                count: d.count,
                first_seen_ms: d.first_ms,
                last_seen_ms: d.last_ms,
                examples: d.examples,
                buckets: d.buckets,
                values: d.values,
                other: d.other,
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

/// Room for a miner state that was `last` bytes when last saved: an
/// eighth more, for the templates learned since.
fn state_room(last: usize) -> usize {
    last + last / 8
}

/// 16 hex digits.
pub fn hex(id: TemplateId) -> String {
    String::from_utf8_lossy(&id.hex()).into_owned()
}

/// Rows of each kind one retention step deletes or examines at most: a
/// step runs between two group commits, so this bounds how long it holds
/// the next one up (a few ms).
const RETAIN_STEP_ROWS: usize = 2_000;
/// A commit or retention step slower than this is logged with what it held.
const SLOW: Duration = Duration::from_millis(250);

/// The writer thread: commits each group and then acknowledges it. Between
/// commits it runs retention in bounded steps (each its own transaction),
/// a pass every quarter of `retention` (at most every 10 minutes), so a
/// pass over millions of rows never stops the commits.
pub fn write_loop(
    commits: Receiver<Commit>,
    mut store: Box<dyn StoreWriter>,
    metrics: Arc<Metrics>,
    retention: Option<Duration>,
) {
    let mut last_retention: Option<Instant> = None;
    // The pass in progress: its cutoff, when it began, steps taken, rows deleted.
    let mut pass: Option<(i64, Instant, u64, RetainInfo)> = None;
    loop {
        // A commit waiting goes first; retention steps fill the gaps.
        let c = if pass.is_some() {
            match commits.try_recv() {
                Ok(c) => Some(c),
                Err(crossbeam_channel::TryRecvError::Empty) => None,
                Err(crossbeam_channel::TryRecvError::Disconnected) => return,
            }
        } else {
            match commits.recv() {
                Ok(c) => Some(c),
                Err(_) => return,
            }
        };
        if let Some(c) = c {
            write_one(c, &mut *store, &metrics);
        }
        let Some(keep) = retention else { continue };
        // Often enough for a short retention, at most every 10 minutes.
        let every = (keep / 4).clamp(Duration::from_secs(1), Duration::from_secs(600));
        if pass.is_none() && last_retention.is_none_or(|t| t.elapsed() >= every) {
            last_retention = Some(Instant::now());
            let cutoff = now_ms() - keep.as_millis() as i64;
            pass = Some((cutoff, Instant::now(), 0, RetainInfo::default()));
        }
        if let Some((cutoff, began, steps, total)) = &mut pass {
            match store.retain_step(*cutoff, RETAIN_STEP_ROWS) {
                Ok((info, done)) => {
                    *steps += 1;
                    total.buckets += info.buckets;
                    total.alerts += info.alerts;
                    total.templates += info.templates;
                    if info.duration >= SLOW {
                        tracing::warn!(
                            ms = info.duration.as_millis() as u64,
                            buckets = info.buckets,
                            alerts = info.alerts,
                            templates = info.templates,
                            "slow retention step"
                        );
                    }
                    if done {
                        tracing::info!(
                            steps = *steps,
                            ms = began.elapsed().as_millis() as u64,
                            buckets = total.buckets,
                            alerts = total.alerts,
                            templates = total.templates,
                            "retention pass done"
                        );
                        pass = None;
                    }
                }
                Err(e) => {
                    tracing::warn!(error = %e, "retention failed");
                    pass = None;
                }
            }
        }
    }
}

/// Commits one group and answers its acknowledgements.
fn write_one(c: Commit, store: &mut dyn StoreWriter, metrics: &Metrics) {
    let result = if c.batch.is_empty() {
        Ok(())
    } else {
        let t = Instant::now();
        let r = store.commit(&c.batch).map(|_| ());
        let took = t.elapsed();
        metrics.commit_seconds.observe_duration(took);
        metrics.commit_lines.observe(c.lines as f64);
        if took >= SLOW {
            let b = &c.batch;
            tracing::warn!(
                ms = took.as_millis() as u64,
                lines = c.lines,
                templates = b.templates.len(),
                values = b.templates.iter().map(|d| d.values.len()).sum::<usize>(),
                examples = b.templates.iter().map(|d| d.examples.len()).sum::<usize>(),
                merges = b.merges.len(),
                alerts = b.alerts.len(),
                state_bytes = b.states.iter().map(|s| s.1.len()).sum::<usize>(),
                "slow group commit"
            );
        }
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
}
