//! The service's own `POST /v1/ingest` NDJSON body.
//!
//! One JSON object per line:
//! `{"line": "...", "timestamp": <RFC 3339 string | integer ms | float seconds>?, "source": "..."?,
//! "labels": {"k": "v", ...}?}`. Blank lines (only whitespace) are skipped, a `\r` before the
//! `\n` is ignored, unknown keys are ignored, `null` counts as absent. Label values may be
//! strings, numbers or booleans (written as text). The first bad line rejects the whole body
//! with an [`IngestError::Ndjson`] naming its 1-based line number, so an acknowledgement
//! always covers every line.

use crate::{Entry, IngestError, Limits, Result};
use serde::de::{self, Deserializer, MapAccess, Visitor};
use serde::Deserialize;
use std::borrow::Cow;
use std::fmt;

#[derive(Deserialize)]
struct PlainLine<'a> {
    #[serde(borrow, default)]
    line: Option<Cow<'a, str>>,
    #[serde(default, deserialize_with = "timestamp")]
    timestamp: Option<i64>,
    #[serde(borrow, default)]
    source: Option<Cow<'a, str>>,
    #[serde(default, deserialize_with = "labels")]
    labels: Vec<(String, String)>,
}

/// Parses an NDJSON body into entries. The body must already be decoded
/// ([`crate::body::decode_content`]); its size is checked against `max_body_bytes`.
pub fn parse_ndjson(body: &[u8], limits: &Limits) -> Result<Vec<Entry>> {
    if body.len() > limits.max_body_bytes {
        return Err(IngestError::BodyTooLarge {
            len: body.len(),
            max: limits.max_body_bytes,
        });
    }
    let mut out = Vec::new();
    let mut line_no = 0usize;
    let mut rest = body;
    while !rest.is_empty() {
        line_no += 1;
        let (raw, next) = match memchr::memchr(b'\n', rest) {
            Some(i) => (&rest[..i], &rest[i + 1..]),
            None => (rest, &rest[rest.len()..]),
        };
        rest = next;
        let raw = raw.strip_suffix(b"\r").unwrap_or(raw);
        let Some(first) = raw.iter().position(|c| !c.is_ascii_whitespace()) else {
            continue;
        };
        if out.len() == limits.max_entries {
            return Err(IngestError::TooManyEntries {
                what: "NDJSON body",
                max: limits.max_entries,
            });
        }
        out.push(parse_line(raw, first, line_no, limits)?);
    }
    Ok(out)
}

fn parse_line(raw: &[u8], first: usize, line_no: usize, limits: &Limits) -> Result<Entry> {
    let bad = |reason: String| IngestError::Ndjson {
        line: line_no,
        reason,
    };
    if raw[first] != b'{' {
        let reason = match serde_json::from_slice::<de::IgnoredAny>(raw) {
            Err(e) => format!("not JSON: {}", at_column(&e)),
            Ok(_) => format!(
                "expected a JSON object, found {}",
                crate::clip_bytes(&raw[first..])
            ),
        };
        return Err(bad(reason));
    }
    let parsed: PlainLine<'_> = serde_json::from_slice(raw).map_err(|e| match e.classify() {
        serde_json::error::Category::Data => bad(at_column(&e)),
        _ => bad(format!("not JSON: {}", at_column(&e))),
    })?;
    let Some(line) = parsed.line else {
        return Err(bad("missing \"line\"".to_string()));
    };
    let mut e = Entry {
        line: line.into_owned().into_bytes(),
        timestamp_ms: parsed.timestamp,
        source: parsed.source.map(Cow::into_owned),
        fields: parsed.labels,
        truncated: false,
    };
    e.clamp_line(limits.max_line_bytes);
    Ok(e)
}

fn at_column(e: &serde_json::Error) -> String {
    let (msg, _, col) = crate::json_msg(e);
    format!("{msg} at column {col}")
}

