//! The `native` dialect: chatwire's own protocol (docs/protocol.md).

use chatwire_protocol::{
    ChatRequest, ClientFrame, DecodeError, ErrorCode, FinishReason, SeqTracker, SeqVerdict,
    ServerFrame, DEFAULT_HEARTBEAT_MS, PROTOCOL_VERSION,
};

use super::{Capabilities, Decoded, EndReason, Event, StopKind, Turn};

#[derive(Debug, Clone)]
pub struct Native {
    client_id: String,
    heartbeat_ms: u64,
    last_ping_ms: u64,
    /// The reply in flight and its sequence bookkeeping.
    current: Option<(String, SeqTracker)>,
}

impl Native {
    pub fn new(client_id: &str) -> Self {
        Self {
            client_id: client_id.to_owned(),
            heartbeat_ms: DEFAULT_HEARTBEAT_MS,
            last_ping_ms: 0,
            current: None,
        }
    }

    pub fn capabilities(&self) -> Capabilities {
        Capabilities {
            sampling: true,
            repetition_penalty: true,
            history: true,
            model_choice: true,
            stream_toggle: false,
            image: false,
            stop: StopKind::Acknowledged,
            silence_end: false,
            clear_session: false,
        }
    }

    pub fn socket_url(&self, base: &str) -> String {
        base.to_owned()
    }

    /// Says `hello`; ready once `welcome` arrives.
    pub fn on_open(&mut self, now_ms: u64) -> Decoded {
        self.last_ping_ms = now_ms;
        Decoded::send(
            ClientFrame::Hello {
                v: PROTOCOL_VERSION,
                client: Some(self.client_id.clone()),
            }
            .encode(),
        )
    }

    pub fn encode_turn(&mut self, turn: &Turn, _now_ms: u64) -> Vec<String> {
        self.current = Some((turn.reply_id.clone(), SeqTracker::new()));
        vec![ClientFrame::Chat(ChatRequest {
            id: turn.reply_id.clone(),
            model: turn.model.clone(),
            messages: turn.messages.clone(),
            params: turn.params,
        })
        .encode()]
    }

    /// `cancel`; the server's `end` (finish reason `cancelled`) confirms it.
    pub fn stop(&mut self, reply: &str, _now_ms: u64) -> Decoded {
        Decoded::send(ClientFrame::Cancel { id: reply.into() }.encode())
    }

    /// Sends `ping` every heartbeat interval.
    pub fn tick(&mut self, now_ms: u64) -> Decoded {
        if now_ms.saturating_sub(self.last_ping_ms) < self.heartbeat_ms {
            return Decoded::default();
        }
        self.last_ping_ms = now_ms;
        Decoded::send(ClientFrame::Ping { t: now_ms }.encode())
    }

    /// The server pings every interval too: two missed intervals (and some
    /// slack) mean the socket is dead.
    pub fn dead_after_ms(&self) -> Option<u64> {
        Some(self.heartbeat_ms * 2 + 2_000)
    }

    pub fn on_close(&mut self) {
        self.current = None;
    }

    /// Applies the sequence check to a frame of the current reply. Returns
    /// `Ok(true)` to apply it, `Ok(false)` to drop it as a duplicate.
    fn check_seq(&mut self, id: &str, seq: u64) -> Result<bool, Event> {
        let Some((current, tracker)) = self.current.as_mut().filter(|(c, _)| c == id) else {
            // A frame of a reply we are not waiting for (e.g. after a
            // local stop and a new turn): not ours to show.
            return Ok(false);
        };
        match tracker.accept(seq) {
            SeqVerdict::Next => Ok(true),
            SeqVerdict::Duplicate => Ok(false),
            SeqVerdict::Gap { expected } => Err(Event::Error {
                reply: Some(current.clone()),
                message: format!("frames were lost (expected #{expected}, got #{seq})"),
                fatal: false,
            }),
        }
    }

