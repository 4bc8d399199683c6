//! Real client payloads (see tests/fixtures/README.md): every decoder must give back exactly
//! the lines the client sent, with the sources and fields the protocol carries.

use logsieve_ingest::{body, loki, otlp, plain, syslog, Entry, IngestError, Limits, SyslogFramer};
use std::collections::BTreeSet;

fn fixture(name: &str) -> Vec<u8> {
    let p = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures")
        .join(name);
    std::fs::read(&p).unwrap_or_else(|e| panic!("{}: {e}", p.display()))
}

/// Line `i` of scripts/clients/lines.py, the generator the clients sent.
fn sent(i: usize) -> String {
    match i % 3 {
        0 => format!(
            "user {} logged in from 10.0.{}.{}",
            1000 + i,
            i % 250,
            7 * i % 250 + 1
        ),
        1 => format!("connection {i} closed after {} ms", 37 * i % 1000),
        _ => format!(
            "failed password for admin from 10.1.{}.{} port {} ssh2",
            i % 200,
            13 * i % 250 + 1,
            20000 + i
        ),
    }
}

fn lines(v: &[Entry]) -> Vec<String> {
    v.iter()
        .map(|e| String::from_utf8(e.line.clone()).unwrap())
        .collect()
}

fn field<'a>(e: &'a Entry, k: &str) -> Option<&'a str> {
    e.fields.iter().find(|(n, _)| n == k).map(|(_, v)| v.as_str())
}

fn lim() -> Limits {
    Limits::default()
}

#[test]
fn loki_protobuf_snappy_winston() {
    let v = loki::parse(
        Some("application/x-protobuf"),
        &fixture("loki-protobuf-snappy-winston.bin"),
        &lim(),
        "service_name",
    )
    .unwrap();
    let got: BTreeSet<String> = lines(&v).into_iter().collect();
    let want: BTreeSet<String> = (0..6).map(sent).collect();
    assert_eq!(got, want);
    for e in &v {
        assert_eq!(e.source.as_deref(), Some("checkout"), "job label");
        assert_eq!(field(e, "job"), Some("checkout"));
        let level = field(e, "level").unwrap();
        assert!(level == "info" || level == "warn");
        // Captured on 2026-11-23.
        let ts = e.timestamp_ms.unwrap();
        assert!((1_795_392_000_000..1_795_478_400_000).contains(&ts), "{ts}");
    }
    let v = loki::parse(
        None,
        &fixture("loki-protobuf-snappy-winston-300lines.bin"),
        &lim(),
        "service_name",
    )
    .unwrap();
    let got: BTreeSet<String> = lines(&v).into_iter().collect();
    assert_eq!(v.len(), 300);
    assert_eq!(got, (0..300).map(sent).collect::<BTreeSet<_>>());
    let small = Limits {
        max_entries: 299,
        ..lim()
    };
    let e = loki::parse(
        None,
        &fixture("loki-protobuf-snappy-winston-300lines.bin"),
        &small,
        "job",
    )
    .unwrap_err();
    assert!(matches!(e, IngestError::TooManyEntries { max: 299, .. }));
}

#[test]
fn loki_json_winston_and_pino() {
    let v = loki::parse(
        Some("application/json"),
        &fixture("loki-json-winston.json"),
        &lim(),
        "service_name",
    )
    .unwrap();
    let got: BTreeSet<String> = lines(&v).into_iter().collect();
    assert_eq!(got, (0..6).map(sent).collect::<BTreeSet<_>>());
    assert_eq!(
        v[0].fields.len(),
        3,
        "2 labels + 1 structured metadata: {:?}",
        v[0].fields
    );
    assert_eq!(v[0].timestamp_ms, Some(1_795_470_390_161));
    let v = loki::parse(
        Some("application/json"),
        &fixture("loki-json-pino.json"),
        &lim(),
        "hostname",
    )
    .unwrap();
    assert_eq!(lines(&v), (0..6).map(sent).collect::<Vec<_>>());
    assert_eq!(v[0].source.as_deref(), Some("vm"), "preferred label");
    assert_eq!(field(&v[2], "level"), Some("warning"));
    let v = loki::parse(
        Some("application/json"),
        &fixture("loki-json-pino-jsonlines.json"),
        &lim(),
        "x",
    )
    .unwrap();
    assert_eq!(v.len(), 6);
    for (i, e) in v.iter().enumerate() {
        let obj: serde_json::Value = serde_json::from_slice(&e.line).unwrap();
        assert_eq!(obj["msg"], sent(i));
    }
}

