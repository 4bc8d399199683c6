use super::*;
use std::io::{BufRead, BufReader, Write};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc;
use std::sync::Arc;
use std::time::{Duration, Instant};

fn gz(data: &[u8]) -> Vec<u8> {
    let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    e.write_all(data).unwrap();
    e.finish().unwrap()
}

fn zst(data: &[u8]) -> Vec<u8> {
    zstd::stream::encode_all(data, 3).unwrap()
}

fn read_all(input: &Input) -> io::Result<Vec<u8>> {
    let mut v = Vec::new();
    open(input).unwrap().read_to_end(&mut v)?;
    Ok(v)
}

fn big_text() -> Vec<u8> {
    (0..20_000u32)
        .flat_map(|i| format!("line {i} some log text {}\n", i.wrapping_mul(2654435761)).into_bytes())
        .collect()
}

#[test]
fn input_from_arg_and_names() {
    assert_eq!(Input::from_arg("-"), Input::Stdin);
    assert_eq!(Input::from_arg("a.log"), Input::File("a.log".into()));
    assert_eq!(Input::from_arg("a.log").to_string(), "a.log");
    assert_eq!(Input::Stdin.display_name(), "<stdin>");
    assert!(!is_seekable_file(&Input::Stdin));
    assert_eq!(Input::Stdin.path(), None);
}

#[test]
fn plain_gzip_zstd_detected_by_magic() {
    let dir = tempfile::tempdir().unwrap();
    let text = big_text();
    // Misleading names on purpose: detection is by content.
    let cases: [(&str, Vec<u8>, Compression); 4] = [
        ("plain.gz", text.clone(), Compression::None),
        ("gzip.log", gz(&text), Compression::Gzip),
        ("zstd.log", zst(&text), Compression::Zstd),
        ("real.zst", zst(&text), Compression::Zstd),
    ];
    for (name, bytes, comp) in cases {
        let p = dir.path().join(name);
        std::fs::write(&p, bytes).unwrap();
        let input = Input::File(p);
        let (mut r, c) = open_with_compression(&input).unwrap();
        assert_eq!(c, comp, "{name}");
        let mut v = Vec::new();
        r.read_to_end(&mut v).unwrap();
        assert_eq!(v, text, "{name}");
        assert!(is_seekable_file(&input));
    }
}

#[test]
fn multi_member_gzip_and_multi_frame_zstd() {
    let dir = tempfile::tempdir().unwrap();
    let mut g = gz(b"first\n");
    g.extend(gz(b"second\n"));
    let p = dir.path().join("m.gz");
    std::fs::write(&p, g).unwrap();
    assert_eq!(read_all(&Input::File(p)).unwrap(), b"first\nsecond\n");
    let mut z = zst(b"one\n");
    z.extend(zst(b"two\n"));
    let p = dir.path().join("m.zst");
    std::fs::write(&p, z).unwrap();
    assert_eq!(read_all(&Input::File(p)).unwrap(), b"one\ntwo\n");
}

#[test]
fn tiny_and_empty_files() {
    let dir = tempfile::tempdir().unwrap();
    for content in [&b""[..], b"x", b"\x1f", b"\x28\xb5"] {
        let p = dir.path().join("t");
        std::fs::write(&p, content).unwrap();
        assert_eq!(read_all(&Input::File(p)).unwrap(), content);
    }
}

#[test]
fn truncated_gzip_is_an_error_naming_the_file() {
    let dir = tempfile::tempdir().unwrap();
    let full = gz(&big_text());
    let p = dir.path().join("cut.log.gz");
    std::fs::write(&p, &full[..full.len() / 2]).unwrap();
    let e = read_all(&Input::File(p.clone())).unwrap_err();
    assert_eq!(e.kind(), io::ErrorKind::UnexpectedEof);
    let msg = e.to_string();
    assert!(
        msg.contains("truncated") && msg.contains("cut.log.gz") && msg.contains("gzip"),
        "{msg}"
    );
    // Cut inside the trailer (CRC/size) too.
    std::fs::write(&p, &full[..full.len() - 3]).unwrap();
    let e = read_all(&Input::File(p)).unwrap_err();
    assert!(e.to_string().contains("truncated"), "{e}");
}

