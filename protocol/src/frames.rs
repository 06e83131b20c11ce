//! Frame types of the native protocol and their JSON codec.

use serde::{Deserialize, Serialize};
use std::fmt;

use crate::Params;

/// A frame sent by the client (the app) to the server.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum ClientFrame {
    /// First frame on every connection.
    Hello {
        /// Protocol version the client speaks.
        v: u32,
        /// Stable id of this browser/client (used to find replies to resume).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        client: Option<String>,
    },
    /// Start a reply.
    Chat(ChatRequest),
    /// Cancel the reply `id`; answered by its `end` frame with
    /// `finish_reason: "cancelled"`, or by `error` `not_running`.
    Cancel { id: String },
    /// Continue streaming reply `id` from the frame after `after_seq`.
    Resume { id: String, after_seq: u64 },
    /// Ask for the model list (also sent unasked in `welcome`).
    Models,
    Ping {
        #[serde(default)]
        t: u64,
    },
    Pong {
        #[serde(default)]
        t: u64,
    },
}

/// The body of a `chat` frame.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ChatRequest {
    /// Reply id chosen by the client, unique per client. Every frame of the
    /// reply carries it, so a cancel can name the reply before its first token.
    pub id: String,
    /// Model id from the model list; the server's default when absent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub model: Option<String>,
    /// The conversation so far, oldest first, ending with the user's turn.
    pub messages: Vec<ChatMessage>,
    #[serde(default)]
    pub params: Params,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ChatMessage {
    pub role: Role,
    pub content: String,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Role {
    System,
    User,
    Assistant,
}

impl Role {
    pub fn as_str(self) -> &'static str {
        match self {
            Role::System => "system",
            Role::User => "user",
            Role::Assistant => "assistant",
        }
    }
}

/// A frame sent by the server to the client. It is written as an
/// internally tagged object (`"type"` first) and read through
/// [`WireServerFrame`], one flat object, which keeps the browser's decoder
/// small and reads a `delta` without buffering it first.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case", try_from = "WireServerFrame")]
pub enum ServerFrame {
    /// Answer to `hello`.
    Welcome {
        v: u32,
        /// Server name and version, e.g. `chatwire-server/0.1.0`.
        server: String,
        models: Vec<ModelInfo>,
        /// The server expects a frame at least this often and pings at this rate.
        heartbeat_ms: u64,
        /// Largest client frame the server accepts.
        max_frame_bytes: usize,
    },
    Models {
        models: Vec<ModelInfo>,
    },
    /// The request waits for the model; `position` 1 is next.
    Queued {
        id: String,
        position: u32,
    },
    /// The reply has started (always `seq` 0).
    Start {
        id: String,
        seq: u64,
        model: String,
    },
    /// One piece of the reply.
    Delta {
        id: String,
        seq: u64,
        text: String,
    },
    /// The reply is over; no frame of this reply follows.
    End {
        id: String,
        seq: u64,
        finish_reason: FinishReason,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        usage: Option<Usage>,
    },
    /// A failure. With `id`, it concerns that reply (which then also ends
    /// unless `code` says otherwise); without, the connection.
    Error {
        #[serde(default, skip_serializing_if = "Option::is_none")]
        id: Option<String>,
        code: ErrorCode,
        message: String,
    },
    Ping {
        #[serde(default)]
        t: u64,
    },
    Pong {
        #[serde(default)]
        t: u64,
    },
}

/// Every field a server frame can have, each under one name and one type
/// in every frame that has it (so the protocol must keep it that way: see
/// docs/protocol.md, versioning). Fields a frame does not use are read and
/// dropped; unknown fields are ignored.
#[derive(Deserialize)]
struct WireServerFrame {
    #[serde(rename = "type")]
    kind: String,
    v: Option<u32>,
    server: Option<String>,
    models: Option<Vec<ModelInfo>>,
    heartbeat_ms: Option<u64>,
    max_frame_bytes: Option<usize>,
    id: Option<String>,
    position: Option<u32>,
    seq: Option<u64>,
    model: Option<String>,
    text: Option<String>,
    finish_reason: Option<FinishReason>,
    usage: Option<Usage>,
    code: Option<ErrorCode>,
    message: Option<String>,
    t: Option<u64>,
}

