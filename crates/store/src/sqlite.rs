//! The SQLite backend: one file `logsieve.db` in the store directory, WAL journal,
//! `synchronous=FULL`, one writer connection and any number of read-only connections.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

use rusqlite::{
    params, CachedStatement, Connection, ErrorCode, OpenFlags, OptionalExtension, Transaction,
    TransactionBehavior,
};

use crate::{
    fence_reason, now_ms, validate_batch, AlertQuery, AlertRecord, AlertRow, CommitBatch, CommitInfo,
    MergeRecord, PartitionAdvance, PartitionClaim, PartitionInfo, ReaderFactory, RetainInfo, SourceInfo,
    StoreError, StoreReader, StoreWriter, TemplateDelta, TemplateDetail, TemplateQuery, TemplateRow,
    VariableValues, BUCKET_MS, MAX_EXAMPLES, MAX_VALUES,
};

/// File name of the database inside the store directory.
pub const DB_FILE: &str = "logsieve.db";
/// Schema version this build reads and writes (`meta.schema_version`). Version 1 stores
/// (before partitions) are migrated in place when opened.
pub const SCHEMA_VERSION: i64 = 2;
/// `PRAGMA application_id` of a logsieve store ("LSIV").
const APP_ID: i64 = 0x4C53_4956;
/// How long a connection waits for a lock before failing.
const BUSY_TIMEOUT: Duration = Duration::from_secs(10);

/// Schema version 1 (the single-node store); [`MIGRATE_V2`] completes it to version 2.
const SCHEMA_V1: &str = "
CREATE TABLE meta(key TEXT PRIMARY KEY, value TEXT NOT NULL) WITHOUT ROWID;
CREATE TABLE sources(name TEXT PRIMARY KEY, first_seen INTEGER NOT NULL, last_seen INTEGER NOT NULL) WITHOUT ROWID;
CREATE TABLE templates(
    id INTEGER PRIMARY KEY,
    source TEXT NOT NULL,
    template_id TEXT NOT NULL,
    template TEXT NOT NULL,
    first_seen INTEGER,
    last_seen INTEGER,
    total INTEGER NOT NULL DEFAULT 0,
    n_examples INTEGER NOT NULL DEFAULT 0,
    merged_into TEXT,
    UNIQUE(source, template_id)
);
CREATE INDEX templates_merged ON templates(source, merged_into);
CREATE TABLE examples(tid INTEGER NOT NULL, seq INTEGER NOT NULL, line TEXT NOT NULL,
    PRIMARY KEY(tid, seq)) WITHOUT ROWID;
CREATE TABLE var_values(tid INTEGER NOT NULL, position INTEGER NOT NULL, value TEXT NOT NULL,
    count INTEGER NOT NULL, PRIMARY KEY(tid, position, value)) WITHOUT ROWID;
CREATE TABLE var_slots(tid INTEGER NOT NULL, position INTEGER NOT NULL, kept INTEGER NOT NULL,
    other INTEGER NOT NULL, PRIMARY KEY(tid, position)) WITHOUT ROWID;
CREATE TABLE buckets(tid INTEGER NOT NULL, minute INTEGER NOT NULL, count INTEGER NOT NULL,
    PRIMARY KEY(minute, tid)) WITHOUT ROWID;
CREATE INDEX buckets_tid ON buckets(tid, minute);
CREATE TABLE merges(id INTEGER PRIMARY KEY, source TEXT NOT NULL, from_id TEXT NOT NULL, to_id TEXT NOT NULL,
    at_ms INTEGER NOT NULL);
CREATE INDEX merges_from ON merges(source, from_id);
CREATE TABLE alerts(id INTEGER PRIMARY KEY AUTOINCREMENT, at_ms INTEGER NOT NULL, source TEXT NOT NULL,
    rule_id TEXT NOT NULL, title TEXT NOT NULL, level TEXT NOT NULL, line TEXT NOT NULL, template_id TEXT,
    fields TEXT NOT NULL, alert TEXT NOT NULL);
CREATE INDEX alerts_at ON alerts(at_ms);
CREATE TABLE states(source TEXT PRIMARY KEY, state BLOB NOT NULL) WITHOUT ROWID;
";

/// Version 1 -> 2: stream partitions (scale-out) and their checkpoint states.
const MIGRATE_V2: &str = "
CREATE TABLE partitions(partition INTEGER PRIMARY KEY, owner TEXT, epoch INTEGER NOT NULL,
    applied_seq INTEGER NOT NULL, checkpoint_seq INTEGER NOT NULL, updated_ms INTEGER NOT NULL,
    stream TEXT NOT NULL DEFAULT '');
CREATE TABLE partition_states(partition INTEGER NOT NULL, source TEXT NOT NULL, state BLOB NOT NULL,
    PRIMARY KEY(partition, source)) WITHOUT ROWID;
UPDATE meta SET value = '2' WHERE key = 'schema_version';
";

/// Maps a rusqlite error to [`StoreError::Db`] naming the file and the operation.
fn db(path: &Path, what: impl Into<String>) -> impl FnOnce(rusqlite::Error) -> StoreError + '_ {
    let what = what.into();
    move |source| {
        if let rusqlite::Error::SqliteFailure(e, _) = &source {
            if e.code == ErrorCode::NotADatabase {
                return StoreError::NotAStore {
                    path: path.to_path_buf(),
                    why: format!("not an SQLite database ({what})"),
                };
            }
        }
        StoreError::Db {
            path: path.to_path_buf(),
            what,
            source,
        }
    }
}

fn corrupt(path: &Path, what: String) -> StoreError {
    StoreError::Corrupt {
        path: path.to_path_buf(),
        what,
    }
}

/// Reads a stored count (an INTEGER that must not be negative).
fn count_u64(path: &Path, v: i64, what: &str) -> Result<u64, StoreError> {
    u64::try_from(v).map_err(|_| corrupt(path, format!("{what} is negative ({v})")))
}

/// Minute bounds `[lo, hi)` of the buckets that overlap `[since, until)`.
fn minute_range(since_ms: Option<i64>, until_ms: Option<i64>) -> (i64, i64) {
    let lo = since_ms.map_or(i64::MIN, |s| s.div_euclid(BUCKET_MS));
    let hi = until_ms.map_or(i64::MAX, |u| {
        u.div_euclid(BUCKET_MS) + i64::from(u.rem_euclid(BUCKET_MS) != 0)
    });
    (lo, hi)
}

/// Opens (creating when absent) the store in `dir`: the directory, file [`DB_FILE`] and its
/// schema. Fails with a message naming the file when it is not a logsieve store or has
/// another schema version.
pub fn open_sqlite(dir: &Path) -> Result<(SqliteWriter, SqliteReaders), StoreError> {
    std::fs::create_dir_all(dir).map_err(|source| StoreError::Io {
        path: dir.to_path_buf(),
        what: "creating the store directory",
        source,
    })?;
    let path = dir.join(DB_FILE);
    let flags =
        OpenFlags::SQLITE_OPEN_READ_WRITE | OpenFlags::SQLITE_OPEN_CREATE | OpenFlags::SQLITE_OPEN_NO_MUTEX;
    let mut conn = Connection::open_with_flags(&path, flags).map_err(db(&path, "opening"))?;
    conn.busy_timeout(BUSY_TIMEOUT)
        .map_err(db(&path, "setting busy_timeout"))?;
    // The first read of the header: a non-SQLite file fails here with NotAStore.
    let app_id: i64 = conn
        .query_row("PRAGMA application_id", [], |r| r.get(0))
        .map_err(db(&path, "reading the header"))?;
    let mode: String = conn
        .query_row("PRAGMA journal_mode=WAL", [], |r| r.get(0))
        .map_err(db(&path, "setting journal_mode=WAL"))?;
    if !mode.eq_ignore_ascii_case("wal") {
        return Err(StoreError::NotAStore {
            path,
            why: format!("journal mode stays {mode:?}, WAL is needed"),
        });
    }
    conn.execute_batch("PRAGMA synchronous=FULL; PRAGMA cache_size=-32768; PRAGMA temp_store=FILE;")
        .map_err(db(&path, "setting pragmas"))?;
    conn.set_prepared_statement_cache_capacity(64);
    {
        let tx = conn
            .transaction_with_behavior(TransactionBehavior::Immediate)
            .map_err(db(&path, "checking the schema"))?;
        check_or_create_schema(&tx, &path, app_id)?;
        tx.commit().map_err(db(&path, "creating the schema"))?;
    }
    let path = Arc::new(path);
    Ok((
        SqliteWriter {
            conn,
            path: Arc::clone(&path),
            retain_cursor: 0,
            known: Known::default(),
        },
        SqliteReaders { path },
    ))
}

