//! The processor's accumulators (lent to the engine observer per batch,
//! values written a slice per commit) against their slow, obviously correct
//! twin: the same lines through a fresh engine and miner, every record
//! written down one by one, counted afterwards. The store must end with the
//! twin's count per template, and per template and variable position with
//! the twin's exact values while a position has at most 64 distinct ones
//! (top plus `other` equal to the lines otherwise).

use logsieve_engine::{Engine, Observer, Options, RecordView};
use logsieve_framing::{LineBatch, LineFlags};
use logsieve_header::HeaderParser;
use logsieve_serve::metrics::Metrics;
use logsieve_serve::processor::{write_loop, FormatKey, Job, Part, Processor, ProcessorConfig};
use logsieve_store::{open_sqlite, StoreReader, TemplateQuery};
use logsieve_template::Miner;
use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use tokio::sync::oneshot;

/// Job `j`'s lines: a few templates with low-cardinality variables, one
/// with a variable that takes a new value on every line, and words that
/// make new templates now and then.
fn job_lines(j: u64) -> Vec<String> {
    let users = ["alice", "bob", "carol", "dave", "erin"];
    (0..150u64)
        .map(|i| {
            let r = (j * 1000 + i).wrapping_mul(0x9E37_79B9_7F4A_7C15) >> 20;
            match r % 6 {
                0 => format!(
                    "user {} logged in from 10.0.0.{}",
                    users[(r >> 4) as usize % 5],
                    r % 7
                ),
                1 => format!("request {} took {} ms", j * 1000 + i, r % 300),
                2 => format!("cache miss for key k{} region r{}", r % 40, r % 3),
                3 => format!("worker {} restarted after {} s", r % 9, r % 11),
                4 if i % 50 == 0 => format!("task {j}x{i} finished on shard {}", r % 5),
                _ => format!("heartbeat ok node {}", r % 12),
            }
        })
        .collect()
}

/// Writes down every record: template id and params.
struct Recorder(Mutex<Vec<(String, Vec<String>)>>);

impl Observer for Recorder {
    type Batch = Vec<(String, Vec<String>)>;
    fn observe(&self, rec: &RecordView<'_>, b: &mut Self::Batch) {
        if let Some(id) = rec.template_id {
            b.push((id.to_string(), rec.params.iter().map(|p| p.to_string()).collect()));
        }
    }
    fn collect(&self, b: Self::Batch) -> std::io::Result<()> {
        self.0.lock().unwrap().extend(b);
        Ok(())
    }
}

