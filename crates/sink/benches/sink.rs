//! Output encoders: JSON string escaping and CSV fields on log-like text.
use criterion::{black_box, criterion_group, criterion_main, Criterion, Throughput};

fn bench(c: &mut Criterion) {
    let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/../../testdata/loghub-2k");
    let mut lines = Vec::new();
    for name in ["HDFS", "Hadoop", "BGL", "Linux", "OpenStack", "HPC", "HealthApp"] {
        let text = std::fs::read_to_string(format!("{dir}/{name}/{name}_2k.log")).unwrap_or_default();
        lines.extend(text.lines().map(str::to_string));
    }
    let bytes: usize = lines.iter().map(|l| l.len()).sum();
    let mut g = c.benchmark_group("sink");
    g.throughput(Throughput::Bytes(bytes as u64));
    let mut out = Vec::with_capacity(bytes * 2);
    g.bench_function("json_str/loghub-14k", |b| {
        b.iter(|| {
            out.clear();
            for l in &lines {
                logsieve_sink::json_str(&mut out, black_box(l));
            }
        })
    });
    g.bench_function("csv_field/loghub-14k", |b| {
        b.iter(|| {
            out.clear();
            for l in &lines {
                logsieve_sink::csv_field(&mut out, black_box(l));
            }
        })
    });
    g.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
