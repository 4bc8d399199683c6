//! `logsieve serve` fed malformed input on every protocol (issue #8): OTLP
//! over gRPC (a real tonic client, and hand-made HTTP/2 frames for what a
//! client library will not send), zstd and gzip bodies on every HTTP
//! endpoint that decodes them, syslog over UDP and TCP, the Unix socket, and
//! the JSON formats' remaining gaps. Every case checks the answer (status
//! and what its message says) or the metric that counts the drop, then that
//! the service is healthy and still takes a good batch; the socket cases
//! check the accounting: lines sent = lines counted + drops counted.

mod serve_common;

use opentelemetry_proto::tonic::collector::logs::v1::logs_service_client::LogsServiceClient;
use opentelemetry_proto::tonic::collector::logs::v1::ExportLogsServiceRequest;
use opentelemetry_proto::tonic::common::v1::{any_value, AnyValue, KeyValue};
use opentelemetry_proto::tonic::logs::v1::{LogRecord, ResourceLogs, ScopeLogs};
use opentelemetry_proto::tonic::resource::v1::Resource;
use prost::Message;
use serve_common::*;
use std::io::{Read, Write};
use std::time::Duration;
use tonic::Code;

// ---- OTLP over gRPC ----------------------------------------------------

const EXPORT_PATH: &str = "/opentelemetry.proto.collector.logs.v1.LogsService/Export";

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap()
}

/// An export request of `lines` from the service `source`.
fn otlp_request(source: &str, lines: &[String]) -> ExportLogsServiceRequest {
    let string = |s: &str| AnyValue {
        value: Some(any_value::Value::StringValue(s.to_string())),
    };
    ExportLogsServiceRequest {
        resource_logs: vec![ResourceLogs {
            resource: Some(Resource {
                attributes: vec![KeyValue {
                    key: "service.name".into(),
                    value: Some(string(source)),
                    ..Default::default()
                }],
                ..Default::default()
            }),
            scope_logs: vec![ScopeLogs {
                log_records: lines
                    .iter()
                    .map(|l| LogRecord {
                        body: Some(string(l)),
                        ..Default::default()
                    })
                    .collect(),
                ..Default::default()
            }],
            ..Default::default()
        }],
    }
}

/// Exports with tonic's client (gzip-compressed when `gzip`); a bounded
/// wait, so a hung connection fails the test.
fn export(addr: &str, req: ExportLogsServiceRequest, gzip: bool) -> Result<(), tonic::Status> {
    runtime().block_on(async {
        let call = async {
            let mut c = LogsServiceClient::connect(format!("http://{addr}"))
                .await
                .map_err(|e| tonic::Status::unavailable(format!("connect: {e}")))?;
            if gzip {
                c = c.send_compressed(tonic::codec::CompressionEncoding::Gzip);
            }
            c.export(req).await.map(|_| ())
        };
        tokio::time::timeout(Duration::from_secs(30), call)
            .await
            .expect("the gRPC export was answered within 30 s")
    })
}

/// One gRPC message frame: the compressed flag, the length, the bytes.
fn frame(flag: u8, len: u32, msg: &[u8]) -> Vec<u8> {
    let mut f = vec![flag];
    f.extend(len.to_be_bytes());
    f.extend(msg);
    f
}

/// What a raw HTTP/2 request to the export method got back.
#[derive(Debug)]
struct Answer {
    http: u16,
    grpc_status: Option<i32>,
    grpc_message: String,
}

impl Answer {
    fn code(&self) -> Code {
        Code::from(self.grpc_status.expect("a grpc-status"))
    }
}

/// POSTs `body` to the export method over a fresh HTTP/2 connection, with
/// the request headers given (`content-type` included: none is added), and
/// reads the status from the headers (trailers-only) or the trailers.
fn raw_grpc(addr: &str, headers: &[(&str, &str)], body: Vec<u8>) -> Answer {
    runtime().block_on(async {
        let call = async {
            let tcp = tokio::net::TcpStream::connect(addr).await.unwrap();
            let (mut client, conn) = h2::client::handshake(tcp).await.unwrap();
            tokio::spawn(async move {
                let _ = conn.await;
            });
            let mut req = http::Request::post(format!("http://{addr}{EXPORT_PATH}")).header("te", "trailers");
            for (k, v) in headers {
                req = req.header(*k, *v);
            }
            let (resp, mut send) = client.send_request(req.body(()).unwrap(), false).unwrap();
            send.send_data(bytes::Bytes::from(body), true).unwrap();
            let resp = resp.await.unwrap();
            let http = resp.status().as_u16();
            let read = |h: &http::HeaderMap| {
                let status = h
                    .get("grpc-status")
                    .map(|v| v.to_str().unwrap().parse::<i32>().unwrap());
                let message = h
                    .get("grpc-message")
                    .map(|v| percent_decode(v.to_str().unwrap()))
                    .unwrap_or_default();
                (status, message)
            };
            let (mut grpc_status, mut grpc_message) = read(resp.headers());
            if grpc_status.is_none() {
                let mut body = resp.into_body();
                while let Some(chunk) = body.data().await {
                    let chunk = chunk.unwrap();
                    let _ = body.flow_control().release_capacity(chunk.len());
                }
                if let Some(t) = body.trailers().await.unwrap() {
                    (grpc_status, grpc_message) = read(&t);
                }
            }
            Answer {
                http,
                grpc_status,
                grpc_message,
            }
        };
        tokio::time::timeout(Duration::from_secs(30), call)
            .await
            .expect("the raw gRPC request was answered within 30 s")
    })
}

