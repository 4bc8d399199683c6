//! Load client for `logsieve serve` benchmarks (`bench/serve.sh`).
//!
//! Keep-alive HTTP/1.1 over `std::net::TcpStream`, one connection per
//! thread, no dependencies. Prints ONE JSON line of results on stdout;
//! progress and errors go to stderr.
//!
//! ```text
//! loadgen ingest  --addr 127.0.0.1:PORT --threads 4 --batch 1000 --seconds 30
//! loadgen analyze --addr 127.0.0.1:PORT --rate 50000 --batch 100 --seconds 30
//! loadgen steady  --addr 127.0.0.1:PORT --rate 100000 --batch 1000 --new-templates \
//!                 --seconds 600 --pid SERVER_PID --sample-every 10
//! loadgen lines   --batch 20 [--new-templates]     # print generated lines
//! ```
//!
//! - `ingest` is closed loop: each thread posts its next batch as soon as the
//!   previous one is answered (the server answers after the commit). A 429
//!   is counted and the same batch is posted again after 2 ms.
//! - `analyze` and `steady` are open loop: request `i` is due at
//!   `start + i * batch / rate`; thread `k` of `--conns` sends requests
//!   `k, k + conns, ...`. Latency runs from the DUE time, so a server (or a
//!   client) that falls behind shows as latency instead of as a lower rate
//!   (no coordinated omission). Sending stops at `--seconds`: what a
//!   slow server left unsent is `scheduled - requests` in the output, and
//!   `lines_per_s` is what was delivered. A 429 is retried after 2 ms, the
//!   wait counted in that request's latency.
//! - `steady` samples `VmRSS` of `--pid` from `/proc/PID/status` and the
//!   server's template counters from `/metrics` every `--sample-every` s.
//!
//! Lines come from a few dozen realistic templates with numbers, IPs, hex
//! ids, user names and paths re-drawn per line, behind an ISO timestamp and
//! a host/program header. `--new-templates` makes a fraction
//! (`--new-fraction`, default 0.1) of the lines `task <w> <w> <w> finished` (without the header)
//! with three random lowercase words: the masker keeps letters-only words,
//! so nearly every such line is a template the miner has not seen.

use std::collections::HashMap;
use std::io::{self, Read, Write};
use std::net::TcpStream;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

// ---------------------------------------------------------------- random ---

/// xorshift64*: fast, deterministic per seed.
struct Rng(u64);

impl Rng {
    fn new(seed: u64) -> Rng {
        Rng(seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1)
    }
    fn next(&mut self) -> u64 {
        let mut x = self.0;
        x ^= x >> 12;
        x ^= x << 25;
        x ^= x >> 27;
        self.0 = x;
        x.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }
    fn below(&mut self, n: u64) -> u64 {
        self.next() % n.max(1)
    }
    fn unit(&mut self) -> f64 {
        (self.next() >> 11) as f64 / (1u64 << 53) as f64
    }
}

// ----------------------------------------------------------------- lines ---

/// Message templates; `{x}` placeholders are re-drawn on every line.
const TEMPLATES: &[&str] = &[
    "Accepted password for {user} from {ip} port {port} ssh2",
    "Failed password for invalid user {user} from {ip} port {port} ssh2",
    "pam_unix(sshd:session): session opened for user {user} by (uid={int})",
    "pam_unix(sshd:session): session closed for user {user}",
    "Connection closed by {ip} port {port} [preauth]",
    "Received disconnect from {ip} port {port}:11: Bye Bye [preauth]",
    "GET {path} HTTP/1.1 {status} {int} {ms}ms",
    "POST /api/v2/orders/{int} HTTP/1.1 {status} {int} {ms}ms",
    "upstream timed out (110: Connection timed out) while reading response header from upstream, client: {ip}",
    "Deleting block blk_{int} file /data/dfs/current/subdir{int}/blk_{int}",
    "PacketResponder {int} for block blk_{int} terminating",
    "Receiving block blk_{int} src: /{ip}:{port} dest: /{ip}:{port}",
    "BLOCK* NameSystem.addStoredBlock: blockMap updated: {ip}:{port} is added to blk_{int} size {int}",
    "Verification succeeded for blk_{int}",
    "request {uuid} completed in {ms} ms with status {status}",
    "request {uuid} failed after {ms} ms: connection reset by peer",
    "cache miss for key session:{hex}, loading from backend",
    "cache hit ratio {int}% over the last {int} requests",
    "user {user} logged in from {ip} using {agent}",
    "user {user} logged out after {int} seconds",
    "job {hex} scheduled on worker-{int} with priority {int}",
    "job {hex} finished on worker-{int} in {ms} ms, exit code {int}",
    "heartbeat from node-{int} ({ip}) lag {ms} ms",
    "disk /dev/sd{letter}{int} usage {int}% ({int} MB free)",
    "GC pause (G1 Evacuation Pause) {ms}ms, heap {int}M->{int}M({int}M)",
    "Kafka consumer group {user}-consumers rebalanced, partitions assigned: {int}",
    "TLS handshake with {ip}:{port} failed: certificate has expired",
    "DNS lookup of host-{int}.internal took {ms} ms",
    "rate limit exceeded for client {ip}: {int} requests in {int}s",
    "container {hex} started (image registry.local/app:{int}.{int}.{int})",
    "container {hex} exited with status {int} after {int}s",
    "CRON[{int}]: (root) CMD (run-parts /etc/cron.hourly)",
    "kernel: [{int}.{int}] TCP: request_sock_TCP: Possible SYN flooding on port {port}. Sending cookies.",
    "kernel: [{int}.{int}] Out of memory: Killed process {int} ({user}) total-vm:{int}kB",
    "transaction {uuid} committed: {int} rows, {ms} ms",
    "slow query ({ms} ms): SELECT * FROM orders WHERE customer_id = {int} LIMIT {int}",
];

