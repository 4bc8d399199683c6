//! Loki's push API, `POST /loki/api/v1/push`: JSON and snappy-compressed protobuf.
//!
//! JSON: `{"streams":[{"stream":{"job":"x"},"values":[["<unix ns as string>","line",{"k":"v"}?],...]}]}`
//! (the third element is structured metadata). Protobuf: a snappy *block* (not the framed
//! stream format) holding `logproto.PushRequest`; each stream's labels are a Prometheus
//! label-set string parsed by [`crate::labels::parse_labels`].
//!
//! Every entry carries its stream's labels, then its structured metadata, as fields; its
//! source is [`source_from_labels`]. The body's entry count is checked against
//! `max_entries` while parsing (JSON) or by a wire pre-scan (protobuf), before the entries
//! exist. Protobuf lines are taken as bytes (invalid UTF-8 passes through to the engine);
//! JSON must be valid UTF-8.

use crate::{Entry, IngestError, Limits, Result};
use serde::de::{self, DeserializeSeed, Deserializer, MapAccess, SeqAccess, Visitor};
use std::fmt;

/// The label names tried, after the preferred one, to name an entry's source.
pub const SOURCE_LABELS: [&str; 4] = ["service_name", "app", "job", "source"];

/// The source named by a label set: the `preferred` label, else `service_name`, `app`, `job`,
/// `source` (in that order); empty values are skipped; `None` when none is set.
pub fn source_from_labels(labels: &[(String, String)], preferred: &str) -> Option<String> {
    std::iter::once(preferred)
        .chain(SOURCE_LABELS)
        .find_map(|want| labels.iter().find(|(n, v)| n == want && !v.is_empty()))
        .map(|(_, v)| v.clone())
}

/// Parses a push body by its `Content-Type`: `application/json` is JSON; no header or
/// `application/x-protobuf` is snappy protobuf (Loki's own default). Parameters such as
/// `; charset=utf-8` are ignored. `source_label` is the preferred label for
/// [`source_from_labels`]. Undo `Content-Encoding` first with [`crate::body::decode_content`].
pub fn parse(
    content_type: Option<&str>,
    body: &[u8],
    limits: &Limits,
    source_label: &str,
) -> Result<Vec<Entry>> {
    let mime = content_type
        .unwrap_or("")
        .split(';')
        .next()
        .unwrap_or("")
        .trim()
        .to_ascii_lowercase();
    match mime.as_str() {
        "application/json" => parse_json(body, limits, source_label),
        "" | "application/x-protobuf" => parse_protobuf(body, limits, source_label),
        _ => Err(IngestError::UnsupportedContentType {
            content_type: crate::clip(content_type.unwrap_or("")),
            endpoint: "Loki push",
            accepted: "application/json, application/x-protobuf",
        }),
    }
}

// ---------------------------------------------------------------- protobuf

/// `logproto.PushRequest`.
#[derive(Clone, PartialEq, prost::Message)]
pub struct PushRequest {
    /// Streams.
    #[prost(message, repeated, tag = "1")]
    pub streams: Vec<StreamAdapter>,
}

/// `logproto.StreamAdapter`.
#[derive(Clone, PartialEq, prost::Message)]
pub struct StreamAdapter {
    /// Prometheus label-set string, `{job="x"}`.
    #[prost(string, tag = "1")]
    pub labels: String,
    /// Entries.
    #[prost(message, repeated, tag = "2")]
    pub entries: Vec<EntryAdapter>,
    /// Label hash (unused here).
    #[prost(uint64, tag = "3")]
    pub hash: u64,
}

/// `google.protobuf.Timestamp`.
#[derive(Clone, Copy, PartialEq, Eq, prost::Message)]
pub struct Timestamp {
    /// Seconds since the epoch.
    #[prost(int64, tag = "1")]
    pub seconds: i64,
    /// Nanoseconds, 0..1e9.
    #[prost(int32, tag = "2")]
    pub nanos: i32,
}