    pub fn decode(&mut self, text: &str, _now_ms: u64) -> Result<Decoded, DecodeError> {
        let frame = match ServerFrame::decode(text) {
            Ok(f) => f,
            // Versioning rule: frame types from a newer server are ignored.
            Err(DecodeError::UnknownType(_)) => return Ok(Decoded::default()),
            Err(e) => return Err(e),
        };
        let mut out = Decoded::default();
        match frame {
            ServerFrame::Welcome {
                models,
                heartbeat_ms,
                ..
            } => {
                self.heartbeat_ms = heartbeat_ms.clamp(1_000, 300_000);
                out.events.push(Event::Ready { models });
            }
            ServerFrame::Models { .. } | ServerFrame::Pong { .. } => {}
            ServerFrame::Ping { t } => out.send.push(ClientFrame::Pong { t }.encode()),
            ServerFrame::Queued { id, position } => {
                out.events.push(Event::Queued {
                    reply: id,
                    position,
                });
            }
            ServerFrame::Start { id, seq, .. } => {
                if let Err(ev) = self.check_seq(&id, seq) {
                    out.events.push(ev);
                }
            }
            ServerFrame::Delta { id, seq, text } => match self.check_seq(&id, seq) {
                Ok(true) => out.events.push(Event::Token { reply: id, text }),
                Ok(false) => {}
                Err(ev) => out.events.push(ev),
            },
            ServerFrame::End {
                id,
                seq,
                finish_reason,
                usage,
            } => match self.check_seq(&id, seq) {
                Ok(true) => {
                    self.current = None;
                    let reason = match finish_reason {
                        FinishReason::Stop => EndReason::Complete,
                        FinishReason::Length => EndReason::Length,
                        FinishReason::Cancelled => EndReason::Cancelled,
                        FinishReason::Error => EndReason::Failed,
                    };
                    out.events.push(Event::End {
                        reply: id,
                        reason,
                        usage,
                    });
                }
                Ok(false) => {}
                Err(ev) => out.events.push(ev),
            },
            // A cancel that raced the reply's natural end: nothing to show.
            ServerFrame::Error {
                code: ErrorCode::NotRunning,
                ..
            } => {}
            ServerFrame::Error { id, code, message } => {
                out.events.push(Event::Error {
                    reply: id,
                    message: format!("{message} ({})", code.as_str()),
                    fatal: code == ErrorCode::UnsupportedVersion,
                });
            }
        }
        Ok(out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chatwire_protocol::{ChatMessage, Params, Role, Usage};

    fn turn(id: &str) -> Turn {
        Turn {
            reply_id: id.into(),
            messages: vec![ChatMessage {
                role: Role::User,
                content: "hi".into(),
            }],
            params: Params {
                temperature: Some(0.7),
                top_p: Some(0.9),
                max_tokens: Some(512),
                ..Params::default()
            },
            model: None,
            image: None,
            stream: true,
            history_window: 6,
            silence_ms: 2000,
        }
    }

    fn events(d: &mut Native, frames: &[&str]) -> Vec<Event> {
        frames
            .iter()
            .flat_map(|f| d.decode(f, 0).unwrap().events)
            .collect()
    }

    #[test]
    fn requests_encode_exactly() {
        let mut d = Native::new("c1");
        assert_eq!(
            d.on_open(0).send,
            vec![r#"{"type":"hello","v":1,"client":"c1"}"#.to_string()]
        );
        assert_eq!(
            d.encode_turn(&turn("r1"), 0)[0],
            r#"{"type":"chat","id":"r1","messages":[{"role":"user","content":"hi"}],"params":{"temperature":0.7,"top_p":0.9,"max_tokens":512}}"#
        );
        assert_eq!(
            d.stop("r1", 0).send,
            vec![r#"{"type":"cancel","id":"r1"}"#.to_string()]
        );
    }

    #[test]
    fn a_recorded_reply_becomes_tokens_and_end() {
        let mut d = Native::new("c");
        d.encode_turn(&turn("r1"), 0);
        let evs = events(
            &mut d,
            &[
                r#"{"type":"start","id":"r1","seq":0,"model":"scripted"}"#,
                r#"{"type":"delta","id":"r1","seq":1,"text":"Hel"}"#,
                r#"{"type":"delta","id":"r1","seq":2,"text":"lo"}"#,
                r#"{"type":"end","id":"r1","seq":3,"finish_reason":"stop","usage":{"prompt_tokens":1,"completion_tokens":2}}"#,
            ],
        );
        assert_eq!(
            evs,
            vec![
                Event::Token {
                    reply: "r1".into(),
                    text: "Hel".into()
                },
                Event::Token {
                    reply: "r1".into(),
                    text: "lo".into()
                },
                Event::End {
                    reply: "r1".into(),
                    reason: EndReason::Complete,
                    usage: Some(Usage {
                        prompt_tokens: 1,
                        completion_tokens: 2
                    }),
                },
            ]
        );
    }

    #[test]
    fn duplicates_are_dropped_and_gaps_reported() {
        let mut d = Native::new("c");
        d.encode_turn(&turn("r1"), 0);
        let evs = events(
            &mut d,
            &[
                r#"{"type":"start","id":"r1","seq":0,"model":"m"}"#,
                r#"{"type":"delta","id":"r1","seq":1,"text":"a"}"#,
                r#"{"type":"delta","id":"r1","seq":1,"text":"a"}"#,
                r#"{"type":"delta","id":"r1","seq":3,"text":"c"}"#,
            ],
        );
        assert_eq!(evs.len(), 2);
        assert!(matches!(&evs[1], Event::Error { message, .. } if message.contains("expected #2")));
    }

    #[test]
    fn frames_of_other_replies_are_ignored() {
        let mut d = Native::new("c");
        d.encode_turn(&turn("r2"), 0);
        let evs = events(
            &mut d,
            &[r#"{"type":"delta","id":"r1","seq":5,"text":"late"}"#],
        );
        assert!(evs.is_empty());
    }

    #[test]
    fn welcome_ping_errors_and_unknown_types() {
        let mut d = Native::new("c");
        let w = d
            .decode(r#"{"type":"welcome","v":1,"server":"s","models":[],"heartbeat_ms":5000,"max_frame_bytes":1}"#, 0)
            .unwrap();
        assert_eq!(w.events, vec![Event::Ready { models: vec![] }]);
        assert_eq!(d.dead_after_ms(), Some(12_000));
        assert!(d.tick(4_999).send.is_empty());
        assert_eq!(
            d.tick(5_000).send,
            vec![r#"{"type":"ping","t":5000}"#.to_string()]
        );
        let p = d.decode(r#"{"type":"ping","t":9}"#, 0).unwrap();
        assert_eq!(p.send, vec![r#"{"type":"pong","t":9}"#.to_string()]);
        assert_eq!(
            d.decode(r#"{"type":"future_thing","x":1}"#, 0).unwrap(),
            Decoded::default()
        );
        let e = d
            .decode(
                r#"{"type":"error","id":"r1","code":"engine","message":"boom"}"#,
                0,
            )
            .unwrap();
        assert_eq!(
            e.events,
            vec![Event::Error {
                reply: Some("r1".into()),
                message: "boom (engine)".into(),
                fatal: false
            }]
        );
        assert!(d
            .decode(
                r#"{"type":"error","id":"r1","code":"not_running","message":"x"}"#,
                0
            )
            .unwrap()
            .events
            .is_empty());
        let v = d
            .decode(
                r#"{"type":"error","code":"unsupported_version","message":"v"}"#,
                0,
            )
            .unwrap();
        assert!(matches!(v.events[0], Event::Error { fatal: true, .. }));
        assert!(d.decode("{oops", 0).is_err());
        assert!(d.decode(r#"{"type":"delta"}"#, 0).is_err());
    }
}
