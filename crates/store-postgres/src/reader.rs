//! Readers: one pooled connection each; every call reads one snapshot (a repeatable-read,
//! read-only transaction).

use std::cell::RefCell;
use std::collections::HashMap;
use std::sync::Arc;

use logsieve_store::{
    AlertQuery, AlertRecord, AlertRow, PartitionInfo, SourceInfo, StoreError, StoreReader, TemplateDetail,
    TemplateQuery, TemplateRow, VariableValues, BUCKET_MS, MAX_EXAMPLES,
};
use postgres::{Client, IsolationLevel, Transaction};

use crate::{corrupt, count_u64, pg_err, Pool, Settings};

/// A reader of a PostgreSQL store over one pooled connection (given back when dropped).
pub struct PgReader {
    pool: Arc<Pool>,
    /// The connection and whether it came from the pool (it may have died there).
    client: RefCell<Option<(Client, bool)>>,
}

impl std::fmt::Debug for PgReader {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PgReader")
            .field("place", &self.pool.settings.place)
            .finish()
    }
}

impl Drop for PgReader {
    fn drop(&mut self) {
        if let Some((c, _)) = self.client.get_mut().take() {
            self.pool.put(c);
        }
    }
}

/// Minute bounds `[lo, hi)` of the buckets that overlap `[since, until)`.
fn minute_range(since_ms: Option<i64>, until_ms: Option<i64>) -> (i64, i64) {
    let lo = since_ms.map_or(i64::MIN, |s| s.div_euclid(BUCKET_MS));
    let hi = until_ms.map_or(i64::MAX, |u| {
        u.div_euclid(BUCKET_MS) + i64::from(u.rem_euclid(BUCKET_MS) != 0)
    });
    (lo, hi)
}

/// The rows of one merge group (live `$2` in source `$1` and everything merged into it).
macro_rules! members {
    () => {
        "WITH g AS (
            SELECT id, template_id, first_seen, last_seen, total FROM templates WHERE source = $1 AND template_id = $2
            UNION ALL
            SELECT id, template_id, first_seen, last_seen, total FROM templates WHERE source = $1 AND merged_into = $2) "
    };
}

const GROUP_OF: &str = concat!(
    members!(),
    "SELECT (SELECT template FROM templates WHERE source = $1 AND template_id = $2),
            MIN(first_seen), MAX(last_seen), COALESCE(SUM(total), 0)::int8,
            (SELECT id FROM templates WHERE source = $1 AND template_id = $2)
     FROM g"
);

const SERIES: &str = concat!(
    members!(),
    "SELECT b.minute, SUM(b.count)::int8 FROM g JOIN buckets b ON b.tid = g.id
     WHERE b.minute >= $3 AND b.minute < $4 GROUP BY b.minute ORDER BY b.minute"
);

/// The series of several merge groups: (source, live) pairs in `$1`, `$2`; minutes in
/// `[$3, $4)`.
const SERIES_OF_MANY: &str = "
WITH k AS (SELECT DISTINCT * FROM UNNEST($1::text[], $2::text[]) AS k(source, live)),
g AS (SELECT k.source, k.live, t.id FROM k JOIN templates t ON t.source = k.source AND t.template_id = k.live
      UNION ALL
      SELECT k.source, k.live, t.id FROM k JOIN templates t ON t.source = k.source AND t.merged_into = k.live)
SELECT g.source, g.live, b.minute, SUM(b.count)::int8 FROM g JOIN buckets b ON b.tid = g.id
WHERE b.minute >= $3 AND b.minute < $4
GROUP BY g.source, g.live, b.minute ORDER BY g.source, g.live, b.minute";

const EXAMPLES: &str = concat!(
    members!(),
    "SELECT e.line FROM g JOIN examples e ON e.tid = g.id
     ORDER BY (g.template_id = $2) DESC, g.first_seen NULLS FIRST, g.id, e.seq"
);

const GROUPS: &str = "
SELECT g.source, g.live, l.template, g.fs, g.ls, g.total FROM (
    SELECT source, COALESCE(merged_into, template_id) AS live, MIN(first_seen) AS fs, MAX(last_seen) AS ls,
           SUM(total)::int8 AS total
    FROM templates WHERE $1::text IS NULL OR source = $1 GROUP BY source, COALESCE(merged_into, template_id)) g
