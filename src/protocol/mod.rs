//! The app's protocol layer: one normalized [`Event`] type the UI handles,
//! and one adapter per wire dialect that turns user turns into frames and
//! frames into events. No `web_sys` here: everything tests natively, and
//! the transport only moves strings and calls these methods with the time.
//!
//! Every adapter keeps its per-connection state explicit in its struct
//! (the reply in flight, the Socket.IO handshake, the session id).

pub mod native;
pub mod nexlm;
pub mod others;
pub mod qwen;
pub mod session;
pub mod silence;
pub mod socketio;

use chatwire_protocol::{ChatMessage, DecodeError, ModelInfo, Params, Usage};

use crate::config::Protocol;

/// What the UI learns from the backend, whatever the dialect.
#[derive(Debug, Clone, PartialEq)]
pub enum Event {
    /// The backend is ready for chats (handshake done).
    Ready { models: Vec<ModelInfo> },
    /// The request waits for the model.
    Queued { reply: String, position: u32 },
    /// A piece of reply `reply`; `seq` is its sequence number where the
    /// dialect has them (`native`), kept to resume from.
    Token {
        reply: String,
        text: String,
        seq: Option<u64>,
    },
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
    /// A message from the backend that is not a reply (e.g. Socket.IO
    /// `info` on connect).
    Notice(String),
    /// Reply `reply` broke off and cannot go on (the backend no longer has
    /// it); its text so far is kept.
    Interrupted { reply: String, message: String },
    /// The backend assigned a conversation id (`session` dialect) to keep.
    Session(String),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EndReason {
    /// The model finished its answer.
    Complete,
    /// The token limit was reached.
    Length,
    /// The reply was stopped (by the backend's confirmation, or locally
    /// where the dialect has no stop).
    Cancelled,
    /// The reply failed (an [`Event::Error`] says why).
    Failed,
}

/// One user turn to send, with the settings that apply to it.
#[derive(Debug, Clone, PartialEq)]
pub struct Turn {
    pub reply_id: String,
    /// Earlier turns and the new user message, oldest first.
    pub messages: Vec<ChatMessage>,
    pub params: Params,
    pub model: Option<String>,
    /// An attached image as a `data:image/...;base64,...` URL.
    pub image: Option<String>,
    /// Whether to ask for a streamed reply (dialects with a choice).
    pub stream: bool,
    /// How many earlier messages to send as history (dialects that send it).
    pub history_window: usize,
    /// Silence that ends a reply where the dialect has no end marker.
    pub silence_ms: u64,
}

impl Turn {
    /// The new user message (the last one).
    pub fn user_text(&self) -> &str {
        self.messages.last().map_or("", |m| m.content.as_str())
    }
}

/// What an adapter call produced: events for the UI, frames to send.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Decoded {
    pub events: Vec<Event>,
    pub send: Vec<String>,
    /// Close this socket and connect again at once (e.g. `nexlm` stop).
    pub reconnect_now: bool,
}

impl Decoded {
    pub fn event(e: Event) -> Self {
        Self {
            events: vec![e],
            ..Self::default()
        }
    }

    pub fn send(frame: String) -> Self {
        Self {
            send: vec![frame],
            ..Self::default()
        }
    }

    /// Adds what the next frame produced after this: events and frames to
    /// send keep their order, and a token that continues the same reply as
    /// the last event is joined to it (the later sequence number kept), so
    /// a burst of frames reaches the UI as one update.
    pub fn append(&mut self, next: Decoded) {
        for event in next.events {
            self.push_event(event);
        }
        self.send.extend(next.send);
        self.reconnect_now |= next.reconnect_now;
    }

    fn push_event(&mut self, event: Event) {
        if let (
            Some(Event::Token {
                reply: last_reply,
                text: last_text,
                seq: last_seq,
            }),
            Event::Token { reply, text, seq },
        ) = (self.events.last_mut(), &event)
        {
            if last_reply == reply {
                last_text.push_str(text);
                if seq.is_some() {
                    *last_seq = *seq;
                }
                return;
            }
        }
        self.events.push(event);
    }
}

/// What a dialect can do, so the UI shows what applies and what does not.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Capabilities {
    /// temperature, top_p, max_tokens reach the backend.
    pub sampling: bool,
    pub repetition_penalty: bool,
    /// Earlier turns are sent by the client (vs kept by the server or not at all).
    pub history: bool,
    pub model_choice: bool,
    pub stream_toggle: bool,
    pub image: bool,
    pub stop: StopKind,
    /// Replies end by silence (no end marker).
    pub silence_end: bool,
    pub clear_session: bool,
    /// A system prompt reaches the model (the wire format has a place
    /// for it).
    pub system_prompt: bool,
    /// A reply survives a dropped connection (resumed on reconnect).
    pub resume: bool,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StopKind {
    /// The backend confirms the stop.
    Acknowledged,
    /// The backend is asked to stop, without confirmation.
    Requested,
    /// The socket is closed (and reopened for the next turn).
    CloseSocket,
    /// Nothing reaches the backend: the rest of the reply is ignored.
    LocalOnly,
}

