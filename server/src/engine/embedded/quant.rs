//! Quantized matrices as they are stored in GGUF files, and the
//! matrix × vector products the embedded model spends its time in.
//!
//! Weights keep their file format (Q4_0, Q4_1 or Q8_0 blocks of 32 values):
//! a 4-bit model reads 4.5–5 bits per weight per token, not the 8.5 of a
//! Q8_0 copy. Within each row the blocks are rearranged at load: first the
//! scales of all blocks (then the Q4_1 minimums), then their quants, so the
//! kernels convert eight scales with one instruction. Activations are quantized to 8 bits per block of 32 once per
//! product (as llama.cpp does), so each block's dot product is integer
//! arithmetic: on x86-64 with AVX2 the kernels below use it, elsewhere the
//! scalar versions (same results up to float rounding).

use std::sync::{Mutex, PoisonError};

use half::f16;

use super::pool::{share, Pool};

/// Values per block, for every format here.
pub const BLOCK: usize = 32;

/// A block format of the GGUF file.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Format {
    /// `d: f16, qs: [u8; 16]`: value = d · (q − 8).
    Q4_0,
    /// `d: f16, m: f16, qs: [u8; 16]`: value = d · q + m.
    Q4_1,
    /// `d: f16, qs: [i8; 32]`: value = d · q.
    Q8_0,
}

impl Format {
    /// Bytes per block of 32 values.
    pub const fn block_bytes(self) -> usize {
        match self {
            Format::Q4_0 => 18,
            Format::Q4_1 => 20,
            Format::Q8_0 => 34,
        }
    }
}

/// A row-major matrix of quantized blocks: `rows` rows of `cols` values.
pub struct QMatrix {
    pub format: Format,
    pub rows: usize,
    pub cols: usize,
    data: Vec<u8>,
}

/// A vector quantized to 8 bits per block of 32: `qs[i] · d[i / 32]`, with
/// `s[b] = d[b] · Σ qs` of block `b` (the Q4_1 minimum multiplies it).
#[derive(Default, Clone)]
pub struct QVec {
    pub d: Vec<f32>,
    pub s: Vec<f32>,
    pub qs: Vec<i8>,
}

impl QVec {
    /// Quantizes `x` (its length a multiple of 32) into `self`.
    pub fn quantize(&mut self, x: &[f32]) {
        debug_assert_eq!(x.len() % BLOCK, 0);
        let blocks = x.len() / BLOCK;
        self.d.clear();
        self.s.clear();
        self.qs.resize(x.len(), 0);
        for (b, chunk) in x.chunks_exact(BLOCK).enumerate() {
            let amax = chunk.iter().fold(0f32, |m, v| m.max(v.abs()));
            let d = amax / 127.0;
            let inv = if d > 0.0 { 1.0 / d } else { 0.0 };
            let mut sum = 0i32;
            for (q, v) in self.qs[b * BLOCK..(b + 1) * BLOCK].iter_mut().zip(chunk) {
                // |v · inv| ≤ 127: the cast cannot saturate.
                let r = (v * inv).round() as i8;
                *q = r;
                sum += i32::from(r);
            }
            self.d.push(d);
            self.s.push(d * sum as f32);
        }
        debug_assert_eq!(self.d.len(), blocks);
    }

    pub fn len(&self) -> usize {
        self.qs.len()
    }

    pub fn is_empty(&self) -> bool {
        self.qs.is_empty()
    }
}

fn half(bytes: &[u8], at: usize) -> f32 {
    f16::from_bits(u16::from_le_bytes([bytes[at], bytes[at + 1]])).to_f32()
}

