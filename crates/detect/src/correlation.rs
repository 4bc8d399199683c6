//! Correlation rules in a stream: windows per group key, on event time,
//! with bounded state.
//!
//! Two ways a window is decided, because a stream cannot look ahead:
//! - **as soon as met** (`gt`/`gte` thresholds, `temporal`,
//!   `temporal_ordered`): a sliding window of the last `timespan` seconds
//!   per group; the correlation fires on the hit that meets the condition,
//!   then that group's window starts over (no alert storm).
//! - **at window end** (any `lt`, `lte` or `eq`: a later event could still
//!   break the condition): a window opens at a group's first hit and lasts
//!   `timespan`; it is decided when a later hit (of any rule, on event time)
//!   passes its end, or by [`Correlator::flush`] at the end of the stream.
//!   A group that had no hit at all has no window, so `lt` never fires for
//!   a group that was never seen.
//!
//! State is capped at [`MAX_GROUPS`] groups per correlation. When a new
//! group would exceed it, finished windows are settled first (expired
//! sliding windows hold nothing that can still fire; window-end ones are
//! decided and may alert), then the least recently seen tenth is dropped
//! and counted in [`Correlator::evicted`].

use crate::detector::{Alert, Detector, Hit};
use crate::rule::{Correlation, CorrelationKind};
use rustc_hash::FxHashMap;
use std::collections::{BTreeMap, VecDeque};

/// Most group keys kept per correlation.
pub const MAX_GROUPS: usize = 100_000;

#[derive(Debug)]
struct Ev {
    time: f64,
    line: u64,
    /// Position of the hit's rule in the correlation's `rules`.
    pos: usize,
    /// The counted field's value (value_count).
    value: Option<String>,
}

#[derive(Debug, Default)]
struct Window {
    events: VecDeque<Ev>,
    /// When the window opened (window-end mode).
    start: f64,
    /// Time of the last hit (eviction order).
    last: f64,
    /// The last hit's timestamp as written, and its input.
    last_text: Option<String>,
    source: String,
}

/// Streaming state of every correlation of one [`Detector`].
#[derive(Debug, Default)]
pub struct Correlator {
    groups: Vec<FxHashMap<Vec<String>, Window>>,
    /// Window-end mode: (end time, group) in opening order.
    deadlines: Vec<VecDeque<(f64, Vec<String>)>>,
    /// The latest event time seen.
    watermark: Option<f64>,
    /// Groups with live state dropped to respect [`MAX_GROUPS`].
    pub evicted: u64,
    /// Hits without a usable timestamp (not counted in windows).
    pub untimed: u64,
}

fn count(c: &Correlation, w: &Window) -> f64 {
    match c.kind {
        CorrelationKind::EventCount => w.events.len() as f64,
        CorrelationKind::ValueCount => {
            let mut vals: Vec<&str> = w.events.iter().filter_map(|e| e.value.as_deref()).collect();
            vals.sort_unstable();
            vals.dedup();
            vals.len() as f64
        }
        CorrelationKind::Temporal => {
            let mut seen = vec![false; c.rules.len()];
            for e in &w.events {
                seen[e.pos] = true;
            }
            seen.iter().filter(|s| **s).count() as f64
        }
        CorrelationKind::TemporalOrdered => {
            let mut next = 0;
            for e in &w.events {
                if next < c.rules.len() && e.pos == next {
                    next += 1;
                }
            }
            next as f64
        }
    }
}

fn fires(c: &Correlation, w: &Window) -> bool {
    if w.events.is_empty() {
        return false;
    }
    let n = count(c, w);
    match c.kind {
        CorrelationKind::Temporal if c.threshold.is_empty() => n >= c.rules.len() as f64,
        CorrelationKind::TemporalOrdered => n >= c.rules.len() as f64,
        _ => c.threshold.iter().all(|&(op, t)| op.holds(n, t)),
    }
}

fn alert(c: &Correlation, key: &[String], w: &Window) -> Alert {
    Alert {
        rule_id: c.id.clone(),
        title: c.title.clone(),
        level: c.level.clone(),
        line: w.events.back().map_or(0, |e| e.line),
        source: w.source.clone(),
        timestamp: w.last_text.clone(),
        matched: BTreeMap::new(),
        correlation: Some(c.kind.name().to_string()),
        group: Some(c.group_by.iter().cloned().zip(key.iter().cloned()).collect()),
        lines: Some(w.events.iter().map(|e| e.line).collect()),
    }
}

impl Correlator {
    /// A correlator for `d`'s correlations.
    pub fn new(d: &Detector) -> Correlator {
        let n = d.correlations().len();
        Correlator {
            groups: (0..n).map(|_| FxHashMap::default()).collect(),
            deadlines: (0..n).map(|_| VecDeque::new()).collect(),
            ..Default::default()
        }
    }

    /// Groups currently held, over all correlations.
    pub fn groups(&self) -> usize {
        self.groups.iter().map(|g| g.len()).sum()
    }

