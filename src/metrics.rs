//! Per-reply figures: time to first token, speed, token counts and why the
//! reply ended. Measured in the browser (what the user waited), token
//! counts from the backend where it reports them.

use serde::{Deserialize, Serialize};

use crate::i18n::tr;

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct ReplyMetrics {
    /// When the request went out (ms since the epoch).
    pub sent_ms: u64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub first_token_ms: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ended_ms: Option<u64>,
    /// Text frames received (a frame may hold several tokens).
    #[serde(default)]
    pub chunks: u32,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub prompt_tokens: Option<u32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub completion_tokens: Option<u32>,
    /// `complete`, `length`, `cancelled` or `failed`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub finish: Option<String>,
}

impl ReplyMetrics {
    pub fn new(sent_ms: u64) -> Self {
        Self {
            sent_ms,
            ..Self::default()
        }
    }

    /// A piece of text arrived at `now_ms`.
    pub fn on_chunk(&mut self, now_ms: u64) {
        self.first_token_ms.get_or_insert(now_ms);
        self.chunks += 1;
    }

    /// The reply ended at `now_ms`.
    pub fn on_end(&mut self, now_ms: u64, finish: &str, usage: Option<(u32, u32)>) {
        self.ended_ms = Some(now_ms);
        self.finish = Some(finish.to_owned());
        if let Some((prompt, completion)) = usage {
            self.prompt_tokens = Some(prompt);
            self.completion_tokens = Some(completion);
        }
    }

    /// Time to first token.
    pub fn ttft_ms(&self) -> Option<u64> {
        self.first_token_ms.map(|t| t.saturating_sub(self.sent_ms))
    }

    /// Tokens per second while streaming (from the first token to the
    /// end), and its unit: tokens when the backend counted them, frames
    /// otherwise. `None` when too short to measure.
    pub fn rate(&self) -> Option<(f64, &'static str)> {
        let first = self.first_token_ms?;
        let span_ms = self.ended_ms?.saturating_sub(first);
        let (count, unit) = match self.completion_tokens {
            Some(n) => (n, "tok/s"),
            None => (self.chunks, "chunks/s"),
        };
        // The first token opens the span; the rest arrive within it.
        (span_ms >= 1 && count >= 2).then(|| (f64::from(count - 1) * 1000.0 / span_ms as f64, unit))
    }

    /// One unobtrusive line, e.g. `first token 0.42 s · 38.1 tok/s ·
    /// 120 tokens (prompt 35) · complete`.
    pub fn summary(&self) -> String {
        let mut parts = Vec::new();
        if let Some(t) = self.ttft_ms() {
            let s = t as f64 / 1000.0;
            parts.push(trf!("first token {s:.2} s", "首个 token {s:.2} 秒"));
        }
        if let Some((r, unit)) = self.rate() {
            parts.push(format!("{r:.1} {unit}"));
        }
        match (self.completion_tokens, self.prompt_tokens) {
            (Some(c), Some(p)) => {
                parts.push(trf!("{c} tokens (prompt {p})", "{c} 个 token（提示 {p}）"))
            }
            _ if self.chunks > 0 => {
                let n = self.chunks;
                parts.push(trf!("{n} chunks", "{n} 个片段"));
            }
            _ => {}
        }
        if let Some(f) = &self.finish {
            parts.push(
                match f.as_str() {
                    "complete" => tr("complete", "已完成"),
                    "length" => tr("length", "达到长度上限"),
                    "cancelled" => tr("cancelled", "已取消"),
                    "failed" => tr("failed", "失败"),
                    other => other,
                }
                .to_owned(),
            );
        }
        parts.join(" · ")
    }
}

/// The settings a reply was asked with, as one line (shown on hover):
/// `model scripted · temperature 0.7 · top_p 0.9 · max_tokens 512`.
pub fn asked_with(params: &chatwire_protocol::Params, model: Option<&str>) -> String {
    let mut parts = Vec::new();
    if let Some(m) = model {
        parts.push(trf!("model {m}", "模型 {m}"));
    }
    if let Some(t) = params.temperature {
        parts.push(format!("temperature {t}"));
    }
    if let Some(p) = params.top_p {
        parts.push(format!("top_p {p}"));
    }
    if let Some(n) = params.max_tokens {
        parts.push(format!("max_tokens {n}"));
    }
    if let Some(r) = params.repetition_penalty {
        parts.push(format!("repetition_penalty {r}"));
    }
    parts.join(" · ")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn figures_from_a_streamed_reply() {
        let mut m = ReplyMetrics::new(1_000);
        assert_eq!(m.ttft_ms(), None);
        for t in [1_420, 1_520, 1_620] {
            m.on_chunk(t);
        }
        m.on_end(1_620, "complete", Some((35, 21)));
        assert_eq!(m.ttft_ms(), Some(420));
        // 20 tokens after the first in 0.2 s.
        assert_eq!(m.rate(), Some((100.0, "tok/s")));
        assert_eq!(
            m.summary(),
            "first token 0.42 s · 100.0 tok/s · 21 tokens (prompt 35) · complete"
        );
        let back: ReplyMetrics = serde_json::from_str(&serde_json::to_string(&m).unwrap()).unwrap();
        assert_eq!(back, m);
    }

    #[test]
    fn the_settings_asked_with() {
        let p = chatwire_protocol::Params {
            temperature: Some(0.3),
            top_p: Some(0.9),
            max_tokens: Some(64),
            ..Default::default()
        };
        assert_eq!(
            asked_with(&p, Some("scripted")),
            "model scripted · temperature 0.3 · top_p 0.9 · max_tokens 64"
        );
        assert_eq!(asked_with(&Default::default(), None), "");
    }

    #[test]
    fn without_usage_it_counts_frames_and_says_so() {
        let mut m = ReplyMetrics::new(0);
        m.on_chunk(100);
        m.on_chunk(600);
        m.on_end(600, "length", None);
        assert_eq!(m.rate(), Some((2.0, "chunks/s")));
        assert_eq!(
            m.summary(),
            "first token 0.10 s · 2.0 chunks/s · 2 chunks · length"
        );
        // One frame, or no time: no speed rather than a made-up one.
        let mut one = ReplyMetrics::new(0);
        one.on_chunk(50);
        one.on_end(50, "complete", None);
        assert_eq!(one.rate(), None);
        let mut failed = ReplyMetrics::new(0);
        failed.on_end(10, "failed", None);
        assert_eq!(failed.summary(), "failed");
    }
}
