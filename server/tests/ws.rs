//! The native protocol end to end: a real server on port 0 and a real
//! WebSocket client.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use chatwire_protocol::{
    ChatMessage, ChatRequest, ClientFrame, ErrorCode, FinishReason, Params, Role, ServerFrame,
};
use chatwire_server::debug::ReplyLog;
use chatwire_server::engine::scripted::{ScriptedConfig, ScriptedEngine};
use chatwire_server::{router, AppState, Limits};
use futures::{SinkExt, StreamExt};
use tokio::net::TcpStream;
use tokio::sync::watch;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::{MaybeTlsStream, WebSocketStream};

type Ws = WebSocketStream<MaybeTlsStream<TcpStream>>;

struct Server {
    addr: SocketAddr,
    log: ReplyLog,
    shutdown: watch::Sender<bool>,
}

async fn server_with(config: ScriptedConfig, limits: Limits) -> Server {
    let (shutdown, rx) = watch::channel(false);
    let log = ReplyLog::default();
    let state = AppState {
        engine: Arc::new(ScriptedEngine::new(config)),
        limits,
        replies: Some(log.clone()),
        shutdown: rx,
        replies_running: Default::default(),
        resume: Default::default(),
        openai_api: true,
    };
    // The server's own listener (TCP_NODELAY), as `chatwire-server` runs.
    let listener = chatwire_server::listen("127.0.0.1:0").await.unwrap();
    let addr = axum::serve::Listener::local_addr(&listener).unwrap();
    tokio::spawn(async move { axum::serve(listener, router(state, None)).await });
    Server {
        addr,
        log,
        shutdown,
    }
}

/// A server sending one `delta` per token (no coalescing), so that tests
/// can count frames; `coalescing_*` tests use the default interval.
async fn server() -> Server {
    server_with(
        ScriptedConfig {
            reply: None,
            tokens: 20,
            tokens_per_second: 0.0,
        },
        Limits {
            delta_interval: std::time::Duration::ZERO,
            ..Limits::default()
        },
    )
    .await
}

#[tokio::test]
async fn coalescing_sends_a_fast_stream_in_fewer_frames_with_the_same_text() {
    let fast = server_with(
        ScriptedConfig {
            reply: None,
            tokens: 400,
            tokens_per_second: 0.0,
        },
        Limits::default(),
    )
    .await;
    let per_token = server_with(
        ScriptedConfig {
            reply: None,
            tokens: 400,
            tokens_per_second: 0.0,
        },
        Limits {
            delta_interval: std::time::Duration::ZERO,
            ..Limits::default()
        },
    )
    .await;
    let mut texts = Vec::new();
    let mut frames = Vec::new();
    for s in [&fast, &per_token] {
        let mut ws = connect(s).await;
        send(&mut ws, &chat("r1", "hi", Params::default())).await;
        let (text, seqs, reason) = collect(&mut ws).await;
        assert_eq!(reason, FinishReason::Stop);
        let expected: Vec<u64> = (0..seqs.len() as u64).collect();
        assert_eq!(seqs, expected, "seq still counts up with no gap");
        let rec = &s.log.snapshot()[0];
        assert_eq!(rec.tokens_sent, 400);
        assert_eq!(rec.deltas_sent, seqs.len() - 2);
        texts.push(text);
        frames.push(seqs.len());
    }
    assert_eq!(texts[0], texts[1], "the same text either way");
    assert_eq!(frames[1], 1 + 400 + 1);
    assert!(frames[0] < 200, "{} frames for 400 fast tokens", frames[0]);
}

#[tokio::test]
async fn coalescing_leaves_a_stream_slower_than_the_interval_alone() {
    // 40 tokens/s: 25 ms apart, longer than the 8 ms interval.
    let s = server_with(
        ScriptedConfig {
            reply: None,
            tokens: 10,
            tokens_per_second: 40.0,
        },
        Limits::default(),
    )
    .await;
    let mut ws = connect(&s).await;
    send(&mut ws, &chat("r1", "hi", Params::default())).await;
    let (_, seqs, _) = collect(&mut ws).await;
    assert_eq!(seqs.len(), 1 + 10 + 1, "one token per delta");
}

