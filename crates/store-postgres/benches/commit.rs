//! PostgreSQL store throughput, same shapes as the SQLite bench (`crates/store/benches`):
//! group commits of 1K template deltas × 3 minute buckets (two variable values and an
//! example each), and reader queries over 10K templates. Runs in a fresh schema on the
//! server of `LOGSIEVE_TEST_PG_URL` (default `postgres://postgres@127.0.0.1:5432/postgres`),
//! dropped at the end.
use criterion::{black_box, criterion_group, criterion_main, Criterion, Throughput};
use logsieve_store::{CommitBatch, StoreReader, StoreWriter, TemplateDelta, TemplateQuery};
use logsieve_store_postgres::{open_postgres, PgConfig};

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
    let url = std::env::var("LOGSIEVE_TEST_PG_URL")
        .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/postgres".into());
    let schema = format!("ls_bench_{}", std::process::id());
    let cfg = PgConfig::new(url.clone(), schema.clone());
    let (mut w, readers) = open_postgres(&cfg).expect("open store");
    let mut g = c.benchmark_group("pg_store");
    g.sample_size(10);
    g.throughput(Throughput::Elements(1000));
    let mut minute = 0;
    g.bench_function("commit/1k_templates_x3_buckets", |b| {
        b.iter(|| {
            minute += 1;
            black_box(w.commit(&batch(1000, minute)).expect("commit"));
        })
    });
    g.bench_function("commit/1k_templates_x3_buckets_same_minute", |b| {
        let batch = batch(1000, minute);
        b.iter(|| black_box(w.commit(&batch).expect("commit")))
    });
    g.finish();

    for m in (100..160).step_by(3) {
        w.commit(&batch(10_000, m)).expect("commit");
    }
    let r = readers.reader().expect("reader");
    let mut g = c.benchmark_group("pg_store_query_10k");
    g.sample_size(10);
    g.bench_function("templates/all_limit100", |b| {
        let q = TemplateQuery {
            limit: 100,
            ..Default::default()
        };
        b.iter(|| black_box(r.templates(&q).expect("query")))
    });
    g.bench_function("templates/last_15min_limit100_series", |b| {
        let q = TemplateQuery {
            since_ms: Some(145 * 60_000),
            until_ms: Some(160 * 60_000),
            limit: 100,
            with_series: true,
            ..Default::default()
        };
        b.iter(|| black_box(r.templates(&q).expect("query")))
    });
    g.bench_function("template/detail", |b| {
        b.iter(|| black_box(r.template("0000000000000063", None).expect("query")))
    });
    g.finish();
    drop(r);
    if std::env::var_os("LOGSIEVE_BENCH_KEEP_SCHEMA").is_some() {
        eprintln!("kept schema {schema}");
        return;
    }
    if let Ok(mut c) = postgres::Client::connect(&url, postgres::NoTls) {
        let _ = c.batch_execute(&format!("DROP SCHEMA IF EXISTS {schema} CASCADE"));
    }
}

criterion_group!(benches, bench);
criterion_main!(benches);
