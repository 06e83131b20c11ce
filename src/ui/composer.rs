use leptos::prelude::*;

use crate::i18n::tr;

/// The textarea with Send and Stop. Enter sends, Shift+Enter is a newline,
/// and the Enter that confirms an IME composition does nothing.
#[component]
pub fn Composer(
    text: RwSignal<String>,
    /// Whether typing is possible (connected).
    #[prop(into)]
    enabled: Signal<bool>,
    /// Why Send is disabled, if it is.
    #[prop(into)]
    send_blocked: Signal<Option<String>>,
    #[prop(into)] busy: Signal<bool>,
    on_send: impl Fn() + Clone + 'static,
    on_stop: impl Fn() + 'static,
    /// Pastes go here first (an attached image); the textarea gets the rest.
    on_paste: impl Fn(&web_sys::ClipboardEvent) + 'static,
    /// Extra controls (the image attachment).
    children: Children,
) -> impl IntoView {
    let send_on_enter = on_send.clone();
    view! {
        <footer class="composer">
            <textarea data-testid="composer" rows="3" aria-label=tr("Message", "消息")
                placeholder=move || if enabled.get() {
                    tr("Message (Enter to send, Shift+Enter for a new line)", "输入消息（Enter 发送，Shift+Enter 换行）")
                } else {
                    tr("Waiting for the connection…", "正在等待连接…")
                }
                prop:disabled=move || !enabled.get()
                prop:value=move || text.get()
                on:paste=move |ev| on_paste(&ev)
                on:input=move |ev| text.set(event_target_value(&ev))
                on:keydown=move |ev| {
                    if ev.key() == "Enter" && !ev.shift_key() && !ev.is_composing() && ev.key_code() != 229 {
                        ev.prevent_default();
                        send_on_enter();
                    }
                }></textarea>
            {children()}
            <div class="composer-actions">
                <button type="button" class="send" data-testid="send"
                    prop:disabled=move || send_blocked.get().is_some()
                    title=move || send_blocked.get().unwrap_or_default()
                    on:click=move |_| on_send()>{tr("Send", "发送")}</button>
                <button type="button" class="stop" data-testid="stop"
                    prop:disabled=move || !busy.get()
                    on:click=move |_| on_stop()>{tr("Stop", "停止")}</button>
                <p class="composer-hint" data-testid="send-blocked">{move || send_blocked.get()}</p>
            </div>
        </footer>
    }
}