#[test]
fn otlp_http_protobuf_plain_gzip_and_grpc() {
    let plain_body = fixture("otlp-http-protobuf.bin");
    let v = otlp::parse(Some("application/x-protobuf"), &plain_body, &lim()).unwrap();
    assert_eq!(lines(&v), (0..6).map(sent).collect::<Vec<_>>());
    for (i, e) in v.iter().enumerate() {
        assert_eq!(e.source.as_deref(), Some("checkout"));
        assert_eq!(field(e, "seq"), Some(i.to_string().as_str()));
        assert_eq!(field(e, "driver"), Some("otel_send.py"));
        assert_eq!(field(e, "scope.name"), Some("logsieve.clients.otel_send"));
        assert_eq!(
            field(e, "severity_text"),
            Some(if i % 3 == 2 { "WARN" } else { "INFO" })
        );
        assert_eq!(
            field(e, "severity_number"),
            Some(if i % 3 == 2 { "13" } else { "9" })
        );
        assert_eq!(field(e, "telemetry.sdk.language"), Some("python"));
        assert!(e.timestamp_ms.is_some());
    }
    let gz = fixture("otlp-http-protobuf-gzip.bin");
    let decoded = body::decode_content(Some("gzip"), &gz, &lim()).unwrap();
    let v2 = otlp::parse(Some("application/x-protobuf"), &decoded, &lim()).unwrap();
    assert_eq!(lines(&v2), lines(&v));
    let grpc = fixture("otlp-grpc-export-request.bin");
    let req: otlp::ExportLogsServiceRequest = prost::Message::decode(&grpc[..]).unwrap();
    let v3 = otlp::entries_from_request(req, &lim()).unwrap();
    assert_eq!(lines(&v3), lines(&v));
    let v4 = otlp::parse(None, &fixture("otlp-http-protobuf-600lines-003.bin"), &lim()).unwrap();
    assert_eq!(lines(&v4), (512..600).map(sent).collect::<Vec<_>>());
    // A truncated gzip body.
    let e = body::decode_content(Some("gzip"), &gz[..gz.len() / 2], &lim()).unwrap_err();
    assert!(e.to_string().starts_with("bad gzip body: truncated"), "{e}");
}

#[test]
fn otlp_http_json() {
    let v = otlp::parse(Some("application/json"), &fixture("otlp-http-json.json"), &lim()).unwrap();
    assert_eq!(lines(&v), (0..6).map(sent).collect::<Vec<_>>());
    assert_eq!(v[0].source.as_deref(), Some("checkout"));
    assert_eq!(field(&v[0], "seq"), Some("0"));
    assert_eq!(v[0].timestamp_ms, Some(1_795_470_384_337));
    // The same records as the protobuf exporter gives, field for field, except the per-run
    // values (instance id, timestamps).
    let p = otlp::parse(None, &fixture("otlp-http-protobuf.bin"), &lim()).unwrap();
    let names = |e: &Entry| e.fields.iter().map(|(k, _)| k.clone()).collect::<Vec<_>>();
    assert_eq!(names(&v[0]), names(&p[0]));
}

fn frames(stream: &[u8], chunk: usize) -> Vec<Vec<u8>> {
    let mut f = SyslogFramer::new(64 * 1024);
    let mut out = Vec::new();
    for c in stream.chunks(chunk) {
        f.push(c);
        while let Some(r) = f.next_frame() {
            out.push(r.unwrap().to_vec());
        }
    }
    if let Some(r) = f.finish() {
        out.push(r.unwrap().to_vec());
    }
    out
}

