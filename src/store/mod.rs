//! Conversations kept in the browser (localStorage), as plain records.
//!
//! Layout, one key per record so two tabs never overwrite each other's
//! messages (last writer wins per message):
//!
//! - `chatwire.v1.conv.<conversation>`: title, times, session id;
//! - `chatwire.v1.msg.<conversation>.<message key>`: one message (its
//!   text, status, reply id and last sequence number, settings used);
//! - `chatwire.v1.current`: the conversation shown; `chatwire.v1.settings`:
//!   the parameter controls; `chatwire.client_id`: this browser's id.
//!
//! Every record carries its schema version `v`; records of a newer
//! version are left untouched and not shown. The storage itself is behind
//! [`KeyValue`], so everything here tests natively.

pub mod web;

use chatwire_protocol::{Params, Role};
use serde::{Deserialize, Serialize};

use crate::chat::{MessageData, ReplyRef, Status};

/// The schema version this build writes.
pub const SCHEMA_VERSION: u32 = 1;

const CONV: &str = "chatwire.v1.conv.";
const MSG: &str = "chatwire.v1.msg.";
const CURRENT: &str = "chatwire.v1.current";
const SETTINGS: &str = "chatwire.v1.settings";
pub const CLIENT_ID: &str = "chatwire.client_id";

/// Why the browser would not store something.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum StoreError {
    /// The origin's storage is full.
    Quota,
    /// No storage (private mode, disabled, blocked in a sandboxed frame).
    Unavailable(String),
}

impl std::fmt::Display for StoreError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            StoreError::Quota => f.write_str(crate::i18n::tr(
                "the browser's storage for this site is full",
                "浏览器为本站提供的存储空间已满",
            )),
            StoreError::Unavailable(why) => f.write_str(&trf!(
                "storage is not available ({why})",
                "存储不可用（{why}）"
            )),
        }
    }
}

/// A string key-value store (localStorage, or a map in tests).
pub trait KeyValue {
    fn get(&self, key: &str) -> Option<String>;
    fn set(&self, key: &str, value: &str) -> Result<(), StoreError>;
    fn remove(&self, key: &str);
    fn keys(&self) -> Vec<String>;
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ConversationRecord {
    #[serde(default = "version_one")]
    pub v: u32,
    pub id: String,
    pub title: String,
    /// The user named it (the title no longer follows the first message).
    #[serde(default)]
    pub renamed: bool,
    pub created_ms: u64,
    pub updated_ms: u64,
    /// The `session` dialect's server-side conversation id.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub session_id: Option<String>,
}

impl ConversationRecord {
    pub fn new(id: String, now_ms: u64) -> Self {
        Self {
            v: SCHEMA_VERSION,
            id,
            title: String::new(),
            renamed: false,
            created_ms: now_ms,
            updated_ms: now_ms,
            session_id: None,
        }
    }

    /// The title to show.
    pub fn display_title(&self) -> &str {
        if self.title.trim().is_empty() {
            crate::i18n::tr("New conversation", "新会话")
        } else {
            &self.title
        }
    }
}

/// A title from the first user message: its first line, at most 60 chars.
pub fn title_from(text: &str) -> String {
    let line = text
        .lines()
        .map(str::trim)
        .find(|l| !l.is_empty())
        .unwrap_or("");
    let mut t: String = line.chars().take(60).collect();
    if line.chars().count() > 60 {
        t.push('…');
    }
    t
}

#[derive(Serialize, Deserialize)]
struct MessageRecord {
    #[serde(default = "version_one")]
    v: u32,
    key: String,
    created_ms: u64,
    role: Role,
    text: String,
    status: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    error: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    note: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    image: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    reply_id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    seq: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    params: Option<Params>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    model: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    metrics: Option<crate::metrics::ReplyMetrics>,
}

pub fn encode_message(m: &MessageData) -> String {
    let r = MessageRecord {
        v: SCHEMA_VERSION,
        key: m.key.clone(),
        created_ms: m.created_ms,
        role: m.role,
        text: m.text.clone(),
        status: m.status.as_str().into(),
        error: m.error.clone(),
        note: m.note.clone(),
        image: m.image.clone(),
        reply_id: m.reply.as_ref().map(|r| r.id.clone()),
        seq: m.reply.as_ref().and_then(|r| r.seq),
        params: m.params.as_ref().map(|p| p.0),
        model: m.params.as_ref().and_then(|p| p.1.clone()),
        metrics: m.metrics.clone(),
    };
    serde_json::to_string(&r).unwrap_or_default()
}

fn version_one() -> u32 {
    1
}

/// Why a stored record was not read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RecordError {
    /// Written by a newer chatwire: left as it is.
    Newer(u32),
    Corrupt(String),
}

