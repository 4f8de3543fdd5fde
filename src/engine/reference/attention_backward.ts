// CPU reference for shaders/attention_backward.wgsl, in f64 on (B, H, L, Dh) arrays: the full softmax rows
// P = softmax(s·q·kᵀ, masked keys excluded) and dS = P ⊙ (dO·vᵀ − rowsum(P ⊙ dO·vᵀ)); all-masked rows contribute 0.
type Arr = ArrayLike<number>;

export function attentionBackwardRef(
  q: Arr,
  k: Arr,
  v: Arr,
  dO: Arr, // (B, H, Lq, Dh), (B, H, Lk, Dh) ×2, (B, H, Lq, Dh)
  dims: { B: number; H: number; Lq: number; Lk: number; Dh: number },
  mask: ArrayLike<number> | null = null, // (B, Lk), nonzero = attend
  scale = 1 / Math.sqrt(dims.Dh),
): { dq: Float64Array; dk: Float64Array; dv: Float64Array } {
  const { B, H, Lq, Lk, Dh } = dims;
  const dq = new Float64Array(B * H * Lq * Dh);
  const dk = new Float64Array(B * H * Lk * Dh);
  const dv = new Float64Array(B * H * Lk * Dh);
  const P = new Float64Array(Lk);
  const dP = new Float64Array(Lk);
  for (let b = 0; b < B; b++)
    for (let h = 0; h < H; h++) {
      const bh = b * H + h;
      for (let i = 0; i < Lq; i++) {
        const qi = (bh * Lq + i) * Dh;
        let m = -Infinity;
        for (let j = 0; j < Lk; j++) {
          P[j] = -Infinity;
          if (mask && mask[b * Lk + j] === 0) continue;
          let s = 0;
          for (let d = 0; d < Dh; d++) s += q[qi + d]! * k[(bh * Lk + j) * Dh + d]!;
          P[j] = s * scale;
          m = Math.max(m, P[j]!);
        }
        if (m === -Infinity) continue;
        let sum = 0;
        for (let j = 0; j < Lk; j++) sum += P[j] = P[j] === -Infinity ? 0 : Math.exp(P[j]! - m);
        let rowDot = 0;
        for (let j = 0; j < Lk; j++) {
          P[j]! /= sum;
          let g = 0;
          for (let d = 0; d < Dh; d++) g += dO[qi + d]! * v[(bh * Lk + j) * Dh + d]!;
          dP[j] = g;
          rowDot += P[j]! * g;
        }
        for (let j = 0; j < Lk; j++) {
          const ds = P[j]! * (dP[j]! - rowDot) * scale;
          const kj = (bh * Lk + j) * Dh;
          for (let d = 0; d < Dh; d++) {
            dq[qi + d]! += ds * k[kj + d]!;
            dk[kj + d]! += ds * q[qi + d]!;
            dv[kj + d]! += P[j]! * dO[qi + d]!;
          }
        }
      }
    }
  return { dq, dk, dv };
}
