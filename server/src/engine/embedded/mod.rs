//! The `embedded` engine: a llama-family GGUF model (SmolLM2-135M-Instruct
//! by default) run on the CPU, in this process.
//!
//! - Loading: the GGUF is read once; Q4_0, Q4_1 and Q8_0 weights stay in
//!   their blocks (`quant`), other formats become Q8_0; the transformer is
//!   computed on them directly (`llama`). candle reads the file's header and
//!   odd formats, and samples.
//! - One worker thread owns the model and serves requests in order; waiting
//!   requests are told their position (`queued`).
//! - Each token is decoded to its own bytes and streamed as soon as it
//!   completes a UTF-8 character (no re-decoding of the whole output).
//! - A request whose stream is dropped (cancel, closed socket) stops before
//!   the next token.

pub mod chat;
pub mod llama;
pub mod pool;
pub mod quant;
pub mod tokenizer;

use std::collections::VecDeque;
use std::path::Path;
use std::sync::{Arc, Condvar, Mutex, PoisonError};
use std::time::{SystemTime, UNIX_EPOCH};

use candle_core::quantized::gguf_file::Content;
use candle_core::{Device, Tensor};
use candle_transformers::generation::{LogitsProcessor, Sampling};
use chatwire_protocol::{ErrorCode, FinishReason, ModelInfo, Usage};
use tokio::sync::mpsc;

use super::{Engine, EngineError, EngineEvent, EngineStream, GenerateRequest};
use chat::ChatMl;
use llama::Llama;
use tokenizer::{GgufTokenizer, Utf8Stream};

/// Defaults when a request leaves a parameter out.
const DEFAULT_TEMPERATURE: f64 = 0.7;
const DEFAULT_TOP_P: f64 = 0.9;
const DEFAULT_MAX_TOKENS: usize = 512;
const DEFAULT_REPETITION_PENALTY: f32 = 1.1;
/// How many recent tokens the repetition penalty looks at.
const REPEAT_LAST_N: usize = 64;

type Reply = mpsc::Sender<Result<EngineEvent, EngineError>>;

struct Job {
    req: GenerateRequest,
    tx: Reply,
}

#[derive(Default)]
struct Queue {
    jobs: VecDeque<Job>,
    busy: bool,
}

struct Shared {
    queue: Mutex<Queue>,
    ready: Condvar,
}

pub struct EmbeddedEngine {
    info: ModelInfo,
    shared: Arc<Shared>,
}

struct Loaded {
    model: Llama,
    tokenizer: GgufTokenizer,
    template: ChatMl,
    context_length: usize,
}

fn err(code: ErrorCode, msg: impl Into<String>) -> EngineError {
    EngineError::new(code, msg)
}

fn load(path: &Path, threads: usize) -> Result<Loaded, String> {
    let mut file = std::fs::File::open(path).map_err(|e| format!("{}: {e}", path.display()))?;
    let ct = Content::read(&mut file)
        .map_err(|e| format!("{}: not a GGUF file: {e}", path.display()))?;
    let tokenizer = GgufTokenizer::from_gguf(&ct)?;
    let template = ChatMl::from_template(
        ct.metadata
            .get("tokenizer.chat_template")
            .and_then(|v| v.to_string().ok())
            .map(String::as_str),
    )?;
    let model = Llama::load(&ct, &mut std::io::BufReader::new(file), threads)
        .map_err(|e| format!("cannot load the model: {e}"))?;
    Ok(Loaded {
        context_length: model.config.context,
        model,
        tokenizer,
        template,
    })
}

impl EmbeddedEngine {
    /// Loads the model (a few seconds) and starts its worker thread;
    /// inference uses `threads` CPU threads (0: one per core).
    pub fn load(path: &Path, threads: usize) -> Result<Self, String> {
        let started = std::time::Instant::now();
        let threads = if threads == 0 {
            std::thread::available_parallelism().map_or(1, usize::from)
        } else {
            threads
        };
        let loaded = load(path, threads)?;
        let id = path
            .file_stem()
            .and_then(|s| s.to_str())
            .unwrap_or("embedded")
            .to_owned();
        tracing::info!(model = %id, context = loaded.context_length, threads, secs = started.elapsed().as_secs_f32(), "embedded model loaded");
        let info = ModelInfo {
            name: format!("{id} (embedded, CPU)"),
            id,
            engine: "embedded".into(),
            context_length: u32::try_from(loaded.context_length).ok(),
        };
        let shared = Arc::new(Shared {
            queue: Mutex::new(Queue::default()),
            ready: Condvar::new(),
        });
        let worker = Arc::clone(&shared);
        std::thread::Builder::new()
            .name("embedded-model".into())
            .spawn(move || serve(loaded, &worker))
            .map_err(|e| format!("cannot start the model thread: {e}"))?;
        Ok(Self { info, shared })
    }
}

/// The worker: takes jobs in order, tells the waiting ones where they are.
fn serve(mut loaded: Loaded, shared: &Shared) {
    loop {
        let job = {
            let mut q = shared.queue.lock().unwrap_or_else(PoisonError::into_inner);
            q.busy = false;
            while q.jobs.is_empty() {
                q = shared.ready.wait(q).unwrap_or_else(PoisonError::into_inner);
            }
            let job = q.jobs.pop_front();
            q.busy = true;
            for (i, waiting) in q.jobs.iter().enumerate() {
                let _ = waiting.tx.try_send(Ok(EngineEvent::Queued(
                    u32::try_from(i + 1).unwrap_or(u32::MAX),
                )));
            }
            job
        };
        let Some(job) = job else { continue };
        if job.tx.is_closed() {
            continue;
        }
        let result = generate(&mut loaded, &job.req, &job.tx);
        if let Err(e) = result {
            let _ = job.tx.blocking_send(Err(e));
        }
        // Idle before the reply's stream ends: whoever sees the end and asks
        // again is told the true queue position (0, not 1).
        shared
            .queue
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .busy = false;
        drop(job);
    }
}

