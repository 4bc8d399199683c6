//! Parsing accuracy against Loghub ground truth, with the Loghub-2.0
//! definitions (Jiang et al., ISSTA 2024; logpai/loghub-2.0 evaluator).
//!
//! Lines are grouped by template *string*, on both sides (the evaluator
//! groups ground truth by `EventTemplate`). With `N` lines:
//!
//! - **GA** (grouping accuracy): a line is correct when the set of lines
//!   sharing its predicted template equals the set sharing its true
//!   template. GA = correct lines / N.
//! - **FGA**: F1 over groups. A predicted group is correct when it equals a
//!   truth group; precision = correct / predicted groups, recall = correct /
//!   truth groups.
//! - **PA** (parsing accuracy): a line is correct when its predicted template
//!   equals its true template after whitespace normalisation (trim, runs of
//!   whitespace → one space; nothing else is rewritten). PA = correct / N.
//! - **FTA**: F1 over templates; a predicted template is correct when its
//!   group equals a truth group *and* its text equals that group's template.
//!
//! Invariant: predicted and truth sequences have the same length (one entry
//! per log line, in order); anything else is an error.
//!
//! ```
//! let truth = ["a <*>", "a <*>", "b"];
//! let pred = ["a <*>", "a <*>", "b x"];
//! let m = logsieve_eval::evaluate(&pred, &truth).unwrap();
//! assert_eq!(m.ga, 1.0);
//! assert!((m.pa - 2.0 / 3.0).abs() < 1e-12);
//! ```
#![deny(missing_docs)]

use rustc_hash::FxHashMap;
use std::path::{Path, PathBuf};

/// Why an evaluation could not run.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum EvalError {
    /// The truth file could not be read or parsed.
    #[error("{path}: {message}")]
    Truth {
        /// The file.
        path: PathBuf,
        /// What went wrong (with the row when known).
        message: String,
    },
    /// Prediction and truth disagree on the number of lines.
    #[error("{predicted} predicted lines but {truth} ground-truth lines: they must match one to one")]
    Length {
        /// Predicted lines.
        predicted: usize,
        /// Truth lines.
        truth: usize,
    },
    /// Nothing to score.
    #[error("no lines to evaluate")]
    Empty,
}

/// Ground truth of one log: the `EventTemplate` of every line, in order.
#[derive(Debug, Clone, Default)]
pub struct Truth {
    templates: Vec<String>,
}

impl Truth {
    /// The template of each line.
    pub fn templates(&self) -> impl Iterator<Item = &str> {
        self.templates.iter().map(String::as_str)
    }

    /// Number of lines.
    pub fn len(&self) -> usize {
        self.templates.len()
    }

    /// Whether there is no line.
    pub fn is_empty(&self) -> bool {
        self.templates.is_empty()
    }
}

/// Reads a Loghub `*_structured_corrected.csv` (RFC 4180, header row with an
/// `EventTemplate` column).
pub fn read_truth(path: impl AsRef<Path>) -> Result<Truth, EvalError> {
    let path = path.as_ref();
    let err = |message: String| EvalError::Truth { path: path.to_path_buf(), message };
    let mut rdr = csv::ReaderBuilder::new().flexible(false).from_path(path).map_err(|e| err(e.to_string()))?;
    let headers = rdr.headers().map_err(|e| err(e.to_string()))?.clone();
    let col = headers
        .iter()
        .position(|h| h == "EventTemplate")
        .ok_or_else(|| err("no EventTemplate column in the header row".into()))?;
    let mut templates = Vec::new();
    for (i, rec) in rdr.records().enumerate() {
        let rec = rec.map_err(|e| err(format!("row {}: {e}", i + 2)))?;
        let t = rec.get(col).ok_or_else(|| err(format!("row {}: missing EventTemplate", i + 2)))?;
        templates.push(t.to_string());
    }
    Ok(Truth { templates })
}

/// Scores of one log.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Metrics {
    /// Grouping accuracy.
    pub ga: f64,
    /// F1 over groups.
    pub fga: f64,
    /// Parsing accuracy.
    pub pa: f64,
    /// F1 over templates.
    pub fta: f64,
    /// Lines scored.
    pub lines: usize,
    /// Distinct truth templates.
    pub truth_groups: usize,
    /// Distinct predicted templates.
    pub predicted_groups: usize,
}

fn normalize(s: &str) -> String {
    s.split_whitespace().collect::<Vec<_>>().join(" ")
}

