// CPU references for src/engine/ops/model_glue.ts: plain loops over (b, l, j), sums in f64.

/** h + gate[b, off + j] · y; h, y (B, L, D), gate (B, W). */
export function gatedResidualRef(
  h: Float32Array,
  gate: Float32Array,
  off: number,
  y: Float32Array,
  B: number,
  L: number,
  D: number,
): Float32Array {
  const W = gate.length / B;
  const out = new Float32Array(h.length);
  for (let b = 0; b < B; b++)
    for (let l = 0; l < L; l++)
      for (let j = 0; j < D; j++) {
        const i = (b * L + l) * D + j;
        out[i] = h[i]! + gate[b * W + off + j]! * y[i]!;
      }
  return out;
}

/** [a (B, L1, D) ; c (B, L2, D)] → (B, L1 + L2, D). */
export function concatRowsRef(
  a: Float32Array,
  c: Float32Array,
  B: number,
  L1: number,
  L2: number,
  D: number,
): Float32Array {
  const out = new Float32Array(B * (L1 + L2) * D);
  for (let b = 0; b < B; b++) {
    out.set(a.subarray(b * L1 * D, (b + 1) * L1 * D), b * (L1 + L2) * D);
    out.set(c.subarray(b * L2 * D, (b + 1) * L2 * D), (b * (L1 + L2) + L1) * D);
  }
  return out;
}

/** a (B, L, D)[:, start : start + len] → (B, len, D). */
export function sliceRowsRef(
  a: Float32Array,
  B: number,
  L: number,
  D: number,
  start: number,
  len: number,
): Float32Array {
  const out = new Float32Array(B * len * D);
  for (let b = 0; b < B; b++) out.set(a.subarray((b * L + start) * D, (b * L + start + len) * D), b * len * D);
  return out;
}

/** Σ_l m·x / max(Σ_l m, 1) over L; x (B, L, D), m (B, L) nonzero = keep → (B, D). */
export function maskedMeanRef(x: Float32Array, m: ArrayLike<number>, B: number, L: number, D: number): Float32Array {
  const out = new Float32Array(B * D);
  for (let b = 0; b < B; b++) {
    let cnt = 0;
    for (let l = 0; l < L; l++) if (m[b * L + l]) cnt++;
    for (let j = 0; j < D; j++) {
      let s = 0;
      for (let l = 0; l < L; l++) if (m[b * L + l]) s += x[(b * L + l) * D + j]!;
      out[b * D + j] = s / Math.max(cnt, 1);
    }
  }
  return out;
}
