//! OTLP logs: `ExportLogsServiceRequest` over OTLP/HTTP (protobuf or JSON) and, through
//! [`entries_from_request`], over gRPC (the service decodes that one with `tonic`).
//!
//! Mapping of a `LogRecord` to an [`Entry`]:
//! * `line`: the body; a string body as its bytes, a bytes body as the raw bytes, any other
//!   `AnyValue` as compact JSON (kvlist → object, array → array, bytes → base64 string,
//!   non-finite doubles → `"NaN"`/`"inf"` strings); no body → empty line.
//! * `source`: the resource attribute `service.name` (a string value).
//! * `timestamp_ms`: `time_unix_nano`, else `observed_time_unix_nano`, else none.
//! * `fields`, in this order: `severity_text` (the record's text, else the severity number's
//!   name such as `WARN2`), `severity_number` (when non-zero), the resource attributes,
//!   `scope.name` and `scope.version` (when set), the record's attributes, `event_name`,
//!   `trace_id` and `span_id` (lowercase hex, when set). Attribute keys are kept as sent;
//!   kvlist values are flattened with dotted keys (`http` → `{method: GET}` gives
//!   `http.method`), arrays are compact JSON, bytes base64, others their text.
//!
//! The JSON encoding is the OTLP/HTTP one (lowerCamelCase keys, 64-bit integers as strings or
//! numbers, enums as integers, hex trace/span ids); unknown keys are ignored as the spec says.

use crate::{Entry, IngestError, Limits, Result};
use base64::Engine as _;
use opentelemetry_proto::tonic::common::v1::{any_value::Value, AnyValue, KeyValue};
use serde::de::{self, DeserializeSeed, Deserializer, MapAccess, SeqAccess, Visitor};
use std::fmt;
use std::fmt::Write as _;

pub use opentelemetry_proto::tonic::collector::logs::v1::ExportLogsServiceRequest;

/// Deepest `AnyValue` nesting rendered; deeper values become `"…"`.
const MAX_DEPTH: usize = 64;

/// Parses an OTLP/HTTP logs body by its `Content-Type`: `application/x-protobuf` (or none)
/// is protobuf, `application/json` is JSON. Undo `Content-Encoding` first with
/// [`crate::body::decode_content`].
pub fn parse(content_type: Option<&str>, body: &[u8], limits: &Limits) -> Result<Vec<Entry>> {
    let mime = content_type
        .unwrap_or("")
        .split(';')
        .next()
        .unwrap_or("")
        .trim()
        .to_ascii_lowercase();
    match mime.as_str() {
        "application/json" => parse_json(body, limits),
        "" | "application/x-protobuf" | "application/protobuf" => parse_protobuf(body, limits),
        _ => Err(IngestError::UnsupportedContentType {
            content_type: crate::clip(content_type.unwrap_or("")),
            endpoint: "OTLP logs",
            accepted: "application/x-protobuf, application/json",
        }),
    }
}

/// Decodes a protobuf `ExportLogsServiceRequest` and maps it. The record count is checked
/// against `max_entries` on the wire, before decoding.
pub fn parse_protobuf(body: &[u8], limits: &Limits) -> Result<Vec<Entry>> {
    let req = decode_protobuf(body, limits)?;
    entries_from_request(req, limits)
}

/// Decodes a protobuf `ExportLogsServiceRequest` (with the size and count checks of
/// [`parse_protobuf`]) without mapping it.
pub fn decode_protobuf(body: &[u8], limits: &Limits) -> Result<ExportLogsServiceRequest> {
    const WHAT: &str = "OTLP ExportLogsServiceRequest";
    if body.len() > limits.max_body_bytes {
        return Err(IngestError::BodyTooLarge {
            len: body.len(),
            max: limits.max_body_bytes,
        });
    }
    let n = crate::wire::count_path(body, &[1, 2, 2], limits.max_entries).map_err(|(at, why)| {
        IngestError::Protobuf {
            what: WHAT,
            reason: format!("{why} at byte {at}"),
        }
    })?;
    if n > limits.max_entries {
        return Err(too_many(limits));
    }
    <ExportLogsServiceRequest as prost::Message>::decode(body).map_err(|e| IngestError::Protobuf {
        what: WHAT,
        reason: e.to_string(),
    })
}