/// A field the frame's type requires.
fn required<T>(value: Option<T>, field: &'static str) -> Result<T, String> {
    value.ok_or_else(|| format!("missing field `{field}`"))
}

impl TryFrom<WireServerFrame> for ServerFrame {
    type Error = String;

    fn try_from(w: WireServerFrame) -> Result<Self, String> {
        Ok(match w.kind.as_str() {
            "delta" => ServerFrame::Delta {
                id: required(w.id, "id")?,
                seq: required(w.seq, "seq")?,
                text: required(w.text, "text")?,
            },
            "welcome" => ServerFrame::Welcome {
                v: required(w.v, "v")?,
                server: required(w.server, "server")?,
                models: required(w.models, "models")?,
                heartbeat_ms: required(w.heartbeat_ms, "heartbeat_ms")?,
                max_frame_bytes: required(w.max_frame_bytes, "max_frame_bytes")?,
            },
            "models" => ServerFrame::Models {
                models: required(w.models, "models")?,
            },
            "queued" => ServerFrame::Queued {
                id: required(w.id, "id")?,
                position: required(w.position, "position")?,
            },
            "start" => ServerFrame::Start {
                id: required(w.id, "id")?,
                seq: required(w.seq, "seq")?,
                model: required(w.model, "model")?,
            },
            "end" => ServerFrame::End {
                id: required(w.id, "id")?,
                seq: required(w.seq, "seq")?,
                finish_reason: required(w.finish_reason, "finish_reason")?,
                usage: w.usage,
            },
            "error" => ServerFrame::Error {
                id: w.id,
                code: required(w.code, "code")?,
                message: required(w.message, "message")?,
            },
            "ping" => ServerFrame::Ping {
                t: w.t.unwrap_or(0),
            },
            "pong" => ServerFrame::Pong {
                t: w.t.unwrap_or(0),
            },
            other => return Err(format!("unknown frame type `{other}`")),
        })
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ModelInfo {
    pub id: String,
    /// Human-readable name.
    pub name: String,
    /// Which engine serves it: `scripted`, `embedded`, `upstream`.
    pub engine: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub context_length: Option<u32>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum FinishReason {
    /// The model ended its turn.
    Stop,
    /// `max_tokens` was reached.
    Length,
    /// The client cancelled.
    Cancelled,
    /// The engine failed (an `error` frame with the details precedes).
    Error,
}

impl FinishReason {
    pub fn as_str(self) -> &'static str {
        match self {
            FinishReason::Stop => "stop",
            FinishReason::Length => "length",
            FinishReason::Cancelled => "cancelled",
            FinishReason::Error => "error",
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Usage {
    pub prompt_tokens: u32,
    pub completion_tokens: u32,
}

/// Error codes of `error` frames. Unknown codes from a newer server decode
/// as [`ErrorCode::Other`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ErrorCode {
    /// The frame is not valid JSON or misses required fields.
    BadFrame,
    /// The frame's `type` is not known.
    UnknownType,
    /// The frame is larger than `max_frame_bytes`.
    FrameTooLarge,
    /// `hello.v` is a version the server does not speak.
    UnsupportedVersion,
    /// A parameter is out of range.
    InvalidParams,
    /// The requested model is not in the model list.
    UnknownModel,
    /// A reply is already running on this connection.
    Busy,
    /// `cancel` named a reply that is not running.
    NotRunning,
    /// `resume` named a reply the server no longer has.
    ResumeUnavailable,
    /// The engine failed while generating.
    Engine,
    /// The server is at its limit of concurrent replies.
    Overloaded,
    /// An unexpected server failure.
    Internal,
    #[serde(other)]
    Other,
}

impl ErrorCode {
    pub fn as_str(self) -> &'static str {
        match self {
            ErrorCode::BadFrame => "bad_frame",
            ErrorCode::UnknownType => "unknown_type",
            ErrorCode::FrameTooLarge => "frame_too_large",
            ErrorCode::UnsupportedVersion => "unsupported_version",
            ErrorCode::InvalidParams => "invalid_params",
            ErrorCode::UnknownModel => "unknown_model",
            ErrorCode::Busy => "busy",
            ErrorCode::NotRunning => "not_running",
            ErrorCode::ResumeUnavailable => "resume_unavailable",
            ErrorCode::Engine => "engine",
            ErrorCode::Overloaded => "overloaded",
            ErrorCode::Internal => "internal",
            ErrorCode::Other => "other",
        }
    }
}

/// Why a frame could not be decoded.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DecodeError {
    /// Not JSON, or not an object with a string `type`.
    Malformed(String),
    /// Valid JSON with a `type` this version does not know. Receivers of a
    /// newer peer's frames ignore these (see docs/protocol.md, versioning).
    UnknownType(String),
    /// A known `type` whose fields are missing or of the wrong kind.
    InvalidFields { frame_type: String, detail: String },
}

impl fmt::Display for DecodeError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            DecodeError::Malformed(d) => write!(f, "malformed frame: {d}"),
            DecodeError::UnknownType(t) => write!(f, "unknown frame type `{t}`"),
            DecodeError::InvalidFields { frame_type, detail } => {
                write!(f, "invalid `{frame_type}` frame: {detail}")
            }
        }
    }
}

