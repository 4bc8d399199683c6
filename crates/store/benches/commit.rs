//! Store throughput: one group commit of 1K template deltas × 3 minute buckets (plus two variable
//! values and an example each), and reader queries over 10K templates.
use criterion::{black_box, criterion_group, criterion_main, Criterion, Throughput};
use logsieve_store::{open_sqlite, CommitBatch, StoreReader, StoreWriter, TemplateDelta, TemplateQuery};

fn batch(templates: u64, minute: i64) -> CommitBatch {
    let templates = (0..templates)
        .map(|t| TemplateDelta {
            source: format!("src{}", t % 4),
            template_id: format!("{t:016x}"),
            template: format!("user <*> did thing {t} from <*>"),
            count: 6,
            first_seen_ms: minute * 60_000,
            last_seen_ms: minute * 60_000 + 179_999,
            examples: vec![format!("user u{t} did thing {t} from 10.0.0.{}", t % 250)],
            buckets: vec![(minute, 1), (minute + 1, 2), (minute + 2, 3)],
            values: vec![
                (0, format!("u{}", t % 100), 3),
                (1, format!("10.0.0.{}", t % 250), 3),
            ],
            other: Vec::new(),
        })
        .collect();
    CommitBatch {
        templates,
        ..Default::default()
    }
}

fn bench(c: &mut Criterion) {
    let dir = tempfile::tempdir().expect("temp dir");
    let (mut w, readers) = open_sqlite(dir.path()).expect("open store");
    let mut g = c.benchmark_group("store");
    g.throughput(Throughput::Elements(1000));
    let mut minute = 0;
    g.bench_function("commit/1k_templates_x3_buckets", |b| {
        b.iter(|| {
            // A new minute each time (worst case: the first commit of a minute): 1 of the 3
            // buckets inserts a row, 2 update.
            minute += 1;
            let batch = batch(1000, minute);
            black_box(w.commit(&batch).expect("commit"));
        })
    });
    g.bench_function("commit/1k_templates_x3_buckets_same_minute", |b| {
        // Steady state inside one minute: every bucket and value is an update.
        let batch = batch(1000, minute);
        b.iter(|| black_box(w.commit(&batch).expect("commit")))
    });
    g.bench_function("commit/1k_templates_x3_buckets_no_values_examples", |b| {
        b.iter(|| {
            minute += 1;
            let mut batch = batch(1000, minute);
            for d in &mut batch.templates {
                d.values.clear();
                d.examples.clear();
            }
            black_box(w.commit(&batch).expect("commit"));
        })
    });
    g.bench_function("commit/1k_templates_counts_only_same_minute", |b| {
        // What `logsieve serve` commits every few milliseconds under load: the templates it
        // saw (already stored) with their counts in the current minute; values and examples
        // go only now and then.
        let mut batch = batch(1000, minute);
        for d in &mut batch.templates {
            d.values.clear();
            d.examples.clear();
            d.buckets.truncate(1);
            d.count = d.buckets[0].1;
        }
        b.iter(|| black_box(w.commit(&batch).expect("commit")))
    });
    g.throughput(Throughput::Elements(1));
    g.bench_function("commit/one_state_only_fsync", |b| {
        let batch = CommitBatch {
            states: vec![("s".into(), vec![0; 64])],
            ..Default::default()
        };
        b.iter(|| black_box(w.commit(&batch).expect("commit")))
    });
    g.finish();
    let mut g = c.benchmark_group("store_10k");
    g.sample_size(10);
    g.throughput(Throughput::Elements(10_000));
    g.bench_function("commit/10k_templates_x3_buckets", |b| {
        b.iter(|| {
            minute += 1;
            let batch = batch(10_000, minute);
            black_box(w.commit(&batch).expect("commit"));
        })
    });
    g.finish();

    // 10K templates, 60 minutes of buckets each.
    let dir = tempfile::tempdir().expect("temp dir");
    let (mut w, readers10k) = open_sqlite(dir.path()).expect("open store");
    for m in (0..60).step_by(3) {
        w.commit(&batch(10_000, m)).expect("commit");
    }
    let r = readers10k.reader().expect("reader");
    let mut g = c.benchmark_group("store_query_10k");
    g.bench_function("templates/all_limit100", |b| {
        b.iter(|| {
            black_box(
                r.templates(&TemplateQuery {
                    limit: 100,
                    ..Default::default()
                })
                .expect("query"),
            )
        })
    });
    g.bench_function("templates/last_15min_limit100_series", |b| {
        let q = TemplateQuery {
            since_ms: Some(45 * 60_000),
            until_ms: Some(60 * 60_000),
            limit: 100,
            with_series: true,
            ..Default::default()
        };
        b.iter(|| black_box(r.templates(&q).expect("query")))
    });
    g.bench_function("templates/q_substring", |b| {
        let q = TemplateQuery {
            q: Some("thing 99".into()),
            limit: 100,
            ..Default::default()
        };
        b.iter(|| black_box(r.templates(&q).expect("query")))
    });
    g.bench_function("template/detail", |b| {
        b.iter(|| black_box(r.template("0000000000000063", None).expect("query")))
    });
    g.bench_function("lines/source_range", |b| {
        b.iter(|| {
            black_box(
                r.lines(Some("src1"), Some(10 * 60_000), Some(40 * 60_000))
                    .expect("query"),
            )
        })
    });
    g.finish();
    drop(readers);
}

criterion_group!(benches, bench);
criterion_main!(benches);
