//! One WebSocket connection speaking the native protocol.
//!
//! A session reads client frames, answers them, and runs at most one reply
//! at a time in its own task. Everything the session and its reply send
//! goes through one writer task, so frames never interleave mid-write and a
//! slow client slows its own engine down (bounded channel), nobody else's.

use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use axum::extract::ws::{CloseFrame, Message, WebSocket, WebSocketUpgrade};
use axum::extract::State;
use axum::response::Response;
use chatwire_protocol::{
    ChatRequest, ClientFrame, ErrorCode, FinishReason, ServerFrame, PROTOCOL_VERSION,
};
use futures::{FutureExt, SinkExt, StreamExt};
use tokio::sync::mpsc;
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;

use crate::engine::{EngineEvent, GenerateRequest};
use crate::resume::{self, Attached, ReplyBuf};
use crate::AppState;

/// Frames larger than this are refused by the WebSocket layer itself
/// (the connection closes with 1009); below it, the configured
/// `max_frame_bytes` is answered with a `frame_too_large` error frame.
fn transport_cap(max_frame_bytes: usize) -> usize {
    max_frame_bytes.saturating_mul(4).max(1 << 20)
}

const MAX_ID_LEN: usize = 128;

/// Whether a browser page from `origin` may open `/ws` on `host`: the
/// server's own origin, localhost, and the configured ones. Clients that
/// send no Origin (not browsers) are not restricted by it.
pub fn origin_allowed(origin: Option<&str>, host: Option<&str>, allowed: &[String]) -> bool {
    let Some(origin) = origin else { return true };
    if allowed
        .iter()
        .any(|a| a == "*" || a.eq_ignore_ascii_case(origin))
    {
        return true;
    }
    let Some(authority) = origin.split_once("://").map(|(_, a)| a) else {
        return false;
    };
    if host.is_some_and(|h| h.eq_ignore_ascii_case(authority)) {
        return true;
    }
    let hostname = match authority.strip_prefix('[') {
        Some(v6) => v6.split(']').next().unwrap_or(""),
        None => authority.rsplit_once(':').map_or(authority, |(h, _)| h),
    };
    matches!(hostname, "localhost" | "127.0.0.1" | "::1")
}

/// The `id` of a `chat` frame, read without decoding the rest.
fn oversize_chat_id(text: &str) -> Option<String> {
    #[derive(serde::Deserialize)]
    struct Head {
        #[serde(rename = "type")]
        kind: String,
        id: Option<String>,
    }
    let head: Head = serde_json::from_str(text).ok()?;
    (head.kind == "chat")
        .then_some(head.id?)
        .filter(|id| !id.is_empty() && id.len() <= MAX_ID_LEN)
}

pub async fn upgrade(
    ws: WebSocketUpgrade,
    headers: axum::http::HeaderMap,
    State(state): State<AppState>,
) -> Response {
    use axum::response::IntoResponse;
    let header = |name| {
        headers
            .get(name)
            .and_then(|v: &axum::http::HeaderValue| v.to_str().ok())
    };
    let origin = header(axum::http::header::ORIGIN);
    if !origin_allowed(
        origin,
        header(axum::http::header::HOST),
        &state.limits.allowed_origins,
    ) {
        tracing::warn!(
            origin = origin.unwrap_or(""),
            "refused a WebSocket from a foreign origin"
        );
        return (
            axum::http::StatusCode::FORBIDDEN,
            "this origin may not open /ws (see --allowed-origin)",
        )
            .into_response();
    }
    let cap = transport_cap(state.limits.max_frame_bytes);
    ws.max_message_size(cap)
        .max_frame_size(cap)
        .on_upgrade(move |socket| run(state, socket))
}

enum Outgoing {
    Frame(ServerFrame),
    Close(u16, &'static str),
}

type Out = mpsc::Sender<Outgoing>;

/// Largest delta made by merging ready tokens for a client that is behind.
const MERGE_LIMIT_BYTES: usize = 4096;

/// Gives each connection without a client id its own key in the store
/// (its replies cannot be resumed from another connection).
static CONNECTIONS: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(1);

fn now_ms() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX))
}

