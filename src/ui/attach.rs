use leptos::prelude::*;

use crate::i18n::tr;
use wasm_bindgen::JsCast;

use crate::attachment;

/// The image attached to the next message (dialects that take one).
#[derive(Clone, Copy)]
pub struct Attachment {
    pub image: RwSignal<Option<String>>,
    pub error: RwSignal<Option<String>>,
    pub max_bytes: usize,
}

impl Attachment {
    pub fn new(max_bytes: usize) -> Self {
        Self {
            image: RwSignal::new(None),
            error: RwSignal::new(None),
            max_bytes,
        }
    }

    /// Checks the file and reads it into a data URL (through the promise
    /// of `Blob.arrayBuffer()`, so no callback is left behind).
    pub fn take_file(&self, file: web_sys::File) {
        let mime = file.type_();
        let size = file.size() as usize;
        if let Err(e) = attachment::check(&mime, size, self.max_bytes) {
            self.error.set(Some(e));
            return;
        }
        self.error.set(None);
        let this = *self;
        leptos::task::spawn_local(async move {
            match wasm_bindgen_futures::JsFuture::from(file.array_buffer()).await {
                Ok(buf) => {
                    let bytes = js_sys::Uint8Array::new(&buf).to_vec();
                    this.image.set(Some(attachment::data_url(&mime, &bytes)));
                }
                Err(_) => this.error.set(Some(
                    tr("The image could not be read.", "无法读取该图片。").to_string(),
                )),
            }
        });
    }

    /// Takes the first image of a paste; other pastes are left to the textarea.
    pub fn on_paste(&self, ev: &web_sys::ClipboardEvent) {
        let Some(files) = ev.clipboard_data().and_then(|d| d.files()) else {
            return;
        };
        if let Some(file) = (0..files.length())
            .filter_map(|i| files.get(i))
            .find(|f| f.type_().starts_with("image/"))
        {
            ev.prevent_default();
            self.take_file(file);
        }
    }

    pub fn clear(&self) {
        self.image.set(None);
        self.error.set(None);
    }
}

#[component]
pub fn AttachControls(att: Attachment) -> impl IntoView {
    let input: NodeRef<leptos::html::Input> = NodeRef::new();
    view! {
        <div class="attach">
            <input node_ref=input type="file" class="visually-hidden" data-testid="attach-input"
                accept=attachment::ALLOWED_TYPES.join(",") tabindex="-1" aria-hidden="true"
                on:change=move |ev| {
                    let target = ev.target().and_then(|t| t.dyn_into::<web_sys::HtmlInputElement>().ok());
                    if let Some(el) = target {
                        if let Some(file) = el.files().and_then(|f| f.get(0)) {
                            att.take_file(file);
                        }
                        el.set_value("");
                    }
                }/>
            <button type="button" class="secondary" data-testid="attach"
                on:click=move |_| { if let Some(el) = input.get() { el.click(); } }>{tr("Attach image", "添加图片")}</button>
            {move || att.image.get().map(|src| view! {
                <div class="attachment">
                    <img src=src alt=tr("Attached image", "附带的图片") data-testid="attachment-preview"/>
                    <button type="button" class="secondary" data-testid="attachment-remove"
                        aria-label=tr("Remove the image", "移除图片") on:click=move |_| att.clear()>"×"</button>
                </div>
            })}
            {move || att.error.get().map(|e| view! {
                <p class="attach-error" role="alert" data-testid="attachment-error">{e}</p>
            })}
        </div>
    }
}
