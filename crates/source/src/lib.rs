//! logsieve source: bytes from where logs live.
//!
//! * [`Input`] names stdin (`-`) or a file; [`open`] returns a reader that
//!   transparently decompresses gzip (all members) and zstd (all frames),
//!   detected by magic bytes, not by file extension.
//! * [`expand_inputs`] turns arguments into inputs: `-`, files, directories
//!   (walked recursively like ripgrep: hidden files and `.gitignore`/`.ignore`
//!   exclusions skipped, sorted by path) and globs (sorted; no match is an
//!   error). [`expand_follow_inputs`] does the same for `--follow`, keeping a
//!   missing plain path (to be waited for) and leaving out compressed files
//!   and rotated copies.
//! * [`is_stream`]: stdin and every path that is not a regular file (FIFO,
//!   socket, device, `/dev/stdin`, `/dev/fd/N`, `/proc/<pid>/fd/N`) can be
//!   read only once; [`is_seekable_file`] is true for the rest that exists.
//! * [`Follower`] tails a growing file like `tail -F`, and better: it
//!   survives rename rotation (the old file is drained first, then the new
//!   one is read from its start), deletion (drained, then the path is waited
//!   for), files that do not exist yet (`wait_for_create`), and truncation
//!   (`copytruncate`), recovering from the rotated copy the bytes written
//!   after its last read and before the truncation.
//!
//! Key invariants:
//! * Errors never pass silently: a truncated or corrupt compressed stream makes
//!   `read` return an `io::Error` naming the input, never an early `Ok(0)`.
//!   Error messages echo at most [`MAX_ECHO_CHARS`] characters of user input.
//! * Readers are `Send`, so the read side can run on its own thread.
//! * [`Follower::read`] hands out complete lines only: every byte it returns
//!   is followed, within the same or a later `read`, by a `\n` before any
//!   byte of another file (or of the file's content after a truncation). An
//!   unterminated fragment is held and completed with a synthesized `\n`
//!   (counted by [`Follower::partial_flushes`]) at a rotation, a truncation,
//!   the end of a rotated copy, after `partial_flush` of quiet, or on stop.
//!   Only a fragment over [`MAX_HELD_FRAGMENT`] bytes is handed out early.
//! * Truncation is checked on every read of the followed file, by size and by
//!   a fingerprint of the file's first bytes, not only at EOF; truncations for
//!   which no rotated copy was found are counted
//!   ([`Follower::truncations_without_copy`]): bytes may have been lost there.
//! * [`Follower::read`] returns `Ok(0)` only when stopped (stop flag or idle
//!   timeout), never merely because it caught up with the writer, and only
//!   after handing out every byte it has read.
//!
//! ```
//! use std::io::Read;
//! use logsieve_source::{open, Input};
//! let dir = tempfile::tempdir().unwrap();
//! let path = dir.path().join("app.log.gz"); // a name, not a promise: this is plain text
//! std::fs::write(&path, "hello\n").unwrap();
//! let input = Input::from_arg(path.to_str().unwrap());
//! let mut text = String::new();
//! open(&input).unwrap().read_to_string(&mut text).unwrap();
//! assert_eq!(text, "hello\n");
//! assert!(logsieve_source::is_seekable_file(&input));
//! assert!(!logsieve_source::is_stream(&input));
//! assert!(logsieve_source::is_stream(&Input::Stdin));
//! assert_eq!(Input::from_arg("-").display_name(), "<stdin>");
//! ```

use std::fmt;
use std::fs::File;
use std::io::{self, Read};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

mod expand;
mod follow;

pub use expand::{expand_follow_inputs, expand_inputs, is_seekable_file, is_stream};
pub use follow::{FollowOptions, Follower, MAX_HELD_FRAGMENT};

/// Where the bytes come from.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Input {
    /// Standard input.
    Stdin,
    /// A file path.
    File(PathBuf),
}

impl Input {
    /// `-` is stdin, anything else a path.
    pub fn from_arg(arg: &str) -> Self {
        if arg == "-" {
            Input::Stdin
        } else {
            Input::File(PathBuf::from(arg))
        }
    }

    /// A name for messages: `<stdin>` or the path as given.
    pub fn display_name(&self) -> String {
        match self {
            Input::Stdin => "<stdin>".to_string(),
            Input::File(p) => p.display().to_string(),
        }
    }

    /// The path, for file inputs.
    pub fn path(&self) -> Option<&Path> {
        match self {
            Input::Stdin => None,
            Input::File(p) => Some(p),
        }
    }
}

impl fmt::Display for Input {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.display_name())
    }
}

