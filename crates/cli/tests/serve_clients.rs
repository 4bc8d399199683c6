//! `logsieve serve` fed by real log shippers (issue "serve"): the OpenTelemetry
//! Python SDK (OTLP/HTTP protobuf, OTLP/HTTP JSON, OTLP gRPC), winston-loki
//! (Loki protobuf + snappy), pino-loki (Loki JSON), util-linux `logger`
//! (syslog TCP octet-counted / LF, UDP, RFC 5424 / 3164) and rsyslog's omfwd.
//!
//! The clients are installed by `bash scripts/clients/setup.sh` and driven by
//! the scripts in `scripts/clients/` (see its README). A missing client fails
//! the test with a message saying to run setup.sh; nothing is skipped.
//!
//! Every driver sends lines `0..N` of `scripts/clients/lines.sh`: three
//! rotating templates with varying numbers. Each test asserts that the
//! source named by the protocol (OTLP `service.name`, Loki `job`, syslog
//! APP-NAME / TAG) is the only source, that its templates are exactly the
//! three the lines form (with `<*>` where the numbers vary) and add up to
//! exactly N (N/3 each), that stored examples are the sent lines verbatim
//! (no syslog header, no JSON wrapper; rsyslog's RFC 5424 MSG carries one
//! leading space, see `RSYSLOG_5424_LEAD`), that the received-lines metric
//! counts N under the right protocol, that nothing was rejected or flagged,
//! and that a Sigma rule on the protocol's fields (OTLP resource attribute,
//! severity and record attribute; Loki stream labels; syslog app name,
//! facility and severity) fires on exactly the N/3 "failed password" lines.

mod serve_common;

use serve_common::*;
use std::io::Write;
use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

/// Lines sent over TCP / HTTP (a multiple of 3: N/3 per template).
const N: usize = 300;
/// Lines sent over UDP (no ack, so modest; still all must arrive).
const N_UDP: usize = 99;
/// Gap between UDP datagrams (logger sends one per stdin line).
const UDP_PACE: Duration = Duration::from_millis(2);
/// Longest wait for lines to arrive; only there so a loss fails instead of hanging.
const ARRIVAL_DEADLINE: Duration = Duration::from_secs(20);
/// Longest a client may run.
const CLIENT_DEADLINE: Duration = Duration::from_secs(120);

const SETUP_HINT: &str =
    "run `bash scripts/clients/setup.sh` (as root on a fresh machine) to install the real clients";

fn clients_dir() -> PathBuf {
    repo_root().join("scripts/clients")
}

/// The path of a client program, or a failure saying to run setup.sh.
fn require(path: PathBuf, what: &str) -> PathBuf {
    assert!(
        path.exists(),
        "{what} is missing ({}): {SETUP_HINT}",
        path.display()
    );
    path
}

/// `program` found on PATH, or a failure saying to run setup.sh.
fn require_on_path(program: &str) -> PathBuf {
    let path = std::env::var_os("PATH").unwrap_or_default();
    std::env::split_paths(&path)
        .map(|d| d.join(program))
        .find(|p| p.is_file())
        .unwrap_or_else(|| panic!("`{program}` is not on PATH: {SETUP_HINT}"))
}

fn venv_python() -> PathBuf {
    require(
        repo_root().join("target/clients/venv/bin/python"),
        "the OpenTelemetry venv's python",
    )
}

fn node() -> PathBuf {
    require(
        clients_dir().join("node/node_modules/winston-loki"),
        "node_modules with winston-loki",
    );
    require(
        clients_dir().join("node/node_modules/pino-loki"),
        "node_modules with pino-loki",
    );
    require_on_path("node")
}

fn logger() -> PathBuf {
    require_on_path("logger")
}

fn rsyslogd() {
    require(PathBuf::from("/usr/sbin/rsyslogd"), "rsyslogd");
}

