//! The several-thread file pass (`Engine::drive_ordered`): workers take
//! batches as they come and the calling thread learns and writes them in
//! input order. Whatever the thread count and batch size, the templates,
//! the output, the order records are collected in, the counters and where
//! a failure or a stop leaves off must be those of the one-thread pass.

use logsieve_engine::{Engine, EngineError, Observer, Options, OutputFormat, RecordView, Stats};
use logsieve_header::HeaderParser;
use logsieve_source::Input;
use logsieve_template::{Miner, MinerConfig};
use std::io::Write;
use std::sync::atomic::AtomicBool;
use std::sync::{Arc, Mutex};

/// Lines of 40 shapes, with new templates appearing all along the input
/// (so learning, the sequential step, runs between batches throughout).
fn corpus(n: u32) -> String {
    (0..n)
        .map(|i| {
            let shape = (i * 7 + i / 500) % 40;
            format!(
                "svc{shape} step {} took {} ms from 10.0.{}.{} word{shape}\n",
                i % 13,
                i,
                i % 256,
                i % 7
            )
        })
        .collect()
}

/// A file of `n` corpus lines in a temporary folder (kept while the
/// folder is).
fn corpus_file(n: u32) -> (tempfile::TempDir, std::path::PathBuf) {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("a.log");
    std::fs::write(&path, corpus(n)).expect("write");
    (dir, path)
}

fn engine(threads: usize, batch_lines: usize) -> Engine {
    let header = HeaderParser::from_format("<Content>").expect("format");
    let opts = Options {
        threads,
        batch_lines,
        ..Options::default()
    };
    Engine::new(header, Miner::new(MinerConfig::default()), opts)
}

/// Sees each record's line number on a worker; collects them in order.
#[derive(Default)]
struct LineOrder(Mutex<Vec<u64>>);

impl Observer for LineOrder {
    type Batch = Vec<u64>;
    fn observe(&self, rec: &RecordView<'_>, batch: &mut Vec<u64>) {
        batch.push(rec.line);
    }
    fn collect(&self, batch: Vec<u64>) -> std::io::Result<()> {
        self.0.lock().expect("lock").extend(batch);
        Ok(())
    }
}

/// Mines, then reports with an observer: (pass-one counters, output,
/// pass-two counters, line numbers in the order collected, mine error).
fn both_passes(
    path: &std::path::Path,
    threads: usize,
    batch: usize,
) -> (Stats, Vec<u8>, Stats, Vec<u64>, String) {
    let mut e = engine(threads, batch);
    let input = Input::File(path.to_path_buf());
    let (mined, err) = e.mine_partial(&input);
    let order = LineOrder::default();
    let mut out = Vec::new();
    let reported = e
        .report_observed(
            &input,
            Some(OutputFormat::Jsonl),
            &mut out,
            Some(&order),
            Some(mined.lines),
        )
        .expect("report");
    let lines = order.0.into_inner().expect("lock");
    (
        mined,
        out,
        reported,
        lines,
        err.map(|e| e.to_string()).unwrap_or_default(),
    )
}

#[test]
fn every_thread_count_and_batch_size_mines_reports_and_collects_as_one_thread() {
    let (_dir, path) = corpus_file(6_000);
    let want = both_passes(&path, 1, 4096);
    assert_eq!(want.0.lines, 6_000);
    assert_eq!(
        want.3,
        (1..=6_000).collect::<Vec<u64>>(),
        "collected in input order"
    );
    for threads in [2, 3, 8] {
        // Batches of 1 and 7 lines: thousands of batches, far more than
        // may exist at once, so the reader reuses them throughout.
        for batch in [1, 7, 4096] {
            let got = both_passes(&path, threads, batch);
            assert_eq!(got.0, want.0, "threads {threads} batch {batch}");
            assert_eq!(got.2, want.2, "threads {threads} batch {batch}");
            assert!(got.1 == want.1, "output differs: threads {threads} batch {batch}");
            assert!(
                got.3 == want.3,
                "collect order differs: threads {threads} batch {batch}"
            );
            assert!(got.4.is_empty(), "{}", got.4);
        }
    }
}

