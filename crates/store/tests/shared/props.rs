//! Property: counts add up. For any source and range, `lines` == the sum of `templates(..).count`
//! == the sum of the committed bucket counts in range, whatever merges happened; and after a
//! retention pass `lines` and `templates` still agree. For any backend.

use logsieve_store::{CommitBatch, StoreReader, TemplateQuery};
use proptest::prelude::*;
use proptest::test_runner::{Config, TestRunner};

use super::common::{delta, merge};
use super::Backend;

/// Instantiates the property tests for backend type `$b` (`$cases` cases each).
macro_rules! prop_tests {
    ($b:ty, $cases:expr) => {
        #[test]
        fn counts_add_up() {
            $crate::shared::props::counts_add_up::<$b>($cases)
        }
    };
}
pub(crate) use prop_tests;

const SOURCES: [&str; 2] = ["a", "b"];

/// (source index, template number, buckets)
type Delta = (usize, u64, Vec<(i64, u64)>);

#[derive(Debug, Clone)]
struct Batch {
    deltas: Vec<Delta>,
    merges: Vec<(usize, u64, u64)>,
}

fn batch() -> impl Strategy<Value = Batch> {
    let d = (
        0..2usize,
        0..6u64,
        prop::collection::vec((0..30i64, 1..5u64), 0..4),
    );
    let m = (0..2usize, 0..6u64, 0..6u64);
    (prop::collection::vec(d, 0..6), prop::collection::vec(m, 0..3))
        .prop_map(|(deltas, merges)| Batch { deltas, merges })
}

fn range() -> impl Strategy<Value = (Option<i64>, Option<i64>)> {
    (
        prop::option::of(-60_000..2_000_000i64),
        prop::option::of(-60_000..2_000_000i64),
    )
}

fn in_range(minute: i64, since: Option<i64>, until: Option<i64>) -> bool {
    let start = minute * 60_000;
    since.is_none_or(|s| start + 60_000 > s) && until.is_none_or(|u| start < u)
}

fn check_consistent(
    r: &dyn StoreReader,
    source: Option<&str>,
    since: Option<i64>,
    until: Option<i64>,
) -> u64 {
    let lines = r.lines(source, since, until).unwrap();
    let q = TemplateQuery {
        source: source.map(String::from),
        since_ms: since,
        until_ms: until,
        ..Default::default()
    };
    let rows = r.templates(&q).unwrap();
    let sum: u64 = rows.iter().map(|t| t.count).sum();
    assert_eq!(
        lines, sum,
        "lines vs templates for {source:?} {since:?}..{until:?}: {rows:?}"
    );
    let mut keys: Vec<_> = rows
        .iter()
        .map(|t| (t.source.clone(), t.template_id.clone()))
        .collect();
    keys.sort();
    keys.dedup();
    assert_eq!(keys.len(), rows.len(), "a live template listed twice");
    lines
}

