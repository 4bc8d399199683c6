//! Follower regression tests (one per defect) and the writer-model property
//! test. Everything runs in the test's thread: a "read step" sets the stop
//! flag and reads until `Ok(0)`, which hands out everything the follower can
//! see now (rotations and copies included) without sleeping.

use super::*;
use proptest::prelude::*;
use std::io::Write;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

fn opts(stop: &Arc<AtomicBool>) -> FollowOptions {
    FollowOptions {
        poll_interval: Duration::from_millis(1),
        from_start: true,
        stop: stop.clone(),
        // Safety net so a broken test fails instead of hanging.
        idle_timeout: Some(Duration::from_secs(60)),
        partial_flush: Duration::from_millis(5),
        wait_for_create: true,
    }
}

/// Reads until the follower has nothing more to give now; checks that what
/// it handed out is whole lines.
fn drain(f: &mut Follower, stop: &AtomicBool, bufsize: usize) -> Vec<u8> {
    stop.store(true, Ordering::Release);
    let mut got = Vec::new();
    let mut buf = vec![0u8; bufsize];
    loop {
        let n = f.read(&mut buf).unwrap();
        if n == 0 {
            break;
        }
        got.extend_from_slice(&buf[..n]);
    }
    stop.store(false, Ordering::Release);
    assert!(got.is_empty() || got.ends_with(b"\n"), "not whole lines: {got:?}");
    got
}

/// Plain reads (no stop) until `lines` lines came.
fn read_until(f: &mut Follower, lines: usize) -> String {
    let mut got = Vec::new();
    let mut buf = [0u8; 64];
    while got.iter().filter(|&&b| b == b'\n').count() < lines {
        let n = f.read(&mut buf).unwrap();
        assert!(n > 0, "stopped early");
        got.extend_from_slice(&buf[..n]);
    }
    text(got)
}

fn text(b: Vec<u8>) -> String {
    String::from_utf8(b).unwrap()
}

fn append(path: &Path, s: &str) {
    let mut f = std::fs::OpenOptions::new()
        .append(true)
        .create(true)
        .open(path)
        .unwrap();
    f.write_all(s.as_bytes()).unwrap();
}

/// logrotate `copytruncate`: copy to `<path>.1`, then truncate to 0.
fn copytruncate(path: &Path) {
    let copy = path.with_file_name(format!("{}.1", path.file_name().unwrap().to_str().unwrap()));
    let _ = std::fs::remove_file(&copy);
    std::fs::copy(path, &copy).unwrap();
    std::fs::OpenOptions::new()
        .write(true)
        .open(path)
        .unwrap()
        .set_len(0)
        .unwrap();
}

fn lines(from: u32, to: u32) -> String {
    (from..to).map(|i| format!("line {i} of the app log\n")).collect()
}

/// Defect: `--follow` under copytruncate delivered 1,197 of 1,751 lines; the
/// follower noticed truncation only when size < pos at EOF, so when the writer
/// had already written past the old offset it skipped the new content's first
/// `pos` bytes and emitted a partial line.
#[test]
fn copytruncate_after_writer_passed_old_offset_delivers_every_line_once() {
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path().join("app.log");
    let stop = Arc::new(AtomicBool::new(false));
    let mut f = Follower::new(&p, opts(&stop)).unwrap();
    let mut want = String::new();
    let mut n = 0u32;
    // 1,751 lines; the follower reads every 100 lines, logrotate runs every
    // 250 lines, so each rotation finds unread lines in the file, and the
    // writer then writes more than the old offset before the next read.
    let mut got = String::new();
    while n < 1751 {
        let k = 50.min(1751 - n);
        let chunk = lines(n, n + k);
        append(&p, &chunk);
        want.push_str(&chunk);
        n += k;
        if n % 250 == 0 {
            copytruncate(&p);
        }
        if n % 100 == 0 {
            got.push_str(&text(drain(&mut f, &stop, 4096)));
        }
    }
    got.push_str(&text(drain(&mut f, &stop, 4096)));
    assert_eq!(got.lines().count(), 1751);
    assert_eq!(got, want);
    assert_eq!(f.truncations(), 7);
    assert_eq!(f.truncations_without_copy(), 0);
    assert!(f.recovered_bytes() > 0);
    assert_eq!(f.partial_flushes(), 0);
}

