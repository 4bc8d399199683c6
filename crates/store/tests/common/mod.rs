//! Helpers shared by the store's integration tests.
#![allow(dead_code)]

use logsieve_store::{AlertRecord, CommitBatch, MergeRecord, TemplateDelta};
use serde_json::json;

/// Template id number `n` as 16 hex digits.
pub fn id(n: u64) -> String {
    format!("{n:016x}")
}

/// A delta whose count is the sum of `buckets` and whose first/last seen span them.
pub fn delta(source: &str, n: u64, text: &str, buckets: &[(i64, u64)]) -> TemplateDelta {
    let first = buckets.iter().map(|b| b.0).min().unwrap_or(0) * 60_000;
    let last = buckets.iter().map(|b| b.0).max().unwrap_or(0) * 60_000 + 59_999;
    TemplateDelta {
        source: source.into(),
        template_id: id(n),
        template: text.into(),
        count: buckets.iter().map(|b| b.1).sum(),
        first_seen_ms: first,
        last_seen_ms: last,
        examples: Vec::new(),
        buckets: buckets.to_vec(),
        values: Vec::new(),
        other: Vec::new(),
    }
}

pub fn merge(source: &str, from: u64, to: u64, at_ms: i64) -> MergeRecord {
    MergeRecord {
        source: source.into(),
        from_id: id(from),
        to_id: id(to),
        at_ms,
    }
}

pub fn alert(at_ms: i64, source: &str, rule_id: &str, title: &str, level: &str) -> AlertRecord {
    AlertRecord {
        at_ms,
        source: source.into(),
        rule_id: rule_id.into(),
        title: title.into(),
        level: level.into(),
        line: format!("line at {at_ms}"),
        template_id: Some(id(1)),
        fields: json!({"user": "root", "at": at_ms}),
        alert: json!({"rule": {"id": rule_id, "title": title}, "level": level, "at": at_ms}),
    }
}

pub fn deltas(templates: Vec<TemplateDelta>) -> CommitBatch {
    CommitBatch {
        templates,
        ..Default::default()
    }
}