/// Lines `0..n` exactly as every driver sends them (`scripts/clients/lines.sh`).
fn expected_lines(n: usize) -> Vec<String> {
    let out = Command::new("bash")
        .arg(clients_dir().join("lines.sh"))
        .arg(n.to_string())
        .output()
        .expect("runs bash scripts/clients/lines.sh");
    assert!(out.status.success(), "lines.sh failed: {out:?}");
    let lines: Vec<String> = String::from_utf8(out.stdout)
        .expect("lines.sh prints UTF-8")
        .lines()
        .map(str::to_string)
        .collect();
    assert_eq!(lines.len(), n);
    lines
}

/// What a client printed and how it ended.
struct Ran {
    ok: bool,
    report: String,
}

/// Runs `cmd` to completion within [`CLIENT_DEADLINE`] (killed past it),
/// feeding `stdin` (one line per `pace`) when given.
fn run_client(mut cmd: Command, stdin: Option<(&[String], Duration)>) -> Ran {
    let out = tempfile::NamedTempFile::new().unwrap();
    let err = tempfile::NamedTempFile::new().unwrap();
    cmd.stdout(out.reopen().unwrap())
        .stderr(err.reopen().unwrap())
        .stdin(if stdin.is_some() {
            Stdio::piped()
        } else {
            Stdio::null()
        });
    let shown = format!("{cmd:?}");
    let mut child = cmd
        .spawn()
        .unwrap_or_else(|e| panic!("cannot start {shown}: {e}; {SETUP_HINT}"));
    let feeder = stdin.map(|(lines, pace)| {
        let mut pipe = child.stdin.take().unwrap();
        let lines = lines.to_vec();
        std::thread::spawn(move || {
            for l in lines {
                if writeln!(pipe, "{l}").is_err() {
                    return;
                }
                let _ = pipe.flush();
                if !pace.is_zero() {
                    std::thread::sleep(pace);
                }
            }
        })
    });
    let t = Instant::now();
    let status = loop {
        if let Some(st) = child.try_wait().unwrap() {
            break Some(st);
        }
        if t.elapsed() > CLIENT_DEADLINE {
            let _ = child.kill();
            let _ = child.wait();
            break None;
        }
        std::thread::sleep(Duration::from_millis(20));
    };
    if let Some(f) = feeder {
        let _ = f.join();
    }
    let text = |f: &tempfile::NamedTempFile| std::fs::read_to_string(f.path()).unwrap_or_default();
    Ran {
        ok: matches!(status, Some(st) if st.success()),
        report: format!(
            "client {shown}\n  ended: {}\n  stdout: {}\n  stderr: {}",
            match status {
                Some(st) => st.to_string(),
                None => format!("killed after {CLIENT_DEADLINE:?}"),
            },
            text(&out).trim_end(),
            text(&err).trim_end()
        ),
    }
}

/// Fails with the client's output and the server's log unless the client succeeded.
fn client_ok(s: &Server, ran: Ran) {
    assert!(
        ran.ok,
        "the client failed\n{}\nserver log:\n{}",
        ran.report,
        s.log_text()
    );
}

/// Polls until `source` counted `n` lines (or the deadline), then checks it
/// stays at exactly `n` (no duplicates arriving late).
fn wait_counted(s: &Server, source: &str, n: usize, ctx: &str) {
    let t = Instant::now();
    let mut last = s.counted(source);
    while (last.0 < n as u64 || last.1 < n as u64) && t.elapsed() < ARRIVAL_DEADLINE {
        std::thread::sleep(Duration::from_millis(100));
        last = s.counted(source);
    }
    if last.0 >= n as u64 {
        std::thread::sleep(Duration::from_millis(300));
        last = s.counted(source);
    }
    assert_eq!(
        last,
        (n as u64, n as u64),
        "(template count sum, stored lines) of source {source:?} after {:?}; sent {n}\n{ctx}\nsources: {}\nserver log:\n{}",
        t.elapsed(),
        s.get("/v1/sources").1,
        s.log_text()
    );
}

