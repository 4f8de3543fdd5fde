// embedding gather vs the CPU reference: exact (a gather does no arithmetic), with out-of-range ids clamped.
import { describe, it } from 'vitest';
import { embedding } from '../src/engine/ops/embedding';
import { embeddingRef } from '../src/engine/reference/embedding';
import { expectEqualInts, freshSeed, getEngine, poison, randInt, randn } from './gpu';

describe('embedding', () => {
  it('gathers rows exactly and clamps ids ≥ V', async () => {
    const e = await getEngine();
    for (const [B, L, V, D] of [
      [1, 1, 1, 1],
      [2, 17, 33, 7],
      [3, 100, 1025, 64],
    ] as const) {
      const seed = freshSeed();
      const ids = randInt(B * L, seed, V + 3); // a few ids ≥ V
      ids[0] = 0xffffffff;
      const table = randn(V * D, seed + 1);
      const tIds = e.fromArray([B, L], ids, 'u32');
      const tTab = e.fromArray([V, D], table);
      const p = e.empty([B, L, D]);
      poison(e, p);
      p.dispose();
      const y = embedding(e, tIds, tTab);
      // compare bit patterns: exact equality, NaN poison included
      const got = new Uint32Array((await e.readF32(y)).buffer);
      expectEqualInts(
        got,
        new Uint32Array(embeddingRef(ids, table, D).buffer),
        `B=${B} L=${L} V=${V} D=${D} seed=${seed}`,
      );
      for (const t of [tIds, tTab, y]) t.dispose();
    }
  });
});
