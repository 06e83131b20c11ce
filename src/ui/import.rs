use chatwire_protocol::Role;
use leptos::prelude::*;
use wasm_bindgen::JsCast;
use wasm_bindgen_futures::JsFuture;

use crate::chat::{Chat, Status};
use crate::conversation_file;
use crate::i18n::tr;

use super::conversations::Conversations;
use super::follow::Follow;

async fn read_text(file: web_sys::File) -> Result<String, String> {
    if file.size() > conversation_file::MAX_BYTES as f64 {
        return Err(trf!(
            "the file is larger than {} MB",
            "文件超过 {} MB",
            conversation_file::MAX_BYTES / 1024 / 1024
        ));
    }
    let text = JsFuture::from(file.text())
        .await
        .map_err(|_| tr("the file could not be read", "无法读取文件").to_string())?;
    text.as_string()
        .ok_or_else(|| tr("the file is not text", "文件不是文本").into())
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
                        return Err(tr("a reply is in progress", "正在回复").into());
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
                    chat.info
                        .set(Some(trf!("Imported {n} messages.", "已导入 {n} 条消息。")));
                    // Open at the latest message, before anything renders.
                    if let Some(f) = follow {
                        f.jump();
                    }
                }
                Err(e) => chat
                    .notice
                    .set(Some(trf!("Import failed: {e}", "导入失败：{e}"))),
            }
        });
    };
    view! {
        <input node_ref=input type="file" class="visually-hidden" data-testid="import-input"
            accept="application/json,.json" tabindex="-1" aria-hidden="true" on:change=on_change/>
        <button type="button" class="secondary" data-testid="import"
            on:click=move |_| { if let Some(el) = input.get() { el.click(); } }>{tr("Import conversation…", "导入会话…")}</button>
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
            .unwrap_or_else(|| tr("Conversation", "会话").into());
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
            chat.notice
                .set(Some(trf!("Export failed: {e}", "导出失败：{e}")));
        }
    };
    view! {
        <button type="button" class="secondary" data-testid="export-json" on:click=move |_| export(false)>{tr("Export JSON", "导出 JSON")}</button>
        <button type="button" class="secondary" data-testid="export-markdown" on:click=move |_| export(true)>{tr("Export Markdown", "导出 Markdown")}</button>
    }
}
