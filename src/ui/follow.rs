//! Scroll-follow for the transcript: it follows the stream while the
//! reader is at the bottom and stops the moment they scroll up; "jump to
//! latest" brings them back. Only the transcript element is scrolled
//! (never `scrollIntoView`), so a page embedding the app never moves.

use leptos::html::Section;
use leptos::prelude::*;

/// Distance from the bottom (px) that still counts as "at the bottom".
const BOTTOM_SLACK: i32 = 4;

#[derive(Clone, Copy)]
pub struct Follow {
    pub el: NodeRef<Section>,
    /// Whether new content scrolls the transcript (reactive: the jump
    /// button shows when it does not).
    pub following: RwSignal<bool>,
    /// Where the last automatic scroll left the transcript.
    last_auto_top: StoredValue<i32>,
    pending: StoredValue<bool>,
}

impl Follow {
    pub fn new() -> Self {
        Self {
            el: NodeRef::new(),
            following: RwSignal::new(true),
            last_auto_top: StoredValue::new(0),
            pending: StoredValue::new(false),
        }
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

    /// Content changed and is in the DOM: keep the bottom in view if
    /// following.
    pub fn after_render(&self) {
        if !self.following.get_untracked() {
            return;
        }
        if let Some(el) = self.el.get_untracked() {
            el.set_scroll_top(el.scroll_height());
            self.last_auto_top.set_value(el.scroll_top());
        }
    }

    /// Schedules one scroll for the next frame (new messages).
    pub fn request(&self) {
        if self.pending.get_value() {
            return;
        }
        self.pending.set_value(true);
        let this = *self;
        request_animation_frame(move || {
            this.pending.set_value(false);
            this.after_render();
        });
    }

    /// Back to the latest message, following again.
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