async fn run(state: AppState, socket: WebSocket) {
    let (mut sink, mut stream) = socket.split();
    let (out, mut out_rx) = mpsc::channel::<Outgoing>(64);
    let writer = tokio::spawn(async move {
        while let Some(item) = out_rx.recv().await {
            let msg = match item {
                Outgoing::Frame(f) => Message::Text(f.encode().into()),
                Outgoing::Close(code, reason) => Message::Close(Some(CloseFrame {
                    code,
                    reason: reason.into(),
                })),
            };
            let closing = matches!(msg, Message::Close(_));
            if sink.send(msg).await.is_err() || closing {
                break;
            }
        }
    });

    let mut session = Session {
        state: state.clone(),
        out: out.clone(),
        client: None,
        anonymous: format!(
            "connection {}",
            CONNECTIONS.fetch_add(1, std::sync::atomic::Ordering::Relaxed)
        ),
        attached: Vec::new(),
        closed: CancellationToken::new(),
    };
    let mut shutdown = state.shutdown.clone();
    let mut heartbeat = tokio::time::interval(state.limits.heartbeat);
    heartbeat.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    heartbeat.tick().await;
    let mut last_seen = Instant::now();

    loop {
        tokio::select! {
            msg = stream.next() => {
                let Some(Ok(msg)) = msg else { break };
                last_seen = Instant::now();
                match msg {
                    Message::Text(text) => session.on_text(text.as_str()).await,
                    Message::Binary(_) => {
                        session
                            .send(ServerFrame::error(None, ErrorCode::BadFrame, "binary frames are not part of the protocol; send JSON text frames"))
                            .await;
                    }
                    Message::Close(_) => break,
                    Message::Ping(_) | Message::Pong(_) => {}
                }
            }
            _ = heartbeat.tick() => {
                if last_seen.elapsed() >= state.limits.idle_timeout {
                    tracing::info!("closing idle connection");
                    let _ = out.send(Outgoing::Close(1001, "idle timeout")).await;
                    break;
                }
                session.send(ServerFrame::Ping { t: now_ms() }).await;
            }
            _ = shutdown.changed() => {
                let _ = out.send(Outgoing::Close(1001, "server shutting down")).await;
                break;
            }
        }
    }

    session.close();
    drop(session);
    drop(out);
    let _ = tokio::time::timeout(Duration::from_secs(2), writer).await;
}

struct Session {
    state: AppState,
    out: Out,
    /// The client id from `hello`: the key of its replies in the store.
    client: Option<String>,
    /// The key used when the client gave no id.
    anonymous: String,
    /// Replies this connection receives (started here or resumed).
    attached: Vec<Attached>,
    /// Cancelled when the connection ends: its forwarders stop.
    closed: CancellationToken,
}

impl Session {
    /// The key of this client's replies in the store: `client <id>`, or
    /// `connection <n>` for a client that gave no id (never equal).
    fn client_key(&self) -> String {
        match &self.client {
            Some(c) => format!("client {c}"),
            None => self.anonymous.clone(),
        }
    }

    /// Starts copying `buf`'s frames from index `from` to this connection.
    fn spawn_forwarder(&mut self, attached: Attached, from: usize) {
        self.attached.retain(|a| a.buf.id != attached.buf.id);
        let out = self.out.clone();
        tokio::spawn(resume::forward(
            Arc::clone(&attached.buf),
            attached.generation,
            from,
            self.closed.clone(),
            move |frame| {
                let out = out.clone();
                async move { out.send(Outgoing::Frame(frame)).await.is_ok() }
            },
        ));
        self.attached.push(attached);
    }

    /// The connection ended: its replies go on into their buffers for a
    /// client that comes back within the resume window, and stop after it
    /// (at once for a client without an id: it could never resume).
    fn close(&mut self) {
        self.closed.cancel();
        let window = self.state.limits.resume_window;
        for a in self.attached.drain(..) {
            if !a.buf.detach(a.generation) || a.buf.is_finished() {
                continue;
            }
            if self.client.is_none() || window.is_zero() {
                a.buf.cancel.cancel();
                continue;
            }
            tokio::spawn(async move {
                tokio::time::sleep(window).await;
                a.buf.cancel_if_abandoned(window);
            });
        }
    }

