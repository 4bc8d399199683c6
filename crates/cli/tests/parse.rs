//! Integration tests: the real `logsieve` binary on real files.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

fn bin() -> Command {
    Command::new(env!("CARGO_BIN_EXE_logsieve"))
}

fn testdata(p: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../testdata")
        .join(p)
}

const HDFS_FORMAT: &str = "<Date> <Time> <Pid> <Level> <Component>: <Content>";

fn run(args: &[&str]) -> Output {
    bin().args(args).output().expect("run logsieve")
}

fn ok(args: &[&str]) -> Output {
    let out = run(args);
    assert!(
        out.status.success(),
        "logsieve {args:?} failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    out
}

fn json_lines(out: &[u8]) -> Vec<serde_json::Value> {
    String::from_utf8(out.to_vec())
        .expect("utf-8 output")
        .lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("bad json {l:?}: {e}")))
        .collect()
}

fn write(dir: &Path, name: &str, bytes: &[u8]) -> PathBuf {
    let p = dir.join(name);
    std::fs::write(&p, bytes).unwrap();
    p
}

#[test]
fn parse_hdfs_jsonl_one_record_per_line() {
    let log = testdata("loghub-2k/HDFS/HDFS_2k.log");
    let out = ok(&["parse", "--quiet", "--format", HDFS_FORMAT, log.to_str().unwrap()]);
    let recs = json_lines(&out.stdout);
    assert_eq!(recs.len(), 2000);
    for (i, r) in recs.iter().enumerate() {
        assert_eq!(r["line"], (i + 1) as u64);
    }
    let first = &recs[0];
    assert_eq!(first["template"], "PacketResponder <*> for block <*> terminating");
    assert_eq!(first["params"], serde_json::json!(["1", "blk_38865049064139660"]));
    assert_eq!(first["param_types"], serde_json::json!(["int", "id"]));
    assert_eq!(first["fields"]["Level"], "INFO");
    assert_eq!(first["fields"]["Component"], "dfs.DataNode$PacketResponder");
    assert_eq!(first["template_id"].as_str().unwrap().len(), 16);
    // Every line of one template carries the same text and id.
    let mut by_id = std::collections::HashMap::new();
    for r in &recs {
        let prev = by_id.insert(r["template_id"].clone(), r["template"].clone());
        if let Some(p) = prev {
            assert_eq!(p, r["template"]);
        }
    }
}

#[test]
fn same_file_twice_is_byte_identical_and_thread_count_does_not_matter() {
    let dir = tempfile::tempdir().unwrap();
    // A multi-source corpus large enough for many batches.
    let mut corpus = Vec::new();
    for name in ["HDFS", "Hadoop", "BGL", "Linux", "OpenStack", "HPC", "HealthApp"] {
        corpus.extend(std::fs::read(testdata(&format!("loghub-2k/{name}/{name}_2k.log"))).unwrap());
        if corpus.last() != Some(&b'\n') {
            corpus.push(b'\n');
        }
    }
    let p = write(dir.path(), "corpus.log", &corpus);
    let p = p.to_str().unwrap();
    let a = ok(&["parse", "--quiet", "--threads", "1", "--batch-lines", "97", p]).stdout;
    let b = ok(&["parse", "--quiet", "--threads", "2", "--batch-lines", "97", p]).stdout;
    let c = ok(&["parse", "--quiet", "--threads", "2", p]).stdout;
    assert_eq!(a.len(), b.len());
    assert!(a == b, "--threads 1 and 2 differ");
    assert!(b == c, "batch size changed the output");
    assert_eq!(json_lines(&a).len(), 14_000);
    let t1 = ok(&["templates", "--quiet", "--threads", "1", "-o", "jsonl", p]).stdout;
    let t2 = ok(&["templates", "--quiet", "--threads", "2", "-o", "jsonl", p]).stdout;
    assert_eq!(t1, t2);
}