/// The fixed words of each of the three templates of lines.sh, in order,
/// with the varying numbers between them.
const SHAPES: [(&str, &[&str]); 3] = [
    ("user <N> logged in from <IP>", &["user ", " logged in from "]),
    (
        "connection <N> closed after <M> ms",
        &["connection ", " closed after ", " ms"],
    ),
    (
        // `admin` is one of the annotation conventions' user strings, a
        // variable like `root`.
        "failed password for <*> from <IP> port <P> ssh2",
        &["failed password for ", " from ", " port ", " ssh2"],
    ),
];

/// A varying part of a template: `<*>`, or an IP whose varying octets are
/// `<*>` (the `10.0.` / `10.1.` of lines.sh are fixed).
fn is_wildcard(gap: &str) -> bool {
    let rest = gap
        .strip_prefix("10.0.")
        .or_else(|| gap.strip_prefix("10.1."))
        .unwrap_or(gap);
    rest.contains("<*>") && rest.split("<*>").all(|p| p.is_empty() || p == ".")
}

/// The source's templates are exactly the three of lines.sh, `n/3` lines
/// each, with `<*>` where the numbers vary, and their stored examples are
/// sent lines verbatim.
fn check_templates(s: &Server, source: &str, n: usize, sent: &[String]) {
    let (code, v) = s.get(&format!("/v1/templates?source={source}&limit=1000&series=false"));
    assert_eq!(code, 200, "{v}");
    let ts = v["templates"].as_array().expect("templates array");
    let texts: Vec<&str> = ts.iter().map(|t| t["template"].as_str().unwrap_or("")).collect();
    assert_eq!(
        ts.len(),
        3,
        "source {source:?}: expected the 3 templates of lines.sh, got {texts:#?}"
    );
    for (shape, words) in SHAPES {
        let t = ts
            .iter()
            .find(|t| {
                let text = t["template"].as_str().unwrap_or("");
                text.starts_with(words[0]) && words.iter().all(|w| text.contains(w))
            })
            .unwrap_or_else(|| panic!("no template of the shape {shape:?} in {texts:#?}"));
        let text = t["template"].as_str().unwrap();
        // Every number varies from line to line: each gap between the fixed
        // words is a wildcard (the IP as one `<*>` or per octet), never a
        // literal value of one line.
        let mut rest = text;
        for (k, w) in words.iter().enumerate() {
            let at = rest.find(w).unwrap();
            let gap = &rest[..at];
            if k > 0 {
                assert!(
                    is_wildcard(gap),
                    "template {text:?}: the varying part {gap:?} is not a wildcard"
                );
            }
            rest = &rest[at + w.len()..];
        }
        // After the last fixed word: the IP of "logged in from", else nothing.
        let trailing_varies = words.last().is_some_and(|w| w.ends_with(' '));
        assert!(
            if trailing_varies {
                is_wildcard(rest)
            } else {
                rest.is_empty()
            },
            "template {text:?}: unexpected end {rest:?}"
        );
        assert_eq!(
            t["count"].as_u64(),
            Some((n / 3) as u64),
            "template {text:?} of {source:?}: count"
        );
        assert_eq!(t["source"].as_str(), Some(source), "{t}");
        let id = t["template_id"].as_str().expect("template_id").to_string();
        let (code, d) = s.get(&format!("/v1/templates/{id}?source={source}"));
        assert_eq!(code, 200, "{d}");
        let ex = d["templates"][0]["examples"].as_array().expect("examples array");
        assert!(!ex.is_empty(), "template {text:?} has no examples: {d}");
        for e in ex {
            let e = e.as_str().map(str::to_string).unwrap_or_else(|| e.to_string());
            assert!(
                sent.contains(&e),
                "example {e:?} of template {text:?} (source {source:?}) is not one of the sent lines verbatim"
            );
            assert!(
                words.iter().all(|w| e.contains(w)),
                "example {e:?} is not of the template {text:?}"
            );
        }
    }
}

