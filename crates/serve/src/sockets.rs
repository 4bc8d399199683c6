//! Syslog over TCP (RFC 6587) and UDP, and newline-delimited lines on a
//! Unix socket.
//!
//! A stream connection reads a chunk, frames it, queues its lines and waits
//! for their commit before reading the next chunk: while the queue is full
//! or the store is slow, the connection stops reading and TCP pushes back
//! on the sender. At most one chunk per connection (64 KiB) is read and not
//! yet committed at any time. UDP cannot push back: datagrams that find the
//! queue full are dropped and counted (`logsieve_rejected_total{reason="queue_full"}`).

use crate::http::{parts_from_entries, text_part, App, Wait};
use crate::processor::FormatKey;
use logsieve_ingest::{Entry, SyslogFramer};
use std::sync::Arc;
use tokio::io::AsyncReadExt;
use tokio::net::{TcpListener, UdpSocket, UnixListener};
use tokio::sync::watch;

const CHUNK: usize = 64 * 1024;

/// A syslog message as an entry; a message that does not parse as RFC 5424
/// or 3164 is kept whole (source `syslog`) and counted as unparsed.
fn syslog_entry(app: &App, msg: &[u8]) -> Entry {
    match logsieve_ingest::syslog::parse(msg) {
        Ok(s) => s.into_entry(),
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
        if !entries.is_empty() {
            let parts = parts_from_entries(entries, "syslog", &app.cfg.source_label, &FormatKey::Whole);
            if let Err(e) = app.submit(parts, "syslog_tcp", Wait::Yes).await {
                tracing::warn!(%peer, error = %e.message, "syslog tcp lines not kept");
            }
        }
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
        // Take what else already arrived, so one job carries many datagrams.
        let mut entries = vec![clamp(&app, syslog_entry(&app, trim_end(&buf[..n])))];
        while entries.len() < 1024 {
            match sock.try_recv_from(&mut buf) {
                Ok((n, _)) => entries.push(clamp(&app, syslog_entry(&app, trim_end(&buf[..n])))),
                Err(_) => break,
            }
        }
        let parts = parts_from_entries(entries, "syslog", &app.cfg.source_label, &FormatKey::Whole);
        let app2 = app.clone();
        // Never wait: a full queue drops the datagrams (counted as
        // `queue_full`) instead of blocking reads.
        tokio::spawn(async move {
            if let Err(e) = app2.submit(parts, "syslog_udp", Wait::No).await {
                tracing::warn!(error = %e.message, "syslog udp lines dropped");
            }
        });
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
    let mut buf = vec![0u8; CHUNK];
    // Bytes after the last newline wait for the rest of their line.
    let mut carry: Vec<u8> = Vec::new();
    loop {
        let n = tokio::select! {
            _ = stop.changed() => 0,
            r = sock.read(&mut buf) => r.unwrap_or(0),
        };
        if n == 0 {
            if !carry.is_empty() {
                submit_text(&app, std::mem::take(&mut carry)).await;
            }
            return;
        }
        carry.extend_from_slice(&buf[..n]);
        if let Some(last) = memchr_last_newline(&carry) {
            let rest = carry.split_off(last + 1);
            let lines = std::mem::replace(&mut carry, rest);
            submit_text(&app, lines).await;
        } else if carry.len() > app.cfg.max_line_bytes {
            // One very long line: framed (and cut, flagged) now.
            submit_text(&app, std::mem::take(&mut carry)).await;
        }
    }
}

fn memchr_last_newline(b: &[u8]) -> Option<usize> {
    b.iter().rposition(|&c| c == b'\n')
}

async fn submit_text(app: &Arc<App>, bytes: Vec<u8>) {
    let part = match text_part(
        &bytes,
        app.cfg.unix_source.clone(),
        FormatKey::Whole,
        app.cfg.max_line_bytes,
    ) {
        Ok(p) => p,
        Err(e) => {
            tracing::warn!(error = %e.message, "unix socket");
            return;
        }
    };
    if let Err(e) = app.submit(vec![part], "unix", Wait::Yes).await {
        tracing::warn!(error = %e.message, "unix socket lines not kept");
    }
}
