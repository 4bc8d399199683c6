#!/usr/bin/env python3
"""Send N log records with the real OpenTelemetry Python SDK and its OTLP log exporters.

Run with the venv that scripts/clients/setup.sh builds:
  target/clients/venv/bin/python scripts/clients/otel_send.py \
      --endpoint http://127.0.0.1:PORT --protocol http|http-json|grpc --service NAME --count N

protocol:
  http       opentelemetry-exporter-otlp-proto-http: POST {endpoint}/v1/logs,
             Content-Type: application/x-protobuf
  http-json  opentelemetry-exporter-otlp-json-http: POST {endpoint}/v1/logs,
             Content-Type: application/json
  grpc       opentelemetry-exporter-otlp-proto-grpc: LogsService/Export on {endpoint} (plaintext)

For http/http-json an endpoint without a path gets /v1/logs appended (as the SDK does for
OTEL_EXPORTER_OTLP_ENDPOINT); an endpoint with a path is used as given.

Pipeline: LoggerProvider(resource service.name=NAME) -> BatchLogRecordProcessor -> exporter.
The exporter is wrapped (not replaced) so every export()'s LogRecordExportResult is recorded.
Exit 0 only when force_flush() returned True, every export() returned SUCCESS and the
exported records add up to N; prints `OK otel protocol=... exported=N requests=R`.
Exit 1 with `FAIL ...` on stderr otherwise; exit 2 on bad arguments.

Bodies are the lines of scripts/clients/lines.py (same sequence as the other drivers).
"""
import argparse
import os
import sys
import threading
import time
from urllib.parse import urlparse

sys.dont_write_bytecode = True  # no __pycache__ beside the tracked scripts
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from lines import line  # noqa: E402


class RecordingExporter:
    """Delegates to a real exporter and records what each export() returned."""

    def __init__(self, inner, success):
        self._inner = inner
        self._success = success
        self._lock = threading.Lock()
        self.requests = 0
        self.exported = 0
        self.failures = 0

    def export(self, batch):
        result = self._inner.export(batch)
        with self._lock:
            self.requests += 1
            if result == self._success:
                self.exported += len(batch)
            else:
                self.failures += 1
        return result

    def shutdown(self):
        return self._inner.shutdown()

    def force_flush(self, timeout_millis=30000):
        return self._inner.force_flush(timeout_millis)


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--endpoint", required=True, help="http://127.0.0.1:PORT (path optional for http)")
    p.add_argument("--protocol", choices=["http", "http-json", "grpc"], default="http")
    p.add_argument("--service", required=True, help="resource attribute service.name")
    p.add_argument("--count", type=int, required=True)
    p.add_argument("--prefix", default="", help="text put before every line (plus one space)")
    p.add_argument("--start", type=int, default=0, help="first line index (lines.py)")
    p.add_argument("--compression", choices=["none", "gzip"], default="none")
    p.add_argument("--timeout", type=float, default=10.0, help="seconds per export request")
    p.add_argument("--batch-size", type=int, default=512, help="max records per export request")
    args = p.parse_args()
    if args.count < 0 or args.batch_size < 1:
        p.error("--count must be >= 0 and --batch-size >= 1")

    # The three exporters all read the per-signal compression variable; setting it here keeps
    # one code path for them (the protobuf/json/grpc exporters use different enum types).
    # The gRPC exporter rejects the value "none", so "none" is expressed by unsetting both.
    os.environ.pop("OTEL_EXPORTER_OTLP_COMPRESSION", None)
    os.environ.pop("OTEL_EXPORTER_OTLP_LOGS_COMPRESSION", None)
    if args.compression != "none":
        os.environ["OTEL_EXPORTER_OTLP_LOGS_COMPRESSION"] = args.compression

    from opentelemetry._logs import SeverityNumber
    from opentelemetry.sdk._logs import LoggerProvider
    from opentelemetry.sdk._logs.export import BatchLogRecordProcessor, LogRecordExportResult
    from opentelemetry.sdk.resources import Resource

    endpoint = args.endpoint
    if args.protocol in ("http", "http-json"):
        if urlparse(endpoint).path in ("", "/"):
            endpoint = endpoint.rstrip("/") + "/v1/logs"
        if args.protocol == "http":
            from opentelemetry.exporter.otlp.proto.http._log_exporter import OTLPLogExporter
        else:
            from opentelemetry.exporter.otlp.json.http._log_exporter import OTLPLogExporter
        inner = OTLPLogExporter(endpoint=endpoint, timeout=args.timeout)
    else:
        from opentelemetry.exporter.otlp.proto.grpc._log_exporter import OTLPLogExporter

        inner = OTLPLogExporter(endpoint=endpoint, insecure=True, timeout=args.timeout)

    exporter = RecordingExporter(inner, LogRecordExportResult.SUCCESS)
    provider = LoggerProvider(resource=Resource.create({"service.name": args.service}))
    provider.add_log_record_processor(
        BatchLogRecordProcessor(
            exporter,
            max_queue_size=max(2048, args.count),
            max_export_batch_size=args.batch_size,
            schedule_delay_millis=200,
            export_timeout_millis=int(args.timeout * 1000),
        )
    )
    logger = provider.get_logger("logsieve.clients.otel_send")

    started = time.monotonic()
    for i in range(args.start, args.start + args.count):
        body = line(i, args.prefix)
        severity = SeverityNumber.WARN if i % 3 == 2 else SeverityNumber.INFO
        logger.emit(
            timestamp=time.time_ns(),
            severity_number=severity,
            severity_text="WARN" if severity == SeverityNumber.WARN else "INFO",
            body=body,
            attributes={"seq": i, "driver": "otel_send.py"},
        )
    flushed = provider.force_flush(timeout_millis=int(max(30.0, args.timeout * 3) * 1000))
    provider.shutdown()
    elapsed = time.monotonic() - started

    summary = "protocol=%s endpoint=%s exported=%d/%d requests=%d failed_requests=%d flushed=%s %.2fs" % (
        args.protocol,
        endpoint,
        exporter.exported,
        args.count,
        exporter.requests,
        exporter.failures,
        flushed,
        elapsed,
    )
    if flushed and exporter.failures == 0 and exporter.exported == args.count:
        print("OK otel " + summary, flush=True)
        return 0
    print("FAIL otel " + summary, file=sys.stderr, flush=True)
    return 1


if __name__ == "__main__":
    sys.exit(main())