/// Longest piece of user input (a path, a pattern) echoed in a message.
pub const MAX_ECHO_CHARS: usize = 200;

/// `s` cut to [`MAX_ECHO_CHARS`] characters (with `…` when cut), for
/// messages that repeat user input.
pub fn clip(s: &str) -> String {
    match s.char_indices().nth(MAX_ECHO_CHARS) {
        None => s.to_string(),
        Some((i, _)) => format!("{}…", &s[..i]),
    }
}

fn clip_path(p: &Path) -> String {
    clip(&p.display().to_string())
}

/// Errors opening or expanding an input.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum SourceError {
    /// The file could not be opened.
    #[error(
        "cannot open {}: {source}; check that the file exists and is readable",
        clip_path(path)
    )]
    Open {
        /// The path.
        path: PathBuf,
        /// OS error.
        #[source]
        source: io::Error,
    },
    /// The path is a directory.
    #[error("{} is a directory; pass a log file (or `-` for stdin)", clip_path(path))]
    IsDirectory {
        /// The path.
        path: PathBuf,
    },
    /// Reading the first bytes (to detect compression) failed.
    #[error("cannot read the start of {}: {source}", clip(name))]
    Read {
        /// Input name.
        name: String,
        /// OS error.
        #[source]
        source: io::Error,
    },
    /// Setting up a decompressor failed.
    #[error("cannot start {format} decompression of {}: {source}", clip(name))]
    Decoder {
        /// `gzip` or `zstd`.
        format: &'static str,
        /// Input name.
        name: String,
        /// Underlying error.
        #[source]
        source: io::Error,
    },
    /// `--follow` of a path that is not a regular file.
    #[error(
        "cannot follow {}: it is not a regular file (a pipe, socket or device); read it without --follow",
        clip_path(path)
    )]
    NotFollowable {
        /// The path.
        path: PathBuf,
    },
    /// A missing file to wait for, in a directory that does not exist either.
    #[error(
        "cannot follow {}: its directory {} does not exist; create it or fix the path",
        clip_path(path),
        clip_path(dir)
    )]
    FollowDirMissing {
        /// The followed path.
        path: PathBuf,
        /// Its missing parent directory.
        dir: PathBuf,
    },
    /// A glob pattern that matched no file.
    #[error(
        "no file matches the pattern {}; check the pattern (quote it so the shell does not expand it)",
        clip(pattern)
    )]
    NoGlobMatch {
        /// The pattern.
        pattern: String,
    },
    /// A glob pattern that cannot be parsed.
    #[error("invalid glob pattern {} at character {at}: {reason}", clip(pattern))]
    BadGlob {
        /// The pattern.
        pattern: String,
        /// What is wrong.
        reason: &'static str,
        /// Where (character index).
        at: usize,
    },
    /// Reading a directory while matching a glob failed.
    #[error("cannot read {} while matching {}: {source}", clip_path(path), clip(pattern))]
    GlobRead {
        /// The pattern.
        pattern: String,
        /// The path that failed.
        path: PathBuf,
        /// OS error.
        #[source]
        source: io::Error,
    },
    /// Walking a directory input failed.
    #[error("cannot list the files under {}: {source}", clip_path(dir))]
    Walk {
        /// The directory given.
        dir: PathBuf,
        /// Walk error (names the failing path).
        #[source]
        source: ignore::Error,
    },
    /// A directory input with no file to read (after hidden and ignored
    /// files are skipped).
    #[error(
        "{} contains no log file to read (hidden files and files excluded by .gitignore/.ignore are skipped)",
        clip_path(dir)
    )]
    EmptyDirectory {
        /// The directory.
        dir: PathBuf,
    },
    /// A `--follow` directory or glob whose files are all compressed or
    /// rotated copies.
    #[error(
        "nothing to follow in {}: every file it names is compressed or a rotated copy",
        clip(arg)
    )]
    NothingToFollow {
        /// The argument.
        arg: String,
    },
}

/// Compression detected from magic bytes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum Compression {
    /// Plain bytes.
    None,
    /// gzip (`1f 8b`).
    Gzip,
    /// zstd (`28 b5 2f fd`).
    Zstd,
}

impl Compression {
    /// Detects compression from the first bytes of a stream.
    pub fn from_magic(head: &[u8]) -> Self {
        if head.starts_with(&[0x1f, 0x8b]) {
            Compression::Gzip
        } else if head.starts_with(&[0x28, 0xb5, 0x2f, 0xfd]) {
            Compression::Zstd
        } else {
            Compression::None
        }
    }

