use leptos::prelude::*;

use crate::i18n::tr;

use crate::config::{parse_in, HISTORY_WINDOW, SILENCE_MS};
use crate::protocol::Capabilities;

/// Per-dialect settings, as typed.
#[derive(Clone, Copy)]
pub struct BackendSettings {
    pub model: RwSignal<String>,
    pub stream: RwSignal<bool>,
    pub history: RwSignal<String>,
    pub silence: RwSignal<String>,
}

impl BackendSettings {
    pub fn new(first_model: Option<&String>, history: usize, silence_ms: u64) -> Self {
        Self {
            model: RwSignal::new(first_model.cloned().unwrap_or_default()),
            stream: RwSignal::new(true),
            history: RwSignal::new(history.to_string()),
            silence: RwSignal::new(silence_ms.to_string()),
        }
    }

    pub fn history_window(&self) -> Result<usize, String> {
        self.history.with(|h| parse_in(h, &HISTORY_WINDOW))
    }

    pub fn silence_ms(&self) -> Result<u64, String> {
        self.silence.with(|s| parse_in(s, &SILENCE_MS))
    }

    /// The first setting that is refused, for the dialect's capabilities.
    pub fn problem(&self, caps: &Capabilities) -> Option<String> {
        if caps.history {
            if let Err(e) = self.history_window() {
                return Some(trf!("history window {e}", "历史窗口{e}"));
            }
        }
        if caps.silence_end {
            if let Err(e) = self.silence_ms() {
                return Some(trf!("silence timeout {e}", "静默超时{e}"));
            }
        }
        None
    }
}

#[component]
pub fn BackendPanel(
    caps: Capabilities,
    protocol: &'static str,
    models: Vec<String>,
    settings: BackendSettings,
    on_clear_session: impl Fn() + 'static,
) -> impl IntoView {
    let stop_text = match caps.stop {
        crate::protocol::StopKind::Acknowledged => {
            tr("Stop: confirmed by the backend", "停止：由后端确认")
        }
        crate::protocol::StopKind::Requested => {
            tr("Stop: the backend is asked to stop", "停止：请求后端停止")
        }
        crate::protocol::StopKind::CloseSocket => tr(
            "Stop: closes the connection (no stop message)",
            "停止：关闭连接（无停止消息）",
        ),
        crate::protocol::StopKind::LocalOnly => tr(
            "Stop: ignores the rest (the backend has no stop)",
            "停止：忽略其余内容（后端不支持停止）",
        ),
    };
    let history_bad = move || settings.history_window().is_err();
    let silence_bad = move || settings.silence_ms().is_err();
    view! {
        <section class="backend" aria-label=tr("Backend", "后端") data-testid="backend-panel" data-protocol=protocol>
            <h2>{tr("Backend", "后端")}</h2>
            <p class="backend-protocol">{tr("Protocol: ", "协议：")} <code>{protocol}</code></p>
            {(caps.model_choice && !models.is_empty()).then(|| view! {
                <div class="field">
                    <label for="backend-model">{tr("Model", "模型")}</label>
                    <select id="backend-model" data-testid="model"
                        prop:value=move || settings.model.get()
                        on:change=move |ev| settings.model.set(event_target_value(&ev))>
                        {models.into_iter().map(|m| view! { <option value=m.clone()>{m.clone()}</option> }).collect_view()}
                    </select>
                </div>
            })}
            {caps.stream_toggle.then(|| view! {
                <label class="check">
                    <input type="checkbox" data-testid="stream"
                        prop:checked=move || settings.stream.get()
                        on:change=move |ev| settings.stream.set(event_target_checked(&ev))/>
                    {tr(" Stream the reply", " 流式输出")}
                </label>
            })}
            {caps.history.then(|| view! {
                <div class="field" class:invalid=history_bad>
                    <label for="backend-history">{tr("History window (messages)", "历史窗口（条消息）")}</label>
                    <input id="backend-history" type="number" min="0" max="1000" step="1"
                        data-testid="history-window"
                        aria-invalid=move || history_bad().to_string()
                        prop:value=move || settings.history.get()
                        on:input=move |ev| settings.history.set(event_target_value(&ev))/>
                </div>
            })}
            {caps.silence_end.then(|| view! {
                <div class="field" class:invalid=silence_bad>
                    <label for="backend-silence">{tr("End of reply after silence (ms)", "静默多久视为回复结束（毫秒）")}</label>
                    <input id="backend-silence" type="number" min="100" max="120000" step="100"
                        data-testid="silence-ms"
                        aria-invalid=move || silence_bad().to_string()
                        prop:value=move || settings.silence.get()
                        on:input=move |ev| settings.silence.set(event_target_value(&ev))/>
                </div>
            })}
            {caps.clear_session.then(|| view! {
                <button type="button" class="secondary" data-testid="clear-session"
                    on:click=move |_| on_clear_session()>{tr("Clear session", "清除会话")}</button>
            })}
            <p class="backend-note" data-testid="stop-kind">{stop_text}</p>
        </section>
    }
}
