//! Behaviour of a store through its public traits, for any backend: round trips, merges,
//! caps, ranges, alert filters, retention, validation, reopening, concurrent reads.

use logsieve_store::{AlertQuery, CommitBatch, StoreError, TemplateQuery, MAX_VALUES};

use super::common::{alert, delta, deltas, id, merge};
use super::Backend;

/// Instantiates every test of this module for backend type `$b`.
macro_rules! behaviour_tests {
    ($b:ty) => {
        $crate::shared::behaviour::behaviour_tests!(@each $b;
            round_trip_templates_alerts_states_sources,
            deltas_accumulate_across_commits,
            examples_keep_the_first_five_distinct,
            values_keep_at_most_64_distinct_and_count_the_rest_as_other,
            merge_chain_reports_under_the_last_live_template,
            merge_in_the_same_batch_as_both_deltas_is_applied_first,
            delta_to_a_merged_id_counts_under_its_live_target,
            merge_into_an_unseen_template_keeps_the_text_until_its_delta,
            merge_that_would_make_a_cycle_is_ignored,
            merges_stay_within_their_source,
            template_query_filters_limit_and_series_range,
            alert_filters,
            alert_filter_by_template_covers_its_merge_group_in_its_source,
            retention_deletes_old_data_and_keeps_totals_equal_to_buckets,
            invalid_batch_is_refused_and_writes_nothing,
            reopen_after_drop_keeps_everything,
            reader_sees_commits_made_after_it_opened,
            series_of_many_rows_equal_each_templates_own_series,
        );
    };
    (@each $b:ty; $($name:ident),* $(,)?) => {
        $(
            #[test]
            fn $name() {
                $crate::shared::behaviour::$name::<$b>()
            }
        )*
    };
}
pub(crate) use behaviour_tests;

fn all() -> TemplateQuery {
    TemplateQuery::default()
}

pub fn round_trip_templates_alerts_states_sources<B: Backend>() {
    let b = B::fresh();
    let (mut w, readers) = b.open();
    let mut d = delta("web", 1, "GET <*> 200", &[(10, 3), (11, 2)]);
    d.examples = vec!["GET /a 200".into(), "GET /b 200".into()];
    d.values = vec![(0, "/a".into(), 3), (0, "/b".into(), 2)];
    let batch = CommitBatch {
        templates: vec![d, delta("db", 2, "slow query <*>", &[(11, 4)])],
        alerts: vec![alert(660_000, "web", "r-1", "Root login", "high")],
        states: vec![("web".into(), vec![1, 2, 3]), ("db".into(), vec![])],
        ..Default::default()
    };
    let info = w.commit(&batch).unwrap();
    assert_eq!((info.templates, info.alerts), (2, 1));

    let r = readers.reader().unwrap();
    let sources = r.sources().unwrap();
    assert_eq!(sources.len(), 2);
    assert_eq!(
        (sources[0].name.as_str(), sources[0].templates, sources[0].lines),
        ("db", 1, 4)
    );
    assert_eq!(
        (sources[1].name.as_str(), sources[1].templates, sources[1].lines),
        ("web", 1, 5)
    );
    assert_eq!(sources[1].first_seen_ms, 600_000);
    assert_eq!(sources[1].last_seen_ms, 11 * 60_000 + 59_999);

    let rows = r
        .templates(&TemplateQuery {
            with_series: true,
            ..all()
        })
        .unwrap();
    assert_eq!(rows.len(), 2);
    assert_eq!((rows[0].template_id.as_str(), rows[0].count), (id(1).as_str(), 5));
    assert_eq!(rows[0].series, vec![(600_000, 3), (660_000, 2)]);
    assert_eq!((rows[1].source.as_str(), rows[1].count), ("db", 4));

    let detail = r.template(&id(1), None).unwrap();
    assert_eq!(detail.len(), 1);
    let d = &detail[0];
    assert_eq!(d.row.template, "GET <*> 200");
    assert_eq!(d.examples, vec!["GET /a 200", "GET /b 200"]);
    assert_eq!(d.values.len(), 1);
    assert_eq!(
        d.values[0].top,
        vec![("/a".to_string(), 3), ("/b".to_string(), 2)]
    );
    assert_eq!((d.values[0].distinct_kept, d.values[0].other), (2, 0));
    assert!(d.merged_from.is_empty());
    assert_eq!(d.merged_into, None);

    let alerts = r.alerts(&AlertQuery::default()).unwrap();
    assert_eq!(alerts.len(), 1);
    assert_eq!(alerts[0].record, batch.alerts[0]);

    assert_eq!(r.lines(None, None, None).unwrap(), 9);
    assert_eq!(r.lines(Some("web"), Some(660_000), None).unwrap(), 2);
    assert_eq!(
        w.load_states().unwrap(),
        vec![("db".into(), vec![]), ("web".into(), vec![1, 2, 3])]
    );
    // A later state replaces the earlier one.
    w.commit(&CommitBatch {
        states: vec![("web".into(), vec![9])],
        ..Default::default()
    })
    .unwrap();
    assert_eq!(w.load_states().unwrap()[1], ("web".into(), vec![9]));
}

