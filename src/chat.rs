//! The conversation as plain types with one signal per message: a token is
//! appended to its own message's `text` signal and the list is never
//! rebuilt per token. The rules (what a stop, an error or a lost connection
//! does to a reply) live here as methods and are unit-tested natively.

use std::collections::BTreeSet;

use crate::i18n::tr;
use crate::metrics::ReplyMetrics;
use chatwire_protocol::{ChatMessage, Params, Role};
use leptos::prelude::*;

use crate::protocol::{EndReason, Event};

/// What Continue asks the model after an interrupted reply.
pub const CONTINUE_PROMPT: &str =
    "Continue your previous answer exactly where it stopped, without repeating anything.";

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Status {
    Streaming,
    Done,
    Stopped,
    Error,
    /// A reply that broke off and cannot go on (kept, with Continue and
    /// Retry).
    Interrupted,
    /// A user message waiting for the connection to be sent.
    Pending,
}

impl Status {
    /// The value of a message's `data-status`.
    pub fn as_str(self) -> &'static str {
        match self {
            Status::Streaming => "streaming",
            Status::Done => "done",
            Status::Stopped => "stopped",
            Status::Error => "error",
            Status::Interrupted => "interrupted",
            Status::Pending => "pending",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        Some(match s {
            "streaming" => Status::Streaming,
            "done" => Status::Done,
            "stopped" => Status::Stopped,
            "error" => Status::Error,
            "interrupted" => Status::Interrupted,
            "pending" => Status::Pending,
            _ => return None,
        })
    }
}

/// A sortable, unique key for a new message: creation time, a counter and
/// this tab's id, so messages written by two tabs never collide and sort
/// in the order they were made.
pub fn new_message_key() -> String {
    thread_local! {
        static TAB: String = crate::clock::random_hex(6);
        static COUNTER: std::cell::Cell<u32> = const { std::cell::Cell::new(0) };
    }
    let n = COUNTER.with(|c| {
        let n = c.get();
        c.set((n + 1) % 10_000);
        n
    });
    let tab = TAB.with(Clone::clone);
    format!("{:013}{n:04}{tab}", crate::clock::now_ms())
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
    /// Where it is stored (see [`new_message_key`]).
    pub key: String,
    pub created_ms: u64,
    /// The backend's id of this reply and the last sequence number
    /// applied to `text`, to resume it.
    pub reply: StoredValue<Option<ReplyRef>>,
    /// The settings this reply was asked with.
    pub params: StoredValue<Option<(Params, Option<String>)>>,
    /// The reply's figures (shown once it has ended).
    pub metrics: StoredValue<Option<ReplyMetrics>>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReplyRef {
    pub id: String,
    pub seq: Option<u64>,
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
            key: new_message_key(),
            created_ms: crate::clock::now_ms(),
            reply: StoredValue::new(None),
            params: StoredValue::new(None),
            metrics: StoredValue::new(None),
        }
    }
}

/// A new request about messages already in the chat (Continue, Retry,
/// Regenerate, Edit): what to send, and how the chat changes once it is
/// sent ([`Chat::begin_again`]). Made and used in one task, so the chat
/// is as it was read.
#[derive(Debug)]
pub struct Again {
    pub messages: Vec<ChatMessage>,
    pub image: Option<String>,
    change: Change,
}

#[derive(Debug)]
enum Change {
    /// Reply `message` starts over: appended to, or cleared first.
    Restart { message: Message, clear: bool },
    /// User message `user`, at `index`, gets `text`; the rest goes.
    Edit {
        index: usize,
        user: Message,
        text: String,
    },
}

impl Again {
    fn restart(messages: Vec<ChatMessage>, message: Message, clear: bool) -> Self {
        Self {
            messages,
            image: None,
            change: Change::Restart { message, clear },
        }
    }
}

/// A message as kept in storage, to rebuild it.
#[derive(Debug, Clone, PartialEq)]
pub struct MessageData {
    pub key: String,
    pub created_ms: u64,
    pub role: Role,
    pub text: String,
    pub status: Status,
    pub error: Option<String>,
    pub note: Option<String>,
    pub image: Option<String>,
    pub reply: Option<ReplyRef>,
    pub params: Option<(Params, Option<String>)>,
    pub metrics: Option<ReplyMetrics>,
}

impl Message {
    pub fn data(&self) -> MessageData {
        MessageData {
            key: self.key.clone(),
            created_ms: self.created_ms,
            role: self.role,
            text: self.text.get_untracked(),
            status: self.status.get_untracked(),
            error: self.error.get_untracked(),
            note: self.note.get_untracked(),
            image: self.image.clone(),
            reply: self.reply.get_value(),
            params: self.params.get_value(),
            metrics: self.metrics.get_value(),
        }
    }

    fn from_data(id: u64, d: MessageData) -> Self {
        Self {
            id,
            role: d.role,
            text: RwSignal::new(d.text),
            status: RwSignal::new(d.status),
            error: RwSignal::new(d.error),
            note: RwSignal::new(d.note),
            image: d.image,
            key: d.key,
            created_ms: d.created_ms,
            reply: StoredValue::new(d.reply),
            params: StoredValue::new(d.params),
            metrics: StoredValue::new(d.metrics),
        }
    }

