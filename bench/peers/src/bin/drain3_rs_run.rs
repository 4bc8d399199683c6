//! drain3-rs (crates.io `drain3` 0.1.6, a Rust port of logpai/Drain3) over
//! FILE: its `Matcher::add_log_message` loop, timed alone.
//!
//!     drain3-rs-run [--sim-th X] FILE
//!
//! Configuration: drain3-rs's default `Config` (depth 4, max_children 100,
//! unlimited clusters, numeric tokens parametrized, no extra delimiters),
//! except the similarity threshold when `--sim-th` is given. bench/run.sh
//! passes 0.4 (`DRAIN3_RS_SIM_TH`), the default of drain3 (Python) and of
//! logdrain, so the three Drains run with the same parameters; drain3-rs's
//! own default is 0.5.
//!
//! The file is read into memory and split into lines first (not timed).
//! drain3-rs refuses lines over 1,024 bytes, with more than 64
//! space-separated tokens, or empty (`Error::LineTooLong`); those lines are
//! skipped before the loop and counted (`skipped_*`), so `mined` lines are
//! fed and `lines_per_s` is `mined / seconds`. Any error on a line the guard
//! let through stops the run (exit 1): no silent fallback.
//!
//! Prints one JSON object: peer, version, sim_th, lines (in the file),
//! mined, skipped_bytes, skipped_tokens, skipped_empty, seconds (wall time
//! of the loop), cpu_seconds (CPU time of the loop, null where
//! /proc/thread-self/schedstat is missing), lines_per_s, clusters
//! (templates at the end), lossy_utf8.

use logsieve_bench_peers::{
    args, drain3_skip, lines, print_json, thread_cpu_seconds, Corpus, Drain3Skip, Val,
};
use std::process::exit;
use std::time::Instant;

const VERSION: &str = "0.1.6";
const USAGE: &str = "drain3-rs-run [--sim-th X] FILE";

fn main() {
    let (path, opts) = args(USAGE, &["sim-th"]);
    let mut cfg = drain3::Config::default();
    for (_, v) in &opts {
        match v.parse::<f64>() {
            Ok(x) if (0.0..=1.0).contains(&x) => cfg.similarity_threshold = x,
            _ => {
                eprintln!("--sim-th: '{v}' is not a number in [0, 1]");
                exit(2);
            }
        }
    }
    let corpus = Corpus::read(&path);
    let (text, lossy) = corpus.text();
    let all = lines(&text);
    let mut skipped = [0u64; 3];
    let mut kept: Vec<&str> = Vec::with_capacity(all.len());
    for &line in &all {
        match drain3_skip(line, &cfg) {
            None => kept.push(line),
            Some(s) => skipped[s as usize] += 1,
        }
    }
    if kept.is_empty() {
        eprintln!("{path}: no line drain3-rs accepts");
        exit(1);
    }
    let sim_th = cfg.similarity_threshold;

    let mut miner = drain3::Matcher::new(cfg);
    let mut max_id = 0usize;
    let cpu0 = thread_cpu_seconds();
    let t0 = Instant::now();
    for (i, line) in kept.iter().enumerate() {
        match miner.add_log_message(line) {
            Ok(t) => max_id = max_id.max(t.id()),
            Err(e) => {
                eprintln!("drain3-rs refused kept line {i} ({} bytes): {e}", line.len());
                exit(1);
            }
        }
    }
    let seconds = t0.elapsed().as_secs_f64();
    let cpu = thread_cpu_seconds().zip(cpu0).map(|(b, a)| b - a);

    // Cluster ids run 1..=max_id (none is removed with max_clusters = 0).
    if miner.template_for_id(max_id).is_none() || miner.template_for_id(max_id + 1).is_some() {
        eprintln!("drain3-rs: cluster ids are not 1..={max_id}; cannot count the clusters");
        exit(1);
    }
    let mined = kept.len() as u64;
    print_json(&[
        ("peer", Val::Str("drain3-rs")),
        ("version", Val::Str(VERSION)),
        ("sim_th", Val::Float(sim_th)),
        ("lines", Val::Int(all.len() as u64)),
        ("mined", Val::Int(mined)),
        ("skipped_bytes", Val::Int(skipped[Drain3Skip::Bytes as usize])),
        ("skipped_tokens", Val::Int(skipped[Drain3Skip::Tokens as usize])),
        ("skipped_empty", Val::Int(skipped[Drain3Skip::Empty as usize])),
        ("seconds", Val::Float(seconds)),
        ("cpu_seconds", Val::OptFloat(cpu)),
        ("lines_per_s", Val::Float(mined as f64 / seconds)),
        ("clusters", Val::Int(max_id as u64)),
        ("lossy_utf8", Val::Bool(lossy)),
    ]);
}