pub fn deltas_accumulate_across_commits<B: Backend>() {
    let b = B::fresh();
    let (mut w, readers) = b.open();
    w.commit(&deltas(vec![delta("s", 1, "a <*>", &[(5, 1)])]))
        .unwrap();
    w.commit(&deltas(vec![delta("s", 1, "a <*>", &[(5, 2), (7, 4)])]))
        .unwrap();
    let r = readers.reader().unwrap();
    let rows = r
        .templates(&TemplateQuery {
            with_series: true,
            ..all()
        })
        .unwrap();
    assert_eq!(rows[0].count, 7);
    assert_eq!(rows[0].series, vec![(300_000, 3), (420_000, 4)]);
    assert_eq!(rows[0].first_seen_ms, 300_000);
    assert_eq!(rows[0].last_seen_ms, 7 * 60_000 + 59_999);
}

pub fn examples_keep_the_first_five_distinct<B: Backend>() {
    let b = B::fresh();
    let (mut w, readers) = b.open();
    for batch in [
        vec!["l1", "l2", "l1"],
        vec!["l2", "l3"],
        vec!["l4", "l5", "l6"],
        vec!["l7"],
    ] {
        let mut d = delta("s", 1, "l<*>", &[(1, 1)]);
        d.examples = batch.into_iter().map(String::from).collect();
        w.commit(&deltas(vec![d])).unwrap();
    }
    let d = &readers.reader().unwrap().template(&id(1), Some("s")).unwrap()[0];
    assert_eq!(d.examples, vec!["l1", "l2", "l3", "l4", "l5"]);
}

pub fn values_keep_at_most_64_distinct_and_count_the_rest_as_other<B: Backend>() {
    let b = B::fresh();
    let (mut w, readers) = b.open();
    let mut d = delta("s", 1, "user <*> from <*>", &[(1, 1)]);
    d.values = (0..70).map(|i| (0, format!("u{i}"), 1)).collect();
    d.values.push((1, "10.0.0.1".into(), 5));
    w.commit(&deltas(vec![d])).unwrap();
    let mut d = delta("s", 1, "user <*> from <*>", &[(1, 1)]);
    // An increment to a kept value counts; a new value past the cap goes to other.
    d.values = vec![(0, "u3".into(), 10), (0, "u99".into(), 7)];
    w.commit(&deltas(vec![d])).unwrap();
    let det = &readers.reader().unwrap().template(&id(1), None).unwrap()[0];
    let v0 = &det.values[0];
    assert_eq!(v0.position, 0);
    assert_eq!(v0.distinct_kept, MAX_VALUES);
    assert_eq!(v0.top.len(), MAX_VALUES);
    assert_eq!(v0.top[0], ("u3".to_string(), 11));
    assert_eq!(v0.other, 6 + 7);
    assert!(!v0.top.iter().any(|(v, _)| v == "u64" || v == "u99"));
    assert_eq!(det.values[1].top, vec![("10.0.0.1".to_string(), 5)]);
}