    fn name(self) -> &'static str {
        match self {
            Compression::None => "plain",
            Compression::Gzip => "gzip",
            Compression::Zstd => "zstd",
        }
    }
}

/// Opens an input for reading, decompressing gzip/zstd transparently.
pub fn open(input: &Input) -> Result<Box<dyn Read + Send>, SourceError> {
    open_with_compression(input).map(|(r, _)| r)
}

/// Like [`open`], also saying which compression was detected.
pub fn open_with_compression(input: &Input) -> Result<(Box<dyn Read + Send>, Compression), SourceError> {
    let name = input.display_name();
    let raw: Box<dyn Read + Send> = match input {
        Input::Stdin => Box::new(io::stdin()),
        Input::File(path) => Box::new(open_file(path)?),
    };
    let (head, raw) = peek(raw, 4).map_err(|source| SourceError::Read {
        name: name.clone(),
        source,
    })?;
    let comp = Compression::from_magic(&head);
    let consumed = Arc::new(AtomicU64::new(0));
    let stream = Counted {
        inner: io::Cursor::new(head).chain(raw),
        n: consumed.clone(),
    };
    let reader: Box<dyn Read + Send> = match comp {
        Compression::None => Box::new(stream),
        Compression::Gzip => Box::new(Annotate {
            inner: flate2::read::MultiGzDecoder::new(stream),
            name,
            comp,
            consumed,
        }),
        Compression::Zstd => {
            let dec = zstd::stream::read::Decoder::new(stream).map_err(|source| SourceError::Decoder {
                format: "zstd",
                name: name.clone(),
                source,
            })?;
            Box::new(Annotate {
                inner: dec,
                name,
                comp,
                consumed,
            })
        }
    };
    Ok((reader, comp))
}

fn open_file(path: &Path) -> Result<File, SourceError> {
    let file = File::open(path).map_err(|source| SourceError::Open {
        path: path.to_path_buf(),
        source,
    })?;
    if file.metadata().is_ok_and(|m| m.is_dir()) {
        return Err(SourceError::IsDirectory {
            path: path.to_path_buf(),
        });
    }
    Ok(file)
}

/// Reads up to `n` bytes: fewer at end of stream, or as soon as the bytes
/// read cannot start a compression magic (so a slow pipe that sent `"a\n"` is
/// not waited on).
fn peek<R: Read>(mut r: R, n: usize) -> io::Result<(Vec<u8>, R)> {
    const MAGICS: [&[u8]; 2] = [&[0x1f, 0x8b], &[0x28, 0xb5, 0x2f, 0xfd]];
    let mut head = vec![0; n];
    let mut got = 0;
    while got < n {
        match r.read(&mut head[got..]) {
            Ok(0) => break,
            Ok(k) => {
                got += k;
                let h = &head[..got];
                if !MAGICS.iter().any(|m| m.starts_with(h) || (h.starts_with(m))) {
                    break; // plain data
                }
                if MAGICS.iter().any(|m| h.starts_with(m)) {
                    break; // magic complete
                }
            }
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    head.truncate(got);
    Ok((head, r))
}

/// Counts the compressed bytes handed to a decoder, so an error can say
/// where in the file the damage is.
struct Counted<R> {
    inner: R,
    n: Arc<AtomicU64>,
}

impl<R: Read> Read for Counted<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let k = self.inner.read(buf)?;
        self.n.fetch_add(k as u64, Ordering::Relaxed);
        Ok(k)
    }
}

/// Adds the input name, the byte offset and a clear explanation to
/// decompression errors.
struct Annotate<R> {
    inner: R,
    name: String,
    comp: Compression,
    /// Compressed bytes read from the file so far.
    consumed: Arc<AtomicU64>,
}

impl<R: Read> Read for Annotate<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        self.inner.read(buf).map_err(|e| {
            if e.kind() == io::ErrorKind::Interrupted {
                return e;
            }
            let what = self.comp.name();
            let at = self.consumed.load(Ordering::Relaxed);
            if e.kind() == io::ErrorKind::UnexpectedEof {
                io::Error::new(
                    io::ErrorKind::UnexpectedEof,
                    format!(
                        "{}: the {what} data is truncated: it ends at byte {at} in the middle of compressed data ({e}); the file was cut off or is still being written",
                        clip(&self.name)
                    ),
                )
            } else {
                io::Error::new(
                    e.kind(),
                    format!(
                        "{}: damaged {what} data within the first {at} bytes of the file ({e}); the file is corrupt or not really {what}",
                        clip(&self.name)
                    ),
                )
            }
        })
    }
}

#[cfg(test)]
mod follow_tests;
#[cfg(test)]
mod tests;