/// Same defect, the smallest case: truncation followed by a longer rewrite
/// before the follower looks again, and no rotated copy: the new content is
/// read from 0 (not from the old offset), and the possible loss is counted.
#[test]
fn truncation_detected_by_fingerprint_when_file_grew_past_old_offset() {
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path().join("app.log");
    std::fs::write(&p, "aaaa\n").unwrap();
    let stop = Arc::new(AtomicBool::new(false));
    let mut f = Follower::new(&p, opts(&stop)).unwrap();
    assert_eq!(text(drain(&mut f, &stop, 64)), "aaaa\n");
    std::fs::write(&p, "bbbbbbbbbb\ncc\n").unwrap(); // truncate + rewrite, no copy
    assert_eq!(text(drain(&mut f, &stop, 64)), "bbbbbbbbbb\ncc\n");
    assert_eq!((f.truncations(), f.truncations_without_copy()), (1, 1));
    assert_eq!(f.recovered_bytes(), 0);
}

/// A copy whose start does not match what we read (an older rotation) is
/// not used for recovery.
#[test]
fn copy_recovery_ignores_copies_of_other_content() {
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path().join("app.log");
    std::fs::write(dir.path().join("app.log.1"), "older rotation line\nmore\nmore\n").unwrap();
    std::fs::write(dir.path().join("app.log-2.gz"), b"\x1f\x8b\x08\x00 not read").unwrap();
    std::fs::write(&p, "first\n").unwrap();
    let stop = Arc::new(AtomicBool::new(false));
    let mut f = Follower::new(&p, opts(&stop)).unwrap();
    assert_eq!(text(drain(&mut f, &stop, 64)), "first\n");
    std::fs::write(&p, "second line, new content\n").unwrap();
    assert_eq!(text(drain(&mut f, &stop, 64)), "second line, new content\n");
    assert_eq!((f.truncations(), f.truncations_without_copy()), (1, 1));
}

/// Dated copies (`app.log-20261123`) are found too.
#[test]
fn copy_recovery_finds_dated_copy() {
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path().join("app.log");
    std::fs::write(&p, "one\n").unwrap();
    let stop = Arc::new(AtomicBool::new(false));
    let mut f = Follower::new(&p, opts(&stop)).unwrap();
    assert_eq!(text(drain(&mut f, &stop, 64)), "one\n");
    append(&p, "two, written before the rotation\n");
    std::fs::copy(&p, dir.path().join("app.log-20261123")).unwrap();
    std::fs::write(&p, "three\n").unwrap();
    assert_eq!(
        text(drain(&mut f, &stop, 64)),
        "two, written before the rotation\nthree\n"
    );
    assert_eq!(
        f.recovered_bytes(),
        "two, written before the rotation\n".len() as u64
    );
    assert_eq!(f.truncations_without_copy(), 0);
}

/// Defect: following a file that does not exist yet was an error instead of
/// being waited for.
#[test]
fn follow_missing_file_waits_for_its_creation() {
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path().join("later.log");
    let stop = Arc::new(AtomicBool::new(false));
    let o = FollowOptions {
        from_start: false, // a file created after we started is still read from 0
        ..opts(&stop)
    };
    let mut f = Follower::new(&p, o.clone()).unwrap();
    assert_eq!(drain(&mut f, &stop, 64), b"");
    std::fs::write(&p, "born\nhere\n").unwrap();
    assert_eq!(text(drain(&mut f, &stop, 64)), "born\nhere\n");
    assert_eq!(f.rotations(), 0);

    // Without wait_for_create it is still an error; a missing directory is
    // an error either way.
    let e = Follower::new(dir.path().join("nope.log"), FollowOptions::default())
        .err()
        .unwrap();
    assert!(matches!(e, SourceError::Open { .. }), "{e}");
    let e = Follower::new(dir.path().join("no-dir/app.log"), o).err().unwrap();
    assert!(matches!(e, SourceError::FollowDirMissing { .. }), "{e}");
    assert!(e.to_string().contains("no-dir"), "{e}");
}

