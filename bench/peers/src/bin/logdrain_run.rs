//! logdrain 0.3.2 over FILE: its `Miner::add` loop, default options (no
//! masks, no path delimiters, sim_th 0.4, depth 4, 100 clusters per leaf),
//! timed alone.
//!
//!     logdrain-run FILE
//!
//! The file is read into memory and split into lines first (not timed);
//! every line is fed (logdrain accepts any line).
//!
//! Prints one JSON object: peer, version, sim_th, lines, mined (= lines),
//! seconds (wall time of the loop), cpu_seconds (CPU time of the loop, null
//! where /proc/thread-self/schedstat is missing), lines_per_s, clusters
//! (live clusters at the end, `Miner::len`), created (clusters ever
//! created; more than `clusters` when the per-leaf LRU evicted some),
//! lossy_utf8.

use logdrain::{Miner, Options, UpdateType};
use logsieve_bench_peers::{args, lines, print_json, thread_cpu_seconds, Corpus, Val};
use std::process::exit;
use std::time::Instant;

const VERSION: &str = "0.3.2";

fn main() {
    let (path, _) = args("logdrain-run FILE", &[]);
    let corpus = Corpus::read(&path);
    let (text, lossy) = corpus.text();
    let all = lines(&text);
    if all.is_empty() {
        eprintln!("{path}: no lines");
        exit(1);
    }
    let sim_th = Options::default().sim_threshold;
    let miner = match Miner::builder().build() {
        Ok(m) => m,
        Err(e) => {
            eprintln!("logdrain: {e}");
            exit(1);
        }
    };
    let mut created = 0u64;
    let cpu0 = thread_cpu_seconds();
    let t0 = Instant::now();
    for line in &all {
        if miner.add(line).update == UpdateType::Created {
            created += 1;
        }
    }
    let seconds = t0.elapsed().as_secs_f64();
    let cpu = thread_cpu_seconds().zip(cpu0).map(|(b, a)| b - a);
    let n = all.len() as u64;
    print_json(&[
        ("peer", Val::Str("logdrain")),
        ("version", Val::Str(VERSION)),
        ("sim_th", Val::Float(sim_th)),
        ("lines", Val::Int(n)),
        ("mined", Val::Int(n)),
        ("seconds", Val::Float(seconds)),
        ("cpu_seconds", Val::OptFloat(cpu)),
        ("lines_per_s", Val::Float(n as f64 / seconds)),
        ("clusters", Val::Int(miner.len() as u64)),
        ("created", Val::Int(created)),
        ("lossy_utf8", Val::Bool(lossy)),
    ]);
}
