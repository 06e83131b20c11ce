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
        .get_or_init(|| Arc::new(EmbeddedEngine::load(&model_path(), 0).expect("model loads")))
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

#[test]
fn logits_agree_with_llama_cpp_along_its_greedy_reply() {
    // Fixture: llama.cpp (llama-cpp-python 0.3.36, 1 thread, logits_all) on
    // the same GGUF: for the bench prompt followed by llama.cpp's 64-token
    // greedy reply, at each position its best next token and logit and the
    // runner-up's. Our model is fed the same tokens one by one (as when
    // decoding) and must agree.
    use chatwire_server::engine::embedded::llama::Llama;
    let fixture: serde_json::Value =
        serde_json::from_str(include_str!("fixtures/smollm2_llama_cpp_logits.json")).unwrap();
    let ids = |v: &serde_json::Value| -> Vec<u32> {
        v.as_array()
            .unwrap()
            .iter()
            .map(|t| t.as_u64().unwrap() as u32)
            .collect()
    };
    let prompt = ids(&fixture["prompt"]);
    let reply = ids(&fixture["reply"]);
    let steps = fixture["steps"].as_array().unwrap();
    let mut file = std::fs::File::open(model_path()).unwrap();
    let ct = candle_core::quantized::gguf_file::Content::read(&mut file).unwrap();
    let mut model = Llama::load(&ct, &mut file, 2).expect("the model loads");
    let mut logits = model.forward(&prompt, 0).unwrap();
    let (mut agreed, mut worst) = (0, 0f32);
    for (i, step) in steps.iter().enumerate() {
        let best = step["next"].as_u64().unwrap() as usize;
        let logit = step["logit"].as_f64().unwrap() as f32;
        let margin = logit - step["second_logit"].as_f64().unwrap() as f32;
        let ours = logits
            .iter()
            .enumerate()
            .fold(
                (0, f32::MIN),
                |b, (i, v)| if *v > b.1 { (i, *v) } else { b },
            )
            .0;
        // The same best token wherever llama.cpp's choice is not a near tie
        // (its own batch and token-by-token runs differ on those).
        if margin > 0.2 {
            assert_eq!(
                ours, best,
                "step {i}: llama.cpp's best is {best} by {margin}"
            );
            agreed += 1;
        }
        worst = worst.max((logits[best] - logit).abs());
        assert!(
            (logits[best] - logit).abs() < 1.0,
            "step {i}: token {best}'s logit {} vs llama.cpp's {logit}",
            logits[best]
        );
        logits = model.forward(&reply[i..=i], prompt.len() + i).unwrap();
    }
    println!("{agreed} clear choices agreed; largest logit difference {worst:.3}");
    // Measured: 57 of 64 steps are clear, all agreed; logits differ by 0.2
    // typically, 0.87 at most (llama.cpp's batch kernels round differently).
    assert!(agreed >= 50);
}

/// Not a check: prints the raw model's decode rate (the engine benchmark,
/// `cargo xtask bench engine`, is the measurement; this is for profiling).
#[test]
#[ignore = "prints a rate; run it by name"]
fn decode_rate() {
    use chatwire_server::engine::embedded::llama::Llama;
    let mut file = std::fs::File::open(model_path()).unwrap();
    let ct = candle_core::quantized::gguf_file::Content::read(&mut file).unwrap();
    let threads = std::env::var("THREADS").map_or(1, |t| t.parse().unwrap());
    let mut model = Llama::load(&ct, &mut file, threads).unwrap();
    let prompt: Vec<u32> = (0..42).map(|i| 300 + i).collect();
    let t0 = std::time::Instant::now();
    model.forward(&prompt, 0).unwrap();
    let prefill = t0.elapsed();
    let t1 = std::time::Instant::now();
    for i in 0..128 {
        model
            .forward(&[400 + i], prompt.len() + i as usize)
            .unwrap();
    }
    let decode = t1.elapsed();
    println!(
        "{threads} threads: prefill 42 tokens: {:.1} ms; decode: {:.1} tokens/s",
        prefill.as_secs_f64() * 1e3,
        128.0 / decode.as_secs_f64()
    );
}
