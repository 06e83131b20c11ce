//! chatwire: a Leptos chat frontend for LLM backends that stream over
//! WebSocket.

#[macro_use]
mod i18n;
mod attachment;
mod chat;
mod clock;
mod config;
mod conn_state;
mod conversation_file;
mod decimal;
mod markdown;
mod metrics;
mod params;
mod protocol;
mod reconnect;
mod split;
mod store;
mod transport;
mod ui;

fn main() {
    console_error_panic_hook::set_once();
    // The runtime configuration comes first: one request for config.json
    // (absent is fine), then the app.
    wasm_bindgen_futures::spawn_local(async {
        let config_file = ui::app::fetch_config_file().await;
        leptos::mount::mount_to_body(move || {
            leptos::view! { <ui::app::App config_file/> }
        });
    });
}
