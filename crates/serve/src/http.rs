//! The HTTP edge: ingestion endpoints, the query API, health and metrics,
//! and the web page (`/`, `/ui/*`).

use crate::config::Config;
use crate::metrics::Metrics;
use crate::processor::{AckError, Analyzed, FormatKey, Job, Part};
use crate::query;
use axum::body::Bytes;
use axum::extract::rejection::{BytesRejection, QueryRejection};
use axum::extract::{DefaultBodyLimit, MatchedPath, Query, Request, State};
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use logsieve_framing::{FramerConfig, LineFlags, LineFramer};
use logsieve_ingest::{Entry, IngestError, Limits};
use serde::Deserialize;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Instant;
use tokio::sync::{oneshot, Semaphore};

/// What every handler shares.
pub struct App {
    /// The processor's queue.
    pub jobs: crossbeam_channel::Sender<Job>,
    /// Queue room, in lines.
    pub queue: Arc<Semaphore>,
    /// The settings.
    pub cfg: Arc<Config>,
    /// Metrics.
    pub metrics: Arc<Metrics>,
    /// The store, for queries.
    pub store: Arc<dyn query::Readers>,
    /// The bearer token every request but health must carry.
    pub token: Option<String>,
    /// Set once the store is open and the rules are loaded.
    pub ready: AtomicBool,
    /// Reloads the rules (SIGHUP and `POST /v1/rules/reload`).
    pub reload: Box<dyn Fn() -> Result<String, String> + Send + Sync>,
    /// Where accepted lines go instead of this process's processor: a
    /// scale-out front end publishes them to the broker.
    pub forward: Option<Arc<dyn Forward>>,
}

/// A boxed future, for [`Forward`]'s object-safe methods.
pub type BoxFuture<'a, T> = std::pin::Pin<Box<dyn std::future::Future<Output = T> + Send + 'a>>;

/// Hands accepted lines to something durable other than this process's
/// store (the broker of a scale-out cluster). The service calls it with the
/// lines' queue room held, and acknowledges the sender only once it
/// resolves `Ok`.
pub trait Forward: Send + Sync {
    /// Called once inside the service's runtime before the listeners open
    /// (connect, check the cluster's settings). `Err` stops the service.
    fn start(&self) -> BoxFuture<'_, Result<String, String>>;
    /// Makes `parts` durable; resolves to the lines taken. `at_ms` is their
    /// arrival time. `AckError::Unavailable` means the sender should retry
    /// later (answered 429 with Retry-After).
    /// `key` is the request's `Idempotency-Key`: a retry that carries the
    /// same key within the broker's deduplication window is kept once.
    fn forward(
        &self,
        parts: Vec<Part>,
        protocol: &'static str,
        at_ms: i64,
        key: Option<String>,
    ) -> BoxFuture<'_, Result<u64, AckError>>;
}

/// The `Idempotency-Key` header of a request, if any (at most 200 visible
/// ASCII characters; otherwise a 400 says so).
pub fn idempotency_key(headers: &HeaderMap) -> Result<Option<String>, ApiError> {
    let Some(v) = headers.get("idempotency-key") else {
        return Ok(None);
    };
    match v.to_str() {
        Ok(k) if !k.is_empty() && k.len() <= 200 && k.bytes().all(|b| b.is_ascii_graphic()) => {
            Ok(Some(k.to_string()))
        }
        _ => Err(ApiError::bad(
            "Idempotency-Key must be 1 to 200 visible ASCII characters",
        )),
    }
}

/// An error answer: a status and a message that says what is wrong.
#[derive(Debug)]
pub struct ApiError {
    /// The status.
    pub status: StatusCode,
    /// What is wrong.
    pub message: String,
}

impl ApiError {
    /// 400 with a message.
    pub fn bad(message: impl Into<String>) -> ApiError {
        ApiError {
            status: StatusCode::BAD_REQUEST,
            message: message.into(),
        }
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let mut r = (self.status, Json(serde_json::json!({ "error": self.message }))).into_response();
        if self.status == StatusCode::TOO_MANY_REQUESTS || self.status == StatusCode::SERVICE_UNAVAILABLE {
            r.headers_mut()
                .insert(header::RETRY_AFTER, HeaderValue::from_static("1"));
        }
        r
    }
}

