use chatwire_protocol::Role;
use leptos::prelude::*;
use wasm_bindgen::JsCast;

use crate::chat::{Chat, Message, Status};
use crate::i18n::tr;
use crate::protocol::{EndReason, Event};

use super::clipboard::copy_with_feedback;
use super::markdown_view::MarkdownBody;
use super::reveal::Reveal;

/// What the message actions do (provided by the app).
#[derive(Clone, Copy)]
pub struct ReplyActions {
    pub continue_reply: Callback<()>,
    pub retry: Callback<()>,
    /// Ask again for the last reply (finished).
    pub regenerate: Callback<()>,
    /// Resend user message `id` with new text (replies after it replaced).
    pub edit: Callback<(u64, String)>,
    /// Delete the turn a message belongs to.
    pub delete_turn: Callback<u64>,
    /// Whether a new request can go out now.
    pub can_send: Signal<bool>,
    /// Whether turns can be deleted now (no reply streaming).
    pub can_delete: Signal<bool>,
}

/// Editing a sent user message: Enter (or Send) resends it, replacing the
/// replies after it; Esc or Cancel closes the editor.
#[component]
fn MessageEditor(id: u64, editing: RwSignal<Option<String>>) -> impl IntoView {
    let actions = use_context::<ReplyActions>();
    let send = move || {
        let (Some(a), Some(text)) = (actions, editing.get_untracked()) else {
            return;
        };
        if text.trim().is_empty() || !a.can_send.get_untracked() {
            return;
        }
        editing.set(None);
        a.edit.run((id, text));
    };
    view! {
        <div class="message-editor">
            <textarea data-testid="edit-input" aria-label=tr("Edit message", "编辑消息") rows="3"
                prop:value=move || editing.get().unwrap_or_default()
                on:input=move |ev| editing.set(Some(event_target_value(&ev)))
                on:keydown=move |ev| {
                    if ev.key() == "Enter" && !ev.shift_key() && !ev.is_composing() && ev.key_code() != 229 {
                        ev.prevent_default();
                        send();
                    } else if ev.key() == "Escape" {
                        ev.stop_propagation();
                        editing.set(None);
                    }
                }></textarea>
            <div class="editor-actions">
                <button type="button" class="send" data-testid="edit-send"
                    prop:disabled=move || {
                        editing.with(|t| t.as_deref().is_none_or(|t| t.trim().is_empty()))
                            || actions.is_none_or(|a| !a.can_send.get())
                    }
                    on:click=move |_| send()>{tr("Send", "发送")}</button>
                <button type="button" class="secondary" data-testid="edit-cancel"
                    on:click=move |_| editing.set(None)>{tr("Cancel", "取消")}</button>
            </div>
        </div>
    }
}

#[component]
pub fn MessageList(chat: Chat) -> impl IntoView {
    // When the last message changes, only the two messages it concerns
    // hear of it (not every message of a long conversation).
    let last = Selector::new(move || chat.messages.with(|v| v.last().map(|m| m.id)));
    // A conversation that appears at once is built from its end, the
    // earlier messages above in idle steps (`reveal`).
    let reveal = StoredValue::new_local(Reveal::default());
    let stepped = Trigger::new();
    let shown = move || {
        stepped.track();
        chat.messages.with(|v| {
            let was_complete = reveal.try_with_value(Reveal::is_complete).unwrap_or(true);
            let from = reveal
                .try_update_value(|r| r.on_list(v.iter().map(|m| m.id)))
                .unwrap_or(0);
            if was_complete && from > 0 {
                reveal_in_steps(reveal, stepped);
            }
            v.get(from..).unwrap_or_default().to_vec()
        })
    };
    view! {
        <For each=shown key=|m| m.id children=move |m| {
            let key = Some(m.id);
            let last = last.clone();
            on_cleanup({
                let last = last.clone();
                move || last.remove(&key)
            });
            view! { <MessageView m is_last=Signal::derive(move || last.selected(&key))/> }
        } />
    }
}

