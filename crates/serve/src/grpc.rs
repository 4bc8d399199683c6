//! OTLP logs over gRPC (the OpenTelemetry Collector's and the SDKs'
//! `otlp` exporter), on its own port.
//!
//! Every refused request is counted in `logsieve_rejected_total` as the HTTP
//! port counts its 4xx: by the handler once the message decoded, by [`Guard`]
//! when tonic refused it before (a frame or message that does not decode, a
//! message over `--max-body-bytes`, a bad compressed body) or when it is not
//! gRPC at all (its content-type).

use crate::http::{check_source, parts_from_entries, App, Wait};
use crate::processor::FormatKey;
use axum::http::StatusCode;
use opentelemetry_proto::tonic::collector::logs::v1::logs_service_server::{LogsService, LogsServiceServer};
use opentelemetry_proto::tonic::collector::logs::v1::{ExportLogsServiceRequest, ExportLogsServiceResponse};
use std::convert::Infallible;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::task::{Context, Poll};
use tokio::sync::watch;
use tonic::body::Body;
use tonic::codegen::{http, BoxFuture, Service};
use tonic::server::NamedService;
use tonic::{Code, Request, Response, Status};

struct Otlp(Arc<App>);

/// Set by the handler: the message decoded, and the handler counts its own
/// refusals.
#[derive(Clone, Default)]
struct Decoded(Arc<AtomicBool>);

#[tonic::async_trait]
impl LogsService for Otlp {
    async fn export(
        &self,
        req: Request<ExportLogsServiceRequest>,
    ) -> Result<Response<ExportLogsServiceResponse>, Status> {
        let app = &self.0;
        if let Some(d) = req.extensions().get::<Decoded>() {
            d.0.store(true, Ordering::Relaxed);
        }
        if let Some(token) = &app.token {
            let given = req
                .metadata()
                .get("authorization")
                .and_then(|v| v.to_str().ok())
                .and_then(|v| v.strip_prefix("Bearer "));
            if given != Some(token.as_str()) {
                app.metrics.rejected("unauthorized_request", 1);
                return Err(Status::unauthenticated("missing or wrong bearer token"));
            }
        }
        let entries =
            logsieve_ingest::entries_from_request(req.into_inner(), &app.limits()).map_err(|e| {
                if e.is_too_large() {
                    app.metrics.rejected("oversize_request", 1);
                    Status::resource_exhausted(e.to_string())
                } else {
                    app.metrics.rejected("bad_request", 1);
                    Status::invalid_argument(e.to_string())
                }
            })?;
        let parts = parts_from_entries(entries, "otlp", &app.cfg.source_label, &FormatKey::Whole);
        for p in &parts {
            check_source(&p.source).map_err(|e| {
                app.metrics.rejected("bad_request", 1);
                Status::invalid_argument(e.message)
            })?;
        }
        match app.submit(parts, "otlp_grpc", Wait::No).await {
            Ok(_) => Ok(Response::new(ExportLogsServiceResponse {
                partial_success: None,
            })),
            Err(e) => Err(match e.status {
                // A full queue: UNAVAILABLE, which OTLP exporters retry
                // (RESOURCE_EXHAUSTED is retryable only with RetryInfo, so
                // the Collector would drop the batch).
                StatusCode::TOO_MANY_REQUESTS => Status::unavailable(e.message),
                StatusCode::SERVICE_UNAVAILABLE => Status::unavailable(e.message),
                StatusCode::PAYLOAD_TOO_LARGE => {
                    app.metrics.rejected("oversize_request", 1);
                    Status::invalid_argument(e.message)
                }
                _ => Status::invalid_argument(e.message),
            }),
        }
    }
}

/// The export service behind what tonic leaves to the application: a
/// request that is not gRPC (its content-type) gets 415 with
/// INVALID_ARGUMENT, as the gRPC protocol asks, instead of being read as
/// gRPC frames; a request tonic refused before the handler ran is counted,
/// and gets the code a client should act on (see [`refused_undecoded`]).
#[derive(Clone)]
struct Guard {
    inner: LogsServiceServer<Otlp>,
    app: Arc<App>,
}

