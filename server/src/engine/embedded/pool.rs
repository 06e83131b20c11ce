//! The threads the model's products run on.
//!
//! A token is ~120 products of a few hundred microseconds each. Handing
//! each to a sleeping thread pool costs a futex wake-up per product (tens
//! of microseconds on a virtual machine), which ate the second core's gain
//! with rayon. Here the helpers spin while work keeps coming (between the
//! products of one reply), and sleep after a few milliseconds without any
//! (between replies), so an idle server uses no CPU.

use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Condvar, Mutex, PoisonError};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

/// How long a helper spins without work before it sleeps.
const SPIN: Duration = Duration::from_millis(5);

type Job = *const (dyn Fn(usize) + Sync);

struct Shared {
    /// Bumped (SeqCst) each time a job is published.
    epoch: AtomicUsize,
    /// The current job; written only while no helper runs one.
    job: Mutex<Option<JobPtr>>,
    /// Helpers yet to finish the current job.
    pending: AtomicUsize,
    panicked: AtomicBool,
    stop: AtomicBool,
    sleepers: AtomicUsize,
    sleep: Mutex<()>,
    wake: Condvar,
}

#[derive(Clone, Copy)]
struct JobPtr(Job);
// SAFETY: the pointee is `Sync` and outlives every use: `Pool::run` does not
// return (nor unwind) before every helper is done with it.
unsafe impl Send for JobPtr {}

pub struct Pool {
    threads: usize,
    shared: Arc<Shared>,
    helpers: Vec<JoinHandle<()>>,
}

impl Pool {
    /// A pool of `threads` threads: the caller of `run` and `threads - 1`
    /// helpers.
    pub fn new(threads: usize) -> Result<Self, String> {
        let threads = threads.max(1);
        let shared = Arc::new(Shared {
            epoch: AtomicUsize::new(0),
            job: Mutex::new(None),
            pending: AtomicUsize::new(0),
            panicked: AtomicBool::new(false),
            stop: AtomicBool::new(false),
            sleepers: AtomicUsize::new(0),
            sleep: Mutex::new(()),
            wake: Condvar::new(),
        });
        let helpers = (1..threads)
            .map(|i| {
                let shared = Arc::clone(&shared);
                std::thread::Builder::new()
                    .name(format!("embedded-model-{i}"))
                    .spawn(move || helper(&shared, i))
                    .map_err(|e| format!("cannot start a model thread: {e}"))
            })
            .collect::<Result<_, _>>()?;
        Ok(Self {
            threads,
            shared,
            helpers,
        })
    }

    pub fn threads(&self) -> usize {
        self.threads
    }

    /// Runs `f(i)` for every `i` in `0..threads` at once (`i = 0` on this
    /// thread) and returns when all are done. A panic in any of them is
    /// raised here.
    pub fn run(&self, f: &(dyn Fn(usize) + Sync)) {
        if self.threads == 1 {
            f(0);
            return;
        }
        let s = &*self.shared;
        // SAFETY (lifetime erasure): see `JobPtr`; we wait below for
        // `pending` to reach 0 before returning or unwinding.
        let job: Job = unsafe { std::mem::transmute::<&(dyn Fn(usize) + Sync), Job>(f) };
        *s.job.lock().unwrap_or_else(PoisonError::into_inner) = Some(JobPtr(job));
        s.pending.store(self.threads - 1, Ordering::SeqCst);
        s.epoch.fetch_add(1, Ordering::SeqCst);
        if s.sleepers.load(Ordering::SeqCst) > 0 {
            let _g = s.sleep.lock().unwrap_or_else(PoisonError::into_inner);
            s.wake.notify_all();
        }
        let mine = catch_unwind(AssertUnwindSafe(|| f(0)));
        while s.pending.load(Ordering::Acquire) > 0 {
            std::hint::spin_loop();
        }
        *s.job.lock().unwrap_or_else(PoisonError::into_inner) = None;
        if let Err(p) = mine {
            std::panic::resume_unwind(p);
        }
        if s.panicked.swap(false, Ordering::SeqCst) {
            panic!("a model thread panicked");
        }
    }
}