#[test]
fn truncated_zstd_is_an_error_naming_the_file() {
    let dir = tempfile::tempdir().unwrap();
    let full = zst(&big_text());
    let p = dir.path().join("cut.zst");
    for cut in [full.len() / 2, full.len() - 1] {
        std::fs::write(&p, &full[..cut]).unwrap();
        let e = read_all(&Input::File(p.clone())).unwrap_err();
        let msg = e.to_string();
        assert!(msg.contains("cut.zst") && msg.contains("zstd"), "{msg}");
        assert!(msg.contains("truncated"), "{msg}");
    }
}

#[test]
fn corrupt_gzip_is_an_error() {
    let dir = tempfile::tempdir().unwrap();
    let mut bytes = gz(&big_text());
    let mid = bytes.len() / 2;
    for b in &mut bytes[20..mid] {
        *b ^= 0x5a;
    }
    let p = dir.path().join("bad.gz");
    std::fs::write(&p, bytes).unwrap();
    let e = read_all(&Input::File(p)).unwrap_err();
    assert!(e.to_string().contains("bad.gz"), "{e}");
}

#[test]
fn missing_file_and_directory_errors() {
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path().join("nope.log");
    let e = open(&Input::File(p.clone())).err().unwrap();
    let msg = e.to_string();
    assert!(msg.contains("nope.log") && msg.contains("No such file"), "{msg}");
    assert!(!is_seekable_file(&Input::File(p)));
    let e = open(&Input::File(dir.path().to_path_buf())).err().unwrap();
    assert!(e.to_string().contains("directory"), "{e}");
    assert!(!is_seekable_file(&Input::File(dir.path().to_path_buf())));
}

// ---- follow ----

const WAIT: Duration = Duration::from_secs(20);

struct Tail {
    lines: mpsc::Receiver<String>,
    stop: Arc<AtomicBool>,
    handle: std::thread::JoinHandle<(u64, u64)>,
}

impl Tail {
    fn start(path: &Path, from_start: bool) -> Tail {
        let stop = Arc::new(AtomicBool::new(false));
        let opts = FollowOptions {
            poll_interval: Duration::from_millis(5),
            from_start,
            stop: stop.clone(),
            // Safety net so a broken test fails instead of hanging.
            idle_timeout: Some(Duration::from_secs(60)),
            ..FollowOptions::default()
        };
        let f = Follower::new(path, opts).unwrap();
        let (tx, rx) = mpsc::channel();
        let handle = std::thread::spawn(move || {
            let mut r = BufReader::new(f);
            let mut line = String::new();
            loop {
                line.clear();
                if r.read_line(&mut line).unwrap() == 0 {
                    break;
                }
                let _ = tx.send(line.trim_end().to_string());
            }
            let f = r.into_inner();
            (f.rotations(), f.truncations())
        });
        Tail {
            lines: rx,
            stop,
            handle,
        }
    }

    /// Waits for the next `n` lines.
    fn expect(&self, want: &[&str]) {
        for w in want {
            let got = self
                .lines
                .recv_timeout(WAIT)
                .unwrap_or_else(|_| panic!("timed out waiting for {w:?}"));
            assert_eq!(&got, w);
        }
    }

    fn finish(self) -> (u64, u64) {
        self.stop.store(true, Ordering::Release);
        let r = self.handle.join().unwrap();
        assert!(self.lines.try_recv().is_err(), "unexpected extra line");
        r
    }
}

fn append(path: &Path, s: &str) {
    let mut f = std::fs::OpenOptions::new().append(true).open(path).unwrap();
    f.write_all(s.as_bytes()).unwrap();
}

