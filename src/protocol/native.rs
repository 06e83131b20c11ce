//! The `native` dialect: chatwire's own protocol (docs/protocol.md).

use chatwire_protocol::{
    ChatRequest, ClientFrame, DecodeError, ErrorCode, FinishReason, Role, SeqTracker, SeqVerdict,
    ServerFrame, DEFAULT_HEARTBEAT_MS, DEFAULT_MAX_FRAME_BYTES, PROTOCOL_VERSION,
};

use super::{Capabilities, Decoded, EndReason, Event, StopKind, Turn};

#[derive(Debug, Clone)]
pub struct Native {
    client_id: String,
    heartbeat_ms: u64,
    /// The largest frame the server takes (its `welcome` says).
    max_frame_bytes: usize,
    last_ping_ms: u64,
    /// The reply in flight and its sequence bookkeeping. It outlives a
    /// dropped connection: the next one resumes it.
    current: Option<(String, SeqTracker)>,
    /// Whether a socket is open (set by `on_open`, cleared by `on_close`).
    connected: bool,
    /// A reply stopped while disconnected: cancelled after the next hello.
    cancel_on_open: Option<String>,
}

impl Native {
    pub fn new(client_id: &str) -> Self {
        Self {
            client_id: client_id.to_owned(),
            heartbeat_ms: DEFAULT_HEARTBEAT_MS,
            max_frame_bytes: DEFAULT_MAX_FRAME_BYTES,
            last_ping_ms: 0,
            current: None,
            connected: false,
            cancel_on_open: None,
        }
    }

    pub const CAPABILITIES: Capabilities = Capabilities {
        sampling: true,
        repetition_penalty: true,
        history: true,
        model_choice: true,
        stream_toggle: false,
        image: false,
        stop: StopKind::Acknowledged,
        silence_end: false,
        clear_session: false,
        system_prompt: true,
        resume: true,
    };

    pub fn socket_url(&self, base: &str) -> String {
        base.to_owned()
    }

    /// Says `hello` (ready once `welcome` arrives), then resumes the reply
    /// that was in flight when the last connection dropped.
    pub fn on_open(&mut self, now_ms: u64) -> Decoded {
        self.last_ping_ms = now_ms;
        self.connected = true;
        let mut out = Decoded::send(
            ClientFrame::Hello {
                v: PROTOCOL_VERSION,
                client: Some(self.client_id.clone()),
            }
            .encode(),
        );
        if let Some(id) = self.cancel_on_open.take() {
            out.send.push(ClientFrame::Cancel { id }.encode());
        }
        if let Some(frame) = self.resume_frame() {
            out.send.push(frame);
        }
        out
    }

    /// `resume` for the reply in flight, after the last frame applied (a
    /// reply whose `start` never arrived resumes after it: it has no text).
    fn resume_frame(&mut self) -> Option<String> {
        let (id, tracker) = self.current.as_mut()?;
        let after_seq = tracker.last().unwrap_or(0);
        *tracker = SeqTracker::after(after_seq);
        Some(
            ClientFrame::Resume {
                id: id.clone(),
                after_seq,
            }
            .encode(),
        )
    }

    /// Takes up reply `reply` after `after_seq` (kept from an earlier page).
    pub fn resume(&mut self, reply: &str, after_seq: u64) -> Decoded {
        self.current = Some((reply.to_owned(), SeqTracker::after(after_seq)));
        if !self.connected {
            return Decoded::default();
        }
        self.resume_frame().map(Decoded::send).unwrap_or_default()
    }

    /// `chat`, within the server's frame limit: when the conversation is
    /// too long, the oldest messages (never the system prompt, never the
    /// new message) are left out of the request, and a notice says so. A
    /// new message too long on its own is sent anyway; the server's error
    /// then ends this reply with the reason.
    pub fn encode_turn(&mut self, turn: &Turn, _now_ms: u64) -> Decoded {
        self.current = Some((turn.reply_id.clone(), SeqTracker::new()));
        let mut request = ChatRequest {
            id: turn.reply_id.clone(),
            model: turn.model.clone(),
            messages: turn.messages.clone(),
            params: turn.params,
        };
        let mut frame = ClientFrame::Chat(request.clone()).encode();
        let mut left_out = 0;
        while frame.len() > self.max_frame_bytes {
            let excess = frame.len() - self.max_frame_bytes;
            let dropped = drop_oldest(&mut request.messages, excess);
            if dropped == 0 {
                break;
            }
            left_out += dropped;
            frame = ClientFrame::Chat(request.clone()).encode();
        }
        let mut out = Decoded::send(frame);
        if left_out > 0 {
            let kb = self.max_frame_bytes / 1024;
            out.events.push(Event::Notice(if left_out == 1 {
                crate::trf!(
                    "This conversation is longer than the server takes in one request ({} KB): the oldest message was left out of it.",
                    "对话超出服务器单次请求的上限（{} KB）：最早的 1 条消息未随本次请求发送。",
                    kb
                )
            } else {
                crate::trf!(
                    "This conversation is longer than the server takes in one request ({} KB): the oldest {} messages were left out of it.",
                    "对话超出服务器单次请求的上限（{} KB）：最早的 {} 条消息未随本次请求发送。",
                    kb,
                    left_out
                )
            }));
        }
        out
    }