fn seed_for(req: &GenerateRequest) -> u64 {
    req.params.seed.unwrap_or_else(|| {
        SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0, |d| d.as_nanos() as u64)
    })
}

fn sampler(req: &GenerateRequest) -> LogitsProcessor {
    let temperature = req
        .params
        .temperature
        .map_or(DEFAULT_TEMPERATURE, f64::from);
    let top_p = req.params.top_p.map_or(DEFAULT_TOP_P, f64::from);
    let sampling = if temperature <= 0.0 {
        Sampling::ArgMax
    } else if top_p < 1.0 {
        Sampling::TopP {
            p: top_p,
            temperature,
        }
    } else {
        Sampling::All { temperature }
    };
    LogitsProcessor::from_sampling(seed_for(req), sampling)
}

fn generate(m: &mut Loaded, req: &GenerateRequest, tx: &Reply) -> Result<(), EngineError> {
    let max_tokens = req
        .params
        .max_tokens
        .map_or(DEFAULT_MAX_TOKENS, |n| n as usize);
    // Drop the oldest turns until the prompt and the reply fit the context.
    let mut first = 0;
    let ids = loop {
        let messages = &req.messages[first..];
        let ids = m
            .tokenizer
            .encode(&m.template.prompt(messages))
            .map_err(|e| err(ErrorCode::Internal, e))?;
        if ids.len() + max_tokens <= m.context_length || first + 1 >= req.messages.len() {
            break ids;
        }
        first += 1;
    };
    if ids.len() >= m.context_length {
        return Err(err(
            ErrorCode::InvalidParams,
            format!(
                "the message is {} tokens; the model's context is {}",
                ids.len(),
                m.context_length
            ),
        ));
    }
    let max_tokens = max_tokens.min(m.context_length - ids.len());
    let penalty = req
        .params
        .repetition_penalty
        .unwrap_or(DEFAULT_REPETITION_PENALTY);
    let mut sampler = sampler(req);
    let mut text = Utf8Stream::default();
    let mut generated: Vec<u32> = Vec::new();
    let device = Device::Cpu;

    let engine_err = |e: String| err(ErrorCode::Engine, format!("the model failed: {e}"));
    let tensor_err =
        |e: candle_core::Error| err(ErrorCode::Engine, format!("the model failed: {e}"));
    let mut logits = m.model.forward(&ids, 0).map_err(engine_err)?;
    let mut pos = ids.len();
    let finish_reason = loop {
        if tx.is_closed() {
            return Ok(());
        }
        let mut l = Tensor::from_vec(logits, m.model.config.vocab, &device).map_err(tensor_err)?;
        if (penalty - 1.0).abs() > f32::EPSILON {
            let start = generated.len().saturating_sub(REPEAT_LAST_N);
            l = candle_transformers::utils::apply_repeat_penalty(&l, penalty, &generated[start..])
                .map_err(tensor_err)?;
        }
        let next = sampler.sample(&l).map_err(tensor_err)?;
        if next == m.tokenizer.eos || m.tokenizer.is_control(next) {
            break FinishReason::Stop;
        }
        generated.push(next);
        let piece = text.push(m.tokenizer.token_bytes(next));
        if !piece.is_empty() && tx.blocking_send(Ok(EngineEvent::Token(piece))).is_err() {
            return Ok(());
        }
        if generated.len() >= max_tokens {
            break FinishReason::Length;
        }
        logits = m.model.forward(&[next], pos).map_err(engine_err)?;
        pos += 1;
    };
    let rest = text.finish();
    if !rest.is_empty() {
        let _ = tx.blocking_send(Ok(EngineEvent::Token(rest)));
    }
    let usage = Usage {
        prompt_tokens: u32::try_from(ids.len()).unwrap_or(u32::MAX),
        completion_tokens: u32::try_from(generated.len()).unwrap_or(u32::MAX),
    };
    let _ = tx.blocking_send(Ok(EngineEvent::Done {
        finish_reason,
        usage,
    }));
    Ok(())
}

impl Engine for EmbeddedEngine {
    fn models(&self) -> Vec<ModelInfo> {
        vec![self.info.clone()]
    }

    fn generate(&self, req: GenerateRequest) -> EngineStream {
        let (tx, rx) = mpsc::channel(64);
        {
            let mut q = self
                .shared
                .queue
                .lock()
                .unwrap_or_else(PoisonError::into_inner);
            let ahead = q.jobs.len() + usize::from(q.busy);
            if ahead > 0 {
                let _ = tx.try_send(Ok(EngineEvent::Queued(
                    u32::try_from(ahead).unwrap_or(u32::MAX),
                )));
            }
            q.jobs.push_back(Job { req, tx });
        }
        self.shared.ready.notify_one();
        Box::pin(futures::stream::unfold(rx, |mut rx| async move {
            rx.recv().await.map(|item| (item, rx))
        }))
    }
}

/// Where `cargo xtask setup` puts the default model, relative to the
/// workspace root.
pub const DEFAULT_MODEL: &str = ".cache/models/SmolLM2-135M-Instruct.Q4_1.gguf";
