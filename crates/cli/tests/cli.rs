//! Integration tests of the command-line surface: completions, man pages,
//! help texts, `-o`/`--output-file`, `--color`, the eval legend, the
//! header-mismatch warning and the README's accuracy table.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

fn bin() -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_logsieve"));
    c.env_remove("NO_COLOR");
    c
}

fn testdata(p: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../testdata")
        .join(p)
}

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

fn text(b: &[u8]) -> String {
    String::from_utf8(b.to_vec()).expect("utf-8 output")
}

const SUBCOMMANDS: [&str; 6] = ["parse", "templates", "eval", "detect", "completions", "man"];
const HDFS_FORMAT: &str = "<Date> <Time> <Pid> <Level> <Component>: <Content>";

#[test]
fn completions_for_every_shell_mention_every_subcommand() {
    for shell in ["bash", "zsh", "fish", "elvish", "powershell"] {
        let out = text(&ok(&["completions", shell]).stdout);
        assert!(!out.trim().is_empty(), "{shell}: empty");
        for sub in SUBCOMMANDS {
            assert!(out.contains(sub), "{shell} completions miss {sub}");
        }
        assert!(
            out.contains("output-file"),
            "{shell} completions miss --output-file"
        );
    }
    let bad = run(&["completions", "tcsh"]);
    assert_eq!(bad.status.code(), Some(2));
}

#[test]
fn man_page_on_stdout_and_one_page_per_subcommand_in_dir() {
    let page = text(&ok(&["man"]).stdout);
    assert!(page.contains(".TH"), "not roff: {page}");
    for sub in SUBCOMMANDS {
        assert!(page.contains(sub), "man page misses {sub}");
    }
    assert!(page.contains("EXIT STATUS"));
    let dir = tempfile::tempdir().unwrap();
    let out = ok(&["man", "--dir", dir.path().to_str().unwrap()]);
    assert!(out.stdout.is_empty());
    let root = std::fs::read_to_string(dir.path().join("logsieve.1")).unwrap();
    assert_eq!(root, page);
    for sub in SUBCOMMANDS {
        let p = dir.path().join(format!("logsieve-{sub}.1"));
        let sub_page = std::fs::read_to_string(&p).unwrap_or_else(|e| panic!("{}: {e}", p.display()));
        assert!(sub_page.contains(".TH"), "{sub}");
        assert!(
            sub_page.contains(&format!("logsieve\\-{sub}")),
            "{sub}: {sub_page}"
        );
    }
    let parse_page = std::fs::read_to_string(dir.path().join("logsieve-parse.1")).unwrap();
    assert!(parse_page.contains("output\\-file"), "{parse_page}");
    assert!(!dir.path().join("logsieve-help.1").exists());
}

#[test]
fn help_documents_exit_status_everywhere() {
    let root = text(&ok(&["--help"]).stdout);
    assert!(root.contains("EXIT STATUS"), "{root}");
    for code in ["  0 ", "  1 ", "  2 ", "  130 "] {
        assert!(root.contains(code), "root help misses {code:?}: {root}");
    }
    for sub in SUBCOMMANDS {
        let h = text(&ok(&[sub, "--help"]).stdout);
        assert!(h.contains("EXIT STATUS"), "{sub}: {h}");
        assert!(h.contains("  2 ") && h.contains("  130 "), "{sub}: {h}");
        assert_eq!(
            h.contains("--min-ga"),
            sub == "eval",
            "{sub}: status 1 is eval's only"
        );
    }
}

/// Runs `args` once to standard output and once with `--output-file`, and
/// checks that the file holds exactly what standard output did, that
/// nothing went to standard output the second time and that no temporary
/// file is left.
fn same_in_file(args: &[&str]) {
    let to_stdout = ok(args).stdout;
    assert!(!to_stdout.is_empty(), "{args:?}");
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("out");
    std::fs::write(&file, b"old content").unwrap();
    let mut with_file = args.to_vec();
    with_file.extend(["--output-file", file.to_str().unwrap()]);
    let out = ok(&with_file);
    assert!(out.stdout.is_empty(), "{args:?} wrote to stdout");
    assert_eq!(std::fs::read(&file).unwrap(), to_stdout, "{args:?}");
    let left: Vec<_> = std::fs::read_dir(dir.path()).unwrap().collect();
    assert_eq!(left.len(), 1, "temporary file left: {left:?}");
}

