//! The transformer of llama-family GGUF models (llama, and qwen2 with its
//! q/k/v biases and half-split rotary embedding), computed directly on the
//! file's quantized blocks.
//!
//! One token costs a few products per layer (`quant::QMatrix::matmul`:
//! q/k/v stacked in one matrix, gate/up in another) and some vector
//! arithmetic; there is no tensor graph, no allocation per operation, and
//! the key/value cache is appended in place. A prompt goes through as one
//! batch, each weight row read once for all of its tokens.

use std::io::{Read, Seek, SeekFrom};

use candle_core::quantized::gguf_file::{Content, TensorInfo};
use candle_core::quantized::GgmlDType;
use candle_core::Device;

use super::pool::Pool;
use super::quant::{Format, QMatrix, QVec, BLOCK};

/// Shapes and constants from the GGUF metadata.
#[derive(Clone, Debug, PartialEq)]
pub struct Config {
    pub layers: usize,
    pub dim: usize,
    pub heads: usize,
    pub kv_heads: usize,
    pub head_dim: usize,
    pub ffn: usize,
    pub eps: f32,
    pub rope_base: f32,
    /// Rotary embedding on the two halves of each head (qwen2, "neox"),
    /// rather than on adjacent pairs (llama).
    pub rope_halves: bool,
    pub vocab: usize,
    pub context: usize,
}

impl Config {
    pub fn from_gguf(ct: &Content) -> Result<Self, String> {
        let arch = ct
            .metadata
            .get("general.architecture")
            .and_then(|v| v.to_string().ok())
            .cloned()
            .unwrap_or_default();
        if !matches!(arch.as_str(), "llama" | "qwen2") {
            return Err(format!(
                "architecture `{arch}` is not supported (llama-family and qwen2 GGUF models are)"
            ));
        }
        let get = |key: &str| {
            ct.metadata
                .get(&format!("{arch}.{key}"))
                .ok_or_else(|| format!("the GGUF has no `{arch}.{key}`"))
        };
        let int = |key: &str| -> Result<usize, String> {
            get(key)?
                .to_u32()
                .map(|v| v as usize)
                .map_err(|e| format!("`{arch}.{key}`: {e}"))
        };
        let dim = int("embedding_length")?;
        let heads = int("attention.head_count")?;
        let kv_heads = int("attention.head_count_kv").unwrap_or(heads);
        if heads == 0 || kv_heads == 0 || dim % heads != 0 || heads % kv_heads != 0 {
            return Err(format!(
                "unusable attention shape: {dim} wide, {heads} heads, {kv_heads} key/value heads"
            ));
        }
        let head_dim = dim / heads;
        if head_dim % 2 != 0 {
            return Err(format!("head size {head_dim} is odd"));
        }
        let vocab = ct
            .tensor_infos
            .get("token_embd.weight")
            .map(|t| t.shape.dims()[0])
            .ok_or("the GGUF has no `token_embd.weight`")?;
        Ok(Self {
            layers: int("block_count")?,
            dim,
            heads,
            kv_heads,
            head_dim,
            ffn: int("feed_forward_length")?,
            eps: get("attention.layer_norm_rms_epsilon")
                .and_then(|v| v.to_f32().map_err(|e| e.to_string()))
                .unwrap_or(1e-5),
            rope_base: get("rope.freq_base")
                .and_then(|v| v.to_f32().map_err(|e| e.to_string()))
                .unwrap_or(10_000.0),
            rope_halves: arch == "qwen2",
            vocab,
            context: int("context_length").unwrap_or(2048),
        })
    }

    fn q_dim(&self) -> usize {
        self.heads * self.head_dim
    }

    fn kv_dim(&self) -> usize {
        self.kv_heads * self.head_dim
    }
}

struct Layer {
    attn_norm: Vec<f32>,
    /// q, k and v stacked: `q_dim + 2 · kv_dim` rows.
    qkv: QMatrix,
    qkv_bias: Option<Vec<f32>>,
    wo: QMatrix,
    ffn_norm: Vec<f32>,
    /// gate and up stacked: `2 · ffn` rows.
    gate_up: QMatrix,
    down: QMatrix,
}

/// Keys and values of the positions seen so far, per layer.
#[derive(Default)]
struct Cache {
    k: Vec<Vec<f32>>,
    v: Vec<Vec<f32>>,
    len: usize,
}