/// The schema version of a stored record (`v`; 1 when absent).
fn version_of(text: &str) -> Result<u32, RecordError> {
    #[derive(Deserialize)]
    struct V {
        #[serde(default)]
        v: Option<u32>,
    }
    let v: V = serde_json::from_str(text).map_err(|e| RecordError::Corrupt(e.to_string()))?;
    match v.v.unwrap_or(1) {
        n if n > SCHEMA_VERSION => Err(RecordError::Newer(n)),
        n => Ok(n),
    }
}

pub fn decode_message(text: &str) -> Result<MessageData, RecordError> {
    version_of(text)?;
    let r: MessageRecord =
        serde_json::from_str(text).map_err(|e| RecordError::Corrupt(e.to_string()))?;
    let status = Status::parse(&r.status)
        .ok_or_else(|| RecordError::Corrupt(format!("unknown status `{}`", r.status)))?;
    Ok(MessageData {
        key: r.key,
        created_ms: r.created_ms,
        role: r.role,
        text: r.text,
        status,
        error: r.error,
        note: r.note,
        image: r.image,
        reply: r.reply_id.map(|id| ReplyRef { id, seq: r.seq }),
        params: r.params.map(|p| (p, r.model)),
        metrics: r.metrics,
    })
}

pub fn decode_conversation(text: &str) -> Result<ConversationRecord, RecordError> {
    version_of(text)?;
    serde_json::from_str(text).map_err(|e| RecordError::Corrupt(e.to_string()))
}

fn msg_prefix(conv: &str) -> String {
    format!("{MSG}{conv}.")
}

/// What a storage key is, for changes made by another tab.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum KeyKind {
    Conversation(String),
    Message { conversation: String, key: String },
    Other,
}

pub fn classify(key: &str) -> KeyKind {
    if let Some(id) = key.strip_prefix(CONV) {
        return KeyKind::Conversation(id.to_owned());
    }
    if let Some(rest) = key.strip_prefix(MSG) {
        if let Some((conv, k)) = rest.split_once('.') {
            return KeyKind::Message {
                conversation: conv.to_owned(),
                key: k.to_owned(),
            };
        }
    }
    KeyKind::Other
}

/// A conversation read back.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Loaded {
    pub messages: Vec<MessageData>,
    /// Records not shown (newer schema, or unreadable).
    pub skipped: usize,
}

/// A deleted conversation, kept in memory to undo the deletion.
#[derive(Debug, Clone, PartialEq)]
pub struct Deleted {
    pub record: ConversationRecord,
    entries: Vec<(String, String)>,
}

/// The conversations in a [`KeyValue`] store.
pub struct Store<K: KeyValue> {
    pub kv: K,
}

impl<K: KeyValue> Store<K> {
    pub fn new(kv: K) -> Self {
        Self { kv }
    }

    /// Every conversation, most recently updated first.
    pub fn list(&self) -> Vec<ConversationRecord> {
        let mut list: Vec<ConversationRecord> = self
            .kv
            .keys()
            .into_iter()
            .filter(|k| k.starts_with(CONV))
            .filter_map(|k| self.kv.get(&k))
            .filter_map(|t| decode_conversation(&t).ok())
            .collect();
        list.sort_by(|a, b| b.updated_ms.cmp(&a.updated_ms).then(b.id.cmp(&a.id)));
        list
    }

