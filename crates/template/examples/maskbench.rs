//! Times the masker and the miner on a file's lines, in memory (the loop a
//! peer's benchmark times): `cargo run --release -p logsieve-template
//! --example maskbench FILE [mask|mask-nomemo|learn|both|dump]`. Prints lines/s per stage;
//! `dump` prints each line's masked text, variable spans and key instead.
use logsieve_template::{mask_line, MaskedLine, Miner, MinerConfig};
use std::time::Instant;

fn main() {
    let mut args = std::env::args().skip(1);
    let path = args
        .next()
        .expect("usage: maskbench FILE [mask|mask-nomemo|learn|both|dump]");
    let what = args.next().unwrap_or_else(|| "both".into());
    let text = std::fs::read_to_string(&path).expect("read");
    let lines: Vec<&str> = text.lines().collect();
    // `mask-nomemo`: the masker without its token memo (every token by the
    // rules), for comparing the two; `MASKBENCH_SLOTS=N`: a memo of N slots.
    let mut ml = if what == "mask-nomemo" {
        MaskedLine::with_token_memo(0)
    } else if let Ok(n) = std::env::var("MASKBENCH_SLOTS") {
        MaskedLine::with_token_memo(n.parse().expect("MASKBENCH_SLOTS: a slot count"))
    } else {
        MaskedLine::default()
    };
    if what == "dump" {
        // Every line's masked tokens and variable spans: for comparing two
        // builds of the masker on the same file.
        use std::io::Write;
        let mut out = std::io::BufWriter::new(std::io::stdout().lock());
        for l in &lines {
            mask_line(l, &mut ml);
            let vars: Vec<_> = ml.vars.iter().map(|v| (v.start, v.end)).collect();
            writeln!(out, "{}\t{:?}\t{:x}", ml.masked, vars, ml.key).unwrap();
        }
        return;
    }
    if what == "mask" || what == "mask-nomemo" || what == "both" {
        let t = Instant::now();
        let mut x = 0u128;
        for l in &lines {
            mask_line(l, &mut ml);
            x ^= ml.key;
        }
        let s = t.elapsed().as_secs_f64();
        println!(
            "mask:  {:.0} lines/s ({:.0} ns/line) {x:x}",
            lines.len() as f64 / s,
            s * 1e9 / lines.len() as f64
        );
    }
    if what == "learn" || what == "both" {
        let mut m = Miner::new(MinerConfig::default());
        let t = Instant::now();
        for l in &lines {
            mask_line(l, &mut ml);
            if m.learn_known(ml.key).is_none() {
                m.learn(&ml, l);
            }
        }
        m.finalize();
        let s = t.elapsed().as_secs_f64();
        println!(
            "mask+learn: {:.0} lines/s ({:.0} ns/line), {} templates",
            lines.len() as f64 / s,
            s * 1e9 / lines.len() as f64,
            m.live_count()
        );
    }
}
