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

use crate::detector::{Alert, Detector, Hit, Rejection};
use crate::rule::{Correlation, CorrelationKind, Filter, Rule};
use crate::TimeText;
use rustc_hash::FxHashMap;
use std::collections::{BTreeMap, VecDeque};
use std::sync::Arc;

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
    last_text: Option<TimeText>,
    source: Arc<str>,
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
        CorrelationKind::ValueSum
        | CorrelationKind::ValueAvg
        | CorrelationKind::ValueMedian
        | CorrelationKind::ValuePercentile => {
            let mut vals: Vec<f64> = w
                .events
                .iter()
                .filter_map(|e| numeric(e.value.as_deref()?))
                .collect();
            metric(c.kind, c.percentile, &mut vals)
        }
    }
}

/// A field value as a number (decimal text, surrounding spaces allowed).
fn numeric(t: &str) -> Option<f64> {
    t.trim().parse::<f64>().ok().filter(|n| n.is_finite())
}

/// The statistic of a metric correlation over `vals`; NaN (which meets no
/// threshold) when there is no numeric value at all.
pub fn metric(kind: CorrelationKind, percentile: Option<f64>, vals: &mut [f64]) -> f64 {
    if vals.is_empty() {
        return f64::NAN;
    }
    match kind {
        CorrelationKind::ValueSum => vals.iter().sum(),
        CorrelationKind::ValueAvg => vals.iter().sum::<f64>() / vals.len() as f64,
        CorrelationKind::ValueMedian => percentile_of(vals, 50.0),
        CorrelationKind::ValuePercentile => percentile_of(vals, percentile.unwrap_or(50.0)),
        _ => f64::NAN,
    }
}

/// The `p`-th percentile (0..=100), linear between the closest ranks (so
/// the 50th is the median: the middle value, or the mean of the two
/// middle ones).
fn percentile_of(vals: &mut [f64], p: f64) -> f64 {
    vals.sort_unstable_by(f64::total_cmp);
    let rank = p / 100.0 * (vals.len() - 1) as f64;
    let (lo, hi) = (rank.floor() as usize, rank.ceil() as usize);
    vals[lo] + (vals[hi] - vals[lo]) * (rank - lo as f64)
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
        rule_id: Arc::from(c.id.as_str()),
        title: Arc::from(c.title.as_str()),
        level: Arc::from(c.level.as_str()),
        line: w.events.back().map_or(0, |e| e.line),
        source: w.source.clone(),
        timestamp: w.last_text.clone(),
        matched: BTreeMap::new(),
        correlation: Some(c.kind.name().to_string()),
        group: Some(c.group_by.iter().cloned().zip(key.iter().cloned()).collect()),
        lines: Some(w.events.iter().map(|e| e.line).collect()),
    }
}

