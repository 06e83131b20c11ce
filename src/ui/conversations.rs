//! The conversations sidebar and the link between the chat and storage:
//! changed messages are saved in batches (every second while anything
//! changed, and when the page is hidden), never per token; another tab's
//! saves are merged in through the `storage` event.

use leptos::prelude::*;

use crate::chat::Chat;
use crate::clock::now_ms;
use crate::i18n::tr;
use crate::store::web::BrowserStorage;
use crate::store::{
    classify, new_conversation_id, title_from, ConversationRecord, Deleted, KeyKind, Store,
};

/// How often changes are saved.
pub const SAVE_EVERY_MS: u64 = 1_000;

#[derive(Clone, Copy)]
pub struct Conversations {
    /// Saved conversations, most recently updated first.
    pub list: RwSignal<Vec<ConversationRecord>>,
    /// The conversation shown (saved once it has a message).
    pub current: RwSignal<ConversationRecord>,
    /// Why conversations are not being saved, if they are not.
    pub notice: RwSignal<Option<String>>,
    /// The last deletion, until undone or replaced.
    pub deleted: RwSignal<Option<Deleted>, LocalStorage>,
    store: StoredValue<Option<Store<BrowserStorage>>, LocalStorage>,
    chat: Chat,
}

impl Conversations {
    /// Opens storage and shows the conversation last shown.
    pub fn open(chat: Chat) -> Self {
        let (store, notice) = match BrowserStorage::open() {
            Ok(kv) => (Some(Store::new(kv)), None),
            Err(e) => (None, Some(Self::unsaved(&e.to_string()))),
        };
        let list = store.as_ref().map(Store::list).unwrap_or_default();
        let current = store
            .as_ref()
            .and_then(|s| s.current())
            .and_then(|id| list.iter().find(|c| c.id == id).cloned())
            .unwrap_or_else(|| ConversationRecord::new(new_conversation_id(now_ms()), now_ms()));
        let this = Self {
            list: RwSignal::new(list),
            current: RwSignal::new(current.clone()),
            notice: RwSignal::new(notice),
            deleted: RwSignal::new_local(None),
            store: StoredValue::new_local(store),
            chat,
        };
        this.show(&current.id);
        this
    }

    fn unsaved(why: &str) -> String {
        trf!(
            "Conversations are not being saved: {why}. Chatting still works, in this page only.",
            "会话未能保存：{why}。聊天仍可继续，但只保留在本页面中。"
        )
    }

    /// How a "not being saved" notice starts (to clear it once saving
    /// works again).
    fn unsaved_prefix() -> String {
        Self::unsaved("").chars().take(8).collect()
    }

    fn with_store<R>(&self, f: impl FnOnce(&Store<BrowserStorage>) -> R) -> Option<R> {
        self.store.with_value(|s| s.as_ref().map(f))
    }

    fn show(&self, id: &str) {
        let loaded = self.with_store(|s| s.load(id)).unwrap_or_default();
        if loaded.skipped > 0 {
            self.notice.set(Some(trf!(
                "{} stored messages of this conversation were written by a newer chatwire or are damaged; they are not shown.",
                "此会话有 {} 条保存的消息由更新版本的 chatwire 写入或已损坏，未显示。",
                loaded.skipped
            )));
        }
        self.chat.show(loaded.messages);
        let _ = self.with_store(|s| s.set_current(id));
    }

    /// Saves what changed since the last call.
    pub fn flush(&self) {
        let changed = self.chat.take_changed();
        let removed = self.chat.take_removed();
        if changed.is_empty() && removed.is_empty() {
            return;
        }
        let mut record = self.current.get_untracked();
        let result = self.with_store(|s| -> Result<(), crate::store::StoreError> {
            for key in &removed {
                s.remove_message(&record.id, key);
            }
            for m in &changed {
                s.save_message(&record.id, &m.data())?;
            }
            if !record.renamed && record.title.is_empty() {
                let first = self.chat.messages.with_untracked(|v| {
                    v.iter()
                        .find(|m| m.role == chatwire_protocol::Role::User)
                        .map(|m| m.text.get_untracked())
                });
                if let Some(t) = first {
                    record.title = title_from(&t);
                }
            }
            record.updated_ms = now_ms();
            s.save_conversation(&record)?;
            s.set_current(&record.id)
        });
        match result {
            Some(Err(e)) => self.notice.set(Some(Self::unsaved(&e.to_string()))),
            Some(Ok(())) => {
                if self.notice.with_untracked(|n| {
                    n.as_deref()
                        .is_some_and(|n| n.starts_with(&Self::unsaved_prefix()))
                }) {
                    self.notice.set(None);
                }
                self.current.set(record.clone());
                self.list.update(|l| {
                    l.retain(|c| c.id != record.id);
                    l.insert(0, record);
                });
            }
            None => {}
        }
    }

