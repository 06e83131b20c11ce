//! Serving the built app: precompressed `.br`/`.gz` files when present,
//! on-the-fly compression otherwise, and cache headers that suit trunk's
//! hashed file names.

use std::path::PathBuf;

use axum::http::{header, HeaderValue, Request};
use axum::middleware::{self, Next};
use axum::response::Response;
use axum::Router;
use tower_http::compression::CompressionLayer;
use tower_http::services::ServeDir;

pub fn serve(app: Router, dist: PathBuf) -> Router {
    let files = ServeDir::new(dist)
        .precompressed_br()
        .precompressed_gzip()
        .append_index_html_on_directories(true);
    app.fallback_service(files)
        .layer(middleware::from_fn(cache_headers))
        .layer(CompressionLayer::new())
}

/// Hashed assets never change; `index.html` and anything unhashed must be
/// revalidated so a new build is picked up at once.
async fn cache_headers(req: Request<axum::body::Body>, next: Next) -> Response {
    let path = req.uri().path().to_owned();
    let mut res = next.run(req).await;
    if path == "/ws" || path.starts_with("/debug/") || path == "/healthz" {
        return res;
    }
    let hashed = path.rsplit('/').next().is_some_and(is_hashed);
    let value = if hashed {
        "public, max-age=31536000, immutable"
    } else {
        "no-cache"
    };
    res.headers_mut()
        .insert(header::CACHE_CONTROL, HeaderValue::from_static(value));
    res
}

/// Whether a file name carries trunk's content hash: `name-<hex>.ext` or
/// `name-<hex>_bg.wasm`.
fn is_hashed(name: &str) -> bool {
    let stem = name.split('.').next().unwrap_or(name);
    let stem = stem.strip_suffix("_bg").unwrap_or(stem);
    stem.rsplit_once('-').is_some_and(|(_, hash)| {
        (8..=16).contains(&hash.len()) && hash.bytes().all(|b| b.is_ascii_hexdigit())
    })
}

#[cfg(test)]
mod tests {
    use super::is_hashed;

    #[test]
    fn trunk_names_are_hashed() {
        assert!(is_hashed("chatwire-1f0e9b3c5d7a2b4c_bg.wasm"));
        assert!(is_hashed("chatwire-1f0e9b3c5d7a2b4c.js"));
        assert!(is_hashed("style-a1b2c3d4e5f60718.css"));
        assert!(!is_hashed("index.html"));
        assert!(!is_hashed("config.json"));
        assert!(!is_hashed("my-file.css"));
    }
}
