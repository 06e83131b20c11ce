//! The `qwen` dialect (seed 000, FastAPI `app.py` for Qwen2.5-7B-Instruct):
//! one JSON frame per turn with the history, raw text frames back, `""` or
//! silence as the end, `{"stop": true}` to stop.

use chatwire_protocol::{DecodeError, Role};
use serde::Serialize;

use super::silence::{self, InFlight};
use super::{Capabilities, Decoded, Event, StopKind, Turn};

#[derive(Debug, Clone, Default)]
pub struct Qwen {
    current: Option<InFlight>,
}

#[derive(Serialize)]
struct HistoryEntry<'a> {
    role: &'a str,
    content: &'a str,
}

/// The request frame, fields in the seed's order; parameters only when set.
#[derive(Serialize)]
struct Request<'a> {
    message: &'a str,
    history: Vec<HistoryEntry<'a>>,
    stream: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    max_tokens: Option<u32>,
    #[serde(skip_serializing_if = "Option::is_none")]
    temperature: Option<f32>,
    #[serde(skip_serializing_if = "Option::is_none")]
    top_p: Option<f32>,
    #[serde(skip_serializing_if = "Option::is_none")]
    repetition_penalty: Option<f32>,
}

impl Qwen {
    pub const CAPABILITIES: Capabilities = Capabilities {
        sampling: true,
        repetition_penalty: true,
        history: true,
        model_choice: false,
        stream_toggle: false,
        image: false,
        stop: StopKind::Requested,
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
        let earlier = &turn.messages[..turn.messages.len().saturating_sub(1)];
        let mut history: Vec<HistoryEntry> = earlier
            .iter()
            .filter(|m| m.role != Role::System)
            .map(|m| HistoryEntry {
                role: m.role.as_str(),
                content: &m.content,
            })
            .collect();
        // The last `history_window` entries.
        let recent = history.split_off(history.len().saturating_sub(turn.history_window));
        let req = Request {
            message: turn.user_text(),
            history: recent,
            stream: true,
            max_tokens: turn.params.max_tokens,
            temperature: turn.params.temperature,
            top_p: turn.params.top_p,
            repetition_penalty: turn.params.repetition_penalty,
        };
        self.current = Some(InFlight::new(&turn.reply_id, turn.silence_ms, now_ms));
        vec![serde_json::to_string(&req).unwrap_or_default()]
    }

    pub fn stop(&mut self, reply: &str, now_ms: u64) -> Decoded {
        match self.current.as_mut().filter(|c| c.reply == reply) {
            Some(c) => {
                c.drain(now_ms);
                Decoded::send(r#"{"stop":true}"#.to_owned())
            }
            None => Decoded::default(),
        }
    }

    pub fn decode(&mut self, text: &str, now_ms: u64) -> Result<Decoded, DecodeError> {
        let Some(current) = self.current.as_mut() else {
            // Pieces with no reply waiting (e.g. after a drain timed out).
            return Ok(Decoded::default());
        };
        if text.is_empty() {
            let end = current.end();
            self.current = None;
            return Ok(Decoded::event(end));
        }
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
    use crate::protocol::EndReason;
    use chatwire_protocol::{ChatMessage, Params};

    fn msg(role: Role, c: &str) -> ChatMessage {
        ChatMessage {
            role,
            content: c.into(),
        }
    }

    fn turn(messages: Vec<ChatMessage>, window: usize, params: Params) -> Turn {
        Turn {
            reply_id: "r1".into(),
            messages,
            params,
            model: None,
            image: None,
            stream: true,
            history_window: window,
            silence_ms: 2000,
        }
    }

    #[test]
    fn request_has_windowed_history_and_only_set_parameters() {
        let mut q = Qwen::default();
        let mut messages: Vec<ChatMessage> = (0..8)
            .map(|i| {
                msg(
                    if i % 2 == 0 {
                        Role::User
                    } else {
                        Role::Assistant
                    },
                    &i.to_string(),
                )
            })
            .collect();
        messages.insert(0, msg(Role::System, "sys"));
        messages.push(msg(Role::User, "now"));
        let frames = q.encode_turn(&turn(messages.clone(), 6, Params::default()), 0);
        assert_eq!(
            frames[0],
            r#"{"message":"now","history":[{"role":"user","content":"2"},{"role":"assistant","content":"3"},{"role":"user","content":"4"},{"role":"assistant","content":"5"},{"role":"user","content":"6"},{"role":"assistant","content":"7"}],"stream":true}"#
        );
        let params = Params {
            temperature: Some(0.7),
            top_p: Some(0.9),
            max_tokens: Some(512),
            repetition_penalty: Some(1.1),
            seed: None,
        };
        let frames = q.encode_turn(&turn(vec![msg(Role::User, "hi")], 0, params), 0);
        assert_eq!(
            frames[0],
            r#"{"message":"hi","history":[],"stream":true,"max_tokens":512,"temperature":0.7,"top_p":0.9,"repetition_penalty":1.1}"#
        );
    }

    #[test]
    fn raw_frames_stream_and_the_empty_frame_ends() {
        let mut q = Qwen::default();
        assert_eq!(q.on_open(0).events, vec![Event::Ready { models: vec![] }]);
        q.encode_turn(&turn(vec![msg(Role::User, "hi")], 6, Params::default()), 0);
        let mut events = vec![];
        for f in ["春", "风", "{\"not\":\"json, just text\"}", ""] {
            events.extend(q.decode(f, 10).unwrap().events);
        }
        assert_eq!(events.len(), 4);
        assert_eq!(
            events[2],
            Event::Token {
                reply: "r1".into(),
                text: "{\"not\":\"json, just text\"}".into(),
                seq: None,
            }
        );
        assert!(matches!(
            events[3],
            Event::End {
                reason: EndReason::Complete,
                ..
            }
        ));
        assert!(q.decode("late", 20).unwrap().events.is_empty());
    }

    #[test]
    fn silence_ends_a_reply_without_marker() {
        let mut q = Qwen::default();
        q.encode_turn(&turn(vec![msg(Role::User, "hi")], 6, Params::default()), 0);
        q.decode("a", 100).unwrap();
        assert!(q.tick(2_000).events.is_empty());
        assert!(matches!(
            q.tick(2_100).events[0],
            Event::End {
                reason: EndReason::Complete,
                ..
            }
        ));
    }

    #[test]
    fn stop_sends_the_stop_frame_and_drains() {
        let mut q = Qwen::default();
        q.encode_turn(&turn(vec![msg(Role::User, "hi")], 6, Params::default()), 0);
        q.decode("a", 100).unwrap();
        let d = q.stop("r1", 200);
        assert_eq!(d.send, vec![r#"{"stop":true}"#.to_string()]);
        assert!(q.decode("b", 300).unwrap().events.is_empty());
        let end = q.decode("", 400).unwrap();
        assert!(matches!(
            end.events[0],
            Event::End {
                reason: EndReason::Cancelled,
                ..
            }
        ));
    }
}