impl NamedService for Guard {
    const NAME: &'static str = <LogsServiceServer<Otlp> as NamedService>::NAME;
}

impl Service<http::Request<Body>> for Guard {
    type Response = http::Response<Body>;
    type Error = Infallible;
    type Future = BoxFuture<Self::Response, Infallible>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Infallible>> {
        Service::<http::Request<Body>>::poll_ready(&mut self.inner, cx)
    }

    fn call(&mut self, mut req: http::Request<Body>) -> Self::Future {
        let app = self.app.clone();
        if let Some(why) = not_grpc(req.headers().get(http::header::CONTENT_TYPE)) {
            app.metrics.rejected("bad_request", 1);
            let mut r = Status::invalid_argument(why).into_http();
            *r.status_mut() = http::StatusCode::UNSUPPORTED_MEDIA_TYPE;
            return Box::pin(async move { Ok(r) });
        }
        let decoded = Decoded::default();
        req.extensions_mut().insert(decoded.clone());
        let answer = self.inner.call(req);
        Box::pin(async move {
            let r = answer.await?;
            Ok(if decoded.0.load(Ordering::Relaxed) {
                r
            } else {
                refused_undecoded(&app, r)
            })
        })
    }
}

/// Why a request with this content-type is not gRPC; `None` when it is
/// (`application/grpc`, `application/grpc+proto`, ...).
fn not_grpc(ctype: Option<&http::HeaderValue>) -> Option<String> {
    let shown = match ctype {
        None => "none".to_string(),
        Some(t) => {
            let t = String::from_utf8_lossy(t.as_bytes());
            if t.get(..16)
                .is_some_and(|p| p.eq_ignore_ascii_case("application/grpc"))
            {
                return None;
            }
            format!("{:?}", crate::config::clip(&t))
        }
    };
    Some(format!(
        "content-type {shown} is not gRPC (application/grpc); OTLP/HTTP goes to the HTTP port's /v1/logs"
    ))
}

/// An answer tonic gave without calling the handler. A refusal (a status in
/// the headers: trailers-only) is counted, and its code made the one a
/// client should act on: RESOURCE_EXHAUSTED for a message over the limit
/// (tonic says OUT_OF_RANGE, which the OTLP specification makes retryable:
/// an exporter that follows it, the Collector's, resends a batch that can
/// never fit until its retry time runs out), and
/// INVALID_ARGUMENT for a frame, message or compressed body that does not
/// decode (tonic says INTERNAL, which reads as a fault of the server).
fn refused_undecoded(app: &App, r: http::Response<Body>) -> http::Response<Body> {
    let Some(st) = Status::from_header_map(r.headers()) else {
        return r;
    };
    let (code, reason) = match st.code() {
        Code::Ok => return r,
        Code::OutOfRange | Code::ResourceExhausted => (Code::ResourceExhausted, "oversize_request"),
        Code::Internal | Code::Unknown => (Code::InvalidArgument, "bad_request"),
        c => (c, "bad_request"),
    };
    app.metrics.rejected(reason, 1);
    if code == Code::ResourceExhausted {
        // On the wire or once decompressed: the message names the flag.
        Status::new(code, format!("{} (--max-body-bytes)", st.message())).into_http()
    } else if code != st.code() {
        Status::new(code, st.message()).into_http()
    } else {
        r
    }
}

/// Serves until `stop` turns true; requests in flight finish first.
pub async fn serve(app: Arc<App>, listener: tokio::net::TcpListener, mut stop: watch::Receiver<bool>) {
    let max = app.cfg.max_body_bytes;
    let svc = Guard {
        inner: LogsServiceServer::new(Otlp(app.clone()))
            .max_decoding_message_size(max)
            .accept_compressed(tonic::codec::CompressionEncoding::Gzip),
        app,
    };
    let incoming = tokio_stream::wrappers::TcpListenerStream::new(listener);
    let r = tonic::transport::Server::builder()
        .add_service(svc)
        .serve_with_incoming_shutdown(incoming, async move {
            let _ = stop.wait_for(|s| *s).await;
        })
        .await;
    if let Err(e) = r {
        tracing::error!(error = %e, "otlp grpc server failed");
    }
}
