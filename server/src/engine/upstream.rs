//! The `upstream` engine: any OpenAI-compatible server (Ollama, vLLM,
//! llama.cpp's server, DashScope compatible mode, DeepSeek, OpenAI) behind
//! the native protocol. The API key stays here: it is read from an
//! environment variable, sent only upstream, and never logged or shown.

use std::time::Duration;

use chatwire_protocol::{ErrorCode, FinishReason, ModelInfo, Usage};
use eventsource_stream::Eventsource;
use futures::StreamExt;
use serde::{Deserialize, Serialize};

use super::{Engine, EngineError, EngineEvent, EngineStream, GenerateRequest};

pub struct UpstreamEngine {
    client: reqwest::Client,
    /// e.g. `http://127.0.0.1:11434/v1`, without a trailing slash.
    base: String,
    api_key: Option<String>,
    models: Vec<ModelInfo>,
}

#[derive(Deserialize)]
struct ModelList {
    data: Vec<ModelEntry>,
}

#[derive(Deserialize)]
struct ModelEntry {
    id: String,
}

#[derive(Serialize)]
struct ChatCompletion<'a> {
    model: &'a str,
    messages: Vec<Message<'a>>,
    stream: bool,
    stream_options: StreamOptions,
    #[serde(skip_serializing_if = "Option::is_none")]
    temperature: Option<f32>,
    #[serde(skip_serializing_if = "Option::is_none")]
    top_p: Option<f32>,
    #[serde(skip_serializing_if = "Option::is_none")]
    max_tokens: Option<u32>,
    #[serde(skip_serializing_if = "Option::is_none")]
    seed: Option<u64>,
}

#[derive(Serialize)]
struct StreamOptions {
    include_usage: bool,
}

#[derive(Serialize)]
struct Message<'a> {
    role: &'a str,
    content: &'a str,
}

#[derive(Deserialize)]
struct Chunk {
    #[serde(default)]
    choices: Vec<Choice>,
    #[serde(default)]
    usage: Option<ChunkUsage>,
    /// Servers report failures mid-stream as an `error` object.
    #[serde(default)]
    error: Option<serde_json::Value>,
}

#[derive(Deserialize)]
struct Choice {
    #[serde(default)]
    delta: Delta,
    #[serde(default)]
    finish_reason: Option<String>,
}

#[derive(Deserialize, Default)]
struct Delta {
    #[serde(default)]
    content: Option<String>,
}

#[derive(Deserialize)]
struct ChunkUsage {
    #[serde(default)]
    prompt_tokens: u32,
    #[serde(default)]
    completion_tokens: u32,
}

/// `{"error": {"message": …}}` or `{"error": "…"}` or the raw body.
fn error_message(body: &str) -> String {
    let parsed: Option<serde_json::Value> = serde_json::from_str(body).ok();
    let msg = parsed.as_ref().and_then(|v| {
        let e = v.get("error")?;
        e.get("message")
            .and_then(|m| m.as_str())
            .or_else(|| e.as_str())
            .map(str::to_owned)
    });
    let mut msg = msg.unwrap_or_else(|| body.trim().to_owned());
    msg.truncate(300);
    msg
}

/// Maps an upstream HTTP failure to a native error.
pub fn status_error(status: u16, body: &str) -> EngineError {
    let detail = error_message(body);
    let (code, what) = match status {
        401 | 403 => (ErrorCode::Engine, "the upstream refused the API key"),
        404 => (
            ErrorCode::UnknownModel,
            "the upstream does not know this model",
        ),
        400 | 422 => (ErrorCode::InvalidParams, "the upstream refused the request"),
        429 => (ErrorCode::Overloaded, "the upstream is rate-limiting"),
        _ => (ErrorCode::Engine, "the upstream failed"),
    };
    EngineError::new(code, format!("{what} (HTTP {status}): {detail}"))
}

fn finish(reason: Option<&str>) -> FinishReason {
    match reason {
        Some("length") => FinishReason::Length,
        _ => FinishReason::Stop,
    }
}

