//! Prometheus metrics, written in the text exposition format. Counters are
//! bumped per request or per batch, never per line.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Mutex;
use std::time::Duration;

/// A histogram with fixed bucket bounds (seconds, or a plain count).
pub struct Histogram {
    bounds: &'static [f64],
    counts: Vec<AtomicU64>,
    sum_micro: AtomicU64,
    total: AtomicU64,
}

impl Histogram {
    fn new(bounds: &'static [f64]) -> Histogram {
        Histogram {
            bounds,
            counts: bounds.iter().map(|_| AtomicU64::new(0)).collect(),
            sum_micro: AtomicU64::new(0),
            total: AtomicU64::new(0),
        }
    }

    /// Records one value.
    pub fn observe(&self, v: f64) {
        if let Some(i) = self.bounds.iter().position(|&b| v <= b) {
            self.counts[i].fetch_add(1, Ordering::Relaxed);
        }
        self.sum_micro
            .fetch_add((v * 1e6).max(0.0) as u64, Ordering::Relaxed);
        self.total.fetch_add(1, Ordering::Relaxed);
    }

    /// Records a duration in seconds.
    pub fn observe_duration(&self, d: Duration) {
        self.observe(d.as_secs_f64());
    }

    fn write(&self, out: &mut String, name: &str, labels: &str) {
        let mut cum = 0;
        for (b, c) in self.bounds.iter().zip(&self.counts) {
            cum += c.load(Ordering::Relaxed);
            let _ = writeln!(out, "{name}_bucket{{{labels}{}le=\"{b}\"}} {cum}", sep(labels));
        }
        let total = self.total.load(Ordering::Relaxed);
        let _ = writeln!(out, "{name}_bucket{{{labels}{}le=\"+Inf\"}} {total}", sep(labels));
        let braces = if labels.is_empty() {
            String::new()
        } else {
            format!("{{{labels}}}")
        };
        let _ = writeln!(
            out,
            "{name}_sum{braces} {}",
            self.sum_micro.load(Ordering::Relaxed) as f64 / 1e6
        );
        let _ = writeln!(out, "{name}_count{braces} {total}");
    }
}

fn sep(labels: &str) -> &'static str {
    if labels.is_empty() {
        ""
    } else {
        ","
    }
}

const LATENCY: &[f64] = &[
    0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0,
];
const SIZES: &[f64] = &[1.0, 10.0, 100.0, 1000.0, 10_000.0, 100_000.0, 1_000_000.0];