impl QMatrix {
    /// A matrix over `data`, the blocks as the file stores them.
    pub fn new(format: Format, rows: usize, cols: usize, data: Vec<u8>) -> Result<Self, String> {
        if !cols.is_multiple_of(BLOCK) {
            return Err(format!(
                "rows of {cols} values are not whole blocks of {BLOCK}"
            ));
        }
        let want = rows * cols / BLOCK * format.block_bytes();
        if data.len() != want {
            return Err(format!(
                "{format:?} matrix {rows}×{cols} needs {want} bytes, got {}",
                data.len()
            ));
        }
        let mut m = Self {
            format,
            rows,
            cols,
            data: Vec::new(),
        };
        m.data = Vec::with_capacity(data.len());
        for row in data.chunks_exact(m.row_bytes()) {
            m.data.extend(split_row(format, row));
        }
        Ok(m)
    }

    /// Quantizes f32 rows to Q8_0 (formats without a kernel here are
    /// converted to it at load).
    pub fn from_f32_q8_0(rows: usize, cols: usize, values: &[f32]) -> Self {
        debug_assert_eq!(values.len(), rows * cols);
        debug_assert_eq!(cols % BLOCK, 0);
        let mut data = Vec::with_capacity(values.len() / BLOCK * Format::Q8_0.block_bytes());
        for chunk in values.chunks_exact(BLOCK) {
            let amax = chunk.iter().fold(0f32, |m, v| m.max(v.abs()));
            let d = amax / 127.0;
            let inv = if d > 0.0 { 1.0 / d } else { 0.0 };
            data.extend_from_slice(&f16::from_f32(d).to_bits().to_le_bytes());
            data.extend(chunk.iter().map(|v| (v * inv).round() as i8 as u8));
        }
        Self::new(Format::Q8_0, rows, cols, data).expect("whole blocks of the right size")
    }

    /// Stacks matrices with the same format and width (e.g. q, k and v) into
    /// one, so one product computes them all.
    pub fn stack(parts: Vec<QMatrix>) -> Result<Self, String> {
        let first = parts.first().ok_or("nothing to stack")?;
        let (format, cols) = (first.format, first.cols);
        if parts.iter().any(|m| m.format != format || m.cols != cols) {
            return Err("stacked matrices differ in format or width".into());
        }
        let rows = parts.iter().map(|m| m.rows).sum();
        let mut data = Vec::with_capacity(parts.iter().map(|m| m.data.len()).sum());
        for m in parts {
            data.extend_from_slice(&m.data);
        }
        Ok(Self {
            format,
            rows,
            cols,
            data,
        })
    }

    fn row_bytes(&self) -> usize {
        self.cols / BLOCK * self.format.block_bytes()
    }

