//! Parsing accuracy against Loghub ground truth, with the Loghub-2.0
//! definitions (Jiang et al., ISSTA 2024; the logpai/loghub-2.0 evaluator,
//! `evaluation/utils`): GA, FGA, PA and FTA.
//!
//! # Input
//!
//! One predicted template per log line and one ground-truth template per log
//! line, in the same order ([`evaluate`]). The ground truth is read from a
//! Loghub `X_structured_corrected.csv` with [`read_truth`]; as in the
//! Loghub-2.0 evaluator, truth lines are grouped by their `EventTemplate`
//! *string* (the `EventId` column is read and kept, but does not define the
//! groups).
//!
//! # Normalisation
//!
//! Every template, predicted and true, is normalised once before anything
//! else, with [`normalize_template`]: leading and trailing whitespace is
//! removed and every run of Unicode whitespace becomes one ASCII space
//! (`s.split_whitespace().join(" ")`). Nothing else is rewritten: `<*>`
//! placeholders are not merged, digits are not masked, case is kept. A parser
//! has to write the Loghub conventions itself. "Template string" below means
//! the normalised string, for grouping and for comparing alike. No truth
//! template of the Loghub-2k files has leading, trailing or repeated
//! whitespace, so on them the normalisation only ever changes predictions.
//!
//! # Metrics
//!
//! With `N` lines, a *group* is the set of lines that share one template
//! string (on the predicted side or on the truth side):
//!
//! - **GA** (grouping accuracy): a line is correct when its predicted group
//!   is exactly (as a set of lines) its truth group. GA = correct lines / N.
//! - **FGA** (F1 of grouping): a predicted group is correct when it equals
//!   some truth group. P = correct groups / predicted groups, R = correct
//!   groups / truth groups, FGA = 2PR / (P + R), and 0 when P + R = 0.
//! - **PA** (parsing accuracy, Loghub-2.0 message-level definition): a line
//!   is correct when its predicted template string equals its true template
//!   string. PA = correct lines / N.
//! - **FTA** (F1 of template accuracy, as the reference's
//!   `evaluate_template_level` computes it): a predicted template is correct
//!   when every line of its group has one and the same true template and
//!   that true template's string equals the predicted string. The group need
//!   not hold *all* lines of that true template: lines of it predicted under
//!   another string make that other group wrong, not this one. P = correct /
//!   predicted templates, R = correct / truth templates, FTA = 2PR / (P + R),
//!   and 0 when P + R = 0.
//!
//! # Invariants
//!
//! - Predicted and truth sequences have the same length, one entry per log
//!   line ([`EvalError::Length`] otherwise), and at least one line
//!   ([`EvalError::Empty`] otherwise): no metric is defined on zero lines.
//! - Every score is in `[0, 1]`; a perfect prediction scores exactly `1.0`
//!   on all four; the counts in [`Metrics`] are the exact numerators and
//!   denominators, so every score can be recomputed from them.
//! - The result does not depend on the order of the lines, only on which
//!   lines share a template.
//!
//! ```
//! // Truth: two groups, "a <*>" = {0, 1} and "b" = {2}.
//! let truth = ["a <*>", "a <*>", "b"];
//! // Grouped right, but the third template is written wrong.
//! let pred = ["a <*>", "a  <*> ", "b x"];
//! let m = logsieve_eval::evaluate(&pred, &truth).unwrap();
//! assert_eq!(m.ga, 1.0); // both predicted groups equal truth groups
//! assert_eq!(m.fga, 1.0);
//! assert_eq!(m.pa, 2.0 / 3.0); // whitespace is normalised: lines 0 and 1 match
//! assert_eq!(m.fta, 0.5); // P = R = 1/2
//! assert_eq!((m.lines, m.truth_groups, m.predicted_groups), (3, 2, 2));
//! ```
#![deny(missing_docs)]

use rustc_hash::FxHashMap;
use std::fmt::Write as _;
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
        /// What went wrong, starting with `row N:` when a row is at fault
        /// (rows are counted from 1, the header being row 1).
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
    /// Nothing to score: both sequences are empty.
    #[error("no lines to evaluate: the prediction and the ground truth are both empty")]
    Empty,
}

/// Ground truth of one log: the `EventId` and `EventTemplate` of every line,
/// in file order.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Truth {
    event_ids: Vec<String>,
    templates: Vec<String>,
}