pub fn merge_chain_reports_under_the_last_live_template<B: Backend>() {
    let b = B::fresh();
    let (mut w, readers) = b.open();
    let mut a = delta("s", 0xa, "user alice logged in", &[(1, 2)]);
    a.examples = vec!["user alice logged in".into()];
    w.commit(&deltas(vec![a, delta("s", 0xb, "user <*> logged in", &[(2, 3)])]))
        .unwrap();
    w.commit(&CommitBatch {
        merges: vec![merge("s", 0xa, 0xb, 1000)],
        ..Default::default()
    })
    .unwrap();
    let mut c = delta("s", 0xc, "<*> <*> logged in", &[(3, 4)]);
    c.examples = vec!["svc x logged in".into()];
    w.commit(&CommitBatch {
        merges: vec![merge("s", 0xb, 0xc, 2000)],
        templates: vec![c],
        ..Default::default()
    })
    .unwrap();
    let r = readers.reader().unwrap();
    let rows = r
        .templates(&TemplateQuery {
            with_series: true,
            ..all()
        })
        .unwrap();
    assert_eq!(rows.len(), 1, "{rows:?}");
    assert_eq!(rows[0].template_id, id(0xc));
    assert_eq!(rows[0].template, "<*> <*> logged in");
    assert_eq!(rows[0].count, 9);
    assert_eq!(rows[0].first_seen_ms, 60_000);
    assert_eq!(rows[0].series, vec![(60_000, 2), (120_000, 3), (180_000, 4)]);
    for asked in [0xa, 0xb, 0xc] {
        let d = r.template(&id(asked), None).unwrap();
        assert_eq!(d.len(), 1);
        assert_eq!(d[0].row.template_id, id(0xc));
        assert_eq!(d[0].row.count, 9);
        let expect_into = if asked == 0xc { None } else { Some(id(0xc)) };
        assert_eq!(d[0].merged_into, expect_into);
        assert_eq!(
            d[0].merged_from,
            vec![
                (id(0xa), "user alice logged in".into(), 1000),
                (id(0xb), "user <*> logged in".into(), 2000)
            ]
        );
        assert_eq!(d[0].examples, vec!["svc x logged in", "user alice logged in"]);
    }
    assert_eq!(r.sources().unwrap()[0].templates, 1);
}

pub fn merge_in_the_same_batch_as_both_deltas_is_applied_first<B: Backend>() {
    let b = B::fresh();
    let (mut w, readers) = b.open();
    w.commit(&CommitBatch {
        templates: vec![delta("s", 1, "a 1", &[(1, 2)]), delta("s", 2, "a <*>", &[(1, 5)])],
        merges: vec![merge("s", 1, 2, 90_000)],
        ..Default::default()
    })
    .unwrap();
    let rows = readers.reader().unwrap().templates(&all()).unwrap();
    assert_eq!(rows.len(), 1);
    assert_eq!(
        (
            rows[0].template_id.clone(),
            rows[0].template.as_str(),
            rows[0].count
        ),
        (id(2), "a <*>", 7)
    );
}

pub fn delta_to_a_merged_id_counts_under_its_live_target<B: Backend>() {
    let b = B::fresh();
    let (mut w, readers) = b.open();
    w.commit(&deltas(vec![
        delta("s", 1, "x 1", &[(1, 1)]),
        delta("s", 2, "x <*>", &[(1, 1)]),
    ]))
    .unwrap();
    w.commit(&CommitBatch {
        merges: vec![merge("s", 1, 2, 0)],
        ..Default::default()
    })
    .unwrap();
    w.commit(&deltas(vec![delta("s", 1, "x 1", &[(50, 10)])]))
        .unwrap();
    let r = readers.reader().unwrap();
    let rows = r.templates(&all()).unwrap();
    assert_eq!(rows.len(), 1);
    assert_eq!((rows[0].template_id.clone(), rows[0].count), (id(2), 12));
    assert_eq!(rows[0].last_seen_ms, 50 * 60_000 + 59_999);
    let ranged = r
        .templates(&TemplateQuery {
            since_ms: Some(50 * 60_000),
            ..all()
        })
        .unwrap();
    assert_eq!((ranged.len(), ranged[0].count), (1, 10));
}

