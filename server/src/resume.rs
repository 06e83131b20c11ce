//! Replies that outlive their connection.
//!
//! Every reply streams into a [`ReplyBuf`]: the frames it produced, in
//! order. A connection does not receive frames from the reply directly; a
//! forwarder copies them from the buffer to the socket, starting wherever
//! the client says it is. When the connection drops, the reply goes on
//! into its buffer; a new connection of the same client that sends
//! `resume {id, after_seq}` gets a forwarder starting after `after_seq`.
//!
//! Bounds: a reply nobody is attached to is cancelled after the resume
//! window; finished replies are kept for the same window and at most
//! [`MAX_PER_CLIENT`] per client, [`MAX_TOTAL`] in all. Only the client
//! that started a reply (its id from `hello`, an unguessable random string
//! in the app) can resume it.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use chatwire_protocol::ServerFrame;
use tokio::sync::watch;
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;

/// Finished or running replies kept per client.
pub const MAX_PER_CLIENT: usize = 16;
/// Replies kept on the whole server.
pub const MAX_TOTAL: usize = 8192;

/// Frames a reply may run ahead of its attached client before it waits.
pub const WINDOW: usize = 64;

/// Where the attached client is, for backpressure.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Progress {
    /// The attached forwarder (0: none).
    generation: u64,
    /// Frames it has handed to its connection.
    sent: usize,
}

struct Frames {
    frames: Vec<ServerFrame>,
    finished: bool,
    /// When the reply finished or was last left by its client.
    idle_since: Option<Instant>,
}

/// The frames of one reply, shared by the task producing it and the
/// forwarders reading it.
pub struct ReplyBuf {
    pub id: String,
    pub cancel: CancellationToken,
    frames: Mutex<Frames>,
    /// Number of frames, bumped on every push (and once more on finish).
    len: watch::Sender<usize>,
    progress: watch::Sender<Progress>,
}

static GENERATIONS: AtomicU64 = AtomicU64::new(1);

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
}

impl ReplyBuf {
    pub fn new(id: String, cancel: CancellationToken) -> Arc<Self> {
        Arc::new(Self {
            id,
            cancel,
            frames: Mutex::new(Frames {
                frames: Vec::new(),
                finished: false,
                idle_since: None,
            }),
            len: watch::Sender::new(0),
            progress: watch::Sender::new(Progress {
                generation: 0,
                sent: 0,
            }),
        })
    }

    /// Appends a frame; an `end` frame finishes the reply.
    pub fn push(&self, frame: ServerFrame) {
        let mut f = lock(&self.frames);
        if f.finished {
            return;
        }
        if matches!(frame, ServerFrame::End { .. }) {
            f.finished = true;
            f.idle_since = Some(Instant::now());
        }
        f.frames.push(frame);
        let n = f.frames.len();
        drop(f);
        self.len.send_replace(n);
    }

    pub fn is_finished(&self) -> bool {
        lock(&self.frames).finished
    }

    /// Frames pushed but not yet handed to the attached client (0 when
    /// nobody is attached: the reply then runs freely into its buffer).
    pub fn lag(&self) -> usize {
        let p = *self.progress.borrow();
        if p.generation == 0 {
            return 0;
        }
        (*self.len.borrow()).saturating_sub(p.sent)
    }

    /// Waits until the attached client is less than [`WINDOW`] frames
    /// behind, or nobody is attached.
    pub async fn wait_for_room(&self) {
        let mut rx = self.progress.subscribe();
        while self.lag() >= WINDOW {
            if rx.changed().await.is_err() {
                return;
            }
        }
    }

    /// Index of the first frame after sequence number `after_seq`.
    fn position_after(frames: &[ServerFrame], after_seq: u64) -> usize {
        frames
            .iter()
            .rposition(|f| seq_of(f).is_some_and(|s| s <= after_seq))
            .map_or(0, |i| i + 1)
    }

    /// Attaches a new client reading from `from` (a frame index); any
    /// earlier forwarder stops. Returns its generation.
    fn attach(&self, from: usize) -> u64 {
        let generation = GENERATIONS.fetch_add(1, Ordering::Relaxed);
        lock(&self.frames).idle_since = None;
        self.progress.send_replace(Progress {
            generation,
            sent: from,
        });
        generation
    }

    /// The client of `generation` is gone. True if it was the attached one.
    pub fn detach(&self, generation: u64) -> bool {
        let mut was = false;
        self.progress.send_if_modified(|p| {
            was = p.generation == generation;
            if was {
                p.generation = 0;
            }
            was
        });
        if was {
            lock(&self.frames).idle_since = Some(Instant::now());
        }
        was
    }

