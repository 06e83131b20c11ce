//! Components: rendering only. State and rules live in `chat`, `params`,
//! `config` and `conn_state`; the socket lives in `transport`.

pub mod app;
mod attach;
mod backend_panel;
mod clipboard;
mod composer;
mod conversations;
mod deferred;
mod flood;
mod follow;
mod idle;
mod import;
mod lazy;
mod markdown_view;
mod messages;
mod panels;
mod params_panel;
mod reveal;
mod status;
