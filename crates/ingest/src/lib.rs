//! logsieve ingest: the wire protocols `logsieve serve` accepts, turned into [`Entry`] values.
//!
//! A synchronous, allocation-bounded, panic-free decoding layer between the network and the
//! engine. The service crate calls it from its HTTP handlers and socket tasks:
//!
//! * [`body::decode_content`]: `Content-Encoding` (identity, gzip, x-gzip, deflate, zstd).
//! * [`plain::parse_ndjson`]: the service's own `POST /v1/ingest` NDJSON body.
//! * [`loki`]: `POST /loki/api/v1/push`, JSON and snappy-compressed protobuf.
//! * [`otlp`]: OTLP/HTTP logs, protobuf and JSON, and [`otlp::entries_from_request`] for gRPC.
//! * [`syslog`]: RFC 5424 / RFC 3164 messages and the RFC 6587 TCP framer.
//!
//! Invariants, for every decoder in this crate:
//! * No input makes it panic; every failure is an [`IngestError`] whose message says what is
//!   wrong and where (byte offset, 1-based line number, entry index or field), clipping any
//!   echoed input to [`MAX_ECHO_CHARS`].
//! * Memory is bounded by the [`Limits`] passed in: decompressed bodies never exceed
//!   `max_body_bytes`, the entry count of a body is checked against `max_entries` before the
//!   entries are materialised (protobuf and JSON bodies are pre-scanned), and no entry line is
//!   longer than `max_line_bytes` (longer lines are cut and flagged [`Entry::truncated`]).
//! * A body is accepted or rejected whole: the first bad entry rejects the request, so an
//!   acknowledgement always covers every entry of the body.
//! * Line bytes are passed through untouched where the protocol allows bytes (syslog, Loki
//!   protobuf lines, OTLP bytes bodies); invalid UTF-8 there is allowed and flagged later by the
//!   engine. JSON bodies must be valid UTF-8 (an error otherwise).
#![deny(unsafe_code)]

pub mod body;
pub mod labels;
pub mod loki;
pub mod otlp;
pub mod plain;
pub mod syslog;
mod time;
mod wire;

pub use loki::source_from_labels;
pub use otlp::entries_from_request;
pub use syslog::{Syslog, SyslogFramer};
pub use time::{days_from_civil, parse_rfc3339_ms};

/// One log entry decoded from a request body or a socket.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Entry {
    /// The log line / message body. Bytes: invalid UTF-8 is allowed, the engine flags it.
    pub line: Vec<u8>,
    /// Event time in milliseconds since the Unix epoch, when the protocol carries one.
    pub timestamp_ms: Option<i64>,
    /// What names the source, when the protocol says (a label, `service.name`, the syslog
    /// app name, the NDJSON `source` key).
    pub source: Option<String>,
    /// Labels, attributes, structured metadata and header fields, flattened, in wire order.
    pub fields: Vec<(String, String)>,
    /// The line was longer than [`Limits::max_line_bytes`] and was cut to that many bytes.
    pub truncated: bool,
}

impl Entry {
    /// Cuts `line` to `max` bytes (setting [`Entry::truncated`]) when it is longer.
    pub fn clamp_line(&mut self, max: usize) {
        if self.line.len() > max {
            self.line.truncate(max);
            self.truncated = true;
        }
    }
}

/// Bounds on what one request body may cost.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// Largest body accepted, counted after decompression.
    pub max_body_bytes: usize,
    /// Longest line kept; longer lines are cut and flagged [`Entry::truncated`].
    pub max_line_bytes: usize,
    /// Most entries in one body; more is an [`IngestError::TooManyEntries`].
    pub max_entries: usize,
}

impl Default for Limits {
    /// 16 MiB bodies, 1 MiB lines (the engine's framer default), 100 000 entries.
    fn default() -> Self {
        Limits {
            max_body_bytes: 16 << 20,
            max_line_bytes: 1 << 20,
            max_entries: 100_000,
        }
    }
}

/// Longest piece of network input repeated in an error message.
pub const MAX_ECHO_CHARS: usize = 64;

/// `s` cut to [`MAX_ECHO_CHARS`] characters, with `…` when cut, control characters escaped.
pub(crate) fn clip(s: &str) -> String {
    let mut out = String::new();
    for (n, c) in s.chars().enumerate() {
        if n == MAX_ECHO_CHARS {
            out.push('…');
            break;
        }
        if c.is_control() {
            out.extend(c.escape_default());
        } else {
            out.push(c);
        }
    }
    out
}

/// [`clip`] for bytes, decoded lossily.
pub(crate) fn clip_bytes(b: &[u8]) -> String {
    let end = b.len().min(MAX_ECHO_CHARS * 4);
    let s = String::from_utf8_lossy(&b[..end]);
    let mut c = clip(&s);
    if end < b.len() && !c.ends_with('…') {
        c.push('…');
    }
    c
}