/// Defect: a partial line (no `\n` yet) was handed to the framer and glued
/// to the next file's bytes after a rotation or truncation.
#[test]
fn partial_line_is_not_glued_to_next_file_after_rotation_or_truncation() {
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path().join("app.log");
    std::fs::write(&p, "full\nhalf").unwrap();
    let stop = Arc::new(AtomicBool::new(false));
    let mut f = Follower::new(
        &p,
        FollowOptions {
            partial_flush: Duration::from_secs(3600),
            ..opts(&stop)
        },
    )
    .unwrap();
    // One read without stop: only the complete line, the fragment is held.
    let mut buf = [0u8; 64];
    let n = f.read(&mut buf).unwrap();
    assert_eq!(&buf[..n], b"full\n");
    // Rename rotation: the fragment is complete as far as its file goes.
    std::fs::rename(&p, dir.path().join("app.log.1")).unwrap();
    std::fs::write(&p, "new\ntail").unwrap();
    assert_eq!(read_until(&mut f, 2), "half\nnew\n");
    assert_eq!(f.partial_flushes(), 1);
    // Truncation: same rule.
    std::fs::OpenOptions::new()
        .write(true)
        .open(&p)
        .unwrap()
        .set_len(0)
        .unwrap();
    append(&p, "after\n");
    assert_eq!(read_until(&mut f, 2), "tail\nafter\n");
    assert_eq!(f.partial_flushes(), 2);
    assert_eq!((f.rotations(), f.truncations()), (1, 1));
}

/// A fragment completed by a later write is one line; a quiet fragment is
/// handed out with a `\n` after `partial_flush`; stop hands out the rest.
#[test]
fn partial_line_held_until_newline_quiet_period_or_stop() {
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path().join("app.log");
    std::fs::write(&p, "a\nb").unwrap();
    let stop = Arc::new(AtomicBool::new(false));
    let mut f = Follower::new(
        &p,
        FollowOptions {
            partial_flush: Duration::from_secs(3600),
            ..opts(&stop)
        },
    )
    .unwrap();
    let mut buf = [0u8; 64];
    let n = f.read(&mut buf).unwrap();
    assert_eq!(&buf[..n], b"a\n");
    append(&p, "c\nd");
    let n = f.read(&mut buf).unwrap();
    assert_eq!(&buf[..n], b"bc\n");
    assert_eq!(f.partial_flushes(), 0);
    // Stop: the held fragment is delivered, nothing read is dropped.
    assert_eq!(text(drain(&mut f, &stop, 64)), "d\n");
    assert_eq!(f.partial_flushes(), 1);

    // Quiet period: a plain read returns the fragment once the file is quiet.
    let mut f = Follower::new(&p, opts(&stop)).unwrap(); // partial_flush 5 ms
    append(&p, "e");
    let mut got = Vec::new();
    while !got.ends_with(b"de\n") {
        let n = f.read(&mut buf).unwrap();
        assert!(n > 0);
        got.extend_from_slice(&buf[..n]);
    }
    assert_eq!(text(got), "a\nbc\nde\n");
    assert_eq!(f.partial_flushes(), 1);
}

/// An endless line is passed through once it exceeds the hold limit, and
/// still ends with a `\n` at the next boundary.
#[test]
fn oversized_fragment_is_passed_through_then_terminated() {
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path().join("app.log");
    let big = vec![b'x'; MAX_HELD_FRAGMENT + 100];
    std::fs::write(&p, &big).unwrap();
    let stop = Arc::new(AtomicBool::new(false));
    let mut f = Follower::new(
        &p,
        FollowOptions {
            partial_flush: Duration::from_secs(3600),
            ..opts(&stop)
        },
    )
    .unwrap();
    let mut got = Vec::new();
    let mut buf = vec![0u8; 1 << 20];
    while got.len() < big.len() {
        let n = f.read(&mut buf).unwrap();
        assert!(n > 0);
        got.extend_from_slice(&buf[..n]);
    }
    assert_eq!(got, big);
    append(&p, "yy");
    got = drain(&mut f, &stop, 64);
    assert_eq!(got, b"yy\n");
    assert_eq!(f.partial_flushes(), 1);
}