    /// Takes another tab's version of this message.
    pub fn update_from(&self, d: MessageData) {
        if self.text.with_untracked(|t| *t != d.text) {
            self.text.set(d.text);
        }
        if self.status.get_untracked() != d.status {
            self.status.set(d.status);
        }
        if self.error.with_untracked(|e| *e != d.error) {
            self.error.set(d.error);
        }
        if self.note.with_untracked(|n| *n != d.note) {
            self.note.set(d.note);
        }
        self.reply.set_value(d.reply);
        self.params.set_value(d.params);
        self.metrics.set_value(d.metrics);
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

/// Why a reply in flight could not go on.
fn lost_note() -> &'static str {
    tr(
        "Connection lost; the reply resumes when it is back.",
        "连接已断开；恢复后回复会继续。",
    )
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
    /// Messages changed since storage last saved them (by id).
    changed: StoredValue<BTreeSet<u64>>,
    /// Keys of messages removed since storage last saved.
    removed: StoredValue<Vec<String>>,
    /// The owner of every message's signals: the chat's own, whatever
    /// effect or handler creates the message (an effect's signals would
    /// be disposed when it re-runs).
    owner: StoredValue<Option<leptos::reactive::owner::WeakOwner>>,
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
            changed: StoredValue::new(BTreeSet::new()),
            removed: StoredValue::new(Vec::new()),
            owner: StoredValue::new(Owner::current().map(|o| o.downgrade())),
        }
    }

    /// Runs `f` (which makes signals) under the chat's owner.
    fn owned<T>(&self, f: impl FnOnce() -> T) -> T {
        match self.owner.get_value().and_then(|o| o.upgrade()) {
            Some(o) => o.with(f),
            None => f(),
        }
    }

    fn touch(&self, m: &Message) {
        self.changed.update_value(|c| {
            c.insert(m.id);
        });
    }

    /// The messages changed since the last call, to be saved.
    pub fn take_changed(&self) -> Vec<Message> {
        let ids = std::mem::take(&mut *self.changed.write_value());
        if ids.is_empty() {
            return Vec::new();
        }
        let mut out: Vec<Message> = self
            .messages
            .with_untracked(|v| v.iter().filter(|m| ids.contains(&m.id)).cloned().collect());
        // The reply in flight may belong to a conversation no longer shown.
        if let Some(a) = self.active.get_untracked() {
            if ids.contains(&a.message.id) && !out.iter().any(|m| m.id == a.message.id) {
                out.push(a.message);
            }
        }
        out
    }

    /// The reply in flight, if any.
    pub fn active_message(&self) -> Option<Message> {
        self.active
            .with_untracked(|a| a.as_ref().map(|a| a.message.clone()))
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
        let mut m = self.owned(|| Message::new(id, role, text, status));
        m.image = image;
        self.messages.update(|v| v.push(m.clone()));
        self.touch(&m);
        m
    }

    /// The finished turns, as the backend should see them.
    pub fn history(&self) -> Vec<ChatMessage> {
        self.history_before(None)
    }

    /// The finished turns before message `stop` (all when `None`).
    fn history_before(&self, stop: Option<u64>) -> Vec<ChatMessage> {
        self.messages.with_untracked(|v| {
            v.iter()
                .take_while(|m| Some(m.id) != stop)
                .filter(|m| {
                    matches!(
                        m.status.get_untracked(),
                        Status::Done | Status::Stopped | Status::Interrupted
                    )
                })
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

    /// The messages to send for a new user message: the history plus it.
    pub fn turn_messages(&self, user_text: &str) -> Vec<ChatMessage> {
        let mut messages = self.history();
        messages.push(ChatMessage {
            role: Role::User,
            content: user_text.to_owned(),
        });
        messages
    }

    /// Adds the user's message and an empty streaming reply (what was
    /// sent: [`Chat::turn_messages`], asked for first).
    pub fn begin_turn(&self, user_text: &str, image: Option<String>, reply_id: String) {
        self.push(Role::User, user_text.to_owned(), Status::Done, image);
        let message = self.push(Role::Assistant, String::new(), Status::Streaming, None);
        self.activate(message, reply_id);
    }

    fn activate(&self, message: Message, reply_id: String) {
        message
            .metrics
            .set_value(Some(ReplyMetrics::new(crate::clock::now_ms())));
        message.reply.set_value(Some(ReplyRef {
            id: reply_id.clone(),
            seq: None,
        }));
        self.touch(&message);
        self.active.set(Some(Active {
            reply_id,
            message,
            stop_requested: false,
        }));
        self.announcement
            .set(tr("The assistant is replying.", "助手正在回复。").into());
    }

    /// Records the settings the reply in flight was asked with.
    pub fn set_reply_params(&self, params: Params, model: Option<String>) {
        if let Some(a) = self.active.get_untracked() {
            a.message.params.set_value(Some((params, model)));
            self.touch(&a.message);
        }
    }

    /// Adds a user message to be sent once connected (shown as pending).
    pub fn queue(&self, user_text: &str, image: Option<String>) {
        let m = self.push(Role::User, user_text.to_owned(), Status::Pending, image);
        m.note.set(Some(
            tr(
                "Waiting for the connection; it is sent when it is back.",
                "正在等待连接；连接恢复后发送。",
            )
            .into(),
        ));
    }

    /// The first pending message, if no reply is in flight.
    pub fn next_pending(&self) -> Option<Message> {
        if self.is_busy_untracked() {
            return None;
        }
        self.messages.with_untracked(|v| {
            v.iter()
                .find(|m| m.status.get_untracked() == Status::Pending)
                .cloned()
        })
    }

    /// Sends pending message `user`: it becomes sent and a reply starts.
    /// Returns the messages to send (what precedes it, and it).
    pub fn begin_pending(&self, user: &Message, reply_id: String) -> Vec<ChatMessage> {
        let mut messages = self.history_before(Some(user.id));
        messages.push(ChatMessage {
            role: Role::User,
            content: user.text.get_untracked(),
        });
        user.status.set(Status::Done);
        user.note.set(None);
        self.touch(user);
        // The reply goes right after its message (others may be pending
        // after it).
        let id = self.next_id.get_value();
        self.next_id.set_value(id + 1);
        let mut message =
            self.owned(|| Message::new(id, Role::Assistant, String::new(), Status::Streaming));
        message.created_ms = user.created_ms;
        message.key = format!("{}~{}", user.key, new_message_key());
        self.messages.update(|v| {
            let at = v
                .iter()
                .position(|m| m.id == user.id)
                .map_or(v.len(), |i| i + 1);
            v.insert(at, message.clone());
        });
        self.activate(message, reply_id);
        messages
    }

    /// Reply `reply` never reached the backend (the connection dropped as
    /// it was sent): its user message goes back to pending, the empty
    /// reply goes away.
    pub fn not_sent(&self, reply: &str) {
        let Some(a) = self.active_for(reply) else {
            return;
        };
        self.active.set(None);
        self.messages.update(|v| {
            if let Some(i) = v.iter().position(|m| m.id == a.message.id) {
                v.remove(i);
                if let Some(user) = i.checked_sub(1).and_then(|j| v.get(j)) {
                    user.status.set(Status::Pending);
                    user.note.set(Some(
                        tr(
                            "Waiting for the connection; it is sent when it is back.",
                            "正在等待连接；连接恢复后发送。",
                        )
                        .into(),
                    ));
                    self.changed.update_value(|c| {
                        c.insert(user.id);
                    });
                }
            }
        });
        self.removed.update_value(|r| r.push(a.message.key.clone()));
    }

    /// The last message, if it is a reply that can be continued or retried.
    fn last_unfinished_reply(&self) -> Option<Message> {
        if self.is_busy_untracked() {
            return None;
        }
        self.messages.with_untracked(|v| {
            v.last()
                .filter(|m| {
                    m.role == Role::Assistant
                        && matches!(
                            m.status.get_untracked(),
                            Status::Interrupted | Status::Error | Status::Stopped
                        )
                })
                .cloned()
        })
    }

    /// Continue: asks the model to go on from the partial reply, appending
    /// to it.
    pub fn continue_reply(&self) -> Option<Again> {
        let m = self.last_unfinished_reply()?;
        let partial = m.text.get_untracked();
        if partial.is_empty() {
            return None;
        }
        // The partial reply goes as the assistant's turn, whatever its status.
        let mut messages = self.history_before(Some(m.id));
        messages.push(ChatMessage {
            role: Role::Assistant,
            content: partial,
        });
        messages.push(ChatMessage {
            role: Role::User,
            content: CONTINUE_PROMPT.into(),
        });
        Some(Again::restart(messages, m, false))
    }

    /// Retry: asks again for the last reply, replacing it.
    pub fn retry(&self) -> Option<Again> {
        let m = self.last_unfinished_reply()?;
        let messages = self.history_before(Some(m.id));
        messages.last().filter(|x| x.role == Role::User)?;
        Some(Again::restart(messages, m, true))
    }

    /// Regenerate: asks again for the last reply, finished or not,
    /// replacing it.
    pub fn regenerate(&self) -> Option<Again> {
        if self.is_busy_untracked() {
            return None;
        }
        let m = self.messages.with_untracked(|v| {
            v.last()
                .filter(|m| {
                    m.role == Role::Assistant && m.status.get_untracked() != Status::Pending
                })
                .cloned()
        })?;
        let messages = self.history_before(Some(m.id));
        messages.last().filter(|x| x.role == Role::User)?;
        Some(Again::restart(messages, m, true))
    }

    /// Removes the messages at `range` (saved removals included).
    fn remove_range(&self, range: std::ops::Range<usize>) {
        let mut keys = Vec::new();
        self.messages.update(|v| {
            keys.extend(v.drain(range).map(|m| m.key));
        });
        self.removed.update_value(|r| r.extend(keys));
    }

    /// Where turn `i` ends: the index of the next user message after it.
    fn turn_end(v: &[Message], i: usize) -> usize {
        v.iter()
            .skip(i + 1)
            .position(|m| m.role == Role::User)
            .map_or(v.len(), |p| i + 1 + p)
    }

    /// Edit and resend: user message `id` gets `text`, every message after
    /// it goes, and a new reply starts (with the message's image).
    pub fn edit_and_resend(&self, id: u64, text: &str) -> Option<Again> {
        if self.is_busy_untracked() || text.trim().is_empty() {
            return None;
        }
        let (index, user) = self.messages.with_untracked(|v| {
            v.iter()
                .enumerate()
                .find(|(_, m)| m.id == id && m.role == Role::User)
                .map(|(i, m)| (i, m.clone()))
        })?;
        let mut messages = self.history_before(Some(user.id));
        messages.push(ChatMessage {
            role: Role::User,
            content: text.to_owned(),
        });
        Some(Again {
            messages,
            image: user.image.clone(),
            change: Change::Edit {
                index,
                user,
                text: text.to_owned(),
            },
        })
    }

    /// Makes the change `again` describes, its request sent as reply
    /// `reply_id`: the reply starts streaming.
    pub fn begin_again(&self, again: Again, reply_id: String) {
        match again.change {
            Change::Restart { message, clear } => {
                if clear {
                    message.text.set(String::new());
                }
                self.restart(message, reply_id);
            }
            Change::Edit { index, user, text } => {
                let len = self.messages.with_untracked(Vec::len);
                self.remove_range(index + 1..len);
                user.text.set(text);
                user.status.set(Status::Done);
                user.note.set(None);
                user.error.set(None);
                self.touch(&user);
                let reply = self.push(Role::Assistant, String::new(), Status::Streaming, None);
                self.activate(reply, reply_id);
            }
        }
    }

    /// Deletes the turn message `id` belongs to: its user message and the
    /// replies up to the next user message. Not while a reply streams.
    pub fn delete_turn(&self, id: u64) -> bool {
        if self.is_busy_untracked() {
            return false;
        }
        let range = self.messages.with_untracked(|v| {
            let at = v.iter().position(|m| m.id == id)?;
            // A reply belongs to the user message before it.
            let start = v[..=at]
                .iter()
                .rposition(|m| m.role == Role::User)
                .unwrap_or(at);
            Some(start..Self::turn_end(v, start))
        });
        match range {
            Some(r) => {
                self.remove_range(r);
                true
            }
            None => false,
        }
    }

    /// An unfinished reply streams again as `reply_id`.
    fn restart(&self, m: Message, reply_id: String) {
        m.status.set(Status::Streaming);
        m.error.set(None);
        m.note.set(None);
        self.activate(m, reply_id);
    }

    /// Takes up a reply that was streaming when the page closed (loaded
    /// from storage). Returns where to resume it from.
    pub fn adopt_streaming(&self, resumable: bool) -> Option<ReplyRef> {
        let m = self.messages.with_untracked(|v| {
            v.last()
                .filter(|m| m.status.get_untracked() == Status::Streaming)
                .cloned()
        })?;
        let reply = m.reply.get_value().filter(|_| resumable);
        match reply {
            Some(r) => {
                m.note
                    .set(Some(tr("Resuming the reply…", "正在恢复回复…").into()));
                self.active.set(Some(Active {
                    reply_id: r.id.clone(),
                    message: m,
                    stop_requested: false,
                }));
                Some(r)
            }
            None => {
                self.interrupt(
                    &m,
                    tr(
                        "The page was closed during the reply; the text received so far is kept.",
                        "回复过程中页面被关闭；已收到的文字已保留。",
                    ),
                );
                None
            }
        }
    }

    fn interrupt(&self, m: &Message, why: &str) {
        m.status.set(Status::Interrupted);
        m.note.set(None);
        m.error.set(Some(why.to_owned()));
        self.touch(m);
    }

    fn active_for(&self, reply: &str) -> Option<Active> {
        self.active
            .with_untracked(|a| a.as_ref().filter(|a| a.reply_id == reply).cloned())
    }

    /// Applies a protocol event.
    pub fn apply(&self, event: Event) {
        if let Some(a) = self
            .active
            .with_untracked(|a| a.as_ref().map(|a| a.message.clone()))
        {
            self.touch(&a);
        }
        match event {
            Event::Ready { .. } => self.notice.set(None),
            Event::Queued { reply, position } => {
                if let Some(a) = self.active_for(&reply) {
                    a.message.note.set(Some(trf!(
                        "Waiting for the model (position {position})",
                        "正在排队等待模型（第 {position} 位）"
                    )));
                }
            }
            Event::Token { reply, text, seq } => {
                if let Some(a) = self.active_for(&reply).filter(|a| !a.stop_requested) {
                    if a.message.note.with_untracked(Option::is_some) {
                        a.message.note.set(None);
                    }
                    a.message.text.update(|t| t.push_str(&text));
                    let now = crate::clock::now_ms();
                    a.message.metrics.update_value(|m| {
                        m.get_or_insert_with(|| ReplyMetrics::new(now))
                            .on_chunk(now)
                    });
                    if seq.is_some() {
                        a.message.reply.update_value(|r| {
                            if let Some(r) = r {
                                r.seq = seq;
                            }
                        });
                    }
                }
            }
            Event::Interrupted { reply, message } => {
                if let Some(a) = self.active_for(&reply) {
                    self.active.set(None);
                    if a.stop_requested {
                        return;
                    }
                    self.interrupt(
                        &a.message,
                        &trf!(
                            "The reply could not be resumed: {message}",
                            "无法恢复回复：{message}"
                        ),
                    );
                    self.announcement
                        .set(tr("The reply was interrupted.", "回复已中断。").into());
                }
            }
            Event::End {
                reply,
                reason,
                usage,
            } => {
                if let Some(a) = self.active_for(&reply) {
                    let finish = match reason {
                        EndReason::Complete => "complete",
                        EndReason::Length => "length",
                        EndReason::Cancelled => "cancelled",
                        EndReason::Failed => "failed",
                    };
                    Self::end_metrics(
                        &a.message,
                        finish,
                        usage.map(|u| (u.prompt_tokens, u.completion_tokens)),
                    );
                    let status = match reason {
                        _ if a.stop_requested => Status::Stopped,
                        EndReason::Complete => Status::Done,
                        EndReason::Length => {
                            a.message.note.set(Some(
                                tr("Reached the max_tokens limit", "已达到 max_tokens 上限").into(),
                            ));
                            Status::Done
                        }
                        EndReason::Cancelled => Status::Stopped,
                        EndReason::Failed => Status::Error,
                    };
                    a.message.status.set(status);
                    self.announcement.set(
                        match status {
                            Status::Stopped => tr("The reply was stopped.", "回复已停止。"),
                            Status::Error => tr("The reply failed.", "回复失败。"),
                            _ => tr("The reply is complete.", "回复已完成。"),
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

    fn end_metrics(m: &Message, finish: &str, usage: Option<(u32, u32)>) {
        let now = crate::clock::now_ms();
        m.metrics.update_value(|x| {
            x.get_or_insert_with(|| ReplyMetrics::new(now))
                .on_end(now, finish, usage)
        });
    }

    fn fail(&self, a: &Active, message: String) {
        Self::end_metrics(&a.message, "failed", None);
        a.message.error.set(Some(message));
        a.message.status.set(Status::Error);
        a.message.note.set(None);
        self.active.set(None);
        self.announcement
            .set(tr("The reply failed.", "回复失败。").into());
    }

    /// A frame could not be decoded: say so at the indicator and, since
    /// text may be missing, on the reply in flight.
    pub fn undecodable(&self, detail: String) {
        let message = trf!(
            "The server sent a frame chatwire cannot read: {detail}",
            "服务器发来了 chatwire 无法读取的数据帧：{detail}"
        );
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
        self.announcement
            .set(tr("The reply was stopped.", "回复已停止。").into());
        self.active.update(|x| {
            if let Some(x) = x {
                x.stop_requested = true;
            }
        });
        Some(a.reply_id)
    }

    /// The connection dropped. A reply the backend keeps (`resumable`)
    /// waits to be resumed; otherwise it is interrupted, its text kept.
    pub fn connection_lost(&self, resumable: bool) {
        let Some(a) = self.active.get_untracked() else {
            return;
        };
        if a.stop_requested {
            self.active.set(None);
        } else if resumable {
            a.message.note.set(Some(lost_note().into()));
        } else {
            self.active.set(None);
            self.interrupt(
                &a.message,
                tr(
                    "The connection was lost during the reply; the text received so far is kept.",
                    "回复过程中连接断开；已收到的文字已保留。",
                ),
            );
            self.announcement
                .set(tr("The reply was interrupted.", "回复已中断。").into());
        }
    }

    /// Replaces the conversation with finished messages (an imported
    /// file). Refused while a reply is in flight. They count as changed.
    pub fn load(&self, messages: Vec<(Role, String)>) -> Result<usize, String> {
        if self.is_busy_untracked() {
            return Err("a reply is in progress".into());
        }
        let first = self.next_id.get_value();
        let loaded: Vec<Message> = messages
            .into_iter()
            .enumerate()
            .map(|(i, (role, text))| {
                self.owned(|| Message::new(first + i as u64, role, text, Status::Done))
            })
            .collect();
        let n = loaded.len();
        self.next_id.set_value(first + n as u64);
        self.changed
            .update_value(|c| c.extend(loaded.iter().map(|m| m.id)));
        self.messages.set(loaded);
        Ok(n)
    }

    /// Shows a stored conversation (nothing counts as changed). The reply
    /// in flight, if it belongs to it, keeps its live message.
    pub fn show(&self, stored: Vec<MessageData>) {
        let active = self.active_message();
        let first = self.next_id.get_value();
        let loaded: Vec<Message> = stored
            .into_iter()
            .enumerate()
            .map(|(i, d)| match &active {
                Some(a) if a.key == d.key => a.clone(),
                _ => self.owned(|| Message::from_data(first + i as u64, d)),
            })
            .collect();
        self.next_id.set_value(first + loaded.len() as u64);
        self.messages.set(loaded);
    }

    /// Another tab saved message `d` of the conversation shown: update it,
    /// or insert it in key order. The reply this tab streams is its own.
    pub fn merge_stored(&self, d: MessageData) {
        if self.active_message().is_some_and(|a| a.key == d.key) {
            return;
        }
        let existing = self
            .messages
            .with_untracked(|v| v.iter().find(|m| m.key == d.key).cloned());
        match existing {
            Some(m) => m.update_from(d),
            None => {
                let id = self.next_id.get_value();
                self.next_id.set_value(id + 1);
                let m = self.owned(|| Message::from_data(id, d));
                self.messages.update(|v| {
                    let at = v.partition_point(|x| x.key < m.key);
                    v.insert(at, m);
                });
            }
        }
    }

    /// Another tab deleted message `key`.
    pub fn forget_stored(&self, key: &str) {
        if self.active_message().is_some_and(|a| a.key == key) {
            return;
        }
        if self
            .messages
            .with_untracked(|v| v.iter().any(|m| m.key == key))
        {
            self.messages.update(|v| v.retain(|m| m.key != key));
        }
    }

    /// Keys of messages removed since the last call, to delete from storage.
    pub fn take_removed(&self) -> Vec<String> {
        std::mem::take(&mut *self.removed.write_value())
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

    /// What a Continue/Retry/Regenerate/Edit sends; then the chat changes
    /// as it does once the request is sent, as reply `reply_id`.
    fn send_again(chat: &Chat, again: Option<Again>, reply_id: &str) -> Option<Vec<ChatMessage>> {
        again.map(|a| {
            let messages = a.messages.clone();
            chat.begin_again(a, reply_id.into());
            messages
        })
    }

    fn token(r: &str, t: &str) -> Event {
        Event::Token {
            reply: r.into(),
            text: t.into(),
            seq: None,
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
        let sent = chat.turn_messages("hello");
        chat.begin_turn("hello", None, "r1".into());
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
        let sent = chat.turn_messages("three");
        chat.begin_turn("three", None, "r3".into());
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
    fn a_lost_connection_interrupts_a_reply_that_cannot_resume() {
        let chat = Chat::new();
        chat.begin_turn("q", None, "r1".into());
        chat.apply(token("r1", "half"));
        chat.connection_lost(false);
        let reply = last(&chat);
        assert_eq!(reply.status.get_untracked(), Status::Interrupted);
        assert_eq!(reply.text.get_untracked(), "half");
        assert!(reply
            .error
            .get_untracked()
            .unwrap()
            .contains("connection was lost"));
        assert!(!busy(&chat));
        // The user's message is kept too.
        assert_eq!(chat.messages.get_untracked()[0].text.get_untracked(), "q");
    }

    #[test]
    fn a_resumable_reply_waits_then_continues_with_its_sequence_numbers() {
        let chat = Chat::new();
        chat.begin_turn("q", None, "r1".into());
        chat.apply(Event::Token {
            reply: "r1".into(),
            text: "ab".into(),
            seq: Some(1),
        });
        chat.connection_lost(true);
        let reply = last(&chat);
        assert_eq!(reply.status.get_untracked(), Status::Streaming);
        assert!(busy(&chat));
        assert!(reply.note.get_untracked().unwrap().contains("resumes"));
        chat.apply(Event::Token {
            reply: "r1".into(),
            text: "c".into(),
            seq: Some(2),
        });
        assert_eq!(reply.note.get_untracked(), None);
        assert_eq!(
            reply.reply.get_value(),
            Some(ReplyRef {
                id: "r1".into(),
                seq: Some(2)
            })
        );
        chat.apply(Event::Interrupted {
            reply: "r1".into(),
            message: "gone".into(),
        });
        assert_eq!(reply.status.get_untracked(), Status::Interrupted);
        assert_eq!(reply.text.get_untracked(), "abc");
        assert!(!busy(&chat));
    }

    #[test]
    fn continue_appends_and_retry_replaces_an_interrupted_reply() {
        let chat = Chat::new();
        chat.begin_turn("q", None, "r1".into());
        chat.apply(token("r1", "part"));
        chat.connection_lost(false);
        let reply = last(&chat);
        let sent = send_again(&chat, chat.continue_reply(), "r2").unwrap();
        let roles: Vec<_> = sent.iter().map(|m| (m.role, m.content.as_str())).collect();
        assert_eq!(
            roles,
            [
                (Role::User, "q"),
                (Role::Assistant, "part"),
                (Role::User, CONTINUE_PROMPT)
            ]
        );
        assert_eq!(reply.status.get_untracked(), Status::Streaming);
        assert_eq!(reply.error.get_untracked(), None);
        chat.apply(token("r2", " more"));
        chat.apply(end("r2", EndReason::Complete));
        assert_eq!(reply.text.get_untracked(), "part more");
        assert!(
            send_again(&chat, chat.retry(), "r3").is_none(),
            "only unfinished replies"
        );

        chat.begin_turn("again", None, "r4".into());
        chat.apply(token("r4", "x"));
        chat.connection_lost(false);
        let sent = send_again(&chat, chat.retry(), "r5").unwrap();
        assert_eq!(sent.last().unwrap().content, "again");
        assert_eq!(sent.len(), 3);
        let reply = last(&chat);
        assert_eq!(reply.text.get_untracked(), "");
        chat.apply(token("r5", "fresh"));
        assert_eq!(reply.text.get_untracked(), "fresh");
        assert_eq!(chat.messages.get_untracked().len(), 4);

        // A failed reply continues from its text too.
        chat.apply(Event::Error {
            reply: Some("r5".into()),
            message: "boom".into(),
            fatal: false,
        });
        let sent = send_again(&chat, chat.continue_reply(), "r6").unwrap();
        assert_eq!(sent[sent.len() - 2].content, "fresh");
        assert_eq!(sent[sent.len() - 2].role, Role::Assistant);
    }

    fn texts(chat: &Chat) -> Vec<(Role, String)> {
        chat.messages
            .get_untracked()
            .iter()
            .map(|m| (m.role, m.text.get_untracked()))
            .collect()
    }

    fn finished_turn(chat: &Chat, q: &str, a: &str, r: &str) {
        chat.begin_turn(q, None, r.into());
        chat.apply(token(r, a));
        chat.apply(end(r, EndReason::Complete));
    }

    #[test]
    fn each_reply_records_its_figures() {
        let chat = Chat::new();
        chat.begin_turn("q", None, "r1".into());
        let reply = last(&chat);
        let m = reply.metrics.get_value().unwrap();
        assert!(m.sent_ms > 0 && m.first_token_ms.is_none());
        chat.apply(token("r1", "a"));
        chat.apply(token("r1", "b"));
        chat.apply(end("r1", EndReason::Complete));
        let m = reply.metrics.get_value().unwrap();
        assert_eq!(m.chunks, 2);
        assert_eq!((m.prompt_tokens, m.completion_tokens), (Some(1), Some(2)));
        assert_eq!(m.finish.as_deref(), Some("complete"));
        assert!(m.sent_ms <= m.first_token_ms.unwrap() && m.first_token_ms <= m.ended_ms);
        // Stored with the message, and reset when it is asked again.
        assert_eq!(reply.data().metrics, Some(m));
        send_again(&chat, chat.regenerate(), "r2").unwrap();
        assert_eq!(reply.metrics.get_value().unwrap().chunks, 0);
        chat.apply(Event::Error {
            reply: Some("r2".into()),
            message: "boom".into(),
            fatal: false,
        });
        assert_eq!(
            reply.metrics.get_value().unwrap().finish.as_deref(),
            Some("failed")
        );
    }

    #[test]
    fn regenerate_replaces_the_last_reply_finished_or_not() {
        let chat = Chat::new();
        assert!(
            send_again(&chat, chat.regenerate(), "r0").is_none(),
            "nothing to regenerate"
        );
        finished_turn(&chat, "q1", "a1", "r1");
        finished_turn(&chat, "q2", "a2", "r2");
        let reply = last(&chat);
        let sent = send_again(&chat, chat.regenerate(), "r3").unwrap();
        let sent: Vec<_> = sent.iter().map(|m| m.content.as_str()).collect();
        assert_eq!(sent, ["q1", "a1", "q2"]);
        assert!(busy(&chat));
        assert!(
            send_again(&chat, chat.regenerate(), "r4").is_none(),
            "not while streaming"
        );
        chat.apply(token("r3", "b2"));
        chat.apply(end("r3", EndReason::Complete));
        assert_eq!(reply.text.get_untracked(), "b2");
        assert_eq!(chat.messages.get_untracked().len(), 4);
    }

    #[test]
    fn edit_and_resend_replaces_everything_after_the_message() {
        let chat = Chat::new();
        finished_turn(&chat, "q1", "a1", "r1");
        finished_turn(&chat, "q2", "a2", "r2");
        finished_turn(&chat, "q3", "a3", "r3");
        let _ = chat.take_removed();
        let second = chat.messages.get_untracked()[2].clone();
        let removed_keys: Vec<String> = chat.messages.get_untracked()[3..]
            .iter()
            .map(|m| m.key.clone())
            .collect();
        assert!(chat.edit_and_resend(second.id, "  ").is_none());
        let again = chat.edit_and_resend(second.id, "q2 edited").unwrap();
        assert_eq!(again.image, None);
        // Nothing changes until the request is sent.
        assert_eq!(chat.messages.with_untracked(Vec::len), 6);
        assert_eq!(chat.messages.get_untracked()[2].text.get_untracked(), "q2");
        let sent = send_again(&chat, Some(again), "r4").unwrap();
        let sent: Vec<_> = sent.iter().map(|m| m.content.as_str()).collect();
        assert_eq!(sent, ["q1", "a1", "q2 edited"]);
        chat.apply(token("r4", "new a2"));
        chat.apply(end("r4", EndReason::Complete));
        assert_eq!(
            texts(&chat),
            [
                (Role::User, "q1".to_string()),
                (Role::Assistant, "a1".into()),
                (Role::User, "q2 edited".into()),
                (Role::Assistant, "new a2".into()),
            ]
        );
        // The replaced messages are removed from storage too.
        assert_eq!(chat.take_removed(), removed_keys);
        assert!(chat
            .take_changed()
            .iter()
            .any(|m| m.id == second.id && m.text.get_untracked() == "q2 edited"));
        // Only user messages can be edited.
        let reply_id = last(&chat).id;
        assert!(chat.edit_and_resend(reply_id, "x").is_none());
    }

    #[test]
    fn delete_turn_removes_the_question_and_its_replies() {
        let chat = Chat::new();
        finished_turn(&chat, "q1", "a1", "r1");
        finished_turn(&chat, "q2", "a2", "r2");
        finished_turn(&chat, "q3", "a3", "r3");
        let _ = chat.take_removed();
        let v = chat.messages.get_untracked();
        // From the reply: the whole turn goes.
        assert!(chat.delete_turn(v[3].id));
        assert_eq!(chat.take_removed(), [v[2].key.clone(), v[3].key.clone()]);
        assert!(chat.delete_turn(v[0].id));
        assert_eq!(
            texts(&chat),
            [
                (Role::User, "q3".to_string()),
                (Role::Assistant, "a3".into())
            ]
        );
        assert!(!chat.delete_turn(9_999));
        chat.begin_turn("q4", None, "r4".into());
        assert!(!chat.delete_turn(v[4].id), "not while a reply streams");
        // History now leaves the deleted turns out.
        chat.apply(end("r4", EndReason::Complete));
        let sent = send_again(&chat, chat.regenerate(), "r5").unwrap();
        let sent: Vec<_> = sent.iter().map(|m| m.content.as_str()).collect();
        assert_eq!(sent, ["q3", "a3", "q4"]);
    }

    #[test]
    fn a_retry_without_a_user_turn_changes_nothing() {
        let chat = Chat::new();
        chat.load(vec![(Role::Assistant, "hello".into())]).unwrap();
        let m = last(&chat);
        m.status.set(Status::Interrupted);
        assert!(send_again(&chat, chat.retry(), "r1").is_none());
        assert_eq!(m.status.get_untracked(), Status::Interrupted);
        assert_eq!(m.text.get_untracked(), "hello");
        assert!(!busy(&chat));
    }

    #[test]
    fn pending_messages_are_sent_in_order_and_go_back_if_not_sent() {
        let chat = Chat::new();
        chat.queue("first", None);
        chat.queue("second", None);
        let p = chat.next_pending().unwrap();
        assert_eq!(p.status.get_untracked(), Status::Pending);
        let sent = chat.begin_pending(&p, "r1".into());
        assert_eq!(sent.len(), 1);
        assert_eq!(p.status.get_untracked(), Status::Done);
        assert!(chat.next_pending().is_none(), "one reply at a time");
        // The reply sits after its own user message.
        let texts: Vec<_> = chat
            .messages
            .get_untracked()
            .iter()
            .map(|m| m.text.get_untracked())
            .collect();
        assert_eq!(texts, ["first", "", "second"]);
        chat.not_sent("r1");
        assert_eq!(p.status.get_untracked(), Status::Pending);
        assert_eq!(chat.messages.get_untracked().len(), 2);
        assert_eq!(chat.take_removed().len(), 1);
        let p = chat.next_pending().unwrap();
        chat.begin_pending(&p, "r2".into());
        chat.apply(token("r2", "one"));
        chat.apply(end("r2", EndReason::Complete));
        let p = chat.next_pending().unwrap();
        assert_eq!(p.text.get_untracked(), "second");
        let sent = chat.begin_pending(&p, "r3".into());
        let roles: Vec<_> = sent.iter().map(|m| m.content.as_str()).collect();
        assert_eq!(roles, ["first", "one", "second"], "what precedes it");
    }

    #[test]
    fn stored_messages_round_trip_and_merge_from_another_tab() {
        let chat = Chat::new();
        chat.begin_turn("q", None, "r1".into());
        chat.set_reply_params(Params::default(), Some("m".into()));
        chat.apply(Event::Token {
            reply: "r1".into(),
            text: "half".into(),
            seq: Some(4),
        });
        let changed = chat.take_changed();
        assert_eq!(changed.len(), 2);
        assert!(chat.take_changed().is_empty());
        let data: Vec<MessageData> = changed.iter().map(Message::data).collect();
        assert!(data[0].key < data[1].key, "keys sort in creation order");

        // A new page shows them and resumes the reply where it was.
        let other = Chat::new();
        other.show(data.clone());
        assert!(other.take_changed().is_empty());
        let r = other.adopt_streaming(true).unwrap();
        assert_eq!(r.seq, Some(4));
        assert!(other.is_busy_untracked());
        other.apply(Event::Token {
            reply: "r1".into(),
            text: " more".into(),
            seq: Some(5),
        });
        assert_eq!(last(&other).text.get_untracked(), "half more");
        // A dialect that cannot resume marks it interrupted instead.
        let third = Chat::new();
        third.show(data.clone());
        assert!(third.adopt_streaming(false).is_none());
        assert_eq!(last(&third).status.get_untracked(), Status::Interrupted);

        // Another tab's update and new message merge in key order.
        let mut newer = data[1].clone();
        newer.text = "half and more".into();
        newer.status = Status::Done;
        third.merge_stored(newer);
        assert_eq!(last(&third).text.get_untracked(), "half and more");
        let mut early = data[0].clone();
        early.key = "0".into();
        early.text = "earliest".into();
        third.merge_stored(early);
        assert_eq!(
            third.messages.get_untracked()[0].text.get_untracked(),
            "earliest"
        );
        third.forget_stored("0");
        assert_eq!(third.messages.get_untracked().len(), 2);
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
        let sent = chat.turn_messages("c");
        chat.begin_turn("c", None, "r2".into());
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
