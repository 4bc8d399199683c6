//! Syslog over TCP (RFC 6587) and UDP, and newline-delimited lines on a
//! Unix socket.
//!
//! A stream connection reads a chunk, frames it, queues its lines and waits
//! for their commit before reading the next chunk: while the queue is full
//! or the store is slow, the connection stops reading and TCP pushes back
//! on the sender. At most one chunk per connection (64 KiB) is read and not
//! yet committed at any time. UDP cannot push back: datagrams that find the
//! queue full are dropped and counted (`logsieve_rejected_total{reason="queue_full"}`).
//!
//! No job holds more lines than the queue (`--queue-lines`): a chunk or a
//! burst of datagrams with more is queued in pieces, since a larger job
//! would be refused whole. Sockets have no answer to give, so every line
//! not kept is counted in `logsieve_rejected_total` ([`submit_counted`]).

use crate::http::{check_source, parts_from_entries, text_part, App, Wait};
use crate::processor::{FormatKey, Job, Part};
use axum::http::StatusCode;
use logsieve_ingest::{Entry, SyslogFramer};
use std::sync::Arc;
use tokio::io::AsyncReadExt;
use tokio::net::{TcpListener, UdpSocket, UnixListener};
use tokio::sync::watch;

const CHUNK: usize = 64 * 1024;

/// A syslog message as an entry; a message that does not parse as RFC 5424
/// or 3164 is kept whole (source `syslog`) and counted as unparsed. An
/// APP-NAME or TAG that is no valid source name (control characters, over
/// 256 characters) names no source: the message goes to `syslog`, and its
/// `app_name` field keeps the name.
fn syslog_entry(app: &App, msg: &[u8]) -> Entry {
    match logsieve_ingest::syslog::parse(msg) {
        Ok(s) => {
            let mut e = s.into_entry();
            if e.source.as_deref().is_some_and(|n| check_source(n).is_err()) {
                e.source = None;
            }
            e
        }
        Err(_) => {
            app.metrics
                .syslog_unparsed
                .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
            Entry {
                line: msg.to_vec(),
                ..Entry::default()
            }
        }
    }
}

fn clamp(app: &App, mut e: Entry) -> Entry {
    e.clamp_line(app.cfg.max_line_bytes);
    e
}

/// Queues the lines of a socket, which has no answer to give the sender:
/// a failure `submit` did not count already (`queue_full`, `refused`), such
/// as a failed store or a shutdown, is counted as `reason="unavailable"`,
/// so no line is lost uncounted.
async fn submit_counted(app: &App, parts: Vec<Part>, protocol: &'static str, wait: Wait) {
    let lines = Job::lines(&parts);
    if let Err(e) = app.submit(parts, protocol, wait).await {
        if !matches!(
            e.status,
            StatusCode::TOO_MANY_REQUESTS | StatusCode::UNPROCESSABLE_ENTITY
        ) {
            app.metrics.rejected("unavailable", lines);
        }
        tracing::warn!(protocol, lines, error = %e.message, "socket lines not kept");
    }
}

/// Syslog entries queued in pieces of at most `--queue-lines`.
async fn submit_entries(app: &App, mut entries: Vec<Entry>, protocol: &'static str, wait: Wait) {
    let cap = app.cfg.queue_lines.max(1);
    while !entries.is_empty() {
        let rest = entries.split_off(entries.len().min(cap));
        let parts = parts_from_entries(entries, "syslog", &app.cfg.source_label, &FormatKey::Whole);
        submit_counted(app, parts, protocol, wait).await;
        entries = rest;
    }
}

/// Serves syslog over TCP until `stop` turns true; open connections finish
/// what they read.
pub async fn syslog_tcp(app: Arc<App>, listener: TcpListener, mut stop: watch::Receiver<bool>) {
    let mut conns = tokio::task::JoinSet::new();
    loop {
        tokio::select! {
            _ = stop.changed() => break,
            r = listener.accept() => match r {
                Ok((sock, peer)) => {
                    let app = app.clone();
                    let stop = stop.clone();
                    conns.spawn(async move { tcp_conn(app, sock, peer.to_string(), stop).await });
                }
                Err(e) => {
                    tracing::warn!(error = %e, "syslog tcp accept failed");
                    tokio::time::sleep(std::time::Duration::from_millis(50)).await;
                }
            }
        }
    }
    drop(listener);
    while conns.join_next().await.is_some() {}
}

async fn tcp_conn(
    app: Arc<App>,
    mut sock: tokio::net::TcpStream,
    peer: String,
    mut stop: watch::Receiver<bool>,
) {
    let mut framer = SyslogFramer::new(app.cfg.max_line_bytes);
    let mut buf = vec![0u8; CHUNK];
    loop {
        let n = tokio::select! {
            _ = stop.changed() => 0,
            r = sock.read(&mut buf) => match r {
                Ok(n) => n,
                Err(e) => {
                    tracing::debug!(%peer, error = %e, "syslog tcp read failed");
                    0
                }
            }
        };
        let mut entries = Vec::new();
        let mut fatal = false;
        if n == 0 {
            if let Some(f) = framer.finish() {
                match f {
                    Ok(msg) => entries.push(clamp(&app, syslog_entry(&app, msg))),
                    Err(e) => {
                        app.metrics.rejected("syslog_frame", 1);
                        tracing::warn!(%peer, error = %e, "syslog tcp");
                    }
                }
            }
        } else {
            framer.push(&buf[..n]);
            while let Some(f) = framer.next_frame() {
                match f {
                    Ok(msg) => entries.push(clamp(&app, syslog_entry(&app, msg))),
                    Err(e) => {
                        app.metrics.rejected(
                            if e.is_too_large() {
                                "syslog_frame_too_large"
                            } else {
                                "syslog_frame"
                            },
                            1,
                        );
                        tracing::warn!(%peer, error = %e, "syslog tcp");
                        if e.is_fatal_for_connection() {
                            fatal = true;
                            break;
                        }
                    }
                }
            }
        }
        submit_entries(&app, entries, "syslog_tcp", Wait::Yes).await;
        if n == 0 || fatal {
            return;
        }
    }
}

