//! Serving the built app: precompressed `.br`/`.gz` files when present,
//! on-the-fly compression otherwise, cache headers that suit trunk's
//! hashed file names, and a strict Content-Security-Policy.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use axum::http::{header, HeaderValue, Request, StatusCode};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::Router;
use tower_http::compression::CompressionLayer;
use tower_http::services::ServeDir;

/// The built app and the policy it is served under.
#[derive(Debug, Clone)]
pub struct Site {
    pub dist: PathBuf,
    /// Extra `connect-src` sources: the WebSocket backends the app may
    /// reach besides this server (e.g. `wss://llm.corp`, `ws://127.0.0.1:*`).
    pub connect_src: Vec<String>,
    /// Who may frame the app (`frame-ancestors`); `'self'` when empty.
    pub frame_ancestors: Vec<String>,
    /// A file served as `/config.json` (the app's runtime configuration),
    /// read on each request; otherwise `dist/config.json` if there is one.
    pub app_config: Option<PathBuf>,
}

impl Site {
    pub fn new(dist: PathBuf) -> Self {
        Self {
            dist,
            connect_src: Vec::new(),
            frame_ancestors: Vec::new(),
            app_config: None,
        }
    }

    /// The Content-Security-Policy header value: no inline script or
    /// style, wasm allowed, images only from the app itself or `data:`
    /// (attachments the user picked), sockets to this server and the
    /// configured backends.
    pub fn content_security_policy(&self) -> String {
        let connect = std::iter::once("'self'")
            .chain(self.connect_src.iter().map(String::as_str))
            .collect::<Vec<_>>()
            .join(" ");
        let ancestors = if self.frame_ancestors.is_empty() {
            "'self'".to_owned()
        } else {
            self.frame_ancestors.join(" ")
        };
        format!(
            "default-src 'self'; script-src 'self' 'wasm-unsafe-eval'; style-src 'self'; \
             img-src 'self' data:; connect-src {connect}; object-src 'none'; base-uri 'none'; \
             form-action 'none'; frame-ancestors {ancestors}"
        )
    }
}

pub fn serve(app: Router, site: Site) -> Router {
    let csp = HeaderValue::from_str(&site.content_security_policy())
        .unwrap_or_else(|_| HeaderValue::from_static("default-src 'self'"));
    let csp = Arc::new(csp);
    let files = ServeDir::new(&site.dist)
        .precompressed_br()
        .precompressed_gzip()
        .append_index_html_on_directories(true);
    // The app asks for config.json at start: the configured file, else
    // the one in dist, else an empty configuration (not a 404).
    let config = site
        .app_config
        .clone()
        .unwrap_or_else(|| site.dist.join("config.json"));
    let explicit = site.app_config.is_some();
    let app = app.route(
        "/config.json",
        get(move || {
            let path = config.clone();
            async move { app_config(&path, explicit).await }
        }),
    );
    app.fallback_service(files)
        .layer(middleware::from_fn(move |req, next| {
            let csp = Arc::clone(&csp);
            async move { site_headers(req, next, &csp).await }
        }))
        .layer(CompressionLayer::new())
}

/// `config.json` as it is now on disk; `{}` when there is none (a file
/// named with `--app-config` that cannot be read is an error).
async fn app_config(path: &Path, explicit: bool) -> Response {
    let json = |body: Vec<u8>| {
        (
            [(
                header::CONTENT_TYPE,
                HeaderValue::from_static("application/json"),
            )],
            body,
        )
            .into_response()
    };
    match tokio::fs::read(path).await {
        Ok(body) => json(body),
        Err(e) if explicit || e.kind() != std::io::ErrorKind::NotFound => {
            tracing::warn!(path = %path.display(), error = %e, "cannot read the app config");
            StatusCode::INTERNAL_SERVER_ERROR.into_response()
        }
        Err(_) => json(b"{}".to_vec()),
    }
}

/// Hashed assets never change; `index.html` and anything unhashed must be
/// revalidated so a new build is picked up at once. Every file goes out
/// with the policy and `nosniff`.
async fn site_headers(req: Request<axum::body::Body>, next: Next, csp: &HeaderValue) -> Response {
    let path = req.uri().path().to_owned();
    let mut res = next.run(req).await;
    if path == "/ws"
        || path.starts_with("/debug/")
        || path == "/healthz"
        || path.starts_with("/v1/")
    {
        return res;
    }
    let headers = res.headers_mut();
    headers.insert(header::CONTENT_SECURITY_POLICY, csp.clone());
    headers.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    headers.insert(
        header::REFERRER_POLICY,
        HeaderValue::from_static("no-referrer"),
    );
    let hashed = path.rsplit('/').next().is_some_and(is_hashed);
    let value = if hashed {
        "public, max-age=31536000, immutable"
    } else {
        "no-cache"
    };
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static(value));
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
    use super::*;

    #[test]
    fn the_policy_is_strict_and_names_the_backends() {
        let mut site = Site::new("dist".into());
        let csp = site.content_security_policy();
        assert!(csp.starts_with(
            "default-src 'self'; script-src 'self' 'wasm-unsafe-eval'; style-src 'self';"
        ));
        assert!(csp.contains("connect-src 'self';"));
        assert!(csp.contains("frame-ancestors 'self'"));
        assert!(!csp.contains("unsafe-inline"));
        site.connect_src.push("wss://llm.corp".into());
        site.frame_ancestors.push("https://wiki.corp".into());
        let csp = site.content_security_policy();
        assert!(csp.contains("connect-src 'self' wss://llm.corp;"));
        assert!(csp.ends_with("frame-ancestors https://wiki.corp"));
    }

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