    async fn resume(&mut self, id: String, after_seq: u64) {
        let Some(buf) = self.state.resume.get(&self.client_key(), &id) else {
            let msg = if self.client.is_none() {
                format!("reply `{id}` cannot be resumed: say `hello` with a client id first")
            } else {
                format!(
                    "reply `{id}` is no longer on this server (finished more than {} s ago, or the server restarted)",
                    self.state.limits.resume_window.as_secs()
                )
            };
            self.send(ServerFrame::error(
                Some(&id),
                ErrorCode::ResumeUnavailable,
                msg,
            ))
            .await;
            return;
        };
        tracing::debug!(reply = %id, after_seq, "resuming");
        let (attached, from) = resume::attach(&buf, Some(after_seq));
        self.spawn_forwarder(attached, from);
    }

    async fn send(&self, frame: ServerFrame) {
        let _ = self.out.send(Outgoing::Frame(frame)).await;
    }

    async fn on_text(&mut self, text: &str) {
        let limit = self.state.limits.max_frame_bytes;
        if text.len() > limit {
            let msg = format!(
                "frame of {} bytes exceeds the limit of {limit} bytes",
                text.len()
            );
            // A chat request too large ends that reply, so the client is
            // not left waiting for it.
            let id = oversize_chat_id(text);
            self.send(ServerFrame::error(
                id.as_deref(),
                ErrorCode::FrameTooLarge,
                msg,
            ))
            .await;
            return;
        }
        let frame = match ClientFrame::decode(text) {
            Ok(f) => f,
            Err(e) => {
                tracing::debug!(error = %e, "undecodable client frame");
                self.send(ServerFrame::error(None, e.code(), e.to_string()))
                    .await;
                return;
            }
        };
        match frame {
            ClientFrame::Hello { v, .. } if v != PROTOCOL_VERSION => {
                let msg =
                    format!("this server speaks protocol version {PROTOCOL_VERSION}, not {v}");
                self.send(ServerFrame::error(None, ErrorCode::UnsupportedVersion, msg))
                    .await;
            }
            ClientFrame::Hello { client, .. } => {
                self.client = client.filter(|c| !c.is_empty() && c.len() <= MAX_ID_LEN);
                let welcome = ServerFrame::Welcome {
                    v: PROTOCOL_VERSION,
                    server: concat!("chatwire-server/", env!("CARGO_PKG_VERSION")).into(),
                    models: self.state.engine.models(),
                    heartbeat_ms: u64::try_from(self.state.limits.heartbeat.as_millis())
                        .unwrap_or(u64::MAX),
                    max_frame_bytes: limit,
                };
                self.send(welcome).await;
            }
            ClientFrame::Models => {
                let models = self.state.engine.models();
                self.send(ServerFrame::Models { models }).await;
            }
            ClientFrame::Ping { t } => self.send(ServerFrame::Pong { t }).await,
            ClientFrame::Pong { .. } => {}
            ClientFrame::Cancel { id } => self.cancel(id).await,
            ClientFrame::Resume { id, after_seq } => self.resume(id, after_seq).await,
            ClientFrame::Chat(req) => self.start(req).await,
        }
    }

    async fn cancel(&mut self, id: String) {
        let running = self
            .attached
            .iter()
            .map(|a| Arc::clone(&a.buf))
            .find(|b| b.id == id)
            .or_else(|| self.state.resume.get(&self.client_key(), &id))
            .filter(|b| !b.is_finished());
        match running {
            Some(b) => b.cancel.cancel(),
            _ => {
                let msg = format!("no reply `{id}` is running on this connection");
                self.send(ServerFrame::error(Some(&id), ErrorCode::NotRunning, msg))
                    .await;
            }
        }
    }