impl From<IngestError> for ApiError {
    fn from(e: IngestError) -> ApiError {
        ApiError {
            status: if e.is_too_large() {
                StatusCode::PAYLOAD_TOO_LARGE
            } else {
                StatusCode::BAD_REQUEST
            },
            message: e.to_string(),
        }
    }
}

impl From<AckError> for ApiError {
    fn from(e: AckError) -> ApiError {
        match e {
            AckError::Refused(m) => ApiError {
                status: StatusCode::UNPROCESSABLE_ENTITY,
                message: m,
            },
            AckError::Unavailable(m) => ApiError {
                status: StatusCode::SERVICE_UNAVAILABLE,
                message: m,
            },
        }
    }
}

/// How long to wait for room in the queue.
#[derive(Clone, Copy, PartialEq, Eq)]
pub enum Wait {
    /// Not at all: answer 429 (HTTP).
    No,
    /// Until there is room (TCP and Unix sockets stop reading meanwhile).
    Yes,
}

impl App {
    /// The limits of one request body.
    pub fn limits(&self) -> Limits {
        Limits {
            max_body_bytes: self.cfg.max_body_bytes,
            max_line_bytes: self.cfg.max_line_bytes,
            max_entries: self.cfg.queue_lines.min(1_000_000),
        }
    }

    /// Queues lines and waits until they are committed. `Ok(n)`: `n` lines
    /// are in the store.
    pub async fn submit(
        &self,
        parts: Vec<Part>,
        protocol: &'static str,
        wait: Wait,
    ) -> Result<u64, ApiError> {
        self.submit_keyed(parts, protocol, wait, None).await
    }

    /// [`App::submit`] with the request's `Idempotency-Key` (used by a
    /// scale-out front end; a single service commits before it answers, so
    /// a retry after a 2xx is the sender's choice).
    pub async fn submit_keyed(
        &self,
        parts: Vec<Part>,
        protocol: &'static str,
        wait: Wait,
        key: Option<String>,
    ) -> Result<u64, ApiError> {
        let lines = Job::lines(&parts);
        if lines == 0 {
            return Ok(0);
        }
        let cap = self.cfg.queue_lines as u64;
        if lines > cap {
            return Err(ApiError {
                status: StatusCode::PAYLOAD_TOO_LARGE,
                message: format!("{lines} lines in one request; the queue holds {cap} (--queue-lines)"),
            });
        }
        let n = lines as u32;
        let permit = match wait {
            Wait::No => match self.queue.clone().try_acquire_many_owned(n) {
                Ok(p) => p,
                Err(_) => {
                    self.metrics.rejected("queue_full", lines);
                    return Err(ApiError {
                        status: StatusCode::TOO_MANY_REQUESTS,
                        message: format!(
                            "the queue is full ({cap} lines waiting for the store); retry later"
                        ),
                    });
                }
            },
            Wait::Yes => self
                .queue
                .clone()
                .acquire_many_owned(n)
                .await
                .map_err(|_| ApiError {
                    status: StatusCode::SERVICE_UNAVAILABLE,
                    message: "shutting down".into(),
                })?,
        };
        if let Some(fw) = &self.forward {
            return self
                .forward_parts(fw.as_ref(), parts, protocol, lines, permit, key)
                .await;
        }
        self.metrics.queue_lines.fetch_add(lines, Ordering::Relaxed);
        let (tx, rx) = oneshot::channel();
        let job = Job::Ingest {
            parts,
            protocol,
            received: Instant::now(),
            permit: Some(permit),
            ack: Some(tx),
            at_ms: None,
            seq: None,
        };
        if self.jobs.send(job).is_err() {
            self.metrics.queue_lines.fetch_sub(lines, Ordering::Relaxed);
            return Err(ApiError {
                status: StatusCode::SERVICE_UNAVAILABLE,
                message: "shutting down".into(),
            });
        }
        match rx.await {
            Ok(Ok(n)) => Ok(n),
            Ok(Err(e)) => {
                if let AckError::Refused(_) = &e {
                    self.metrics.rejected("refused", lines);
                }
                Err(e.into())
            }
            Err(_) => Err(ApiError {
                status: StatusCode::SERVICE_UNAVAILABLE,
                message: "the processor stopped before committing".into(),
            }),
        }
    }

