// CPU references for the VQ tokenizer ops (shaders/conv2d.wgsl, groupnorm.wgsl, upsample.wgsl), NCHW, f64
// accumulation, written as the textbook loops of torch.nn.functional.conv2d / group_norm / interpolate.

/** x (B, Cin, H, W), w (Cout, Cin, k, k), bias (Cout) → (B, Cout, Ho, Wo). */
export function conv2dRef(
  x: Float32Array,
  w: Float32Array,
  bias: Float32Array,
  B: number,
  Cin: number,
  H: number,
  W: number,
  Cout: number,
  k: number,
  stride: number,
  pad: number,
): { out: Float32Array; Ho: number; Wo: number } {
  const Ho = Math.floor((H + 2 * pad - k) / stride) + 1;
  const Wo = Math.floor((W + 2 * pad - k) / stride) + 1;
  const out = new Float32Array(B * Cout * Ho * Wo);
  for (let b = 0; b < B; b++)
    for (let o = 0; o < Cout; o++)
      for (let y = 0; y < Ho; y++)
        for (let xo = 0; xo < Wo; xo++) {
          let acc = bias[o]!;
          for (let c = 0; c < Cin; c++)
            for (let i = 0; i < k; i++) {
              const iy = y * stride - pad + i;
              if (iy < 0 || iy >= H) continue;
              for (let j = 0; j < k; j++) {
                const ix = xo * stride - pad + j;
                if (ix < 0 || ix >= W) continue;
                acc += w[((o * Cin + c) * k + i) * k + j]! * x[((b * Cin + c) * H + iy) * W + ix]!;
              }
            }
          out[((b * Cout + o) * Ho + y) * Wo + xo] = acc;
        }
  return { out, Ho, Wo };
}

/** x (B, C, H, W) → (B, C, 2H, 2W), nearest. */
export function upsampleNearest2xRef(x: Float32Array, B: number, C: number, H: number, W: number): Float32Array {
  const out = new Float32Array(B * C * 4 * H * W);
  for (let bc = 0; bc < B * C; bc++)
    for (let y = 0; y < 2 * H; y++)
      for (let xo = 0; xo < 2 * W; xo++) out[(bc * 2 * H + y) * 2 * W + xo] = x[(bc * H + (y >> 1)) * W + (xo >> 1)]!;
  return out;
}

/** GroupNorm (biased variance, affine), then optional SiLU. x (B, C, HW...) flattened per channel. */
export function groupNormRef(
  x: Float32Array,
  B: number,
  C: number,
  HW: number,
  G: number,
  weight: Float32Array,
  bias: Float32Array,
  eps: number,
  silu: boolean,
): Float32Array {
  const out = new Float32Array(x.length);
  const cg = C / G;
  for (let b = 0; b < B; b++)
    for (let g = 0; g < G; g++) {
      const base = (b * C + g * cg) * HW;
      const n = cg * HW;
      let mean = 0;
      for (let i = 0; i < n; i++) mean += x[base + i]!;
      mean /= n;
      let v = 0;
      for (let i = 0; i < n; i++) v += (x[base + i]! - mean) ** 2;
      const rstd = 1 / Math.sqrt(v / n + eps);
      for (let i = 0; i < n; i++) {
        const c = g * cg + Math.floor(i / HW);
        const y = (x[base + i]! - mean) * rstd * weight[c]! + bias[c]!;
        out[base + i] = silu ? y / (1 + Math.exp(-y)) : y;
      }
    }
  return out;
}