impl std::error::Error for DecodeError {}

impl DecodeError {
    /// The error code a server answers this decode failure with.
    pub fn code(&self) -> ErrorCode {
        match self {
            DecodeError::UnknownType(_) => ErrorCode::UnknownType,
            _ => ErrorCode::BadFrame,
        }
    }
}

const CLIENT_TYPES: &[&str] = &[
    "hello", "chat", "cancel", "resume", "models", "ping", "pong",
];
const SERVER_TYPES: &[&str] = &[
    "welcome", "models", "queued", "start", "delta", "end", "error", "ping", "pong",
];

fn decode<T: serde::de::DeserializeOwned>(text: &str, known: &[&str]) -> Result<T, DecodeError> {
    match serde_json::from_str::<T>(text) {
        Ok(frame) => Ok(frame),
        Err(err) => Err(classify(text, known, err)),
    }
}

/// Work out why `text` did not decode (only on the error path, so the
/// common path parses once).
fn classify(text: &str, known: &[&str], err: serde_json::Error) -> DecodeError {
    #[derive(Deserialize)]
    struct TypeOnly {
        #[serde(rename = "type")]
        frame_type: String,
    }
    match serde_json::from_str::<TypeOnly>(text) {
        Ok(TypeOnly { frame_type }) if known.contains(&frame_type.as_str()) => {
            DecodeError::InvalidFields {
                frame_type,
                detail: err.to_string(),
            }
        }
        Ok(TypeOnly { frame_type }) => DecodeError::UnknownType(frame_type),
        Err(_) => DecodeError::Malformed(err.to_string()),
    }
}

impl ClientFrame {
    pub fn decode(text: &str) -> Result<Self, DecodeError> {
        decode(text, CLIENT_TYPES)
    }

    pub fn encode(&self) -> String {
        // Frames hold only strings, numbers and string-keyed structs, which
        // always serialize.
        serde_json::to_string(self).expect("client frames always serialize")
    }
}

impl ServerFrame {
    pub fn decode(text: &str) -> Result<Self, DecodeError> {
        decode(text, SERVER_TYPES)
    }

    pub fn encode(&self) -> String {
        serde_json::to_string(self).expect("server frames always serialize")
    }

