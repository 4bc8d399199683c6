//! logsieve header: splits a log line into header fields and the message
//! content.
//!
//! A [`HeaderParser`] is built either from a Loghub/logparser log format
//! ([`HeaderParser::from_format`], e.g. `"<Date> <Time> <Level> <Component>: <Content>"`)
//! or from a [`Preset`] (syslog, RFC 5424, Apache/Nginx combined, JSON lines,
//! logfmt, CEF).
//!
//! Key invariants:
//! * Format semantics are exactly logparser's `generate_logformat_regex`: split on
//!   `(<[^<>]+>)`, runs of spaces in literal parts become `\s+`, every field is
//!   `(?P<Field>.*?)`, the whole is anchored `^...$` (Rust `regex` syntax, so
//!   `\s` is Unicode `White_Space`; Python's `\s` also matches `\x1c`-`\x1f`).
//!   logparser matches `line.strip()`; [`HeaderParser::parse`] matches the line
//!   as given, so strip first when comparing with logparser output.
//! * Formats whose literal parts are plain text (escaped punctuation, spaces)
//!   plus at most simple optional groups like `(\[<PID>\])?` use a
//!   literal-scan fast path (memchr/memmem, ~10x faster) that is only trusted
//!   when it succeeds; otherwise the regex decides, so results are always the
//!   regex's.
//! * A line is never dropped: a line that does not match yields `matched = false`,
//!   every value empty and `content` = the whole line.
//! * [`ParsedHeader`] buffers are reused: parsing a line allocates nothing on the
//!   format and text-preset paths once the buffers have grown (JSON, logfmt
//!   and CEF allocate their pairs).
//! * A parser is `Send + Sync`; share one across threads, give each thread its
//!   own [`ParsedHeader`].
//!
//! ```
//! use logsieve_header::{HeaderParser, ParsedHeader};
//! let p = HeaderParser::from_format("<Date> <Time> <Level> <Component>: <Content>").unwrap();
//! let mut out = ParsedHeader::new();
//! assert!(p.parse("081109 203615 INFO dfs.DataNode: Receiving block blk_1", &mut out));
//! assert_eq!(p.field_names(), ["Date", "Time", "Level", "Component"]);
//! assert_eq!(out.values, ["081109", "203615", "INFO", "dfs.DataNode"]);
//! assert_eq!(out.content, "Receiving block blk_1");
//! assert!(!p.parse("garbage", &mut out));
//! assert_eq!((out.matched, out.content.as_str()), (false, "garbage"));
//! ```

use std::collections::BTreeMap;
use std::fmt;
use std::path::{Path, PathBuf};
use std::str::FromStr;
use std::sync::atomic::{AtomicU64, Ordering};

mod format;
mod kv;
mod presets;

use format::CompiledFormat;

/// Errors in a log format string. Columns are 0-based byte offsets into the
/// format string.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum FormatError {
    /// No `<Content>` field.
    #[error("log format has no <Content> field; add <Content> where the message text starts (e.g. \"<Date> <Time> <Level>: <Content>\")")]
    MissingContent,
    /// A `<` without a matching `>` before the next `<` or the end.
    #[error("log format: '<' at column {column} is not closed by '>'; close the field name, or write \\< for a literal '<'")]
    UnclosedField {
        /// Column of the `<`.
        column: usize,
    },
    /// `<>`.
    #[error("log format: empty field name '<>' at column {column}; name the field (letters, digits, _) or write \\<> for literal text")]
    EmptyFieldName {
        /// Column of the `<`.
        column: usize,
    },
    /// A field name with a character other than letters, digits, `_`.
    #[error("log format: field name <{name}> has invalid character {ch:?} at column {column}; field names may only use letters, digits and _")]
    InvalidFieldName {
        /// The name as written.
        name: String,
        /// The offending character.
        ch: char,
        /// Column of the offending character.
        column: usize,
    },
    /// The same field name twice.
    #[error("log format: field <{name}> at column {column} repeats the field at column {first_column}; give each field a distinct name")]
    DuplicateField {
        /// The repeated name.
        name: String,
        /// Column of the first occurrence.
        first_column: usize,
        /// Column of the repeat.
        column: usize,
    },
    /// The literal parts do not form a valid regular expression.
    #[error("log format: invalid regular expression near column {column}: {message}; literal parts are regex fragments, escape special characters such as [ ] ( ) | . * + ? with a backslash")]
    InvalidRegex {
        /// Format column nearest to the error.
        column: usize,
        /// The regex engine's description.
        message: String,
    },
}

/// An unknown preset name.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum PresetError {
    /// The name is not one of the presets.
    #[error("unknown header preset {name:?}; use one of: syslog, rfc5424, combined, json, logfmt, cef")]
    Unknown {
        /// The name given.
        name: String,
    },
}