impl Truth {
    /// `(event_id, template)` of each line, in file order.
    pub fn lines(&self) -> impl Iterator<Item = (&str, &str)> {
        self.event_ids
            .iter()
            .map(String::as_str)
            .zip(self.templates.iter().map(String::as_str))
    }

    /// The `EventTemplate` of each line, as written in the file.
    pub fn templates(&self) -> impl Iterator<Item = &str> {
        self.templates.iter().map(String::as_str)
    }

    /// The `EventId` of each line.
    pub fn event_ids(&self) -> impl Iterator<Item = &str> {
        self.event_ids.iter().map(String::as_str)
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

/// Reads a Loghub `*_structured_corrected.csv`: RFC 4180 (fields may be
/// quoted, with `""` for a quote and commas or line breaks inside quotes), a
/// header row naming at least `EventId` and `EventTemplate` (other columns,
/// such as `LineId` and `Content`, are ignored), then one row per log line.
///
/// Errors name the file and, for a bad row, the row (the header is row 1):
/// an unreadable file, a missing column, a row with a different number of
/// fields than the header, or an empty `EventTemplate` (the Loghub-2.0
/// evaluator silently drops such lines from GA/FGA/FTA but not from PA; we
/// refuse the file instead of reproducing that inconsistency).
pub fn read_truth(path: impl AsRef<Path>) -> Result<Truth, EvalError> {
    let path = path.as_ref();
    let err = |message: String| EvalError::Truth {
        path: path.to_path_buf(),
        message,
    };
    let mut rdr = csv::ReaderBuilder::new()
        .flexible(false)
        .from_path(path)
        .map_err(|e| err(e.to_string()))?;
    let headers = rdr.headers().map_err(|e| err(format!("row 1: {e}")))?.clone();
    let column = |name: &str| {
        headers
            .iter()
            .position(|h| h.trim_start_matches('\u{feff}') == name)
            .ok_or_else(|| err(format!("row 1: the header row has no {name} column")))
    };
    let id_col = column("EventId")?;
    let tpl_col = column("EventTemplate")?;
    let mut truth = Truth::default();
    for (i, rec) in rdr.records().enumerate() {
        let row = i + 2;
        let rec = rec.map_err(|e| err(format!("row {row}: {e}")))?;
        let (Some(id), Some(t)) = (rec.get(id_col), rec.get(tpl_col)) else {
            return Err(err(format!("row {row}: missing EventId or EventTemplate")));
        };
        if t.trim().is_empty() {
            return Err(err(format!("row {row}: empty EventTemplate")));
        }
        truth.event_ids.push(id.to_string());
        truth.templates.push(t.to_string());
    }
    Ok(truth)
}

/// Scores of one log, with the counts they are computed from.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Metrics {
    /// Grouping accuracy: `ga_lines / lines`.
    pub ga: f64,
    /// F1 over groups, from `correct_groups`, `predicted_groups`,
    /// `truth_groups`.
    pub fga: f64,
    /// Parsing accuracy: `pa_lines / lines`.
    pub pa: f64,
    /// F1 over templates, from `correct_templates`, `predicted_groups`,
    /// `truth_groups`.
    pub fta: f64,
    /// Lines scored.
    pub lines: usize,
    /// Distinct truth templates (= truth groups).
    pub truth_groups: usize,
    /// Distinct predicted templates (= predicted groups).
    pub predicted_groups: usize,
    /// Lines whose predicted group equals their truth group.
    pub ga_lines: usize,
    /// Lines whose predicted template string equals the true one.
    pub pa_lines: usize,
    /// Predicted groups that equal a truth group.
    pub correct_groups: usize,
    /// Predicted groups whose lines all have one true template, whose
    /// string is the group's string.
    pub correct_templates: usize,
}

/// The normalisation applied to every template, predicted and true, before
/// scoring: trim, and each run of whitespace becomes one space.
///
/// ```
/// assert_eq!(logsieve_eval::normalize_template("  a\t<*>   b "), "a <*> b");
/// assert_eq!(logsieve_eval::normalize_template("a <*><*>"), "a <*><*>");
/// ```
pub fn normalize_template(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for w in s.split_whitespace() {
        if !out.is_empty() {
            out.push(' ');
        }
        out.push_str(w);
    }
    out
}

fn f1(correct: usize, predicted: usize, truth: usize) -> f64 {
    if predicted == 0 || truth == 0 || correct == 0 {
        return 0.0;
    }
    let p = correct as f64 / predicted as f64;
    let r = correct as f64 / truth as f64;
    2.0 * p * r / (p + r)
}

/// Dense group ids (in order of first appearance) and the number of groups.
fn group_ids(v: &[String]) -> (Vec<usize>, usize) {
    let mut map: FxHashMap<&str, usize> = FxHashMap::default();
    let ids = v
        .iter()
        .map(|s| {
            let next = map.len();
            *map.entry(s.as_str()).or_insert(next)
        })
        .collect();
    (ids, map.len())
}

/// Scores predicted templates against true ones, line by line (see the
/// crate documentation for the definitions). `predicted[i]` and `truth[i]`
/// are the templates of line `i`.
///
/// Errors: [`EvalError::Length`] when the lengths differ, [`EvalError::Empty`]
/// when both are empty.
pub fn evaluate<P: AsRef<str>, T: AsRef<str>>(predicted: &[P], truth: &[T]) -> Result<Metrics, EvalError> {
    if predicted.len() != truth.len() {
        return Err(EvalError::Length {
            predicted: predicted.len(),
            truth: truth.len(),
        });
    }
    if truth.is_empty() {
        return Err(EvalError::Empty);
    }
    let n = truth.len();
    let pred: Vec<String> = predicted.iter().map(|s| normalize_template(s.as_ref())).collect();
    let tru: Vec<String> = truth.iter().map(|s| normalize_template(s.as_ref())).collect();
    let (pid, np) = group_ids(&pred);
    let (tid, nt) = group_ids(&tru);
    // A predicted group equals a truth group iff all its lines share one
    // truth group and that truth group has the same size.
    let mut psize = vec![0usize; np];
    let mut tsize = vec![0usize; nt];
    // The truth group of the first line of each predicted group, and that
    // line (to compare the strings).
    let mut first: Vec<Option<(usize, usize)>> = vec![None; np];
    let mut pure = vec![true; np];
    for i in 0..n {
        let (p, t) = (pid[i], tid[i]);
        psize[p] += 1;
        tsize[t] += 1;
        match first[p] {
            None => first[p] = Some((t, i)),
            Some((t0, _)) if t0 != t => pure[p] = false,
            Some(_) => {}
        }
    }
    let exact: Vec<bool> = (0..np)
        .map(|p| pure[p] && first[p].is_some_and(|(t, _)| tsize[t] == psize[p]))
        .collect();
    let ga_lines = pid.iter().filter(|&&p| exact[p]).count();
    let correct_groups = exact.iter().filter(|&&e| e).count();
    let correct_templates = (0..np)
        .filter(|&p| pure[p] && first[p].is_some_and(|(_, i)| pred[i] == tru[i]))
        .count();
    let pa_lines = pred.iter().zip(&tru).filter(|(p, t)| p == t).count();
    Ok(Metrics {
        ga: ga_lines as f64 / n as f64,
        fga: f1(correct_groups, np, nt),
        pa: pa_lines as f64 / n as f64,
        fta: f1(correct_templates, np, nt),
        lines: n,
        truth_groups: nt,
        predicted_groups: np,
        ga_lines,
        pa_lines,
        correct_groups,
        correct_templates,
    })
}

/// The row of a results table that averages several logs, as the Loghub-2.0
/// papers do: each score is the unweighted arithmetic mean of the per-log
/// scores (every log counts the same, whatever its size); the counts are
/// summed. An empty slice gives all zeros.
pub fn average(all: &[Metrics]) -> Metrics {
    if all.is_empty() {
        return Metrics::default();
    }
    let k = all.len() as f64;
    let mean = |f: fn(&Metrics) -> f64| all.iter().map(f).sum::<f64>() / k;
    let sum = |f: fn(&Metrics) -> usize| all.iter().map(f).sum::<usize>();
    Metrics {
        ga: mean(|m| m.ga),
        fga: mean(|m| m.fga),
        pa: mean(|m| m.pa),
        fta: mean(|m| m.fta),
        lines: sum(|m| m.lines),
        truth_groups: sum(|m| m.truth_groups),
        predicted_groups: sum(|m| m.predicted_groups),
        ga_lines: sum(|m| m.ga_lines),
        pa_lines: sum(|m| m.pa_lines),
        correct_groups: sum(|m| m.correct_groups),
        correct_templates: sum(|m| m.correct_templates),
    }
}

/// A fixed-width table: a `Dataset  GA  FGA  PA  FTA` header, one row per
/// dataset and then the `Average` row given, every score with 3 decimals.
///
/// ```
/// use logsieve_eval::{average, evaluate, format_table};
/// let m = evaluate(&["a", "b"], &["a", "a"]).unwrap();
/// let t = format_table(&[("HDFS", &m)], &average(&[m.clone()]));
/// assert_eq!(
///     t,
///     "Dataset     GA    FGA     PA    FTA\n\
///      HDFS     0.000  0.000  0.500  0.667\n\
///      Average  0.000  0.000  0.500  0.667\n"
/// );
/// ```
pub fn format_table(rows: &[(&str, &Metrics)], avg: &Metrics) -> String {
    let width = rows
        .iter()
        .map(|(n, _)| n.chars().count())
        .max()
        .unwrap_or(0)
        .max(7);
    let mut s = String::new();
    let _ = writeln!(
        s,
        "{:<width$}  {:>5}  {:>5}  {:>5}  {:>5}",
        "Dataset", "GA", "FGA", "PA", "FTA"
    );
    let mut line = |n: &str, m: &Metrics| {
        let _ = writeln!(
            s,
            "{:<width$}  {:>5.3}  {:>5.3}  {:>5.3}  {:>5.3}",
            n, m.ga, m.fga, m.pa, m.fta
        );
    };
    for (n, m) in rows {
        line(n, m);
    }
    line("Average", avg);
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A unique scratch folder, removed on drop.
    struct Scratch(PathBuf);

    impl Scratch {
        fn new(tag: &str) -> Self {
            use std::sync::atomic::{AtomicUsize, Ordering};
            static N: AtomicUsize = AtomicUsize::new(0);
            let dir = std::env::temp_dir().join(format!(
                "logsieve-eval-{}-{tag}-{}",
                std::process::id(),
                N.fetch_add(1, Ordering::Relaxed)
            ));
            std::fs::create_dir_all(&dir).unwrap();
            Scratch(dir)
        }

        fn file(&self, name: &str, body: &str) -> PathBuf {
            let p = self.0.join(name);
            std::fs::write(&p, body).unwrap();
            p
        }
    }

    impl Drop for Scratch {
        fn drop(&mut self) {
            let _ = std::fs::remove_dir_all(&self.0);
        }
    }

    #[test]
    fn split_one_merge_two_others() {
        // Six lines, three truth groups: A = {0,1}, B = {2,3}, C = {4,5}.
        let truth = ["A <*>", "A <*>", "B <*>", "B <*>", "C", "C"];
        // The prediction splits A into {0} and {1} and merges B and C into
        // one group {2,3,4,5} written "B <*>".
        let pred = ["A <*>", "A x", "B <*>", "B <*>", "B <*>", "B <*>"];
        let m = evaluate(&pred, &truth).unwrap();
        // Predicted groups: {0}, {1}, {2,3,4,5}; none equals a truth group.
        // GA = 0/6.
        assert_eq!(m.ga, 0.0);
        assert_eq!(m.ga_lines, 0);
        // FGA: 0 correct groups out of 3 predicted and 3 truth → 0.
        assert_eq!(m.fga, 0.0);
        // PA: line 0 ("A <*>"), lines 2 and 3 ("B <*>") match → 3/6.
        assert_eq!(m.pa, 3.0 / 6.0);
        assert_eq!(m.pa_lines, 3);
        // FTA: {0} holds only lines of "A <*>" and is written so: correct,
        // though A is split. {1} is written wrong, {2,3,4,5} mixes B and C.
        // P = 1/3, R = 1/3 → 1/3.
        assert_eq!(m.correct_templates, 1);
        assert!((m.fta - 1.0 / 3.0).abs() < 1e-15, "{}", m.fta);
        assert_eq!((m.lines, m.predicted_groups, m.truth_groups), (6, 3, 3));
    }

    #[test]
    fn split_merge_with_a_fourth_group_right() {
        // Eight lines, four truth groups: A = {0,1}, B = {2,3}, C = {4,5},
        // D = {6,7}.
        let truth = ["A <*>", "A <*>", "B", "B", "C <*>", "C <*>", "D <*>", "D <*>"];
        // Split A into {0} "A <*>" and {1} "A 7"; merge B and C into
        // {2,3,4,5} "<*>"; D is grouped right and written right.
        let pred = ["A <*>", "A 7", "<*>", "<*>", "<*>", "<*>", "D <*>", "D <*>"];
        let m = evaluate(&pred, &truth).unwrap();
        // 4 predicted groups: {0}, {1}, {2,3,4,5}, {6,7}; only {6,7} = D.
        // GA = 2/8.
        assert_eq!(m.ga, 2.0 / 8.0);
        // FGA: P = 1/4, R = 1/4 → F1 = 1/4.
        assert_eq!(m.correct_groups, 1);
        assert_eq!(m.fga, 0.25);
        // PA: lines 0, 6, 7 → 3/8.
        assert_eq!(m.pa, 3.0 / 8.0);
        // FTA: D, and {0} ("A <*>", only lines of A) → P = 2/4, R = 2/4.
        assert_eq!(m.correct_templates, 2);
        assert_eq!(m.fta, 0.5);
    }

    #[test]
    fn grouped_right_written_wrong() {
        // Six lines, truth A = {0,1}, B = {2,3}, C = {4,5}.
        let truth = ["A <*>", "A <*>", "B <*>", "B <*>", "C", "C"];
        // A right (text too), C grouped right with a wrong text, B split.
        let pred = ["A <*>", "A <*>", "B 1", "B 2", "C x", "C x"];
        let m = evaluate(&pred, &truth).unwrap();
        // GA: A and C lines are in exact groups → 4/6.
        assert_eq!(m.ga, 4.0 / 6.0);
        // FGA: 2 correct of 4 predicted and 3 truth groups:
        // P = 1/2, R = 2/3, F1 = 2·(1/2)(2/3)/(1/2+2/3) = (2/3)/(7/6) = 4/7.
        assert!((m.fga - 4.0 / 7.0).abs() < 1e-15, "{}", m.fga);
        // PA: lines 0 and 1 → 2/6.
        assert_eq!(m.pa, 2.0 / 6.0);
        // FTA: only A: P = 1/4, R = 1/3, F1 = 2·(1/12)/(7/12) = 2/7.
        assert!((m.fta - 2.0 / 7.0).abs() < 1e-15, "{}", m.fta);
        assert_eq!((m.correct_groups, m.correct_templates), (2, 1));
    }

    #[test]
    fn fta_counts_a_right_string_on_part_of_a_group_as_the_reference_does() {
        // Regression: FTA required the predicted group to equal the truth
        // group, stricter than the reference (HDFS 0.867 instead of 0.933).
        // Truth A = {0,1,2}. The prediction writes "A <*>" for {0,1} (the
        // right string, but only part of the group) and "A 9" for {2}.
        let truth = ["A <*>", "A <*>", "A <*>"];
        let pred = ["A <*>", "A <*>", "A 9"];
        let m = evaluate(&pred, &truth).unwrap();
        assert_eq!(m.ga, 0.0);
        assert_eq!(m.pa, 2.0 / 3.0);
        // {0,1} is not grouped right, but all its lines are A and it is
        // written A: a correct template. P = 1/2, R = 1/1 → 2/3.
        assert_eq!((m.correct_groups, m.correct_templates), (0, 1));
        assert!((m.fta - 2.0 / 3.0).abs() < 1e-15, "{}", m.fta);
        // A group that mixes two true templates is never correct, even
        // when its string is one of them.
        let m = evaluate(&["A <*>", "A <*>"], &["A <*>", "B"]).unwrap();
        assert_eq!((m.correct_templates, m.fta), (0, 0.0));
    }

    #[test]
    fn perfect_prediction_scores_one() {
        let truth = ["a", "b <*>", "b <*>", "c", "a"];
        let m = evaluate(&truth, &truth).unwrap();
        assert_eq!((m.ga, m.fga, m.pa, m.fta), (1.0, 1.0, 1.0, 1.0));
        assert_eq!((m.lines, m.truth_groups, m.predicted_groups), (5, 3, 3));
        assert_eq!(
            (m.ga_lines, m.pa_lines, m.correct_groups, m.correct_templates),
            (5, 5, 3, 3)
        );
        // Perfect grouping with other names: GA and FGA stay 1, PA and FTA 0.
        let renamed = ["x", "y", "y", "z", "x"];
        let m = evaluate(&renamed, &truth).unwrap();
        assert_eq!((m.ga, m.fga, m.pa, m.fta), (1.0, 1.0, 0.0, 0.0));
    }

    #[test]
    fn all_in_one_prediction() {
        // Truth: "a" = {0,1}, "b" = {2}, "c" = {3}; everything predicted "a".
        let truth = ["a", "a", "b", "c"];
        let pred = ["a"; 4];
        let m = evaluate(&pred, &truth).unwrap();
        // The one predicted group {0,1,2,3} equals no truth group.
        assert_eq!((m.ga, m.fga, m.fta), (0.0, 0.0, 0.0));
        // PA: lines 0 and 1 carry the right string → 2/4.
        assert_eq!(m.pa, 0.5);
        assert_eq!((m.predicted_groups, m.truth_groups), (1, 3));
        // All in one when the truth is one group too: perfect.
        let m = evaluate(&["t <*>"; 3], &["t <*>"; 3]).unwrap();
        assert_eq!((m.ga, m.fga, m.pa, m.fta), (1.0, 1.0, 1.0, 1.0));
    }

    #[test]
    fn one_template_per_line() {
        // Truth "a" = {0,1}, "b" = {2}; each line its own predicted group.
        let m = evaluate(&["a", "a 1", "b"], &["a", "a", "b"]).unwrap();
        // {2} = b → GA 1/3; FGA: P = 1/3, R = 1/2 → 2/5; PA lines 0, 2.
        assert_eq!(m.ga, 1.0 / 3.0);
        assert!((m.fga - 0.4).abs() < 1e-15);
        assert_eq!(m.pa, 2.0 / 3.0);
        // FTA: "a" = {0} and "b" = {2} are pure and written right:
        // P = 2/3, R = 2/2 → 4/5.
        assert!((m.fta - 0.8).abs() < 1e-15);
    }

    #[test]
    fn whitespace_is_normalised_and_nothing_else() {
        assert_eq!(normalize_template(" \ta  <*>\n"), "a <*>");
        assert_eq!(normalize_template("   "), "");
        let m = evaluate(&["a  <*> "], &["a <*>"]).unwrap();
        assert_eq!(m.pa, 1.0);
        // No merging of adjacent placeholders, no masking, no case folding.
        for (p, t) in [
            ("a <*><*>", "a <*>"),
            ("a 1", "a <*>"),
            ("A <*>", "a <*>"),
            ("a<*>", "a <*>"),
        ] {
            assert_eq!(evaluate(&[p], &[t]).unwrap().pa, 0.0, "{p:?} vs {t:?}");
        }
        // Grouping is by normalised string too: "x y" and "x  y" are one group.
        let m = evaluate(&["x y", "x  y"], &["t", "t"]).unwrap();
        assert_eq!((m.predicted_groups, m.ga), (1, 1.0));
    }

    #[test]
    fn order_of_lines_does_not_matter() {
        let truth = ["A", "B", "A", "C", "B", "C", "C"];
        let pred = ["A", "X", "A", "C", "X", "C", "Y"];
        let m1 = evaluate(&pred, &truth).unwrap();
        let rev_t: Vec<&str> = truth.iter().rev().copied().collect();
        let rev_p: Vec<&str> = pred.iter().rev().copied().collect();
        assert_eq!(m1, evaluate(&rev_p, &rev_t).unwrap());
    }

    /// The definitions, written as directly as possible (quadratic), to
    /// check [`evaluate`] against on random inputs.
    fn naive(pred: &[String], truth: &[String]) -> (usize, usize, usize, usize, usize, usize) {
        use std::collections::{BTreeSet, HashSet};
        let n = pred.len();
        let group =
            |v: &[String], i: usize| -> BTreeSet<usize> { (0..n).filter(|&j| v[j] == v[i]).collect() };
        let ga_lines = (0..n).filter(|&i| group(pred, i) == group(truth, i)).count();
        let pa_lines = (0..n).filter(|&i| pred[i] == truth[i]).count();
        let pgroups: HashSet<&String> = pred.iter().collect();
        let tgroups: HashSet<&String> = truth.iter().collect();
        let truth_sets: Vec<BTreeSet<usize>> = tgroups
            .iter()
            .map(|t| (0..n).filter(|&j| &&truth[j] == t).collect())
            .collect();
        let (mut groups_ok, mut templates_ok) = (0, 0);
        for p in &pgroups {
            let set: BTreeSet<usize> = (0..n).filter(|&j| &&pred[j] == p).collect();
            if truth_sets.contains(&set) {
                groups_ok += 1;
            }
            let truths: HashSet<&String> = set.iter().map(|&j| &truth[j]).collect();
            if truths.len() == 1 && truths.contains(p) {
                templates_ok += 1;
            }
        }
        (
            ga_lines,
            pa_lines,
            groups_ok,
            templates_ok,
            pgroups.len(),
            tgroups.len(),
        )
    }

    #[test]
    fn agrees_with_the_naive_definitions_on_random_inputs() {
        let mut seed: u64 = 0x9E37_79B9_7F4A_7C15;
        let mut next = |m: u64| {
            seed = seed
                .wrapping_mul(6_364_136_223_846_793_005)
                .wrapping_add(1_442_695_040_888_963_407);
            (seed >> 33) % m
        };
        for _ in 0..500 {
            let n = 1 + next(30) as usize;
            let kt = 1 + next(6);
            let kp = 1 + next(8);
            let truth: Vec<String> = (0..n).map(|_| format!("t{}", next(kt))).collect();
            // Predictions mostly reuse truth strings (so PA/FTA can hit),
            // sometimes follow the truth grouping, sometimes not.
            let follow = next(2) == 0;
            let pred: Vec<String> = truth
                .iter()
                .map(|t| match next(4) {
                    0 => format!("t{}", next(kp)),
                    _ if follow => t.clone(),
                    _ => format!("t{}", next(kt)),
                })
                .collect();
            let m = evaluate(&pred, &truth).unwrap();
            let (ga, pa, g, t, np, nt) = naive(&pred, &truth);
            assert_eq!(
                (m.ga_lines, m.pa_lines, m.correct_groups, m.correct_templates),
                (ga, pa, g, t),
                "{pred:?} vs {truth:?}"
            );
            assert_eq!((m.predicted_groups, m.truth_groups, m.lines), (np, nt, n));
            assert_eq!(m.ga, ga as f64 / n as f64);
            assert_eq!(m.pa, pa as f64 / n as f64);
            for x in [m.ga, m.fga, m.pa, m.fta] {
                assert!((0.0..=1.0).contains(&x));
            }
        }
    }

    #[test]
    fn accepts_strings_and_strs() {
        let truth: Vec<String> = vec!["a".into(), "b".into()];
        let pred: Vec<&str> = vec!["a", "b"];
        assert_eq!(evaluate(&pred, &truth).unwrap().pa, 1.0);
        let pred: Vec<String> = vec!["a".into(), "c".into()];
        assert_eq!(evaluate(&pred, &truth).unwrap().pa, 0.5);
    }

    #[test]
    fn mismatched_lengths_and_empty_are_errors() {
        let e = evaluate(&["a"], &["a", "b"]).unwrap_err();
        assert!(matches!(
            e,
            EvalError::Length {
                predicted: 1,
                truth: 2
            }
        ));
        let msg = e.to_string();
        assert!(
            msg.contains("1 predicted") && msg.contains("2 ground-truth"),
            "{msg}"
        );
        let empty: [&str; 0] = [];
        assert!(matches!(
            evaluate(&empty, &["a"]),
            Err(EvalError::Length {
                predicted: 0,
                truth: 1
            })
        ));
        assert!(matches!(evaluate(&empty, &empty), Err(EvalError::Empty)));
    }

    #[test]
    fn csv_quoting_is_read() {
        let dir = Scratch::new("quoting");
        let p = dir.file(
            "t.csv",
            "LineId,Content,EventId,EventTemplate\n\
             1,\"a, b\",E1,\"<*> \"\"DELETE <*>\"\" status: <*>\"\n\
             2,x,E2,\"x, y <*>\"\n\
             3,\"multi\nline\",E3,\"two\nlines\"\n\
             4,plain,E2,\"x, y <*>\"\n",
        );
        let t = read_truth(&p).unwrap();
        assert_eq!(t.len(), 4);
        let lines: Vec<(&str, &str)> = t.lines().collect();
        assert_eq!(
            lines,
            [
                ("E1", "<*> \"DELETE <*>\" status: <*>"),
                ("E2", "x, y <*>"),
                ("E3", "two\nlines"),
                ("E2", "x, y <*>"),
            ]
        );
        assert_eq!(t.event_ids().collect::<Vec<_>>(), ["E1", "E2", "E3", "E2"]);
        // Scored against itself: perfect, three groups.
        let tpl: Vec<&str> = t.templates().collect();
        let m = evaluate(&tpl, &tpl).unwrap();
        assert_eq!((m.ga, m.pa, m.truth_groups), (1.0, 1.0, 3));
    }

    #[test]
    fn csv_errors_name_file_and_row() {
        let dir = Scratch::new("errors");
        let p = dir.file("nocol.csv", "LineId,Content,EventId\n1,x,E1\n");
        let e = read_truth(&p).unwrap_err().to_string();
        assert!(
            e.contains("nocol.csv") && e.contains("EventTemplate") && e.contains("row 1"),
            "{e}"
        );

        let p = dir.file("noid.csv", "LineId,Content,EventTemplate\n1,x,x\n");
        let e = read_truth(&p).unwrap_err().to_string();
        assert!(e.contains("noid.csv") && e.contains("EventId"), "{e}");

        let p = dir.file(
            "ragged.csv",
            "LineId,Content,EventId,EventTemplate\n1,x,E1,x\n2,y,E2\n",
        );
        let e = read_truth(&p).unwrap_err().to_string();
        assert!(e.contains("ragged.csv") && e.contains("row 3"), "{e}");

        let p = dir.file(
            "blank.csv",
            "LineId,Content,EventId,EventTemplate\n1,x,E1,x\n2,y,E2,\" \"\n",
        );
        let e = read_truth(&p).unwrap_err().to_string();
        assert!(
            e.contains("blank.csv") && e.contains("row 3") && e.contains("empty"),
            "{e}"
        );

        let missing = dir.0.join("missing.csv");
        let e = read_truth(&missing).unwrap_err().to_string();
        assert!(e.contains("missing.csv"), "{e}");

        // A header and no rows: an empty truth, which evaluate refuses.
        let p = dir.file("empty.csv", "LineId,Content,EventId,EventTemplate\n");
        let t = read_truth(&p).unwrap();
        assert!(t.is_empty());
        let none: [&str; 0] = [];
        let tpl: Vec<&str> = t.templates().collect();
        assert!(matches!(evaluate(&none, &tpl), Err(EvalError::Empty)));
    }

    #[test]
    fn reads_a_real_loghub_file() {
        let p = Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("../../testdata/loghub-2k/HDFS/HDFS_2k.log_structured_corrected.csv");
        let t = read_truth(&p).unwrap();
        assert_eq!(t.len(), 2000);
        let (id, tpl) = t.lines().next().unwrap();
        assert_eq!(id, "E10");
        assert_eq!(tpl, "PacketResponder <*> for block <*> terminating");
        let tpl: Vec<&str> = t.templates().collect();
        let m = evaluate(&tpl, &tpl).unwrap();
        assert_eq!((m.ga, m.fga, m.pa, m.fta), (1.0, 1.0, 1.0, 1.0));
        assert_eq!(m.truth_groups, 14);
    }

    #[test]
    fn average_is_the_unweighted_mean() {
        let a = evaluate(&["a", "a"], &["a", "a"]).unwrap(); // all 1
        let b = evaluate(&["x", "y", "z", "w"], &["a", "a", "a", "a"]).unwrap(); // all 0
        let avg = average(&[a, b]);
        assert_eq!((avg.ga, avg.fga, avg.pa, avg.fta), (0.5, 0.5, 0.5, 0.5));
        assert_eq!((avg.lines, avg.truth_groups, avg.predicted_groups), (6, 2, 5));
        assert_eq!(average(&[]), Metrics::default());
    }

    #[test]
    fn table_layout() {
        let m = Metrics {
            ga: 1.0,
            fga: 0.5,
            pa: 0.25,
            fta: 0.0,
            ..Default::default()
        };
        let n = Metrics {
            ga: 0.9876,
            fga: 0.0,
            pa: 0.0,
            fta: 0.0005,
            ..Default::default()
        };
        let t = format_table(
            &[("HDFS", &m), ("HealthApp", &n)],
            &average(&[m.clone(), n.clone()]),
        );
        assert_eq!(
            t,
            "Dataset       GA    FGA     PA    FTA\n\
             HDFS       1.000  0.500  0.250  0.000\n\
             HealthApp  0.988  0.000  0.000  0.001\n\
             Average    0.994  0.250  0.125  0.000\n"
        );
        let empty = format_table(&[], &Metrics::default());
        assert_eq!(empty.lines().count(), 2);
    }
}
