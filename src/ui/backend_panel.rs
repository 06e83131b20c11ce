use leptos::prelude::*;

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
                return Some(format!("history window {e}"));
            }
        }
        if caps.silence_end {
            if let Err(e) = self.silence_ms() {
                return Some(format!("silence timeout {e}"));
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
        crate::protocol::StopKind::Acknowledged => "Stop: confirmed by the backend",
        crate::protocol::StopKind::Requested => "Stop: the backend is asked to stop",
        crate::protocol::StopKind::CloseSocket => "Stop: closes the connection (no stop message)",
        crate::protocol::StopKind::LocalOnly => "Stop: ignores the rest (the backend has no stop)",
    };
    let history_bad = move || settings.history_window().is_err();
    let silence_bad = move || settings.silence_ms().is_err();
    view! {
        <section class="backend" aria-label="Backend" data-testid="backend-panel" data-protocol=protocol>
            <h2>"Backend"</h2>
            <p class="backend-protocol">"Protocol: " <code>{protocol}</code></p>
            {(caps.model_choice && !models.is_empty()).then(|| view! {
                <div class="field">
                    <label for="backend-model">"Model"</label>
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
                    " Stream the reply"
                </label>
            })}
            {caps.history.then(|| view! {
                <div class="field" class:invalid=history_bad>
                    <label for="backend-history">"History window (messages)"</label>
                    <input id="backend-history" type="number" min="0" max="1000" step="1"
                        data-testid="history-window"
                        aria-invalid=move || history_bad().to_string()
                        prop:value=move || settings.history.get()
                        on:input=move |ev| settings.history.set(event_target_value(&ev))/>
                </div>
            })}
            {caps.silence_end.then(|| view! {
                <div class="field" class:invalid=silence_bad>
                    <label for="backend-silence">"End of reply after silence (ms)"</label>
                    <input id="backend-silence" type="number" min="100" max="120000" step="100"
                        data-testid="silence-ms"
                        aria-invalid=move || silence_bad().to_string()
                        prop:value=move || settings.silence.get()
                        on:input=move |ev| settings.silence.set(event_target_value(&ev))/>
                </div>
            })}
            {caps.clear_session.then(|| view! {
                <button type="button" class="secondary" data-testid="clear-session"
                    on:click=move |_| on_clear_session()>"Clear session"</button>
            })}
            <p class="backend-note" data-testid="stop-kind">{stop_text}</p>
        </section>
    }
}
