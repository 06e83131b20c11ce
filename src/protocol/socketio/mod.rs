//! The `socketio` dialect (seed 001, Flask-SocketIO serving Qwen3-VL-2B):
//! Socket.IO v5 over Engine.IO v4 on a plain WebSocket. The client emits
//! `message {text, image}`; the server emits `response {type, content}`
//! with `info` (a notice on connect), `partial`, `final` (the whole text,
//! ending the reply) and `error`. There is no stop: a stopped reply is
//! ended here and the rest the server sends is dropped.

pub mod packet;

use chatwire_protocol::DecodeError;
use serde_json::Value;

use super::{Capabilities, Decoded, EndReason, Event, StopKind, Turn};
use packet::{Engine, Socket};

/// The seed's application-level heartbeat: `ping` every 30 s.
const APP_PING_MS: u64 = 30_000;
/// A stopped reply whose `final` never comes stops blocking after this.
const DRAIN_GIVE_UP_MS: u64 = 30_000;

/// The `message` event's payload, in the seed page's field order.
#[derive(serde::Serialize)]
struct MessagePayload<'a> {
    text: &'a str,
    image: Option<&'a str>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Handshake {
    /// Waiting for Engine.IO `open`.
    Opening,
    /// Sent `40`, waiting for the namespace's answer.
    Connecting,
    Connected,
}

#[derive(Debug, Clone)]
struct Reply {
    id: String,
    got_partial: bool,
    /// Stopped here; waiting for the server's `final` to drop the rest.
    draining: bool,
    last_ms: u64,
}

#[derive(Debug, Clone)]
pub struct SocketIo {
    handshake: Handshake,
    ping_interval: u64,
    ping_timeout: u64,
    last_app_ping: u64,
    current: Option<Reply>,
}

impl Default for SocketIo {
    fn default() -> Self {
        Self {
            handshake: Handshake::Opening,
            ping_interval: 25_000,
            ping_timeout: 20_000,
            last_app_ping: 0,
            current: None,
        }
    }
}

/// The `response` payload.
fn response_fields(args: &[Value]) -> Result<(&str, &str), DecodeError> {
    let obj =
        args.first()
            .and_then(Value::as_object)
            .ok_or_else(|| DecodeError::InvalidFields {
                frame_type: "response".into(),
                detail: "expected an object argument".into(),
            })?;
    let kind = obj.get("type").and_then(Value::as_str).unwrap_or("");
    let content = obj.get("content").and_then(Value::as_str).unwrap_or("");
    Ok((kind, content))
}

impl SocketIo {
    pub const CAPABILITIES: Capabilities = Capabilities {
        sampling: false,
        repetition_penalty: false,
        history: false,
        model_choice: false,
        stream_toggle: false,
        image: true,
        stop: StopKind::LocalOnly,
        silence_end: false,
        clear_session: false,
        system_prompt: false,
        resume: false,
    };

    /// `{base}/socket.io/?EIO=4&transport=websocket`, unless the base
    /// already names the Socket.IO path.
    pub fn socket_url(&self, base: &str) -> String {
        let (path, query) = match base.split_once('?') {
            Some((p, q)) => (p, Some(q)),
            None => (base, None),
        };
        let path = if path.contains("/socket.io") {
            path.to_owned()
        } else {
            format!("{}/socket.io/", path.trim_end_matches('/'))
        };
        let mut url = format!("{path}?EIO=4&transport=websocket");
        if let Some(q) = query.filter(|q| !q.is_empty()) {
            url.push('&');
            url.push_str(q);
        }
        url
    }

    pub fn on_open(&mut self, now_ms: u64) -> Decoded {
        self.handshake = Handshake::Opening;
        self.last_app_ping = now_ms;
        Decoded::default()
    }

    pub fn encode_turn(&mut self, turn: &Turn, now_ms: u64) -> Vec<String> {
        self.current = Some(Reply {
            id: turn.reply_id.clone(),
            got_partial: false,
            draining: false,
            last_ms: now_ms,
        });
        vec![packet::event_with(
            "message",
            &MessagePayload {
                text: turn.user_text(),
                image: turn.image.as_deref(),
            },
        )]
    }

    /// No stop exists in this dialect: drop the rest of the reply. The
    /// reply ends (and a new turn may start) when the server's `final`
    /// comes, so its late pieces cannot mix into the next reply.
    pub fn stop(&mut self, reply: &str, now_ms: u64) -> Decoded {
        if let Some(r) = self.current.as_mut().filter(|r| r.id == reply) {
            r.draining = true;
            r.last_ms = now_ms;
        }
        Decoded::default()
    }

