//! The service's pipeline without HTTP: the processor thread and the store
//! writer thread (a real SQLite store in a temporary directory) over the
//! lines of a file, sent as 1,000-line ingest jobs with at most 16 waiting
//! for their commit (as 16 connections would). For before/after comparisons
//! of the two threads under `valgrind --tool=callgrind` (inclusive counts of
//! `Processor::run` and `write_loop`) or `perf`.
//!
//! ```sh
//! bench/loadgen/target/release/loadgen lines --batch 200000 > /tmp/lines.txt
//! cargo run --release -p logsieve-serve --example pipeline_bench -- /tmp/lines.txt
//! ```
//!
//! Arrival times are synthetic (10 ms a job from a fixed start), so the
//! minute buckets do not depend on the clock.

use logsieve_framing::LineFlags;
use logsieve_serve::metrics::Metrics;
use logsieve_serve::processor::{write_loop, FormatKey, Job, Part, Processor, ProcessorConfig};
use logsieve_store::open_sqlite;
use std::collections::VecDeque;
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio::sync::oneshot;

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let Some(file) = args.get(1) else {
        eprintln!("usage: pipeline_bench LINES_FILE [BATCH_LINES] [MAX_TEMPLATES]");
        std::process::exit(2);
    };
    let batch: usize = args.get(2).map_or(1000, |s| s.parse().expect("BATCH_LINES"));
    let max_templates: usize = args.get(3).map_or(10_000, |s| s.parse().expect("MAX_TEMPLATES"));
    let text = std::fs::read(file).expect("reading the lines file");
    let lines: Vec<&[u8]> = text.split(|&b| b == b'\n').filter(|l| !l.is_empty()).collect();
    let dir = tempfile::tempdir().expect("temp dir");
    let (store, _readers) = open_sqlite(dir.path()).expect("opening the store");
    let metrics = Arc::new(Metrics::default());
    let processor = Processor::new(
        ProcessorConfig {
            max_templates,
            max_sources: 100,
            max_line_bytes: 65_536,
            commit_interval: Duration::from_millis(20),
            partition: None,
        },
        Vec::new(),
        None,
        metrics.clone(),
    );
    let (jobs_tx, jobs_rx) = crossbeam_channel::unbounded();
    let (commit_tx, commit_rx) = crossbeam_channel::bounded(1);
    let p = std::thread::Builder::new()
        .name("logsieve-process".into())
        .spawn(move || processor.run(jobs_rx, commit_tx))
        .expect("processor thread");
    let m2 = metrics.clone();
    let w = std::thread::Builder::new()
        .name("logsieve-store".into())
        .spawn(move || write_loop(commit_rx, Box::new(store), m2, None))
        .expect("writer thread");
    let start = Instant::now();
    let mut waiting = VecDeque::new();
    let mut acked = 0u64;
    for (n, chunk) in lines.chunks(batch).enumerate() {
        let mut part = Part::new("bench".to_string(), FormatKey::Whole);
        for l in chunk {
            part.batch.push(l, LineFlags::default());
        }
        let (tx, rx) = oneshot::channel();
        jobs_tx
            .send(Job::Ingest {
                parts: vec![part],
                protocol: "http",
                received: Instant::now(),
                permit: None,
                ack: Some(tx),
                at_ms: Some(1_700_000_000_000 + n as i64 * 10),
                seq: None,
            })
            .expect("processor gone");
        waiting.push_back(rx);
        if waiting.len() >= 16 {
            acked += waiting
                .pop_front()
                .map(|rx| rx.blocking_recv().expect("ack").expect("committed"))
                .unwrap_or(0);
        }
    }
    for rx in waiting {
        acked += rx.blocking_recv().expect("ack").expect("committed");
    }
    let took = start.elapsed();
    jobs_tx.send(Job::Stop).expect("processor gone");
    p.join().expect("processor");
    drop(jobs_tx);
    w.join().expect("writer");
    let commits = metrics
        .render()
        .lines()
        .find_map(|l| {
            l.strip_prefix("logsieve_store_batch_lines_count ")
                .map(str::to_string)
        })
        .unwrap_or_default();
    println!(
        "{acked} lines acknowledged in {:.3} s: {:.0} lines/s; {commits} commits",
        took.as_secs_f64(),
        acked as f64 / took.as_secs_f64(),
    );
}