/// Random batches of deltas and merges, then queries over random ranges, then retention.
pub fn counts_add_up<B: Backend>(cases: u32) {
    let mut runner = TestRunner::new(Config {
        cases,
        failure_persistence: None,
        ..Config::default()
    });
    let strategy = (
        prop::collection::vec(batch(), 1..5),
        prop::collection::vec(range(), 1..6),
        0..2_000_000i64,
    );
    let result = runner.run(&strategy, |(batches, ranges, keep_from)| {
        let b = B::fresh();
        let (mut w, readers) = b.open();
        let mut model: Vec<(usize, i64, u64)> = Vec::new();
        for (i, b) in batches.iter().enumerate() {
            let batch = CommitBatch {
                templates: b
                    .deltas
                    .iter()
                    .map(|(s, t, buckets)| delta(SOURCES[*s], *t, &format!("t{t}"), buckets))
                    .collect(),
                merges: b
                    .merges
                    .iter()
                    .map(|(s, f, t)| merge(SOURCES[*s], *f, *t, i as i64))
                    .collect(),
                ..Default::default()
            };
            w.commit(&batch).unwrap();
            for (s, _, buckets) in &b.deltas {
                model.extend(buckets.iter().map(|&(m, n)| (*s, m, n)));
            }
        }
        let r = readers.reader().unwrap();
        let r = &*r;
        for &(since, until) in ranges.iter().chain([(None, None)].iter()) {
            let mut total = 0;
            for (si, s) in SOURCES.iter().enumerate() {
                let expect: u64 = model
                    .iter()
                    .filter(|b| b.0 == si && in_range(b.1, since, until))
                    .map(|b| b.2)
                    .sum();
                prop_assert_eq!(check_consistent(r, Some(s), since, until), expect);
                total += expect;
            }
            prop_assert_eq!(check_consistent(r, None, since, until), total);
        }
        // Every live row resolves to itself; every merged id resolves to a live row.
        for row in r.templates(&TemplateQuery::default()).unwrap() {
            let d = r.template(&row.template_id, Some(&row.source)).unwrap();
            prop_assert_eq!(d.len(), 1);
            prop_assert_eq!(&d[0].row.template_id, &row.template_id);
            prop_assert_eq!(d[0].merged_into.as_ref(), None);
            prop_assert_eq!(d[0].row.count, row.count);
        }
        let all_sources: u64 = r.sources().unwrap().iter().map(|s| s.lines).sum();
        prop_assert_eq!(all_sources, r.lines(None, None, None).unwrap());

        w.retain(keep_from).unwrap();
        for &(since, until) in ranges.iter().chain([(None, None)].iter()) {
            for s in SOURCES {
                check_consistent(r, Some(s), since, until);
            }
            check_consistent(r, None, since, until);
        }
        let all_sources: u64 = r.sources().unwrap().iter().map(|s| s.lines).sum();
        prop_assert_eq!(all_sources, r.lines(None, None, None).unwrap());
        // Nothing older than the cut survives.
        prop_assert_eq!(
            r.lines(None, None, Some(keep_from.div_euclid(60_000) * 60_000))
                .unwrap(),
            0
        );
        Ok(())
    });
    if let Err(e) = result {
        panic!("{e}");
    }
}

/// Instantiates the variable-values and retention-step property tests for backend type `$b`
/// (`$cases` cases each).
macro_rules! values_prop_tests {
    ($b:ty, $cases:expr) => {
        #[test]
        fn variable_values_match_the_one_value_at_a_time_model() {
            $crate::shared::props::values_match_the_model::<$b>($cases)
        }
        #[test]
        fn retention_in_small_steps_ends_as_one_whole_pass() {
            $crate::shared::props::retain_steps_equal_one_pass::<$b>($cases)
        }
        #[test]
        fn a_writer_kept_open_ends_as_one_reopened_before_every_step() {
            $crate::shared::props::kept_writer_equals_reopened::<$b>($cases)
        }
    };
}
pub(crate) use values_prop_tests;

/// Everything a reader reports: every live template with its series and details, lines, and
/// sources.
fn snapshot(r: &dyn StoreReader) -> String {
    let rows = r
        .templates(&TemplateQuery {
            with_series: true,
            ..Default::default()
        })
        .unwrap();
    let details: Vec<_> = rows
        .iter()
        .map(|t| r.template(&t.template_id, Some(&t.source)).unwrap())
        .collect();
    format!(
        "{rows:?}\n{details:?}\n{:?}\n{:?}",
        r.lines(None, None, None).unwrap(),
        r.sources().unwrap()
    )
}

