//! The WebSocket lifecycle: one supervisor task owns the socket and is the
//! only reconnect path. It connects, lets the dialect say hello, forwards
//! frames both ways, sends heartbeats, declares a silent socket dead, and on
//! any loss waits out the [`Backoff`] delay and starts over. The socket and
//! its event closures live inside the task: when a connection ends they are
//! dropped with it, so nothing leaks across reconnects.

use std::rc::Rc;

use futures::channel::mpsc::{unbounded, UnboundedReceiver, UnboundedSender};
use futures::{select_biased, FutureExt, SinkExt, StreamExt};
use gloo_net::websocket::{futures::WebSocket, Message as WsMessage, State as WsState};
use gloo_timers::future::TimeoutFuture;
use wasm_bindgen::JsValue;
use wasm_bindgen_futures::JsFuture;

use crate::config::{Endpoint, Protocol};
use crate::conn_state::ConnState;
use crate::protocol::{Decoded, Dialect, EndReason, Event, Turn};
use crate::reconnect::Backoff;

/// How long a connection attempt may stay in CONNECTING.
const CONNECT_TIMEOUT_MS: u32 = 10_000;
/// How often the dialect is ticked (heartbeats, silence timeouts).
const TICK_MS: u32 = 250;

/// What the UI asks of the link.
pub enum Command {
    Send(Turn),
    Stop(String),
    /// The server-side conversation to continue (`session` dialect;
    /// `None` forgets it).
    SetSession(Option<String>),
    /// Take up a reply kept from an earlier page, after `after_seq`.
    Resume {
        reply: String,
        after_seq: u64,
    },
}

/// What the link tells the UI.
pub enum LinkEvent {
    State(ConnState),
    Event(Event),
    /// A frame the dialect could not decode.
    Undecodable(String),
    /// An open connection was lost.
    Lost,
    /// Turn `reply` could not be sent (no connection): nothing reached the
    /// backend.
    NotSent(String),
}

/// The UI's handle on the link. Dropping every handle ends the task.
#[derive(Clone)]
pub struct Link {
    tx: UnboundedSender<Command>,
}

impl Link {
    pub fn send(&self, cmd: Command) -> Result<(), String> {
        self.tx
            .unbounded_send(cmd)
            .map_err(|_| "the connection task has ended; reload the page".to_string())
    }
}

type Emit = Rc<dyn Fn(LinkEvent)>;

/// The dialect to speak, and what its adapter starts from.
pub struct DialectChoice {
    pub protocol: Protocol,
    /// This browser's stable id.
    pub client_id: String,
    /// A kept conversation id (`session` dialect).
    pub session_id: Option<String>,
}

pub fn spawn(
    endpoint: Endpoint,
    dialect: DialectChoice,
    emit: impl Fn(LinkEvent) + 'static,
) -> Link {
    let (tx, rx) = unbounded();
    leptos::task::spawn_local(supervise(endpoint, dialect, rx, Rc::new(emit)));
    Link { tx }
}

fn now_ms() -> u64 {
    js_sys::Date::now() as u64
}

enum Outcome {
    /// Every [`Link`] is gone.
    AppGone,
    /// The backend cannot be used; do not retry.
    Fatal(String),
    /// The connection ended or never opened; retry after the backoff.
    Dropped { was_ready: bool },
    /// Closed on purpose (a stop by closing): connect again at once.
    Reopen,
}

async fn supervise(
    endpoint: Endpoint,
    choice: DialectChoice,
    mut rx: UnboundedReceiver<Command>,
    emit: Emit,
) {
    let mut backoff = Backoff::default();
    // Commands that come meanwhile wait in `rx`, in order.
    let Some(mut dialect) = load_dialect(&choice, &mut backoff, &emit).await else {
        return;
    };
    let mut first = true;
    loop {
        emit(LinkEvent::State(if first {
            ConnState::Connecting
        } else {
            ConnState::Reconnecting {
                attempt: backoff.attempt(),
                retry_in_ms: 0,
            }
        }));
        let url = endpoint.url(dialect.socket_url(&endpoint.base));
        let outcome = run_connection(
            &url,
            endpoint.subprotocol(),
            &mut dialect,
            &mut rx,
            &emit,
            &mut backoff,
        )
        .await;
        dialect.on_close();
        match outcome {
            Outcome::AppGone => return,
            Outcome::Fatal(reason) => {
                emit(LinkEvent::State(ConnState::Closed { reason }));
                return;
            }
            Outcome::Reopen => continue,
            Outcome::Dropped { was_ready } => {
                if was_ready {
                    emit(LinkEvent::Lost);
                }
            }
        }
        first = false;
        let delay = backoff.next_delay(js_sys::Math::random());
        let delay_ms = u32::try_from(delay.as_millis()).unwrap_or(u32::MAX);
        emit(LinkEvent::State(ConnState::Reconnecting {
            attempt: backoff.attempt(),
            retry_in_ms: delay_ms,
        }));
        if wait_answering(delay_ms, &mut dialect, &mut rx, &emit)
            .await
            .is_err()
        {
            return;
        }
    }
}

