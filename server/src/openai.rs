//! An OpenAI-compatible API over the server's engine (`--openai-api`):
//! `GET /v1/models` and `POST /v1/chat/completions` (streamed as SSE or
//! whole). Other tools can use the embedded model through it, and another
//! chatwire-server can use it as its `--upstream`.

use std::convert::Infallible;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{SystemTime, UNIX_EPOCH};

use axum::extract::State;
use axum::http::StatusCode;
use axum::response::sse::{Event, Sse};
use axum::response::{IntoResponse, Response};
use axum::Json;
use chatwire_protocol::{ChatMessage, ChatRequest, FinishReason, Params, Usage};
use futures::{Stream, StreamExt};
use serde::Deserialize;
use serde_json::json;

use crate::debug::ReplyLog;
use crate::engine::{EngineEvent, GenerateRequest};
use crate::AppState;

static NEXT_ID: AtomicU64 = AtomicU64::new(1);

#[derive(Deserialize)]
pub struct CompletionRequest {
    #[serde(default)]
    model: Option<String>,
    messages: Vec<ChatMessage>,
    #[serde(default)]
    stream: bool,
    #[serde(default)]
    temperature: Option<f32>,
    #[serde(default)]
    top_p: Option<f32>,
    #[serde(default)]
    max_tokens: Option<u32>,
    #[serde(default)]
    seed: Option<u64>,
    #[serde(default)]
    stream_options: Option<StreamOptions>,
}

#[derive(Deserialize)]
struct StreamOptions {
    #[serde(default)]
    include_usage: bool,
}

fn error(status: StatusCode, kind: &str, message: impl Into<String>) -> Response {
    let body = json!({"error": {"message": message.into(), "type": kind}});
    (status, Json(body)).into_response()
}

fn now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}

pub async fn models(State(state): State<AppState>) -> Json<serde_json::Value> {
    let data: Vec<_> = state
        .engine
        .models()
        .into_iter()
        .map(|m| json!({"id": m.id, "object": "model", "created": 0, "owned_by": "chatwire"}))
        .collect();
    Json(json!({"object": "list", "data": data}))
}

/// Marks the reply in the debug log as cancelled when its stream is
/// dropped before the end (the client went away).
struct LogGuard {
    log: Option<ReplyLog>,
    id: String,
    finished: bool,
}

impl Drop for LogGuard {
    fn drop(&mut self) {
        if let (Some(log), false) = (&self.log, self.finished) {
            log.finish(&self.id, FinishReason::Cancelled);
        }
    }
}

pub async fn chat_completions(
    State(state): State<AppState>,
    Json(body): Json<CompletionRequest>,
) -> Response {
    let params = Params {
        temperature: body.temperature,
        top_p: body.top_p,
        max_tokens: body.max_tokens,
        repetition_penalty: None,
        seed: body.seed,
    };
    if let Err(e) = params.validate() {
        return error(
            StatusCode::BAD_REQUEST,
            "invalid_request_error",
            e.to_string(),
        );
    }
    if body.messages.is_empty() {
        return error(
            StatusCode::BAD_REQUEST,
            "invalid_request_error",
            "messages is empty",
        );
    }
    let models = state.engine.models();
    let model = match body.model {
        None => models.first().map(|m| m.id.clone()).unwrap_or_default(),
        Some(m) if models.iter().any(|x| x.id == m) => m,
        Some(m) => {
            return error(
                StatusCode::NOT_FOUND,
                "invalid_request_error",
                format!("model `{m}` not found"),
            )
        }
    };
    let Some(slot) = state
        .replies_running
        .acquire(state.limits.max_replies_total)
    else {
        return error(
            StatusCode::TOO_MANY_REQUESTS,
            "rate_limit_error",
            "the server is at its limit of running replies",
        );
    };
    let id = format!("chatcmpl-{}", NEXT_ID.fetch_add(1, Ordering::Relaxed));
    if let Some(log) = &state.replies {
        log.start(
            &ChatRequest {
                id: id.clone(),
                model: Some(model.clone()),
                messages: body.messages.clone(),
                params,
            },
            &model,
        );
    }
    let events = state.engine.generate(GenerateRequest {
        model: model.clone(),
        messages: body.messages,
        params,
    });
    let mut guard = LogGuard {
        log: state.replies.clone(),
        id: id.clone(),
        finished: false,
    };

    if !body.stream {
        let mut text = String::new();
        let mut events = events;
        let mut end = None;
        while let Some(ev) = events.next().await {
            match ev {
                Ok(EngineEvent::Token(t)) => {
                    if let Some(log) = &guard.log {
                        log.delta(&id, &t, 1);
                    }
                    text.push_str(&t);
                }
                Ok(EngineEvent::Queued(_)) => {}
                Ok(EngineEvent::Done {
                    finish_reason,
                    usage,
                }) => end = Some((finish_reason, usage)),
                Err(e) => {
                    guard.finished = true;
                    if let Some(log) = &guard.log {
                        log.finish(&id, FinishReason::Error);
                    }
                    return error(StatusCode::BAD_GATEWAY, "server_error", e.message);
                }
            }
        }
        drop(slot);
        guard.finished = true;
        let (reason, usage) = end.unwrap_or((
            FinishReason::Stop,
            Usage {
                prompt_tokens: 0,
                completion_tokens: 0,
            },
        ));
        if let Some(log) = &guard.log {
            log.finish(&id, reason);
        }
        return Json(json!({
            "id": id, "object": "chat.completion", "created": now(), "model": model,
            "choices": [{"index": 0, "message": {"role": "assistant", "content": text}, "finish_reason": reason.as_str()}],
            "usage": {"prompt_tokens": usage.prompt_tokens, "completion_tokens": usage.completion_tokens,
                      "total_tokens": usage.prompt_tokens + usage.completion_tokens},
        }))
        .into_response();
    }

    let include_usage = body.stream_options.is_some_and(|o| o.include_usage);
    let created = now();
    let chunk = move |id: &str, model: &str, delta: serde_json::Value, finish: Option<&str>| {
        json!({"id": id, "object": "chat.completion.chunk", "created": created, "model": model,
               "choices": [{"index": 0, "delta": delta, "finish_reason": finish}]})
    };
    let stream = sse_stream(events, guard, slot, model, include_usage, chunk);
    Sse::new(stream).into_response()
}