/// A timestamp as ms: RFC 3339 string, integer milliseconds or float seconds.
fn timestamp<'de, D: Deserializer<'de>>(d: D) -> Result<Option<i64>, D::Error> {
    struct V;
    impl<'de> Visitor<'de> for V {
        type Value = Option<i64>;
        fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
            f.write_str("\"timestamp\" as an RFC 3339 string, integer milliseconds or float seconds")
        }
        fn visit_unit<E: de::Error>(self) -> Result<Self::Value, E> {
            Ok(None)
        }
        fn visit_none<E: de::Error>(self) -> Result<Self::Value, E> {
            Ok(None)
        }
        fn visit_i64<E: de::Error>(self, v: i64) -> Result<Self::Value, E> {
            Ok(Some(v))
        }
        fn visit_u64<E: de::Error>(self, v: u64) -> Result<Self::Value, E> {
            i64::try_from(v)
                .map(Some)
                .map_err(|_| E::custom(format!("\"timestamp\" {v} ms is out of range")))
        }
        fn visit_f64<E: de::Error>(self, v: f64) -> Result<Self::Value, E> {
            let ms = (v * 1000.0).round();
            if ms.is_finite() && ms.abs() < 9.0e18 {
                Ok(Some(ms as i64))
            } else {
                // `{v:e}`: 1e300 is echoed as such, not as its 301 digits.
                Err(E::custom(format!("\"timestamp\" {v:e} seconds is out of range")))
            }
        }
        fn visit_str<E: de::Error>(self, v: &str) -> Result<Self::Value, E> {
            crate::parse_rfc3339_ms(v.as_bytes())
                .map(Some)
                .map_err(|(at, why)| {
                    E::custom(format!(
                        "\"timestamp\" \"{}\" is not RFC 3339: {why} at character {}",
                        crate::clip(v),
                        at + 1
                    ))
                })
        }
    }
    d.deserialize_any(V)
}

/// A JSON object of scalar values as `(key, value-as-text)` pairs, in order.
pub(crate) fn labels<'de, D: Deserializer<'de>>(d: D) -> Result<Vec<(String, String)>, D::Error> {
    struct V;
    impl<'de> Visitor<'de> for V {
        type Value = Vec<(String, String)>;
        fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
            f.write_str("\"labels\" as an object of strings")
        }
        fn visit_unit<E: de::Error>(self) -> Result<Self::Value, E> {
            Ok(Vec::new())
        }
        fn visit_map<A: MapAccess<'de>>(self, mut m: A) -> Result<Self::Value, A::Error> {
            let mut out = Vec::new();
            while let Some(k) = m.next_key::<String>()? {
                let v: Scalar = m.next_value()?;
                match v.0 {
                    Some(v) => out.push((k, v)),
                    None => {
                        return Err(de::Error::custom(format!(
                            "label \"{}\" must be a string, number or boolean",
                            crate::clip(&k)
                        )))
                    }
                }
            }
            Ok(out)
        }
    }
    d.deserialize_any(V)
}

/// A JSON string, number or boolean as text; `None` for anything else.
struct Scalar(Option<String>);

