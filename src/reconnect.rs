//! Reconnect policy: capped exponential backoff with jitter. Pure, so the
//! timing rules are unit-tested natively; the transport only asks it for
//! the next delay and resets it when a connection opens.

use std::time::Duration;

#[derive(Debug, Clone, PartialEq)]
pub struct Backoff {
    /// Delay before the first retry (before jitter).
    pub base: Duration,
    /// No delay exceeds this.
    pub max: Duration,
    /// Growth per failed attempt.
    pub factor: f64,
    attempt: u32,
}

impl Default for Backoff {
    fn default() -> Self {
        Self::new(Duration::from_millis(500), Duration::from_secs(30))
    }
}

impl Backoff {
    pub fn new(base: Duration, max: Duration) -> Self {
        Self {
            base,
            max,
            factor: 2.0,
            attempt: 0,
        }
    }

    /// Failed attempts since the last successful open.
    pub fn attempt(&self) -> u32 {
        self.attempt
    }

    /// The delay before the next attempt, given a uniform random number in
    /// [0, 1). "Equal jitter": half the exponential step is fixed, half is
    /// random, so clients that lost the same server spread out but none
    /// retries immediately.
    pub fn next_delay(&mut self, unit_random: f64) -> Duration {
        // Past 2^30 the cap has long been reached; clamping keeps powi finite.
        let exp = self.factor.powi(self.attempt.min(30) as i32);
        let step = (self.base.as_secs_f64() * exp).min(self.max.as_secs_f64());
        let r = if unit_random.is_finite() {
            unit_random.clamp(0.0, 1.0)
        } else {
            0.5
        };
        self.attempt = self.attempt.saturating_add(1);
        Duration::from_secs_f64(step / 2.0 + step / 2.0 * r)
    }

    /// Called when a connection opens: the next failure starts from `base`.
    pub fn reset(&mut self) {
        self.attempt = 0;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ms(d: Duration) -> u128 {
        d.as_millis()
    }

    #[test]
    fn grows_exponentially_within_jitter_bounds() {
        let mut b = Backoff::default();
        let lows: Vec<u128> = (0..5).map(|_| ms(b.next_delay(0.0))).collect();
        assert_eq!(lows, vec![250, 500, 1000, 2000, 4000]);
        let mut b = Backoff::default();
        let highs: Vec<u128> = (0..5).map(|_| ms(b.next_delay(1.0))).collect();
        assert_eq!(highs, vec![500, 1000, 2000, 4000, 8000]);
    }

    #[test]
    fn is_capped_and_never_overflows() {
        let mut b = Backoff::default();
        for _ in 0..1000 {
            let d = b.next_delay(1.0);
            assert!(d <= Duration::from_secs(30));
        }
        assert_eq!(ms(b.next_delay(1.0)), 30_000);
        assert_eq!(ms(b.next_delay(0.0)), 15_000);
    }

    #[test]
    fn reset_on_open_starts_over() {
        let mut b = Backoff::default();
        b.next_delay(0.5);
        b.next_delay(0.5);
        assert_eq!(b.attempt(), 2);
        b.reset();
        assert_eq!(b.attempt(), 0);
        assert_eq!(ms(b.next_delay(1.0)), 500);
    }

    #[test]
    fn bad_random_input_is_tamed() {
        let mut b = Backoff::default();
        assert_eq!(ms(b.next_delay(f64::NAN)), 375);
        assert_eq!(ms(b.next_delay(7.0)), 1000);
    }
}
