//! logsieve source: bytes from where logs live.
//!
//! * [`Input`] names stdin (`-`) or a file; [`open`] returns a reader that
//!   transparently decompresses gzip (all members) and zstd (all frames),
//!   detected by magic bytes, not by file extension.
//! * [`Follower`] tails a growing file like `tail -F`: it survives rotation
//!   (rename + recreate: the old file is drained first, then the new one is read
//!   from its start) and truncation (`copytruncate`: reading restarts at 0).
//!
//! Key invariants:
//! * Errors never pass silently: a truncated or corrupt compressed stream makes
//!   `read` return an `io::Error` naming the input, never an early `Ok(0)`.
//! * Readers are `Send`, so the read side can run on its own thread.
//! * [`Follower::read`] returns `Ok(0)` only when stopped (stop flag or idle
//!   timeout), never merely because it caught up with the writer.
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
//! assert_eq!(Input::from_arg("-").display_name(), "<stdin>");
//! ```

use std::fmt;
use std::fs::File;
use std::io::{self, Read, Seek, SeekFrom};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

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

/// Errors opening an input.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum SourceError {
    /// The file could not be opened.
    #[error("cannot open {path}: {source}; check that the file exists and is readable")]
    Open {
        /// The path.
        path: PathBuf,
        /// OS error.
        #[source]
        source: io::Error,
    },
    /// The path is a directory.
    #[error("{path} is a directory; pass a log file (or `-` for stdin)")]
    IsDirectory {
        /// The path.
        path: PathBuf,
    },
    /// Reading the first bytes (to detect compression) failed.
    #[error("cannot read the start of {name}: {source}")]
    Read {
        /// Input name.
        name: String,
        /// OS error.
        #[source]
        source: io::Error,
    },
    /// Setting up a decompressor failed.
    #[error("cannot start {format} decompression of {name}: {source}")]
    Decoder {
        /// `gzip` or `zstd`.
        format: &'static str,
        /// Input name.
        name: String,
        /// Underlying error.
        #[source]
        source: io::Error,
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
    let stream = io::Cursor::new(head).chain(raw);
    let reader: Box<dyn Read + Send> = match comp {
        Compression::None => Box::new(stream),
        Compression::Gzip => Box::new(Annotate {
            inner: flate2::read::MultiGzDecoder::new(stream),
            name,
            comp,
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

/// Whether the input can be read a second time from the start (a regular file,
/// compressed or not: re-[`open`] it). False for stdin, pipes, FIFOs, devices.
pub fn is_seekable_file(input: &Input) -> bool {
    match input {
        Input::Stdin => false,
        Input::File(p) => std::fs::metadata(p).is_ok_and(|m| m.is_file()),
    }
}

/// Adds the input name and a clear explanation to decompression errors.
struct Annotate<R> {
    inner: R,
    name: String,
    comp: Compression,
}

impl<R: Read> Read for Annotate<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        self.inner.read(buf).map_err(|e| {
            if e.kind() == io::ErrorKind::Interrupted {
                return e;
            }
            let what = self.comp.name();
            if e.kind() == io::ErrorKind::UnexpectedEof {
                io::Error::new(
                    io::ErrorKind::UnexpectedEof,
                    format!(
                        "{}: the {what} compressed stream is truncated (it ends in the middle of compressed data: {e}); the file was cut off or is still being written — lines before this point were read, re-fetch or re-compress the file to read the rest",
                        self.name
                    ),
                )
            } else {
                io::Error::new(
                    e.kind(),
                    format!(
                        "{}: {what} decompression failed ({e}); the file is corrupt or not really {what}",
                        self.name
                    ),
                )
            }
        })
    }
}

/// Options for [`Follower`].
#[derive(Debug, Clone)]
pub struct FollowOptions {
    /// How long to sleep when there is no new data (default 200 ms).
    pub poll_interval: Duration,
    /// Start at the beginning of the file instead of its current end.
    pub from_start: bool,
    /// Set to `true` to make `read` return `Ok(0)` once it has no data to return.
    pub stop: Arc<AtomicBool>,
    /// Stop (return `Ok(0)`) after this long without new data (`None`: never).
    pub idle_timeout: Option<Duration>,
}

impl Default for FollowOptions {
    fn default() -> Self {
        FollowOptions {
            poll_interval: Duration::from_millis(200),
            from_start: false,
            stop: Arc::new(AtomicBool::new(false)),
            idle_timeout: None,
        }
    }
}

/// Identity of the file behind a path (device, inode).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct FileId(u64, u64);

#[cfg(unix)]
fn file_id(m: &std::fs::Metadata) -> Option<FileId> {
    use std::os::unix::fs::MetadataExt;
    Some(FileId(m.dev(), m.ino()))
}

#[cfg(not(unix))]
fn file_id(_m: &std::fs::Metadata) -> Option<FileId> {
    None // rotation by rename is not detected; truncation still is
}

enum Change {
    None,
    Truncated,
    Rotated,
}

/// A rotation-aware `tail -F` reader over a plain (uncompressed) file.
pub struct Follower {
    path: PathBuf,
    file: File,
    id: Option<FileId>,
    pos: u64,
    opts: FollowOptions,
    last_data: Instant,
    rotations: u64,
    truncations: u64,
}

impl Follower {
    /// Opens `path` for following. The file must exist now; later it may
    /// disappear briefly during rotation.
    pub fn new(path: impl Into<PathBuf>, opts: FollowOptions) -> Result<Self, SourceError> {
        let path = path.into();
        let mut file = open_file(&path)?;
        let meta = file.metadata().map_err(|source| SourceError::Open {
            path: path.clone(),
            source,
        })?;
        let pos = if opts.from_start {
            0
        } else {
            file.seek(SeekFrom::End(0)).map_err(|source| SourceError::Open {
                path: path.clone(),
                source,
            })?
        };
        Ok(Follower {
            id: file_id(&meta),
            path,
            file,
            pos,
            opts,
            last_data: Instant::now(),
            rotations: 0,
            truncations: 0,
        })
    }

    /// The flag that stops this follower (same as `FollowOptions::stop`).
    pub fn stop_handle(&self) -> Arc<AtomicBool> {
        self.opts.stop.clone()
    }
    /// Times the path was seen rotated (a new file under the same name).
    pub fn rotations(&self) -> u64 {
        self.rotations
    }
    /// Times the file was seen truncated.
    pub fn truncations(&self) -> u64 {
        self.truncations
    }
    /// The followed path.
    pub fn path(&self) -> &Path {
        &self.path
    }

    fn annotate(&self, what: &str, e: io::Error) -> io::Error {
        io::Error::new(
            e.kind(),
            format!("following {}: {what} failed: {e}", self.path.display()),
        )
    }

    /// At EOF of the current handle: detect truncation (handled here: seek to
    /// 0) or rotation (the caller drains the old handle, then [`switch`]es).
    fn check_rotation(&mut self) -> io::Result<Change> {
        // Truncation of the open file (copytruncate).
        let len = self.file.metadata().map_err(|e| self.annotate("stat", e))?.len();
        if len < self.pos {
            self.file
                .seek(SeekFrom::Start(0))
                .map_err(|e| self.annotate("seek", e))?;
            self.pos = 0;
            self.truncations += 1;
            return Ok(Change::Truncated);
        }
        // A different file under the path (rename + recreate).
        let meta = match std::fs::metadata(&self.path) {
            Ok(m) => m,
            Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(Change::None), // mid-rotation
            Err(e) => return Err(self.annotate("stat", e)),
        };
        let new_id = file_id(&meta);
        if new_id.is_some() && new_id != self.id && meta.is_file() {
            return Ok(Change::Rotated);
        }
        Ok(Change::None)
    }

    /// Switches to the file now under the path, reading it from its start.
    fn switch(&mut self) -> io::Result<bool> {
        let file = match File::open(&self.path) {
            Ok(f) => f,
            Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(false),
            Err(e) => return Err(self.annotate("reopen", e)),
        };
        let id = file.metadata().ok().and_then(|m| file_id(&m));
        self.file = file;
        self.id = id;
        self.pos = 0;
        self.rotations += 1;
        Ok(true)
    }
}

impl Read for Follower {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        if buf.is_empty() {
            return Ok(0);
        }
        loop {
            let n = match self.file.read(buf) {
                Ok(n) => n,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(e) => return Err(self.annotate("read", e)),
            };
            if n > 0 {
                self.pos += n as u64;
                self.last_data = Instant::now();
                return Ok(n);
            }
            // At the end of the current handle. The old handle has just been
            // drained, so switching now loses nothing written before the check.
            match self.check_rotation()? {
                Change::Truncated => continue,
                Change::Rotated => {
                    // Drain what was written to the old file after our last read.
                    let n = self.file.read(buf).map_err(|e| self.annotate("read", e))?;
                    if n > 0 {
                        self.pos += n as u64;
                        self.last_data = Instant::now();
                        return Ok(n);
                    }
                    if self.switch()? {
                        continue;
                    }
                }
                Change::None => {}
            }
            if self.opts.stop.load(Ordering::Acquire) {
                return Ok(0);
            }
            if self
                .opts
                .idle_timeout
                .is_some_and(|t| self.last_data.elapsed() >= t)
            {
                return Ok(0);
            }
            std::thread::sleep(self.opts.poll_interval);
        }
    }
}

#[cfg(test)]
mod tests;