    pub fn decode(&mut self, text: &str, now_ms: u64) -> Result<Decoded, DecodeError> {
        match packet::parse_engine(text)? {
            Engine::Open(info) => {
                self.ping_interval = info.ping_interval;
                self.ping_timeout = info.ping_timeout;
                self.handshake = Handshake::Connecting;
                Ok(Decoded::send(packet::connect(None)))
            }
            Engine::Ping(data) => Ok(Decoded::send(format!("{}{data}", packet::PONG))),
            Engine::Pong(_) | Engine::Noop | Engine::Upgrade | Engine::Close => {
                Ok(Decoded::default())
            }
            Engine::Message(m) => self.on_socket(packet::parse_socket(m)?, now_ms),
        }
    }

    fn on_socket(&mut self, p: Socket, now_ms: u64) -> Result<Decoded, DecodeError> {
        Ok(match p {
            Socket::Connect { nsp, .. } if nsp == "/" => {
                self.handshake = Handshake::Connected;
                Decoded::event(Event::Ready { models: vec![] })
            }
            Socket::ConnectError { data, .. } => {
                let reason = data
                    .as_ref()
                    .and_then(|d| d.get("message"))
                    .and_then(Value::as_str)
                    .unwrap_or("refused")
                    .to_owned();
                Decoded::event(Event::Error {
                    reply: None,
                    message: format!("The Socket.IO server refused the connection: {reason}"),
                    fatal: true,
                })
            }
            Socket::Event { name, args, .. } if name == "response" => {
                let (kind, content) = response_fields(&args)?;
                self.on_response(kind, content, now_ms)
            }
            // `pong` answers our heartbeat; other events are not replies.
            _ => Decoded::default(),
        })
    }

    fn on_response(&mut self, kind: &str, content: &str, now_ms: u64) -> Decoded {
        let mut out = Decoded::default();
        match (kind, self.current.as_mut()) {
            ("info", _) => out.events.push(Event::Notice(content.to_owned())),
            ("partial", Some(r)) => {
                r.last_ms = now_ms;
                r.got_partial = true;
                if !r.draining {
                    out.events.push(Event::Token {
                        reply: r.id.clone(),
                        text: content.to_owned(),
                        seq: None,
                    });
                }
            }
            ("final", Some(r)) => {
                // Without partials (a non-streaming server) the final text
                // is the reply.
                if !r.got_partial && !r.draining && !content.is_empty() {
                    out.events.push(Event::Token {
                        reply: r.id.clone(),
                        text: content.to_owned(),
                        seq: None,
                    });
                }
                let reason = if r.draining {
                    EndReason::Cancelled
                } else {
                    EndReason::Complete
                };
                out.events.push(Event::End {
                    reply: r.id.clone(),
                    reason,
                    usage: None,
                });
                self.current = None;
            }
            ("error", Some(r)) => {
                out.events.push(Event::Error {
                    reply: Some(r.id.clone()),
                    message: content.to_owned(),
                    fatal: false,
                });
                out.events.push(Event::End {
                    reply: r.id.clone(),
                    reason: EndReason::Failed,
                    usage: None,
                });
                self.current = None;
            }
            ("error", None) => out.events.push(Event::Error {
                reply: None,
                message: content.to_owned(),
                fatal: false,
            }),
            // Pieces with no reply waiting, or a type from a newer server.
            _ => {}
        }
        out
    }

    pub fn tick(&mut self, now_ms: u64) -> Decoded {
        let mut out = Decoded::default();
        if self.handshake == Handshake::Connected
            && now_ms.saturating_sub(self.last_app_ping) >= APP_PING_MS
        {
            self.last_app_ping = now_ms;
            out.send.push(packet::event("ping", &[]));
        }
        if let Some(r) = self
            .current
            .as_ref()
            .filter(|r| r.draining && now_ms.saturating_sub(r.last_ms) >= DRAIN_GIVE_UP_MS)
        {
            out.events.push(Event::End {
                reply: r.id.clone(),
                reason: EndReason::Cancelled,
                usage: None,
            });
            self.current = None;
        }
        out
    }

    /// The server pings every `pingInterval`; with nothing for interval +
    /// timeout the socket is dead.
    pub fn dead_after_ms(&self) -> Option<u64> {
        Some(self.ping_interval + self.ping_timeout)
    }

