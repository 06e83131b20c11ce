//! The conversation file: a conversation as JSON, for export and import,
//! and as Markdown, for reading. Decoding never panics and says what is
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

/// The conversation as Markdown, for reading and sharing: a heading per
/// message naming who wrote it; replies keep their markdown as written,
/// user messages are plain text (kept verbatim).
pub fn to_markdown(title: &str, messages: &[FileMessage]) -> String {
    let mut out = format!("# {}\n", title.trim());
    for m in messages {
        let who = match m.role {
            Role::User => "You",
            Role::Assistant => "Assistant",
            Role::System => "System",
        };
        out.push_str(&format!("\n## {who}\n\n{}\n", m.content.trim_end()));
    }
    out
}

/// A file name from the conversation's title: letters, digits (any
/// script) and dashes; `chatwire-conversation` when nothing is left.
/// Only ASCII is lowercased: other scripts keep their case, which spares
/// the wasm core's Unicode case table (~5.5 KB gzip).
pub fn file_stem(title: &str) -> String {
    let mut stem = String::new();
    for c in title.chars() {
        if c.is_alphanumeric() {
            stem.push(c.to_ascii_lowercase());
        } else if !stem.is_empty() && !stem.ends_with('-') {
            stem.push('-');
        }
        if stem.chars().count() >= 60 {
            break;
        }
    }
    let stem = stem.trim_matches('-');
    if stem.is_empty() {
        "chatwire-conversation".into()
    } else {
        stem.to_owned()
    }
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
    fn markdown_export_and_file_names() {
        let messages = vec![
            FileMessage {
                role: Role::User,
                content: "Sort a list?".into(),
            },
            FileMessage {
                role: Role::Assistant,
                content: "Use `sorted`:\n\n```python\nsorted(xs)\n```\n".into(),
            },
        ];
        assert_eq!(
            to_markdown("Python help", &messages),
            "# Python help\n\n## You\n\nSort a list?\n\n## Assistant\n\nUse `sorted`:\n\n```python\nsorted(xs)\n```\n"
        );
        assert_eq!(file_stem("Python help: sort?"), "python-help-sort");
        assert_eq!(file_stem("你好 世界"), "你好-世界");
        assert_eq!(file_stem("Привет, Мир"), "Привет-Мир");
        assert_eq!(file_stem("  ?? "), "chatwire-conversation");
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