/// The adapter of one dialect, as the transport drives it. `native` is
/// also called directly ([`Dialect::Native`]); the others are reached only
/// through [`others::load`], a module of their own.
pub trait Adapter: std::fmt::Debug {
    fn socket_url(&self, base: &str) -> String;
    fn on_open(&mut self, now_ms: u64) -> Decoded;
    fn encode_turn(&mut self, turn: &Turn, now_ms: u64) -> Decoded;
    fn stop(&mut self, reply: &str, now_ms: u64) -> Decoded;
    fn decode(&mut self, text: &str, now_ms: u64) -> Result<Decoded, DecodeError>;
    fn tick(&mut self, now_ms: u64) -> Decoded;
    fn dead_after_ms(&self) -> Option<u64>;
    fn on_close(&mut self);
    /// See [`Dialect::set_session`]; only `session` keeps one.
    fn set_session(&mut self, _id: Option<String>) {}
}

/// What a dialect can do, known from the configuration alone (before its
/// module is loaded, so the UI shows the right controls at once).
pub fn capabilities(protocol: Protocol) -> Capabilities {
    match protocol {
        Protocol::Native => native::Native::CAPABILITIES,
        Protocol::Qwen => qwen::Qwen::CAPABILITIES,
        Protocol::SocketIo => socketio::SocketIo::CAPABILITIES,
        Protocol::Nexlm => nexlm::Nexlm::CAPABILITIES,
        Protocol::Session => session::Session::CAPABILITIES,
    }
}

/// The dialect spoken on the current connection.
#[derive(Debug)]
pub enum Dialect {
    /// The project's own protocol, in the main module.
    Native(native::Native),
    /// One of the others, from their module (a deployment speaks one
    /// dialect: the others' code is not fetched before the app runs).
    Other(Box<dyn Adapter>),
}

/// Dispatches to the adapter of the active dialect.
macro_rules! each {
    ($self:expr, $d:ident => $e:expr) => {
        match $self {
            Dialect::Native($d) => $e,
            Dialect::Other($d) => $e,
        }
    };
}

impl Dialect {
    /// The adapter for `protocol`: `native` at once, the others once their
    /// module is loaded. `client_id`: this browser's stable id;
    /// `session_id`: a kept conversation id (`session` dialect).
    pub async fn load(
        protocol: Protocol,
        client_id: &str,
        session_id: Option<String>,
    ) -> Result<Self, crate::split::LoadFailed> {
        Ok(match protocol {
            Protocol::Native => Dialect::Native(native::Native::new(client_id)),
            other => Dialect::Other((others::load().await?.make)(other, client_id, session_id)),
        })
    }

    /// The URL to open, from the configured backend URL.
    pub fn socket_url(&self, base: &str) -> String {
        each!(self, d => d.socket_url(base))
    }

    /// The socket opened: frames to send, and `Ready` where the dialect
    /// has no handshake.
    pub fn on_open(&mut self, now_ms: u64) -> Decoded {
        each!(self, d => d.on_open(now_ms))
    }

    /// The frames that send `turn`, and anything to tell the user about
    /// them.
    pub fn encode_turn(&mut self, turn: &Turn, now_ms: u64) -> Decoded {
        each!(self, d => d.encode_turn(turn, now_ms))
    }

    /// The user stopped reply `reply`.
    pub fn stop(&mut self, reply: &str, now_ms: u64) -> Decoded {
        each!(self, d => d.stop(reply, now_ms))
    }

    pub fn decode(&mut self, text: &str, now_ms: u64) -> Result<Decoded, DecodeError> {
        each!(self, d => d.decode(text, now_ms))
    }

    /// Called a few times a second: heartbeats and silence timeouts.
    pub fn tick(&mut self, now_ms: u64) -> Decoded {
        each!(self, d => d.tick(now_ms))
    }

    /// Silence after which the socket is considered dead, where the dialect
    /// has heartbeats that guarantee traffic.
    pub fn dead_after_ms(&self) -> Option<u64> {
        each!(self, d => d.dead_after_ms())
    }

    /// Take up reply `reply` after sequence number `after_seq` (a reply
    /// that was streaming when the page was closed). Returns the frames to
    /// send now if connected; they are sent after the handshake otherwise.
    pub fn resume(&mut self, reply: &str, after_seq: u64) -> Decoded {
        match self {
            Dialect::Native(d) => d.resume(reply, after_seq),
            Dialect::Other(_) => Decoded::default(),
        }
    }

    /// The connection dropped: forget per-connection state.
    pub fn on_close(&mut self) {
        each!(self, d => d.on_close())
    }