fn check_or_create_schema(tx: &Transaction<'_>, path: &Path, app_id: i64) -> Result<(), StoreError> {
    let tables: i64 = tx
        .query_row(
            "SELECT COUNT(*) FROM sqlite_schema WHERE type = 'table'",
            [],
            |r| r.get(0),
        )
        .map_err(db(path, "listing tables"))?;
    if tables == 0 && app_id == 0 {
        tx.execute_batch(SCHEMA_V1)
            .map_err(db(path, "creating the schema"))?;
        tx.execute_batch(&format!("PRAGMA application_id = {APP_ID};"))
            .map_err(db(path, "setting application_id"))?;
        tx.execute("INSERT INTO meta(key, value) VALUES ('schema_version', '1')", [])
            .map_err(db(path, "writing the schema version"))?;
        tx.execute_batch(MIGRATE_V2)
            .map_err(db(path, "creating the schema (version 2)"))?;
        return Ok(());
    }
    if app_id != APP_ID {
        return Err(StoreError::NotAStore {
            path: path.to_path_buf(),
            why: format!("application_id is {app_id:#x}, a logsieve store has {APP_ID:#x}"),
        });
    }
    let has_meta: bool = tx
        .query_row(
            "SELECT COUNT(*) FROM sqlite_schema WHERE type = 'table' AND name = 'meta'",
            [],
            |r| r.get::<_, i64>(0),
        )
        .map_err(db(path, "looking for the meta table"))?
        > 0;
    if !has_meta {
        return Err(StoreError::NotAStore {
            path: path.to_path_buf(),
            why: "no meta table".into(),
        });
    }
    let found: Option<String> = tx
        .query_row("SELECT value FROM meta WHERE key = 'schema_version'", [], |r| {
            r.get(0)
        })
        .optional()
        .map_err(db(path, "reading the schema version"))?;
    let found = found.unwrap_or_else(|| "(none)".into());
    if found.trim().parse::<i64>().ok() == Some(1) {
        tx.execute_batch(MIGRATE_V2)
            .map_err(db(path, "migrating the schema from version 1 to 2"))?;
        return Ok(());
    }
    if found.trim().parse::<i64>().ok() != Some(SCHEMA_VERSION) {
        return Err(StoreError::SchemaVersion {
            path: path.to_path_buf(),
            found,
            supported: SCHEMA_VERSION,
        });
    }
    Ok(())
}

/// Rows a step of a whole retention pass ([`StoreWriter::retain`]) takes at most of each kind.
const RETAIN_ROWS: usize = 10_000;

/// The writer connection of a SQLite store.
pub struct SqliteWriter {
    conn: Connection,
    path: Arc<PathBuf>,
    /// Row id of the last template the retention sweep examined (0: start over).
    retain_cursor: i64,
    /// Templates rows this writer has written, so that a delta of a known one is an update by
    /// row id instead of an upsert through the `(source, template_id)` index.
    known: Known,
}

/// What the writer knows of a stored template row.
#[derive(Debug, Clone, Copy)]
struct KnownRow {
    rowid: i64,
    n_examples: i64,
    /// xxh3 of the stored text, when this writer stored it.
    text_hash: Option<u64>,
}

/// Row ids of templates this writer wrote, per source and template id (the 16 hex digits as a
/// number). Invariant: every entry names the row that holds that `(source, template_id)` in
/// the database as the writer's open transaction sees it, with that row's `n_examples` and (when
/// known) the hash of its text. Entries are learned as rows are written; anything that deletes
/// template rows, or a transaction that does not commit, clears the whole map, so a row id that
/// SQLite hands out again is never taken for the template it used to be. Bounded: past
/// [`KNOWN_CAP`] entries the map starts over (a known template then costs one upsert).
#[derive(Debug, Default)]
struct Known {
    rows: HashMap<String, rustc_hash::FxHashMap<u64, KnownRow>>,
    len: usize,
}

/// Entries [`Known`] holds at most (about 40 bytes each: 2.5 MiB, kept allocated when it
/// starts over, so the writer's memory stays flat).
const KNOWN_CAP: usize = 1 << 16;

impl Known {
    fn get(&self, source: &str, id: u64) -> Option<KnownRow> {
        self.rows.get(source)?.get(&id).copied()
    }

    fn learn(&mut self, source: &str, id: u64, row: KnownRow) {
        if self.len >= KNOWN_CAP {
            self.clear();
        }
        let m = match self.rows.get_mut(source) {
            Some(m) => m,
            None => self.rows.entry(source.to_string()).or_default(),
        };
        if m.insert(id, row).is_none() {
            self.len += 1;
        }
    }

    /// Rows went away or a transaction did not commit: forget everything.
    fn clear(&mut self) {
        // Each source's table keeps its room: refilled at once under load.
        for m in self.rows.values_mut() {
            m.clear();
        }
        self.len = 0;
    }
}

impl std::fmt::Debug for SqliteWriter {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SqliteWriter").field("path", &self.path).finish()
    }
}

impl SqliteWriter {
    /// Path of the database file.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// [`StoreWriter::commit`] without the bookkeeping of [`Known`] around it.
    fn commit_batch(&mut self, batch: &CommitBatch) -> Result<CommitInfo, StoreError> {
        validate_batch(batch)?;
        let start = Instant::now();
        let path: &Path = &self.path;
        let tx = self
            .conn
            .transaction_with_behavior(TransactionBehavior::Immediate)
            .map_err(db(path, "beginning a commit"))?;
        // Fencing first: a refused batch writes nothing (dropping `tx` rolls back).
        let now = now_ms();
        for (i, a) in batch.partitions.iter().enumerate() {
            let fenced = advance_partition(&tx, a, now).map_err(|e| {
                db(
                    path,
                    format!("advancing partitions[{i}] (partition {})", a.partition),
                )(e)
            })?;
            if let Some(why) = fenced {
                return Err(StoreError::Fenced {
                    partition: a.partition,
                    epoch: a.epoch,
                    why,
                });
            }
        }
        for (i, m) in batch.merges.iter().enumerate() {
            apply_merge(&tx, m).map_err(|e| db(path, format!("applying merges[{i}]"))(e))?;
        }
        let mut sources: HashMap<&str, (i64, i64)> = HashMap::new();
        let mut seen = Vec::with_capacity(MAX_EXAMPLES);
        let mut slots = Vec::new();
        let mut st = DeltaStatements::prepare(&tx).map_err(db(path, "preparing the template statements"))?;
        for (i, d) in batch.templates.iter().enumerate() {
            apply_delta(&tx, &mut st, d, &mut self.known, &mut seen, &mut slots)
                .map_err(|e| db(path, format!("applying templates[{i}]"))(e))?;
            let e = sources
                .entry(d.source.as_str())
                .or_insert((d.first_seen_ms, d.last_seen_ms));
            e.0 = e.0.min(d.first_seen_ms);
            e.1 = e.1.max(d.last_seen_ms);
        }
        drop(st);
        {
            let mut st = tx
                .prepare_cached(
                    "INSERT INTO sources(name, first_seen, last_seen) VALUES (?1, ?2, ?3)
                     ON CONFLICT(name) DO UPDATE SET first_seen = MIN(first_seen, excluded.first_seen),
                         last_seen = MAX(last_seen, excluded.last_seen)",
                )
                .map_err(db(path, "preparing the sources update"))?;
            for (name, (first, last)) in &sources {
                st.execute(params![name, first, last])
                    .map_err(db(path, "updating sources"))?;
            }
        }
        for (i, a) in batch.alerts.iter().enumerate() {
            insert_alert(&tx, a).map_err(|e| db(path, format!("inserting alerts[{i}]"))(e))?;
        }
        for (i, (source, state)) in batch.states.iter().enumerate() {
            tx.prepare_cached(
                "INSERT INTO states(source, state) VALUES (?1, ?2)
                 ON CONFLICT(source) DO UPDATE SET state = excluded.state",
            )
            .and_then(|mut st| st.execute(params![source, state]))
            .map_err(|e| db(path, format!("writing states[{i}]"))(e))?;
        }
        tx.commit().map_err(db(path, "committing"))?;
        Ok(CommitInfo {
            templates: batch.templates.len(),
            alerts: batch.alerts.len(),
            duration: start.elapsed(),
        })
    }
}

