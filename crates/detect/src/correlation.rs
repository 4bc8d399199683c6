//! Correlation rules in a stream: windows per group key, bounded state.
//!
//! Windows are evaluated when an event arrives, on event time. An
//! `event_count`/`value_count` correlation fires when its threshold is met
//! inside the window, then its window for that group starts over; a
//! `temporal` one fires when every referenced rule has matched in the
//! window (in order for `temporal_ordered`). State is capped at
//! [`MAX_GROUPS`] groups per correlation: beyond that, expired groups are
//! dropped first, then the least recently seen, and evictions are counted.

use crate::detector::{Alert, Detector, Hit};
use crate::rule::CorrelationKind;
use crate::value::CmpOp;
use rustc_hash::FxHashMap;
use std::collections::{BTreeMap, VecDeque};

/// Most group keys kept per correlation.
pub const MAX_GROUPS: usize = 100_000;

#[derive(Debug, Default)]
struct Window {
    /// (time, line, rule position in the correlation, counted value).
    events: VecDeque<(f64, u64, usize, Option<String>)>,
    last: f64,
}

/// Streaming state of every correlation.
#[derive(Debug, Default)]
pub struct Correlator {
    groups: Vec<FxHashMap<Vec<String>, Window>>,
    /// Groups dropped to respect [`MAX_GROUPS`].
    pub evicted: u64,
    /// Hits without a usable timestamp (not counted in windows).
    pub untimed: u64,
}

fn meets(op: CmpOp, eq: bool, n: f64, t: f64) -> bool {
    if eq {
        return (n - t).abs() < f64::EPSILON;
    }
    match op {
        CmpOp::Gt => n > t,
        CmpOp::Gte => n >= t,
        CmpOp::Lt => n < t,
        CmpOp::Lte => n <= t,
    }
}

impl Correlator {
    /// A correlator for `d`'s correlations.
    pub fn new(d: &Detector) -> Correlator {
        Correlator {
            groups: (0..d.correlations().len())
                .map(|_| FxHashMap::default())
                .collect(),
            ..Default::default()
        }
    }

    /// Feeds one hit (in input order); returns the correlation alerts it
    /// completes.
    pub fn feed(&mut self, d: &Detector, hit: &Hit, line: u64, source: &str) -> Vec<Alert> {
        let mut out = Vec::new();
        if hit.corr.is_empty() {
            return out;
        }
        let Some(now) = hit.time else {
            self.untimed += 1;
            return out;
        };
        for (ci, key, value) in &hit.corr {
            let c = &d.correlations()[*ci];
            let pos = c
                .rules
                .iter()
                .position(|r| {
                    let rule = &d.rules()[hit.rule];
                    &rule.id == r || rule.name.as_deref() == Some(r)
                })
                .unwrap_or(0);
            let groups = &mut self.groups[*ci];
            if groups.len() >= MAX_GROUPS && !groups.contains_key(key) {
                let before = groups.len();
                groups.retain(|_, w| now - w.last <= c.timespan);
                if groups.len() >= MAX_GROUPS {
                    if let Some(oldest) = groups
                        .iter()
                        .min_by(|a, b| a.1.last.total_cmp(&b.1.last))
                        .map(|(k, _)| k.clone())
                    {
                        groups.remove(&oldest);
                    }
                }
                self.evicted += (before - groups.len()) as u64;
            }
            let w = groups.entry(key.clone()).or_default();
            w.last = now;
            while w.events.front().is_some_and(|e| now - e.0 > c.timespan) {
                w.events.pop_front();
            }
            w.events.push_back((now, line, pos, value.clone()));
            let fired = match c.kind {
                CorrelationKind::EventCount => {
                    let (op, t, eq) = c.threshold.expect("checked at load");
                    meets(op, eq, w.events.len() as f64, t)
                }
                CorrelationKind::ValueCount => {
                    let (op, t, eq) = c.threshold.expect("checked at load");
                    let mut vals: Vec<&str> = w.events.iter().filter_map(|e| e.3.as_deref()).collect();
                    vals.sort_unstable();
                    vals.dedup();
                    meets(op, eq, vals.len() as f64, t)
                }
                CorrelationKind::Temporal => (0..c.rules.len()).all(|p| w.events.iter().any(|e| e.2 == p)),
                CorrelationKind::TemporalOrdered => {
                    let mut next = 0;
                    for e in &w.events {
                        if e.2 == next {
                            next += 1;
                            if next == c.rules.len() {
                                break;
                            }
                        }
                    }
                    next == c.rules.len()
                }
            };
            if fired {
                let group: BTreeMap<String, String> =
                    c.group_by.iter().cloned().zip(key.iter().cloned()).collect();
                out.push(Alert {
                    rule_id: c.id.clone(),
                    title: c.title.clone(),
                    level: c.level.clone(),
                    line,
                    source: source.to_string(),
                    timestamp: None,
                    matched: BTreeMap::new(),
                    correlation: Some(c.kind.name().to_string()),
                    group: Some(group),
                    lines: Some(w.events.iter().map(|e| e.1).collect()),
                });
                w.events.clear();
            }
        }
        out
    }
}