const USERS: &[&str] = &[
    "root", "admin", "alice", "bob", "carol", "deploy", "git", "postgres", "www-data", "ubuntu", "jenkins",
    "oracle", "test", "guest", "nagios", "mysql",
];
const PATHS: &[&str] = &[
    "/",
    "/index.html",
    "/login",
    "/api/v1/users",
    "/api/v1/items",
    "/static/app.js",
    "/static/app.css",
    "/favicon.ico",
    "/healthz",
    "/metrics",
    "/search",
    "/cart",
];
const AGENTS: &[&str] = &[
    "curl/8.5.0",
    "Mozilla/5.0",
    "python-requests/2.31",
    "Go-http-client/1.1",
];
const HOSTS: &[&str] = &["web-1", "web-2", "db-1", "api-3", "worker-7", "edge-2"];
const PROGS: &[&str] = &["sshd", "nginx", "app", "kernel", "dfs", "scheduler", "cron"];

fn put_int(out: &mut Vec<u8>, mut v: u64) {
    let mut b = [0u8; 20];
    let mut i = b.len();
    loop {
        i -= 1;
        b[i] = b'0' + (v % 10) as u8;
        v /= 10;
        if v == 0 {
            break;
        }
    }
    out.extend_from_slice(&b[i..]);
}

fn put_hex(out: &mut Vec<u8>, v: u64, digits: usize) {
    const H: &[u8; 16] = b"0123456789abcdef";
    for k in (0..digits).rev() {
        out.push(H[((v >> (4 * k)) & 15) as usize]);
    }
}

fn put_word(out: &mut Vec<u8>, r: &mut Rng, len: usize) {
    for _ in 0..len {
        out.push(b'a' + r.below(26) as u8);
    }
}

/// Draws log lines into a reused buffer.
struct LineGen {
    r: Rng,
    /// Fraction of lines that are new templates (letters-only words).
    new_fraction: f64,
    /// Base of the synthetic clock (ms since the epoch).
    clock_ms: u64,
}

