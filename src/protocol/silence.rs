//! The reply in flight for dialects whose frames carry no reply id and
//! whose replies may end by silence (`qwen`, `nexlm`): which reply the
//! frames belong to, when the last piece came, and whether a stop is
//! draining the rest.

use super::{Decoded, EndReason, Event};

/// With no first piece for this long, the reply fails (a model that never
/// answers must not leave the UI waiting forever).
pub const FIRST_TOKEN_TIMEOUT_MS: u64 = 120_000;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InFlight {
    pub reply: String,
    silence_ms: u64,
    started_ms: u64,
    last_ms: Option<u64>,
    /// Stopped by the user: pieces are dropped until the reply is over.
    pub draining: bool,
}

impl InFlight {
    pub fn new(reply: &str, silence_ms: u64, now_ms: u64) -> Self {
        Self {
            reply: reply.to_owned(),
            silence_ms: silence_ms.max(100),
            started_ms: now_ms,
            last_ms: None,
            draining: false,
        }
    }

    /// A piece arrived: the event to emit (none while draining).
    pub fn piece(&mut self, text: String, now_ms: u64) -> Option<Event> {
        self.last_ms = Some(now_ms);
        (!self.draining).then(|| Event::Token {
            reply: self.reply.clone(),
            text,
            seq: None,
        })
    }

    pub fn drain(&mut self, now_ms: u64) {
        self.draining = true;
        // The drain's silence counts from the stop.
        self.last_ms = Some(now_ms);
    }

    /// The end event for this reply.
    pub fn end(&self) -> Event {
        Event::End {
            reply: self.reply.clone(),
            reason: if self.draining {
                EndReason::Cancelled
            } else {
                EndReason::Complete
            },
            usage: None,
        }
    }

    /// Whether silence has ended the reply by `now_ms`; if so, what to emit.
    pub fn expire(&self, now_ms: u64) -> Option<Decoded> {
        match self.last_ms {
            Some(last) if now_ms.saturating_sub(last) >= self.silence_ms => {
                Some(Decoded::event(self.end()))
            }
            None if now_ms.saturating_sub(self.started_ms) >= FIRST_TOKEN_TIMEOUT_MS => {
                Some(Decoded {
                    events: vec![
                        Event::Error {
                            reply: Some(self.reply.clone()),
                            message: format!(
                                "The backend sent nothing for {} s.",
                                FIRST_TOKEN_TIMEOUT_MS / 1000
                            ),
                            fatal: false,
                        },
                        Event::End {
                            reply: self.reply.clone(),
                            reason: EndReason::Failed,
                            usage: None,
                        },
                    ],
                    ..Decoded::default()
                })
            }
            _ => None,
        }
    }
}

/// A piece for the reply in flight, if any.
pub fn piece(current: &mut Option<InFlight>, text: &str, now_ms: u64) -> Decoded {
    current
        .as_mut()
        .and_then(|c| c.piece(text.to_owned(), now_ms))
        .map(Decoded::event)
        .unwrap_or_default()
}

/// Ends the reply in flight when silence says so.
pub fn tick(current: &mut Option<InFlight>, now_ms: u64) -> Decoded {
    match current.as_ref().and_then(|c| c.expire(now_ms)) {
        Some(d) => {
            *current = None;
            d
        }
        None => Decoded::default(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn silence_after_the_last_piece_ends_the_reply() {
        let mut f = InFlight::new("r", 2000, 0);
        assert!(
            f.expire(1_999).is_none(),
            "no piece yet: waits for the first"
        );
        f.piece("a".into(), 5_000);
        assert!(f.expire(6_999).is_none());
        let d = f.expire(7_000).unwrap();
        assert!(matches!(
            d.events[0],
            Event::End {
                reason: EndReason::Complete,
                ..
            }
        ));
    }

    #[test]
    fn a_silent_backend_fails_the_reply_eventually() {
        let f = InFlight::new("r", 2000, 0);
        assert!(f.expire(FIRST_TOKEN_TIMEOUT_MS - 1).is_none());
        let d = f.expire(FIRST_TOKEN_TIMEOUT_MS).unwrap();
        assert!(matches!(
            d.events[1],
            Event::End {
                reason: EndReason::Failed,
                ..
            }
        ));
    }

    #[test]
    fn draining_drops_pieces_and_ends_cancelled() {
        let mut f = InFlight::new("r", 2000, 0);
        assert!(f.piece("a".into(), 10).is_some());
        f.drain(100);
        assert!(f.piece("b".into(), 200).is_none());
        assert!(
            f.expire(2_100).is_none(),
            "silence counts from the last piece"
        );
        let d = f.expire(2_200).unwrap();
        assert!(matches!(
            d.events[0],
            Event::End {
                reason: EndReason::Cancelled,
                ..
            }
        ));
    }
}
