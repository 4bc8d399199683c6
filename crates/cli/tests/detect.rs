//! Integration tests: `logsieve detect` and `parse --rules` on real files.

mod detect_common;

use detect_common::{alerts, cases, rule_id, run, testdata};
use std::process::Command;

#[test]
fn regression_case_alerts_with_windows_mapping() {
    for case in cases() {
        let out = run(&[
            "detect",
            "--mapping",
            "windows",
            "--rules",
            case.join("rule.yml").to_str().unwrap(),
            case.join("event.json").to_str().unwrap(),
        ]);
        assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
        let a = alerts(&String::from_utf8(out.stdout).unwrap());
        assert!(
            a.iter().any(|x| x["rule_id"] == rule_id(&case).as_str()),
            "{} did not alert",
            case.display()
        );
        // A file holding one pretty-printed object is one event at line 1.
        let text = std::fs::read_to_string(case.join("event.json")).unwrap();
        if serde_json::from_str::<serde_json::Value>(&text).is_ok() {
            assert!(a.iter().all(|x| x["line"] == 1), "{a:?}");
        }
        let err = String::from_utf8(out.stderr).unwrap();
        assert!(
            err.contains("1 rules and 0 correlations loaded, 0 rejected"),
            "{err}"
        );
    }
}

fn run_stdin(args: &[&str], stdin: &str) -> std::process::Output {
    detect_common::run_stdin(args, stdin.as_bytes())
}

#[test]
fn json_lines_on_stdin_and_a_malformed_first_line() {
    let case = &cases()[0];
    let ev: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(case.join("event.json")).unwrap()).unwrap();
    // Line 1 malformed, line 2 blank, line 3 the event, line 4 malformed.
    let input = format!("{{\"broken\": \n\n{ev}\nnot json at all\n");
    let rule = case.join("rule.yml");
    let out = run_stdin(
        &[
            "detect",
            "--mapping",
            "windows",
            "--rules",
            rule.to_str().unwrap(),
            "-",
        ],
        &input,
    );
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let a = alerts(&String::from_utf8(out.stdout).unwrap());
    assert_eq!(a.len(), 1, "{a:?}");
    assert_eq!(a[0]["line"], 3);
    assert_eq!(a[0]["source"], "<stdin>");
    let err = String::from_utf8(out.stderr).unwrap();
    assert!(err.contains("1 events (2 malformed)"), "{err}");
    assert!(err.contains("<stdin>:1: malformed JSON event"), "{err}");
    assert!(err.contains("<stdin>:4: malformed JSON event"), "{err}");
}

#[test]
fn text_lines_and_window_end_correlations_flushed_to_output_file() {
    let dir = tempfile::tempdir().unwrap();
    let rules = dir.path().join("rules.yml");
    std::fs::write(
        &rules,
        "title: su\nid: su\nname: su\nlevel: low\nlogsource: {product: linux}\n\
         detection:\n  k: ['su: session opened']\n  condition: k\n---\n\
         title: rare su\nid: rare-su\nlevel: medium\ncorrelation:\n  type: event_count\n  \
         rules: [su]\n  timespan: 1h\n  condition: {lt: 5}\n",
    )
    .unwrap();
    let events = dir.path().join("events.jsonl");
    std::fs::write(
        &events,
        "{\"timestamp\": \"2025-01-01T00:00:00Z\", \"message\": \"su: session opened for root\"}\n\
         {\"timestamp\": \"2025-01-01T00:00:05Z\", \"message\": \"nothing\"}\n\
         {\"timestamp\": \"2025-01-01T00:00:09Z\", \"message\": \"su: session opened for bob\"}\n",
    )
    .unwrap();
    let out_file = dir.path().join("alerts.jsonl");
    let out = run(&[
        "detect",
        "--mapping",
        "none",
        "--rules",
        rules.to_str().unwrap(),
        "--output-file",
        out_file.to_str().unwrap(),
        events.to_str().unwrap(),
    ]);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    assert!(out.stdout.is_empty());
    let a = alerts(&std::fs::read_to_string(&out_file).unwrap());
    // The rule's own alerts are suppressed by the correlation (no
    // `generate`); the window-end correlation fires when the stream ends.
    assert_eq!(a.len(), 1, "{a:?}");
    assert_eq!(a[0]["rule_id"], "rare-su");
    assert_eq!(a[0]["lines"], serde_json::json!([1, 3]));
    assert_eq!(a[0]["correlation"], "event_count");
    let err = String::from_utf8(out.stderr).unwrap();
    assert!(err.contains("3 events (0 malformed), 1 alerts"), "{err}");
    assert!(err.contains("medium 1"), "{err}");
}