impl Drop for Pool {
    fn drop(&mut self) {
        let s = &*self.shared;
        s.stop.store(true, Ordering::SeqCst);
        {
            let _g = s.sleep.lock().unwrap_or_else(PoisonError::into_inner);
            s.wake.notify_all();
        }
        for h in self.helpers.drain(..) {
            let _ = h.join();
        }
    }
}

fn helper(s: &Shared, index: usize) {
    let mut seen = 0;
    loop {
        // Wait for a new epoch: spin, then sleep.
        let since = Instant::now();
        let mut spins = 0u32;
        loop {
            if s.stop.load(Ordering::SeqCst) {
                return;
            }
            let e = s.epoch.load(Ordering::SeqCst);
            if e != seen {
                seen = e;
                break;
            }
            spins = spins.wrapping_add(1);
            if !spins.is_multiple_of(1024) || since.elapsed() < SPIN {
                std::hint::spin_loop();
                continue;
            }
            let mut g = s.sleep.lock().unwrap_or_else(PoisonError::into_inner);
            s.sleepers.fetch_add(1, Ordering::SeqCst);
            while s.epoch.load(Ordering::SeqCst) == seen && !s.stop.load(Ordering::SeqCst) {
                g = s.wake.wait(g).unwrap_or_else(PoisonError::into_inner);
            }
            s.sleepers.fetch_sub(1, Ordering::SeqCst);
        }
        let job = *s.job.lock().unwrap_or_else(PoisonError::into_inner);
        if let Some(JobPtr(job)) = job {
            // SAFETY: `run` keeps the job alive until `pending` is 0.
            let f = unsafe { &*job };
            if catch_unwind(AssertUnwindSafe(|| f(index))).is_err() {
                s.panicked.store(true, Ordering::SeqCst);
            }
        }
        s.pending.fetch_sub(1, Ordering::AcqRel);
    }
}

/// `0..len` cut in `parts` nearly equal ranges; this is part `i`.
pub fn share(len: usize, parts: usize, i: usize) -> std::ops::Range<usize> {
    len * i / parts..len * (i + 1) / parts
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_index_runs_once_per_job_and_the_caller_waits() {
        for threads in [1, 2, 3] {
            let pool = Pool::new(threads).unwrap();
            let hits: Vec<AtomicUsize> = (0..threads).map(|_| AtomicUsize::new(0)).collect();
            for _ in 0..1000 {
                pool.run(&|i| {
                    hits[i].fetch_add(1, Ordering::Relaxed);
                });
            }
            assert!(hits.iter().all(|h| h.load(Ordering::Relaxed) == 1000));
        }
    }

    #[test]
    fn helpers_that_slept_wake_for_the_next_job() {
        let pool = Pool::new(2).unwrap();
        let n = AtomicUsize::new(0);
        pool.run(&|_| {
            n.fetch_add(1, Ordering::Relaxed);
        });
        // The helper goes to sleep after SPIN without work.
        let deadline = Instant::now() + Duration::from_secs(10);
        while pool.shared.sleepers.load(Ordering::SeqCst) == 0 {
            assert!(Instant::now() < deadline, "the helper never slept");
            std::thread::sleep(SPIN);
        }
        pool.run(&|_| {
            n.fetch_add(1, Ordering::Relaxed);
        });
        assert_eq!(n.load(Ordering::Relaxed), 4);
    }

    #[test]
    fn a_panic_on_a_helper_reaches_the_caller_and_the_pool_goes_on() {
        let pool = Pool::new(2).unwrap();
        let r = catch_unwind(AssertUnwindSafe(|| pool.run(&|i| assert_ne!(i, 1))));
        assert!(r.is_err());
        let n = AtomicUsize::new(0);
        pool.run(&|_| {
            n.fetch_add(1, Ordering::Relaxed);
        });
        assert_eq!(n.load(Ordering::Relaxed), 2);
    }

    #[test]
    fn shares_cover_the_range_without_overlap() {
        for (len, parts) in [(10, 3), (960, 2), (1, 4), (0, 2)] {
            let all: Vec<usize> = (0..parts).flat_map(|i| share(len, parts, i)).collect();
            assert_eq!(all, (0..len).collect::<Vec<_>>());
        }
    }
}
