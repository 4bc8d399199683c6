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
            "100000",
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
    assert!(e.message().contains("100000"), "{e:?}");
    good(&s, "an oversize message from tonic");
    let bomb = otlp_request("grpc-bad", &vec!["z".repeat(10_000); 50]);
    assert!(gzip(&bomb.encode_to_vec()).len() < 10_000);
    let e = export(&addr, bomb, true).unwrap_err();
    assert_eq!(e.code(), Code::ResourceExhausted, "{e:?}");
    assert!(e.message().contains("100000"), "{e:?}");
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
/// which OTLP exporters retry (the OTel Python SDK and the Collector both
/// list it as retryable), so a batch that can never fit was sent again and
/// again. Now RESOURCE_EXHAUSTED (not retried without RetryInfo), naming
/// the flag, and counted.
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
    // The same frame as gRPC is taken.
    let a = raw_grpc(
        &s.addrs["otlp-grpc"],
        &[("content-type", "application/grpc")],
        frame(0, m.len() as u32, &m),
    );
    assert_eq!((a.http, a.code()), (200, Code::Ok), "{a:?}");
    assert_eq!(s.counted("typed"), (4, 4));
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
