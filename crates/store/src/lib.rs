//! The embedded store of `logsieve serve`: mined templates with their per-minute counts,
//! example lines and variable values, template merges, Sigma alerts, per-source metadata and
//! opaque miner-state snapshots.
//!
//! The crate is synchronous. The service owns one [`StoreWriter`] on its own thread and
//! opens [`StoreReader`]s (one connection each) on blocking threads. Everything the service
//! touches is behind these traits (and [`ReaderFactory`]), so another backend can be added
//! without touching the service; [`open_sqlite`] gives the SQLite one (WAL journal,
//! `synchronous=FULL`: once [`StoreWriter::commit`] returns, the batch survives `kill -9`
//! and power loss), the `logsieve-store-postgres` crate the PostgreSQL one. Every backend
//! passes the same behavioural tests (`tests/shared/`).
//!
//! Invariants:
//! - One [`StoreWriter::commit`] is one transaction: all of a [`CommitBatch`] or nothing.
//! - Within a commit, merges are applied before template deltas, then alerts and states.
//! - Merges are flattened: a template's `merged_into` always names a *live* template (one
//!   whose own `merged_into` is null) of the same source, and that template exists. Merging
//!   `a` into `b` re-points everything that was merged into `a`; a merge that would make a
//!   cycle (its target already ends in its source) is ignored.
//! - History stays with the template that received it: counts of a merged-away template
//!   (including deltas that arrive after its merge) are reported under the live template it
//!   ended in, summed over the whole merge group.
//! - Counts add up: for any source and range, [`StoreReader::lines`] equals the sum of the
//!   `count`s of [`StoreReader::templates`] (unlimited) equals the sum of the committed
//!   bucket counts in that range. A delta whose `count` differs from the sum of its buckets
//!   is refused, so a template's total is also the sum of its buckets.
//! - Time ranges select minute buckets: bucket `m` (covering `[m*60000, m*60000+60000)` ms)
//!   is in `[since, until)` when it overlaps it, i.e.
//!   `since.div_euclid(60000) <= m < ceil(until / 60000)`.
//! - At most [`MAX_EXAMPLES`] example lines (the first distinct ones ever seen) and at most
//!   [`MAX_VALUES`] distinct values per (template, variable position) are kept; increments
//!   to kept values always count, new values past the cap are counted in `other`.
//! - Partitions (scale-out): a commit whose [`CommitBatch::partitions`] is non-empty is
//!   applied only if, for every [`PartitionAdvance`], the partition exists, its stored epoch
//!   equals the advance's `epoch` and its stored `applied_seq` equals `from_seq`; it then sets
//!   `applied_seq = to_seq` in the same transaction as the batch's effects. Otherwise nothing
//!   of the batch is written and [`StoreError::Fenced`] says why. A partition's epoch only
//!   grows ([`StoreWriter::claim_partition`] needs a larger one), so an owner that lost its
//!   lease can never write again, and a stream message's effects are applied at most once.
//! - Partition checkpoints (miner states of a partition's sources, with the sequence they
//!   cover) are kept apart from the single-node states of [`StoreWriter::load_states`]; a
//!   checkpoint replaces the partition's previous one as a whole, and
//!   `checkpoint_seq <= applied_seq` always holds.
#![deny(missing_docs)]

use std::path::PathBuf;
use std::time::Duration;

use serde::{Deserialize, Serialize};

mod sqlite;

pub use sqlite::{open_sqlite, SqliteReader, SqliteReaders, SqliteWriter, DB_FILE, SCHEMA_VERSION};

/// Example lines kept per template (the first distinct ones ever seen).
pub const MAX_EXAMPLES: usize = 5;
/// Distinct values kept per (template, variable position); later new values go to `other`.
pub const MAX_VALUES: usize = 64;
/// Milliseconds per count bucket.
pub const BUCKET_MS: i64 = 60_000;
/// Smallest bucket minute accepted (its start in ms fits an i64).
const MIN_MINUTE: i64 = i64::MIN / BUCKET_MS + 1;
/// Largest bucket minute accepted (its end in ms fits an i64).
const MAX_MINUTE: i64 = i64::MAX / BUCKET_MS - 1;