    fn busy_refusal(&self) -> bool {
        if self.chat.is_busy_untracked() {
            self.chat.info.set(Some(
                tr(
                    "A reply is in progress: stop it or wait for its end to change conversations.",
                    "正在回复：请先停止或等它结束，再切换会话。",
                )
                .into(),
            ));
            return true;
        }
        false
    }

    pub fn new_conversation(&self) {
        if self.busy_refusal() {
            return;
        }
        self.flush();
        let record = ConversationRecord::new(new_conversation_id(now_ms()), now_ms());
        self.current.set(record.clone());
        self.show(&record.id);
    }

    pub fn switch(&self, id: &str) {
        if self.current.with_untracked(|c| c.id == id) || self.busy_refusal() {
            return;
        }
        self.flush();
        let Some(record) = self
            .list
            .with_untracked(|l| l.iter().find(|c| c.id == id).cloned())
        else {
            return;
        };
        self.current.set(record);
        self.show(id);
    }

    pub fn rename(&self, id: &str, title: &str) {
        let title = title.trim();
        let Some(mut record) = self
            .list
            .with_untracked(|l| l.iter().find(|c| c.id == id).cloned())
        else {
            return;
        };
        record.title = title.to_owned();
        record.renamed = !title.is_empty();
        if let Some(Err(e)) = self.with_store(|s| s.save_conversation(&record)) {
            self.notice.set(Some(Self::unsaved(&e.to_string())));
        }
        if self.current.with_untracked(|c| c.id == id) {
            self.current.set(record.clone());
        }
        self.list.update(|l| {
            if let Some(c) = l.iter_mut().find(|c| c.id == id) {
                *c = record;
            }
        });
    }

    /// Deletes a conversation (undoable until the next deletion).
    pub fn delete(&self, id: &str) {
        let is_current = self.current.with_untracked(|c| c.id == id);
        if is_current && self.busy_refusal() {
            return;
        }
        if is_current {
            self.flush();
        }
        let deleted = self.with_store(|s| s.delete(id)).flatten();
        self.list.update(|l| l.retain(|c| c.id != id));
        self.deleted.set(deleted);
        if is_current {
            let next = self.list.with_untracked(|l| l.first().cloned());
            let record = next.unwrap_or_else(|| {
                ConversationRecord::new(new_conversation_id(now_ms()), now_ms())
            });
            self.current.set(record.clone());
            self.show(&record.id);
        }
    }

    pub fn undo_delete(&self) {
        let Some(d) = self.deleted.get_untracked() else {
            return;
        };
        self.deleted.set(None);
        if let Some(Err(e)) = self.with_store(|s| s.restore(&d)) {
            self.notice.set(Some(Self::unsaved(&e.to_string())));
            return;
        }
        self.refresh_list();
        self.switch(&d.record.id);
    }

    /// Reads the list again; the record of the conversation shown is taken
    /// from it too (another tab may have renamed it or given it a session).
    fn refresh_list(&self) {
        if let Some(list) = self.with_store(Store::list) {
            let id = self.current.with_untracked(|c| c.id.clone());
            if let Some(stored) = list.iter().find(|c| c.id == id) {
                if self.current.with_untracked(|c| c != stored) {
                    self.current.set(stored.clone());
                }
            }
            self.list.set(list);
        }
    }

    /// The `session` dialect's server-side conversation id for the
    /// conversation shown (`None` forgets it). Kept with the conversation,
    /// so switching back continues the same server-side history, after a
    /// browser restart too.
    pub fn set_session_id(&self, id: Option<String>) {
        if self.current.with_untracked(|c| c.session_id == id) {
            return;
        }
        self.current.update(|c| c.session_id = id);
        let record = self.current.get_untracked();
        let saved = self
            .list
            .with_untracked(|l| l.iter().any(|c| c.id == record.id));
        if saved {
            if let Some(Err(e)) = self.with_store(|s| s.save_conversation(&record)) {
                self.notice.set(Some(Self::unsaved(&e.to_string())));
            }
            self.list.update(|l| {
                if let Some(c) = l.iter_mut().find(|c| c.id == record.id) {
                    *c = record;
                }
            });
        }
    }

    /// Another tab changed `key` (`None` for a whole clear).
    pub fn on_storage_event(&self, key: Option<String>) {
        let Some(key) = key else {
            self.refresh_list();
            return;
        };
        match classify(&key) {
            KeyKind::Conversation(_) => self.refresh_list(),
            KeyKind::Message { conversation, key } => {
                if !self.current.with_untracked(|c| c.id == conversation) {
                    return;
                }
                match self
                    .with_store(|s| s.message(&conversation, &key))
                    .flatten()
                {
                    Some(Ok(m)) => self.chat.merge_stored(m),
                    Some(Err(_)) => {}
                    None => self.chat.forget_stored(&key),
                }
            }
            KeyKind::Other => {}
        }
    }

