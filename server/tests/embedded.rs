//! The embedded engine on the real model (SmolLM2-135M-Instruct, fetched by
//! `cargo xtask setup`; `CHATWIRE_MODEL` names another path).

use std::path::PathBuf;
use std::sync::{Arc, OnceLock};
use std::time::Duration;

use chatwire_protocol::{ChatMessage, FinishReason, Params, Role};
use chatwire_server::engine::embedded::tokenizer::GgufTokenizer;
use chatwire_server::engine::embedded::EmbeddedEngine;
use chatwire_server::engine::{Engine, EngineEvent, GenerateRequest};
use futures::StreamExt;

fn model_path() -> PathBuf {
    let path = std::env::var_os("CHATWIRE_MODEL")
        .map(PathBuf::from)
        .unwrap_or_else(|| {
            PathBuf::from(env!("CARGO_MANIFEST_DIR"))
                .join("..")
                .join(chatwire_server::engine::embedded::DEFAULT_MODEL)
        });
    assert!(
        path.is_file(),
        "no model at {}: run `cargo xtask setup` first",
        path.display()
    );
    path
}

/// The tests share one model and its queue: one at a time.
static SERIAL: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());

fn engine() -> Arc<EmbeddedEngine> {
    static ENGINE: OnceLock<Arc<EmbeddedEngine>> = OnceLock::new();
    ENGINE
        .get_or_init(|| Arc::new(EmbeddedEngine::load(&model_path()).expect("model loads")))
        .clone()
}

fn ask(prompt: &str, params: Params) -> GenerateRequest {
    GenerateRequest {
        model: "m".into(),
        messages: vec![ChatMessage {
            role: Role::User,
            content: prompt.into(),
        }],
        params,
    }
}

fn greedy(max_tokens: u32) -> Params {
    Params {
        temperature: Some(0.0),
        max_tokens: Some(max_tokens),
        seed: Some(7),
        ..Params::default()
    }
}

async fn run(req: GenerateRequest) -> (String, Vec<EngineEvent>) {
    let events: Vec<EngineEvent> = engine()
        .generate(req)
        .map(|e| e.expect("no engine error"))
        .collect()
        .await;
    let text = events
        .iter()
        .filter_map(|e| match e {
            EngineEvent::Token(t) => Some(t.as_str()),
            _ => None,
        })
        .collect();
    (text, events)
}

#[test]
fn token_ids_equal_llama_cpp() {
    // Fixtures: llama.cpp's own tokenizer (llama-cpp-python 0.3.x,
    // `Llama.tokenize(text, add_bos=False, special=True)`) on the same GGUF.
    let mut file = std::fs::File::open(model_path()).unwrap();
    let ct = candle_core::quantized::gguf_file::Content::read(&mut file).unwrap();
    let tok = GgufTokenizer::from_gguf(&ct).unwrap();
    let fixtures: Vec<(String, Vec<u32>)> =
        serde_json::from_str(include_str!("fixtures/smollm2_tokens.json")).unwrap();
    assert!(fixtures.len() >= 8);
    for (text, ids) in fixtures {
        assert_eq!(tok.encode(&text).unwrap(), ids, "{text:?}");
    }
}

#[tokio::test]
async fn greedy_answers_are_deterministic_and_sensible() {
    let _serial = SERIAL.lock().await;
    let (a, events) = run(ask("How many days are in a week?", greedy(40))).await;
    let (b, _) = run(ask("How many days are in a week?", greedy(40))).await;
    assert_eq!(a, b, "greedy decoding with a fixed seed is deterministic");
    assert!(a.contains('7'), "{a:?}");
    assert!(matches!(
        events.last(),
        Some(EngineEvent::Done { finish_reason: FinishReason::Stop, usage }) if usage.prompt_tokens > 20 && usage.completion_tokens > 0
    ));
}

#[tokio::test]
async fn max_tokens_ends_with_length() {
    let _serial = SERIAL.lock().await;
    let (_, events) = run(ask("Write a long story about a dragon.", greedy(5))).await;
    let tokens = events
        .iter()
        .filter(|e| matches!(e, EngineEvent::Token(_)))
        .count();
    assert!(tokens <= 5);
    assert!(matches!(
        events.last(),
        Some(EngineEvent::Done { finish_reason: FinishReason::Length, usage }) if usage.completion_tokens == 5
    ));
}

#[tokio::test]
async fn a_dropped_stream_stops_generation_and_frees_the_model() {
    let _serial = SERIAL.lock().await;
    let e = engine();
    let mut stream = e.generate(ask("Write a long story about a dragon.", greedy(2000)));
    for _ in 0..3 {
        assert!(matches!(
            stream.next().await,
            Some(Ok(EngineEvent::Token(_)))
        ));
    }
    drop(stream);
    // The model is free again within a token or two: a new request is not
    // queued behind 2000 tokens.
    let started = std::time::Instant::now();
    let (text, _) = run(ask("Say hi.", greedy(8))).await;
    assert!(!text.is_empty());
    assert!(started.elapsed() < Duration::from_secs(20));
}

#[tokio::test]
async fn concurrent_requests_queue_and_are_told_so() {
    let _serial = SERIAL.lock().await;
    let e = engine();
    // A request run to its end first: a generation an earlier test dropped
    // may still be finishing its last token, and the queue is FIFO.
    run(ask("Hi.", greedy(1))).await;
    let first = e.generate(ask("Count from one to twenty.", greedy(30)));
    let mut second = e.generate(ask("Say hi.", greedy(4)));
    match second.next().await {
        Some(Ok(EngineEvent::Queued(p))) => assert_eq!(p, 1),
        other => panic!("expected queued, got {other:?}"),
    }
    drop(first);
    let rest: Vec<_> = second.collect().await;
    assert!(matches!(rest.last(), Some(Ok(EngineEvent::Done { .. }))));
}