    /// Cancels the reply if nobody has been attached to it for `window`.
    pub fn cancel_if_abandoned(&self, window: Duration) {
        let f = lock(&self.frames);
        let abandoned = self.progress.borrow().generation == 0
            && f.idle_since.is_some_and(|t| t.elapsed() >= window);
        drop(f);
        if abandoned {
            self.cancel.cancel();
        }
    }

    fn attached(&self, generation: u64) -> bool {
        self.progress.borrow().generation == generation
    }

    /// Frames from `from` on, and whether the reply is over.
    fn frames_from(&self, from: usize) -> (Vec<ServerFrame>, bool) {
        let f = lock(&self.frames);
        (f.frames.get(from..).unwrap_or(&[]).to_vec(), f.finished)
    }

    /// Whether the buffer may be dropped: over, or left unattended, for
    /// longer than `keep`.
    fn expired(&self, keep: Duration, now: Instant) -> bool {
        let f = lock(&self.frames);
        f.idle_since.is_some_and(|t| {
            now.duration_since(t) >= keep && (f.finished || self.cancel.is_cancelled())
        })
    }
}

fn seq_of(f: &ServerFrame) -> Option<u64> {
    match f {
        ServerFrame::Start { seq, .. }
        | ServerFrame::Delta { seq, .. }
        | ServerFrame::End { seq, .. } => Some(*seq),
        _ => None,
    }
}

/// Copies frames of `buf` from index `from` to `send` while this
/// forwarder is the attached one. Returns when the reply is over, when a
/// newer client took it over, or when `send` fails (the connection is
/// gone).
pub async fn forward<F, Fut>(
    buf: Arc<ReplyBuf>,
    generation: u64,
    from: usize,
    stop: CancellationToken,
    mut send: F,
) where
    F: FnMut(ServerFrame) -> Fut,
    Fut: std::future::Future<Output = bool>,
{
    let mut next = from;
    let mut len = buf.len.subscribe();
    loop {
        len.mark_unchanged();
        let (batch, finished) = buf.frames_from(next);
        for frame in batch {
            if !buf.attached(generation) {
                return;
            }
            let sent = tokio::select! {
                _ = stop.cancelled() => false,
                ok = send(frame) => ok,
            };
            if !sent {
                return;
            }
            next += 1;
            buf.progress.send_if_modified(|p| {
                let mine = p.generation == generation;
                if mine {
                    p.sent = next;
                }
                mine
            });
        }
        if finished {
            return;
        }
        tokio::select! {
            _ = stop.cancelled() => return,
            changed = len.changed() => if changed.is_err() { return },
        }
    }
}

/// The replies of every client, for `resume`.
#[derive(Clone, Default)]
pub struct Store {
    inner: Arc<Mutex<HashMap<String, Vec<Arc<ReplyBuf>>>>>,
}

/// A reply attached to a connection.
pub struct Attached {
    pub buf: Arc<ReplyBuf>,
    pub generation: u64,
}

impl Store {
    /// Keeps `buf` for `client`, dropping expired and excess replies.
    pub fn insert(&self, client: &str, buf: Arc<ReplyBuf>, keep: Duration) {
        let now = Instant::now();
        let mut map = lock(&self.inner);
        map.retain(|_, v| {
            v.retain(|b| !b.expired(keep, now));
            !v.is_empty()
        });
        let total: usize = map.values().map(Vec::len).sum();
        if total >= MAX_TOTAL {
            // Drop the oldest finished reply of the fullest client.
            if let Some(v) = map.values_mut().max_by_key(|v| v.len()) {
                if let Some(i) = v.iter().position(|b| b.is_finished()) {
                    v.remove(i);
                }
            }
        }
        let list = map.entry(client.to_owned()).or_default();
        list.retain(|b| b.id != buf.id);
        while list.len() >= MAX_PER_CLIENT {
            match list.iter().position(|b| b.is_finished()) {
                Some(i) => list.remove(i),
                None => {
                    let old = list.remove(0);
                    old.cancel.cancel();
                    old
                }
            };
        }
        list.push(buf);
    }

    pub fn get(&self, client: &str, id: &str) -> Option<Arc<ReplyBuf>> {
        lock(&self.inner)
            .get(client)
            .and_then(|v| v.iter().find(|b| b.id == id).cloned())
    }

