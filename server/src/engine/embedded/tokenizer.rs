//! The tokenizer of a GGUF model, built from its metadata with the
//! `tokenizers` crate: byte-level BPE (`tokenizer.ggml.model = gpt2`), the
//! pre-tokenizer `tokenizer.ggml.pre` names, control tokens registered as
//! special. Also the id -> bytes table for exact incremental decoding.

use std::collections::{HashMap, HashSet};

use candle_core::quantized::gguf_file::{Content, Value};
use tokenizers::decoders::byte_level::ByteLevel as ByteLevelDecoder;
use tokenizers::models::bpe::BPE;
use tokenizers::pre_tokenizers::byte_level::ByteLevel;
use tokenizers::pre_tokenizers::sequence::Sequence;
use tokenizers::pre_tokenizers::split::{Split, SplitPattern};
use tokenizers::{AddedToken, PreTokenizerWrapper, SplitDelimiterBehavior, Tokenizer};

/// GGUF token type of control tokens (`<|im_start|>` and the like).
const TOKEN_TYPE_CONTROL: i32 = 3;

pub struct GgufTokenizer {
    pub tokenizer: Tokenizer,
    /// The raw bytes each id stands for (empty for control tokens).
    bytes: Vec<Vec<u8>>,
    /// Control tokens by text.
    pub control: HashMap<String, u32>,
    /// The same ids, for the per-token check.
    control_ids: HashSet<u32>,
    pub eos: u32,
}

fn strings(ct: &Content, key: &str) -> Result<Vec<String>, String> {
    match ct.metadata.get(key) {
        Some(Value::Array(items)) => items
            .iter()
            .map(|v| match v {
                Value::String(s) => Ok(s.clone()),
                _ => Err(format!("{key}: expected strings")),
            })
            .collect(),
        _ => Err(format!("the model has no {key}")),
    }
}

fn meta_str<'a>(ct: &'a Content, key: &str) -> Option<&'a str> {
    ct.metadata
        .get(key)
        .and_then(|v| v.to_string().ok())
        .map(String::as_str)
}

/// GPT-2's map from bytes to the printable characters byte-level BPE
/// vocabularies are written in.
fn bytes_to_unicode() -> [char; 256] {
    let mut map = ['\0'; 256];
    let mut n = 0u32;
    for b in 0..=255u32 {
        let printable =
            (33..=126).contains(&b) || (161..=172).contains(&b) || (174..=255).contains(&b);
        let c = if printable {
            b
        } else {
            n += 1;
            255 + n
        };
        map[b as usize] = char::from_u32(c).unwrap_or('\0');
    }
    map
}

/// The regexes of llama.cpp's pre-tokenizer types, applied in sequence
/// before the byte-level split.
fn pre_splits(pre: &str) -> Result<Vec<&'static str>, String> {
    match pre {
        // GPT-2 style, digits split one by one first.
        "smollm" => Ok(vec![r"\p{N}"]),
        // Plain GPT-2 regex only.
        "gpt2" | "default" | "" => Ok(vec![]),
        "qwen2" => Ok(vec![]),
        other => Err(format!(
            "pre-tokenizer `{other}` is not supported (supported: smollm, gpt2, qwen2)"
        )),
    }
}