impl LineGen {
    fn new(seed: u64, new_fraction: f64) -> LineGen {
        let now = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0, |d| d.as_millis() as u64);
        LineGen {
            r: Rng::new(seed),
            new_fraction,
            clock_ms: now,
        }
    }

    /// Appends one line (with its `\n`).
    fn line(&mut self, out: &mut Vec<u8>) {
        self.clock_ms += self.r.below(3);
        if self.new_fraction > 0.0 && self.r.unit() < self.new_fraction {
            // A bare message without the header: each such line is a new
            // template of the source, whatever the header lines do. (Before
            // ae75975 the miner folded every message behind `host
            // prog[pid]:` into one tail template, so with the header these
            // lines made no new template.)
            out.extend_from_slice(b"task ");
            let len = 5 + self.r.below(4) as usize;
            put_word(out, &mut self.r, len);
            out.push(b' ');
            put_word(out, &mut self.r, 6);
            out.push(b' ');
            put_word(out, &mut self.r, 6);
            out.extend_from_slice(b" finished\n");
            return;
        }
        self.header(out);
        let t = TEMPLATES[self.r.below(TEMPLATES.len() as u64) as usize].as_bytes();
        let mut i = 0;
        while i < t.len() {
            if t[i] == b'{' {
                if let Some(end) = t[i..].iter().position(|&c| c == b'}') {
                    self.fill(&t[i + 1..i + end], out);
                    i += end + 1;
                    continue;
                }
            }
            out.push(t[i]);
            i += 1;
        }
        out.push(b'\n');
    }

    /// `2026-11-23T21:55:48.123Z web-1 sshd[1234]: `
    fn header(&mut self, out: &mut Vec<u8>) {
        let ms = self.clock_ms;
        let secs = ms / 1000;
        let (days, sod) = (secs / 86_400, secs % 86_400);
        let (y, mo, d) = civil(days as i64);
        put_int(out, y as u64);
        out.push(b'-');
        pad2(out, mo as u64);
        out.push(b'-');
        pad2(out, d as u64);
        out.push(b'T');
        pad2(out, sod / 3600);
        out.push(b':');
        pad2(out, sod / 60 % 60);
        out.push(b':');
        pad2(out, sod % 60);
        out.push(b'.');
        let frac = ms % 1000;
        pad2(out, frac / 10);
        put_int(out, frac % 10);
        out.extend_from_slice(b"Z ");
        out.extend_from_slice(HOSTS[self.r.below(HOSTS.len() as u64) as usize].as_bytes());
        out.push(b' ');
        out.extend_from_slice(PROGS[self.r.below(PROGS.len() as u64) as usize].as_bytes());
        out.push(b'[');
        put_int(out, 100 + self.r.below(30_000));
        out.extend_from_slice(b"]: ");
    }

    fn fill(&mut self, what: &[u8], out: &mut Vec<u8>) {
        let r = &mut self.r;
        match what {
            b"int" => {
                let digits = 1 + r.below(9) as u32;
                put_int(out, r.below(10u64.pow(digits)));
            }
            b"port" => put_int(out, 1024 + r.below(64_000)),
            b"ms" => put_int(out, r.below(5_000)),
            b"status" => put_int(
                out,
                [200, 200, 200, 201, 204, 301, 304, 400, 403, 404, 500, 502][r.below(12) as usize],
            ),
            b"ip" => {
                put_int(out, 10 + r.below(200));
                for _ in 0..3 {
                    out.push(b'.');
                    put_int(out, r.below(256));
                }
            }
            b"hex" => put_hex(out, r.next(), 12),
            b"uuid" => {
                put_hex(out, r.next(), 8);
                out.push(b'-');
                put_hex(out, r.next(), 4);
                out.push(b'-');
                put_hex(out, r.next(), 4);
                out.push(b'-');
                put_hex(out, r.next(), 4);
                out.push(b'-');
                put_hex(out, r.next(), 12);
            }
            b"user" => out.extend_from_slice(USERS[r.below(USERS.len() as u64) as usize].as_bytes()),
            b"path" => out.extend_from_slice(PATHS[r.below(PATHS.len() as u64) as usize].as_bytes()),
            b"agent" => out.extend_from_slice(AGENTS[r.below(AGENTS.len() as u64) as usize].as_bytes()),
            b"letter" => out.push(b'a' + r.below(4) as u8),
            other => out.extend_from_slice(other),
        }
    }

    /// A body of `n` lines.
    fn body(&mut self, n: usize, out: &mut Vec<u8>) {
        out.clear();
        for _ in 0..n {
            self.line(out);
        }
    }
}

fn pad2(out: &mut Vec<u8>, v: u64) {
    out.push(b'0' + (v / 10 % 10) as u8);
    out.push(b'0' + (v % 10) as u8);
}

/// Days since 1970-01-01 to (year, month, day) (Howard Hinnant's algorithm).
fn civil(z: i64) -> (i64, u32, u32) {
    let z = z + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    let y = yoe + era * 400 + i64::from(m <= 2);
    (y, m, d)
}

// ------------------------------------------------------------------ http ---

/// One keep-alive HTTP/1.1 connection.
struct Conn {
    addr: String,
    s: Option<TcpStream>,
    buf: Vec<u8>,
    head: Vec<u8>,
    /// The last response body.
    body: Vec<u8>,
}

impl Conn {
    fn new(addr: &str) -> Conn {
        Conn {
            addr: addr.to_string(),
            s: None,
            buf: Vec::with_capacity(1 << 16),
            head: Vec::new(),
            body: Vec::new(),
        }
    }

    /// Sends a request and reads the whole answer; returns the status
    /// (body in `self.body`). Reconnects once when a kept-alive connection
    /// turns out closed.
    fn request(&mut self, method: &str, path: &str, ctype: &str, body: &[u8]) -> io::Result<u16> {
        match self.try_request(method, path, ctype, body) {
            Ok(s) => Ok(s),
            Err(_) => {
                self.s = None;
                self.try_request(method, path, ctype, body)
            }
        }
    }