/// Parses an OTLP/JSON `ExportLogsServiceRequest` and maps it. The record count is checked
/// against `max_entries` by a streaming pre-scan, before the records are built.
pub fn parse_json(body: &[u8], limits: &Limits) -> Result<Vec<Entry>> {
    if body.len() > limits.max_body_bytes {
        return Err(IngestError::BodyTooLarge {
            len: body.len(),
            max: limits.max_body_bytes,
        });
    }
    // Pre-scan: counts resourceLogs[*].scopeLogs[*].logRecords[*]. Any other error is left
    // for the full parse below to report.
    let mut count = Count {
        n: 0,
        max: limits.max_entries,
    };
    let mut de = serde_json::Deserializer::from_slice(body);
    let _ = CountSeed {
        path: &["resourceLogs", "scopeLogs", "logRecords"],
        c: &mut count,
    }
    .deserialize(&mut de);
    if count.n > limits.max_entries {
        return Err(too_many(limits));
    }
    let req: ExportLogsServiceRequest = serde_json::from_slice(body).map_err(|e| IngestError::Json {
        what: "OTLP logs",
        reason: crate::json_reason(&e),
    })?;
    entries_from_request(req, limits)
}

fn too_many(limits: &Limits) -> IngestError {
    IngestError::TooManyEntries {
        what: "OTLP logs request",
        max: limits.max_entries,
    }
}

/// Maps a decoded request (from any transport) to entries, as the module doc says.
/// More than `limits.max_entries` records is an error; lines longer than
/// `limits.max_line_bytes` are cut and flagged.
pub fn entries_from_request(req: ExportLogsServiceRequest, limits: &Limits) -> Result<Vec<Entry>> {
    let total: usize = req
        .resource_logs
        .iter()
        .flat_map(|r| &r.scope_logs)
        .map(|s| s.log_records.len())
        .sum();
    if total > limits.max_entries {
        return Err(too_many(limits));
    }
    let mut out = Vec::with_capacity(total);
    let mut scratch = String::new();
    for rl in req.resource_logs {
        let mut res_fields = Vec::new();
        let mut source = None;
        if let Some(res) = &rl.resource {
            for kv in &res.attributes {
                if kv.key == "service.name" {
                    if let Some(Value::StringValue(s)) = kv.value.as_ref().and_then(|v| v.value.as_ref()) {
                        source = Some(s.clone());
                    }
                }
                flatten(&kv.key, kv.value.as_ref(), &mut res_fields, &mut scratch, 0);
            }
        }
        for sl in rl.scope_logs {
            let mut scope_fields = Vec::new();
            if let Some(scope) = &sl.scope {
                if !scope.name.is_empty() {
                    scope_fields.push(("scope.name".to_string(), scope.name.clone()));
                }
                if !scope.version.is_empty() {
                    scope_fields.push(("scope.version".to_string(), scope.version.clone()));
                }
            }
            for rec in sl.log_records {
                let mut fields =
                    Vec::with_capacity(4 + res_fields.len() + scope_fields.len() + rec.attributes.len());
                if !rec.severity_text.is_empty() {
                    fields.push(("severity_text".to_string(), rec.severity_text));
                } else if let Some(name) = severity_name(rec.severity_number) {
                    fields.push(("severity_text".to_string(), name.to_string()));
                }
                if rec.severity_number != 0 {
                    fields.push(("severity_number".to_string(), rec.severity_number.to_string()));
                }
                fields.extend(res_fields.iter().cloned());
                fields.extend(scope_fields.iter().cloned());
                for kv in &rec.attributes {
                    flatten(&kv.key, kv.value.as_ref(), &mut fields, &mut scratch, 0);
                }
                if !rec.event_name.is_empty() {
                    fields.push(("event_name".to_string(), rec.event_name));
                }
                if !rec.trace_id.is_empty() {
                    fields.push(("trace_id".to_string(), hex(&rec.trace_id)));
                }
                if !rec.span_id.is_empty() {
                    fields.push(("span_id".to_string(), hex(&rec.span_id)));
                }
                let ns = if rec.time_unix_nano != 0 {
                    rec.time_unix_nano
                } else {
                    rec.observed_time_unix_nano
                };
                let line = match rec.body.and_then(|b| b.value) {
                    None => Vec::new(),
                    Some(Value::StringValue(s)) => s.into_bytes(),
                    Some(Value::BytesValue(b)) => b,
                    Some(v) => {
                        let mut s = String::new();
                        render_json(&v, &mut s, 0);
                        s.into_bytes()
                    }
                };
                let mut e = Entry {
                    line,
                    // u64 ns / 1e6 always fits in i64.
                    timestamp_ms: (ns != 0).then_some((ns / 1_000_000) as i64),
                    source: source.clone(),
                    fields,
                    truncated: false,
                };
                e.clamp_line(limits.max_line_bytes);
                out.push(e);
            }
        }
    }
    Ok(out)
}

