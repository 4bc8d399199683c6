//! Pass two rebuilds the lines pass one kept (`Engine::set_pass_one_memo`)
//! instead of masking them again: the output must be the same, byte for
//! byte, whatever was kept (all, some, none), for any thread count and
//! batch size, with multi-line events, and when the file changed between
//! the passes.

use logsieve_engine::{Engine, Options, OutputFormat};
use logsieve_framing::Multiline;
use logsieve_header::HeaderParser;
use logsieve_source::Input;
use logsieve_template::{Miner, MinerConfig};
use std::io::Write;

fn lines() -> String {
    let mut s = String::new();
    for i in 0..3_000u32 {
        let line = match i % 7 {
            0 => format!(
                "2024-01-02 03:04:{:02} INFO block blk_{} served to /10.0.{}.{}:{}",
                i % 60,
                i * 7919,
                i % 256,
                i % 13,
                50000 + i
            ),
            1 => format!(
                "2024-01-02 03:04:{:02} WARN user{} failed login from host-{}.example.org",
                i % 60,
                i % 17,
                i
            ),
            2 => format!(
                "2024-01-02 03:04:{:02} INFO took {}.{}ms id={:x} state=true",
                i % 60,
                i,
                i % 10,
                i * 31
            ),
            3 => format!(
                "2024-01-02 03:04:{:02} ERROR Exception in thread {}",
                i % 60,
                i % 5
            ),
            4 => format!("  at org.example.Worker{}.run(Worker.java:{})", i % 3, i),
            5 => "2024-01-02 03:04:05 DEBUG   spaced\tout   words ".to_string(),
            _ => format!(
                "2024-01-02 03:04:{:02} INFO R{}-M{}-N{}-C:J{}-U{} é {}",
                i % 60,
                i % 9,
                i % 2,
                i % 4,
                i % 18,
                i % 11,
                i
            ),
        };
        s.push_str(&line);
        s.push('\n');
    }
    s
}

fn run(
    path: &std::path::Path,
    threads: usize,
    batch_lines: usize,
    budget: usize,
    multiline: bool,
    format: OutputFormat,
    change: Option<&str>,
) -> Vec<u8> {
    let header = HeaderParser::from_format("<Date> <Time> <Level> <Content>").expect("format");
    let mut opts = Options {
        threads,
        batch_lines,
        ..Options::default()
    };
    if multiline {
        opts.multiline = Multiline::Auto;
    }
    let mut engine = Engine::new(header, Miner::new(MinerConfig::default()), opts);
    engine.set_pass_one_memo(budget);
    let input = Input::File(path.to_path_buf());
    engine.mine(&input).expect("mine");
    if let Some(text) = change {
        std::fs::write(path, text).expect("rewrite");
    }
    let mut out = Vec::new();
    engine.report(&input, format, &mut out).expect("report");
    out
}

#[test]
fn pass_two_writes_the_same_with_all_some_or_nothing_kept() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("a.log");
    std::fs::File::create(&path)
        .and_then(|mut f| f.write_all(lines().as_bytes()))
        .expect("write");
    for format in [OutputFormat::Jsonl, OutputFormat::Csv] {
        for multiline in [false, true] {
            let want = run(&path, 1, 4096, 0, multiline, format, None);
            assert!(want.len() > 100_000);
            for threads in [1, 3] {
                for batch in [97, 4096] {
                    // Everything kept, a budget that runs out part-way, none.
                    for budget in [64 << 20, 20_000, 0] {
                        let got = run(&path, threads, batch, budget, multiline, format, None);
                        assert!(got == want, "threads {threads} batch {batch} budget {budget} multiline {multiline} {format:?}");
                    }
                }
            }
        }
    }
}

#[test]
fn a_file_rewritten_between_the_passes_is_masked_again_where_it_differs() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("b.log");
    let text = lines();
    // Same line count, other contents from line 100 on.
    let changed: String = text
        .lines()
        .enumerate()
        .map(|(i, l)| {
            if i >= 100 {
                format!("{} changed {i}\n", &l[..l.len().min(30)])
            } else {
                format!("{l}\n")
            }
        })
        .collect();
    for threads in [1, 2] {
        std::fs::write(&path, &text).expect("write");
        let with_memo = run(
            &path,
            threads,
            256,
            64 << 20,
            false,
            OutputFormat::Jsonl,
            Some(&changed),
        );
        std::fs::write(&path, &text).expect("write");
        let without = run(&path, threads, 256, 0, false, OutputFormat::Jsonl, Some(&changed));
        assert!(with_memo == without, "threads {threads}");
    }
}

#[test]
fn several_inputs_mined_first_then_reported_keep_their_own_entries() {
    let dir = tempfile::tempdir().expect("tempdir");
    let text = lines();
    let other: String = text.lines().rev().map(|l| format!("{l} tail\n")).collect();
    let (a, b) = (dir.path().join("a.log"), dir.path().join("b.log"));
    std::fs::write(&a, &text).expect("write");
    std::fs::write(&b, &other).expect("write");
    let both = |budget: usize, threads: usize| {
        let header = HeaderParser::from_format("<Date> <Time> <Level> <Content>").expect("format");
        let opts = Options {
            threads,
            batch_lines: 500,
            ..Options::default()
        };
        let mut engine = Engine::new(header, Miner::new(MinerConfig::default()), opts);
        engine.set_pass_one_memo(budget);
        let inputs = [Input::File(a.clone()), Input::File(b.clone())];
        for i in &inputs {
            engine.mine(i).expect("mine");
        }
        let mut out = Vec::new();
        for i in &inputs {
            engine.report(i, OutputFormat::Jsonl, &mut out).expect("report");
        }
        out
    };
    for threads in [1, 2] {
        let want = both(0, threads);
        // Room for both, for the first and part of the second, for part of the first.
        for budget in [64 << 20, 200_000, 30_000] {
            assert!(both(budget, threads) == want, "budget {budget} threads {threads}");
        }
    }
}