/// Deletion without recreation: the old handle is drained (late writes
/// included), then the path is waited for and read from 0.
#[test]
fn deleted_file_is_drained_then_recreated_file_read_from_start() {
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path().join("app.log");
    std::fs::write(&p, "1\n").unwrap();
    let stop = Arc::new(AtomicBool::new(false));
    let mut f = Follower::new(&p, opts(&stop)).unwrap();
    assert_eq!(text(drain(&mut f, &stop, 64)), "1\n");
    let mut old = std::fs::OpenOptions::new().append(true).open(&p).unwrap();
    std::fs::remove_file(&p).unwrap();
    old.write_all(b"2 written after the unlink\n").unwrap();
    assert_eq!(text(drain(&mut f, &stop, 64)), "2 written after the unlink\n");
    assert_eq!(drain(&mut f, &stop, 64), b"");
    std::fs::write(&p, "3\n").unwrap();
    assert_eq!(text(drain(&mut f, &stop, 64)), "3\n");
    assert_eq!(f.rotations(), 1);
}

#[cfg(unix)]
#[test]
fn following_a_fifo_is_an_error() {
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path().join("pipe");
    let ok = std::process::Command::new("mkfifo")
        .arg(&p)
        .status()
        .unwrap()
        .success();
    assert!(ok, "mkfifo failed");
    let e = Follower::new(&p, FollowOptions::default()).err().unwrap();
    assert!(matches!(e, SourceError::NotFollowable { .. }), "{e}");
}

// ---- property test: a writer model against the follower ----

#[derive(Debug, Clone)]
enum Op {
    /// Append `k` lines, then maybe an unterminated partial line (creates
    /// the file when it is missing).
    Append { k: u8, partial: bool },
    /// Append to the renamed file (a writer that has not reopened yet).
    AppendOld { k: u8, partial: bool },
    /// `mv app.log app.log.1`, then maybe create a new app.log at once.
    Rename { create_now: bool },
    /// logrotate copytruncate.
    CopyTruncate,
    /// Create app.log (late) if missing.
    Create,
    /// `rm app.log`.
    Delete,
    /// The follower reads everything it can see now.
    Read,
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        4 => (0u8..4, any::<bool>()).prop_map(|(k, partial)| Op::Append { k, partial }),
        1 => (0u8..3, any::<bool>()).prop_map(|(k, partial)| Op::AppendOld { k, partial }),
        1 => any::<bool>().prop_map(|create_now| Op::Rename { create_now }),
        2 => Just(Op::CopyTruncate),
        1 => Just(Op::Create),
        1 => Just(Op::Delete),
        2 => Just(Op::Read),
    ]
}

/// The model: what the writer did, what the follower must deliver.
struct Model {
    dir: tempfile::TempDir,
    path: PathBuf,
    rotated: PathBuf,
    stop: Arc<AtomicBool>,
    f: Follower,
    bufsize: usize,
    got: Vec<u8>,
    expected: Vec<String>,
    /// Unterminated text the follower has not handed out yet.
    partial: Option<String>,
    next: u32,
    words: Vec<String>,
    exists: bool,
    /// The follower holds the file now at app.log (it read since the file
    /// appeared, and nothing rotated it since).
    attached: bool,
    /// app.log's size at the follower's last read, and now.
    size_at_read: u64,
    size_now: u64,
    /// The renamed file can still be written by path (app.log missing since).
    old_writable: bool,
    had_file: bool,
    rotations: u64,
    truncations: u64,
    flushes: u64,
    recovered: u64,
}

impl Model {
    fn new(words: Vec<String>, bufsize: usize, initial: Option<(u8, bool)>) -> Model {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("app.log");
        let rotated = dir.path().join("app.log.1");
        let stop = Arc::new(AtomicBool::new(false));
        let mut m = Model {
            f: Follower::new(&path, opts(&stop)).unwrap(),
            dir,
            path,
            rotated,
            stop,
            bufsize,
            got: Vec::new(),
            expected: Vec::new(),
            partial: None,
            next: 0,
            words,
            exists: false,
            attached: false,
            size_at_read: 0,
            size_now: 0,
            old_writable: false,
            had_file: false,
            rotations: 0,
            truncations: 0,
            flushes: 0,
            recovered: 0,
        };
        if let Some((k, partial)) = initial {
            // Before the follower exists, so it starts with a file.
            std::fs::write(&m.path, "").unwrap();
            let p = m.path.clone();
            m.size_now = m.write(&p, k, partial);
            m.exists = true;
            m.had_file = true;
            m.attached = true; // it opened this file, at offset 0
            m.f = Follower::new(&m.path, opts(&m.stop)).unwrap();
        }
        m
    }

