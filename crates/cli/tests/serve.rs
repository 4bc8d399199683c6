//! `logsieve serve`, started as a real process on ephemeral ports (issue
//! "serve"): counts add up, analyze agrees with parse, nothing acknowledged
//! is lost on SIGTERM or kill -9, backpressure, malformed input, auth,
//! rule reload under load, the Unix socket.

mod serve_common;

use serve_common::*;
use std::io::Write;
use std::process::Command;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

#[test]
fn counts_add_up_per_source_and_time_range() {
    let s = Server::start(&[]);
    let mut sent = std::collections::HashMap::new();
    for (k, src) in ["api", "db", "api", "web", "db", "api"].iter().enumerate() {
        let l = lines(src, 100 + k * 37);
        assert_eq!(s.ingest(src, &l), 200);
        *sent.entry(*src).or_insert(0u64) += l.len() as u64;
    }
    for (src, n) in &sent {
        let (sum, lines) = s.counted(src);
        assert_eq!(sum, *n, "templates of {src} add up to the lines sent");
        assert_eq!(lines, *n);
    }
    // A time range that holds everything, and one that holds nothing.
    let (_, v) = s.get("/v1/templates?source=api&since=1h&until=2099-01-01T00:00:00Z");
    let in_range: u64 = v["templates"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t["count"].as_u64().unwrap())
        .sum();
    assert_eq!(in_range, sent["api"]);
    assert_eq!(v["lines"].as_u64(), Some(sent["api"]));
    let (_, v) = s.get("/v1/templates?source=api&since=2000-01-01T00:00:00Z&until=2000-01-02T00:00:00Z");
    assert_eq!(v["lines"].as_u64(), Some(0));
    assert_eq!(v["templates"].as_array().unwrap().len(), 0);
    // Every template has its fields and a series summing to its count.
    let (_, v) = s.get("/v1/templates?source=db");
    for t in v["templates"].as_array().unwrap() {
        for k in [
            "template_id",
            "template",
            "count",
            "first_seen",
            "last_seen",
            "series",
        ] {
            assert!(t.get(k).is_some(), "{k} missing in {t}");
        }
        let series: u64 = t["series"]
            .as_array()
            .unwrap()
            .iter()
            .map(|p| p[1].as_u64().unwrap())
            .sum();
        assert_eq!(series, t["count"].as_u64().unwrap());
    }
    let (_, v) = s.get("/v1/sources");
    let names: Vec<&str> = v["sources"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["source"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["api", "db", "web"]);
}

#[test]
fn analyze_gives_the_templates_and_params_of_parse() {
    let s = Server::start(&[]);
    let file = repo_root().join("testdata/loghub-2k/HDFS/HDFS_2k.log");
    let text = std::fs::read_to_string(&file).unwrap();
    let body: String = text.lines().take(500).map(|l| format!("{l}\n")).collect();
    let tmp = tempfile::NamedTempFile::new().unwrap();
    std::fs::write(tmp.path(), &body).unwrap();
    let out = Command::new(bin())
        .args(["parse", "--quiet"])
        .arg(tmp.path())
        .output()
        .unwrap();
    assert!(out.status.success());
    let parsed: Vec<serde_json::Value> = String::from_utf8(out.stdout)
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    let (code, text) = s.post("/v1/analyze?source=hdfs-fresh", "text/plain", body.as_bytes());
    assert_eq!(code, 200, "{text}");
    let v: serde_json::Value = serde_json::from_str(&text).unwrap();
    let recs = v["records"].as_array().unwrap();
    assert_eq!(recs.len(), parsed.len());
    for (a, p) in recs.iter().zip(&parsed) {
        for k in ["line", "template_id", "template", "params", "param_types"] {
            assert_eq!(a[k], p[k], "{k} differs: analyze {a} vs parse {p}");
        }
        assert!(a["alerts"].as_array().unwrap().is_empty());
    }
    // Analysis is not ingestion: nothing is counted.
    assert_eq!(s.counted("hdfs-fresh"), (0, 0));
}

/// Sends batches from `threads` senders until `stop`, counting the lines of
/// every 2xx.
fn load(
    s: &Server,
    source: &str,
    threads: usize,
    stop: Arc<AtomicBool>,
) -> Vec<std::thread::JoinHandle<u64>> {
    (0..threads)
        .map(|t| {
            let url = s.url(&format!("/v1/ingest?source={source}"));
            let stop = stop.clone();
            std::thread::spawn(move || {
                let agent = Server::agent();
                let mut acked = 0u64;
                let mut k = 0;
                while !stop.load(Ordering::Relaxed) {
                    let l = lines(&format!("t{t}"), 200 + k % 50);
                    k += 1;
                    let body = l.join("\n");
                    match agent
                        .post(&url)
                        .set("Content-Type", "text/plain")
                        .send_string(&body)
                    {
                        Ok(r) if r.status() == 200 => acked += l.len() as u64,
                        Ok(_) | Err(ureq::Error::Status(..)) => {}
                        Err(_) => break, // the server is gone
                    }
                }
                acked
            })
        })
        .collect()
}

fn no_acknowledged_line_lost(sig: &str) {
    let mut s = Server::start(&["--commit-interval-ms", "50"]);
    let stop = Arc::new(AtomicBool::new(false));
    let senders = load(&s, "load", 3, stop.clone());
    std::thread::sleep(Duration::from_millis(1500));
    s.signal(sig);
    let code = s.wait_exit(Duration::from_secs(30));
    stop.store(true, Ordering::Relaxed);
    let acked: u64 = senders.into_iter().map(|h| h.join().unwrap()).sum();
    assert!(acked > 0, "the load got through before the signal");
    if sig == "-TERM" {
        assert_eq!(code, Some(0), "log:\n{}", s.log_text());
    }
    let data = s.data.clone();
    let s2 = Server::start_in(&data, &[]);
    let (sum, lines) = s2.counted("load");
    assert_eq!(sum, lines);
    // Requests cut off by the stop may be committed without their answer,
    // never the other way round.
    assert!(sum >= acked, "{sum} lines stored, {acked} acknowledged ({sig})");
    if sig == "-TERM" {
        // A clean stop answers everything it committed.
        assert_eq!(sum, acked, "SIGTERM: every committed request was answered");
    }
}

#[test]
fn sigterm_during_load_loses_no_acknowledged_line() {
    no_acknowledged_line_lost("-TERM");
}

#[test]
fn kill_9_during_load_loses_no_acknowledged_line() {
    no_acknowledged_line_lost("-KILL");
}

#[test]
fn overload_gets_429_with_retry_after_and_recovers() {
    // A small queue and a slow commit: the second request finds it full.
    let s = Server::start(&["--queue-lines", "1000", "--commit-interval-ms", "1500"]);
    let body = lines("x", 800).join("\n");
    let url = s.url("/v1/ingest?source=busy");
    let first = {
        let url = url.clone();
        let body = body.clone();
        std::thread::spawn(move || match Server::agent().post(&url).send_string(&body) {
            Ok(r) => r.status(),
            Err(ureq::Error::Status(code, _)) => code,
            Err(_) => 0,
        })
    };
    std::thread::sleep(Duration::from_millis(300));
    match Server::agent().post(&url).send_string(&body) {
        Err(ureq::Error::Status(429, r)) => {
            assert_eq!(r.header("Retry-After"), Some("1"));
            assert!(r.into_string().unwrap().contains("queue is full"));
        }
        other => panic!("expected 429, got {other:?}"),
    }
    assert_eq!(first.join().unwrap(), 200);
    // Room again once the first commit is done.
    assert_eq!(s.ingest("busy", &lines("x", 800)), 200);
    assert_eq!(s.counted("busy").0, 1600);
    assert!(s.metric("logsieve_rejected_total{reason=\"queue_full\"}") >= 800.0);
    // More lines than the queue can ever hold: 413, not a 429 forever.
    assert_eq!(s.ingest("busy", &lines("x", 1500)), 413);
}

/// Regression (CI, 2026-11-24): a body over `--max-body-bytes` was
/// refused as soon as its length was read, and the connection closed with
/// the body unread, so a client still writing it got a broken pipe instead
/// of the 413. A client that writes a whole 4 MB body (more than socket
/// buffers hold) before reading now always gets the 413.
#[test]
fn an_oversized_body_written_whole_before_reading_gets_its_413() {
    use std::io::Read;
    let s = Server::start(&["--max-body-bytes", "100000"]);
    let body = vec![b'a'; 4 << 20];
    for _ in 0..3 {
        let mut c = std::net::TcpStream::connect(&s.addrs["http"]).unwrap();
        c.set_read_timeout(Some(std::time::Duration::from_secs(30)))
            .unwrap();
        let head = format!(
            "POST /v1/ingest HTTP/1.1\r\nHost: x\r\nContent-Type: text/plain\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
            body.len()
        );
        c.write_all(head.as_bytes()).unwrap();
        c.write_all(&body)
            .expect("the server reads the whole body before it answers");
        let mut answer = String::new();
        c.read_to_string(&mut answer).unwrap();
        assert!(answer.starts_with("HTTP/1.1 413"), "{answer}");
        assert!(answer.contains("--max-body-bytes"), "{answer}");
    }
    assert!(s.healthy());
    assert_eq!(
        s.metric("logsieve_rejected_total{reason=\"oversize_request\"}"),
        3.0
    );
}

#[test]
fn malformed_input_gets_a_4xx_that_says_what_and_the_service_stays_healthy() {
    let s = Server::start(&["--max-body-bytes", "100000"]);
    // (path, headers, body, status, what the message says)
    type Case<'a> = (&'a str, Vec<(&'a str, &'a str)>, Vec<u8>, u16, &'a str);
    let cases: Vec<Case> = vec![
        (
            "/v1/ingest",
            vec![("Content-Type", "application/x-ndjson")],
            b"{\"line\":\"ok\"}\n{\"line\": nope}\n".to_vec(),
            400,
            "line 2",
        ),
        (
            "/v1/ingest",
            vec![("Content-Type", "application/x-ndjson")],
            b"{\"line\":\"\xff\xfe\"}\n".to_vec(),
            400,
            "line 1",
        ),
        (
            "/v1/ingest",
            vec![("Content-Type", "text/plain"), ("Content-Encoding", "gzip")],
            {
                let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
                e.write_all(lines("g", 200).join("\n").as_bytes()).unwrap();
                let mut z = e.finish().unwrap();
                z.truncate(z.len() / 2);
                z
            },
            400,
            "gzip",
        ),
        (
            "/v1/ingest",
            vec![("Content-Type", "text/plain")],
            vec![b'a'; 200_000],
            413,
            "",
        ),
        (
            "/loki/api/v1/push",
            vec![("Content-Type", "application/json")],
            b"{\"streams\": [{\"stream\": {\"job\": \"x\"}, \"values\": [[\"1\"]]}]}".to_vec(),
            400,
            "Loki",
        ),
        (
            "/loki/api/v1/push",
            vec![("Content-Type", "application/x-protobuf")],
            b"\xff\xff\xff\xff not snappy".to_vec(),
            400,
            "snappy",
        ),
        (
            "/loki/api/v1/push",
            vec![("Content-Type", "application/x-protobuf")],
            snap::raw::Encoder::new()
                .compress_vec(b"\x0a\xff\xff\xff\x0f")
                .unwrap(),
            400,
            "protobuf",
        ),
        (
            "/v1/logs",
            vec![("Content-Type", "application/x-protobuf")],
            b"\x0a\x05\x0a\x03".to_vec(),
            400,
            "protobuf",
        ),
        (
            "/v1/logs",
            vec![("Content-Type", "application/json")],
            b"{\"resourceLogs\": 5}".to_vec(),
            400,
            "JSON",
        ),
        ("/v1/ingest?preset=nope", vec![], b"a\n".to_vec(), 400, "preset"),
        ("/v1/nothing", vec![], b"a\n".to_vec(), 404, "openapi"),
    ];
    for (path, headers, body, want, says) in cases {
        let (code, text) = s.post_with(path, &headers, &body);
        assert_eq!(code, want, "{path} {headers:?}: {text}");
        assert!(
            text.contains(says),
            "{path}: the message should say {says:?}: {text}"
        );
        assert!(text.starts_with("{\"error\""), "{path}: a JSON error: {text}");
        assert!(s.healthy());
    }
    // Invalid UTF-8 in a text body is accepted and flagged, not refused.
    let (code, _) = s.post(
        "/v1/ingest?source=bytes",
        "text/plain",
        b"caf\xe9 opened\nplain line\n",
    );
    assert_eq!(code, 200);
    assert_eq!(s.counted("bytes").0, 2);
    assert!(s.metric("logsieve_lines_flagged_total") >= 1.0);
    // Still serving normally.
    assert_eq!(s.ingest("after", &lines("a", 10)), 200);
}

#[test]
fn bearer_token_guards_everything_but_health() {
    let dir = tempfile::tempdir().unwrap();
    let tok = dir.path().join("token");
    std::fs::write(&tok, "s3cret\n").unwrap();
    let mut s = Server::start(&["--auth-token-file", tok.to_str().unwrap()]);
    assert_eq!(s.ingest("a", &lines("a", 3)), 401);
    assert_eq!(s.get("/v1/templates").0, 401);
    assert_eq!(s.get("/metrics").0, 401);
    assert!(s.healthy());
    assert_eq!(s.get("/readyz").0, 200);
    s.token = Some("wrong".into());
    assert_eq!(s.ingest("a", &lines("a", 3)), 401);
    s.token = Some("s3cret".into());
    assert_eq!(s.ingest("a", &lines("a", 3)), 200);
    assert_eq!(s.counted("a").0, 3);
}

#[test]
fn rules_reload_under_load_drops_no_line() {
    let dir = tempfile::tempdir().unwrap();
    let rules = dir.path().join("rules");
    std::fs::create_dir(&rules).unwrap();
    let rule = |title: &str, word: &str| {
        format!(
            "title: {title}\nid: 6f2a3c1e-0000-4000-8000-{:012}\nstatus: test\nlogsource:\n  product: test\n\
             detection:\n  sel:\n    message|contains: '{word}'\n  condition: sel\nlevel: high\n",
            title.len()
        )
    };
    std::fs::write(rules.join("a.yml"), rule("cache miss", "cache miss")).unwrap();
    let s = Server::start(&["--rules", rules.to_str().unwrap()]);
    let stop = Arc::new(AtomicBool::new(false));
    let senders = load(&s, "rl", 2, stop.clone());
    std::thread::sleep(Duration::from_millis(500));
    std::fs::write(rules.join("b.yml"), rule("slow request", "took")).unwrap();
    let (code, text) = s.post("/v1/rules/reload", "text/plain", b"");
    assert_eq!(code, 200, "{text}");
    assert!(text.contains("2 rules"), "{text}");
    s.signal("-HUP");
    std::thread::sleep(Duration::from_millis(500));
    stop.store(true, Ordering::Relaxed);
    let acked: u64 = senders.into_iter().map(|h| h.join().unwrap()).sum();
    assert_eq!(
        s.counted("rl").0,
        acked,
        "every acknowledged line is counted across reloads"
    );
    let (_, v) = s.get("/v1/alerts?rule=slow%20request&limit=5");
    assert!(
        !v["alerts"].as_array().unwrap().is_empty(),
        "the reloaded rule fires: {v}"
    );
    let (_, v) = s.get("/v1/alerts?level=high&limit=1");
    assert_eq!(v["alerts"][0]["level"], "high");
    assert!(s.healthy());
    assert!(s.metric("logsieve_rule_reloads_total") >= 2.0);
}

#[test]
fn a_reload_that_would_drop_a_loaded_rule_is_refused_and_the_rules_before_stay() {
    let dir = tempfile::tempdir().unwrap();
    let rules = dir.path().join("rules");
    std::fs::create_dir(&rules).unwrap();
    std::fs::write(
        rules.join("a.yml"),
        "title: evil word\nid: 6f2a3c1e-0000-4000-8000-000000000001\nstatus: test\nlogsource:\n  product: test\n\
         detection:\n  sel:\n    message|contains: 'EVILWORD'\n  condition: sel\nlevel: high\n",
    )
    .unwrap();
    let s = Server::start(&["--rules", rules.to_str().unwrap()]);
    // A typo in the loaded rule: refused (422), counted, the old rule stays.
    std::fs::write(rules.join("a.yml"), "title: [broken\n").unwrap();
    let (code, text) = s.post("/v1/rules/reload", "text/plain", b"");
    assert_eq!(code, 422, "{text}");
    assert!(
        text.contains("a.yml") && text.contains("no longer loads"),
        "{text}"
    );
    assert_eq!(s.metric("logsieve_rule_reload_errors_total"), 1.0);
    assert_eq!(s.ingest("ev", &["found EVILWORD here".to_string()]), 200);
    let (_, v) = s.get("/v1/alerts?rule=evil%20word");
    assert_eq!(v["alerts"].as_array().unwrap().len(), 1, "{v}");
    // A new broken file next to it is only a rejected rule.
    std::fs::write(rules.join("a.yml"), "title: evil word\nid: 6f2a3c1e-0000-4000-8000-000000000001\nstatus: test\nlogsource:\n  product: test\ndetection:\n  sel:\n    message|contains: 'EVILWORD'\n  condition: sel\nlevel: high\n").unwrap();
    std::fs::write(rules.join("b.yml"), "title: [broken\n").unwrap();
    let (code, text) = s.post("/v1/rules/reload", "text/plain", b"");
    assert_eq!(code, 200, "{text}");
    assert!(text.contains("1 rejected"), "{text}");
}

#[test]
fn unix_socket_lines_are_counted() {
    let dir = tempfile::tempdir().unwrap();
    let sock = dir.path().join("in.sock");
    let s = Server::start(&["--unix-socket", sock.to_str().unwrap(), "--unix-source", "local"]);
    {
        let mut c = std::os::unix::net::UnixStream::connect(&sock).unwrap();
        for l in lines("u", 500) {
            writeln!(c, "{l}").unwrap();
        }
        write!(c, "last line without newline").unwrap();
    }
    let counted = AtomicU64::new(0);
    for _ in 0..200 {
        counted.store(s.counted("local").0, Ordering::Relaxed);
        if counted.load(Ordering::Relaxed) == 501 {
            break;
        }
        std::thread::sleep(Duration::from_millis(25));
    }
    assert_eq!(counted.load(Ordering::Relaxed), 501);
}

#[test]
fn template_detail_has_examples_values_and_loki_patterns_shape() {
    let s = Server::start(&[]);
    assert_eq!(s.ingest("svc", &lines("p", 400)), 200);
    let (_, v) = s.get("/v1/templates?source=svc&q=CACHE");
    let t = &v["templates"][0];
    assert!(t["template"].as_str().unwrap().contains("cache miss"), "{v}");
    let id = t["template_id"].as_str().unwrap();
    let (code, d) = s.get(&format!("/v1/templates/{id}"));
    assert_eq!(code, 200, "{d}");
    let d = &d["templates"][0];
    assert!(!d["examples"].as_array().unwrap().is_empty());
    assert!(!d["variables"].as_array().unwrap().is_empty(), "{d}");
    assert_eq!(s.get("/v1/templates/zz").0, 400);
    assert_eq!(s.get("/v1/templates/0123456789abcdef").0, 404);
    let (code, p) = s.get("/loki/api/v1/patterns?query=%7Bservice_name%3D%22svc%22%7D");
    assert_eq!(code, 200, "{p}");
    assert_eq!(p["status"], "success");
    let total: u64 = p["data"]
        .as_array()
        .unwrap()
        .iter()
        .flat_map(|d| {
            d["samples"]
                .as_array()
                .unwrap()
                .iter()
                .map(|s| s[1].as_u64().unwrap())
        })
        .sum();
    assert_eq!(total, 400);
    assert!(p["data"][0]["pattern"].as_str().unwrap().contains("<_>"));
    let (code, o) = s.get("/v1/openapi.json");
    assert_eq!(code, 200);
    assert!(o["paths"]["/v1/templates"].is_object());
    let m = s.metric("logsieve_lines_received_total{source=\"svc\",protocol=\"http\"}");
    assert_eq!(m, 400.0);
}

#[test]
fn template_cap_evicts_least_recent_and_counts_still_add_up() {
    let s = Server::start(&["--max-templates", "16"]);
    // Words the masker keeps, two per line: every line its own template
    // (no two lines differ in one position only, so none merge).
    let word = |i: usize| -> String {
        let mut n = i;
        let mut w = String::new();
        for _ in 0..6 {
            w.push((b'a' + (n % 26) as u8) as char);
            n /= 26;
        }
        w
    };
    let mut sent = 0;
    for chunk in 0..10 {
        let l: Vec<String> = (0..40)
            .map(|i| {
                format!(
                    "operation {} finished {}",
                    word(chunk * 40 + i),
                    word(7919 * (chunk * 40 + i) + 13)
                )
            })
            .collect();
        assert_eq!(s.ingest("churn", &l), 200);
        sent += l.len() as u64;
    }
    assert!(s.metric("logsieve_templates_live") <= 16.0);
    let evicted = s.metric("logsieve_templates_evicted_total");
    assert!(evicted >= 380.0, "{evicted} evicted");
    let (sum, lines) = s.counted("churn");
    assert_eq!((sum, lines), (sent, sent), "the store keeps every count");
}

/// Polls until `source` holds `n` lines (syslog has no acknowledgement).
fn wait_counted(s: &Server, source: &str, n: u64) -> u64 {
    let mut got = 0;
    for _ in 0..400 {
        got = s.counted(source).0;
        if got >= n {
            break;
        }
        std::thread::sleep(Duration::from_millis(25));
    }
    got
}

#[test]
fn syslog_tcp_oversize_frame_is_dropped_and_counted_and_a_lying_octet_count_closes_only_its_connection() {
    use std::io::Read;
    let s = Server::start(&["--syslog-tcp", "127.0.0.1:0"]);
    let addr = s.addrs["syslog-tcp"].clone();
    let mut c = std::net::TcpStream::connect(&addr).unwrap();
    c.write_all(b"<13>Nov 23 10:00:00 host big[1]: before the big frame\n")
        .unwrap();
    // A 10 MB newline-framed message: skipped and counted, the connection goes on.
    let mut big = b"<13>Nov 23 10:00:00 host big[1]: ".to_vec();
    big.extend(std::iter::repeat_n(b'x', 10 << 20));
    big.push(b'\n');
    c.write_all(&big).unwrap();
    c.write_all(b"<13>Nov 23 10:00:01 host big[1]: after the big frame\n")
        .unwrap();
    drop(c);
    assert_eq!(wait_counted(&s, "big", 2), 2);
    assert_eq!(
        s.metric("logsieve_rejected_total{reason=\"syslog_frame_too_large\"}"),
        1.0
    );
    // An octet count that lies: the frames before it are kept, the
    // connection is closed, the service stays up.
    let mut c = std::net::TcpStream::connect(&addr).unwrap();
    let good = b"<14>1 2026-11-23T10:00:00Z host liar 7 - - first frame";
    c.write_all(format!("{} ", good.len()).as_bytes()).unwrap();
    c.write_all(good).unwrap();
    c.write_all(b"12x <14>1 garbage").unwrap();
    c.set_read_timeout(Some(Duration::from_secs(20))).unwrap();
    let mut rest = Vec::new();
    let closed = c.read_to_end(&mut rest);
    assert!(closed.is_ok(), "the server closed the connection: {closed:?}");
    assert_eq!(wait_counted(&s, "liar", 1), 1);
    assert!(s.metric("logsieve_rejected_total{reason=\"syslog_frame\"}") >= 1.0);
    assert!(s.healthy());
}

#[test]
fn a_restart_keeps_the_miners_so_new_lines_join_the_templates_learned_before() {
    let mut s = Server::start(&[]);
    let words = [
        "alpha", "bravo", "charlie", "delta", "echo", "foxtrot", "golf", "hotel", "india", "juliet",
    ];
    let l: Vec<String> = words.iter().map(|w| format!("job {w} started")).collect();
    assert_eq!(s.ingest("keep", &l), 200);
    let (_, before) = s.get("/v1/templates?source=keep&series=false");
    let t = &before["templates"][0];
    assert_eq!(t["template"], "job <*> started", "{before}");
    let id = t["template_id"].as_str().unwrap().to_string();
    s.signal("-TERM");
    assert_eq!(s.wait_exit(Duration::from_secs(30)), Some(0));
    let s2 = Server::start_in(&s.data.clone(), &[]);
    // A fresh miner would make `job kilo started` a template of its own.
    assert_eq!(s2.ingest("keep", &["job kilo started".to_string()]), 200);
    let (_, after) = s2.get("/v1/templates?source=keep&series=false");
    let all = after["templates"].as_array().unwrap();
    assert_eq!(all.len(), 1, "{after}");
    assert_eq!(all[0]["template_id"].as_str(), Some(id.as_str()));
    assert_eq!(all[0]["count"].as_u64(), Some(11));
}

#[test]
fn variable_top_values_and_other_add_up_to_the_count() {
    let s = Server::start(&[]);
    // Numbers are variables from the first line on, so there is no merge
    // history (lines counted under a template merged away later carry no
    // values of the live template).
    let l: Vec<String> = (0..500).map(|i| format!("request served in {i} ms")).collect();
    assert_eq!(s.ingest("vals", &l), 200);
    let (_, v) = s.get("/v1/templates?source=vals&series=false");
    let id = v["templates"][0]["template_id"].as_str().unwrap().to_string();
    let (_, d) = s.get(&format!("/v1/templates/{id}"));
    let var = &d["templates"][0]["variables"][0];
    let top: u64 = var["top"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t["count"].as_u64().unwrap())
        .sum();
    assert_eq!(top + var["other"].as_u64().unwrap(), 500, "{var}");
    assert_eq!(var["distinct_kept"].as_u64(), Some(64));
}

#[test]
fn analysis_of_an_unknown_source_creates_no_source() {
    let s = Server::start(&["--max-sources", "1"]);
    for src in ["try1", "try2", "try3"] {
        let (code, _) = s.post(&format!("/v1/analyze?source={src}"), "text/plain", b"hello 1\n");
        assert_eq!(code, 200);
    }
    assert_eq!(s.metric("logsieve_sources"), 0.0);
    assert_eq!(s.ingest("real", &lines("r", 5)), 200);
    // A second source is over the cap: 422 that says so.
    let (code, text) = s.post("/v1/ingest?source=other", "text/plain", b"x 1\n");
    assert_eq!(code, 422, "{text}");
    assert!(text.contains("source limit"), "{text}");
}

#[test]
fn a_second_server_on_the_same_data_dir_is_refused() {
    let s = Server::start(&[]);
    let out = Command::new(bin())
        .args(["serve", "--listen", "127.0.0.1:0", "--data-dir"])
        .arg(&s.data)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("in use by another logsieve serve"), "{err}");
    assert!(s.healthy());
}