/// The source is the only one; the metrics count `n` lines of it over
/// `protocol` and no rejected or flagged line.
fn check_source_and_metrics(s: &Server, source: &str, protocol: &str, n: usize) {
    let (_, v) = s.get("/v1/sources");
    let names: Vec<&str> = v["sources"]
        .as_array()
        .expect("sources array")
        .iter()
        .map(|x| x["source"].as_str().unwrap_or(""))
        .collect();
    assert_eq!(names, [source], "the only source is the one the client named");
    let m = format!("logsieve_lines_received_total{{source=\"{source}\",protocol=\"{protocol}\"}}");
    assert_eq!(s.metric(&m), n as f64, "{m}");
    let text = Server::agent()
        .get(&s.url("/metrics"))
        .call()
        .expect("GET /metrics")
        .into_string()
        .expect("metrics text");
    let rejected: Vec<&str> = text
        .lines()
        .filter(|l| l.starts_with("logsieve_rejected_total{") && !l.ends_with(" 0"))
        .collect();
    assert!(
        rejected.is_empty(),
        "rejections: {rejected:?}\nserver log:\n{}",
        s.log_text()
    );
    assert_eq!(s.metric("logsieve_lines_flagged_total"), 0.0, "lines flagged");
}

/// A server started for one test, with one Sigma rule that fires on the
/// "failed password" lines only when the protocol's fields are mapped.
struct Case {
    s: Server,
    source: &'static str,
    _rules: tempfile::TempDir,
}

/// Starts the server with `listeners` (each on an ephemeral port) and a rule
/// whose selection is `message|contains: failed password` and `fields`.
fn start_case(source: &'static str, listeners: &[&str], fields: &[(&str, &str)]) -> Case {
    let rules = tempfile::tempdir().unwrap();
    let mut sel = String::from("    message|contains: 'failed password'\n");
    for (k, v) in fields {
        sel.push_str(&format!("    '{k}': '{v}'\n"));
    }
    let rule = format!(
        "title: {RULE_TITLE}\nid: 6f2a3c1e-0000-4000-8000-00000000c11e\nstatus: test\n\
         logsource:\n  product: test\ndetection:\n  sel:\n{sel}  condition: sel\nlevel: high\n"
    );
    std::fs::write(rules.path().join("fields.yml"), rule).unwrap();
    let mut args: Vec<&str> = vec!["--rules", rules.path().to_str().unwrap()];
    for l in listeners {
        args.extend([*l, "127.0.0.1:0"]);
    }
    Case {
        s: Server::start(&args),
        source,
        _rules: rules,
    }
}

const RULE_TITLE: &str = "client fields mapped";

/// The rule fired on exactly the `n/3` "failed password" lines of the source.
fn check_alerts(s: &Server, source: &str, n: usize, sent: &[String]) {
    let want = n / 3;
    let path = format!("/v1/alerts?source={source}&limit=1000");
    let t = Instant::now();
    let mut v = s.get(&path).1;
    let count = |v: &serde_json::Value| v["alerts"].as_array().map_or(0, Vec::len);
    while count(&v) < want && t.elapsed() < ARRIVAL_DEADLINE {
        std::thread::sleep(Duration::from_millis(100));
        v = s.get(&path).1;
    }
    let alerts = v["alerts"].as_array().expect("alerts array");
    let sample = alerts.first().map(ToString::to_string).unwrap_or_default();
    assert_eq!(
        alerts.len(),
        want,
        "alerts of the field rule for {source:?} (fields not mapped as expected?); first: {sample}\nserver log:\n{}",
        s.log_text()
    );
    for a in alerts {
        assert_eq!(a["title"].as_str(), Some(RULE_TITLE), "{a}");
        let line = a["line"].as_str().unwrap_or("");
        assert!(
            line.contains("failed password") && sent.iter().any(|l| l == line),
            "alert line {line:?} is not a sent failed-password line: {a}"
        );
    }
}