/// A correlation alert about to be written and fed to the correlations
/// that refer to it: (correlation, alert, the time of its last event).
type Fired = (usize, Alert, f64);

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
    fn close_due(&mut self, d: &Detector, ci: usize, now: f64, fired: &mut Vec<Fired>) {
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
                    fired.push((ci, alert(c, &key, &w), w.last));
                }
            }
        }
    }

    /// Makes room for one more group in correlation `ci`.
    fn make_room(&mut self, d: &Detector, ci: usize, now: f64, fired: &mut Vec<Fired>) {
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
                    fired.push((ci, alert(c, &k, &w), w.last));
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

    /// Adds one hit of correlation `ci`'s member `pos` (a rule, or for a
    /// chain a correlation) to group `key` at time `now`.
    #[allow(clippy::too_many_arguments)]
    fn add(
        &mut self,
        d: &Detector,
        ci: usize,
        key: &[String],
        value: Option<String>,
        now: f64,
        timestamp: &Option<TimeText>,
        line: u64,
        source: &Arc<str>,
        pos: usize,
        fired: &mut Vec<Fired>,
    ) {
        let c = &d.correlations()[ci];
        if self.groups[ci].len() >= MAX_GROUPS && !self.groups[ci].contains_key(key) {
            self.make_room(d, ci, now, fired);
        }
        let ev = Ev {
            time: now,
            line,
            pos,
            value,
        };
        if c.decided_at_window_end() {
            // A window whose end an out-of-order deadline hid is
            // decided here.
            if let Some(w) = self.groups[ci].get(key) {
                if now > w.start + c.timespan {
                    let w = self.groups[ci].remove(key).expect("present");
                    if fires(c, &w) {
                        fired.push((ci, alert(c, key, &w), w.last));
                    }
                }
            }
            let w = self.groups[ci].entry(key.to_vec()).or_insert_with(|| {
                self.deadlines[ci].push_back((now + c.timespan, key.to_vec()));
                Window {
                    start: now,
                    ..Default::default()
                }
            });
            w.events.push_back(ev);
            w.last = now;
            w.last_text = timestamp.clone();
            w.source = source.clone();
        } else {
            let w = self.groups[ci].entry(key.to_vec()).or_default();
            while w.events.front().is_some_and(|e| now - e.time > c.timespan) {
                w.events.pop_front();
            }
            w.events.push_back(ev);
            w.last = now;
            w.last_text = timestamp.clone();
            w.source = source.clone();
            if fires(c, w) {
                fired.push((ci, alert(c, key, w), now));
                w.events.clear();
            }
        }
    }

    /// Writes the alerts of the correlations that fired (unless a chain
    /// suppresses them) and feeds each to the correlations that refer to
    /// it: its group values (by the group-by names, through `aliases`)
    /// group it there, at the time of its last event.
    fn settle(&mut self, d: &Detector, mut fired: Vec<Fired>, out: &mut Vec<Alert>) {
        let mut i = 0;
        while i < fired.len() {
            let (ci, a, t) = fired[i].clone();
            i += 1;
            let c = &d.correlations()[ci];
            let group = a.group.clone().unwrap_or_default();
            for &pj in d.correlation_parents(ci) {
                let p = &d.correlations()[pj];
                let get = |f: &str| group.get(f).cloned();
                let key: Vec<String> = p
                    .group_by
                    .iter()
                    .map(|g| get(p.group_field(g, &c.id, c.name.as_deref())).unwrap_or_default())
                    .collect();
                let value = p.field.as_deref().and_then(get);
                let pos = p
                    .rules
                    .iter()
                    .position(|r| &c.id == r || c.name.as_deref() == Some(r))
                    .unwrap_or(0);
                let mut more = Vec::new();
                self.add(
                    d,
                    pj,
                    &key,
                    value,
                    t,
                    &a.timestamp,
                    a.line,
                    &a.source,
                    pos,
                    &mut more,
                );
                fired.extend(more);
            }
            if !d.correlation_suppressed(ci) {
                out.push(a);
            }
        }
    }

    /// Feeds one hit (in input order); returns the correlation alerts it
    /// completes (and those of window-end windows its time closes, and
    /// of correlations chained on those).
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
        let mut fired = Vec::new();
        for &ci in d.correlation_order() {
            self.close_due(d, ci, wm, &mut fired);
        }
        let rule = &d.rules()[hit.rule];
        let source: Arc<str> = Arc::from(source);
        for (ci, key, value) in &hit.corr {
            let c = &d.correlations()[*ci];
            let pos = c
                .rules
                .iter()
                .position(|r| &rule.id == r || rule.name.as_deref() == Some(r))
                .unwrap_or(0);
            self.add(
                d,
                *ci,
                key,
                value.clone(),
                now,
                &hit.timestamp,
                line,
                &source,
                pos,
                &mut fired,
            );
        }
        self.settle(d, fired, &mut out);
        out
    }

    /// Ends the stream: decides every open window-end window (`lt`, `lte`,
    /// `eq` thresholds, value_sum/avg/median/percentile) and returns their
    /// alerts, ordered by line; a chained correlation is decided after
    /// those it refers to, so it sees their last alerts. Sliding windows
    /// that never met their condition raise nothing. Call it once after
    /// the last event; the correlator is empty afterwards.
    pub fn flush(&mut self, d: &Detector) -> Vec<Alert> {
        let mut out = Vec::new();
        for &ci in d.correlation_order() {
            let c = &d.correlations()[ci];
            let groups = std::mem::take(&mut self.groups[ci]);
            self.deadlines[ci].clear();
            if !c.decided_at_window_end() {
                continue;
            }
            let mut open: Vec<(Vec<String>, Window)> = groups.into_iter().collect();
            open.sort_by_key(|(_, w)| w.events.back().map_or(0, |e| e.line));
            let mut fired = Vec::new();
            for (k, w) in open {
                if fires(c, &w) {
                    fired.push((ci, alert(c, &k, &w), w.last));
                }
            }
            self.settle(d, fired, &mut out);
        }
        out.sort_by_key(|a| a.line);
        out
    }
}

