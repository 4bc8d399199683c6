//! Scale-out test rig: a private NATS server (JetStream) per test that can
//! be restarted, a PostgreSQL schema per test (or a private PostgreSQL
//! server that can be restarted), workers as real `logsieve worker`
//! processes, and a deterministic multi-source input.

#![allow(dead_code)]

use crate::serve_common::{bin, repo_root, Server};
use std::io::{BufRead, BufReader};
use std::net::TcpListener;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

pub fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

fn wait_port(port: u16, what: &str, limit: Duration) {
    let t = Instant::now();
    while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
        assert!(
            t.elapsed() < limit,
            "{what} did not open port {port} within {limit:?}"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// A private nats-server with JetStream, on its own port and store dir.
pub struct Nats {
    pub port: u16,
    dir: tempfile::TempDir,
    child: Option<Child>,
}

impl Nats {
    pub fn start() -> Nats {
        let mut n = Nats {
            port: free_port(),
            dir: tempfile::tempdir().unwrap(),
            child: None,
        };
        n.up();
        n
    }

    pub fn url(&self) -> String {
        format!("nats://127.0.0.1:{}", self.port)
    }

    fn up(&mut self) {
        let exe = [
            "/usr/sbin/nats-server",
            "/usr/bin/nats-server",
            "/usr/local/bin/nats-server",
        ]
        .into_iter()
        .find(|p| std::path::Path::new(p).exists())
        .expect(
            "nats-server is not installed: run `bash scripts/clients/setup.sh` (Debian package nats-server)",
        );
        let child = Command::new(exe)
            .args(["-a", "127.0.0.1", "-p", &self.port.to_string(), "-js", "-sd"])
            .arg(self.dir.path())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("starts nats-server");
        self.child = Some(child);
        wait_port(self.port, "nats-server", Duration::from_secs(20));
    }

    /// Stops the server (SIGKILL: what it acknowledged is on disk).
    pub fn stop(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }

    pub fn start_again(&mut self) {
        self.up();
    }
}

impl Drop for Nats {
    fn drop(&mut self) {
        self.stop();
    }
}

fn psql(port: u16, sql: &str) -> std::process::Output {
    Command::new("psql")
        .args([
            "-h",
            "127.0.0.1",
            "-p",
            &port.to_string(),
            "-U",
            "postgres",
            "-d",
            "postgres",
            "-v",
            "ON_ERROR_STOP=1",
            "-qc",
            sql,
        ])
        .output()
        .expect("psql runs")
}

/// A schema of its own on a PostgreSQL server: the shared one on 5432, or
/// a private one that can be restarted.
pub struct Pg {
    pub port: u16,
    pub schema: String,
    private: Option<PathBuf>,
    _dir: Option<tempfile::TempDir>,
}

impl Pg {
    /// A fresh schema on the machine's PostgreSQL (127.0.0.1:5432).
    pub fn shared(name: &str) -> Pg {
        let schema = format!("ls_{name}_{}", std::process::id());
        let out = psql(5432, &format!("DROP SCHEMA IF EXISTS {schema} CASCADE"));
        assert!(
            out.status.success(),
            "PostgreSQL on 127.0.0.1:5432 is not usable ({}); start it: pg_ctlcluster --skip-systemctl-redirect $(ls /etc/postgresql) main start",
            String::from_utf8_lossy(&out.stderr)
        );
        Pg {
            port: 5432,
            schema,
            private: None,
            _dir: None,
        }
    }

    /// A private server (scripts/pg-private.sh) on a free port.
    pub fn private(name: &str) -> Pg {
        let dir = tempfile::tempdir().unwrap();
        let data = dir.path().join("pg");
        let port = free_port();
        let pg = Pg {
            port,
            schema: format!("ls_{name}"),
            private: Some(data),
            _dir: Some(dir),
        };
        pg.ctl("start");
        pg
    }

    fn ctl(&self, what: &str) {
        let data = self.private.as_ref().expect("a private server");
        let out = Command::new("bash")
            .arg(repo_root().join("scripts/pg-private.sh"))
            .args([what, &data.display().to_string(), &self.port.to_string()])
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "scripts/pg-private.sh {what}: {}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
    }

    pub fn stop(&self) {
        self.ctl("stop");
    }

    pub fn start_again(&self) {
        self.ctl("start");
    }

    pub fn url(&self) -> String {
        format!(
            "postgres://postgres@127.0.0.1:{}/postgres?schema={}",
            self.port, self.schema
        )
    }
}

impl Drop for Pg {
    fn drop(&mut self) {
        if self.private.is_some() {
            let _ = std::panic::catch_unwind(|| self.ctl("stop"));
        } else {
            let _ = psql(
                self.port,
                &format!("DROP SCHEMA IF EXISTS {} CASCADE", self.schema),
            );
        }
    }
}

/// A `logsieve worker` process.
pub struct Worker {
    pub child: Option<Child>,
    pub id: String,
    pub http: Option<String>,
    pub log: Arc<Mutex<Vec<String>>>,
}

impl Worker {
    pub fn start(id: &str, nats: &str, stream: &str, store: &str, extra: &[&str]) -> Worker {
        let mut child = Command::new(bin())
            .args([
                "worker", "--nats", nats, "--stream", stream, "--store", store, "--id", id,
            ])
            .args([
                "--listen",
                "127.0.0.1:0",
                "--lease-ttl",
                "3s",
                "--checkpoint-interval",
                "1s",
            ])
            .args(extra)
            .env("RUST_LOG", "info")
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .expect("starts logsieve worker");
        let stderr = child.stderr.take().unwrap();
        let log = Arc::new(Mutex::new(Vec::new()));
        let (tx, rx) = std::sync::mpsc::channel();
        {
            let log = log.clone();
            std::thread::spawn(move || {
                for line in BufReader::new(stderr).lines().map_while(Result::ok) {
                    if let Some(i) = line.find("listening: http ") {
                        let _ = tx.send(
                            line[i + "listening: http ".len()..]
                                .trim()
                                .trim_end_matches('"')
                                .to_string(),
                        );
                    }
                    log.lock().unwrap().push(line);
                }
            });
        }
        let http = rx.recv_timeout(Duration::from_secs(30)).ok();
        if http.is_none() {
            let _ = child.kill();
            panic!(
                "worker {id} did not start; log:\n{}",
                log.lock().unwrap().join("\n")
            );
        }
        Worker {
            child: Some(child),
            id: id.into(),
            http,
            log,
        }
    }

    pub fn kill9(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }

    /// SIGTERM and wait for a clean exit (its status).
    pub fn stop(&mut self) -> Option<i32> {
        let mut c = self.child.take()?;
        let _ = Command::new("kill").args(["-TERM", &c.id().to_string()]).status();
        let t = Instant::now();
        loop {
            if let Some(st) = c.try_wait().unwrap() {
                return st.code();
            }
            if t.elapsed() > Duration::from_secs(30) {
                let _ = c.kill();
                panic!("worker {} did not stop; log:\n{}", self.id, self.log_text());
            }
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    pub fn metric(&self, name: &str) -> f64 {
        let Some(h) = &self.http else { return 0.0 };
        let Ok(r) = ureq::get(&format!("http://{h}/metrics")).call() else {
            return 0.0;
        };
        crate::serve_common::metric_in(&r.into_string().unwrap_or_default(), name)
    }

    pub fn log_text(&self) -> String {
        self.log.lock().unwrap().join("\n")
    }
}

impl Drop for Worker {
    fn drop(&mut self) {
        self.kill9();
    }
}

/// A front end: `logsieve serve --nats` reading queries from the store.
pub fn front_end(nats: &str, stream: &str, store: &str) -> Server {
    Server::start(&["--nats", nats, "--stream", stream, "--store", store])
}

/// Deterministic requests: (source, lines), round-robin over `sources`
/// sources, `per_request` lines each, `total` lines in all. Sources mix
/// templates with numeric variables, word variables that merge after enough
/// values, and a template that appears only in the second half.
pub fn requests(sources: usize, total: usize, per_request: usize) -> Vec<(String, Vec<String>)> {
    const USERS: [&str; 12] = [
        "alice", "bob", "carol", "dave", "erin", "frank", "grace", "heidi", "ivan", "judy", "mallory",
        "oscar",
    ];
    let mut x: u64 = 0x9e37_79b9_7f4a_7c15;
    let mut next = || {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        x
    };
    let mut out = Vec::new();
    let mut made = 0usize;
    let mut i = 0usize;
    while made < total {
        let s = i % sources;
        let n = per_request.min(total - made);
        let late = made * 2 > total;
        let lines = (0..n)
            .map(|_| {
                let r = next();
                match r % 9 {
                    0 => format!(
                        "user {} logged in from 10.0.{}.{} port {}",
                        USERS[(r >> 8) as usize % 12],
                        (r >> 16) % 256,
                        (r >> 24) % 256,
                        1000 + (r >> 32) % 60000
                    ),
                    1 => format!(
                        "Deleting block blk_{} file /data/{}/part-{}.dat",
                        r >> 20,
                        (r >> 8) % 64,
                        (r >> 40) % 999
                    ),
                    2 => format!(
                        "request {} took {} ms status {}",
                        r >> 30,
                        (r >> 8) % 500,
                        [200, 404, 500][(r >> 4) as usize % 3]
                    ),
                    3 => format!("svc{s} worker {} finished job {} ok", (r >> 8) % 16, r >> 24),
                    4 => format!(
                        "connection from host-{}.example.org closed after {} bytes",
                        (r >> 8) % 40,
                        r >> 28
                    ),
                    5 => format!(
                        "cache {} miss for key k{} in region r{}",
                        ["users", "orders", "items"][(r >> 4) as usize % 3],
                        (r >> 8) % 5000,
                        (r >> 30) % 4
                    ),
                    // Words never seen before, at a slow rate per family: merges
                    // happen all along, so a miner that missed a message ends
                    // with other templates (review D1).
                    6 if (r >> 40) % 4 == 0 => format!(
                        "fam {} task {} ran on node {}",
                        ["alpha", "beta", "gamma"][(r >> 50) as usize % 3],
                        letters(r >> 8),
                        letters(r >> 24)
                    ),
                    6 if late => format!(
                        "deploy {} rolled out to {} replicas",
                        (r >> 8) % 100,
                        (r >> 16) % 10
                    ),
                    6 => format!("heartbeat ok seq {}", r >> 10),
                    7 => format!(
                        "Failed password for {} from 192.168.{}.{} port {} ssh2",
                        USERS[(r >> 12) as usize % 12],
                        (r >> 16) % 256,
                        (r >> 24) % 256,
                        (r >> 32) % 65535
                    ),
                    _ => format!("GC pause {} ms heap {}MB", (r >> 8) % 300, (r >> 20) % 8192),
                }
            })
            .collect();
        out.push((format!("src{s:02}"), lines));
        made += n;
        i += 1;
    }
    out
}

/// A word of 3 to 4 letters from a number.
fn letters(mut n: u64) -> String {
    let mut w = String::new();
    for _ in 0..3 + (n % 2) {
        w.push((b'a' + (n % 26) as u8) as char);
        n /= 26;
    }
    w
}

/// Sends every request, retrying 429 and 503 until it is acknowledged
/// (a retry carries the same Idempotency-Key, as a careful shipper's
/// does); returns the number of 429s seen.
pub fn send_all(server: &Server, reqs: &[(String, Vec<String>)]) -> u64 {
    let mut pushed_back = 0;
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_nanos();
    let run = format!("{}-{nanos}", std::process::id());
    for (i, (source, lines)) in reqs.iter().enumerate() {
        let t = Instant::now();
        let mut body = lines.join("\n");
        body.push('\n');
        let key = format!("{run}-{i}");
        loop {
            let (code, _) = server.post_with(
                &format!("/v1/ingest?source={source}"),
                &[("Content-Type", "text/plain"), ("Idempotency-Key", &key)],
                body.as_bytes(),
            );
            match code {
                200 | 202 | 204 => break,
                429 | 503 | 0 => {
                    pushed_back += u64::from(code == 429);
                    assert!(
                        t.elapsed() < Duration::from_secs(120),
                        "a request was refused for 2 minutes (last status {code})"
                    );
                    std::thread::sleep(Duration::from_millis(100));
                }
                other => panic!("ingest answered {other}"),
            }
        }
    }
    pushed_back
}

/// (source, template id, template, count) of every live template, sorted.
pub fn snapshot(server: &Server) -> Vec<(String, String, String, u64)> {
    let (code, v) = server.get("/v1/templates?limit=100000&series=false");
    assert_eq!(code, 200, "{v}");
    let mut out: Vec<_> = v["templates"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| {
            (
                t["source"].as_str().unwrap().to_string(),
                t["template_id"].as_str().unwrap().to_string(),
                t["template"].as_str().unwrap().to_string(),
                t["count"].as_u64().unwrap(),
            )
        })
        .collect();
    out.sort();
    out
}

/// Lines stored over all sources.
pub fn stored_lines(server: &Server) -> u64 {
    let (code, v) = server.get("/v1/templates?limit=1&series=false");
    if code != 200 {
        return 0;
    }
    v["lines"].as_u64().unwrap_or(0)
}

/// Waits until the store holds `total` lines (and no more arrive).
pub fn wait_for_lines(server: &Server, total: u64, limit: Duration, workers: &[&Worker]) {
    let t = Instant::now();
    loop {
        let n = stored_lines(server);
        assert!(
            n <= total,
            "the store holds {n} lines, more than the {total} sent: counted twice"
        );
        if n == total {
            // Nothing more may arrive: a double count would show now.
            std::thread::sleep(Duration::from_millis(1500));
            let again = stored_lines(server);
            assert_eq!(again, total, "the store moved past the lines sent");
            return;
        }
        if t.elapsed() > limit {
            let logs: Vec<String> = workers
                .iter()
                .map(|w| format!("--- {}\n{}", w.id, w.log_text()))
                .collect();
            panic!(
                "the store holds {n} of {total} lines after {limit:?}; worker logs:\n{}",
                logs.join("\n")
            );
        }
        std::thread::sleep(Duration::from_millis(250));
    }
}