/// What one group commit adds for one template.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct TemplateDelta {
    /// Source (stream) name the template was mined in.
    pub source: String,
    /// Template id: 16 hex digits, unique within the source.
    pub template_id: String,
    /// Template text; an empty text leaves the stored text as it is.
    pub template: String,
    /// Lines added by this commit; must equal the sum of `buckets` counts.
    pub count: u64,
    /// Earliest line time in this delta (ms since the epoch).
    pub first_seen_ms: i64,
    /// Latest line time in this delta (ms since the epoch).
    pub last_seen_ms: i64,
    /// Candidate example lines; the store keeps the first [`MAX_EXAMPLES`] distinct ones ever.
    pub examples: Vec<String>,
    /// Count increments per minute bucket (`minute = ms / 60000`).
    pub buckets: Vec<(i64, u64)>,
    /// Variable value count increments: (position, value, count).
    pub values: Vec<(u32, String, u64)>,
    /// Occurrences of values the sender did not keep, per position: counted
    /// in [`VariableValues::other`].
    #[serde(default)]
    pub other: Vec<(u32, u64)>,
}

/// Template `from_id` generalised into `to_id` (same source) at `at_ms`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct MergeRecord {
    /// Source of both templates.
    pub source: String,
    /// The template that was merged away.
    pub from_id: String,
    /// The template it generalised into.
    pub to_id: String,
    /// When the merge happened (ms since the epoch).
    pub at_ms: i64,
}

/// One Sigma alert to store.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct AlertRecord {
    /// When the alert fired (ms since the epoch).
    pub at_ms: i64,
    /// Source of the matching line.
    pub source: String,
    /// Sigma rule id.
    pub rule_id: String,
    /// Sigma rule title.
    pub title: String,
    /// Sigma level (informational, low, medium, high, critical).
    pub level: String,
    /// The matching line.
    pub line: String,
    /// Template of the matching line, when known.
    pub template_id: Option<String>,
    /// Extracted fields; must be a JSON object.
    pub fields: serde_json::Value,
    /// The full alert object as the service reports it.
    pub alert: serde_json::Value,
}

/// Everything one group commit writes, in one transaction.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct CommitBatch {
    /// Template deltas (applied after `merges`).
    pub templates: Vec<TemplateDelta>,
    /// Template merges (applied first, in order).
    pub merges: Vec<MergeRecord>,
    /// Alerts to append.
    pub alerts: Vec<AlertRecord>,
    /// Miner state snapshots: (source, opaque bytes); replaces the source's previous one.
    pub states: Vec<(String, Vec<u8>)>,
    /// Stream partition progress, checked and advanced in the same transaction (scale-out
    /// workers; empty for the single-node service). See the crate doc.
    #[serde(default)]
    pub partitions: Vec<PartitionAdvance>,
}

impl CommitBatch {
    /// Whether the batch writes nothing.
    pub fn is_empty(&self) -> bool {
        self.templates.is_empty()
            && self.merges.is_empty()
            && self.alerts.is_empty()
            && self.states.is_empty()
            && self.partitions.is_empty()
    }
}

/// Progress of one stream partition, written in the same transaction as the batch's effects
/// (scale-out workers).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct PartitionAdvance {
    /// Partition number.
    pub partition: u32,
    /// The owner's fencing token; must equal the partition's stored epoch.
    pub epoch: u64,
    /// The stored applied sequence this batch continues from (compare-and-set).
    pub from_seq: u64,
    /// Last stream sequence whose effects the batch holds (>= `from_seq`; equal when the
    /// batch only writes a checkpoint).
    pub to_seq: u64,
    /// When `Some`: the COMPLETE miner states (source, bytes) of the partition's sources after
    /// `to_seq`; they replace all of the partition's previous checkpoint states and set its
    /// `checkpoint_seq = to_seq`.
    pub checkpoint: Option<Vec<(String, Vec<u8>)>>,
}