JOIN templates l ON l.source = g.source AND l.template_id = g.live
WHERE g.fs IS NOT NULL";

const UPPER: &str = "ABCDEFGHIJKLMNOPQRSTUVWXYZ";
const LOWER: &str = "abcdefghijklmnopqrstuvwxyz";

impl PgReader {
    pub(crate) fn new(pool: Arc<Pool>) -> Result<Self, StoreError> {
        let client = pool.get()?;
        Ok(PgReader {
            pool,
            client: RefCell::new(Some(client)),
        })
    }

    fn s(&self) -> &Settings {
        &self.pool.settings
    }

    /// Runs `f` in a read-only snapshot. A pooled connection that turns out dead is replaced
    /// by a new one and `f` runs again once; a connection that fails is not reused.
    fn read<T>(
        &self,
        f: impl Fn(&Settings, &mut Transaction<'_>) -> Result<T, StoreError>,
    ) -> Result<T, StoreError> {
        let mut slot = self.client.borrow_mut();
        loop {
            if slot.is_none() {
                *slot = Some((self.s().connect()?, false));
            }
            let (client, pooled) = slot.as_mut().expect("set above");
            let pooled = *pooled;
            let r = (|| {
                let mut tx = client
                    .build_transaction()
                    .isolation_level(IsolationLevel::RepeatableRead)
                    .read_only(true)
                    .start()
                    .map_err(pg_err(self.s(), "beginning a read"))?;
                let out = f(self.s(), &mut tx)?;
                tx.commit().map_err(pg_err(self.s(), "ending a read"))?;
                Ok(out)
            })();
            match r {
                Err(StoreError::Unavailable { .. }) if pooled => {
                    *slot = None;
                    continue;
                }
                Err(StoreError::Unavailable { what, source }) => {
                    *slot = None;
                    return Err(StoreError::Unavailable { what, source });
                }
                other => return other,
            }
        }
    }

    fn series(
        s: &Settings,
        tx: &mut Transaction<'_>,
        source: &str,
        live: &str,
        lo: i64,
        hi: i64,
    ) -> Result<Vec<(i64, u64)>, StoreError> {
        let rows = tx
            .query(SERIES, &[&source, &live, &lo, &hi])
            .map_err(pg_err(s, "reading a series"))?;
        let mut out = Vec::with_capacity(rows.len());
        for r in rows {
            let (minute, n): (i64, i64) = (r.get(0), r.get(1));
            out.push((minute.saturating_mul(BUCKET_MS), count_u64(s, n, "a bucket sum")?));
        }
        Ok(out)
    }

    fn detail(
        s: &Settings,
        tx: &mut Transaction<'_>,
        source: &str,
        live: &str,
        merged_into: Option<String>,
    ) -> Result<Option<TemplateDetail>, StoreError> {
        let e = |what: &'static str| pg_err(s, what);
        let group = tx
            .query_opt(GROUP_OF, &[&source, &live])
            .map_err(e("reading a template"))?
            .map(|r| {
                (
                    r.get::<_, Option<String>>(0),
                    r.get::<_, Option<i64>>(1),
                    r.get::<_, Option<i64>>(2),
                    r.get::<_, i64>(3),
                    r.get::<_, Option<i64>>(4),
                )
            });
        let Some((Some(template), Some(first_seen), Some(last_seen), total, Some(tid))) = group else {
            return Ok(None);
        };
        let series = Self::series(s, tx, source, live, i64::MIN, i64::MAX)?;
        let mut examples: Vec<String> = Vec::new();
        for r in tx
            .query(EXAMPLES, &[&source, &live])
            .map_err(e("reading examples"))?
        {
            let line: String = r.get(0);
            if examples.len() >= MAX_EXAMPLES {
                break;
            }
            if !examples.contains(&line) {
                examples.push(line);
            }
        }
        let mut values: Vec<VariableValues> = Vec::new();
        for r in tx
            .query(
                "SELECT position, kept, other FROM var_slots WHERE tid = $1 ORDER BY position",
                &[&tid],
            )
            .map_err(e("reading variable values"))?
        {
            let (pos, kept, other): (i64, i32, i64) = (r.get(0), r.get(1), r.get(2));
            let position = u32::try_from(pos)
                .map_err(|_| corrupt(s, format!("var_slots: template row {tid} position {pos}")))?;
            values.push(VariableValues {
                position,
                top: Vec::new(),
                distinct_kept: count_u64(s, i64::from(kept), "var_slots.kept")? as usize,
                other: count_u64(s, other, "var_slots.other")?,
            });
        }
        for r in tx
            .query(
                "SELECT position, value, count FROM var_values WHERE tid = $1 ORDER BY position, count DESC, value",
                &[&tid],
            )
            .map_err(e("reading variable values"))?
        {
            let (pos, value, n): (i64, String, i64) = (r.get(0), r.get(1), r.get(2));
            let n = count_u64(s, n, "var_values.count")?;
            match values.iter_mut().find(|v| i64::from(v.position) == pos) {
                Some(v) => v.top.push((value, n)),
                None => {
                    return Err(corrupt(
                        s,
                        format!("var_values: template row {tid} position {pos} has no slot"),
                    ))
                }
            }
        }
        let merged_from = tx
            .query(
                "SELECT t.template_id, t.template,
                        COALESCE((SELECT MAX(at_ms) FROM merges mg
                                  WHERE mg.source = t.source AND mg.from_id = t.template_id), 0) AS at
                 FROM templates t WHERE t.source = $1 AND t.merged_into = $2 ORDER BY at, t.template_id",
                &[&source, &live],
            )
            .map_err(e("reading merges"))?
            .iter()
            .map(|r| (r.get(0), r.get(1), r.get(2)))
            .collect();
        Ok(Some(TemplateDetail {
            row: TemplateRow {
                source: source.to_string(),
                template_id: live.to_string(),
                template,
                count: count_u64(s, total, "templates.total")?,
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

impl StoreReader for PgReader {
    fn sources(&self) -> Result<Vec<SourceInfo>, StoreError> {
        self.read(|s, tx| {
            let rows = tx
                .query(
                    "SELECT s.name, s.first_seen, s.last_seen, COALESCE(t.n, 0)::int8, COALESCE(t.lines, 0)::int8
                     FROM sources s
                     LEFT JOIN (SELECT source, COUNT(DISTINCT COALESCE(merged_into, template_id)) AS n,
                                       SUM(total) AS lines
                                FROM templates WHERE first_seen IS NOT NULL GROUP BY source) t ON t.source = s.name
                     ORDER BY s.name",
                    &[],
                )
                .map_err(pg_err(s, "reading sources"))?;
            let mut out = Vec::with_capacity(rows.len());
            for r in rows {
                out.push(SourceInfo {
                    name: r.get(0),
                    first_seen_ms: r.get(1),
                    last_seen_ms: r.get(2),
                    templates: count_u64(s, r.get(3), "template count")?,
                    lines: count_u64(s, r.get(4), "source lines")?,
                });
            }
            Ok(out)
        })
    }

    fn templates(&self, q: &TemplateQuery) -> Result<Vec<TemplateRow>, StoreError> {
        self.read(|s, tx| {
            let ranged = q.since_ms.is_some() || q.until_ms.is_some();
            let (lo, hi) = minute_range(q.since_ms, q.until_ms);
            let mut in_range: HashMap<(String, String), i64> = HashMap::new();
            if ranged {
                for r in tx
                    .query(
                        // Summed per row id first (one scan of the range on the primary key),
                        // then per merge group: the join sees one row per template, not per bucket.
                        "SELECT t.source, COALESCE(t.merged_into, t.template_id), SUM(b.n)::int8
                         FROM (SELECT tid, SUM(count) AS n FROM buckets WHERE minute >= $1 AND minute < $2
                               GROUP BY tid) b
                         JOIN templates t ON t.id = b.tid
                         WHERE $3::text IS NULL OR t.source = $3
                         GROUP BY 1, 2",
                        &[&lo, &hi, &q.source],
                    )
                    .map_err(pg_err(s, "reading counts in range"))?
                {
                    in_range.insert((r.get(0), r.get(1)), r.get(2));
                }
            }
            let needle = q.q.as_deref().map(str::to_lowercase);
            let mut out = Vec::new();
            for r in tx
                .query(GROUPS, &[&q.source])
                .map_err(pg_err(s, "reading templates"))?
            {
                let (source, live, template, first_seen, last_seen, total): (
                    String,
                    String,
                    String,
                    i64,
                    i64,
                    i64,
                ) = (r.get(0), r.get(1), r.get(2), r.get(3), r.get(4), r.get(5));
                let count = if ranged {
                    match in_range.get(&(source.clone(), live.clone())) {
                        Some(&n) if n > 0 => count_u64(s, n, "a bucket sum")?,
                        _ => continue,
                    }
                } else {
                    count_u64(s, total, "templates.total")?
                };
                if q.new_since_ms.is_some_and(|t| first_seen < t) {
                    continue;
                }
                if let Some(needle) = &needle {
                    if !template.to_lowercase().contains(needle.as_str()) {
                        continue;
                    }
                }
                out.push(TemplateRow {
                    source,
                    template_id: live,
                    template,
                    count,
                    first_seen_ms: first_seen,
                    last_seen_ms: last_seen,
                    series: Vec::new(),
                });
            }
            logsieve_store::sort_template_rows(&mut out);
            out.truncate(q.limit);
            if q.with_series && !out.is_empty() {
                // All the rows' series in one statement.
                let sources: Vec<&str> = out.iter().map(|r| r.source.as_str()).collect();
                let lives: Vec<&str> = out.iter().map(|r| r.template_id.as_str()).collect();
                let mut series: HashMap<(String, String), Vec<(i64, u64)>> = HashMap::new();
                for r in tx
                    .query(SERIES_OF_MANY, &[&sources, &lives, &lo, &hi])
                    .map_err(pg_err(s, "reading series"))?
                {
                    let (source, live, minute, n): (String, String, i64, i64) =
                        (r.get(0), r.get(1), r.get(2), r.get(3));
                    series
                        .entry((source, live))
                        .or_default()
                        .push((minute.saturating_mul(BUCKET_MS), count_u64(s, n, "a bucket sum")?));
                }
                for row in &mut out {
                    row.series = series
                        .remove(&(row.source.clone(), row.template_id.clone()))
                        .unwrap_or_default();
                }
            }
            Ok(out)
        })
    }

    fn template(&self, template_id: &str, source: Option<&str>) -> Result<Vec<TemplateDetail>, StoreError> {
        self.read(|s, tx| {
            let found: Vec<(String, String, Option<String>)> = tx
                .query(
                    "SELECT source, COALESCE(merged_into, template_id), merged_into FROM templates
                     WHERE template_id = $1 AND ($2::text IS NULL OR source = $2) ORDER BY source",
                    &[&template_id, &source],
                )
                .map_err(pg_err(s, "looking up a template"))?
                .iter()
                .map(|r| (r.get(0), r.get(1), r.get(2)))
                .collect();
            let mut out = Vec::new();
            for (source, live, merged_into) in found {
                if let Some(d) = Self::detail(s, tx, &source, &live, merged_into)? {
                    out.push(d);
                }
            }
            Ok(out)
        })
    }

    fn alerts(&self, q: &AlertQuery) -> Result<Vec<AlertRow>, StoreError> {
        let limit = i64::try_from(q.limit).unwrap_or(i64::MAX);
        self.read(|s, tx| {
            let mut sql = String::from(
                "SELECT id, at_ms, source, rule_id, title, level, line, template_id, fields, alert FROM alerts WHERE true",
            );
            type Arg<'a> = &'a (dyn postgres::types::ToSql + Sync);
            let level_lower = q.level.as_ref().map(|l| l.to_ascii_lowercase());
            let level_sql = format!(" AND translate(level, '{UPPER}', '{LOWER}') = $?");
            let mut filters: Vec<(&str, Arg<'_>)> = Vec::new();
            if let Some(v) = &q.since_ms {
                filters.push((" AND at_ms >= $?", v));
            }
            if let Some(v) = &q.until_ms {
                filters.push((" AND at_ms < $?", v));
            }
            if let Some(v) = &level_lower {
                filters.push((&level_sql, v));
            }
            if let Some(v) = &q.rule {
                filters.push((" AND (rule_id = $? OR title = $?)", v));
            }
            if let Some(v) = &q.source {
                filters.push((" AND source = $?", v));
            }
            if let Some(v) = &q.template_id {
                filters.push((
                    " AND (template_id = $? OR template_id IN
                       (SELECT t.template_id FROM templates t WHERE t.source = alerts.source AND t.merged_into = $?))",
                    v,
                ));
            }
            filters.push((" ORDER BY at_ms DESC, id DESC LIMIT $?", &limit));
            let mut args: Vec<Arg<'_>> = Vec::with_capacity(filters.len());
            for (i, (fragment, v)) in filters.into_iter().enumerate() {
                sql.push_str(&fragment.replace("$?", &format!("${}", i + 1)));
                args.push(v);
            }
            let rows = tx
                .query(sql.as_str(), &args)
                .map_err(pg_err(s, "reading alerts"))?;
            let mut out = Vec::with_capacity(rows.len());
            for r in rows {
                let id: i64 = r.get(0);
                let (fields, alert): (String, String) = (r.get(8), r.get(9));
                out.push(AlertRow {
                    id,
                    record: AlertRecord {
                        at_ms: r.get(1),
                        source: r.get(2),
                        rule_id: r.get(3),
                        title: r.get(4),
                        level: r.get(5),
                        line: r.get(6),
                        template_id: r.get(7),
                        fields: serde_json::from_str(&fields)
                            .map_err(|e| corrupt(s, format!("alerts id {id}: fields is not JSON: {e}")))?,
                        alert: serde_json::from_str(&alert)
                            .map_err(|e| corrupt(s, format!("alerts id {id}: alert is not JSON: {e}")))?,
                    },
                });
            }
            Ok(out)
        })
    }

    fn lines(
        &self,
        source: Option<&str>,
        since_ms: Option<i64>,
        until_ms: Option<i64>,
    ) -> Result<u64, StoreError> {
        let (lo, hi) = minute_range(since_ms, until_ms);
        self.read(|s, tx| {
            let n: i64 = match source {
                None => tx.query_one(
                    "SELECT COALESCE(SUM(count), 0)::int8 FROM buckets WHERE minute >= $1 AND minute < $2",
                    &[&lo, &hi],
                ),
                Some(src) => tx.query_one(
                    "SELECT COALESCE(SUM(count), 0)::int8 FROM buckets
                     WHERE minute >= $1 AND minute < $2 AND tid IN (SELECT id FROM templates WHERE source = $3)",
                    &[&lo, &hi, &src],
                ),
            }
            .map_err(pg_err(s, "counting lines"))?
            .get(0);
            count_u64(s, n, "a bucket sum")
        })
    }

    fn partitions(&self) -> Result<Vec<PartitionInfo>, StoreError> {
        self.read(|s, tx| {
            let rows = tx
                .query(
                    "SELECT p.part, p.owner, p.epoch, p.applied_seq, p.checkpoint_seq,
                            (SELECT COUNT(*) FROM partition_states ps WHERE ps.part = p.part), p.updated_ms
                     FROM partitions p ORDER BY p.part",
                    &[],
                )
                .map_err(pg_err(s, "reading partitions"))?;
            let mut out = Vec::with_capacity(rows.len());
            for r in rows {
                let part: i64 = r.get(0);
                out.push(PartitionInfo {
                    partition: u32::try_from(part)
                        .map_err(|_| corrupt(s, format!("partitions: partition number {part}")))?,
                    owner: r.get(1),
                    epoch: count_u64(s, r.get(2), "partitions.epoch")?,
                    applied_seq: count_u64(s, r.get(3), "partitions.applied_seq")?,
                    checkpoint_seq: count_u64(s, r.get(4), "partitions.checkpoint_seq")?,
                    checkpoint_sources: count_u64(s, r.get(5), "a checkpoint source count")?,
                    updated_ms: r.get(6),
                });
            }
            Ok(out)
        })
    }
}