async fn connect_with_origin(
    s: &Server,
    origin: &str,
) -> Result<Ws, tokio_tungstenite::tungstenite::Error> {
    use tokio_tungstenite::tungstenite::client::IntoClientRequest;
    let mut req = format!("ws://{}/ws", s.addr).into_client_request().unwrap();
    req.headers_mut().insert("origin", origin.parse().unwrap());
    tokio_tungstenite::connect_async(req)
        .await
        .map(|(ws, _)| ws)
}

async fn connect(s: &Server) -> Ws {
    let (ws, _) = tokio_tungstenite::connect_async(format!("ws://{}/ws", s.addr))
        .await
        .unwrap();
    ws
}

async fn send(ws: &mut Ws, frame: &ClientFrame) {
    ws.send(Message::Text(frame.encode().into())).await.unwrap();
}

async fn send_raw(ws: &mut Ws, text: &str) {
    ws.send(Message::Text(text.to_owned().into()))
        .await
        .unwrap();
}

/// Next protocol frame, skipping heartbeats.
async fn recv(ws: &mut Ws) -> ServerFrame {
    loop {
        let msg = tokio::time::timeout(Duration::from_secs(10), ws.next())
            .await
            .expect("no frame within 10 s")
            .expect("socket closed")
            .expect("socket error");
        if let Message::Text(t) = msg {
            let frame = ServerFrame::decode(t.as_str()).expect("server sent an undecodable frame");
            if !matches!(frame, ServerFrame::Ping { .. }) {
                return frame;
            }
        }
    }
}

fn chat(id: &str, prompt: &str, params: Params) -> ClientFrame {
    ClientFrame::Chat(ChatRequest {
        id: id.into(),
        model: None,
        messages: vec![ChatMessage {
            role: Role::User,
            content: prompt.into(),
        }],
        params,
    })
}

/// Collects a reply up to its end frame: (text, seqs, finish reason).
async fn collect(ws: &mut Ws) -> (String, Vec<u64>, FinishReason) {
    let mut text = String::new();
    let mut seqs = Vec::new();
    loop {
        match recv(ws).await {
            ServerFrame::Start { seq, .. } => seqs.push(seq),
            ServerFrame::Delta { seq, text: t, .. } => {
                seqs.push(seq);
                text.push_str(&t);
            }
            ServerFrame::End {
                seq, finish_reason, ..
            } => {
                seqs.push(seq);
                return (text, seqs, finish_reason);
            }
            other => panic!("unexpected frame {other:?}"),
        }
    }
}

#[tokio::test]
async fn hello_is_answered_with_welcome_and_models() {
    let s = server().await;
    let mut ws = connect(&s).await;
    send(&mut ws, &ClientFrame::Hello { v: 1, client: None }).await;
    match recv(&mut ws).await {
        ServerFrame::Welcome { v, models, .. } => {
            assert_eq!(v, 1);
            assert_eq!(models[0].id, "scripted");
        }
        other => panic!("expected welcome, got {other:?}"),
    }
    send(&mut ws, &ClientFrame::Models).await;
    assert!(matches!(recv(&mut ws).await, ServerFrame::Models { models } if models.len() == 1));
}

#[tokio::test]
async fn a_reply_streams_in_sequence_and_ends_with_usage() {
    let s = server_with(
        ScriptedConfig {
            reply: Some("Hello from the scripted engine.".into()),
            tokens: 0,
            tokens_per_second: 0.0,
        },
        Limits::default(),
    )
    .await;
    let mut ws = connect(&s).await;
    send(&mut ws, &chat("r1", "hi", Params::default())).await;
    let (text, seqs, reason) = collect(&mut ws).await;
    assert_eq!(text, "Hello from the scripted engine.");
    assert_eq!(reason, FinishReason::Stop);
    let expected: Vec<u64> = (0..seqs.len() as u64).collect();
    assert_eq!(seqs, expected, "seq counts up from 0 with no gap");
}

#[tokio::test]
async fn max_tokens_ends_with_length_and_params_reach_the_engine() {
    let s = server().await;
    let mut ws = connect(&s).await;
    let params = Params {
        temperature: Some(0.3),
        top_p: Some(0.8),
        max_tokens: Some(5),
        ..Default::default()
    };
    send(&mut ws, &chat("r1", "hi", params)).await;
    let (_, seqs, reason) = collect(&mut ws).await;
    assert_eq!(reason, FinishReason::Length);
    assert_eq!(seqs.len(), 1 + 5 + 1);
    let rec = &s.log.snapshot()[0];
    assert_eq!(rec.request.params, params);
    assert_eq!(rec.tokens_sent, 5);
}

