//! The `scripted` engine: a deterministic generator for tests, demos and
//! benchmarks. It is not a language model and says so in the model list.
//!
//! It replies with a fixed text (`--scripted-reply`) or with N synthetic
//! markdown tokens, at a set rate. The last user message may carry
//! directives that override the defaults for that reply:
//!
//! | directive     | meaning                                              |
//! |---------------|------------------------------------------------------|
//! | `!tokens=N`   | reply with N synthetic tokens                        |
//! | `!tps=F`      | tokens per second (0 = as fast as possible)          |
//! | `!delay_ms=N` | wait N ms before the first token                     |
//! | `!error=K`    | fail with an `engine` error after K tokens            |
//! | `!echo`       | reply with the prompt's text after its first line     |
//! | `!chunk=N`    | with `!echo`: tokens of N characters, not words        |
//! | `!pause_at=K` | pause before token K (for `!pause_ms`, 1 s by default) |
//! | `!pause_ms=N` | how long `!pause_at` pauses                          |
//!
//! `max_tokens` caps the reply (finish reason `length`).

use std::time::Duration;

use chatwire_protocol::{ErrorCode, FinishReason, ModelInfo, Role, Usage};
use futures::stream;
use tokio::time::Instant;

use super::{Engine, EngineError, EngineEvent, EngineStream, GenerateRequest};

pub const MODEL_ID: &str = "scripted";

/// Words the synthetic reply cycles through: markdown with paragraphs,
/// emphasis, a list and a code block, so renderers get realistic input.
const WORDS: &[&str] = &[
    "The",
    "quick",
    "**brown**",
    "fox",
    "jumps",
    "over",
    "the",
    "*lazy*",
    "dog.",
    "It",
    "was",
    "`inline`",
    "code.\n\n-",
    "first",
    "item\n-",
    "second",
    "item\n\n```rust\nfn",
    "main()",
    "{}\n```\n\nAnd",
    "so",
    "the",
    "story",
    "goes",
    "on.\n\n",
];

#[derive(Debug, Clone)]
pub struct ScriptedConfig {
    /// Fixed reply text; split into tokens at word boundaries.
    pub reply: Option<String>,
    /// Number of synthetic tokens when there is no fixed reply.
    pub tokens: usize,
    /// Tokens per second; 0 sends as fast as possible.
    pub tokens_per_second: f64,
}

impl Default for ScriptedConfig {
    fn default() -> Self {
        Self {
            reply: None,
            tokens: 48,
            tokens_per_second: 25.0,
        }
    }
}

pub struct ScriptedEngine {
    config: ScriptedConfig,
}

impl ScriptedEngine {
    pub fn new(config: ScriptedConfig) -> Self {
        Self { config }
    }
}

/// The plan of one scripted reply, fixed before the first token.
#[derive(Debug, Clone, PartialEq)]
struct Plan {
    tokens: Vec<String>,
    interval: Option<Duration>,
    delay: Duration,
    /// A pause before this token, this long: every token from it on is
    /// due that much later.
    pause: Option<(usize, Duration)>,
    fail_after: Option<usize>,
    finish_reason: FinishReason,
    prompt_tokens: u32,
}

/// Splits text into tokens that keep their trailing whitespace, so that
/// concatenating them gives the text back exactly.
fn split_words(text: &str) -> Vec<String> {
    let mut tokens = Vec::new();
    let mut current = String::new();
    let mut in_space = false;
    for c in text.chars() {
        if !c.is_whitespace() && in_space {
            tokens.push(std::mem::take(&mut current));
        }
        in_space = c.is_whitespace();
        current.push(c);
    }
    if !current.is_empty() {
        tokens.push(current);
    }
    tokens
}

/// Splits text into tokens of `n` characters (the last may be shorter).
fn split_chars(text: &str, n: usize) -> Vec<String> {
    let chars: Vec<char> = text.chars().collect();
    chars.chunks(n.max(1)).map(|c| c.iter().collect()).collect()
}

/// `!echo` on the prompt's first line: the rest of the prompt.
fn echo(prompt: &str) -> Option<&str> {
    let (first, rest) = prompt.split_once('\n')?;
    first
        .split_whitespace()
        .any(|w| w == "!echo")
        .then_some(rest)
}

fn synthetic(n: usize) -> Vec<String> {
    (0..n)
        .map(|i| {
            let w = WORDS[i % WORDS.len()];
            if w.ends_with('\n') {
                w.to_owned()
            } else {
                format!("{w} ")
            }
        })
        .collect()
}