/// What a new owner gets when it claims a partition.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct PartitionClaim {
    /// Last stream sequence whose effects are stored: discard effects of messages at or
    /// below it.
    pub applied_seq: u64,
    /// Sequence the checkpoint states cover (0 and no states when none was written):
    /// replay from `checkpoint_seq + 1`.
    pub checkpoint_seq: u64,
    /// The checkpoint's miner states: (source, bytes), by source name.
    pub states: Vec<(String, Vec<u8>)>,
}

/// One partition as the store knows it (for `logsieve cluster status`).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct PartitionInfo {
    /// Partition number.
    pub partition: u32,
    /// Current owner; `None` once released (or never claimed).
    pub owner: Option<String>,
    /// Fencing token of the last claim.
    pub epoch: u64,
    /// Last stream sequence whose effects are stored.
    pub applied_seq: u64,
    /// Sequence the checkpoint states cover.
    pub checkpoint_seq: u64,
    /// Number of sources in the checkpoint.
    pub checkpoint_sources: u64,
    /// When the row last changed (claim, advance or release), ms since the epoch.
    pub updated_ms: i64,
}

/// What a commit wrote.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CommitInfo {
    /// Template deltas applied.
    pub templates: usize,
    /// Alerts appended.
    pub alerts: usize,
    /// Time from the start of the transaction to the return of its commit.
    pub duration: Duration,
}

/// What a retention pass deleted.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct RetainInfo {
    /// Minute buckets deleted (including those of deleted templates).
    pub buckets: usize,
    /// Alerts deleted.
    pub alerts: usize,
    /// Templates deleted (merged-away ones included).
    pub templates: usize,
    /// Time the pass took.
    pub duration: Duration,
}

/// One source (stream) as the store knows it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SourceInfo {
    /// Source name.
    pub name: String,
    /// Live templates (merged-away ones are not counted).
    pub templates: u64,
    /// Lines stored (sum of its templates' totals).
    pub lines: u64,
    /// Earliest line time seen (ms).
    pub first_seen_ms: i64,
    /// Latest line time seen (ms).
    pub last_seen_ms: i64,
}

/// Which live templates [`StoreReader::templates`] returns.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TemplateQuery {
    /// Only this source.
    pub source: Option<String>,
    /// Range start (ms, inclusive); with a range, only templates with lines in it are returned.
    pub since_ms: Option<i64>,
    /// Range end (ms, exclusive).
    pub until_ms: Option<i64>,
    /// Case-insensitive (Unicode lowercase) substring of the template text.
    pub q: Option<String>,
    /// Only templates (groups) whose first_seen is at or after this.
    pub new_since_ms: Option<i64>,
    /// At most this many rows (highest count first).
    pub limit: usize,
    /// Fill [`TemplateRow::series`].
    pub with_series: bool,
}

impl Default for TemplateQuery {
    /// Everything: no filter, no limit, no series.
    fn default() -> Self {
        TemplateQuery {
            source: None,
            since_ms: None,
            until_ms: None,
            q: None,
            new_since_ms: None,
            limit: usize::MAX,
            with_series: false,
        }
    }
}

/// One live template with the counts of its merge group.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TemplateRow {
    /// Source name.
    pub source: String,
    /// Live template id.
    pub template_id: String,
    /// Live template text.
    pub template: String,
    /// Lines in the query's range (all stored lines without a range), merge group included.
    pub count: u64,
    /// Earliest first_seen of the merge group (ms).
    pub first_seen_ms: i64,
    /// Latest last_seen of the merge group (ms).
    pub last_seen_ms: i64,
    /// (minute start ms, count) for each non-empty minute in range, ascending.
    pub series: Vec<(i64, u64)>,
}

/// The kept values of one variable position.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct VariableValues {
    /// Variable position in the template.
    pub position: u32,
    /// Kept values with their counts, highest count first (ties by value).
    pub top: Vec<(String, u64)>,
    /// Number of distinct values kept (at most [`MAX_VALUES`]).
    pub distinct_kept: usize,
    /// Occurrences of values that were not kept because the cap was reached.
    pub other: u64,
}

