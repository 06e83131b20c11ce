//! The `nexlm` dialect (seed 002, Spring Boot `TextWebSocketHandler`):
//! `{"modelType", "message"}` per turn, raw text back with no end marker
//! (silence ends a reply), a plain-text sentence on failure, and no stop
//! message: stopping closes the socket.

use chatwire_protocol::DecodeError;
use serde::Serialize;

use super::silence::{self, InFlight};
use super::{Capabilities, Decoded, EndReason, Event, StopKind, Turn};

/// The seed server's failure sentence. A reply whose only frame is one of
/// these is shown as an error, not as text.
pub const SEED_ERROR_TEXTS: &[&str] = &["AI 服务异常,请稍后重试。", "AI 服务异常，请稍后重试。"];

/// The seed page's model choices (the default list of the selector).
pub const DEFAULT_MODELS: &[&str] = &["chatgpt", "deepseek", "local"];

#[derive(Debug, Clone, Default)]
pub struct Nexlm {
    current: Option<InFlight>,
    got_piece: bool,
}

#[derive(Serialize)]
struct Request<'a> {
    #[serde(rename = "modelType")]
    model_type: &'a str,
    message: &'a str,
}

impl Nexlm {
    pub const CAPABILITIES: Capabilities = Capabilities {
        sampling: false,
        repetition_penalty: false,
        history: false,
        model_choice: true,
        stream_toggle: false,
        image: false,
        stop: StopKind::CloseSocket,
        silence_end: true,
        clear_session: false,
        system_prompt: false,
        resume: false,
    };

    pub fn socket_url(&self, base: &str) -> String {
        base.to_owned()
    }

    pub fn on_open(&mut self, _now_ms: u64) -> Decoded {
        Decoded::event(Event::Ready { models: vec![] })
    }

    pub fn encode_turn(&mut self, turn: &Turn, now_ms: u64) -> Vec<String> {
        let req = Request {
            model_type: turn.model.as_deref().unwrap_or(DEFAULT_MODELS[0]),
            message: turn.user_text(),
        };
        self.current = Some(InFlight::new(&turn.reply_id, turn.silence_ms, now_ms));
        self.got_piece = false;
        vec![serde_json::to_string(&req).unwrap_or_default()]
    }

    /// No stop message exists: end the reply here, then close the socket
    /// so the server stops streaming, and reconnect for the next turn.
    pub fn stop(&mut self, reply: &str, _now_ms: u64) -> Decoded {
        match self.current.take().filter(|c| c.reply == reply) {
            Some(c) => Decoded {
                events: vec![Event::End {
                    reply: c.reply,
                    reason: EndReason::Cancelled,
                    usage: None,
                }],
                send: vec![],
                reconnect_now: true,
            },
            None => Decoded::default(),
        }
    }

    pub fn decode(&mut self, text: &str, now_ms: u64) -> Result<Decoded, DecodeError> {
        let Some(current) = self.current.as_mut() else {
            return Ok(Decoded::default());
        };
        if !self.got_piece && SEED_ERROR_TEXTS.contains(&text.trim()) {
            let reply = current.reply.clone();
            self.current = None;
            return Ok(Decoded {
                events: vec![
                    Event::Error {
                        reply: Some(reply.clone()),
                        message: text.trim().to_owned(),
                        fatal: false,
                    },
                    Event::End {
                        reply,
                        reason: EndReason::Failed,
                        usage: None,
                    },
                ],
                ..Decoded::default()
            });
        }
        self.got_piece = true;
        Ok(silence::piece(&mut self.current, text, now_ms))
    }

    pub fn tick(&mut self, now_ms: u64) -> Decoded {
        silence::tick(&mut self.current, now_ms)
    }

    pub fn dead_after_ms(&self) -> Option<u64> {
        None
    }

    pub fn on_close(&mut self) {
        self.current = None;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chatwire_protocol::{ChatMessage, Params, Role};

    fn turn(model: Option<&str>) -> Turn {
        Turn {
            reply_id: "r1".into(),
            messages: vec![
                ChatMessage {
                    role: Role::User,
                    content: "earlier".into(),
                },
                ChatMessage {
                    role: Role::User,
                    content: "你好".into(),
                },
            ],
            params: Params::default(),
            model: model.map(str::to_owned),
            image: None,
            stream: true,
            history_window: 6,
            silence_ms: 2000,
        }
    }

    #[test]
    fn request_is_model_type_and_message_only() {
        let mut n = Nexlm::default();
        assert_eq!(
            n.encode_turn(&turn(Some("deepseek")), 0)[0],
            r#"{"modelType":"deepseek","message":"你好"}"#
        );
        assert_eq!(
            n.encode_turn(&turn(None), 0)[0],
            r#"{"modelType":"chatgpt","message":"你好"}"#
        );
    }

    #[test]
    fn text_streams_until_silence() {
        let mut n = Nexlm::default();
        n.encode_turn(&turn(None), 0);
        assert_eq!(
            n.decode("Hel", 10).unwrap().events,
            vec![Event::Token {
                reply: "r1".into(),
                text: "Hel".into(),
                seq: None,
            }]
        );
        n.decode("lo", 20).unwrap();
        assert!(n.tick(2_019).events.is_empty());
        assert!(matches!(
            n.tick(2_020).events[0],
            Event::End {
                reason: EndReason::Complete,
                ..
            }
        ));
    }

    #[test]
    fn the_seed_error_sentence_is_an_error_but_only_first() {
        let mut n = Nexlm::default();
        n.encode_turn(&turn(None), 0);
        let d = n.decode("AI 服务异常,请稍后重试。", 10).unwrap();
        assert!(
            matches!(&d.events[0], Event::Error { message, .. } if message.contains("AI 服务异常"))
        );
        assert!(matches!(
            d.events[1],
            Event::End {
                reason: EndReason::Failed,
                ..
            }
        ));

        n.encode_turn(&turn(None), 100);
        n.decode("The server said: ", 110).unwrap();
        let d = n.decode("AI 服务异常,请稍后重试。", 120).unwrap();
        assert!(
            matches!(d.events[0], Event::Token { .. }),
            "quoted mid-reply it is text"
        );
    }

    #[test]
    fn stop_ends_locally_and_reconnects() {
        let mut n = Nexlm::default();
        n.encode_turn(&turn(None), 0);
        n.decode("x", 10).unwrap();
        let d = n.stop("r1", 20);
        assert!(d.reconnect_now);
        assert!(matches!(
            d.events[0],
            Event::End {
                reason: EndReason::Cancelled,
                ..
            }
        ));
        assert!(n.decode("late", 30).unwrap().events.is_empty());
    }
}