fn directive<T: std::str::FromStr>(prompt: &str, key: &str) -> Option<T> {
    prompt
        .split_whitespace()
        .filter_map(|w| w.strip_prefix('!')?.strip_prefix(key)?.strip_prefix('='))
        .find_map(|v| v.parse().ok())
}

impl ScriptedEngine {
    fn plan(&self, req: &GenerateRequest) -> Plan {
        let prompt = req
            .messages
            .iter()
            .rev()
            .find(|m| m.role == Role::User)
            .map(|m| m.content.as_str())
            .unwrap_or("");
        let n = directive::<usize>(prompt, "tokens");
        let first_line = prompt.lines().next().unwrap_or("");
        let mut tokens = match (echo(prompt), &self.config.reply, n) {
            (Some(text), _, _) => match directive::<usize>(first_line, "chunk") {
                Some(size) => split_chars(text, size),
                None => split_words(text),
            },
            (None, Some(text), None) => split_words(text),
            (None, _, n) => synthetic(n.unwrap_or(self.config.tokens)),
        };
        let mut finish_reason = FinishReason::Stop;
        if let Some(max) = req.params.max_tokens {
            if tokens.len() > max as usize {
                tokens.truncate(max as usize);
                finish_reason = FinishReason::Length;
            }
        }
        let tps = directive::<f64>(prompt, "tps").unwrap_or(self.config.tokens_per_second);
        let interval = (tps > 0.0 && tps.is_finite()).then(|| Duration::from_secs_f64(1.0 / tps));
        let prompt_chars: usize = req.messages.iter().map(|m| m.content.len()).sum();
        Plan {
            tokens,
            interval,
            delay: Duration::from_millis(directive(prompt, "delay_ms").unwrap_or(0)),
            pause: directive::<usize>(prompt, "pause_at").map(|k| {
                (
                    k,
                    Duration::from_millis(directive(prompt, "pause_ms").unwrap_or(1000)),
                )
            }),
            fail_after: directive(prompt, "error"),
            finish_reason,
            // A rough count (4 bytes a token) for the usage report.
            prompt_tokens: u32::try_from(prompt_chars.div_ceil(4)).unwrap_or(u32::MAX),
        }
    }
}

struct Cursor {
    plan: Plan,
    next: usize,
    start: Option<Instant>,
    done: bool,
}

impl Engine for ScriptedEngine {
    fn models(&self) -> Vec<ModelInfo> {
        vec![ModelInfo {
            id: MODEL_ID.into(),
            name: "Scripted (deterministic test generator, not a language model)".into(),
            engine: "scripted".into(),
            context_length: None,
        }]
    }