    /// Checks a chat request; returns the model to use and its place among
    /// the server's replies, or the error frame.
    fn admit(&mut self, req: &ChatRequest) -> Result<(String, crate::ReplySlot), ServerFrame> {
        let refuse = |code, msg: String| Err(ServerFrame::error(Some(&req.id), code, msg));
        if req.id.is_empty() || req.id.len() > MAX_ID_LEN {
            return refuse(
                ErrorCode::BadFrame,
                format!("chat.id must be 1 to {MAX_ID_LEN} bytes"),
            );
        }
        self.attached.retain(|a| !a.buf.is_finished());
        if self.attached.iter().any(|a| a.buf.id == req.id)
            || self
                .state
                .resume
                .get(&self.client_key(), &req.id)
                .is_some_and(|b| !b.is_finished())
        {
            return refuse(
                ErrorCode::BadFrame,
                format!("reply `{}` is already running", req.id),
            );
        }
        let per_socket = self.state.limits.max_replies_per_socket;
        if self.attached.len() >= per_socket {
            let ids: Vec<&str> = self.attached.iter().map(|a| a.buf.id.as_str()).collect();
            return refuse(
                ErrorCode::Busy,
                format!(
                    "{} running on this connection (limit {per_socket}); cancel one or wait for its end",
                    ids.join(", ")
                ),
            );
        }
        if req.messages.is_empty() {
            return refuse(ErrorCode::BadFrame, "chat.messages is empty".into());
        }
        if let Err(e) = req.params.validate() {
            return refuse(ErrorCode::InvalidParams, e.to_string());
        }
        let models = self.state.engine.models();
        let model = match &req.model {
            None => models.first().map(|m| m.id.clone()).unwrap_or_default(),
            Some(m) if models.iter().any(|x| &x.id == m) => m.clone(),
            Some(m) => {
                return refuse(
                    ErrorCode::UnknownModel,
                    format!("no model `{m}` on this server"),
                )
            }
        };
        let total = self.state.limits.max_replies_total;
        match self.state.replies_running.acquire(total) {
            Some(slot) => Ok((model, slot)),
            None => refuse(
                ErrorCode::Overloaded,
                format!("the server is running its limit of {total} replies; try again shortly"),
            ),
        }
    }

    async fn start(&mut self, req: ChatRequest) {
        let (model, slot) = match self.admit(&req) {
            Ok(admitted) => admitted,
            Err(frame) => return self.send(frame).await,
        };
        if let Some(log) = &self.state.replies {
            log.start(&req, &model);
        }
        let cancel = CancellationToken::new();
        let buf = ReplyBuf::new(req.id.clone(), cancel.clone());
        self.state.resume.insert(
            &self.client_key(),
            Arc::clone(&buf),
            self.state.limits.resume_window,
        );
        let (attached, from) = resume::attach(&buf, None);
        self.spawn_forwarder(attached, from);
        let reply = Reply {
            state: self.state.clone(),
            buf,
            id: req.id.clone(),
            seq: 0,
            last_delta: None,
            slot: Some(slot),
        };
        tokio::spawn(reply.stream(req, model, cancel));
    }
}

/// One reply being generated into its buffer.
struct Reply {
    state: AppState,
    buf: Arc<ReplyBuf>,
    id: String,
    seq: u64,
    /// When the last `delta` went out.
    last_delta: Option<tokio::time::Instant>,
    /// Its place among the server's running replies, freed as it ends
    /// (also when the task ends otherwise: dropped with the reply).
    slot: Option<crate::ReplySlot>,
}

impl Reply {
    /// Appends a frame for the client; waits while the attached client is
    /// a window behind (a slow client slows its own reply down).
    async fn send(&self, frame: ServerFrame) -> bool {
        self.buf.push(frame);
        tokio::select! {
            _ = self.buf.wait_for_room() => {}
            _ = self.buf.cancel.cancelled() => {}
        }
        true
    }

    async fn end(&mut self, finish_reason: FinishReason, usage: Option<chatwire_protocol::Usage>) {
        // Free the place first: a client that sees `end` may start another.
        self.slot.take();
        self.seq += 1;
        if let Some(log) = &self.state.replies {
            log.finish(&self.id, finish_reason);
        }
        let frame = ServerFrame::End {
            id: self.id.clone(),
            seq: self.seq,
            finish_reason,
            usage,
        };
        self.send(frame).await;
    }