#[test]
fn output_file_holds_what_stdout_would_in_every_command() {
    let log = testdata("loghub-2k/HDFS/HDFS_2k.log");
    let truth = testdata("loghub-2k/HDFS/HDFS_2k.log_structured_corrected.csv");
    let log = log.to_str().unwrap();
    same_in_file(&["parse", "-q", "--format", HDFS_FORMAT, log]);
    same_in_file(&["parse", "-q", "-o", "csv", "--format", HDFS_FORMAT, log]);
    same_in_file(&["templates", "-q", "--format", HDFS_FORMAT, log]);
    same_in_file(&["templates", "-q", "-o", "csv", "--format", HDFS_FORMAT, log]);
    same_in_file(&[
        "eval",
        "--format",
        HDFS_FORMAT,
        "--truth",
        truth.to_str().unwrap(),
        log,
    ]);
    same_in_file(&[
        "eval",
        "-o",
        "json",
        "--format",
        HDFS_FORMAT,
        "--truth",
        truth.to_str().unwrap(),
        log,
    ]);
}

fn detect_fixture(dir: &Path) -> (PathBuf, PathBuf) {
    let rules = dir.join("rules.yml");
    std::fs::write(
        &rules,
        "title: su\nid: su\nlevel: low\nlogsource: {product: linux}\n\
         detection:\n  k: ['session opened']\n  condition: k\n",
    )
    .unwrap();
    let events = dir.join("events.jsonl");
    std::fs::write(
        &events,
        "{\"message\": \"su: session opened for root\"}\n{\"message\": \"nothing\"}\n",
    )
    .unwrap();
    (rules, events)
}

#[test]
fn detect_output_is_a_format_and_output_file_or_alerts_a_file() {
    let dir = tempfile::tempdir().unwrap();
    let (rules, events) = detect_fixture(dir.path());
    let (rules, events) = (rules.to_str().unwrap(), events.to_str().unwrap());
    let base = [
        "detect",
        "-q",
        "-o",
        "jsonl",
        "--mapping",
        "none",
        "--rules",
        rules,
        events,
    ];
    let stdout = ok(&base).stdout;
    assert_eq!(text(&stdout).lines().count(), 1, "{}", text(&stdout));
    for flag in ["--output-file", "--alerts"] {
        let f = dir.path().join(format!("alerts{flag}"));
        let mut args = base.to_vec();
        args.extend([flag, f.to_str().unwrap()]);
        let out = ok(&args);
        assert!(out.stdout.is_empty());
        assert_eq!(std::fs::read(&f).unwrap(), stdout, "{flag}");
    }
    // `--output` is the encoding now: a file name is refused, exit 2.
    let f = dir.path().join("x.jsonl");
    let bad = run(&[
        "detect",
        "--rules",
        rules,
        "--output",
        f.to_str().unwrap(),
        events,
    ]);
    assert_eq!(bad.status.code(), Some(2));
    assert!(!f.exists());
}

#[test]
fn output_file_left_untouched_when_the_command_fails() {
    // A damaged state file fails the run after nothing was written: the
    // existing output file keeps its content and no temporary is left.
    let dir = tempfile::tempdir().unwrap();
    let out_file = dir.path().join("out.jsonl");
    std::fs::write(&out_file, b"keep").unwrap();
    let state = dir.path().join("state.json");
    std::fs::write(&state, b"not json").unwrap();
    let log = testdata("loghub-2k/HDFS/HDFS_2k.log");
    let out = run(&[
        "parse",
        "--state",
        state.to_str().unwrap(),
        "--output-file",
        out_file.to_str().unwrap(),
        log.to_str().unwrap(),
    ]);
    assert_eq!(out.status.code(), Some(2));
    assert_eq!(std::fs::read(&out_file).unwrap(), b"keep");
    assert!(!dir.path().join("out.jsonl.tmp").exists());
}

