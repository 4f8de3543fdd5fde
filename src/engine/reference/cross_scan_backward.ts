// CPU references for ops/cross_scan_backward.ts written as the literal adjoints: a scatter-add through the
// permutation tables of reference/cross_scan.ts (for the gather) and a broadcast (for the merge), in f64.
import type { ScanGrid } from '../ops/cross_scan_geom';
import { sequencePermutations } from './cross_scan';

/** dxs (B, K, L, C) → dx (B, L, C): dx[b, perm[k][j]] += dxs[b, k, j]. */
export function crossScanBackwardRef(
  dxs: ArrayLike<number>,
  B: number,
  L: number,
  C: number,
  g: ScanGrid,
): Float64Array {
  const { perm } = sequencePermutations(g);
  const K = perm.length;
  const dx = new Float64Array(B * L * C);
  for (let b = 0; b < B; b++)
    for (let k = 0; k < K; k++)
      for (let j = 0; j < L; j++)
        for (let c = 0; c < C; c++) dx[(b * L + perm[k]![j]!) * C + c] += dxs[((b * K + k) * L + j) * C + c]!;
  return dx;
}

/** dy (B, L, C) → dys (B, K, L, C): dys[b, k, j] = dy[b, perm[k][j]] (every direction gets the merged gradient). */
export function crossMergeBackwardRef(
  dy: ArrayLike<number>,
  B: number,
  L: number,
  C: number,
  g: ScanGrid,
): Float64Array {
  const { perm } = sequencePermutations(g);
  const K = perm.length;
  const out = new Float64Array(B * K * L * C);
  for (let b = 0; b < B; b++)
    for (let k = 0; k < K; k++)
      for (let j = 0; j < L; j++)
        for (let c = 0; c < C; c++) out[((b * K + k) * L + j) * C + c] = dy[(b * L + perm[k]![j]!) * C + c]!;
  return out;
}