    fn line(&mut self) -> String {
        let w = &self.words[self.next as usize % self.words.len()];
        let s = format!("line {} {w}", self.next);
        self.next += 1;
        s
    }

    /// Writes `k` lines and maybe a partial one to `target`; records what the
    /// follower must deliver. Returns the byte count.
    fn write(&mut self, target: &Path, k: u8, partial: bool) -> u64 {
        let mut bytes = String::new();
        for _ in 0..k {
            let l = self.line();
            bytes.push_str(&l);
            bytes.push('\n');
            let whole = match self.partial.take() {
                Some(p) => p + &l,
                None => l,
            };
            self.expected.push(whole);
        }
        if partial {
            let l = self.line();
            bytes.push_str(&l);
            self.partial = Some(match self.partial.take() {
                Some(p) => p + &l,
                None => l,
            });
        }
        append(target, &bytes);
        bytes.len() as u64
    }

    /// The follower will end the unterminated line with a `\n`.
    fn end_partial(&mut self) {
        if let Some(p) = self.partial.take() {
            self.expected.push(p);
            self.flushes += 1;
        }
    }

    fn create(&mut self) {
        std::fs::File::create(&self.path).unwrap();
        self.exists = true;
        self.size_now = 0;
        self.old_writable = false;
        self.end_partial(); // the follower switches files: a boundary
        if self.had_file {
            self.rotations += 1;
        }
        self.had_file = true;
    }

    fn read(&mut self) {
        let got = drain(&mut self.f, &self.stop, self.bufsize);
        self.got.extend_from_slice(&got);
        self.end_partial(); // stop hands out the held fragment
        self.attached = self.exists;
        self.size_at_read = self.size_now;
    }

    fn apply(&mut self, op: Op) {
        match op {
            Op::Read => self.read(),
            Op::Create => {
                if !self.exists {
                    self.create();
                }
            }
            Op::Append { k, partial } => {
                if !self.exists {
                    self.create();
                }
                let p = self.path.clone();
                self.size_now += self.write(&p, k, partial);
            }
            Op::AppendOld { k, partial } => {
                if self.old_writable {
                    let p = self.rotated.clone();
                    self.write(&p, k, partial);
                } else {
                    self.apply(Op::Append { k, partial });
                }
            }
            Op::Rename { create_now } => {
                if !self.exists {
                    return self.create();
                }
                // Impossible to deliver exactly once otherwise: if the
                // follower never opened this app.log (it appeared after the
                // last read), renaming it over app.log.1 (or a second
                // rotation) can unlink it before anyone reads it. `tail -F`
                // loses it too; the follower has nothing to hold on to.
                if !self.attached {
                    self.read();
                }
                std::fs::rename(&self.path, &self.rotated).unwrap();
                self.exists = false;
                self.attached = false;
                self.old_writable = true;
                self.size_now = 0;
                if create_now {
                    self.create();
                }
            }
            Op::Delete => {
                if !self.exists {
                    return;
                }
                // Same reason as for Rename: a file the follower never opened
                // is gone for good once unlinked.
                if !self.attached {
                    self.read();
                }
                std::fs::remove_file(&self.path).unwrap();
                self.exists = false;
                self.attached = false;
                self.old_writable = false;
                self.size_now = 0;
            }
            Op::CopyTruncate => {
                if !self.exists {
                    self.create();
                }
                // Impossible cases, kept away from:
                // * the follower has read nothing of this content (offset 0,
                //   empty fingerprint) but the file has bytes: after the
                //   truncation and new writes nothing tells the old content
                //   from the new one, and the copy cannot be recognised;
                // * two copytruncates between reads: the second copy replaces
                //   the first in app.log.1 (`attached` is cleared below), so
                //   the middle content is gone.
                if !self.attached || (self.size_at_read == 0 && self.size_now > 0) {
                    self.read();
                }
                let _ = std::fs::remove_file(&self.rotated);
                std::fs::copy(&self.path, &self.rotated).unwrap();
                std::fs::OpenOptions::new()
                    .write(true)
                    .open(&self.path)
                    .unwrap()
                    .set_len(0)
                    .unwrap();
                if self.size_at_read > 0 {
                    self.truncations += 1;
                    self.recovered += self.size_now - self.size_at_read;
                    self.end_partial(); // ends with the copy
                }
                self.attached = false;
                self.old_writable = false;
                self.size_now = 0;
            }
        }
    }