#[test]
fn templates_table_colour_always_never_and_never_in_records() {
    let log = testdata("loghub-2k/HDFS/HDFS_2k.log");
    let log = log.to_str().unwrap();
    let args = ["templates", "-q", "--format", HDFS_FORMAT, log];
    let plain = text(&ok(&args).stdout);
    assert!(!plain.contains('\x1b'), "auto colours a pipe");
    let mut never = args.to_vec();
    never.extend(["--color", "never"]);
    assert_eq!(text(&ok(&never).stdout), plain);
    let mut always = vec!["--color", "always"];
    always.extend(args);
    let coloured = text(&ok(&always).stdout);
    assert!(coloured.contains("\x1b[1;36m<*>\x1b[0m"), "{coloured}");
    assert!(coloured.starts_with("\x1b[1m"), "header not bold");
    // Stripping the escapes gives the plain table back.
    assert_eq!(strip_ansi(&coloured), plain);
    // NO_COLOR only affects auto.
    let forced = bin().args(&always).env("NO_COLOR", "1").output().unwrap();
    assert_eq!(text(&forced.stdout), coloured);
    // Records are never coloured.
    for o in ["jsonl", "csv"] {
        let mut recs = vec!["--color", "always"];
        recs.extend(["templates", "-o", o]);
        recs.extend(&args[1..]);
        assert!(!text(&ok(&recs).stdout).contains('\x1b'), "-o {o}");
    }
    let parsed = ok(&["parse", "--color", "always", "-q", "--format", HDFS_FORMAT, log]);
    assert!(!text(&parsed.stdout).contains('\x1b'));
}

fn strip_ansi(s: &str) -> String {
    let mut out = String::new();
    let mut rest = s;
    while let Some(at) = rest.find('\x1b') {
        out.push_str(&rest[..at]);
        let end = rest[at..].find('m').expect("escape ends with m");
        rest = &rest[at + end + 1..];
    }
    out.push_str(rest);
    out
}

#[test]
fn eval_table_is_followed_by_a_legend_and_json_has_none() {
    let log = testdata("loghub-2k/HDFS/HDFS_2k.log");
    let truth = testdata("loghub-2k/HDFS/HDFS_2k.log_structured_corrected.csv");
    let common = [
        "--format",
        HDFS_FORMAT,
        "--truth",
        truth.to_str().unwrap(),
        log.to_str().unwrap(),
    ];
    let mut table = vec!["eval"];
    table.extend(common);
    let out = text(&ok(&table).stdout);
    let lines: Vec<&str> = out.lines().collect();
    let avg = lines
        .iter()
        .position(|l| l.starts_with("Average"))
        .expect("average row");
    let legend = &lines[avg + 1..];
    for metric in ["GA", "FGA", "PA", "FTA"] {
        let l = legend
            .iter()
            .find(|l| l.split_whitespace().next() == Some(metric))
            .unwrap_or_else(|| panic!("no legend line for {metric}: {out}"));
        assert!(l.len() > metric.len() + 20, "{l}");
    }
    let mut json = vec!["eval", "-o", "jsonl"];
    json.extend(common);
    for l in text(&ok(&json).stdout).lines() {
        serde_json::from_str::<serde_json::Value>(l).unwrap_or_else(|e| panic!("{l}: {e}"));
    }
}

/// Rows of an accuracy table: dataset name → the four scores as printed.
type Rows = Vec<(String, Vec<String>)>;

/// The rows of the first accuracy table in `t`.
fn table_rows(t: &str) -> Rows {
    t.lines()
        .skip_while(|l| !l.starts_with("Dataset"))
        .skip(1)
        .take_while(|l| !l.trim().is_empty() && !l.starts_with("```"))
        .map(|l| {
            let mut cols = l.split_whitespace().map(str::to_string);
            let name = cols.next().unwrap();
            (name, cols.collect())
        })
        .collect()
}