#[test]
fn a_read_failure_part_way_ends_every_thread_count_at_the_same_line() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("cut.log.gz");
    let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    gz.write_all(corpus(40_000).as_bytes()).expect("gzip");
    let full = gz.finish().expect("gzip");
    std::fs::write(&path, &full[..full.len() / 2]).expect("write");
    let want = both_passes(&path, 1, 97);
    assert!(
        want.0.lines > 1_000,
        "the lines before the cut are mined: {}",
        want.0.lines
    );
    assert!(want.4.contains("cut.log.gz"), "names the input: {}", want.4);
    assert_eq!(
        want.2.lines, want.0.lines,
        "pass two reports exactly what pass one mined"
    );
    assert_eq!(want.3.len() as u64, want.0.lines);
    for threads in [2, 4] {
        let got = both_passes(&path, threads, 97);
        assert_eq!(got.0, want.0, "threads {threads}");
        assert_eq!(got.2, want.2, "threads {threads}");
        assert!(got.1 == want.1, "output differs: threads {threads}");
        assert!(got.3 == want.3, "collect order differs: threads {threads}");
        assert_eq!(got.4, want.4);
    }
}

#[test]
fn a_stop_requested_ends_the_pass_after_one_batch_for_every_thread_count() {
    let (_dir, path) = corpus_file(5_000);
    for threads in [1, 2, 4] {
        let mut e = engine(threads, 100);
        e.set_stop(Arc::new(AtomicBool::new(true)));
        let (mined, err) = e.mine_partial(&Input::File(path.clone()));
        assert!(err.is_none());
        assert_eq!(mined.lines, 100, "threads {threads}: the first batch only");
        let mut out = Vec::new();
        let reported = e
            .report_observed::<logsieve_engine::NoObserver>(
                &Input::File(path.clone()),
                Some(OutputFormat::Csv),
                &mut out,
                None,
                Some(mined.lines),
            )
            .expect("report");
        assert_eq!(reported.lines, 100, "threads {threads}");
        // The header row and one row per line.
        assert_eq!(
            out.iter().filter(|&&b| b == b'\n').count(),
            101,
            "threads {threads}"
        );
    }
}

#[test]
fn an_output_that_fails_ends_the_pass_with_that_error() {
    struct Broken;
    impl Write for Broken {
        fn write(&mut self, _: &[u8]) -> std::io::Result<usize> {
            Err(std::io::Error::new(std::io::ErrorKind::BrokenPipe, "closed"))
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }
    let (_dir, path) = corpus_file(20_000);
    for threads in [1, 3] {
        let mut e = engine(threads, 50);
        let input = Input::File(path.clone());
        e.mine(&input).expect("mine");
        let r = e.report(&input, OutputFormat::Jsonl, &mut Broken);
        assert!(
            matches!(r, Err(EngineError::Write(_))),
            "threads {threads}: {r:?}"
        );
    }
}

/// Panics on the record of one line (as a bug in an observer would).
struct PanicsAt(u64);

impl Observer for PanicsAt {
    type Batch = ();
    fn observe(&self, rec: &RecordView<'_>, _: &mut ()) {
        assert!(rec.line != self.0, "observer bug at line {}", rec.line);
    }
    fn collect(&self, _: ()) -> std::io::Result<()> {
        Ok(())
    }
}

#[test]
fn a_panic_on_a_worker_ends_the_pass_with_that_panic_instead_of_hanging() {
    let (_dir, path) = corpus_file(20_000);
    for threads in [1, 2, 4] {
        let mut e = engine(threads, 10);
        let input = Input::File(path.clone());
        e.mine(&input).expect("mine");
        // On a thread of its own, so that a pass that hangs fails the
        // test instead of stalling the suite.
        let (tx, rx) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            let run = std::panic::AssertUnwindSafe(|| {
                let mut out = Vec::new();
                e.report_observed(
                    &input,
                    Some(OutputFormat::Jsonl),
                    &mut out,
                    Some(&PanicsAt(5_000)),
                    None,
                )
            });
            let text = match std::panic::catch_unwind(run) {
                Ok(_) => "no panic".to_string(),
                Err(p) => p.downcast_ref::<String>().cloned().unwrap_or_default(),
            };
            let _ = tx.send(text);
        });
        let text = rx
            .recv_timeout(std::time::Duration::from_secs(120))
            .unwrap_or_else(|_| panic!("threads {threads}: the pass hung after the panic"));
        assert!(
            text.contains("observer bug at line 5000"),
            "threads {threads}: {text}"
        );
    }
}