/// The short name of an OTLP severity number (`INFO`, `WARN2`, ...), `None` outside 1..=24.
pub fn severity_name(n: i32) -> Option<&'static str> {
    const NAMES: [&str; 24] = [
        "TRACE", "TRACE2", "TRACE3", "TRACE4", "DEBUG", "DEBUG2", "DEBUG3", "DEBUG4", "INFO", "INFO2",
        "INFO3", "INFO4", "WARN", "WARN2", "WARN3", "WARN4", "ERROR", "ERROR2", "ERROR3", "ERROR4", "FATAL",
        "FATAL2", "FATAL3", "FATAL4",
    ];
    usize::try_from(n)
        .ok()
        .and_then(|i| i.checked_sub(1))
        .and_then(|i| NAMES.get(i))
        .copied()
}

fn hex(b: &[u8]) -> String {
    let mut s = String::with_capacity(b.len() * 2);
    for x in b {
        let _ = write!(s, "{x:02x}");
    }
    s
}

/// Pushes `key = value` as text; kvlists are flattened with dotted keys.
fn flatten(
    key: &str,
    v: Option<&AnyValue>,
    out: &mut Vec<(String, String)>,
    scratch: &mut String,
    depth: usize,
) {
    match v.and_then(|v| v.value.as_ref()) {
        Some(Value::KvlistValue(kv)) if depth < MAX_DEPTH && !kv.values.is_empty() => {
            for e in &kv.values {
                let k = format!("{key}.{}", e.key);
                flatten(&k, e.value.as_ref(), out, scratch, depth + 1);
            }
        }
        None => out.push((key.to_string(), String::new())),
        Some(Value::StringValue(s)) => out.push((key.to_string(), s.clone())),
        Some(v) => {
            scratch.clear();
            match v {
                Value::BoolValue(b) => {
                    let _ = write!(scratch, "{b}");
                }
                Value::IntValue(i) => {
                    let _ = write!(scratch, "{i}");
                }
                Value::DoubleValue(d) => {
                    let _ = write!(scratch, "{d}");
                }
                Value::BytesValue(b) => base64::engine::general_purpose::STANDARD.encode_string(b, scratch),
                other => render_json(other, scratch, depth),
            }
            out.push((key.to_string(), scratch.clone()));
        }
    }
}

fn json_str(s: &str, out: &mut String) {
    // serde_json escapes exactly as JSON requires; writing a &str cannot fail.
    out.push_str(&serde_json::to_string(s).unwrap_or_default());
}

/// Writes an `AnyValue` as compact JSON.
fn render_json(v: &Value, out: &mut String, depth: usize) {
    if depth >= MAX_DEPTH {
        out.push_str("\"…\"");
        return;
    }
    let any = |a: &AnyValue, out: &mut String| match &a.value {
        Some(v) => render_json(v, out, depth + 1),
        None => out.push_str("null"),
    };
    match v {
        Value::StringValue(s) => json_str(s, out),
        Value::BoolValue(b) => {
            let _ = write!(out, "{b}");
        }
        Value::IntValue(i) => {
            let _ = write!(out, "{i}");
        }
        // A profiling-only string-table index; no table here, so the index itself.
        Value::StringValueStrindex(i) => {
            let _ = write!(out, "{i}");
        }
        Value::DoubleValue(d) if d.is_finite() => {
            let _ = write!(out, "{d}");
        }
        Value::DoubleValue(d) => json_str(&d.to_string(), out),
        Value::BytesValue(b) => json_str(&base64::engine::general_purpose::STANDARD.encode(b), out),
        Value::ArrayValue(a) => {
            out.push('[');
            for (i, x) in a.values.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                any(x, out);
            }
            out.push(']');
        }
        Value::KvlistValue(kv) => {
            out.push('{');
            for (i, KeyValue { key, value, .. }) in kv.values.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                json_str(key, out);
                out.push(':');
                match value {
                    Some(a) => any(a, out),
                    None => out.push_str("null"),
                }
            }
            out.push('}');
        }
    }
}