    /// `cancel`; the server's `end` (finish reason `cancelled`) confirms it.
    /// While disconnected the reply is forgotten here and cancelled at the
    /// server once connected again.
    pub fn stop(&mut self, reply: &str, _now_ms: u64) -> Decoded {
        if !self.connected {
            if self.current.as_ref().is_some_and(|(c, _)| c == reply) {
                self.current = None;
            }
            self.cancel_on_open = Some(reply.to_owned());
            return Decoded::default();
        }
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

    /// The reply in flight is kept, to be resumed on the next connection.
    pub fn on_close(&mut self) {
        self.connected = false;
    }

    /// Applies the sequence check to a frame of the current reply. Returns
    /// `Ok(true)` to apply it, `Ok(false)` to drop it as a duplicate.
    /// `Err` means frames are missing before this one.
    fn check_seq(&mut self, id: &str, seq: u64) -> Result<bool, ()> {
        let Some((_, tracker)) = self.current.as_mut().filter(|(c, _)| c == id) else {
            // A frame of a reply we are not waiting for (e.g. after a
            // local stop and a new turn): not ours to show.
            return Ok(false);
        };
        match tracker.accept(seq) {
            SeqVerdict::Next => Ok(true),
            SeqVerdict::Duplicate => Ok(false),
            SeqVerdict::Gap { .. } => Err(()),
        }
    }

    /// Frames of the current reply were lost: ask for them again.
    fn on_gap(&mut self, out: &mut Decoded) {
        if let Some(frame) = self.resume_frame() {
            out.send.push(frame);
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
                max_frame_bytes,
                ..
            } => {
                self.heartbeat_ms = heartbeat_ms.clamp(1_000, 300_000);
                self.max_frame_bytes = max_frame_bytes.max(1024);
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
                if self.check_seq(&id, seq).is_err() {
                    self.on_gap(&mut out);
                }
            }
            ServerFrame::Delta { id, seq, text } => match self.check_seq(&id, seq) {
                Ok(true) => out.events.push(Event::Token {
                    reply: id,
                    text,
                    seq: Some(seq),
                }),
                Ok(false) => {}
                Err(()) => self.on_gap(&mut out),
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
                Err(()) => self.on_gap(&mut out),
            },
            // A cancel that raced the reply's natural end: nothing to show.
            ServerFrame::Error {
                code: ErrorCode::NotRunning,
                ..
            } => {}
            ServerFrame::Error {
                id: Some(id),
                code: ErrorCode::ResumeUnavailable,
                message,
            } => {
                if self.current.as_ref().is_some_and(|(c, _)| *c == id) {
                    self.current = None;
                }
                out.events.push(Event::Interrupted { reply: id, message });
            }
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

/// Removes the oldest messages that may go (not a system prompt, not the
/// last message) until about `excess` bytes of JSON are gone, then the
/// replies that would be left without their question: the history still
/// starts with a user message. How many went.
fn drop_oldest(messages: &mut Vec<chatwire_protocol::ChatMessage>, excess: usize) -> usize {
    let mut freed = 0;
    let mut dropped = 0;
    let mut i = 0;
    while i + 1 < messages.len() {
        let role = messages[i].role;
        if role == Role::System {
            i += 1;
            continue;
        }
        if freed >= excess && role != Role::Assistant {
            break;
        }
        let m = messages.remove(i);
        // Its JSON and the comma after it.
        freed += serde_json::to_string(&m).map_or(m.content.len(), |j| j.len()) + 1;
        dropped += 1;
    }
    dropped
}

impl super::Adapter for Native {
    fn socket_url(&self, base: &str) -> String {
        Native::socket_url(self, base)
    }
    fn on_open(&mut self, now_ms: u64) -> Decoded {
        Native::on_open(self, now_ms)
    }
    fn encode_turn(&mut self, turn: &Turn, now_ms: u64) -> Decoded {
        Native::encode_turn(self, turn, now_ms)
    }
    fn stop(&mut self, reply: &str, now_ms: u64) -> Decoded {
        Native::stop(self, reply, now_ms)
    }
    fn decode(&mut self, text: &str, now_ms: u64) -> Result<Decoded, DecodeError> {
        Native::decode(self, text, now_ms)
    }
    fn tick(&mut self, now_ms: u64) -> Decoded {
        Native::tick(self, now_ms)
    }
    fn dead_after_ms(&self) -> Option<u64> {
        Native::dead_after_ms(self)
    }
    fn on_close(&mut self) {
        Native::on_close(self)
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

    fn welcome(max_frame_bytes: usize) -> String {
        ServerFrame::Welcome {
            v: 1,
            server: "s".into(),
            models: vec![],
            heartbeat_ms: 15_000,
            max_frame_bytes,
        }
        .encode()
    }

    fn msg(role: Role, content: &str) -> ChatMessage {
        ChatMessage {
            role,
            content: content.into(),
        }
    }

    #[test]
    fn a_long_conversation_is_cut_from_the_oldest_to_fit_the_servers_limit() {
        let mut d = Native::new("c1");
        d.on_open(0);
        d.decode(&welcome(4096), 0).unwrap();
        let mut t = turn("r1");
        let old = "x".repeat(1000);
        t.messages = vec![msg(Role::System, "be brief")];
        for i in 0..6 {
            let role = if i % 2 == 0 {
                Role::User
            } else {
                Role::Assistant
            };
            t.messages.push(msg(role, &format!("{i}{old}")));
        }
        t.messages.push(msg(Role::User, "the new question"));
        let out = d.encode_turn(&t, 0);
        let frame = &out.send[0];
        assert!(frame.len() <= 4096, "{} bytes", frame.len());
        let Ok(ClientFrame::Chat(sent)) = ClientFrame::decode(frame) else {
            panic!("not a chat frame: {frame}");
        };
        // The system prompt and the new message stay; what is left of the
        // history is its newest part, in order.
        assert_eq!(sent.messages[0], msg(Role::System, "be brief"));
        assert_eq!(
            sent.messages.last(),
            Some(&msg(Role::User, "the new question"))
        );
        let kept: Vec<char> = sent.messages[1..sent.messages.len() - 1]
            .iter()
            .map(|m| m.content.chars().next().unwrap())
            .collect();
        // Cut at a question: no reply is left without it.
        assert_eq!(kept, vec!['4', '5']);
        assert!(
            matches!(&out.events[..], [Event::Notice(n)] if n.contains("oldest 4 messages")),
            "{:?}",
            out.events
        );
    }

    #[test]
    fn a_conversation_within_the_limit_is_sent_whole_and_a_lone_huge_message_as_is() {
        let mut d = Native::new("c1");
        d.on_open(0);
        d.decode(&welcome(4096), 0).unwrap();
        let mut t = turn("r1");
        t.messages = vec![
            msg(Role::User, "a"),
            msg(Role::Assistant, "b"),
            msg(Role::User, "c"),
        ];
        let out = d.encode_turn(&t, 0);
        assert!(out.events.is_empty());
        let Ok(ClientFrame::Chat(sent)) = ClientFrame::decode(&out.send[0]) else {
            panic!("not a chat frame");
        };
        assert_eq!(sent.messages, t.messages);
        // Nothing can go: sent anyway, the server's error names the reason.
        t.messages = vec![msg(Role::System, "s"), msg(Role::User, &"y".repeat(5000))];
        let out = d.encode_turn(&t, 0);
        assert!(out.events.is_empty());
        assert!(out.send[0].len() > 5000);
    }

    #[test]
    fn requests_encode_exactly() {
        let mut d = Native::new("c1");
        assert_eq!(
            d.on_open(0).send,
            vec![r#"{"type":"hello","v":1,"client":"c1"}"#.to_string()]
        );
        assert_eq!(
            d.encode_turn(&turn("r1"), 0).send[0],
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
                    text: "Hel".into(),
                    seq: Some(1),
                },
                Event::Token {
                    reply: "r1".into(),
                    text: "lo".into(),
                    seq: Some(2),
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
    fn duplicates_are_dropped_and_gaps_ask_for_a_resume() {
        let mut d = Native::new("c");
        d.on_open(0);
        d.encode_turn(&turn("r1"), 0);
        let evs = events(
            &mut d,
            &[
                r#"{"type":"start","id":"r1","seq":0,"model":"m"}"#,
                r#"{"type":"delta","id":"r1","seq":1,"text":"a"}"#,
                r#"{"type":"delta","id":"r1","seq":1,"text":"a"}"#,
            ],
        );
        assert_eq!(evs.len(), 1);
        let gap = d
            .decode(r#"{"type":"delta","id":"r1","seq":3,"text":"c"}"#, 0)
            .unwrap();
        assert!(gap.events.is_empty(), "nothing out of order is shown");
        assert_eq!(
            gap.send,
            vec![r#"{"type":"resume","id":"r1","after_seq":1}"#.to_string()]
        );
        // The replay fills the gap; what was already applied is dropped.
        let evs = events(
            &mut d,
            &[
                r#"{"type":"delta","id":"r1","seq":1,"text":"a"}"#,
                r#"{"type":"delta","id":"r1","seq":2,"text":"b"}"#,
                r#"{"type":"delta","id":"r1","seq":3,"text":"c"}"#,
            ],
        );
        let text: String = evs
            .iter()
            .map(|e| match e {
                Event::Token { text, .. } => text.as_str(),
                _ => "",
            })
            .collect();
        assert_eq!(text, "bc");
    }

    #[test]
    fn a_dropped_connection_resumes_the_reply_after_the_last_applied_frame() {
        let mut d = Native::new("c");
        d.on_open(0);
        d.encode_turn(&turn("r1"), 0);
        events(
            &mut d,
            &[
                r#"{"type":"start","id":"r1","seq":0,"model":"m"}"#,
                r#"{"type":"delta","id":"r1","seq":1,"text":"a"}"#,
                r#"{"type":"delta","id":"r1","seq":2,"text":"b"}"#,
            ],
        );
        d.on_close();
        assert_eq!(
            d.on_open(10).send,
            vec![
                r#"{"type":"hello","v":1,"client":"c"}"#.to_string(),
                r#"{"type":"resume","id":"r1","after_seq":2}"#.to_string(),
            ]
        );
        // A replay overlapping what was applied yields each piece once.
        let evs = events(
            &mut d,
            &[
                r#"{"type":"delta","id":"r1","seq":2,"text":"b"}"#,
                r#"{"type":"delta","id":"r1","seq":3,"text":"c"}"#,
                r#"{"type":"end","id":"r1","seq":4,"finish_reason":"stop"}"#,
            ],
        );
        assert_eq!(evs.len(), 2);
        assert!(matches!(&evs[0], Event::Token { text, seq: Some(3), .. } if text == "c"));
        // Once ended, nothing is resumed.
        d.on_close();
        assert_eq!(d.on_open(20).send.len(), 1);
    }

    #[test]
    fn a_reply_without_its_start_resumes_after_it_and_unavailable_interrupts() {
        let mut d = Native::new("c");
        d.encode_turn(&turn("r1"), 0);
        assert_eq!(
            d.on_open(0).send[1],
            r#"{"type":"resume","id":"r1","after_seq":0}"#
        );
        let evs = events(
            &mut d,
            &[r#"{"type":"error","id":"r1","code":"resume_unavailable","message":"gone"}"#],
        );
        assert_eq!(
            evs,
            vec![Event::Interrupted {
                reply: "r1".into(),
                message: "gone".into()
            }]
        );
        d.on_close();
        assert_eq!(d.on_open(0).send.len(), 1, "nothing left to resume");
    }

    #[test]
    fn a_kept_reply_is_resumed_now_or_after_the_handshake() {
        let mut d = Native::new("c");
        assert!(d.resume("old-7", 12).send.is_empty(), "not connected yet");
        assert_eq!(
            d.on_open(0).send[1],
            r#"{"type":"resume","id":"old-7","after_seq":12}"#
        );
        let mut d = Native::new("c");
        d.on_open(0);
        assert_eq!(
            d.resume("old-7", 12).send,
            vec![r#"{"type":"resume","id":"old-7","after_seq":12}"#.to_string()]
        );
        let evs = events(
            &mut d,
            &[r#"{"type":"delta","id":"old-7","seq":13,"text":"x"}"#],
        );
        assert_eq!(evs.len(), 1);
    }

    #[test]
    fn a_stop_while_disconnected_cancels_after_the_next_hello() {
        let mut d = Native::new("c");
        d.on_open(0);
        d.encode_turn(&turn("r1"), 0);
        d.on_close();
        assert!(d.stop("r1", 0).send.is_empty());
        assert_eq!(
            d.on_open(0).send,
            vec![
                r#"{"type":"hello","v":1,"client":"c"}"#.to_string(),
                r#"{"type":"cancel","id":"r1"}"#.to_string(),
            ]
        );
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
