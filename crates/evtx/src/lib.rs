//! Windows event log files (`.evtx`) for logsieve: each record as a JSON
//! event in the layout the `windows` mapping reads (`Event.System.*`,
//! `Event.EventData.*`, `#attributes`/`#text` nodes), which is the layout
//! evtx-to-JSON tools write and SigmaHQ's regression events use. Values
//! render as Windows renders them: GUIDs `{lowercase}`, timestamps with
//! seven fractional digits, strings as stored (trailing spaces kept).
//!
//! Key invariants:
//! - Records come out in file order (chunk by chunk, record by record),
//!   whatever the number of threads that decode chunks in parallel.
//! - Every record is accounted for: it is either an event or an
//!   [`EvtxRecordError`] naming its position in the file; a file that is
//!   not an EVTX file at all is an [`EvtxError`].
//! - [`write::to_evtx`] is the inverse for tests and fixtures: it writes
//!   JSON events in that layout as an `.evtx` file that reads back as the
//!   same JSON.

pub mod write;

use std::path::{Path, PathBuf};

/// The first eight bytes of every EVTX file.
pub const MAGIC: &[u8; 8] = b"ElfFile\0";

/// Whether `head` (the first bytes of an input) starts an EVTX file.
pub fn is_evtx(head: &[u8]) -> bool {
    head.starts_with(MAGIC)
}

/// Why an EVTX file could not be read at all.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum EvtxError {
    /// The file could not be opened or read.
    #[error("{path}: {source}")]
    Io {
        /// The file.
        path: PathBuf,
        /// The OS error.
        source: std::io::Error,
    },
    /// The file header is not an EVTX header.
    #[error("{origin}: not a Windows event log (.evtx) file: {message}")]
    NotEvtx {
        /// The file, or `-`.
        origin: String,
        /// The parser's message.
        message: String,
    },
    /// [`write::to_evtx`] was given something it cannot write.
    #[error("cannot write event {index} as EVTX: {message}")]
    Write {
        /// 0-based index of the event.
        index: usize,
        /// What is wrong.
        message: String,
    },
}

/// A record that could not be decoded; the others still are.
#[derive(Debug, Clone, thiserror::Error)]
#[error("record {position}: {message}")]
pub struct EvtxRecordError {
    /// 1-based position of the failure among the records read so far (the
    /// number the next good record would have had).
    pub position: u64,
    /// The parser's message with its causes.
    pub message: String,
}

/// One decoded record.
#[derive(Debug, Clone)]
pub struct EvtxEvent {
    /// 1-based position in the file, counting records that failed too
    /// (what alerts call the event's `line`).
    pub position: u64,
    /// The record number in the record's header. A log exported from a
    /// query numbers its records from 1 there while each event keeps its
    /// original `Event.System.EventRecordID` (SigmaHQ's regression files:
    /// record 1 holds `EventRecordID` 32822341), so the two can differ.
    pub record_id: u64,
    /// The event as JSON (`{"Event": {"System": …, "EventData": …}}`).
    pub event: serde_json::Value,
}

/// The reader under an open file: the file itself, or bytes in memory.
trait Source: std::io::Read + std::io::Seek + Send {}
impl<T: std::io::Read + std::io::Seek + Send> Source for T {}

/// An open EVTX file; [`EvtxFile::for_each`] decodes it.
pub struct EvtxFile {
    parser: evtx::EvtxParser<Box<dyn Source>>,
}

impl std::fmt::Debug for EvtxFile {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("EvtxFile").finish_non_exhaustive()
    }
}

fn causes(err: &dyn std::error::Error) -> String {
    let mut text = err.to_string();
    let mut e = err;
    while let Some(s) = e.source() {
        text = format!("{text}: {s}");
        e = s;
    }
    text
}

impl EvtxFile {
    /// Opens the file at `path` (read as it is decoded, not loaded whole).
    pub fn open(path: &Path) -> Result<EvtxFile, EvtxError> {
        let io = |e| EvtxError::Io {
            path: path.to_path_buf(),
            source: e,
        };
        let mut f = std::fs::File::open(path).map_err(io)?;
        let mut head = [0u8; 8];
        let n = std::io::Read::read(&mut f, &mut head).map_err(io)?;
        std::io::Seek::rewind(&mut f).map_err(io)?;
        EvtxFile::from_source(&head[..n], Box::new(f), &path.display().to_string())
    }

    /// An EVTX file held in memory (e.g. read from standard input);
    /// `origin` names it in errors.
    pub fn from_bytes(bytes: Vec<u8>, origin: &str) -> Result<EvtxFile, EvtxError> {
        let head = bytes[..bytes.len().min(8)].to_vec();
        EvtxFile::from_source(&head, Box::new(std::io::Cursor::new(bytes)), origin)
    }

    fn from_source(head: &[u8], source: Box<dyn Source>, origin: &str) -> Result<EvtxFile, EvtxError> {
        if !is_evtx(head) {
            return Err(EvtxError::NotEvtx {
                origin: origin.to_string(),
                message: "it does not start with \"ElfFile\"".into(),
            });
        }
        let parser = evtx::EvtxParser::from_read_seek(source).map_err(|e| EvtxError::NotEvtx {
            origin: origin.to_string(),
            message: causes(&e),
        })?;
        Ok(EvtxFile { parser })
    }

    /// Calls `f` with each record in file order, decoded on `threads`
    /// threads (0: one per core; chunks are decoded in parallel, then put
    /// back in order). The order does not depend on `threads`. Stops at
    /// the first error `f` returns.
    pub fn for_each<E>(
        self,
        threads: usize,
        mut f: impl FnMut(Result<EvtxEvent, EvtxRecordError>) -> Result<(), E>,
    ) -> Result<(), E> {
        let settings = evtx::ParserSettings::new()
            .num_threads(threads)
            .separate_json_attributes(false);
        let mut parser = self.parser.with_configuration(settings);
        for (i, r) in parser.records_json_value().enumerate() {
            let position = i as u64 + 1;
            f(match r {
                Ok(r) => Ok(EvtxEvent {
                    position,
                    record_id: r.event_record_id,
                    event: r.data,
                }),
                Err(e) => Err(EvtxRecordError {
                    position,
                    message: causes(&e),
                }),
            })?;
        }
        Ok(())
    }

    /// Every record, in file order (see [`EvtxFile::for_each`]).
    pub fn events(self, threads: usize) -> Vec<Result<EvtxEvent, EvtxRecordError>> {
        let mut out = Vec::new();
        let _ = self.for_each::<std::convert::Infallible>(threads, |r| {
            out.push(r);
            Ok(())
        });
        out
    }
}