/// The dialect's adapter. The dialects other than `native` are a module of
/// their own: fetched first, and tried again after the backoff delay, as a
/// connection would be, until it is there (`None`: never, as it is tried
/// for as long as the page lives).
async fn load_dialect(
    choice: &DialectChoice,
    backoff: &mut Backoff,
    emit: &Emit,
) -> Option<Dialect> {
    let load = || {
        Dialect::load(
            choice.protocol,
            &choice.client_id,
            choice.session_id.clone(),
        )
    };
    crate::split::until_loaded(load, backoff, |attempt, retry_in_ms| {
        emit(LinkEvent::State(ConnState::Reconnecting {
            attempt,
            retry_in_ms,
        }));
        true
    })
    .await
}

/// Waits `ms` while disconnected; commands that arrive are answered at once
/// (a turn cannot be sent). Err when the app is gone.
async fn wait_answering(
    ms: u32,
    dialect: &mut Dialect,
    rx: &mut UnboundedReceiver<Command>,
    emit: &Emit,
) -> Result<(), ()> {
    let mut sleep = TimeoutFuture::new(ms).fuse();
    loop {
        select_biased! {
            _ = sleep => return Ok(()),
            cmd = rx.next() => match cmd {
                None => return Err(()),
                Some(Command::Send(turn)) => emit(LinkEvent::NotSent(turn.reply_id)),
                Some(Command::Stop(reply)) => {
                    // Remembered by dialects that can cancel later.
                    let _ = dialect.stop(&reply, now_ms());
                    emit(LinkEvent::Event(Event::End {
                        reply,
                        reason: EndReason::Cancelled,
                        usage: None,
                    }));
                }
                Some(Command::SetSession(id)) => dialect.set_session(id),
                Some(Command::Resume { reply, after_seq }) => {
                    let _ = dialect.resume(&reply, after_seq);
                }
            },
        }
    }
}

async fn send_all(ws: &mut WebSocket, frames: Vec<String>) -> bool {
    for f in frames {
        if ws.send(WsMessage::Text(f)).await.is_err() {
            return false;
        }
    }
    true
}

enum Step {
    Frame(Option<Result<WsMessage, gloo_net::websocket::WebSocketError>>),
    Command(Option<Command>),
    Tick,
}

/// One open socket and what the dialect says about it.
struct Conn<'a> {
    ws: WebSocket,
    emit: &'a Emit,
    ready: bool,
}

impl Conn<'_> {
    /// Sends the frames and hands the events to the UI. `Some` ends the
    /// connection with that outcome.
    async fn apply(&mut self, d: Decoded, backoff: &mut Backoff) -> Option<Outcome> {
        for event in d.events {
            match &event {
                Event::Ready { .. } if !self.ready => {
                    self.ready = true;
                    backoff.reset();
                    (self.emit)(LinkEvent::State(ConnState::Open));
                }
                Event::Error {
                    fatal: true,
                    message,
                    ..
                } => {
                    let reason = message.clone();
                    (self.emit)(LinkEvent::Event(event));
                    return Some(Outcome::Fatal(reason));
                }
                _ => {}
            }
            (self.emit)(LinkEvent::Event(event));
        }
        if !send_all(&mut self.ws, d.send).await {
            return Some(Outcome::Dropped {
                was_ready: self.ready,
            });
        }
        d.reconnect_now.then_some(Outcome::Reopen)
    }

    /// Decodes `frames` in order into one [`Decoded`] and applies it. A
    /// frame the dialect cannot read is reported where it came: what was
    /// decoded before it is applied first.
    async fn decode_all(
        &mut self,
        frames: Vec<WsMessage>,
        dialect: &mut Dialect,
        now: u64,
        backoff: &mut Backoff,
    ) -> Option<Outcome> {
        let mut batch = Decoded::default();
        for frame in frames {
            let problem = match frame {
                WsMessage::Text(text) => match dialect.decode(&text, now) {
                    Ok(d) => {
                        batch.append(d);
                        continue;
                    }
                    Err(e) => e.to_string(),
                },
                WsMessage::Bytes(_) => "a binary frame".to_string(),
            };
            let done = std::mem::take(&mut batch);
            if let Some(out) = self.apply(done, backoff).await {
                return Some(out);
            }
            (self.emit)(LinkEvent::Undecodable(problem));
        }
        self.apply(batch, backoff).await
    }
}

/// The frame just received and every frame that arrives right behind it.
/// The wait is one macrotask: the browser runs the socket's message tasks
/// already queued (each only queues its frame; nothing wakes this task),
/// then this takes them all. A burst of one frame per token thus costs one
/// decode pass and one UI update instead of a task wake-up, a decode and a
/// UI update per frame; a lone frame waits well under a millisecond.
/// `true`: the socket's stream ended after these frames.
async fn gather(ws: &mut WebSocket, first: WsMessage) -> (Vec<WsMessage>, bool) {
    let mut frames = vec![first];
    next_task().await;
    loop {
        match ws.next().now_or_never() {
            Some(Some(Ok(frame))) => frames.push(frame),
            // The error and close events precede the end of the stream.
            Some(Some(Err(_))) => {}
            Some(None) => return (frames, true),
            None => return (frames, false),
        }
    }
}

