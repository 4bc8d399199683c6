//! The query API: sources, templates, alerts, Loki's patterns shape, and the
//! OpenAPI document. Queries run on blocking threads, each on its own
//! read-only store connection, so they never wait for a commit.

use crate::http::query_of;
use crate::http::{ApiError, App};
use crate::processor::now_ms;
use axum::extract::rejection::QueryRejection;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::Json;
use logsieve_store::{AlertQuery, StoreReader, TemplateQuery};
use serde::Deserialize;
use serde_json::{json, Value};
use std::sync::Arc;

pub use logsieve_store::ReaderFactory as Readers;

/// Runs `f` on a fresh reader on a blocking thread.
async fn with_reader<T: Send + 'static>(
    app: &Arc<App>,
    f: impl FnOnce(&dyn StoreReader) -> Result<T, logsieve_store::StoreError> + Send + 'static,
) -> Result<T, ApiError> {
    let store = app.store.clone();
    tokio::task::spawn_blocking(move || {
        let r = store.reader()?;
        f(r.as_ref())
    })
    .await
    .map_err(|e| ApiError {
        status: StatusCode::INTERNAL_SERVER_ERROR,
        message: e.to_string(),
    })?
    .map_err(|e| ApiError {
        status: StatusCode::SERVICE_UNAVAILABLE,
        message: e.to_string(),
    })
}

/// A time given as RFC 3339, seconds, milliseconds or nanoseconds since the
/// epoch (told apart by size), or an age before now (`15m`, `2h`, `7d`).
pub fn parse_time_ms(name: &str, s: &str) -> Result<i64, ApiError> {
    let t = s.trim();
    if !t.is_empty() && t.bytes().all(|b| b.is_ascii_digit()) {
        let n: i128 = t
            .parse()
            .map_err(|_| ApiError::bad(format!("{name}: number too large")))?;
        let ms = match t.len() {
            0..=11 => n * 1000,
            12..=14 => n,
            15..=17 => n / 1000,
            _ => n / 1_000_000,
        };
        return i64::try_from(ms).map_err(|_| ApiError::bad(format!("{name}: out of range")));
    }
    if t.ends_with(['s', 'm', 'h', 'd']) && t[..t.len() - 1].bytes().all(|b| b.is_ascii_digit()) {
        if let Ok(Some(age)) = crate::config::parse_age(t) {
            return Ok(now_ms() - age.as_millis() as i64);
        }
    }
    logsieve_ingest::parse_rfc3339_ms(t.as_bytes()).map_err(|(at, what)| {
        ApiError::bad(format!(
            "{name}={:?}: {what} at byte {at}; give RFC 3339 (2026-11-23T10:00:00Z), \
             epoch seconds/ms/ns, or an age such as 15m",
            crate::config::clip(s)
        ))
    })
}

/// RFC 3339 (UTC, milliseconds) of a time in ms since the epoch.
pub fn rfc3339(ms: i64) -> String {
    let secs = ms.div_euclid(1000);
    let milli = ms.rem_euclid(1000);
    let days = secs.div_euclid(86_400);
    let rem = secs.rem_euclid(86_400);
    // Civil date from days since 1970-01-01 (Howard Hinnant's algorithm).
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let y = yoe + era * 400;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = if m <= 2 { y + 1 } else { y };
    format!(
        "{y:04}-{m:02}-{d:02}T{:02}:{:02}:{:02}.{milli:03}Z",
        rem / 3600,
        rem % 3600 / 60,
        rem % 60
    )
}

fn opt_time(name: &str, v: &Option<String>) -> Result<Option<i64>, ApiError> {
    v.as_deref().map(|s| parse_time_ms(name, s)).transpose()
}

/// `since` and `until`, checked to be in order.
fn range(since: &Option<String>, until: &Option<String>) -> Result<(Option<i64>, Option<i64>), ApiError> {
    let (s, u) = (opt_time("since", since)?, opt_time("until", until)?);
    if let (Some(a), Some(b)) = (s, u) {
        if a >= b {
            return Err(ApiError::bad("since must be before until"));
        }
    }
    Ok((s, u))
}

fn limit(v: Option<usize>, default: usize) -> Result<usize, ApiError> {
    match v {
        None => Ok(default),
        Some(0) => Err(ApiError::bad("limit must be at least 1")),
        Some(n) => Ok(n.min(100_000)),
    }
}

/// `GET /v1/sources`.
pub async fn sources(State(app): State<Arc<App>>) -> Result<Json<Value>, ApiError> {
    let s = with_reader(&app, |r| r.sources()).await?;
    Ok(Json(json!({
        "sources": s.iter().map(|s| json!({
            "source": s.name,
            "templates": s.templates,
            "lines": s.lines,
            "first_seen": rfc3339(s.first_seen_ms),
            "last_seen": rfc3339(s.last_seen_ms),
        })).collect::<Vec<_>>()
    })))
}

