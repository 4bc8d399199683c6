//! Hot paths of template mining: masking, learning, matching, and the cost
//! of matching as the number of templates grows (it should stay flat).
use criterion::{black_box, criterion_group, criterion_main, BenchmarkId, Criterion, Throughput};
use logsieve_template::{mask_line, MaskedLine, Miner, MinerConfig};

fn sample_lines() -> Vec<String> {
    let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/../../testdata/loghub-2k");
    let mut out = Vec::new();
    for name in ["HDFS", "Hadoop", "BGL", "Linux", "OpenStack", "HPC", "HealthApp"] {
        let p = format!("{dir}/{name}/{name}_2k.log");
        let text = std::fs::read_to_string(&p).unwrap_or_default();
        out.extend(text.lines().map(str::to_string));
    }
    out
}

/// `n` distinct templates of the same shape family.
fn synthetic(n: usize, lines: usize) -> Vec<String> {
    let words = [
        "alpha", "bravo", "charlie", "delta", "echo", "foxtrot", "golf", "hotel", "india", "juliet",
    ];
    (0..lines)
        .map(|i| {
            let t = i % n;
            let (a, b, c) = (words[t % 10], words[(t / 10) % 10], words[(t / 100) % 10]);
            format!(
                "{a} {b} {c} op{} finished in {} ms for user {} id={}",
                t / 1000,
                i % 977,
                i % 13,
                i
            )
        })
        .collect()
}

fn bench(c: &mut Criterion) {
    let lines = sample_lines();
    let bytes: usize = lines.iter().map(|l| l.len() + 1).sum();
    let mut g = c.benchmark_group("template");
    g.throughput(Throughput::Bytes(bytes as u64));
    g.bench_function("mask_line/loghub-14k", |b| {
        let mut ml = MaskedLine::default();
        b.iter(|| {
            for l in &lines {
                mask_line(black_box(l), &mut ml);
            }
        })
    });
    g.bench_function("learn/loghub-14k", |b| {
        let mut ml = MaskedLine::default();
        b.iter(|| {
            let mut m = Miner::new(MinerConfig::default());
            for l in &lines {
                mask_line(l, &mut ml);
                black_box(m.learn(&ml, l));
            }
        })
    });
    let mut trained = Miner::new(MinerConfig::default());
    let mut ml = MaskedLine::default();
    for l in &lines {
        mask_line(l, &mut ml);
        trained.learn(&ml, l);
    }
    trained.finalize();
    g.bench_function("lookup/loghub-14k", |b| {
        let mut ml = MaskedLine::default();
        b.iter(|| {
            for l in &lines {
                mask_line(l, &mut ml);
                black_box(trained.lookup(&ml));
            }
        })
    });
    g.finish();

    let mut g = c.benchmark_group("template-growth");
    for n in [50usize, 5000] {
        let lines = synthetic(n, 20_000);
        let mut m = Miner::new(MinerConfig::default());
        let mut ml = MaskedLine::default();
        for l in &lines {
            mask_line(l, &mut ml);
            m.learn(&ml, l);
        }
        m.finalize();
        g.throughput(Throughput::Elements(lines.len() as u64));
        g.bench_with_input(BenchmarkId::new("lookup", n), &lines, |b, lines| {
            let mut ml = MaskedLine::default();
            b.iter(|| {
                for l in lines {
                    mask_line(l, &mut ml);
                    black_box(m.lookup(&ml));
                }
            })
        });
    }
    g.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