    /// The front end's half of [`App::submit`]: formats are checked here,
    /// because a worker could only reject them after the sender was told
    /// they were taken.
    async fn forward_parts(
        &self,
        fw: &dyn Forward,
        parts: Vec<Part>,
        protocol: &'static str,
        lines: u64,
        permit: tokio::sync::OwnedSemaphorePermit,
        key: Option<String>,
    ) -> Result<u64, ApiError> {
        let mut checked: Vec<&FormatKey> = Vec::new();
        for p in &parts {
            if !checked.contains(&&p.format) {
                if let Err(m) = p.format.parser() {
                    self.metrics.rejected("refused", lines);
                    return Err(AckError::Refused(m).into());
                }
                checked.push(&p.format);
            }
        }
        drop(checked);
        for p in &parts {
            self.metrics
                .received(&p.source, protocol, p.batch.lines_covered());
        }
        self.metrics.queue_lines.fetch_add(lines, Ordering::Relaxed);
        let t = Instant::now();
        let r = fw.forward(parts, protocol, crate::processor::now_ms(), key).await;
        self.metrics.queue_lines.fetch_sub(lines, Ordering::Relaxed);
        drop(permit);
        match r {
            Ok(n) => {
                self.metrics
                    .ingest_to_commit_seconds
                    .observe_duration(t.elapsed());
                self.metrics.committed_lines.fetch_add(n, Ordering::Relaxed);
                Ok(n)
            }
            Err(AckError::Unavailable(m)) => {
                self.metrics.rejected("broker_unavailable", lines);
                Err(ApiError {
                    status: StatusCode::TOO_MANY_REQUESTS,
                    message: format!(
                        "the broker did not take the lines ({m}); nothing was kept, retry later"
                    ),
                })
            }
            Err(e) => {
                self.metrics.rejected("refused", lines);
                Err(e.into())
            }
        }
    }
}

/// Parts from decoded entries: grouped by source, in order.
pub fn parts_from_entries(
    entries: Vec<Entry>,
    default_source: &str,
    label: &str,
    format: &FormatKey,
) -> Vec<Part> {
    let mut parts: Vec<Part> = Vec::new();
    let mut index: rustc_hash::FxHashMap<String, usize> = rustc_hash::FxHashMap::default();
    for e in entries {
        let source = e
            .source
            .clone()
            .filter(|s| !s.is_empty())
            .or_else(|| logsieve_ingest::source_from_labels(&e.fields, label))
            .unwrap_or_else(|| default_source.to_string());
        let i = match index.get(&source) {
            Some(&i) => i,
            None => {
                parts.push(Part::new(source.clone(), format.clone()));
                index.insert(source, parts.len() - 1);
                parts.len() - 1
            }
        };
        let p = &mut parts[i];
        p.batch.push(&e.line, LineFlags::new(e.truncated, false));
        let mut fields = e.fields;
        if let Some(ms) = e.timestamp_ms {
            // The line's own time, for rules and analysis (counts use the
            // arrival time).
            fields.push(("timestamp".to_string(), crate::query::rfc3339(ms)));
        }
        p.fields.push(fields);
    }
    parts
}

