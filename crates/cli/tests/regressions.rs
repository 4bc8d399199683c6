//! One test per reported defect, named after it (issue "streams"). Each
//! failed on the code before the fix.

use std::io::{BufRead, BufReader, Write};
use std::path::Path;
use std::process::{Child, Command, Output, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

fn bin() -> &'static str {
    env!("CARGO_BIN_EXE_logsieve")
}

fn run(args: &[&str]) -> Output {
    Command::new(bin()).args(args).output().expect("runs logsieve")
}

fn records(stdout: &[u8]) -> Vec<serde_json::Value> {
    String::from_utf8_lossy(stdout)
        .lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("bad record {l:?}: {e}")))
        .collect()
}

fn sh(script: &str) -> Output {
    Command::new("bash")
        .arg("-c")
        .arg(script)
        .env("LOGSIEVE", bin())
        .output()
        .expect("runs bash")
}

fn signal(child: &Child, sig: &str) {
    let ok = Command::new("kill")
        .args([sig, &child.id().to_string()])
        .status()
        .expect("runs kill");
    assert!(ok.success());
}

/// Kills a child left running when a test fails, so a failed test never
/// hangs the suite (a no-op for a child that already exited and was reaped).
struct KillOnDrop(u32);

impl Drop for KillOnDrop {
    fn drop(&mut self) {
        let _ = Command::new("kill")
            .args(["-KILL", &self.0.to_string()])
            .stderr(Stdio::null())
            .status();
    }
}

/// Reads a child's stdout lines on a thread so a test can wait for "the
/// record has arrived" with an upper bound that only prevents a hang.
struct Lines(mpsc::Receiver<String>);

impl Lines {
    fn of(child: &mut Child) -> Lines {
        let out = child.stdout.take().expect("piped stdout");
        let (tx, rx) = mpsc::channel();
        std::thread::spawn(move || {
            for l in BufReader::new(out).lines() {
                let Ok(l) = l else { break };
                if tx.send(l).is_err() {
                    break;
                }
            }
        });
        Lines(rx)
    }

    /// The next line, waiting at most 20 s (a hang guard, not a timing assertion).
    fn next(&self) -> Option<String> {
        self.0.recv_timeout(Duration::from_secs(20)).ok()
    }

    fn rest(&self) -> Vec<String> {
        let mut v = Vec::new();
        while let Ok(l) = self.0.recv_timeout(Duration::from_secs(20)) {
            v.push(l);
        }
        v
    }
}

