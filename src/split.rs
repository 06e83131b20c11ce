//! What the app's split points share. A split point
//! (`#[wasm_split_helpers::wasm_split(name, fallible)]`) is a function
//! whose code, and everything only it reaches, the release build
//! (`cargo xtask wasm`) moves into a module of its own, `split_<name>`,
//! fetched the first time the function is called. Natively, and in a
//! build that is not split, the call returns at once.
//!
//! The app has three: the markdown renderer (`markdown::engine::load`)
//! and the side panels' contents (`ui::panels::load`), both loaded once
//! the app has mounted (so the first paint never waits for them), and the
//! dialects other than `native` (`protocol::others::load`), loaded by the
//! transport before it connects to such a backend. All three are tried
//! again until they load ([`until_loaded`]).

use std::future::Future;

use crate::reconnect::Backoff;

/// A split module could not be fetched or instantiated (the browser's
/// console has the cause).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LoadFailed;

impl From<wasm_split_helpers::SplitLoaderError> for LoadFailed {
    fn from(_: wasm_split_helpers::SplitLoaderError) -> Self {
        LoadFailed
    }
}

/// Calls `load` until it succeeds. After each failure it waits out
/// `backoff`'s next delay (with jitter), and first tells `failed` the
/// failed attempts so far and that delay in ms. `failed` returns whether
/// to go on. `None`: it gave up.
pub async fn until_loaded<T, F>(
    load: impl Fn() -> F,
    backoff: &mut Backoff,
    mut failed: impl FnMut(u32, u32) -> bool,
) -> Option<T>
where
    F: Future<Output = Result<T, LoadFailed>>,
{
    loop {
        if let Ok(module) = load().await {
            return Some(module);
        }
        let delay = backoff.next_delay(js_sys::Math::random());
        let delay_ms = u32::try_from(delay.as_millis()).unwrap_or(u32::MAX);
        if !failed(backoff.attempt(), delay_ms) {
            return None;
        }
        gloo_timers::future::TimeoutFuture::new(delay_ms).await;
    }
}

/// Natively a split point's future is ready when first polled: its value,
/// for tests.
#[cfg(test)]
pub fn ready_now<F: std::future::Future>(f: F) -> F::Output {
    use std::task::{Context, Poll, Waker};
    match std::pin::pin!(f).poll(&mut Context::from_waker(Waker::noop())) {
        Poll::Ready(out) => out,
        Poll::Pending => panic!("a split point waited natively"),
    }
}
