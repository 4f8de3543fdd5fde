// AdamW kernel (shaders/adamw.wgsl) vs the f64 CPU reference on fresh random inputs over several sizes, outputs
// poisoned first; with and without clipping; and the norm reductions (sumOfSquares / sumSlots) vs f64 sums.
import { describe, it } from 'vitest';
import { adamwStep, sumOfSquares, sumSlots } from '../src/engine/ops/adamw';
import { adamwReference, clipCoefficient } from '../src/engine/reference/adamw';
import { expectClose, freshSeed, getEngine, randn } from './gpu';
import { poisonNext } from './kernel-helpers';

// f32 vs f64 of a handful of flops per element: a few ulp relative; the update term m/(sqrt(v)+eps) can lose a
// little more where v is tiny. 1e-5 normalised leaves margin; a wrong formula is O(1e-2) or more.
const TOL = 1e-5;

describe('AdamW kernel vs CPU reference', () => {
  for (const [n, clip] of [[1, 0], [255, 0.5], [1000, 0], [4133, 3]] as const) {
    const seed = freshSeed();
    it(`n=${n} clip=${clip} seed=${seed}`, async () => {
      const e = await getEngine();
      const p = randn(n, seed);
      const g = randn(n, seed + 1, -2, 2);
      const m = randn(n, seed + 2, -0.1, 0.1);
      const v = randn(n, seed + 3, 0, 0.05);
      const h = { lr: 3e-3, beta1: 0.9, beta2: 0.95, eps: 1e-8, weightDecay: 0.05, step: 1 + (seed % 7) };
      const state = { param: e.fromArray([n], p), m: e.fromArray([n], m), v: e.fromArray([n], v) };
      const grad = e.fromArray([n], g);
      const stats = e.fromArray([4], [0, 0, 0, 0]);
      sumOfSquares(e, grad, stats, 2);
      poisonNext(e, [[n]], 4);
      const out = adamwStep(e, state, grad, h, clip ? { stats, slot: 2, maxNorm: clip } : null);
      let ss = 0;
      for (const x of g) ss += x * x;
      expectClose((await e.readF32(stats)).subarray(2, 3), [ss], 1e-5, 'sum of squares');
      const ref = adamwReference(p, g, m, v, h, clipCoefficient(ss, clip));
      expectClose(await e.readF32(out.param), ref.param, TOL, 'param');
      expectClose(await e.readF32(out.m), ref.m, TOL, 'm');
      expectClose(await e.readF32(out.v), ref.v, TOL, 'v');
      expectClose(await e.readF32(state.param), p, 0, 'input param untouched');
      for (const t of [...Object.values(state), ...Object.values(out), grad, stats]) t.dispose();
    });
  }

  it('sumSlots adds partials in order; a NaN anywhere gives NaN', async () => {
    const e = await getEngine();
    const part = e.fromArray([5], [1, 2, 3, 4, 100]);
    const stats = e.fromArray([2], [0, 0]);
    sumSlots(e, part, 4, stats, 1);
    expectClose(await e.readF32(stats), [0, 10], 0, 'total of 4 slots');
    const bad = e.fromArray([3], [1, Number.NaN, 2]);
    sumOfSquares(e, bad, stats, 0);
    const r = await e.readF32(stats);
    if (!Number.isNaN(r[0])) throw new Error(`sumsq of a NaN tensor gave ${r[0]}`);
    for (const t of [part, stats, bad]) t.dispose();
  });
});