/// `grpc-message` is percent-encoded.
fn percent_decode(s: &str) -> String {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        let hex = s
            .get(i + 1..i + 3)
            .filter(|_| b[i] == b'%')
            .and_then(|h| u8::from_str_radix(h, 16).ok());
        match hex {
            Some(v) => {
                out.push(v);
                i += 3;
            }
            None => {
                out.push(b[i]);
                i += 1;
            }
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// The names of the sources the store knows.
fn sources(s: &Server) -> Vec<String> {
    let (code, v) = s.get("/v1/sources");
    assert_eq!(code, 200, "{v}");
    v["sources"]
        .as_array()
        .unwrap()
        .iter()
        .map(|x| x["source"].as_str().unwrap().to_string())
        .collect()
}

fn gzip(data: &[u8]) -> Vec<u8> {
    let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    e.write_all(data).unwrap();
    e.finish().unwrap()
}

#[test]
fn otlp_grpc_malformed_requests_get_a_grpc_error_that_says_what_and_the_service_stays_healthy() {
    let s = Server::start(&["--otlp-grpc", "127.0.0.1:0", "--max-body-bytes", "100000"]);
    let addr = s.addrs["otlp-grpc"].clone();
    let mut good_sent = 0u64;
    let mut good = |s: &Server, what: &str| {
        assert!(s.healthy(), "after {what}: not healthy");
        let l = lines(&format!("good{good_sent}"), 8);
        export(&addr, otlp_request("grpc-good", &l), good_sent % 2 == 1)
            .unwrap_or_else(|e| panic!("after {what}: a good export failed: {e:?}"));
        good_sent += 8;
    };
    good(&s, "start");

    let good_msg = otlp_request("grpc-bad", &lines("x", 3)).encode_to_vec();
    let grpc = [("content-type", "application/grpc")];
    let grpc_gzip = [("content-type", "application/grpc"), ("grpc-encoding", "gzip")];
    // (what, headers, body, HTTP status, gRPC code, what the message says)
    type Case<'a> = (&'a str, &'a [(&'a str, &'a str)], Vec<u8>, u16, Code, &'a str);
    let cases: Vec<Case> = vec![
        (
            "bad protobuf",
            &grpc,
            frame(0, 4, b"\x0a\x05\x0a\x03"),
            200,
            Code::InvalidArgument,
            "decode Protobuf",
        ),
        (
            "a frame longer than its body",
            &grpc,
            {
                let mut f = frame(0, good_msg.len() as u32 + 50, &good_msg);
                f.truncate(f.len() - 3);
                f
            },
            200,
            Code::InvalidArgument,
            "EOF",
        ),
        (
            "no message at all",
            &grpc,
            Vec::new(),
            200,
            Code::InvalidArgument,
            "Missing request message",
        ),
        (
            "a message over --max-body-bytes",
            &grpc,
            frame(0, 200_000, &vec![0u8; 200_000]),
            200,
            Code::ResourceExhausted,
            "limit is: 100000 bytes (--max-body-bytes)",
        ),
        (
            "a gzip frame whose body is not gzip",
            &grpc_gzip,
            frame(1, 15, b"not gzip at all"),
            200,
            Code::InvalidArgument,
            "decompress",
        ),
        (
            "a truncated gzip frame",
            &grpc_gzip,
            {
                let mut z = gzip(&good_msg);
                z.truncate(z.len() / 2);
                frame(1, z.len() as u32, &z)
            },
            200,
            Code::InvalidArgument,
            "decompress",
        ),
        (
            "the compressed flag without grpc-encoding",
            &grpc,
            frame(1, good_msg.len() as u32, &good_msg),
            200,
            Code::InvalidArgument,
            "compressed-flag",
        ),
        (
            "an encoding the server does not take",
            &[("content-type", "application/grpc"), ("grpc-encoding", "br")],
            frame(1, good_msg.len() as u32, &good_msg),
            200,
            Code::Unimplemented,
            "br",
        ),
        (
            "JSON with a JSON content-type",
            &[("content-type", "application/json")],
            br#"{"resourceLogs": []}"#.to_vec(),
            415,
            Code::InvalidArgument,
            "content-type",
        ),
        (
            "a good frame with a text content-type",
            &[("content-type", "text/plain")],
            frame(0, good_msg.len() as u32, &good_msg),
            415,
            Code::InvalidArgument,
            "content-type",
        ),
        (
            "no content-type",
            &[],
            frame(0, good_msg.len() as u32, &good_msg),
            415,
            Code::InvalidArgument,
            "content-type",
        ),
        (
            "a source name with a control character",
            &grpc,
            {
                let m = otlp_request("bad\u{1}name", &lines("x", 3)).encode_to_vec();
                frame(0, m.len() as u32, &m)
            },
            200,
            Code::InvalidArgument,
            "source",
        ),
    ];
    let n_cases = cases.len();
    let mut oversize = 0;
    for (what, headers, body, http, code, says) in cases {
        let a = raw_grpc(&addr, headers, body);
        assert_eq!((a.http, a.code()), (http, code), "{what}: {a:?}");
        assert!(
            a.grpc_message.contains(says),
            "{what}: the message should say {says:?}: {a:?}"
        );
        oversize += u32::from(code == Code::ResourceExhausted);
        good(&s, what);
    }

    // The real client: a message over the limit, and a gzip bomb that is
    // small on the wire and over the limit once decompressed.
    let e = export(&addr, otlp_request("grpc-bad", &[("y".repeat(150_000))]), false).unwrap_err();
    assert_eq!(e.code(), Code::ResourceExhausted, "{e:?}");
    assert!(e.message().contains("100000 bytes"), "{e:?}");
    assert!(e.message().contains("(--max-body-bytes)"), "{e:?}");
    good(&s, "an oversize message from tonic");
    let bomb = otlp_request("grpc-bad", &vec!["z".repeat(10_000); 50]);
    assert!(gzip(&bomb.encode_to_vec()).len() < 10_000);
    let e = export(&addr, bomb, true).unwrap_err();
    assert_eq!(e.code(), Code::ResourceExhausted, "{e:?}");
    assert!(e.message().contains("100000 bytes"), "{e:?}");
    assert!(e.message().contains("(--max-body-bytes)"), "{e:?}");
    good(&s, "a gzip bomb from tonic");
    oversize += 2;

    // HTTP/1.1 on the gRPC port: the connection is closed, not left hanging.
    let mut c = std::net::TcpStream::connect(&addr).unwrap();
    c.set_read_timeout(Some(Duration::from_secs(20))).unwrap();
    c.write_all(b"POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 2\r\n\r\nhi")
        .unwrap();
    let mut rest = Vec::new();
    let r = c.read_to_end(&mut rest);
    assert!(
        r.as_ref()
            .map_or_else(|e| e.kind() == std::io::ErrorKind::ConnectionReset, |_| true),
        "the server closed (or reset) the connection, not a timeout: {r:?}"
    );
    good(&s, "HTTP/1.1 on the gRPC port");

    // Only the good lines were kept; every refusal was counted.
    assert_eq!(s.counted("grpc-good"), (good_sent, good_sent));
    assert_eq!(sources(&s), ["grpc-good"]);
    let bad = s.metric("logsieve_rejected_total{reason=\"bad_request\"}");
    let big = s.metric("logsieve_rejected_total{reason=\"oversize_request\"}");
    assert_eq!((bad + big) as usize, n_cases + 2, "bad {bad} oversize {big}");
    assert_eq!(big as u32, oversize);
    assert_eq!(
        s.metric("logsieve_lines_received_total{source=\"grpc-good\",protocol=\"otlp_grpc\"}"),
        good_sent as f64
    );
}

/// Regression: tonic answers a message over its limit with OUT_OF_RANGE,
/// which the OTLP specification lists as retryable, so an exporter that
/// follows it (the Collector's) resent a batch that can never fit until
/// its retry time ran out. Now RESOURCE_EXHAUSTED (retryable by the
/// specification only with RetryInfo, which it does not carry), naming the
/// flag, and counted.
#[test]
fn grpc_message_over_the_limit_got_out_of_range_which_otlp_exporters_retry() {
    let s = Server::start(&["--otlp-grpc", "127.0.0.1:0", "--max-body-bytes", "50000"]);
    let e = export(
        &s.addrs["otlp-grpc"],
        otlp_request("big", &["q".repeat(60_000)]),
        false,
    )
    .unwrap_err();
    assert_eq!(e.code(), Code::ResourceExhausted, "{e:?}");
    assert!(e.message().contains("--max-body-bytes"), "{e:?}");
    assert_eq!(
        s.metric("logsieve_rejected_total{reason=\"oversize_request\"}"),
        1.0
    );
}

/// Regression: a full queue answered an OTLP/gRPC export RESOURCE_EXHAUSTED
/// without RetryInfo, which the OTLP specification makes non-retryable, so
/// an exporter that follows it (the Collector's) dropped the batch instead
/// of retrying once the queue had room. Now UNAVAILABLE (retryable), and
/// the same export succeeds once the commit holding the queue is done.
#[test]
fn grpc_export_into_a_full_queue_got_resource_exhausted_which_otlp_exporters_drop() {
    let s = Server::start(&[
        "--otlp-grpc",
        "127.0.0.1:0",
        "--queue-lines",
        "1000",
        "--commit-interval-ms",
        "1500",
    ]);
    // 800 lines over HTTP hold the queue until their commit, 1.5 s later.
    let first = {
        let url = s.url("/v1/ingest?source=busy");
        let body = lines("x", 800).join("\n");
        std::thread::spawn(move || match Server::agent().post(&url).send_string(&body) {
            Ok(r) => r.status(),
            Err(ureq::Error::Status(code, _)) => code,
            Err(_) => 0,
        })
    };
    std::thread::sleep(Duration::from_millis(300));
    let addr = &s.addrs["otlp-grpc"];
    let e = export(addr, otlp_request("grpc-busy", &lines("g", 800)), false).unwrap_err();
    assert_eq!(e.code(), Code::Unavailable, "{e:?}");
    assert!(e.message().contains("queue is full"), "{e:?}");
    assert_eq!(first.join().unwrap(), 200);
    // The retry an exporter makes is taken.
    export(addr, otlp_request("grpc-busy", &lines("g", 800)), false).unwrap();
    assert_eq!(s.counted("grpc-busy"), (800, 800));
    assert!(s.metric("logsieve_rejected_total{reason=\"queue_full\"}") >= 800.0);
}

/// Regression: the gRPC port read any request as gRPC frames whatever its
/// content-type, so a well-framed body sent as text/plain was taken, and a
/// JSON body got INTERNAL "invalid compression flag: 123". Now 415 with
/// INVALID_ARGUMENT saying the content-type is not gRPC, nothing kept.
#[test]
fn grpc_request_with_a_non_grpc_content_type_was_read_as_grpc_frames() {
    let s = Server::start(&["--otlp-grpc", "127.0.0.1:0"]);
    let m = otlp_request("typed", &lines("t", 4)).encode_to_vec();
    let a = raw_grpc(
        &s.addrs["otlp-grpc"],
        &[("content-type", "text/plain")],
        frame(0, m.len() as u32, &m),
    );
    assert_eq!((a.http, a.code()), (415, Code::InvalidArgument), "{a:?}");
    assert!(a.grpc_message.contains("\"text/plain\" is not gRPC"), "{a:?}");
    assert!(sources(&s).is_empty());
    // The same frame as gRPC is taken, with a subtype, in any case.
    for ctype in ["application/grpc", "application/grpc+proto", "Application/GRPC"] {
        let a = raw_grpc(
            &s.addrs["otlp-grpc"],
            &[("content-type", ctype)],
            frame(0, m.len() as u32, &m),
        );
        assert_eq!((a.http, a.code()), (200, Code::Ok), "{ctype}: {a:?}");
    }
    assert_eq!(s.counted("typed"), (12, 12));
}

/// Regression: a gRPC request tonic refused before the handler ran (bad
/// protobuf, bad gzip, over the limit) was in no metric, where the same
/// body on the HTTP port counts in logsieve_rejected_total; and its code was
/// INTERNAL, a fault of the server, where the client's request is wrong.
#[test]
fn grpc_refusals_before_the_handler_were_not_counted_and_said_internal() {
    let s = Server::start(&["--otlp-grpc", "127.0.0.1:0"]);
    let a = raw_grpc(
        &s.addrs["otlp-grpc"],
        &[("content-type", "application/grpc"), ("grpc-encoding", "gzip")],
        frame(1, 4, b"nope"),
    );
    assert_eq!((a.http, a.code()), (200, Code::InvalidArgument), "{a:?}");
    assert_eq!(s.metric("logsieve_rejected_total{reason=\"bad_request\"}"), 1.0);
}

// ---- compressed bodies on every HTTP endpoint that decodes them ---------

fn zstd(data: &[u8]) -> Vec<u8> {
    zstd::encode_all(data, 3).unwrap()
}

/// `data` compressed with `encoding` (`gzip` or `zstd`).
fn compress(encoding: &str, data: &[u8]) -> Vec<u8> {
    match encoding {
        "gzip" => gzip(data),
        "zstd" => zstd(data),
        other => panic!("no encoder for {other}"),
    }
}

/// Every endpoint that honours Content-Encoding, with a body it takes:
/// (path, content-type, body, source the lines land in, lines; 0 for
/// analyze, which keeps nothing).
fn decoding_endpoints() -> Vec<(&'static str, &'static str, Vec<u8>, &'static str, u64)> {
    vec![
        (
            "/v1/ingest?source=enc-text",
            "text/plain",
            b"enc line one 1\nenc line two 2\n".to_vec(),
            "enc-text",
            2,
        ),
        (
            "/v1/ingest?source=enc-ndjson",
            "application/x-ndjson",
            b"{\"line\":\"enc json 1\"}\n{\"line\":\"enc json 2\"}\n{\"line\":\"enc json 3\"}\n".to_vec(),
            "enc-ndjson",
            3,
        ),
        (
            "/v1/analyze?source=enc-analyze",
            "text/plain",
            b"enc analyzed 1\n".to_vec(),
            "enc-analyze",
            0,
        ),
        (
            "/loki/api/v1/push",
            "application/json",
            br#"{"streams":[{"stream":{"service_name":"enc-loki"},"values":[["1700000000000000000","enc loki 1"]]}]}"#
                .to_vec(),
            "enc-loki",
            1,
        ),
        (
            "/v1/logs",
            "application/json",
            br#"{"resourceLogs":[{"resource":{"attributes":[{"key":"service.name","value":{"stringValue":"enc-otlp"}}]},"scopeLogs":[{"logRecords":[{"body":{"stringValue":"enc otlp 1"}}]}]}]}"#
                .to_vec(),
            "enc-otlp",
            1,
        ),
    ]
}

/// gzip and zstd, on /v1/ingest (text and NDJSON), /v1/analyze, Loki push
/// and OTLP/HTTP: a good body is taken; a truncated one and one that is not
/// in the encoding it names get 400 naming the encoding; a bomb (tiny on the
/// wire, past --max-body-bytes once decompressed) gets 413. The limit is on
/// the decompressed size: a body that decompresses to exactly the limit is
/// taken, one byte more is 413, though both are a few hundred bytes on the wire.
#[test]
fn zstd_and_gzip_bodies_truncated_mislabelled_or_bombs_get_400_or_413_on_every_endpoint() {
    const MAX: usize = 100_000;
    let s = Server::start(&["--max-body-bytes", &MAX.to_string()]);
    let (mut bad, mut big) = (0.0, 0.0);
    let mut kept = std::collections::BTreeMap::<&str, u64>::new();
    for encoding in ["gzip", "zstd"] {
        for (path, ctype, body, source, n) in decoding_endpoints() {
            let post = |b: &[u8]| {
                s.post_with(
                    path,
                    &[("Content-Type", ctype), ("Content-Encoding", encoding)],
                    b,
                )
            };
            let ctx = format!("{encoding} {path} {ctype}");
            let (code, text) = post(&compress(encoding, &body));
            assert!(code == 200 || code == 204, "{ctx}: a good body: {code} {text}");
            *kept.entry(source).or_default() += n;

            let mut cut = compress(encoding, &body.repeat(20));
            cut.truncate(cut.len() / 2);
            let (code, text) = post(&cut);
            assert_eq!(code, 400, "{ctx}: truncated: {text}");
            assert!(text.contains(&format!("bad {encoding} body")), "{ctx}: {text}");

            let (code, text) = post(&body);
            assert_eq!(code, 400, "{ctx}: not {encoding}: {text}");
            assert!(text.contains(&format!("bad {encoding} body")), "{ctx}: {text}");
            bad += 2.0;

            let bomb = compress(encoding, &vec![b'a'; 20 * MAX]);
            assert!(bomb.len() < MAX / 10, "{ctx}: the bomb is small on the wire");
            let (code, text) = post(&bomb);
            assert_eq!(code, 413, "{ctx}: a bomb: {text}");
            assert!(
                text.contains(&format!(
                    "{encoding} body exceeds {MAX} bytes after decompression"
                )),
                "{ctx}: {text}"
            );
            big += 1.0;
            assert!(s.healthy(), "{ctx}");
        }
        // Exactly the limit once decompressed, then one byte more.
        let at_limit: Vec<u8> = (0..MAX / 100)
            .flat_map(|i| format!("{:<99}\n", format!("limit line {i}")).into_bytes())
            .collect();
        assert_eq!(at_limit.len(), MAX);
        let headers = [("Content-Type", "text/plain"), ("Content-Encoding", encoding)];
        let z = compress(encoding, &at_limit);
        assert!(z.len() < MAX / 10);
        let (code, text) = s.post_with("/v1/ingest?source=enc-limit", &headers, &z);
        assert_eq!(code, 200, "{encoding} at the limit: {text}");
        *kept.entry("enc-limit").or_default() += (MAX / 100) as u64;
        let mut over = at_limit.clone();
        over.push(b'x');
        let (code, text) = s.post_with(
            "/v1/ingest?source=enc-limit",
            &headers,
            &compress(encoding, &over),
        );
        assert_eq!(code, 413, "{encoding} one byte over: {text}");
        big += 1.0;
    }
    // Only the good bodies were kept, and every refusal was counted.
    for (source, n) in &kept {
        if *n > 0 {
            assert_eq!(s.counted(source), (*n, *n), "{source}");
        }
    }
    assert!(!sources(&s).contains(&"enc-analyze".to_string()));
    assert_eq!(s.metric("logsieve_rejected_total{reason=\"bad_request\"}"), bad);
    assert_eq!(
        s.metric("logsieve_rejected_total{reason=\"oversize_request\"}"),
        big
    );
    assert_eq!(s.ingest("after", &lines("a", 10)), 200);
}

// ---- syslog over UDP and TCP, the Unix socket ---------------------------

/// The sum of every sample of `name` whose labels contain `labels_contain`.
fn metric_sum(s: &Server, name: &str, labels_contain: &str) -> f64 {
    let text = Server::agent()
        .get(&s.url("/metrics"))
        .call()
        .unwrap()
        .into_string()
        .unwrap();
    text.lines()
        .filter(|l| l.starts_with(&format!("{name}{{")) && l.contains(labels_contain))
        .filter_map(|l| l.rsplit(' ').next()?.parse::<f64>().ok())
        .sum()
}

/// Lines received over `protocol` (every source) and lines or requests
/// refused (every reason), once their sum reaches `sent` and every line
/// received is committed (bounded wait: sockets have no acknowledgement).
fn accounted(s: &Server, protocol: &str, sent: u64) -> (u64, u64) {
    let mut got = (0, 0);
    for _ in 0..400 {
        got = (
            metric_sum(
                s,
                "logsieve_lines_received_total",
                &format!("protocol=\"{protocol}\""),
            ) as u64,
            metric_sum(s, "logsieve_rejected_total", "") as u64,
        );
        let all = metric_sum(s, "logsieve_lines_received_total", "");
        if got.0 + got.1 >= sent && s.metric("logsieve_lines_committed_total") >= all {
            break;
        }
        std::thread::sleep(Duration::from_millis(25));
    }
    got
}

/// Every source's lines in the store, and that its template counts add up
/// to them; the store's total.
fn store_total(s: &Server) -> u64 {
    sources(s)
        .iter()
        .map(|src| {
            let (sum, lines) = s.counted(&urlencode(src));
            assert_eq!(sum, lines, "{src:?}: template counts add up to its lines");
            lines
        })
        .sum()
}

fn urlencode(v: &str) -> String {
    v.bytes()
        .map(|b| {
            if b.is_ascii_alphanumeric() || b"-_.~".contains(&b) {
                (b as char).to_string()
            } else {
                format!("%{b:02X}")
            }
        })
        .collect()
}

/// Datagrams a sender may get wrong, and a few it gets right; with
/// `--max-line-bytes 1000`.
fn odd_syslog_messages() -> Vec<Vec<u8>> {
    let mut big = b"<13>Nov 23 10:00:00 host udpbig[1]: ".to_vec();
    big.resize(65_000, b'x');
    vec![
        b"<13>Nov 23 10:00:00 host udpok[1]: a good message".to_vec(),
        b"<14>1 2026-11-23T10:00:00Z host udp5424 7 - - good 5424".to_vec(),
        b"<13>Nov 23 10:00:00 host udputf[1]: caf\xe9 \xff\xfe bytes".to_vec(),
        Vec::new(),
        b"\n".to_vec(),
        b"\x00\x01\x02 \xff binary junk \x7f".to_vec(),
        b"<14>1 2026-11-23T10:00:00Z hos".to_vec(),
        b"<999>hello".to_vec(),
        b"<14>1 not-a-date host app 7 - - bad timestamp".to_vec(),
        b"<14>1 2026-11-23T10:00:00Z host app 7 - [unclosed sd".to_vec(),
        big,
    ]
}

/// Each odd datagram is kept as a line (invalid UTF-8 and the cut one
/// flagged, the unparsable ones under `syslog` and counted as unparsed) or
/// dropped and counted: sent = received + refused, and the store holds
/// every received line. Then the service is healthy and takes more.
#[test]
fn syslog_udp_malformed_datagrams_are_each_kept_or_counted() {
    let s = Server::start(&["--syslog-udp", "127.0.0.1:0", "--max-line-bytes", "1000"]);
    let addr = s.addrs["syslog-udp"].clone();
    let u = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
    let sent = odd_syslog_messages();
    for d in &sent {
        u.send_to(d, &addr).unwrap();
    }
    let (received, refused) = accounted(&s, "syslog_udp", sent.len() as u64);
    assert_eq!(received + refused, sent.len() as u64, "sent = received + refused");
    assert_eq!(store_total(&s), received, "every received line is in the store");
    // None was refused: each is a line, as the module says.
    assert_eq!(refused, 0);
    assert_eq!(
        s.metric("logsieve_lines_flagged_total"),
        3.0,
        "two invalid UTF-8, one cut"
    );
    assert_eq!(s.metric("logsieve_syslog_unparsed_total"), 4.0);
    assert!(s.healthy());
    u.send_to(b"<13>Nov 23 10:00:01 host udpok[1]: after", &addr)
        .unwrap();
    assert_eq!(accounted(&s, "syslog_udp", sent.len() as u64 + 1).0, received + 1);
    assert_eq!(s.counted("udpok"), (2, 2));
}

/// The same messages over TCP (newline-framed; the empty ones are no
/// frame): each kept or counted, then the connection and the service go on.
#[test]
fn syslog_tcp_malformed_messages_are_each_kept_or_counted() {
    let s = Server::start(&["--syslog-tcp", "127.0.0.1:0", "--max-line-bytes", "1000"]);
    let sent: Vec<Vec<u8>> = odd_syslog_messages()
        .into_iter()
        .filter(|m| !m.is_empty() && m != b"\n")
        .map(|m| m.into_iter().filter(|&b| b != 0).collect())
        .collect();
    let mut c = std::net::TcpStream::connect(&s.addrs["syslog-tcp"]).unwrap();
    for m in &sent {
        c.write_all(m).unwrap();
        c.write_all(b"\n").unwrap();
    }
    c.write_all(b"<13>Nov 23 10:00:01 host tcpok[1]: after\n")
        .unwrap();
    drop(c);
    let n = sent.len() as u64 + 1;
    let (received, refused) = accounted(&s, "syslog_tcp", n);
    assert_eq!(received + refused, n, "sent = received + refused");
    assert_eq!(store_total(&s), received);
    // The frame over --max-line-bytes is skipped and counted (TCP's rule).
    assert_eq!(
        s.metric("logsieve_rejected_total{reason=\"syslog_frame_too_large\"}"),
        1.0
    );
    assert_eq!(refused, 1);
    assert_eq!(s.metric("logsieve_lines_flagged_total"), 2.0, "invalid UTF-8");
    assert_eq!(s.counted("tcpok"), (1, 1));
    assert!(s.healthy());
}

/// The kernel's drop count of the UDP socket bound to `addr` (the last
/// column of /proc/net/udp): datagrams the service never saw.
fn kernel_udp_drops(addr: &str) -> u64 {
    let port = addr.rsplit(':').next().unwrap().parse::<u16>().unwrap();
    let want = format!(":{port:04X}");
    std::fs::read_to_string("/proc/net/udp")
        .unwrap()
        .lines()
        .skip(1)
        .find(|l| l.split_whitespace().nth(1).is_some_and(|a| a.ends_with(&want)))
        .and_then(|l| l.split_whitespace().last()?.parse().ok())
        .unwrap_or_else(|| panic!("no UDP socket on port {port} in /proc/net/udp"))
}

/// Regression: the UDP task queued every datagram already waiting (up to
/// 1,024) as one job; with --queue-lines below that, the job was refused
/// whole (413, "more lines than the queue holds") and its datagrams were
/// lost with a log line and no metric. Now jobs hold at most the queue's
/// capacity: each datagram is kept or counted as `queue_full`.
#[test]
fn syslog_udp_burst_over_the_queue_capacity_was_lost_uncounted() {
    let s = Server::start(&["--syslog-udp", "127.0.0.1:0", "--queue-lines", "16"]);
    let addr = s.addrs["syslog-udp"].clone();
    let u = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
    // Stopped, the service finds all of them waiting when it resumes (100
    // small datagrams fit the default socket buffer many times over).
    s.signal("-STOP");
    for i in 0..100 {
        u.send_to(
            format!("<13>Nov 23 10:00:00 host burst[1]: message {i}").as_bytes(),
            &addr,
        )
        .unwrap();
    }
    s.signal("-CONT");
    let (received, refused) = accounted(&s, "syslog_udp", 100);
    assert_eq!(kernel_udp_drops(&addr), 0, "the kernel dropped none");
    assert_eq!(received + refused, 100, "received {received} refused {refused}");
    assert_eq!(
        s.metric("logsieve_rejected_total{reason=\"queue_full\"}") as u64,
        refused
    );
    assert!(received >= 1);
    assert_eq!(s.counted("burst"), (received, received));
}

/// Regression: a TCP or Unix socket chunk (64 KiB) with more lines than
/// --queue-lines was queued as one job, refused whole (413) and lost with
/// a log line and no metric. Now it is queued in pieces that fit, and the
/// connection waits for room between them: every line is kept.
#[test]
fn syslog_tcp_and_unix_chunk_with_more_lines_than_the_queue_was_lost_uncounted() {
    let dir = tempfile::tempdir().unwrap();
    let sock = dir.path().join("in.sock");
    let s = Server::start(&[
        "--syslog-tcp",
        "127.0.0.1:0",
        "--unix-socket",
        sock.to_str().unwrap(),
        "--unix-source",
        "unixburst",
        "--queue-lines",
        "16",
    ]);
    let body: String = (0..100)
        .map(|i| format!("<13>Nov 23 10:00:00 host tcpburst[1]: message {i}\n"))
        .collect();
    std::net::TcpStream::connect(&s.addrs["syslog-tcp"])
        .unwrap()
        .write_all(body.as_bytes())
        .unwrap();
    std::os::unix::net::UnixStream::connect(&sock)
        .unwrap()
        .write_all(body.as_bytes())
        .unwrap();
    assert_eq!(accounted(&s, "syslog_tcp", 100), (100, 0));
    assert_eq!(accounted(&s, "unix", 100), (100, 0));
    assert_eq!(s.counted("tcpburst"), (100, 100));
    assert_eq!(s.counted("unixburst"), (100, 100));
}

/// Regression: a Unix socket line longer than --max-line-bytes was queued
/// each time the bytes waiting passed the limit, so one long line became
/// one cut line per read (a 200 KB line: four lines). Now it is one line,
/// cut and flagged, its rest skipped to its newline: the same lines and
/// flags as the same bytes posted as text to /v1/ingest, however the
/// sender splits its writes.
#[test]
fn unix_socket_line_longer_than_max_line_bytes_became_several_lines() {
    let dir = tempfile::tempdir().unwrap();
    let sock = dir.path().join("in.sock");
    let s = Server::start(&[
        "--unix-socket",
        sock.to_str().unwrap(),
        "--unix-source",
        "long",
        "--max-line-bytes",
        "1000",
    ]);
    let mut body = Vec::new();
    for l in [
        vec![b'a'; 1000],
        vec![b'b'; 1001],
        [vec![b'c'; 1000], b"\r".to_vec()].concat(),
        vec![b'd'; 200_000],
        b"after the long line".to_vec(),
        b"caf\xe9 bytes".to_vec(),
        vec![b'e'; 70_000],
        b"last".to_vec(),
    ] {
        body.extend(l);
        body.push(b'\n');
    }
    // At the end, without a newline: cut at the end of the stream.
    body.extend(vec![b'f'; 5000]);
    let (code, text) = s.post("/v1/ingest?source=reference", "text/plain", &body);
    assert_eq!(code, 200, "{text}");
    let reference = s.counted("reference");
    assert_eq!(reference, (9, 9));
    let flagged_ref = s.metric("logsieve_lines_flagged_total");
    assert_eq!(flagged_ref, 5.0, "b, d, e, f cut; café invalid UTF-8");
    // One write, then writes of a few sizes around the limit, apart, so
    // the service reads the long lines in many pieces.
    for (round, piece) in [body.len(), 7777, 999, 1001].into_iter().enumerate() {
        let mut c = std::os::unix::net::UnixStream::connect(&sock).unwrap();
        for p in body.chunks(piece) {
            c.write_all(p).unwrap();
            std::thread::sleep(Duration::from_micros(200));
        }
        drop(c);
        let want = 9 * (round as u64 + 1);
        let ctx = format!("writes of {piece} bytes");
        assert_eq!(accounted(&s, "unix", want), (want, 0), "{ctx}");
        assert_eq!(s.counted("long"), (want, want), "{ctx}");
        assert_eq!(
            s.metric("logsieve_lines_flagged_total"),
            flagged_ref * (round as f64 + 2.0),
            "{ctx}"
        );
    }
}

/// Regression: syslog over TCP and UDP took the APP-NAME or TAG as the
/// source name unchecked, so a message could create a source the HTTP API
/// refuses to name (control characters, over 256 characters). Such a
/// message now goes to source `syslog`.
#[test]
fn syslog_app_name_that_is_no_source_name_became_a_source() {
    let s = Server::start(&["--syslog-udp", "127.0.0.1:0", "--syslog-tcp", "127.0.0.1:0"]);
    let long = format!("<13>Nov 23 10:00:00 host {}: long tag", "t".repeat(300));
    let msgs: [&[u8]; 3] = [
        b"<13>Nov 23 10:00:00 host ta\x01g[1]: control in a tag",
        b"<14>1 2026-11-23T10:00:00Z host ap\x01p 7 - - control in an APP-NAME",
        long.as_bytes(),
    ];
    let u = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
    let mut c = std::net::TcpStream::connect(&s.addrs["syslog-tcp"]).unwrap();
    for m in msgs {
        u.send_to(m, &s.addrs["syslog-udp"]).unwrap();
        c.write_all(m).unwrap();
        c.write_all(b"\n").unwrap();
    }
    drop(c);
    assert_eq!(accounted(&s, "syslog_udp", 3), (3, 0));
    assert_eq!(accounted(&s, "syslog_tcp", 3), (3, 0));
    assert_eq!(sources(&s), ["syslog"]);
    assert_eq!(s.counted("syslog"), (6, 6));
}

// ---- the JSON formats: invalid UTF-8, timestamps of the wrong kind -------

/// `body` with the first `XX` replaced by the bytes FF FE (invalid UTF-8).
fn with_invalid_utf8(body: &str) -> Vec<u8> {
    let mut b = body.as_bytes().to_vec();
    let i = b.windows(2).position(|w| w == b"XX").expect("an XX to replace");
    b[i..i + 2].copy_from_slice(b"\xff\xfe");
    b
}

/// OTLP/HTTP JSON of one record (`record` is its JSON object) from `pj`.
fn otlp_json(record: &str) -> String {
    format!(
        r#"{{"resourceLogs":[{{"resource":{{"attributes":[{{"key":"service.name","value":{{"stringValue":"pj"}}}}]}},"scopeLogs":[{{"logRecords":[{record}]}}]}}]}}"#
    )
}

/// Loki push JSON of one stream of `pj` with `values`.
fn loki_json(values: &str) -> String {
    format!(r#"{{"streams":[{{"stream":{{"service_name":"pj"}},"values":[{values}]}}]}}"#)
}

/// JSON bodies must be UTF-8, and their timestamps of the documented
/// kinds: each mistake gets 400 saying where and what, nothing of the body
/// is kept, the service stays healthy. Timestamps at the ends of their
/// ranges are taken (a timestamp is a field; counts use arrival time).
#[test]
fn json_bodies_with_invalid_utf8_or_bad_timestamps_get_a_400_that_says_what() {
    let s = Server::start(&[]);
    let otlp = "/v1/logs";
    let loki = "/loki/api/v1/push";
    let ndjson = "/v1/ingest?source=pj";
    let json = "application/json";
    let nd = "application/x-ndjson";
    // Per endpoint: (body, what the 400 says).
    let otlp_cases: Vec<(Vec<u8>, &str)> = vec![
        (
            with_invalid_utf8(&otlp_json(r#"{"body":{"stringValue":"cafXX"}}"#)),
            "invalid unicode",
        ),
        (
            otlp_json("{\"body\":{\"stringValue\":\"caf\u{1}\"}}").into_bytes(),
            "control character",
        ),
        (
            otlp_json(r#"{"timeUnixNano":"abc"}"#).into_bytes(),
            "invalid digit",
        ),
        (otlp_json(r#"{"timeUnixNano":true}"#).into_bytes(), "boolean"),
        (otlp_json(r#"{"timeUnixNano":-5}"#).into_bytes(), "-5"),
        (
            otlp_json(r#"{"timeUnixNano":"18446744073709551616"}"#).into_bytes(),
            "OTLP",
        ),
    ];
    let loki_cases: Vec<(Vec<u8>, &str)> = vec![
        (
            with_invalid_utf8(&loki_json(r#"["1700000000000000000","cafXX"]"#)),
            "invalid unicode",
        ),
        (
            loki_json(r#"["abc","x"]"#).into_bytes(),
            "timestamp \"abc\" is not an integer",
        ),
        (
            loki_json(r#"["","x"]"#).into_bytes(),
            "timestamp \"\" is not an integer",
        ),
        (loki_json(r#"["1.5","x"]"#).into_bytes(), "timestamp \"1.5\""),
        (loki_json(r#"[1.5,"x"]"#).into_bytes(), "floating point"),
        (loki_json(r#"[true,"x"]"#).into_bytes(), "boolean"),
        (loki_json(r#"[null,"x"]"#).into_bytes(), "Loki"),
        (
            loki_json(r#"["99999999999999999999","x"]"#).into_bytes(),
            "99999999999999999999",
        ),
    ];
    let ndjson_cases: Vec<(Vec<u8>, &str)> = [
        (
            r#"{"line":"x","timestamp":true}"#,
            "line 1: invalid type: boolean",
        ),
        (
            "{\"line\":\"x\"}\n{\"line\":\"x\",\"timestamp\":{}}",
            "line 2: invalid type: map",
        ),
        (r#"{"line":"x","timestamp":[1]}"#, "invalid type: sequence"),
        (r#"{"line":"x","timestamp":"yesterday"}"#, "is not RFC 3339"),
        (
            r#"{"line":"x","timestamp":"2026-13-01T00:00:00Z"}"#,
            "is not RFC 3339",
        ),
        (r#"{"line":"x","timestamp":"NaN"}"#, "is not RFC 3339"),
        (
            r#"{"line":"x","timestamp":1e300}"#,
            "1e300 seconds is out of range",
        ),
        (
            r#"{"line":"x","timestamp":18446744073709551615}"#,
            "ms is out of range",
        ),
    ]
    .into_iter()
    .map(|(b, says)| (b.as_bytes().to_vec(), says))
    .collect();
    let refused: Vec<(&str, &str, Vec<u8>, &str)> = [
        (otlp, json, otlp_cases),
        (loki, json, loki_cases),
        (ndjson, nd, ndjson_cases),
    ]
    .into_iter()
    .flat_map(|(path, ctype, cases)| cases.into_iter().map(move |(b, says)| (path, ctype, b, says)))
    .collect();
    let n = refused.len();
    for (path, ctype, body, says) in refused {
        let (code, text) = s.post(path, ctype, &body);
        let ctx = format!("{path} {}", String::from_utf8_lossy(&body));
        assert_eq!(code, 400, "{ctx}: {text}");
        let v: serde_json::Value = serde_json::from_str(&text).unwrap();
        let error = v["error"].as_str().unwrap();
        assert!(error.contains(says), "{ctx}: should say {says:?}: {error}");
        assert!(error.len() < 300, "{ctx}: a short message: {error}");
        assert!(s.healthy(), "{ctx}");
    }
    assert!(sources(&s).is_empty(), "nothing of a refused body is kept");
    assert_eq!(
        s.metric("logsieve_rejected_total{reason=\"bad_request\"}"),
        n as f64
    );
    // At the ends of their ranges: taken.
    let taken: Vec<(&str, &str, Vec<u8>)> = vec![
        (otlp, json, otlp_json(r#"{"timeUnixNano":"18446744073709551615","body":{"stringValue":"x"}}"#).into_bytes()),
        (otlp, json, otlp_json(r#"{"timeUnixNano":"0","body":{"stringValue":"x"}}"#).into_bytes()),
        (loki, json, loki_json(r#"["9223372036854775807","x"],["-9223372036854775808","x"],["-1","x"]"#).into_bytes()),
        (ndjson, nd, b"{\"line\":\"x\",\"timestamp\":9223372036854775807}\n{\"line\":\"x\",\"timestamp\":-9223372036854775808}\n{\"line\":\"x\",\"timestamp\":-1.5}".to_vec()),
    ];
    for (path, ctype, body) in taken {
        let (code, text) = s.post(path, ctype, &body);
        assert!(
            code == 200 || code == 204,
            "{path} {}: {code} {text}",
            String::from_utf8_lossy(&body)
        );
    }
    assert_eq!(s.counted("pj"), (8, 8));
    assert_eq!(s.ingest("after", &lines("a", 10)), 200);
}

/// OTLP protobuf strings must be UTF-8 (protobuf's rule): a body string
/// with invalid UTF-8 is refused, on the HTTP port (400) and over gRPC
/// (INVALID_ARGUMENT); the same bytes as a bytes body are a line, taken and
/// flagged, as the ingest crate documents.
#[test]
fn otlp_protobuf_invalid_utf8_string_is_refused_and_a_bytes_body_is_flagged() {
    let s = Server::start(&["--otlp-grpc", "127.0.0.1:0"]);
    let addr = s.addrs["otlp-grpc"].clone();
    let mut bad = otlp_request("pb", &["cafXX".to_string()]).encode_to_vec();
    let i = bad.windows(2).position(|w| w == b"XX").unwrap();
    bad[i..i + 2].copy_from_slice(b"\xff\xfe");
    let (code, text) = s.post("/v1/logs", "application/x-protobuf", &bad);
    assert_eq!(code, 400, "{text}");
    assert!(text.contains("UTF-8"), "{text}");
    let a = raw_grpc(
        &addr,
        &[("content-type", "application/grpc")],
        frame(0, bad.len() as u32, &bad),
    );
    assert_eq!((a.http, a.code()), (200, Code::InvalidArgument), "{a:?}");
    assert!(a.grpc_message.contains("UTF-8"), "{a:?}");
    assert!(sources(&s).is_empty());

    let mut req = otlp_request("pb", &["x".to_string()]);
    req.resource_logs[0].scope_logs[0].log_records[0].body = Some(AnyValue {
        value: Some(any_value::Value::BytesValue(b"caf\xe9 \xff bytes".to_vec())),
    });
    let (code, text) = s.post("/v1/logs", "application/x-protobuf", &req.encode_to_vec());
    assert_eq!(code, 200, "{text}");
    export(&addr, req, false).unwrap();
    assert_eq!(s.counted("pb"), (2, 2));
    assert_eq!(s.metric("logsieve_lines_flagged_total"), 2.0);
    assert!(s.healthy());
}