#[test]
fn follow_growing_file() {
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path().join("app.log");
    std::fs::write(&p, "old1\nold2\n").unwrap();
    let t = Tail::start(&p, false); // from the end: old lines are skipped
    append(&p, "a\n");
    t.expect(&["a"]);
    append(&p, "b\nc");
    t.expect(&["b"]);
    append(&p, "ont\n"); // line completed by a later write
    t.expect(&["cont"]);
    for i in 0..100 {
        append(&p, &format!("n{i}\n"));
    }
    let want: Vec<String> = (0..100).map(|i| format!("n{i}")).collect();
    t.expect(&want.iter().map(String::as_str).collect::<Vec<_>>());
    assert_eq!(t.finish(), (0, 0));
}

#[test]
fn follow_from_start() {
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path().join("app.log");
    std::fs::write(&p, "old1\nold2\n").unwrap();
    let t = Tail::start(&p, true);
    t.expect(&["old1", "old2"]);
    append(&p, "new\n");
    t.expect(&["new"]);
    t.finish();
}

#[test]
fn follow_rotation_drains_old_file_first() {
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path().join("app.log");
    std::fs::write(&p, "").unwrap();
    let t = Tail::start(&p, false);
    let mut old = std::fs::OpenOptions::new().append(true).open(&p).unwrap();
    old.write_all(b"1\n2\n").unwrap();
    t.expect(&["1", "2"]);
    // Rotate: rename, keep writing to the old handle, then recreate.
    std::fs::rename(&p, dir.path().join("app.log.1")).unwrap();
    old.write_all(b"3 late write to old\n").unwrap();
    std::fs::write(&p, "4 new file\n").unwrap();
    t.expect(&["3 late write to old", "4 new file"]);
    append(&p, "5\n");
    t.expect(&["5"]);
    // A second rotation.
    std::fs::rename(&p, dir.path().join("app.log.2")).unwrap();
    std::fs::write(&p, "6\n").unwrap();
    t.expect(&["6"]);
    assert_eq!(t.finish(), (2, 0));
}

#[test]
fn follow_truncation_restarts_at_zero() {
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path().join("app.log");
    std::fs::write(&p, "").unwrap();
    let t = Tail::start(&p, false);
    append(&p, "aaaaaaaaaa\nbbbbbbbbbb\n");
    t.expect(&["aaaaaaaaaa", "bbbbbbbbbb"]);
    // copytruncate: same inode, shorter content.
    let f = std::fs::OpenOptions::new().write(true).open(&p).unwrap();
    f.set_len(0).unwrap();
    drop(f);
    append(&p, "c\n");
    t.expect(&["c"]);
    append(&p, "d\n");
    t.expect(&["d"]);
    assert_eq!(t.finish(), (0, 1));
}

#[test]
fn follow_stops_on_flag_and_idle_timeout() {
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path().join("app.log");
    std::fs::write(&p, "x\n").unwrap();
    let stop = Arc::new(AtomicBool::new(true));
    let mut f = Follower::new(
        &p,
        FollowOptions {
            poll_interval: Duration::from_millis(1),
            from_start: true,
            stop,
            idle_timeout: None,
            ..FollowOptions::default()
        },
    )
    .unwrap();
    // Already stopped: pending data is still delivered, then Ok(0).
    let mut v = Vec::new();
    f.read_to_end(&mut v).unwrap();
    assert_eq!(v, b"x\n");

    let mut f = Follower::new(
        &p,
        FollowOptions {
            poll_interval: Duration::from_millis(1),
            idle_timeout: Some(Duration::from_millis(30)),
            ..FollowOptions::default()
        },
    )
    .unwrap();
    let t0 = Instant::now();
    assert_eq!(f.read(&mut [0; 16]).unwrap(), 0);
    assert!(t0.elapsed() >= Duration::from_millis(30));
    assert!(Follower::new(dir.path().join("missing"), FollowOptions::default()).is_err());
}

