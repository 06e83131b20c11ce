//! The upstream engine against a real OpenAI-compatible server: another
//! chatwire-server with `--openai-api` over its scripted engine. Browser
//! client -> server B (upstream engine) -> server A (/v1) -> scripted.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use chatwire_protocol::{
    ChatMessage, ChatRequest, ClientFrame, ErrorCode, FinishReason, Params, Role, ServerFrame,
};
use chatwire_server::debug::ReplyLog;
use chatwire_server::engine::scripted::{ScriptedConfig, ScriptedEngine};
use chatwire_server::engine::upstream::UpstreamEngine;
use chatwire_server::engine::Engine;
use chatwire_server::{router, AppState, Limits};
use futures::{SinkExt, StreamExt};
use tokio::sync::watch;
use tokio_tungstenite::tungstenite::Message;

const KEY: &str = "sk-test-never-shown-0123456789";

async fn serve(engine: Arc<dyn Engine>, log: ReplyLog, openai_api: bool) -> SocketAddr {
    let (tx, rx) = watch::channel(false);
    std::mem::forget(tx);
    let state = AppState {
        engine,
        limits: Limits::default(),
        replies: Some(log),
        shutdown: rx,
        replies_running: Default::default(),
        resume: Default::default(),
        openai_api,
    };
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, router(state, None)).await });
    addr
}

struct Pair {
    a_log: ReplyLog,
    b: SocketAddr,
}

async fn pair() -> Pair {
    let a_log = ReplyLog::default();
    let scripted = Arc::new(ScriptedEngine::new(ScriptedConfig {
        reply: None,
        tokens: 12,
        tokens_per_second: 0.0,
    }));
    let a = serve(scripted, a_log.clone(), true).await;
    let upstream = UpstreamEngine::connect(&format!("http://{a}/v1/"), Some(KEY.into()), None)
        .await
        .expect("connects to the upstream");
    let b = serve(Arc::new(upstream), ReplyLog::default(), false).await;
    Pair { a_log, b }
}

type Ws =
    tokio_tungstenite::WebSocketStream<tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>>;

async fn recv(ws: &mut Ws) -> (ServerFrame, String) {
    loop {
        let msg = tokio::time::timeout(Duration::from_secs(10), ws.next())
            .await
            .expect("a frame within 10 s")
            .unwrap()
            .unwrap();
        if let Message::Text(t) = msg {
            let f = ServerFrame::decode(t.as_str()).unwrap();
            if !matches!(f, ServerFrame::Ping { .. }) {
                return (f, t.to_string());
            }
        }
    }
}