#[test]
fn all_rules_over_a_jsonl_stream_alert_at_the_right_lines() {
    let dir = tempfile::tempdir().unwrap();
    let mut jsonl = String::new();
    let mut expect = Vec::new();
    for case in cases() {
        let text = std::fs::read_to_string(case.join("event.json")).unwrap();
        for v in serde_json::Deserializer::from_str(&text).into_iter::<serde_json::Value>() {
            jsonl.push_str(&v.unwrap().to_string());
            jsonl.push('\n');
            expect.push(rule_id(&case));
        }
    }
    jsonl.push_str("{not json\n");
    let events = dir.path().join("events.jsonl");
    std::fs::write(&events, &jsonl).unwrap();
    let mut args = vec!["detect".to_string(), "--mapping".into(), "windows".into()];
    for case in cases() {
        args.push("--rules".into());
        args.push(case.join("rule.yml").display().to_string());
    }
    args.push(events.display().to_string());
    let out = Command::new(env!("CARGO_BIN_EXE_logsieve"))
        .args(&args)
        .output()
        .unwrap();
    assert!(out.status.success());
    let a = alerts(&String::from_utf8(out.stdout).unwrap());
    for (i, id) in expect.iter().enumerate() {
        let line = (i + 1) as u64;
        let here: Vec<&serde_json::Value> = a.iter().filter(|x| x["line"] == line).collect();
        // A case file with several events alerts on at least one of them.
        if expect.iter().filter(|e| *e == id).count() == 1 {
            assert!(
                here.iter().any(|x| x["rule_id"] == id.as_str()),
                "line {line}: {id}"
            );
        }
    }
    for id in &expect {
        assert!(a.iter().any(|x| x["rule_id"] == id.as_str()), "{id}");
    }
    let err = String::from_utf8(out.stderr).unwrap();
    assert!(err.contains("1 malformed"), "{err}");
    assert!(err.contains("malformed JSON event"), "{err}");
}