impl UpstreamEngine {
    /// Connects to `base` and reads its model list (`GET /models`). With
    /// `model` given, that one is offered first (and alone if the
    /// upstream lists none).
    pub async fn connect(
        base: &str,
        api_key: Option<String>,
        model: Option<String>,
    ) -> Result<Self, String> {
        let base = base.trim_end_matches('/').to_owned();
        let client = reqwest::Client::builder()
            .connect_timeout(Duration::from_secs(10))
            .build()
            .map_err(|e| format!("cannot build the HTTP client: {e}"))?;
        let mut req = client.get(format!("{base}/models"));
        if let Some(key) = &api_key {
            req = req.bearer_auth(key);
        }
        let listed: Vec<String> = match req.send().await {
            Ok(res) if res.status().is_success() => res
                .json::<ModelList>()
                .await
                .map(|l| l.data.into_iter().map(|m| m.id).collect())
                .map_err(|e| format!("{base}/models: unexpected answer: {e}"))?,
            Ok(res) => {
                let status = res.status().as_u16();
                let body = res.text().await.unwrap_or_default();
                if model.is_none() {
                    return Err(format!(
                        "{base}/models: {}",
                        status_error(status, &body).message
                    ));
                }
                Vec::new()
            }
            Err(e) => return Err(format!("cannot reach {base}: {e}")),
        };
        let mut ids: Vec<String> = model.into_iter().collect();
        for m in listed {
            if !ids.contains(&m) {
                ids.push(m);
            }
        }
        if ids.is_empty() {
            return Err(format!(
                "{base} lists no models; name one with --upstream-model"
            ));
        }
        let models = ids
            .into_iter()
            .map(|id| ModelInfo {
                name: format!("{id} (upstream)"),
                id,
                engine: "upstream".into(),
                context_length: None,
            })
            .collect();
        Ok(Self {
            client,
            base,
            api_key,
            models,
        })
    }

    fn request(&self, req: &GenerateRequest) -> reqwest::RequestBuilder {
        let body = ChatCompletion {
            model: &req.model,
            messages: req
                .messages
                .iter()
                .map(|m| Message {
                    role: m.role.as_str(),
                    content: &m.content,
                })
                .collect(),
            stream: true,
            stream_options: StreamOptions {
                include_usage: true,
            },
            temperature: req.params.temperature,
            top_p: req.params.top_p,
            max_tokens: req.params.max_tokens,
            seed: req.params.seed,
        };
        let mut r = self
            .client
            .post(format!("{}/chat/completions", self.base))
            .json(&body);
        if let Some(key) = &self.api_key {
            r = r.bearer_auth(key);
        }
        r
    }
}

impl Engine for UpstreamEngine {
    fn models(&self) -> Vec<ModelInfo> {
        self.models.clone()
    }

    /// Streams the upstream's SSE. Dropping the stream drops the HTTP
    /// response, which closes the upstream connection: the upstream stops.
    fn generate(&self, req: GenerateRequest) -> EngineStream {
        let pending = self.request(&req).send();
        let stream = async_stream(pending);
        Box::pin(stream)
    }
}