#[test]
fn templates_of_files_of_a_few_lines_count_every_line_for_any_thread_count_and_batch_size() {
    // The last lines of an input (the end of the last batch, a batch of
    // one line) are learned like the others, on one thread as on two.
    let dir = tempfile::tempdir().unwrap();
    let words = [
        "alpha",
        "bravo charlie",
        "delta echo foxtrot",
        "golf",
        "hotel india",
        "juliett",
    ];
    for n in 0..=words.len() {
        for batch in ["1", "2", "4096"] {
            let text: String = words[..n].iter().map(|w| format!("{w} {n}\n")).collect();
            let p = write(dir.path(), &format!("f{n}.log"), text.as_bytes());
            let p = p.to_str().unwrap();
            let one = ok(&[
                "templates",
                "--quiet",
                "--threads",
                "1",
                "--batch-lines",
                batch,
                "-o",
                "jsonl",
                p,
            ])
            .stdout;
            let two = ok(&[
                "templates",
                "--quiet",
                "--threads",
                "2",
                "--batch-lines",
                batch,
                "-o",
                "jsonl",
                p,
            ])
            .stdout;
            let recs = json_lines(&one);
            assert_eq!(recs.len(), n, "{n} lines, batch {batch}: one template per line");
            let counted: u64 = recs.iter().map(|r| r["count"].as_u64().unwrap()).sum();
            assert_eq!(counted, n as u64, "{n} lines, batch {batch}");
            assert!(one == two, "{n} lines, batch {batch}: --threads 1 and 2 differ");
        }
    }
}

#[test]
fn csv_output_has_loghub_layout() {
    let log = testdata("loghub-2k/HDFS/HDFS_2k.log");
    let out = ok(&[
        "parse",
        "--quiet",
        "-o",
        "csv",
        "--format",
        HDFS_FORMAT,
        log.to_str().unwrap(),
    ]);
    let text = String::from_utf8(out.stdout).unwrap();
    let mut lines = text.lines();
    assert_eq!(
        lines.next().unwrap(),
        "LineId,Date,Time,Pid,Level,Component,Content,EventId,EventTemplate"
    );
    let first = lines.next().unwrap();
    assert!(first.starts_with("1,081109,203615,148,INFO,dfs.DataNode$PacketResponder,PacketResponder 1 for block blk_38865049064139660 terminating,"));
    assert!(first.ends_with(",PacketResponder <*> for block <*> terminating"));
    assert_eq!(text.lines().count(), 2001);
}

#[test]
fn templates_lists_most_frequent_first() {
    let log = testdata("loghub-2k/HDFS/HDFS_2k.log");
    let out = ok(&[
        "templates",
        "--quiet",
        "-o",
        "jsonl",
        "--format",
        HDFS_FORMAT,
        log.to_str().unwrap(),
    ]);
    let t = json_lines(&out.stdout);
    assert!(t.len() >= 10);
    let counts: Vec<u64> = t.iter().map(|x| x["count"].as_u64().unwrap()).collect();
    assert!(counts.windows(2).all(|w| w[0] >= w[1]));
    assert_eq!(counts.iter().sum::<u64>(), 2000);
    assert!(t[0]["example"].as_str().is_some());
    let table = ok(&[
        "templates",
        "--quiet",
        "--format",
        HDFS_FORMAT,
        log.to_str().unwrap(),
    ])
    .stdout;
    assert!(String::from_utf8(table).unwrap().starts_with("COUNT"));
}