#[test]
fn magic_detection_does_not_wait_for_four_bytes_of_plain_data() {
    /// Delivers `a\n` then fails the test if read again before the caller reads.
    struct Slow(u8);
    impl Read for Slow {
        fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
            self.0 += 1;
            assert!(self.0 == 1, "peek read past plain data");
            buf[..2].copy_from_slice(b"a\n");
            Ok(2)
        }
    }
    let (head, _r) = peek(Slow(0), 4).unwrap();
    assert_eq!(head, b"a\n");
    // A one-byte-at-a-time gzip header is still recognised.
    let data = gz(b"x\n");
    let slow = DribbleOne(&data);
    let (head, _) = peek(slow, 4).unwrap();
    assert_eq!(Compression::from_magic(&head), Compression::Gzip);
}

struct DribbleOne<'a>(&'a [u8]);
impl Read for DribbleOne<'_> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        if self.0.is_empty() || buf.is_empty() {
            return Ok(0);
        }
        buf[0] = self.0[0];
        self.0 = &self.0[1..];
        Ok(1)
    }
}

// ---- streams, directory and glob inputs ----

#[test]
fn is_stream_for_stdin_pipes_devices_and_fd_paths() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("a.log");
    std::fs::write(&file, "x\n").unwrap();
    assert!(is_stream(&Input::Stdin));
    assert!(!is_stream(&Input::File(file.clone())));
    assert!(is_seekable_file(&Input::File(file)));
    // A directory or a missing path is not a stream: opening it reports it.
    assert!(!is_stream(&Input::File(dir.path().to_path_buf())));
    assert!(!is_stream(&Input::File(dir.path().join("missing"))));
    #[cfg(unix)]
    {
        let fifo = dir.path().join("fifo");
        assert!(std::process::Command::new("mkfifo")
            .arg(&fifo)
            .status()
            .unwrap()
            .success());
        assert!(is_stream(&Input::File(fifo.clone())));
        assert!(!is_seekable_file(&Input::File(fifo)));
        assert!(is_stream(&Input::from_arg("/dev/null"))); // a char device
    }
    for p in ["/dev/stdin", "/dev/fd/63", "/proc/self/fd/0", "/proc/1234/fd/5"] {
        assert!(is_stream(&Input::from_arg(p)), "{p}");
        assert!(!is_seekable_file(&Input::from_arg(p)), "{p}");
    }
    assert!(!is_stream(&Input::from_arg("/proc/self/fdinfo")));
}

fn names(inputs: &[Input], root: &Path) -> Vec<String> {
    inputs
        .iter()
        .map(|i| match i {
            Input::Stdin => "-".to_string(),
            Input::File(p) => p.strip_prefix(root).unwrap_or(p).display().to_string(),
        })
        .collect()
}

fn args(v: &[&str]) -> Vec<String> {
    v.iter().map(|s| s.to_string()).collect()
}

#[test]
fn expand_directory_recursively_sorted_honouring_hidden_and_ignore_files() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path();
    for (p, body) in [
        ("logs/b.log", "b\n"),
        ("logs/a.log", "a\n"),
        ("logs/sub/c.log", "c\n"),
        ("logs/.hidden.log", "h\n"),
        ("logs/.hiddendir/d.log", "d\n"),
        ("logs/skip.tmp", "t\n"),
        ("logs/ignored/e.log", "e\n"),
        ("logs/.gitignore", "*.tmp\n"),
        ("logs/.ignore", "ignored/\n"),
    ] {
        let p = root.join(p);
        std::fs::create_dir_all(p.parent().unwrap()).unwrap();
        std::fs::write(p, body).unwrap();
    }
    let logs = root.join("logs");
    let got = expand_inputs(&args(&["-", logs.to_str().unwrap()])).unwrap();
    assert_eq!(
        names(&got, root),
        ["-", "logs/a.log", "logs/b.log", "logs/sub/c.log"]
    );

    let empty = root.join("empty");
    std::fs::create_dir(&empty).unwrap();
    let e = expand_inputs(&args(&[empty.to_str().unwrap()])).unwrap_err();
    assert!(matches!(e, SourceError::EmptyDirectory { .. }), "{e}");
    assert!(e.to_string().contains("empty"), "{e}");
}