pub struct Llama {
    pub config: Config,
    embed: QMatrix,
    /// The output projection; `None` when it is tied to the embeddings.
    output: Option<QMatrix>,
    norm: Vec<f32>,
    layers: Vec<Layer>,
    cache: Cache,
    pool: Pool,
}

/// Reads tensors from a GGUF file as matrices of the formats `quant` has
/// kernels for; any other format (F16, F32, K-quants…) is converted to
/// Q8_0 at load.
struct Reader<'a, R> {
    ct: &'a Content,
    file: &'a mut R,
}

impl<R: Read + Seek> Reader<'_, R> {
    fn info(&self, name: &str) -> Result<&TensorInfo, String> {
        self.ct
            .tensor_infos
            .get(name)
            .ok_or_else(|| format!("the GGUF has no tensor `{name}`"))
    }

    fn has(&self, name: &str) -> bool {
        self.ct.tensor_infos.contains_key(name)
    }

    fn raw(&mut self, name: &str) -> Result<Vec<u8>, String> {
        let info = self.info(name)?;
        let dtype = info.ggml_dtype;
        let bytes = info.shape.elem_count() / dtype.block_size() * dtype.type_size();
        let at = self.ct.tensor_data_offset + info.offset;
        let mut data = vec![0u8; bytes];
        self.file
            .seek(SeekFrom::Start(at))
            .and_then(|_| self.file.read_exact(&mut data))
            .map_err(|e| format!("reading `{name}`: {e}"))?;
        Ok(data)
    }

    fn f32s(&mut self, name: &str) -> Result<Vec<f32>, String> {
        let t = self
            .ct
            .tensor(self.file, name, &Device::Cpu)
            .and_then(|q| q.dequantize(&Device::Cpu))
            .and_then(|t| t.flatten_all())
            .and_then(|t| t.to_vec1::<f32>())
            .map_err(|e| format!("reading `{name}`: {e}"))?;
        Ok(t)
    }

    fn vector(&mut self, name: &str, len: usize) -> Result<Vec<f32>, String> {
        let v = self.f32s(name)?;
        if v.len() != len {
            return Err(format!("`{name}` has {} values, expected {len}", v.len()));
        }
        Ok(v)
    }

    fn matrix(&mut self, name: &str, rows: usize, cols: usize) -> Result<QMatrix, String> {
        let info = self.info(name)?;
        let dims = info.shape.dims().to_vec();
        if dims != [rows, cols] {
            return Err(format!("`{name}` is {dims:?}, expected [{rows}, {cols}]"));
        }
        let format = match info.ggml_dtype {
            GgmlDType::Q4_0 => Some(Format::Q4_0),
            GgmlDType::Q4_1 => Some(Format::Q4_1),
            GgmlDType::Q8_0 => Some(Format::Q8_0),
            _ => None,
        };
        match format {
            Some(format) => QMatrix::new(format, rows, cols, self.raw(name)?)
                .map_err(|e| format!("`{name}`: {e}")),
            None => Ok(QMatrix::from_f32_q8_0(rows, cols, &self.f32s(name)?)),
        }
    }
}