#[tokio::test]
async fn cancel_stops_generation_and_is_acknowledged() {
    let s = server().await;
    let mut ws = connect(&s).await;
    send(
        &mut ws,
        &chat("r1", "!tokens=100000 !tps=50", Params::default()),
    )
    .await;
    // Wait for two deltas, then cancel.
    let mut deltas = 0;
    while deltas < 2 {
        if let ServerFrame::Delta { .. } = recv(&mut ws).await {
            deltas += 1;
        }
    }
    send(&mut ws, &ClientFrame::Cancel { id: "r1".into() }).await;
    loop {
        match recv(&mut ws).await {
            ServerFrame::Delta { .. } => continue,
            ServerFrame::End { finish_reason, .. } => {
                assert_eq!(finish_reason, FinishReason::Cancelled);
                break;
            }
            other => panic!("unexpected {other:?}"),
        }
    }
    let sent = s.log.snapshot()[0].tokens_sent;
    tokio::time::sleep(Duration::from_millis(200)).await;
    assert_eq!(
        s.log.snapshot()[0].tokens_sent,
        sent,
        "generation went on after cancel"
    );
    assert!(sent < 100);
}

#[tokio::test]
async fn cancel_before_the_first_token_works() {
    let s = server().await;
    let mut ws = connect(&s).await;
    send(&mut ws, &chat("r1", "!delay_ms=5000", Params::default())).await;
    send(&mut ws, &ClientFrame::Cancel { id: "r1".into() }).await;
    let (text, _, reason) = collect(&mut ws).await;
    assert_eq!(reason, FinishReason::Cancelled);
    assert_eq!(text, "");
}

#[tokio::test]
async fn cancel_of_an_unknown_reply_is_not_running() {
    let s = server().await;
    let mut ws = connect(&s).await;
    send(&mut ws, &ClientFrame::Cancel { id: "nope".into() }).await;
    assert!(matches!(
        recv(&mut ws).await,
        ServerFrame::Error { code: ErrorCode::NotRunning, id: Some(id), .. } if id == "nope"
    ));
}

#[tokio::test]
async fn a_second_reply_while_one_runs_is_busy() {
    let s = server().await;
    let mut ws = connect(&s).await;
    send(&mut ws, &chat("r1", "!tps=5", Params::default())).await;
    assert!(matches!(recv(&mut ws).await, ServerFrame::Start { .. }));
    send(&mut ws, &chat("r2", "again", Params::default())).await;
    loop {
        match recv(&mut ws).await {
            ServerFrame::Delta { .. } => continue,
            ServerFrame::Error { code, id, .. } => {
                assert_eq!(code, ErrorCode::Busy);
                assert_eq!(id.as_deref(), Some("r2"));
                break;
            }
            other => panic!("unexpected {other:?}"),
        }
    }
}

#[tokio::test]
async fn engine_errors_become_error_then_end() {
    let s = server().await;
    let mut ws = connect(&s).await;
    send(&mut ws, &chat("r1", "!error=3", Params::default())).await;
    let mut deltas = 0;
    loop {
        match recv(&mut ws).await {
            ServerFrame::Start { .. } => {}
            ServerFrame::Delta { .. } => deltas += 1,
            ServerFrame::Error { code, id, .. } => {
                assert_eq!(code, ErrorCode::Engine);
                assert_eq!(id.as_deref(), Some("r1"));
            }
            ServerFrame::End { finish_reason, .. } => {
                assert_eq!(finish_reason, FinishReason::Error);
                break;
            }
            other => panic!("unexpected {other:?}"),
        }
    }
    assert_eq!(deltas, 3);
    // The connection keeps working.
    send(&mut ws, &chat("r2", "again", Params::default())).await;
    assert_eq!(collect(&mut ws).await.2, FinishReason::Stop);
}