    /// Saves every second and when the page is hidden or left; merges
    /// other tabs' changes.
    pub fn start_saving(self) {
        let save = move || self.flush();
        if let Ok(handle) =
            set_interval_with_handle(save, std::time::Duration::from_millis(SAVE_EVERY_MS))
        {
            on_cleanup(move || handle.clear());
        }
        let hidden = window_event_listener(leptos::ev::pagehide, move |_| save());
        let on_visibility = wasm_bindgen::closure::Closure::<dyn Fn()>::new(move || {
            if document().visibility_state() == web_sys::VisibilityState::Hidden {
                save();
            }
        });
        let _ = document().add_event_listener_with_callback(
            "visibilitychange",
            wasm_bindgen::JsCast::unchecked_ref(on_visibility.as_ref()),
        );
        let on_visibility = StoredValue::new_local(Some(on_visibility));
        let storage = window_event_listener(leptos::ev::storage, move |ev| {
            self.on_storage_event(ev.key());
        });
        on_cleanup(move || {
            hidden.remove();
            storage.remove();
            on_visibility.update_value(|cb| {
                if let Some(cb) = cb.take() {
                    let _ = document().remove_event_listener_with_callback(
                        "visibilitychange",
                        wasm_bindgen::JsCast::unchecked_ref(cb.as_ref()),
                    );
                }
            });
        });
    }
}

/// What the conversation list holds: New conversation, the undo bar and
/// the conversations, newest first (in the side panels' module, see
/// `panels`).
#[component]
pub fn ConversationItems(
    convs: Conversations,
    /// Open as an overlay (narrow screens); closed again once a
    /// conversation is picked.
    open: RwSignal<bool>,
) -> impl IntoView {
    let editing = RwSignal::new(None::<String>);
    let current_id = Memo::new(move |_| convs.current.with(|c| c.id.clone()));
    // The current conversation is listed even before its first save.
    let rows = move || {
        let mut l = convs.list.get();
        let cur = convs.current.get();
        if !l.iter().any(|c| c.id == cur.id) {
            l.insert(0, cur);
        }
        l
    };
    view! {
            <button type="button" class="new-conversation" data-testid="new-conversation"
                on:click=move |_| {
                    convs.new_conversation();
                    open.set(false);
                }>{tr("+ New conversation", "+ 新会话")}</button>
            {move || convs.deleted.get().map(|d| view! {
                <div class="undo-bar" data-testid="undo-delete-bar" role="status">
                    <span>{trf!("Deleted “{}”.", "已删除“{}”。", d.record.display_title())}</span>
                    <button type="button" data-testid="undo-delete" on:click=move |_| convs.undo_delete()>{tr("Undo", "撤销")}</button>
                </div>
            })}
            <ul>
                <For each=rows key=|c| (c.id.clone(), c.title.clone(), c.updated_ms) children=move |c| {
                    let id = c.id.clone();
                    let title = c.display_title().to_owned();
                    let (id1, id2, id3, id4, id5) = (id.clone(), id.clone(), id.clone(), id.clone(), id.clone());
                    let is_current = Signal::derive(move || current_id.get() == id1);
                    let title_for_input = title.clone();
                    view! {
                        <li class="conversation" data-testid="conversation" data-id=id.clone()
                            data-current=move || is_current.get().to_string()>
                            {move || if editing.get().as_deref() == Some(id2.as_str()) {
                                let (id_a, id_b) = (id3.clone(), id3.clone());
                                view! {
                                    <input class="rename-input" data-testid="rename-input" aria-label=tr("Conversation title", "会话标题")
                                        prop:value=title_for_input.clone()
                                        on:keydown=move |ev: web_sys::KeyboardEvent| {
                                            if ev.key() == "Enter" && !ev.is_composing() && ev.key_code() != 229 {
                                                ev.prevent_default();
                                                convs.rename(&id_a, &event_target_value(&ev));
                                                editing.set(None);
                                            } else if ev.key() == "Escape" {
                                                ev.stop_propagation();
                                                editing.set(None);
                                            }
                                        }
                                        on:blur=move |ev| {
                                            if editing.get_untracked().as_deref() == Some(id_b.as_str()) {
                                                convs.rename(&id_b, &event_target_value(&ev));
                                                editing.set(None);
                                            }
                                        }/>
                                }.into_any()
                            } else {
                                let id_open = id3.clone();
                                let t = title.clone();
                                view! {
                                    <button type="button" class="open-conversation" data-testid="open-conversation"
                                        aria-current=move || is_current.get().then_some("true")
                                        on:click=move |_| {
                                            convs.switch(&id_open);
                                            open.set(false);
                                        }>{t}</button>
                                }.into_any()
                            }}
                            <button type="button" class="conv-action" data-testid="rename-conversation"
                                aria-label=tr("Rename", "重命名") title=tr("Rename", "重命名")
                                on:click=move |_| editing.set(Some(id4.clone()))>"✎"</button>
                            <button type="button" class="conv-action" data-testid="delete-conversation"
                                aria-label=tr("Delete", "删除") title=tr("Delete", "删除")
                                on:click=move |_| convs.delete(&id5)>"×"</button>
                        </li>
                    }
                } />
            </ul>
    }
}
