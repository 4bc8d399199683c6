//! Events per second with every bundled SigmaHQ rule loaded.
use criterion::{black_box, criterion_group, criterion_main, Criterion, Throughput};
use logsieve_detect::{Detector, FlatEvent, JsonEvent, Mapping, Scratch};
use std::path::PathBuf;

fn testdata(p: &str) -> PathBuf {
    PathBuf::from(concat!(env!("CARGO_MANIFEST_DIR"), "/../../testdata")).join(p)
}

fn bench(c: &mut Criterion) {
    // Text events: Linux syslog lines with all rules (no mapping, so every
    // rule stays loaded and the prefilter does the work).
    let d = Detector::load(&[testdata("sigma-rules/rules")], None).unwrap();
    let lines: Vec<String> = std::fs::read_to_string(testdata("loghub-2k/Linux/Linux_2k.log"))
        .unwrap()
        .lines()
        .map(str::to_string)
        .collect();
    let mut g = c.benchmark_group("detect");
    g.throughput(Throughput::Elements(lines.len() as u64));
    g.bench_function(format!("syslog-2k/{}-rules", d.rules().len()), |b| {
        let mut s = Scratch::default();
        b.iter(|| {
            for (i, l) in lines.iter().enumerate() {
                let mut ev = FlatEvent::default();
                ev.push("message", l);
                ev.push("raw", l);
                black_box(d.evaluate(&ev, i as u64, "bench", &mut s));
            }
        })
    });
    // Windows events: the regression events with their rules and the
    // windows mapping.
    let mut rules = Vec::new();
    let mut events = Vec::new();
    for e in std::fs::read_dir(testdata("sigma-regression")).unwrap() {
        let p = e.unwrap().path();
        if p.join("rule.yml").exists() {
            rules.push(p.join("rule.yml"));
            let text = std::fs::read_to_string(p.join("event.json")).unwrap();
            events.extend(
                serde_json::Deserializer::from_str(&text)
                    .into_iter::<serde_json::Value>()
                    .map(Result::unwrap),
            );
        }
    }
    rules.push(testdata("sigma-rules/rules"));
    let dw = Detector::load(&rules, Mapping::builtin("windows")).unwrap();
    g.throughput(Throughput::Elements(events.len() as u64));
    g.bench_function("windows-events/regression", |b| {
        let mut s = Scratch::default();
        b.iter(|| {
            for (i, e) in events.iter().enumerate() {
                black_box(dw.evaluate(&JsonEvent(e), i as u64, "bench", &mut s));
            }
        })
    });
    g.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
