// Embedding backward (deterministic scatter-add) vs the f64 reference, outputs poisoned, with repeated and clamped ids;
// the reference vs central differences of the gather.
import { describe, it } from 'vitest';
import { embeddingBackward } from '../src/engine/ops/embedding_backward';
import { embeddingBackwardRef } from '../src/engine/reference/embedding_backward';
import { dot, fdGrad } from './fd_backward';
import { expectClose, freshSeed, getEngine, randInt, randn } from './gpu';
import { poisonNext } from './kernel_helpers';

// f32 sums of ≤ 512 terms in order: ~1e-6 relative.
const TOL = 1e-5;

describe('embedding backward', () => {
  it('GPU vs reference', async () => {
    const e = await getEngine();
    for (const [R, V, D] of [
      [1, 1, 1],
      [7, 3, 5],
      [512, 1025, 32],
      [40, 10, 300],
    ] as const) {
      const seed = freshSeed();
      const ids = randInt(R, seed, V + 2); // some ids ≥ V: clamped to V − 1 as the forward
      const dy = randn(R * D, seed + 1);
      const tids = e.fromArray([R], ids, 'u32');
      const tdy = e.fromArray([R, D], dy);
      poisonNext(e, [[V, D]]);
      const got = embeddingBackward(e, tids, tdy, V);
      expectClose(await e.readF32(got), embeddingBackwardRef(ids, dy, V, D), TOL, `R=${R} V=${V} D=${D} seed=${seed}`);
      for (const t of [tids, tdy, got]) t.dispose();
    }
  });

  it('reference vs finite differences', () => {
    const seed = freshSeed();
    const [R, V, D] = [9, 4, 3];
    const ids = randInt(R, seed, V);
    const dy = randn(R * D, seed + 1);
    const table = randn(V * D, seed + 2);
    const gather = (t: ArrayLike<number>) =>
      Float64Array.from({ length: R * D }, (_, i) => t[ids[Math.floor(i / D)]! * D + (i % D)]!);
    expectClose(
      embeddingBackwardRef(ids, dy, V, D),
      fdGrad((t) => dot(gather(t), dy), table),
      1e-7,
      `seed=${seed}`,
    );
  });
});