#[test]
fn syslog_tcp_streams_from_logger_and_rsyslog() {
    let cases: [(&str, usize, &str, bool); 8] = [
        ("syslog-tcp-octet-rfc5424-logger.bin", 6, "", true),
        ("syslog-tcp-octet-rfc5424-sd-logger.bin", 3, "", true),
        ("syslog-tcp-lf-rfc5424-logger.bin", 6, "", true),
        ("syslog-tcp-lf-rfc3164-logger.bin", 6, "", false),
        ("rsyslog-omfwd-tcp-octet-rfc5424.bin", 6, " ", true),
        ("rsyslog-omfwd-tcp-lf-rfc5424.bin", 6, " ", true),
        ("rsyslog-omfwd-tcp-octet-rfc3164.bin", 6, "", false),
        ("rsyslog-omfwd-tcp-lf-rfc3164.bin", 6, "", false),
    ];
    for (name, n, prefix, is5424) in cases {
        let stream = fixture(name);
        let whole = frames(&stream, stream.len().max(1));
        assert_eq!(whole, frames(&stream, 7), "{name}: split reads");
        assert_eq!(whole.len(), n, "{name}");
        for (i, fr) in whole.iter().enumerate() {
            let m = syslog::parse(fr).unwrap_or_else(|e| panic!("{name} frame {i}: {e}"));
            assert_eq!(m.rfc5424, is5424, "{name}");
            assert_eq!(
                String::from_utf8_lossy(&m.msg),
                format!("{prefix}{}", sent(i)),
                "{name} frame {i}"
            );
            assert_eq!(m.app_name.as_deref(), Some("webapp"), "{name}");
            assert_eq!(m.hostname.as_deref(), Some("vm"), "{name}");
            assert!(m.timestamp_ms.is_some(), "{name}");
            let e = m.into_entry();
            assert_eq!(e.source.as_deref(), Some("webapp"));
        }
    }
    let sd = frames(&fixture("syslog-tcp-octet-rfc5424-sd-logger.bin"), 1000);
    let m = syslog::parse(&sd[0]).unwrap();
    assert_eq!(m.msgid.as_deref(), Some("LOGIN"));
    assert!(m.procid.is_some());
    assert!(m.structured_data.contains(&(
        "origin@32473.note".to_string(),
        "a \"quoted\" ]bracket".to_string()
    )));
    assert!(m
        .structured_data
        .contains(&("timeQuality.tzKnown".to_string(), "1".to_string())));
    let m = syslog::parse(&frames(&fixture("syslog-tcp-lf-rfc3164-logger.bin"), 100)[0]).unwrap();
    assert_eq!((m.facility, m.severity), (16, 4), "local0.warning");
}

#[test]
fn syslog_udp_datagrams() {
    for tool in ["syslog", "rsyslog-omfwd"] {
        for fmt in ["rfc3164", "rfc5424"] {
            for k in 1..=3 {
                let name = if tool == "syslog" {
                    format!("syslog-udp-{fmt}-logger-00{k}.bin")
                } else {
                    format!("rsyslog-omfwd-udp-{fmt}-00{k}.bin")
                };
                let m = syslog::parse(&fixture(&name)).unwrap();
                let prefix = if tool != "syslog" && fmt == "rfc5424" {
                    " "
                } else {
                    ""
                };
                assert_eq!(
                    String::from_utf8_lossy(&m.msg),
                    format!("{prefix}{}", sent(k - 1)),
                    "{name}"
                );
                assert_eq!(m.app_name.as_deref(), Some("webapp"), "{name}");
                assert_eq!((m.facility, m.severity), (1, 5), "{name}: user.notice");
            }
        }
    }
}

#[test]
fn ndjson_gzip_end_to_end() {
    use std::io::Write;
    let mut body = String::new();
    for i in 0..6 {
        body.push_str(&serde_json::json!({"line": sent(i), "source": "api", "timestamp": 1_700_000_000_000i64 + i as i64}).to_string());
        body.push('\n');
    }
    let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    e.write_all(body.as_bytes()).unwrap();
    let gz = e.finish().unwrap();
    let decoded = body::decode_content(Some("gzip"), &gz, &lim()).unwrap();
    let v = plain::parse_ndjson(&decoded, &lim()).unwrap();
    assert_eq!(lines(&v), (0..6).map(sent).collect::<Vec<_>>());
    assert_eq!(v[5].timestamp_ms, Some(1_700_000_000_005));
}
