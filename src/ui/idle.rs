//! Work for when the page has nothing better to do.

use wasm_bindgen::closure::Closure;
use wasm_bindgen::JsCast;

/// Longest wait for an idle period (ms): on a page that is never idle,
/// the work runs anyway.
const IDLE_TIMEOUT_MS: u32 = 1_000;

/// Runs `f` once the browser is idle, within a second at most (after a
/// second where `requestIdleCallback` is missing).
pub fn when_idle(f: impl FnOnce() + 'static) {
    let Some(w) = web_sys::window() else { return };
    let cb = Closure::once_into_js(f);
    let options = web_sys::IdleRequestOptions::new();
    options.set_timeout(IDLE_TIMEOUT_MS);
    if w.request_idle_callback_with_options(cb.unchecked_ref(), &options)
        .is_err()
    {
        let _ = w.set_timeout_with_callback_and_timeout_and_arguments_0(
            cb.unchecked_ref(),
            IDLE_TIMEOUT_MS as i32,
        );
    }
}