impl Llama {
    /// Reads the model's weights from `file`, whose header is `ct`; its
    /// products will run on `threads` threads.
    pub fn load<R: Read + Seek>(
        ct: &Content,
        file: &mut R,
        threads: usize,
    ) -> Result<Self, String> {
        let config = Config::from_gguf(ct)?;
        let c = &config;
        if c.dim % BLOCK != 0 || c.ffn % BLOCK != 0 {
            return Err(format!(
                "widths {} and {} are not whole blocks of {BLOCK}",
                c.dim, c.ffn
            ));
        }
        let mut r = Reader { ct, file };
        let embed = r.matrix("token_embd.weight", c.vocab, c.dim)?;
        let output = if r.has("output.weight") {
            Some(r.matrix("output.weight", c.vocab, c.dim)?)
        } else {
            None
        };
        let norm = r.vector("output_norm.weight", c.dim)?;
        let mut layers = Vec::with_capacity(c.layers);
        for i in 0..c.layers {
            let p = |n: &str| format!("blk.{i}.{n}");
            let qkv = QMatrix::stack(vec![
                r.matrix(&p("attn_q.weight"), c.q_dim(), c.dim)?,
                r.matrix(&p("attn_k.weight"), c.kv_dim(), c.dim)?,
                r.matrix(&p("attn_v.weight"), c.kv_dim(), c.dim)?,
            ])
            .map_err(|e| format!("layer {i}: {e}"))?;
            let qkv_bias = if r.has(&p("attn_q.bias")) {
                let mut b = r.vector(&p("attn_q.bias"), c.q_dim())?;
                b.extend(r.vector(&p("attn_k.bias"), c.kv_dim())?);
                b.extend(r.vector(&p("attn_v.bias"), c.kv_dim())?);
                Some(b)
            } else {
                None
            };
            let gate_up = QMatrix::stack(vec![
                r.matrix(&p("ffn_gate.weight"), c.ffn, c.dim)?,
                r.matrix(&p("ffn_up.weight"), c.ffn, c.dim)?,
            ])
            .map_err(|e| format!("layer {i}: {e}"))?;
            layers.push(Layer {
                attn_norm: r.vector(&p("attn_norm.weight"), c.dim)?,
                qkv,
                qkv_bias,
                wo: r.matrix(&p("attn_output.weight"), c.dim, c.q_dim())?,
                ffn_norm: r.vector(&p("ffn_norm.weight"), c.dim)?,
                gate_up,
                down: r.matrix(&p("ffn_down.weight"), c.dim, c.ffn)?,
            });
        }
        let cache = Cache {
            k: vec![Vec::new(); c.layers],
            v: vec![Vec::new(); c.layers],
            len: 0,
        };
        Ok(Self {
            config,
            embed,
            output,
            norm,
            layers,
            cache,
            pool: Pool::new(threads)?,
        })
    }

    /// Runs `tokens` at positions `pos..`, forgetting any cached position
    /// from `pos` on, and returns the logits after the last one.
    pub fn forward(&mut self, tokens: &[u32], pos: usize) -> Result<Vec<f32>, String> {
        let c = &self.config;
        let n = tokens.len();
        if n == 0 {
            return Err("no tokens to run".into());
        }
        if pos > self.cache.len {
            return Err(format!(
                "position {pos} is past the {} cached ones",
                self.cache.len
            ));
        }
        if pos + n > c.context {
            return Err(format!("the context holds {} tokens", c.context));
        }
        let (dim, q_dim, kv_dim) = (c.dim, c.q_dim(), c.kv_dim());
        let qkv_dim = q_dim + 2 * kv_dim;
        for k in self.cache.k.iter_mut().chain(self.cache.v.iter_mut()) {
            k.truncate(pos * kv_dim);
        }
        self.cache.len = pos;

        let mut x = vec![0f32; n * dim];
        for (t, tok) in tokens.iter().enumerate() {
            let tok = *tok as usize;
            if tok >= c.vocab {
                return Err(format!("token {tok} is outside the vocabulary"));
            }
            self.embed
                .dequantize_row(tok, &mut x[t * dim..(t + 1) * dim]);
        }
        let mut qx = vec![QVec::default(); n];
        let mut xn = vec![0f32; dim];
        let mut qkv = vec![0f32; n * qkv_dim];
        let mut att = vec![0f32; n * q_dim];
        let mut proj = vec![0f32; n * dim];
        let mut gate_up = vec![0f32; n * 2 * c.ffn];
        let mut hidden = vec![0f32; c.ffn];
        let mut scores = Vec::new();
        let rope = Rope::new(c, pos, n);

        for (l, layer) in self.layers.iter().enumerate() {
            for (t, q) in qx.iter_mut().enumerate() {
                rms_norm(&x[t * dim..(t + 1) * dim], &layer.attn_norm, c.eps, &mut xn);
                q.quantize(&xn);
            }
            layer.qkv.matmul(&self.pool, &qx, &mut qkv);
            for (t, row) in qkv.chunks_exact_mut(qkv_dim).enumerate() {
                if let Some(b) = &layer.qkv_bias {
                    row.iter_mut().zip(b).for_each(|(v, b)| *v += b);
                }
                let (q, kv) = row.split_at_mut(q_dim);
                rope.apply(q, t);
                rope.apply(&mut kv[..kv_dim], t);
                self.cache.k[l].extend_from_slice(&kv[..kv_dim]);
                self.cache.v[l].extend_from_slice(&kv[kv_dim..]);
            }
            let (keys, values) = (&self.cache.k[l], &self.cache.v[l]);
            for t in 0..n {
                let q = &qkv[t * qkv_dim..t * qkv_dim + q_dim];
                attend(
                    c,
                    q,
                    keys,
                    values,
                    pos + t + 1,
                    &mut scores,
                    &mut att[t * q_dim..(t + 1) * q_dim],
                );
            }
            for (t, q) in qx.iter_mut().enumerate() {
                q.quantize(&att[t * q_dim..(t + 1) * q_dim]);
            }
            layer.wo.matmul(&self.pool, &qx, &mut proj);
            x.iter_mut().zip(&proj).for_each(|(a, b)| *a += b);

            for (t, q) in qx.iter_mut().enumerate() {
                rms_norm(&x[t * dim..(t + 1) * dim], &layer.ffn_norm, c.eps, &mut xn);
                q.quantize(&xn);
            }
            layer.gate_up.matmul(&self.pool, &qx, &mut gate_up);
            for (t, q) in qx.iter_mut().enumerate() {
                let (g, u) = gate_up[t * 2 * c.ffn..(t + 1) * 2 * c.ffn].split_at(c.ffn);
                for ((h, g), u) in hidden.iter_mut().zip(g).zip(u) {
                    *h = g / (1.0 + (-g).exp()) * u;
                }
                q.quantize(&hidden);
            }
            layer.down.matmul(&self.pool, &qx, &mut proj);
            x.iter_mut().zip(&proj).for_each(|(a, b)| *a += b);
        }
        self.cache.len = pos + n;

        rms_norm(&x[(n - 1) * dim..], &self.norm, c.eps, &mut xn);
        qx.truncate(1);
        qx[0].quantize(&xn);
        let mut logits = vec![0f32; c.vocab];
        self.output
            .as_ref()
            .unwrap_or(&self.embed)
            .matmul(&self.pool, &qx, &mut logits);
        Ok(logits)
    }
}

