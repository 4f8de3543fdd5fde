// CPU reference for the depthwise causal conv1d backward (shaders/conv1d_backward.wgsl), plain scan-order layout,
// in f64: x, dout (B, K, L, C); weight (K, C, W); bias (K, C). With pre_t = b + Σ_q w[q]·x_{t−(W−1)+q}:
//   g_t = dout_t·silu'(pre_t) (or dout_t);  dx_s = Σ_q w[q]·g_{s+(W−1)−q};  dw[q] = Σ g_t·x_{t−(W−1)+q};  db = Σ g_t.
type Arr = ArrayLike<number>;

const sig = (v: number): number => 1 / (1 + Math.exp(-v));

export function conv1d64(
  x: Arr,
  w: Arr,
  bias: Arr,
  B: number,
  K: number,
  L: number,
  C: number,
  W: number,
  silu: boolean,
): Float64Array {
  const out = new Float64Array(B * K * L * C);
  for (let bk = 0; bk < B * K; bk++)
    for (let t = 0; t < L; t++)
      for (let c = 0; c < C; c++) {
        const k = bk % K;
        let pre = bias[k * C + c]!;
        for (let q = 0; q < W; q++) {
          const s = t - (W - 1) + q;
          if (s >= 0) pre += w[(k * C + c) * W + q]! * x[(bk * L + s) * C + c]!;
        }
        out[(bk * L + t) * C + c] = silu ? pre * sig(pre) : pre;
      }
  return out;
}

export function conv1dBackwardRef(
  x: Arr,
  w: Arr,
  bias: Arr,
  dout: Arr,
  B: number,
  K: number,
  L: number,
  C: number,
  W: number,
  silu: boolean,
): { dx: Float64Array; dWeight: Float64Array; dBias: Float64Array } {
  const pre = conv1d64(x, w, bias, B, K, L, C, W, false);
  const g = Float64Array.from(dout, (d, i) => (silu ? d * sig(pre[i]!) * (1 + pre[i]! * (1 - sig(pre[i]!))) : d));
  const dx = new Float64Array(x.length);
  const dWeight = new Float64Array(K * C * W);
  const dBias = new Float64Array(K * C);
  for (let bk = 0; bk < B * K; bk++)
    for (let t = 0; t < L; t++)
      for (let c = 0; c < C; c++) {
        const k = bk % K;
        const gt = g[(bk * L + t) * C + c]!;
        dBias[k * C + c] += gt;
        for (let q = 0; q < W; q++) {
          const s = t - (W - 1) + q;
          if (s < 0) continue;
          dWeight[(k * C + c) * W + q] += gt * x[(bk * L + s) * C + c]!;
          dx[(bk * L + s) * C + c] += gt * w[(k * C + c) * W + q]!;
        }
      }
  return { dx, dWeight, dBias };
}
