use leptos::prelude::*;

use crate::chat::Chat;
use crate::config::{AppConfig, ConfigError, PageLocation};
use crate::conn_state::ConnState;
use crate::params::ParamInputs;
use crate::protocol::{Dialect, Turn};
use crate::transport::{self, Command, Link, LinkEvent};

use super::composer::Composer;
use super::messages::MessageList;
use super::params_panel::ParamsPanel;
use super::status::ConnectionStatus;

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

/// A random id for this page's client (hex of 64 random bits).
fn random_id() -> String {
    let hi = (js_sys::Math::random() * f64::from(u32::MAX)) as u32;
    let lo = (js_sys::Math::random() * f64::from(u32::MAX)) as u32;
    format!("{hi:08x}{lo:08x}")
}

/// Keeps the transcript scrolled to the bottom while the reader is there.
#[derive(Clone, Copy)]
struct Follow {
    el: NodeRef<leptos::html::Section>,
    at_bottom: StoredValue<bool>,
    pending: StoredValue<bool>,
}

impl Follow {
    fn on_scroll(&self) {
        if let Some(el) = self.el.get_untracked() {
            let gap = el.scroll_height() - el.scroll_top() - el.client_height();
            self.at_bottom.set_value(gap < 48);
        }
    }

    /// Schedules one scroll for the next frame, however many tokens arrive.
    fn request(&self) {
        if !self.at_bottom.get_value() || self.pending.get_value() {
            return;
        }
        self.pending.set_value(true);
        let this = *self;
        request_animation_frame(move || {
            this.pending.set_value(false);
            if let Some(el) = this.el.get_untracked() {
                el.set_scroll_top(el.scroll_height());
            }
        });
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
    let follow = Follow {
        el: NodeRef::new(),
        at_bottom: StoredValue::new(true),
        pending: StoredValue::new(false),
    };
    let client_id = random_id();
    let next_reply = StoredValue::new(0u64);

    let link: Option<Link> = match errors.iter().find(|e| e.fatal) {
        Some(e) => {
            conn.set(ConnState::Closed {
                reason: format!("invalid configuration ({})", e.param),
            });
            None
        }
        None => Some(transport::spawn(
            config.backend.clone(),
            Dialect::new(config.protocol, &client_id),
            move |ev| match ev {
                LinkEvent::State(s) => conn.set(s),
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

    let send_blocked = Signal::derive(move || {
        if !conn.with(ConnState::is_open) {
            Some("Not connected".to_string())
        } else if chat.is_busy() {
            Some("A reply is in progress".to_string())
        } else if let Err(e) = inputs.with(ParamInputs::to_params) {
            Some(format!("Fix the parameters first ({e})"))
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
        let n = next_reply.get_value() + 1;
        next_reply.set_value(n);
        let reply_id = format!("{client_id}-{n}");
        let messages = chat.begin_turn(&text, reply_id.clone());
        follow.at_bottom.set_value(true);
        follow.request();
        let turn = Turn {
            reply_id: reply_id.clone(),
            messages,
            params,
            model: None,
        };
        let sent = link.with_value(|l| match l {
            Some(l) => l.send(Command::Send(turn)),
            None => Err("not connected".into()),
        });
        match sent {
            // The draft is cleared only once the turn is on its way.
            Ok(()) => draft.set(String::new()),
            Err(e) => chat.send_failed(&reply_id, e),
        }
    };
    let on_stop = move || {
        if let Some(reply) = chat.stop() {
            link.with_value(|l| {
                if let Some(l) = l {
                    let _ = l.send(Command::Stop(reply));
                }
            });
        }
    };

    view! {
        <div class="app">
            <header class="top">
                <h1>"chatwire"</h1>
                <ConnectionStatus state=conn notice=chat.notice/>
            </header>
            <ConfigErrors errors/>
            <div class="layout">
                <section class="transcript" aria-label="Conversation" node_ref=follow.el
                    on:scroll=move |_| follow.on_scroll()>
                    <MessageList chat/>
                </section>
                <aside class="side">
                    <ParamsPanel inputs/>
                </aside>
            </div>
            <Composer text=draft enabled=Signal::derive(move || conn.with(ConnState::is_open))
                send_blocked busy=Signal::derive(move || chat.is_busy()) on_send on_stop/>
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