type Chunker =
    dyn Fn(&str, &str, serde_json::Value, Option<&str>) -> serde_json::Value + Send + Sync;

fn sse_stream(
    events: crate::engine::EngineStream,
    guard: LogGuard,
    slot: crate::ReplySlot,
    model: String,
    include_usage: bool,
    chunk: impl Fn(&str, &str, serde_json::Value, Option<&str>) -> serde_json::Value
        + Send
        + Sync
        + 'static,
) -> impl Stream<Item = Result<Event, Infallible>> + Send {
    let chunk: Box<Chunker> = Box::new(chunk);
    let first = Event::default().data(
        chunk(
            &guard.id,
            &model,
            json!({"role": "assistant", "content": ""}),
            None,
        )
        .to_string(),
    );
    struct St {
        events: crate::engine::EngineStream,
        guard: LogGuard,
        slot: Option<crate::ReplySlot>,
        model: String,
        include_usage: bool,
        chunk: Box<Chunker>,
        tail: Vec<Event>,
        done: bool,
    }
    let st = St {
        events,
        guard,
        slot: Some(slot),
        model,
        include_usage,
        chunk,
        tail: Vec::new(),
        done: false,
    };
    let body = futures::stream::unfold(st, |mut st| async move {
        loop {
            if let Some(ev) = st.tail.pop() {
                return Some((Ok(ev), st));
            }
            if st.done {
                return None;
            }
            match st.events.next().await {
                Some(Ok(EngineEvent::Token(t))) => {
                    if let Some(log) = &st.guard.log {
                        log.delta(&st.guard.id, &t, 1);
                    }
                    let data = (st.chunk)(&st.guard.id, &st.model, json!({"content": t}), None);
                    return Some((Ok(Event::default().data(data.to_string())), st));
                }
                Some(Ok(EngineEvent::Queued(_))) => {}
                Some(Ok(EngineEvent::Done {
                    finish_reason,
                    usage,
                })) => {
                    st.done = true;
                    st.guard.finished = true;
                    st.slot.take();
                    if let Some(log) = &st.guard.log {
                        log.finish(&st.guard.id, finish_reason);
                    }
                    // `tail` is popped from the end: push in reverse order.
                    st.tail.push(Event::default().data("[DONE]"));
                    if st.include_usage {
                        let u = json!({"id": st.guard.id, "object": "chat.completion.chunk", "model": st.model, "choices": [],
                                       "usage": {"prompt_tokens": usage.prompt_tokens, "completion_tokens": usage.completion_tokens,
                                                 "total_tokens": usage.prompt_tokens + usage.completion_tokens}});
                        st.tail.push(Event::default().data(u.to_string()));
                    }
                    let data = (st.chunk)(
                        &st.guard.id,
                        &st.model,
                        json!({}),
                        Some(finish_reason.as_str()),
                    );
                    st.tail.push(Event::default().data(data.to_string()));
                }
                Some(Err(e)) => {
                    st.done = true;
                    st.guard.finished = true;
                    st.slot.take();
                    if let Some(log) = &st.guard.log {
                        log.finish(&st.guard.id, FinishReason::Error);
                    }
                    let err = json!({"error": {"message": e.message, "type": "server_error", "code": e.code.as_str()}});
                    return Some((Ok(Event::default().data(err.to_string())), st));
                }
                None => {
                    st.done = true;
                }
            }
        }
    });
    futures::stream::once(async move { Ok(first) }).chain(body)
}
