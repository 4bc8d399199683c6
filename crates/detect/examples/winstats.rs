//! Prefilter statistics over the whole SigmaHQ Windows rule set and the
//! regression events: candidates per event after dispatch and prefilter.
use logsieve_detect::{Detector, JsonTape, Mapping, Scratch};
fn main() {
    let root = concat!(env!("CARGO_MANIFEST_DIR"), "/../../testdata/");
    let d = Detector::load(
        &[format!("{root}sigma-rules/windows").into()],
        Mapping::builtin("windows"),
    )
    .unwrap();
    println!("rules {} unfiltered {}", d.rules().len(), d.unfiltered_rules());
    let mut tape = JsonTape::default();
    let mut s = Scratch::default();
    let (mut cand, mut n, mut hits) = (0, 0, 0);
    let mut cands = std::collections::BTreeMap::new();
    for e in std::fs::read_dir(format!("{root}sigma-regression")).unwrap() {
        let p = e.unwrap().path().join("event.json");
        let Ok(text) = std::fs::read_to_string(&p) else {
            continue;
        };
        for v in serde_json::Deserializer::from_str(&text).into_iter::<serde_json::Value>() {
            let line = serde_json::to_string(&v.unwrap()).unwrap();
            let ev = tape.parse(line.as_bytes()).unwrap();
            let c = d.candidate_rules(&ev, &mut s);
            cand += c.len();
            for r in c {
                *cands.entry(d.rules()[r].file.clone()).or_insert(0usize) += 1;
            }
            hits += d.matching_rules(&ev, &mut s).len();
            n += 1;
        }
    }
    let mut top: Vec<_> = cands.into_iter().collect();
    top.sort_by_key(|x| std::cmp::Reverse(x.1));
    for (f, c) in top.iter().take(40) {
        println!("{c:4} {f}");
    }
    if let Some(path) = std::env::args().nth(1) {
        // Time decode + evaluate over a JSON-lines corpus (bench/make_win_events.py).
        let text = std::fs::read(path).unwrap();
        // CPU time of this thread (the machine may be shared).
        let cpu = || {
            let s = std::fs::read_to_string("/proc/thread-self/schedstat").unwrap();
            s.split_whitespace().next().unwrap().parse::<f64>().unwrap() / 1e9
        };
        let t0 = std::time::Instant::now();
        let c0 = cpu();
        let (events, alerts) = timed_loop(&d, &text, &mut tape, &mut s);
        let dt = cpu() - c0;
        println!("wall {:.3} s", t0.elapsed().as_secs_f64());
        println!(
            "{events} events, {alerts} alerts in {dt:.3} CPU s: {:.0} events/s, {:.2} us/event",
            events as f64 / dt,
            dt * 1e6 / events as f64
        );
    }
    println!(
        "events {n} candidates/event {:.1} matches/event {:.2}",
        cand as f64 / n as f64,
        hits as f64 / n as f64
    );
}

/// Decodes and evaluates every line of `text` (a function of its own, so
/// that `valgrind --tool=callgrind --toggle-collect=winstats::timed_loop`
/// counts this loop alone, without loading the rules).
#[inline(never)]
fn timed_loop(d: &Detector, text: &[u8], tape: &mut JsonTape, s: &mut Scratch) -> (u64, usize) {
    let (mut events, mut alerts) = (0u64, 0usize);
    for l in text.split(|&b| b == b'\n').filter(|l| !l.is_empty()) {
        let ev = tape.parse(l).expect("decoded");
        alerts += d.evaluate(&ev, events, "bench", s).len();
        events += 1;
    }
    (events, alerts)
}