pub fn merge_into_an_unseen_template_keeps_the_text_until_its_delta<B: Backend>() {
    let b = B::fresh();
    let (mut w, readers) = b.open();
    w.commit(&deltas(vec![delta("s", 1, "old text", &[(1, 3)])]))
        .unwrap();
    w.commit(&CommitBatch {
        merges: vec![merge("s", 1, 2, 0)],
        ..Default::default()
    })
    .unwrap();
    let r = readers.reader().unwrap();
    let rows = r.templates(&all()).unwrap();
    assert_eq!(
        (
            rows[0].template_id.clone(),
            rows[0].template.as_str(),
            rows[0].count
        ),
        (id(2), "old text", 3)
    );
    w.commit(&deltas(vec![delta("s", 2, "new <*>", &[(2, 1)])]))
        .unwrap();
    let rows = r.templates(&all()).unwrap();
    assert_eq!((rows[0].template.as_str(), rows[0].count), ("new <*>", 4));
}

pub fn merge_that_would_make_a_cycle_is_ignored<B: Backend>() {
    let b = B::fresh();
    let (mut w, readers) = b.open();
    w.commit(&CommitBatch {
        templates: vec![delta("s", 1, "a", &[(1, 1)]), delta("s", 2, "b", &[(1, 2)])],
        merges: vec![merge("s", 1, 2, 0), merge("s", 2, 1, 1)],
        ..Default::default()
    })
    .unwrap();
    let r = readers.reader().unwrap();
    let rows = r.templates(&all()).unwrap();
    assert_eq!(rows.len(), 1);
    assert_eq!((rows[0].template_id.clone(), rows[0].count), (id(2), 3));
    assert_eq!(r.lines(None, None, None).unwrap(), 3);
}

pub fn merges_stay_within_their_source<B: Backend>() {
    let b = B::fresh();
    let (mut w, readers) = b.open();
    w.commit(&CommitBatch {
        templates: vec![
            delta("s", 1, "a", &[(1, 1)]),
            delta("s", 2, "b", &[(1, 2)]),
            delta("t", 1, "a", &[(1, 4)]),
        ],
        merges: vec![merge("s", 1, 2, 0)],
        ..Default::default()
    })
    .unwrap();
    let r = readers.reader().unwrap();
    let d = r.template(&id(1), None).unwrap();
    assert_eq!(d.len(), 2);
    assert_eq!(
        (
            d[0].row.source.as_str(),
            d[0].row.template_id.clone(),
            d[0].row.count
        ),
        ("s", id(2), 3)
    );
    assert_eq!(
        (
            d[1].row.source.as_str(),
            d[1].row.template_id.clone(),
            d[1].row.count
        ),
        ("t", id(1), 4)
    );
    assert_eq!(r.template(&id(1), Some("t")).unwrap().len(), 1);
    assert!(r.template(&id(9), None).unwrap().is_empty());
}

pub fn template_query_filters_limit_and_series_range<B: Backend>() {
    let b = B::fresh();
    let (mut w, readers) = b.open();
    w.commit(&deltas(vec![
        delta("s", 1, "Connection RESET by <*>", &[(0, 5), (10, 1)]),
        delta("s", 2, "disk full on <*>", &[(10, 3)]),
        delta("t", 3, "ÉCHEC connexion <*>", &[(20, 2)]),
    ]))
    .unwrap();
    let r = readers.reader().unwrap();
    let ids = |q: TemplateQuery| {
        r.templates(&q)
            .unwrap()
            .into_iter()
            .map(|t| t.template_id)
            .collect::<Vec<_>>()
    };
    assert_eq!(ids(all()), vec![id(1), id(2), id(3)]);
    assert_eq!(ids(TemplateQuery { limit: 1, ..all() }), vec![id(1)]);
    assert_eq!(
        ids(TemplateQuery {
            q: Some("reset".into()),
            ..all()
        }),
        vec![id(1)]
    );
    assert_eq!(
        ids(TemplateQuery {
            q: Some("échec".into()),
            ..all()
        }),
        vec![id(3)]
    );
    assert_eq!(
        ids(TemplateQuery {
            source: Some("t".into()),
            ..all()
        }),
        vec![id(3)]
    );
    assert_eq!(
        ids(TemplateQuery {
            new_since_ms: Some(600_000),
            ..all()
        }),
        vec![id(2), id(3)]
    );
    // Range [10 min, 11 min): template 2 (3 lines) before template 1 (1 line); 3 has none.
    let rows = r
        .templates(&TemplateQuery {
            since_ms: Some(600_000),
            until_ms: Some(660_000),
            with_series: true,
            ..all()
        })
        .unwrap();
    assert_eq!(
        rows.iter()
            .map(|t| (t.template_id.clone(), t.count))
            .collect::<Vec<_>>(),
        vec![(id(2), 3), (id(1), 1)]
    );
    assert_eq!(rows[1].series, vec![(600_000, 1)]);
    // A range edge inside a minute includes the whole overlapping bucket.
    assert_eq!(r.lines(None, Some(600_001), Some(600_002)).unwrap(), 4);
    assert_eq!(r.lines(None, Some(0), Some(600_000)).unwrap(), 5);
    assert_eq!(r.lines(Some("t"), None, None).unwrap(), 2);
    assert_eq!(r.lines(Some("nope"), None, None).unwrap(), 0);
}