fn wait_for_file_containing(p: &Path, needle: &str) -> String {
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let s = std::fs::read_to_string(p).unwrap_or_default();
        if s.contains(needle) || Instant::now() > deadline {
            return s;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

#[test]
fn dev_stdin_pipe_gave_zero_records() {
    let out = sh("seq 5 | \"$LOGSIEVE\" parse -q /dev/stdin");
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let recs = records(&out.stdout);
    assert_eq!(recs.len(), 5);
    assert_eq!(recs[4]["message"], "5");
}

#[test]
fn process_substitution_gave_zero_records() {
    let out = sh("\"$LOGSIEVE\" parse -q <(printf 'a 1\\nb 2\\nc 3\\n')");
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    assert_eq!(records(&out.stdout).len(), 3);
}

#[test]
fn fifo_with_two_writers_lost_lines_and_templates() {
    let dir = tempfile::tempdir().unwrap();
    let fifo = dir.path().join("in.fifo");
    let st = Command::new("mkfifo").arg(&fifo).status().unwrap();
    assert!(st.success());
    // Two writers hold the FIFO open; each writes whole lines.
    let script = format!(
        "exec 3>{f}; (for i in $(seq 1 500); do echo \"writer a line $i\"; done >&3) & \
         (for i in $(seq 1 500); do echo \"writer b line $i\"; done >&3) & wait; exec 3>&-",
        f = fifo.display()
    );
    let reader = Command::new(bin())
        .args(["parse", "-q", fifo.to_str().unwrap()])
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let _guard = KillOnDrop(reader.id());
    let w = sh(&script);
    assert!(w.status.success());
    let out = reader.wait_with_output().unwrap();
    assert!(out.status.success());
    let recs = records(&out.stdout);
    assert_eq!(recs.len(), 1000, "every line of both writers");
    assert!(
        recs.iter().all(|r| r["template"].is_string()),
        "every line has a template"
    );
}

#[test]
fn slow_producer_on_stdin_saw_records_only_at_eof() {
    let mut child = Command::new(bin())
        .args(["parse", "-q", "-"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let _guard = KillOnDrop(child.id());
    let lines = Lines::of(&mut child);
    let mut stdin = child.stdin.take().unwrap();
    for i in 0..3 {
        writeln!(stdin, "tick {i} from a slow producer").unwrap();
        stdin.flush().unwrap();
        // The producer is still alive: the record must come out now.
        let rec = lines.next().expect("record written while stdin is still open");
        assert!(rec.contains(&format!("tick {i}")), "{rec}");
    }
    drop(stdin);
    assert!(lines.rest().is_empty());
    assert!(child.wait().unwrap().success());
}

#[test]
fn ctrl_c_exited_130_without_summary_and_lost_the_unflushed_tail() {
    let dir = tempfile::tempdir().unwrap();
    let state = dir.path().join("state.json");
    let mut child = Command::new(bin())
        .args(["parse", "--state", state.to_str().unwrap(), "-"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let _guard = KillOnDrop(child.id());
    let lines = Lines::of(&mut child);
    let mut stdin = child.stdin.take().unwrap();
    for i in 0..100 {
        writeln!(stdin, "request {i} served in {} ms", i * 3).unwrap();
    }
    stdin.flush().unwrap();
    let mut got = Vec::new();
    while got.len() < 100 {
        got.push(lines.next().expect("all 100 records before the signal"));
    }
    signal(&child, "-INT");
    let out = child.wait_with_output().unwrap();
    drop(stdin);
    assert_eq!(out.status.code(), Some(0), "a first Ctrl-C is a clean stop");
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("100 lines read"), "summary printed: {err}");
    assert!(err.contains("stopped by a signal"), "{err}");
    assert!(state.exists(), "state saved on the stop");
    assert!(lines.rest().is_empty());
}

#[test]
fn truncated_gz_gave_zero_records_and_skipped_the_next_file() {
    let dir = tempfile::tempdir().unwrap();
    let gz = dir.path().join("bad.log.gz");
    let mut enc = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    for i in 0..50_000 {
        writeln!(enc, "job {i} finished with status {}", i % 7).unwrap();
    }
    let full = enc.finish().unwrap();
    std::fs::write(&gz, &full[..full.len() * 2 / 3]).unwrap();
    let good = dir.path().join("good.log");
    std::fs::write(&good, "after the bad one 1\nafter the bad one 2\n").unwrap();
    let out = run(&["parse", gz.to_str().unwrap(), good.to_str().unwrap()]);
    assert_eq!(
        out.status.code(),
        Some(2),
        "a damaged input makes the exit status 2"
    );
    let recs = records(&out.stdout);
    let from_bad = recs
        .iter()
        .filter(|r| r["source"].as_str().unwrap().ends_with("bad.log.gz"))
        .count();
    assert!(from_bad > 10_000, "the readable lines were reported: {from_bad}");
    let from_good = recs
        .iter()
        .filter(|r| r["source"].as_str().unwrap().ends_with("good.log"))
        .count();
    assert_eq!(from_good, 2, "the next input was still read");
    let err = String::from_utf8_lossy(&out.stderr);
    let errors: Vec<&str> = err.lines().filter(|l| l.contains("error:")).collect();
    assert_eq!(errors.len(), 1, "one error line: {err}");
    assert!(errors[0].contains("bad.log.gz"), "names the file: {}", errors[0]);
}

#[test]
fn match_only_without_a_state_ran_with_exit_0() {
    let dir = tempfile::tempdir().unwrap();
    let log = dir.path().join("a.log");
    std::fs::write(&log, "hello 1\n").unwrap();
    let missing = dir.path().join("missing.json");
    let out = run(&[
        "parse",
        "--match-only",
        "--state",
        missing.to_str().unwrap(),
        log.to_str().unwrap(),
    ]);
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("does not exist"));
    assert!(out.stdout.is_empty());
}

const NOT_RULE: &str = "title: not for this product\nid: not-windows\nlevel: high\n\
    logsource: {product: windows, category: process_creation}\n\
    detection:\n  selection: {Image|endswith: '\\\\cmd.exe'}\n  condition: not selection\n";

#[test]
fn detect_without_mapping_fired_other_products_rules_on_every_event() {
    let dir = tempfile::tempdir().unwrap();
    let rule = dir.path().join("r.yml");
    std::fs::write(&rule, NOT_RULE).unwrap();
    let log = dir.path().join("auth.log");
    std::fs::write(
        &log,
        "Jan  1 00:00:01 host sshd[1]: Accepted password for bob\nJan  1 00:00:02 host sshd[1]: oops\n",
    )
    .unwrap();
    // syslog text: the linux mapping is chosen, the windows rule is rejected.
    let out = run(&[
        "detect",
        "--preset",
        "syslog",
        "--rules",
        rule.to_str().unwrap(),
        log.to_str().unwrap(),
    ]);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    assert!(
        out.stdout.is_empty(),
        "no alert: {}",
        String::from_utf8_lossy(&out.stdout)
    );
    assert!(String::from_utf8_lossy(&out.stderr).contains("rule rejected"));
    // Plain text without a preset: the user must say which mapping.
    let out = run(&["detect", "--rules", rule.to_str().unwrap(), log.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("--mapping"));
    // --mapping none runs every rule on every event and says so.
    let out = run(&[
        "detect",
        "--mapping",
        "none",
        "--rules",
        rule.to_str().unwrap(),
        log.to_str().unwrap(),
    ]);
    assert!(String::from_utf8_lossy(&out.stderr).contains("every rule runs on every event"));
    assert_eq!(String::from_utf8_lossy(&out.stdout).lines().count(), 2);
}

#[test]
fn rule_on_content_loaded_and_never_matched() {
    let dir = tempfile::tempdir().unwrap();
    let rule = dir.path().join("r.yml");
    std::fs::write(
        &rule,
        "title: c\nid: c\nlevel: low\nlogsource: {product: linux}\n\
         detection:\n  s: {content|contains: 'Failed password'}\n  condition: s\n",
    )
    .unwrap();
    let log = dir.path().join("auth.log");
    std::fs::write(
        &log,
        "Jan  1 00:00:01 host sshd[1]: Failed password for root\nJan  1 00:00:02 host sshd[1]: fine\n",
    )
    .unwrap();
    let alerts = dir.path().join("alerts.jsonl");
    let out = run(&[
        "parse",
        "-q",
        "--preset",
        "syslog",
        "--rules",
        rule.to_str().unwrap(),
        "--alerts",
        alerts.to_str().unwrap(),
        log.to_str().unwrap(),
    ]);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let a = std::fs::read_to_string(&alerts).unwrap();
    assert_eq!(a.lines().count(), 1, "{a}");
    assert!(a.contains("\"line\":1"), "{a}");
    // The record names the message `message` too.
    assert_eq!(records(&out.stdout)[0]["message"], "Failed password for root");
}

#[test]
fn parse_follow_rules_wrote_the_record_but_not_the_alert() {
    let dir = tempfile::tempdir().unwrap();
    let rule = dir.path().join("r.yml");
    std::fs::write(
        &rule,
        "title: k\nid: k\nlevel: low\nlogsource: {product: linux}\ndetection:\n  k: ['needle']\n  condition: k\n",
    )
    .unwrap();
    let log = dir.path().join("app.log");
    std::fs::write(&log, "").unwrap();
    let alerts = dir.path().join("alerts.jsonl");
    let mut child = Command::new(bin())
        .args([
            "parse",
            "-q",
            "--follow",
            "--mapping",
            "none",
            "--rules",
            rule.to_str().unwrap(),
            "--alerts",
            alerts.to_str().unwrap(),
            log.to_str().unwrap(),
        ])
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let _guard = KillOnDrop(child.id());
    let lines = Lines::of(&mut child);
    std::fs::OpenOptions::new()
        .append(true)
        .open(&log)
        .unwrap()
        .write_all(b"a needle in the log\n")
        .unwrap();
    let rec = lines.next().expect("record while following");
    assert!(rec.contains("needle"));
    let a = wait_for_file_containing(&alerts, "\"rule_id\":\"k\"");
    assert!(
        a.contains("\"rule_id\":\"k\""),
        "alert written while following: {a:?}"
    );
    signal(&child, "-TERM");
    assert!(child.wait().unwrap().success());
}

#[test]
fn detect_follow_raised_nothing_for_one_matching_line() {
    let dir = tempfile::tempdir().unwrap();
    let rule = dir.path().join("r.yml");
    std::fs::write(
        &rule,
        "title: k\nid: k\nlevel: low\nlogsource: {product: linux}\ndetection:\n  k: ['needle']\n  condition: k\n",
    )
    .unwrap();
    let log = dir.path().join("app.log");
    std::fs::write(&log, "").unwrap();
    let mut child = Command::new(bin())
        .args([
            "detect",
            "-q",
            "--follow",
            "--preset",
            "syslog",
            "--rules",
            rule.to_str().unwrap(),
            log.to_str().unwrap(),
        ])
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let _guard = KillOnDrop(child.id());
    let lines = Lines::of(&mut child);
    std::fs::OpenOptions::new()
        .append(true)
        .open(&log)
        .unwrap()
        .write_all(b"Jan  1 00:00:01 host app[1]: a needle\n")
        .unwrap();
    let alert = lines.next().expect("alert while following");
    assert!(alert.contains("\"rule_id\":\"k\""), "{alert}");
    signal(&child, "-INT");
    assert!(child.wait().unwrap().success());
}

#[test]
fn ctrl_c_lost_the_last_alerts() {
    let dir = tempfile::tempdir().unwrap();
    let rule = dir.path().join("r.yml");
    std::fs::write(
        &rule,
        "title: k\nid: k\nlevel: low\nlogsource: {product: linux}\ndetection:\n  k: ['needle']\n  condition: k\n",
    )
    .unwrap();
    let mut child = Command::new(bin())
        .args([
            "detect",
            "-q",
            "--preset",
            "syslog",
            "--rules",
            rule.to_str().unwrap(),
            "-",
        ])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let _guard = KillOnDrop(child.id());
    let lines = Lines::of(&mut child);
    let mut stdin = child.stdin.take().unwrap();
    for i in 0..5000 {
        writeln!(stdin, "Jan  1 00:00:01 host app[1]: needle {i}").unwrap();
    }
    stdin.flush().unwrap();
    // Wait until the last alert is out, then stop with the writer alive.
    let mut n = 0;
    while n < 5000 {
        lines.next().expect("alert");
        n += 1;
    }
    signal(&child, "-INT");
    let st = child.wait().unwrap();
    drop(stdin);
    assert!(st.success());
    assert_eq!(n + lines.rest().len(), 5000);
}

#[test]
fn state_saved_under_another_format_silently_matched_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let log = dir.path().join("a.log");
    std::fs::write(&log, "INFO: job 1 done\nINFO: job 2 done\n").unwrap();
    let state = dir.path().join("state.json");
    let (log, state) = (log.to_str().unwrap(), state.to_str().unwrap());
    let made = run(&[
        "templates",
        "-q",
        "--format",
        "<Level>: <Content>",
        "--state",
        state,
        log,
    ]);
    assert!(made.status.success());
    // Reused with the whole line as content: refused, and says why.
    let out = run(&["parse", "-q", "--match-only", "--state", state, log]);
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("--force"), "{err}");
    assert!(out.stdout.is_empty());
    // Without --match-only too: the state would grow under the wrong header.
    let out = run(&["parse", "-q", "--state", state, log]);
    assert_eq!(out.status.code(), Some(2));
    // With the same format it matches every line.
    let out = run(&[
        "parse",
        "-q",
        "--match-only",
        "--format",
        "<Level>: <Content>",
        "--state",
        state,
        log,
    ]);
    assert!(out.status.success());
    assert!(records(&out.stdout)
        .iter()
        .all(|r| r["template"] == "job <*> done"));
    // --force uses it anyway.
    let out = run(&["parse", "-q", "--match-only", "--force", "--state", state, log]);
    assert!(out.status.success());
}

#[test]
fn state_grew_with_every_distinct_line() {
    let dir = tempfile::tempdir().unwrap();
    let log = dir.path().join("words.log");
    let mut text = String::new();
    let mut x: u64 = 0x9e37_79b9;
    for i in 0..60_000u64 {
        // A pseudo-random word per line (letters only: not masked as a number).
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        let word: String = (0..8)
            .map(|k| (b'a' + ((x >> (k * 5)) % 26) as u8) as char)
            .collect();
        text.push_str(&match i % 3 {
            0 => format!("user {word} logged in\n"),
            1 => format!("cache miss for key {word}\n"),
            _ => format!("worker {word} restarted after failure\n"),
        });
    }
    std::fs::write(&log, text).unwrap();
    let state = dir.path().join("state.json");
    let out = run(&[
        "templates",
        "-q",
        "--state",
        state.to_str().unwrap(),
        log.to_str().unwrap(),
    ]);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let size = std::fs::metadata(&state).unwrap().len();
    assert!(
        size < 64 * 1024,
        "state holds templates, not 60,000 keys: {size} bytes"
    );
    let listed = String::from_utf8_lossy(&out.stdout);
    assert!(listed.contains("user <*> logged in"), "{listed}");
}

#[test]
fn follow_of_two_files_followed_only_the_first_and_a_missing_file_was_an_error() {
    let dir = tempfile::tempdir().unwrap();
    let a = dir.path().join("a.log");
    let b = dir.path().join("b.log"); // does not exist yet
    std::fs::write(&a, "alpha 1\n").unwrap();
    let state = dir.path().join("state.json");
    let mut child = Command::new(bin())
        .args(["parse", "--follow", "--state", state.to_str().unwrap()])
        .arg(&a)
        .arg(&b)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let _guard = KillOnDrop(child.id());
    let lines = Lines::of(&mut child);
    let first = lines.next().expect("a.log's line");
    assert!(first.contains("alpha 1"), "{first}");
    std::fs::write(&b, "beta 2\n").unwrap();
    let second = lines.next().expect("b.log's line once it is created");
    assert!(second.contains("beta 2"), "{second}");
    let r: serde_json::Value = serde_json::from_str(&second).unwrap();
    assert!(
        r["source"].as_str().unwrap().ends_with("b.log"),
        "records name their source"
    );
    std::fs::OpenOptions::new()
        .append(true)
        .open(&a)
        .unwrap()
        .write_all(b"alpha 3\n")
        .unwrap();
    assert!(lines.next().expect("a.log again").contains("alpha 3"));
    signal(&child, "-INT");
    let out = child.wait_with_output().unwrap();
    assert_eq!(out.status.code(), Some(0));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("3 lines read"), "{err}");
    assert!(state.exists(), "--follow --state saves the state on Ctrl-C");
}

#[test]
fn follow_copytruncate_skipped_lines_and_emitted_partial_lines() {
    // logrotate's copytruncate on a live file: the follower has caught up,
    // the writer appends a burst (and half a line), the file is copied and
    // truncated, and the writer goes on at once past the old offset.
    let dir = tempfile::tempdir().unwrap();
    let log = dir.path().join("app.log");
    std::fs::write(&log, "").unwrap();
    let mut child = Command::new(bin())
        .args(["parse", "-q", "--follow"])
        .arg(&log)
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let _guard = KillOnDrop(child.id());
    let lines = Lines::of(&mut child);
    let mut got: Vec<String> = Vec::new();
    let take = |k: usize, got: &mut Vec<String>| {
        while got.len() < k {
            let l = lines.next().expect("record");
            let r: serde_json::Value = serde_json::from_str(&l).unwrap();
            got.push(r["message"].as_str().unwrap().to_string());
        }
    };
    let mut w = std::fs::OpenOptions::new().append(true).open(&log).unwrap();
    let mut n = 0;
    let mut whole = 0usize;
    for round in 0..4 {
        for _ in 0..200 {
            n += 1;
            writeln!(w, "request {n} round {round}").unwrap();
        }
        whole += 200;
        take(whole + 2 * round, &mut got); // caught up
        for _ in 0..50 {
            n += 1;
            writeln!(w, "request {n} round {round}").unwrap();
        }
        n += 1;
        write!(w, "request {n} split").unwrap();
        std::fs::copy(&log, dir.path().join(format!("app.log.{round}"))).unwrap();
        w.set_len(0).unwrap();
        writeln!(w, "tail {round}").unwrap();
        for _ in 0..400 {
            n += 1;
            writeln!(w, "request {n} round {round}").unwrap();
        }
        whole += 450;
    }
    // 4 × 650 whole lines, and each split line as its two halves.
    take(whole + 8, &mut got);
    signal(&child, "-TERM");
    assert!(child.wait().unwrap().success());
    let extra = lines.rest();
    assert!(extra.is_empty(), "nothing more: {extra:?}");
    let mut numbers = std::collections::BTreeMap::new();
    for m in &got {
        let parts: Vec<&str> = m.split(' ').collect();
        match parts.as_slice() {
            ["request", k, "round", _] | ["request", k, "split"] => {
                *numbers.entry(k.parse::<u64>().unwrap()).or_insert(0) += 1;
            }
            ["tail", _] => {}
            _ => panic!("a fragment glued to another line: {m:?}"),
        }
    }
    assert_eq!(numbers.len() as u64, n, "every line delivered");
    assert!(numbers.values().all(|&c| c == 1), "none twice");
}

#[test]
fn error_messages_echoed_unbounded_user_input() {
    let long_format = format!("<Date> {} <Content", "x".repeat(5000));
    let long_name = format!("/nonexistent/{}.log", "y".repeat(3000));
    for args in [
        vec!["parse", "--format", long_format.as_str(), "/dev/null"],
        vec!["parse", long_name.as_str()],
        vec!["parse", "--multiline", "((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((", "/dev/null"],
        vec!["parse", "--preset", long_format.as_str(), "/dev/null"],
    ] {
        let out = run(&args);
        assert_eq!(out.status.code(), Some(2), "{args:?}");
        let err = String::from_utf8_lossy(&out.stderr);
        let lines: Vec<&str> = err.lines().filter(|l| l.contains("error:")).collect();
        assert_eq!(lines.len(), 1, "one error line: {err}");
        assert!(lines[0].chars().count() < 800, "{} chars: {}", lines[0].chars().count(), lines[0]);
    }
}

#[test]
fn windows_event_json_was_not_recognised_without_mapping() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../testdata/sigma-regression");
    let mut cases = 0;
    for case in std::fs::read_dir(&root).unwrap() {
        let case = case.unwrap().path();
        if !case.join("rule.yml").exists() {
            continue;
        }
        cases += 1;
        let out = Command::new(bin())
            .arg("detect")
            .arg("-q")
            .arg("--rules")
            .arg(case.join("rule.yml"))
            .arg(case.join("event.json"))
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "{}: {}",
            case.display(),
            String::from_utf8_lossy(&out.stderr)
        );
        assert!(
            !out.stdout.is_empty(),
            "{}: the windows mapping was chosen and the rule fired",
            case.display()
        );
    }
    assert_eq!(cases, 20);
}

