//! Soak: `parse --follow` over three files under mixed rename and
//! copytruncate rotation with detection on, stopped with SIGTERM. Every line
//! must come out exactly once, every alert must be written, and the state
//! must be saved.
//!
//! The suite runs it small; `bench/soak.sh` runs the same test at full size
//! through `SOAK_SECS` and `SOAK_RATE` (lines per second over all files).

use std::collections::HashMap;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

fn env_or(name: &str, default: u64) -> u64 {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

struct Writer {
    path: PathBuf,
    file: std::fs::File,
    rotations: u64,
}

impl Writer {
    fn open(path: &Path) -> std::fs::File {
        std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(path)
            .expect("open log for append")
    }

    fn rotate(&mut self, copytruncate: bool) {
        self.rotations += 1;
        let rotated = PathBuf::from(format!("{}.{}", self.path.display(), self.rotations));
        if copytruncate {
            std::fs::copy(&self.path, &rotated).expect("copy");
            self.file.set_len(0).expect("truncate");
        } else {
            std::fs::rename(&self.path, &rotated).expect("rename");
            self.file = Self::open(&self.path);
        }
    }
}

#[test]
fn follow_three_files_under_mixed_rotation_exactly_once() {
    let secs = env_or("SOAK_SECS", 3);
    let rate = env_or("SOAK_RATE", 3000);
    let rotate_every = env_or("SOAK_ROTATE_EVERY", 700);
    let dir = tempfile::tempdir().unwrap();
    let rule = dir.path().join("rule.yml");
    std::fs::write(
        &rule,
        "title: needle\nid: needle\nlevel: low\nlogsource: {product: linux}\n\
         detection:\n  k: ['needle']\n  condition: k\n",
    )
    .unwrap();
    let names = ["a.log", "b.log", "c.log"];
    let paths: Vec<PathBuf> = names.iter().map(|n| dir.path().join(n)).collect();
    // c.log is created only after the follower started.
    let mut writers: Vec<Option<Writer>> = paths
        .iter()
        .enumerate()
        .map(|(i, p)| {
            (i < 2).then(|| Writer {
                path: p.clone(),
                file: Writer::open(p),
                rotations: 0,
            })
        })
        .collect();
    let out_path = dir.path().join("records.jsonl");
    let alerts = dir.path().join("alerts.jsonl");
    let state = dir.path().join("state.json");
    let mut child = Command::new(env!("CARGO_BIN_EXE_logsieve"))
        .args(["parse", "--follow", "--mapping", "none", "--rules"])
        .arg(&rule)
        .arg("--alerts")
        .arg(&alerts)
        .arg("--state")
        .arg(&state)
        .args(&paths)
        .stdout(std::fs::File::create(&out_path).unwrap())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let started = Instant::now();
    let total = secs * rate;
    let mut written: HashMap<usize, u64> = HashMap::new();
    let mut needles = 0u64;
    let mut n = 0u64;
    while n < total {
        // Pace: line n is due at n / rate seconds.
        let due = Duration::from_secs_f64(n as f64 / rate as f64);
        if let Some(wait) = due.checked_sub(started.elapsed()) {
            std::thread::sleep(wait);
        }
        let f = (n % 3) as usize;
        if writers[f].is_none() {
            writers[f] = Some(Writer {
                path: paths[f].clone(),
                file: Writer::open(&paths[f]),
                rotations: 0,
            });
        }
        let w = writers[f].as_mut().unwrap();
        let seq = written.entry(f).or_default();
        *seq += 1;
        let needle = n % 10 == 0;
        needles += u64::from(needle);
        writeln!(
            w.file,
            "file {f} seq {seq} user u{} {}",
            n % 97,
            if needle { "needle" } else { "hay" }
        )
        .unwrap();
        if *seq % rotate_every == 0 {
            let copytruncate = (*seq / rotate_every) % 2 == 0;
            w.rotate(copytruncate);
        }
        n += 1;
    }
    // Let the follower catch up, then stop it the way a service manager does.
    let deadline = Instant::now() + Duration::from_secs(30);
    while Instant::now() < deadline {
        let got = std::fs::read_to_string(&out_path)
            .unwrap_or_default()
            .lines()
            .count() as u64;
        if got >= total {
            break;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    let kill = Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(kill.success());
    let status = child.wait().unwrap();
    let mut err = String::new();
    std::io::Read::read_to_string(child.stderr.as_mut().unwrap(), &mut err).unwrap();
    assert!(status.success(), "clean stop on SIGTERM: {status:?}\n{err}");

    let text = std::fs::read_to_string(&out_path).unwrap();
    let mut seen: HashMap<(String, u64), u32> = HashMap::new();
    for l in text.lines() {
        let r: serde_json::Value = serde_json::from_str(l).unwrap_or_else(|e| panic!("{l}: {e}"));
        let msg = r["message"].as_str().unwrap();
        let parts: Vec<&str> = msg.split(' ').collect();
        assert_eq!(parts.len(), 7, "a whole line, never a fragment: {msg:?}");
        let src = r["source"].as_str().unwrap();
        assert!(src.ends_with(&format!(
            "{}.log",
            ["a", "b", "c"][parts[1].parse::<usize>().unwrap()]
        )));
        *seen
            .entry((parts[1].to_string(), parts[3].parse().unwrap()))
            .or_default() += 1;
    }
    for (f, &count) in &written {
        for seq in 1..=count {
            let k = (f.to_string(), seq);
            assert_eq!(
                seen.get(&k),
                Some(&1),
                "file {f} line {seq} delivered exactly once\n{err}"
            );
        }
    }
    assert_eq!(seen.len() as u64, total, "no line that was not written");
    let a = std::fs::read_to_string(&alerts).unwrap();
    assert_eq!(a.lines().count() as u64, needles, "every alert written");
    assert!(state.exists(), "state saved on SIGTERM");
    assert!(err.contains(&format!("{total} lines read")), "{err}");
}