#[test]
fn expand_globs_sorted_and_no_match_is_an_error_naming_the_pattern() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path();
    for p in ["x2.log", "x1.log", "x1.txt", ".x3.log", "sub/x4.log"] {
        let p = root.join(p);
        std::fs::create_dir_all(p.parent().unwrap()).unwrap();
        std::fs::write(p, "l\n").unwrap();
    }
    let pat = format!("{}/x?.log", root.display());
    let got = expand_inputs(&args(&[&pat])).unwrap();
    assert_eq!(names(&got, root), ["x1.log", "x2.log"]);
    let pat = format!("{}/*.log", root.display()); // `*` does not match a leading dot
    assert_eq!(
        names(&expand_inputs(&args(&[&pat])).unwrap(), root),
        ["x1.log", "x2.log"]
    );
    let pat = format!("{}/s[u]b", root.display()); // a matched directory is walked
    assert_eq!(
        names(&expand_inputs(&args(&[&pat])).unwrap(), root),
        ["sub/x4.log"]
    );

    let pat = format!("{}/nothing-*.log", root.display());
    let e = expand_inputs(&args(&[&pat])).unwrap_err();
    assert!(matches!(e, SourceError::NoGlobMatch { .. }), "{e}");
    assert!(e.to_string().contains("nothing-*.log"), "{e}");
    let e = expand_inputs(&args(&["[unclosed"])).unwrap_err();
    assert!(matches!(e, SourceError::BadGlob { .. }), "{e}");

    // A missing plain path is passed through (open reports it); so is an
    // existing file whose name has glob characters.
    let odd = root.join("odd[1].log");
    std::fs::write(&odd, "o\n").unwrap();
    let missing = root.join("missing.log");
    let got = expand_inputs(&args(&[missing.to_str().unwrap(), odd.to_str().unwrap()])).unwrap();
    assert_eq!(got, [Input::File(missing), Input::File(odd)]);
}

#[test]
fn error_messages_echo_at_most_200_characters_of_input() {
    let long = format!("/no/such/dir/{}*.log", "y".repeat(5000));
    let e = expand_inputs(&args(&[&long])).unwrap_err();
    let msg = e.to_string();
    assert!(matches!(e, SourceError::NoGlobMatch { .. }), "{msg}");
    assert!(msg.len() < 400, "{} chars", msg.len());
    assert!(msg.contains(&long[..150]), "{msg}");
    assert_eq!(clip("abc"), "abc");
    let c = clip(&"é".repeat(300));
    assert_eq!(c.chars().count(), MAX_ECHO_CHARS + 1);
    assert!(c.ends_with('…'));
    let e = open(&Input::File(PathBuf::from("z".repeat(1000)))).err().unwrap();
    assert!(e.to_string().len() < 400, "{e}");
}

#[test]
fn expand_follow_inputs_keeps_missing_paths_and_skips_rotated_and_compressed_files() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path();
    std::fs::write(root.join("app.log"), "a\n").unwrap();
    std::fs::write(root.join("app.log.1"), "old\n").unwrap();
    std::fs::write(root.join("app.log-20261123"), "older\n").unwrap();
    std::fs::write(root.join("other.log"), "o\n").unwrap();
    std::fs::write(root.join("archive.log"), gz(b"z\n")).unwrap();
    let later = root.join("later.log");
    let got = expand_follow_inputs(&args(&[root.to_str().unwrap(), later.to_str().unwrap()])).unwrap();
    assert_eq!(names(&got, root), ["app.log", "other.log", "later.log"]);
    // Reading expands the same directory to every file.
    assert_eq!(expand_inputs(&args(&[root.to_str().unwrap()])).unwrap().len(), 5);
    let e = expand_follow_inputs(&args(&[root.join("no-dir/x.log").to_str().unwrap()])).unwrap_err();
    assert!(matches!(e, SourceError::FollowDirMissing { .. }), "{e}");
    let only_rotated = root.join("archive*");
    let e = expand_follow_inputs(&args(&[only_rotated.to_str().unwrap()])).unwrap_err();
    assert!(matches!(e, SourceError::NothingToFollow { .. }), "{e}");
}