/// Serves syslog over UDP until `stop` turns true.
pub async fn syslog_udp(app: Arc<App>, sock: UdpSocket, mut stop: watch::Receiver<bool>) {
    let mut buf = vec![0u8; 65_536];
    loop {
        let (n, _) = tokio::select! {
            _ = stop.changed() => return,
            r = sock.recv_from(&mut buf) => match r {
                Ok(x) => x,
                Err(e) => {
                    tracing::debug!(error = %e, "syslog udp recv failed");
                    continue;
                }
            }
        };
        // Take what else already arrived, so one job carries many datagrams
        // (no more than the queue holds).
        let mut entries = vec![clamp(&app, syslog_entry(&app, trim_end(&buf[..n])))];
        while entries.len() < app.cfg.queue_lines.min(1024) {
            match sock.try_recv_from(&mut buf) {
                Ok((n, _)) => entries.push(clamp(&app, syslog_entry(&app, trim_end(&buf[..n])))),
                Err(_) => break,
            }
        }
        let app2 = app.clone();
        // Never wait: a full queue drops the datagrams (counted as
        // `queue_full`) instead of blocking reads.
        tokio::spawn(async move { submit_entries(&app2, entries, "syslog_udp", Wait::No).await });
    }
}

/// A datagram's trailing newline is framing, not message.
fn trim_end(b: &[u8]) -> &[u8] {
    let mut e = b.len();
    while e > 0 && (b[e - 1] == b'\n' || b[e - 1] == b'\r' || b[e - 1] == 0) {
        e -= 1;
    }
    &b[..e]
}

/// Serves newline-delimited lines on a Unix socket until `stop` turns true.
pub async fn unix(app: Arc<App>, listener: UnixListener, mut stop: watch::Receiver<bool>) {
    let mut conns = tokio::task::JoinSet::new();
    loop {
        tokio::select! {
            _ = stop.changed() => break,
            r = listener.accept() => match r {
                Ok((sock, _)) => {
                    let app = app.clone();
                    let stop = stop.clone();
                    conns.spawn(async move { unix_conn(app, sock, stop).await });
                }
                Err(e) => {
                    tracing::warn!(error = %e, "unix socket accept failed");
                    tokio::time::sleep(std::time::Duration::from_millis(50)).await;
                }
            }
        }
    }
    while conns.join_next().await.is_some() {}
}

async fn unix_conn(app: Arc<App>, mut sock: tokio::net::UnixStream, mut stop: watch::Receiver<bool>) {
    let max = app.cfg.max_line_bytes;
    let mut buf = vec![0u8; CHUNK];
    // Bytes after the last newline wait for the rest of their line.
    let mut carry: Vec<u8> = Vec::new();
    // Inside a line longer than `max`: its first `max + 1` bytes wait in
    // `carry` (the framer cuts and flags them), the rest up to its newline
    // is skipped, as the framer does. The line is one line, however many
    // reads it takes.
    let mut skipping = false;
    loop {
        let n = tokio::select! {
            _ = stop.changed() => 0,
            r = sock.read(&mut buf) => r.unwrap_or(0),
        };
        if n == 0 {
            if !carry.is_empty() {
                submit_text(&app, &carry).await;
            }
            return;
        }
        let mut data = &buf[..n];
        if skipping {
            match memchr::memchr(b'\n', data) {
                Some(i) => {
                    data = &data[i..];
                    skipping = false;
                }
                None => continue,
            }
        }
        carry.extend_from_slice(data);
        if let Some(last) = memchr::memrchr(b'\n', &carry) {
            submit_text(&app, &carry[..=last]).await;
            carry.drain(..=last);
        }
        if carry.len() > max {
            carry.truncate(max + 1);
            skipping = true;
        }
    }
}

/// Frames and queues whole lines, in pieces of at most `--queue-lines`.
async fn submit_text(app: &Arc<App>, mut bytes: &[u8]) {
    let cap = app.cfg.queue_lines.max(1);
    while !bytes.is_empty() {
        // Every line has at least one byte: a piece this short holds at
        // most `cap` lines.
        let end = if bytes.len() <= cap {
            bytes.len()
        } else {
            memchr::memchr_iter(b'\n', bytes)
                .nth(cap - 1)
                .map_or(bytes.len(), |i| i + 1)
        };
        let (piece, rest) = bytes.split_at(end);
        bytes = rest;
        let part = match text_part(
            piece,
            app.cfg.unix_source.clone(),
            FormatKey::Whole,
            app.cfg.max_line_bytes,
        ) {
            Ok(p) => p,
            Err(e) => {
                // The framer fails only on a read error, and it reads from
                // memory here; counted all the same.
                let lines = memchr::memchr_iter(b'\n', piece).count() + usize::from(!piece.ends_with(b"\n"));
                app.metrics.rejected("unavailable", lines as u64);
                tracing::warn!(error = %e.message, "unix socket");
                continue;
            }
        };
        submit_counted(app, vec![part], "unix", Wait::Yes).await;
    }
}
