//! The settings beside the chat: the parameter controls, the backend's
//! settings, import and export. They are a module of their own (a split
//! point, see `crate::split`), fetched once the app is mounted: the
//! composer takes input without waiting for them. Until they are there,
//! messages go out with the parameters as last kept (they live in the
//! app, not here), and the panel says it is loading.

use leptos::prelude::*;

use crate::chat::Chat;
use crate::i18n::tr;
use crate::params::{ParamInputs, ParamLimits};
use crate::protocol::Capabilities;
use crate::split::LoadFailed;

use super::backend_panel::{BackendPanel, BackendSettings};
use super::deferred::{self, LoadState};
use super::import::{ExportButton, ImportButton};
use super::params_panel::ParamsPanel;

/// What the panel shows and changes (all of it owned by the app).
#[derive(Clone)]
pub struct SettingsBindings {
    pub inputs: RwSignal<ParamInputs>,
    pub caps: Capabilities,
    pub limits: ParamLimits,
    pub protocol: &'static str,
    pub settings: BackendSettings,
    pub on_clear_session: Callback<()>,
    pub chat: Chat,
}

/// The panel's module: how to draw it.
pub struct Panel {
    view: fn(SettingsBindings) -> AnyView,
}

fn panel_view(p: SettingsBindings) -> AnyView {
    let on_clear_session = p.on_clear_session;
    view! {
        <ParamsPanel inputs=p.inputs caps=p.caps limits=p.limits/>
        <BackendPanel caps=p.caps protocol=p.protocol settings=p.settings
            on_clear_session=move || on_clear_session.run(())/>
        <div class="conversation-actions"><ImportButton chat=p.chat/><ExportButton chat=p.chat/></div>
    }
    .into_any()
}

static PANEL: Panel = Panel { view: panel_view };

/// The panel, once its module is loaded. A failed load is not
/// remembered: the next call tries again.
#[wasm_split_helpers::wasm_split(settings, fallible)]
pub fn load() -> Result<&'static Panel, LoadFailed> {
    Ok(&PANEL)
}

/// The panel's module, loading from when the app mounts (see
/// [`deferred::load`]); its state is `.app[data-settings]`.
#[derive(Clone, Copy)]
pub struct SettingsModule {
    pub state: RwSignal<LoadState>,
    panel: RwSignal<Option<&'static Panel>>,
}

impl SettingsModule {
    pub fn load() -> Self {
        let panel = RwSignal::new(None);
        let state = deferred::load(load, move |p| panel.set(Some(p)));
        Self { state, panel }
    }
}

/// The panel's contents: the settings once loaded; until then a line
/// that says they are coming, or why not.
#[component]
pub fn Settings(module: SettingsModule, bindings: SettingsBindings) -> impl IntoView {
    move || {
        match module.panel.get() {
        // Drawn once: nothing it reads while being built is tracked here.
        Some(panel) => untrack(|| (panel.view)(bindings.clone())),
        None if module.state.get() == LoadState::Failed => view! {
            <p class="side-notice" role="status" data-testid="settings-notice">
                {tr(
                    "The settings could not be loaded (retrying). Messages are sent with the parameters as last set.",
                    "设置未能加载（正在重试）。消息将按上次设置的参数发送。",
                )}
            </p>
        }
        .into_any(),
        None => view! {
            <p class="side-notice" aria-busy="true" data-testid="settings-loading">
                {tr("Loading settings…", "正在加载设置…")}
            </p>
        }
        .into_any(),
    }
    }
}