/// `logproto.EntryAdapter`. `line` is a proto `string` on the wire, read as bytes so that
/// invalid UTF-8 reaches the engine (which flags it) instead of failing the request.
#[derive(Clone, PartialEq, prost::Message)]
pub struct EntryAdapter {
    /// Event time.
    #[prost(message, optional, tag = "1")]
    pub timestamp: Option<Timestamp>,
    /// The line.
    #[prost(bytes = "vec", tag = "2")]
    pub line: Vec<u8>,
    /// Structured metadata.
    #[prost(message, repeated, tag = "3")]
    pub structured_metadata: Vec<LabelPairAdapter>,
}

/// `logproto.LabelPairAdapter`.
#[derive(Clone, PartialEq, Eq, prost::Message)]
pub struct LabelPairAdapter {
    /// Name.
    #[prost(string, tag = "1")]
    pub name: String,
    /// Value.
    #[prost(string, tag = "2")]
    pub value: String,
}

/// Decompresses a snappy block, refusing before allocating when its header announces more
/// than `max` bytes.
pub fn unsnappy(body: &[u8], max: usize) -> Result<Vec<u8>> {
    let bad = |e: snap::Error| IngestError::Decompress {
        encoding: "snappy",
        reason: e.to_string(),
        decoded: 0,
    };
    let len = snap::raw::decompress_len(body).map_err(bad)?;
    if len > max {
        return Err(IngestError::DecompressedTooLarge {
            encoding: "snappy",
            max,
        });
    }
    snap::raw::Decoder::new().decompress_vec(body).map_err(bad)
}

/// Parses a snappy-compressed protobuf `PushRequest`.
pub fn parse_protobuf(body: &[u8], limits: &Limits, source_label: &str) -> Result<Vec<Entry>> {
    let raw = unsnappy(body, limits.max_body_bytes)?;
    parse_protobuf_uncompressed(&raw, limits, source_label)
}

/// Parses a `PushRequest` that is not snappy-compressed.
pub fn parse_protobuf_uncompressed(raw: &[u8], limits: &Limits, source_label: &str) -> Result<Vec<Entry>> {
    const WHAT: &str = "Loki PushRequest";
    if raw.len() > limits.max_body_bytes {
        return Err(IngestError::BodyTooLarge {
            len: raw.len(),
            max: limits.max_body_bytes,
        });
    }
    let n = crate::wire::count_path(raw, &[1, 2], limits.max_entries).map_err(|(at, why)| {
        IngestError::Protobuf {
            what: WHAT,
            reason: format!("{why} at byte {at}"),
        }
    })?;
    if n > limits.max_entries {
        return Err(IngestError::TooManyEntries {
            what: "Loki push request",
            max: limits.max_entries,
        });
    }
    let req = <PushRequest as prost::Message>::decode(raw).map_err(|e| IngestError::Protobuf {
        what: WHAT,
        reason: e.to_string(),
    })?;
    let mut out = Vec::with_capacity(n);
    for (si, stream) in req.streams.into_iter().enumerate() {
        let labels = crate::labels::parse_labels(&stream.labels).map_err(|e| IngestError::Protobuf {
            what: WHAT,
            reason: format!("streams[{si}].labels: {e}"),
        })?;
        let source = source_from_labels(&labels, source_label);
        for ent in stream.entries {
            let mut fields = Vec::with_capacity(labels.len() + ent.structured_metadata.len());
            fields.extend(labels.iter().cloned());
            fields.extend(ent.structured_metadata.into_iter().map(|p| (p.name, p.value)));
            let mut e = Entry {
                line: ent.line,
                timestamp_ms: ent.timestamp.map(|t| {
                    t.seconds
                        .saturating_mul(1000)
                        .saturating_add(i64::from(t.nanos).div_euclid(1_000_000))
                }),
                source: source.clone(),
                fields,
                truncated: false,
            };
            e.clamp_line(limits.max_line_bytes);
            out.push(e);
        }
    }
    Ok(out)
}

// ---------------------------------------------------------------- JSON

