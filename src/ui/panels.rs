//! The side panels: the conversation list, and the settings beside the
//! chat (the parameter controls, the backend's settings, import and
//! export). Their contents are a module of their own (a split point, see
//! `crate::split`), fetched once the app is mounted: the header, the
//! transcript and the composer come first and take input without waiting
//! for them. The panels' frames are drawn at once, so nothing moves when
//! their contents arrive; until then each says it is loading, or why not.
//! The state they show and change lives in the app: messages go out with
//! the parameters as last kept, and conversations are kept as usual.

use leptos::prelude::*;

use crate::chat::Chat;
use crate::i18n::tr;
use crate::params::{ParamInputs, ParamLimits};
use crate::protocol::Capabilities;
use crate::split::LoadFailed;

use super::backend_panel::{BackendPanel, BackendSettings};
use super::conversations::{ConversationItems, Conversations};
use super::deferred::{self, LoadState};
use super::import::{ExportButton, ImportButton};
use super::params_panel::ParamsPanel;

/// What the settings show and change (all of it owned by the app).
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

/// The module: how to draw each panel's contents.
pub struct Panels {
    settings: fn(SettingsBindings) -> AnyView,
    conversations: fn(Conversations, RwSignal<bool>) -> AnyView,
}

fn settings_view(p: SettingsBindings) -> AnyView {
    let on_clear_session = p.on_clear_session;
    view! {
        <ParamsPanel inputs=p.inputs caps=p.caps limits=p.limits/>
        <BackendPanel caps=p.caps protocol=p.protocol settings=p.settings
            on_clear_session=move || on_clear_session.run(())/>
        <div class="conversation-actions"><ImportButton chat=p.chat/><ExportButton chat=p.chat/></div>
    }
    .into_any()
}

fn conversations_view(convs: Conversations, open: RwSignal<bool>) -> AnyView {
    view! { <ConversationItems convs open/> }.into_any()
}

static PANELS: Panels = Panels {
    settings: settings_view,
    conversations: conversations_view,
};

/// The panels' contents, once their module is loaded. A failed load is
/// not remembered: the next call tries again.
#[wasm_split_helpers::wasm_split(panels, fallible)]
pub fn load() -> Result<&'static Panels, LoadFailed> {
    Ok(&PANELS)
}

/// The panels' module, loading from when the app mounts (see
/// [`deferred::load`]); its state is `.app[data-panels]`.
#[derive(Clone, Copy)]
pub struct PanelsModule {
    pub state: RwSignal<LoadState>,
    panels: RwSignal<Option<&'static Panels>>,
}

impl PanelsModule {
    pub fn load() -> Self {
        let panels = RwSignal::new(None);
        let state = deferred::load(load, move |p| panels.set(Some(p)));
        Self { state, panels }
    }

    /// `draw` once the module is there (built once, untracked); until
    /// then a line that says it is coming (`{hook}-loading`), or that it
    /// could not be loaded and is tried again (`{hook}-notice`).
    fn contents(
        self,
        hook: &'static str,
        failed: &'static str,
        draw: impl Fn(&'static Panels) -> AnyView + Send + Sync + 'static,
    ) -> impl IntoView {
        move || {
            match self.panels.get() {
            Some(panels) => untrack(|| draw(panels)),
            None if self.state.get() == LoadState::Failed => view! {
                <p class="side-notice" role="status" data-testid=format!("{hook}-notice")>{failed}</p>
            }
            .into_any(),
            None => view! {
                <p class="side-notice" aria-busy="true" data-testid=format!("{hook}-loading")>
                    {tr("Loading…", "正在加载…")}
                </p>
            }
            .into_any(),
        }
        }
    }
}

/// The settings' contents.
#[component]
pub fn Settings(module: PanelsModule, bindings: SettingsBindings) -> impl IntoView {
    module.contents(
        "settings",
        tr(
            "The settings could not be loaded (retrying). Messages are sent with the parameters as last set.",
            "设置未能加载（正在重试）。消息将按上次设置的参数发送。",
        ),
        move |p| (p.settings)(bindings.clone()),
    )
}

/// The conversation list: its frame at once, its contents from the module.
#[component]
pub fn ConversationList(
    module: PanelsModule,
    convs: Conversations,
    /// Open as an overlay (narrow screens); closed again once a
    /// conversation is picked.
    open: RwSignal<bool>,
) -> impl IntoView {
    view! {
        <nav class="conversations" id="conversations" class:open=open aria-label=tr("Conversations", "会话") data-testid="conversations">
            {module.contents(
                "conversations",
                tr(
                    "The conversation list could not be loaded (retrying). This conversation is kept as usual.",
                    "会话列表未能加载（正在重试）。当前会话照常保存。",
                ),
                move |p| (p.conversations)(convs, open),
            )}
        </nav>
    }
}