enum State {
    Start(futures::future::BoxFuture<'static, reqwest::Result<reqwest::Response>>),
    Streaming {
        events: futures::stream::BoxStream<'static, Result<eventsource_stream::Event, String>>,
        finish_reason: Option<String>,
        usage: Option<Usage>,
        pieces: u32,
    },
    Done,
}

fn async_stream(
    pending: impl std::future::Future<Output = reqwest::Result<reqwest::Response>> + Send + 'static,
) -> impl futures::Stream<Item = Result<EngineEvent, EngineError>> + Send {
    futures::stream::unfold(State::Start(Box::pin(pending)), |state| async move {
        let mut state = state;
        loop {
            match state {
                State::Done => return None,
                State::Start(pending) => {
                    let res = match pending.await {
                        Ok(res) => res,
                        Err(e) => {
                            let err = EngineError::new(
                                ErrorCode::Engine,
                                format!("cannot reach the upstream: {}", without_url(&e)),
                            );
                            return Some((Err(err), State::Done));
                        }
                    };
                    if !res.status().is_success() {
                        let status = res.status().as_u16();
                        let body = res.text().await.unwrap_or_default();
                        return Some((Err(status_error(status, &body)), State::Done));
                    }
                    let events = res
                        .bytes_stream()
                        .eventsource()
                        .map(|e| e.map_err(|e| e.to_string()))
                        .boxed();
                    state = State::Streaming {
                        events,
                        finish_reason: None,
                        usage: None,
                        pieces: 0,
                    };
                }
                State::Streaming {
                    mut events,
                    mut finish_reason,
                    mut usage,
                    pieces,
                } => {
                    let done = |finish_reason: Option<String>, usage: Option<Usage>, pieces| {
                        Ok(EngineEvent::Done {
                            finish_reason: finish(finish_reason.as_deref()),
                            usage: usage.unwrap_or(Usage {
                                prompt_tokens: 0,
                                completion_tokens: pieces,
                            }),
                        })
                    };
                    let Some(event) = events.next().await else {
                        // The stream ended without [DONE]: end with what came.
                        return Some((done(finish_reason, usage, pieces), State::Done));
                    };
                    let event = match event {
                        Ok(e) => e,
                        Err(e) => {
                            let err = EngineError::new(
                                ErrorCode::Engine,
                                format!("the upstream stream broke: {e}"),
                            );
                            return Some((Err(err), State::Done));
                        }
                    };
                    if event.data.trim() == "[DONE]" {
                        return Some((done(finish_reason, usage, pieces), State::Done));
                    }
                    let chunk: Chunk = match serde_json::from_str(&event.data) {
                        Ok(c) => c,
                        Err(_) => {
                            let msg = error_message(&event.data);
                            let err = EngineError::new(
                                ErrorCode::Engine,
                                format!("the upstream failed: {msg}"),
                            );
                            return Some((Err(err), State::Done));
                        }
                    };
                    if chunk.error.is_some() {
                        let msg = error_message(&event.data);
                        let err = EngineError::new(
                            ErrorCode::Engine,
                            format!("the upstream failed: {msg}"),
                        );
                        return Some((Err(err), State::Done));
                    }
                    if let Some(u) = chunk.usage {
                        usage = Some(Usage {
                            prompt_tokens: u.prompt_tokens,
                            completion_tokens: u.completion_tokens,
                        });
                    }
                    let mut text = String::new();
                    for c in chunk.choices {
                        if let Some(t) = c.delta.content {
                            text.push_str(&t);
                        }
                        if c.finish_reason.is_some() {
                            finish_reason = c.finish_reason;
                        }
                    }
                    let next = State::Streaming {
                        events,
                        finish_reason,
                        usage,
                        pieces: pieces + u32::from(!text.is_empty()),
                    };
                    if !text.is_empty() {
                        return Some((Ok(EngineEvent::Token(text)), next));
                    }
                    state = next;
                }
            }
        }
    })
}

/// reqwest errors name the URL; the URL never holds the key, but keep
/// error texts short and free of query strings anyway.
fn without_url(e: &reqwest::Error) -> String {
    let s = e.to_string();
    match s.find(" for url (") {
        Some(i) => s[..i].to_owned(),
        None => s,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn upstream_errors_map_to_native_codes() {
        let e = status_error(
            401,
            r#"{"error":{"message":"Incorrect API key provided","type":"invalid_request_error"}}"#,
        );
        assert_eq!(e.code, ErrorCode::Engine);
        assert!(e.message.contains("API key") && e.message.contains("401"));
        assert_eq!(
            status_error(404, r#"{"error":"model 'x' not found"}"#).code,
            ErrorCode::UnknownModel
        );
        assert_eq!(status_error(429, "slow down").code, ErrorCode::Overloaded);
        assert_eq!(status_error(400, "{}").code, ErrorCode::InvalidParams);
        assert!(status_error(500, &"x".repeat(1000)).message.len() < 400);
    }

    #[test]
    fn finish_reasons() {
        assert_eq!(finish(Some("length")), FinishReason::Length);
        assert_eq!(finish(Some("stop")), FinishReason::Stop);
        assert_eq!(finish(None), FinishReason::Stop);
    }
}
