//! `logsieve detect` output: `-o jsonl|csv|table`, the per-rule summary
//! table, `--placeholders` for `expand`, meta filters from rule files, and
//! `parse` refusing an `.evtx` input with a pointer to `detect`.

mod detect_common;

use detect_common::{alerts, assert_stderr_has, json_events, run, stderr, stdout, testdata, write};

/// The first regression case: (rule file, event file, rule title).
fn case() -> (String, String, String) {
    let dir = testdata("sigma-regression/0e8cfe08-02c9-4815-a2f8-0d157b7ed33e");
    let rule = std::fs::read_to_string(dir.join("rule.yml")).unwrap();
    let title = rule
        .lines()
        .find_map(|l| l.strip_prefix("title: "))
        .unwrap()
        .trim()
        .to_string();
    (
        dir.join("rule.yml").display().to_string(),
        dir.join("event.json").display().to_string(),
        title,
    )
}

#[test]
fn csv_has_a_header_row_and_one_row_per_alert() {
    let (rule, event, title) = case();
    let out = stdout(&run(&["detect", "-o", "csv", "--rules", &rule, &event]));
    let lines: Vec<&str> = out.lines().collect();
    assert_eq!(
        lines[0],
        "rule_id,title,level,line,source,timestamp,correlation,group,lines,matched"
    );
    assert_eq!(lines.len(), 2, "{out}");
    assert!(lines[1].contains(&title), "{out}");
    assert!(lines[1].contains(",1,"), "line 1: {out}");
    // The matched Image holds backslashes and the command line quotes: the
    // field is quoted, its quotes doubled.
    assert!(lines[1].contains("\"\""), "{out}");
}

#[test]
fn table_is_aligned_columns_with_a_header() {
    let (rule, event, title) = case();
    let out = stdout(&run(&["detect", "-o", "table", "--rules", &rule, &event]));
    let lines: Vec<&str> = out.lines().collect();
    assert!(lines[0].starts_with("LEVEL"), "{out}");
    assert!(lines[0].contains("RULE") && lines[0].contains("DETAILS"), "{out}");
    assert_eq!(lines.len(), 2, "{out}");
    assert!(lines[1].contains(&title[..20.min(title.len())]), "{out}");
    assert!(lines[1].contains("Image="), "{out}");
}

#[test]
fn summary_table_only_on_a_terminal_unless_asked() {
    let (rule, event, title) = case();
    let plain = run(&["detect", "--rules", &rule, &event]);
    assert!(!stderr(&plain).contains("ALERTS"), "{}", stderr(&plain));
    let always = run(&[
        "detect",
        "--summary-table",
        "always",
        "-q",
        "--rules",
        &rule,
        &event,
    ]);
    let err = stderr(&always);
    assert!(
        err.contains("RULE") && err.contains("LEVEL") && err.contains("ALERTS"),
        "{err}"
    );
    let row = err
        .lines()
        .find(|l| l.contains(&title[..20.min(title.len())]))
        .unwrap();
    assert!(row.trim_end().ends_with(" 1"), "{row}");
    assert!(
        err.lines()
            .any(|l| l.starts_with("total") && l.trim_end().ends_with(" 1")),
        "{err}"
    );
    let never = run(&["detect", "--summary-table", "never", "--rules", &rule, &event]);
    assert!(!stderr(&never).contains("ALERTS"));
}

#[test]
fn placeholders_file_feeds_expand_and_a_missing_one_is_a_rejection() {
    let dir = tempfile::tempdir().unwrap();
    let rule = write(dir.path(), "r.yml", "title: admin user\nid: r1\nlevel: high\nlogsource: {product: test}\ndetection:\n  sel:\n    user|expand: '%admins%'\n  condition: sel\n");
    let events = write(
        dir.path(),
        "e.jsonl",
        "{\"user\": \"root\"}\n{\"user\": \"bob\"}\n{\"user\": \"toor\"}\n",
    );
    let ph = write(dir.path(), "ph.yml", "admins: [root, toor]\n");
    let (r, e, p) = (rule, events, ph.clone());
    let out = stdout(&run(&[
        "detect",
        "--mapping",
        "none",
        "--rules",
        &r,
        "--placeholders",
        &p,
        &e,
    ]));
    let lines: Vec<u64> = out
        .lines()
        .map(|l| {
            serde_json::from_str::<serde_json::Value>(l).unwrap()["line"]
                .as_u64()
                .unwrap()
        })
        .collect();
    assert_eq!(lines, [1, 3]);
    let without = run(&["detect", "--mapping", "none", "--rules", &r, &e]);
    assert_stderr_has(&without, "placeholder `%admins%` has no value");
    let strict = run(&["detect", "--strict", "--mapping", "none", "--rules", &r, &e]);
    assert_eq!(strict.status.code(), Some(2));
    std::fs::write(&ph, "- not a map\n").unwrap();
    let bad = run(&[
        "detect",
        "--mapping",
        "none",
        "--rules",
        &r,
        "--placeholders",
        &p,
        &e,
    ]);
    assert_eq!(bad.status.code(), Some(2));
    assert_stderr_has(&bad, "must be a map");
}

