//! chatwire's companion server: serves the built app and speaks the native
//! protocol on `/ws`, backed by an [`engine::Engine`].

pub mod debug;
pub mod engine;
pub mod openai;
pub mod resume;
pub mod session;
pub mod static_files;

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use axum::routing::get;
use axum::serve::ListenerExt;
use axum::Router;
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::watch;

use crate::debug::ReplyLog;
use crate::engine::Engine;
pub use crate::static_files::Site;

/// See [`Limits::delta_interval`]: below a display frame (16.7 ms), so
/// coalescing never delays what a screen can show; above the gaps of a
/// stream nobody reads token by token.
pub const DEFAULT_DELTA_INTERVAL_MS: u64 = 8;

/// Limits a server enforces on each connection.
#[derive(Debug, Clone)]
pub struct Limits {
    /// Largest client frame accepted; larger ones get `frame_too_large`.
    pub max_frame_bytes: usize,
    /// Heartbeat interval announced to clients; the server pings at this rate.
    pub heartbeat: Duration,
    /// A connection that sends nothing for this long is closed.
    pub idle_timeout: Duration,
    /// Replies one connection may run at once.
    pub max_replies_per_socket: usize,
    /// Replies the whole server runs at once.
    pub max_replies_total: usize,
    /// Origins allowed to open `/ws` besides the server's own and
    /// localhost; `*` allows any.
    pub allowed_origins: Vec<String>,
    /// How long a reply whose connection dropped goes on for a client to
    /// resume it, and how long a finished reply stays resumable.
    pub resume_window: Duration,
    /// Tokens ready within this long after a `delta` go out together in
    /// the next one (zero: one frame per token). The first token of a
    /// reply, and any token after a quieter spell, goes out at once.
    pub delta_interval: Duration,
}

impl Default for Limits {
    fn default() -> Self {
        Self {
            max_frame_bytes: chatwire_protocol::DEFAULT_MAX_FRAME_BYTES,
            heartbeat: Duration::from_millis(chatwire_protocol::DEFAULT_HEARTBEAT_MS),
            idle_timeout: Duration::from_secs(60),
            max_replies_per_socket: 1,
            max_replies_total: 64,
            allowed_origins: Vec::new(),
            resume_window: Duration::from_secs(60),
            delta_interval: Duration::from_millis(DEFAULT_DELTA_INTERVAL_MS),
        }
    }
}

/// Counts the replies running on the whole server.
#[derive(Clone, Default)]
pub struct ReplyCounter(Arc<AtomicUsize>);

/// One running reply; dropping it frees its place.
pub struct ReplySlot(Arc<AtomicUsize>);

impl ReplyCounter {
    /// A place for one more reply, if fewer than `max` run.
    pub fn acquire(&self, max: usize) -> Option<ReplySlot> {
        self.0
            .fetch_update(Ordering::AcqRel, Ordering::Acquire, |n| {
                (n < max).then_some(n + 1)
            })
            .ok()
            .map(|_| ReplySlot(Arc::clone(&self.0)))
    }
}

impl Drop for ReplySlot {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::AcqRel);
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
    /// Replies running on the whole server.
    pub replies_running: ReplyCounter,
    /// Recent replies per client, for `resume`.
    pub resume: resume::Store,
    /// Serve the OpenAI-compatible API under `/v1`.
    pub openai_api: bool,
}

/// The server's router. `site` is the built app, if it should be served.
pub fn router(state: AppState, site: Option<Site>) -> Router {
    let mut app = Router::new()
        .route("/ws", get(session::upgrade))
        .route("/healthz", get(|| async { "ok" }));
    if state.replies.is_some() {
        app = app.route("/debug/replies", get(debug::replies));
    }
    if state.openai_api {
        app = app.route("/v1/models", get(openai::models)).route(
            "/v1/chat/completions",
            axum::routing::post(openai::chat_completions),
        );
    }
    let app = app.with_state(state);
    match site {
        Some(site) => static_files::serve(app, site),
        None => app,
    }
}

/// What the server listens with: TCP connections with `TCP_NODELAY`.
pub type Listener = axum::serve::TapIo<TcpListener, fn(&mut TcpStream)>;

/// Listens on `addr`. Every connection sends at once what is written to
/// it: a token is a small WebSocket frame, and with Nagle's algorithm it
/// would wait for the client to acknowledge the previous one, which a
/// client may delay by 40 ms (Linux) to 200 ms (Windows).
pub async fn listen(addr: impl tokio::net::ToSocketAddrs) -> std::io::Result<Listener> {
    let listener = TcpListener::bind(addr).await?;
    Ok(listener.tap_io(no_delay as fn(&mut TcpStream)))
}

fn no_delay(tcp: &mut TcpStream) {
    if let Err(e) = tcp.set_nodelay(true) {
        tracing::warn!("cannot set TCP_NODELAY on a connection: {e}");
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::serve::Listener as _;

    #[tokio::test]
    async fn connections_send_without_delay() {
        let mut listener = listen("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let client = tokio::spawn(TcpStream::connect(addr));
        let (server_side, _) = listener.accept().await;
        assert!(server_side.nodelay().unwrap());
        // Plain sockets have Nagle on: the listener is what turns it off.
        let _client = client.await.unwrap().unwrap();
        let plain = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let plain_addr = plain.local_addr().unwrap();
        let _c = TcpStream::connect(plain_addr).await.unwrap();
        let (s, _) = plain.accept().await.unwrap();
        assert!(!s.nodelay().unwrap());
    }
}
