//! What the app's split points share. A split point
//! (`#[wasm_split_helpers::wasm_split(name, fallible)]`) is a function
//! whose code, and everything only it reaches, the release build
//! (`cargo xtask wasm`) moves into a module of its own, `split_<name>`,
//! fetched the first time the function is called. Natively, and in a
//! build that is not split, the call returns at once.
//!
//! The app has two, both loaded once it has mounted (so the first paint
//! never waits for them): the markdown renderer (`markdown::engine::load`)
//! and the settings beside the chat (`ui::settings_panel::load`).

/// A split module could not be fetched or instantiated (the browser's
/// console has the cause).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LoadFailed;

impl From<wasm_split_helpers::SplitLoaderError> for LoadFailed {
    fn from(_: wasm_split_helpers::SplitLoaderError) -> Self {
        LoadFailed
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
