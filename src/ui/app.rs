use leptos::prelude::*;

use crate::chat::{Again, Chat};
use crate::config::{AppConfig, ConfigError, PageLocation};
use crate::conn_state::ConnState;
use crate::i18n::tr;
use crate::params::ParamInputs;
use crate::protocol::{Event, StopKind, Turn};
use crate::transport::{self, Command, Link, LinkEvent};
use chatwire_protocol::ChatMessage;

use super::attach::{AttachControls, Attachment};
use super::backend_panel::BackendSettings;
use super::composer::Composer;
use super::conversations::Conversations;
use super::deferred::LoadState;
use super::follow::Follow;
use super::markdown_view::Renderer;
use super::messages::{MessageList, ReplyActions};
use super::panels::{ConversationList, PanelsModule, Settings, SettingsBindings};
use super::status::ConnectionStatus;

const CLIENT_ID_KEY: &str = crate::store::CLIENT_ID;
/// Where builds before per-conversation sessions kept the `session`
/// dialect's id (one per tab); taken over by the conversation shown.
const LEGACY_SESSION_ID_KEY: &str = "chatwire.session_id";

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

/// This browser's id, made once and kept in localStorage: `client_` and
/// 128 random bits (it authorizes resuming this browser's replies, so it
/// must not be guessable; ids of earlier builds, `client_<ms>`, are
/// replaced). Without storage it lives for the page.
fn client_id() -> String {
    let stored = local_storage().and_then(|s| s.get_item(CLIENT_ID_KEY).ok().flatten());
    stored
        .filter(|id| crate::store::client_id_is_strong(id))
        .unwrap_or_else(|| {
            let mut bytes = [0u8; 16];
            let random = window()
                .crypto()
                .ok()
                .and_then(|c| c.get_random_values_with_u8_array(&mut bytes).ok())
                .is_some();
            let hex: String = if random {
                bytes.iter().map(|b| format!("{b:02x}")).collect()
            } else {
                crate::clock::random_hex(32)
            };
            let id = format!("client_{hex}");
            if let Some(s) = local_storage() {
                let _ = s.set_item(CLIENT_ID_KEY, &id);
            }
            id
        })
}

fn take_legacy_session() -> Option<String> {
    let s = session_storage()?;
    let id = s.get_item(LEGACY_SESSION_ID_KEY).ok().flatten();
    let _ = s.remove_item(LEGACY_SESSION_ID_KEY);
    id.filter(|id| !id.is_empty())
}

fn settings_store() -> Option<crate::store::Store<crate::store::web::BrowserStorage>> {
    crate::store::web::BrowserStorage::open()
        .ok()
        .map(crate::store::Store::new)
}

/// The parameter controls as last typed.
fn restore_params() -> Option<ParamInputs> {
    settings_store()?
        .settings()
        .and_then(|t| serde_json::from_str(&t).ok())
}

fn keep_params(p: &ParamInputs) {
    if let (Some(s), Ok(json)) = (settings_store(), serde_json::to_string(p)) {
        let _ = s.save_settings(&json);
    }
}

/// What pressing Stop means for this backend, when it is not a plain
/// confirmed stop.
fn stop_note(kind: StopKind) -> Option<&'static str> {
    match kind {
        StopKind::Acknowledged | StopKind::Requested => None,
        StopKind::CloseSocket => Some(tr(
            "Stopped by closing the connection (this backend has no stop message).",
            "已通过关闭连接停止（此后端没有停止消息）。",
        )),
        StopKind::LocalOnly => Some(tr(
            "Stopped here. This backend has no stop, so it may still be generating; the rest is ignored.",
            "已在此停止。此后端不支持停止，可能仍在生成；其余内容将被忽略。",
        )),
    }
}

/// How long the app waits for `config.json` before starting without it.
const CONFIG_WAIT_MS: u32 = 3_000;

/// `config.json` next to `index.html`: its text, `None` when there is
/// none (404 or no server, as for a `file:` page), `Err` when it could not
/// be read or did not come within [`CONFIG_WAIT_MS`] (a blank page while a
/// host hangs would be worse than the defaults).
pub async fn fetch_config_file() -> Result<Option<String>, ConfigFetchError> {
    use futures::FutureExt;
    let fetch = read_config_file().fuse();
    let timeout = gloo_timers::future::TimeoutFuture::new(CONFIG_WAIT_MS).fuse();
    futures::pin_mut!(fetch, timeout);
    futures::select_biased! {
        r = fetch => r,
        _ = timeout => Err(ConfigFetchError::Timeout),
    }
}