/// Parses a JSON push body. Timestamps are nanosecond strings (integers are accepted too);
/// label and metadata values may be strings, numbers or booleans.
pub fn parse_json(body: &[u8], limits: &Limits, source_label: &str) -> Result<Vec<Entry>> {
    if body.len() > limits.max_body_bytes {
        return Err(IngestError::BodyTooLarge {
            len: body.len(),
            max: limits.max_body_bytes,
        });
    }
    let mut st = JsonState {
        limits,
        source_label,
        out: Vec::new(),
        too_many: false,
    };
    let mut de = serde_json::Deserializer::from_slice(body);
    let res = Push(&mut st).deserialize(&mut de).and_then(|()| de.end());
    match res {
        Ok(()) => Ok(st.out),
        Err(_) if st.too_many => Err(IngestError::TooManyEntries {
            what: "Loki push request",
            max: limits.max_entries,
        }),
        Err(e) => Err(IngestError::Json {
            what: "Loki push",
            reason: crate::json_reason(&e),
        }),
    }
}

struct JsonState<'l> {
    limits: &'l Limits,
    source_label: &'l str,
    out: Vec<Entry>,
    too_many: bool,
}

struct Push<'s, 'l>(&'s mut JsonState<'l>);

impl<'de> DeserializeSeed<'de> for Push<'_, '_> {
    type Value = ();
    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<(), D::Error> {
        d.deserialize_map(self)
    }
}

impl<'de> Visitor<'de> for Push<'_, '_> {
    type Value = ();
    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("an object with \"streams\"")
    }
    fn visit_map<A: MapAccess<'de>>(self, mut m: A) -> Result<(), A::Error> {
        while let Some(k) = m.next_key::<String>()? {
            if k == "streams" {
                m.next_value_seed(Streams(&mut *self.0))?;
            } else {
                m.next_value::<de::IgnoredAny>()?;
            }
        }
        Ok(())
    }
}

struct Streams<'s, 'l>(&'s mut JsonState<'l>);

impl<'de> DeserializeSeed<'de> for Streams<'_, '_> {
    type Value = ();
    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<(), D::Error> {
        d.deserialize_seq(self)
    }
}

impl<'de> Visitor<'de> for Streams<'_, '_> {
    type Value = ();
    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("\"streams\" as an array")
    }
    fn visit_seq<A: SeqAccess<'de>>(self, mut s: A) -> Result<(), A::Error> {
        let mut index = 0;
        while s
            .next_element_seed(Stream {
                st: &mut *self.0,
                index,
            })?
            .is_some()
        {
            index += 1;
        }
        Ok(())
    }
}

struct Stream<'s, 'l> {
    st: &'s mut JsonState<'l>,
    index: usize,
}

impl<'de> DeserializeSeed<'de> for Stream<'_, '_> {
    type Value = ();
    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<(), D::Error> {
        d.deserialize_map(self)
    }
}

impl<'de> Visitor<'de> for Stream<'_, '_> {
    type Value = ();
    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        write!(
            f,
            "streams[{}] as an object with \"stream\" and \"values\"",
            self.index
        )
    }
    fn visit_map<A: MapAccess<'de>>(self, mut m: A) -> Result<(), A::Error> {
        let first = self.st.out.len();
        let mut labels: Vec<(String, String)> = Vec::new();
        while let Some(k) = m.next_key::<String>()? {
            match k.as_str() {
                "stream" => labels = m.next_value::<Labels>()?.0,
                "values" => m.next_value_seed(Values {
                    st: &mut *self.st,
                    stream: self.index,
                })?,
                _ => {
                    m.next_value::<de::IgnoredAny>()?;
                }
            }
        }
        let source = source_from_labels(&labels, self.st.source_label);
        for e in &mut self.st.out[first..] {
            let meta = std::mem::take(&mut e.fields);
            e.fields.reserve_exact(labels.len() + meta.len());
            e.fields.extend(labels.iter().cloned());
            e.fields.extend(meta);
            e.source.clone_from(&source);
        }
        Ok(())
    }
}

struct Labels(Vec<(String, String)>);

impl<'de> serde::Deserialize<'de> for Labels {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        crate::plain::labels(d).map(Labels)
    }
}

struct Values<'s, 'l> {
    st: &'s mut JsonState<'l>,
    stream: usize,
}

impl<'de> DeserializeSeed<'de> for Values<'_, '_> {
    type Value = ();
    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<(), D::Error> {
        d.deserialize_seq(self)
    }
}

