//! Copying text: the async Clipboard API where the page may use it, and
//! the older selection + `execCommand("copy")` where it may not (an
//! iframe without clipboard permission, an insecure origin).

use leptos::prelude::*;
use wasm_bindgen::JsCast;
use wasm_bindgen_futures::JsFuture;

fn copy_by_selection(text: &str) -> bool {
    let doc = document();
    let Some(body) = doc.body() else {
        return false;
    };
    let Ok(area) = doc.create_element("textarea") else {
        return false;
    };
    let area: web_sys::HtmlTextAreaElement = area.unchecked_into();
    area.set_value(text);
    let _ = area.set_attribute("class", "clipboard-scratch");
    let _ = area.set_attribute("readonly", "");
    let _ = area.set_attribute("aria-hidden", "true");
    if body.append_child(&area).is_err() {
        return false;
    }
    area.select();
    let ok = doc
        .dyn_ref::<web_sys::HtmlDocument>()
        .and_then(|d| d.exec_command("copy").ok())
        .unwrap_or(false);
    area.remove();
    ok
}

/// Copies `text`; resolves to whether it worked.
pub async fn copy(text: String) -> bool {
    let clipboard = window().navigator().clipboard();
    match JsFuture::from(clipboard.write_text(&text)).await {
        Ok(_) => true,
        Err(_) => copy_by_selection(&text),
    }
}

/// Copies `text` and shows the outcome on `button` for a moment.
pub fn copy_with_feedback(text: String, button: web_sys::Element) {
    leptos::task::spawn_local(async move {
        let ok = copy(text).await;
        let label = button.text_content().unwrap_or_default();
        let _ = button.set_attribute("data-state", if ok { "copied" } else { "failed" });
        button.set_text_content(Some(if ok {
            crate::i18n::tr("Copied", "已复制")
        } else {
            crate::i18n::tr("Copy failed", "复制失败")
        }));
        gloo_timers::future::TimeoutFuture::new(1500).await;
        let _ = button.remove_attribute("data-state");
        button.set_text_content(Some(&label));
    });
}