/// Correlations after resolving what they refer to.
pub(crate) struct Chains {
    /// The correlations kept, in file order.
    pub kept: Vec<Correlation>,
    /// Per rule: the kept correlations that refer to it.
    pub referenced_by: Vec<Vec<usize>>,
    /// Per rule: whether a correlation suppresses its own alerts.
    pub suppressed: Vec<bool>,
    /// Per kept correlation: the correlations that refer to it.
    pub parents: Vec<Vec<usize>>,
    /// Per kept correlation: whether a referring correlation suppresses
    /// its own alerts.
    pub corr_suppressed: Vec<bool>,
    /// Kept correlations, each after those it refers to.
    pub order: Vec<usize>,
}

fn names(c: &Correlation, r: &str) -> bool {
    c.id == r || c.name.as_deref() == Some(r)
}

fn rule_named(rules: &[Rule], r: &str) -> Option<usize> {
    rules
        .iter()
        .position(|x| x.id == r || x.name.as_deref() == Some(r))
}

/// Resolves what each correlation refers to: loaded rules (by id or name)
/// or other correlations (chains). A correlation naming something not
/// loaded, or a chain that loops back on itself, is rejected (and so is a
/// correlation that refers to a rejected one).
pub(crate) fn resolve(
    rules: &[Rule],
    correlations: Vec<Correlation>,
    rejections: &mut Vec<Rejection>,
) -> Chains {
    let mut live: Vec<Option<Correlation>> = correlations.into_iter().map(Some).collect();
    let reject = |c: Correlation, reason: String, rejections: &mut Vec<Rejection>| {
        rejections.push(Rejection {
            file: c.file.clone(),
            title: Some(c.title.clone()),
            reason,
        })
    };
    // Until nothing changes: drop correlations with an unresolved
    // reference, then those on a loop.
    loop {
        let mut changed = false;
        for i in 0..live.len() {
            let Some(c) = &live[i] else { continue };
            let missing = c.rules.iter().find(|r| {
                rule_named(rules, r).is_none()
                    && !live
                        .iter()
                        .enumerate()
                        .any(|(j, o)| j != i && o.as_ref().is_some_and(|o| names(o, r)))
            });
            if let Some(m) = missing {
                let reason = format!("correlation refers to rule `{m}`, which is not loaded");
                reject(live[i].take().expect("live"), reason, rejections);
                changed = true;
            }
        }
        // A correlation on a loop can never be ordered after what it
        // refers to. (One that only refers to a loop goes on the next
        // round, as referring to something not loaded.)
        let deps = deps_of(rules, &live);
        let on_loop: Vec<usize> = (0..live.len())
            .filter(|&i| live[i].is_some() && reaches(&deps, i, i, &mut vec![false; live.len()]))
            .collect();
        for i in on_loop {
            let reason = "correlation chain loops back on itself".to_string();
            reject(live[i].take().expect("live"), reason, rejections);
            changed = true;
        }
        if !changed {
            break;
        }
    }
    // Renumber the kept correlations.
    let mut index = vec![usize::MAX; live.len()];
    let mut kept = Vec::new();
    for (i, c) in live.iter().enumerate() {
        if c.is_some() {
            index[i] = kept.len();
            kept.push(i);
        }
    }
    let order: Vec<usize> = order_of(rules, &live).into_iter().map(|i| index[i]).collect();
    let kept: Vec<Correlation> = live.into_iter().flatten().collect();
    let mut referenced_by = vec![Vec::new(); rules.len()];
    let mut suppressed = vec![false; rules.len()];
    let mut parents = vec![Vec::new(); kept.len()];
    let mut corr_suppressed = vec![false; kept.len()];
    for (ci, c) in kept.iter().enumerate() {
        for r in &c.rules {
            if let Some(ri) = rule_named(rules, r) {
                if !referenced_by[ri].contains(&ci) {
                    referenced_by[ri].push(ci);
                }
                suppressed[ri] |= !c.generate;
            } else if let Some(cj) = kept.iter().position(|o| !std::ptr::eq(o, c) && names(o, r)) {
                if !parents[cj].contains(&ci) {
                    parents[cj].push(ci);
                }
                corr_suppressed[cj] |= !c.generate;
            }
        }
    }
    Chains {
        kept,
        referenced_by,
        suppressed,
        parents,
        corr_suppressed,
        order,
    }
}