    fn row(&self, r: usize) -> Row<'_> {
        let n = self.row_bytes();
        Row {
            format: self.format,
            blocks: self.cols / BLOCK,
            bytes: &self.data[r * n..(r + 1) * n],
        }
    }

    /// Row `r` as f32 values (the embedding lookup).
    pub fn dequantize_row(&self, r: usize, out: &mut [f32]) {
        let row = self.row(r);
        for (b, vals) in out[..self.cols].chunks_exact_mut(BLOCK).enumerate() {
            let (d, qs) = (row.d(b), row.qs(b));
            match self.format {
                Format::Q4_0 => {
                    for j in 0..16 {
                        vals[j] = d * (f32::from(qs[j] & 0x0f) - 8.0);
                        vals[j + 16] = d * (f32::from(qs[j] >> 4) - 8.0);
                    }
                }
                Format::Q4_1 => {
                    let m = row.m(b);
                    for j in 0..16 {
                        vals[j] = d * f32::from(qs[j] & 0x0f) + m;
                        vals[j + 16] = d * f32::from(qs[j] >> 4) + m;
                    }
                }
                Format::Q8_0 => {
                    for (v, q) in vals.iter_mut().zip(qs) {
                        *v = d * f32::from(*q as i8);
                    }
                }
            }
        }
    }

    /// `out[t][r] = row r · x[t]` for every input `t` (one token at decode
    /// time, the whole prompt at prefill; each row is read once for all of
    /// them). The rows are shared out over the pool's threads.
    pub fn matmul(&self, pool: &Pool, xs: &[QVec], out: &mut [f32]) {
        let n = xs.len();
        assert!(xs.iter().all(|x| x.len() == self.cols));
        assert_eq!(out.len(), n * self.rows);
        let dot = dot_fn(self.format);
        let parts = pool.threads();
        // Row-major [row][token] so that each thread owns one slice.
        let mut tmp = if n == 1 {
            Vec::new()
        } else {
            vec![0f32; n * self.rows]
        };
        let target = if n == 1 { &mut *out } else { &mut tmp[..] };
        let mut slices = Vec::with_capacity(parts);
        let mut rest = target;
        for i in 0..parts {
            let (mine, later) = rest.split_at_mut(share(self.rows, parts, i).len() * n);
            slices.push(Mutex::new(mine));
            rest = later;
        }
        pool.run(&|i| {
            let rows = share(self.rows, parts, i);
            let mut o = slices[i].lock().unwrap_or_else(PoisonError::into_inner);
            for (r, per_row) in rows.zip(o.chunks_mut(n)) {
                let row = self.row(r);
                for (v, x) in per_row.iter_mut().zip(xs) {
                    *v = dot(row, x);
                }
            }
        });
        drop(slices);
        if n > 1 {
            for (r, per_row) in tmp.chunks(n).enumerate() {
                for (t, v) in per_row.iter().enumerate() {
                    out[t * self.rows + r] = *v;
                }
            }
        }
    }
}

/// One row in the rearranged layout: `blocks` f16 scales, for Q4_1 then
/// `blocks` f16 minimums, then the blocks' quants (16 or 32 bytes each).
#[derive(Clone, Copy)]
struct Row<'a> {
    format: Format,
    blocks: usize,
    bytes: &'a [u8],
}

impl<'a> Row<'a> {
    fn scale_bytes(format: Format, blocks: usize) -> usize {
        match format {
            Format::Q4_1 => 4 * blocks,
            Format::Q4_0 | Format::Q8_0 => 2 * blocks,
        }
    }

    fn quant_bytes(format: Format) -> usize {
        format.block_bytes() - Self::scale_bytes(format, 1)
    }

    fn d(&self, b: usize) -> f32 {
        half(self.bytes, 2 * b)
    }

    fn m(&self, b: usize) -> f32 {
        half(self.bytes, 2 * (self.blocks + b))
    }

    fn qs(&self, b: usize) -> &'a [u8] {
        let q = Self::quant_bytes(self.format);
        let at = Self::scale_bytes(self.format, self.blocks) + b * q;
        &self.bytes[at..at + q]
    }
}

/// A row of file blocks (`d [m] qs`, `d [m] qs`, …) rearranged as `Row`.
fn split_row(format: Format, row: &[u8]) -> Vec<u8> {
    let bb = format.block_bytes();
    let blocks = row.len() / bb;
    let mut out = Vec::with_capacity(row.len());
    out.extend(row.chunks_exact(bb).flat_map(|blk| [blk[0], blk[1]]));
    if format == Format::Q4_1 {
        out.extend(row.chunks_exact(bb).flat_map(|blk| [blk[2], blk[3]]));
    }
    let scales = Row::scale_bytes(format, 1);
    for blk in row.chunks_exact(bb) {
        out.extend_from_slice(&blk[scales..]);
    }
    debug_assert_eq!(out.len(), blocks * bb);
    out
}

