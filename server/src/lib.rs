//! chatwire's companion server: serves the built app and speaks the native
//! protocol on `/ws`, backed by an [`engine::Engine`].

pub mod debug;
pub mod engine;
pub mod session;
pub mod static_files;

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use axum::routing::get;
use axum::Router;
use tokio::sync::watch;

use crate::debug::ReplyLog;
use crate::engine::Engine;

/// Limits a server enforces on each connection.
#[derive(Debug, Clone)]
pub struct Limits {
    /// Largest client frame accepted; larger ones get `frame_too_large`.
    pub max_frame_bytes: usize,
    /// Heartbeat interval announced to clients; the server pings at this rate.
    pub heartbeat: Duration,
    /// A connection that sends nothing for this long is closed.
    pub idle_timeout: Duration,
}

impl Default for Limits {
    fn default() -> Self {
        Self {
            max_frame_bytes: chatwire_protocol::DEFAULT_MAX_FRAME_BYTES,
            heartbeat: Duration::from_millis(chatwire_protocol::DEFAULT_HEARTBEAT_MS),
            idle_timeout: Duration::from_secs(60),
        }
    }
}

/// Everything the handlers share.
#[derive(Clone)]
pub struct AppState {
    pub engine: Arc<dyn Engine>,
    pub limits: Limits,
    /// Record of recent replies, served on `/debug/replies` when enabled.
    pub replies: Option<ReplyLog>,
    /// Flips to `true` when the server shuts down; sessions close politely.
    pub shutdown: watch::Receiver<bool>,
}

/// The server's router. `dist` is the built app, if it should be served.
pub fn router(state: AppState, dist: Option<PathBuf>) -> Router {
    let mut app = Router::new()
        .route("/ws", get(session::upgrade))
        .route("/healthz", get(|| async { "ok" }));
    if state.replies.is_some() {
        app = app.route("/debug/replies", get(debug::replies));
    }
    let app = app.with_state(state);
    match dist {
        Some(dir) => static_files::serve(app, dir),
        None => app,
    }
}