    async fn stream(mut self, req: ChatRequest, model: String, cancel: CancellationToken) {
        let start = ServerFrame::Start {
            id: self.id.clone(),
            seq: 0,
            model: model.clone(),
        };
        if !self.send(start).await {
            return;
        }
        let mut tokens = self.state.engine.generate(GenerateRequest {
            model,
            messages: req.messages,
            params: req.params,
        });
        // An event read while merging tokens, handled next.
        let mut carried = None;
        loop {
            let event = match carried.take() {
                Some(ev) => ev,
                None => tokio::select! {
                    biased;
                    _ = cancel.cancelled() => {
                        drop(tokens);
                        return self.end(FinishReason::Cancelled, None).await;
                    }
                    ev = tokens.next() => ev,
                },
            };
            match event {
                Some(Ok(EngineEvent::Token(mut text))) => {
                    let mut count = 1;
                    // When the client reads slower than the engine writes,
                    // the tokens already generated go out as one frame:
                    // fewer frames for a client that is behind, the same
                    // text, and no change for one that keeps up.
                    if self.buf.lag() > resume::WINDOW / 2 {
                        while text.len() < MERGE_LIMIT_BYTES {
                            match tokens.next().now_or_never() {
                                Some(Some(Ok(EngineEvent::Token(t)))) => {
                                    text.push_str(&t);
                                    count += 1;
                                }
                                Some(other) => {
                                    carried = Some(other);
                                    break;
                                }
                                None => break,
                            }
                        }
                    }
                    // Tokens that come within the delta interval of the last
                    // frame wait for its end and go out together.
                    let interval = self.state.limits.delta_interval;
                    if let Some(due) = self.last_delta.map(|t| t + interval) {
                        let wait = tokio::time::sleep_until(due);
                        tokio::pin!(wait);
                        while carried.is_none()
                            && text.len() < MERGE_LIMIT_BYTES
                            && tokio::time::Instant::now() < due
                        {
                            tokio::select! {
                                biased;
                                // Send what is held; the loop then stops.
                                _ = cancel.cancelled() => break,
                                _ = &mut wait => break,
                                ev = tokens.next() => match ev {
                                    Some(Ok(EngineEvent::Token(t))) => {
                                        text.push_str(&t);
                                        count += 1;
                                    }
                                    other => carried = Some(other),
                                },
                            }
                        }
                    }
                    self.seq += 1;
                    if let Some(log) = &self.state.replies {
                        log.delta(&self.id, &text, count);
                    }
                    let delta = ServerFrame::Delta {
                        id: self.id.clone(),
                        seq: self.seq,
                        text,
                    };
                    if !self.send(delta).await {
                        return;
                    }
                    if !interval.is_zero() {
                        self.last_delta = Some(tokio::time::Instant::now());
                    }
                }
                Some(Ok(EngineEvent::Queued(position))) => {
                    let queued = ServerFrame::Queued {
                        id: self.id.clone(),
                        position,
                    };
                    if !self.send(queued).await {
                        return;
                    }
                }
                Some(Ok(EngineEvent::Done {
                    finish_reason,
                    usage,
                })) => return self.end(finish_reason, Some(usage)).await,
                Some(Err(e)) => {
                    tracing::warn!(reply = %self.id, code = e.code.as_str(), "engine error: {}", e.message);
                    self.send(ServerFrame::error(Some(&self.id), e.code, e.message))
                        .await;
                    return self.end(FinishReason::Error, None).await;
                }
                None => {
                    let msg = "the engine stopped without finishing the reply";
                    self.send(ServerFrame::error(Some(&self.id), ErrorCode::Internal, msg))
                        .await;
                    return self.end(FinishReason::Error, None).await;
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::origin_allowed;

    #[test]
    fn origins_same_host_localhost_and_configured() {
        let none: Vec<String> = vec![];
        assert!(
            origin_allowed(None, Some("h:8080"), &none),
            "non-browser clients"
        );
        assert!(origin_allowed(
            Some("https://chat.corp:8443"),
            Some("chat.corp:8443"),
            &none
        ));
        assert!(origin_allowed(
            Some("http://localhost:3000"),
            Some("chat.corp"),
            &none
        ));
        assert!(origin_allowed(
            Some("http://127.0.0.1:9"),
            Some("chat.corp"),
            &none
        ));
        assert!(origin_allowed(
            Some("http://[::1]:9"),
            Some("chat.corp"),
            &none
        ));
        assert!(!origin_allowed(
            Some("https://evil.example"),
            Some("chat.corp"),
            &none
        ));
        assert!(!origin_allowed(
            Some("https://localhost.evil.example"),
            Some("chat.corp"),
            &none
        ));
        assert!(!origin_allowed(Some("null"), Some("chat.corp"), &none));
        let wiki = vec!["https://wiki.corp".to_string()];
        assert!(origin_allowed(
            Some("https://wiki.corp"),
            Some("chat.corp"),
            &wiki
        ));
        assert!(origin_allowed(
            Some("https://x.y"),
            Some("chat.corp"),
            &["*".to_string()]
        ));
    }
}
