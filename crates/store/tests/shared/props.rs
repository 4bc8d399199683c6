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