#[tokio::test]
async fn bad_frames_are_answered_and_the_socket_survives() {
    let s = server_with(
        ScriptedConfig::default(),
        Limits {
            max_frame_bytes: 1024,
            ..Limits::default()
        },
    )
    .await;
    let mut ws = connect(&s).await;
    send_raw(&mut ws, "{not json").await;
    assert!(matches!(
        recv(&mut ws).await,
        ServerFrame::Error {
            code: ErrorCode::BadFrame,
            ..
        }
    ));
    send_raw(&mut ws, r#"{"type":"teleport"}"#).await;
    assert!(matches!(
        recv(&mut ws).await,
        ServerFrame::Error {
            code: ErrorCode::UnknownType,
            ..
        }
    ));
    send_raw(&mut ws, r#"{"type":"chat","id":"x"}"#).await;
    assert!(matches!(
        recv(&mut ws).await,
        ServerFrame::Error {
            code: ErrorCode::BadFrame,
            ..
        }
    ));
    let big = format!(r#"{{"type":"ping","pad":"{}"}}"#, "x".repeat(2000));
    send_raw(&mut ws, &big).await;
    assert!(matches!(
        recv(&mut ws).await,
        ServerFrame::Error {
            code: ErrorCode::FrameTooLarge,
            ..
        }
    ));
    // A chat request over the limit fails that reply.
    let big_chat = format!(
        r#"{{"type":"chat","id":"huge","messages":[{{"role":"user","content":"{}"}}]}}"#,
        "x".repeat(2000)
    );
    send_raw(&mut ws, &big_chat).await;
    match recv(&mut ws).await {
        ServerFrame::Error {
            id: Some(id),
            code: ErrorCode::FrameTooLarge,
            ..
        } => assert_eq!(id, "huge"),
        other => panic!("expected frame_too_large for reply huge, got {other:?}"),
    }
    ws.send(Message::Binary(vec![1u8, 2, 3].into()))
        .await
        .unwrap();
    assert!(matches!(
        recv(&mut ws).await,
        ServerFrame::Error {
            code: ErrorCode::BadFrame,
            ..
        }
    ));
    send(
        &mut ws,
        &ClientFrame::Hello {
            v: 99,
            client: None,
        },
    )
    .await;
    assert!(matches!(
        recv(&mut ws).await,
        ServerFrame::Error {
            code: ErrorCode::UnsupportedVersion,
            ..
        }
    ));
    send(
        &mut ws,
        &chat(
            "r1",
            "hi",
            Params {
                temperature: Some(5.0),
                ..Default::default()
            },
        ),
    )
    .await;
    assert!(matches!(
        recv(&mut ws).await,
        ServerFrame::Error {
            code: ErrorCode::InvalidParams,
            ..
        }
    ));
    let mut unknown_model = chat("r2", "hi", Params::default());
    if let ClientFrame::Chat(req) = &mut unknown_model {
        req.model = Some("gpt-17".into());
    }
    send(&mut ws, &unknown_model).await;
    assert!(matches!(
        recv(&mut ws).await,
        ServerFrame::Error {
            code: ErrorCode::UnknownModel,
            ..
        }
    ));
    // Still alive.
    send(&mut ws, &ClientFrame::Ping { t: 42 }).await;
    assert_eq!(recv(&mut ws).await, ServerFrame::Pong { t: 42 });
}

#[tokio::test]
async fn server_pings_and_closes_idle_and_on_shutdown() {
    let s = server_with(
        ScriptedConfig::default(),
        Limits {
            heartbeat: Duration::from_millis(100),
            idle_timeout: Duration::from_millis(350),
            ..Limits::default()
        },
    )
    .await;
    let mut ws = connect(&s).await;
    let mut pings = 0;
    let close = loop {
        match tokio::time::timeout(Duration::from_secs(5), ws.next())
            .await
            .unwrap()
        {
            Some(Ok(Message::Text(t))) => {
                if let Ok(ServerFrame::Ping { .. }) = ServerFrame::decode(t.as_str()) {
                    pings += 1;
                }
            }
            Some(Ok(Message::Close(frame))) => break frame,
            other => panic!("unexpected {other:?}"),
        }
    };
    assert!(pings >= 2, "got {pings} pings");
    assert_eq!(close.unwrap().reason.as_str(), "idle timeout");

    let mut ws = connect(&s).await;
    s.shutdown.send(true).unwrap();
    let close = loop {
        match tokio::time::timeout(Duration::from_secs(5), ws.next())
            .await
            .unwrap()
        {
            Some(Ok(Message::Close(frame))) => break frame,
            Some(Ok(_)) => continue,
            other => panic!("unexpected {other:?}"),
        }
    };
    assert_eq!(u16::from(close.unwrap().code), 1001);
}

#[tokio::test]
async fn static_files_are_served_compressed_with_cache_headers() {
    use axum::body::Body;
    use axum::http::{header, Request, StatusCode};
    use http_body_util::BodyExt;
    use tower::ServiceExt;

    let dir = std::env::temp_dir().join(format!("chatwire-dist-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(
        dir.join("index.html"),
        "<!doctype html><title>t</title>".repeat(50),
    )
    .unwrap();
    std::fs::write(dir.join("app-0123456789abcdef_bg.wasm"), b"\0asm\x01\0\0\0").unwrap();
    let (_tx, rx) = watch::channel(false);
    let state = AppState {
        engine: Arc::new(ScriptedEngine::new(ScriptedConfig::default())),
        limits: Limits::default(),
        replies: None,
        shutdown: rx,
        replies_running: Default::default(),
        resume: Default::default(),
        openai_api: true,
    };
    let app = router(state, Some(chatwire_server::Site::new(dir.clone())));

    let res = app
        .clone()
        .oneshot(
            Request::get("/")
                .header(header::ACCEPT_ENCODING, "gzip")
                .body(Body::empty())
                .unwrap(),
        )
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::OK);
    assert_eq!(res.headers()[header::CONTENT_TYPE], "text/html");
    assert_eq!(res.headers()[header::CONTENT_ENCODING], "gzip");
    assert_eq!(res.headers()[header::CACHE_CONTROL], "no-cache");
    let csp = res.headers()[header::CONTENT_SECURITY_POLICY]
        .to_str()
        .unwrap();
    assert!(
        csp.contains("script-src 'self' 'wasm-unsafe-eval'"),
        "{csp}"
    );
    assert_eq!(res.headers()[header::X_CONTENT_TYPE_OPTIONS], "nosniff");

    let res = app
        .clone()
        .oneshot(
            Request::get("/app-0123456789abcdef_bg.wasm")
                .body(Body::empty())
                .unwrap(),
        )
        .await
        .unwrap();
    assert_eq!(res.headers()[header::CONTENT_TYPE], "application/wasm");
    assert!(res.headers()[header::CACHE_CONTROL]
        .to_str()
        .unwrap()
        .contains("immutable"));
    let body = res.into_body().collect().await.unwrap().to_bytes();
    assert_eq!(&body[..4], b"\0asm");

    // No config.json anywhere: an empty configuration, not a 404 (the app
    // asks for it at every start); then dist's own file.
    let config = |app: axum::Router| async move {
        let res = app
            .oneshot(Request::get("/config.json").body(Body::empty()).unwrap())
            .await
            .unwrap();
        assert_eq!(res.status(), StatusCode::OK);
        assert_eq!(res.headers()[header::CONTENT_TYPE], "application/json");
        assert_eq!(res.headers()[header::CACHE_CONTROL], "no-cache");
        let body = res.into_body().collect().await.unwrap().to_bytes();
        String::from_utf8(body.to_vec()).unwrap()
    };
    assert_eq!(config(app.clone()).await, "{}");
    std::fs::write(dir.join("config.json"), r#"{"title":"dist"}"#).unwrap();
    assert_eq!(config(app.clone()).await, r#"{"title":"dist"}"#);

    let res = app
        .oneshot(Request::get("/debug/replies").body(Body::empty()).unwrap())
        .await
        .unwrap();
    assert_eq!(
        res.status(),
        StatusCode::NOT_FOUND,
        "debug API must be off unless enabled"
    );
    std::fs::remove_dir_all(dir).ok();
}

#[tokio::test]
async fn limits_per_socket_and_in_total() {
    let s = server_with(
        ScriptedConfig::default(),
        Limits {
            max_replies_per_socket: 2,
            max_replies_total: 2,
            ..Limits::default()
        },
    )
    .await;
    let mut a = connect(&s).await;
    send(&mut a, &chat("a1", "!tps=5", Params::default())).await;
    send(&mut a, &chat("a2", "!tps=5", Params::default())).await;
    let mut started = 0;
    while started < 2 {
        if let ServerFrame::Start { .. } = recv(&mut a).await {
            started += 1;
        }
    }
    // A third on the same socket is over the per-socket limit...
    send(&mut a, &chat("a3", "x", Params::default())).await;
    loop {
        match recv(&mut a).await {
            ServerFrame::Error { code, id, .. } => {
                assert_eq!((code, id.as_deref()), (ErrorCode::Busy, Some("a3")));
                break;
            }
            ServerFrame::Delta { .. } => {}
            other => panic!("unexpected {other:?}"),
        }
    }
    // ...and one on another socket is over the server's total.
    let mut b = connect(&s).await;
    send(&mut b, &chat("b1", "x", Params::default())).await;
    assert!(matches!(
        recv(&mut b).await,
        ServerFrame::Error {
            code: ErrorCode::Overloaded,
            ..
        }
    ));
    // Cancelling frees a place.
    send(&mut a, &ClientFrame::Cancel { id: "a1".into() }).await;
    loop {
        if let ServerFrame::End { id, .. } = recv(&mut a).await {
            assert_eq!(id, "a1");
            break;
        }
    }
    send(&mut b, &chat("b2", "!tps=0 !tokens=2", Params::default())).await;
    assert_eq!(collect(&mut b).await.2, FinishReason::Stop);
}

#[tokio::test]
async fn foreign_origins_are_refused() {
    let s = server().await;
    assert!(connect_with_origin(&s, "http://localhost:1234")
        .await
        .is_ok());
    assert!(connect_with_origin(&s, &format!("http://{}", s.addr))
        .await
        .is_ok());
    match connect_with_origin(&s, "https://evil.example").await {
        Err(tokio_tungstenite::tungstenite::Error::Http(res)) => assert_eq!(res.status(), 403),
        other => panic!("expected 403, got {:?}", other.map(|_| ())),
    }
}

async fn hello(ws: &mut Ws, client: Option<&str>) {
    send(
        ws,
        &ClientFrame::Hello {
            v: 1,
            client: client.map(str::to_owned),
        },
    )
    .await;
    assert!(matches!(recv(ws).await, ServerFrame::Welcome { .. }));
}

/// Reads frames of a reply until `n` deltas arrived, the first one
/// following `after`: (text, last seq).
async fn read_deltas_after(ws: &mut Ws, after: u64, n: usize) -> (String, u64) {
    let (mut text, mut last, mut got) = (String::new(), after, 0);
    while got < n {
        match recv(ws).await {
            ServerFrame::Start { seq, .. } => last = seq,
            ServerFrame::Delta { seq, text: t, .. } => {
                assert_eq!(seq, last + 1, "sequence numbers are contiguous");
                last = seq;
                text.push_str(&t);
                got += 1;
            }
            other => panic!("unexpected {other:?}"),
        }
    }
    (text, last)
}

/// A new connection of `client` asking for reply `id` after `after`.
async fn reconnect_and_resume(s: &Server, client: &str, id: &str, after: u64) -> Ws {
    let mut ws = connect(s).await;
    hello(&mut ws, Some(client)).await;
    send(
        &mut ws,
        &ClientFrame::Resume {
            id: id.into(),
            after_seq: after,
        },
    )
    .await;
    ws
}

async fn read_deltas(ws: &mut Ws, n: usize) -> (String, u64) {
    read_deltas_after(ws, 0, n).await
}

#[tokio::test]
async fn a_reply_resumes_on_a_new_connection_with_nothing_lost_or_repeated() {
    let s = server().await;
    let prompt = "!tokens=60 !tps=200";
    // The whole reply, unbroken, for comparison.
    let mut ws = connect(&s).await;
    hello(&mut ws, Some("other-client")).await;
    send(&mut ws, &chat("whole", prompt, Params::default())).await;
    let (whole, seqs, _) = collect(&mut ws).await;
    assert_eq!(seqs.len(), 62, "one token per delta at this pace");

    let mut ws = connect(&s).await;
    hello(&mut ws, Some("c1")).await;
    send(&mut ws, &chat("r1", prompt, Params::default())).await;
    let (head, after) = read_deltas(&mut ws, 5).await;
    drop(ws);
    // The reply goes on while nobody is connected.
    tokio::time::sleep(Duration::from_millis(100)).await;

    let mut ws = reconnect_and_resume(&s, "c1", "r1", after).await;
    let (tail, seqs, reason) = collect(&mut ws).await;
    assert_eq!(seqs[0], after + 1, "replay starts right after the last seq");
    assert!(seqs.windows(2).all(|w| w[1] == w[0] + 1), "{seqs:?}");
    assert_eq!(reason, FinishReason::Stop);
    assert_eq!(format!("{head}{tail}"), whole);

    // A finished reply can be resumed again (e.g. its end was lost).
    send(
        &mut ws,
        &ClientFrame::Resume {
            id: "r1".into(),
            after_seq: *seqs.last().unwrap() - 1,
        },
    )
    .await;
    assert!(matches!(recv(&mut ws).await, ServerFrame::End { .. }));
}

#[tokio::test]
async fn resume_is_refused_for_unknown_replies_and_other_clients() {
    let s = server().await;
    let mut ws = connect(&s).await;
    hello(&mut ws, Some("owner")).await;
    send(&mut ws, &chat("r1", "!tokens=3", Params::default())).await;
    collect(&mut ws).await;

    let mut other = connect(&s).await;
    hello(&mut other, Some("someone-else")).await;
    for id in ["r1", "never-started"] {
        send(
            &mut other,
            &ClientFrame::Resume {
                id: id.into(),
                after_seq: 0,
            },
        )
        .await;
        match recv(&mut other).await {
            ServerFrame::Error {
                code: ErrorCode::ResumeUnavailable,
                id: Some(got),
                message,
            } => {
                assert_eq!(got, id);
                assert!(message.contains("no longer on this server"), "{message}");
            }
            f => panic!("unexpected {f:?}"),
        }
    }
}

#[tokio::test]
async fn dropped_replies_stop_without_a_client_id_or_after_the_window() {
    let s = server_with(
        ScriptedConfig {
            reply: None,
            tokens: 100_000,
            tokens_per_second: 100.0,
        },
        Limits {
            resume_window: Duration::from_millis(300),
            ..Limits::default()
        },
    )
    .await;
    // No client id: nobody could resume it, so it stops with the socket.
    let mut ws = connect(&s).await;
    send(&mut ws, &chat("anon", "go", Params::default())).await;
    read_deltas(&mut ws, 2).await;
    drop(ws);
    // With a client id: it goes on for the window, then stops.
    let mut ws = connect(&s).await;
    hello(&mut ws, Some("c")).await;
    send(&mut ws, &chat("kept", "go", Params::default())).await;
    read_deltas(&mut ws, 2).await;
    drop(ws);
    tokio::time::sleep(Duration::from_millis(150)).await;
    let reason = |id: &str| {
        s.log
            .snapshot()
            .into_iter()
            .find(|r| r.request.id == id)
            .and_then(|r| r.finish_reason)
    };
    assert_eq!(reason("anon"), Some(FinishReason::Cancelled));
    assert_eq!(reason("kept"), None, "still running within the window");
    let mut waited = 0;
    while reason("kept").is_none() && waited < 50 {
        tokio::time::sleep(Duration::from_millis(100)).await;
        waited += 1;
    }
    assert_eq!(reason("kept"), Some(FinishReason::Cancelled));
}

#[tokio::test]
async fn cancel_reaches_a_resumed_reply() {
    let s = server().await;
    let mut ws = connect(&s).await;
    hello(&mut ws, Some("c2")).await;
    send(
        &mut ws,
        &chat("r1", "!tokens=100000 !tps=100", Params::default()),
    )
    .await;
    let (_, after) = read_deltas(&mut ws, 2).await;
    drop(ws);
    let mut ws = reconnect_and_resume(&s, "c2", "r1", after).await;
    read_deltas_after(&mut ws, after, 1).await;
    send(&mut ws, &ClientFrame::Cancel { id: "r1".into() }).await;
    loop {
        if let ServerFrame::End { finish_reason, .. } = recv(&mut ws).await {
            assert_eq!(finish_reason, FinishReason::Cancelled);
            break;
        }
    }
}