/// A live template with its details.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TemplateDetail {
    /// Counts over all stored lines; `series` covers all stored minutes.
    #[serde(flatten)]
    pub row: TemplateRow,
    /// Up to [`MAX_EXAMPLES`] example lines: the live template's own first, then those of
    /// templates merged into it.
    pub examples: Vec<String>,
    /// Variable values of the live template, by position.
    pub values: Vec<VariableValues>,
    /// Templates merged into this one: (id, template text, merge time ms), oldest first.
    pub merged_from: Vec<(String, String, i64)>,
    /// When the requested id was merged away: the live id it ended in (== `row.template_id`).
    pub merged_into: Option<String>,
}

/// Which alerts [`StoreReader::alerts`] returns (newest first).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AlertQuery {
    /// Range start (ms, inclusive).
    pub since_ms: Option<i64>,
    /// Range end (ms, exclusive).
    pub until_ms: Option<i64>,
    /// Exact level, ASCII case-insensitive.
    pub level: Option<String>,
    /// Rule id or rule title (exact).
    pub rule: Option<String>,
    /// Only this source.
    pub source: Option<String>,
    /// Only alerts on lines of this template or of a template merged into it
    /// (its merge group in the alert's source).
    #[serde(default)]
    pub template_id: Option<String>,
    /// At most this many alerts.
    pub limit: usize,
}

impl Default for AlertQuery {
    /// Everything: no filter, no limit.
    fn default() -> Self {
        AlertQuery {
            since_ms: None,
            until_ms: None,
            level: None,
            rule: None,
            source: None,
            template_id: None,
            limit: usize::MAX,
        }
    }
}

/// One stored alert.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AlertRow {
    /// Store-assigned id (increasing).
    pub id: i64,
    /// The alert as it was committed.
    #[serde(flatten)]
    pub record: AlertRecord,
}

/// Why a store operation failed.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// A filesystem operation failed.
    #[error("store {path}: {what}: {source}")]
    Io {
        /// File or directory concerned.
        path: PathBuf,
        /// What was being done.
        what: &'static str,
        /// The cause.
        source: std::io::Error,
    },
    /// A database operation failed.
    #[error("store {path}: {what}: {source}")]
    Db {
        /// Database file.
        path: PathBuf,
        /// What was being done.
        what: String,
        /// The cause.
        source: rusqlite::Error,
    },
    /// The file is a database but not one this crate wrote.
    #[error("store {path}: not a logsieve store ({why})")]
    NotAStore {
        /// Database file.
        path: PathBuf,
        /// What gave it away.
        why: String,
    },
    /// The store was written by another (newer or unknown) schema version.
    #[error("store {path}: schema version {found} is not supported (this build reads version {supported}); use a newer logsieve or another store directory")]
    SchemaVersion {
        /// Database file.
        path: PathBuf,
        /// Version found in the file.
        found: String,
        /// Version this build reads and writes.
        supported: i64,
    },
    /// A stored row holds a value this build cannot read.
    #[error("store {path}: corrupt row: {what}")]
    Corrupt {
        /// Database file.
        path: PathBuf,
        /// Which table, row and field.
        what: String,
    },
    /// A commit batch was refused before anything was written.
    #[error("invalid commit batch: {0}")]
    InvalidBatch(String),
    /// A partition operation was refused because another owner (a larger epoch) took the
    /// partition over, or the batch does not continue from the stored sequence. Nothing of
    /// the batch was written. Not transient: the caller must re-claim and re-read.
    #[error("partition {partition} (epoch {epoch}) fenced: {why}")]
    Fenced {
        /// Partition concerned.
        partition: u32,
        /// Epoch the caller presented.
        epoch: u64,
        /// Why, e.g. "stored epoch 7 > 5" or "applied_seq is 120, batch continues from 100".
        why: String,
    },
    /// The store could not be reached (connection refused or lost, timeout). Transient: the
    /// same call may succeed later (see [`backoff`]); nothing of a failed commit was kept.
    #[error("store unavailable: {what}: {source}")]
    Unavailable {
        /// What was being done, and where (server address, schema).
        what: String,
        /// The cause.
        source: Box<dyn std::error::Error + Send + Sync>,
    },
    /// A database server reported an error (other than unavailability).
    #[error("store {what}: {source}")]
    Backend {
        /// What was being done, and where (server address, schema).
        what: String,
        /// The cause.
        source: Box<dyn std::error::Error + Send + Sync>,
    },
}