    /// The reply this frame belongs to, if any.
    pub fn reply_id(&self) -> Option<&str> {
        match self {
            ServerFrame::Queued { id, .. }
            | ServerFrame::Start { id, .. }
            | ServerFrame::Delta { id, .. }
            | ServerFrame::End { id, .. } => Some(id),
            ServerFrame::Error { id, .. } => id.as_deref(),
            _ => None,
        }
    }

    pub fn error(id: Option<&str>, code: ErrorCode, message: impl Into<String>) -> Self {
        ServerFrame::Error {
            id: id.map(str::to_owned),
            code,
            message: message.into(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn json_of(frame_json: &str) -> serde_json::Value {
        serde_json::from_str(frame_json).unwrap()
    }

    #[test]
    fn chat_request_encodes_exactly() {
        let frame = ClientFrame::Chat(ChatRequest {
            id: "r1".into(),
            model: None,
            messages: vec![ChatMessage {
                role: Role::User,
                content: "hi".into(),
            }],
            params: Params {
                temperature: Some(0.5),
                top_p: Some(0.9),
                max_tokens: Some(64),
                ..Params::default()
            },
        });
        assert_eq!(
            json_of(&frame.encode()),
            json!({"type":"chat","id":"r1","messages":[{"role":"user","content":"hi"}],
                   "params":{"temperature":0.5,"top_p":0.9,"max_tokens":64}})
        );
    }

    #[test]
    fn every_client_frame_round_trips() {
        let frames = vec![
            ClientFrame::Hello {
                v: 1,
                client: Some("c".into()),
            },
            ClientFrame::Cancel { id: "r".into() },
            ClientFrame::Resume {
                id: "r".into(),
                after_seq: 7,
            },
            ClientFrame::Models,
            ClientFrame::Ping { t: 5 },
            ClientFrame::Pong { t: 5 },
        ];
        for f in frames {
            assert_eq!(ClientFrame::decode(&f.encode()), Ok(f));
        }
    }

    #[test]
    fn every_server_frame_round_trips() {
        let frames = vec![
            ServerFrame::Welcome {
                v: 1,
                server: "s".into(),
                models: vec![ModelInfo {
                    id: "m".into(),
                    name: "M".into(),
                    engine: "scripted".into(),
                    context_length: Some(8192),
                }],
                heartbeat_ms: 15000,
                max_frame_bytes: 1024,
            },
            ServerFrame::Queued {
                id: "r".into(),
                position: 2,
            },
            ServerFrame::Start {
                id: "r".into(),
                seq: 0,
                model: "m".into(),
            },
            ServerFrame::Delta {
                id: "r".into(),
                seq: 1,
                text: "héllo \"x\"\n".into(),
            },
            ServerFrame::End {
                id: "r".into(),
                seq: 2,
                finish_reason: FinishReason::Length,
                usage: Some(Usage {
                    prompt_tokens: 3,
                    completion_tokens: 1,
                }),
            },
            ServerFrame::error(Some("r"), ErrorCode::Busy, "busy"),
            ServerFrame::error(None, ErrorCode::BadFrame, "bad"),
        ];
        for f in frames {
            assert_eq!(ServerFrame::decode(&f.encode()), Ok(f));
        }
    }

    #[test]
    fn delta_decodes_from_spec_example() {
        let f = ServerFrame::decode(r#"{"type":"delta","id":"r1","seq":3,"text":"lo"}"#).unwrap();
        assert_eq!(
            f,
            ServerFrame::Delta {
                id: "r1".into(),
                seq: 3,
                text: "lo".into()
            }
        );
        assert_eq!(f.reply_id(), Some("r1"));
    }

    #[test]
    fn decode_errors_are_classified() {
        assert!(matches!(
            ServerFrame::decode("not json"),
            Err(DecodeError::Malformed(_))
        ));
        assert!(matches!(
            ServerFrame::decode(r#"{"no_type":1}"#),
            Err(DecodeError::Malformed(_))
        ));
        assert_eq!(
            ServerFrame::decode(r#"{"type":"sparkle"}"#),
            Err(DecodeError::UnknownType("sparkle".into()))
        );
        let err = ServerFrame::decode(r#"{"type":"delta","id":"r"}"#).unwrap_err();
        assert!(
            matches!(err, DecodeError::InvalidFields { ref frame_type, .. } if frame_type == "delta")
        );
        assert_eq!(err.code(), ErrorCode::BadFrame);
        assert_eq!(
            ClientFrame::decode(r#"{"type":"nope"}"#)
                .unwrap_err()
                .code(),
            ErrorCode::UnknownType
        );
    }

    #[test]
    fn unknown_error_codes_and_extra_fields_are_tolerated() {
        let f = ServerFrame::decode(
            r#"{"type":"error","code":"quota_exceeded","message":"m","extra":true}"#,
        )
        .unwrap();
        assert_eq!(f, ServerFrame::error(None, ErrorCode::Other, "m"));
    }

    #[test]
    fn server_frames_read_in_any_field_order_with_others_fields_dropped() {
        // `type` last, a field of another frame type (`model` on a delta),
        // an explicit null for an optional field.
        let f = ServerFrame::decode(
            r#"{"seq":3,"model":"m","text":"lo","id":"r1","usage":null,"type":"delta"}"#,
        )
        .unwrap();
        assert_eq!(
            f,
            ServerFrame::Delta {
                id: "r1".into(),
                seq: 3,
                text: "lo".into()
            }
        );
        assert_eq!(
            ServerFrame::decode(
                r#"{"type":"end","id":"r","seq":2,"finish_reason":"stop","usage":null}"#
            ),
            Ok(ServerFrame::End {
                id: "r".into(),
                seq: 2,
                finish_reason: FinishReason::Stop,
                usage: None
            })
        );
        assert_eq!(
            ServerFrame::decode(r#"{"type":"ping"}"#),
            Ok(ServerFrame::Ping { t: 0 })
        );
    }

    #[test]
    fn server_frame_field_errors_name_the_field() {
        for (text, field) in [
            (
                r#"{"type":"delta","id":"r","text":"x"}"#,
                "missing field `seq`",
            ),
            (
                r#"{"type":"start","id":"r","seq":0}"#,
                "missing field `model`",
            ),
            (r#"{"type":"error","message":"m"}"#, "missing field `code`"),
            (
                r#"{"type":"delta","id":"r","seq":"1","text":"x"}"#,
                "invalid type",
            ),
            (
                r#"{"type":"end","id":"r","seq":1,"finish_reason":"bored"}"#,
                "unknown variant",
            ),
        ] {
            match ServerFrame::decode(text) {
                Err(DecodeError::InvalidFields { detail, .. }) => {
                    assert!(detail.contains(field), "{text}: {detail}")
                }
                other => panic!("{text}: {other:?}"),
            }
        }
    }

    #[test]
    fn params_default_when_absent() {
        let f = ClientFrame::decode(r#"{"type":"chat","id":"x","messages":[]}"#).unwrap();
        let ClientFrame::Chat(req) = f else {
            panic!("not a chat frame")
        };
        assert_eq!(req.params, Params::default());
    }

    proptest::proptest! {
        #[test]
        fn decoders_never_panic(s in ".{0,200}") {
            let _ = ServerFrame::decode(&s);
            let _ = ClientFrame::decode(&s);
        }

        #[test]
        fn decoders_never_panic_on_near_frames(
            t in proptest::sample::select(vec!["delta","end","error","start","welcome","chat","hello","cancel"]),
            body in "[a-z0-9:,\"{}\\[\\] ]{0,80}"
        ) {
            let s = format!(r#"{{"type":"{t}",{body}}}"#);
            let _ = ServerFrame::decode(&s);
            let _ = ClientFrame::decode(&s);
        }
    }
}
