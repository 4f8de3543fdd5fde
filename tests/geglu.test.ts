// geglu vs the f64 CPU reference: gelu_tanh(first half) · second half, sizes not multiples of 256.
import { describe, it } from 'vitest';
import { geglu } from '../src/engine/ops/geglu';
import { gegluRef } from '../src/engine/reference/geglu';
import { expectClose, freshSeed, getEngine, poison, randn } from './gpu';

// tanh() is a few ulp on GPUs and there is one product: 1e-5 of the largest output; swapping the halves or a wrong
// row stride gives O(1) errors.
const TOL = 1e-5;

describe('geglu', () => {
  it('matches the reference (first half gated by GELU)', async () => {
    const e = await getEngine();
    for (const [R, F] of [
      [1, 1],
      [3, 5],
      [7, 100],
      [2, 1037],
    ] as const) {
      const seed = freshSeed();
      const x = randn(R * 2 * F, seed, -4, 4);
      const tx = e.fromArray([1, R, 2 * F], x);
      const p = e.empty([1, R, F]);
      poison(e, p);
      p.dispose();
      const y = geglu(e, tx);
      if (y.shape.join() !== [1, R, F].join()) throw new Error(`geglu shape ${y.shape}`);
      expectClose(await e.readF32(y), gegluRef(x, F), TOL, `R=${R} F=${F} seed=${seed}`);
      tx.dispose();
      y.dispose();
    }
  });
});
