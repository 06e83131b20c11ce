//! When a reply's text floods in, faster than any model writes, its
//! frames wait for the flood to pause.
//!
//! A model streams a few hundred bytes a second, a fast one a few
//! kilobytes. A flood is the rest of a reply sent at once: a backend that
//! batches, a fast local server, a reply taken up again. It brings tens of
//! kilobytes per frame. Rendering in the middle of it lays out text the
//! next frame extends again, while the socket's next messages wait for
//! the page, so the reply is complete on screen later. A frame that finds
//! the text grew faster than [`FLOOD_BYTES_PER_MS`] since the frame
//! before renders nothing, unless the last render is [`MAX_WAIT_MS`] old:
//! a long flood still shows progress that often. The reply renders as
//! soon as the flood pauses for a frame, and at its end at once.

/// 256 KB/s: some fifty times the fastest model streaming text, and more
/// than twice what a backend sending one WebSocket message per token can
/// deliver to a page (about 100 KB/s here).
pub const FLOOD_BYTES_PER_MS: f64 = 256.0;

/// How long a flood may hold a reply's rendering (ms).
pub const MAX_WAIT_MS: f64 = 100.0;

/// The time between two frames at 60 Hz (ms): the interval assumed
/// before the first frame.
const FRAME_MS: f64 = 16.7;

/// Decides, frame by frame, whether a reply's rendering waits.
#[derive(Debug, Default)]
pub struct FloodGate {
    /// The text's length when the last frame looked, and when that was.
    seen: usize,
    seen_at: Option<f64>,
    /// When the reply was last rendered (or first looked at).
    rendered_at: Option<f64>,
}

impl FloodGate {
    /// A frame at `now` (ms) finds the text `len` bytes long: whether it
    /// should leave the reply as it is.
    pub fn hold(&mut self, len: usize, now: f64) -> bool {
        let grown = len.saturating_sub(self.seen) as f64;
        let elapsed = self.seen_at.map_or(FRAME_MS, |t| (now - t).max(1.0));
        self.seen = len;
        self.seen_at = Some(now);
        // Before the first render, the wait counts from the first look.
        let waited = now - *self.rendered_at.get_or_insert(now);
        grown / elapsed > FLOOD_BYTES_PER_MS && waited < MAX_WAIT_MS
    }

    /// The reply was rendered at `now`.
    pub fn rendered(&mut self, now: f64) {
        self.rendered_at = Some(now);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Frames at 60 Hz while the text grows by `per_frame(i)` bytes in
    /// frame `i`; which frames render.
    fn frames(n: usize, per_frame: impl Fn(usize) -> usize) -> Vec<bool> {
        let mut g = FloodGate::default();
        let mut len = 0;
        (0..n)
            .map(|i| {
                let now = i as f64 * FRAME_MS;
                len += per_frame(i);
                let render = !g.hold(len, now);
                if render {
                    g.rendered(now);
                }
                render
            })
            .collect()
    }

    #[test]
    fn a_stream_renders_every_frame() {
        // 2 KB a frame: 120 KB/s, a backend sending a message per token.
        assert!(frames(120, |_| 2_000).iter().all(|&r| r));
    }

    #[test]
    fn a_flood_holds_frames_until_it_pauses() {
        // Three frames of 40 KB each, then nothing.
        let shown = frames(6, |i| if (1..4).contains(&i) { 40_000 } else { 0 });
        assert_eq!(shown, [true, false, false, false, true, true]);
    }

    #[test]
    fn a_reply_taken_up_again_waits_one_frame() {
        // 50 KB at once, before the first frame.
        let shown = frames(3, |i| if i == 0 { 50_000 } else { 0 });
        assert_eq!(shown, [false, true, true]);
    }

    #[test]
    fn a_long_flood_still_renders_every_100_ms() {
        let shown = frames(60, |_| 20_000);
        let renders: Vec<usize> = (0..60).filter(|&i| shown[i]).collect();
        assert!(renders
            .windows(2)
            .all(|w| (w[1] - w[0]) as f64 * FRAME_MS <= MAX_WAIT_MS + FRAME_MS));
        assert!(renders.len() >= 8, "{renders:?}");
    }

    #[test]
    fn frames_that_come_late_measure_the_rate_over_the_wait() {
        // 10 KB in 90 ms (a page busy with one message per token) is
        // no flood.
        let mut g = FloodGate::default();
        assert!(!g.hold(0, 0.0));
        assert!(!g.hold(10_000, 90.0));
    }
}