const UPSERT_TEMPLATE: &str = "
INSERT INTO templates(source, template_id, template, first_seen, last_seen, total)
VALUES (?1, ?2, ?3, ?4, ?5, ?6)
ON CONFLICT(source, template_id) DO UPDATE SET
    template = CASE WHEN excluded.template = '' THEN templates.template ELSE excluded.template END,
    first_seen = MIN(COALESCE(templates.first_seen, excluded.first_seen), excluded.first_seen),
    last_seen = MAX(COALESCE(templates.last_seen, excluded.last_seen), excluded.last_seen),
    total = templates.total + excluded.total
RETURNING id, n_examples";

fn apply_merge(tx: &Transaction<'_>, m: &MergeRecord) -> rusqlite::Result<()> {
    let mut live_of = tx.prepare_cached(
        "SELECT COALESCE(merged_into, template_id), template FROM templates WHERE source = ?1 AND template_id = ?2",
    )?;
    let to = live_of
        .query_row(params![m.source, m.to_id], |r| {
            Ok((r.get::<_, String>(0)?, r.get::<_, String>(1)?))
        })
        .optional()?;
    let target = to.as_ref().map_or(m.to_id.as_str(), |(live, _)| live.as_str());
    if target == m.from_id {
        // `to` already ended in `from`: merging would make a cycle.
        return Ok(());
    }
    let from_text: Option<String> = live_of
        .query_row(params![m.source, m.from_id], |r| r.get::<_, String>(1))
        .optional()?;
    let mut placeholder = tx.prepare_cached(
        "INSERT INTO templates(source, template_id, template) VALUES (?1, ?2, ?3)
         ON CONFLICT(source, template_id) DO NOTHING",
    )?;
    if to.is_none() {
        placeholder.execute(params![m.source, target, from_text.as_deref().unwrap_or("")])?;
    }
    if from_text.is_none() {
        placeholder.execute(params![m.source, m.from_id, ""])?;
    }
    tx.prepare_cached(
        "UPDATE templates SET merged_into = ?3 WHERE source = ?1 AND (template_id = ?2 OR merged_into = ?2)",
    )?
    .execute(params![m.source, m.from_id, target])?;
    tx.prepare_cached("INSERT INTO merges(source, from_id, to_id, at_ms) VALUES (?1, ?2, ?3, ?4)")?
        .execute(params![m.source, m.from_id, m.to_id, m.at_ms])?;
    Ok(())
}

/// One `var_slots` row while a delta's values are applied: read once (on the first value
/// that needs it), changed in memory, written once.
struct Slot {
    pos: u32,
    kept: i64,
    other: i64,
}

/// Applies a delta's variable values to template `tid`: a value already kept is bumped; a
/// new one takes a slot while its position has fewer than [`MAX_VALUES`], else it is
/// counted in `other`. Each position's slot row is read and written once per delta, not
/// per value (`slots` is a reused buffer).
fn apply_values(
    tx: &Transaction<'_>,
    tid: i64,
    d: &TemplateDelta,
    slots: &mut Vec<Slot>,
) -> rusqlite::Result<()> {
    slots.clear();
    let mut read_slot =
        tx.prepare_cached("SELECT kept, other FROM var_slots WHERE tid = ?1 AND position = ?2")?;
    let mut slot = |slots: &mut Vec<Slot>, pos: u32| -> rusqlite::Result<usize> {
        if let Some(i) = slots.iter().position(|s| s.pos == pos) {
            return Ok(i);
        }
        let (kept, other) = read_slot
            .query_row(params![tid, pos], |r| Ok((r.get(0)?, r.get(1)?)))
            .optional()?
            .unwrap_or((0, 0));
        slots.push(Slot { pos, kept, other });
        Ok(slots.len() - 1)
    };
    let mut bump = tx.prepare_cached(
        "UPDATE var_values SET count = count + ?4 WHERE tid = ?1 AND position = ?2 AND value = ?3",
    )?;
    let mut add_value =
        tx.prepare_cached("INSERT INTO var_values(tid, position, value, count) VALUES (?1, ?2, ?3, ?4)")?;
    for (pos, value, n) in &d.values {
        let n = *n as i64;
        if n == 0 || bump.execute(params![tid, pos, value, n])? > 0 {
            continue;
        }
        let i = slot(slots, *pos)?;
        let s = &mut slots[i];
        if s.kept < MAX_VALUES as i64 {
            add_value.execute(params![tid, pos, value, n])?;
            s.kept += 1;
        } else {
            s.other += n;
        }
    }
    for &(pos, n) in &d.other {
        if n > 0 {
            let i = slot(slots, pos)?;
            let s = &mut slots[i];
            s.other += n as i64;
        }
    }
    let mut write = tx.prepare_cached(
        "INSERT INTO var_slots(tid, position, kept, other) VALUES (?1, ?2, ?3, ?4)
         ON CONFLICT(tid, position) DO UPDATE SET kept = excluded.kept, other = excluded.other",
    )?;
    for s in slots.iter() {
        write.execute(params![tid, s.pos, s.kept, s.other])?;
    }
    Ok(())
}

/// Applies one delta; `seen` and `slots` are reused buffers (example de-duplication,
/// variable slots).
/// The statements every template delta runs, prepared once per commit (not looked up in the
/// statement cache per delta).
struct DeltaStatements<'t> {
    /// A known template row, by row id: first/last seen and total.
    update: CachedStatement<'t>,
    /// One minute bucket's count.
    bucket: CachedStatement<'t>,
}

impl<'t> DeltaStatements<'t> {
    fn prepare(tx: &'t Transaction<'_>) -> rusqlite::Result<Self> {
        Ok(DeltaStatements {
            update: tx.prepare_cached(
                "UPDATE templates SET
                     first_seen = MIN(COALESCE(first_seen, ?2), ?2),
                     last_seen = MAX(COALESCE(last_seen, ?3), ?3),
                     total = total + ?4
                 WHERE id = ?1",
            )?,
            bucket: tx.prepare_cached(
                "INSERT INTO buckets(tid, minute, count) VALUES (?1, ?2, ?3)
                 ON CONFLICT(tid, minute) DO UPDATE SET count = count + excluded.count",
            )?,
        })
    }
}