/// Builds a sample turn (a question and a reply that streams, then ends)
/// in a detached element while the page is idle after load, and drops it.
/// The browser compiles a wasm function on its first call: without this,
/// the first Send paid for compiling the message views, and the reply's
/// first frame waited behind it (handled 13.6–31.8 ms after Send on fresh
/// pages, against 3.2–15.1 with every function compiled at load). The
/// sample has its own `Chat`: nothing reaches the conversation, storage
/// or the live region. `done` runs once the sample is gone.
pub fn warm_up(done: impl FnOnce() + 'static) {
    const REPLY: &str = "warm-up";
    let Some(el) = document()
        .create_element("div")
        .ok()
        .and_then(|e| e.dyn_into::<web_sys::HtmlElement>().ok())
    else {
        return done();
    };
    let sample = std::rc::Rc::new(std::cell::Cell::new(None::<Chat>));
    let keep = sample.clone();
    let handle = leptos::mount::mount_to(el, move || {
        let chat = Chat::new();
        chat.begin_turn("Warm-up", None, REPLY.into());
        chat.apply(Event::Token {
            reply: REPLY.into(),
            text: "Warming **up**: `code`.\n\n- a\n- b".into(),
            seq: Some(1),
        });
        keep.set(Some(chat));
        view! { <MessageList chat/> }
    });
    // The views' effects run after this task; the reply ends in the next
    // idle period (the path a real end takes), and the sample goes in the
    // one after, in an animation frame: after any frame its reply asked
    // for.
    super::idle::when_idle(move || {
        if let Some(chat) = sample.take() {
            chat.apply(Event::End {
                reply: REPLY.into(),
                reason: EndReason::Complete,
                usage: None,
            });
        }
        super::idle::when_idle(move || {
            request_animation_frame(move || {
                drop(handle);
                done();
            })
        });
    });
}

/// Builds the rest of a conversation shown from its end, one step per
/// idle period, until all of it is in the DOM.
fn reveal_in_steps(reveal: StoredValue<Reveal, LocalStorage>, stepped: Trigger) {
    super::idle::when_idle(move || {
        let more = reveal.try_update_value(Reveal::step).unwrap_or(false);
        stepped.notify();
        if more {
            reveal_in_steps(reveal, stepped);
        }
    });
}

/// A click on a code block's copy button (buttons inside rendered
/// markdown are plain DOM, so their clicks are handled here).
fn on_body_click(ev: web_sys::MouseEvent) {
    let Some(target) = ev
        .target()
        .and_then(|t| t.dyn_into::<web_sys::Element>().ok())
    else {
        return;
    };
    let Ok(Some(button)) = target.closest("[data-action=\"copy-code\"]") else {
        return;
    };
    let code = button
        .closest(".code-block")
        .ok()
        .flatten()
        .and_then(|b| b.query_selector_all("code > .code-lines").ok())
        .map(|groups| {
            crate::markdown::render::code_text(
                (0..groups.length())
                    .filter_map(|i| groups.item(i))
                    .map(|g| g.text_content().unwrap_or_default()),
            )
        });
    if let Some(code) = code {
        copy_with_feedback(code, button);
    }
}