/// Everything a test asserts once its client is done.
fn check_all(c: &Case, protocol: &str, n: usize, ctx: &str) {
    check_all_lead(c, protocol, n, "", ctx)
}

/// [`check_all`] where the client puts `lead` before every message body on
/// the wire (kept by the server as part of the message).
fn check_all_lead(c: &Case, protocol: &str, n: usize, lead: &str, ctx: &str) {
    let (s, source) = (&c.s, c.source);
    let sent: Vec<String> = expected_lines(n)
        .into_iter()
        .map(|l| format!("{lead}{l}"))
        .collect();
    wait_counted(s, source, n, ctx);
    check_templates(s, source, n, &sent);
    check_source_and_metrics(s, source, protocol, n);
    check_alerts(s, source, n, &sent);
}

// ---- util-linux logger ---------------------------------------------------

/// A syslog case: the rule needs the header fields of the parsed message.
fn syslog_case(source: &'static str) -> Case {
    start_case(
        source,
        &["--syslog-tcp", "--syslog-udp"],
        &[("app_name", source), ("facility", "user"), ("severity", "notice")],
    )
}

/// `lines.sh n | logger -n HOST -P PORT <flags> -t SOURCE`, one line per `pace`.
fn logger_sends(c: &Case, listener: &str, flags: &[&str], n: usize, pace: Duration) -> String {
    let s = &c.s;
    let addr = s
        .addrs
        .get(listener)
        .unwrap_or_else(|| panic!("no {listener} listener: {:?}", s.addrs));
    let (host, port) = addr.rsplit_once(':').expect("HOST:PORT");
    let mut cmd = Command::new(logger());
    cmd.args(["-n", host, "-P", port])
        .args(flags)
        .args(["-t", c.source]);
    let lines = expected_lines(n);
    let ran = run_client(cmd, Some((&lines, pace)));
    let report = ran.report.clone();
    client_ok(s, ran);
    report
}

#[test]
fn logger_tcp_octet_counted_rfc5424() {
    let c = syslog_case("lg-tcp-octet-5424");
    let ctx = logger_sends(
        &c,
        "syslog-tcp",
        &["-T", "--octet-count", "--rfc5424"],
        N,
        Duration::ZERO,
    );
    check_all(&c, "syslog_tcp", N, &ctx);
}

#[test]
fn logger_tcp_lf_rfc3164() {
    let c = syslog_case("lg-tcp-lf-3164");
    let ctx = logger_sends(&c, "syslog-tcp", &["-T", "--rfc3164"], N, Duration::ZERO);
    check_all(&c, "syslog_tcp", N, &ctx);
}

#[test]
fn logger_tcp_lf_rfc5424() {
    let c = syslog_case("lg-tcp-lf-5424");
    let ctx = logger_sends(&c, "syslog-tcp", &["-T", "--rfc5424"], N, Duration::ZERO);
    check_all(&c, "syslog_tcp", N, &ctx);
}

#[test]
fn logger_tcp_octet_counted_rfc3164() {
    let c = syslog_case("lg-tcp-octet-3164");
    let ctx = logger_sends(
        &c,
        "syslog-tcp",
        &["-T", "--octet-count", "--rfc3164"],
        N,
        Duration::ZERO,
    );
    check_all(&c, "syslog_tcp", N, &ctx);
}

#[test]
fn logger_udp_rfc5424() {
    let c = syslog_case("lg-udp-5424");
    let ctx = logger_sends(&c, "syslog-udp", &["-d", "--rfc5424"], N_UDP, UDP_PACE);
    check_all(&c, "syslog_udp", N_UDP, &ctx);
}

