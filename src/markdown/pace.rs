//! How much of a reply one animation frame renders. When text arrives
//! faster than a frame can render it (a backend that sends a whole reply
//! at once, a coalescing server catching up), rendering it all in one
//! frame would freeze the page for hundreds of milliseconds. The pacer
//! cuts the text the frame renders to a byte budget learned from how fast
//! earlier frames rendered, so every frame stays short and the rest
//! follows in the next ones; the final text is rendered exactly once the
//! reply has been caught up with.

/// Script time a frame may spend rendering markdown (ms). Style, layout
/// and paint of what it adds come on top (about as much again), and the
/// frame stays well under the 50 ms of a long animation frame.
pub const FRAME_BUDGET_MS: f64 = 10.0;
/// Bounds of the budget (bytes of markdown per frame).
const MIN_BYTES: usize = 2 * 1024;
const MAX_BYTES: usize = 1024 * 1024;
/// Before anything is measured.
const INITIAL_BYTES: usize = 16 * 1024;
/// Renders shorter than this say little about the rate (fixed costs
/// dominate) and are not learned from.
const MIN_SAMPLE_BYTES: usize = 1024;

#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Pacer {
    /// Bytes the next frame may render.
    budget: usize,
}

impl Default for Pacer {
    fn default() -> Self {
        Self {
            budget: INITIAL_BYTES,
        }
    }
}

impl Pacer {
    pub fn new() -> Self {
        Self::default()
    }

    #[cfg(test)]
    pub fn budget(&self) -> usize {
        self.budget
    }

    /// Where this frame's render should end in `text`, given that the
    /// first `shown` bytes are rendered: all of it if it fits the budget,
    /// else the end of the last complete line within the budget (so the
    /// next frame does not re-render a half line), else a character
    /// boundary.
    pub fn cut(&self, text: &str, shown: usize) -> usize {
        let shown = shown.min(text.len());
        let limit = shown.saturating_add(self.budget);
        if limit >= text.len() {
            return text.len();
        }
        let mut end = limit;
        while !text.is_char_boundary(end) {
            end -= 1;
        }
        match text[shown..end].rfind('\n') {
            Some(i) if i > 0 => shown + i + 1,
            _ if end > shown => end,
            // A single character longer than the budget.
            _ => text[shown..]
                .char_indices()
                .nth(1)
                .map_or(text.len(), |(i, _)| shown + i),
        }
    }

    /// Learns from a frame that rendered `bytes` new bytes in `ms`.
    pub fn record(&mut self, bytes: usize, ms: f64) {
        if bytes < MIN_SAMPLE_BYTES || !ms.is_finite() || ms < 0.0 {
            return;
        }
        // A sub-millisecond clock reading of 0 means "fast".
        let rate = bytes as f64 / ms.max(0.1);
        let target = (rate * FRAME_BUDGET_MS) as usize;
        // Halfway towards what was measured: one slow frame (a GC, a
        // compile) does not swing the budget.
        let next = (self.budget + target.clamp(MIN_BYTES, MAX_BYTES)) / 2;
        self.budget = next.clamp(MIN_BYTES, MAX_BYTES);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn text_within_the_budget_is_rendered_whole() {
        let p = Pacer::new();
        assert_eq!(p.cut("hello\nworld", 0), 11);
        assert_eq!(p.cut("hello\nworld", 6), 11);
        assert_eq!(p.cut("", 0), 0);
    }

    #[test]
    fn a_long_text_is_cut_after_a_complete_line() {
        let p = Pacer::new();
        let line = "x".repeat(99) + "\n";
        let text = line.repeat(1000);
        let end = p.cut(&text, 0);
        assert!(end <= p.budget());
        assert!(end > p.budget() - 100);
        assert_eq!(&text[end - 1..end], "\n");
        // The next frame goes on from there.
        let next = p.cut(&text, end);
        assert!(next > end && next <= end + p.budget());
        assert_eq!(&text[next - 1..next], "\n");
    }

    #[test]
    fn a_line_longer_than_the_budget_is_cut_on_a_character_boundary() {
        let p = Pacer::new();
        let text = "é".repeat(20_000);
        let end = p.cut(&text, 0);
        assert!(text.is_char_boundary(end));
        assert!(end > 0 && end <= p.budget());
        let mut shown = 0;
        let mut frames = 0;
        while shown < text.len() {
            let end = p.cut(&text, shown);
            assert!(end > shown, "always makes progress");
            assert!(text.is_char_boundary(end));
            shown = end;
            frames += 1;
        }
        assert_eq!(frames, text.len().div_ceil(p.budget()));
    }

    #[test]
    fn shown_beyond_the_text_is_clamped() {
        let p = Pacer::new();
        assert_eq!(p.cut("abc", 10), 3);
    }

    #[test]
    fn the_budget_follows_the_measured_rate() {
        let mut p = Pacer::new();
        // 1 KB/ms: a 10 ms frame renders 10 KB.
        for _ in 0..20 {
            p.record(20_000, 20.0);
        }
        let b = p.budget() as f64;
        assert!((b - 10_000.0).abs() < 200.0, "{b}");
        // Much faster: the budget grows, up to its bound.
        for _ in 0..40 {
            p.record(200_000, 1.0);
        }
        assert!(p.budget() >= MAX_BYTES - 16 && p.budget() <= MAX_BYTES);
        // Much slower: it shrinks, down to its bound.
        for _ in 0..40 {
            p.record(2_000, 1000.0);
        }
        assert!(p.budget() >= MIN_BYTES && p.budget() <= MIN_BYTES + 16);
    }

    #[test]
    fn one_slow_frame_moves_the_budget_halfway_and_tiny_renders_teach_nothing() {
        let mut p = Pacer::new();
        let before = p.budget();
        p.record(10_000, 100.0); // 100 B/ms → 1 KB target, clamped to 2 KB
        assert_eq!(p.budget(), (before + MIN_BYTES) / 2);
        let now = p.budget();
        p.record(10, 50.0);
        p.record(5_000, f64::NAN);
        p.record(5_000, -1.0);
        assert_eq!(p.budget(), now);
        // A zero reading counts as very fast, not as infinite.
        p.record(5_000, 0.0);
        assert!(p.budget() > now && p.budget() <= MAX_BYTES);
    }
}
