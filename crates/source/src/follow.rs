//! [`Follower`]: `tail -F` that hands out complete lines only, recovers the
//! bytes a `copytruncate` rotation moved into the rotated copy, and waits for
//! files that do not exist yet.

use std::ffi::OsString;
use std::fs::File;
use std::io::{self, Read, Seek, SeekFrom};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use crate::{Compression, SourceError};

/// Bytes read from the file per `read(2)`.
const CHUNK: usize = 64 * 1024;
/// Longest start-of-file fingerprint kept to recognise a file's content.
const FINGERPRINT_MAX: usize = 256;
/// An unterminated fragment longer than this is handed out without waiting
/// for its `\n` (so one endless line cannot exhaust memory); the line is then
/// still terminated (a `\n` is synthesized) at the next rotation, truncation,
/// quiet period or stop.
pub const MAX_HELD_FRAGMENT: usize = 4 * 1024 * 1024;

/// Options for [`Follower`].
#[derive(Debug, Clone)]
pub struct FollowOptions {
    /// How long to sleep when there is no new data (default 50 ms).
    pub poll_interval: Duration,
    /// Start at the beginning of the file instead of its current end. A file
    /// that appears after the follower started is always read from its start.
    pub from_start: bool,
    /// Set to `true` to make `read` return `Ok(0)` once it has handed out
    /// every byte it could read (the held fragment included, with a `\n`).
    pub stop: Arc<AtomicBool>,
    /// Stop (return `Ok(0)`) after this long without new data (`None`: never).
    pub idle_timeout: Option<Duration>,
    /// Hand out an unterminated trailing fragment (with a synthesized `\n`)
    /// once the file has been quiet this long (default 1 s).
    pub partial_flush: Duration,
    /// Accept a path that does not exist yet and wait for it to appear
    /// (its parent directory must exist). Default `false`.
    pub wait_for_create: bool,
}

