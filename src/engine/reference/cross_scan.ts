// CPU reference for the M-Mamba cross-scan (shaders/cross_scan.wgsl): the permutations are built as explicit
// index tables exactly like training/mmamba/mmamba.py `image_permutations` / `sequence_permutations`
// (no shared index arithmetic with the WGSL, so a wrong formula there cannot hide).
import type { ScanGrid } from '../ops/cross_scan_geom';

const DIRECTION_SETS: Record<1 | 2 | 4, number[]> = { 1: [0], 2: [0, 2], 4: [0, 1, 2, 3] };

/** (4, HW): P_k[j] = row-major image index read at scan position j. */
export function imagePermutations(G: number): number[][] {
  const p0 = Array.from({ length: G * G }, (_, i) => i);
  const p1: number[] = [];
  for (let c = 0; c < G; c++) for (let r = 0; r < G; r++) p1.push(r * G + c); // transpose, flattened
  return [p0, p1, [...p0].reverse(), [...p1].reverse()];
}

/** perm (K, L): gather index over [txt ; img] per direction; inv (K, L): inv[k][perm[k][j]] = j. */
export function sequencePermutations(g: ScanGrid): { perm: number[][]; inv: number[][] } {
  const HW = g.grid * g.grid;
  const P = imagePermutations(g.grid);
  const txt = Array.from({ length: g.textLen }, (_, i) => i);
  const perm = DIRECTION_SETS[g.directions].map((k) => {
    const img = P[k]!.map((i) => g.textLen + i);
    if (g.textPosition === 'middle') return [...img.slice(0, HW / 2), ...txt, ...img.slice(HW / 2)];
    return [...txt, ...img];
  });
  const inv = perm.map((row) => {
    const r = new Array<number>(row.length);
    row.forEach((t, j) => {
      r[t] = j;
    });
    return r;
  });
  return { perm, inv };
}

/** x (B, L, C) → (B, K, L, C) with xs[b,k,j] = x[b, perm[k][j]]. */
export function crossScanRef(x: Float32Array, B: number, L: number, C: number, g: ScanGrid): Float32Array {
  const { perm } = sequencePermutations(g);
  const K = perm.length;
  const out = new Float32Array(B * K * L * C);
  for (let b = 0; b < B; b++)
    for (let k = 0; k < K; k++)
      for (let j = 0; j < L; j++) {
        const src = (b * L + perm[k]![j]!) * C;
        out.set(x.subarray(src, src + C), ((b * K + k) * L + j) * C);
      }
  return out;
}

/** y (B, K, L, C) in scan order → (B, L, C): out[b,t] = Σ_k y[b, k, inv[k][t]] (k in order, f64 sum). */
export function crossMergeRef(y: Float32Array, B: number, L: number, C: number, g: ScanGrid): Float32Array {
  const { inv } = sequencePermutations(g);
  const K = inv.length;
  const out = new Float32Array(B * L * C);
  for (let b = 0; b < B; b++)
    for (let t = 0; t < L; t++)
      for (let c = 0; c < C; c++) {
        let acc = 0;
        for (let k = 0; k < K; k++) acc += y[((b * K + k) * L + inv[k]![t]!) * C + c]!;
        out[(b * L + t) * C + c] = acc;
      }
  return out;
}

/** Reorders per-direction rows from scan order to original token order: out[b,k,t] = y[b,k,inv[k][t]]. */
export function toTokenOrderRef(y: Float32Array, B: number, L: number, C: number, g: ScanGrid): Float32Array {
  const { inv } = sequencePermutations(g);
  const K = inv.length;
  const out = new Float32Array(y.length);
  for (let b = 0; b < B; b++)
    for (let k = 0; k < K; k++)
      for (let t = 0; t < L; t++) {
        const src = ((b * K + k) * L + inv[k]![t]!) * C;
        out.set(y.subarray(src, src + C), ((b * K + k) * L + t) * C);
      }
  return out;
}

/** Reorders per-direction rows from original token order to scan order: out[b,k,j] = x[b,k,perm[k][j]]. */
export function toScanOrderRef(x: Float32Array, B: number, L: number, C: number, g: ScanGrid): Float32Array {
  const { perm } = sequencePermutations(g);
  const K = perm.length;
  const out = new Float32Array(x.length);
  for (let b = 0; b < B; b++)
    for (let k = 0; k < K; k++)
      for (let j = 0; j < L; j++) {
        const src = ((b * K + k) * L + perm[k]![j]!) * C;
        out.set(x.subarray(src, src + C), ((b * K + k) * L + j) * C);
      }
  return out;
}