    pub fn on_close(&mut self) {
        self.handshake = Handshake::Opening;
        self.current = None;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chatwire_protocol::{ChatMessage, Params, Role};
    use serde_json::json;

    const OPEN: &str = r#"0{"sid":"x","upgrades":[],"pingInterval":25000,"pingTimeout":5000,"maxPayload":1000000}"#;

    fn turn(image: Option<&str>) -> Turn {
        Turn {
            reply_id: "r1".into(),
            messages: vec![ChatMessage {
                role: Role::User,
                content: "What is in the picture?".into(),
            }],
            params: Params::default(),
            model: None,
            image: image.map(str::to_owned),
            stream: true,
            history_window: 6,
            silence_ms: 2000,
        }
    }

    fn response(kind: &str, content: &str) -> String {
        format!(
            "42{}",
            json!(["response", {"type": kind, "content": content}])
        )
    }

    fn connected() -> SocketIo {
        let mut s = SocketIo::default();
        s.on_open(0);
        assert_eq!(s.decode(OPEN, 0).unwrap().send, vec!["40".to_string()]);
        let d = s.decode(r#"40{"sid":"y"}"#, 0).unwrap();
        assert_eq!(d.events, vec![Event::Ready { models: vec![] }]);
        s
    }

    #[test]
    fn url_gets_the_engine_io_path() {
        let s = SocketIo::default();
        assert_eq!(
            s.socket_url("ws://h:5000"),
            "ws://h:5000/socket.io/?EIO=4&transport=websocket"
        );
        assert_eq!(
            s.socket_url("ws://h:5000/"),
            "ws://h:5000/socket.io/?EIO=4&transport=websocket"
        );
        assert_eq!(
            s.socket_url("wss://h/app/socket.io/?token=t"),
            "wss://h/app/socket.io/?EIO=4&transport=websocket&token=t"
        );
    }

    #[test]
    fn handshake_then_a_streamed_reply() {
        let mut s = connected();
        assert_eq!(
            s.decode(&response("info", "已连接到视觉AI服务"), 0)
                .unwrap()
                .events,
            vec![Event::Notice("已连接到视觉AI服务".into())]
        );
        let frames = s.encode_turn(&turn(Some("data:image/png;base64,iVBO")), 0);
        assert_eq!(
            frames[0],
            r#"42["message",{"text":"What is in the picture?","image":"data:image/png;base64,iVBO"}]"#
        );
        let mut events = vec![];
        for f in [
            response("partial", "A "),
            response("partial", "cat"),
            response("final", "A cat"),
        ] {
            events.extend(s.decode(&f, 10).unwrap().events);
        }
        assert_eq!(
            events,
            vec![
                Event::Token {
                    reply: "r1".into(),
                    text: "A ".into(),
                    seq: None,
                },
                Event::Token {
                    reply: "r1".into(),
                    text: "cat".into(),
                    seq: None,
                },
                Event::End {
                    reply: "r1".into(),
                    reason: EndReason::Complete,
                    usage: None
                },
            ]
        );
    }

    #[test]
    fn no_image_is_null_and_final_alone_is_the_reply() {
        let mut s = connected();
        assert_eq!(
            s.encode_turn(&turn(None), 0)[0],
            r#"42["message",{"text":"What is in the picture?","image":null}]"#
        );
        let d = s.decode(&response("final", "whole answer"), 0).unwrap();
        assert_eq!(
            d.events[0],
            Event::Token {
                reply: "r1".into(),
                text: "whole answer".into(),
                seq: None,
            }
        );
    }

    #[test]
    fn engine_pings_are_answered_and_app_pings_sent() {
        let mut s = connected();
        assert_eq!(s.decode("2", 0).unwrap().send, vec!["3".to_string()]);
        assert!(s.tick(29_999).send.is_empty());
        assert_eq!(s.tick(30_000).send, vec![r#"42["ping"]"#.to_string()]);
        assert!(s.decode(r#"42["pong"]"#, 0).unwrap().events.is_empty());
        assert_eq!(s.dead_after_ms(), Some(30_000));
    }

    #[test]
    fn stop_drops_the_rest_until_final() {
        let mut s = connected();
        s.encode_turn(&turn(None), 0);
        s.decode(&response("partial", "a"), 0).unwrap();
        assert!(
            s.stop("r1", 5).send.is_empty(),
            "nothing reaches the server"
        );
        assert!(s
            .decode(&response("partial", "b"), 6)
            .unwrap()
            .events
            .is_empty());
        let d = s.decode(&response("final", "ab"), 7).unwrap();
        assert_eq!(
            d.events,
            vec![Event::End {
                reply: "r1".into(),
                reason: EndReason::Cancelled,
                usage: None
            }]
        );
        // A server that never sends final stops blocking after a while.
        s.encode_turn(&turn(None), 100);
        s.stop("r1", 100);
        assert!(s.tick(100 + DRAIN_GIVE_UP_MS - 1).events.is_empty());
        assert_eq!(s.tick(100 + DRAIN_GIVE_UP_MS).events.len(), 1);
    }

    #[test]
    fn errors_and_refusals() {
        let mut s = connected();
        s.encode_turn(&turn(None), 0);
        let d = s.decode(&response("error", "请输入问题"), 0).unwrap();
        assert!(
            matches!(&d.events[0], Event::Error { reply: Some(_), message, .. } if message == "请输入问题")
        );
        assert!(matches!(
            d.events[1],
            Event::End {
                reason: EndReason::Failed,
                ..
            }
        ));
        let d = s.decode(r#"44{"message":"Not authorized"}"#, 0).unwrap();
        assert!(
            matches!(&d.events[0], Event::Error { fatal: true, message, .. } if message.contains("Not authorized"))
        );
        assert!(s.decode("42[\"response\",\"text\"]", 0).is_err());
        assert!(s.decode("garbage", 0).is_err());
    }
}
