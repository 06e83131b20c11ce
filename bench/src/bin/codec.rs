//! Codec: how long the app's decoder takes to read a server frame, beside
//! what reading the same JSON costs at least. Natively (the browser runs
//! the same code compiled to wasm, more slowly, but in the same ratios).
//!
//! Rows, per frame kind:
//! - `ServerFrame::decode`: what the app runs (a flat `WireServerFrame`,
//!   then the variant);
//! - serde's internally tagged enum, the decoder before 2026-12-05 (the
//!   same frame types, derived with `#[serde(tag = "type")]`): it buffers
//!   each frame into a `Content` tree before reading its fields;
//! - floor: the frame's fields borrowed from the input (copied only where
//!   a string has escapes), nothing checked beyond JSON; `serde_json`
//!   cannot read the frame faster.
//!
//! `cargo xtask bench codec` (or `cargo run --release -p chatwire-bench
//! --bin codec -- [--frames N]`).

use std::borrow::Cow;
use std::hint::black_box;
use std::time::Instant;

use chatwire_protocol::ServerFrame;
use serde::Deserialize;

/// The decoder as it was: serde's internally tagged enum (the frames the
/// app receives while streaming; the rest do not change the picture).
#[allow(dead_code)]
#[derive(Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
enum Tagged {
    Start {
        id: String,
        seq: u64,
        model: String,
    },
    Delta {
        id: String,
        seq: u64,
        text: String,
    },
    End {
        id: String,
        seq: u64,
        finish_reason: String,
        #[serde(default)]
        usage: Option<Usage>,
    },
}

#[allow(dead_code)]
#[derive(Deserialize)]
struct Usage {
    prompt_tokens: u32,
    completion_tokens: u32,
}

/// The floor: every string field borrowed from the input where it has no
/// escapes (copied only where it has), nothing checked but JSON.
#[allow(dead_code)]
#[derive(Deserialize)]
struct Borrowed<'a> {
    #[serde(rename = "type", borrow)]
    kind: Cow<'a, str>,
    #[serde(borrow)]
    id: Cow<'a, str>,
    seq: u64,
    #[serde(default, borrow)]
    text: Option<Cow<'a, str>>,
    #[serde(default, borrow)]
    model: Option<Cow<'a, str>>,
    #[serde(default, borrow)]
    finish_reason: Option<Cow<'a, str>>,
}

/// Nanoseconds per frame, best of `rounds` passes over `frames`.
fn per_frame(frames: &[String], rounds: usize, mut decode: impl FnMut(&str) -> bool) -> f64 {
    let mut best = f64::INFINITY;
    for _ in 0..rounds {
        let t = Instant::now();
        for f in frames {
            assert!(decode(black_box(f)), "a frame did not decode: {f}");
        }
        best = best.min(t.elapsed().as_nanos() as f64 / frames.len() as f64);
    }
    best
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let n: usize = args
        .iter()
        .position(|a| a == "--frames")
        .and_then(|i| args.get(i + 1))
        .and_then(|v| v.parse().ok())
        .unwrap_or(100_000);
    let text = |i: usize| match i % 4 {
        0 => " token".to_string(),
        1 => "\\n\\n## Heading".to_string(),
        2 => " `code` and \\\"quotes\\\"".to_string(),
        _ => " 你好".to_string(),
    };
    let kinds: [(&str, Vec<String>); 3] = [
        (
            "delta",
            (0..n)
                .map(|i| {
                    format!(
                        r#"{{"type":"delta","id":"r17-3","seq":{},"text":"{}"}}"#,
                        i + 1,
                        text(i)
                    )
                })
                .collect(),
        ),
        (
            "start",
            (0..n)
                .map(|i| format!(r#"{{"type":"start","id":"r{i}","seq":0,"model":"smollm2-135m"}}"#))
                .collect(),
        ),
        (
            "end",
            (0..n)
                .map(|i| {
                    format!(
                        r#"{{"type":"end","id":"r{i}","seq":412,"finish_reason":"stop","usage":{{"prompt_tokens":31,"completion_tokens":411}}}}"#
                    )
                })
                .collect(),
        ),
    ];
    let rounds = 7;
    println!("Server frame decoding, native, {n} frames per kind, best of {rounds} passes (ns per frame)");
    println!();
    println!("| frame | `ServerFrame::decode` (the app) | serde internally tagged enum (before) | floor: fields borrowed, nothing checked | app / floor |");
    println!("|:--|--:|--:|--:|--:|");
    for (kind, frames) in &kinds {
        let app = per_frame(frames, rounds, |f| ServerFrame::decode(f).is_ok());
        let tagged = per_frame(frames, rounds, |f| {
            serde_json::from_str::<Tagged>(f).is_ok()
        });
        let floor = per_frame(frames, rounds, |f| {
            serde_json::from_str::<Borrowed>(f).is_ok()
        });
        println!(
            "| {kind} | {app:.0} | {tagged:.0} | {floor:.0} | {:.2} |",
            app / floor
        );
    }
}