fn rms_norm(x: &[f32], w: &[f32], eps: f32, out: &mut [f32]) {
    let mean = x.iter().map(|v| v * v).sum::<f32>() / x.len() as f32;
    let scale = 1.0 / (mean + eps).sqrt();
    for ((o, v), w) in out.iter_mut().zip(x).zip(w) {
        *o = v * scale * w;
    }
}

/// Rotary position embedding for the positions of one batch.
struct Rope {
    head_dim: usize,
    halves: bool,
    /// `[t][i]` for i < head_dim / 2.
    cos: Vec<f32>,
    sin: Vec<f32>,
}

impl Rope {
    fn new(c: &Config, pos: usize, n: usize) -> Self {
        let half = c.head_dim / 2;
        let mut cos = Vec::with_capacity(n * half);
        let mut sin = Vec::with_capacity(n * half);
        for t in 0..n {
            let p = (pos + t) as f32;
            for i in 0..half {
                let freq = c.rope_base.powf(-((2 * i) as f32) / c.head_dim as f32);
                let (s, co) = (p * freq).sin_cos();
                cos.push(co);
                sin.push(s);
            }
        }
        Self {
            head_dim: c.head_dim,
            halves: c.rope_halves,
            cos,
            sin,
        }
    }

    /// Rotates every head in `v` (heads of `head_dim` values) for batch
    /// token `t`.
    fn apply(&self, v: &mut [f32], t: usize) {
        let half = self.head_dim / 2;
        let (cos, sin) = (
            &self.cos[t * half..(t + 1) * half],
            &self.sin[t * half..(t + 1) * half],
        );
        for head in v.chunks_exact_mut(self.head_dim) {
            for i in 0..half {
                let (a, b) = if self.halves {
                    (i, i + half)
                } else {
                    (2 * i, 2 * i + 1)
                };
                let (x0, x1) = (head[a], head[b]);
                head[a] = x0 * cos[i] - x1 * sin[i];
                head[b] = x0 * sin[i] + x1 * cos[i];
            }
        }
    }
}