impl<'de> Visitor<'de> for Values<'_, '_> {
    type Value = ();
    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        write!(f, "streams[{}].values as an array", self.stream)
    }
    fn visit_seq<A: SeqAccess<'de>>(self, mut s: A) -> Result<(), A::Error> {
        let mut entry = 0;
        loop {
            if self.st.out.len() == self.st.limits.max_entries {
                // One more element would exceed the limit: fail only if there is one.
                let more = s.next_element::<de::IgnoredAny>()?.is_some();
                if more {
                    self.st.too_many = true;
                    return Err(de::Error::custom("too many entries"));
                }
                return Ok(());
            }
            let seed = Value {
                stream: self.stream,
                entry,
            };
            match s.next_element_seed(seed)? {
                Some(mut e) => {
                    e.clamp_line(self.st.limits.max_line_bytes);
                    self.st.out.push(e);
                }
                None => return Ok(()),
            }
            entry += 1;
        }
    }
}

/// One `["ns", "line", {metadata}?]` tuple.
struct Value {
    stream: usize,
    entry: usize,
}

impl<'de> DeserializeSeed<'de> for Value {
    type Value = Entry;
    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<Entry, D::Error> {
        d.deserialize_seq(self)
    }
}

impl<'de> Visitor<'de> for Value {
    type Value = Entry;
    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        write!(
            f,
            "streams[{}].values[{}] as [\"<unix ns>\", \"<line>\", {{metadata}}?]",
            self.stream, self.entry
        )
    }
    fn visit_seq<A: SeqAccess<'de>>(self, mut s: A) -> Result<Entry, A::Error> {
        let at = format!("streams[{}].values[{}]", self.stream, self.entry);
        let ts: Ns = s
            .next_element()?
            .ok_or_else(|| de::Error::custom(format!("{at}: missing the timestamp")))?;
        let ns = ts.0.map_err(|why| de::Error::custom(format!("{at}: {why}")))?;
        let line: String = s
            .next_element()?
            .ok_or_else(|| de::Error::custom(format!("{at}: missing the line")))?;
        let meta = s.next_element::<Labels>()?.map(|l| l.0).unwrap_or_default();
        if s.next_element::<de::IgnoredAny>()?.is_some() {
            return Err(de::Error::custom(format!("{at}: more than 3 elements")));
        }
        Ok(Entry {
            line: line.into_bytes(),
            timestamp_ms: Some(ns.div_euclid(1_000_000)),
            source: None,
            fields: meta,
            truncated: false,
        })
    }
}

/// A nanosecond timestamp: a string of digits, or an integer; the error is kept to be
/// reported with the entry's path.
struct Ns(std::result::Result<i64, String>);