/// Why `config.json` could not be used (told in the page's language,
/// which is only known once the configuration is read).
#[derive(Debug, Clone, Copy)]
pub enum ConfigFetchError {
    Status(u16),
    Unreadable,
    Timeout,
}

impl std::fmt::Display for ConfigFetchError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            ConfigFetchError::Status(s) => write!(f, "HTTP {s}"),
            ConfigFetchError::Unreadable => f.write_str(tr("unreadable body", "内容无法读取")),
            ConfigFetchError::Timeout => f.write_str(&trf!(
                "no answer within {} s",
                "{} 秒内没有响应",
                CONFIG_WAIT_MS / 1000
            )),
        }
    }
}

async fn read_config_file() -> Result<Option<String>, ConfigFetchError> {
    use wasm_bindgen::JsCast;
    use wasm_bindgen_futures::JsFuture;
    let Ok(res) = JsFuture::from(window().fetch_with_str("config.json")).await else {
        return Ok(None);
    };
    let Ok(res) = res.dyn_into::<web_sys::Response>() else {
        return Ok(None);
    };
    match res.status() {
        200..=299 => {}
        404 => return Ok(None),
        status => return Err(ConfigFetchError::Status(status)),
    }
    let text = res
        .text()
        .map_err(|_| ConfigFetchError::Unreadable)
        .map(JsFuture::from)?
        .await
        .map_err(|_| ConfigFetchError::Unreadable)?;
    Ok(text.as_string())
}

/// What the page shows first: the title, theme, language and layout the
/// configuration asks for.
fn apply_to_page(config: &AppConfig) {
    document().set_title(&config.title);
    if let Some(root) = document().document_element() {
        let _ = root.set_attribute("lang", config.lang.as_str());
        let _ = root.set_attribute("data-theme", config.theme.as_str());
        if config.embed {
            let _ = root.set_attribute("data-embed", "");
        }
    }
}