#[test]
fn parse_and_detect_text_logs_in_one_pass() {
    let dir = tempfile::tempdir().unwrap();
    // A linux keyword rule and a rule on the mined template.
    let rules = dir.path().join("rules");
    std::fs::create_dir(&rules).unwrap();
    std::fs::write(
        rules.join("auth_fail.yml"),
        "title: Authentication failure\nid: test-auth-fail\nlevel: medium\nlogsource: {product: linux}\n\
         detection:\n  keywords: ['authentication failure']\n  condition: keywords\n",
    )
    .unwrap();
    std::fs::write(
        rules.join("root_session.yml"),
        "title: Root session\nid: test-root-session\nlevel: high\nlogsource: {product: linux}\n\
         detection:\n  sel:\n    template|startswith: 'session opened for user'\n    params: root\n  condition: sel\n",
    )
    .unwrap();
    let log = testdata("loghub-2k/Linux/Linux_2k.log");
    let alerts_path = dir.path().join("alerts.jsonl");
    let out = run(&[
        "parse",
        "--quiet",
        "--preset",
        "syslog",
        "--mapping",
        "linux",
        "--rules",
        rules.to_str().unwrap(),
        "--alerts",
        alerts_path.to_str().unwrap(),
        log.to_str().unwrap(),
    ]);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    assert_eq!(String::from_utf8(out.stdout).unwrap().lines().count(), 2000);
    let a = alerts(&std::fs::read_to_string(&alerts_path).unwrap());
    let text = std::fs::read_to_string(&log).unwrap();
    let want: Vec<u64> = text
        .lines()
        .enumerate()
        .filter(|(_, l)| l.contains("authentication failure"))
        .map(|(i, _)| i as u64 + 1)
        .collect();
    let got: Vec<u64> = a
        .iter()
        .filter(|x| x["rule_id"] == "test-auth-fail")
        .map(|x| x["line"].as_u64().unwrap())
        .collect();
    assert_eq!(got, want);
    let root: Vec<&serde_json::Value> = a.iter().filter(|x| x["rule_id"] == "test-root-session").collect();
    let want_root = text
        .lines()
        .filter(|l| l.contains("session opened for user root"))
        .count();
    assert_eq!(root.len(), want_root);
    assert!(want_root > 0 && root.iter().all(|x| x["level"] == "high"));

    // A SigmaHQ webserver rule over an access log.
    let access = dir.path().join("access.log");
    std::fs::write(
        &access,
        "10.0.0.1 - - [10/Oct/2025:13:55:36 +0000] \"GET /index.html HTTP/1.1\" 200 512 \"-\" \"curl/8\"\n\
         10.0.0.2 - - [10/Oct/2025:13:55:37 +0000] \"GET /repo/.git/config HTTP/1.1\" 404 0 \"-\" \"scan/1\"\n\
         10.0.0.1 - - [10/Oct/2025:13:55:38 +0000] \"POST /login?user=x HTTP/1.1\" 302 0 \"-\" \"Mozilla/5.0\"\n",
    )
    .unwrap();
    let out = run(&[
        "detect",
        "--quiet",
        "--preset",
        "combined",
        "--mapping",
        "webserver",
        "--rules",
        testdata("sigma-rules/rules/web/webserver_generic/web_source_code_enumeration.yml")
            .to_str()
            .unwrap(),
        access.to_str().unwrap(),
    ]);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let a = alerts(&String::from_utf8(out.stdout).unwrap());
    assert_eq!(a.len(), 1, "{a:?}");
    assert_eq!(a[0]["line"], 2);
    assert_eq!(a[0]["level"], "medium");
}

#[test]
fn strict_fails_on_rejected_rules_and_bad_yaml_is_named() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("bad.yml"), "title: x\ndetection: [\n").unwrap();
    std::fs::write(
        dir.path().join("good.yml"),
        "title: g\nid: g\nlogsource: {product: x}\ndetection:\n  k: ['zzz']\n  condition: k\n",
    )
    .unwrap();
    let ev = dir.path().join("e.jsonl");
    std::fs::write(&ev, "{\"message\": \"zzz\"}\n{\"message\": \"no\"}\n").unwrap();
    let out = run(&[
        "detect",
        "--mapping",
        "none",
        "--rules",
        dir.path().to_str().unwrap(),
        ev.to_str().unwrap(),
    ]);
    assert!(out.status.success());
    let err = String::from_utf8(out.stderr).unwrap();
    assert!(
        err.contains("bad.yml") && err.contains("invalid YAML") && err.contains("line"),
        "{err}"
    );
    assert_eq!(
        alerts(&String::from_utf8(out.stdout).unwrap()).len(),
        1,
        "the good rule still runs"
    );
    let out = run(&[
        "detect",
        "--strict",
        "--mapping",
        "none",
        "--rules",
        dir.path().to_str().unwrap(),
        ev.to_str().unwrap(),
    ]);
    assert_eq!(out.status.code(), Some(2));
}

/// `detect` skips template mining when no rule reads a template field
/// (speed-2): the alerts, stdin and file alike, are those of the same rules
/// run with mining on, which one more rule on `template` (never matching)
/// forces. Every bundled rule is loaded (`--mapping none`), so keyword
/// rules, header-field rules and correlations are all in both runs.
#[test]
fn detection_skips_mining_when_no_rule_reads_templates_with_the_same_alerts() {
    let dir = tempfile::tempdir().unwrap();
    let with_template = dir.path().join("with-template");
    std::fs::create_dir(&with_template).unwrap();
    std::fs::write(
        with_template.join("never.yml"),
        "title: Never\nid: test-never\nlevel: low\nlogsource: {product: linux}\n\
         detection:\n  sel:\n    template|contains: 'zzz never in any template'\n  condition: sel\n",
    )
    .unwrap();
    let bundled = testdata("sigma-rules/rules");
    let log = testdata("loghub-2k/Linux/Linux_2k.log");
    let detect = |extra: Option<&std::path::Path>| {
        let mut args = vec![
            "detect".to_string(),
            "--quiet".into(),
            "--preset".into(),
            "syslog".into(),
            "--mapping".into(),
            "none".into(),
            "--rules".into(),
            bundled.display().to_string(),
        ];
        if let Some(e) = extra {
            args.push("--rules".into());
            args.push(e.display().to_string());
        }
        args.push(log.display().to_string());
        let out = run(&args);
        assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
        String::from_utf8(out.stdout).unwrap()
    };
    let skipped = detect(None);
    let mined = detect(Some(&with_template));
    assert!(!skipped.is_empty());
    assert!(!mined.contains("test-never"));
    assert_eq!(skipped, mined);
}

