use leptos::prelude::*;

use crate::i18n::tr;

use crate::config::{parse_in, HISTORY_WINDOW, SILENCE_MS};
use crate::protocol::Capabilities;

/// Per-dialect settings, as typed.
#[derive(Clone, Copy)]
pub struct BackendSettings {
    /// The model choices: the configuration's, else the server's list
    /// (`native`); empty means the model is typed (or left to the server).
    pub models: RwSignal<Vec<String>>,
    pub model: RwSignal<String>,
    pub stream: RwSignal<bool>,
    pub history: RwSignal<String>,
    pub silence: RwSignal<String>,
}

/// What is kept of [`BackendSettings`] (per protocol, in localStorage).
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct BackendInputs {
    pub model: String,
    pub stream: bool,
    pub history: String,
    pub silence: String,
}

impl BackendSettings {
    pub fn new(models: Vec<String>, history: usize, silence_ms: u64) -> Self {
        Self {
            model: RwSignal::new(models.first().cloned().unwrap_or_default()),
            models: RwSignal::new(models),
            stream: RwSignal::new(true),
            history: RwSignal::new(history.to_string()),
            silence: RwSignal::new(silence_ms.to_string()),
        }
    }

    /// The values as typed, to keep.
    pub fn inputs(&self) -> BackendInputs {
        BackendInputs {
            model: self.model.get(),
            stream: self.stream.get(),
            history: self.history.get(),
            silence: self.silence.get(),
        }
    }

    /// Takes kept values back (a kept model only if still offered).
    pub fn restore(&self, kept: BackendInputs) {
        let offered = self
            .models
            .with_untracked(|l| l.is_empty() || l.contains(&kept.model));
        if offered {
            self.model.set(kept.model);
        }
        self.stream.set(kept.stream);
        self.history.set(kept.history);
        self.silence.set(kept.silence);
    }

    /// The server's model list (`native` welcome), used when the
    /// configuration names none.
    pub fn offer_models(&self, list: Vec<String>) {
        if list.is_empty() || self.models.with_untracked(|l| !l.is_empty()) {
            return;
        }
        if !list.contains(&self.model.get_untracked()) {
            self.model.set(list[0].clone());
        }
        self.models.set(list);
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
            {caps.model_choice.then(|| view! {
                <div class="field">
                    <label for="backend-model">{tr("Model", "模型")}</label>
                    {move || if settings.models.with(Vec::is_empty) {
                        view! {
                            <input id="backend-model" data-testid="model" type="text"
                                placeholder=tr("the server's default", "服务器默认")
                                prop:value=move || settings.model.get()
                                on:input=move |ev| settings.model.set(event_target_value(&ev))/>
                        }.into_any()
                    } else {
                        view! {
                            <select id="backend-model" data-testid="model"
                                prop:value=move || settings.model.get()
                                on:change=move |ev| settings.model.set(event_target_value(&ev))>
                                {settings.models.get().into_iter().map(|m| {
                                    let selected = settings.model.get_untracked() == m;
                                    view! { <option value=m.clone() selected=selected>{m.clone()}</option> }
                                }).collect_view()}
                            </select>
                        }.into_any()
                    }}
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_servers_models_fill_an_empty_list_and_kept_values_come_back() {
        let s = BackendSettings::new(Vec::new(), 6, 2000);
        s.offer_models(vec!["a".into(), "b".into()]);
        assert_eq!(s.models.get_untracked(), ["a", "b"]);
        assert_eq!(s.model.get_untracked(), "a");
        // A configured list is not replaced.
        s.offer_models(vec!["c".into()]);
        assert_eq!(s.models.get_untracked(), ["a", "b"]);

        let mut kept = s.inputs();
        kept.model = "b".into();
        kept.stream = false;
        kept.history = "3".into();
        s.restore(kept.clone());
        assert_eq!(s.inputs(), kept);
        // A kept model that is no longer offered is not taken.
        kept.model = "gone".into();
        s.restore(kept);
        assert_eq!(s.model.get_untracked(), "b");
        assert_eq!(s.history_window(), Ok(3));
    }
}
