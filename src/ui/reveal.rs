//! How much of a long conversation is in the DOM. When a whole
//! conversation appears at once (opened, imported, restored on load), its
//! latest messages are built first and the earlier ones are added above
//! them in steps while the page is idle, so the screen the reader sees is
//! ready without waiting for a thousand messages far above it.

/// Messages built at once when a conversation appears.
pub const FIRST: usize = 40;
/// Messages added per idle step after that.
pub const STEP: usize = 60;

/// The index of the first message in the DOM, for the list shown now.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Reveal {
    /// The newest message id of the list seen last (`None`: empty).
    newest: Option<u64>,
    from: usize,
}

impl Reveal {
    /// The list is now `len` messages whose ids are `ids` (in order).
    /// Returns the index of the first message to build. A list whose ids
    /// are all newer than any seen before is a conversation appearing at
    /// once: it starts `FIRST` from its end. Anything else (a message
    /// sent, a turn deleted, a reply merged from another tab) keeps what
    /// is built.
    pub fn on_list(&mut self, ids: impl Iterator<Item = u64> + Clone) -> usize {
        let len = ids.clone().count();
        let oldest = ids.clone().min();
        let newest = ids.max();
        let appeared = match (oldest, self.newest) {
            (Some(o), Some(n)) => o > n,
            (Some(_), None) => true,
            (None, _) => false,
        };
        if appeared {
            self.from = len.saturating_sub(FIRST);
        } else {
            self.from = self.from.min(len);
        }
        if newest.is_some() {
            self.newest = newest;
        }
        self.from
    }

    /// One idle step: builds up to `STEP` more messages above. Returns
    /// whether more remain.
    pub fn step(&mut self) -> bool {
        self.from = self.from.saturating_sub(STEP);
        self.from > 0
    }

    pub fn is_complete(&self) -> bool {
        self.from == 0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_long_conversation_appears_from_its_end_then_fills_in_upwards() {
        let mut r = Reveal::default();
        assert_eq!(r.on_list(0..1000), 1000 - FIRST);
        let mut steps = 0;
        while r.step() {
            steps += 1;
        }
        assert_eq!(r.from, 0);
        assert_eq!(steps, (1000 - FIRST).div_ceil(STEP) - 1);
        // The list seen again (a re-render) keeps everything built.
        assert_eq!(r.on_list(0..1000), 0);
    }

    #[test]
    fn a_short_conversation_is_built_at_once() {
        let mut r = Reveal::default();
        assert_eq!(r.on_list(0..FIRST as u64), 0);
        assert!(r.is_complete());
        assert_eq!(r.on_list(0..0), 0);
    }

    #[test]
    fn sending_deleting_and_merging_keep_what_is_built() {
        let mut r = Reveal::default();
        assert_eq!(r.on_list(0..500), 500 - FIRST);
        // A message sent while the rest fills in: same start.
        assert_eq!(r.on_list(0..501), 500 - FIRST);
        // The first turn deleted: the list shrinks, nothing re-hidden.
        assert!(r.step());
        let from = r.from;
        assert_eq!(r.on_list(2..501), from);
        // A message merged from another tab with an older id.
        let merged = [7u64].into_iter().chain(2..501);
        assert_eq!(r.on_list(merged), from);
    }

    #[test]
    fn another_conversation_starts_again_from_its_end() {
        let mut r = Reveal::default();
        r.on_list(0..300);
        while r.step() {}
        // Opened or imported: fresh ids, all newer than any shown.
        assert_eq!(r.on_list(300..1300), 1000 - FIRST);
        // An empty conversation, then a long one.
        assert_eq!(r.on_list(0..0), 0);
        assert_eq!(r.on_list(1300..1400), 100 - FIRST);
    }

    #[test]
    fn a_deleted_conversation_then_the_first_message_of_a_new_one() {
        let mut r = Reveal::default();
        r.on_list(0..10);
        assert_eq!(r.on_list(0..0), 0);
        assert_eq!(r.on_list(10..11), 0);
    }
}