/// Errors reading a `formats.json` file.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum FormatsFileError {
    /// The file could not be read.
    #[error("cannot read log formats file {path}: {source}; check the path and permissions")]
    Read {
        /// The file.
        path: PathBuf,
        /// OS error.
        #[source]
        source: std::io::Error,
    },
    /// The file is not a JSON object of strings.
    #[error("log formats file {path} is not a JSON object mapping names to format strings: {source}")]
    Parse {
        /// The file.
        path: PathBuf,
        /// JSON error (with line and column).
        #[source]
        source: serde_json::Error,
    },
}

/// Reads a Loghub `formats.json` (`{"HDFS": "<Date> <Time> ...", ...}`).
/// Formats are returned as written, not compiled.
pub fn load_formats_json(path: impl AsRef<Path>) -> Result<BTreeMap<String, String>, FormatsFileError> {
    let path = path.as_ref();
    let text = std::fs::read_to_string(path).map_err(|source| FormatsFileError::Read {
        path: path.to_path_buf(),
        source,
    })?;
    serde_json::from_str(&text).map_err(|source| FormatsFileError::Parse {
        path: path.to_path_buf(),
        source,
    })
}

/// Built-in header layouts.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Preset {
    /// RFC 3164 syslog: fields `priority`, `timestamp`, `host`, `app`, `pid`.
    Syslog,
    /// RFC 5424 syslog: `priority`, `version`, `timestamp`, `host`, `app`,
    /// `procid`, `msgid`, `structured_data`.
    Rfc5424,
    /// Apache/Nginx combined or common log format: `client_ip`, `ident`, `user`,
    /// `timestamp`, `method`, `uri`, `path`, `query`, `protocol`, `status`,
    /// `bytes`, `referer`, `user_agent`.
    Combined,
    /// JSON lines: dynamic fields in [`ParsedHeader::extra`].
    Json,
    /// logfmt (`key=value key2="quoted value"`): every pair in
    /// [`ParsedHeader::extra`], the message (`msg`, `message` or `log`) is
    /// the content.
    Logfmt,
    /// CEF (`[prefix] CEF:Version|Vendor|Product|Version|Signature ID|Name|Severity|Extension`):
    /// fields `cef_version`, `device_vendor`, `device_product`,
    /// `device_version`, `signature_id`, `name`, `severity`; extension
    /// pairs in [`ParsedHeader::extra`]; content = `msg`, else `name`.
    Cef,
}

impl Preset {
    /// All presets.
    pub const ALL: [Preset; 6] = [
        Preset::Syslog,
        Preset::Rfc5424,
        Preset::Combined,
        Preset::Json,
        Preset::Logfmt,
        Preset::Cef,
    ];

    /// The preset's name as accepted by `FromStr`.
    pub fn name(self) -> &'static str {
        match self {
            Preset::Syslog => "syslog",
            Preset::Rfc5424 => "rfc5424",
            Preset::Combined => "combined",
            Preset::Json => "json",
            Preset::Logfmt => "logfmt",
            Preset::Cef => "cef",
        }
    }
}

impl fmt::Display for Preset {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl FromStr for Preset {
    type Err = PresetError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Preset::ALL
            .into_iter()
            .find(|p| p.name().eq_ignore_ascii_case(s))
            .ok_or_else(|| PresetError::Unknown { name: s.to_string() })
    }
}

/// The result of parsing one line; reuse one per thread.
#[derive(Debug, Clone, Default)]
pub struct ParsedHeader {
    /// One value per [`HeaderParser::field_names`], in the same order.
    pub values: Vec<String>,
    /// The message content (or the whole line when not matched).
    pub content: String,
    /// JSON preset only: every other scalar leaf (`a.b.c` names), arrays as JSON text.
    pub extra: Vec<(String, String)>,
    /// Whether the line matched the format/preset.
    pub matched: bool,
    scratch: Scratch,
}

#[derive(Debug, Clone, Default)]
struct Scratch {
    spans: Vec<(usize, usize)>,
    locs: Option<(u64, regex::CaptureLocations)>,
}

impl ParsedHeader {
    /// Empty buffers.
    pub fn new() -> Self {
        Self::default()
    }

    /// Value of field `name`, looking at fixed fields then `extra`.
    pub fn get<'a>(&'a self, parser: &HeaderParser, name: &str) -> Option<&'a str> {
        if let Some(i) = parser.field_names.iter().position(|n| n == name) {
            return self.values.get(i).map(String::as_str);
        }
        self.extra
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    }

    fn reset(&mut self, nfields: usize) {
        if self.values.len() != nfields {
            self.values.resize_with(nfields, String::new);
        }
        for v in &mut self.values {
            v.clear();
        }
        self.content.clear();
        self.extra.clear();
        self.matched = false;
    }
}

static NEXT_ID: AtomicU64 = AtomicU64::new(1);

#[derive(Debug, Clone)]
enum Kind {
    Format {
        source: String,
        compiled: CompiledFormat,
        groups: Vec<usize>,
    },
    Preset(Preset, Option<String>),
}

