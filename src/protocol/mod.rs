//! The app's protocol layer: one normalized [`Event`] type the UI handles,
//! and one adapter per wire dialect that turns user turns into frames and
//! frames into events. No `web_sys` here: everything tests natively, and
//! the transport only moves strings.

pub mod native;

use chatwire_protocol::{ChatMessage, DecodeError, ModelInfo, Params, Usage};

use crate::config::Protocol;

/// What the UI learns from the backend, whatever the dialect.
#[derive(Debug, Clone, PartialEq)]
pub enum Event {
    /// The backend is ready for chats (handshake done).
    Ready { models: Vec<ModelInfo> },
    /// The request waits for the model.
    Queued { reply: String, position: u32 },
    /// A piece of reply `reply`.
    Token { reply: String, text: String },
    /// Reply `reply` is over.
    End {
        reply: String,
        reason: EndReason,
        usage: Option<Usage>,
    },
    /// A failure: of one reply, or of the connection (`reply: None`).
    /// `fatal` means the connection cannot be used (stop reconnecting).
    Error {
        reply: Option<String>,
        message: String,
        fatal: bool,
    },
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EndReason {
    /// The model finished its answer.
    Complete,
    /// The token limit was reached.
    Length,
    /// The backend confirmed a stop.
    Cancelled,
    /// The reply failed (an [`Event::Error`] says why).
    Failed,
}

/// One user turn to send.
#[derive(Debug, Clone, PartialEq)]
pub struct Turn {
    pub reply_id: String,
    /// Earlier turns and the new user message, oldest first.
    pub messages: Vec<ChatMessage>,
    pub params: Params,
    pub model: Option<String>,
}

/// What decoding one frame produced.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Decoded {
    pub events: Vec<Event>,
    /// A frame to send back at once (e.g. a pong).
    pub answer: Option<String>,
}

/// The dialect spoken on the current connection.
#[derive(Debug, Clone)]
pub enum Dialect {
    Native(native::Native),
}

impl Dialect {
    pub fn new(protocol: Protocol, client_id: &str) -> Self {
        match protocol {
            Protocol::Native => Dialect::Native(native::Native::new(client_id)),
        }
    }

    /// Frames to send as soon as the socket opens.
    pub fn on_open(&mut self) -> Vec<String> {
        match self {
            Dialect::Native(d) => vec![d.hello()],
        }
    }

    pub fn encode_turn(&mut self, turn: &Turn) -> Vec<String> {
        match self {
            Dialect::Native(d) => vec![d.encode_turn(turn)],
        }
    }

    /// Frames asking the backend to stop reply `reply`.
    pub fn encode_stop(&mut self, reply: &str) -> Vec<String> {
        match self {
            Dialect::Native(d) => vec![d.encode_cancel(reply)],
        }
    }

    pub fn decode(&mut self, text: &str) -> Result<Decoded, DecodeError> {
        match self {
            Dialect::Native(d) => d.decode(text),
        }
    }

    /// A heartbeat frame, if the dialect has one.
    pub fn heartbeat(&self, now_ms: u64) -> Option<String> {
        match self {
            Dialect::Native(d) => Some(d.ping(now_ms)),
        }
    }

    /// How often to send heartbeats; the link also declares the socket dead
    /// after about two intervals of silence.
    pub fn heartbeat_ms(&self) -> u64 {
        match self {
            Dialect::Native(d) => d.heartbeat_ms(),
        }
    }

    /// The connection dropped: forget per-connection state.
    pub fn on_close(&mut self) {
        match self {
            Dialect::Native(d) => d.on_close(),
        }
    }
}