#[test]
fn processor_counts_and_values_equal_the_record_by_record_twin() {
    let jobs: Vec<Vec<String>> = (0..40).map(job_lines).collect();

    // The twin: a fresh engine and miner, the same batches in the same order.
    let engine = Engine::new(
        HeaderParser::from_format("<Content>").unwrap(),
        Miner::default(),
        Options {
            threads: 1,
            ..Options::default()
        },
    );
    let mut miner = Miner::default();
    let mut scratch = engine.batch_scratch();
    let rec = Recorder(Mutex::new(Vec::new()));
    let mut merged: BTreeSet<String> = BTreeSet::new();
    for lines in &jobs {
        let mut b = LineBatch::new();
        b.first_line_no = 1;
        for l in lines {
            b.push(l.as_bytes(), LineFlags::default());
        }
        let mut out = Vec::new();
        engine
            .learn_batch(&mut miner, &b, "twin", Some(&rec), None, &mut scratch, &mut out)
            .unwrap();
        for m in miner.take_merges() {
            merged.insert(String::from_utf8_lossy(&m.from.hex()).into_owned());
            merged.insert(String::from_utf8_lossy(&m.into.hex()).into_owned());
        }
    }
    let mut count: HashMap<String, u64> = HashMap::new();
    let mut values: HashMap<String, BTreeMap<u32, BTreeMap<String, u64>>> = HashMap::new();
    for (id, params) in rec.0.into_inner().unwrap() {
        *count.entry(id.clone()).or_default() += 1;
        let v = values.entry(id).or_default();
        for (pos, p) in params.into_iter().enumerate() {
            *v.entry(pos as u32).or_default().entry(p).or_default() += 1;
        }
    }

    // The processor with the store.
    let dir = tempfile::tempdir().unwrap();
    let (store, readers) = open_sqlite(dir.path()).unwrap();
    let metrics = Arc::new(Metrics::default());
    let processor = Processor::new(
        ProcessorConfig {
            max_templates: 10_000,
            max_sources: 10,
            max_line_bytes: 65_536,
            commit_interval: Duration::from_millis(2),
            partition: None,
        },
        Vec::new(),
        None,
        metrics.clone(),
    );
    let (jobs_tx, jobs_rx) = crossbeam_channel::unbounded();
    let (commit_tx, commit_rx) = crossbeam_channel::bounded(1);
    let p = std::thread::spawn(move || processor.run(jobs_rx, commit_tx));
    let w = std::thread::spawn(move || write_loop(commit_rx, Box::new(store), metrics, None));
    let mut acks = Vec::new();
    for (n, lines) in jobs.iter().enumerate() {
        let mut part = Part::new("svc".to_string(), FormatKey::Whole);
        for l in lines {
            part.batch.push(l.as_bytes(), LineFlags::default());
        }
        let (tx, rx) = oneshot::channel();
        jobs_tx
            .send(Job::Ingest {
                parts: vec![part],
                protocol: "http",
                received: Instant::now(),
                permit: None,
                ack: Some(tx),
                at_ms: Some(1_700_000_000_000 + n as i64 * 7_000),
                seq: None,
            })
            .unwrap();
        acks.push(rx);
        if n % 8 == 7 {
            // Several group commits.
            std::thread::sleep(Duration::from_millis(5));
        }
    }
    let mut acked = 0;
    for rx in acks {
        acked += rx.blocking_recv().unwrap().unwrap();
    }
    jobs_tx.send(Job::Stop).unwrap();
    p.join().unwrap();
    w.join().unwrap();
    let total: u64 = jobs.iter().map(|j| j.len() as u64).sum();
    assert_eq!(acked, total);

    let r = readers.reader().unwrap();
    let rows = r.templates(&TemplateQuery::default()).unwrap();
    assert_eq!(rows.iter().map(|t| t.count).sum::<u64>(), total);
    let mut checked = 0;
    let mut capped = 0;
    for row in &rows {
        if merged.contains(&row.template_id) {
            continue;
        }
        checked += 1;
        let want = count.get(&row.template_id).copied().unwrap_or_default();
        assert_eq!(row.count, want, "count of {} {:?}", row.template_id, row.template);
        let det = r.template(&row.template_id, Some("svc")).unwrap();
        assert_eq!(det.len(), 1);
        let twin = values.remove(&row.template_id).unwrap_or_default();
        let got: BTreeMap<u32, _> = det[0].values.iter().map(|v| (v.position, v)).collect();
        assert_eq!(
            got.keys().collect::<Vec<_>>(),
            twin.keys().collect::<Vec<_>>(),
            "positions of {:?}",
            row.template
        );
        for (pos, want) in twin {
            let v = got[&pos];
            let kept: u64 = v.top.iter().map(|(_, n)| n).sum();
            assert_eq!(
                kept + v.other,
                row.count,
                "top + other of {:?} position {pos}",
                row.template
            );
            if want.len() <= logsieve_store::MAX_VALUES {
                let got: BTreeMap<String, u64> = v.top.iter().cloned().collect();
                assert_eq!(got, want, "values of {:?} position {pos}", row.template);
                assert_eq!(v.other, 0);
            } else {
                capped += 1;
                assert_eq!(v.distinct_kept, logsieve_store::MAX_VALUES);
                for (value, n) in &v.top {
                    assert!(want.get(value).is_some_and(|w| n <= w), "{value} counted {n}");
                }
            }
        }
        for e in &det[0].examples {
            assert!(
                jobs.iter().flatten().any(|l| l == e),
                "example {e:?} is not a line that was sent"
            );
        }
        assert!(!det[0].examples.is_empty() && det[0].examples.len() <= 5);
    }
    assert!(
        checked >= 5,
        "only {checked} templates could be compared: {rows:?}"
    );
    assert!(capped >= 1, "no position went past the cap of kept values");
}