#[test]
fn saved_state_reloaded_with_match_only_gives_same_ids() {
    let dir = tempfile::tempdir().unwrap();
    let state = dir.path().join("state.json");
    let log = testdata("loghub-2k/Linux/Linux_2k.log");
    let fmt = "<Month> <Date> <Time> <Level> <Component>(\\[<PID>\\])?: <Content>";
    let first = ok(&[
        "parse",
        "--quiet",
        "--format",
        fmt,
        "--state",
        state.to_str().unwrap(),
        log.to_str().unwrap(),
    ]);
    assert!(state.exists());
    let second = ok(&[
        "parse",
        "--quiet",
        "--format",
        fmt,
        "--state",
        state.to_str().unwrap(),
        "--match-only",
        log.to_str().unwrap(),
    ]);
    let a = json_lines(&first.stdout);
    let b = json_lines(&second.stdout);
    assert_eq!(a.len(), b.len());
    for (x, y) in a.iter().zip(&b) {
        assert_eq!(x["template_id"], y["template_id"], "line {}", x["line"]);
    }
    // A line unlike any known template is reported, flagged, not dropped.
    let other = write(
        dir.path(),
        "other.log",
        b"Jun 14 15:16:01 combo kernel: completely novel message shape here\n",
    );
    let out = ok(&[
        "parse",
        "--quiet",
        "--format",
        fmt,
        "--state",
        state.to_str().unwrap(),
        "--match-only",
        other.to_str().unwrap(),
    ]);
    let r = json_lines(&out.stdout);
    assert_eq!(r.len(), 1);
    assert!(r[0]["template"].is_null());
    assert_eq!(r[0]["flags"], serde_json::json!(["no_template"]));
}

#[test]
fn bad_bytes_are_kept_and_counted() {
    let dir = tempfile::tempdir().unwrap();
    let mut data = Vec::new();
    data.extend_from_slice(b"ok line 1\r\n");
    data.extend_from_slice(b"\n");
    data.extend_from_slice(b"bad \xff\xfe utf8 2\n");
    data.extend_from_slice(b"nul \x00 byte 3\n");
    data.extend_from_slice(&vec![b'x'; 5000]);
    data.extend_from_slice(b"\nlast line without newline 4");
    let p = write(dir.path(), "bad.log", &data);
    let out = ok(&["parse", "--max-line-bytes", "1000", p.to_str().unwrap()]);
    let recs = json_lines(&out.stdout);
    assert_eq!(recs.len(), 6, "lines in = lines out");
    assert_eq!(recs[0]["message"], "ok line 1", "CR of CRLF removed");
    assert_eq!(recs[1]["message"], "");
    assert_eq!(recs[2]["flags"], serde_json::json!(["invalid_utf8"]));
    assert!(recs[2]["message"].as_str().unwrap().contains('\u{FFFD}'));
    assert!(recs[3]["flags"].as_array().unwrap().contains(&"nul".into()));
    assert_eq!(recs[4]["flags"], serde_json::json!(["truncated"]));
    assert_eq!(recs[4]["message"].as_str().unwrap().len(), 1000);
    assert_eq!(recs[5]["message"], "last line without newline 4");
    let err = String::from_utf8(out.stderr).unwrap();
    assert!(err.contains("6 lines read"), "{err}");
    assert!(err.contains("3 flagged"), "{err}");
    assert!(err.contains("truncated 1"), "{err}");
}

#[test]
fn header_mismatch_is_flagged_not_dropped() {
    let dir = tempfile::tempdir().unwrap();
    let p = write(
        dir.path(),
        "h.log",
        b"081109 203615 148 INFO dfs.X: hello 1\nno header here\n",
    );
    let out = ok(&[
        "parse",
        "--multiline",
        "none",
        "--format",
        HDFS_FORMAT,
        p.to_str().unwrap(),
    ]);
    let recs = json_lines(&out.stdout);
    assert_eq!(recs.len(), 2);
    assert_eq!(recs[0]["message"], "hello 1");
    assert_eq!(recs[1]["message"], "no header here");
    assert_eq!(recs[1]["flags"], serde_json::json!(["header_mismatch"]));
    assert!(String::from_utf8(out.stderr)
        .unwrap()
        .contains("header mismatch 1"));
}