#[test]
fn fifo_without_a_writer_blocked_the_other_inputs_and_ignored_the_signal() {
    let dir = tempfile::tempdir().unwrap();
    let (f1, f2) = (dir.path().join("f1"), dir.path().join("f2"));
    for f in [&f1, &f2] {
        assert!(Command::new("mkfifo").arg(f).status().unwrap().success());
    }
    let mut child = Command::new(bin())
        .arg("parse")
        .arg(&f1)
        .arg(&f2)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let _guard = KillOnDrop(child.id());
    let lines = Lines::of(&mut child);
    // f1 gets a writer and 5 lines; f2 never gets one.
    std::fs::write(&f1, "one 1\ntwo 2\nthree 3\nfour 4\nfive 5\n").unwrap();
    for _ in 0..5 {
        lines.next().expect("f1's records while f2 waits for a writer");
    }
    signal(&child, "-TERM");
    let out = child.wait_with_output().unwrap();
    assert_eq!(out.status.code(), Some(0), "the first signal stops the run");
    assert!(String::from_utf8_lossy(&out.stderr).contains("5 lines read"));
}

#[test]
fn stdin_named_twice_split_its_bytes_between_two_readers() {
    let out = sh("printf 'a 1\\nb 2\\n' | \"$LOGSIEVE\" parse -q - -");
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("standard input is named 2 times"));
    assert!(out.stdout.is_empty());
}

