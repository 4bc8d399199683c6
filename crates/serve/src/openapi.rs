//! The OpenAPI 3.1 document served at `/v1/openapi.json`.

use serde_json::{json, Value};

fn q(name: &str, desc: &str) -> Value {
    json!({ "name": name, "in": "query", "required": false, "description": desc, "schema": { "type": "string" } })
}

fn err() -> Value {
    json!({ "description": "What is wrong", "content": { "application/json": { "schema": { "$ref": "#/components/schemas/Error" } } } })
}

fn ok_json(desc: &str, schema: Value) -> Value {
    json!({ "description": desc, "content": { "application/json": { "schema": schema } } })
}

/// The document.
pub fn document() -> Value {
    let time = "RFC 3339, epoch seconds/ms/ns, or an age before now such as 15m, 2h, 7d";
    let ingest_params = vec![
        q("source", "Source of lines that name none (default: default)"),
        q(
            "format",
            "Loghub-style header format, e.g. <Date> <Time> <Level>: <Content>",
        ),
        q(
            "preset",
            "Header preset: syslog, rfc5424, combined, json, logfmt or cef",
        ),
    ];
    let body = json!({
        "required": true,
        "content": {
            "text/plain": { "schema": { "type": "string", "description": "One log line per line" } },
            "application/x-ndjson": { "schema": { "type": "string", "description": "One JSON object per line: {\"line\": ..., \"timestamp\"?: ..., \"source\"?: ..., \"labels\"?: {...}}" } }
        }
    });
    let common = json!({
        "400": err(), "401": err(), "413": err(), "422": err(),
        "429": { "description": "The queue is full; retry after Retry-After seconds", "headers": { "Retry-After": { "schema": { "type": "integer" } } } },
        "503": err()
    });
    let with = |mut base: Value, extra: Value| {
        if let (Some(b), Some(e)) = (base.as_object_mut(), extra.as_object()) {
            for (k, v) in e {
                b.insert(k.clone(), v.clone());
            }
        }
        base
    };
    json!({
        "openapi": "3.1.0",
        "info": {
            "title": "logsieve serve",
            "version": env!("CARGO_PKG_VERSION"),
            "description": "Log lines in; templates, counts and Sigma alerts out. A 2xx on an ingestion endpoint means the lines' counts are committed to the store."
        },
        "components": {
            "securitySchemes": { "bearer": { "type": "http", "scheme": "bearer" } },
            "schemas": {
                "Error": { "type": "object", "required": ["error"], "properties": { "error": { "type": "string" } } },
                "Template": { "type": "object", "required": ["template_id", "source", "template", "count", "first_seen", "last_seen", "series"], "properties": {
                    "template_id": { "type": "string", "pattern": "^[0-9a-f]{16}$" },
                    "source": { "type": "string" }, "template": { "type": "string" },
                    "count": { "type": "integer" }, "first_seen": { "type": "string", "format": "date-time" },
                    "last_seen": { "type": "string", "format": "date-time" },
                    "series": { "type": "array", "description": "[minute start, count] per non-empty minute", "items": { "type": "array" } }
                } },
                "Record": { "type": "object", "description": "What logsieve parse writes for a line (line, source, template_id, template, params, param_types, header fields, flags), with labels and the alerts that line raised", "properties": {
                    "line": { "type": "integer" }, "template_id": { "type": ["string", "null"] }, "template": { "type": ["string", "null"] },
                    "params": { "type": "array", "items": { "type": "string" } }, "param_types": { "type": "array", "items": { "type": "string" } },
                    "alerts": { "type": "array", "items": { "type": "object" } }
                } }
            }
        },
        "security": [ { "bearer": [] } ],
        "paths": {
            "/v1/ingest": { "post": { "summary": "Send lines (text or NDJSON; gzip/zstd Content-Encoding)", "parameters": ingest_params, "requestBody": body,
                "responses": with(json!({ "200": ok_json("Committed", json!({ "type": "object", "properties": { "accepted": { "type": "integer" } } })) }), common.clone()) } },
            "/v1/analyze": { "post": { "summary": "Synchronous analysis: one record per line, not stored", "parameters": ingest_params, "requestBody": body,
                "responses": with(json!({ "200": ok_json("Records", json!({ "type": "object", "properties": { "records": { "type": "array", "items": { "$ref": "#/components/schemas/Record" } } } })) }), common.clone()) } },
            "/loki/api/v1/push": { "post": { "summary": "Loki push API: JSON, or protobuf + snappy", "responses": with(json!({ "204": { "description": "Committed" } }), common.clone()) } },
            "/v1/logs": { "post": { "summary": "OTLP/HTTP logs: protobuf or JSON", "responses": with(json!({ "200": { "description": "ExportLogsServiceResponse" } }), common.clone()) } },
            "/v1/rules/reload": { "post": { "summary": "Reload the Sigma rules (also on SIGHUP); lines keep flowing", "responses": { "200": ok_json("Reloaded", json!({ "type": "object" })), "422": err() } } },
            "/v1/sources": { "get": { "summary": "Sources with their templates and lines", "responses": { "200": ok_json("Sources", json!({ "type": "object" })) } } },
            "/v1/templates": { "get": { "summary": "Live templates by count, with per-minute series; merged history counts under the live template",
                "parameters": [q("source", "Only this source"), q("since", time), q("until", time), q("q", "Case-insensitive substring of the template"), q("new_since", &format!("Only templates first seen at or after: {time}")), q("limit", "At most this many (default 1000)"), q("series", "false to leave out the series")],
                "responses": { "200": ok_json("Templates", json!({ "type": "object", "properties": { "lines": { "type": "integer" }, "templates": { "type": "array", "items": { "$ref": "#/components/schemas/Template" } } } })), "400": err() } } },
            "/v1/templates/{id}": { "get": { "summary": "One template: examples, top variable values, merge history",
                "parameters": [ { "name": "id", "in": "path", "required": true, "schema": { "type": "string" } }, q("source", "Only this source") ],
                "responses": { "200": ok_json("Template", json!({ "type": "object" })), "400": err(), "404": err() } } },
            "/v1/alerts": { "get": { "summary": "Alerts, newest first",
                "parameters": [q("since", time), q("until", time), q("level", "Sigma level"), q("rule", "Rule id or title"), q("source", "Only this source"), q("template_id", "Only alerts on lines of this template or of templates merged into it"), q("limit", "At most this many (default 1000)")],
                "responses": { "200": ok_json("Alerts", json!({ "type": "object" })), "400": err() } } },
            "/loki/api/v1/patterns": { "get": { "summary": "Loki's patterns response shape",
                "parameters": [q("query", "Stream selector, e.g. {service_name=\"api\"}"), q("start", time), q("end", time), q("step", "Sample step, e.g. 60s, 5m")],
                "responses": { "200": ok_json("Patterns", json!({ "type": "object" })), "400": err() } } },
            "/v1/openapi.json": { "get": { "summary": "This document", "responses": { "200": { "description": "OpenAPI" } } } },
            "/": { "get": { "summary": "The web page (no token needed; it asks for one when the API answers 401)", "security": [], "responses": { "200": { "description": "text/html" }, "304": { "description": "Not modified (If-None-Match)" } } } },
            "/ui/{asset}": { "get": { "summary": "The web page's scripts, style sheet and icon, embedded in the binary", "security": [],
                "parameters": [ { "name": "asset", "in": "path", "required": true, "schema": { "type": "string" } } ],
                "responses": { "200": { "description": "The file, with its content type" }, "304": { "description": "Not modified (If-None-Match)" }, "404": { "description": "No such asset" } } } },
            "/healthz": { "get": { "summary": "Alive", "security": [], "responses": { "200": { "description": "ok" } } } },
            "/readyz": { "get": { "summary": "Ready: store open, rules loaded", "security": [], "responses": { "200": { "description": "ready" }, "503": { "description": "not ready" } } } },
            "/metrics": { "get": { "summary": "Prometheus metrics", "responses": { "200": { "description": "text exposition format" } } } }
        }
    })
}