// ------------------------------------------------------------ JSON pre-scan

struct Count {
    n: usize,
    max: usize,
}

/// Walks objects along `path` (the last key's value is an array whose elements are
/// counted), ignoring everything else; stops with an error once the count passes `max`.
struct CountSeed<'p, 'c> {
    path: &'p [&'static str],
    c: &'c mut Count,
}

impl<'de> DeserializeSeed<'de> for CountSeed<'_, '_> {
    type Value = ();
    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<(), D::Error> {
        d.deserialize_map(self)
    }
}

impl<'de> Visitor<'de> for CountSeed<'_, '_> {
    type Value = ();
    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("an object")
    }
    fn visit_map<A: MapAccess<'de>>(self, mut m: A) -> Result<(), A::Error> {
        let Some((want, rest)) = self.path.split_first() else {
            return Ok(());
        };
        while let Some(hit) = m.next_key_seed(KeyIs(want))? {
            if hit {
                m.next_value_seed(CountArr {
                    rest,
                    c: &mut *self.c,
                })?;
            } else {
                m.next_value::<de::IgnoredAny>()?;
            }
        }
        Ok(())
    }
}

struct CountArr<'p, 'c> {
    rest: &'p [&'static str],
    c: &'c mut Count,
}

impl<'de> DeserializeSeed<'de> for CountArr<'_, '_> {
    type Value = ();
    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<(), D::Error> {
        d.deserialize_seq(self)
    }
}

impl<'de> Visitor<'de> for CountArr<'_, '_> {
    type Value = ();
    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("an array")
    }
    fn visit_seq<A: SeqAccess<'de>>(self, mut s: A) -> Result<(), A::Error> {
        loop {
            let more = if self.rest.is_empty() {
                s.next_element::<de::IgnoredAny>()?.is_some()
            } else {
                s.next_element_seed(CountSeed {
                    path: self.rest,
                    c: &mut *self.c,
                })?
                .is_some()
            };
            if !more {
                return Ok(());
            }
            if self.rest.is_empty() {
                self.c.n += 1;
                if self.c.n > self.c.max {
                    return Err(de::Error::custom("too many records"));
                }
            }
        }
    }
}

/// A map key compared with `self.0` without allocating.
struct KeyIs<'k>(&'k str);

impl<'de> DeserializeSeed<'de> for KeyIs<'_> {
    type Value = bool;
    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<bool, D::Error> {
        d.deserialize_str(self)
    }
}