impl GgufTokenizer {
    pub fn from_gguf(ct: &Content) -> Result<Self, String> {
        let model = meta_str(ct, "tokenizer.ggml.model").unwrap_or("");
        if model != "gpt2" {
            return Err(format!(
                "tokenizer `{model}` is not supported: only byte-level BPE (gpt2) models"
            ));
        }
        let tokens = strings(ct, "tokenizer.ggml.tokens")?;
        let merges = strings(ct, "tokenizer.ggml.merges")?;
        let types: Vec<i32> = match ct.metadata.get("tokenizer.ggml.token_type") {
            Some(Value::Array(v)) => v.iter().map(|t| t.to_i32().unwrap_or(1)).collect(),
            _ => vec![1; tokens.len()],
        };
        let pre = meta_str(ct, "tokenizer.ggml.pre")
            .unwrap_or("default")
            .to_owned();

        let vocab: HashMap<String, u32> = tokens
            .iter()
            .enumerate()
            .map(|(i, t)| (t.clone(), i as u32))
            .collect();
        let merges: Vec<(String, String)> = merges
            .iter()
            .filter_map(|m| m.split_once(' ').map(|(a, b)| (a.to_owned(), b.to_owned())))
            .collect();
        let bpe = BPE::builder()
            .vocab_and_merges(
                vocab
                    .into_iter()
                    .collect::<tokenizers::models::bpe::Vocab>(),
                merges,
            )
            .build()
            .map_err(|e| format!("cannot build the BPE model: {e}"))?;
        let mut tokenizer = Tokenizer::new(bpe);

        let mut steps: Vec<PreTokenizerWrapper> = Vec::new();
        for re in pre_splits(&pre)? {
            let split = Split::new(
                SplitPattern::Regex(re.into()),
                SplitDelimiterBehavior::Isolated,
                false,
            )
            .map_err(|e| format!("bad pre-tokenizer regex: {e}"))?;
            steps.push(split.into());
        }
        steps.push(ByteLevel::new(false, false, true).into());
        tokenizer.with_pre_tokenizer(Some(Sequence::new(steps)));
        tokenizer.with_decoder(Some(ByteLevelDecoder::default()));

        let mut control = HashMap::new();
        let mut specials = Vec::new();
        for (i, (t, ty)) in tokens
            .iter()
            .zip(types.iter().chain(std::iter::repeat(&1)))
            .enumerate()
        {
            if *ty == TOKEN_TYPE_CONTROL {
                control.insert(t.clone(), i as u32);
                specials.push(AddedToken::from(t.clone(), true));
            }
        }
        tokenizer
            .add_special_tokens(specials)
            .map_err(|e| format!("cannot register control tokens: {e}"))?;

        let unicode = bytes_to_unicode();
        let back: HashMap<char, u8> = unicode
            .iter()
            .enumerate()
            .map(|(b, c)| (*c, b as u8))
            .collect();
        let bytes = tokens
            .iter()
            .zip(types.iter().chain(std::iter::repeat(&1)))
            .map(|(t, ty)| {
                if *ty == TOKEN_TYPE_CONTROL {
                    Vec::new()
                } else {
                    t.chars().filter_map(|c| back.get(&c).copied()).collect()
                }
            })
            .collect();

        let eos = ct
            .metadata
            .get("tokenizer.ggml.eos_token_id")
            .and_then(|v| v.to_u32().ok())
            .or_else(|| control.get("<|im_end|>").copied())
            .ok_or("the model names no end-of-sequence token")?;
        let control_ids = control.values().copied().collect();
        Ok(Self {
            tokenizer,
            bytes,
            control,
            control_ids,
            eos,
        })
    }

    /// Token ids of `text`; control-token strings in it become control
    /// tokens (callers escape untrusted text first, see `chat`).
    pub fn encode(&self, text: &str) -> Result<Vec<u32>, String> {
        self.tokenizer
            .encode(text, false)
            .map(|e| e.get_ids().to_vec())
            .map_err(|e| format!("tokenizer: {e}"))
    }

    /// The bytes token `id` stands for.
    pub fn token_bytes(&self, id: u32) -> &[u8] {
        self.bytes.get(id as usize).map_or(&[], Vec::as_slice)
    }

    pub fn is_control(&self, id: u32) -> bool {
        self.control_ids.contains(&id)
    }
}

/// Turns a stream of byte pieces into text, holding back an incomplete
/// UTF-8 sequence until its last byte arrives. O(1) per token.
#[derive(Default)]
pub struct Utf8Stream {
    pending: Vec<u8>,
}

impl Utf8Stream {
    /// Adds bytes; returns the text that is now complete.
    pub fn push(&mut self, bytes: &[u8]) -> String {
        self.pending.extend_from_slice(bytes);
        let valid = match std::str::from_utf8(&self.pending) {
            Ok(_) => self.pending.len(),
            Err(e) => match e.error_len() {
                // Invalid bytes (not just incomplete): let them through as
                // U+FFFD rather than stall the stream.
                Some(_) => self.pending.len(),
                None => e.valid_up_to(),
            },
        };
        let out: Vec<u8> = self.pending.drain(..valid).collect();
        String::from_utf8_lossy(&out).into_owned()
    }

    /// What is left at the end (an incomplete sequence becomes U+FFFD).
    pub fn finish(&mut self) -> String {
        let out = std::mem::take(&mut self.pending);
        String::from_utf8_lossy(&out).into_owned()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn byte_map_is_a_bijection() {
        let m = bytes_to_unicode();
        let set: std::collections::HashSet<char> = m.iter().copied().collect();
        assert_eq!(set.len(), 256);
        assert_eq!(m[b'A' as usize], 'A');
        assert_eq!(m[b' ' as usize], 'Ġ');
        assert_eq!(m[b'\n' as usize], 'Ċ');
    }

    #[test]
    fn utf8_stream_holds_back_split_characters() {
        let mut s = Utf8Stream::default();
        let bytes = "你好".as_bytes();
        assert_eq!(s.push(&bytes[..2]), "");
        assert_eq!(s.push(&bytes[2..4]), "你");
        assert_eq!(s.push(&bytes[4..]), "好");
        assert_eq!(s.push(b"ok"), "ok");
        assert_eq!(s.push(&[0xe4]), "");
        assert_eq!(s.finish(), "\u{FFFD}");
        assert_eq!(s.push(&[0xff, b'a']), "\u{FFFD}a");
    }
}
