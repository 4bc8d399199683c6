//! Prefilter statistics over the bundled rules and Linux syslog lines:
//! rules always evaluated, candidates per event.
use logsieve_detect::{Detector, FlatEvent, Scratch};
fn main() {
    let root = concat!(env!("CARGO_MANIFEST_DIR"), "/../../testdata/");
    let d = Detector::load(&[format!("{root}sigma-rules/rules").into()], None).unwrap();
    println!("rules {} unfiltered {}", d.rules().len(), d.unfiltered_rules());
    let text = std::fs::read_to_string(format!("{root}loghub-2k/Linux/Linux_2k.log")).unwrap();
    let mut s = Scratch::default();
    let (mut cand, mut n, mut hits) = (0, 0, 0);
    let mut per = std::collections::BTreeMap::new();
    let mut cands = std::collections::BTreeMap::new();
    for l in text.lines() {
        let mut ev = FlatEvent::default();
        ev.push("message", l);
        ev.push("raw", l);
        let c = d.candidate_rules(&ev, &mut s);
        cand += c.len();
        for r in c {
            *cands.entry(d.rules()[r].title.clone()).or_insert(0usize) += 1;
        }
        let m = d.matching_rules(&ev, &mut s);
        hits += m.len();
        for r in m {
            *per.entry(d.rules()[r].title.clone()).or_insert(0usize) += 1;
        }
        n += 1;
    }
    println!("{per:#?}");
    let mut top: Vec<_> = cands.into_iter().filter(|x| x.1 > 100).collect();
    top.sort_by_key(|x| std::cmp::Reverse(x.1));
    println!("{top:#?}");
    let evs: Vec<FlatEvent> = text
        .lines()
        .map(|l| {
            let mut ev = FlatEvent::default();
            if l.len() > 16 {
                ev.push("timestamp", &l[..15]);
                let rest = &l[16..];
                let (host, rest) = rest.split_once(' ').unwrap_or((rest, ""));
                ev.push("host", host);
                let (tag, msg) = rest.split_once(": ").unwrap_or(("", rest));
                ev.push("app", tag.split('[').next().unwrap_or(tag));
                ev.push("message", msg);
            }
            ev.push("raw", l);
            ev
        })
        .collect();
    for what in ["candidates", "matching", "evaluate"] {
        let t = std::time::Instant::now();
        let mut k = 0;
        for _ in 0..50 {
            for ev in &evs {
                k += match what {
                    "candidates" => d.candidate_rules(ev, &mut s).len(),
                    "matching" => d.matching_rules(ev, &mut s).len(),
                    _ => d.evaluate(ev, 1, "x", &mut s).len(),
                };
            }
        }
        let per = t.elapsed().as_secs_f64() / (50.0 * evs.len() as f64);
        println!(
            "{what}: {:.0} ns/event, {:.2} M events/s ({k})",
            per * 1e9,
            1e-6 / per
        );
    }
    println!(
        "events {n} avg candidates {:.1} hits {hits}",
        cand as f64 / n as f64
    );
}