    pub fn len(&self) -> usize {
        lock(&self.inner).values().map(Vec::len).sum()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

/// Attaches a client to `buf`, from the frame after `after_seq` (`None`:
/// from the start). Returns the attachment and the frame index to forward
/// from.
pub fn attach(buf: &Arc<ReplyBuf>, after_seq: Option<u64>) -> (Attached, usize) {
    let from = match after_seq {
        None => 0,
        Some(s) => ReplyBuf::position_after(&lock(&buf.frames).frames, s),
    };
    let generation = buf.attach(from);
    (
        Attached {
            buf: Arc::clone(buf),
            generation,
        },
        from,
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use chatwire_protocol::FinishReason;

    fn delta(seq: u64) -> ServerFrame {
        ServerFrame::Delta {
            id: "r".into(),
            seq,
            text: format!("t{seq}"),
        }
    }

    #[test]
    fn replay_starts_after_the_named_sequence_number() {
        let frames = vec![
            ServerFrame::Queued {
                id: "r".into(),
                position: 1,
            },
            ServerFrame::Start {
                id: "r".into(),
                seq: 0,
                model: "m".into(),
            },
            delta(1),
            delta(2),
            ServerFrame::Error {
                id: Some("r".into()),
                code: chatwire_protocol::ErrorCode::Engine,
                message: "x".into(),
            },
            ServerFrame::End {
                id: "r".into(),
                seq: 3,
                finish_reason: FinishReason::Error,
                usage: None,
            },
        ];
        assert_eq!(ReplyBuf::position_after(&frames, 0), 2);
        assert_eq!(ReplyBuf::position_after(&frames, 1), 3);
        // The error frame without a number follows delta 2.
        assert_eq!(ReplyBuf::position_after(&frames, 2), 4);
        assert_eq!(ReplyBuf::position_after(&frames, 3), 6);
        assert_eq!(ReplyBuf::position_after(&frames, 99), 6);
    }

    #[tokio::test]
    async fn a_forwarder_delivers_everything_once_and_a_takeover_stops_it() {
        let buf = ReplyBuf::new("r".into(), CancellationToken::new());
        for s in 0..3 {
            buf.push(if s == 0 {
                ServerFrame::Start {
                    id: "r".into(),
                    seq: 0,
                    model: "m".into(),
                }
            } else {
                delta(s)
            });
        }
        let (a, from) = attach(&buf, Some(1));
        assert_eq!(from, 2);
        assert_eq!(buf.lag(), 1);
        let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel();
        let stop = CancellationToken::new();
        let task = tokio::spawn(forward(
            Arc::clone(&buf),
            a.generation,
            from,
            stop,
            move |f| {
                let ok = tx.send(f).is_ok();
                async move { ok }
            },
        ));
        buf.push(delta(3));
        buf.push(ServerFrame::End {
            id: "r".into(),
            seq: 4,
            finish_reason: FinishReason::Stop,
            usage: None,
        });
        task.await.unwrap();
        let mut seqs = vec![];
        while let Ok(f) = rx.try_recv() {
            seqs.push(seq_of(&f).unwrap());
        }
        assert_eq!(seqs, [2, 3, 4]);
        assert_eq!(buf.lag(), 0);
        assert!(buf.is_finished());
        // A second client takes over; the first no longer counts.
        let (b, _) = attach(&buf, Some(4));
        assert!(!buf.detach(a.generation));
        assert!(buf.detach(b.generation));
    }

    #[test]
    fn the_store_bounds_replies_per_client_and_forgets_expired_ones() {
        let store = Store::default();
        let keep = Duration::from_secs(60);
        let mut first = None;
        for i in 0..MAX_PER_CLIENT + 2 {
            let b = ReplyBuf::new(format!("r{i}"), CancellationToken::new());
            first.get_or_insert_with(|| Arc::clone(&b));
            store.insert("c", b, keep);
        }
        assert_eq!(store.len(), MAX_PER_CLIENT);
        assert!(store.get("c", "r0").is_none());
        assert!(
            first.unwrap().cancel.is_cancelled(),
            "an evicted running reply stops"
        );
        assert!(store.get("c", "r17").is_some());
        assert!(
            store.get("other", "r17").is_none(),
            "only its client finds it"
        );
        let done = store.get("c", "r17").unwrap();
        done.push(ServerFrame::End {
            id: "r17".into(),
            seq: 1,
            finish_reason: FinishReason::Stop,
            usage: None,
        });
        store.insert(
            "d",
            ReplyBuf::new("x".into(), CancellationToken::new()),
            Duration::ZERO,
        );
        assert!(
            store.get("c", "r17").is_none(),
            "finished and past the window"
        );
        assert!(store.get("c", "r16").is_some(), "running replies stay");
    }
}
