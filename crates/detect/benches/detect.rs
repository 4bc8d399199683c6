//! Events per second with the bundled SigmaHQ rules loaded: Loghub Linux
//! syslog lines with the `linux` mapping and with no mapping (every rule
//! loaded), and the regression Windows events with the `windows` mapping
//! (the bundled rules are offered too; none is a Windows rule, so only the
//! 20 regression rules load), and the same events as JSON lines decoded
//! into a reused `JsonTape` (as `logsieve detect` does) with the whole
//! SigmaHQ Windows rule set loaded.
use criterion::{black_box, criterion_group, criterion_main, Criterion, Throughput};
use logsieve_detect::{Detector, FlatEvent, JsonEvent, JsonTape, Mapping, Scratch};
use std::path::PathBuf;

fn testdata(p: &str) -> PathBuf {
    PathBuf::from(concat!(env!("CARGO_MANIFEST_DIR"), "/../../testdata")).join(p)
}

/// Splits a syslog line the way the header crate's `syslog` preset names
/// its fields: `timestamp`, `host`, `app`, `pid`, then the message.
fn syslog_fields(l: &str) -> Vec<(&str, &str)> {
    let mut f = Vec::new();
    if l.len() < 16 {
        f.push(("message", l));
        return f;
    }
    f.push(("timestamp", &l[..15]));
    let rest = l[16..].trim_start();
    let (host, rest) = rest.split_once(' ').unwrap_or((rest, ""));
    f.push(("host", host));
    let (tag, msg) = rest.split_once(": ").unwrap_or(("", rest));
    let (app, pid) = match tag.split_once('[') {
        Some((a, p)) => (a, p.trim_end_matches(']')),
        None => (tag, ""),
    };
    f.push(("app", app));
    if !pid.is_empty() {
        f.push(("pid", pid));
    }
    f.push(("message", msg));
    f
}

fn bench(c: &mut Criterion) {
    let lines: Vec<String> = std::fs::read_to_string(testdata("loghub-2k/Linux/Linux_2k.log"))
        .unwrap()
        .lines()
        .map(str::to_string)
        .collect();
    let parsed: Vec<Vec<(&str, &str)>> = lines.iter().map(|l| syslog_fields(l)).collect();
    let mut g = c.benchmark_group("detect");
    g.throughput(Throughput::Elements(lines.len() as u64));
    // Syslog events with the linux mapping: the rules it can express load
    // (the others are rejected as not covered), logsources checked on `app`.
    let dl = Detector::load(&[testdata("sigma-rules/rules")], Mapping::builtin("linux")).unwrap();
    g.bench_function(
        format!("syslog-2k/linux-mapping/{}-rules", dl.rules().len()),
        |b| {
            let mut s = Scratch::default();
            b.iter(|| {
                for (i, (fields, l)) in parsed.iter().zip(&lines).enumerate() {
                    let mut ev = FlatEvent::default();
                    for &(k, v) in fields {
                        ev.push(k, v);
                    }
                    ev.push("raw", l);
                    black_box(dl.evaluate(&ev, i as u64 + 1, "bench", &mut s));
                }
            })
        },
    );
    // The same events with every bundled rule loaded (no mapping: nothing
    // is rejected for its logsource, field names as written), so the
    // prefilter carries all of them.
    let d = Detector::load(&[testdata("sigma-rules/rules")], None).unwrap();
    g.bench_function(format!("syslog-2k/no-mapping/{}-rules", d.rules().len()), |b| {
        let mut s = Scratch::default();
        b.iter(|| {
            for (i, (fields, l)) in parsed.iter().zip(&lines).enumerate() {
                let mut ev = FlatEvent::default();
                for &(k, v) in fields {
                    ev.push(k, v);
                }
                ev.push("raw", l);
                black_box(d.evaluate(&ev, i as u64 + 1, "bench", &mut s));
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
    // The whole SigmaHQ Windows rule set over the same events, decoded
    // from JSON lines each time.
    let lines: Vec<String> = events.iter().map(|e| serde_json::to_string(e).unwrap()).collect();
    let dall = Detector::load(&[testdata("sigma-rules/windows")], Mapping::builtin("windows")).unwrap();
    g.bench_function(
        format!("windows-events/json-lines/{}-windows-rules", dall.rules().len()),
        |b| {
            let mut s = Scratch::default();
            let mut tape = JsonTape::default();
            b.iter(|| {
                for (i, l) in lines.iter().enumerate() {
                    let ev = tape.parse(l.as_bytes()).expect("decoded");
                    black_box(dall.evaluate(&ev, i as u64, "bench", &mut s));
                }
            })
        },
    );
    g.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
