use leptos::prelude::*;

use crate::chat::Chat;
use crate::config::{AppConfig, ConfigError, PageLocation};
use crate::conn_state::ConnState;
use crate::params::ParamInputs;
use crate::protocol::{Dialect, Event, StopKind, Turn};
use crate::transport::{self, Command, Link, LinkEvent};

use super::attach::{AttachControls, Attachment};
use super::backend_panel::{BackendPanel, BackendSettings};
use super::composer::Composer;
use super::follow::Follow;
use super::import::{ExportButton, ImportButton};
use super::messages::MessageList;
use super::params_panel::ParamsPanel;
use super::status::ConnectionStatus;

const CLIENT_ID_KEY: &str = "chatwire.client_id";
const SESSION_ID_KEY: &str = "chatwire.session_id";

fn page_location() -> PageLocation {
    let loc = window().location();
    PageLocation {
        scheme: loc
            .protocol()
            .unwrap_or_default()
            .trim_end_matches(':')
            .to_owned(),
        host: loc.host().unwrap_or_default(),
        path: loc.pathname().unwrap_or_else(|_| "/".into()),
    }
}

fn local_storage() -> Option<web_sys::Storage> {
    window().local_storage().ok().flatten()
}

fn session_storage() -> Option<web_sys::Storage> {
    window().session_storage().ok().flatten()
}

/// This browser's id, made once and kept in localStorage (`client_<ms>`,
/// as the seed 003 page does). Without storage it lives for the page.
fn client_id() -> String {
    let stored = local_storage().and_then(|s| s.get_item(CLIENT_ID_KEY).ok().flatten());
    stored.filter(|id| !id.is_empty()).unwrap_or_else(|| {
        let id = format!("client_{}", js_sys::Date::now() as u64);
        if let Some(s) = local_storage() {
            let _ = s.set_item(CLIENT_ID_KEY, &id);
        }
        id
    })
}

fn stored_session() -> Option<String> {
    session_storage()
        .and_then(|s| s.get_item(SESSION_ID_KEY).ok().flatten())
        .filter(|id| !id.is_empty())
}

fn store_session(id: Option<&str>) {
    if let Some(s) = session_storage() {
        let _ = match id {
            Some(id) => s.set_item(SESSION_ID_KEY, id),
            None => s.remove_item(SESSION_ID_KEY),
        };
    }
}

/// What pressing Stop means for this backend, when it is not a plain
/// confirmed stop.
fn stop_note(kind: StopKind) -> Option<&'static str> {
    match kind {
        StopKind::Acknowledged | StopKind::Requested => None,
        StopKind::CloseSocket => Some("Stopped by closing the connection (this backend has no stop message)."),
        StopKind::LocalOnly => Some(
            "Stopped here. This backend has no stop, so it may still be generating; the rest is ignored.",
        ),
    }
}