/// Every metric the service exports.
pub struct Metrics {
    /// Lines received, by (source, protocol).
    received: Mutex<BTreeMap<(String, &'static str), u64>>,
    /// Lines or requests refused, by reason.
    rejected: Mutex<BTreeMap<String, u64>>,
    /// Alerts raised, by level.
    alerts: Mutex<BTreeMap<String, u64>>,
    /// HTTP request durations, by route.
    http: Mutex<BTreeMap<String, Histogram>>,
    /// Lines accepted and not yet committed.
    pub queue_lines: AtomicU64,
    /// The queue's capacity in lines.
    pub queue_capacity: AtomicU64,
    /// Templates live in the miners.
    pub templates_live: AtomicU64,
    /// Templates evicted by the per-source cap.
    pub templates_evicted: AtomicU64,
    /// Sources known.
    pub sources: AtomicU64,
    /// Lines committed to the store.
    pub committed_lines: AtomicU64,
    /// Lines flagged (header mismatch, invalid UTF-8, truncated, ...).
    pub flagged_lines: AtomicU64,
    /// Group commits that failed.
    pub commit_errors: AtomicU64,
    /// Lines per group commit.
    pub commit_lines: Histogram,
    /// Group commit duration.
    pub commit_seconds: Histogram,
    /// From a line's arrival to the commit that holds it.
    pub ingest_to_commit_seconds: Histogram,
    /// Syslog messages that parsed as neither RFC 5424 nor 3164 (kept whole).
    pub syslog_unparsed: AtomicU64,
    /// Rule reloads that worked and that failed.
    pub reloads: AtomicU64,
    /// Rule reloads that failed (the old rules stay).
    pub reload_errors: AtomicU64,
}

impl Default for Metrics {
    fn default() -> Self {
        Metrics {
            received: Mutex::default(),
            rejected: Mutex::default(),
            alerts: Mutex::default(),
            http: Mutex::default(),
            queue_lines: AtomicU64::new(0),
            queue_capacity: AtomicU64::new(0),
            templates_live: AtomicU64::new(0),
            templates_evicted: AtomicU64::new(0),
            sources: AtomicU64::new(0),
            committed_lines: AtomicU64::new(0),
            flagged_lines: AtomicU64::new(0),
            commit_errors: AtomicU64::new(0),
            commit_lines: Histogram::new(SIZES),
            commit_seconds: Histogram::new(LATENCY),
            ingest_to_commit_seconds: Histogram::new(LATENCY),
            syslog_unparsed: AtomicU64::new(0),
            reloads: AtomicU64::new(0),
            reload_errors: AtomicU64::new(0),
        }
    }
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

/// A label value in the exposition format.
fn esc(v: &str) -> String {
    v.replace('\\', "\\\\").replace('"', "\\\"").replace('\n', "\\n")
}

impl Metrics {
    /// Counts `n` lines received from `source` over `protocol`.
    pub fn received(&self, source: &str, protocol: &'static str, n: u64) {
        let mut m = lock(&self.received);
        match m.get_mut(&(source.to_string(), protocol)) {
            Some(v) => *v += n,
            None => {
                m.insert((source.to_string(), protocol), n);
            }
        }
    }

    /// Counts `n` refused lines (or requests) with a reason.
    pub fn rejected(&self, reason: &str, n: u64) {
        *lock(&self.rejected).entry(reason.to_string()).or_default() += n;
    }

    /// The count of refusals with `reason`.
    pub fn rejected_count(&self, reason: &str) -> u64 {
        lock(&self.rejected).get(reason).copied().unwrap_or(0)
    }

    /// Counts an alert of `level`.
    pub fn alert(&self, level: &str) {
        *lock(&self.alerts).entry(level.to_string()).or_default() += 1;
    }

    /// Records one HTTP request's duration on `route`.
    pub fn http(&self, route: &str, d: Duration) {
        let mut m = lock(&self.http);
        if let Some(h) = m.get(route) {
            h.observe_duration(d);
            return;
        }
        let h = Histogram::new(LATENCY);
        h.observe_duration(d);
        m.insert(route.to_string(), h);
    }