impl<'de> Deserialize<'de> for Scalar {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = Scalar;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("a string, number or boolean")
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<Scalar, E> {
                Ok(Scalar(Some(v.to_string())))
            }
            fn visit_string<E: de::Error>(self, v: String) -> Result<Scalar, E> {
                Ok(Scalar(Some(v)))
            }
            fn visit_bool<E: de::Error>(self, v: bool) -> Result<Scalar, E> {
                Ok(Scalar(Some(v.to_string())))
            }
            fn visit_i64<E: de::Error>(self, v: i64) -> Result<Scalar, E> {
                Ok(Scalar(Some(v.to_string())))
            }
            fn visit_u64<E: de::Error>(self, v: u64) -> Result<Scalar, E> {
                Ok(Scalar(Some(v.to_string())))
            }
            fn visit_f64<E: de::Error>(self, v: f64) -> Result<Scalar, E> {
                Ok(Scalar(Some(v.to_string())))
            }
            fn visit_unit<E: de::Error>(self) -> Result<Scalar, E> {
                Ok(Scalar(None))
            }
            fn visit_seq<A: de::SeqAccess<'de>>(self, mut s: A) -> Result<Scalar, A::Error> {
                while s.next_element::<de::IgnoredAny>()?.is_some() {}
                Ok(Scalar(None))
            }
            fn visit_map<A: MapAccess<'de>>(self, mut m: A) -> Result<Scalar, A::Error> {
                while m.next_entry::<de::IgnoredAny, de::IgnoredAny>()?.is_some() {}
                Ok(Scalar(None))
            }
        }
        d.deserialize_any(V)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn parse(s: &str) -> Result<Vec<Entry>> {
        parse_ndjson(s.as_bytes(), &Limits::default())
    }
    fn err(s: &str) -> String {
        parse(s).unwrap_err().to_string()
    }

    #[test]
    fn full_and_minimal_objects() {
        let body = "{\"line\":\"GET /a 200\",\"timestamp\":\"2023-11-14T22:13:20.5Z\",\"source\":\"web\",\"labels\":{\"env\":\"prod\",\"n\":3,\"ok\":true}}\r\n\n   \n{\"line\":\"x\\ny\",\"timestamp\":1700000000123}\n{\"line\":\"\",\"timestamp\":1700000000.25,\"extra\":[1]}";
        let v = parse(body).unwrap();
        assert_eq!(v.len(), 3);
        assert_eq!(v[0].line, b"GET /a 200");
        assert_eq!(v[0].timestamp_ms, Some(1_700_000_000_500));
        assert_eq!(v[0].source.as_deref(), Some("web"));
        assert_eq!(
            v[0].fields,
            vec![
                ("env".to_string(), "prod".to_string()),
                ("n".to_string(), "3".to_string()),
                ("ok".to_string(), "true".to_string())
            ]
        );
        assert_eq!(v[1].line, b"x\ny");
        assert_eq!(v[1].timestamp_ms, Some(1_700_000_000_123));
        assert_eq!(v[1].source, None);
        assert_eq!(v[2].timestamp_ms, Some(1_700_000_000_250));
        assert!(parse("").unwrap().is_empty());
        assert!(parse("\n\n").unwrap().is_empty());
    }

    #[test]
    fn bad_lines_are_named() {
        assert_eq!(
            err("{\"line\":\"a\"}\n\n{\"source\":\"x\"}"),
            "line 3: missing \"line\""
        );
        assert_eq!(
            err("{\"line\":\"a\"}\n\n\n\n\n\nhello"),
            "line 7: not JSON: expected value at column 1"
        );
        assert_eq!(err("[1,2]"), "line 1: expected a JSON object, found [1,2]");
        assert_eq!(
            err("{\"line\": 5}"),
            "line 1: invalid type: integer `5`, expected a string at column 10"
        );
        assert_eq!(
            err("{\"line\":\"a\""),
            "line 1: not JSON: EOF while parsing an object at column 11"
        );
        assert_eq!(
            err("{\"line\":\"a\",\"timestamp\":\"yesterday\"}"),
            "line 1: \"timestamp\" \"yesterday\" is not RFC 3339: expected a 4-digit year at character 1 at column 35"
        );
        assert_eq!(
            err("{\"line\":\"a\",\"labels\":{\"k\":[1]}}"),
            "line 1: label \"k\" must be a string, number or boolean at column 30"
        );
        assert_eq!(
            err("{\"line\":\"a\",\"labels\":[]}"),
            "line 1: invalid type: sequence, expected \"labels\" as an object of strings at column 23"
        );
    }

    /// Regression: a float timestamp out of range was echoed with `{}`,
    /// every digit of it (1e300: 301 digits), past the crate's echo limit.
    #[test]
    fn float_timestamp_out_of_range_was_echoed_with_all_its_digits() {
        assert_eq!(
            err("{\"line\":\"a\",\"timestamp\":1e300}"),
            "line 1: \"timestamp\" 1e300 seconds is out of range at column 29"
        );
        assert_eq!(
            err("{\"line\":\"a\",\"timestamp\":-2.5e16}"),
            "line 1: \"timestamp\" -2.5e16 seconds is out of range at column 31"
        );
        let e = err(&format!(
            "{{\"line\":\"a\",\"timestamp\":1{}.0}}",
            "0".repeat(400)
        ));
        assert!(e.len() < 100, "{e}");
    }

    #[test]
    fn invalid_utf8_in_json_is_an_error() {
        let e = parse_ndjson(b"{\"line\":\"a\xffb\"}", &Limits::default()).unwrap_err();
        assert_eq!(
            e.to_string(),
            "line 1: not JSON: invalid unicode code point at column 11"
        );
    }

    #[test]
    fn limits() {
        let lim = Limits {
            max_body_bytes: 100,
            max_line_bytes: 3,
            max_entries: 2,
        };
        let v = parse_ndjson(b"{\"line\":\"abcdef\"}\n{\"line\":\"ab\"}", &lim).unwrap();
        assert_eq!(v[0].line, b"abc");
        assert!(v[0].truncated);
        assert!(!v[1].truncated);
        let e = parse_ndjson(b"{\"line\":\"a\"}\n{\"line\":\"b\"}\n{\"line\":\"c\"}", &lim).unwrap_err();
        assert_eq!(
            e.to_string(),
            "NDJSON body holds more than 2 entries (the per-request limit)"
        );
        let e = parse_ndjson(&[b' '; 101], &lim).unwrap_err();
        assert!(matches!(e, IngestError::BodyTooLarge { len: 101, max: 100 }));
    }

    proptest! {
        #[test]
        fn no_panic_on_arbitrary_bytes(b in proptest::collection::vec(any::<u8>(), 0..200)) {
            let _ = parse_ndjson(&b, &Limits::default());
        }

        #[test]
        fn lines_round_trip(lines in proptest::collection::vec(any::<String>(), 0..10)) {
            let mut body = String::new();
            for l in &lines {
                body.push_str(&serde_json::json!({"line": l}).to_string());
                body.push('\n');
            }
            let v = parse(&body).unwrap();
            let got: Vec<Vec<u8>> = v.into_iter().map(|e| e.line).collect();
            let want: Vec<Vec<u8>> = lines.into_iter().map(String::into_bytes).collect();
            prop_assert_eq!(got, want);
        }
    }
}
