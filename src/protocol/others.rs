//! The dialects other than `native`, behind one split point (see
//! `crate::split`): a deployment speaks one dialect, so their code is a
//! module of its own, fetched by the transport before it connects to such
//! a backend, and never for a `native` one.

use chatwire_protocol::DecodeError;

use super::{native, nexlm, qwen, session, socketio};
use super::{Adapter, Decoded, Turn};
use crate::config::Protocol;
use crate::split::LoadFailed;

/// Implements [`Adapter`] with the adapter's own methods (and any given
/// after `;`), for the dialects whose `encode_turn` gives only frames.
macro_rules! adapter {
    ($t:ty $(; $($extra:tt)*)?) => {
        impl Adapter for $t {
            fn socket_url(&self, base: &str) -> String {
                <$t>::socket_url(self, base)
            }
            fn on_open(&mut self, now_ms: u64) -> Decoded {
                <$t>::on_open(self, now_ms)
            }
            fn encode_turn(&mut self, turn: &Turn, now_ms: u64) -> Decoded {
                Decoded {
                    send: <$t>::encode_turn(self, turn, now_ms),
                    ..Decoded::default()
                }
            }
            fn stop(&mut self, reply: &str, now_ms: u64) -> Decoded {
                <$t>::stop(self, reply, now_ms)
            }
            fn decode(&mut self, text: &str, now_ms: u64) -> Result<Decoded, DecodeError> {
                <$t>::decode(self, text, now_ms)
            }
            fn tick(&mut self, now_ms: u64) -> Decoded {
                <$t>::tick(self, now_ms)
            }
            fn dead_after_ms(&self) -> Option<u64> {
                <$t>::dead_after_ms(self)
            }
            fn on_close(&mut self) {
                <$t>::on_close(self)
            }
            $($($extra)*)?
        }
    };
}

adapter!(qwen::Qwen);
adapter!(socketio::SocketIo);
adapter!(nexlm::Nexlm);
adapter!(session::Session;
    fn set_session(&mut self, id: Option<String>) {
        session::Session::set_session(self, id)
    }
);

/// What the module offers: an adapter for a dialect.
pub struct Others {
    pub make: fn(Protocol, &str, Option<String>) -> Box<dyn Adapter>,
}

fn make(protocol: Protocol, client_id: &str, session_id: Option<String>) -> Box<dyn Adapter> {
    match protocol {
        Protocol::Qwen => Box::new(qwen::Qwen::default()),
        Protocol::SocketIo => Box::new(socketio::SocketIo::default()),
        Protocol::Nexlm => Box::new(nexlm::Nexlm::default()),
        Protocol::Session => Box::new(session::Session::new(client_id, session_id)),
        Protocol::Native => Box::new(native::Native::new(client_id)),
    }
}

static OTHERS: Others = Others { make };

/// The other dialects, once their module is loaded. A failed load is not
/// remembered: the next call tries again.
#[wasm_split_helpers::wasm_split(dialects, fallible)]
pub fn load() -> Result<&'static Others, LoadFailed> {
    Ok(&OTHERS)
}