fn f1(correct: usize, predicted: usize, truth: usize) -> f64 {
    if predicted == 0 || truth == 0 || correct == 0 {
        return 0.0;
    }
    let p = correct as f64 / predicted as f64;
    let r = correct as f64 / truth as f64;
    2.0 * p * r / (p + r)
}

/// Scores predicted templates against true ones, line by line.
pub fn evaluate<P: AsRef<str>, T: AsRef<str>>(predicted: &[P], truth: &[T]) -> Result<Metrics, EvalError> {
    if predicted.len() != truth.len() {
        return Err(EvalError::Length { predicted: predicted.len(), truth: truth.len() });
    }
    if truth.is_empty() {
        return Err(EvalError::Empty);
    }
    let n = truth.len();
    let pred: Vec<String> = predicted.iter().map(|s| normalize(s.as_ref())).collect();
    let tru: Vec<String> = truth.iter().map(|s| normalize(s.as_ref())).collect();
    // Group ids on each side.
    let ids = |v: &[String]| {
        let mut map: FxHashMap<&str, usize> = FxHashMap::default();
        let ids: Vec<usize> = v.iter().map(|s| {
            let next = map.len();
            *map.entry(s.as_str()).or_insert(next)
        }).collect();
        (ids, map.len())
    };
    let (pid, np) = ids(&pred);
    let (tid, nt) = ids(&tru);
    // A predicted group equals a truth group iff all its lines share one
    // truth id and that truth group has the same size.
    let mut psize = vec![0usize; np];
    let mut tsize = vec![0usize; nt];
    let mut pmap: Vec<Option<usize>> = vec![None; np];
    let mut pure = vec![true; np];
    for i in 0..n {
        psize[pid[i]] += 1;
        tsize[tid[i]] += 1;
        match pmap[pid[i]] {
            None => pmap[pid[i]] = Some(tid[i]),
            Some(t) if t != tid[i] => pure[pid[i]] = false,
            _ => {}
        }
    }
    let exact: Vec<bool> = (0..np).map(|p| pure[p] && pmap[p].is_some_and(|t| tsize[t] == psize[p])).collect();
    let ga_lines = (0..n).filter(|&i| exact[pid[i]]).count();
    let groups_ok = exact.iter().filter(|&&e| e).count();
    // First line of each predicted group, to compare its text.
    let mut first = vec![usize::MAX; np];
    for i in (0..n).rev() {
        first[pid[i]] = i;
    }
    let templates_ok = (0..np).filter(|&p| exact[p] && pred[first[p]] == tru[first[p]]).count();
    let pa_lines = (0..n).filter(|&i| pred[i] == tru[i]).count();
    Ok(Metrics {
        ga: ga_lines as f64 / n as f64,
        fga: f1(groups_ok, np, nt),
        pa: pa_lines as f64 / n as f64,
        fta: f1(templates_ok, np, nt),
        lines: n,
        truth_groups: nt,
        predicted_groups: np,
    })
}

/// The arithmetic mean of each score (counts are summed).
pub fn average(all: &[Metrics]) -> Metrics {
    let k = all.len().max(1) as f64;
    Metrics {
        ga: all.iter().map(|m| m.ga).sum::<f64>() / k,
        fga: all.iter().map(|m| m.fga).sum::<f64>() / k,
        pa: all.iter().map(|m| m.pa).sum::<f64>() / k,
        fta: all.iter().map(|m| m.fta).sum::<f64>() / k,
        lines: all.iter().map(|m| m.lines).sum(),
        truth_groups: all.iter().map(|m| m.truth_groups).sum(),
        predicted_groups: all.iter().map(|m| m.predicted_groups).sum(),
    }
}