type DotFn = fn(Row<'_>, &QVec) -> f32;

fn dot_fn(format: Format) -> DotFn {
    #[cfg(target_arch = "x86_64")]
    {
        if avx2::available() {
            return match format {
                Format::Q4_0 => avx2::dot_q4_0,
                Format::Q4_1 => avx2::dot_q4_1,
                Format::Q8_0 => avx2::dot_q8_0,
            };
        }
    }
    scalar_dot_fn(format)
}

fn scalar_dot_fn(format: Format) -> DotFn {
    match format {
        Format::Q4_0 => scalar::dot_q4_0,
        Format::Q4_1 => scalar::dot_q4_1,
        Format::Q8_0 => scalar::dot_q8_0,
    }
}

mod scalar {
    use super::{QVec, Row, BLOCK};

    pub fn dot_q4_0(row: Row<'_>, x: &QVec) -> f32 {
        let mut acc = 0f32;
        for b in 0..row.blocks {
            let (qs, y) = (row.qs(b), &x.qs[b * BLOCK..(b + 1) * BLOCK]);
            let mut sum = 0i32;
            for j in 0..16 {
                sum += (i32::from(qs[j] & 0x0f) - 8) * i32::from(y[j]);
                sum += (i32::from(qs[j] >> 4) - 8) * i32::from(y[j + 16]);
            }
            acc += row.d(b) * x.d[b] * sum as f32;
        }
        acc
    }

    pub fn dot_q4_1(row: Row<'_>, x: &QVec) -> f32 {
        let mut acc = 0f32;
        for b in 0..row.blocks {
            let (qs, y) = (row.qs(b), &x.qs[b * BLOCK..(b + 1) * BLOCK]);
            let mut sum = 0i32;
            for j in 0..16 {
                sum += i32::from(qs[j] & 0x0f) * i32::from(y[j]);
                sum += i32::from(qs[j] >> 4) * i32::from(y[j + 16]);
            }
            acc += row.d(b) * x.d[b] * sum as f32 + row.m(b) * x.s[b];
        }
        acc
    }

    pub fn dot_q8_0(row: Row<'_>, x: &QVec) -> f32 {
        let mut acc = 0f32;
        for b in 0..row.blocks {
            let y = &x.qs[b * BLOCK..(b + 1) * BLOCK];
            let sum: i32 = row
                .qs(b)
                .iter()
                .zip(y)
                .map(|(w, v)| i32::from(*w as i8) * i32::from(*v))
                .sum();
            acc += row.d(b) * x.d[b] * sum as f32;
        }
        acc
    }
}

#[cfg(target_arch = "x86_64")]
mod avx2 {
    //! The same products with AVX2. Per group of 8 blocks: their 8 scales
    //! converted and multiplied by the activation scales in one go (and the
    //! Q4_1 minimums by the activation sums); per block, 32 byte products
    //! summed pairwise (`maddubs`: unsigned × signed), then into 8 lanes of
    //! i32, scaled in f32 with one fused multiply-add into one of two
    //! accumulators. Blocks past the last whole group take the same path
    //! with scalar scales.
    use super::{Format, QVec, Row, BLOCK};
    use std::arch::x86_64::*;

    pub fn available() -> bool {
        use std::sync::OnceLock;
        static OK: OnceLock<bool> = OnceLock::new();
        *OK.get_or_init(|| {
            is_x86_feature_detected!("avx2")
                && is_x86_feature_detected!("fma")
                && is_x86_feature_detected!("f16c")
        })
    }

    #[inline]
    #[target_feature(enable = "avx2,fma,f16c")]
    unsafe fn f16_at(p: *const u8) -> f32 {
        let bits = i32::from(u16::from_le_bytes([*p, *p.add(1)]));
        _mm_cvtss_f32(_mm_cvtph_ps(_mm_cvtsi32_si128(bits)))
    }

    /// 8 f16 values at `p` as f32.
    #[inline]
    #[target_feature(enable = "avx2,fma,f16c")]
    unsafe fn f16x8(p: *const u8) -> __m256 {
        _mm256_cvtph_ps(_mm_loadu_si128(p.cast()))
    }

    #[inline]
    #[target_feature(enable = "avx2,fma,f16c")]
    unsafe fn hsum(v: __m256) -> f32 {
        let s = _mm_add_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
        let s = _mm_add_ps(s, _mm_movehl_ps(s, s));
        let s = _mm_add_ss(s, _mm_movehdup_ps(s));
        _mm_cvtss_f32(s)
    }

    /// 16 bytes of nibbles as 32 bytes: low nibbles (values 0..16) in the
    /// lower half, high nibbles (values 16..32) in the upper.
    #[inline]
    #[target_feature(enable = "avx2,fma,f16c")]
    unsafe fn nibbles(p: *const u8) -> __m256i {
        let q = _mm_loadu_si128(p.cast());
        let mask = _mm_set1_epi8(0x0f);
        let lo = _mm_and_si128(q, mask);
        let hi = _mm_and_si128(_mm_srli_epi16(q, 4), mask);
        _mm256_set_m128i(hi, lo)
    }

    /// Σ w·y over 32 pairs as 8 f32 lanes; `w` unsigned (≤ 128), `y` signed.
    #[inline]
    #[target_feature(enable = "avx2,fma,f16c")]
    unsafe fn products(w: __m256i, y: __m256i) -> __m256 {
        let p16 = _mm256_maddubs_epi16(w, y);
        _mm256_cvtepi32_ps(_mm256_madd_epi16(p16, _mm256_set1_epi16(1)))
    }

    /// The 32 integer products of block `b` (weights × activations).
    #[inline]
    #[target_feature(enable = "avx2,fma,f16c")]
    unsafe fn block(format: Format, quants: *const u8, y: *const i8, b: usize) -> __m256 {
        let yv = _mm256_loadu_si256(y.add(b * BLOCK).cast());
        match format {
            Format::Q4_1 => products(nibbles(quants.add(b * 16)), yv),
            Format::Q4_0 => {
                // (q − 8) is signed: |q − 8| times y with q − 8's sign.
                let w = _mm256_sub_epi8(nibbles(quants.add(b * 16)), _mm256_set1_epi8(8));
                products(_mm256_sign_epi8(w, w), _mm256_sign_epi8(yv, w))
            }
            Format::Q8_0 => {
                // |w| ≤ 128 (−128's sign-flip reads as unsigned 128) and
                // |y| ≤ 127: a pair sums to at most 32,512, within i16.
                let w = _mm256_loadu_si256(quants.add(b * BLOCK).cast());
                products(_mm256_sign_epi8(w, w), _mm256_sign_epi8(yv, w))
            }
        }
    }

    #[inline]
    #[target_feature(enable = "avx2,fma,f16c")]
    unsafe fn dot(format: Format, row: Row<'_>, x: &QVec) -> f32 {
        let nb = row.blocks;
        assert!(x.qs.len() >= nb * BLOCK && x.d.len() >= nb && x.s.len() >= nb);
        assert_eq!(row.bytes.len(), nb * format.block_bytes());
        let base = row.bytes.as_ptr();
        let scales = base;
        let mins = base.add(2 * nb);
        let quants = base.add(Row::scale_bytes(format, nb));
        let y = x.qs.as_ptr();
        let (xd, xs) = (x.d.as_ptr(), x.s.as_ptr());
        let mut acc = [_mm256_setzero_ps(); 2];
        let mut macc = _mm256_setzero_ps();
        let mut b = 0;
        while b + 8 <= nb {
            let d = _mm256_mul_ps(f16x8(scales.add(2 * b)), _mm256_loadu_ps(xd.add(b)));
            if format == Format::Q4_1 {
                macc = _mm256_fmadd_ps(f16x8(mins.add(2 * b)), _mm256_loadu_ps(xs.add(b)), macc);
            }
            for j in 0..8 {
                let p = block(format, quants, y, b + j);
                let dj = _mm256_permutevar8x32_ps(d, _mm256_set1_epi32(j as i32));
                acc[j & 1] = _mm256_fmadd_ps(dj, p, acc[j & 1]);
            }
            b += 8;
        }
        let mut tail = 0f32;
        while b < nb {
            let d = f16_at(scales.add(2 * b)) * *xd.add(b);
            if format == Format::Q4_1 {
                tail += f16_at(mins.add(2 * b)) * *xs.add(b);
            }
            acc[b & 1] =
                _mm256_fmadd_ps(_mm256_set1_ps(d), block(format, quants, y, b), acc[b & 1]);
            b += 1;
        }
        hsum(_mm256_add_ps(acc[0], acc[1])) + hsum(macc) + tail
    }

    // Safe entry points: only handed out by `dot_fn` after `available()`.
    pub fn dot_q4_1(row: Row<'_>, x: &QVec) -> f32 {
        debug_assert!(available());
        // SAFETY: the CPU has AVX2, FMA and F16C (checked by `available`,
        // the only way to get this function); `dot` asserts that the row and
        // the activations hold `row.blocks` blocks before reading them.
        unsafe { dot(Format::Q4_1, row, x) }
    }

    pub fn dot_q4_0(row: Row<'_>, x: &QVec) -> f32 {
        debug_assert!(available());
        // SAFETY: as for `dot_q4_1`.
        unsafe { dot(Format::Q4_0, row, x) }
    }

    pub fn dot_q8_0(row: Row<'_>, x: &QVec) -> f32 {
        debug_assert!(available());
        // SAFETY: as for `dot_q4_1`.
        unsafe { dot(Format::Q8_0, row, x) }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A deterministic pseudo-random sequence in [-1, 1).
    fn noise(n: usize, seed: u64) -> Vec<f32> {
        let mut s = seed
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        (0..n)
            .map(|_| {
                s = s
                    .wrapping_mul(6364136223846793005)
                    .wrapping_add(1442695040888963407);
                ((s >> 40) as f32 / (1u64 << 24) as f32) * 2.0 - 1.0
            })
            .collect()
    }

    fn f16_bytes(v: f32) -> [u8; 2] {
        f16::from_f32(v).to_bits().to_le_bytes()
    }

    /// Quantizes rows the way GGUF writers do (for the tests only).
    fn quantize(format: Format, rows: usize, cols: usize, w: &[f32]) -> QMatrix {
        let mut data = Vec::new();
        for chunk in w.chunks_exact(BLOCK) {
            match format {
                Format::Q4_0 => {
                    let amax = chunk
                        .iter()
                        .fold(0f32, |m, v| if v.abs() > m.abs() { *v } else { m });
                    let d = amax / -8.0;
                    let id = if d != 0.0 { 1.0 / d } else { 0.0 };
                    data.extend_from_slice(&f16_bytes(d));
                    for j in 0..16 {
                        let q = |v: f32| ((v * id + 8.5) as i32).clamp(0, 15) as u8;
                        data.push(q(chunk[j]) | (q(chunk[j + 16]) << 4));
                    }
                }
                Format::Q4_1 => {
                    let min = chunk.iter().copied().fold(f32::MAX, f32::min);
                    let max = chunk.iter().copied().fold(f32::MIN, f32::max);
                    let d = (max - min) / 15.0;
                    let id = if d != 0.0 { 1.0 / d } else { 0.0 };
                    data.extend_from_slice(&f16_bytes(d));
                    data.extend_from_slice(&f16_bytes(min));
                    for j in 0..16 {
                        let q = |v: f32| (((v - min) * id + 0.5) as i32).clamp(0, 15) as u8;
                        data.push(q(chunk[j]) | (q(chunk[j + 16]) << 4));
                    }
                }
                Format::Q8_0 => return QMatrix::from_f32_q8_0(rows, cols, w),
            }
        }
        QMatrix::new(format, rows, cols, data).unwrap()
    }

    const FORMATS: [Format; 3] = [Format::Q4_0, Format::Q4_1, Format::Q8_0];

    #[test]
    fn products_match_the_dequantized_f32_product() {
        let (rows, cols) = (37, 576);
        let x = noise(cols, 1);
        let mut qx = QVec::default();
        qx.quantize(&x);
        for format in FORMATS {
            let m = quantize(format, rows, cols, &noise(rows * cols, 2));
            let mut out = vec![0f32; rows];
            m.matmul(&Pool::new(2).unwrap(), std::slice::from_ref(&qx), &mut out);
            let mut row = vec![0f32; cols];
            for (r, got) in out.iter().enumerate() {
                m.dequantize_row(r, &mut row);
                let want: f32 = row.iter().zip(&x).map(|(a, b)| a * b).sum();
                let scale: f32 = row.iter().zip(&x).map(|(a, b)| (a * b).abs()).sum();
                assert!(
                    (got - want).abs() <= 0.02 * scale,
                    "{format:?} row {r}: {got} vs {want} (scale {scale})"
                );
            }
        }
    }

    #[test]
    fn the_simd_kernels_equal_the_scalar_ones() {
        let (rows, cols) = (8, 1600); // 50 blocks: 6 groups of 8 and 2 more
        let mut qx = QVec::default();
        qx.quantize(&noise(cols, 3));
        for format in FORMATS {
            let m = quantize(format, rows, cols, &noise(rows * cols, 4));
            let (fast, slow) = (dot_fn(format), scalar_dot_fn(format));
            for r in 0..rows {
                let (a, b) = (fast(m.row(r), &qx), slow(m.row(r), &qx));
                assert!(
                    (a - b).abs() <= 1e-4 * (1.0 + b.abs()),
                    "{format:?}: {a} vs {b}"
                );
            }
        }
    }

    #[test]
    fn many_inputs_give_the_same_rows_as_one_at_a_time() {
        let (rows, cols, n) = (50, 64, 5);
        let m = quantize(Format::Q4_1, rows, cols, &noise(rows * cols, 5));
        let xs: Vec<QVec> = (0..n)
            .map(|t| {
                let mut q = QVec::default();
                q.quantize(&noise(cols, 10 + t as u64));
                q
            })
            .collect();
        let mut all = vec![0f32; n * rows];
        let pool = Pool::new(2).unwrap();
        m.matmul(&pool, &xs, &mut all);
        for (t, x) in xs.iter().enumerate() {
            let mut one = vec![0f32; rows];
            m.matmul(&pool, std::slice::from_ref(x), &mut one);
            assert_eq!(&all[t * rows..(t + 1) * rows], one.as_slice());
        }
    }

    #[test]
    fn activation_blocks_keep_their_sum_and_a_zero_block_is_zero() {
        let mut x = noise(64, 6);
        x[32..].fill(0.0);
        let mut q = QVec::default();
        q.quantize(&x);
        let sum: i32 = q.qs[..32].iter().map(|v| i32::from(*v)).sum();
        assert!((q.s[0] - q.d[0] * sum as f32).abs() < 1e-6);
        assert_eq!((q.d[1], q.s[1]), (0.0, 0.0));
        assert!(q.qs[32..].iter().all(|v| *v == 0));
        let back: Vec<f32> = q.qs[..32].iter().map(|v| f32::from(*v) * q.d[0]).collect();
        for (a, b) in back.iter().zip(&x[..32]) {
            assert!((a - b).abs() <= q.d[0] / 2.0 + 1e-6);
        }
    }

    #[test]
    fn sizes_that_do_not_fit_are_refused() {
        assert!(QMatrix::new(Format::Q4_1, 2, 30, vec![0; 40]).is_err());
        assert!(QMatrix::new(Format::Q4_1, 2, 32, vec![0; 39]).is_err());
        assert!(QMatrix::new(Format::Q4_1, 2, 32, vec![0; 40]).is_ok());
    }
}