fn apply_delta(
    tx: &Transaction<'_>,
    st: &mut DeltaStatements<'_>,
    d: &TemplateDelta,
    known: &mut Known,
    seen: &mut Vec<String>,
    slots: &mut Vec<Slot>,
) -> rusqlite::Result<()> {
    // `validate_batch` checked the id is 16 hex digits and counts fit an i64.
    let id = u64::from_str_radix(&d.template_id, 16).unwrap_or_default();
    let text_hash = (!d.template.is_empty()).then(|| xxhash_rust::xxh3::xxh3_64(d.template.as_bytes()));
    // A known row whose text needs no change is updated by row id; anything else is upserted
    // (which also sets a new text), and the row learned.
    let fast = known
        .get(&d.source, id)
        .filter(|k| text_hash.is_none() || text_hash == k.text_hash);
    let (mut row, mut learned) = match fast {
        // Not there (`0` rows): upserted below.
        Some(k)
            if st
                .update
                .execute(params![k.rowid, d.first_seen_ms, d.last_seen_ms, d.count as i64])?
                == 1 =>
        {
            (k, false)
        }
        _ => {
            let (rowid, n_examples): (i64, i64) = tx.prepare_cached(UPSERT_TEMPLATE)?.query_row(
                params![
                    d.source,
                    d.template_id,
                    d.template,
                    d.first_seen_ms,
                    d.last_seen_ms,
                    d.count as i64
                ],
                |r| Ok((r.get(0)?, r.get(1)?)),
            )?;
            let row = KnownRow {
                rowid,
                n_examples,
                text_hash: text_hash.or(fast.and_then(|k| k.text_hash)),
            };
            (row, true)
        }
    };
    let (tid, n_examples) = (row.rowid, row.n_examples);
    for &(minute, n) in &d.buckets {
        if n > 0 {
            st.bucket.execute(params![tid, minute, n as i64])?;
        }
    }
    if !d.values.is_empty() || !d.other.is_empty() {
        apply_values(tx, tid, d, slots)?;
    }
    if !d.examples.is_empty() && (n_examples as usize) < MAX_EXAMPLES {
        seen.clear();
        let mut existing = tx.prepare_cached("SELECT line FROM examples WHERE tid = ?1 ORDER BY seq")?;
        let rows = existing.query_map([tid], |r| r.get::<_, String>(0))?;
        for line in rows {
            seen.push(line?);
        }
        let before = seen.len();
        let mut add = tx.prepare_cached("INSERT INTO examples(tid, seq, line) VALUES (?1, ?2, ?3)")?;
        for e in &d.examples {
            if seen.len() >= MAX_EXAMPLES {
                break;
            }
            if !seen.iter().any(|s| s == e) {
                add.execute(params![tid, seen.len() as i64, e])?;
                seen.push(e.clone());
            }
        }
        if seen.len() != before {
            tx.prepare_cached("UPDATE templates SET n_examples = ?2 WHERE id = ?1")?
                .execute(params![tid, seen.len() as i64])?;
            row.n_examples = seen.len() as i64;
            learned = true;
        }
    }
    if learned {
        known.learn(&d.source, id, row);
    }
    Ok(())
}

fn insert_alert(tx: &Transaction<'_>, a: &AlertRecord) -> rusqlite::Result<()> {
    let fields =
        serde_json::to_string(&a.fields).map_err(|e| rusqlite::Error::ToSqlConversionFailure(e.into()))?;
    let alert =
        serde_json::to_string(&a.alert).map_err(|e| rusqlite::Error::ToSqlConversionFailure(e.into()))?;
    tx.prepare_cached(
        "INSERT INTO alerts(at_ms, source, rule_id, title, level, line, template_id, fields, alert)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)",
    )?
    .execute(params![
        a.at_ms,
        a.source,
        a.rule_id,
        a.title,
        a.level,
        a.line,
        a.template_id,
        fields,
        alert
    ])?;
    Ok(())
}

/// Checks and applies one partition advance; `Ok(Some(why))` when it is fenced (the caller
/// rolls back).
fn advance_partition(
    tx: &Transaction<'_>,
    a: &PartitionAdvance,
    now: i64,
) -> rusqlite::Result<Option<String>> {
    // Sequences and epochs were checked to fit an i64 by `validate_batch` (from_seq <= to_seq).
    let n = tx
        .prepare_cached(
            "UPDATE partitions SET applied_seq = ?4, updated_ms = ?5
             WHERE partition = ?1 AND epoch = ?2 AND applied_seq = ?3",
        )?
        .execute(params![
            a.partition,
            a.epoch as i64,
            a.from_seq as i64,
            a.to_seq as i64,
            now
        ])?;
    if n == 0 {
        let stored: Option<(i64, i64)> = tx
            .prepare_cached("SELECT epoch, applied_seq FROM partitions WHERE partition = ?1")?
            .query_row([a.partition], |r| Ok((r.get(0)?, r.get(1)?)))
            .optional()?;
        return Ok(Some(fence_reason(stored, a)));
    }
    if let Some(states) = &a.checkpoint {
        tx.prepare_cached("DELETE FROM partition_states WHERE partition = ?1")?
            .execute([a.partition])?;
        let mut st =
            tx.prepare_cached("INSERT INTO partition_states(partition, source, state) VALUES (?1, ?2, ?3)")?;
        for (source, state) in states {
            st.execute(params![a.partition, source, state])?;
        }
        tx.prepare_cached("UPDATE partitions SET checkpoint_seq = ?2 WHERE partition = ?1")?
            .execute(params![a.partition, a.to_seq as i64])?;
    }
    Ok(None)
}

impl StoreWriter for SqliteWriter {
    fn commit(&mut self, batch: &CommitBatch) -> Result<CommitInfo, StoreError> {
        let done = self.commit_batch(batch);
        if done.is_err() {
            // Rows learned in the transaction that rolled back may not exist.
            self.known.clear();
        }
        done
    }
    fn retain(&mut self, older_than_ms: i64) -> Result<RetainInfo, StoreError> {
        // A whole pass: steps until done, starting the template sweep from the beginning.
        let start = Instant::now();
        self.retain_cursor = 0;
        let mut total = RetainInfo::default();
        loop {
            let (info, done) = self.retain_step(older_than_ms, RETAIN_ROWS)?;
            total.buckets += info.buckets;
            total.alerts += info.alerts;
            total.templates += info.templates;
            if done {
                total.duration = start.elapsed();
                return Ok(total);
            }
        }
    }