    pub fn conversation(&self, id: &str) -> Option<ConversationRecord> {
        self.kv
            .get(&format!("{CONV}{id}"))
            .and_then(|t| decode_conversation(&t).ok())
    }

    pub fn save_conversation(&self, c: &ConversationRecord) -> Result<(), StoreError> {
        let text = serde_json::to_string(c).unwrap_or_default();
        self.kv.set(&format!("{CONV}{}", c.id), &text)
    }

    /// The messages of conversation `id`, in key order.
    pub fn load(&self, id: &str) -> Loaded {
        let prefix = msg_prefix(id);
        let mut keys: Vec<String> = self
            .kv
            .keys()
            .into_iter()
            .filter(|k| k.starts_with(&prefix))
            .collect();
        keys.sort();
        let mut out = Loaded::default();
        for k in keys {
            match self.kv.get(&k).map(|t| decode_message(&t)) {
                Some(Ok(m)) => out.messages.push(m),
                _ => out.skipped += 1,
            }
        }
        out
    }

    pub fn message(&self, conv: &str, key: &str) -> Option<Result<MessageData, RecordError>> {
        self.kv
            .get(&format!("{}{key}", msg_prefix(conv)))
            .map(|t| decode_message(&t))
    }

    pub fn save_message(&self, conv: &str, m: &MessageData) -> Result<(), StoreError> {
        self.kv.set(
            &format!("{}{}", msg_prefix(conv), m.key),
            &encode_message(m),
        )
    }

    pub fn remove_message(&self, conv: &str, key: &str) {
        self.kv.remove(&format!("{}{key}", msg_prefix(conv)));
    }

    /// Deletes conversation `id` and its messages; the result undoes it.
    pub fn delete(&self, id: &str) -> Option<Deleted> {
        let record = self.conversation(id)?;
        let prefix = msg_prefix(id);
        let conv_key = format!("{CONV}{id}");
        let mut entries = Vec::new();
        for k in self.kv.keys() {
            if k.starts_with(&prefix) || k == conv_key {
                if let Some(v) = self.kv.get(&k) {
                    entries.push((k.clone(), v));
                }
                self.kv.remove(&k);
            }
        }
        Some(Deleted { record, entries })
    }

    pub fn restore(&self, d: &Deleted) -> Result<(), StoreError> {
        for (k, v) in &d.entries {
            self.kv.set(k, v)?;
        }
        Ok(())
    }

    pub fn current(&self) -> Option<String> {
        self.kv.get(CURRENT).filter(|c| !c.is_empty())
    }

    pub fn set_current(&self, id: &str) -> Result<(), StoreError> {
        self.kv.set(CURRENT, id)
    }

    pub fn settings(&self) -> Option<String> {
        self.kv.get(SETTINGS)
    }

    pub fn save_settings(&self, json: &str) -> Result<(), StoreError> {
        self.kv.set(SETTINGS, json)
    }

    /// The backend settings kept for `protocol` (model, stream, …).
    pub fn backend_settings(&self, protocol: &str) -> Option<String> {
        self.kv.get(&format!("{SETTINGS}.{protocol}"))
    }

    pub fn save_backend_settings(&self, protocol: &str, json: &str) -> Result<(), StoreError> {
        self.kv.set(&format!("{SETTINGS}.{protocol}"), json)
    }
}

/// Whether a stored client id is one this build trusts: earlier builds
/// made `client_<ms>` ids, which another page could guess and use to
/// resume this browser's replies; those are replaced (schema 0 → 1).
pub fn client_id_is_strong(id: &str) -> bool {
    id.strip_prefix("client_")
        .is_some_and(|r| r.len() >= 32 && r.chars().all(|c| c.is_ascii_hexdigit()))
}

