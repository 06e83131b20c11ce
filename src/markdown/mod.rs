//! Safe, incremental markdown for model output. Pure Rust (no `web_sys`),
//! so every rule here is tested natively; `ui::markdown_view` turns the
//! [`VNode`]s into DOM.

pub mod engine;
pub mod highlight;
pub mod links;
pub mod ops;
pub mod remend;
pub mod render;
pub mod scan;
pub mod stream;
pub mod vnode;

pub use stream::{Final, Frame, StreamRenderer};
pub use vnode::VNode;
