//! Hot paths of template mining: masking, learning, matching, and the cost
//! of matching as the number of templates grows (it should stay flat).
use criterion::{black_box, criterion_group, criterion_main, BatchSize, BenchmarkId, Criterion, Throughput};
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

/// A deterministic pseudo-random sequence (xorshift), so every run masks
/// the same lines.
struct Rng(u64);
impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }
    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }
}

const WORDS: [&str; 16] = [
    "connection",
    "closed",
    "by",
    "the",
    "remote",
    "peer",
    "while",
    "reading",
    "request",
    "headers",
    "session",
    "opened",
    "for",
    "user",
    "service",
    "started",
];

/// Lines of plain words only: what costs nothing beyond the split.
fn plain_lines(n: usize) -> Vec<String> {
    let mut r = Rng(0x1234_5678);
    (0..n)
        .map(|_| {
            let k = 6 + r.below(8) as usize;
            (0..k)
                .map(|_| WORDS[r.below(16) as usize])
                .collect::<Vec<_>>()
                .join(" ")
        })
        .collect()
}

/// Lines heavy in numbers, ids, hex values and timestamps.
fn digit_lines(n: usize) -> Vec<String> {
    let mut r = Rng(0x9abc_def0);
    (0..n)
        .map(|_| {
            format!(
                "2024-{:02}-{:02} {:02}:{:02}:{:02},{:03} job_{}_{:04} took {} ms blk_-{} 0x{:x} core.{} R{:02}-M{}-N{}",
                1 + r.below(12),
                1 + r.below(28),
                r.below(24),
                r.below(60),
                r.below(60),
                r.below(1000),
                r.below(1 << 40),
                r.below(10000),
                r.below(100000),
                r.below(1 << 50),
                r.next(),
                r.below(5000),
                r.below(64),
                r.below(2),
                r.below(16)
            )
        })
        .collect()
}

/// Lines heavy in URLs, IP addresses, host:port pairs and e-mail addresses.
fn url_ip_lines(n: usize) -> Vec<String> {
    let mut r = Rng(0x0fed_cba9);
    (0..n)
        .map(|_| {
            format!(
                "GET http://cdn{}.example.com:8080/v2/{}/items?id={} from {}.{}.{}.{}:{} via db-{}.internal.example.org:5432 user u{}@mail.example.net ipv6 fe80::{:x}:{:x}",
                r.below(9),
                r.below(100000),
                r.below(1000),
                r.below(256),
                r.below(256),
                r.below(256),
                r.below(256),
                1024 + r.below(60000),
                r.below(20),
                r.below(1000),
                r.below(65536),
                r.below(65536)
            )
        })
        .collect()
}

/// Letters only (digits would be masked): `i` in base 26.
fn letters(mut i: usize) -> String {
    let mut s = String::new();
    loop {
        s.push((b'a' + (i % 26) as u8) as char);
        i /= 26;
        if i == 0 {
            return s;
        }
    }
}

/// The line of distinct template `i`: every word depends on `i`, so two
/// templates never differ in one position only and never merge.
fn distinct_template_line(i: usize, value: u64) -> String {
    let w = letters(i);
    let len = 4 + i % 5;
    let mut parts: Vec<String> = (0..len).map(|p| format!("{}{w}", WORDS[p])).collect();
    parts.push(format!("value={value}"));
    parts.join(" ")
}

fn bench(c: &mut Criterion) {
    let mut g = c.benchmark_group("mask");
    for (name, lines) in [
        ("plain-words", plain_lines(10_000)),
        ("digit-heavy", digit_lines(10_000)),
        ("url-ip-heavy", url_ip_lines(10_000)),
    ] {
        g.throughput(Throughput::Elements(lines.len() as u64));
        // A fresh masked line per pass, so its token memo only ever holds
        // what this pass saw (each line is masked once, as from a file);
        // `nomemo`: without the memo, every token by the rules.
        for (label, slots) in [("mask_line", 4096), ("mask_line_nomemo", 0)] {
            g.bench_with_input(BenchmarkId::new(label, name), &lines, |b, lines| {
                b.iter(|| {
                    let mut ml = MaskedLine::with_token_memo(slots);
                    for l in lines {
                        mask_line(black_box(l), &mut ml);
                    }
                })
            });
        }
    }
    g.finish();

    // Registering a new template: the cost of 1,000 new keys learned by a
    // miner that already holds N templates (it should not grow with N).
    let mut g = c.benchmark_group("register");
    g.sample_size(10);
    for n in [1_000usize, 10_000, 100_000] {
        let mut base = Miner::new(MinerConfig::default());
        let mut ml = MaskedLine::default();
        for i in 0..n {
            let l = distinct_template_line(i, i as u64);
            mask_line(&l, &mut ml);
            base.learn(&ml, &l);
        }
        assert_eq!(base.live_count(), n, "the synthetic templates must stay distinct");
        let new: Vec<String> = (n..n + 1000).map(|i| distinct_template_line(i, 7)).collect();
        g.throughput(Throughput::Elements(new.len() as u64));
        g.bench_with_input(BenchmarkId::new("learn_new_keys", n), &new, |b, new| {
            b.iter_batched(
                || base.clone(),
                |mut m| {
                    let mut ml = MaskedLine::default();
                    for l in new {
                        mask_line(l, &mut ml);
                        black_box(m.learn(&ml, l));
                    }
                    m
                },
                BatchSize::LargeInput,
            )
        });
    }
    g.finish();

    let lines = sample_lines();
    let bytes: usize = lines.iter().map(|l| l.len() + 1).sum();
    let mut g = c.benchmark_group("template");
    g.throughput(Throughput::Bytes(bytes as u64));
    for (label, slots) in [("mask_line/loghub-14k", 4096), ("mask_line_nomemo/loghub-14k", 0)] {
        g.bench_function(label, |b| {
            b.iter(|| {
                let mut ml = MaskedLine::with_token_memo(slots);
                for l in &lines {
                    mask_line(black_box(l), &mut ml);
                }
            })
        });
    }
    g.bench_function("learn/loghub-14k", |b| {
        b.iter(|| {
            let mut ml = MaskedLine::default();
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
        b.iter(|| {
            let mut ml = MaskedLine::default();
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
            b.iter(|| {
                let mut ml = MaskedLine::default();
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
