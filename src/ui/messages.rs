use leptos::prelude::*;

use crate::chat::{Chat, Message, Status};

#[component]
pub fn MessageList(chat: Chat) -> impl IntoView {
    view! {
        <For each=move || chat.messages.get() key=|m| m.id children=move |m| view! { <MessageView m/> } />
    }
}

/// One message. Only its own signals are read here, so a token re-renders
/// this message's text and nothing else.
#[component]
fn MessageView(m: Message) -> impl IntoView {
    let Message {
        role,
        text,
        status,
        error,
        note,
        image,
        ..
    } = m;
    view! {
        <article class=format!("message {}", role.as_str()) data-testid="message" data-role=role.as_str()
            data-status=move || status.get().as_str()>
            <div class="bubble">
                {image.map(|src| view! { <img class="message-image" src=src alt="Attached image" data-testid="message-image"/> })}
                <span class="text">{move || text.get()}</span>
                <Show when=move || status.get() == Status::Streaming>
                    <span class="cursor" data-testid="cursor" aria-hidden="true"></span>
                </Show>
            </div>
            {move || (status.get() == Status::Stopped).then(|| view! { <p class="msg-note">"Stopped"</p> })}
            {move || note.get().map(|n| view! { <p class="msg-note" data-testid="message-note">{n}</p> })}
            {move || error.get().map(|e| view! { <p class="msg-error" data-testid="message-error" role="alert">{e}</p> })}
        </article>
    }
}