async fn send(ws: &mut Ws, f: ClientFrame) {
    ws.send(Message::Text(f.encode().into())).await.unwrap();
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

#[tokio::test]
async fn streams_through_the_upstream_with_parameters_and_usage() {
    let p = pair().await;
    let (mut ws, _) = tokio_tungstenite::connect_async(format!("ws://{}/ws", p.b))
        .await
        .unwrap();
    send(&mut ws, ClientFrame::Hello { v: 1, client: None }).await;
    let (welcome, raw) = recv(&mut ws).await;
    assert!(
        matches!(welcome, ServerFrame::Welcome { ref models, .. } if models[0].id == "scripted" && models[0].engine == "upstream")
    );
    assert!(!raw.contains(KEY));
    let params = Params {
        temperature: Some(0.5),
        top_p: Some(0.8),
        max_tokens: Some(7),
        seed: Some(3),
        ..Params::default()
    };
    send(&mut ws, chat("r1", "hello", params)).await;
    let mut text = String::new();
    let end = loop {
        match recv(&mut ws).await.0 {
            ServerFrame::Delta { text: t, .. } => text.push_str(&t),
            ServerFrame::End {
                finish_reason,
                usage,
                ..
            } => break (finish_reason, usage),
            ServerFrame::Start { .. } => {}
            other => panic!("unexpected {other:?}"),
        }
    };
    let upstream = &p.a_log.snapshot()[0];
    assert_eq!(text, upstream.text, "what A generated reached the client");
    assert_eq!(end.0, FinishReason::Length);
    assert_eq!(end.1.unwrap().completion_tokens, 7);
    assert_eq!(
        upstream.request.params,
        Params {
            repetition_penalty: None,
            ..params
        }
    );
}

#[tokio::test]
async fn cancel_drops_the_upstream_request() {
    let p = pair().await;
    let (mut ws, _) = tokio_tungstenite::connect_async(format!("ws://{}/ws", p.b))
        .await
        .unwrap();
    send(
        &mut ws,
        chat("r1", "!tokens=100000 !tps=50", Params::default()),
    )
    .await;
    let mut deltas = 0;
    while deltas < 3 {
        if let ServerFrame::Delta { .. } = recv(&mut ws).await.0 {
            deltas += 1;
        }
    }
    send(&mut ws, ClientFrame::Cancel { id: "r1".into() }).await;
    loop {
        if let ServerFrame::End { finish_reason, .. } = recv(&mut ws).await.0 {
            assert_eq!(finish_reason, FinishReason::Cancelled);
            break;
        }
    }
    // A notices its client went away and stops generating.
    let mut state = None;
    for _ in 0..50 {
        state = p.a_log.snapshot()[0].finish_reason;
        if state.is_some() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert_eq!(state, Some(FinishReason::Cancelled));
    assert!(p.a_log.snapshot()[0].tokens_sent < 1000);
}

#[tokio::test]
async fn upstream_failures_become_error_frames_without_the_key() {
    let p = pair().await;
    let (mut ws, _) = tokio_tungstenite::connect_async(format!("ws://{}/ws", p.b))
        .await
        .unwrap();
    send(&mut ws, chat("r1", "!error=2", Params::default())).await;
    let mut saw_error = false;
    loop {
        let (f, raw) = recv(&mut ws).await;
        assert!(!raw.contains(KEY));
        match f {
            ServerFrame::Error { code, .. } => {
                assert_eq!(code, ErrorCode::Engine);
                saw_error = true;
            }
            ServerFrame::End { finish_reason, .. } => {
                assert_eq!(finish_reason, FinishReason::Error);
                break;
            }
            _ => {}
        }
    }
    assert!(saw_error);
}

#[tokio::test]
async fn an_unreachable_upstream_is_a_clear_startup_error() {
    let err = UpstreamEngine::connect("http://127.0.0.1:9/v1", None, None)
        .await
        .err()
        .expect("refused");
    assert!(err.contains("cannot reach"), "{err}");
}

#[tokio::test]
async fn openai_api_answers_whole_and_refuses_bad_requests() {
    let a = serve(
        Arc::new(ScriptedEngine::new(ScriptedConfig {
            reply: Some("All at once.".into()),
            tokens: 0,
            tokens_per_second: 0.0,
        })),
        ReplyLog::default(),
        true,
    )
    .await;
    let client = reqwest::Client::new();
    let res: serde_json::Value = client
        .post(format!("http://{a}/v1/chat/completions"))
        .json(&serde_json::json!({"messages":[{"role":"user","content":"hi"}]}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(res["choices"][0]["message"]["content"], "All at once.");
    assert_eq!(res["choices"][0]["finish_reason"], "stop");
    let bad = client
        .post(format!("http://{a}/v1/chat/completions"))
        .json(&serde_json::json!({"messages":[{"role":"user","content":"hi"}],"temperature":9}))
        .send()
        .await
        .unwrap();
    assert_eq!(bad.status(), 400);
    let missing = client
        .post(format!("http://{a}/v1/chat/completions"))
        .json(&serde_json::json!({"model":"gpt-9","messages":[{"role":"user","content":"hi"}]}))
        .send()
        .await
        .unwrap();
    assert_eq!(missing.status(), 404);
}