pub fn alert_filters<B: Backend>() {
    let b = B::fresh();
    let (mut w, readers) = b.open();
    let alerts = vec![
        alert(1000, "web", "r-1", "Root login", "high"),
        alert(2000, "web", "r-2", "Port scan", "low"),
        alert(3000, "db", "r-1", "Root login", "High"),
        alert(4000, "db", "r-3", "Drop table", "critical"),
    ];
    w.commit(&CommitBatch {
        alerts,
        ..Default::default()
    })
    .unwrap();
    let r = readers.reader().unwrap();
    let at = |q: AlertQuery| {
        r.alerts(&q)
            .unwrap()
            .into_iter()
            .map(|a| a.record.at_ms)
            .collect::<Vec<_>>()
    };
    let any = AlertQuery::default;
    assert_eq!(at(any()), vec![4000, 3000, 2000, 1000]);
    assert_eq!(at(AlertQuery { limit: 2, ..any() }), vec![4000, 3000]);
    assert_eq!(
        at(AlertQuery {
            since_ms: Some(2000),
            until_ms: Some(4000),
            ..any()
        }),
        vec![3000, 2000]
    );
    assert_eq!(
        at(AlertQuery {
            level: Some("HIGH".into()),
            ..any()
        }),
        vec![3000, 1000]
    );
    assert_eq!(
        at(AlertQuery {
            rule: Some("r-1".into()),
            ..any()
        }),
        vec![3000, 1000]
    );
    assert_eq!(
        at(AlertQuery {
            rule: Some("Port scan".into()),
            ..any()
        }),
        vec![2000]
    );
    assert_eq!(
        at(AlertQuery {
            source: Some("db".into()),
            level: Some("critical".into()),
            ..any()
        }),
        vec![4000]
    );
    let rows = r.alerts(&any()).unwrap();
    assert!(rows.windows(2).all(|p| p[0].id > p[1].id));
    assert_eq!(rows[0].record.fields["user"], "root");
}

pub fn alert_filter_by_template_covers_its_merge_group_in_its_source<B: Backend>() {
    let b = B::fresh();
    let (mut w, readers) = b.open();
    let on = |at: i64, source: &str, t: u64| {
        let mut a = alert(at, source, "r-1", "Root login", "high");
        a.template_id = Some(id(t));
        a
    };
    w.commit(&CommitBatch {
        templates: vec![
            delta("s", 1, "x 1", &[(1, 1)]),
            delta("s", 2, "x <*>", &[(1, 1)]),
            delta("t", 1, "x 1", &[(1, 1)]),
        ],
        merges: vec![merge("s", 1, 2, 0)],
        alerts: vec![
            on(1000, "s", 1),
            on(2000, "s", 2),
            on(3000, "t", 1),
            on(4000, "s", 3),
        ],
        ..Default::default()
    })
    .unwrap();
    let r = readers.reader().unwrap();
    let at = |t: u64, source: Option<&str>| {
        r.alerts(&AlertQuery {
            template_id: Some(id(t)),
            source: source.map(String::from),
            ..AlertQuery::default()
        })
        .unwrap()
        .into_iter()
        .map(|a| a.record.at_ms)
        .collect::<Vec<_>>()
    };
    // Template 2 of source s absorbed template 1 of s, not template 1 of t.
    assert_eq!(at(2, None), vec![2000, 1000]);
    assert_eq!(at(1, Some("t")), vec![3000]);
    assert_eq!(at(1, None), vec![3000, 1000]);
    assert_eq!(at(3, None), vec![4000]);
}

