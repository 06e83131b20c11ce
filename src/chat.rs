//! The conversation as plain types with one signal per message: a token is
//! appended to its own message's `text` signal and the list is never
//! rebuilt per token. The rules (what a stop, an error or a lost connection
//! does to a reply) live here as methods and are unit-tested natively.

use chatwire_protocol::{ChatMessage, Role};
use leptos::prelude::*;

use crate::protocol::{EndReason, Event};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Status {
    Streaming,
    Done,
    Stopped,
    Error,
}

impl Status {
    /// The value of a message's `data-status`.
    pub fn as_str(self) -> &'static str {
        match self {
            Status::Streaming => "streaming",
            Status::Done => "done",
            Status::Stopped => "stopped",
            Status::Error => "error",
        }
    }
}

#[derive(Debug, Clone)]
pub struct Message {
    pub id: u64,
    pub role: Role,
    pub text: RwSignal<String>,
    pub status: RwSignal<Status>,
    /// What went wrong with this message, shown under it.
    pub error: RwSignal<Option<String>>,
    /// A remark such as "queued" or "reached max_tokens".
    pub note: RwSignal<Option<String>>,
    /// An image the user attached (a `data:image/...` URL).
    pub image: Option<String>,
}

impl Message {
    fn new(id: u64, role: Role, text: String, status: Status) -> Self {
        Self {
            id,
            role,
            text: RwSignal::new(text),
            status: RwSignal::new(status),
            error: RwSignal::new(None),
            note: RwSignal::new(None),
            image: None,
        }
    }
}

/// The reply being streamed.
#[derive(Debug, Clone)]
struct Active {
    reply_id: String,
    message: Message,
    /// The user pressed Stop: the reply shows as stopped and further
    /// tokens are dropped; the backend's acknowledgement ends it.
    stop_requested: bool,
}

#[derive(Debug, Clone, Copy)]
pub struct Chat {
    pub messages: RwSignal<Vec<Message>>,
    active: RwSignal<Option<Active>>,
    next_id: StoredValue<u64>,
    /// The latest connection-level problem, shown beside the indicator.
    pub notice: RwSignal<Option<String>>,
    /// The latest message from the backend that is not a reply.
    pub info: RwSignal<Option<String>>,
    /// What the polite status region announces: a reply started or ended
    /// (the transcript itself is not a live region).
    pub announcement: RwSignal<String>,
}

impl Default for Chat {
    fn default() -> Self {
        Self::new()
    }
}

impl Chat {
    pub fn new() -> Self {
        Self {
            messages: RwSignal::new(Vec::new()),
            active: RwSignal::new(None),
            next_id: StoredValue::new(0),
            notice: RwSignal::new(None),
            info: RwSignal::new(None),
            announcement: RwSignal::new(String::new()),
        }
    }

    /// Whether a reply is in flight (reactive).
    pub fn is_busy(&self) -> bool {
        self.active.with(Option::is_some)
    }

    /// Whether a reply is in flight, read without subscribing (handlers).
    pub fn is_busy_untracked(&self) -> bool {
        self.active.with_untracked(Option::is_some)
    }

    /// Whether the reply in flight was stopped and the backend is still
    /// finishing it (reactive).
    pub fn is_draining(&self) -> bool {
        self.active
            .with(|a| a.as_ref().is_some_and(|a| a.stop_requested))
    }

    fn push(&self, role: Role, text: String, status: Status, image: Option<String>) -> Message {
        let id = self.next_id.get_value();
        self.next_id.set_value(id + 1);
        let mut m = Message::new(id, role, text, status);
        m.image = image;
        self.messages.update(|v| v.push(m.clone()));
        m
    }

    /// The finished turns, as the backend should see them.
    pub fn history(&self) -> Vec<ChatMessage> {
        self.messages.with_untracked(|v| {
            v.iter()
                .filter(|m| matches!(m.status.get_untracked(), Status::Done | Status::Stopped))
                .filter_map(|m| {
                    let content = m.text.get_untracked();
                    (!content.is_empty()).then_some(ChatMessage {
                        role: m.role,
                        content,
                    })
                })
                .collect()
        })
    }

