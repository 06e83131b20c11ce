use chatwire_protocol::Role;
use leptos::prelude::*;
use wasm_bindgen::JsCast;
use wasm_bindgen_futures::JsFuture;

use crate::chat::{Chat, Status};
use crate::conversation_file;

use super::conversations::Conversations;
use super::follow::Follow;

async fn read_text(file: web_sys::File) -> Result<String, String> {
    if file.size() > conversation_file::MAX_BYTES as f64 {
        return Err(format!(
            "the file is larger than {} MB",
            conversation_file::MAX_BYTES / 1024 / 1024
        ));
    }
    let text = JsFuture::from(file.text())
        .await
        .map_err(|_| "the file could not be read".to_string())?;
    text.as_string()
        .ok_or_else(|| "the file is not text".into())
}

/// Opens a conversation file (JSON) in place of the current one.
#[component]
pub fn ImportButton(chat: Chat) -> impl IntoView {
    let input: NodeRef<leptos::html::Input> = NodeRef::new();
    let follow = use_context::<Follow>();
    let use_context_convs = use_context::<super::conversations::Conversations>();
    let on_change = move |ev: web_sys::Event| {
        let Some(el) = ev
            .target()
            .and_then(|t| t.dyn_into::<web_sys::HtmlInputElement>().ok())
        else {
            return;
        };
        let Some(file) = el.files().and_then(|f| f.get(0)) else {
            return;
        };
        el.set_value("");
        leptos::task::spawn_local(async move {
            let result = read_text(file)
                .await
                .and_then(|t| conversation_file::decode(&t));
            let outcome = result.and_then(|messages| {
                // An imported file becomes a conversation of its own.
                if let Some(c) = use_context_convs {
                    if chat.is_busy_untracked() {
                        return Err("a reply is in progress".into());
                    }
                    c.new_conversation();
                }
                chat.load(
                    messages
                        .into_iter()
                        .map(|m| (m.role, m.content))
                        .collect::<Vec<(Role, String)>>(),
                )
            });
            match outcome {
                Ok(n) => {
                    chat.info.set(Some(format!("Imported {n} messages.")));
                    // Open at the latest message, before anything renders.
                    if let Some(f) = follow {
                        f.jump();
                        f.request();
                    }
                }
                Err(e) => chat.notice.set(Some(format!("Import failed: {e}"))),
            }
        });
    };
    view! {
        <input node_ref=input type="file" class="visually-hidden" data-testid="import-input"
            accept="application/json,.json" tabindex="-1" aria-hidden="true" on:change=on_change/>
        <button type="button" class="secondary" data-testid="import"
            on:click=move |_| { if let Some(el) = input.get() { el.click(); } }>"Import conversation…"</button>
    }
}

/// Offers the conversation as a file download.
fn download(name: &str, mime: &str, text: &str) -> Result<(), String> {
    let parts = js_sys::Array::of1(&wasm_bindgen::JsValue::from_str(text));
    let bag = web_sys::BlobPropertyBag::new();
    bag.set_type(mime);
    let blob = web_sys::Blob::new_with_str_sequence_and_options(&parts, &bag)
        .map_err(|_| "the browser refused to make the file")?;
    let url = web_sys::Url::create_object_url_with_blob(&blob).map_err(|_| "no object URL")?;
    let a: web_sys::HtmlAnchorElement = document()
        .create_element("a")
        .map_err(|_| "no anchor")?
        .unchecked_into();
    a.set_href(&url);
    a.set_download(name);
    a.click();
    let _ = web_sys::Url::revoke_object_url(&url);
    Ok(())
}

/// Saves the finished messages as a conversation file: JSON (to import
/// again) or Markdown (to read and share).
#[component]
pub fn ExportButton(chat: Chat) -> impl IntoView {
    let convs = use_context::<Conversations>();
    let export = move |markdown: bool| {
        let messages = chat.messages.with_untracked(|v| {
            v.iter()
                .filter(|m| m.status.get_untracked() != Status::Streaming)
                .map(|m| conversation_file::FileMessage {
                    role: m.role,
                    content: m.text.get_untracked(),
                })
                .collect::<Vec<_>>()
        });
        let title = convs
            .map(|c| c.current.with_untracked(|r| r.display_title().to_owned()))
            .unwrap_or_else(|| "Conversation".into());
        let stem = conversation_file::file_stem(&title);
        let result = if markdown {
            download(
                &format!("{stem}.md"),
                "text/markdown",
                &conversation_file::to_markdown(&title, &messages),
            )
        } else {
            download(
                &format!("{stem}.json"),
                "application/json",
                &conversation_file::encode(messages),
            )
        };
        if let Err(e) = result {
            chat.notice.set(Some(format!("Export failed: {e}")));
        }
    };
    view! {
        <button type="button" class="secondary" data-testid="export-json" on:click=move |_| export(false)>"Export JSON"</button>
        <button type="button" class="secondary" data-testid="export-markdown" on:click=move |_| export(true)>"Export Markdown"</button>
    }
}
