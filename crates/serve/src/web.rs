//! The web page: `/` and `/ui/<asset>`, embedded in the binary.
//!
//! The page is plain HTML, CSS and ES modules from `crates/serve/web/`,
//! compiled in with `include_bytes!`, so an installed binary serves it with
//! nothing else on disk and no Node at run time. Its data comes only from the
//! documented query API (`/v1/sources`, `/v1/templates`, `/v1/templates/{id}`,
//! `/v1/alerts`). The page and its assets load without the bearer token (they
//! hold no data); the page asks for the token when an API call answers 401.
//!
//! Every answer carries a strict Content-Security-Policy (`default-src
//! 'self'`, no inline script or style), `Cache-Control: no-cache` and an
//! `ETag` (xxh3 of the bytes), so a browser revalidates with
//! `If-None-Match` and gets a 304 when nothing changed.

use axum::extract::Path;
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use std::sync::LazyLock;

/// The Content-Security-Policy of the page and its assets.
pub const CSP: &str = "default-src 'self'; script-src 'self'; style-src 'self'; \
    img-src 'self' data:; connect-src 'self'; object-src 'none'; base-uri 'none'; \
    form-action 'self'; frame-ancestors 'none'";

/// One embedded file.
struct Asset {
    name: &'static str,
    content_type: &'static str,
    bytes: &'static [u8],
    etag: String,
}

fn asset(name: &'static str, content_type: &'static str, bytes: &'static [u8]) -> Asset {
    Asset {
        name,
        content_type,
        bytes,
        etag: format!("\"{:016x}\"", xxhash_rust::xxh3::xxh3_64(bytes)),
    }
}

static INDEX: LazyLock<Asset> = LazyLock::new(|| {
    asset(
        "index.html",
        "text/html; charset=utf-8",
        include_bytes!("../web/index.html"),
    )
});

static ASSETS: LazyLock<Vec<Asset>> = LazyLock::new(|| {
    vec![
        asset(
            "app.js",
            "text/javascript; charset=utf-8",
            include_bytes!("../web/app.js"),
        ),
        asset(
            "chart.js",
            "text/javascript; charset=utf-8",
            include_bytes!("../web/chart.js"),
        ),
        asset(
            "style.css",
            "text/css; charset=utf-8",
            include_bytes!("../web/style.css"),
        ),
        asset(
            "favicon.svg",
            "image/svg+xml",
            include_bytes!("../web/favicon.svg"),
        ),
    ]
});

/// Whether `path` is the page or one of its assets: what the bearer token
/// does not guard.
pub fn is_public(path: &str) -> bool {
    path == "/" || path.strip_prefix("/ui/").is_some_and(|rest| !rest.is_empty())
}

/// The names of the embedded assets under `/ui/`.
pub fn asset_names() -> Vec<&'static str> {
    ASSETS.iter().map(|a| a.name).collect()
}

fn serve(a: &Asset, headers: &HeaderMap) -> Response {
    let fresh = headers
        .get(header::IF_NONE_MATCH)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.split(',').any(|t| t.trim() == a.etag || t.trim() == "*"));
    let mut r = if fresh {
        StatusCode::NOT_MODIFIED.into_response()
    } else {
        a.bytes.into_response()
    };
    let h = r.headers_mut();
    if !fresh {
        h.insert(header::CONTENT_TYPE, HeaderValue::from_static(a.content_type));
    }
    if let Ok(v) = HeaderValue::from_str(&a.etag) {
        h.insert(header::ETAG, v);
    }
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-cache"));
    h.insert(header::CONTENT_SECURITY_POLICY, HeaderValue::from_static(CSP));
    h.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    h.insert(header::REFERRER_POLICY, HeaderValue::from_static("no-referrer"));
    r
}

/// `GET /`: the page.
pub async fn index(headers: HeaderMap) -> Response {
    serve(&INDEX, &headers)
}

/// `GET /ui/{asset}`: a script, the style sheet or the icon.
pub async fn ui(Path(name): Path<String>, headers: HeaderMap) -> Response {
    match ASSETS.iter().find(|a| a.name == name) {
        Some(a) => serve(a, &headers),
        None => (
            StatusCode::NOT_FOUND,
            [(header::CONTENT_TYPE, "text/plain; charset=utf-8")],
            format!(
                "no asset {:?} under /ui/; the page has: {}\n",
                crate::config::clip(&name),
                asset_names().join(", ")
            ),
        )
            .into_response(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_the_page_and_its_assets_are_public() {
        assert!(is_public("/"));
        assert!(is_public("/ui/app.js"));
        assert!(!is_public("/ui/"));
        assert!(!is_public("/v1/sources"));
        assert!(!is_public("/uix/app.js"));
        assert!(!is_public("//"));
        assert!(!is_public("/metrics"));
    }

    #[test]
    fn every_asset_is_embedded_with_a_type() {
        assert!(!INDEX.bytes.is_empty());
        for a in ASSETS.iter() {
            assert!(!a.bytes.is_empty(), "{} is empty", a.name);
            assert!(a.etag.len() == 18, "{}", a.etag);
        }
    }
}
