use leptos::prelude::*;

use crate::conn_state::ConnState;

/// The connection indicator (`data-testid="connection-status"`,
/// `data-state` = connecting|open|reconnecting|closed) and the latest
/// connection-level problem.
#[component]
pub fn ConnectionStatus(
    state: RwSignal<ConnState>,
    notice: RwSignal<Option<String>>,
) -> impl IntoView {
    view! {
        <div class="conn" data-testid="connection-status" data-state=move || state.get().as_str() role="status">
            <span class="conn-dot" aria-hidden="true"></span>
            <span class="conn-label">{move || state.get().label()}</span>
        </div>
        {move || notice.get().map(|n| view! {
            <p class="conn-notice" data-testid="connection-error" role="alert">{n}</p>
        })}
    }
}