#[test]
fn unix_socket_path_that_is_a_regular_file_is_not_deleted() {
    let dir = tempfile::tempdir().unwrap();
    let f = dir.path().join("important");
    std::fs::write(&f, "keep me").unwrap();
    let out = Command::new(bin())
        .args(["serve", "--listen", "127.0.0.1:0", "--data-dir"])
        .arg(dir.path().join("data"))
        .arg("--unix-socket")
        .arg(&f)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("not a socket"));
    assert_eq!(std::fs::read_to_string(&f).unwrap(), "keep me");
}

#[test]
fn sigterm_is_not_held_by_a_client_that_stalls_mid_body() {
    let mut s = Server::start(&[]);
    let mut c = std::net::TcpStream::connect(&s.addrs["http"]).unwrap();
    c.write_all(b"POST /v1/ingest HTTP/1.1\r\nHost: x\r\nContent-Length: 100\r\n\r\nonly 8 b")
        .unwrap();
    std::thread::sleep(Duration::from_millis(200));
    s.signal("-TERM");
    // The drain grace is 10 s; the bound only prevents a hang.
    assert_eq!(s.wait_exit(Duration::from_secs(25)), Some(0));
    drop(c);
}

#[test]
fn query_errors_are_json_and_say_what() {
    let mut s = Server::start(&[]);
    let (code, v) = s.get("/v1/templates?limit=abc");
    assert_eq!(code, 400);
    assert!(v["error"].as_str().unwrap().contains("limit"), "{v}");
    let (code, v) = s.get("/v1/alerts?since=2026-01-02T00:00:00Z&until=2026-01-01T00:00:00Z");
    assert_eq!(code, 400);
    assert!(v["error"]
        .as_str()
        .unwrap()
        .contains("since must be before until"));
    let r = Server::agent().get(&s.url("/v1/ingest")).call();
    let (code, v) = json_of(r);
    assert_eq!(code, 405);
    assert!(v["error"].is_string());
    // The bearer scheme is case-insensitive (RFC 7235).
    drop(s);
    let dir = tempfile::tempdir().unwrap();
    let tok = dir.path().join("t");
    std::fs::write(&tok, "abc").unwrap();
    s = Server::start(&["--auth-token-file", tok.to_str().unwrap()]);
    let r = Server::agent()
        .get(&s.url("/v1/sources"))
        .set("Authorization", "bearer abc")
        .call();
    assert_eq!(json_of(r).0, 200);
}