    fn check(mut self) {
        self.read();
        let got = String::from_utf8(std::mem::take(&mut self.got)).unwrap();
        let got: Vec<&str> = got.lines().collect();
        assert_eq!(got, self.expected, "in {}", self.dir.path().display());
        assert_eq!(self.f.rotations(), self.rotations, "rotations");
        assert_eq!(self.f.truncations(), self.truncations, "truncations");
        assert_eq!(self.f.truncations_without_copy(), 0);
        assert_eq!(self.f.recovered_bytes(), self.recovered, "recovered bytes");
        assert_eq!(self.f.partial_flushes(), self.flushes, "partial flushes");
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 64, ..ProptestConfig::default() })]

    /// Exactly-once, in-order delivery of every line through appends,
    /// partial lines, rename rotations (with late creation and late writes
    /// to the old file), copytruncate, deletion and creation.
    #[test]
    fn follower_delivers_every_line_exactly_once_in_order(
        words in proptest::collection::vec("[a-z]{1,6}", 1..8),
        bufsize in prop_oneof![Just(7usize), Just(64), Just(8192)],
        initial in proptest::option::of((0u8..4, any::<bool>())),
        ops in proptest::collection::vec(op(), 1..40),
    ) {
        let mut m = Model::new(words, bufsize, initial);
        for o in ops {
            m.apply(o);
        }
        m.check();
    }
}

/// The reported copytruncate case with a real concurrent writer: 1,751
/// lines, logrotate every 250, the follower on its own thread. The writer
/// only waits (before each rotation) until the follower has seen a line of
/// the current content: two rotations before the follower looks at all
/// would overwrite the first copy, which no follower can recover from.
#[test]
fn copytruncate_with_concurrent_writer_delivers_all_1751_lines() {
    use std::io::BufRead;
    use std::sync::atomic::AtomicUsize;
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path().join("app.log");
    std::fs::write(&p, "").unwrap();
    let stop = Arc::new(AtomicBool::new(false));
    let f = Follower::new(&p, opts(&stop)).unwrap();
    let seen = Arc::new(AtomicUsize::new(0));
    let seen2 = seen.clone();
    let reader = std::thread::spawn(move || {
        let mut r = std::io::BufReader::new(f);
        let mut got = String::new();
        let mut line = String::new();
        loop {
            line.clear();
            if r.read_line(&mut line).unwrap() == 0 {
                break;
            }
            got.push_str(&line);
            seen2.fetch_add(1, Ordering::Release);
        }
        let f = r.into_inner();
        (got, f.truncations_without_copy(), f.recovered_bytes())
    });
    // Safety net: a broken follower fails the test instead of hanging it.
    let wait_for = |seen: &AtomicUsize, n: usize| {
        let t0 = std::time::Instant::now();
        while seen.load(Ordering::Acquire) < n {
            assert!(
                t0.elapsed() < Duration::from_secs(60),
                "follower stuck before line {n}"
            );
            std::thread::sleep(Duration::from_millis(1));
        }
    };
    let want = lines(0, 1751);
    let mut last_rotation_at = 0;
    for i in 0..1751u32 {
        append(&p, &format!("line {i} of the app log\n"));
        if i % 250 == 249 {
            wait_for(&seen, last_rotation_at + 1);
            copytruncate(&p);
            last_rotation_at = i as usize + 1;
        }
    }
    wait_for(&seen, 1751);
    stop.store(true, Ordering::Release);
    let (got, without_copy, _recovered) = reader.join().unwrap();
    assert_eq!(without_copy, 0);
    assert_eq!(got.lines().count(), 1751);
    assert_eq!(got, want);
}

#[test]
fn follower_is_a_send_reader() {
    fn send_reader<T: Read + Send>(_: &T) {}
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path().join("app.log");
    std::fs::write(&p, "").unwrap();
    let f = Follower::new(&p, FollowOptions::default()).unwrap();
    send_reader(&f);
    assert_eq!(FollowOptions::default().poll_interval, Duration::from_millis(50));
    assert_eq!(FollowOptions::default().partial_flush, Duration::from_secs(1));
}
