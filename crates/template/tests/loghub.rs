//! On the bundled Loghub-2k logs, the template of every line is the same
//! whatever the hot-key cache capacity, and `lookup` after mining agrees
//! with learning.
use logsieve_template::{mask_line, MaskedLine, Miner, MinerConfig, TemplateId, DEFAULT_CACHE_KEYS};
use std::path::PathBuf;

fn contents() -> Vec<(String, Vec<String>)> {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../testdata/loghub-2k");
    let mut out = Vec::new();
    for entry in std::fs::read_dir(&dir).expect("testdata/loghub-2k is bundled") {
        let entry = entry.unwrap();
        if !entry.file_type().unwrap().is_dir() {
            continue;
        }
        let name = entry.file_name().to_string_lossy().into_owned();
        let csv = entry
            .path()
            .join(format!("{name}_2k.log_structured_corrected.csv"));
        let mut r = csv::Reader::from_path(&csv).unwrap_or_else(|e| panic!("{}: {e}", csv.display()));
        let col = r
            .headers()
            .unwrap()
            .iter()
            .position(|h| h == "Content")
            .expect("a Content column");
        let lines: Vec<String> = r.records().map(|rec| rec.unwrap()[col].to_string()).collect();
        assert_eq!(lines.len(), 2000, "{name}");
        out.push((name, lines));
    }
    assert!(out.len() >= 7, "found {} logs", out.len());
    out
}

/// Final id of every line when learned (engine style: `learn_known`
/// first), and the id `lookup` gives it after `finalize`.
fn mine(lines: &[String], cache_keys: usize) -> (Vec<TemplateId>, Vec<Option<TemplateId>>) {
    let mut m = Miner::new(MinerConfig {
        cache_keys,
        ..MinerConfig::default()
    });
    let mut ml = MaskedLine::default();
    let mut ids = Vec::with_capacity(lines.len());
    for l in lines {
        mask_line(l, &mut ml);
        let c = match m.learn_known(ml.key) {
            Some(c) => c,
            None => m.learn(&ml, l),
        };
        ids.push(c);
    }
    m.finalize();
    let learned = ids.iter().map(|&c| m.template_id(c)).collect();
    let looked_up = lines
        .iter()
        .map(|l| {
            mask_line(l, &mut ml);
            m.lookup(&ml).map(|c| m.template_id(c))
        })
        .collect();
    (learned, looked_up)
}

#[test]
fn loghub_templates_do_not_depend_on_the_cache_capacity() {
    for (name, lines) in contents() {
        let (full, full_lookup) = mine(&lines, DEFAULT_CACHE_KEYS);
        for (i, (a, b)) in full.iter().zip(&full_lookup).enumerate() {
            assert_eq!(Some(*a), *b, "{name} line {}: {:?}", i + 1, lines[i]);
        }
        for cap in [0, 16] {
            let (ids, looked_up) = mine(&lines, cap);
            for (i, (a, b)) in ids.iter().zip(&full).enumerate() {
                assert_eq!(a, b, "{name} line {} with capacity {cap}: {:?}", i + 1, lines[i]);
            }
            assert_eq!(looked_up, full_lookup, "{name} lookups with capacity {cap}");
        }
    }
}