#[test]
fn invalid_format_says_what_and_where() {
    let out = run(&["parse", "--format", "<Date> <Time <Content>", "/dev/null"]);
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8(out.stderr).unwrap();
    assert!(err.contains("invalid --format"), "{err}");
    assert!(err.contains("column"), "{err}");
    let out = run(&["parse", "--format", "<Date> <Time>", "/dev/null"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8(out.stderr).unwrap().contains("Content"));
}

#[test]
fn unreadable_file_is_a_clear_error() {
    let out = run(&["parse", "/nonexistent/file.log"]);
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8(out.stderr).unwrap();
    assert!(err.contains("/nonexistent/file.log"), "{err}");
}

#[test]
fn gzip_and_zstd_are_read_and_truncated_gzip_is_an_error() {
    let dir = tempfile::tempdir().unwrap();
    let plain: Vec<u8> = (0..5000)
        .map(|i| format!("request {i} served in {} ms\n", i % 17))
        .collect::<String>()
        .into_bytes();
    let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    gz.write_all(&plain).unwrap();
    let gz = gz.finish().unwrap();
    let p = write(dir.path(), "a.log.gz", &gz);
    let out = ok(&["parse", "--quiet", p.to_str().unwrap()]);
    assert_eq!(json_lines(&out.stdout).len(), 5000);
    let zst = zstd_compress(&plain);
    let pz = write(dir.path(), "a.log.zst", &zst);
    let out = ok(&["parse", "--quiet", pz.to_str().unwrap()]);
    assert_eq!(json_lines(&out.stdout).len(), 5000);

    let cut = write(dir.path(), "cut.log.gz", &gz[..gz.len() / 2]);
    let out = run(&["parse", cut.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8(out.stderr).unwrap();
    assert!(err.contains("cut.log.gz"), "{err}");
    assert!(
        err.to_lowercase().contains("truncated") || err.contains("end of file"),
        "{err}"
    );
}

fn zstd_compress(data: &[u8]) -> Vec<u8> {
    zstd::encode_all(data, 3).unwrap()
}

/// Runs `logsieve parse --quiet -` with `input` on standard input (the
/// stream path) and returns its records.
fn stdin_records(input: &[u8]) -> Vec<serde_json::Value> {
    let mut child = bin()
        .args(["parse", "--quiet", "-"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    child.stdin.take().unwrap().write_all(input).unwrap();
    json_lines(&child.wait_with_output().unwrap().stdout)
}

#[test]
fn stdin_is_streamed() {
    let recs = stdin_records(b"open port 22\nopen port 80\r\n");
    assert_eq!(recs.len(), 2);
    assert_eq!(recs[1]["template"], "open port <*>");
    assert_eq!(recs[1]["source"], "<stdin>");
}

#[test]
fn a_stream_reports_the_template_known_then_and_each_merge_old_id_to_new_id() {
    let recs = stdin_records(b"link eth0 is up\nlink eth0 is up\nlink eth1 is up\nlink eth7 is up\n");
    assert_eq!(recs.len(), 4, "one record per line, merges ride on them");
    // Lines 1 and 2 got the template known when they arrived.
    assert_eq!(recs[0]["template"], "link eth0 is up");
    assert_eq!(recs[1]["template_id"], recs[0]["template_id"]);
    assert!(recs[0].get("merged").is_none());
    // Line 3 generalised it: its record says old id -> new id.
    assert_eq!(recs[2]["template"], "link <*> is up");
    let merged = recs[2]["merged"].as_array().expect("line 3 carries the merge");
    assert_eq!(merged.len(), 1);
    assert_eq!(merged[0]["from"], recs[0]["template_id"]);
    assert_eq!(merged[0]["into"], recs[2]["template_id"]);
    assert!(recs[3].get("merged").is_none());
    // A file reports final templates: no merges to follow.
    let dir = tempfile::tempdir().unwrap();
    let f = write(dir.path(), "links.log", b"link eth0 is up\nlink eth1 is up\n");
    let recs = json_lines(&ok(&["parse", "--quiet", f.to_str().unwrap()]).stdout);
    assert_eq!(recs[0]["template"], "link <*> is up");
    assert!(recs.iter().all(|r| r.get("merged").is_none()));
}

#[test]
fn lines_across_read_buffer_boundaries() {
    let dir = tempfile::tempdir().unwrap();
    let mut data = Vec::new();
    let mut expect = Vec::new();
    for i in 0..40 {
        let line = format!("event {i} {}", "y".repeat(1000 + i * 7919 % 70_000));
        data.extend_from_slice(line.as_bytes());
        data.push(b'\n');
        expect.push(line);
    }
    let p = write(dir.path(), "long.log", &data);
    let out = ok(&["parse", "--quiet", p.to_str().unwrap()]);
    let recs = json_lines(&out.stdout);
    assert_eq!(recs.len(), expect.len());
    for (r, e) in recs.iter().zip(&expect) {
        assert_eq!(r["message"].as_str().unwrap(), e);
    }
}

#[test]
fn follow_reports_growth_and_rotation() {
    use std::io::{BufRead, BufReader};
    let dir = tempfile::tempdir().unwrap();
    let p = write(dir.path(), "app.log", b"boot 1\n");
    let mut child = bin()
        .args(["parse", "--quiet", "--follow", p.to_str().unwrap()])
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
    let mut next = || -> serde_json::Value { serde_json::from_str(&lines.next().unwrap().unwrap()).unwrap() };
    assert_eq!(next()["message"], "boot 1");
    let mut f = std::fs::OpenOptions::new().append(true).open(&p).unwrap();
    f.write_all(b"grew 2\n").unwrap();
    f.flush().unwrap();
    assert_eq!(next()["message"], "grew 2");
    // Rotate: rename the file away and start a new one.
    f.write_all(b"before rotation 3\n").unwrap();
    drop(f);
    std::fs::rename(&p, dir.path().join("app.log.1")).unwrap();
    std::fs::write(&p, b"after rotation 4\n").unwrap();
    assert_eq!(next()["message"], "before rotation 3");
    assert_eq!(next()["message"], "after rotation 4");
    child.kill().unwrap();
    let _ = child.wait();
}

#[test]
fn eval_meets_the_accuracy_bar_on_loghub_2k() {
    // The accuracy bar, raised with each accuracy issue: the averages over
    // the bundled Loghub-2k logs with the default configuration (accuracy-2
    // measured GA 0.961, FGA 0.967, PA 0.826, FTA 0.906).
    let dir = testdata("loghub-2k");
    let out = ok(&["eval", "--loghub", dir.to_str().unwrap(), "-o", "jsonl"]);
    let rows = json_lines(&out.stdout);
    assert_eq!(rows.len(), 8);
    let avg = rows.last().unwrap();
    assert_eq!(avg["dataset"], "Average");
    for (metric, bar) in [("ga", 0.958), ("fga", 0.96), ("pa", 0.82), ("fta", 0.90)] {
        let x = avg[metric].as_f64().unwrap();
        assert!(x >= bar, "average {metric} {x} is below {bar}");
    }
    for r in &rows[..7] {
        assert_eq!(r["lines"], 2000);
    }
    let table = ok(&[
        "eval",
        "--loghub",
        dir.to_str().unwrap(),
        "--min-ga",
        "0.958",
        "--min-pa",
        "0.82",
    ]);
    assert!(String::from_utf8(table.stdout).unwrap().contains("Average"));
}

#[test]
fn eval_meets_the_accuracy_bar_on_the_machine_logs() {
    // Two real logs of this machine, labelled by event type
    // (testdata/machine-logs): the kernel ring buffer and a PostgreSQL
    // server log. Bars a little under what accuracy-2 measured.
    let dir = testdata("machine-logs");
    let out = ok(&["eval", "--loghub", dir.to_str().unwrap(), "-o", "jsonl"]);
    let rows = json_lines(&out.stdout);
    assert_eq!(rows.len(), 3);
    for (row, ga, pa) in [(&rows[0], 0.75, 0.49), (&rows[1], 0.62, 0.57)] {
        let (g, p) = (row["ga"].as_f64().unwrap(), row["pa"].as_f64().unwrap());
        assert!(g >= ga && p >= pa, "{}: GA {g} PA {p}", row["dataset"]);
    }
}

#[test]
fn eval_single_log_with_truth() {
    let log = testdata("loghub-2k/HDFS/HDFS_2k.log");
    let truth = testdata("loghub-2k/HDFS/HDFS_2k.log_structured_corrected.csv");
    let out = ok(&[
        "eval",
        "-o",
        "jsonl",
        "--format",
        HDFS_FORMAT,
        "--truth",
        truth.to_str().unwrap(),
        log.to_str().unwrap(),
    ]);
    let rows = json_lines(&out.stdout);
    assert!(rows[0]["ga"].as_f64().unwrap() > 0.9);
}

const TRACE_LOG: &str = "2024-01-01 10:00:00 ERROR request 17 failed\n\
java.lang.IllegalStateException: boom\n\
\tat com.example.Foo.bar(Foo.java:10)\n\
\tat com.example.Main.main(Main.java:3)\n\
Caused by: java.io.IOException: disk\n\
\t... 2 more\n\
2024-01-01 10:00:01 INFO request 18 ok\n\
2024-01-01 10:00:02 ERROR request 19 failed\n\
java.lang.IllegalStateException: boom again\n\
\tat com.example.Foo.bar(Foo.java:10)\n";

const TRACE_FORMAT: &str = "<Date> <Time> <Level> <Content>";

fn check_trace_records(recs: &[serde_json::Value]) {
    assert_eq!(recs.len(), 3, "{recs:?}");
    assert_eq!(recs[0]["line"], 1);
    assert_eq!(recs[0]["last_line"], 6);
    assert_eq!(recs[0]["message"], "request 17 failed");
    let cont = recs[0]["continuation"].as_str().unwrap();
    assert!(
        cont.starts_with("java.lang.IllegalStateException: boom\n\tat com.example.Foo"),
        "{cont}"
    );
    assert!(cont.ends_with("\t... 2 more"), "{cont}");
    assert_eq!(recs[1]["line"], 7);
    assert!(recs[1].get("last_line").is_none() && recs[1].get("continuation").is_none());
    assert_eq!(recs[2]["line"], 8);
    assert_eq!(recs[2]["last_line"], 10);
    // The template comes from the first line only.
    assert_eq!(recs[0]["template"], recs[2]["template"]);
    assert_eq!(recs[0]["template"], "request <*> failed");
    assert!(recs.iter().all(|r| r.get("flags").is_none()), "{recs:?}");
}

#[test]
fn multiline_auto_joins_stack_traces_under_a_header_format() {
    let dir = tempfile::tempdir().unwrap();
    let p = write(dir.path(), "trace.log", TRACE_LOG.as_bytes());
    // A file: two passes.
    let out = ok(&["parse", "--format", TRACE_FORMAT, p.to_str().unwrap()]);
    check_trace_records(&json_lines(&out.stdout));
    let err = String::from_utf8(out.stderr).unwrap();
    assert!(err.contains("10 lines read"), "{err}");
    // The same lines on standard input: one streaming pass, same events.
    let mut child = Command::new(env!("CARGO_BIN_EXE_logsieve"))
        .args(["parse", "-q", "--format", TRACE_FORMAT, "-"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    child
        .stdin
        .take()
        .unwrap()
        .write_all(TRACE_LOG.as_bytes())
        .unwrap();
    let out = child.wait_with_output().unwrap();
    assert!(out.status.success());
    check_trace_records(&json_lines(&out.stdout));
    // --multiline none: one record per line again.
    let out = ok(&[
        "parse",
        "--multiline",
        "none",
        "--format",
        TRACE_FORMAT,
        p.to_str().unwrap(),
    ]);
    assert_eq!(json_lines(&out.stdout).len(), 10);
    // A regex for the first line of an event.
    let out = ok(&[
        "parse",
        "--multiline",
        "^2024-",
        "--format",
        TRACE_FORMAT,
        p.to_str().unwrap(),
    ]);
    check_trace_records(&json_lines(&out.stdout));
    // A bad regex names itself.
    let out = run(&["parse", "--multiline", "(", p.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("--multiline"));
}

#[test]
fn multiline_events_are_identical_for_any_thread_count_and_batch_size() {
    let dir = tempfile::tempdir().unwrap();
    let text: String = (0..300).map(|_| TRACE_LOG).collect();
    let p = write(dir.path(), "traces.log", text.as_bytes());
    let p = p.to_str().unwrap();
    let one = ok(&["parse", "-q", "--threads", "1", "--format", TRACE_FORMAT, p]);
    let two = ok(&[
        "parse",
        "-q",
        "--threads",
        "2",
        "--batch-lines",
        "7",
        "--format",
        TRACE_FORMAT,
        p,
    ]);
    assert_eq!(one.stdout, two.stdout);
    let recs = json_lines(&one.stdout);
    assert_eq!(recs.len(), 900, "3 events per copy");
    // Every line is in exactly one record.
    let covered: u64 = recs
        .iter()
        .map(|r| {
            r["last_line"].as_u64().unwrap_or(r["line"].as_u64().unwrap()) - r["line"].as_u64().unwrap() + 1
        })
        .sum();
    assert_eq!(covered, 3000);
}

/// Lines are taken as text a whole batch at a time when the batch is clean
/// UTF-8 without NUL; a line cut inside a character by `--max-line-bytes`
/// in such a batch must still be decoded (and flagged) on its own, and a
/// batch with a bad byte anywhere must still flag only its bad lines.
#[test]
fn a_line_truncated_inside_a_character_in_a_clean_batch_is_flagged_invalid_utf8() {
    let dir = tempfile::tempdir().unwrap();
    let log = write(
        dir.path(),
        "cut.log",
        "plan é\ncut éééé\nok\nbad \u{0}\n".as_bytes(),
    );
    // Batches of 2: the first is clean text (a whole line with `é`, then
    // one cut inside an `é`), the second holds a NUL.
    for threads in ["1", "2"] {
        for batch in ["2", "4096"] {
            let out = ok(&[
                "parse",
                "--quiet",
                "--threads",
                threads,
                "--batch-lines",
                batch,
                "--max-line-bytes",
                "7",
                "-o",
                "jsonl",
                log.to_str().unwrap(),
            ]);
            let recs = json_lines(&out.stdout);
            let flags: Vec<_> = recs.iter().map(|r| r["flags"].clone()).collect();
            assert_eq!(
                flags,
                vec![
                    serde_json::Value::Null,
                    serde_json::json!(["invalid_utf8", "truncated"]),
                    serde_json::Value::Null,
                    serde_json::json!(["nul"]),
                ],
                "threads {threads} batch {batch}"
            );
            assert_eq!(recs[0]["message"], "plan é");
            assert_eq!(recs[1]["message"], "cut é\u{FFFD}");
            assert_eq!(recs[3]["message"], "bad \u{FFFD}");
        }
    }
}

/// Lines with bytes JSON must escape (quotes, backslashes, tabs, control
/// bytes) next to plain ones: every record is valid JSON whose message is
/// the line and whose parameters are the variables' texts, whether the
/// line was written through the escape scan or, being plain, without it.
#[test]
fn jsonl_records_escape_what_needs_it_and_plain_lines_stay_as_they_are() {
    let dir = tempfile::tempdir().unwrap();
    let lines = [
        "user \"bob\" logged in from 10.0.0.7 port 22",
        "user alice logged in from 10.0.0.8 port 23",
        "path C:\\temp\\x7 opened by pid 41",
        "path /tmp/x8 opened by pid 42",
        "tab\tseparated value 17 and \u{1}ctl 18",
        "tab separated value 19 and ctl 20 é",
    ];
    let p = write(dir.path(), "esc.log", (lines.join("\n") + "\n").as_bytes());
    for threads in ["1", "2"] {
        let out = ok(&[
            "parse",
            "--quiet",
            "--threads",
            threads,
            "-o",
            "jsonl",
            p.to_str().unwrap(),
        ]);
        let recs = json_lines(&out.stdout);
        assert_eq!(recs.len(), lines.len());
        for (r, line) in recs.iter().zip(lines) {
            assert_eq!(r["message"], line);
            let params = r["params"].as_array().expect("params");
            assert!(!params.is_empty(), "{line:?}");
            for v in params {
                let v = v.as_str().expect("a string");
                assert!(line.contains(v), "{v:?} is not part of {line:?}");
            }
        }
        // A parameter that itself holds bytes to escape went through the
        // escape scan and came back intact.
        assert!(
            recs[2]["params"]
                .as_array()
                .unwrap()
                .iter()
                .any(|v| v == "C:\\temp\\x7"),
            "{}",
            recs[2]
        );
    }
}
