//! An optional record of recent replies (`--debug-api`), so tests and
//! operators can see from the server's side what a client asked for and
//! what was generated. Off by default; it holds prompts, so never enable it
//! where that matters.

use std::collections::VecDeque;
use std::sync::{Arc, Mutex, PoisonError};

use axum::extract::State;
use axum::Json;
use chatwire_protocol::{ChatRequest, FinishReason};
use serde::Serialize;

use crate::AppState;

const KEPT: usize = 200;

#[derive(Debug, Clone, Serialize)]
pub struct ReplyRecord {
    pub request: ChatRequest,
    pub model: String,
    /// Engine tokens sent to the client.
    pub tokens_sent: usize,
    /// `delta` frames they went out in (fewer than the tokens when tokens
    /// came faster than the delta interval or the client was behind).
    pub deltas_sent: usize,
    /// Text sent to the client so far.
    pub text: String,
    /// `None` while the reply runs.
    pub finish_reason: Option<FinishReason>,
}

#[derive(Clone, Default)]
pub struct ReplyLog {
    inner: Arc<Mutex<VecDeque<ReplyRecord>>>,
}

impl ReplyLog {
    fn with<R>(&self, f: impl FnOnce(&mut VecDeque<ReplyRecord>) -> R) -> R {
        let mut guard = self.inner.lock().unwrap_or_else(PoisonError::into_inner);
        f(&mut guard)
    }

    pub fn start(&self, request: &ChatRequest, model: &str) {
        self.with(|log| {
            if log.len() == KEPT {
                log.pop_front();
            }
            log.push_back(ReplyRecord {
                request: request.clone(),
                model: model.to_owned(),
                tokens_sent: 0,
                deltas_sent: 0,
                text: String::new(),
                finish_reason: None,
            });
        });
    }

    fn update(&self, id: &str, f: impl FnOnce(&mut ReplyRecord)) {
        self.with(|log| {
            if let Some(r) = log.iter_mut().rev().find(|r| r.request.id == id) {
                f(r);
            }
        });
    }

    /// A `delta` of `tokens` engine tokens went out.
    pub fn delta(&self, id: &str, text: &str, tokens: usize) {
        self.update(id, |r| {
            r.tokens_sent += tokens;
            r.deltas_sent += 1;
            r.text.push_str(text);
        });
    }

    pub fn finish(&self, id: &str, reason: FinishReason) {
        self.update(id, |r| r.finish_reason = Some(reason));
    }

    pub fn snapshot(&self) -> Vec<ReplyRecord> {
        self.with(|log| log.iter().cloned().collect())
    }
}

pub async fn replies(State(state): State<AppState>) -> Json<Vec<ReplyRecord>> {
    Json(state.replies.map(|l| l.snapshot()).unwrap_or_default())
}