impl StoreError {
    /// Whether retrying the same call later may succeed: the store was unreachable
    /// ([`StoreError::Unavailable`]) or an SQLite database was busy or locked.
    pub fn is_transient(&self) -> bool {
        match self {
            StoreError::Unavailable { .. } => true,
            StoreError::Db { source, .. } => matches!(
                source.sqlite_error_code(),
                Some(rusqlite::ErrorCode::DatabaseBusy | rusqlite::ErrorCode::DatabaseLocked)
            ),
            _ => false,
        }
    }
}

/// How long to wait before retry number `attempt` (0 for the first retry) of a transient
/// failure: exponential from 50 ms, capped at 5 s, with jitter (each wait is uniformly
/// drawn from the upper half of its step, so that many callers do not retry in lockstep).
pub fn backoff(attempt: u32) -> Duration {
    use std::hash::BuildHasher;
    const BASE_MS: u64 = 50;
    const CAP_MS: u64 = 5_000;
    let step = BASE_MS.saturating_mul(1u64 << attempt.min(20)).min(CAP_MS);
    // RandomState is seeded randomly per thread and differs per value: enough for jitter.
    let r = std::collections::hash_map::RandomState::new().hash_one(attempt);
    let half = step / 2;
    Duration::from_millis(half + r % (step - half + 1))
}

/// The single writer of a store. One value per store; it is not shared between threads.
pub trait StoreWriter: Send {
    /// Writes the whole batch in ONE transaction (merges first, then template deltas,
    /// alerts, states) and returns once it is durable. On error nothing of the batch is kept.
    fn commit(&mut self, batch: &CommitBatch) -> Result<CommitInfo, StoreError>;
    /// Deletes minute buckets that end at or before `older_than_ms`, alerts older than it, and
    /// merge groups (live template and everything merged into it, with their examples and
    /// values) whose latest last_seen is older than it. Afterwards every template's total is
    /// the sum of its remaining buckets; first_seen is kept as history.
    fn retain(&mut self, older_than_ms: i64) -> Result<RetainInfo, StoreError>;
    /// One bounded step of [`StoreWriter::retain`], in its own transaction, so a service can
    /// run retention between its group commits without holding them up: it deletes and
    /// examines at most about `max_rows` rows of each kind, and returns `true` once a whole
    /// pass is complete (then the store is as after `retain(older_than_ms)`). Between steps
    /// the invariants hold (counts add up, totals equal the remaining buckets); a pass over
    /// many rows is spread over many steps. The default runs the whole pass at once.
    fn retain_step(&mut self, older_than_ms: i64, max_rows: usize) -> Result<(RetainInfo, bool), StoreError> {
        let _ = max_rows;
        self.retain(older_than_ms).map(|info| (info, true))
    }
    /// All miner state snapshots: (source, bytes), by source name.
    fn load_states(&mut self) -> Result<Vec<(String, Vec<u8>)>, StoreError>;
    /// Takes `partition` over for `owner` with fencing token `epoch`: fails with
    /// [`StoreError::Fenced`] unless `epoch` > the stored epoch (a new partition starts at
    /// epoch 0, applied 0, checkpoint 0). Returns what the new owner resumes from.
    fn claim_partition(
        &mut self,
        partition: u32,
        owner: &str,
        epoch: u64,
    ) -> Result<PartitionClaim, StoreError>;
    /// Clears the owner if the stored epoch is still `epoch` (graceful shutdown); otherwise
    /// (unknown partition, or taken over since) a no-op.
    fn release_partition(&mut self, partition: u32, epoch: u64) -> Result<(), StoreError>;
    /// Ties `partition`'s progress to the stream it is read from (`stream`: its name and
    /// incarnation). The first call records it; a call naming another stream fails with
    /// [`StoreError::Fenced`] saying which, and changes nothing: a worker of another cluster
    /// sharing the store, or of a stream that was recreated and numbers its messages afresh,
    /// must never take applied sequences that are not its own.
    fn bind_partition_stream(&mut self, partition: u32, stream: &str) -> Result<(), StoreError>;
}

