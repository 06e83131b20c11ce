//! Receiver-side bookkeeping of a reply's sequence numbers, so that a
//! resumed or replayed stream yields every piece exactly once.

/// What to do with a frame of sequence number `seq`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SeqVerdict {
    /// The next expected frame: apply it.
    Next,
    /// Already applied (a replay overlap): drop it.
    Duplicate,
    /// Frames are missing before this one: the stream is broken and must be
    /// resumed from [`SeqTracker::last`].
    Gap { expected: u64 },
}

/// Tracks the last applied sequence number of one reply. `start` is 0,
/// deltas count up from 1, `end` is last + 1.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct SeqTracker {
    last: Option<u64>,
}

impl SeqTracker {
    pub fn new() -> Self {
        Self::default()
    }

    /// A tracker that has applied everything up to `seq` (resuming).
    pub fn after(seq: u64) -> Self {
        Self { last: Some(seq) }
    }

    /// The last applied sequence number (what `resume.after_seq` carries).
    pub fn last(&self) -> Option<u64> {
        self.last
    }

    /// Judges `seq` and, when it is the next one, records it.
    pub fn accept(&mut self, seq: u64) -> SeqVerdict {
        let expected = self.last.map_or(0, |l| l + 1);
        if seq == expected {
            self.last = Some(seq);
            SeqVerdict::Next
        } else if seq < expected {
            SeqVerdict::Duplicate
        } else {
            SeqVerdict::Gap { expected }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn in_order_frames_are_next() {
        let mut t = SeqTracker::new();
        for s in 0..5 {
            assert_eq!(t.accept(s), SeqVerdict::Next);
        }
        assert_eq!(t.last(), Some(4));
    }

    #[test]
    fn replayed_frames_are_duplicates_and_gaps_are_reported() {
        let mut t = SeqTracker::new();
        t.accept(0);
        t.accept(1);
        assert_eq!(t.accept(1), SeqVerdict::Duplicate);
        assert_eq!(t.accept(0), SeqVerdict::Duplicate);
        assert_eq!(t.accept(3), SeqVerdict::Gap { expected: 2 });
        // A gap does not advance the tracker.
        assert_eq!(t.last(), Some(1));
        assert_eq!(t.accept(2), SeqVerdict::Next);
    }

    #[test]
    fn a_fresh_tracker_expects_start() {
        assert_eq!(SeqTracker::new().accept(1), SeqVerdict::Gap { expected: 0 });
    }
}