/// Filters of `GET /v1/templates`.
#[derive(Debug, Deserialize)]
pub struct TemplatesParams {
    source: Option<String>,
    since: Option<String>,
    until: Option<String>,
    q: Option<String>,
    new_since: Option<String>,
    limit: Option<usize>,
    series: Option<bool>,
}

/// `GET /v1/templates`.
pub async fn templates(
    State(app): State<Arc<App>>,
    p: Result<Query<TemplatesParams>, QueryRejection>,
) -> Result<Json<Value>, ApiError> {
    let p = query_of(p)?;
    let (since_ms, until_ms) = range(&p.since, &p.until)?;
    let q = TemplateQuery {
        source: p.source.clone(),
        since_ms,
        until_ms,
        q: p.q.clone(),
        new_since_ms: opt_time("new_since", &p.new_since)?,
        limit: limit(p.limit, 1000)?,
        with_series: p.series.unwrap_or(true),
    };
    let (since, until, source) = (q.since_ms, q.until_ms, q.source.clone());
    let (rows, lines) = with_reader(&app, move |r| {
        let rows = r.templates(&q)?;
        let lines = r.lines(source.as_deref(), since, until)?;
        Ok((rows, lines))
    })
    .await?;
    Ok(Json(json!({
        "lines": lines,
        "templates": rows.iter().map(|t| json!({
            "template_id": t.template_id,
            "source": t.source,
            "template": t.template,
            "count": t.count,
            "first_seen": rfc3339(t.first_seen_ms),
            "last_seen": rfc3339(t.last_seen_ms),
            "series": t.series.iter().map(|(m, c)| json!([rfc3339(*m), c])).collect::<Vec<_>>(),
        })).collect::<Vec<_>>()
    })))
}

/// `?source=` of `GET /v1/templates/{id}`.
#[derive(Debug, Deserialize)]
pub struct TemplateParams {
    source: Option<String>,
}

/// `GET /v1/templates/{id}`: the live template(s) the id is or ended in,
/// one per source.
pub async fn template(
    State(app): State<Arc<App>>,
    Path(id): Path<String>,
    p: Result<Query<TemplateParams>, QueryRejection>,
) -> Result<Json<Value>, ApiError> {
    let p = query_of(p)?;
    if !logsieve_store::is_template_id(&id) {
        return Err(ApiError::bad(format!(
            "{:?} is not a template id (16 hex digits)",
            crate::config::clip(&id)
        )));
    }
    let id2 = id.clone();
    let found = with_reader(&app, move |r| r.template(&id2, p.source.as_deref())).await?;
    if found.is_empty() {
        return Err(ApiError {
            status: StatusCode::NOT_FOUND,
            message: format!("no template {id}"),
        });
    }
    Ok(Json(json!({
        "template_id": id,
        "templates": found.iter().map(|d| json!({
            "template_id": d.row.template_id,
            "source": d.row.source,
            "template": d.row.template,
            "count": d.row.count,
            "first_seen": rfc3339(d.row.first_seen_ms),
            "last_seen": rfc3339(d.row.last_seen_ms),
            "series": d.row.series.iter().map(|(m, c)| json!([rfc3339(*m), c])).collect::<Vec<_>>(),
            "examples": d.examples,
            "variables": d.values.iter().map(|v| json!({
                "position": v.position,
                "top": v.top.iter().map(|(val, n)| json!({"value": val, "count": n})).collect::<Vec<_>>(),
                "distinct_kept": v.distinct_kept,
                "other": v.other,
            })).collect::<Vec<_>>(),
            "merged_from": d.merged_from.iter().map(|(i, t, at)| json!({
                "template_id": i, "template": t, "at": rfc3339(*at)
            })).collect::<Vec<_>>(),
            "merged_into": d.merged_into,
        })).collect::<Vec<_>>()
    })))
}

/// Filters of `GET /v1/alerts`.
#[derive(Debug, Deserialize)]
pub struct AlertsParams {
    since: Option<String>,
    until: Option<String>,
    level: Option<String>,
    rule: Option<String>,
    source: Option<String>,
    template_id: Option<String>,
    limit: Option<usize>,
}