impl Default for FollowOptions {
    fn default() -> Self {
        FollowOptions {
            poll_interval: Duration::from_millis(50),
            from_start: false,
            stop: Arc::new(AtomicBool::new(false)),
            idle_timeout: None,
            partial_flush: Duration::from_secs(1),
            wait_for_create: false,
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

/// Reads up to `buf.len()` bytes at `offset` without moving the file cursor.
#[cfg(unix)]
fn read_at(file: &File, buf: &mut [u8], offset: u64) -> io::Result<usize> {
    use std::os::unix::fs::FileExt;
    let mut got = 0;
    while got < buf.len() {
        match file.read_at(&mut buf[got..], offset + got as u64) {
            Ok(0) => break,
            Ok(n) => got += n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    Ok(got)
}

/// Portable fallback: a second handle, so the followed handle's cursor stays put.
#[cfg(not(unix))]
fn read_at(file: &File, buf: &mut [u8], offset: u64) -> io::Result<usize> {
    let mut f = file.try_clone()?;
    let keep = f.stream_position()?;
    f.seek(SeekFrom::Start(offset))?;
    let mut got = 0;
    while got < buf.len() {
        match f.read(&mut buf[got..]) {
            Ok(0) => break,
            Ok(n) => got += n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    f.seek(SeekFrom::Start(keep))?;
    Ok(got)
}

/// Whether the file's first `fp.len()` bytes are still `fp`.
fn starts_with(file: &File, fp: &[u8], scratch: &mut [u8; FINGERPRINT_MAX]) -> io::Result<bool> {
    if fp.is_empty() {
        return Ok(true);
    }
    let n = read_at(file, &mut scratch[..fp.len()], 0)?;
    Ok(n == fp.len() && scratch[..n] == *fp)
}

/// The file being followed.
struct Current {
    file: File,
    id: Option<FileId>,
    /// Offset of the next byte to read (every byte before it is in `buf` or
    /// was handed out).
    pos: u64,
    /// The file's first `min(len, 256)` bytes as far as we know them: what
    /// tells the same content from a new one written after a truncation.
    fingerprint: Vec<u8>,
}

impl Current {
    fn new(file: File, id: Option<FileId>) -> Self {
        Current {
            file,
            id,
            pos: 0,
            fingerprint: Vec::with_capacity(FINGERPRINT_MAX),
        }
    }

    /// Extends the fingerprint with `bytes`, read at `at`.
    fn learn(&mut self, at: u64, bytes: &[u8]) {
        let have = self.fingerprint.len() as u64;
        if have >= FINGERPRINT_MAX as u64 || at > have || at + bytes.len() as u64 <= have {
            return;
        }
        let from = (have - at) as usize;
        let to = bytes.len().min(FINGERPRINT_MAX - at as usize);
        self.fingerprint.extend_from_slice(&bytes[from..to]);
    }
}

/// What one attempt to get bytes found.
enum Fill {
    /// Bytes were appended to the buffer.
    Data,
    /// The end of a content (rotation, truncation, end of a rotated copy):
    /// the fragment before it is complete.
    Boundary,
    /// State changed without bytes or a boundary (e.g. a copy to recover
    /// from was found): try again at once.
    Again,
    /// Nothing new now.
    Idle,
}

/// A rotation-aware `tail -F` reader over a plain (uncompressed) file.
///
/// Guarantees (see the crate doc): `read` hands out complete lines only (a
/// fragment is held until its `\n`, and completed with a synthesized `\n` on
/// rotation, truncation, quiet period or stop); truncation is noticed by
/// size *and* start-of-file fingerprint on every read; after a
/// `copytruncate` the bytes that went only into the rotated copy are read
/// from that copy first.
pub struct Follower {
    path: PathBuf,
    dir: PathBuf,
    name: OsString,
    opts: FollowOptions,
    cur: Option<Current>,
    /// A rotated copy being read after a truncation (from our old offset).
    copy: Option<File>,
    /// Bytes read but not yet handed out: `[head..complete)` are complete
    /// lines ready to go, `[complete..)` the held fragment.
    buf: Vec<u8>,
    head: usize,
    complete: usize,
    /// The last byte handed out (or made ready) was not a `\n` (only after an
    /// oversized fragment was passed through).
    line_open: bool,
    last_data: Instant,
    had_file: bool,
    scratch: Box<[u8; FINGERPRINT_MAX]>,
    rotations: u64,
    truncations: u64,
    partial_flushes: u64,
    recovered_bytes: u64,
    truncations_without_copy: u64,
}

impl Follower {
    /// Opens `path` for following. Without `wait_for_create` the file must
    /// exist now (later it may disappear for a while during rotation); with
    /// it, a missing file is waited for, but its directory must exist.
    pub fn new(path: impl Into<PathBuf>, opts: FollowOptions) -> Result<Self, SourceError> {
        let path = path.into();
        let name = path.file_name().map(|n| n.to_os_string()).unwrap_or_default();
        let dir = match path.parent() {
            Some(d) if !d.as_os_str().is_empty() => d.to_path_buf(),
            _ => PathBuf::from("."),
        };
        // Look before opening: opening a FIFO would block until a writer comes.
        let opened = match std::fs::metadata(&path) {
            Ok(m) if m.is_dir() => return Err(SourceError::IsDirectory { path }),
            Ok(m) if !m.is_file() => return Err(SourceError::NotFollowable { path }),
            Ok(_) => File::open(&path),
            Err(e) => Err(e),
        };
        let cur = match opened {
            Ok(file) => Some(Self::first_open(&path, file, &opts)?),
            Err(e) if e.kind() == io::ErrorKind::NotFound && opts.wait_for_create => {
                if !dir.is_dir() {
                    return Err(SourceError::FollowDirMissing {
                        path: path.clone(),
                        dir,
                    });
                }
                None
            }
            Err(source) => return Err(SourceError::Open { path, source }),
        };
        Ok(Follower {
            had_file: cur.is_some(),
            path,
            dir,
            name,
            opts,
            cur,
            copy: None,
            buf: Vec::new(),
            head: 0,
            complete: 0,
            line_open: false,
            last_data: Instant::now(),
            scratch: Box::new([0; FINGERPRINT_MAX]),
            rotations: 0,
            truncations: 0,
            partial_flushes: 0,
            recovered_bytes: 0,
            truncations_without_copy: 0,
        })
    }

    fn first_open(path: &Path, mut file: File, opts: &FollowOptions) -> Result<Current, SourceError> {
        let open_err = |source| SourceError::Open {
            path: path.to_path_buf(),
            source,
        };
        let meta = file.metadata().map_err(open_err)?;
        if meta.is_dir() {
            return Err(SourceError::IsDirectory {
                path: path.to_path_buf(),
            });
        }
        if !meta.is_file() {
            return Err(SourceError::NotFollowable {
                path: path.to_path_buf(),
            });
        }
        let id = file_id(&meta);
        let mut fingerprint = Vec::with_capacity(FINGERPRINT_MAX);
        let mut pos = 0;
        if !opts.from_start {
            pos = file.seek(SeekFrom::End(0)).map_err(open_err)?;
            let mut head = [0u8; FINGERPRINT_MAX];
            let want = (pos as usize).min(FINGERPRINT_MAX);
            let n = read_at(&file, &mut head[..want], 0).map_err(open_err)?;
            fingerprint.extend_from_slice(&head[..n]);
        }
        let mut cur = Current::new(file, id);
        cur.pos = pos;
        cur.fingerprint = fingerprint;
        Ok(cur)
    }

    /// The flag that stops this follower (same as `FollowOptions::stop`).
    pub fn stop_handle(&self) -> Arc<AtomicBool> {
        self.opts.stop.clone()
    }
    /// Times the path was seen rotated (a new file under the same name,
    /// after a rename or a deletion).
    pub fn rotations(&self) -> u64 {
        self.rotations
    }
    /// Times the file was seen truncated (or its start rewritten).
    pub fn truncations(&self) -> u64 {
        self.truncations
    }
    /// Unterminated fragments handed out with a synthesized `\n` (at a
    /// rotation, truncation, quiet period or stop).
    pub fn partial_flushes(&self) -> u64 {
        self.partial_flushes
    }
    /// Bytes read from rotated copies after a `copytruncate`: bytes written
    /// after our last read and before the truncation, which `tail -F` loses.
    pub fn recovered_bytes(&self) -> u64 {
        self.recovered_bytes
    }
    /// Truncations after which no rotated copy could be found: bytes written
    /// between our last read and the truncation may have been lost.
    pub fn truncations_without_copy(&self) -> u64 {
        self.truncations_without_copy
    }
    /// The followed path.
    pub fn path(&self) -> &Path {
        &self.path
    }

    fn stopped(&self) -> bool {
        self.opts.stop.load(Ordering::Acquire)
    }

    fn idle_expired(&self) -> bool {
        self.opts
            .idle_timeout
            .is_some_and(|t| self.last_data.elapsed() >= t)
    }

    /// Makes the held fragment (or an open passed-through line) a complete
    /// line by appending `\n`. Returns whether there was one.
    fn terminate_fragment(&mut self) -> bool {
        if self.buf.len() > self.complete || self.line_open {
            self.buf.push(b'\n');
            self.complete = self.buf.len();
            self.line_open = false;
            self.partial_flushes += 1;
            true
        } else {
            false
        }
    }

    /// After new bytes landed in `buf[from..]`: moves `complete` past the
    /// last `\n` (or past an oversized fragment).
    fn settle(&mut self, from: usize) {
        let start = from.max(self.complete);
        if let Some(i) = self.buf[start..].iter().rposition(|&b| b == b'\n') {
            self.complete = start + i + 1;
            self.line_open = false;
        }
        if self.buf.len() - self.complete > MAX_HELD_FRAGMENT {
            self.complete = self.buf.len();
            self.line_open = true;
        }
    }

    /// Reads into the spare end of `buf`; returns the byte count.
    fn read_into_buf(file: &mut File, buf: &mut Vec<u8>) -> io::Result<usize> {
        let old = buf.len();
        buf.resize(old + CHUNK, 0);
        let r = loop {
            match file.read(&mut buf[old..]) {
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                r => break r,
            }
        };
        buf.truncate(old + *r.as_ref().unwrap_or(&0));
        r
    }

    /// One attempt to get bytes from the copy, the current file or the path.
    fn fill(&mut self) -> io::Result<Fill> {
        // 1. A rotated copy being recovered from.
        if let Some(copy) = self.copy.as_mut() {
            let n = Self::read_into_buf(copy, &mut self.buf)
                .map_err(|e| annotate(&self.path, "read rotated copy", e))?;
            if n > 0 {
                self.recovered_bytes += n as u64;
                self.last_data = Instant::now();
                return Ok(Fill::Data);
            }
            self.copy = None;
            return Ok(Fill::Boundary);
        }
        // 2. No file yet (or it was replaced by nothing): wait for the path.
        let Some(cur) = self.cur.as_mut() else {
            return self.try_attach();
        };
        // 3. Read, then check that what we read belongs to the content we
        //    were following (a truncation may have happened just before).
        let at = cur.pos;
        let old_len = self.buf.len();
        let n =
            Self::read_into_buf(&mut cur.file, &mut self.buf).map_err(|e| annotate(&self.path, "read", e))?;
        let cur = self.cur.as_mut().expect("current file");
        let len = cur
            .file
            .metadata()
            .map_err(|e| annotate(&self.path, "stat", e))?
            .len();
        let same_start = starts_with(&cur.file, &cur.fingerprint, &mut self.scratch)
            .map_err(|e| annotate(&self.path, "read start", e))?;
        if len >= at + n as u64 && same_start {
            if n == 0 {
                return self.check_path();
            }
            cur.learn(at, &self.buf[old_len..]);
            cur.pos += n as u64;
            self.last_data = Instant::now();
            return Ok(Fill::Data);
        }
        // Truncated (copytruncate) or rewritten from the start.
        self.truncations += 1;
        let cur = self.cur.as_mut().expect("current file");
        let mut old_pos = at;
        let mut kept = false;
        if n > 0 && len < at + n as u64 {
            // The file is now shorter than where these bytes lay: they are
            // the old content's, read just before the truncation.
            cur.learn(at, &self.buf[old_len..]);
            old_pos += n as u64;
            kept = true;
        } else {
            // They may be the new content's (read again from 0 below), or
            // the old content's (then the rotated copy has them): drop them.
            self.buf.truncate(old_len);
        }
        let fingerprint = std::mem::take(&mut cur.fingerprint);
        cur.file
            .seek(SeekFrom::Start(0))
            .map_err(|e| annotate(&self.path, "seek", e))?;
        cur.pos = 0;
        let cur_id = cur.id;
        if kept {
            self.last_data = Instant::now();
        }
        match self.find_copy(old_pos, &fingerprint, cur_id) {
            Some(copy) => {
                self.copy = Some(copy);
                Ok(if kept { Fill::Data } else { Fill::Again })
            }
            None => {
                self.truncations_without_copy += 1;
                if kept {
                    self.settle(old_len);
                }
                Ok(Fill::Boundary)
            }
        }
    }

    /// Looks in the file's directory for the rotated copy of the content we
    /// were following: a regular, uncompressed file named `<name>.*` or
    /// `<name>-*` that starts with `fingerprint` and is at least `old_pos`
    /// long; the newest first. Returns it positioned at `old_pos`.
    fn find_copy(&mut self, old_pos: u64, fingerprint: &[u8], cur_id: Option<FileId>) -> Option<File> {
        if fingerprint.is_empty() {
            return None; // nothing to recognise the copy by
        }
        let entries = std::fs::read_dir(&self.dir).ok()?;
        let mut candidates: Vec<(std::time::SystemTime, PathBuf)> = Vec::new();
        for entry in entries.flatten() {
            if !is_rotated_name(&self.name, &entry.file_name()) {
                continue;
            }
            let Ok(meta) = entry.metadata() else { continue };
            if !meta.is_file() || meta.len() < old_pos || (cur_id.is_some() && file_id(&meta) == cur_id) {
                continue;
            }
            let mtime = meta.modified().unwrap_or(std::time::UNIX_EPOCH);
            candidates.push((mtime, entry.path()));
        }
        candidates.sort_by(|a, b| b.0.cmp(&a.0).then_with(|| a.1.cmp(&b.1)));
        for (_, p) in candidates {
            let Ok(mut f) = File::open(&p) else { continue };
            let mut magic = [0u8; 4];
            let m = read_at(&f, &mut magic, 0).unwrap_or(0);
            if Compression::from_magic(&magic[..m]) != Compression::None {
                continue;
            }
            if !starts_with(&f, fingerprint, &mut self.scratch).unwrap_or(false) {
                continue;
            }
            if f.seek(SeekFrom::Start(old_pos)).is_ok() {
                return Some(f);
            }
        }
        None
    }

    /// At the end of the current handle: has the path moved on to another
    /// file? If so, drain the old handle, then switch (a boundary).
    fn check_path(&mut self) -> io::Result<Fill> {
        let meta = match std::fs::metadata(&self.path) {
            Ok(m) => m,
            // Renamed or deleted, nothing new yet: keep the old handle (a
            // writer may still append to it) and wait.
            Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(Fill::Idle),
            Err(e) => return Err(annotate(&self.path, "stat", e)),
        };
        let cur = self.cur.as_mut().expect("current file");
        let new_id = file_id(&meta);
        if new_id.is_none() || new_id == cur.id || !meta.is_file() {
            return Ok(Fill::Idle);
        }
        // Drain what was written to the old file since our last read.
        let old_len = self.buf.len();
        let n =
            Self::read_into_buf(&mut cur.file, &mut self.buf).map_err(|e| annotate(&self.path, "read", e))?;
        if n > 0 {
            let cur = self.cur.as_mut().expect("current file");
            let at = cur.pos;
            cur.learn(at, &self.buf[old_len..]);
            cur.pos += n as u64;
            self.last_data = Instant::now();
            return Ok(Fill::Data);
        }
        match self.try_attach()? {
            Fill::Idle => Ok(Fill::Idle),
            _ => Ok(Fill::Boundary),
        }
    }

    /// Opens the file now under the path, to be read from its start.
    fn try_attach(&mut self) -> io::Result<Fill> {
        match std::fs::metadata(&self.path) {
            // Not a log file (yet; opening a FIFO would block): keep waiting.
            Ok(m) if !m.is_file() => return Ok(Fill::Idle),
            Ok(_) => {}
            Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(Fill::Idle),
            Err(e) => return Err(annotate(&self.path, "stat", e)),
        }
        let file = match File::open(&self.path) {
            Ok(f) => f,
            Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(Fill::Idle),
            Err(e) => return Err(annotate(&self.path, "open", e)),
        };
        let meta = file.metadata().map_err(|e| annotate(&self.path, "stat", e))?;
        if !meta.is_file() {
            return Ok(Fill::Idle); // not a log file (yet); keep waiting
        }
        self.cur = Some(Current::new(file, file_id(&meta)));
        if self.had_file {
            self.rotations += 1;
        }
        self.had_file = true;
        Ok(Fill::Boundary)
    }
}

fn annotate(path: &Path, what: &str, e: io::Error) -> io::Error {
    io::Error::new(
        e.kind(),
        format!(
            "following {}: {what} failed: {e}",
            crate::clip(&path.display().to_string())
        ),
    )
}

/// Whether `cand` names a rotated copy of `name`: `name` then `.` or `-` and
/// at least one more byte (`app.log.1`, `app.log-20261123`).
pub(crate) fn is_rotated_name(name: &std::ffi::OsStr, cand: &std::ffi::OsStr) -> bool {
    let (n, c) = (name.as_encoded_bytes(), cand.as_encoded_bytes());
    !n.is_empty() && c.len() > n.len() + 1 && c.starts_with(n) && matches!(c[n.len()], b'.' | b'-')
}

impl Read for Follower {
    fn read(&mut self, out: &mut [u8]) -> io::Result<usize> {
        if out.is_empty() {
            return Ok(0);
        }
        loop {
            if self.head < self.complete {
                let n = (self.complete - self.head).min(out.len());
                out[..n].copy_from_slice(&self.buf[self.head..self.head + n]);
                self.head += n;
                if self.head == self.complete {
                    // Keep only the held fragment, at the front.
                    self.buf.copy_within(self.complete.., 0);
                    self.buf.truncate(self.buf.len() - self.complete);
                    self.head = 0;
                    self.complete = 0;
                }
                return Ok(n);
            }
            let from = self.buf.len();
            match self.fill()? {
                Fill::Data => self.settle(from),
                Fill::Boundary => {
                    self.terminate_fragment();
                }
                Fill::Again => {}
                Fill::Idle => {
                    let stopping = self.stopped() || self.idle_expired();
                    let quiet = self.last_data.elapsed() >= self.opts.partial_flush;
                    if (stopping || quiet) && self.terminate_fragment() {
                        continue;
                    }
                    if stopping {
                        return Ok(0);
                    }
                    std::thread::sleep(self.opts.poll_interval);
                }
            }
        }
    }
}
