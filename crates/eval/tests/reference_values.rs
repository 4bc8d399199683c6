//! The evaluator gives the reference implementation's numbers on every
//! bundled log.
//!
//! `tests/data/<Log>.predicted.txt.gz` holds one predicted template per line
//! of `testdata/loghub-2k/<Log>/<Log>_2k.log` (logsieve's own output when
//! the fixtures were made; any prediction would do). The values below were
//! computed from those files by the Loghub-2.0 evaluator's definitions
//! (`evaluation/utils` of logpai/loghub-2.0, run with pandas) and by
//! `scripts/eval/loghub2_reference.py`; both printed the same numbers. The
//! fixtures never change with the miner, so these values only move if the
//! evaluator does.

use flate2::read::GzDecoder;
use logsieve_eval::{evaluate, read_truth};
use std::io::Read;
use std::path::Path;

/// (log, GA, FGA, PA, FTA) as the reference prints them (6 decimals).
const REFERENCE: [(&str, f64, f64, f64, f64); 7] = [
    ("BGL", 0.989500, 0.901961, 0.983000, 0.847059),
    ("HDFS", 0.997500, 0.866667, 0.998500, 0.933333),
    ("HPC", 0.987500, 0.831683, 0.987000, 0.811881),
    ("Hadoop", 0.988000, 0.932203, 0.594000, 0.762712),
    ("HealthApp", 1.000000, 1.000000, 0.874500, 0.946667),
    ("Linux", 0.746000, 0.921053, 0.464000, 0.859649),
    ("OpenStack", 1.000000, 1.000000, 0.484000, 0.906977),
];

fn predicted(log: &str) -> Vec<String> {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join(format!("tests/data/{log}.predicted.txt.gz"));
    let mut text = String::new();
    GzDecoder::new(std::fs::File::open(&path).unwrap())
        .read_to_string(&mut text)
        .unwrap();
    text.lines().map(str::to_string).collect()
}

#[test]
fn every_metric_matches_the_reference_implementation_on_every_bundled_log() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../testdata/loghub-2k");
    for (log, ga, fga, pa, fta) in REFERENCE {
        let truth = read_truth(
            root.join(log)
                .join(format!("{log}_2k.log_structured_corrected.csv")),
        )
        .unwrap();
        let pred = predicted(log);
        assert_eq!(pred.len(), truth.len(), "{log}");
        let m = evaluate(&pred, truth.templates().collect::<Vec<_>>().as_slice()).unwrap();
        for (name, got, want) in [
            ("GA", m.ga, ga),
            ("FGA", m.fga, fga),
            ("PA", m.pa, pa),
            ("FTA", m.fta, fta),
        ] {
            assert!(
                (got - want).abs() < 5e-7,
                "{log} {name}: {got:.6} but the reference gives {want:.6}"
            );
        }
    }
}
