// CPU reference for the depthwise causal conv1d (shaders/conv1d.wgsl), as PyTorch's
// F.conv1d(F.pad(x, (W-1, 0)), w, b, groups=channels): out_t = b + Σ_{i<W} w[i] · x_{t-(W-1)+i}, x_{<0} = 0.
// x (B, K, L, C) channels-last sequences, weight (K, C, W), bias (K, C); f64 accumulation.
export function causalConv1dRef(
  x: Float32Array,
  weight: Float32Array,
  bias: Float32Array,
  B: number,
  K: number,
  L: number,
  C: number,
  W: number,
  silu: boolean,
): Float32Array {
  const out = new Float32Array(B * K * L * C);
  for (let b = 0; b < B; b++)
    for (let k = 0; k < K; k++)
      for (let t = 0; t < L; t++)
        for (let c = 0; c < C; c++) {
          let acc = bias[k * C + c]!;
          for (let i = 0; i < W; i++) {
            const s = t - (W - 1) + i;
            if (s >= 0) acc += weight[(k * C + c) * W + i]! * x[((b * K + k) * L + s) * C + c]!;
          }
          out[((b * K + k) * L + t) * C + c] = silu ? acc / (1 + Math.exp(-acc)) : acc;
        }
  return out;
}