/// Causal attention of one query (all heads) over the first `len` cached
/// positions; grouped heads share their key/value head.
fn attend(
    c: &Config,
    q: &[f32],
    keys: &[f32],
    values: &[f32],
    len: usize,
    scores: &mut Vec<f32>,
    out: &mut [f32],
) {
    let (hd, kv_dim) = (c.head_dim, c.kv_dim());
    let group = c.heads / c.kv_heads;
    let scale = 1.0 / (hd as f32).sqrt();
    out.fill(0.0);
    for h in 0..c.heads {
        let qh = &q[h * hd..(h + 1) * hd];
        let kv = (h / group) * hd;
        scores.clear();
        scores.extend((0..len).map(|p| {
            let k = &keys[p * kv_dim + kv..p * kv_dim + kv + hd];
            qh.iter().zip(k).map(|(a, b)| a * b).sum::<f32>() * scale
        }));
        let max = scores.iter().copied().fold(f32::NEG_INFINITY, f32::max);
        let mut total = 0f32;
        for s in scores.iter_mut() {
            *s = (*s - max).exp();
            total += *s;
        }
        let oh = &mut out[h * hd..(h + 1) * hd];
        for (p, w) in scores.iter().enumerate() {
            let w = w / total;
            let v = &values[p * kv_dim + kv..p * kv_dim + kv + hd];
            oh.iter_mut().zip(v).for_each(|(o, v)| *o += w * v);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn config(halves: bool) -> Config {
        Config {
            layers: 1,
            dim: 8,
            heads: 2,
            kv_heads: 1,
            head_dim: 4,
            ffn: 32,
            eps: 1e-5,
            rope_base: 10_000.0,
            rope_halves: halves,
            vocab: 4,
            context: 16,
        }
    }

    #[test]
    fn rope_rotates_pairs_or_halves_and_keeps_length() {
        for halves in [false, true] {
            let c = config(halves);
            let rope = Rope::new(&c, 3, 1);
            let mut v = [1.0, 2.0, 3.0, 4.0];
            rope.apply(&mut v, 0);
            let norm = |v: &[f32]| v.iter().map(|x| x * x).sum::<f32>();
            assert!((norm(&v) - 30.0).abs() < 1e-4);
            // The first frequency is 1: position 3 turns the first pair by 3 rad.
            let (a, b) = if halves { (0, 2) } else { (0, 1) };
            let (x0, x1) = if halves { (1.0f32, 3.0f32) } else { (1.0, 2.0) };
            assert!((v[a] - (x0 * 3f32.cos() - x1 * 3f32.sin())).abs() < 1e-5);
            assert!((v[b] - (x0 * 3f32.sin() + x1 * 3f32.cos())).abs() < 1e-5);
        }
        // Position 0 is the identity.
        let rope = Rope::new(&config(false), 0, 1);
        let mut v = [1.0, 2.0, 3.0, 4.0];
        rope.apply(&mut v, 0);
        assert_eq!(v, [1.0, 2.0, 3.0, 4.0]);
    }

    #[test]
    fn attention_weights_positions_by_softmax_and_shares_kv_heads() {
        let c = config(false);
        // Two cached positions; one key/value head shared by both heads.
        let keys = [0.0, 0.0, 0.0, 0.0, 2.0, 0.0, 0.0, 0.0];
        let values = [1.0, 0.0, 0.0, 0.0, 0.0, 1.0, 0.0, 0.0];
        let q = [1.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0];
        let mut out = [0f32; 8];
        attend(&c, &q, &keys, &values, 2, &mut Vec::new(), &mut out);
        // Head 0: scores 0 and 2·1/2 = 1 → weights 1/(1+e), e/(1+e).
        let w1 = 1f32.exp() / (1.0 + 1f32.exp());
        assert!((out[0] - (1.0 - w1)).abs() < 1e-6 && (out[1] - w1).abs() < 1e-6);
        // Head 1 (a zero query): equal weights.
        assert!((out[4] - 0.5).abs() < 1e-6 && (out[5] - 0.5).abs() < 1e-6);
        // Only the first position: all weight on it.
        attend(&c, &q, &keys, &values, 1, &mut Vec::new(), &mut out);
        assert_eq!(&out[..2], &[1.0, 0.0]);
    }

    #[test]
    fn rms_norm_scales_to_unit_mean_square() {
        let mut out = [0f32; 4];
        rms_norm(
            &[2.0, -2.0, 2.0, -2.0],
            &[1.0, 1.0, 0.5, 2.0],
            0.0,
            &mut out,
        );
        assert_eq!(out, [1.0, -1.0, 0.5, -2.0]);
    }
}