/// Retention run in steps of a few rows (the service's way) ends with the same store as one
/// whole pass (the obviously correct twin), and counts add up after every step.
pub fn retain_steps_equal_one_pass<B: Backend>(cases: u32) {
    let mut runner = TestRunner::new(Config {
        cases,
        failure_persistence: None,
        ..Config::default()
    });
    let strategy = (prop::collection::vec(batch(), 1..5), 0..2_000_000i64, 1..4usize);
    let result = runner.run(&strategy, |(batches, keep_from, step)| {
        let (a, b) = (B::fresh(), B::fresh());
        let (mut wa, ra) = a.open();
        let (mut wb, rb) = b.open();
        for (i, b) in batches.iter().enumerate() {
            let batch = CommitBatch {
                templates: b
                    .deltas
                    .iter()
                    .map(|(s, t, buckets)| delta(SOURCES[*s], *t, &format!("t{t}"), buckets))
                    .collect(),
                merges: b
                    .merges
                    .iter()
                    .map(|(s, f, t)| merge(SOURCES[*s], *f, *t, i as i64))
                    .collect(),
                alerts: (0..3)
                    .map(|k| super::common::alert(i as i64 * 500_000 + k * 100_000, "a", "r", "t", "high"))
                    .collect(),
                ..Default::default()
            };
            wa.commit(&batch).unwrap();
            wb.commit(&batch).unwrap();
        }
        wa.retain(keep_from).unwrap();
        let rb = rb.reader().unwrap();
        let mut steps = 0;
        loop {
            let (_, done) = wb.retain_step(keep_from, step).unwrap();
            steps += 1;
            check_consistent(&*rb, None, None, None);
            for s in SOURCES {
                check_consistent(&*rb, Some(s), None, None);
            }
            if done {
                break;
            }
            prop_assert!(steps < 10_000, "retention steps never end");
        }
        let ra = ra.reader().unwrap();
        prop_assert_eq!(snapshot(&*ra), snapshot(&*rb));
        let q = logsieve_store::AlertQuery::default();
        prop_assert_eq!(ra.alerts(&q).unwrap().len(), rb.alerts(&q).unwrap().len());
        Ok(())
    });
    if let Err(e) = result {
        panic!("{e}");
    }
}

/// One commit's values for template 1: (position, value number, count) and (position, other).
type ValuesCommit = (Vec<(u32, u32, u64)>, Vec<(u32, u64)>);
/// Per position: kept (value, count) pairs and `other`.
type ModelSlot = (u32, Vec<(String, u64)>, u64);
/// Per position as read back: top, distinct kept, other.
type ReadSlot = (u32, Vec<(String, u64)>, usize, u64);

/// The slow, obviously correct twin of a backend's value bookkeeping: every value of every
/// commit in order, one at a time; a value already kept is bumped, a new one takes a slot while
/// its position keeps fewer than `MAX_VALUES`, else it counts in `other`. A position is listed
/// once a value missed or an `other` count came for it. Per position: kept values in arrival
/// order, other.
fn values_model(commits: &[ValuesCommit]) -> Vec<ModelSlot> {
    let mut model: Vec<ModelSlot> = Vec::new();
    fn slot(model: &mut Vec<ModelSlot>, pos: u32) -> usize {
        match model.iter().position(|s| s.0 == pos) {
            Some(i) => i,
            None => {
                model.push((pos, Vec::new(), 0));
                model.len() - 1
            }
        }
    }
    for (values, other) in commits {
        for &(pos, v, n) in values {
            if n == 0 {
                continue;
            }
            let v = format!("v{v}");
            if let Some(s) = model.iter_mut().find(|s| s.0 == pos) {
                if let Some(k) = s.1.iter_mut().find(|k| k.0 == v) {
                    k.1 += n;
                    continue;
                }
            }
            let i = slot(&mut model, pos);
            if model[i].1.len() < logsieve_store::MAX_VALUES {
                model[i].1.push((v, n));
            } else {
                model[i].2 += n;
            }
        }
        for &(pos, n) in other {
            if n > 0 {
                let i = slot(&mut model, pos);
                model[i].2 += n;
            }
        }
    }
    model.sort_by_key(|s| s.0);
    model
}