pub fn retention_deletes_old_data_and_keeps_totals_equal_to_buckets<B: Backend>() {
    let b = B::fresh();
    let (mut w, readers) = b.open();
    let mut old = delta("s", 1, "old", &[(1, 4)]);
    old.examples = vec!["old".into()];
    old.values = vec![(0, "v".into(), 1)];
    w.commit(&CommitBatch {
        templates: vec![
            old,
            delta("s", 2, "spanning", &[(1, 2), (10, 3)]),
            delta("s", 3, "merged away, old", &[(2, 1)]),
            delta("s", 4, "live target, recent", &[(12, 1)]),
            delta("gone", 5, "only old", &[(0, 1)]),
        ],
        merges: vec![merge("s", 3, 4, 0)],
        alerts: vec![
            alert(60_000, "s", "r", "t", "low"),
            alert(600_000, "s", "r", "t", "low"),
        ],
        ..Default::default()
    })
    .unwrap();
    let info = w.retain(600_000).unwrap();
    assert_eq!(info.alerts, 1);
    assert_eq!(info.templates, 2, "template 1 and source gone's template 5");
    assert_eq!(info.buckets, 4);
    let r = readers.reader().unwrap();
    let rows = r.templates(&all()).unwrap();
    let got: Vec<_> = rows.iter().map(|t| (t.template_id.clone(), t.count)).collect();
    // Template 3 is old but merged into 4, which is recent: the group stays; its old bucket goes.
    assert_eq!(got, vec![(id(2), 3), (id(4), 1)]);
    assert_eq!(r.lines(None, None, None).unwrap(), 4);
    assert!(r.template(&id(1), None).unwrap().is_empty());
    assert_eq!(r.template(&id(3), None).unwrap()[0].merged_from.len(), 1);
    let sources = r.sources().unwrap();
    assert_eq!(sources.len(), 1);
    assert_eq!(
        (sources[0].name.as_str(), sources[0].lines, sources[0].templates),
        ("s", 4, 2)
    );
    assert_eq!(r.alerts(&AlertQuery::default()).unwrap().len(), 1);
}

pub fn invalid_batch_is_refused_and_writes_nothing<B: Backend>() {
    let b = B::fresh();
    let (mut w, readers) = b.open();
    let mut bad = delta("s", 2, "b", &[(1, 1)]);
    bad.count = 5;
    let batch = CommitBatch {
        templates: vec![delta("s", 1, "a", &[(1, 1)]), bad],
        alerts: vec![alert(1, "s", "r", "t", "low")],
        ..Default::default()
    };
    let err = w.commit(&batch).unwrap_err();
    assert!(matches!(err, StoreError::InvalidBatch(_)));
    assert!(err.to_string().contains("templates[1]"), "{err}");
    let mut bad_id = delta("s", 1, "a", &[(1, 1)]);
    bad_id.template_id = "xyz".into();
    let err = w.commit(&deltas(vec![bad_id])).unwrap_err();
    assert!(err.to_string().contains("template_id \"xyz\""), "{err}");
    let mut bad_alert = alert(1, "s", "r", "t", "low");
    bad_alert.fields = serde_json::json!([1]);
    assert!(w
        .commit(&CommitBatch {
            alerts: vec![bad_alert],
            ..Default::default()
        })
        .is_err());
    let r = readers.reader().unwrap();
    assert_eq!(r.lines(None, None, None).unwrap(), 0);
    assert!(r.alerts(&AlertQuery::default()).unwrap().is_empty());
}

