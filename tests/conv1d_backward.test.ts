// Depthwise causal conv1d backward, plain and fused cross-scan layouts, with and without SiLU, vs the f64 reference
// (the cross layout through explicit permutation tables), outputs poisoned; the reference vs central differences.
import { describe, it } from 'vitest';
import { causalConv1dBackward, causalConv1dCrossScanBackward } from '../src/engine/ops/conv1d_backward';
import { seqLen, type ScanGrid } from '../src/engine/ops/cross_scan_geom';
import { causalConv1dRef } from '../src/engine/reference/conv1d';
import { conv1d64, conv1dBackwardRef } from '../src/engine/reference/conv1d_backward';
import { crossScanRef, toScanOrderRef } from '../src/engine/reference/cross_scan';
import { crossScanBackwardRef } from '../src/engine/reference/cross_scan_backward';
import { dot, fdGrad } from './fd_backward';
import { expectClose, freshSeed, getEngine, randn } from './gpu';
import { poisonNext } from './kernel_helpers';

// ≤ 4 taps, ≤ 4 directions per dx element; dW/dbias are fixed-order sums over B·L ≤ 600 terms: ~1e-6 relative.
const TOL = 1e-5;
const FD_TOL = 1e-7;

describe('conv1d backward', () => {
  for (const silu of [false, true])
    it(`plain, silu=${silu}`, async () => {
      const e = await getEngine();
      for (const [B, K, L, C, W] of [
        [1, 1, 1, 1, 4],
        [2, 1, 9, 5, 4],
        [2, 4, 37, 70, 4],
        [1, 2, 300, 3, 3],
      ] as const) {
        const seed = freshSeed();
        const x = randn(B * K * L * C, seed, -2, 2);
        const w = randn(K * C * W, seed + 1);
        const b = randn(K * C, seed + 2);
        const dout = randn(B * K * L * C, seed + 3);
        const tx = e.fromArray(K === 1 ? [B, L, C] : [B, K, L, C], x);
        const tw = e.fromArray(K === 1 ? [C, W] : [K, C, W], w);
        const tb = e.fromArray(K === 1 ? [C] : [K, C], b);
        const td = e.fromArray(tx.shape, dout);
        poisonNext(e, [tx.shape as number[], tw.shape as number[], tb.shape as number[]]);
        const got = causalConv1dBackward(e, tx, tw, tb, td, { silu });
        const want = conv1dBackwardRef(x, w, b, dout, B, K, L, C, W, silu);
        const what = `B=${B} K=${K} L=${L} C=${C} W=${W} seed=${seed}`;
        expectClose(await e.readF32(got.dx), want.dx, TOL, `${what} dx`);
        expectClose(await e.readF32(got.dWeight), want.dWeight, TOL, `${what} dWeight`);
        expectClose(await e.readF32(got.dBias), want.dBias, TOL, `${what} dBias`);
        for (const t of [tx, tw, tb, td, got.dx, got.dWeight, got.dBias]) t.dispose();
      }
    });

  const GRIDS: ScanGrid[] = [
    { textLen: 3, grid: 4, directions: 4 },
    { textLen: 2, grid: 5, directions: 2 },
    { textLen: 4, grid: 4, directions: 4, textPosition: 'middle' },
    { textLen: 16, grid: 16, directions: 4 },
  ];
  for (const grid of GRIDS)
    it(`fused cross-scan layout ${JSON.stringify(grid)}`, async () => {
      const e = await getEngine();
      const [B, C, W, K, L] = [2, 6, 4, grid.directions, seqLen(grid)];
      const seed = freshSeed();
      const x = randn(B * L * C, seed, -2, 2);
      const w = randn(K * C * W, seed + 1);
      const b = randn(K * C, seed + 2);
      const dout = randn(B * K * L * C, seed + 3); // (B, K, L, C) token order
      const tx = e.fromArray([B, L, C], x);
      const tw = e.fromArray([K, C, W], w);
      const tb = e.fromArray([K, C], b);
      const td = e.fromArray([B, K, L, C], dout);
      poisonNext(e, [
        [B, L, C],
        [K, C, W],
        [K, C],
      ]);
      const got = causalConv1dCrossScanBackward(e, tx, tw, tb, td, grid, { silu: true });
      // reference: gather into scan order, plain backward, scatter-add back
      const xs = crossScanRef(x, B, L, C, grid);
      const ds = toScanOrderRef(dout, B, L, C, grid);
      const ws = conv1dBackwardRef(xs, w, b, ds, B, K, L, C, W, true);
      const what = `seed=${seed}`;
      expectClose(await e.readF32(got.dx), crossScanBackwardRef(ws.dx, B, L, C, grid), TOL, `${what} dx`);
      expectClose(await e.readF32(got.dWeight), ws.dWeight, TOL, `${what} dWeight`);
      expectClose(await e.readF32(got.dBias), ws.dBias, TOL, `${what} dBias`);
      for (const t of [tx, tw, tb, td, got.dx, got.dWeight, got.dBias]) t.dispose();
    });

  it('reference vs finite differences; f64 forward vs the forward reference', () => {
    const [B, K, L, C, W] = [2, 2, 6, 3, 4];
    const seed = freshSeed();
    const x = randn(B * K * L * C, seed, -2, 2);
    const w = randn(K * C * W, seed + 1);
    const b = randn(K * C, seed + 2);
    const dout = randn(B * K * L * C, seed + 3);
    expectClose(conv1d64(x, w, b, B, K, L, C, W, true), causalConv1dRef(x, w, b, B, K, L, C, W, true), 1e-6, 'forward');
    const g = conv1dBackwardRef(x, w, b, dout, B, K, L, C, W, true);
    const f = (xx: ArrayLike<number>, ww: ArrayLike<number>, bb: ArrayLike<number>) =>
      dot(conv1d64(xx, ww, bb, B, K, L, C, W, true), dout);
    expectClose(
      g.dx,
      fdGrad((v) => f(v, w, b), x),
      FD_TOL,
      `dx seed=${seed}`,
    );
    expectClose(
      g.dWeight,
      fdGrad((v) => f(x, v, b), w),
      FD_TOL,
      `dWeight seed=${seed}`,
    );
    expectClose(
      g.dBias,
      fdGrad((v) => f(x, w, v), b),
      FD_TOL,
      `dBias seed=${seed}`,
    );
  });
});
