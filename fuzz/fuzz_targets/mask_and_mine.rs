//! Masking and mining never panic; a learned line is found again by
//! `lookup` after `finalize`, and params are spans of the content; a
//! masked line rebuilt from its spans (pass two's way) is the masked line,
//! key included.
#![no_main]
use libfuzzer_sys::fuzz_target;
use logsieve_template::{mask_line, rebuild_masked, MaskedLine, Miner, MinerConfig};

fuzz_target!(|text: &str| {
    let lines: Vec<&str> = text.lines().take(64).collect();
    let mut m = Miner::new(MinerConfig {
        cache_keys: 2,
        ..MinerConfig::default()
    });
    let (mut ml, mut rebuilt) = (MaskedLine::default(), MaskedLine::default());
    let mut ids = Vec::new();
    for l in &lines {
        mask_line(l, &mut ml);
        assert!(rebuild_masked(l, ml.vars.iter().copied(), &mut rebuilt));
        assert_eq!((&rebuilt.masked, &rebuilt.vars, rebuilt.key), (&ml.masked, &ml.vars, ml.key));
        ids.push(m.learn(&ml, l));
    }
    m.finalize();
    let mut spans = Vec::new();
    for (l, id) in lines.iter().zip(ids) {
        mask_line(l, &mut ml);
        let c = m.lookup(&ml).expect("a learned line has a template");
        assert_eq!(m.template_id(c), m.template_id(id));
        m.params(c, l, &ml, &mut spans);
        for s in &spans {
            assert!(s.of(l).len() <= l.len());
        }
    }
});
