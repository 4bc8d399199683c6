//! The writer: one connection, one transaction per commit, multi-row statements.

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;
use std::time::Instant;

use logsieve_store::{
    fence_reason, now_ms, validate_batch, CommitBatch, CommitInfo, MergeRecord, PartitionAdvance,
    PartitionClaim, RetainInfo, StoreError, StoreWriter, BUCKET_MS, MAX_EXAMPLES, MAX_VALUES,
};
use postgres::{Client, Transaction};

use crate::{count_u64, pg_err, Settings};

/// The writer of a PostgreSQL store. It reconnects on the call after a lost connection.
pub struct PgWriter {
    s: Arc<Settings>,
    client: Option<Client>,
}

impl std::fmt::Debug for PgWriter {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PgWriter").field("place", &self.s.place).finish()
    }
}

impl PgWriter {
    pub(crate) fn new(s: Arc<Settings>, client: Client) -> Self {
        PgWriter {
            s,
            client: Some(client),
        }
    }

    /// Where the store is ("postgres://user@host:port/db schema s").
    pub fn place(&self) -> &str {
        &self.s.place
    }

    /// Runs `f` on the connection, connecting first when there is none (or it closed); drops
    /// the connection when `f` finds the server unavailable, so the next call reconnects.
    fn with<T>(
        &mut self,
        f: impl FnOnce(&Settings, &mut Client) -> Result<T, StoreError>,
    ) -> Result<T, StoreError> {
        if self.client.as_ref().is_none_or(Client::is_closed) {
            self.client = None;
            self.client = Some(self.s.connect()?);
        }
        let client = self.client.as_mut().expect("connected above");
        let r = f(&self.s, client);
        if matches!(r, Err(StoreError::Unavailable { .. })) {
            self.client = None;
        }
        r
    }
}

/// All deltas of one (source, template id) in a batch, combined in batch order.
struct Agg<'a> {
    source: &'a str,
    id: &'a str,
    /// The last non-empty text ("" keeps the stored one).
    template: &'a str,
    first: i64,
    last: i64,
    count: i64,
    examples: Vec<&'a str>,
    buckets: BTreeMap<i64, i64>,
    /// Non-zero value increments in batch order.
    values: Vec<(u32, &'a str, i64)>,
    other: BTreeMap<u32, i64>,
}

fn apply_merge(s: &Settings, tx: &mut Transaction<'_>, i: usize, m: &MergeRecord) -> Result<(), StoreError> {
    let e = || pg_err(s, format!("applying merges[{i}]"));
    let live_of = "SELECT COALESCE(merged_into, template_id), template FROM templates WHERE source = $1 AND template_id = $2";
    let to: Option<(String, String)> = tx
        .query_opt(live_of, &[&m.source, &m.to_id])
        .map_err(e())?
        .map(|r| (r.get(0), r.get(1)));
    let target = to.as_ref().map_or(m.to_id.as_str(), |(live, _)| live.as_str());
    if target == m.from_id {
        // `to` already ended in `from`: merging would make a cycle.
        return Ok(());
    }
    let from_text: Option<String> = tx
        .query_opt(live_of, &[&m.source, &m.from_id])
        .map_err(e())?
        .map(|r| r.get(1));
    let placeholder = "INSERT INTO templates(source, template_id, template) VALUES ($1, $2, $3)
                       ON CONFLICT (source, template_id) DO NOTHING";
    if to.is_none() {
        tx.execute(
            placeholder,
            &[&m.source, &target, &from_text.as_deref().unwrap_or("")],
        )
        .map_err(e())?;
    }
    if from_text.is_none() {
        tx.execute(placeholder, &[&m.source, &m.from_id, &""])
            .map_err(e())?;
    }
    tx.execute(
        "UPDATE templates SET merged_into = $3 WHERE source = $1 AND (template_id = $2 OR merged_into = $2)",
        &[&m.source, &m.from_id, &target],
    )
    .map_err(e())?;
    tx.execute(
        "INSERT INTO merges(source, from_id, to_id, at_ms) VALUES ($1, $2, $3, $4)",
        &[&m.source, &m.from_id, &m.to_id, &m.at_ms],
    )
    .map_err(e())?;
    Ok(())
}