/// The hits of a batch are kept in one vector with each event's end in it
/// (`HitBatch`): events with no hit, one or two, across two inputs and
/// across batches, alert in input order with their own line, input and
/// time, on one thread or several.
#[test]
fn alerts_of_events_with_none_one_or_two_hits_keep_their_order_input_and_time() {
    let dir = tempfile::tempdir().unwrap();
    let rules = dir.path().join("rules");
    std::fs::create_dir(&rules).unwrap();
    for (id, word) in [("test-alpha", "alpha"), ("test-beta", "beta")] {
        std::fs::write(
            rules.join(format!("{id}.yml")),
            format!(
                "title: {word}\nid: {id}\nlevel: low\nlogsource: {{product: linux}}\n\
                 detection:\n  keywords: ['{word}']\n  condition: keywords\n"
            ),
        )
        .unwrap();
    }
    let mut want = Vec::new();
    let mut inputs = Vec::new();
    for (k, name) in ["one.log", "two.log"].iter().enumerate() {
        let path = dir.path().join(name);
        let mut text = String::new();
        // Enough lines for several batches; the words vary per line.
        for i in 0..5000u64 {
            let words = match (i * 7 + k as u64) % 5 {
                0 => "alpha and beta",
                1 => "beta only",
                2 => "neither",
                3 => "alpha only",
                _ => "nothing here",
            };
            let stamp = format!(
                "Mar {:2} {:02}:{:02}:{:02}",
                1 + i % 28,
                i / 3600 % 24,
                i / 60 % 60,
                i % 60
            );
            text.push_str(&format!("{stamp} host app[{i}]: {words} {i}\n"));
            for (id, word) in [("test-alpha", "alpha"), ("test-beta", "beta")] {
                if words.contains(word) {
                    want.push((
                        path.to_str().unwrap().to_string(),
                        i + 1,
                        id.to_string(),
                        stamp.clone(),
                    ));
                }
            }
        }
        std::fs::write(&path, text).unwrap();
        inputs.push(path.to_str().unwrap().to_string());
    }
    for threads in ["1", "2"] {
        let mut args = vec![
            "detect",
            "--quiet",
            "--threads",
            threads,
            "--preset",
            "syslog",
            "--mapping",
            "linux",
            "--rules",
            rules.to_str().unwrap(),
        ];
        args.extend(inputs.iter().map(String::as_str));
        let out = run(&args);
        assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
        let got: Vec<(String, u64, String, String)> = alerts(&String::from_utf8(out.stdout).unwrap())
            .iter()
            .map(|a| {
                (
                    a["source"].as_str().unwrap().to_string(),
                    a["line"].as_u64().unwrap(),
                    a["rule_id"].as_str().unwrap().to_string(),
                    a["timestamp"].as_str().unwrap().to_string(),
                )
            })
            .collect();
        assert_eq!(got.len(), want.len(), "threads {threads}");
        assert!(
            got == want,
            "threads {threads}: first difference at {:?}",
            got.iter().zip(&want).position(|(a, b)| a != b)
        );
    }
}