/// Whether `to` can be reached from `from`'s references.
fn reaches(deps: &[Vec<usize>], from: usize, to: usize, seen: &mut Vec<bool>) -> bool {
    for &j in &deps[from] {
        if j == to {
            return true;
        }
        if !seen[j] {
            seen[j] = true;
            if reaches(deps, j, to, seen) {
                return true;
            }
        }
    }
    false
}

/// For each `live` correlation, the live correlations it refers to.
fn deps_of(rules: &[Rule], live: &[Option<Correlation>]) -> Vec<Vec<usize>> {
    live.iter()
        .enumerate()
        .map(|(i, c)| {
            c.as_ref().map_or_else(Vec::new, |c| {
                c.rules
                    .iter()
                    .filter(|r| rule_named(rules, r).is_none())
                    .filter_map(|r| {
                        live.iter()
                            .enumerate()
                            .position(|(j, o)| j != i && o.as_ref().is_some_and(|o| names(o, r)))
                    })
                    .collect()
            })
        })
        .collect()
}

/// The indices of `live` correlations in an order where each comes after
/// the correlations it refers to; those on a loop are left out.
fn order_of(rules: &[Rule], live: &[Option<Correlation>]) -> Vec<usize> {
    let deps = deps_of(rules, live);
    let mut order = Vec::new();
    let mut placed = vec![false; live.len()];
    loop {
        let before = order.len();
        for i in 0..live.len() {
            if live[i].is_some() && !placed[i] && deps[i].iter().all(|&j| placed[j]) {
                placed[i] = true;
                order.push(i);
            }
        }
        if order.len() == before {
            break;
        }
    }
    order
}

/// Resolves the rules each meta filter names. A filter applies to the
/// named rules that are loaded; one none of whose rules is loaded is
/// rejected (it would filter nothing). Returns the kept filters and, per
/// rule, the filters that apply to it.
pub(crate) fn resolve_filters(
    rules: &[Rule],
    filters: Vec<Filter>,
    rejections: &mut Vec<Rejection>,
) -> (Vec<Filter>, Vec<Vec<usize>>) {
    let mut kept = Vec::new();
    let mut filtered_by = vec![Vec::new(); rules.len()];
    for f in filters {
        let targets: Vec<usize> = f.rules.iter().filter_map(|r| rule_named(rules, r)).collect();
        if targets.is_empty() {
            rejections.push(Rejection {
                file: f.file.clone(),
                title: Some(f.title.clone()),
                reason: format!(
                    "filter applies to rules {}, none of which is loaded",
                    f.rules
                        .iter()
                        .map(|r| format!("`{r}`"))
                        .collect::<Vec<_>>()
                        .join(", ")
                ),
            });
            continue;
        }
        for t in targets {
            if !filtered_by[t].contains(&kept.len()) {
                filtered_by[t].push(kept.len());
            }
        }
        kept.push(f);
    }
    (kept, filtered_by)
}