#[component]
pub fn App(
    /// `config.json` as fetched (see [`fetch_config_file`]).
    config_file: Result<Option<String>, ConfigFetchError>,
) -> impl IntoView {
    let query = window().location().search().unwrap_or_default();
    let browser_lang = window().navigator().language();
    let (file, file_error) = match config_file {
        Ok(file) => (file, None),
        Err(e) => (None, Some(e)),
    };
    let resolve = || {
        AppConfig::resolve(
            file.as_deref(),
            &query,
            &page_location(),
            browser_lang.as_deref(),
        )
    };
    // Once to learn the language, then again so the problems found are
    // told in it.
    crate::i18n::set_lang(resolve().0.lang);
    let (config, mut errors) = resolve();
    if let Some(e) = file_error {
        errors.insert(
            0,
            ConfigError {
                param: "(file)".into(),
                value: String::new(),
                reason: trf!(
                    "could not be read ({e}); using the defaults",
                    "无法读取（{e}）；使用默认设置"
                ),
                fatal: false,
                source: crate::config::Source::File,
            },
        );
    }
    apply_to_page(&config);
    let limits = StoredValue::new(config.param_limits.clone());
    let to_params = move |p: &ParamInputs| limits.with_value(|l| p.to_params(l));

    let chat = Chat::new();
    let conn = RwSignal::new(ConnState::Connecting);
    let convs = Conversations::open(chat);
    convs.start_saving();
    provide_context(convs);
    let inputs = RwSignal::new(restore_params().unwrap_or_else(|| config.param_defaults.clone()));
    // The parameter controls are kept as typed (an effect: syncing with
    // storage, the outside world).
    Effect::new(move |_| inputs.with(keep_params));
    let draft = RwSignal::new(String::new());
    let follow = Follow::new();
    provide_context(follow);
    // The markdown renderer is a module of its own, fetched now that the
    // app is up, and compiled while the page is idle, before the first
    // reply needs it.
    let renderer = Renderer::load();
    provide_context(renderer);
    // So are the side panels' contents (conversations, settings).
    let panels = PanelsModule::load();
    let client_id = client_id();
    let next_reply = StoredValue::new(0u64);

    if convs.current.with_untracked(|c| c.session_id.is_none()) {
        if let Some(id) = take_legacy_session() {
            convs.set_session_id(Some(id));
        }
    }
    let dialect = transport::DialectChoice {
        protocol: config.protocol,
        client_id: client_id.clone(),
        session_id: convs.current.with_untracked(|c| c.session_id.clone()),
    };
    let caps = crate::protocol::capabilities(config.protocol);
    let settings = BackendSettings::new(
        config.models.clone(),
        config.history_window,
        config.silence_ms,
    );
    // The backend settings as last typed, per protocol (an effect: syncing
    // with storage).
    let protocol = config.protocol.as_str();
    if let Some(kept) = settings_store()
        .and_then(|s| s.backend_settings(protocol))
        .and_then(|t| serde_json::from_str(&t).ok())
    {
        settings.restore(kept);
    }
    Effect::new(move |_| {
        let inputs = settings.inputs();
        if let (Some(s), Ok(json)) = (settings_store(), serde_json::to_string(&inputs)) {
            let _ = s.save_backend_settings(protocol, &json);
        }
    });
    let attach = caps.image.then(|| Attachment::new(config.image_max_bytes));

    // Bumped when a queued message may be sendable.
    let pending_tick = RwSignal::new(0u64);
    let link: Option<Link> = match errors.iter().find(|e| e.fatal) {
        Some(e) => {
            conn.set(ConnState::Closed {
                reason: trf!("invalid configuration ({})", "配置无效（{}）", e.param),
            });
            None
        }
        None => Some(transport::spawn(
            config.endpoint(),
            dialect,
            move |ev| match ev {
                LinkEvent::State(s) => conn.set(s),
                LinkEvent::Event(Event::Session(id)) => convs.set_session_id(Some(id)),
                LinkEvent::Event(e) => {
                    if let Event::Ready { models } = &e {
                        settings.offer_models(models.iter().map(|m| m.id.clone()).collect());
                    }
                    // Ready, or a reply over: a queued message may go (not
                    // on each token: that would wake the check per frame).
                    let may_free = !matches!(e, Event::Token { .. } | Event::Queued { .. });
                    chat.apply(e);
                    if may_free {
                        pending_tick.update(|n| *n += 1);
                    }
                }
                LinkEvent::Undecodable(detail) => chat.undecodable(detail),
                LinkEvent::Lost => chat.connection_lost(caps.resume),
                LinkEvent::NotSent(reply) => chat.not_sent(&reply),
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

    let closed = Signal::derive(move || conn.with(|c| matches!(c, ConnState::Closed { .. })));
    // A memo: typing recomputes it once and touches the DOM only when the
    // answer changes (empty ↔ not empty), not on every keystroke.
    let send_blocked = Memo::new(move |_| {
        if closed.get() {
            Some(tr("Not connected", "未连接").to_string())
        } else if chat.is_draining() {
            Some(
                tr(
                    "Waiting for the backend to finish the stopped reply",
                    "正在等待后端结束已停止的回复",
                )
                .to_string(),
            )
        } else if chat.is_busy() {
            Some(tr("A reply is in progress", "正在回复").to_string())
        } else if let Err(e) = inputs.with(to_params) {
            Some(trf!(
                "Fix the parameters first ({e})",
                "请先修正参数（{e}）"
            ))
        } else if let Some(e) = settings.problem(&caps) {
            Some(trf!(
                "Fix the backend settings first ({e})",
                "请先修正后端设置（{e}）"
            ))
        } else if draft.with(|t| t.trim().is_empty()) {
            Some(tr("Type a message", "请输入消息").to_string())
        } else {
            None
        }
    });

    // Unique per client across page loads (the client id itself is a
    // secret and stays out of reply ids).
    let reply_prefix = StoredValue::new(format!("r{}", crate::clock::now_ms()));
    let new_reply_id = move || {
        let n = next_reply.get_value() + 1;
        next_reply.set_value(n);
        format!("{}-{n}", reply_prefix.get_value())
    };
    // Sends a reply's request (messages: what to send), then runs `begin`,
    // which starts the reply in `chat` unless it was started already,
    // and records what it was asked with. The command is queued before
    // any signal changes: the transport's task and the effects those
    // changes wake both run after this handler, the transport's first,
    // so the request leaves the page about a millisecond sooner.
    let send_turn = move |reply_id: String,
                          mut messages: Vec<ChatMessage>,
                          image: Option<String>,
                          begin: &dyn Fn()| {
        let params = inputs.with_untracked(to_params).unwrap_or_default();
        let system = inputs.with_untracked(|p| p.system_prompt.trim().to_owned());
        if caps.system_prompt && !system.is_empty() {
            messages.insert(
                0,
                ChatMessage {
                    role: chatwire_protocol::Role::System,
                    content: system,
                },
            );
        }
        let model = settings.model.get_untracked();
        let model = (caps.model_choice && !model.is_empty()).then_some(model);
        let turn = Turn {
            reply_id: reply_id.clone(),
            messages,
            params,
            model: model.clone(),
            image,
            stream: settings.stream.get_untracked(),
            history_window: settings.history_window().unwrap_or(config.history_window),
            silence_ms: settings.silence_ms().unwrap_or(config.silence_ms),
        };
        let sent = command(Command::Send(turn));
        begin();
        chat.set_reply_params(params, model);
        follow.jump();
        if let Err(e) = sent {
            chat.send_failed(&reply_id, e);
        }
    };
    // A queued message goes out once connected and nothing is in flight.
    Effect::new(move |_| {
        pending_tick.track();
        if !conn.with(ConnState::is_open) {
            return;
        }
        if let Some(user) = chat.next_pending() {
            let reply_id = new_reply_id();
            let image = user.image.clone();
            let messages = chat.begin_pending(&user, reply_id.clone());
            send_turn(reply_id, messages, image, &|| {});
        }
    });
    let on_send = move || {
        if send_blocked.get_untracked().is_some() {
            return;
        }
        let text = draft.get_untracked();
        let image = attach.and_then(|a| a.image.get_untracked());
        // The draft (and the attachment) leave the composer only once the
        // message is in the conversation: sent, or queued.
        let clear_draft = move || {
            draft.set(String::new());
            if let Some(a) = attach {
                a.clear();
            }
        };
        if !conn.with_untracked(ConnState::is_open) {
            clear_draft();
            chat.queue(&text, image);
            follow.jump();
            return;
        }
        let reply_id = new_reply_id();
        let messages = chat.turn_messages(&text);
        send_turn(reply_id.clone(), messages, image.clone(), &|| {
            clear_draft();
            chat.begin_turn(&text, image.clone(), reply_id.clone());
        });
    };
    let can_send_again = Signal::derive(move || {
        conn.with(ConnState::is_open) && !chat.is_busy() && inputs.with(to_params).is_ok()
    });
    // A new request about messages already in the chat: sent first, like
    // a new message; then the chat changes as `again` says.
    let ask_again = move |again: Option<Again>| {
        if !can_send_again.get_untracked() {
            return;
        }
        let Some(again) = again else {
            return;
        };
        let reply_id = new_reply_id();
        let (messages, image) = (again.messages.clone(), again.image.clone());
        let again = std::cell::Cell::new(Some(again));
        send_turn(reply_id.clone(), messages, image, &|| {
            if let Some(a) = again.take() {
                chat.begin_again(a, reply_id.clone());
            }
        });
    };
    provide_context(ReplyActions {
        continue_reply: Callback::new(move |()| ask_again(chat.continue_reply())),
        retry: Callback::new(move |()| ask_again(chat.retry())),
        regenerate: Callback::new(move |()| ask_again(chat.regenerate())),
        edit: Callback::new(move |(message, text): (u64, String)| {
            ask_again(chat.edit_and_resend(message, &text))
        }),
        delete_turn: Callback::new(move |id: u64| {
            chat.delete_turn(id);
        }),
        can_send: can_send_again,
        can_delete: Signal::derive(move || !chat.is_busy()),
    });
    // A reply that was streaming when the page closed: resumed where the
    // stored text ends, or marked interrupted.
    if let Some(r) = chat.adopt_streaming(caps.resume) {
        let _ = command(Command::Resume {
            reply: r.id,
            after_seq: r.seq.unwrap_or(0),
        });
    }
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
    // So are the message views (a sample turn, never shown); `data-warmed`
    // says when that is over.
    let warmed = RwSignal::new(false);
    Effect::new(move |_| {
        super::idle::when_idle(move || super::messages::warm_up(move || warmed.set(true)))
    });
    // The transcript follows its content's size (see `follow`).
    Effect::new(move |_| {
        follow.el.track();
        follow.content.track();
        follow.start();
    });
    let esc = window_event_listener(leptos::ev::keydown, move |ev| {
        if ev.key() == "Escape" && !ev.is_composing() && chat.is_busy_untracked() {
            ev.prevent_default();
            on_stop();
        }
    });
    on_cleanup(move || esc.remove());
    // Each conversation continues its own server-side session (`session`
    // dialect): the transport follows the conversation shown.
    Effect::new(move |prev: Option<(String, Option<String>)>| {
        let now = convs.current.with(|c| (c.id.clone(), c.session_id.clone()));
        if prev.is_some_and(|p| p != now) {
            let _ = command(Command::SetSession(now.1.clone()));
        }
        now
    });
    let on_clear_session = move || {
        convs.set_session_id(None);
        chat.info.set(Some(
            tr(
                "Session cleared: the next message starts a new conversation.",
                "会话已清除：下一条消息将开始新的对话。",
            )
            .into(),
        ));
    };
    let on_paste = move |ev: &web_sys::ClipboardEvent| {
        if let Some(a) = attach {
            a.on_paste(ev);
        }
    };

    let embed = config.embed;
    // On narrow screens and when embedded, the conversations and the
    // settings open from buttons in the header, over the chat (CSS decides
    // which layout applies; these say what is open there).
    let settings_open = RwSignal::new(false);
    let convs_open = RwSignal::new(false);
    let logo = config.logo.clone();
    let title = config.title.clone();
    view! {
        <div class="app" class:embed=embed data-warmed=move || warmed.get().to_string()
            data-renderer=move || renderer.state.get().as_str()
            data-panels=move || panels.state.get().as_str()>
            <header class="top">
                <h1 data-testid="app-title">
                    {logo.map(|l| view! { <span class="logo" data-testid="app-logo" aria-hidden="true">{l}</span> })}
                    {title}
                </h1>
                <div class="panel-toggles">
                    {(!embed).then(|| view! {
                        <button type="button" class="secondary conversations-toggle" data-testid="conversations-toggle"
                            aria-expanded=move || convs_open.get().to_string() aria-controls="conversations"
                            on:click=move |_| {
                                settings_open.set(false);
                                convs_open.update(|o| *o = !*o);
                            }>{tr("Conversations", "会话")}</button>
                    })}
                    <button type="button" class="secondary settings-toggle" data-testid="settings-toggle"
                        aria-expanded=move || settings_open.get().to_string() aria-controls="settings"
                        on:click=move |_| {
                            convs_open.set(false);
                            settings_open.update(|o| *o = !*o);
                        }>{tr("Settings", "设置")}</button>
                </div>
                <ConnectionStatus state=conn notice=chat.notice/>
                {move || chat.info.get().map(|i| view! { <p class="backend-info" data-testid="backend-notice">{i}</p> })}
                <Show when=move || renderer.state.get() == LoadState::Failed>
                    <p class="backend-info" data-testid="renderer-notice" role="status">
                        {tr(
                            "Formatting could not be loaded: replies show as plain text until it is (retrying).",
                            "格式渲染模块未能加载：加载成功前，回复以纯文本显示（正在重试）。",
                        )}
                    </p>
                </Show>
            </header>
            <ConfigErrors errors/>
            {move || convs.notice.get().map(|n| view! { <p class="storage-notice" data-testid="storage-notice" role="alert">{n}</p> })}
            <div class="layout">
                {(!embed).then(|| view! { <ConversationList module=panels convs open=convs_open/> })}
                <div class="transcript-wrap">
                    <section class="transcript" aria-label=tr("Conversation", "对话") data-testid="transcript" node_ref=follow.el
                        on:scroll=move |_| follow.on_scroll()
                        on:wheel=move |ev| follow.on_wheel(ev.delta_y())>
                        <div class="transcript-content" node_ref=follow.content><MessageList chat/></div>
                    </section>
                    <Show when=move || !follow.following.get()>
                        <button type="button" class="jump-latest" data-testid="jump-latest"
                            on:click=move |_| follow.jump()>{tr("Jump to latest ↓", "跳到最新 ↓")}</button>
                    </Show>
                    <div class="visually-hidden" role="status" aria-live="polite" data-testid="live-status">
                        {move || chat.announcement.get()}
                    </div>
                </div>
                <aside class="side" class:open=settings_open id="settings" data-testid="settings">
                    <Settings module=panels bindings=SettingsBindings {
                        inputs,
                        caps,
                        limits: config.param_limits.clone(),
                        protocol: config.protocol.as_str(),
                        settings,
                        on_clear_session: Callback::new(move |()| on_clear_session()),
                        chat,
                    }/>
                </aside>
            </div>
            <Composer text=draft enabled=Signal::derive(move || !closed.get())
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
                <p>{tr("The page's configuration has problems:", "页面配置有问题：")}</p>
                <ul>
                    {errors.into_iter().map(|e| view! { <li>{e.to_string()}</li> }).collect_view()}
                </ul>
            </div>
        }
    })
}