    fn retain_step(&mut self, older_than_ms: i64, max_rows: usize) -> Result<(RetainInfo, bool), StoreError> {
        let start = Instant::now();
        let max_rows = max_rows.max(1);
        let limit = i64::try_from(max_rows).unwrap_or(i64::MAX);
        let path: &Path = &self.path;
        let tx = self
            .conn
            .transaction_with_behavior(TransactionBehavior::Immediate)
            .map_err(db(path, "beginning retention"))?;
        let cut = older_than_ms.div_euclid(BUCKET_MS);
        // 1. Old buckets, oldest first, taken off their templates' totals.
        let mut old: Vec<(i64, i64, i64)> = {
            let mut st = tx
                .prepare_cached(
                    "SELECT minute, tid, count FROM buckets WHERE minute < ?1 ORDER BY minute LIMIT ?2",
                )
                .map_err(db(path, "finding old buckets"))?;
            let rows = st
                .query_map(params![cut, limit], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))
                .map_err(db(path, "finding old buckets"))?;
            rows.collect::<Result<_, _>>()
                .map_err(db(path, "finding old buckets"))?
        };
        let buckets_done = old.len() < max_rows;
        let mut buckets = old.len();
        (|| -> rusqlite::Result<()> {
            let mut del = tx.prepare_cached("DELETE FROM buckets WHERE minute = ?1 AND tid = ?2")?;
            for &(minute, tid, _) in &old {
                del.execute(params![minute, tid])?;
            }
            old.sort_unstable_by_key(|b| b.1);
            let mut sub = tx.prepare_cached("UPDATE templates SET total = total - ?2 WHERE id = ?1")?;
            for group in old.chunk_by(|a, b| a.1 == b.1) {
                sub.execute(params![group[0].1, group.iter().map(|b| b.2).sum::<i64>()])?;
            }
            Ok(())
        })()
        .map_err(db(path, "deleting old buckets"))?;
        // 2. Old alerts.
        let alerts = tx
            .prepare_cached(
                "DELETE FROM alerts WHERE id IN (SELECT id FROM alerts WHERE at_ms < ?1 ORDER BY at_ms LIMIT ?2)",
            )
            .and_then(|mut st| st.execute(params![older_than_ms, limit]))
            .map_err(db(path, "deleting alerts"))?;
        let alerts_done = alerts < max_rows;
        // 3. Expired merge groups: the next `max_rows` templates of the sweep (by row id) are
        // examined; one whose group's latest last_seen is older than the cut goes with its rows.
        let candidates: Vec<(i64, String, String, Option<i64>)> = {
            let mut st = tx
                .prepare_cached(
                    "SELECT id, source, COALESCE(merged_into, template_id), last_seen FROM templates
                     WHERE id > ?1 ORDER BY id LIMIT ?2",
                )
                .map_err(db(path, "finding expired templates"))?;
            let rows = st
                .query_map(params![self.retain_cursor, limit], |r| {
                    Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?))
                })
                .map_err(db(path, "finding expired templates"))?;
            rows.collect::<Result<_, _>>()
                .map_err(db(path, "finding expired templates"))?
        };
        let sweep_done = candidates.len() < max_rows;
        let mut templates = 0;
        (|| -> rusqlite::Result<()> {
            let mut group_last = tx.prepare_cached(
                "SELECT MAX(COALESCE(last_seen, -9223372036854775808)) FROM templates
                 WHERE source = ?1 AND (template_id = ?2 OR merged_into = ?2)",
            )?;
            for (_, source, live, last_seen) in &candidates {
                if last_seen.is_some_and(|ls| ls >= older_than_ms) {
                    continue;
                }
                // None: the group went with an earlier candidate of this step.
                let ls: Option<i64> = group_last.query_row(params![source, live], |r| r.get(0))?;
                if ls.is_none_or(|ls| ls >= older_than_ms) {
                    continue;
                }
                // The whole group goes in this step: a merged-away template never points at a
                // live one that is gone.
                let members: Vec<(i64, String)> = tx
                    .prepare_cached(
                        "SELECT id, template_id FROM templates
                         WHERE source = ?1 AND (template_id = ?2 OR merged_into = ?2)",
                    )?
                    .query_map(params![source, live], |r| Ok((r.get(0)?, r.get(1)?)))?
                    .collect::<Result<_, _>>()?;
                for (tid, template_id) in &members {
                    buckets += tx
                        .prepare_cached("DELETE FROM buckets WHERE tid = ?1")?
                        .execute([tid])?;
                    for sql in [
                        "DELETE FROM examples WHERE tid = ?1",
                        "DELETE FROM var_values WHERE tid = ?1",
                        "DELETE FROM var_slots WHERE tid = ?1",
                        "DELETE FROM templates WHERE id = ?1",
                    ] {
                        tx.prepare_cached(sql)?.execute([tid])?;
                    }
                    tx.prepare_cached("DELETE FROM merges WHERE source = ?1 AND from_id = ?2")?
                        .execute(params![source, template_id])?;
                }
                templates += members.len();
            }
            Ok(())
        })()
        .map_err(db(path, "deleting expired templates"))?;
        if templates > 0 {
            // Row ids of deleted templates may be handed out again.
            self.known.clear();
        }
        let cursor = if sweep_done {
            0
        } else {
            candidates.last().map_or(0, |c| c.0)
        };
        if sweep_done {
            tx.execute(
                "DELETE FROM sources WHERE NOT EXISTS (SELECT 1 FROM templates t WHERE t.source = sources.name)",
                [],
            )
            .map_err(db(path, "deleting sources"))?;
        }
        tx.commit().map_err(db(path, "committing retention"))?;
        self.retain_cursor = cursor;
        Ok((
            RetainInfo {
                buckets,
                alerts,
                templates,
                duration: start.elapsed(),
            },
            buckets_done && alerts_done && sweep_done,
        ))
    }

    fn load_states(&mut self) -> Result<Vec<(String, Vec<u8>)>, StoreError> {
        let path: &Path = &self.path;
        let mut st = self
            .conn
            .prepare("SELECT source, state FROM states ORDER BY source")
            .map_err(db(path, "reading states"))?;
        let rows = st
            .query_map([], |r| Ok((r.get(0)?, r.get(1)?)))
            .map_err(db(path, "reading states"))?;
        rows.collect::<Result<_, _>>().map_err(db(path, "reading states"))
    }

    fn claim_partition(
        &mut self,
        partition: u32,
        owner: &str,
        epoch: u64,
    ) -> Result<PartitionClaim, StoreError> {
        let path: &Path = &self.path;
        let what = format!("claiming partition {partition}");
        let Ok(epoch_i) = i64::try_from(epoch) else {
            return Err(StoreError::InvalidBatch(format!(
                "claim of partition {partition}: epoch {epoch} exceeds i64::MAX"
            )));
        };
        let tx = self
            .conn
            .transaction_with_behavior(TransactionBehavior::Immediate)
            .map_err(db(path, what.clone()))?;
        let stored: Option<(i64, i64, i64)> = tx
            .prepare_cached("SELECT epoch, applied_seq, checkpoint_seq FROM partitions WHERE partition = ?1")
            .and_then(|mut st| {
                st.query_row([partition], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))
                    .optional()
            })
            .map_err(db(path, what.clone()))?;
        let (stored_epoch, applied, checkpoint) = stored.unwrap_or((0, 0, 0));
        if epoch_i <= stored_epoch {
            return Err(StoreError::Fenced {
                partition,
                epoch,
                why: format!(
                    "stored epoch {stored_epoch} {} {epoch}",
                    if stored_epoch == epoch_i { "==" } else { ">" }
                ),
            });
        }
        tx.prepare_cached(
            "INSERT INTO partitions(partition, owner, epoch, applied_seq, checkpoint_seq, updated_ms)
             VALUES (?1, ?2, ?3, 0, 0, ?4)
             ON CONFLICT(partition) DO UPDATE SET owner = excluded.owner, epoch = excluded.epoch,
                 updated_ms = excluded.updated_ms",
        )
        .and_then(|mut st| st.execute(params![partition, owner, epoch_i, now_ms()]))
        .map_err(db(path, what.clone()))?;
        let states: Vec<(String, Vec<u8>)> = tx
            .prepare_cached("SELECT source, state FROM partition_states WHERE partition = ?1 ORDER BY source")
            .and_then(|mut st| {
                st.query_map([partition], |r| Ok((r.get(0)?, r.get(1)?)))?
                    .collect()
            })
            .map_err(db(path, what.clone()))?;
        tx.commit().map_err(db(path, what))?;
        Ok(PartitionClaim {
            applied_seq: count_u64(path, applied, "partitions.applied_seq")?,
            checkpoint_seq: count_u64(path, checkpoint, "partitions.checkpoint_seq")?,
            states,
        })
    }

    fn release_partition(&mut self, partition: u32, epoch: u64) -> Result<(), StoreError> {
        let path: &Path = &self.path;
        let Ok(epoch) = i64::try_from(epoch) else {
            // No stored epoch is that large: nothing to release.
            return Ok(());
        };
        self.conn
            .prepare_cached(
                "UPDATE partitions SET owner = NULL, updated_ms = ?3 WHERE partition = ?1 AND epoch = ?2",
            )
            .and_then(|mut st| st.execute(params![partition, epoch, now_ms()]))
            .map_err(db(path, format!("releasing partition {partition}")))?;
        Ok(())
    }

    fn bind_partition_stream(&mut self, partition: u32, stream: &str) -> Result<(), StoreError> {
        let path: &Path = &self.path;
        let what = format!("binding partition {partition} to its stream");
        let tx = self
            .conn
            .transaction_with_behavior(TransactionBehavior::Immediate)
            .map_err(db(path, what.clone()))?;
        tx.prepare_cached(
            "INSERT INTO partitions(partition, owner, epoch, applied_seq, checkpoint_seq, updated_ms, stream)
             VALUES (?1, NULL, 0, 0, 0, ?3, ?2)
             ON CONFLICT(partition) DO UPDATE SET stream = excluded.stream WHERE stream = ''",
        )
        .and_then(|mut st| st.execute(params![partition, stream, now_ms()]))
        .map_err(db(path, what.clone()))?;
        let bound: String = tx
            .prepare_cached("SELECT stream FROM partitions WHERE partition = ?1")
            .and_then(|mut st| st.query_row([partition], |r| r.get(0)))
            .map_err(db(path, what.clone()))?;
        tx.commit().map_err(db(path, what))?;
        crate::check_partition_stream(partition, &bound, stream)
    }
}