/// A read-only view of a store (one connection; each call sees one consistent snapshot).
pub trait StoreReader: Send {
    /// Every source with live templates, lines and first/last seen, by name.
    fn sources(&self) -> Result<Vec<SourceInfo>, StoreError>;
    /// Live templates per the query, highest count first (ties: source, then id).
    fn templates(&self, q: &TemplateQuery) -> Result<Vec<TemplateRow>, StoreError>;
    /// The live template(s) that `template_id` ended in: one per source holding that id
    /// (only `source` when given). Empty when unknown.
    fn template(&self, template_id: &str, source: Option<&str>) -> Result<Vec<TemplateDetail>, StoreError>;
    /// Alerts per the query, newest first.
    fn alerts(&self, q: &AlertQuery) -> Result<Vec<AlertRow>, StoreError>;
    /// Sum of bucket counts in range (see the crate doc for range semantics).
    fn lines(
        &self,
        source: Option<&str>,
        since_ms: Option<i64>,
        until_ms: Option<i64>,
    ) -> Result<u64, StoreError>;
    /// Every partition the store knows, by partition number.
    fn partitions(&self) -> Result<Vec<PartitionInfo>, StoreError>;
}

/// Opens readers; shared by the service's request handlers.
pub trait ReaderFactory: Send + Sync {
    /// A new reader with its own connection.
    fn reader(&self) -> Result<Box<dyn StoreReader>, StoreError>;
}

/// Sorts rows as [`StoreReader::templates`] returns them: highest count
/// first, ties by source, then id (every backend answers in this order).
pub fn sort_template_rows(rows: &mut [TemplateRow]) {
    rows.sort_by(|a, b| {
        b.count
            .cmp(&a.count)
            .then_with(|| a.source.cmp(&b.source))
            .then_with(|| a.template_id.cmp(&b.template_id))
    });
}

/// [`StoreWriter::bind_partition_stream`]'s verdict.
pub fn check_partition_stream(partition: u32, bound: &str, stream: &str) -> Result<(), StoreError> {
    if bound == stream {
        return Ok(());
    }
    Err(StoreError::Fenced {
        partition,
        epoch: 0,
        why: format!(
            "its progress in this store was applied from stream {bound:?}, and this worker reads {stream:?} \
             (another cluster shares the store, or the stream was recreated and numbers its messages afresh); \
             give this cluster its own store schema or --stream"
        ),
    })
}

/// Whether `id` is a template id: exactly 16 ASCII hex digits.
pub fn is_template_id(id: &str) -> bool {
    id.len() == 16 && id.bytes().all(|b| b.is_ascii_hexdigit())
}