/// Splits lines into header fields and content; see the crate docs.
#[derive(Debug, Clone)]
pub struct HeaderParser {
    id: u64,
    kind: Kind,
    field_names: Vec<String>,
}

impl HeaderParser {
    /// Compiles a Loghub/logparser log format.
    pub fn from_format(fmt: &str) -> Result<Self, FormatError> {
        let compiled = format::compile(fmt)?;
        let groups = compiled.group_indices();
        let field_names = compiled
            .fields
            .iter()
            .enumerate()
            .filter(|&(i, _)| i != compiled.content_idx)
            .map(|(_, n)| n.clone())
            .collect();
        Ok(HeaderParser {
            id: NEXT_ID.fetch_add(1, Ordering::Relaxed),
            kind: Kind::Format {
                source: fmt.to_string(),
                compiled,
                groups,
            },
            field_names,
        })
    }

    /// A preset parser. `message_field` names the JSON message field (a
    /// top-level key or a dotted path such as `log.message`); the other presets
    /// ignore it. Without it, JSON uses the first of `message`, `msg`, `log`.
    pub fn preset(preset: Preset, message_field: Option<&str>) -> Self {
        let names: &[&str] = match preset {
            Preset::Syslog => presets::SYSLOG_FIELDS,
            Preset::Rfc5424 => presets::RFC5424_FIELDS,
            Preset::Combined => presets::COMBINED_FIELDS,
            Preset::Json | Preset::Logfmt => &[],
            Preset::Cef => kv::CEF_FIELDS,
        };
        HeaderParser {
            id: NEXT_ID.fetch_add(1, Ordering::Relaxed),
            kind: Kind::Preset(preset, message_field.map(str::to_string)),
            field_names: names.iter().map(|s| s.to_string()).collect(),
        }
    }

    /// Fixed header field names (excluding Content), in format order. Empty for JSON.
    pub fn field_names(&self) -> &[String] {
        &self.field_names
    }

    /// The format string, for format parsers.
    pub fn format_str(&self) -> Option<&str> {
        match &self.kind {
            Kind::Format { source, .. } => Some(source),
            Kind::Preset(..) => None,
        }
    }

    /// The preset, for preset parsers.
    pub fn preset_kind(&self) -> Option<Preset> {
        match &self.kind {
            Kind::Preset(p, _) => Some(*p),
            Kind::Format { .. } => None,
        }
    }

    /// The generated regular expression, for format parsers.
    pub fn regex_str(&self) -> Option<&str> {
        match &self.kind {
            Kind::Format { compiled, .. } => Some(compiled.regex.as_str()),
            Kind::Preset(..) => None,
        }
    }

    /// Whether this format parser has the literal-scan fast path.
    pub fn has_fast_path(&self) -> bool {
        matches!(&self.kind, Kind::Format { compiled, .. } if compiled.fast.is_some())
    }

    /// Parses `line` (without its line terminator) into `out`; returns whether it
    /// matched. On no match: `matched = false`, values empty, content = `line`.
    pub fn parse(&self, line: &str, out: &mut ParsedHeader) -> bool {
        self.parse_impl(line, out, true)
    }

    /// Like [`parse`](Self::parse) but never uses the fast path (for testing and
    /// benchmarking; the result is identical).
    pub fn parse_with_regex(&self, line: &str, out: &mut ParsedHeader) -> bool {
        self.parse_impl(line, out, false)
    }

    fn parse_impl(&self, line: &str, out: &mut ParsedHeader, fast: bool) -> bool {
        out.reset(self.field_names.len());
        let ok = match &self.kind {
            Kind::Format { compiled, groups, .. } => {
                let mut spans = std::mem::take(&mut out.scratch.spans);
                let mut ok = fast && compiled.scan(line, &mut spans);
                if !ok {
                    let locs = match &mut out.scratch.locs {
                        Some((id, locs)) if *id == self.id => locs,
                        slot => &mut slot.insert((self.id, compiled.regex.capture_locations())).1,
                    };
                    ok = compiled.regex_match(line, locs, &mut spans, groups);
                }
                if ok {
                    let mut j = 0;
                    for (k, &(s, e)) in spans.iter().enumerate() {
                        if k == compiled.content_idx {
                            out.content.push_str(&line[s..e]);
                        } else {
                            out.values[j].push_str(&line[s..e]);
                            j += 1;
                        }
                    }
                }
                out.scratch.spans = spans;
                ok
            }
            Kind::Preset(p, msg) => match p {
                Preset::Syslog => presets::syslog(line, out),
                Preset::Rfc5424 => presets::rfc5424(line, out),
                Preset::Combined => presets::combined(line, out),
                Preset::Json => presets::json(line, msg.as_deref(), out),
                Preset::Logfmt => kv::logfmt(line, msg.as_deref(), out),
                Preset::Cef => kv::cef(line, out),
            },
        };
        if !ok {
            out.reset(self.field_names.len());
            out.content.push_str(line);
        }
        out.matched = ok;
        ok
    }
}

#[cfg(test)]
mod tests;