    fn try_request(&mut self, method: &str, path: &str, ctype: &str, body: &[u8]) -> io::Result<u16> {
        if self.s.is_none() {
            let s = TcpStream::connect(&self.addr)?;
            s.set_nodelay(true)?;
            s.set_read_timeout(Some(Duration::from_secs(60)))?;
            self.s = Some(s);
            self.buf.clear();
        }
        let Some(s) = self.s.as_mut() else {
            return Err(io::Error::other("no connection"));
        };
        self.head.clear();
        write!(
            self.head,
            "{method} {path} HTTP/1.1\r\nHost: {}\r\nContent-Type: {ctype}\r\nContent-Length: {}\r\n\r\n",
            self.addr,
            body.len()
        )?;
        if body.is_empty() {
            s.write_all(&self.head)?;
        } else if body.len() < 4096 {
            self.head.extend_from_slice(body);
            s.write_all(&self.head)?;
        } else {
            s.write_all(&self.head)?;
            s.write_all(body)?;
        }
        // Head of the answer.
        let head_end = loop {
            if let Some(p) = find(&self.buf, b"\r\n\r\n") {
                break p + 4;
            }
            read_more(s, &mut self.buf)?;
        };
        let head = std::str::from_utf8(&self.buf[..head_end]).map_err(|_| bad("answer head not UTF-8"))?;
        let status: u16 = head
            .split(' ')
            .nth(1)
            .and_then(|c| c.parse().ok())
            .ok_or_else(|| bad("no status in the answer"))?;
        let mut len: Option<usize> = None;
        let mut chunked = false;
        let mut close = false;
        for l in head.split("\r\n").skip(1) {
            let Some((k, v)) = l.split_once(':') else { continue };
            let (k, v) = (k.trim().to_ascii_lowercase(), v.trim());
            match k.as_str() {
                "content-length" => len = v.parse().ok(),
                "transfer-encoding" => chunked = v.eq_ignore_ascii_case("chunked"),
                "connection" => close = v.eq_ignore_ascii_case("close"),
                _ => {}
            }
        }
        self.buf.drain(..head_end);
        self.body.clear();
        if chunked {
            loop {
                let line_end = loop {
                    if let Some(p) = find(&self.buf, b"\r\n") {
                        break p;
                    }
                    read_more(s, &mut self.buf)?;
                };
                let size_text = std::str::from_utf8(&self.buf[..line_end]).map_err(|_| bad("chunk size"))?;
                let size = usize::from_str_radix(size_text.split(';').next().unwrap_or("").trim(), 16)
                    .map_err(|_| bad("chunk size"))?;
                self.buf.drain(..line_end + 2);
                while self.buf.len() < size + 2 {
                    read_more(s, &mut self.buf)?;
                }
                self.body.extend_from_slice(&self.buf[..size]);
                self.buf.drain(..size + 2);
                if size == 0 {
                    break;
                }
            }
        } else {
            let n = len.unwrap_or(0);
            while self.buf.len() < n {
                read_more(s, &mut self.buf)?;
            }
            self.body.extend_from_slice(&self.buf[..n]);
            self.buf.drain(..n);
        }
        if close {
            self.s = None;
        }
        Ok(status)
    }
}

fn read_more(s: &mut TcpStream, buf: &mut Vec<u8>) -> io::Result<()> {
    let mut tmp = [0u8; 65536];
    let n = s.read(&mut tmp)?;
    if n == 0 {
        return Err(io::Error::new(
            io::ErrorKind::UnexpectedEof,
            "connection closed by the server",
        ));
    }
    buf.extend_from_slice(&tmp[..n]);
    Ok(())
}

fn find(h: &[u8], n: &[u8]) -> Option<usize> {
    h.windows(n.len()).position(|w| w == n)
}

fn bad(m: &str) -> io::Error {
    io::Error::new(io::ErrorKind::InvalidData, m.to_string())
}

/// `"accepted":N` in an ingest answer.
fn accepted(body: &[u8]) -> u64 {
    let Some(p) = find(body, b"\"accepted\":") else {
        return 0;
    };
    body[p + 11..]
        .iter()
        .take_while(|c| c.is_ascii_digit())
        .fold(0, |a, &c| a * 10 + u64::from(c - b'0'))
}

// --------------------------------------------------------------- metrics ---

/// Every sample of `/metrics`, keyed by the series (name plus labels).
fn scrape(addr: &str) -> io::Result<HashMap<String, f64>> {
    let mut c = Conn::new(addr);
    let st = c.request("GET", "/metrics", "text/plain", b"")?;
    if st != 200 {
        return Err(bad(&format!("/metrics answered {st}")));
    }
    let mut m = HashMap::new();
    for l in String::from_utf8_lossy(&c.body).lines() {
        if l.starts_with('#') {
            continue;
        }
        if let Some((k, v)) = l.rsplit_once(' ') {
            if let Ok(v) = v.parse::<f64>() {
                m.insert(k.to_string(), v);
            }
        }
    }
    Ok(m)
}