/// One message. Only its own signals are read here, so a token re-renders
/// this message's body and nothing else.
#[component]
fn MessageView(m: Message, is_last: Signal<bool>) -> impl IntoView {
    let actions = use_context::<ReplyActions>();
    let Message {
        id,
        role,
        text,
        status,
        error,
        note,
        image,
        metrics,
        params,
        ..
    } = m;
    // The text being edited (user messages), while the editor is open.
    let editing = RwSignal::new(None::<String>);
    let body = match role {
        Role::Assistant => view! { <MarkdownBody text status/> }.into_any(),
        _ => view! {
            <Show when=move || editing.with(Option::is_none)
                fallback=move || view! { <MessageEditor id editing/> }>
                <span class="text plain" data-testid="message-body">{move || text.get()}</span>
            </Show>
        }
        .into_any(),
    };
    let copy_message = move |ev: web_sys::MouseEvent| {
        if let Some(button) = ev
            .current_target()
            .and_then(|t| t.dyn_into::<web_sys::Element>().ok())
        {
            copy_with_feedback(text.get_untracked(), button);
        }
    };
    view! {
        <article class=format!("message {}", role.as_str()) data-testid="message" data-role=role.as_str()
            data-status=move || status.get().as_str()>
            <div class="bubble" on:click=on_body_click>
                {image.map(|src| view! { <img class="message-image" src=src alt=tr("Attached image", "附带的图片") data-testid="message-image"/> })}
                {body}
            </div>
            <div class="msg-meta">
                {move || (status.get() == Status::Stopped).then(|| view! { <p class="msg-note">{tr("Stopped", "已停止")}</p> })}
                {move || note.get().map(|n| view! { <p class="msg-note" data-testid="message-note">{n}</p> })}
                {move || error.get().map(|e| view! { <p class="msg-error" data-testid="message-error">{e}</p> })}
                {move || {
                    // Read once the reply has ended (the status changes then).
                    let ended = role == Role::Assistant && !matches!(status.get(), Status::Streaming | Status::Pending);
                    let m = metrics.get_value().filter(|_| ended)?;
                    let summary = m.summary();
                    // The settings it was asked with, kept with the reply.
                    let asked = params
                        .get_value()
                        .map(|(p, model)| crate::metrics::asked_with(&p, model.as_deref()));
                    (!summary.is_empty()).then(|| view! {
                        <p class="msg-metrics" data-testid="reply-metrics" title=asked
                            data-ttft-ms=m.ttft_ms().map(|t| t.to_string())
                            data-tokens=m.completion_tokens.map(|t| t.to_string())
                            data-prompt-tokens=m.prompt_tokens.map(|t| t.to_string())
                            data-finish=m.finish.clone()>{summary}</p>
                    })
                }}
                <button type="button" class="msg-action" data-testid="copy-message" aria-label=tr("Copy message", "复制消息")
                    on:click=copy_message>{tr("Copy", "复制")}</button>
                {move || {
                    let a = actions?;
                    (role == Role::User && status.get() == Status::Done && editing.with(Option::is_none)).then(|| view! {
                        <button type="button" class="msg-action" data-testid="edit-message"
                            prop:disabled=move || !a.can_send.get()
                            on:click=move |_| editing.set(Some(text.get_untracked()))>{tr("Edit", "编辑")}</button>
                    })
                }}
                {move || {
                    let a = actions?;
                    (role == Role::User).then(|| view! {
                        <button type="button" class="msg-action" data-testid="delete-turn"
                            aria-label=tr("Delete this question and its reply", "删除这个问题及其回复")
                            prop:disabled=move || !a.can_delete.get()
                            on:click=move |_| a.delete_turn.run(id)>{tr("Delete", "删除")}</button>
                    })
                }}
                {move || {
                    let a = actions?;
                    (role == Role::Assistant && is_last.get() && status.get() == Status::Done).then(|| view! {
                        <button type="button" class="msg-action" data-testid="regenerate-reply"
                            prop:disabled=move || !a.can_send.get()
                            on:click=move |_| a.regenerate.run(())>{tr("Regenerate", "重新生成")}</button>
                    })
                }}
                {move || {
                    let a = actions?;
                    let unfinished = role == Role::Assistant && is_last.get()
                        && matches!(status.get(), Status::Interrupted | Status::Error | Status::Stopped);
                    unfinished.then(|| {
                        let has_text = !text.with(String::is_empty);
                        view! {
                            {has_text.then(|| view! {
                                <button type="button" class="msg-action" data-testid="continue-reply"
                                    prop:disabled=move || !a.can_send.get()
                                    on:click=move |_| a.continue_reply.run(())>{tr("Continue", "继续")}</button>
                            })}
                            <button type="button" class="msg-action" data-testid="retry-reply"
                                prop:disabled=move || !a.can_send.get()
                                on:click=move |_| a.retry.run(())>{tr("Retry", "重试")}</button>
                        }
                    })
                }}
            </div>
        </article>
    }
}