#[test]
fn follow_with_a_missing_directory_aborted_the_other_files() {
    let dir = tempfile::tempdir().unwrap();
    let good = dir.path().join("a.log");
    std::fs::write(&good, "r 1\n").unwrap();
    let missing = dir.path().join("nodir/a.log");
    let mut child = Command::new(bin())
        .args(["parse", "-q", "--follow"])
        .arg(&missing)
        .arg(&good)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let _guard = KillOnDrop(child.id());
    let lines = Lines::of(&mut child);
    assert!(lines.next().expect("the good file is followed").contains("r 1"));
    signal(&child, "-INT");
    let out = child.wait_with_output().unwrap();
    assert_eq!(out.status.code(), Some(2), "the bad argument makes the status 2");
    assert!(String::from_utf8_lossy(&out.stderr).contains("nodir"));
}

#[test]
fn output_file_was_replaced_when_the_run_failed_or_was_its_own_input() {
    let dir = tempfile::tempdir().unwrap();
    let out_file = dir.path().join("out.jsonl");
    std::fs::write(&out_file, "OLD\n").unwrap();
    let good = dir.path().join("good.log");
    std::fs::write(&good, "fine 1\n").unwrap();
    let missing = dir.path().join("missing.log");
    let out = run(&[
        "parse",
        "-q",
        "--output-file",
        out_file.to_str().unwrap(),
        good.to_str().unwrap(),
        missing.to_str().unwrap(),
    ]);
    assert_eq!(out.status.code(), Some(2));
    assert_eq!(
        std::fs::read_to_string(&out_file).unwrap(),
        "OLD\n",
        "FILE left as it was"
    );
    let beside = std::fs::read_to_string(dir.path().join("out.jsonl.tmp")).unwrap();
    assert!(
        beside.contains("fine 1"),
        "the readable lines' output is kept beside it"
    );
    // The output file is one of the inputs: refused before anything is written.
    let out = run(&[
        "parse",
        "-q",
        "--output-file",
        good.to_str().unwrap(),
        good.to_str().unwrap(),
    ]);
    assert_eq!(out.status.code(), Some(2));
    assert_eq!(std::fs::read_to_string(&good).unwrap(), "fine 1\n");
}