/// Opens read-only connections to a SQLite store; cheap to clone.
#[derive(Debug, Clone)]
pub struct SqliteReaders {
    path: Arc<PathBuf>,
}

impl SqliteReaders {
    /// A reader over its own read-only connection.
    pub fn reader(&self) -> Result<SqliteReader, StoreError> {
        let path: &Path = &self.path;
        let flags = OpenFlags::SQLITE_OPEN_READ_ONLY | OpenFlags::SQLITE_OPEN_NO_MUTEX;
        let conn = Connection::open_with_flags(path, flags).map_err(db(path, "opening a reader"))?;
        conn.busy_timeout(BUSY_TIMEOUT)
            .map_err(db(path, "setting busy_timeout"))?;
        conn.set_prepared_statement_cache_capacity(32);
        Ok(SqliteReader {
            conn,
            path: Arc::clone(&self.path),
        })
    }

    /// Path of the database file.
    pub fn path(&self) -> &Path {
        &self.path
    }
}

impl ReaderFactory for SqliteReaders {
    fn reader(&self) -> Result<Box<dyn StoreReader>, StoreError> {
        Ok(Box::new(SqliteReaders::reader(self)?))
    }
}

/// A read-only connection to a SQLite store.
pub struct SqliteReader {
    conn: Connection,
    path: Arc<PathBuf>,
}

impl std::fmt::Debug for SqliteReader {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SqliteReader").field("path", &self.path).finish()
    }
}

/// One merge group as the group query returns it.
struct Group {
    source: String,
    live: String,
    template: String,
    first_seen: i64,
    last_seen: i64,
    total: i64,
}

const GROUPS: &str = "
SELECT g.source, g.live, l.template, g.fs, g.ls, g.total FROM (
    SELECT source, COALESCE(merged_into, template_id) AS live, MIN(first_seen) AS fs, MAX(last_seen) AS ls,
           SUM(total) AS total
    FROM templates WHERE ?1 IS NULL OR source = ?1 GROUP BY source, live) g
JOIN templates l ON l.source = g.source AND l.template_id = g.live
WHERE g.fs IS NOT NULL";

/// The rows of one merge group (live `?2` in source `?1` and everything merged into it), each
/// arm on its own index (an `OR` would scan the table).
macro_rules! members {
    () => {
        "WITH g AS (
            SELECT id, template_id, first_seen, last_seen, total FROM templates WHERE source = ?1 AND template_id = ?2
            UNION ALL
            SELECT id, template_id, first_seen, last_seen, total FROM templates WHERE source = ?1 AND merged_into = ?2) "
    };
}

const GROUP_OF: &str = concat!(
    members!(),
    "SELECT (SELECT template FROM templates WHERE source = ?1 AND template_id = ?2),
            MIN(first_seen), MAX(last_seen), COALESCE(SUM(total), 0),
            (SELECT id FROM templates WHERE source = ?1 AND template_id = ?2)
     FROM g"
);

const SERIES: &str = concat!(
    members!(),
    "SELECT b.minute, SUM(b.count) FROM g CROSS JOIN buckets b ON b.tid = g.id
     WHERE b.minute >= ?3 AND b.minute < ?4 GROUP BY b.minute ORDER BY b.minute"
);

/// Up to this many rows, series are read one query per row; past it, in
/// one scan ([`ALL_SERIES`]).
const FEW_SERIES: usize = 32;

/// Every live template's per-minute sums in `[?1, ?2)`, for one source
/// (`?3`) or all, in minute order.
const ALL_SERIES: &str = "SELECT t.source, COALESCE(t.merged_into, t.template_id), b.minute, SUM(b.count)
     FROM buckets b JOIN templates t ON t.id = b.tid
     WHERE b.minute >= ?1 AND b.minute < ?2 AND (?3 IS NULL OR t.source = ?3)
     GROUP BY t.source, COALESCE(t.merged_into, t.template_id), b.minute
     ORDER BY b.minute";

const EXAMPLES: &str = concat!(
    members!(),
    "SELECT e.line FROM g CROSS JOIN examples e ON e.tid = g.id
     ORDER BY g.template_id = ?2 DESC, g.first_seen, g.id, e.seq"
);

impl SqliteReader {
    fn p(&self) -> &Path {
        &self.path
    }

    /// Begins a read transaction so that several statements see one snapshot.
    fn snapshot(&self) -> Result<Transaction<'_>, StoreError> {
        self.conn
            .unchecked_transaction()
            .map_err(db(self.p(), "beginning a read"))
    }

    fn series(&self, source: &str, live: &str, lo: i64, hi: i64) -> Result<Vec<(i64, u64)>, StoreError> {
        let path = self.p();
        let mut st = self
            .conn
            .prepare_cached(SERIES)
            .map_err(db(path, "reading a series"))?;
        let rows = st
            .query_map(params![source, live, lo, hi], |r| {
                Ok((r.get::<_, i64>(0)?, r.get::<_, i64>(1)?))
            })
            .map_err(db(path, "reading a series"))?;
        let mut out = Vec::new();
        for row in rows {
            let (minute, n) = row.map_err(db(path, "reading a series"))?;
            out.push((
                minute.saturating_mul(BUCKET_MS),
                count_u64(path, n, "a bucket sum")?,
            ));
        }
        Ok(out)
    }

    fn detail(
        &self,
        source: &str,
        live: &str,
        merged_into: Option<String>,
    ) -> Result<Option<TemplateDetail>, StoreError> {
        let path = self.p();
        let group = self
            .conn
            .prepare_cached(GROUP_OF)
            .and_then(|mut st| {
                st.query_row(params![source, live], |r| {
                    Ok((
                        r.get::<_, Option<String>>(0)?,
                        r.get::<_, Option<i64>>(1)?,
                        r.get::<_, Option<i64>>(2)?,
                        r.get::<_, i64>(3)?,
                        r.get::<_, Option<i64>>(4)?,
                    ))
                })
                .optional()
            })
            .map_err(db(path, "reading a template"))?;
        let Some((Some(template), Some(first_seen), Some(last_seen), total, Some(tid))) = group else {
            return Ok(None);
        };
        let series = self.series(source, live, i64::MIN, i64::MAX)?;
        let mut examples: Vec<String> = Vec::new();
        {
            let mut st = self
                .conn
                .prepare_cached(EXAMPLES)
                .map_err(db(path, "reading examples"))?;
            let rows = st
                .query_map(params![source, live], |r| r.get::<_, String>(0))
                .map_err(db(path, "reading examples"))?;
            for line in rows {
                let line = line.map_err(db(path, "reading examples"))?;
                if examples.len() >= MAX_EXAMPLES {
                    break;
                }
                if !examples.contains(&line) {
                    examples.push(line);
                }
            }
        }
        let mut values: Vec<VariableValues> = Vec::new();
        {
            let mut st = self
                .conn
                .prepare_cached(
                    "SELECT position, kept, other FROM var_slots WHERE tid = ?1 ORDER BY position",
                )
                .map_err(db(path, "reading variable values"))?;
            let rows = st
                .query_map([tid], |r| {
                    Ok((r.get::<_, i64>(0)?, r.get::<_, i64>(1)?, r.get::<_, i64>(2)?))
                })
                .map_err(db(path, "reading variable values"))?;
            for row in rows {
                let (pos, kept, other) = row.map_err(db(path, "reading variable values"))?;
                let position = u32::try_from(pos)
                    .map_err(|_| corrupt(path, format!("var_slots: template row {tid} position {pos}")))?;
                values.push(VariableValues {
                    position,
                    top: Vec::new(),
                    distinct_kept: count_u64(path, kept, "var_slots.kept")? as usize,
                    other: count_u64(path, other, "var_slots.other")?,
                });
            }
            let mut st = self
                .conn
                .prepare_cached(
                    "SELECT position, value, count FROM var_values WHERE tid = ?1 ORDER BY position, count DESC, value",
                )
                .map_err(db(path, "reading variable values"))?;
            let rows = st
                .query_map([tid], |r| {
                    Ok((r.get::<_, i64>(0)?, r.get::<_, String>(1)?, r.get::<_, i64>(2)?))
                })
                .map_err(db(path, "reading variable values"))?;
            for row in rows {
                let (pos, value, n) = row.map_err(db(path, "reading variable values"))?;
                let n = count_u64(path, n, "var_values.count")?;
                match values.iter_mut().find(|v| i64::from(v.position) == pos) {
                    Some(v) => v.top.push((value, n)),
                    None => {
                        return Err(corrupt(
                            path,
                            format!("var_values: template row {tid} position {pos} has no slot"),
                        ))
                    }
                }
            }
        }
        let mut merged_from = Vec::new();
        {
            let mut st = self
                .conn
                .prepare_cached(
                    "SELECT t.template_id, t.template,
                            COALESCE((SELECT MAX(at_ms) FROM merges mg
                                      WHERE mg.source = t.source AND mg.from_id = t.template_id), 0) AS at
                     FROM templates t WHERE t.source = ?1 AND t.merged_into = ?2 ORDER BY at, t.template_id",
                )
                .map_err(db(path, "reading merges"))?;
            let rows = st
                .query_map(params![source, live], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))
                .map_err(db(path, "reading merges"))?;
            for row in rows {
                merged_from.push(row.map_err(db(path, "reading merges"))?);
            }
        }
        Ok(Some(TemplateDetail {
            row: TemplateRow {
                source: source.to_string(),
                template_id: live.to_string(),
                template,
                count: count_u64(path, total, "templates.total")?,
                first_seen_ms: first_seen,
                last_seen_ms: last_seen,
                series,
            },
            examples,
            values,
            merged_from,
            merged_into,
        }))
    }
}

