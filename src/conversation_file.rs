//! The conversation file: a conversation as JSON, for import (and, with
//! the product issue, export). Decoding never panics and says what is
//! wrong, naming the message.
//!
//! ```json
//! {"format":"chatwire.conversation","version":1,
//!  "messages":[{"role":"user","content":"Hi"},{"role":"assistant","content":"Hello!"}]}
//! ```

use chatwire_protocol::Role;
use serde::{Deserialize, Serialize};

pub const FORMAT: &str = "chatwire.conversation";
pub const VERSION: u32 = 1;
/// Files larger than this are refused before parsing (about 25,000 long
/// messages).
pub const MAX_BYTES: usize = 50 * 1024 * 1024;

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FileMessage {
    pub role: Role,
    pub content: String,
}

#[derive(Debug, Serialize, Deserialize)]
struct File {
    format: String,
    version: u32,
    messages: Vec<FileMessage>,
}

pub fn encode(messages: Vec<FileMessage>) -> String {
    let file = File {
        format: FORMAT.into(),
        version: VERSION,
        messages,
    };
    serde_json::to_string_pretty(&file).unwrap_or_default()
}

pub fn decode(text: &str) -> Result<Vec<FileMessage>, String> {
    if text.len() > MAX_BYTES {
        return Err(format!(
            "the file is larger than {} MB",
            MAX_BYTES / 1024 / 1024
        ));
    }
    let value: serde_json::Value =
        serde_json::from_str(text).map_err(|e| format!("not JSON ({e})"))?;
    match value.get("format").and_then(|f| f.as_str()) {
        Some(FORMAT) => {}
        Some(other) => return Err(format!("unknown format \"{other}\"")),
        None => {
            return Err(format!(
                "not a chatwire conversation (no \"format\": \"{FORMAT}\")"
            ))
        }
    }
    match value.get("version").and_then(|v| v.as_u64()) {
        Some(v) if v == u64::from(VERSION) => {}
        Some(v) => {
            return Err(format!(
                "version {v} is newer than this app reads ({VERSION})"
            ))
        }
        None => return Err("no \"version\"".into()),
    }
    let messages = value
        .get("messages")
        .and_then(|m| m.as_array())
        .ok_or("no \"messages\" list")?;
    messages
        .iter()
        .enumerate()
        .map(|(i, m)| {
            serde_json::from_value::<FileMessage>(m.clone())
                .map_err(|e| format!("message {}: {e}", i + 1))
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trips() {
        let messages = vec![
            FileMessage {
                role: Role::User,
                content: "Hi <b>".into(),
            },
            FileMessage {
                role: Role::Assistant,
                content: "**Hello** 你好\n".into(),
            },
        ];
        assert_eq!(decode(&encode(messages.clone())).unwrap(), messages);
    }

    #[test]
    fn says_what_is_wrong() {
        assert!(decode("nope").unwrap_err().starts_with("not JSON"));
        assert!(decode("{}")
            .unwrap_err()
            .contains("not a chatwire conversation"));
        assert!(decode(r#"{"format":"x","version":1,"messages":[]}"#)
            .unwrap_err()
            .contains("unknown format"));
        assert!(
            decode(r#"{"format":"chatwire.conversation","version":9,"messages":[]}"#)
                .unwrap_err()
                .contains("version 9")
        );
        let bad = r#"{"format":"chatwire.conversation","version":1,"messages":[{"role":"user","content":"a"},{"role":"robot","content":"b"}]}"#;
        assert!(decode(bad).unwrap_err().starts_with("message 2:"));
    }
}
