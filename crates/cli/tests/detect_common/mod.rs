//! Helpers shared by the `logsieve detect` integration tests: the binary,
//! the test data and the bundled SigmaHQ regression cases.
#![allow(dead_code)]

use std::ffi::OsStr;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

/// A path under `testdata/`.
pub fn testdata(p: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../testdata")
        .join(p)
}

/// Runs `logsieve` with `args`.
pub fn run<S: AsRef<OsStr>>(args: &[S]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_logsieve"))
        .args(args)
        .output()
        .expect("run logsieve")
}

/// Runs `logsieve` with `args` and `stdin` on its standard input.
pub fn run_stdin<S: AsRef<OsStr>>(args: &[S], stdin: &[u8]) -> Output {
    use std::io::Write;
    let mut child = Command::new(env!("CARGO_BIN_EXE_logsieve"))
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("run logsieve");
    child.stdin.take().unwrap().write_all(stdin).unwrap();
    child.wait_with_output().unwrap()
}

/// JSON alerts, one per line of `text`.
pub fn alerts(text: &str) -> Vec<serde_json::Value> {
    text.lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("{l}: {e}")))
        .collect()
}

/// The run's standard output, after checking that it succeeded.
pub fn stdout(o: &Output) -> String {
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    String::from_utf8(o.stdout.clone()).unwrap()
}

/// The run's standard error.
pub fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).to_string()
}

/// The bundled regression cases (folders with a rule.yml), sorted.
pub fn cases() -> Vec<PathBuf> {
    let mut v: Vec<PathBuf> = std::fs::read_dir(testdata("sigma-regression"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.join("rule.yml").exists())
        .collect();
    v.sort();
    v
}

/// A case's rule id.
pub fn rule_id(case: &Path) -> String {
    let text = std::fs::read_to_string(case.join("rule.yml")).unwrap();
    text.lines()
        .find_map(|l| l.strip_prefix("id: "))
        .unwrap()
        .trim()
        .to_string()
}

/// Every JSON value in a case's event.json (some hold several in a row).
pub fn json_events(case: &Path) -> Vec<serde_json::Value> {
    let text = std::fs::read(case.join("event.json")).unwrap();
    serde_json::Deserializer::from_slice(&text)
        .into_iter::<serde_json::Value>()
        .map(Result::unwrap)
        .collect()
}

/// Writes `text` to `dir/name`; returns the path as text.
pub fn write(dir: &Path, name: &str, text: &str) -> String {
    let p = dir.join(name);
    std::fs::write(&p, text).unwrap();
    p.display().to_string()
}

/// Checks that the run's standard error says `needle`.
pub fn assert_stderr_has(o: &Output, needle: &str) {
    let err = stderr(o);
    assert!(err.contains(needle), "stderr lacks {needle:?}: {err}");
}