/// Resolves in a later macrotask, after the tasks already queued. A posted
/// message, unlike a timer, is not throttled in a hidden page.
async fn next_task() {
    let Ok(channel) = web_sys::MessageChannel::new() else {
        return TimeoutFuture::new(0).await;
    };
    let port = channel.port1();
    let arrived = js_sys::Promise::new(&mut |resolve, _| port.set_onmessage(Some(&resolve)));
    if channel.port2().post_message(&JsValue::UNDEFINED).is_ok() {
        let _ = JsFuture::from(arrived).await;
    } else {
        TimeoutFuture::new(0).await;
    }
    port.close();
}

async fn run_connection(
    url: &str,
    subprotocol: Option<&str>,
    dialect: &mut Dialect,
    rx: &mut UnboundedReceiver<Command>,
    emit: &Emit,
    backoff: &mut Backoff,
) -> Outcome {
    let opened = match subprotocol {
        Some(p) => WebSocket::open_with_protocol(url, p),
        None => WebSocket::open(url),
    };
    let mut ws = match opened {
        Ok(ws) => ws,
        // The URL may carry a token: name the backend without it.
        Err(e) => {
            let shown = url.split('?').next().unwrap_or(url);
            return Outcome::Fatal(format!("cannot open {shown}: {e}"));
        }
    };
    let opened = {
        let mut ready = futures::future::poll_fn(|cx| ws.poll_ready_unpin(cx)).fuse();
        let mut timeout = TimeoutFuture::new(CONNECT_TIMEOUT_MS).fuse();
        select_biased! {
            r = ready => r.is_ok(),
            _ = timeout => false,
        }
    };
    if !opened || !matches!(ws.state(), WsState::Open) {
        return Outcome::Dropped { was_ready: false };
    }
    let mut conn = Conn {
        ws,
        emit,
        ready: false,
    };
    if let Some(out) = conn.apply(dialect.on_open(now_ms()), backoff).await {
        return out;
    }

    let mut last_rx = now_ms();
    let mut tick = TimeoutFuture::new(TICK_MS).fuse();
    loop {
        // Commands and the tick first: they are rare, and a flood of
        // frames must not hold back a Stop or the heartbeat.
        let step = select_biased! {
            cmd = rx.next() => Step::Command(cmd),
            _ = tick => Step::Tick,
            frame = conn.ws.next().fuse() => Step::Frame(frame),
        };
        let decoded = match step {
            Step::Frame(None) => {
                return Outcome::Dropped {
                    was_ready: conn.ready,
                }
            }
            // The error and close events precede the end of the stream.
            Step::Frame(Some(Err(_))) => continue,
            Step::Frame(Some(Ok(first))) => {
                let (frames, ended) = gather(&mut conn.ws, first).await;
                // After the gathering: the last of these frames came now.
                last_rx = now_ms();
                if let Some(out) = conn.decode_all(frames, dialect, last_rx, backoff).await {
                    return out;
                }
                if ended {
                    return Outcome::Dropped {
                        was_ready: conn.ready,
                    };
                }
                continue;
            }
            Step::Command(None) => return Outcome::AppGone,
            Step::Command(Some(Command::Send(turn))) => {
                if !conn.ready {
                    emit(LinkEvent::NotSent(turn.reply_id));
                    continue;
                }
                let encoded = dialect.encode_turn(&turn, now_ms());
                for event in encoded.events {
                    emit(LinkEvent::Event(event));
                }
                if !send_all(&mut conn.ws, encoded.send).await {
                    emit(LinkEvent::NotSent(turn.reply_id));
                    return Outcome::Dropped {
                        was_ready: conn.ready,
                    };
                }
                continue;
            }
            Step::Command(Some(Command::Stop(reply))) => dialect.stop(&reply, now_ms()),
            Step::Command(Some(Command::SetSession(id))) => {
                dialect.set_session(id);
                continue;
            }
            Step::Command(Some(Command::Resume { reply, after_seq })) => {
                dialect.resume(&reply, after_seq)
            }
            Step::Tick => {
                tick = TimeoutFuture::new(TICK_MS).fuse();
                let now = now_ms();
                // Where heartbeats guarantee traffic, silence means the
                // socket is dead even if the browser has not noticed.
                if let Some(dead_after) = dialect.dead_after_ms() {
                    if now.saturating_sub(last_rx) > dead_after {
                        emit(LinkEvent::Event(Event::Error {
                            reply: None,
                            message: "The server stopped answering; reconnecting.".into(),
                            fatal: false,
                        }));
                        return Outcome::Dropped {
                            was_ready: conn.ready,
                        };
                    }
                }
                dialect.tick(now)
            }
        };
        if let Some(out) = conn.apply(decoded, backoff).await {
            return out;
        }
    }
}