/// Quantile `q` of histogram `name` between two scrapes, as Prometheus'
/// `histogram_quantile` does it (linear within the bucket). Returns
/// (interpolated seconds, bucket upper bound; infinite when past the last
/// finite bound), or None without observations.
fn hist_quantile(
    before: &HashMap<String, f64>,
    after: &HashMap<String, f64>,
    name: &str,
    q: f64,
) -> Option<(f64, f64)> {
    let prefix = format!("{name}_bucket{{le=\"");
    let mut buckets: Vec<(f64, f64)> = after
        .iter()
        .filter_map(|(k, v)| {
            let le = k.strip_prefix(&prefix)?.strip_suffix("\"}")?;
            let bound = if le == "+Inf" {
                f64::INFINITY
            } else {
                le.parse().ok()?
            };
            Some((bound, v - before.get(k).copied().unwrap_or(0.0)))
        })
        .collect();
    buckets.sort_by(|a, b| a.0.total_cmp(&b.0));
    let total = buckets.last()?.1;
    if total <= 0.0 {
        return None;
    }
    let rank = q * total;
    let (mut lo, mut below) = (0.0, 0.0);
    for &(bound, cum) in &buckets {
        if cum >= rank {
            if bound.is_infinite() {
                return Some((lo, f64::INFINITY));
            }
            let inside = cum - below;
            let frac = if inside > 0.0 {
                (rank - below) / inside
            } else {
                1.0
            };
            return Some((lo + (bound - lo) * frac, bound));
        }
        lo = bound;
        below = cum;
    }
    None
}

fn delta(before: &HashMap<String, f64>, after: &HashMap<String, f64>, k: &str) -> f64 {
    after.get(k).copied().unwrap_or(0.0) - before.get(k).copied().unwrap_or(0.0)
}

// ------------------------------------------------------------------ args ---

struct Args {
    mode: String,
    addr: String,
    threads: usize,
    conns: usize,
    batch: usize,
    seconds: f64,
    rate: f64,
    new_templates: bool,
    new_fraction: f64,
    pid: Option<u32>,
    sample_every: f64,
    source: String,
    /// Spread requests over this many sources (`<source>0` ...), e.g. to
    /// feed several partitions of a scale-out cluster; 1: just `<source>`.
    sources: u64,
    seed: u64,
}

/// The request path for request `i` (`base` ends in `source=<name>`).
fn path_for(base: &str, sources: u64, i: u64) -> String {
    if sources <= 1 {
        base.to_string()
    } else {
        format!("{base}{}", i % sources)
    }
}

fn parse_args() -> Result<Args, String> {
    let mut it = std::env::args().skip(1);
    let mode = it
        .next()
        .ok_or("usage: loadgen ingest|analyze|steady --addr HOST:PORT [options]")?;
    if !["ingest", "analyze", "steady", "lines"].contains(&mode.as_str()) {
        return Err(format!("unknown mode {mode:?}: ingest, analyze, steady or lines"));
    }
    let mut a = Args {
        mode,
        addr: String::new(),
        threads: 4,
        conns: 16,
        batch: 1000,
        seconds: 10.0,
        rate: 50_000.0,
        new_templates: false,
        new_fraction: 0.1,
        pid: None,
        sample_every: 10.0,
        source: "bench".into(),
        sources: 1,
        seed: 1,
    };
    while let Some(flag) = it.next() {
        if flag == "--new-templates" {
            a.new_templates = true;
            continue;
        }
        let v = it.next().ok_or_else(|| format!("{flag} needs a value"))?;
        let num = |v: &str| v.parse::<f64>().map_err(|_| format!("{flag} {v}: not a number"));
        match flag.as_str() {
            "--addr" => a.addr = v,
            "--threads" => a.threads = num(&v)? as usize,
            "--conns" => a.conns = num(&v)? as usize,
            "--batch" => a.batch = num(&v)? as usize,
            "--seconds" => a.seconds = num(&v)?,
            "--rate" => a.rate = num(&v)?,
            "--new-fraction" => a.new_fraction = num(&v)?,
            "--pid" => a.pid = Some(num(&v)? as u32),
            "--sample-every" => a.sample_every = num(&v)?,
            "--source" => a.source = v,
            "--sources" => a.sources = (num(&v)? as u64).max(1),
            "--seed" => a.seed = num(&v)? as u64,
            _ => return Err(format!("unknown flag {flag}")),
        }
    }
    if a.addr.is_empty() && a.mode != "lines" {
        return Err("--addr HOST:PORT is required".into());
    }
    if a.threads == 0 || a.conns == 0 || a.batch == 0 || a.rate <= 0.0 || a.seconds <= 0.0 {
        return Err("--threads, --conns, --batch, --rate and --seconds must be positive".into());
    }
    Ok(a)
}

