//! The `session` dialect (seed 003, FastAPI + DashScope "聊天吧"): the
//! socket path ends in this browser's client id, the server keeps the
//! history per session, JSON frames carry a `status`
//! (running/completed/cancelled/error), and `cancel` is a message text.

use chatwire_protocol::DecodeError;
use serde::{Deserialize, Serialize};

use super::{Capabilities, Decoded, EndReason, Event, StopKind, Turn};

/// The seed page's model choice (the default list of the selector).
pub const DEFAULT_MODELS: &[&str] = &["qwen3-max", "qwen-plus", "qwen-turbo"];

#[derive(Debug, Clone)]
pub struct Session {
    client_id: String,
    session_id: Option<String>,
    /// The reply in flight.
    current: Option<String>,
    /// Stop was pressed before the server named the session: send the
    /// cancel as soon as it does.
    cancel_pending: bool,
}

#[derive(Serialize)]
struct Request<'a> {
    message: &'a str,
    stream: bool,
    model: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    session_id: Option<&'a str>,
}

#[derive(Serialize)]
struct Cancel<'a> {
    message: &'static str,
    session_id: &'a str,
}

#[derive(Deserialize)]
struct Frame {
    #[serde(default)]
    session_id: Option<String>,
    #[serde(default)]
    message: Option<String>,
    status: String,
}

impl Session {
    pub fn new(client_id: &str, session_id: Option<String>) -> Self {
        Self {
            client_id: client_id.to_owned(),
            session_id,
            current: None,
            cancel_pending: false,
        }
    }

    pub const CAPABILITIES: Capabilities = Capabilities {
        sampling: false,
        repetition_penalty: false,
        history: false,
        model_choice: true,
        stream_toggle: true,
        image: false,
        stop: StopKind::Acknowledged,
        silence_end: false,
        clear_session: true,
        system_prompt: false,
        resume: false,
    };

    /// `{base}/{client_id}`, as the seed's page builds it.
    pub fn socket_url(&self, base: &str) -> String {
        let (path, query) = match base.split_once('?') {
            Some((p, q)) => (p, Some(q)),
            None => (base, None),
        };
        let mut url = format!("{}/{}", path.trim_end_matches('/'), self.client_id);
        if let Some(q) = query {
            url.push('?');
            url.push_str(q);
        }
        url
    }

    pub fn on_open(&mut self, _now_ms: u64) -> Decoded {
        Decoded::event(Event::Ready { models: vec![] })
    }

    pub fn encode_turn(&mut self, turn: &Turn, _now_ms: u64) -> Vec<String> {
        let req = Request {
            message: turn.user_text(),
            stream: turn.stream,
            model: turn.model.as_deref().unwrap_or(DEFAULT_MODELS[0]),
            session_id: self.session_id.as_deref(),
        };
        self.current = Some(turn.reply_id.clone());
        self.cancel_pending = false;
        vec![serde_json::to_string(&req).unwrap_or_default()]
    }

    fn cancel_frame(session_id: &str) -> String {
        serde_json::to_string(&Cancel {
            message: "cancel",
            session_id,
        })
        .unwrap_or_default()
    }

    pub fn stop(&mut self, reply: &str, _now_ms: u64) -> Decoded {
        if self.current.as_deref() != Some(reply) {
            return Decoded::default();
        }
        match &self.session_id {
            Some(id) => Decoded::send(Self::cancel_frame(id)),
            None => {
                self.cancel_pending = true;
                Decoded::default()
            }
        }
    }

    /// The server-side conversation to continue (`None`: the next turn
    /// starts a new one).
    pub fn set_session(&mut self, id: Option<String>) {
        self.session_id = id.filter(|id| !id.is_empty());
    }

    pub fn decode(&mut self, text: &str, _now_ms: u64) -> Result<Decoded, DecodeError> {
        let frame: Frame = serde_json::from_str(text)
            .map_err(|e| DecodeError::Malformed(format!("not a session frame: {e}")))?;
        let mut out = Decoded::default();
        if let Some(id) = frame.session_id.filter(|id| !id.is_empty()) {
            if self.session_id.as_deref() != Some(id.as_str()) {
                self.session_id = Some(id.clone());
                out.events.push(Event::Session(id.clone()));
            }
            if std::mem::take(&mut self.cancel_pending) {
                out.send.push(Self::cancel_frame(&id));
            }
        }
        let Some(reply) = self.current.clone() else {
            return Ok(out);
        };
        let end = |reason| Event::End {
            reply: reply.clone(),
            reason,
            usage: None,
        };
        match frame.status.as_str() {
            "running" => {
                if let Some(text) = frame.message.filter(|t| !t.is_empty()) {
                    out.events.push(Event::Token {
                        reply: reply.clone(),
                        text,
                        seq: None,
                    });
                }
            }
            "completed" => {
                out.events.push(end(EndReason::Complete));
                self.current = None;
            }
            "cancelled" => {
                out.events.push(end(EndReason::Cancelled));
                self.current = None;
            }
            "error" => {
                out.events.push(Event::Error {
                    reply: Some(reply.clone()),
                    message: frame
                        .message
                        .unwrap_or_else(|| "the backend reported an error".into()),
                    fatal: false,
                });
                out.events.push(end(EndReason::Failed));
                self.current = None;
            }
            other => {
                return Err(DecodeError::InvalidFields {
                    frame_type: "session".into(),
                    detail: format!("unknown status `{other}`"),
                })
            }
        }
        Ok(out)
    }

