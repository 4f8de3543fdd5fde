// AdamW kernel (shaders/adamw.wgsl) vs the f64 CPU reference on fresh random inputs over several sizes, outputs
// poisoned first; with and without clipping; and the norm reductions (sumOfSquares / sumSlots) vs f64 sums.
import { describe, it } from 'vitest';
import { adamwStep, sumOfSquares, sumSlots } from '../src/engine/ops/adamw';
import { adamwReference, clipCoefficient } from '../src/engine/reference/adamw';
import { expectClose, freshSeed, getEngine, randn } from './gpu';
import { poisonNext } from './kernel_helpers';

// f32 vs f64 of a handful of flops per element: a few ulp relative to the terms summed; the update term
// m/(sqrt(v)+eps) can lose a little more where v is tiny. The error is measured against the magnitude of those terms
// (param: |p| and the step |p' - p|; m: |m| and (1-beta1)|g|), not against the result alone: at n=1 a single
// param that the step nearly cancels (|p'| << |p|) would otherwise turn a 1-ulp error into 1e-5 or more. 1e-5
// of the terms leaves margin; a wrong formula is O(1e-2) or more.
const TOL = 1e-5;

const maxAbs = (xs: ArrayLike<number>) => Array.from(xs).reduce((a, x) => Math.max(a, Math.abs(x)), 0);

describe('AdamW kernel vs CPU reference', () => {
  // `cancel`: the param is set so that this step almost exactly cancels it (|p'| ~ 1e-10 while |p| ~ 1e-2): the
  // n=1 case that a tolerance relative to the result alone fails at random.
  for (const [n, clip, cancel] of [
    [1, 0, false],
    [1, 0, true],
    [255, 0.5, false],
    [1000, 0, false],
    [4133, 3, false],
  ] as const) {
    const seed = freshSeed();
    it(`n=${n} clip=${clip}${cancel ? ' step cancels the param' : ''} seed=${seed}`, async () => {
      const e = await getEngine();
      const p = randn(n, seed);
      const g = randn(n, seed + 1, -2, 2);
      const m = randn(n, seed + 2, -0.1, 0.1);
      const v = randn(n, seed + 3, 0, 0.05);
      const h = { lr: 3e-3, beta1: 0.9, beta2: 0.95, eps: 1e-8, weightDecay: 0.05, step: 1 + (seed % 7) };
      if (cancel) {
        const step = adamwReference([0], g, m, v, h).param[0]!; // the step alone (p = 0)
        p[0] = Math.fround(-step / (1 - h.lr * h.weightDecay));
      }
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
      const stepSize = maxAbs(ref.param.map((x, i) => x - p[i]!));
      expectClose(await e.readF32(out.param), ref.param, TOL, `param (seed ${seed})`, Math.max(maxAbs(p), stepSize));
      expectClose(
        await e.readF32(out.m),
        ref.m,
        TOL,
        `m (seed ${seed})`,
        Math.max(maxAbs(m), (1 - h.beta1) * maxAbs(g)),
      );
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