#[component]
pub fn App() -> impl IntoView {
    let query = window().location().search().unwrap_or_default();
    let (config, errors) = AppConfig::from_query(&query, &page_location());
    if let Some(root) = document().document_element() {
        let _ = root.set_attribute("lang", config.lang.as_str());
    }

    let chat = Chat::new();
    let conn = RwSignal::new(ConnState::Connecting);
    let inputs = RwSignal::new(ParamInputs::default());
    let draft = RwSignal::new(String::new());
    let follow = Follow::new();
    provide_context(follow);
    let client_id = client_id();
    let next_reply = StoredValue::new(0u64);

    let dialect = Dialect::new(config.protocol, &client_id, stored_session());
    let caps = dialect.capabilities();
    let settings = BackendSettings::new(
        config.models.first(),
        config.history_window,
        config.silence_ms,
    );
    let attach = caps.image.then(|| Attachment::new(config.image_max_bytes));

    let link: Option<Link> = match errors.iter().find(|e| e.fatal) {
        Some(e) => {
            conn.set(ConnState::Closed {
                reason: format!("invalid configuration ({})", e.param),
            });
            None
        }
        None => Some(transport::spawn(
            config.backend.clone(),
            dialect,
            move |ev| match ev {
                LinkEvent::State(s) => conn.set(s),
                LinkEvent::Event(Event::Session(id)) => store_session(Some(&id)),
                LinkEvent::Event(e) => {
                    chat.apply(e);
                    follow.request();
                }
                LinkEvent::Undecodable(detail) => chat.undecodable(detail),
                LinkEvent::Lost => chat.connection_lost(),
            },
        )),
    };
    let link = StoredValue::new(link);
    let command = move |cmd: Command| {
        link.with_value(|l| match l {
            Some(l) => l.send(cmd),
            None => Err("not connected".into()),
        })
    };

    let send_blocked = Signal::derive(move || {
        if !conn.with(ConnState::is_open) {
            Some("Not connected".to_string())
        } else if chat.is_draining() {
            Some("Waiting for the backend to finish the stopped reply".to_string())
        } else if chat.is_busy() {
            Some("A reply is in progress".to_string())
        } else if let Err(e) = inputs.with(ParamInputs::to_params) {
            Some(format!("Fix the parameters first ({e})"))
        } else if let Some(e) = settings.problem(&caps) {
            Some(format!("Fix the backend settings first ({e})"))
        } else if draft.with(|t| t.trim().is_empty()) {
            Some("Type a message".to_string())
        } else {
            None
        }
    });

    let on_send = move || {
        if send_blocked.get_untracked().is_some() {
            return;
        }
        let Ok(params) = inputs.with_untracked(ParamInputs::to_params) else {
            return;
        };
        let text = draft.get_untracked();
        let image = attach.and_then(|a| a.image.get_untracked());
        let n = next_reply.get_value() + 1;
        next_reply.set_value(n);
        let reply_id = format!("{client_id}-{n}");
        let messages = chat.begin_turn(&text, image.clone(), reply_id.clone());
        follow.jump();
        follow.request();
        let model = settings.model.get_untracked();
        let turn = Turn {
            reply_id: reply_id.clone(),
            messages,
            params,
            model: (caps.model_choice && !model.is_empty()).then_some(model),
            image,
            stream: settings.stream.get_untracked(),
            history_window: settings.history_window().unwrap_or(config.history_window),
            silence_ms: settings.silence_ms().unwrap_or(config.silence_ms),
        };
        match command(Command::Send(turn)) {
            // The draft (and the attachment) are cleared only once the
            // turn is on its way.
            Ok(()) => {
                draft.set(String::new());
                if let Some(a) = attach {
                    a.clear();
                }
            }
            Err(e) => chat.send_failed(&reply_id, e),
        }
    };
    let on_stop = move || {
        if let Some(reply) = chat.stop(stop_note(caps.stop)) {
            let _ = command(Command::Stop(reply));
        }
    };
    // Esc stops a reply, from anywhere in the app.
    // Long conversations render near the viewport first.
    Effect::new(move |_| {
        if let Some(el) = follow.el.get() {
            super::lazy::init(&el);
        }
    });
    let esc = window_event_listener(leptos::ev::keydown, move |ev| {
        if ev.key() == "Escape" && !ev.is_composing() && chat.is_busy_untracked() {
            ev.prevent_default();
            on_stop();
        }
    });
    on_cleanup(move || esc.remove());
    let on_clear_session = move || {
        store_session(None);
        let _ = command(Command::ClearSession);
        chat.info.set(Some(
            "Session cleared: the next message starts a new conversation.".into(),
        ));
    };
    let on_paste = move |ev: &web_sys::ClipboardEvent| {
        if let Some(a) = attach {
            a.on_paste(ev);
        }
    };

    view! {
        <div class="app">
            <header class="top">
                <h1>"chatwire"</h1>
                <ConnectionStatus state=conn notice=chat.notice/>
                {move || chat.info.get().map(|i| view! { <p class="backend-info" data-testid="backend-notice">{i}</p> })}
            </header>
            <ConfigErrors errors/>
            <div class="layout">
                <div class="transcript-wrap">
                    <section class="transcript" aria-label="Conversation" data-testid="transcript" node_ref=follow.el
                        on:scroll=move |_| follow.on_scroll()
                        on:wheel=move |ev| follow.on_wheel(ev.delta_y())>
                        <MessageList chat/>
                    </section>
                    <Show when=move || !follow.following.get()>
                        <button type="button" class="jump-latest" data-testid="jump-latest"
                            on:click=move |_| follow.jump()>"Jump to latest ↓"</button>
                    </Show>
                    <div class="visually-hidden" role="status" aria-live="polite" data-testid="live-status">
                        {move || chat.announcement.get()}
                    </div>
                </div>
                <aside class="side">
                    <ParamsPanel inputs caps/>
                    <BackendPanel caps protocol=config.protocol.as_str() models=config.models.clone()
                        settings on_clear_session/>
                    <div class="conversation-actions"><ImportButton chat/><ExportButton chat/></div>
                </aside>
            </div>
            <Composer text=draft enabled=Signal::derive(move || conn.with(ConnState::is_open))
                send_blocked busy=Signal::derive(move || chat.is_busy()) on_send on_stop on_paste>
                {attach.map(|att| view! { <AttachControls att/> })}
            </Composer>
        </div>
    }
}

#[component]
fn ConfigErrors(errors: Vec<ConfigError>) -> impl IntoView {
    (!errors.is_empty()).then(|| {
        view! {
            <div class="config-errors" data-testid="config-error" role="alert">
                <p>"The page's configuration has problems:"</p>
                <ul>
                    {errors.into_iter().map(|e| view! { <li>{e.to_string()}</li> }).collect_view()}
                </ul>
            </div>
        }
    })
}
