//! The bundled SigmaHQ regression cases, shared by the EVTX tests.
#![allow(dead_code)]

use serde_json::Value;
use std::path::{Path, PathBuf};

/// The regression case folders (each with event.json and event.evtx), sorted.
pub fn cases() -> Vec<PathBuf> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../testdata/sigma-regression");
    let mut v: Vec<PathBuf> = std::fs::read_dir(root)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.join("event.json").exists())
        .collect();
    v.sort();
    v
}

/// Every JSON value in the case's event.json (some hold several in a row).
pub fn json_events(case: &Path) -> Vec<Value> {
    let text = std::fs::read(case.join("event.json")).unwrap();
    serde_json::Deserializer::from_slice(&text)
        .into_iter::<Value>()
        .map(Result::unwrap)
        .collect()
}