#[test]
fn a_filter_file_silences_the_rule_it_names() {
    let (rule, event, _) = case();
    let dir = tempfile::tempdir().unwrap();
    let id = std::fs::read_to_string(&rule)
        .unwrap()
        .lines()
        .find_map(|l| l.strip_prefix("id: ").map(|s| s.trim().to_string()))
        .unwrap();
    let f = write(
        dir.path(),
        "filter.yml",
        &format!(
            "title: chrome is fine here\nid: f1\nlogsource: {{product: windows, category: process_creation}}\nfilter:\n  rules: [{id}]\n  selection:\n    Image|endswith: '\\chrome.exe'\n  condition: selection\n"
        ),
    );
    let out = run(&["detect", "--rules", &rule, "--rules", &f, &event]);
    assert_eq!(stdout(&out), "", "filtered");
    assert_stderr_has(&out, "1 rules and 0 correlations loaded, 1 filters, 0 rejected");
}

#[test]
fn parse_refuses_an_evtx_file_and_names_detect() {
    let (_, event, _) = case();
    let events = json_events(std::path::Path::new(&event).parent().unwrap());
    let dir = tempfile::tempdir().unwrap();
    let evtx = dir.path().join("x.evtx");
    std::fs::write(&evtx, logsieve_evtx::write::to_evtx(&events).unwrap()).unwrap();
    let out = run(&["parse", &evtx.display().to_string()]);
    assert_eq!(out.status.code(), Some(2));
    assert_stderr_has(&out, "is a Windows event log (.evtx): `logsieve detect` reads it");
}

#[test]
fn logfmt_and_cef_inputs_feed_rules_by_field() {
    let dir = tempfile::tempdir().unwrap();
    let rule = write(dir.path(), "r.yml", "title: failed admin login\nid: kv1\nlevel: high\nlogsource: {product: test}\ndetection:\n  sel:\n    user: admin\n    message|contains: failed\n  condition: sel\n---\ntitle: worm\nid: cef1\nlevel: critical\nlogsource: {product: test}\ndetection:\n  sel:\n    device_vendor: Security\n    src|cidr: 10.0.0.0/8\n  condition: sel\n");
    let logfmt = write(dir.path(), "app.log", "level=info user=bob msg=\"login ok\"\nlevel=warn user=admin msg=\"login failed\" src=1.2.3.4\nnot logfmt at all\n");
    let cef = write(dir.path(), "fw.log", "Sep 19 08:26:10 host CEF:0|Security|threatmanager|1.0|100|worm stopped|10|src=10.0.0.1 dst=2.1.2.2 msg=Detected a threat\nCEF:0|Other|x|1|1|n|1|src=10.0.0.2\n");
    let r = rule;
    let alerts = |preset: &str, file: &str| -> Vec<serde_json::Value> {
        let out = run(&[
            "detect",
            "--preset",
            preset,
            "--mapping",
            "none",
            "--rules",
            &r,
            file,
        ]);
        stdout(&out)
            .lines()
            .map(|l| serde_json::from_str(l).unwrap())
            .collect()
    };
    let a = alerts("logfmt", &logfmt);
    assert_eq!(a.len(), 1, "{a:?}");
    assert_eq!(
        (a[0]["rule_id"].as_str(), a[0]["line"].as_u64()),
        (Some("kv1"), Some(2))
    );
    let a = alerts("cef", &cef);
    assert_eq!(a.len(), 1, "{a:?}");
    assert_eq!(
        (a[0]["rule_id"].as_str(), a[0]["line"].as_u64()),
        (Some("cef1"), Some(1))
    );
    // Without --mapping these inputs say which flag is needed.
    let out = run(&["detect", "--preset", "cef", "--rules", &r, &cef]);
    assert_eq!(out.status.code(), Some(2));
    assert_stderr_has(&out, "--mapping");
}