/// A text body framed into one part (the CLI's framer: `\n` and `\r\n`,
/// long lines cut and flagged).
pub fn text_part(
    body: &[u8],
    source: String,
    format: FormatKey,
    max_line_bytes: usize,
) -> Result<Part, ApiError> {
    let mut part = Part::new(source, format);
    let mut framer = LineFramer::new(body, FramerConfig { max_line_bytes });
    // One call frames a body of any accepted size; the loop (each call
    // clears its batch) is for completeness.
    let mut more = logsieve_framing::LineBatch::new();
    framer
        .next_batch(&mut part.batch, usize::MAX, usize::MAX)
        .map_err(|e| ApiError::bad(e.to_string()))?;
    loop {
        match framer.next_batch(&mut more, usize::MAX, usize::MAX) {
            Ok(0) => break,
            Ok(_) => part.batch.append(&more),
            Err(e) => return Err(ApiError::bad(e.to_string())),
        }
    }
    if part.batch.is_empty() {
        part.batch.first_line_no = 1;
    }
    Ok(part)
}

/// The request body, or a JSON error that says why not.
fn body_of(app: &App, body: Result<Bytes, BytesRejection>) -> Result<Bytes, ApiError> {
    body.map_err(|e| {
        let status = e.status();
        ApiError {
            status,
            message: if status == StatusCode::PAYLOAD_TOO_LARGE {
                oversize_message(app.cfg.max_body_bytes)
            } else {
                format!("reading the request body: {}", e.body_text())
            },
        }
    })
}

/// The query string's parameters, or a JSON error that says which is wrong.
pub fn query_of<T>(q: Result<Query<T>, QueryRejection>) -> Result<T, ApiError> {
    q.map(|Query(t)| t)
        .map_err(|e| ApiError::bad(format!("query string: {}", e.body_text())))
}

/// `?source=&format=&preset=`.
#[derive(Debug, Default, Deserialize)]
pub struct IngestParams {
    /// The source of lines that name none.
    pub source: Option<String>,
    /// A Loghub-style format for the header.
    pub format: Option<String>,
    /// A header preset.
    pub preset: Option<String>,
}

impl IngestParams {
    fn format(&self) -> Result<FormatKey, ApiError> {
        let key = match (&self.format, &self.preset) {
            (Some(_), Some(_)) => return Err(ApiError::bad("give format or preset, not both")),
            (Some(f), None) => FormatKey::Format(f.clone()),
            (None, Some(p)) => FormatKey::Preset(p.clone()),
            (None, None) => FormatKey::Whole,
        };
        key.parser().map_err(ApiError::bad)?;
        Ok(key)
    }

    fn source(&self) -> Result<String, ApiError> {
        let s = self.source.clone().unwrap_or_else(|| "default".into());
        check_source(&s)?;
        Ok(s)
    }
}

/// A source name must be 1-256 characters without control characters.
pub fn check_source(s: &str) -> Result<(), ApiError> {
    if s.is_empty() || s.len() > 256 || s.chars().any(char::is_control) {
        return Err(ApiError::bad(format!(
            "source {:?}: a source name is 1 to 256 characters without control characters",
            crate::config::clip(s)
        )));
    }
    Ok(())
}

fn is_ndjson(headers: &HeaderMap) -> bool {
    headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .map(|t| {
            let t = t.to_ascii_lowercase();
            t.starts_with("application/x-ndjson")
                || t.starts_with("application/jsonl")
                || t.starts_with("application/json")
        })
        .unwrap_or(false)
}

fn encoding(headers: &HeaderMap) -> Result<Option<&str>, ApiError> {
    match headers.get(header::CONTENT_ENCODING) {
        None => Ok(None),
        Some(v) => v
            .to_str()
            .map(Some)
            .map_err(|_| ApiError::bad("Content-Encoding is not ASCII")),
    }
}

/// The lines of an ingest or analyze body.
fn body_parts(
    app: &App,
    params: &IngestParams,
    headers: &HeaderMap,
    body: &[u8],
) -> Result<Vec<Part>, ApiError> {
    let limits = app.limits();
    let body = logsieve_ingest::body::decode_content(encoding(headers)?, body, &limits)?;
    let format = params.format()?;
    let source = params.source()?;
    if is_ndjson(headers) {
        let entries = logsieve_ingest::plain::parse_ndjson(&body, &limits)?;
        let parts = parts_from_entries(entries, &source, &app.cfg.source_label, &format);
        for p in &parts {
            check_source(&p.source)?;
        }
        Ok(parts)
    } else {
        Ok(vec![text_part(&body, source, format, app.cfg.max_line_bytes)?])
    }
}

