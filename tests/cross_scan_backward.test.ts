// Cross-scan / cross-merge backward vs literal scatter-add / broadcast references (explicit permutation tables),
// outputs poisoned, and the adjoint identities ⟨scan(x), g⟩ = ⟨x, scanᵀ(g)⟩, ⟨merge(y), g⟩ = ⟨y, mergeᵀ(g)⟩.
import { describe, expect, it } from 'vitest';
import { seqLen, type ScanGrid } from '../src/engine/ops/cross_scan_geom';
import { crossMergeBackward, crossScanBackward } from '../src/engine/ops/cross_scan_backward';
import { crossMergeRef, crossScanRef } from '../src/engine/reference/cross_scan';
import { crossMergeBackwardRef, crossScanBackwardRef } from '../src/engine/reference/cross_scan_backward';
import { dot } from './fd_backward';
import { expectClose, freshSeed, getEngine, randn } from './gpu';
import { poisonNext } from './kernel_helpers';

// Sums of ≤ 4 values per element: exact up to one rounding per add.
const TOL = 1e-6;

describe('cross-scan backward', () => {
  const GRIDS: ScanGrid[] = [
    { textLen: 3, grid: 4, directions: 4 },
    { textLen: 0, grid: 5, directions: 2 },
    { textLen: 16, grid: 16, directions: 4 },
    { textLen: 4, grid: 4, directions: 4, textPosition: 'middle' },
    { textLen: 2, grid: 3, directions: 1 },
  ];
  for (const g of GRIDS)
    it(`${JSON.stringify(g)}`, async () => {
      const e = await getEngine();
      const [B, C, K, L] = [2, 5, g.directions, seqLen(g)];
      const seed = freshSeed();
      const dxs = randn(B * K * L * C, seed);
      const dy = randn(B * L * C, seed + 1);
      const t1 = e.fromArray([B, K, L, C], dxs);
      const t2 = e.fromArray([B, L, C], dy);
      poisonNext(e, [
        [B, L, C],
        [B, K, L, C],
      ]);
      const dx = crossScanBackward(e, t1, g);
      const dys = crossMergeBackward(e, t2, g);
      const want1 = crossScanBackwardRef(dxs, B, L, C, g);
      const want2 = crossMergeBackwardRef(dy, B, L, C, g);
      expectClose(await e.readF32(dx), want1, TOL, `scan backward seed=${seed}`);
      expectClose(await e.readF32(dys), want2, TOL, `merge backward seed=${seed}`);
      // adjoint identities of the references against the forward references
      const x = randn(B * L * C, seed + 2);
      const ys = randn(B * K * L * C, seed + 3);
      // The dots sum thousands of random-sign terms and may cancel to far below their size, so the error is
      // measured against the sum of |terms| (f32 rounding of the references is ~1e-7 of that), not the dot itself.
      const adjointError = (a: number, b: number, scale: number) => Math.abs(a - b) / Math.max(scale, 1e-30);
      const abs = (v: ArrayLike<number>) => Float64Array.from(v as ArrayLike<number>, Math.abs);
      const fwdScan = crossScanRef(x, B, L, C, g);
      const fwdMerge = crossMergeRef(ys, B, L, C, g);
      expect(adjointError(dot(fwdScan, dxs), dot(x, want1), dot(abs(fwdScan), abs(dxs))), 'scan adjoint').toBeLessThan(
        1e-6,
      );
      expect(
        adjointError(dot(fwdMerge, dy), dot(ys, want2), dot(abs(fwdMerge), abs(dy))),
        'merge adjoint',
      ).toBeLessThan(1e-6);
      for (const t of [t1, t2, dx, dys]) t.dispose();
    });
});