/// Everything that can be wrong with ingested input. Each message is user-facing: it says
/// what is wrong and where.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum IngestError {
    /// The (uncompressed) body is larger than allowed.
    #[error("body of {len} bytes exceeds the limit of {max} bytes")]
    BodyTooLarge {
        /// Body size.
        len: usize,
        /// The limit.
        max: usize,
    },
    /// Decompressing the body would exceed `max_body_bytes`.
    #[error("{encoding} body exceeds {max} bytes after decompression")]
    DecompressedTooLarge {
        /// `gzip`, `deflate`, `zstd`, `snappy`.
        encoding: &'static str,
        /// The limit.
        max: usize,
    },
    /// A `Content-Encoding` this crate does not decode.
    #[error("unsupported Content-Encoding \"{0}\" (supported: identity, gzip, x-gzip, deflate, zstd)")]
    UnsupportedEncoding(String),
    /// A compressed body that does not decompress.
    #[error("bad {encoding} body: {reason} (after {decoded} decompressed bytes)")]
    Decompress {
        /// `gzip`, `deflate`, `zstd`, `snappy`.
        encoding: &'static str,
        /// What the decompressor said.
        reason: String,
        /// How many bytes had been produced when it failed.
        decoded: usize,
    },
    /// A `Content-Type` the endpoint does not accept.
    #[error("unsupported Content-Type \"{content_type}\" for {endpoint} (accepted: {accepted})")]
    UnsupportedContentType {
        /// The header as sent.
        content_type: String,
        /// The endpoint, e.g. `Loki push`.
        endpoint: &'static str,
        /// What it accepts.
        accepted: &'static str,
    },
    /// More entries in one body than `max_entries`.
    #[error("{what} holds more than {max} entries (the per-request limit)")]
    TooManyEntries {
        /// The body kind, e.g. `Loki push request`.
        what: &'static str,
        /// The limit.
        max: usize,
    },
    /// A bad line in an NDJSON body (`line` is 1-based).
    #[error("line {line}: {reason}")]
    Ndjson {
        /// 1-based line number in the body.
        line: usize,
        /// What is wrong, with the column where JSON says.
        reason: String,
    },
    /// A JSON body (Loki, OTLP) that does not parse or has a wrong field.
    #[error("bad {what} JSON: {reason}")]
    Json {
        /// The body kind.
        what: &'static str,
        /// What is wrong and where (path, line and column).
        reason: String,
    },
    /// A protobuf body that does not decode.
    #[error("bad {what} protobuf: {reason}")]
    Protobuf {
        /// The message type.
        what: &'static str,
        /// What is wrong and where (byte offset or field path).
        reason: String,
    },
    /// A Prometheus label-set string (`{job="x"}`) that does not parse.
    #[error("bad label set at byte {offset}: {reason} in {input:?}")]
    Labels {
        /// Byte offset in the label string.
        offset: usize,
        /// What is wrong.
        reason: String,
        /// The label string, clipped.
        input: String,
    },
    /// A syslog message that does not parse.
    #[error("bad syslog message at byte {offset}: {reason}")]
    Syslog {
        /// Byte offset in the message.
        offset: usize,
        /// What is wrong.
        reason: String,
    },
    /// A syslog TCP frame larger than the framer's limit. The framer skips it and goes on.
    #[error("frame of {len} bytes exceeds the limit of {max}")]
    FrameTooLarge {
        /// The frame's size: its octet count, or the bytes seen so far without a terminator
        /// (`at least`).
        len: usize,
        /// The limit.
        max: usize,
    },
    /// An RFC 6587 octet count that is not one. Fatal: the connection should be closed.
    #[error("bad octet count at stream byte {offset}: {reason}; closing the connection")]
    OctetCount {
        /// Offset of the frame in the connection's byte stream.
        offset: u64,
        /// What is wrong.
        reason: String,
    },
    /// The connection ended inside an octet-counted frame.
    #[error(
        "connection closed inside an octet-counted frame at stream byte {offset}: got {got} of {want} bytes"
    )]
    TruncatedFrame {
        /// Offset of the frame in the connection's byte stream.
        offset: u64,
        /// Bytes received.
        got: usize,
        /// Bytes announced.
        want: usize,
    },
}

impl IngestError {
    /// True for errors after which a syslog TCP connection must be closed (the framing can
    /// no longer be trusted): [`IngestError::OctetCount`] and [`IngestError::TruncatedFrame`].
    pub fn is_fatal_for_connection(&self) -> bool {
        matches!(
            self,
            IngestError::OctetCount { .. } | IngestError::TruncatedFrame { .. }
        )
    }

    /// True when the input was too big rather than malformed (HTTP 413 rather than 400).
    pub fn is_too_large(&self) -> bool {
        matches!(
            self,
            IngestError::BodyTooLarge { .. }
                | IngestError::DecompressedTooLarge { .. }
                | IngestError::TooManyEntries { .. }
                | IngestError::FrameTooLarge { .. }
        )
    }
}

/// Shorthand for this crate's results.
pub type Result<T, E = IngestError> = std::result::Result<T, E>;

/// serde_json's message without its ` at line L column C` suffix, and the position.
pub(crate) fn json_msg(e: &serde_json::Error) -> (String, usize, usize) {
    let s = e.to_string();
    let suffix = format!(" at line {} column {}", e.line(), e.column());
    let msg = s.strip_suffix(&suffix).map(str::to_string).unwrap_or(s);
    (msg, e.line(), e.column())
}

/// A JSON error as `msg at line L column C`, for [`IngestError::Json`].
pub(crate) fn json_reason(e: &serde_json::Error) -> String {
    let (msg, line, col) = json_msg(e);
    if line == 0 {
        msg
    } else {
        format!("{msg} at line {line} column {col}")
    }
}