// ----------------------------------------------------------- percentiles ---

/// Nearest-rank percentile of sorted microseconds, in ms.
fn pct(sorted: &[u64], q: f64) -> f64 {
    if sorted.is_empty() {
        return f64::NAN;
    }
    let i = ((q * sorted.len() as f64).ceil() as usize).clamp(1, sorted.len()) - 1;
    sorted[i] as f64 / 1000.0
}

fn lat_json(lat: &mut [u64]) -> String {
    lat.sort_unstable();
    format!(
        "\"lat_p50_ms\":{},\"lat_p90_ms\":{},\"lat_p99_ms\":{},\"lat_p999_ms\":{},\"lat_max_ms\":{}",
        num(pct(lat, 0.5)),
        num(pct(lat, 0.9)),
        num(pct(lat, 0.99)),
        num(pct(lat, 0.999)),
        num(pct(lat, 1.0))
    )
}

/// A JSON number (null for NaN, a big number for infinity).
fn num(v: f64) -> String {
    if v.is_nan() {
        "null".into()
    } else if v.is_infinite() {
        "1e308".into()
    } else {
        format!("{:.3}", v)
    }
}

fn server_hist_json(
    before: &HashMap<String, f64>,
    after: &HashMap<String, f64>,
    name: &str,
    key: &str,
) -> String {
    let mut s = String::new();
    for (q, label) in [(0.5, "p50"), (0.99, "p99")] {
        let (v, le) = hist_quantile(before, after, name, q).unwrap_or((f64::NAN, f64::NAN));
        s.push_str(&format!(
            ",\"{key}_{label}_ms\":{},\"{key}_{label}_le_ms\":{}",
            num(v * 1e3),
            num(le * 1e3)
        ));
    }
    s.push_str(&format!(
        ",\"{key}_count\":{}",
        delta(before, after, &format!("{name}_count"))
    ));
    s
}

// ----------------------------------------------------------------- modes ---

#[derive(Default)]
struct Tally {
    requests: u64,
    lines: u64,
    http_429: u64,
    errors: u64,
    lat_us: Vec<u64>,
    late_sends: u64,
}

impl Tally {
    fn add(&mut self, o: Tally) {
        self.requests += o.requests;
        self.lines += o.lines;
        self.http_429 += o.http_429;
        self.errors += o.errors;
        self.late_sends += o.late_sends;
        self.lat_us.extend(o.lat_us);
    }
}

fn us(d: Duration) -> u64 {
    d.as_micros().min(u128::from(u64::MAX)) as u64
}

/// Closed loop: post the next batch as soon as the last one is answered.
fn ingest(a: &Args) -> Result<String, String> {
    let before = scrape(&a.addr).map_err(|e| format!("scraping /metrics: {e}"))?;
    let start = Instant::now();
    let deadline = start + Duration::from_secs_f64(a.seconds);
    let stop = Arc::new(AtomicBool::new(false));
    let path = format!("/v1/ingest?source={}", a.source);
    let mut hs = Vec::new();
    for t in 0..a.threads {
        let (addr, path, stop, batch, seed, sources) =
            (a.addr.clone(), path.clone(), stop.clone(), a.batch, a.seed, a.sources);
        hs.push(std::thread::spawn(move || {
            // Pre-drawn bodies, so the client's CPU goes to sending.
            let mut g = LineGen::new(seed * 1000 + t as u64, 0.0);
            let bodies: Vec<Vec<u8>> = (0..32)
                .map(|_| {
                    let mut b = Vec::new();
                    g.body(batch, &mut b);
                    b
                })
                .collect();
            let mut c = Conn::new(&addr);
            let mut tally = Tally::default();
            let mut i = 0usize;
            while Instant::now() < deadline && !stop.load(Ordering::Relaxed) {
                let body = &bodies[i % bodies.len()];
                let t0 = Instant::now();
                let p = path_for(&path, sources, (i * 7919 + t) as u64);
                match c.request("POST", &p, "text/plain", body) {
                    Ok(200) => {
                        tally.lat_us.push(us(t0.elapsed()));
                        tally.requests += 1;
                        tally.lines += accepted(&c.body);
                        i += 1;
                    }
                    Ok(429) => {
                        tally.http_429 += 1;
                        std::thread::sleep(Duration::from_millis(2));
                    }
                    Ok(s) => {
                        tally.errors += 1;
                        eprintln!(
                            "loadgen: ingest answered {s}: {}",
                            String::from_utf8_lossy(&c.body)
                        );
                        if tally.errors > 10 {
                            stop.store(true, Ordering::Relaxed);
                        }
                    }
                    Err(e) => {
                        tally.errors += 1;
                        eprintln!("loadgen: ingest request failed: {e}");
                        if tally.errors > 10 {
                            stop.store(true, Ordering::Relaxed);
                        }
                        std::thread::sleep(Duration::from_millis(10));
                    }
                }
            }
            tally
        }));
    }
    let mut all = Tally::default();
    for h in hs {
        all.add(h.join().map_err(|_| "a client thread panicked")?);
    }
    let secs = start.elapsed().as_secs_f64();
    let after = scrape(&a.addr).map_err(|e| format!("scraping /metrics: {e}"))?;
    Ok(format!(
        "{{\"mode\":\"ingest\",\"threads\":{},\"batch\":{},\"seconds\":{},\"requests\":{},\"lines\":{},\"lines_per_s\":{},\"http_429\":{},\"errors\":{},{},\"server_committed_lines\":{}{}{}}}",
        a.threads,
        a.batch,
        num(secs),
        all.requests,
        all.lines,
        num(all.lines as f64 / secs),
        all.http_429,
        all.errors,
        lat_json(&mut all.lat_us),
        delta(&before, &after, "logsieve_lines_committed_total"),
        server_hist_json(&before, &after, "logsieve_ingest_to_commit_seconds", "server_ingest_to_commit"),
        server_hist_json(&before, &after, "logsieve_store_commit_seconds", "server_store_commit"),
    ))
}