/// A new conversation id: creation time and randomness, URL- and key-safe.
pub fn new_conversation_id(now_ms: u64) -> String {
    format!("c{now_ms:x}{}", crate::clock::random_hex(8))
}

#[cfg(test)]
pub mod memory {
    use super::*;
    use std::cell::RefCell;
    use std::collections::BTreeMap;
    use std::rc::Rc;

    /// A map standing in for localStorage, with a byte quota.
    #[derive(Clone, Default)]
    pub struct Memory {
        pub map: Rc<RefCell<BTreeMap<String, String>>>,
        pub quota: Option<usize>,
    }

    impl KeyValue for Memory {
        fn get(&self, key: &str) -> Option<String> {
            self.map.borrow().get(key).cloned()
        }
        fn set(&self, key: &str, value: &str) -> Result<(), StoreError> {
            if let Some(q) = self.quota {
                let used: usize = self
                    .map
                    .borrow()
                    .iter()
                    .filter(|(k, _)| k.as_str() != key)
                    .map(|(k, v)| k.len() + v.len())
                    .sum();
                if used + key.len() + value.len() > q {
                    return Err(StoreError::Quota);
                }
            }
            self.map.borrow_mut().insert(key.into(), value.into());
            Ok(())
        }
        fn remove(&self, key: &str) {
            self.map.borrow_mut().remove(key);
        }
        fn keys(&self) -> Vec<String> {
            self.map.borrow().keys().cloned().collect()
        }
    }
}

#[cfg(test)]
mod tests {
    use super::memory::Memory;
    use super::*;

    fn msg(key: &str, text: &str, status: Status) -> MessageData {
        MessageData {
            key: key.into(),
            created_ms: 5,
            role: Role::Assistant,
            text: text.into(),
            status,
            error: Some("why".into()),
            note: None,
            image: None,
            reply: Some(ReplyRef {
                id: "c-1".into(),
                seq: Some(41),
            }),
            params: Some((
                Params {
                    temperature: Some(0.2),
                    ..Params::default()
                },
                Some("scripted".into()),
            )),
            metrics: Some(crate::metrics::ReplyMetrics {
                sent_ms: 1,
                first_token_ms: Some(2),
                ended_ms: Some(3),
                chunks: 4,
                prompt_tokens: Some(5),
                completion_tokens: Some(6),
                finish: Some("length".into()),
            }),
        }
    }

    #[test]
    fn messages_round_trip_every_field_and_status() {
        for s in [
            Status::Streaming,
            Status::Done,
            Status::Stopped,
            Status::Error,
            Status::Interrupted,
            Status::Pending,
        ] {
            let m = msg("k1", "**partial** 你好 \"quoted\"", s);
            assert_eq!(decode_message(&encode_message(&m)), Ok(m));
        }
    }

    #[test]
    fn newer_and_corrupt_records_are_refused_not_misread() {
        let newer = encode_message(&msg("k", "t", Status::Done)).replace("\"v\":1", "\"v\":2");
        assert_eq!(decode_message(&newer), Err(RecordError::Newer(2)));
        assert!(matches!(decode_message("{"), Err(RecordError::Corrupt(_))));
        let bad = encode_message(&msg("k", "t", Status::Done)).replace("\"done\"", "\"odd\"");
        assert!(matches!(decode_message(&bad), Err(RecordError::Corrupt(e)) if e.contains("odd")));
        // A record without `v` is version 1.
        let unversioned = encode_message(&msg("k", "t", Status::Done)).replace("\"v\":1,", "");
        assert!(decode_message(&unversioned).is_ok());
    }

