//! Writes a benchmark corpus: `N` records cycling through the SigmaHQ
//! regression events, as `OUT.evtx` and the same events as `OUT.jsonl`.
//!
//! `cargo run --release -p logsieve-evtx --example make_evtx -- 50000 /tmp/bench`

use serde_json::{json, Value};

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut args = std::env::args().skip(1);
    let n: usize = args.next().ok_or("usage: make_evtx N OUT")?.parse()?;
    let out = args.next().ok_or("usage: make_evtx N OUT")?;
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../testdata/sigma-regression");
    let mut dirs: Vec<_> = std::fs::read_dir(root)?
        .map(|e| e.map(|e| e.path()))
        .collect::<Result<_, _>>()?;
    dirs.sort();
    let mut base = Vec::new();
    for d in dirs.iter().filter(|d| d.join("event.json").exists()) {
        let text = std::fs::read(d.join("event.json"))?;
        for v in serde_json::Deserializer::from_slice(&text).into_iter::<Value>() {
            base.push(v?);
        }
    }
    let events: Vec<Value> = (0..n)
        .map(|i| {
            let mut e = base[i % base.len()].clone();
            e["Event"]["System"]["EventRecordID"] = json!(i + 1);
            e
        })
        .collect();
    std::fs::write(format!("{out}.evtx"), logsieve_evtx::write::to_evtx(&events)?)?;
    let jsonl: String = events.iter().map(|e| format!("{e}\n")).collect();
    std::fs::write(format!("{out}.jsonl"), jsonl)?;
    eprintln!("wrote {out}.evtx and {out}.jsonl: {n} events");
    Ok(())
}
