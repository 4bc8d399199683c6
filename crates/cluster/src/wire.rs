//! The message a front end publishes and a worker reads: the parts of one
//! accepted request that fall in one partition, with their arrival time.
//!
//! Encoded with postcard (a compact, versioned-by-us serde format). A
//! decoder never trusts the bytes: every length is checked by postcard, and
//! the rebuilt line numbering is checked here.

use logsieve_framing::{LineBatch, LineFlags};
use logsieve_serve::processor::{FormatKey, Part};
use serde::{Deserialize, Serialize};

/// Format version written in every message.
pub const WIRE_VERSION: u8 = 1;

/// Why a message could not be read.
#[derive(Debug, thiserror::Error)]
pub enum WireError {
    /// Not postcard of the expected shape.
    #[error("message is not a logsieve batch: {0}")]
    Decode(#[from] postcard::Error),
    /// Written by another format version.
    #[error("message format version {found}; this build reads version {WIRE_VERSION}")]
    Version {
        /// Version found.
        found: u8,
    },
    /// Its content contradicts itself.
    #[error("message part {part} (source {source_name:?}): {what}")]
    Invalid {
        /// Index of the part.
        part: usize,
        /// Its source.
        source_name: String,
        /// What is wrong.
        what: String,
    },
}

#[derive(Serialize, Deserialize)]
enum WireFormat {
    Whole,
    Format(String),
    Preset(String),
}

#[derive(Serialize, Deserialize)]
struct WireEntry<'a> {
    line_no: u64,
    count: u32,
    /// bit 0 truncated, bit 1 had CRLF, bit 2 continued.
    flags: u8,
    #[serde(borrow, with = "serde_bytes")]
    bytes: &'a [u8],
}

#[derive(Serialize, Deserialize)]
struct WirePart<'a> {
    #[serde(borrow)]
    source: &'a str,
    format: WireFormat,
    #[serde(borrow)]
    entries: Vec<WireEntry<'a>>,
    fields: Vec<Vec<(String, String)>>,
}

#[derive(Serialize, Deserialize)]
struct WireBatch<'a> {
    version: u8,
    at_ms: i64,
    #[serde(borrow)]
    protocol: &'a str,
    #[serde(borrow)]
    parts: Vec<WirePart<'a>>,
}

/// A decoded message.
pub struct Batch {
    /// When the front end accepted the lines (ms since the epoch).
    pub at_ms: i64,
    /// Which protocol brought them.
    pub protocol: String,
    /// The lines, per source.
    pub parts: Vec<Part>,
}

fn flags_bits(f: LineFlags) -> u8 {
    u8::from(f.truncated()) | (u8::from(f.had_crlf()) << 1) | (u8::from(f.continued()) << 2)
}

fn flags_of(b: u8) -> LineFlags {
    LineFlags::new(b & 1 != 0, b & 2 != 0).with_continued(b & 4 != 0)
}

fn wire_format(f: &FormatKey) -> WireFormat {
    match f {
        FormatKey::Whole => WireFormat::Whole,
        FormatKey::Format(s) => WireFormat::Format(s.clone()),
        FormatKey::Preset(s) => WireFormat::Preset(s.clone()),
    }
}

/// Encodes `parts` (all of one partition) as one message.
pub fn encode(parts: &[&Part], protocol: &str, at_ms: i64) -> Vec<u8> {
    let batch = WireBatch {
        version: WIRE_VERSION,
        at_ms,
        protocol,
        parts: parts
            .iter()
            .map(|p| WirePart {
                source: &p.source,
                format: wire_format(&p.format),
                entries: (0..p.batch.len())
                    .map(|i| WireEntry {
                        line_no: p.batch.line_no(i),
                        count: p.batch.line_count(i),
                        flags: flags_bits(p.batch.flags(i)),
                        bytes: p.batch.line(i),
                    })
                    .collect(),
                fields: p.fields.clone(),
            })
            .collect(),
    };
    postcard::to_stdvec(&batch).expect("postcard encodes to a Vec without failing")
}

/// Decodes a message.
pub fn decode(bytes: &[u8]) -> Result<Batch, WireError> {
    let w: WireBatch<'_> = postcard::from_bytes(bytes)?;
    if w.version != WIRE_VERSION {
        return Err(WireError::Version { found: w.version });
    }
    let mut parts = Vec::with_capacity(w.parts.len());
    for (i, wp) in w.parts.into_iter().enumerate() {
        let bad = |what: String| WireError::Invalid {
            part: i,
            source_name: wp.source.chars().take(40).collect(),
            what,
        };
        if wp.source.is_empty() {
            return Err(bad("empty source".into()));
        }
        if !wp.fields.is_empty() && wp.fields.len() != wp.entries.len() {
            return Err(bad(format!(
                "{} field sets for {} entries",
                wp.fields.len(),
                wp.entries.len()
            )));
        }
        let format = match wp.format {
            WireFormat::Whole => FormatKey::Whole,
            WireFormat::Format(s) => FormatKey::Format(s),
            WireFormat::Preset(s) => FormatKey::Preset(s),
        };
        let mut batch =
            LineBatch::with_capacity(wp.entries.iter().map(|e| e.bytes.len()).sum(), wp.entries.len());
        let mut next = None;
        for (j, e) in wp.entries.iter().enumerate() {
            if e.count == 0 || e.line_no == 0 || next.is_some_and(|n| e.line_no < n) {
                return Err(bad(format!(
                    "entry {j}: line {} (count {}) breaks the numbering",
                    e.line_no, e.count
                )));
            }
            if u32::try_from(e.bytes.len()).is_err() {
                return Err(bad(format!("entry {j} is longer than 4 GiB")));
            }
            next = e.line_no.checked_add(u64::from(e.count));
            if next.is_none() {
                return Err(bad(format!("entry {j}: line number overflows")));
            }
            batch.push_lines(e.bytes, flags_of(e.flags), e.line_no, e.count);
        }
        if let Some(first) = wp.entries.first() {
            batch.first_line_no = first.line_no;
        } else {
            batch.first_line_no = 1;
        }
        parts.push(Part {
            source: wp.source.to_string(),
            format,
            batch,
            fields: wp.fields,
        });
    }
    Ok(Batch {
        at_ms: w.at_ms,
        protocol: w.protocol.to_string(),
        parts,
    })
}