/// Checks and applies one partition advance; `Ok(Some(why))` when it is fenced.
fn advance_partition(
    s: &Settings,
    tx: &mut Transaction<'_>,
    i: usize,
    a: &PartitionAdvance,
    now: i64,
) -> Result<Option<String>, StoreError> {
    let e = || {
        pg_err(
            s,
            format!("advancing partitions[{i}] (partition {})", a.partition),
        )
    };
    let part = i64::from(a.partition);
    // Fits: checked by `validate_batch`.
    let (epoch, from, to) = (a.epoch as i64, a.from_seq as i64, a.to_seq as i64);
    // The row lock taken here serialises this commit with a concurrent claim.
    let n = tx
        .execute(
            "UPDATE partitions SET applied_seq = $4, updated_ms = $5
             WHERE part = $1 AND epoch = $2 AND applied_seq = $3",
            &[&part, &epoch, &from, &to, &now],
        )
        .map_err(e())?;
    if n == 0 {
        let stored = tx
            .query_opt(
                "SELECT epoch, applied_seq FROM partitions WHERE part = $1",
                &[&part],
            )
            .map_err(e())?
            .map(|r| (r.get::<_, i64>(0), r.get::<_, i64>(1)));
        return Ok(Some(fence_reason(stored, a)));
    }
    if let Some(states) = &a.checkpoint {
        tx.execute("DELETE FROM partition_states WHERE part = $1", &[&part])
            .map_err(e())?;
        let sources: Vec<&str> = states.iter().map(|(s, _)| s.as_str()).collect();
        let blobs: Vec<&[u8]> = states.iter().map(|(_, b)| b.as_slice()).collect();
        tx.execute(
            "INSERT INTO partition_states(part, source, state)
             SELECT $1, u.source, u.state FROM UNNEST($2::text[], $3::bytea[]) AS u(source, state)",
            &[&part, &sources, &blobs],
        )
        .map_err(e())?;
        tx.execute(
            "UPDATE partitions SET checkpoint_seq = $2 WHERE part = $1",
            &[&part, &to],
        )
        .map_err(e())?;
    }
    Ok(None)
}

/// Combines the batch's deltas per (source, template id), in first-appearance order.
fn aggregate(batch: &CommitBatch) -> Vec<Agg<'_>> {
    let mut index: HashMap<(&str, &str), usize> = HashMap::new();
    let mut out: Vec<Agg<'_>> = Vec::new();
    for d in &batch.templates {
        let i = *index
            .entry((d.source.as_str(), d.template_id.as_str()))
            .or_insert_with(|| {
                out.push(Agg {
                    source: &d.source,
                    id: &d.template_id,
                    template: "",
                    first: d.first_seen_ms,
                    last: d.last_seen_ms,
                    count: 0,
                    examples: Vec::new(),
                    buckets: BTreeMap::new(),
                    values: Vec::new(),
                    other: BTreeMap::new(),
                });
                out.len() - 1
            });
        let a = &mut out[i];
        if !d.template.is_empty() {
            a.template = &d.template;
        }
        a.first = a.first.min(d.first_seen_ms);
        a.last = a.last.max(d.last_seen_ms);
        // Counts fit an i64 (validate_batch); their sum within one commit is assumed to.
        a.count = a.count.saturating_add(d.count as i64);
        a.examples.extend(d.examples.iter().map(String::as_str));
        for &(minute, n) in &d.buckets {
            if n > 0 {
                *a.buckets.entry(minute).or_insert(0) += n as i64;
            }
        }
        for (pos, value, n) in &d.values {
            if *n > 0 {
                a.values.push((*pos, value, *n as i64));
            }
        }
        for &(pos, n) in &d.other {
            if n > 0 {
                *a.other.entry(pos).or_insert(0) += n as i64;
            }
        }
    }
    out
}