async fn ingest(
    State(app): State<Arc<App>>,
    params: Result<Query<IngestParams>, QueryRejection>,
    headers: HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> Result<Json<serde_json::Value>, ApiError> {
    let params = query_of(params)?;
    let body = body_of(&app, body)?;
    let parts = body_parts(&app, &params, &headers, &body)?;
    let key = idempotency_key(&headers)?;
    let n = app.submit_keyed(parts, "http", Wait::No, key).await?;
    Ok(Json(serde_json::json!({ "accepted": n })))
}

async fn analyze(
    State(app): State<Arc<App>>,
    params: Result<Query<IngestParams>, QueryRejection>,
    headers: HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> Result<Json<serde_json::Value>, ApiError> {
    let params = query_of(params)?;
    let body = body_of(&app, body)?;
    let mut parts = body_parts(&app, &params, &headers, &body)?;
    if parts.len() > 1 {
        return Err(ApiError::bad(
            "analyze takes the lines of one source; NDJSON objects name several",
        ));
    }
    let Some(part) = parts.pop() else {
        return Ok(Json(serde_json::json!({ "records": [] })));
    };
    let fields = part.fields.clone();
    let (tx, rx) = oneshot::channel();
    app.jobs
        .send(Job::Analyze { part, reply: tx })
        .map_err(|_| ApiError {
            status: StatusCode::SERVICE_UNAVAILABLE,
            message: "shutting down".into(),
        })?;
    let out: Analyzed = rx
        .await
        .map_err(|_| ApiError {
            status: StatusCode::SERVICE_UNAVAILABLE,
            message: "shutting down".into(),
        })?
        .map_err(ApiError::from)?;
    let mut alerts = out.alerts.into_iter().peekable();
    let mut records = Vec::new();
    for line in out.records.split(|&b| b == b'\n').filter(|l| !l.is_empty()) {
        let mut v: serde_json::Value = serde_json::from_slice(line)
            .map_err(|e| ApiError::bad(format!("internal: record not JSON: {e}")))?;
        let no = v.get("line").and_then(|n| n.as_u64()).unwrap_or(0);
        if let Some(o) = v.as_object_mut() {
            if let Some(f) = fields.get((no as usize).wrapping_sub(1)) {
                if !f.is_empty() {
                    o.insert(
                        "labels".into(),
                        serde_json::Value::Object(
                            f.iter()
                                .map(|(k, v)| (k.clone(), serde_json::Value::String(v.clone())))
                                .collect(),
                        ),
                    );
                }
            }
            let mut mine = Vec::new();
            while let Some((l, _)) = alerts.peek() {
                if *l != no {
                    break;
                }
                if let Some((_, a)) = alerts.next() {
                    mine.extend(a);
                }
            }
            o.insert("alerts".into(), serde_json::to_value(mine).unwrap_or_default());
        }
        records.push(v);
    }
    Ok(Json(serde_json::json!({ "records": records })))
}

async fn loki_push(
    State(app): State<Arc<App>>,
    headers: HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> Result<StatusCode, ApiError> {
    let body = body_of(&app, body)?;
    let limits = app.limits();
    let ctype = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
        .to_ascii_lowercase();
    let body = logsieve_ingest::body::decode_content(encoding(&headers)?, &body, &limits)?;
    let ctype = (!ctype.is_empty()).then_some(ctype.as_str());
    let entries = logsieve_ingest::loki::parse(ctype, &body, &limits, &app.cfg.source_label)?;
    let parts = parts_from_entries(entries, "loki", &app.cfg.source_label, &FormatKey::Whole);
    for p in &parts {
        check_source(&p.source)?;
    }
    app.submit_keyed(parts, "loki", Wait::No, idempotency_key(&headers)?)
        .await?;
    Ok(StatusCode::NO_CONTENT)
}

async fn otlp_logs(
    State(app): State<Arc<App>>,
    headers: HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> Result<Response, ApiError> {
    let body = body_of(&app, body)?;
    let limits = app.limits();
    let ctype = headers.get(header::CONTENT_TYPE).and_then(|v| v.to_str().ok());
    let json = ctype.is_some_and(|t| t.to_ascii_lowercase().starts_with("application/json"));
    let body = logsieve_ingest::body::decode_content(encoding(&headers)?, &body, &limits)?;
    let entries = logsieve_ingest::otlp::parse(ctype, &body, &limits)?;
    let parts = parts_from_entries(entries, "otlp", &app.cfg.source_label, &FormatKey::Whole);
    for p in &parts {
        check_source(&p.source)?;
    }
    app.submit_keyed(parts, "otlp_http", Wait::No, idempotency_key(&headers)?)
        .await?;
    // An empty ExportLogsServiceResponse: full success.
    Ok(if json {
        ([(header::CONTENT_TYPE, "application/json")], "{}").into_response()
    } else {
        (
            [(header::CONTENT_TYPE, "application/x-protobuf")],
            Vec::<u8>::new(),
        )
            .into_response()
    })
}

async fn reload(State(app): State<Arc<App>>) -> Result<Json<serde_json::Value>, ApiError> {
    let app2 = app.clone();
    let r = tokio::task::spawn_blocking(move || (app2.reload)())
        .await
        .map_err(|e| ApiError {
            status: StatusCode::INTERNAL_SERVER_ERROR,
            message: e.to_string(),
        })?;
    match r {
        Ok(summary) => Ok(Json(serde_json::json!({ "reloaded": true, "summary": summary }))),
        Err(e) => Err(ApiError {
            status: StatusCode::UNPROCESSABLE_ENTITY,
            message: format!("rules not reloaded (the rules before stay): {e}"),
        }),
    }
}

async fn healthz() -> &'static str {
    "ok\n"
}

async fn readyz(State(app): State<Arc<App>>) -> Response {
    if app.ready.load(Ordering::Acquire) {
        "ready\n".into_response()
    } else {
        (StatusCode::SERVICE_UNAVAILABLE, "not ready\n").into_response()
    }
}

async fn metrics(State(app): State<Arc<App>>) -> Response {
    (
        [(header::CONTENT_TYPE, "text/plain; version=0.0.4; charset=utf-8")],
        app.metrics.render(),
    )
        .into_response()
}

async fn auth(State(app): State<Arc<App>>, req: Request, next: Next) -> Response {
    let path = req.uri().path();
    if let Some(token) = &app.token {
        // Health checks, and the page with its assets (they hold no data;
        // the page asks for the token when the API answers 401).
        if path != "/healthz" && path != "/readyz" && !crate::web::is_public(path) {
            let given = req
                .headers()
                .get(header::AUTHORIZATION)
                .and_then(|v| v.to_str().ok())
                .and_then(|v| v.split_once(' '))
                .filter(|(scheme, _)| scheme.eq_ignore_ascii_case("bearer"))
                .map(|(_, t)| t.trim());
            if !given.is_some_and(|g| constant_time_eq(g.as_bytes(), token.as_bytes())) {
                app.metrics.rejected("unauthorized_request", 1);
                let mut r = ApiError {
                    status: StatusCode::UNAUTHORIZED,
                    message: "missing or wrong bearer token (Authorization: Bearer ...)".into(),
                }
                .into_response();
                r.headers_mut()
                    .insert(header::WWW_AUTHENTICATE, HeaderValue::from_static("Bearer"));
                return r;
            }
        }
    }
    next.run(req).await
}

fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    if a.len() != b.len() {
        return false;
    }
    a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

/// Bytes of a refused body read (and dropped) at most before the 413 is
/// sent, beyond which the connection is simply closed.
fn drain_cap(limit: usize) -> usize {
    limit.max(8 << 20)
}

/// A request whose declared length is over `--max-body-bytes` gets its
/// 413 only after what the client sends has been read and dropped (up to
/// [`drain_cap`] bytes): a client that writes its whole body before it
/// reads the answer then gets the 413, not a broken pipe or a reset from
/// a connection closed under it with data unread. The body is never
/// kept. (A body without a declared length is cut at the limit by the
/// body extractor, as before.)
async fn refuse_oversize(State(app): State<Arc<App>>, req: Request, next: Next) -> Response {
    let limit = app.cfg.max_body_bytes;
    let declared = req
        .headers()
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok());
    if declared.is_none_or(|n| n <= limit as u64) {
        return next.run(req).await;
    }
    let mut body = req.into_body().into_data_stream();
    let mut read = 0usize;
    while read < drain_cap(limit) {
        match tokio_stream::StreamExt::next(&mut body).await {
            Some(Ok(chunk)) => read += chunk.len(),
            Some(Err(_)) | None => break,
        }
    }
    ApiError {
        status: StatusCode::PAYLOAD_TOO_LARGE,
        message: oversize_message(limit),
    }
    .into_response()
}

fn oversize_message(limit: usize) -> String {
    format!("request body larger than {limit} bytes (--max-body-bytes)")
}

async fn timing(State(app): State<Arc<App>>, req: Request, next: Next) -> Response {
    let route = req
        .extensions()
        .get::<MatchedPath>()
        .map_or_else(|| "unmatched".to_string(), |p| p.as_str().to_string());
    let t = Instant::now();
    let r = next.run(req).await;
    app.metrics.http(&route, t.elapsed());
    // Requests refused (lines refused are counted where they are).
    match r.status() {
        StatusCode::PAYLOAD_TOO_LARGE => app.metrics.rejected("oversize_request", 1),
        StatusCode::TOO_MANY_REQUESTS | StatusCode::UNAUTHORIZED => {}
        s if s.is_client_error() => app.metrics.rejected("bad_request", 1),
        _ => {}
    }
    r
}

async fn method_not_allowed() -> ApiError {
    ApiError {
        status: StatusCode::METHOD_NOT_ALLOWED,
        message: "method not allowed on this endpoint; GET /v1/openapi.json lists them".into(),
    }
}

async fn not_found() -> ApiError {
    ApiError {
        status: StatusCode::NOT_FOUND,
        message: "no such endpoint; GET /v1/openapi.json lists them".into(),
    }
}

/// The router.
pub fn router(app: Arc<App>) -> Router {
    let limit = app.cfg.max_body_bytes;
    Router::new()
        .route("/v1/ingest", post(ingest))
        .route("/v1/analyze", post(analyze))
        .route("/loki/api/v1/push", post(loki_push))
        .route("/v1/logs", post(otlp_logs))
        .route("/v1/rules/reload", post(reload))
        .route("/v1/sources", get(query::sources))
        .route("/v1/templates", get(query::templates))
        .route("/v1/templates/{id}", get(query::template))
        .route("/v1/alerts", get(query::alerts))
        .route("/loki/api/v1/patterns", get(query::loki_patterns))
        .route("/v1/openapi.json", get(query::openapi))
        .route("/healthz", get(healthz))
        .route("/readyz", get(readyz))
        .route("/metrics", get(metrics))
        .route("/", get(crate::web::index))
        .route("/ui/{asset}", get(crate::web::ui))
        .fallback(not_found)
        .method_not_allowed_fallback(method_not_allowed)
        .layer(axum::middleware::from_fn_with_state(app.clone(), refuse_oversize))
        .layer(axum::middleware::from_fn_with_state(app.clone(), timing))
        .layer(axum::middleware::from_fn_with_state(app.clone(), auth))
        .layer(DefaultBodyLimit::max(limit))
        .with_state(app)
}

/// Keeps a flag readable by health checks.
pub fn set_ready(app: &App) {
    app.ready.store(true, Ordering::Release);
}
