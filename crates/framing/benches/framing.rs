//! Framing throughput: `next_batch` (the parallel pipeline's hot path) and
//! `next_frame`, on the Loghub sample logs repeated to ~32 MB, plus decoding.
use criterion::{black_box, criterion_group, criterion_main, Criterion, Throughput};
use logsieve_framing::{decode_lossy, FramerConfig, Joiner, LineBatch, LineFramer, Multiline};

fn corpus() -> Vec<u8> {
    let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/../../testdata/loghub-2k");
    let mut one = Vec::new();
    for name in ["HDFS", "Hadoop", "BGL", "Linux", "OpenStack", "HPC", "HealthApp"] {
        one.extend(std::fs::read(format!("{dir}/{name}/{name}_2k.log")).unwrap_or_default());
    }
    if one.is_empty() {
        one = b"2024-01-01 00:00:00 INFO some component: a log line with text 12345\n".to_vec();
    }
    let mut data = Vec::with_capacity(32 << 20);
    while data.len() < 32 << 20 {
        data.extend_from_slice(&one);
    }
    data
}

fn bench(c: &mut Criterion) {
    let data = corpus();
    let mut g = c.benchmark_group("framing");
    g.throughput(Throughput::Bytes(data.len() as u64));
    g.sample_size(20);
    g.bench_function("next_batch/4096 lines", |b| {
        let mut batch = LineBatch::with_capacity(1 << 20, 4096);
        b.iter(|| {
            let mut f = LineFramer::new(&data[..], FramerConfig::default());
            let mut n = 0;
            while f.next_batch(&mut batch, 4096, 1 << 20).unwrap() > 0 {
                n += batch.len();
            }
            black_box(n)
        })
    });
    g.bench_function("next_batch_prompt/4096 lines", |b| {
        let mut batch = LineBatch::with_capacity(1 << 20, 4096);
        b.iter(|| {
            let mut f = LineFramer::new(&data[..], FramerConfig::default());
            let mut n = 0;
            while f.next_batch_prompt(&mut batch, 4096, 1 << 20).unwrap() > 0 {
                n += batch.len();
            }
            black_box(n)
        })
    });
    g.bench_function("next_batch+joiner auto/4096 lines", |b| {
        let mut batch = LineBatch::with_capacity(1 << 20, 4096);
        let mut events = LineBatch::with_capacity(1 << 20, 4096);
        b.iter(|| {
            let mut f = LineFramer::new(&data[..], FramerConfig::default());
            let mut j = Joiner::new(Multiline::Auto, Box::new(|_| None));
            let mut n = 0;
            while f.next_batch(&mut batch, 4096, 1 << 20).unwrap() > 0 {
                events.clear();
                j.push(&batch, &mut events);
                n += events.len();
            }
            events.clear();
            j.flush(&mut events);
            black_box(n + events.len())
        })
    });
    g.bench_function("next_frame", |b| {
        b.iter(|| {
            let mut f = LineFramer::new(&data[..], FramerConfig::default());
            let mut n = 0usize;
            while let Some(fr) = f.next_frame().unwrap() {
                n += fr.bytes.len();
            }
            black_box(n)
        })
    });
    g.bench_function("next_frame+decode_lossy", |b| {
        let mut scratch = String::new();
        b.iter(|| {
            let mut f = LineFramer::new(&data[..], FramerConfig::default());
            let mut n = 0usize;
            while let Some(fr) = f.next_frame().unwrap() {
                n += decode_lossy(fr.bytes, &mut scratch).0.len();
            }
            black_box(n)
        })
    });
    g.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