    /// The exposition text.
    pub fn render(&self) -> String {
        let mut o = String::with_capacity(4096);
        let head = |o: &mut String, name: &str, kind: &str, help: &str| {
            let _ = writeln!(o, "# HELP {name} {help}\n# TYPE {name} {kind}");
        };
        head(
            &mut o,
            "logsieve_lines_received_total",
            "counter",
            "Lines received, per source and protocol.",
        );
        for ((s, p), v) in lock(&self.received).iter() {
            let _ = writeln!(
                o,
                "logsieve_lines_received_total{{source=\"{}\",protocol=\"{p}\"}} {v}",
                esc(s)
            );
        }
        head(
            &mut o,
            "logsieve_rejected_total",
            "counter",
            "Lines (or whole requests, reason *_request) refused, per reason.",
        );
        for (r, v) in lock(&self.rejected).iter() {
            let _ = writeln!(o, "logsieve_rejected_total{{reason=\"{}\"}} {v}", esc(r));
        }
        let gauge = |o: &mut String, name: &str, help: &str, v: &AtomicU64| {
            head(o, name, "gauge", help);
            let _ = writeln!(o, "{name} {}", v.load(Ordering::Relaxed));
        };
        let counter = |o: &mut String, name: &str, help: &str, v: &AtomicU64| {
            head(o, name, "counter", help);
            let _ = writeln!(o, "{name} {}", v.load(Ordering::Relaxed));
        };
        gauge(
            &mut o,
            "logsieve_queue_lines",
            "Lines accepted and not yet committed.",
            &self.queue_lines,
        );
        gauge(
            &mut o,
            "logsieve_queue_capacity_lines",
            "The queue's capacity in lines.",
            &self.queue_capacity,
        );
        gauge(
            &mut o,
            "logsieve_templates_live",
            "Templates live in the miners.",
            &self.templates_live,
        );
        counter(
            &mut o,
            "logsieve_templates_evicted_total",
            "Templates evicted by the per-source cap.",
            &self.templates_evicted,
        );
        gauge(&mut o, "logsieve_sources", "Sources known.", &self.sources);
        counter(
            &mut o,
            "logsieve_lines_committed_total",
            "Lines whose counts are committed to the store.",
            &self.committed_lines,
        );
        counter(
            &mut o,
            "logsieve_lines_flagged_total",
            "Lines accepted with a flag (header mismatch, invalid UTF-8, truncated...).",
            &self.flagged_lines,
        );
        counter(
            &mut o,
            "logsieve_store_commit_errors_total",
            "Group commits that failed (their requests got 503).",
            &self.commit_errors,
        );
        counter(
            &mut o,
            "logsieve_syslog_unparsed_total",
            "Syslog messages that parsed as neither RFC 5424 nor 3164: kept whole as the line, source syslog.",
            &self.syslog_unparsed,
        );
        counter(
            &mut o,
            "logsieve_rule_reloads_total",
            "Rule reloads that took effect.",
            &self.reloads,
        );
        counter(
            &mut o,
            "logsieve_rule_reload_errors_total",
            "Rule reloads that failed (the rules before stay).",
            &self.reload_errors,
        );
        head(
            &mut o,
            "logsieve_alerts_total",
            "counter",
            "Alerts raised, per level.",
        );
        for (l, v) in lock(&self.alerts).iter() {
            let _ = writeln!(o, "logsieve_alerts_total{{level=\"{}\"}} {v}", esc(l));
        }
        head(
            &mut o,
            "logsieve_store_batch_lines",
            "histogram",
            "Lines per group commit.",
        );
        self.commit_lines.write(&mut o, "logsieve_store_batch_lines", "");
        head(
            &mut o,
            "logsieve_store_commit_seconds",
            "histogram",
            "Duration of a group commit.",
        );
        self.commit_seconds
            .write(&mut o, "logsieve_store_commit_seconds", "");
        head(
            &mut o,
            "logsieve_ingest_to_commit_seconds",
            "histogram",
            "From a batch's arrival to the commit that holds it.",
        );
        self.ingest_to_commit_seconds
            .write(&mut o, "logsieve_ingest_to_commit_seconds", "");
        head(
            &mut o,
            "logsieve_http_request_duration_seconds",
            "histogram",
            "HTTP request duration, per route.",
        );
        for (route, h) in lock(&self.http).iter() {
            h.write(
                &mut o,
                "logsieve_http_request_duration_seconds",
                &format!("route=\"{}\"", esc(route)),
            );
        }
        o
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn histogram_buckets_are_cumulative() {
        let m = Metrics::default();
        m.commit_seconds.observe(0.002);
        m.commit_seconds.observe(0.02);
        m.commit_seconds.observe(100.0);
        let t = m.render();
        assert!(
            t.contains("logsieve_store_commit_seconds_bucket{le=\"0.0025\"} 1"),
            "{t}"
        );
        assert!(t.contains("logsieve_store_commit_seconds_bucket{le=\"0.025\"} 2"));
        assert!(t.contains("logsieve_store_commit_seconds_bucket{le=\"+Inf\"} 3"));
        assert!(t.contains("logsieve_store_commit_seconds_count 3"));
    }

    #[test]
    fn labels_are_escaped() {
        let m = Metrics::default();
        m.received("a\"b", "http", 3);
        m.received("a\"b", "http", 2);
        assert!(m
            .render()
            .contains("logsieve_lines_received_total{source=\"a\\\"b\",protocol=\"http\"} 5"));
    }
}