impl<'de> serde::Deserialize<'de> for Ns {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = Ns;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("a timestamp in Unix nanoseconds, as a string")
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<Ns, E> {
                Ok(Ns(v.parse::<i64>().map_err(|_| {
                    format!(
                        "timestamp \"{}\" is not an integer of Unix nanoseconds",
                        crate::clip(v)
                    )
                })))
            }
            fn visit_i64<E: de::Error>(self, v: i64) -> Result<Ns, E> {
                Ok(Ns(Ok(v)))
            }
            fn visit_u64<E: de::Error>(self, v: u64) -> Result<Ns, E> {
                Ok(Ns(
                    i64::try_from(v).map_err(|_| format!("timestamp {v} is out of range"))
                ))
            }
        }
        d.deserialize_any(V)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn s(v: &str) -> String {
        v.to_string()
    }

    fn snappy(raw: &[u8]) -> Vec<u8> {
        snap::raw::Encoder::new().compress_vec(raw).unwrap()
    }

    fn sample_request() -> PushRequest {
        PushRequest {
            streams: vec![
                StreamAdapter {
                    labels: s(r#"{job="varlogs", app="y\"q"}"#),
                    entries: vec![
                        EntryAdapter {
                            timestamp: Some(Timestamp {
                                seconds: 1_700_000_000,
                                nanos: 123_456_789,
                            }),
                            line: b"first \xff line".to_vec(),
                            structured_metadata: vec![LabelPairAdapter {
                                name: s("trace_id"),
                                value: s("abc"),
                            }],
                        },
                        EntryAdapter {
                            timestamp: None,
                            line: b"second".to_vec(),
                            structured_metadata: vec![],
                        },
                    ],
                    hash: 0,
                },
                StreamAdapter {
                    labels: s("{}"),
                    entries: vec![EntryAdapter::default()],
                    hash: 7,
                },
            ],
        }
    }

    #[test]
    fn source_preference() {
        let l = vec![(s("job"), s("j")), (s("app"), s("a")), (s("host"), s("h"))];
        assert_eq!(source_from_labels(&l, "host").as_deref(), Some("h"));
        assert_eq!(source_from_labels(&l, "service_name").as_deref(), Some("a"));
        assert_eq!(source_from_labels(&l[..1], "x").as_deref(), Some("j"));
        assert_eq!(source_from_labels(&[(s("app"), s(""))], "x"), None);
        assert_eq!(source_from_labels(&[], "x"), None);
    }

    #[test]
    fn protobuf_snappy_round_trip() {
        let raw = prost::Message::encode_to_vec(&sample_request());
        let v = parse(
            Some("application/x-protobuf"),
            &snappy(&raw),
            &Limits::default(),
            "service_name",
        )
        .unwrap();
        assert_eq!(v.len(), 3);
        assert_eq!(v[0].line, b"first \xff line");
        assert_eq!(v[0].timestamp_ms, Some(1_700_000_000_123));
        assert_eq!(v[0].source.as_deref(), Some("y\"q"));
        assert_eq!(
            v[0].fields,
            vec![
                (s("job"), s("varlogs")),
                (s("app"), s("y\"q")),
                (s("trace_id"), s("abc"))
            ]
        );
        assert_eq!(v[1].timestamp_ms, None);
        assert_eq!(v[1].fields.len(), 2);
        assert_eq!(v[2].source, None);
        assert!(v[2].fields.is_empty());
        // No Content-Type is protobuf too (Loki's default).
        assert_eq!(parse(None, &snappy(&raw), &Limits::default(), "x").unwrap(), v);
    }

    #[test]
    fn protobuf_errors() {
        let lim = Limits::default();
        let e = parse(None, b"\xff\xff\xff\xff\xff\xff", &lim, "x").unwrap_err();
        assert!(
            matches!(
                e,
                IngestError::Decompress {
                    encoding: "snappy",
                    ..
                }
            ),
            "{e}"
        );
        assert!(e.to_string().starts_with("bad snappy body: "), "{e}");
        // Valid snappy, bad protobuf: a field claiming more bytes than remain.
        let e = parse(None, &snappy(&[0x0a, 0x20, 0x0a]), &lim, "x").unwrap_err();
        assert_eq!(
            e.to_string(),
            "bad Loki PushRequest protobuf: field 1 claims 32 bytes but only 1 remain at byte 0"
        );
        // Bad labels name the stream.
        let mut r = sample_request();
        r.streams[1].labels = s("{job=x}");
        let e = parse(None, &snappy(&prost::Message::encode_to_vec(&r)), &lim, "x").unwrap_err();
        assert_eq!(
            e.to_string(),
            "bad Loki PushRequest protobuf: streams[1].labels: bad label set at byte 5: expected '\"' to open the label value in \"{job=x}\""
        );
        // Snappy that announces a huge length is refused before allocating.
        let mut big = vec![0xff, 0xff, 0xff, 0xff, 0x0f];
        big.extend([0u8; 8]);
        let e = parse(None, &big, &lim, "x").unwrap_err();
        assert_eq!(
            e.to_string(),
            "snappy body exceeds 16777216 bytes after decompression"
        );
        let e = parse(Some("text/plain"), b"", &lim, "x").unwrap_err();
        assert!(e
            .to_string()
            .starts_with("unsupported Content-Type \"text/plain\" for Loki push"));
    }

    #[test]
    fn protobuf_entry_limit_checked_before_decoding() {
        let lim = Limits {
            max_entries: 2,
            ..Limits::default()
        };
        let raw = prost::Message::encode_to_vec(&sample_request());
        let e = parse(None, &snappy(&raw), &lim, "x").unwrap_err();
        assert_eq!(
            e.to_string(),
            "Loki push request holds more than 2 entries (the per-request limit)"
        );
    }

    #[test]
    fn json_push() {
        let body = br#"{"streams":[{"values":[["1700000000123456789","GET /a",{"trace_id":"t1"}],["1700000001000000000","b"]],"stream":{"service_name":"api","env":"prod"}},{"stream":{},"values":[[1700000002000000000,"c"]]}],"extra":1}"#;
        let v = parse(
            Some("application/json; charset=utf-8"),
            body,
            &Limits::default(),
            "service_name",
        )
        .unwrap();
        assert_eq!(v.len(), 3);
        assert_eq!(v[0].line, b"GET /a");
        assert_eq!(v[0].timestamp_ms, Some(1_700_000_000_123));
        assert_eq!(v[0].source.as_deref(), Some("api"));
        assert_eq!(
            v[0].fields,
            vec![
                (s("service_name"), s("api")),
                (s("env"), s("prod")),
                (s("trace_id"), s("t1"))
            ]
        );
        assert_eq!(v[1].fields.len(), 2);
        assert_eq!(v[2].timestamp_ms, Some(1_700_000_002_000));
        assert_eq!(v[2].source, None);
        assert!(parse_json(br#"{"streams":[]}"#, &Limits::default(), "x")
            .unwrap()
            .is_empty());
    }

    #[test]
    fn json_errors_say_where() {
        let lim = Limits::default();
        let e = |b: &str| parse_json(b.as_bytes(), &lim, "x").unwrap_err().to_string();
        assert_eq!(
            e(r#"{"streams":[{"stream":{},"values":[["1","a"],["abc","b"]]}]}"#),
            "bad Loki push JSON: streams[0].values[1]: timestamp \"abc\" is not an integer of Unix nanoseconds at line 1 column 52"
        );
        assert_eq!(
            e(r#"{"streams":[{"values":[["1"]]}]}"#),
            "bad Loki push JSON: streams[0].values[0]: missing the line at line 1 column 28"
        );
        assert_eq!(
            e(r#"{"streams":[{"#),
            "bad Loki push JSON: EOF while parsing an object at line 1 column 13"
        );
        assert_eq!(
            e(r#"{"streams":{}}"#),
            "bad Loki push JSON: invalid type: map, expected \"streams\" as an array at line 1 column 11"
        );
        assert_eq!(
            e(r#"{} x"#),
            "bad Loki push JSON: trailing characters at line 1 column 4"
        );
        let bad_utf8 = parse_json(b"{\"streams\":[{\"values\":[[\"1\",\"\xff\"]]}]}", &lim, "x").unwrap_err();
        assert!(
            bad_utf8.to_string().contains("invalid unicode code point"),
            "{bad_utf8}"
        );
        let lim2 = Limits {
            max_entries: 1,
            ..lim
        };
        let e2 = parse_json(
            br#"{"streams":[{"values":[["1","a"]]},{"values":[["2","b"]]}]}"#,
            &lim2,
            "x",
        )
        .unwrap_err();
        assert_eq!(
            e2.to_string(),
            "Loki push request holds more than 1 entries (the per-request limit)"
        );
        assert_eq!(
            parse_json(
                br#"{"streams":[{"values":[["1","a"]]},{"values":[]}]}"#,
                &lim2,
                "x"
            )
            .unwrap()
            .len(),
            1
        );
    }

    proptest! {
        #[test]
        fn no_panic_on_arbitrary_bytes(b in proptest::collection::vec(any::<u8>(), 0..300)) {
            let lim = Limits { max_body_bytes: 1 << 16, max_line_bytes: 100, max_entries: 50 };
            let _ = parse(None, &b, &lim, "job");
            let _ = parse_protobuf_uncompressed(&b, &lim, "job");
            let _ = parse_json(&b, &lim, "job");
        }

        #[test]
        fn protobuf_mutations_never_panic(pos in any::<prop::sample::Index>(), byte in any::<u8>()) {
            let mut raw = prost::Message::encode_to_vec(&sample_request());
            let i = pos.index(raw.len());
            raw[i] = byte;
            let _ = parse_protobuf_uncompressed(&raw, &Limits::default(), "job");
        }
    }
}
