//! chatwire's `native` wire protocol (version 1): the frame types and their
//! JSON codec, shared by the app and the companion server so the two cannot
//! drift. `docs/protocol.md` is the prose specification of these types.
//!
//! Every frame is one WebSocket text message holding one JSON object with a
//! `type` field. Decoders never panic: they return [`DecodeError`].

mod frames;
mod params;
mod seq;

pub use frames::*;
pub use params::*;
pub use seq::*;

/// Version carried by `hello` and `welcome`.
pub const PROTOCOL_VERSION: u32 = 1;

/// Default limit on one client frame, in bytes (the server may be configured
/// otherwise and announces its limit in `welcome`).
pub const DEFAULT_MAX_FRAME_BYTES: usize = 256 * 1024;

/// Default interval between heartbeats, in milliseconds.
pub const DEFAULT_HEARTBEAT_MS: u64 = 15_000;