    /// Adds the user's message and an empty streaming reply; returns the
    /// messages to send (history plus the new one).
    pub fn begin_turn(
        &self,
        user_text: &str,
        image: Option<String>,
        reply_id: String,
    ) -> Vec<ChatMessage> {
        let mut messages = self.history();
        messages.push(ChatMessage {
            role: Role::User,
            content: user_text.to_owned(),
        });
        self.push(Role::User, user_text.to_owned(), Status::Done, image);
        let message = self.push(Role::Assistant, String::new(), Status::Streaming, None);
        self.active.set(Some(Active {
            reply_id,
            message,
            stop_requested: false,
        }));
        self.announcement.set("The assistant is replying.".into());
        messages
    }

    fn active_for(&self, reply: &str) -> Option<Active> {
        self.active
            .with_untracked(|a| a.as_ref().filter(|a| a.reply_id == reply).cloned())
    }

    /// Applies a protocol event.
    pub fn apply(&self, event: Event) {
        match event {
            Event::Ready { .. } => self.notice.set(None),
            Event::Queued { reply, position } => {
                if let Some(a) = self.active_for(&reply) {
                    a.message
                        .note
                        .set(Some(format!("Waiting for the model (position {position})")));
                }
            }
            Event::Token { reply, text } => {
                if let Some(a) = self.active_for(&reply).filter(|a| !a.stop_requested) {
                    if a.message.note.with_untracked(Option::is_some) {
                        a.message.note.set(None);
                    }
                    a.message.text.update(|t| t.push_str(&text));
                }
            }
            Event::End { reply, reason, .. } => {
                if let Some(a) = self.active_for(&reply) {
                    let status = match reason {
                        _ if a.stop_requested => Status::Stopped,
                        EndReason::Complete => Status::Done,
                        EndReason::Length => {
                            a.message
                                .note
                                .set(Some("Reached the max_tokens limit".into()));
                            Status::Done
                        }
                        EndReason::Cancelled => Status::Stopped,
                        EndReason::Failed => Status::Error,
                    };
                    a.message.status.set(status);
                    self.announcement.set(
                        match status {
                            Status::Stopped => "The reply was stopped.",
                            Status::Error => "The reply failed.",
                            _ => "The reply is complete.",
                        }
                        .into(),
                    );
                    self.active.set(None);
                }
            }
            Event::Error {
                reply: Some(reply),
                message,
                ..
            } => {
                if let Some(a) = self.active_for(&reply) {
                    self.fail(&a, message);
                }
            }
            Event::Error {
                reply: None,
                message,
                ..
            } => self.notice.set(Some(message)),
            Event::Notice(text) => self.info.set(Some(text)),
            // Kept by the app (it persists it); nothing to show.
            Event::Session(_) => {}
        }
    }

    fn fail(&self, a: &Active, message: String) {
        a.message.error.set(Some(message));
        a.message.status.set(Status::Error);
        a.message.note.set(None);
        self.active.set(None);
        self.announcement.set("The reply failed.".into());
    }

    /// A frame could not be decoded: say so at the indicator and, since
    /// text may be missing, on the reply in flight.
    pub fn undecodable(&self, detail: String) {
        let message = format!("The server sent a frame chatwire cannot read: {detail}");
        if let Some(a) = self.active.get_untracked() {
            a.message.error.set(Some(message.clone()));
        }
        self.notice.set(Some(message));
    }

    /// The user pressed Stop. Returns the reply to cancel at the backend.
    /// `note` says what stopping means for this backend, if it is not a
    /// plain confirmed stop.
    pub fn stop(&self, note: Option<&str>) -> Option<String> {
        let a = self.active.get_untracked()?;
        if a.stop_requested {
            return None;
        }
        a.message.status.set(Status::Stopped);
        a.message.note.set(note.map(str::to_owned));
        self.announcement.set("The reply was stopped.".into());
        self.active.update(|x| {
            if let Some(x) = x {
                x.stop_requested = true;
            }
        });
        Some(a.reply_id)
    }

    /// The connection dropped: the reply in flight cannot go on.
    pub fn connection_lost(&self) {
        let Some(a) = self.active.get_untracked() else {
            return;
        };
        if a.stop_requested {
            self.active.set(None);
        } else {
            self.fail(
                &a,
                "The connection was lost during the reply; the text received so far is kept."
                    .into(),
            );
        }
    }

