//! Starts the real `logsieve serve` binary on ephemeral ports against a
//! temporary data dir, and talks to it over HTTP.

#![allow(dead_code)]

use std::collections::HashMap;
use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

pub fn bin() -> &'static str {
    env!("CARGO_BIN_EXE_logsieve")
}

/// A running service; killed when dropped.
pub struct Server {
    pub child: Option<Child>,
    pub addrs: HashMap<String, String>,
    pub data: PathBuf,
    pub log: Arc<Mutex<Vec<String>>>,
    pub token: Option<String>,
    _dir: Option<tempfile::TempDir>,
}

impl Server {
    /// Starts with a fresh data dir and `extra` flags; listeners named in
    /// `extra` with port 0 are reported in `addrs`.
    pub fn start(extra: &[&str]) -> Server {
        let dir = tempfile::tempdir().unwrap();
        let data = dir.path().join("data");
        let mut s = Server::start_in(&data, extra);
        s._dir = Some(dir);
        s
    }

    /// Starts on an existing data dir.
    pub fn start_in(data: &Path, extra: &[&str]) -> Server {
        let mut cmd = Command::new(bin());
        cmd.arg("serve")
            .arg("--listen")
            .arg("127.0.0.1:0")
            .arg("--data-dir")
            .arg(data)
            .args(extra)
            .env("RUST_LOG", "info")
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped());
        let mut child = cmd.spawn().expect("starts logsieve serve");
        let stderr = child.stderr.take().unwrap();
        let log = Arc::new(Mutex::new(Vec::new()));
        let (tx, rx) = std::sync::mpsc::channel();
        {
            let log = log.clone();
            std::thread::spawn(move || {
                for line in BufReader::new(stderr).lines().map_while(Result::ok) {
                    if let Some(i) = line.find("listening: ") {
                        let rest = &line[i + "listening: ".len()..];
                        let mut it = rest.split_whitespace();
                        if let (Some(k), Some(v)) = (it.next(), it.next()) {
                            let _ = tx.send((k.to_string(), v.trim_end_matches('"').to_string()));
                        }
                    }
                    log.lock().unwrap().push(line);
                }
            });
        }
        let mut addrs = HashMap::new();
        let deadline = Instant::now() + Duration::from_secs(30);
        while !addrs.contains_key("http") {
            let left = deadline.saturating_duration_since(Instant::now());
            match rx.recv_timeout(left) {
                Ok((k, v)) => {
                    addrs.insert(k, v);
                }
                Err(_) => {
                    let _ = child.kill();
                    panic!(
                        "serve did not start; its log:\n{}",
                        log.lock().unwrap().join("\n")
                    );
                }
            }
        }
        Server {
            child: Some(child),
            addrs,
            data: data.to_path_buf(),
            log,
            token: None,
            _dir: None,
        }
    }

    pub fn url(&self, path: &str) -> String {
        format!("http://{}{}", self.addrs["http"], path)
    }

    pub fn agent() -> ureq::Agent {
        ureq::AgentBuilder::new().timeout(Duration::from_secs(60)).build()
    }

    fn auth(&self, r: ureq::Request) -> ureq::Request {
        match &self.token {
            Some(t) => r.set("Authorization", &format!("Bearer {t}")),
            None => r,
        }
    }

    /// GET returning (status, JSON body).
    pub fn get(&self, path: &str) -> (u16, serde_json::Value) {
        let r = self.auth(Server::agent().get(&self.url(path))).call();
        json_of(r)
    }

    /// POST returning (status, body text, headers we care about).
    pub fn post(&self, path: &str, ctype: &str, body: &[u8]) -> (u16, String) {
        self.post_with(path, &[("Content-Type", ctype)], body)
    }

    pub fn post_with(&self, path: &str, headers: &[(&str, &str)], body: &[u8]) -> (u16, String) {
        let mut r = self.auth(Server::agent().post(&self.url(path)));
        for (k, v) in headers {
            r = r.set(k, v);
        }
        match r.send_bytes(body) {
            Ok(resp) => (resp.status(), resp.into_string().unwrap_or_default()),
            Err(ureq::Error::Status(code, resp)) => (code, resp.into_string().unwrap_or_default()),
            Err(e) => (0, e.to_string()),
        }
    }

    /// Sends text lines to `/v1/ingest?source=`; the status.
    pub fn ingest(&self, source: &str, lines: &[String]) -> u16 {
        let mut body = lines.join("\n");
        body.push('\n');
        self.post(
            &format!("/v1/ingest?source={source}"),
            "text/plain",
            body.as_bytes(),
        )
        .0
    }

    /// Sum of template counts of `source` (all time) and the store's lines.
    pub fn counted(&self, source: &str) -> (u64, u64) {
        let (code, v) = self.get(&format!(
            "/v1/templates?source={source}&limit=100000&series=false"
        ));
        assert_eq!(code, 200, "{v}");
        let sum = v["templates"]
            .as_array()
            .unwrap()
            .iter()
            .map(|t| t["count"].as_u64().unwrap())
            .sum();
        (sum, v["lines"].as_u64().unwrap())
    }

    pub fn signal(&self, sig: &str) {
        let pid = self.child.as_ref().unwrap().id().to_string();
        assert!(Command::new("kill").args([sig, &pid]).status().unwrap().success());
    }

    /// Waits for the process to exit (bounded, so a hang fails the test).
    pub fn wait_exit(&mut self, limit: Duration) -> Option<i32> {
        let child = self.child.as_mut().unwrap();
        let t = Instant::now();
        loop {
            if let Some(st) = child.try_wait().unwrap() {
                self.child = None;
                return st.code();
            }
            if t.elapsed() > limit {
                panic!(
                    "serve did not exit within {limit:?}; log:\n{}",
                    self.log.lock().unwrap().join("\n")
                );
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    pub fn metric(&self, name_and_labels: &str) -> f64 {
        let r = self
            .auth(Server::agent().get(&self.url("/metrics")))
            .call()
            .unwrap();
        metric_in(&r.into_string().unwrap(), name_and_labels)
    }

    pub fn healthy(&self) -> bool {
        matches!(Server::agent().get(&self.url("/healthz")).call(), Ok(r) if r.status() == 200)
    }

    pub fn log_text(&self) -> String {
        self.log.lock().unwrap().join("\n")
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        if let Some(c) = &mut self.child {
            let _ = c.kill();
            let _ = c.wait();
        }
    }
}

/// The value of a sample (`name{labels}` exactly) in a Prometheus text
/// page; 0 when absent.
pub fn metric_in(text: &str, name_and_labels: &str) -> f64 {
    text.lines()
        .find(|l| l.starts_with(name_and_labels) && l[name_and_labels.len()..].starts_with(' '))
        .and_then(|l| l.rsplit(' ').next())
        .and_then(|v| v.parse().ok())
        .unwrap_or(0.0)
}

pub fn json_of(r: Result<ureq::Response, ureq::Error>) -> (u16, serde_json::Value) {
    match r {
        Ok(resp) => {
            let code = resp.status();
            let text = resp.into_string().unwrap_or_default();
            (
                code,
                serde_json::from_str(&text).unwrap_or(serde_json::Value::String(text)),
            )
        }
        Err(ureq::Error::Status(code, resp)) => {
            let text = resp.into_string().unwrap_or_default();
            (
                code,
                serde_json::from_str(&text).unwrap_or(serde_json::Value::String(text)),
            )
        }
        Err(e) => (0, serde_json::Value::String(e.to_string())),
    }
}

/// Lines that form a few templates with varying values.
pub fn lines(prefix: &str, n: usize) -> Vec<String> {
    (0..n)
        .map(|i| match i % 4 {
            0 => format!(
                "{prefix} user {} logged in from 10.0.{}.{}",
                i % 97,
                i % 13,
                i % 250
            ),
            1 => format!("{prefix} request {i} took {} ms", i % 500),
            2 => format!("{prefix} cache miss for key k{}", i % 1000),
            _ => format!("{prefix} worker {} finished job {i} status ok", i % 8),
        })
        .collect()
}

pub fn repo_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}
