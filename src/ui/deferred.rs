//! Loading the app's split modules (see `crate::split`): started once the
//! app is mounted, tried again until it succeeds, with a state the views
//! and `.app[data-…]` hooks show.

use std::future::Future;

use leptos::prelude::*;

use crate::reconnect::Backoff;
use crate::split::{self, LoadFailed};

/// Where a split module is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LoadState {
    Loading,
    Ready,
    /// The last attempt failed; another follows (capped backoff).
    Failed,
}

impl LoadState {
    /// Its name in the `.app[data-…]` hooks.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Loading => "loading",
            Self::Ready => "ready",
            Self::Failed => "failed",
        }
    }
}

/// Starts `load` now and hands what it gives to `ready` once it is there.
/// A failed load is tried again after 1 s, 2 s, 4 s… up to 30 s, with
/// jitter (the reconnect policy's [`Backoff`]). Stops when the returned
/// signal is disposed (the app is gone).
pub fn load<T, F>(
    load: impl Fn() -> F + 'static,
    ready: impl FnOnce(T) + 'static,
) -> RwSignal<LoadState>
where
    T: 'static,
    F: Future<Output = Result<T, LoadFailed>> + 'static,
{
    let state = RwSignal::new(LoadState::Loading);
    leptos::task::spawn_local(async move {
        let mut backoff = Backoff::new(
            std::time::Duration::from_secs(1),
            std::time::Duration::from_secs(30),
        );
        // A disposed signal: the app is gone, stop trying.
        let loaded = split::until_loaded(load, &mut backoff, |_, _| {
            state.try_set(LoadState::Failed).is_none()
        })
        .await;
        // What it gives is in place before anything that watches the
        // state runs.
        if let Some(module) = loaded.filter(|_| state.try_get_untracked().is_some()) {
            ready(module);
            state.set(LoadState::Ready);
        }
    });
    state
}