    fn generate(&self, req: GenerateRequest) -> EngineStream {
        let cursor = Cursor {
            plan: self.plan(&req),
            next: 0,
            start: None,
            done: false,
        };
        Box::pin(stream::unfold(cursor, |mut c| async move {
            if c.done {
                return None;
            }
            let start = *c.start.get_or_insert_with(|| Instant::now() + c.plan.delay);
            if c.plan.fail_after == Some(c.next) {
                c.done = true;
                let err = EngineError::new(
                    ErrorCode::Engine,
                    format!(
                        "scripted failure after {} tokens (!error directive)",
                        c.next
                    ),
                );
                return Some((Err(err), c));
            }
            let Some(token) = c.plan.tokens.get(c.next).cloned() else {
                c.done = true;
                let usage = Usage {
                    prompt_tokens: c.plan.prompt_tokens,
                    completion_tokens: u32::try_from(c.next).unwrap_or(u32::MAX),
                };
                let finish_reason = c.plan.finish_reason;
                return Some((
                    Ok(EngineEvent::Done {
                        finish_reason,
                        usage,
                    }),
                    c,
                ));
            };
            // Tokens are due on a fixed schedule from the start, so the rate
            // does not drift with scheduling delays.
            let start = match c.plan.pause {
                Some((k, pause)) if c.next >= k => start + pause,
                _ => start,
            };
            match c.plan.interval {
                Some(iv) => tokio::time::sleep_until(start + iv * (c.next as u32)).await,
                None => {
                    tokio::time::sleep_until(start).await;
                    // Cooperative, but not on every token: a burst is
                    // as fast as the engine can go.
                    if c.next % 32 == 0 {
                        tokio::task::yield_now().await;
                    }
                }
            }
            c.next += 1;
            Some((Ok(EngineEvent::Token(token)), c))
        }))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chatwire_protocol::{ChatMessage, Params};
    use futures::StreamExt;

    fn req(prompt: &str, params: Params) -> GenerateRequest {
        GenerateRequest {
            model: MODEL_ID.into(),
            messages: vec![ChatMessage {
                role: Role::User,
                content: prompt.into(),
            }],
            params,
        }
    }

    async fn run(
        engine: &ScriptedEngine,
        r: GenerateRequest,
    ) -> Vec<Result<EngineEvent, EngineError>> {
        engine.generate(r).collect().await
    }

    #[test]
    fn split_words_round_trips() {
        let text = "Hello,  world!\nThis is\tchatwire. ";
        let tokens = split_words(text);
        assert_eq!(tokens.concat(), text);
        assert_eq!(tokens[0], "Hello,  ");
    }

    #[test]
    fn echo_replies_with_the_rest_of_the_prompt() {
        let engine = ScriptedEngine::new(ScriptedConfig::default());
        let text = "<img src=x onerror=alert(1)>\n\n中文 **b**";
        let plan = engine.plan(&req(
            &format!("!echo !chunk=3 !tps=0\n{text}"),
            Params::default(),
        ));
        assert_eq!(plan.tokens.concat(), text);
        assert!(plan.tokens.iter().all(|t| t.chars().count() <= 3));
        assert_eq!(plan.interval, None);
        let plan = engine.plan(&req(&format!("!echo\n{text}"), Params::default()));
        assert_eq!(plan.tokens, split_words(text));
        // `!echo` counts only on the first line.
        let plan = engine.plan(&req("hi\n!echo", Params::default()));
        assert_eq!(plan.tokens.len(), 48);
    }

    #[tokio::test]
    async fn fixed_reply_streams_exactly_then_ends() {
        let engine = ScriptedEngine::new(ScriptedConfig {
            reply: Some("one two three".into()),
            tokens: 0,
            tokens_per_second: 0.0,
        });
        let events = run(&engine, req("hi", Params::default())).await;
        let text: String = events
            .iter()
            .filter_map(|e| match e {
                Ok(EngineEvent::Token(t)) => Some(t.as_str()),
                _ => None,
            })
            .collect();
        assert_eq!(text, "one two three");
        assert!(matches!(
            events.last(),
            Some(Ok(EngineEvent::Done { finish_reason: FinishReason::Stop, usage })) if usage.completion_tokens == 3
        ));
    }

    #[tokio::test]
    async fn directives_and_max_tokens_shape_the_reply() {
        let engine = ScriptedEngine::new(ScriptedConfig::default());
        let events = run(
            &engine,
            req(
                "!tokens=10 !tps=0 go",
                Params {
                    max_tokens: Some(4),
                    ..Default::default()
                },
            ),
        )
        .await;
        assert_eq!(events.len(), 5);
        assert!(matches!(
            events[4],
            Ok(EngineEvent::Done {
                finish_reason: FinishReason::Length,
                ..
            })
        ));
    }

    #[tokio::test]
    async fn error_directive_fails_after_k_tokens() {
        let engine = ScriptedEngine::new(ScriptedConfig::default());
        let events = run(&engine, req("!tps=0 !error=2", Params::default())).await;
        assert_eq!(events.len(), 3);
        assert!(matches!(&events[2], Err(e) if e.code == ErrorCode::Engine));
    }

    #[tokio::test(start_paused = true)]
    async fn tokens_follow_the_rate() {
        let engine = ScriptedEngine::new(ScriptedConfig::default());
        let t0 = Instant::now();
        let events = run(&engine, req("!tokens=11 !tps=10", Params::default())).await;
        assert_eq!(events.len(), 12);
        // 11 tokens at 10/s: the last is due 1 s after the first.
        assert_eq!(Instant::now() - t0, Duration::from_secs(1));
    }

    #[tokio::test(start_paused = true)]
    async fn a_pause_holds_the_tokens_from_where_it_is() {
        let engine = ScriptedEngine::new(ScriptedConfig::default());
        let t0 = Instant::now();
        let mut stream = engine.generate(req(
            "!tokens=6 !tps=0 !pause_at=4 !pause_ms=2500",
            Params::default(),
        ));
        for _ in 0..4 {
            assert!(matches!(
                stream.next().await,
                Some(Ok(EngineEvent::Token(_)))
            ));
        }
        assert_eq!(Instant::now() - t0, Duration::ZERO);
        assert!(matches!(
            stream.next().await,
            Some(Ok(EngineEvent::Token(_)))
        ));
        assert_eq!(Instant::now() - t0, Duration::from_millis(2500));
        let rest: Vec<_> = stream.collect().await;
        assert_eq!(rest.len(), 2);
        assert_eq!(Instant::now() - t0, Duration::from_millis(2500));
    }
}