    /// Replaces the conversation with finished messages (an imported
    /// file). Refused while a reply is in flight.
    pub fn load(&self, messages: Vec<(Role, String)>) -> Result<usize, String> {
        if self.is_busy_untracked() {
            return Err("a reply is in progress".into());
        }
        let first = self.next_id.get_value();
        let loaded: Vec<Message> = messages
            .into_iter()
            .enumerate()
            .map(|(i, (role, text))| Message::new(first + i as u64, role, text, Status::Done))
            .collect();
        let n = loaded.len();
        self.next_id.set_value(first + n as u64);
        self.messages.set(loaded);
        Ok(n)
    }

    /// Sending reply `reply` failed before it reached the backend.
    pub fn send_failed(&self, reply: &str, message: String) {
        if let Some(a) = self.active_for(reply) {
            self.fail(&a, message);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chatwire_protocol::Usage;

    fn token(r: &str, t: &str) -> Event {
        Event::Token {
            reply: r.into(),
            text: t.into(),
        }
    }

    fn end(r: &str, reason: EndReason) -> Event {
        Event::End {
            reply: r.into(),
            reason,
            usage: Some(Usage {
                prompt_tokens: 1,
                completion_tokens: 2,
            }),
        }
    }

    fn busy(chat: &Chat) -> bool {
        chat.active.with_untracked(Option::is_some)
    }

    fn last(chat: &Chat) -> Message {
        chat.messages.get_untracked().last().cloned().unwrap()
    }

    #[test]
    fn a_turn_streams_into_one_message_and_completes() {
        let chat = Chat::new();
        let sent = chat.begin_turn("hello", None, "r1".into());
        assert_eq!(sent.len(), 1);
        assert!(busy(&chat));
        let reply = last(&chat);
        assert_eq!(reply.status.get_untracked(), Status::Streaming);
        chat.apply(token("r1", "Hi"));
        chat.apply(token("r1", " there"));
        // The list itself was not rebuilt by tokens: still two messages,
        // the same signal.
        assert_eq!(chat.messages.get_untracked().len(), 2);
        assert_eq!(reply.text.get_untracked(), "Hi there");
        assert_eq!(
            chat.announcement.get_untracked(),
            "The assistant is replying."
        );
        chat.apply(end("r1", EndReason::Complete));
        assert_eq!(reply.status.get_untracked(), Status::Done);
        assert!(!busy(&chat));
        assert_eq!(chat.announcement.get_untracked(), "The reply is complete.");
    }

    #[test]
    fn history_carries_finished_turns_of_both_roles() {
        let chat = Chat::new();
        chat.begin_turn("one", None, "r1".into());
        chat.apply(token("r1", "uno"));
        chat.apply(end("r1", EndReason::Complete));
        chat.begin_turn("two", None, "r2".into());
        chat.apply(token("r2", "partial"));
        chat.apply(Event::Error {
            reply: Some("r2".into()),
            message: "boom".into(),
            fatal: false,
        });
        let sent = chat.begin_turn("three", None, "r3".into());
        let roles: Vec<_> = sent.iter().map(|m| (m.role, m.content.as_str())).collect();
        assert_eq!(
            roles,
            vec![
                (Role::User, "one"),
                (Role::Assistant, "uno"),
                (Role::User, "two"),
                (Role::User, "three")
            ]
        );
    }

    #[test]
    fn stop_marks_stopped_at_once_and_drops_later_tokens() {
        let chat = Chat::new();
        chat.begin_turn("q", None, "r1".into());
        chat.apply(token("r1", "abc"));
        assert_eq!(chat.stop(None).as_deref(), Some("r1"));
        assert_eq!(chat.stop(None), None, "a second press sends nothing");
        assert!(chat.is_draining());
        let reply = last(&chat);
        assert_eq!(reply.status.get_untracked(), Status::Stopped);
        chat.apply(token("r1", "def"));
        assert_eq!(reply.text.get_untracked(), "abc");
        assert!(busy(&chat), "busy until the backend confirms");
        chat.apply(end("r1", EndReason::Cancelled));
        assert!(!busy(&chat));
        assert_eq!(reply.status.get_untracked(), Status::Stopped);
    }

    #[test]
    fn errors_keep_partial_text_and_mark_the_reply() {
        let chat = Chat::new();
        chat.begin_turn("q", None, "r1".into());
        chat.apply(token("r1", "partial"));
        chat.apply(Event::Error {
            reply: Some("r1".into()),
            message: "engine failed (engine)".into(),
            fatal: false,
        });
        chat.apply(end("r1", EndReason::Failed));
        let reply = last(&chat);
        assert_eq!(reply.status.get_untracked(), Status::Error);
        assert_eq!(reply.text.get_untracked(), "partial");
        assert_eq!(
            reply.error.get_untracked().as_deref(),
            Some("engine failed (engine)")
        );
        assert!(!busy(&chat));
    }

    #[test]
    fn a_lost_connection_fails_the_reply_but_keeps_its_text() {
        let chat = Chat::new();
        chat.begin_turn("q", None, "r1".into());
        chat.apply(token("r1", "half"));
        chat.connection_lost();
        let reply = last(&chat);
        assert_eq!(reply.status.get_untracked(), Status::Error);
        assert_eq!(reply.text.get_untracked(), "half");
        assert!(reply
            .error
            .get_untracked()
            .unwrap()
            .contains("connection was lost"));
        // The user's message is kept too.
        assert_eq!(chat.messages.get_untracked()[0].text.get_untracked(), "q");
    }

    #[test]
    fn length_and_queue_notes_and_connection_notices() {
        let chat = Chat::new();
        chat.begin_turn("q", None, "r1".into());
        chat.apply(Event::Queued {
            reply: "r1".into(),
            position: 2,
        });
        let reply = last(&chat);
        assert!(reply.note.get_untracked().unwrap().contains("position 2"));
        chat.apply(token("r1", "x"));
        assert_eq!(reply.note.get_untracked(), None);
        chat.apply(end("r1", EndReason::Length));
        assert_eq!(reply.status.get_untracked(), Status::Done);
        assert!(reply.note.get_untracked().unwrap().contains("max_tokens"));

        chat.apply(Event::Error {
            reply: None,
            message: "bad frame".into(),
            fatal: false,
        });
        assert_eq!(chat.notice.get_untracked().as_deref(), Some("bad frame"));
        chat.apply(Event::Ready { models: vec![] });
        assert_eq!(chat.notice.get_untracked(), None);
        chat.apply(Event::Notice("已连接到视觉AI服务".into()));
        assert_eq!(
            chat.info.get_untracked().as_deref(),
            Some("已连接到视觉AI服务")
        );
    }

    #[test]
    fn a_stop_note_explains_a_local_stop() {
        let chat = Chat::new();
        chat.begin_turn("q", Some("data:image/png;base64,AA==".into()), "r1".into());
        assert_eq!(
            chat.messages.get_untracked()[0].image.as_deref(),
            Some("data:image/png;base64,AA==")
        );
        chat.stop(Some("may still be generating"));
        let reply = last(&chat);
        assert_eq!(
            reply.note.get_untracked().as_deref(),
            Some("may still be generating")
        );
        chat.apply(end("r1", EndReason::Cancelled));
        assert_eq!(
            reply.note.get_untracked().as_deref(),
            Some("may still be generating")
        );
        assert!(!chat.is_draining());
    }

    #[test]
    fn a_loaded_conversation_replaces_the_old_one_and_is_history() {
        let chat = Chat::new();
        chat.begin_turn("q", None, "r1".into());
        assert!(chat.load(vec![]).is_err(), "not while a reply streams");
        chat.apply(end("r1", EndReason::Complete));
        let n = chat
            .load(vec![
                (Role::User, "a".into()),
                (Role::Assistant, "b".into()),
            ])
            .unwrap();
        assert_eq!(n, 2);
        let ids: Vec<u64> = chat.messages.get_untracked().iter().map(|m| m.id).collect();
        assert_eq!(ids, [2, 3], "ids stay unique across loads");
        let sent = chat.begin_turn("c", None, "r2".into());
        assert_eq!(sent.len(), 3);
    }

    #[test]
    fn events_for_other_replies_change_nothing() {
        let chat = Chat::new();
        chat.begin_turn("q", None, "r2".into());
        chat.apply(token("r1", "stale"));
        chat.apply(end("r1", EndReason::Complete));
        let reply = last(&chat);
        assert_eq!(reply.text.get_untracked(), "");
        assert_eq!(reply.status.get_untracked(), Status::Streaming);
    }
}