/// `GET /v1/alerts`, newest first.
pub async fn alerts(
    State(app): State<Arc<App>>,
    p: Result<Query<AlertsParams>, QueryRejection>,
) -> Result<Json<Value>, ApiError> {
    let p = query_of(p)?;
    let (since_ms, until_ms) = range(&p.since, &p.until)?;
    let q = AlertQuery {
        since_ms,
        until_ms,
        level: p.level,
        rule: p.rule,
        source: p.source,
        template_id: p.template_id,
        limit: limit(p.limit, 1000)?,
    };
    let rows = with_reader(&app, move |r| r.alerts(&q)).await?;
    Ok(Json(json!({
        "alerts": rows.iter().map(|a| json!({
            "id": a.id,
            "at": rfc3339(a.record.at_ms),
            "source": a.record.source,
            "rule_id": a.record.rule_id,
            "title": a.record.title,
            "level": a.record.level,
            "line": a.record.line,
            "template_id": a.record.template_id,
            "fields": a.record.fields,
            "alert": a.record.alert,
        })).collect::<Vec<_>>()
    })))
}

/// Parameters of Loki's `GET /loki/api/v1/patterns`.
#[derive(Debug, Deserialize)]
pub struct PatternsParams {
    query: Option<String>,
    start: Option<String>,
    end: Option<String>,
    step: Option<String>,
}

/// Loki's patterns response: `{"status":"success","data":[{"pattern":
/// "...<_>...","samples":[[unix_seconds, count], ...]}]}`; the stream
/// selector's source label (or `service_name`, `app`, `job`, `source`)
/// picks the source.
pub async fn loki_patterns(
    State(app): State<Arc<App>>,
    p: Result<Query<PatternsParams>, QueryRejection>,
) -> Result<Json<Value>, ApiError> {
    let p = query_of(p)?;
    let source = match p.query.as_deref().map(str::trim) {
        None | Some("") | Some("{}") => None,
        Some(sel) => {
            let labels = logsieve_ingest::labels::parse_labels(sel).map_err(|e| {
                ApiError::bad(format!(
                    "query: {e}; give a stream selector such as {{service_name=\"api\"}}"
                ))
            })?;
            logsieve_ingest::source_from_labels(&labels, &app.cfg.source_label)
        }
    };
    let step_ms = match p.step.as_deref() {
        None => 60_000,
        Some(s) => match crate::config::parse_age(s) {
            Ok(Some(d)) => (d.as_millis() as i64).max(60_000),
            _ => parse_float_seconds(s).ok_or_else(|| {
                ApiError::bad(format!(
                    "step={:?}: give seconds or 1m, 5m",
                    crate::config::clip(s)
                ))
            })?,
        },
    };
    let q = TemplateQuery {
        source,
        since_ms: opt_time("start", &p.start)?,
        until_ms: opt_time("end", &p.end)?,
        q: None,
        new_since_ms: None,
        limit: 10_000,
        with_series: true,
    };
    let rows = with_reader(&app, move |r| r.templates(&q)).await?;
    let data: Vec<Value> = rows
        .iter()
        .map(|t| {
            let mut samples: Vec<(i64, u64)> = Vec::new();
            for (m, c) in &t.series {
                let b = m.div_euclid(step_ms) * step_ms / 1000;
                match samples.last_mut() {
                    Some((s, n)) if *s == b => *n += c,
                    _ => samples.push((b, *c)),
                }
            }
            json!({
                "pattern": t.template.replace("<*>", "<_>"),
                "samples": samples.iter().map(|(s, c)| json!([s, c])).collect::<Vec<_>>(),
            })
        })
        .collect();
    Ok(Json(json!({ "status": "success", "data": data })))
}

fn parse_float_seconds(s: &str) -> Option<i64> {
    let f: f64 = s.trim().parse().ok()?;
    (f.is_finite() && f > 0.0).then(|| ((f * 1000.0) as i64).max(60_000))
}

/// `GET /v1/openapi.json`.
pub async fn openapi() -> Json<Value> {
    Json(crate::openapi::document())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rfc3339_round_trips() {
        assert_eq!(rfc3339(0), "1970-01-01T00:00:00.000Z");
        assert_eq!(rfc3339(1_795_435_200_123), "2026-11-23T12:00:00.123Z");
        for ms in [0i64, 951_782_400_000, 1_795_435_200_123, 4_102_444_799_999] {
            assert_eq!(parse_time_ms("t", &rfc3339(ms)).unwrap(), ms);
        }
    }

    #[test]
    fn times_by_size_and_age() {
        assert_eq!(parse_time_ms("t", "1795435200").unwrap(), 1_795_435_200_000);
        assert_eq!(parse_time_ms("t", "1795435200123").unwrap(), 1_795_435_200_123);
        assert_eq!(
            parse_time_ms("t", "1795435200123000000").unwrap(),
            1_795_435_200_123
        );
        let ago = parse_time_ms("t", "15m").unwrap();
        assert!((now_ms() - ago - 900_000).abs() < 5_000);
        let e = parse_time_ms("since", "yesterday").unwrap_err();
        assert!(e.message.contains("since=\"yesterday\""), "{}", e.message);
    }
}