fn vm_rss_kb(pid: u32) -> Option<u64> {
    let s = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    let l = s.lines().find(|l| l.starts_with("VmRSS:"))?;
    l.split_whitespace().nth(1)?.parse().ok()
}

/// Open loop (analyze and steady): request `i` is due at `start + i *
/// interval`; latency counts from the due time.
fn open_loop(a: &Args) -> Result<String, String> {
    let steady = a.mode == "steady";
    let interval = a.batch as f64 / a.rate;
    let total = (a.seconds / interval).floor() as u64;
    let before = scrape(&a.addr).map_err(|e| format!("scraping /metrics: {e}"))?;
    let path = if steady {
        format!("/v1/ingest?source={}", a.source)
    } else {
        format!("/v1/analyze?source={}", a.source)
    };
    let new_fraction = if a.new_templates { a.new_fraction } else { 0.0 };
    let conns = a.conns;
    let start = Instant::now() + Duration::from_millis(100);
    let done = Arc::new(AtomicBool::new(false));

    // RSS and template counters, every sample_every seconds (steady).
    let sampler = a.pid.filter(|_| steady).map(|pid| {
        let (addr, done, every) = (a.addr.clone(), done.clone(), a.sample_every);
        std::thread::spawn(move || {
            let mut rows = Vec::new();
            let mut next = start;
            loop {
                // Until the next sample is due, or the run is over (then
                // one last sample).
                loop {
                    let now = Instant::now();
                    if now >= next || done.load(Ordering::Relaxed) {
                        break;
                    }
                    std::thread::sleep((next - now).min(Duration::from_millis(200)));
                }
                let t = start.elapsed().as_secs_f64();
                let rss = vm_rss_kb(pid).unwrap_or(0);
                let m = scrape(&addr).unwrap_or_default();
                let g = |k: &str| m.get(k).copied().unwrap_or(f64::NAN);
                rows.push(format!(
                    "{{\"t\":{},\"rss_kb\":{},\"templates_live\":{},\"templates_evicted\":{},\"committed\":{},\"queue_lines\":{}}}",
                    num(t),
                    rss,
                    num(g("logsieve_templates_live")),
                    num(g("logsieve_templates_evicted_total")),
                    num(g("logsieve_lines_committed_total")),
                    num(g("logsieve_queue_lines"))
                ));
                eprintln!("loadgen: t={t:.0}s rss={} MB evicted={}", rss / 1024, g("logsieve_templates_evicted_total"));
                if done.load(Ordering::Relaxed) {
                    break;
                }
                next += Duration::from_secs_f64(every);
            }
            rows
        })
    });

    let mut hs = Vec::new();
    for k in 0..conns {
        let (addr, path, batch, seed, seconds, sources) =
            (a.addr.clone(), path.clone(), a.batch, a.seed, a.seconds, a.sources);
        hs.push(std::thread::spawn(move || {
            let mut g = LineGen::new(seed * 1000 + 500 + k as u64, new_fraction);
            // Analyze reuses pre-drawn bodies; steady draws each one fresh
            // (new templates must keep coming).
            let pool: Vec<Vec<u8>> = if steady {
                Vec::new()
            } else {
                (0..16)
                    .map(|_| {
                        let mut b = Vec::new();
                        g.body(batch, &mut b);
                        b
                    })
                    .collect()
            };
            let mut fresh = Vec::new();
            let mut c = Conn::new(&addr);
            let mut tally = Tally::default();
            let mut i = k as u64;
            // Requests still unsent at the end of the run are not sent
            // (`scheduled` minus `requests` in the output) when the server
            // cannot keep up.
            let end = start + Duration::from_secs_f64(seconds);
            while i < total && Instant::now() < end {
                let body: &[u8] = if steady {
                    g.body(batch, &mut fresh);
                    &fresh
                } else {
                    &pool[(i / conns as u64) as usize % pool.len()]
                };
                let due = start + Duration::from_secs_f64(i as f64 * interval);
                let now = Instant::now();
                if now < due {
                    std::thread::sleep(due - now);
                } else if now - due > Duration::from_millis(1) {
                    tally.late_sends += 1;
                }
                let p = path_for(&path, sources, i);
                loop {
                    match c.request("POST", &p, "text/plain", body) {
                        Ok(200) => {
                            tally.lat_us.push(us(due.elapsed()));
                            tally.requests += 1;
                            tally.lines += if steady { accepted(&c.body) } else { batch as u64 };
                            break;
                        }
                        Ok(429) => {
                            // Retried; the wait counts in this request's latency.
                            tally.http_429 += 1;
                            std::thread::sleep(Duration::from_millis(2));
                        }
                        Ok(s) => {
                            tally.errors += 1;
                            eprintln!(
                                "loadgen: {path} answered {s}: {}",
                                String::from_utf8_lossy(&c.body)
                            );
                            break;
                        }
                        Err(e) => {
                            tally.errors += 1;
                            eprintln!("loadgen: {path} failed: {e}");
                            std::thread::sleep(Duration::from_millis(10));
                            break;
                        }
                    }
                }
                i += conns as u64;
            }
            tally
        }));
    }
    let mut all = Tally::default();
    for h in hs {
        all.add(h.join().map_err(|_| "a client thread panicked")?);
    }
    let secs = start.elapsed().as_secs_f64();
    done.store(true, Ordering::Relaxed);
    let samples = match sampler {
        Some(h) => h.join().map_err(|_| "the sampler panicked")?,
        None => Vec::new(),
    };
    let after = scrape(&a.addr).map_err(|e| format!("scraping /metrics: {e}"))?;
    let mut out = format!(
        "{{\"mode\":\"{}\",\"offered_lines_per_s\":{},\"batch\":{},\"conns\":{},\"seconds\":{},\"scheduled\":{},\"requests\":{},\"lines\":{},\"lines_per_s\":{},\"late_sends\":{},\"http_429\":{},\"errors\":{},{}",
        a.mode,
        num(a.rate),
        a.batch,
        conns,
        num(secs),
        total,
        all.requests,
        all.lines,
        num(all.lines as f64 / secs),
        all.late_sends,
        all.http_429,
        all.errors,
        lat_json(&mut all.lat_us),
    );
    if steady {
        out.push_str(&format!(
            ",\"new_fraction\":{},\"server_committed_lines\":{},\"templates_evicted\":{},\"templates_live\":{}",
            num(new_fraction),
            delta(&before, &after, "logsieve_lines_committed_total"),
            delta(&before, &after, "logsieve_templates_evicted_total"),
            after.get("logsieve_templates_live").copied().unwrap_or(f64::NAN)
        ));
        out.push_str(&server_hist_json(
            &before,
            &after,
            "logsieve_ingest_to_commit_seconds",
            "server_ingest_to_commit",
        ));
        out.push_str(&format!(",\"samples\":[{}]", samples.join(",")));
    }
    out.push('}');
    Ok(out)
}

fn main() {
    let a = match parse_args() {
        Ok(a) => a,
        Err(e) => {
            eprintln!("loadgen: {e}");
            std::process::exit(2);
        }
    };
    if a.mode == "lines" {
        // `lines --batch N [--new-templates]`: print N generated lines (to look at them).
        let mut g = LineGen::new(a.seed, if a.new_templates { a.new_fraction } else { 0.0 });
        let mut b = Vec::new();
        g.body(a.batch, &mut b);
        let _ = io::stdout().write_all(&b);
        return;
    }
    let r = if a.mode == "ingest" {
        ingest(&a)
    } else {
        open_loop(&a)
    };
    match r {
        Ok(json) => println!("{json}"),
        Err(e) => {
            eprintln!("loadgen: {e}");
            std::process::exit(1);
        }
    }
}