/// A fixed-width table: one row per dataset, then `Average`.
pub fn format_table(rows: &[(&str, &Metrics)], avg: &Metrics) -> String {
    let width = rows.iter().map(|(n, _)| n.len()).max().unwrap_or(7).max(7);
    let mut s = format!("{:<width$}  {:>5}  {:>5}  {:>5}  {:>5}\n", "Dataset", "GA", "FGA", "PA", "FTA");
    let line = |s: &mut String, n: &str, m: &Metrics| {
        s.push_str(&format!("{:<width$}  {:>5.3}  {:>5.3}  {:>5.3}  {:>5.3}\n", n, m.ga, m.fga, m.pa, m.fta));
    };
    for (n, m) in rows {
        line(&mut s, n, m);
    }
    line(&mut s, "Average", avg);
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    fn close(a: f64, b: f64) -> bool {
        (a - b).abs() < 1e-12
    }

    #[test]
    fn hand_computed_example() {
        // Six lines, three truth groups: A = {0,1}, B = {2,3}, C = {4,5}.
        let truth = ["A <*>", "A <*>", "B <*>", "B <*>", "C", "C"];
        // The prediction splits A into {0} and {1}, merges B and C into one
        // group {2,3,4,5}.
        let pred = ["A <*>", "A x", "B <*>", "B <*>", "B <*>", "B <*>"];
        let m = evaluate(&pred, &truth).unwrap();
        // GA: no predicted group equals a truth group ({0} ≠ A, {1} ≠ A,
        // {2..5} ≠ B) → 0/6.
        assert!(close(m.ga, 0.0));
        // FGA: 0 correct groups → 0.
        assert!(close(m.fga, 0.0));
        // PA: lines 0, 2, 3 have the exact string → 3/6.
        assert!(close(m.pa, 0.5));
        assert!(close(m.fta, 0.0));
        assert_eq!((m.predicted_groups, m.truth_groups), (3, 3));

        // A prediction that gets A right (text too), C grouped right with a
        // wrong text, and B split in two.
        let pred = ["A <*>", "A <*>", "B 1", "B 2", "C x", "C x"];
        let m = evaluate(&pred, &truth).unwrap();
        // GA: lines of A and C are in exact groups → 4/6.
        assert!(close(m.ga, 4.0 / 6.0));
        // FGA: 2 correct of 4 predicted and 3 truth groups:
        // P = 1/2, R = 2/3, F1 = 2·(1/2)(2/3)/(1/2+2/3) = 4/7.
        assert!(close(m.fga, 4.0 / 7.0));
        // PA: lines 0 and 1 → 2/6.
        assert!(close(m.pa, 2.0 / 6.0));
        // FTA: only A is grouped and written right: P = 1/4, R = 1/3,
        // F1 = 2·(1/12)/(7/12) = 2/7.
        assert!(close(m.fta, 2.0 / 7.0));
    }

    #[test]
    fn perfect_and_all_in_one() {
        let truth = ["a", "b", "b", "c"];
        let m = evaluate(&truth, &truth).unwrap();
        assert_eq!((m.ga, m.fga, m.pa, m.fta), (1.0, 1.0, 1.0, 1.0));
        let one = ["x"; 4];
        let m = evaluate(&one, &truth).unwrap();
        assert!(close(m.ga, 0.0));
        assert!(close(m.pa, 0.0));
    }

    #[test]
    fn whitespace_is_normalised_and_nothing_else() {
        let m = evaluate(&["a  <*> "], &["a <*>"]).unwrap();
        assert!(close(m.pa, 1.0));
        let m = evaluate(&["a <*><*>"], &["a <*>"]).unwrap();
        assert!(close(m.pa, 0.0));
    }

    #[test]
    fn mismatched_lengths_and_empty_are_errors() {
        assert!(matches!(evaluate(&["a"], &["a", "b"]), Err(EvalError::Length { predicted: 1, truth: 2 })));
        let empty: [&str; 0] = [];
        assert!(matches!(evaluate(&empty, &empty), Err(EvalError::Empty)));
    }

    #[test]
    fn csv_quoting_is_read() {
        let dir = std::env::temp_dir().join(format!("logsieve-eval-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let p = dir.join("t.csv");
        std::fs::write(
            &p,
            "LineId,Content,EventId,EventTemplate\n1,\"a, b\",E1,\"<*> \"\"DELETE <*>\"\" status: <*>\"\n2,x,E2,x\n",
        )
        .unwrap();
        let t = read_truth(&p).unwrap();
        let v: Vec<&str> = t.templates().collect();
        assert_eq!(v, ["<*> \"DELETE <*>\" status: <*>", "x"]);
        std::fs::write(&p, "LineId,Content\n1,x\n").unwrap();
        let e = read_truth(&p).unwrap_err().to_string();
        assert!(e.contains("EventTemplate"), "{e}");
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn table_has_average_row() {
        let m = Metrics { ga: 1.0, fga: 0.5, pa: 0.25, fta: 0.0, ..Default::default() };
        let t = format_table(&[("HDFS", &m)], &average(&[m.clone()]));
        assert!(t.contains("HDFS     1.000  0.500  0.250  0.000"), "{t}");
        assert!(t.lines().last().unwrap().starts_with("Average"));
    }
}