impl StoreReader for SqliteReader {
    fn sources(&self) -> Result<Vec<SourceInfo>, StoreError> {
        let path = self.p();
        let _snap = self.snapshot()?;
        let mut st = self
            .conn
            .prepare_cached(
                "SELECT s.name, s.first_seen, s.last_seen, COALESCE(t.n, 0), COALESCE(t.lines, 0) FROM sources s
                 LEFT JOIN (SELECT source, COUNT(DISTINCT COALESCE(merged_into, template_id)) AS n, SUM(total) AS lines
                            FROM templates WHERE first_seen IS NOT NULL GROUP BY source) t ON t.source = s.name
                 ORDER BY s.name",
            )
            .map_err(db(path, "reading sources"))?;
        let rows = st
            .query_map([], |r| {
                Ok((
                    r.get::<_, String>(0)?,
                    r.get(1)?,
                    r.get(2)?,
                    r.get::<_, i64>(3)?,
                    r.get::<_, i64>(4)?,
                ))
            })
            .map_err(db(path, "reading sources"))?;
        let mut out = Vec::new();
        for row in rows {
            let (name, first_seen_ms, last_seen_ms, n, lines) = row.map_err(db(path, "reading sources"))?;
            out.push(SourceInfo {
                name,
                templates: count_u64(path, n, "template count")?,
                lines: count_u64(path, lines, "source lines")?,
                first_seen_ms,
                last_seen_ms,
            });
        }
        Ok(out)
    }

    fn templates(&self, q: &TemplateQuery) -> Result<Vec<TemplateRow>, StoreError> {
        let path = self.p();
        let _snap = self.snapshot()?;
        let ranged = q.since_ms.is_some() || q.until_ms.is_some();
        let (lo, hi) = minute_range(q.since_ms, q.until_ms);
        let mut in_range: HashMap<(String, String), i64> = HashMap::new();
        if ranged {
            // Buckets are clustered by minute: one contiguous scan of the range, summed per row id.
            let mut per_tid: HashMap<i64, i64> = HashMap::new();
            let mut st = self
                .conn
                .prepare_cached("SELECT tid, count FROM buckets WHERE minute >= ?1 AND minute < ?2")
                .map_err(db(path, "reading counts in range"))?;
            let mut rows = st
                .query(params![lo, hi])
                .map_err(db(path, "reading counts in range"))?;
            while let Some(r) = rows.next().map_err(db(path, "reading counts in range"))? {
                let (tid, n): (i64, i64) = (
                    r.get(0).map_err(db(path, "reading counts in range"))?,
                    r.get(1).map_err(db(path, "reading counts in range"))?,
                );
                *per_tid.entry(tid).or_insert(0) += n;
            }
            let mut st = self
                .conn
                .prepare_cached(
                    "SELECT id, source, COALESCE(merged_into, template_id) FROM templates WHERE ?1 IS NULL OR source = ?1",
                )
                .map_err(db(path, "reading counts in range"))?;
            let mut rows = st
                .query(params![q.source])
                .map_err(db(path, "reading counts in range"))?;
            while let Some(r) = rows.next().map_err(db(path, "reading counts in range"))? {
                let tid: i64 = r.get(0).map_err(db(path, "reading counts in range"))?;
                if let Some(&n) = per_tid.get(&tid) {
                    let key = (
                        r.get(1).map_err(db(path, "reading counts in range"))?,
                        r.get(2).map_err(db(path, "reading counts in range"))?,
                    );
                    *in_range.entry(key).or_insert(0) += n;
                }
            }
        }
        let needle = q.q.as_deref().map(str::to_lowercase);
        let mut out = Vec::new();
        let mut st = self
            .conn
            .prepare_cached(GROUPS)
            .map_err(db(path, "reading templates"))?;
        let rows = st
            .query_map(params![q.source], |r| {
                Ok(Group {
                    source: r.get(0)?,
                    live: r.get(1)?,
                    template: r.get(2)?,
                    first_seen: r.get(3)?,
                    last_seen: r.get(4)?,
                    total: r.get(5)?,
                })
            })
            .map_err(db(path, "reading templates"))?;
        for row in rows {
            let g = row.map_err(db(path, "reading templates"))?;
            let count = if ranged {
                match in_range.get(&(g.source.clone(), g.live.clone())) {
                    Some(&n) if n > 0 => count_u64(path, n, "a bucket sum")?,
                    _ => continue,
                }
            } else {
                count_u64(path, g.total, "templates.total")?
            };
            if q.new_since_ms.is_some_and(|t| g.first_seen < t) {
                continue;
            }
            if let Some(needle) = &needle {
                if !g.template.to_lowercase().contains(needle.as_str()) {
                    continue;
                }
            }
            out.push(TemplateRow {
                source: g.source,
                template_id: g.live,
                template: g.template,
                count,
                first_seen_ms: g.first_seen,
                last_seen_ms: g.last_seen,
                series: Vec::new(),
            });
        }
        crate::sort_template_rows(&mut out);
        out.truncate(q.limit);
        if q.with_series && out.len() <= FEW_SERIES {
            for row in &mut out {
                row.series = self.series(&row.source, &row.template_id, lo, hi)?;
            }
        } else if q.with_series {
            // Many rows: one scan of the range's buckets, grouped by live
            // template and minute, instead of one query per row.
            let mut index: HashMap<(&str, &str), usize> = HashMap::with_capacity(out.len());
            for (i, row) in out.iter().enumerate() {
                index.insert((row.source.as_str(), row.template_id.as_str()), i);
            }
            let mut series: Vec<Vec<(i64, u64)>> = vec![Vec::new(); out.len()];
            let mut st = self
                .conn
                .prepare_cached(ALL_SERIES)
                .map_err(db(path, "reading series"))?;
            let mut rows = st
                .query(params![lo, hi, q.source])
                .map_err(db(path, "reading series"))?;
            while let Some(r) = rows.next().map_err(db(path, "reading series"))? {
                let source: String = r.get(0).map_err(db(path, "reading series"))?;
                let live: String = r.get(1).map_err(db(path, "reading series"))?;
                if let Some(&i) = index.get(&(source.as_str(), live.as_str())) {
                    let minute: i64 = r.get(2).map_err(db(path, "reading series"))?;
                    let n: i64 = r.get(3).map_err(db(path, "reading series"))?;
                    series[i].push((
                        minute.saturating_mul(BUCKET_MS),
                        count_u64(path, n, "a bucket sum")?,
                    ));
                }
            }
            drop(index);
            for (row, s) in out.iter_mut().zip(series) {
                row.series = s;
            }
        }
        Ok(out)
    }