    #[test]
    fn conversations_list_newest_first_load_in_key_order_and_skip_bad_records() {
        let store = Store::new(Memory::default());
        let mut a = ConversationRecord::new("a".into(), 10);
        a.title = "older".into();
        let mut b = ConversationRecord::new("b".into(), 20);
        b.title = "newer".into();
        b.renamed = true;
        b.session_id = Some("S-b".into());
        store.save_conversation(&a).unwrap();
        store.save_conversation(&b).unwrap();
        assert_eq!(store.list(), [b.clone(), a.clone()]);
        // A record of the first schema, before sessions were kept with it.
        store
            .kv
            .set(
                "chatwire.v1.conv.c",
                r#"{"id":"c","title":"t","created_ms":5,"updated_ms":5}"#,
            )
            .unwrap();
        let c = store.conversation("c").unwrap();
        assert_eq!((c.v, c.session_id, c.renamed), (1, None, false));
        store.kv.remove("chatwire.v1.conv.c");
        store
            .save_message("a", &msg("2", "second", Status::Done))
            .unwrap();
        store
            .save_message("a", &msg("1", "first", Status::Done))
            .unwrap();
        store
            .save_message("b", &msg("1", "other", Status::Done))
            .unwrap();
        store.kv.set("chatwire.v1.msg.a.3", "not json").unwrap();
        let loaded = store.load("a");
        let texts: Vec<_> = loaded.messages.iter().map(|m| m.text.as_str()).collect();
        assert_eq!(texts, ["first", "second"]);
        assert_eq!(loaded.skipped, 1);
        assert_eq!(
            classify("chatwire.v1.msg.a.17000.x"),
            KeyKind::Message {
                conversation: "a".into(),
                key: "17000.x".into()
            }
        );
        assert_eq!(
            classify("chatwire.v1.conv.b"),
            KeyKind::Conversation("b".into())
        );
        assert_eq!(classify("other"), KeyKind::Other);
    }

    #[test]
    fn delete_removes_everything_and_undo_restores_it() {
        let store = Store::new(Memory::default());
        store
            .save_conversation(&ConversationRecord::new("a".into(), 1))
            .unwrap();
        store
            .save_conversation(&ConversationRecord::new("ab".into(), 1))
            .unwrap();
        store
            .save_message("a", &msg("1", "x", Status::Done))
            .unwrap();
        store
            .save_message("ab", &msg("1", "y", Status::Done))
            .unwrap();
        let before = store.kv.map.borrow().clone();
        let d = store.delete("a").unwrap();
        assert!(store.conversation("a").is_none());
        assert!(store.load("a").messages.is_empty());
        assert_eq!(
            store.load("ab").messages.len(),
            1,
            "a prefix is not a match"
        );
        store.restore(&d).unwrap();
        assert_eq!(*store.kv.map.borrow(), before);
    }

    #[test]
    fn a_thousand_two_kilobyte_messages_fit_and_a_full_store_says_so() {
        // Chromium gives an origin 10 MiB of localStorage (UTF-16: 5 M
        // characters); 1,000 messages of 2 KB take ~2.2 M characters.
        let store = Store::new(Memory {
            quota: Some(5 * 1024 * 1024),
            ..Memory::default()
        });
        let text = "lorem ipsum ".repeat(171);
        for i in 0..1000 {
            store
                .save_message("c", &msg(&format!("{i:05}"), &text, Status::Done))
                .unwrap();
        }
        assert_eq!(store.load("c").messages.len(), 1000);
        let used: usize = store.kv.map.borrow().values().map(String::len).sum();
        assert!(used < 2_400_000, "{used}");
        let big = "x".repeat(3 * 1024 * 1024);
        assert_eq!(
            store.save_message("c", &msg("big", &big, Status::Done)),
            Err(StoreError::Quota)
        );
    }

    #[test]
    fn titles_and_client_ids() {
        assert_eq!(
            title_from("\n  How do I *sort* a Vec?\nmore"),
            "How do I *sort* a Vec?"
        );
        assert_eq!(title_from(&"长".repeat(70)).chars().count(), 61);
        assert!(!client_id_is_strong("client_1700000000000"));
        assert!(client_id_is_strong(&format!("client_{}", "a1".repeat(16))));
        let id = new_conversation_id(1_700_000_000_000);
        assert!(id.starts_with('c') && !id.contains('.'));
    }
}