    /// The server-side conversation the next turn continues (`session`
    /// dialect; `None` starts a new one). Each chatwire conversation keeps
    /// its own.
    pub fn set_session(&mut self, id: Option<String>) {
        if let Dialect::Other(d) = self {
            d.set_session(id);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::Protocol;
    use chatwire_protocol::Role;

    fn token(reply: &str, text: &str, seq: Option<u64>) -> Event {
        Event::Token {
            reply: reply.into(),
            text: text.into(),
            seq,
        }
    }

    #[test]
    fn append_joins_tokens_of_one_reply_and_keeps_order() {
        let mut batch = Decoded::default();
        batch.append(Decoded::event(token("r1", "Hel", Some(1))));
        batch.append(Decoded {
            events: vec![token("r1", "lo", Some(2)), token("r1", ", ", None)],
            send: vec!["pong".into()],
            reconnect_now: false,
        });
        batch.append(Decoded::event(token("r2", "other", Some(7))));
        batch.append(Decoded::event(Event::End {
            reply: "r1".into(),
            reason: EndReason::Complete,
            usage: None,
        }));
        batch.append(Decoded::event(token("r1", "late", Some(9))));
        batch.append(Decoded::send("second".into()));
        assert_eq!(
            batch.events,
            vec![
                token("r1", "Hello, ", Some(2)),
                token("r2", "other", Some(7)),
                Event::End {
                    reply: "r1".into(),
                    reason: EndReason::Complete,
                    usage: None,
                },
                token("r1", "late", Some(9)),
            ]
        );
        assert_eq!(batch.send, vec!["pong".to_string(), "second".to_string()]);
        assert!(!batch.reconnect_now);
        batch.append(Decoded {
            reconnect_now: true,
            ..Decoded::default()
        });
        batch.append(Decoded::default());
        assert!(batch.reconnect_now);
    }

    fn turn() -> Turn {
        Turn {
            reply_id: "r1".into(),
            messages: vec![ChatMessage {
                role: Role::User,
                content: "hi".into(),
            }],
            params: Params::default(),
            model: None,
            image: None,
            stream: true,
            history_window: 6,
            silence_ms: 2000,
        }
    }

    fn dialect(p: Protocol, session: Option<&str>) -> Dialect {
        crate::split::ready_now(Dialect::load(p, "c", session.map(str::to_owned)))
            .expect("no module to fetch natively")
    }

    #[test]
    fn native_is_in_the_main_module_and_the_others_come_from_theirs() {
        for p in Protocol::ALL {
            let d = dialect(p, None);
            assert_eq!(
                matches!(d, Dialect::Native(_)),
                p == Protocol::Native,
                "{p:?}"
            );
        }
    }

    /// Through the loaded module, the `session` dialect still follows the
    /// conversation shown.
    #[test]
    fn a_loaded_session_dialect_takes_the_session_it_is_given() {
        let mut d = dialect(Protocol::Session, Some("s1"));
        let _ = d.on_open(0);
        let first = d.encode_turn(&turn(), 0).send.join("");
        assert!(first.contains(r#""session_id":"s1""#), "{first}");
        d.set_session(Some("s2".into()));
        let second = d.encode_turn(&turn(), 0).send.join("");
        assert!(second.contains(r#""session_id":"s2""#), "{second}");
        d.set_session(None);
        let third = d.encode_turn(&turn(), 0).send.join("");
        assert!(!third.contains("session_id\":\"s"), "{third}");
    }

    proptest::proptest! {
        /// No frame, however malformed, makes any dialect panic, in any
        /// state (idle, or with a reply in flight, or stopping).
        #[test]
        fn no_frame_makes_a_dialect_panic(
            frames in proptest::collection::vec(
                proptest::prop_oneof![
                    "\\PC{0,60}",
                    "[0-6]{1,2}\\[\"response\",\\{\"type\":\"(info|partial|final|error)\",\"content\":\"[a-z]{0,5}\"\\}\\]",
                    "\\{\"status\":\"(running|completed|cancelled|error|x)\",\"session_id\":\"s\",\"message\":(null|\"m\")\\}",
                    "\\{\"type\":\"(delta|end|start|error|welcome)\",\"id\":\"r1\",\"seq\":[0-9]{1,2}[a-z:,\" 0-9]{0,30}\\}",
                ],
                1..12,
            ),
            stop_at in 0usize..12,
        ) {
            for p in Protocol::ALL {
                let mut d = dialect(p, None);
                let _ = d.on_open(0);
                let _ = d.encode_turn(&turn(), 0);
                for (i, f) in frames.iter().enumerate() {
                    if i == stop_at {
                        let _ = d.stop("r1", i as u64);
                    }
                    let _ = d.decode(f, i as u64 * 100);
                    let _ = d.tick(i as u64 * 1000);
                }
                d.on_close();
            }
        }
    }
}