/// Applies the template deltas with one multi-row statement per table.
fn apply_deltas(s: &Settings, tx: &mut Transaction<'_>, aggs: &[Agg<'_>]) -> Result<(), StoreError> {
    if aggs.is_empty() {
        return Ok(());
    }
    let e = |what: &'static str| pg_err(s, what);
    // 1. Templates, in key order (a stable lock order between concurrent writers).
    let mut order: Vec<usize> = (0..aggs.len()).collect();
    order.sort_by(|&a, &b| (aggs[a].source, aggs[a].id).cmp(&(aggs[b].source, aggs[b].id)));
    let col = |f: &dyn Fn(&Agg<'_>) -> String| order.iter().map(|&i| f(&aggs[i])).collect::<Vec<String>>();
    let sources = col(&|a| a.source.to_string());
    let ids = col(&|a| a.id.to_string());
    let texts = col(&|a| a.template.to_string());
    let firsts: Vec<i64> = order.iter().map(|&i| aggs[i].first).collect();
    let lasts: Vec<i64> = order.iter().map(|&i| aggs[i].last).collect();
    let counts: Vec<i64> = order.iter().map(|&i| aggs[i].count).collect();
    let rows = tx
        .query(
            "INSERT INTO templates AS t (source, template_id, template, first_seen, last_seen, total)
             SELECT * FROM UNNEST($1::text[], $2::text[], $3::text[], $4::int8[], $5::int8[], $6::int8[])
             ON CONFLICT (source, template_id) DO UPDATE SET
                 template = CASE WHEN excluded.template = '' THEN t.template ELSE excluded.template END,
                 first_seen = LEAST(COALESCE(t.first_seen, excluded.first_seen), excluded.first_seen),
                 last_seen = GREATEST(COALESCE(t.last_seen, excluded.last_seen), excluded.last_seen),
                 total = t.total + excluded.total
             RETURNING id, source, template_id, n_examples",
            &[&sources, &ids, &texts, &firsts, &lasts, &counts],
        )
        .map_err(e("upserting templates"))?;
    let mut tid_of: HashMap<(String, String), (i64, i32)> = HashMap::with_capacity(rows.len());
    for r in rows {
        tid_of.insert((r.get(1), r.get(2)), (r.get(0), r.get(3)));
    }
    let tid = |a: &Agg<'_>| -> Result<(i64, i32), StoreError> {
        tid_of
            .get(&(a.source.to_string(), a.id.to_string()))
            .copied()
            .ok_or_else(|| StoreError::Backend {
                what: format!("{}: upserting templates", s.place),
                source: format!("no row id returned for {}/{}", a.source, a.id).into(),
            })
    };

    // 2. Buckets: summed per (minute, tid), in primary key order.
    let mut buckets: BTreeMap<(i64, i64), i64> = BTreeMap::new();
    for a in aggs {
        let (id, _) = tid(a)?;
        for (&minute, &n) in &a.buckets {
            *buckets.entry((minute, id)).or_insert(0) += n;
        }
    }
    if !buckets.is_empty() {
        let minutes: Vec<i64> = buckets.keys().map(|k| k.0).collect();
        let tids: Vec<i64> = buckets.keys().map(|k| k.1).collect();
        let ns: Vec<i64> = buckets.values().copied().collect();
        tx.execute(
            "INSERT INTO buckets AS b (tid, minute, count)
             SELECT * FROM UNNEST($1::int8[], $2::int8[], $3::int8[])
             ON CONFLICT (minute, tid) DO UPDATE SET count = b.count + excluded.count",
            &[&tids, &minutes, &ns],
        )
        .map_err(e("adding bucket counts"))?;
    }

    // 3. Variable values: per (tid, position), distinct values in first-seen order with
    // their summed increments. Kept ones are bumped; new ones fill the free slots in order;
    // the rest count as other.
    let mut slots: BTreeMap<(i64, i64), Vec<(&str, i64)>> = BTreeMap::new();
    let mut other: BTreeMap<(i64, i64), i64> = BTreeMap::new();
    for a in aggs {
        let (id, _) = tid(a)?;
        for &(pos, value, n) in &a.values {
            let list = slots.entry((id, i64::from(pos))).or_default();
            match list.iter_mut().find(|(v, _)| *v == value) {
                Some(entry) => entry.1 += n,
                None => list.push((value, n)),
            }
        }
        for (&pos, &n) in &a.other {
            *other.entry((id, i64::from(pos))).or_insert(0) += n;
        }
    }
    let mut kept_add: BTreeMap<(i64, i64), i64> = BTreeMap::new();
    if !slots.is_empty() {
        let (mut t, mut p, mut v, mut n) = (Vec::new(), Vec::new(), Vec::new(), Vec::new());
        for (&(id, pos), list) in &slots {
            for &(value, c) in list {
                t.push(id);
                p.push(pos);
                v.push(value);
                n.push(c);
            }
        }
        let bumped: std::collections::HashSet<(i64, i64, String)> = tx
            .query(
                "UPDATE var_values AS v SET count = v.count + u.n
                 FROM UNNEST($1::int8[], $2::int8[], $3::text[], $4::int8[]) AS u(tid, pos, value, n)
                 WHERE v.tid = u.tid AND v.position = u.pos AND v.value = u.value
                 RETURNING v.tid, v.position, v.value",
                &[&t, &p, &v, &n],
            )
            .map_err(e("adding to kept values"))?
            .iter()
            .map(|r| (r.get(0), r.get(1), r.get(2)))
            .collect();
        let keys: Vec<(i64, i64)> = slots.keys().copied().collect();
        let kt: Vec<i64> = keys.iter().map(|k| k.0).collect();
        let kp: Vec<i64> = keys.iter().map(|k| k.1).collect();
        let kept: HashMap<(i64, i64), i64> = tx
            .query(
                "SELECT s.tid, s.position, s.kept FROM var_slots s
                 JOIN UNNEST($1::int8[], $2::int8[]) AS u(tid, pos) ON s.tid = u.tid AND s.position = u.pos
                 ORDER BY s.tid, s.position FOR UPDATE OF s",
                &[&kt, &kp],
            )
            .map_err(e("reading value slots"))?
            .iter()
            .map(|r| ((r.get(0), r.get(1)), i64::from(r.get::<_, i32>(2))))
            .collect();
        let (mut nt, mut np, mut nv, mut nn) = (Vec::new(), Vec::new(), Vec::new(), Vec::new());
        for (&(id, pos), list) in &slots {
            let mut free = MAX_VALUES as i64 - kept.get(&(id, pos)).copied().unwrap_or(0);
            let mut any_new = false;
            for &(value, c) in list {
                if bumped.contains(&(id, pos, value.to_string())) {
                    continue;
                }
                any_new = true;
                if free > 0 {
                    free -= 1;
                    nt.push(id);
                    np.push(pos);
                    nv.push(value);
                    nn.push(c);
                    *kept_add.entry((id, pos)).or_insert(0) += 1;
                } else {
                    *other.entry((id, pos)).or_insert(0) += c;
                }
            }
            if any_new {
                kept_add.entry((id, pos)).or_insert(0);
            }
        }
        if !nt.is_empty() {
            tx.execute(
                "INSERT INTO var_values(tid, position, value, count)
                 SELECT * FROM UNNEST($1::int8[], $2::int8[], $3::text[], $4::int8[])",
                &[&nt, &np, &nv, &nn],
            )
            .map_err(e("adding new values"))?;
        }
    }
    let mut slot_rows: BTreeMap<(i64, i64), (i64, i64)> = BTreeMap::new();
    for (&k, &n) in &kept_add {
        slot_rows.entry(k).or_insert((0, 0)).0 += n;
    }
    for (&k, &n) in &other {
        slot_rows.entry(k).or_insert((0, 0)).1 += n;
    }
    if !slot_rows.is_empty() {
        let st: Vec<i64> = slot_rows.keys().map(|k| k.0).collect();
        let sp: Vec<i64> = slot_rows.keys().map(|k| k.1).collect();
        let sk: Vec<i32> = slot_rows.values().map(|v| v.0 as i32).collect();
        let so: Vec<i64> = slot_rows.values().map(|v| v.1).collect();
        tx.execute(
            "INSERT INTO var_slots AS s (tid, position, kept, other)
             SELECT * FROM UNNEST($1::int8[], $2::int8[], $3::int4[], $4::int8[])
             ON CONFLICT (tid, position) DO UPDATE SET kept = s.kept + excluded.kept, other = s.other + excluded.other",
            &[&st, &sp, &sk, &so],
        )
        .map_err(e("updating value slots"))?;
    }

    // 4. Examples: the first MAX_EXAMPLES distinct lines ever seen.
    let wanting: Vec<(i64, &Agg<'_>)> = aggs
        .iter()
        .filter(|a| !a.examples.is_empty())
        .map(|a| tid(a).map(|(id, n)| (id, n, a)))
        .collect::<Result<Vec<_>, _>>()?
        .into_iter()
        .filter(|(_, n, _)| (*n as usize) < MAX_EXAMPLES)
        .map(|(id, _, a)| (id, a))
        .collect();
    if !wanting.is_empty() {
        let ids: Vec<i64> = wanting.iter().map(|w| w.0).collect();
        let mut existing: HashMap<i64, Vec<String>> = HashMap::new();
        for r in tx
            .query(
                "SELECT tid, line FROM examples WHERE tid = ANY($1) ORDER BY tid, seq",
                &[&ids],
            )
            .map_err(e("reading examples"))?
        {
            existing.entry(r.get(0)).or_default().push(r.get(1));
        }
        let (mut et, mut es, mut el) = (Vec::new(), Vec::new(), Vec::new());
        let (mut ut, mut un) = (Vec::new(), Vec::new());
        for (id, a) in wanting {
            let mut seen = existing.remove(&id).unwrap_or_default();
            let before = seen.len();
            for line in &a.examples {
                if seen.len() >= MAX_EXAMPLES {
                    break;
                }
                if !seen.iter().any(|s| s == line) {
                    et.push(id);
                    es.push(seen.len() as i32);
                    el.push(*line);
                    seen.push(line.to_string());
                }
            }
            if seen.len() != before {
                ut.push(id);
                un.push(seen.len() as i32);
            }
        }
        if !et.is_empty() {
            tx.execute(
                "INSERT INTO examples(tid, seq, line) SELECT * FROM UNNEST($1::int8[], $2::int4[], $3::text[])",
                &[&et, &es, &el],
            )
            .map_err(e("adding examples"))?;
            tx.execute(
                "UPDATE templates AS t SET n_examples = u.n FROM UNNEST($1::int8[], $2::int4[]) AS u(id, n)
                 WHERE t.id = u.id",
                &[&ut, &un],
            )
            .map_err(e("counting examples"))?;
        }
    }

    // 5. Sources.
    let mut src: BTreeMap<&str, (i64, i64)> = BTreeMap::new();
    for a in aggs {
        let e = src.entry(a.source).or_insert((a.first, a.last));
        e.0 = e.0.min(a.first);
        e.1 = e.1.max(a.last);
    }
    let names: Vec<&str> = src.keys().copied().collect();
    let sf: Vec<i64> = src.values().map(|v| v.0).collect();
    let sl: Vec<i64> = src.values().map(|v| v.1).collect();
    tx.execute(
        "INSERT INTO sources AS s (name, first_seen, last_seen)
         SELECT * FROM UNNEST($1::text[], $2::int8[], $3::int8[])
         ON CONFLICT (name) DO UPDATE SET first_seen = LEAST(s.first_seen, excluded.first_seen),
             last_seen = GREATEST(s.last_seen, excluded.last_seen)",
        &[&names, &sf, &sl],
    )
    .map_err(e("updating sources"))?;
    Ok(())
}

fn insert_alerts(s: &Settings, tx: &mut Transaction<'_>, batch: &CommitBatch) -> Result<(), StoreError> {
    if batch.alerts.is_empty() {
        return Ok(());
    }
    let a = &batch.alerts;
    let at: Vec<i64> = a.iter().map(|x| x.at_ms).collect();
    let source: Vec<&str> = a.iter().map(|x| x.source.as_str()).collect();
    let rule: Vec<&str> = a.iter().map(|x| x.rule_id.as_str()).collect();
    let title: Vec<&str> = a.iter().map(|x| x.title.as_str()).collect();
    let level: Vec<&str> = a.iter().map(|x| x.level.as_str()).collect();
    let line: Vec<&str> = a.iter().map(|x| x.line.as_str()).collect();
    let tid: Vec<Option<&str>> = a.iter().map(|x| x.template_id.as_deref()).collect();
    let mut fields = Vec::with_capacity(a.len());
    let mut alert = Vec::with_capacity(a.len());
    for (i, x) in a.iter().enumerate() {
        let json = |v: &serde_json::Value| {
            serde_json::to_string(v).map_err(|e| StoreError::InvalidBatch(format!("alerts[{i}]: {e}")))
        };
        fields.push(json(&x.fields)?);
        alert.push(json(&x.alert)?);
    }
    tx.execute(
        "INSERT INTO alerts(at_ms, source, rule_id, title, level, line, template_id, fields, alert)
         SELECT at_ms, source, rule_id, title, level, line, template_id, fields, alert
         FROM UNNEST($1::int8[], $2::text[], $3::text[], $4::text[], $5::text[], $6::text[], $7::text[],
                     $8::text[], $9::text[])
              WITH ORDINALITY AS u(at_ms, source, rule_id, title, level, line, template_id, fields, alert, ord)
         ORDER BY ord",
        &[&at, &source, &rule, &title, &level, &line, &tid, &fields, &alert],
    )
    .map_err(pg_err(s, "inserting alerts"))?;
    Ok(())
}

fn write_states(s: &Settings, tx: &mut Transaction<'_>, batch: &CommitBatch) -> Result<(), StoreError> {
    if batch.states.is_empty() {
        return Ok(());
    }
    // The last snapshot of a source in the batch wins, as with one upsert after another.
    let last: BTreeMap<&str, &[u8]> = batch
        .states
        .iter()
        .map(|(k, v)| (k.as_str(), v.as_slice()))
        .collect();
    let names: Vec<&str> = last.keys().copied().collect();
    let blobs: Vec<&[u8]> = last.values().copied().collect();
    tx.execute(
        "INSERT INTO states(source, state) SELECT * FROM UNNEST($1::text[], $2::bytea[])
         ON CONFLICT (source) DO UPDATE SET state = excluded.state",
        &[&names, &blobs],
    )
    .map_err(pg_err(s, "writing states"))?;
    Ok(())
}

impl StoreWriter for PgWriter {
    fn commit(&mut self, batch: &CommitBatch) -> Result<CommitInfo, StoreError> {
        validate_batch(batch)?;
        self.with(|s, client| {
            let start = Instant::now();
            let mut tx = client.transaction().map_err(pg_err(s, "beginning a commit"))?;
            // Fencing first: a refused batch writes nothing (dropping `tx` rolls back).
            let now = now_ms();
            for (i, a) in batch.partitions.iter().enumerate() {
                if let Some(why) = advance_partition(s, &mut tx, i, a, now)? {
                    return Err(StoreError::Fenced {
                        partition: a.partition,
                        epoch: a.epoch,
                        why,
                    });
                }
            }
            for (i, m) in batch.merges.iter().enumerate() {
                apply_merge(s, &mut tx, i, m)?;
            }
            apply_deltas(s, &mut tx, &aggregate(batch))?;
            insert_alerts(s, &mut tx, batch)?;
            write_states(s, &mut tx, batch)?;
            tx.commit().map_err(pg_err(s, "committing"))?;
            Ok(CommitInfo {
                templates: batch.templates.len(),
                alerts: batch.alerts.len(),
                duration: start.elapsed(),
            })
        })
    }

    fn retain(&mut self, older_than_ms: i64) -> Result<RetainInfo, StoreError> {
        self.with(|s, client| {
            let start = Instant::now();
            let e = |what: &'static str| pg_err(s, what);
            let mut tx = client.transaction().map_err(e("beginning retention"))?;
            let doomed: Vec<i64> = tx
                .query(
                    "WITH g AS (SELECT source, COALESCE(merged_into, template_id) AS live,
                                       MAX(COALESCE(last_seen, -9223372036854775808)) AS ls
                                FROM templates GROUP BY 1, 2)
                     SELECT t.id FROM templates t
                     JOIN g ON g.source = t.source AND g.live = COALESCE(t.merged_into, t.template_id)
                     WHERE g.ls < $1",
                    &[&older_than_ms],
                )
                .map_err(e("finding expired templates"))?
                .iter()
                .map(|r| r.get(0))
                .collect();
            let mut buckets = 0u64;
            if !doomed.is_empty() {
                buckets += tx
                    .execute("DELETE FROM buckets WHERE tid = ANY($1)", &[&doomed])
                    .map_err(e("deleting expired templates"))?;
                for sql in [
                    "DELETE FROM examples WHERE tid = ANY($1)",
                    "DELETE FROM var_values WHERE tid = ANY($1)",
                    "DELETE FROM var_slots WHERE tid = ANY($1)",
                    "DELETE FROM templates WHERE id = ANY($1)",
                ] {
                    tx.execute(sql, &[&doomed])
                        .map_err(e("deleting expired templates"))?;
                }
            }
            let cut = older_than_ms.div_euclid(BUCKET_MS);
            buckets += tx
                .execute("DELETE FROM buckets WHERE minute < $1", &[&cut])
                .map_err(e("deleting buckets"))?;
            let alerts = tx
                .execute("DELETE FROM alerts WHERE at_ms < $1", &[&older_than_ms])
                .map_err(e("deleting alerts"))?;
            tx.batch_execute(
                "UPDATE templates AS t SET total = s.n
                 FROM (SELECT t2.id, COALESCE(SUM(b.count), 0)::int8 AS n
                       FROM templates t2 LEFT JOIN buckets b ON b.tid = t2.id GROUP BY t2.id) s
                 WHERE t.id = s.id AND t.total <> s.n;
                 DELETE FROM merges WHERE NOT EXISTS
                     (SELECT 1 FROM templates t WHERE t.source = merges.source AND t.template_id = merges.from_id);
                 DELETE FROM sources WHERE NOT EXISTS (SELECT 1 FROM templates t WHERE t.source = sources.name);",
            )
            .map_err(e("updating totals after retention"))?;
            tx.commit().map_err(e("committing retention"))?;
            Ok(RetainInfo {
                buckets: buckets as usize,
                alerts: alerts as usize,
                templates: doomed.len(),
                duration: start.elapsed(),
            })
        })
    }

    fn load_states(&mut self) -> Result<Vec<(String, Vec<u8>)>, StoreError> {
        self.with(|s, client| {
            Ok(client
                .query("SELECT source, state FROM states ORDER BY source", &[])
                .map_err(pg_err(s, "reading states"))?
                .iter()
                .map(|r| (r.get(0), r.get(1)))
                .collect())
        })
    }

    fn claim_partition(
        &mut self,
        partition: u32,
        owner: &str,
        epoch: u64,
    ) -> Result<PartitionClaim, StoreError> {
        let Ok(epoch_i) = i64::try_from(epoch) else {
            return Err(StoreError::InvalidBatch(format!(
                "claim of partition {partition}: epoch {epoch} exceeds i64::MAX"
            )));
        };
        self.with(|s, client| {
            let e = || pg_err(s, format!("claiming partition {partition}"));
            let part = i64::from(partition);
            let mut tx = client.transaction().map_err(e())?;
            // Atomic: takes the row (waiting for a commit that holds it) only with a larger epoch.
            let row = tx
                .query_opt(
                    "INSERT INTO partitions AS p (part, owner, epoch, applied_seq, checkpoint_seq, updated_ms)
                     VALUES ($1, $2, $3, 0, 0, $4)
                     ON CONFLICT (part) DO UPDATE SET owner = excluded.owner, epoch = excluded.epoch,
                         updated_ms = excluded.updated_ms
                     WHERE p.epoch < excluded.epoch
                     RETURNING applied_seq, checkpoint_seq",
                    &[&part, &owner, &epoch_i, &now_ms()],
                )
                .map_err(e())?;
            let Some(row) = row.filter(|_| epoch_i > 0) else {
                let stored: i64 = tx
                    .query_opt("SELECT epoch FROM partitions WHERE part = $1", &[&part])
                    .map_err(e())?
                    .map_or(0, |r| r.get(0));
                return Err(StoreError::Fenced {
                    partition,
                    epoch,
                    why: format!(
                        "stored epoch {stored} {} {epoch}",
                        if stored == epoch_i { "==" } else { ">" }
                    ),
                });
            };
            let (applied, checkpoint): (i64, i64) = (row.get(0), row.get(1));
            let states = tx
                .query(
                    "SELECT source, state FROM partition_states WHERE part = $1 ORDER BY source",
                    &[&part],
                )
                .map_err(e())?
                .iter()
                .map(|r| (r.get(0), r.get(1)))
                .collect();
            tx.commit().map_err(e())?;
            Ok(PartitionClaim {
                applied_seq: count_u64(s, applied, "partitions.applied_seq")?,
                checkpoint_seq: count_u64(s, checkpoint, "partitions.checkpoint_seq")?,
                states,
            })
        })
    }

    fn release_partition(&mut self, partition: u32, epoch: u64) -> Result<(), StoreError> {
        let Ok(epoch) = i64::try_from(epoch) else {
            // No stored epoch is that large: nothing to release.
            return Ok(());
        };
        self.with(|s, client| {
            client
                .execute(
                    "UPDATE partitions SET owner = NULL, updated_ms = $3 WHERE part = $1 AND epoch = $2",
                    &[&i64::from(partition), &epoch, &now_ms()],
                )
                .map_err(pg_err(s, format!("releasing partition {partition}")))?;
            Ok(())
        })
    }

    fn bind_partition_stream(&mut self, partition: u32, stream: &str) -> Result<(), StoreError> {
        let bound: String = self.with(|s, client| {
            let e = || pg_err(s, format!("binding partition {partition} to its stream"));
            let part = i64::from(partition);
            let mut tx = client.transaction().map_err(e())?;
            tx.execute(
                "INSERT INTO partitions AS p (part, owner, epoch, applied_seq, checkpoint_seq, updated_ms, stream)
                 VALUES ($1, NULL, 0, 0, 0, $3, $2)
                 ON CONFLICT (part) DO UPDATE SET stream = excluded.stream WHERE p.stream = ''",
                &[&part, &stream, &now_ms()],
            )
            .map_err(e())?;
            let bound: String = tx
                .query_one("SELECT stream FROM partitions WHERE part = $1", &[&part])
                .map_err(e())?
                .get(0);
            tx.commit().map_err(e())?;
            Ok(bound)
        })?;
        logsieve_store::check_partition_stream(partition, &bound, stream)
    }
}
