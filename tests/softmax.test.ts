// softmax / logSoftmax vs the f64 CPU reference: row widths around the workgroup sizes (64, 256) and wide rows
// (1024 codebook logits, 1500), with large offsets so that a missing max-subtraction would overflow exp().
import { describe, it } from 'vitest';
import { logSoftmax, softmax } from '../src/engine/ops/softmax';
import { logSoftmaxRef, softmaxRef } from '../src/engine/reference/softmax';
import { expectClose, freshSeed, getEngine, poison, randn } from './gpu';

// exp() and log() are a few ulp on GPUs and the sum is one f32 tree reduction over ≤ 1500 terms: 1e-5 of the
// largest output is ~10× above that; a wrong row index, a lost partial (missing barrier) or an unwritten element is
// O(1).
const TOL = 1e-5;

describe('softmax', () => {
  const SHAPES: Array<[number, number]> = [
    [1, 1],
    [3, 63],
    [4, 257],
    [5, 1024],
    [2, 1500],
  ];
  for (const log of [false, true])
    it(`${log ? 'logSoftmax' : 'softmax'} matches the reference`, async () => {
      const e = await getEngine();
      for (const [R, N] of SHAPES) {
        const seed = freshSeed();
        const x = randn(R * N, seed, 80, 100); // exp(100) overflows f32 without the max-subtraction
        for (let i = 0; i < x.length; i += 7) x[i] = x[i]! - 90;
        const tx = e.fromArray([R, N], x);
        const p = e.empty([R, N]);
        poison(e, p);
        p.dispose();
        const y = log ? logSoftmax(e, tx) : softmax(e, tx);
        expectClose(
          await e.readF32(y),
          log ? logSoftmaxRef(x, N) : softmaxRef(x, N),
          TOL,
          `R=${R} N=${N} seed=${seed}`,
        );
        tx.dispose();
        y.dispose();
      }
    });
});
