//! Engines generate replies. The WebSocket session drives one through the
//! [`Engine`] trait and never knows which kind it is.

pub mod embedded;
pub mod scripted;
pub mod upstream;

use std::pin::Pin;

use chatwire_protocol::{ChatMessage, ErrorCode, FinishReason, ModelInfo, Params, Usage};
use futures::Stream;

/// What an engine is asked to do.
#[derive(Debug, Clone)]
pub struct GenerateRequest {
    pub model: String,
    pub messages: Vec<ChatMessage>,
    pub params: Params,
}

/// One step of a generation.
#[derive(Debug, Clone, PartialEq)]
pub enum EngineEvent {
    /// A piece of text (one token or a few).
    Token(String),
    /// The request waits for the model; `1` is next.
    Queued(u32),
    /// The generation is over; the stream ends after this.
    Done {
        finish_reason: FinishReason,
        usage: Usage,
    },
}

/// A failure of the engine; becomes a native `error` frame.
#[derive(Debug, Clone, PartialEq)]
pub struct EngineError {
    pub code: ErrorCode,
    pub message: String,
}

impl EngineError {
    pub fn new(code: ErrorCode, message: impl Into<String>) -> Self {
        Self {
            code,
            message: message.into(),
        }
    }
}

/// A running generation. Dropping it cancels the generation: engines stop
/// producing tokens as soon as their stream is dropped.
pub type EngineStream = Pin<Box<dyn Stream<Item = Result<EngineEvent, EngineError>> + Send>>;

pub trait Engine: Send + Sync + 'static {
    /// Models this engine serves; the first is the default.
    fn models(&self) -> Vec<ModelInfo>;

    /// Starts a generation. `req.model` is one of [`Engine::models`].
    fn generate(&self, req: GenerateRequest) -> EngineStream;
}
