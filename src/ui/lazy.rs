//! Deferred rendering for long conversations: a finished message that is
//! far from view shows its text as plain text (cheap, still searchable
//! with Ctrl+F) and is rendered as markdown when it comes within a
//! screen or two of the transcript's viewport. One shared observer.

use std::cell::RefCell;
use std::collections::HashMap;

use wasm_bindgen::prelude::*;
use wasm_bindgen::JsCast;
use web_sys::{Element, IntersectionObserver, IntersectionObserverEntry, IntersectionObserverInit};

/// How far outside the transcript's viewport messages are rendered ahead.
const AHEAD: &str = "1200px 0px 1200px 0px";

struct Lazy {
    observer: IntersectionObserver,
    /// Kept alive as long as the observer.
    _callback: Closure<dyn FnMut(js_sys::Array)>,
    waiting: HashMap<u32, Box<dyn FnOnce()>>,
    next: u32,
}

thread_local! {
    static LAZY: RefCell<Option<Lazy>> = const { RefCell::new(None) };
}

fn on_entries(entries: js_sys::Array) {
    let mut ready: Vec<Box<dyn FnOnce()>> = Vec::new();
    LAZY.with(|l| {
        let mut l = l.borrow_mut();
        let Some(l) = l.as_mut() else { return };
        for entry in entries.iter() {
            let Ok(entry) = entry.dyn_into::<IntersectionObserverEntry>() else {
                continue;
            };
            if !entry.is_intersecting() {
                continue;
            }
            let target = entry.target();
            l.observer.unobserve(&target);
            let id = target
                .get_attribute("data-lazy")
                .and_then(|v| v.parse::<u32>().ok());
            let _ = target.remove_attribute("data-lazy");
            if let Some(cb) = id.and_then(|id| l.waiting.remove(&id)) {
                ready.push(cb);
            }
        }
    });
    // Outside the borrow: callbacks may register more elements.
    for cb in ready {
        cb();
    }
}

/// Sets up the observer on the transcript (call once it is mounted).
pub fn init(root: &Element) {
    LAZY.with(|l| {
        if l.borrow().is_some() {
            return;
        }
        let callback = Closure::<dyn FnMut(js_sys::Array)>::new(on_entries);
        let options = IntersectionObserverInit::new();
        options.set_root(Some(root));
        options.set_root_margin(AHEAD);
        let Ok(observer) =
            IntersectionObserver::new_with_options(callback.as_ref().unchecked_ref(), &options)
        else {
            return;
        };
        *l.borrow_mut() = Some(Lazy {
            observer,
            _callback: callback,
            waiting: HashMap::new(),
            next: 0,
        });
    });
}

/// Calls `when_near` once `el` comes near the viewport. Returns false
/// (and does nothing) when there is no observer: render at once then.
pub fn when_near(el: &Element, when_near: impl FnOnce() + 'static) -> bool {
    LAZY.with(|l| {
        let mut l = l.borrow_mut();
        let Some(l) = l.as_mut() else { return false };
        let id = l.next;
        l.next = l.next.wrapping_add(1);
        let _ = el.set_attribute("data-lazy", &id.to_string());
        l.waiting.insert(id, Box::new(when_near));
        l.observer.observe(el);
        true
    })
}

/// Forgets `el` (it was removed before it came into view).
pub fn forget(el: &Element) {
    LAZY.with(|l| {
        let mut l = l.borrow_mut();
        let Some(l) = l.as_mut() else { return };
        if let Some(id) = el
            .get_attribute("data-lazy")
            .and_then(|v| v.parse::<u32>().ok())
        {
            l.observer.unobserve(el);
            l.waiting.remove(&id);
        }
    });
}
