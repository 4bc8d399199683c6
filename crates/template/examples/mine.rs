//! Reads contents (one per line) on stdin, prints each line's final template.
use logsieve_template::{mask_line, MaskedLine, Miner, MinerConfig};
use std::io::{BufRead, Write};
fn main() {
    let lines: Vec<String> = std::io::stdin().lock().lines().map(|l| l.unwrap()).collect();
    let mut cfg = MinerConfig::default();
    if let Ok(k) = std::env::var("K") {
        cfg.merge_threshold = k.parse().unwrap();
    }
    let mut m = Miner::new(cfg);
    let mut ml = MaskedLine::default();
    for l in &lines {
        mask_line(l, &mut ml);
        m.learn(&ml, l);
    }
    m.finalize();
    let mut out = std::io::stdout().lock();
    for l in &lines {
        mask_line(l, &mut ml);
        let c = m.lookup(&ml).unwrap();
        writeln!(out, "{}", m.template_text(c)).unwrap();
    }
}
