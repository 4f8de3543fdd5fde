// CPU reference for shaders/attention.wgsl: naive multi-head attention in f64 on (B, H, L, Dh) arrays, with the
// full score row, max-subtracted softmax and an optional key mask (B, Lk) (nonzero = attend; all-masked rows → 0).
// Plus the head split/merge used to compare against the packed layouts.

export function attentionRef(
  q: ArrayLike<number>, // (B, H, Lq, Dh)
  k: ArrayLike<number>, // (B, H, Lk, Dh)
  v: ArrayLike<number>, // (B, H, Lk, Dh)
  dims: { B: number; H: number; Lq: number; Lk: number; Dh: number },
  mask: Uint32Array | null = null, // (B, Lk)
  scale = 1 / Math.sqrt(dims.Dh),
): Float64Array {
  const { B, H, Lq, Lk, Dh } = dims;
  const out = new Float64Array(B * H * Lq * Dh);
  const s = new Float64Array(Lk);
  for (let b = 0; b < B; b++)
    for (let h = 0; h < H; h++)
      for (let i = 0; i < Lq; i++) {
        const qi = ((b * H + h) * Lq + i) * Dh;
        let m = -Infinity;
        for (let j = 0; j < Lk; j++) {
          if (mask && mask[b * Lk + j] === 0) {
            s[j] = -Infinity;
            continue;
          }
          const kj = ((b * H + h) * Lk + j) * Dh;
          let dot = 0;
          for (let d = 0; d < Dh; d++) dot += q[qi + d]! * k[kj + d]!;
          s[j] = dot * scale;
          m = Math.max(m, s[j]!);
        }
        if (m === -Infinity) continue; // every key masked: zeros
        let sum = 0;
        for (let j = 0; j < Lk; j++) sum += s[j] === -Infinity ? 0 : Math.exp(s[j]! - m);
        for (let d = 0; d < Dh; d++) {
          let acc = 0;
          for (let j = 0; j < Lk; j++)
            if (s[j] !== -Infinity) acc += (Math.exp(s[j]! - m) / sum) * v[((b * H + h) * Lk + j) * Dh + d]!;
          out[qi + d] = acc;
        }
      }
  return out;
}

/** (B, L, n·H·Dh) packed projection → chunk c as (B, H, L, Dh) (PyTorch: chunk(n, -1)[c].view(B, L, H, Dh).transpose(1,
 * 2)). */
export function splitHeadsRef(
  x: Float32Array,
  B: number,
  L: number,
  n: number,
  c: number,
  H: number,
  Dh: number,
): Float32Array {
  const out = new Float32Array(B * H * L * Dh);
  const row = n * H * Dh;
  for (let b = 0; b < B; b++)
    for (let l = 0; l < L; l++)
      for (let h = 0; h < H; h++)
        for (let d = 0; d < Dh; d++)
          out[((b * H + h) * L + l) * Dh + d] = x[(b * L + l) * row + c * H * Dh + h * Dh + d]!;
  return out;
}

/** (B, H, L, Dh) → (B, L, H·Dh) (PyTorch: transpose(1, 2).reshape(B, L, H·Dh)). */
export function mergeHeadsRef(x: ArrayLike<number>, B: number, H: number, L: number, Dh: number): Float64Array {
  const out = new Float64Array(x.length);
  for (let b = 0; b < B; b++)
    for (let h = 0; h < H; h++)
      for (let l = 0; l < L; l++)
        for (let d = 0; d < Dh; d++) out[((b * L + l) * H + h) * Dh + d] = x[((b * H + h) * L + l) * Dh + d]!;
  return out;
}