#[test]
fn logger_udp_rfc3164() {
    let c = syslog_case("lg-udp-3164");
    let ctx = logger_sends(&c, "syslog-udp", &["-d", "--rfc3164"], N_UDP, UDP_PACE);
    check_all(&c, "syslog_udp", N_UDP, &ctx);
}

// ---- rsyslog omfwd ----------------------------------------------------------

/// `rsyslog_forward.sh --target ADDR <args> --tag SOURCE --count n`.
fn rsyslog_forwards(c: &Case, listener: &str, args: &[&str], n: usize) -> String {
    rsyslogd();
    logger();
    let s = &c.s;
    let addr = s
        .addrs
        .get(listener)
        .unwrap_or_else(|| panic!("no {listener} listener: {:?}", s.addrs));
    let mut cmd = Command::new("bash");
    cmd.arg(clients_dir().join("rsyslog_forward.sh"))
        .args(["--target", addr])
        .args(args)
        .args(["--tag", c.source, "--count", &n.to_string()]);
    let ran = run_client(cmd, None);
    let report = ran.report.clone();
    client_ok(s, ran);
    report
}

// rsyslog's RFC 5424 forward template is `... %STRUCTURED-DATA% %msg%`, and the
// %msg% of a message read from its unix socket keeps the space after `TAG:`, so
// the wire carries `... - -  user 1000 ...` (two spaces). Per RFC 5424 the MSG
// (after the one SP that ends STRUCTURED-DATA) then starts with a space, and the
// server keeps it: the stored line is " " + the sent line.
const RSYSLOG_5424_LEAD: &str = " ";

#[test]
fn rsyslog_tcp_octet_counted_rfc5424() {
    let c = syslog_case("rs-tcp-octet-5424");
    let ctx = rsyslog_forwards(
        &c,
        "syslog-tcp",
        &["--protocol", "tcp", "--framing", "octet", "--format", "rfc5424"],
        N,
    );
    check_all_lead(&c, "syslog_tcp", N, RSYSLOG_5424_LEAD, &ctx);
}

#[test]
fn rsyslog_tcp_lf_rfc3164() {
    let c = syslog_case("rs-tcp-lf-3164");
    let ctx = rsyslog_forwards(
        &c,
        "syslog-tcp",
        &["--protocol", "tcp", "--framing", "lf", "--format", "rfc3164"],
        N,
    );
    check_all(&c, "syslog_tcp", N, &ctx);
}

#[test]
fn rsyslog_udp_rfc5424() {
    let c = syslog_case("rs-udp-5424");
    let ctx = rsyslog_forwards(
        &c,
        "syslog-udp",
        &["--protocol", "udp", "--format", "rfc5424"],
        N_UDP,
    );
    check_all_lead(&c, "syslog_udp", N_UDP, RSYSLOG_5424_LEAD, &ctx);
}

#[test]
fn rsyslog_udp_rfc3164() {
    let c = syslog_case("rs-udp-3164");
    let ctx = rsyslog_forwards(
        &c,
        "syslog-udp",
        &["--protocol", "udp", "--format", "rfc3164"],
        N_UDP,
    );
    check_all(&c, "syslog_udp", N_UDP, &ctx);
}

// ---- OpenTelemetry Python SDK -------------------------------------------

/// An OTLP case: the rule needs the resource attribute, the record's
/// severity text and one of its attributes (otel_send.py sends WARN and
/// `driver=otel_send.py` on the failed-password lines).
fn otel_case(source: &'static str, listeners: &[&str]) -> Case {
    start_case(
        source,
        listeners,
        &[
            ("service.name", source),
            ("severity_text", "WARN"),
            ("driver", "otel_send.py"),
        ],
    )
}

