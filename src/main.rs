//! chatwire: a Leptos chat frontend for LLM backends that stream over
//! WebSocket.

mod attachment;
mod chat;
mod clock;
mod config;
mod conn_state;
mod conversation_file;
mod markdown;
mod params;
mod protocol;
mod reconnect;
mod store;
mod transport;
mod ui;

fn main() {
    console_error_panic_hook::set_once();
    leptos::mount::mount_to_body(ui::app::App);
}