/// Random commits of variable values (duplicates within a commit, zero counts, positions
/// interleaved, more distinct values than a position keeps) end with exactly the values,
/// kept counts and `other` of [`values_model`].
pub fn values_match_the_model<B: Backend>(cases: u32) {
    let mut runner = TestRunner::new(Config {
        cases,
        failure_persistence: None,
        ..Config::default()
    });
    let commit = (
        prop::collection::vec((0..3u32, 0..90u32, 0..4u64), 0..120),
        prop::collection::vec((0..4u32, 0..3u64), 0..3),
    );
    let strategy = prop::collection::vec(commit, 1..6);
    let result = runner.run(&strategy, |commits| {
        let b = B::fresh();
        let (mut w, readers) = b.open();
        for (i, (values, other)) in commits.iter().enumerate() {
            let mut d = delta("s", 1, "t <*> <*> <*> <*>", &[(i as i64, 1)]);
            d.values = values
                .iter()
                .map(|&(pos, v, n)| (pos, format!("v{v}"), n))
                .collect();
            d.other = other.clone();
            w.commit(&CommitBatch {
                templates: vec![d],
                ..Default::default()
            })
            .unwrap();
        }
        let r = readers.reader().unwrap();
        let det = r.template(&super::common::id(1), Some("s")).unwrap();
        prop_assert_eq!(det.len(), 1);
        let got: Vec<ReadSlot> = det[0]
            .values
            .iter()
            .map(|v| (v.position, v.top.clone(), v.distinct_kept, v.other))
            .collect();
        let want: Vec<ReadSlot> = values_model(&commits)
            .into_iter()
            .map(|(pos, mut kept, other)| {
                let n = kept.len();
                kept.sort_by(|a, b| b.1.cmp(&a.1).then_with(|| a.0.cmp(&b.0)));
                (pos, kept, n, other)
            })
            .collect();
        prop_assert_eq!(got, want);
        Ok(())
    });
    if let Err(e) = result {
        panic!("{e}");
    }
}

/// A writer kept open across commits and retention passes (whatever it remembers between
/// them, such as the SQLite writer's row ids of known templates) ends with the same store as
/// the obviously correct twin: a writer opened afresh for every step, which remembers nothing.
/// Steps vary the text (empty: keep; another text: replace), examples and retention between
/// commits, so deleted templates come back and new ones may get a deleted one's row id.
pub fn kept_writer_equals_reopened<B: Backend>(cases: u32) {
    let mut runner = TestRunner::new(Config {
        cases,
        failure_persistence: None,
        ..Config::default()
    });
    // Per step: a batch, per delta a text choice and examples, and maybe a retention cut.
    let step = (
        batch(),
        prop::collection::vec((0..3u8, prop::collection::vec(0..4u8, 0..3)), 6),
        prop::option::of(0..2_000_000i64),
    );
    let strategy = prop::collection::vec(step, 1..8);
    let result = runner.run(&strategy, |steps| {
        let (a, b) = (B::fresh(), B::fresh());
        let (mut wa, ra) = a.open();
        let ra = ra.reader().unwrap();
        for (i, (batch, looks, cut)) in steps.iter().enumerate() {
            let templates = batch
                .deltas
                .iter()
                .zip(looks.iter().cycle())
                .map(|((s, t, buckets), (text, examples))| {
                    let text = match text {
                        0 => String::new(),
                        1 => format!("t{t}"),
                        _ => format!("u{t}"),
                    };
                    let mut d = delta(SOURCES[*s], *t, &text, buckets);
                    d.examples = examples.iter().map(|e| format!("line {e}")).collect();
                    d
                })
                .collect();
            let batch = CommitBatch {
                templates,
                merges: batch
                    .merges
                    .iter()
                    .map(|(s, f, t)| merge(SOURCES[*s], *f, *t, i as i64))
                    .collect(),
                ..Default::default()
            };
            wa.commit(&batch).unwrap();
            b.open().0.commit(&batch).unwrap();
            if let Some(cut) = cut {
                wa.retain(*cut).unwrap();
                b.open().0.retain(*cut).unwrap();
            }
            let rb = b.open().1.reader().unwrap();
            prop_assert_eq!(snapshot(&*ra), snapshot(&*rb), "after step {}", i);
        }
        Ok(())
    });
    if let Err(e) = result {
        panic!("{e}");
    }
}