#[test]
fn a_pipeline_file_renames_fields_and_a_bad_one_is_an_error() {
    let dir = tempfile::tempdir().unwrap();
    let rule = write(
        dir.path(),
        "r.yml",
        "title: whoami\nid: p1\nlevel: low\nlogsource: {product: windows, category: process_creation}\ndetection:\n  sel:\n    Image|endswith: whoami.exe\n  condition: sel\n",
    );
    let events = write(
        dir.path(),
        "e.jsonl",
        "{\"process\": {\"executable\": \"C:/whoami.exe\"}}\n",
    );
    let pipeline = write(
        dir.path(),
        "ecs.yml",
        "name: ecs\ntransformations:\n  - type: field_name_mapping\n    mapping: {Image: process.executable}\n",
    );
    let with = |p: &str| {
        run(&[
            "detect",
            "--mapping",
            "none",
            "--rules",
            &rule,
            "--pipeline",
            p,
            &events,
        ])
    };
    let out = with(&pipeline);
    assert!(stdout(&out).contains("\"rule_id\":\"p1\""), "{}", stderr(&out));
    let bad = write(
        dir.path(),
        "bad.yml",
        "transformations:\n  - type: drop_detection_item\n",
    );
    let out = with(&bad);
    assert_eq!(out.status.code(), Some(2));
    assert_stderr_has(&out, "transformation type `drop_detection_item` is not supported");
}

/// Several threads encode a batch's alerts on the workers and the writing
/// thread copies them out in order, feeding correlations between them
/// (`DetectionSink::handle_encoded`); one thread over a JSON file encodes
/// each alert as it writes it (`DetectionSink::handle`), the slow twin.
/// Both give the same bytes, CSV header included, with the correlation's
/// alert right after the rule alert that completed it, whatever the batch
/// size, and the same summary.
#[test]
fn alerts_encoded_on_workers_match_one_thread_with_correlations_in_between() {
    let dir = tempfile::tempdir().unwrap();
    let rules = write(
        dir.path(),
        "rules.yml",
        "title: su\nid: su\nname: su\nlevel: low\nlogsource: {product: linux}\n\
         detection:\n  k: ['su: session opened']\n  condition: k\n---\n\
         title: sudo\nid: sudo\nlevel: high\nlogsource: {product: linux}\n\
         detection:\n  k: ['sudo:']\n  condition: k\n---\n\
         title: su twice\nid: su-twice\nlevel: medium\ncorrelation:\n  type: event_count\n  \
         rules: [su]\n  generate: true\n  group-by: [user]\n  timespan: 1h\n  condition: {gte: 2}\n",
    );
    let mut events = String::new();
    for i in 0..40 {
        let user = ["root", "bob", "eve"][i % 3];
        let msg = match i % 4 {
            0 | 1 => format!("su: session opened for {user}"),
            2 => format!("sudo: {user} ran \\\"ls\\\", then su: session opened"),
            _ => "nothing, \\\"quoted\\\"".to_string(),
        };
        events.push_str(&format!(
            "{{\"timestamp\": \"2025-01-01T00:{:02}:00Z\", \"user\": \"{user}\", \"message\": \"{msg}\"}}\n",
            i
        ));
        if i == 17 {
            events.push_str("{not json\n");
        }
    }
    let events = write(dir.path(), "events.jsonl", &events);
    let detect = |format: &str, threads: &str, batch: &str| {
        let o = run(&[
            "detect",
            "--mapping",
            "none",
            "-o",
            format,
            "--threads",
            threads,
            "--batch-lines",
            batch,
            "--rules",
            &rules,
            &events,
        ]);
        // Malformed line: exit status 1 with the alerts written.
        let err = stderr(&o);
        assert!(err.contains("events.jsonl:19: malformed JSON event"), "{err}");
        (String::from_utf8(o.stdout).unwrap(), err)
    };
    let summary = |err: &str| {
        err.lines()
            .filter(|l| l.contains(" alerts: "))
            .map(String::from)
            .collect::<Vec<_>>()
    };
    for format in ["jsonl", "csv"] {
        let (want, want_err) = detect(format, "1", "2048");
        for (threads, batch) in [("2", "2048"), ("2", "1"), ("3", "7")] {
            let (got, err) = detect(format, threads, batch);
            assert_eq!(got, want, "-o {format} --threads {threads} --batch-lines {batch}");
            assert_eq!(
                summary(&err),
                summary(&want_err),
                "-o {format} --threads {threads}"
            );
        }
    }
    // The correlation fires on each user's second `su` line, and its alert
    // comes right after that line's own `su` alert.
    let (out, err) = detect("jsonl", "2", "1");
    let a = alerts(&out);
    let fired: Vec<usize> = (0..a.len()).filter(|&i| a[i]["rule_id"] == "su-twice").collect();
    assert!(!fired.is_empty(), "{out}");
    for &i in &fired {
        assert_eq!(a[i - 1]["rule_id"], "su", "{out}");
        assert_eq!(a[i]["line"], a[i - 1]["line"], "{out}");
    }
    assert!(a.iter().any(|x| x["rule_id"] == "sudo"), "{out}");
    assert!(err.contains(&format!("{} alerts", a.len())), "{err}");
}
