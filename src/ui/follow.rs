//! Scroll-follow for the transcript: it follows the stream while the
//! reader is at the bottom and stops the moment they scroll up; "jump to
//! latest" brings them back. Only the transcript element is scrolled
//! (never `scrollIntoView`), so a page embedding the app never moves.
//!
//! Following is driven by a `ResizeObserver` on the transcript and on its
//! content: the browser calls it after layout, before paint, whenever
//! either changes size — a token laid out, a block that was skipped by
//! `content-visibility` and now has its real height, the composer growing
//! — so the bottom stays in view without the app forcing a layout of its
//! own after each render.

use leptos::html::{Div, Section};
use leptos::prelude::*;
use wasm_bindgen::prelude::*;
use wasm_bindgen::JsCast;
use web_sys::ResizeObserver;

/// Distance from the bottom (px) that still counts as "at the bottom".
const BOTTOM_SLACK: i32 = 4;

/// The observer and the callback it holds (kept alive together).
struct Watch {
    observer: ResizeObserver,
    _callback: Closure<dyn FnMut(js_sys::Array)>,
}

impl Drop for Watch {
    fn drop(&mut self) {
        self.observer.disconnect();
    }
}

#[derive(Clone, Copy)]
pub struct Follow {
    /// The scrolling transcript.
    pub el: NodeRef<Section>,
    /// Everything inside it (its height is the scroll height).
    pub content: NodeRef<Div>,
    /// Whether new content scrolls the transcript (reactive: the jump
    /// button shows when it does not).
    pub following: RwSignal<bool>,
    /// Where the last automatic scroll left the transcript.
    last_auto_top: StoredValue<i32>,
    watch: StoredValue<Option<Watch>, LocalStorage>,
}

impl Follow {
    pub fn new() -> Self {
        Self {
            el: NodeRef::new(),
            content: NodeRef::new(),
            following: RwSignal::new(true),
            last_auto_top: StoredValue::new(0),
            watch: StoredValue::new_local(None),
        }
    }

    /// Starts following size changes (once both elements are mounted;
    /// the observer is disconnected when the owner is disposed).
    pub fn start(&self) {
        let (Some(el), Some(content)) = (self.el.get_untracked(), self.content.get_untracked())
        else {
            return;
        };
        if self.watch.with_value(Option::is_some) {
            return;
        }
        let this = *self;
        let callback = Closure::<dyn FnMut(js_sys::Array)>::new(move |_entries| {
            this.after_render();
        });
        let Ok(observer) = ResizeObserver::new(callback.as_ref().unchecked_ref()) else {
            return;
        };
        observer.observe(&el);
        observer.observe(&content);
        self.watch.set_value(Some(Watch {
            observer,
            _callback: callback,
        }));
    }

    /// A scroll happened: by the reader if it moved up from where the
    /// app left it.
    pub fn on_scroll(&self) {
        let Some(el) = self.el.get_untracked() else {
            return;
        };
        let gap = el.scroll_height() - el.scroll_top() - el.client_height();
        if gap <= BOTTOM_SLACK {
            if !self.following.get_untracked() {
                self.following.set(true);
            }
        } else if el.scroll_top() < self.last_auto_top.get_value() - 1
            && self.following.get_untracked()
        {
            self.following.set(false);
        }
    }

    /// The wheel turned up: the reader wants to read, even if the
    /// transcript cannot scroll yet.
    pub fn on_wheel(&self, delta_y: f64) {
        if delta_y < 0.0 && self.following.get_untracked() {
            self.following.set(false);
        }
    }

    /// Keeps the bottom in view if following.
    fn after_render(&self) {
        if !self.following.get_untracked() {
            return;
        }
        if let Some(el) = self.el.get_untracked() {
            let bottom = el.scroll_height() - el.client_height();
            if el.scroll_top() != bottom {
                el.set_scroll_top(bottom);
            }
            self.last_auto_top.set_value(el.scroll_top());
        }
    }

    /// Back to the latest message, following again (what is added next
    /// is followed by the observer).
    pub fn jump(&self) {
        self.following.set(true);
        self.after_render();
    }
}

impl Default for Follow {
    fn default() -> Self {
        Self::new()
    }
}