/// `otel_send.py --endpoint ENDPOINT --protocol P --service SOURCE --count N <extra>`.
fn otel_sends(c: &Case, protocol: &str, endpoint: &str, extra: &[&str]) -> String {
    let mut cmd = Command::new(venv_python());
    cmd.arg(clients_dir().join("otel_send.py"))
        .args(["--endpoint", endpoint, "--protocol", protocol])
        .args(["--service", c.source, "--count", &N.to_string()])
        .args(extra);
    let ran = run_client(cmd, None);
    let report = ran.report.clone();
    client_ok(&c.s, ran);
    report
}

#[test]
fn otel_http_protobuf() {
    let c = otel_case("otel-http-proto", &[]);
    let ctx = otel_sends(&c, "http", &format!("http://{}", c.s.addrs["http"]), &[]);
    check_all(&c, "otlp_http", N, &ctx);
}

#[test]
fn otel_http_protobuf_gzip_small_batches() {
    let c = otel_case("otel-http-gzip", &[]);
    let ctx = otel_sends(
        &c,
        "http",
        &format!("http://{}", c.s.addrs["http"]),
        &["--compression", "gzip", "--batch-size", "40"],
    );
    check_all(&c, "otlp_http", N, &ctx);
}

#[test]
fn otel_http_json() {
    let c = otel_case("otel-http-json", &[]);
    let ctx = otel_sends(&c, "http-json", &format!("http://{}", c.s.addrs["http"]), &[]);
    check_all(&c, "otlp_http", N, &ctx);
}

#[test]
fn otel_grpc() {
    let c = otel_case("otel-grpc", &["--otlp-grpc"]);
    let addr =
        c.s.addrs
            .get("otlp-grpc")
            .unwrap_or_else(|| panic!("no otlp-grpc listener: {:?}", c.s.addrs))
            .clone();
    let ctx = otel_sends(&c, "grpc", &format!("http://{addr}"), &[]);
    check_all(&c, "otlp_grpc", N, &ctx);
}

#[test]
fn otel_grpc_gzip() {
    let c = otel_case("otel-grpc-gzip", &["--otlp-grpc"]);
    let addr =
        c.s.addrs
            .get("otlp-grpc")
            .unwrap_or_else(|| panic!("no otlp-grpc listener: {:?}", c.s.addrs))
            .clone();
    let ctx = otel_sends(&c, "grpc", &format!("http://{addr}"), &["--compression", "gzip"]);
    check_all(&c, "otlp_grpc", N, &ctx);
}

// ---- Loki clients (node) --------------------------------------------------

/// A Loki case: the rule needs the stream labels (loki_send.js logs the
/// failed-password lines at warn, the others at info; both libraries put the
/// level in a `level` label beside `job`: winston-loki `warn`, pino-loki
/// `warning`).
fn loki_case(source: &'static str) -> Case {
    start_case(source, &[], &[("job", source), ("level|startswith", "warn")])
}

/// `loki_send.js --url URL --format F --library L --job SOURCE --count N`.
fn loki_sends(c: &Case, format: &str, library: &str) -> String {
    let mut cmd = Command::new(node());
    cmd.arg(clients_dir().join("loki_send.js"))
        .args(["--url", &format!("http://{}", c.s.addrs["http"])])
        .args(["--format", format, "--library", library])
        .args(["--job", c.source, "--count", &N.to_string()]);
    let ran = run_client(cmd, None);
    let report = ran.report.clone();
    client_ok(&c.s, ran);
    report
}

#[test]
fn loki_protobuf_snappy_winston() {
    let c = loki_case("loki-winston-proto");
    let ctx = loki_sends(&c, "protobuf", "winston");
    check_all(&c, "loki", N, &ctx);
}

#[test]
fn loki_json_pino() {
    let c = loki_case("loki-pino-json");
    let ctx = loki_sends(&c, "json", "pino");
    check_all(&c, "loki", N, &ctx);
}

#[test]
fn loki_json_winston() {
    let c = loki_case("loki-winston-json");
    let ctx = loki_sends(&c, "json", "winston");
    check_all(&c, "loki", N, &ctx);
}