/// The table under `heading` in README.md, and the one `logsieve eval
/// --loghub testdata/DIR` prints.
fn readme_and_eval_tables(heading: &str, dir: &str) -> (Rows, Rows) {
    let readme =
        std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("../../README.md")).unwrap();
    let at = readme
        .find(heading)
        .unwrap_or_else(|| panic!("README has no {heading:?} section"));
    let dir = testdata(dir);
    let measured = table_rows(&text(&ok(&["eval", "--loghub", dir.to_str().unwrap()]).stdout));
    assert!(measured.iter().all(|(_, c)| c.len() == 4));
    (table_rows(&readme[at..]), measured)
}

#[test]
fn readme_accuracy_table_matches_eval() {
    let (documented, measured) = readme_and_eval_tables("## Accuracy", "loghub-2k");
    assert_eq!(measured.len(), 8, "7 datasets and the average");
    assert_eq!(
        documented, measured,
        "README.md's accuracy table differs from `logsieve eval --loghub testdata/loghub-2k`"
    );
}

#[test]
fn readme_machine_logs_table_matches_eval() {
    let (documented, measured) = readme_and_eval_tables("### Logs from this machine", "machine-logs");
    assert_eq!(measured.len(), 3, "2 datasets and the average");
    assert_eq!(
        documented, measured,
        "README.md's machine-log table differs from `logsieve eval --loghub testdata/machine-logs`"
    );
}

/// A log where 3 of 4 lines miss the format `<Level>: <Content>`.
fn mismatching_log(dir: &Path, first_bad: &str) -> PathBuf {
    let p = dir.join("app.log");
    std::fs::write(
        &p,
        format!("INFO: started 1\n{first_bad}\nanother bad line 7\nyet another 9\n"),
    )
    .unwrap();
    p
}

#[test]
fn header_mismatch_warning_with_a_clipped_example() {
    let dir = tempfile::tempdir().unwrap();
    let long = format!("bad line {}", "x".repeat(500));
    let log = mismatching_log(dir.path(), &long);
    let log = log.to_str().unwrap();
    for cmd in ["parse", "templates"] {
        let out = ok(&[cmd, "--format", "<Level>: <Content>", log]);
        let err = text(&out.stderr);
        let warnings: Vec<&str> = err.lines().filter(|l| l.contains("warning")).collect();
        assert_eq!(warnings.len(), 1, "{cmd}: {err}");
        assert!(
            warnings[0].starts_with(
                "logsieve: warning: 3 of 4 lines (75%) do not match --format '<Level>: <Content>'"
            ),
            "{cmd}: {err}"
        );
        assert!(warnings[0].contains("check the format"));
        let example = err
            .lines()
            .find_map(|l| l.strip_prefix("logsieve: a line that does not match: "))
            .unwrap_or_else(|| panic!("{cmd}: no example: {err}"));
        assert!(example.starts_with("bad line xxx"), "{example}");
        assert_eq!(example.chars().count(), 200, "clipped to 200 characters");
        assert!(example.ends_with('…'));
        // -q: no summary, no warning.
        let quiet = ok(&[cmd, "-q", "--format", "<Level>: <Content>", log]);
        assert!(quiet.stderr.is_empty(), "{}", text(&quiet.stderr));
    }
}

#[test]
fn no_header_warning_at_half_or_less_and_no_example_from_stdin() {
    let dir = tempfile::tempdir().unwrap();
    let half = dir.path().join("half.log");
    std::fs::write(&half, "INFO: a 1\nWARN: b 2\nbad 3\nbad 4\n").unwrap();
    let out = ok(&["parse", "--format", "<Level>: <Content>", half.to_str().unwrap()]);
    assert!(!text(&out.stderr).contains("warning"), "{}", text(&out.stderr));

    let log = mismatching_log(dir.path(), "bad one");
    let mut child = bin()
        .args(["parse", "--format", "<Level>: <Content>", "-"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    child
        .stdin
        .take()
        .unwrap()
        .write_all(&std::fs::read(&log).unwrap())
        .unwrap();
    let out = child.wait_with_output().unwrap();
    assert!(out.status.success());
    let err = text(&out.stderr);
    assert!(err.contains("logsieve: warning: 3 of 4 lines (75%)"), "{err}");
    assert!(!err.contains("a line that does not match"), "{err}");
}