/// The bundled cases' events as JSON lines, with blank lines, malformed
/// lines, arrays of events and an event with a spaced data name among
/// them (every kind of line the JSON path treats apart), 40 times over.
fn mixed_jsonl() -> String {
    let mut events = Vec::new();
    for case in cases() {
        let text = std::fs::read_to_string(case.join("event.json")).unwrap();
        for v in serde_json::Deserializer::from_str(&text).into_iter::<serde_json::Value>() {
            events.push(v.unwrap());
        }
    }
    let mut out = String::new();
    for round in 0..40 {
        for (i, ev) in events.iter().enumerate() {
            out.push_str(&ev.to_string());
            out.push('\n');
            match (round + i) % 9 {
                0 => out.push_str("\n   \n"),
                1 => out.push_str("{\"not\": json\n"),
                2 => out.push_str(&format!("[{ev},{ev}]\n")),
                3 => {
                    let mut spaced = ev.clone();
                    if let Some(data) = spaced
                        .pointer_mut("/Event/EventData")
                        .and_then(|d| d.as_object_mut())
                    {
                        data.insert("Threat Name".into(), "Trojan:Win32/Test".into());
                    }
                    out.push_str(&spaced.to_string());
                    out.push('\n');
                }
                _ => {}
            }
        }
    }
    out
}

/// `logsieve detect` of `events` with the bundled regression rules
/// (windows mapping) and `extra` arguments.
fn detect_regression_rules(events: &std::path::Path, extra: &[&str]) -> std::process::Output {
    let rules = testdata("sigma-regression");
    let mut args = vec![
        "detect",
        "--mapping",
        "windows",
        "--rules",
        rules.to_str().unwrap(),
    ];
    args.extend_from_slice(extra);
    args.push(events.to_str().unwrap());
    run(&args)
}

#[test]
fn json_lines_files_give_the_same_alerts_and_errors_for_any_thread_count_and_batch_size() {
    let dir = tempfile::tempdir().unwrap();
    let events = dir.path().join("events.jsonl");
    std::fs::write(&events, mixed_jsonl()).unwrap();
    let detect = |threads: &str, batch: &str| {
        let out = detect_regression_rules(&events, &["--threads", threads, "--batch-lines", batch]);
        assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
        (out.stdout, String::from_utf8(out.stderr).unwrap())
    };
    // One thread reads line by line; more take batches of lines.
    let (want, want_err) = detect("1", "2048");
    let a = alerts(&String::from_utf8(want.clone()).unwrap());
    assert!(a.len() > 400, "{} alerts", a.len());
    let bad: Vec<&str> = want_err
        .lines()
        .filter(|l| l.contains("malformed JSON event"))
        .collect();
    assert!(bad.len() > 50, "{want_err}");
    for (threads, batch) in [("2", "2048"), ("3", "1"), ("4", "7")] {
        let (got, err) = detect(threads, batch);
        assert!(
            got == want,
            "alerts differ: --threads {threads} --batch-lines {batch}"
        );
        let got_bad: Vec<&str> = err
            .lines()
            .filter(|l| l.contains("malformed JSON event"))
            .collect();
        assert_eq!(got_bad, bad, "--threads {threads} --batch-lines {batch}");
        let summary = |e: &str| {
            e.lines()
                .filter(|l| l.contains(" events ("))
                .map(String::from)
                .collect::<Vec<_>>()
        };
        assert_eq!(summary(&err), summary(&want_err));
    }
}

#[test]
fn a_json_line_longer_than_max_line_bytes_is_malformed_for_any_thread_count() {
    let dir = tempfile::tempdir().unwrap();
    let events = dir.path().join("events.jsonl");
    let long = format!("{{\"EventID\": 1, \"pad\": \"{}\"}}", "x".repeat(5000));
    std::fs::write(
        &events,
        format!("{{\"EventID\": 1}}\n{long}\n{{\"EventID\": 2}}\n"),
    )
    .unwrap();
    for threads in ["1", "2"] {
        let out = detect_regression_rules(&events, &["--threads", threads, "--max-line-bytes", "1000"]);
        assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
        let err = String::from_utf8(out.stderr).unwrap();
        assert!(
            err.contains(
                "events.jsonl:2: malformed JSON event: the line is longer than --max-line-bytes (1000 bytes)"
            ),
            "--threads {threads}: {err}"
        );
        assert!(
            err.contains("2 events (1 malformed)"),
            "--threads {threads}: {err}"
        );
    }
}