/// Checks a batch before anything is written; the message names the item and field.
pub fn validate_batch(batch: &CommitBatch) -> Result<(), StoreError> {
    let bad = |msg: String| Err(StoreError::InvalidBatch(msg));
    for (i, m) in batch.merges.iter().enumerate() {
        if m.source.is_empty() {
            return bad(format!("merges[{i}].source is empty"));
        }
        if !is_template_id(&m.from_id) {
            return bad(format!(
                "merges[{i}].from_id {:?} is not 16 hex digits",
                clip(&m.from_id)
            ));
        }
        if !is_template_id(&m.to_id) {
            return bad(format!(
                "merges[{i}].to_id {:?} is not 16 hex digits",
                clip(&m.to_id)
            ));
        }
    }
    for (i, d) in batch.templates.iter().enumerate() {
        if d.source.is_empty() {
            return bad(format!("templates[{i}].source is empty"));
        }
        if !is_template_id(&d.template_id) {
            return bad(format!(
                "templates[{i}].template_id {:?} is not 16 hex digits",
                clip(&d.template_id)
            ));
        }
        if d.first_seen_ms > d.last_seen_ms {
            return bad(format!(
                "templates[{i}] ({}): first_seen_ms {} is after last_seen_ms {}",
                d.template_id, d.first_seen_ms, d.last_seen_ms
            ));
        }
        if d.count > i64::MAX as u64 {
            return bad(format!(
                "templates[{i}] ({}): count {} exceeds i64::MAX",
                d.template_id, d.count
            ));
        }
        let mut sum: u128 = 0;
        for (j, &(minute, n)) in d.buckets.iter().enumerate() {
            if !(MIN_MINUTE..=MAX_MINUTE).contains(&minute) {
                return bad(format!(
                    "templates[{i}].buckets[{j}] minute {minute} is out of range"
                ));
            }
            if n > i64::MAX as u64 {
                return bad(format!("templates[{i}].buckets[{j}] count {n} exceeds i64::MAX"));
            }
            sum += u128::from(n);
        }
        if sum != u128::from(d.count) {
            return bad(format!(
                "templates[{i}] ({}): count {} differs from the sum of its buckets {sum}",
                d.template_id, d.count
            ));
        }
        for (j, (_, _, n)) in d.values.iter().enumerate() {
            if *n > i64::MAX as u64 {
                return bad(format!("templates[{i}].values[{j}] count {n} exceeds i64::MAX"));
            }
        }
    }
    for (i, a) in batch.alerts.iter().enumerate() {
        if !a.fields.is_object() {
            return bad(format!("alerts[{i}].fields is not a JSON object"));
        }
    }
    for (i, p) in batch.partitions.iter().enumerate() {
        if batch.partitions[..i].iter().any(|q| q.partition == p.partition) {
            return bad(format!(
                "partitions[{i}]: partition {} appears twice",
                p.partition
            ));
        }
        if p.to_seq < p.from_seq {
            return bad(format!(
                "partitions[{i}] (partition {}): to_seq {} is before from_seq {}",
                p.partition, p.to_seq, p.from_seq
            ));
        }
        for (what, v) in [("epoch", p.epoch), ("to_seq", p.to_seq)] {
            if v > i64::MAX as u64 {
                return bad(format!(
                    "partitions[{i}] (partition {}): {what} {v} exceeds i64::MAX",
                    p.partition
                ));
            }
        }
        for (j, (source, _)) in p.checkpoint.iter().flatten().enumerate() {
            if source.is_empty() {
                return bad(format!(
                    "partitions[{i}] (partition {}): checkpoint[{j}] source is empty",
                    p.partition
                ));
            }
            if p.checkpoint.iter().flatten().take(j).any(|(s, _)| s == source) {
                return bad(format!(
                    "partitions[{i}] (partition {}): checkpoint source {:?} appears twice",
                    p.partition,
                    clip(source)
                ));
            }
        }
    }
    Ok(())
}

/// Why `a` was refused, given the partition's stored `(epoch, applied_seq)` (`None`: the
/// partition was never claimed): the `why` of [`StoreError::Fenced`], the same for every
/// backend.
pub fn fence_reason(stored: Option<(i64, i64)>, a: &PartitionAdvance) -> String {
    match stored {
        None => "unknown partition (never claimed)".to_string(),
        Some((epoch, _)) if epoch != a.epoch as i64 => format!(
            "stored epoch {epoch} {} {}",
            if epoch > a.epoch as i64 { ">" } else { "<" },
            a.epoch
        ),
        Some((_, applied)) => format!("applied_seq is {applied}, batch continues from {}", a.from_seq),
    }
}

/// Milliseconds since the Unix epoch, now (0 if the clock is before it).
pub fn now_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX))
}

/// At most 40 characters of user input for messages.
fn clip(s: &str) -> String {
    s.chars().take(40).collect()
}
