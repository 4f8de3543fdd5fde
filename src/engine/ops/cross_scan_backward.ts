// Backward of the cross-scan gather and the cross-merge (ops/cross_scan.ts). Both are permutation maps, so each
// one's adjoint is the other:
//   crossScan  xs[b,k,j] = x[b, seqToken(k,j)]       → dx[b,t]    = Σ_k dxs[b, k, seqPos(k,t)]   (= crossMerge)
//   crossMerge y[b,t]    = Σ_k ys[b, k, seqPos(k,t)] → dys[b,k,j] = dy[b, seqToken(k,j)]        (= crossScan)
// The scatter-add of the gather's backward becomes a gather through the inverse permutation (one writer per output
// element, k summed in fixed order): deterministic, no atomics. reference/cross_scan_backward.ts checks it by an
// explicit scatter-add instead.
import type { Engine } from '../engine';
import type { Tensor } from '../tensor';
import { crossMerge, crossScan } from './cross_scan';
import type { ScanGrid } from './cross_scan_geom';

/** dxs (B, K, L, C) scan order → dx (B, L, C). */
export const crossScanBackward = (e: Engine, dxs: Tensor, grid: ScanGrid): Tensor => crossMerge(e, dxs, grid);

/** dy (B, L, C) → dys (B, K, L, C) scan order (the gradient broadcast to every direction). */
export const crossMergeBackward = (e: Engine, dy: Tensor, grid: ScanGrid): Tensor => crossScan(e, dy, grid);