    /// Decides the window-end windows of correlation `ci` that ended
    /// before `now`.
    fn close_due(&mut self, d: &Detector, ci: usize, now: f64, out: &mut Vec<Alert>) {
        let c = &d.correlations()[ci];
        while let Some((end, _)) = self.deadlines[ci].front() {
            if *end >= now {
                break;
            }
            let (end, key) = self.deadlines[ci].pop_front().expect("front exists");
            // A stale entry (the group was evicted or reopened) is skipped.
            let current = self.groups[ci]
                .get(&key)
                .is_some_and(|w| w.start + c.timespan == end);
            if current {
                let w = self.groups[ci].remove(&key).expect("checked");
                if fires(c, &w) {
                    out.push(alert(c, &key, &w));
                }
            }
        }
    }

    /// Makes room for one more group in correlation `ci`.
    fn make_room(&mut self, d: &Detector, ci: usize, now: f64, out: &mut Vec<Alert>) {
        let c = &d.correlations()[ci];
        let groups = &mut self.groups[ci];
        if c.decided_at_window_end() {
            let done: Vec<Vec<String>> = groups
                .iter()
                .filter(|(_, w)| now > w.start + c.timespan)
                .map(|(k, _)| k.clone())
                .collect();
            for k in done {
                let w = groups.remove(&k).expect("listed");
                if fires(c, &w) {
                    out.push(alert(c, &k, &w));
                }
            }
        } else {
            groups.retain(|_, w| now - w.last <= c.timespan);
        }
        if groups.len() >= MAX_GROUPS {
            // Drop the least recently seen tenth at once, so a flood of new
            // keys costs O(log n) per key, not a scan each.
            let mut lasts: Vec<f64> = groups.values().map(|w| w.last).collect();
            let k = MAX_GROUPS / 10;
            let (_, cut, _) = lasts.select_nth_unstable_by(k, f64::total_cmp);
            let cut = *cut;
            let before = groups.len();
            groups.retain(|_, w| w.last > cut);
            self.evicted += (before - groups.len()) as u64;
        }
    }

    /// Feeds one hit (in input order); returns the correlation alerts it
    /// completes (and those of window-end windows its time closes).
    pub fn feed(&mut self, d: &Detector, hit: &Hit, line: u64, source: &str) -> Vec<Alert> {
        let mut out = Vec::new();
        if hit.corr.is_empty() {
            return out;
        }
        let Some(now) = hit.time else {
            self.untimed += 1;
            return out;
        };
        let wm = self.watermark.map_or(now, |w| w.max(now));
        self.watermark = Some(wm);
        for ci in 0..d.correlations().len() {
            self.close_due(d, ci, wm, &mut out);
        }
        let rule = &d.rules()[hit.rule];
        for (ci, key, value) in &hit.corr {
            let ci = *ci;
            let c = &d.correlations()[ci];
            let pos = c
                .rules
                .iter()
                .position(|r| &rule.id == r || rule.name.as_deref() == Some(r))
                .unwrap_or(0);
            if self.groups[ci].len() >= MAX_GROUPS && !self.groups[ci].contains_key(key) {
                self.make_room(d, ci, now, &mut out);
            }
            let ev = Ev {
                time: now,
                line,
                pos,
                value: value.clone(),
            };
            if c.decided_at_window_end() {
                // A window whose end an out-of-order deadline hid is
                // decided here.
                if let Some(w) = self.groups[ci].get(key) {
                    if now > w.start + c.timespan {
                        let w = self.groups[ci].remove(key).expect("present");
                        if fires(c, &w) {
                            out.push(alert(c, key, &w));
                        }
                    }
                }
                let w = self.groups[ci].entry(key.clone()).or_insert_with(|| {
                    self.deadlines[ci].push_back((now + c.timespan, key.clone()));
                    Window {
                        start: now,
                        ..Default::default()
                    }
                });
                w.events.push_back(ev);
                w.last = now;
                w.last_text = hit.timestamp.clone();
                w.source = source.to_string();
            } else {
                let w = self.groups[ci].entry(key.clone()).or_default();
                while w.events.front().is_some_and(|e| now - e.time > c.timespan) {
                    w.events.pop_front();
                }
                w.events.push_back(ev);
                w.last = now;
                w.last_text = hit.timestamp.clone();
                w.source = source.to_string();
                if fires(c, w) {
                    out.push(alert(c, key, w));
                    w.events.clear();
                }
            }
        }
        out
    }

    /// Ends the stream: decides every open window-end window (`lt`, `lte`,
    /// `eq` thresholds) and returns their alerts, ordered by line. Sliding
    /// windows that never met their condition raise nothing. Call it once
    /// after the last event; the correlator is empty afterwards.
    pub fn flush(&mut self, d: &Detector) -> Vec<Alert> {
        let mut out = Vec::new();
        for (ci, c) in d.correlations().iter().enumerate() {
            let groups = std::mem::take(&mut self.groups[ci]);
            self.deadlines[ci].clear();
            if !c.decided_at_window_end() {
                continue;
            }
            let mut open: Vec<(Vec<String>, Window)> = groups.into_iter().collect();
            open.sort_by_key(|(_, w)| w.events.back().map_or(0, |e| e.line));
            for (k, w) in open {
                if fires(c, &w) {
                    out.push(alert(c, &k, &w));
                }
            }
        }
        out.sort_by_key(|a| a.line);
        out
    }
}