impl<'de> Visitor<'de> for KeyIs<'_> {
    type Value = bool;
    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("a key")
    }
    fn visit_str<E: de::Error>(self, v: &str) -> Result<bool, E> {
        Ok(v == self.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use opentelemetry_proto::tonic::common::v1::{ArrayValue, InstrumentationScope, KeyValueList};
    use opentelemetry_proto::tonic::logs::v1::{LogRecord, ResourceLogs, ScopeLogs};
    use opentelemetry_proto::tonic::resource::v1::Resource;
    use proptest::prelude::*;

    fn s(v: &str) -> String {
        v.to_string()
    }
    fn kv(k: &str, v: Value) -> KeyValue {
        KeyValue {
            key: s(k),
            value: Some(AnyValue { value: Some(v) }),
            ..Default::default()
        }
    }
    fn field<'a>(e: &'a Entry, k: &str) -> Option<&'a str> {
        e.fields.iter().find(|(n, _)| n == k).map(|(_, v)| v.as_str())
    }

    fn sample() -> ExportLogsServiceRequest {
        ExportLogsServiceRequest {
            resource_logs: vec![ResourceLogs {
                resource: Some(Resource {
                    attributes: vec![
                        kv("service.name", Value::StringValue(s("checkout"))),
                        kv("host.name", Value::StringValue(s("h1"))),
                    ],
                    ..Default::default()
                }),
                scope_logs: vec![ScopeLogs {
                    scope: Some(InstrumentationScope {
                        name: s("app.logger"),
                        ..Default::default()
                    }),
                    log_records: vec![
                        LogRecord {
                            time_unix_nano: 1_700_000_000_123_456_789,
                            severity_number: 9,
                            severity_text: s("INFO"),
                            body: Some(AnyValue {
                                value: Some(Value::StringValue(s("user 42 logged in"))),
                            }),
                            attributes: vec![
                                kv("http.status", Value::IntValue(200)),
                                kv(
                                    "req",
                                    Value::KvlistValue(KeyValueList {
                                        values: vec![
                                            kv("method", Value::StringValue(s("GET"))),
                                            kv("ok", Value::BoolValue(true)),
                                        ],
                                    }),
                                ),
                                kv(
                                    "tags",
                                    Value::ArrayValue(ArrayValue {
                                        values: vec![AnyValue {
                                            value: Some(Value::StringValue(s("a"))),
                                        }],
                                    }),
                                ),
                            ],
                            trace_id: vec![0xab; 16],
                            span_id: vec![1, 2, 3, 4, 5, 6, 7, 8],
                            ..Default::default()
                        },
                        LogRecord {
                            observed_time_unix_nano: 1_700_000_001_000_000_000,
                            severity_number: 14,
                            body: Some(AnyValue {
                                value: Some(Value::KvlistValue(KeyValueList {
                                    values: vec![
                                        kv("msg", Value::StringValue(s("q\"x"))),
                                        kv("n", Value::DoubleValue(1.5)),
                                        kv("b", Value::BytesValue(vec![0xff])),
                                    ],
                                })),
                            }),
                            ..Default::default()
                        },
                        LogRecord::default(),
                    ],
                    ..Default::default()
                }],
                ..Default::default()
            }],
        }
    }

    #[test]
    fn mapping() {
        let v = entries_from_request(sample(), &Limits::default()).unwrap();
        assert_eq!(v.len(), 3);
        let e = &v[0];
        assert_eq!(e.line, b"user 42 logged in");
        assert_eq!(e.source.as_deref(), Some("checkout"));
        assert_eq!(e.timestamp_ms, Some(1_700_000_000_123));
        assert_eq!(
            e.fields,
            vec![
                (s("severity_text"), s("INFO")),
                (s("severity_number"), s("9")),
                (s("service.name"), s("checkout")),
                (s("host.name"), s("h1")),
                (s("scope.name"), s("app.logger")),
                (s("http.status"), s("200")),
                (s("req.method"), s("GET")),
                (s("req.ok"), s("true")),
                (s("tags"), s("[\"a\"]")),
                (s("trace_id"), s("abababababababababababababababab")),
                (s("span_id"), s("0102030405060708")),
            ]
        );
        let e = &v[1];
        assert_eq!(
            String::from_utf8_lossy(&e.line),
            r#"{"msg":"q\"x","n":1.5,"b":"/w=="}"#
        );
        assert_eq!(e.timestamp_ms, Some(1_700_000_001_000));
        assert_eq!(field(e, "severity_text"), Some("WARN2"));
        assert_eq!(v[2].line, b"");
        assert_eq!(v[2].timestamp_ms, None);
        assert_eq!(field(&v[2], "severity_text"), None);
    }

    #[test]
    fn protobuf_round_trip_and_limits() {
        let raw = prost::Message::encode_to_vec(&sample());
        let v = parse(Some("application/x-protobuf"), &raw, &Limits::default()).unwrap();
        assert_eq!(v, entries_from_request(sample(), &Limits::default()).unwrap());
        let lim = Limits {
            max_entries: 2,
            ..Limits::default()
        };
        assert_eq!(
            parse(None, &raw, &lim).unwrap_err().to_string(),
            "OTLP logs request holds more than 2 entries (the per-request limit)"
        );
        assert_eq!(
            entries_from_request(sample(), &lim).unwrap_err().to_string(),
            "OTLP logs request holds more than 2 entries (the per-request limit)"
        );
        let e = parse(None, &raw[..raw.len() - 3], &Limits::default()).unwrap_err();
        assert!(
            e.to_string()
                .starts_with("bad OTLP ExportLogsServiceRequest protobuf: field 1 claims"),
            "{e}"
        );
        let e = parse(None, b"\x0a\x02\x12\x00\xff", &Limits::default()).unwrap_err();
        assert!(
            e.to_string()
                .starts_with("bad OTLP ExportLogsServiceRequest protobuf: "),
            "{e}"
        );
    }

    #[test]
    fn json_encoding() {
        let body = br#"{"resourceLogs":[{"resource":{"attributes":[{"key":"service.name","value":{"stringValue":"svc"}}]},
          "scopeLogs":[{"scope":{"name":"s"},"logRecords":[
            {"timeUnixNano":"1700000000123456789","severityNumber":17,"severityText":"ERROR",
             "body":{"stringValue":"boom"},"attributes":[{"key":"n","value":{"intValue":"7"}}],
             "traceId":"5b8efff798038103d269b633813fc60c","spanId":"eee19b7ec3c1b174","unknownKey":1},
            {"observedTimeUnixNano":1700000000000000000,"body":{"arrayValue":{"values":[{"intValue":1},{"boolValue":false}]}}}
          ]}]}]}"#;
        let v = parse(Some("application/json"), body, &Limits::default()).unwrap();
        assert_eq!(v.len(), 2);
        assert_eq!(v[0].line, b"boom");
        assert_eq!(v[0].source.as_deref(), Some("svc"));
        assert_eq!(v[0].timestamp_ms, Some(1_700_000_000_123));
        assert_eq!(field(&v[0], "n"), Some("7"));
        assert_eq!(field(&v[0], "trace_id"), Some("5b8efff798038103d269b633813fc60c"));
        assert_eq!(field(&v[0], "span_id"), Some("eee19b7ec3c1b174"));
        assert_eq!(field(&v[0], "severity_number"), Some("17"));
        assert_eq!(v[1].line, b"[1,false]");
        assert_eq!(v[1].timestamp_ms, Some(1_700_000_000_000));
        let lim = Limits {
            max_entries: 1,
            ..Limits::default()
        };
        assert_eq!(
            parse_json(body, &lim).unwrap_err().to_string(),
            "OTLP logs request holds more than 1 entries (the per-request limit)"
        );
        let e = parse_json(
            br#"{"resourceLogs":[{"scopeLogs":[{"logRecords":[{"traceId":"zz"}]}]}]}"#,
            &lim,
        )
        .unwrap_err();
        assert!(
            e.to_string()
                .starts_with("bad OTLP logs JSON: invalid character 'z' at position 0 at line 1 column 61"),
            "{e}"
        );
        let e = parse_json(br#"{"resourceLogs":"#, &lim).unwrap_err();
        assert_eq!(
            e.to_string(),
            "bad OTLP logs JSON: EOF while parsing a value at line 1 column 16"
        );
        let e = parse_json(b"{\"resourceLogs\":[{\"scopeLogs\":[{\"logRecords\":[{\"body\":{\"stringValue\":\"\xff\"}}]}]}]}", &lim).unwrap_err();
        assert!(e.to_string().contains("invalid unicode code point"), "{e}");
    }

    #[test]
    fn severity_names() {
        assert_eq!(severity_name(0), None);
        assert_eq!(severity_name(1), Some("TRACE"));
        assert_eq!(severity_name(24), Some("FATAL4"));
        assert_eq!(severity_name(25), None);
        assert_eq!(severity_name(-3), None);
    }

    proptest! {
        #[test]
        fn no_panic_on_arbitrary_bytes(b in proptest::collection::vec(any::<u8>(), 0..300)) {
            let lim = Limits { max_body_bytes: 1 << 16, max_line_bytes: 100, max_entries: 50 };
            let _ = parse_protobuf(&b, &lim);
            let _ = parse_json(&b, &lim);
        }

        #[test]
        fn protobuf_mutations_never_panic(pos in any::<prop::sample::Index>(), byte in any::<u8>()) {
            let mut raw = prost::Message::encode_to_vec(&sample());
            let i = pos.index(raw.len());
            raw[i] = byte;
            let _ = parse_protobuf(&raw, &Limits::default());
        }
    }
}