pub fn reopen_after_drop_keeps_everything<B: Backend>() {
    let b = B::fresh();
    {
        let (mut w, _) = b.open();
        w.commit(&CommitBatch {
            templates: vec![delta("s", 1, "a <*>", &[(1, 2)]), delta("s", 2, "b", &[(1, 1)])],
            merges: vec![merge("s", 2, 1, 5)],
            alerts: vec![alert(5, "s", "r", "t", "low")],
            states: vec![("s".into(), b"miner".to_vec())],
            ..Default::default()
        })
        .unwrap();
    }
    let (mut w, readers) = b.open();
    let r = readers.reader().unwrap();
    let rows = r.templates(&all()).unwrap();
    assert_eq!((rows.len(), rows[0].count), (1, 3));
    assert_eq!(r.alerts(&AlertQuery::default()).unwrap().len(), 1);
    assert_eq!(w.load_states().unwrap(), vec![("s".into(), b"miner".to_vec())]);
}

pub fn reader_sees_commits_made_after_it_opened<B: Backend>() {
    let b = B::fresh();
    let (mut w, readers) = b.open();
    let r = readers.reader().unwrap();
    assert_eq!(r.lines(None, None, None).unwrap(), 0);
    let t = std::thread::spawn(move || {
        for i in 0..20 {
            w.commit(&deltas(vec![delta("s", 1, "a", &[(i, 1)])])).unwrap();
        }
    });
    // Reads run while the writer commits (WAL): totals only grow and stay consistent.
    let mut last = 0;
    for _ in 0..50 {
        let n = r.lines(None, None, None).unwrap();
        let sum: u64 = r.templates(&all()).unwrap().iter().map(|t| t.count).sum();
        assert!(n >= last);
        assert!(sum >= n);
        last = n;
    }
    t.join().unwrap();
    assert_eq!(r.lines(None, None, None).unwrap(), 20);
}

/// Past a few rows, series are read in one scan: they must equal each
/// template's own series (the detail's per-group query, the slow twin), in
/// and out of a range, merges included.
pub fn series_of_many_rows_equal_each_templates_own_series<B: Backend>() {
    let b = B::fresh();
    let (mut w, readers) = b.open();
    let mut ds = Vec::new();
    for t in 0..120u64 {
        let buckets: Vec<(i64, u64)> = (0..(t % 7 + 1) as i64)
            .map(|k| (10 + k * (t as i64 % 3 + 1), t + k as u64 + 1))
            .collect();
        ds.push(delta(
            if t % 2 == 0 { "a" } else { "b" },
            100 + t,
            &format!("event {t} <*>"),
            &buckets,
        ));
    }
    w.commit(&deltas(ds)).unwrap();
    // Merge a few templates into others of the same source.
    w.commit(&CommitBatch {
        merges: vec![
            merge("a", 100, 102, 0),
            merge("a", 104, 102, 0),
            merge("b", 101, 103, 0),
        ],
        ..Default::default()
    })
    .unwrap();
    let r = readers.reader().unwrap();
    for (since, until, source) in [
        (None, None, None),
        (Some(12 * 60_000), Some(20 * 60_000 + 1), None),
        (None, None, Some("a")),
        (Some(11 * 60_000), None, Some("b")),
    ] {
        let rows = r
            .templates(&TemplateQuery {
                since_ms: since,
                until_ms: until,
                source: source.map(String::from),
                with_series: true,
                ..all()
            })
            .unwrap();
        assert!(
            rows.len() > 32,
            "{} rows: the one-scan path is not exercised",
            rows.len()
        );
        for row in &rows {
            let own = r.template(&row.template_id, Some(&row.source)).unwrap();
            let lo = since.map_or(i64::MIN, |s| s.div_euclid(60_000) * 60_000);
            let hi = until.map_or(i64::MAX, |u| u);
            let want: Vec<(i64, u64)> = own[0]
                .row
                .series
                .iter()
                .copied()
                .filter(|(m, _)| *m >= lo && *m < hi)
                .collect();
            assert_eq!(row.series, want, "{} {}", row.source, row.template_id);
            assert_eq!(row.series.iter().map(|(_, n)| n).sum::<u64>(), row.count);
        }
    }
}