    pub fn tick(&mut self, _now_ms: u64) -> Decoded {
        Decoded::default()
    }

    pub fn dead_after_ms(&self) -> Option<u64> {
        None
    }

    pub fn on_close(&mut self) {
        self.current = None;
        self.cancel_pending = false;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chatwire_protocol::{ChatMessage, Params, Role};

    fn turn(stream: bool) -> Turn {
        Turn {
            reply_id: "r1".into(),
            messages: vec![ChatMessage {
                role: Role::User,
                content: "你好".into(),
            }],
            params: Params::default(),
            model: Some("qwen-plus".into()),
            image: None,
            stream,
            history_window: 6,
            silence_ms: 2000,
        }
    }

    fn frame(status: &str, message: Option<&str>) -> String {
        serde_json::json!({"session_id":"S1","message_id":"m","message":message,"timestamp":1,"status":status}).to_string()
    }

    #[test]
    fn url_ends_in_the_client_id() {
        let s = Session::new("client_1700000000000", None);
        assert_eq!(
            s.socket_url("ws://h:8011/ws/chat"),
            "ws://h:8011/ws/chat/client_1700000000000"
        );
        assert_eq!(
            s.socket_url("ws://h/ws/chat/?t=1"),
            "ws://h/ws/chat/client_1700000000000?t=1"
        );
    }

    #[test]
    fn first_turn_omits_session_id_then_keeps_it() {
        let mut s = Session::new("c", None);
        assert_eq!(
            s.encode_turn(&turn(true), 0)[0],
            r#"{"message":"你好","stream":true,"model":"qwen-plus"}"#
        );
        let d = s.decode(&frame("running", Some("你")), 0).unwrap();
        assert_eq!(
            d.events,
            vec![
                Event::Session("S1".into()),
                Event::Token {
                    reply: "r1".into(),
                    text: "你".into(),
                    seq: None,
                }
            ]
        );
        let d = s.decode(&frame("completed", None), 0).unwrap();
        assert!(matches!(
            d.events[0],
            Event::End {
                reason: EndReason::Complete,
                ..
            }
        ));
        assert_eq!(
            s.encode_turn(&turn(false), 0)[0],
            r#"{"message":"你好","stream":false,"model":"qwen-plus","session_id":"S1"}"#
        );
        s.set_session(None);
        assert!(!s.encode_turn(&turn(true), 0)[0].contains("session_id"));
    }

    #[test]
    fn each_conversation_continues_its_own_session() {
        let mut s = Session::new("c", Some("A".into()));
        assert!(s.encode_turn(&turn(true), 0)[0].contains(r#""session_id":"A""#));
        s.set_session(Some("S1".into()));
        assert!(s.encode_turn(&turn(true), 0)[0].contains(r#""session_id":"S1""#));
        // The server confirming the session it was given is not news.
        let d = s.decode(&frame("running", Some("x")), 0).unwrap();
        assert!(!d.events.iter().any(|e| matches!(e, Event::Session(_))));
        // An empty id is no session.
        s.set_session(Some(String::new()));
        assert!(!s.encode_turn(&turn(true), 0)[0].contains("session_id"));
    }

    #[test]
    fn cancel_names_the_session_even_before_it_is_known() {
        let mut s = Session::new("c", Some("S0".into()));
        s.encode_turn(&turn(true), 0);
        assert_eq!(
            s.stop("r1", 0).send,
            vec![r#"{"message":"cancel","session_id":"S0"}"#.to_string()]
        );
        let d = s
            .decode(&frame("cancelled", Some("会话已取消")), 0)
            .unwrap();
        assert!(matches!(
            d.events.last(),
            Some(Event::End {
                reason: EndReason::Cancelled,
                ..
            })
        ));

        let mut s = Session::new("c", None);
        s.encode_turn(&turn(true), 0);
        assert!(s.stop("r1", 0).send.is_empty());
        let d = s.decode(&frame("running", Some("x")), 0).unwrap();
        assert_eq!(
            d.send,
            vec![r#"{"message":"cancel","session_id":"S1"}"#.to_string()]
        );
    }

    #[test]
    fn errors_and_bad_frames() {
        let mut s = Session::new("c", None);
        s.encode_turn(&turn(true), 0);
        let d = s
            .decode(&frame("error", Some("处理消息时出错: boom")), 0)
            .unwrap();
        assert!(matches!(&d.events[1], Event::Error { message, .. } if message.contains("boom")));
        assert!(matches!(
            d.events[2],
            Event::End {
                reason: EndReason::Failed,
                ..
            }
        ));
        assert!(s.decode("not json", 0).is_err());
        s.encode_turn(&turn(true), 0);
        assert!(s.decode(&frame("exploded", None), 0).is_err());
    }
}