    fn template(&self, template_id: &str, source: Option<&str>) -> Result<Vec<TemplateDetail>, StoreError> {
        let path = self.p();
        let _snap = self.snapshot()?;
        let found: Vec<(String, String, Option<String>)> = {
            let mut st = self
                .conn
                .prepare_cached(
                    "SELECT source, COALESCE(merged_into, template_id), merged_into FROM templates
                     WHERE template_id = ?1 AND (?2 IS NULL OR source = ?2) ORDER BY source",
                )
                .map_err(db(path, "looking up a template"))?;
            let rows = st
                .query_map(params![template_id, source], |r| {
                    Ok((r.get(0)?, r.get(1)?, r.get(2)?))
                })
                .map_err(db(path, "looking up a template"))?;
            rows.collect::<Result<_, _>>()
                .map_err(db(path, "looking up a template"))?
        };
        let mut out = Vec::new();
        for (source, live, merged_into) in found {
            if let Some(d) = self.detail(&source, &live, merged_into)? {
                out.push(d);
            }
        }
        Ok(out)
    }

    fn alerts(&self, q: &AlertQuery) -> Result<Vec<AlertRow>, StoreError> {
        let path = self.p();
        let mut sql = String::from(
            "SELECT id, at_ms, source, rule_id, title, level, line, template_id, fields, alert FROM alerts WHERE 1",
        );
        let mut args: Vec<&dyn rusqlite::ToSql> = Vec::new();
        if let Some(v) = &q.since_ms {
            sql.push_str(" AND at_ms >= ?");
            args.push(v);
        }
        if let Some(v) = &q.until_ms {
            sql.push_str(" AND at_ms < ?");
            args.push(v);
        }
        if let Some(v) = &q.level {
            sql.push_str(" AND level = ? COLLATE NOCASE");
            args.push(v);
        }
        if let Some(v) = &q.rule {
            sql.push_str(" AND (rule_id = ? OR title = ?)");
            args.push(v);
            args.push(v);
        }
        if let Some(v) = &q.source {
            sql.push_str(" AND source = ?");
            args.push(v);
        }
        if let Some(v) = &q.template_id {
            sql.push_str(
                " AND (template_id = ? OR template_id IN \
                 (SELECT t.template_id FROM templates t WHERE t.source = alerts.source AND t.merged_into = ?))",
            );
            args.push(v);
            args.push(v);
        }
        let limit = i64::try_from(q.limit).unwrap_or(i64::MAX);
        sql.push_str(" ORDER BY at_ms DESC, id DESC LIMIT ?");
        args.push(&limit);
        let mut st = self
            .conn
            .prepare_cached(&sql)
            .map_err(db(path, "reading alerts"))?;
        let rows = st
            .query_map(args.as_slice(), |r| {
                Ok((
                    r.get::<_, i64>(0)?,
                    AlertRecord {
                        at_ms: r.get(1)?,
                        source: r.get(2)?,
                        rule_id: r.get(3)?,
                        title: r.get(4)?,
                        level: r.get(5)?,
                        line: r.get(6)?,
                        template_id: r.get(7)?,
                        fields: serde_json::Value::Null,
                        alert: serde_json::Value::Null,
                    },
                    r.get::<_, String>(8)?,
                    r.get::<_, String>(9)?,
                ))
            })
            .map_err(db(path, "reading alerts"))?;
        let mut out = Vec::new();
        for row in rows {
            let (id, mut record, fields, alert) = row.map_err(db(path, "reading alerts"))?;
            record.fields = serde_json::from_str(&fields)
                .map_err(|e| corrupt(path, format!("alerts id {id}: fields is not JSON: {e}")))?;
            record.alert = serde_json::from_str(&alert)
                .map_err(|e| corrupt(path, format!("alerts id {id}: alert is not JSON: {e}")))?;
            out.push(AlertRow { id, record });
        }
        Ok(out)
    }

    fn lines(
        &self,
        source: Option<&str>,
        since_ms: Option<i64>,
        until_ms: Option<i64>,
    ) -> Result<u64, StoreError> {
        let path = self.p();
        let (lo, hi) = minute_range(since_ms, until_ms);
        let n: i64 = match source {
            None => self
                .conn
                .prepare_cached(
                    "SELECT COALESCE(SUM(count), 0) FROM buckets WHERE minute >= ?1 AND minute < ?2",
                )
                .and_then(|mut st| st.query_row(params![lo, hi], |r| r.get(0))),
            Some(s) => self
                .conn
                .prepare_cached(
                    // `+tid`: scan the minute range on the primary key (contiguous) rather than
                    // seek the tid index and look every row up.
                    "SELECT COALESCE(SUM(count), 0) FROM buckets
                     WHERE minute >= ?1 AND minute < ?2 AND +tid IN (SELECT id FROM templates WHERE source = ?3)",
                )
                .and_then(|mut st| st.query_row(params![lo, hi, s], |r| r.get(0))),
        }
        .map_err(db(path, "counting lines"))?;
        count_u64(path, n, "a bucket sum")
    }

    fn partitions(&self) -> Result<Vec<PartitionInfo>, StoreError> {
        let path = self.p();
        let mut st = self
            .conn
            .prepare_cached(
                "SELECT p.partition, p.owner, p.epoch, p.applied_seq, p.checkpoint_seq,
                        (SELECT COUNT(*) FROM partition_states s WHERE s.partition = p.partition), p.updated_ms
                 FROM partitions p ORDER BY p.partition",
            )
            .map_err(db(path, "reading partitions"))?;
        let rows = st
            .query_map([], |r| {
                Ok((
                    r.get::<_, i64>(0)?,
                    r.get::<_, Option<String>>(1)?,
                    r.get::<_, i64>(2)?,
                    r.get::<_, i64>(3)?,
                    r.get::<_, i64>(4)?,
                    r.get::<_, i64>(5)?,
                    r.get::<_, i64>(6)?,
                ))
            })
            .map_err(db(path, "reading partitions"))?;
        let mut out = Vec::new();
        for row in rows {
            let (partition, owner, epoch, applied, checkpoint, sources, updated_ms) =
                row.map_err(db(path, "reading partitions"))?;
            out.push(PartitionInfo {
                partition: u32::try_from(partition)
                    .map_err(|_| corrupt(path, format!("partitions: partition number {partition}")))?,
                owner,
                epoch: count_u64(path, epoch, "partitions.epoch")?,
                applied_seq: count_u64(path, applied, "partitions.applied_seq")?,
                checkpoint_seq: count_u64(path, checkpoint, "partitions.checkpoint_seq")?,
                checkpoint_sources: count_u64(path, sources, "a checkpoint source count")?,
                updated_ms,
            });
        }
        Ok(out)
    }
}
