//! OTLP logs over gRPC (the OpenTelemetry Collector's and the SDKs'
//! `otlp` exporter), on its own port.

use crate::http::{check_source, parts_from_entries, App, Wait};
use crate::processor::FormatKey;
use axum::http::StatusCode;
use opentelemetry_proto::tonic::collector::logs::v1::logs_service_server::{LogsService, LogsServiceServer};
use opentelemetry_proto::tonic::collector::logs::v1::{ExportLogsServiceRequest, ExportLogsServiceResponse};
use std::sync::Arc;
use tokio::sync::watch;
use tonic::{Request, Response, Status};

struct Otlp(Arc<App>);

#[tonic::async_trait]
impl LogsService for Otlp {
    async fn export(
        &self,
        req: Request<ExportLogsServiceRequest>,
    ) -> Result<Response<ExportLogsServiceResponse>, Status> {
        let app = &self.0;
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
                app.metrics.rejected("bad_request", 1);
                Status::invalid_argument(e.to_string())
            })?;
        let parts = parts_from_entries(entries, "otlp", &app.cfg.source_label, &FormatKey::Whole);
        for p in &parts {
            check_source(&p.source).map_err(|e| Status::invalid_argument(e.message))?;
        }
        match app.submit(parts, "otlp_grpc", Wait::No).await {
            Ok(_) => Ok(Response::new(ExportLogsServiceResponse {
                partial_success: None,
            })),
            Err(e) => Err(match e.status {
                // OTLP: RESOURCE_EXHAUSTED and UNAVAILABLE are retryable.
                StatusCode::TOO_MANY_REQUESTS => Status::resource_exhausted(e.message),
                StatusCode::SERVICE_UNAVAILABLE => Status::unavailable(e.message),
                _ => Status::invalid_argument(e.message),
            }),
        }
    }
}

/// Serves until `stop` turns true; requests in flight finish first.
pub async fn serve(app: Arc<App>, listener: tokio::net::TcpListener, mut stop: watch::Receiver<bool>) {
    let max = app.cfg.max_body_bytes;
    let svc = LogsServiceServer::new(Otlp(app))
        .max_decoding_message_size(max)
        .accept_compressed(tonic::codec::CompressionEncoding::Gzip);
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
