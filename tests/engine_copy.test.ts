// Engine.copy: a GPU-side copy recorded in order with dispatches (the sampler uses it to repeat the token grid for
// the cond and uncond rows of a guided forward without a CPU round trip).
import { describe, expect, it } from 'vitest';
import { add } from '../src/engine/ops/elementwise';
import { ShapeError } from '../src/engine/errors';
import { expectEqualInts, getEngine, poison } from './gpu';

describe('Engine.copy', () => {
  it('copies into an offset, in order with the dispatches around it', async () => {
    const e = await getEngine();
    const a = e.fromArray([3], [1, 2, 3]);
    const twice = add(e, a, a); //                        recorded before the copy: the copy must see 2, 4, 6
    const dst = e.empty([2, 3], 'f32');
    poison(e, dst);
    e.copy(twice, dst, 0);
    e.copy(a, dst, 3);
    const sum = add(e, dst, dst); //                      recorded after: must see the copied values
    expectEqualInts(await e.readF32(sum), [4, 8, 12, 2, 4, 6], 'copy');
    expect(() => e.copy(dst, a)).toThrow(ShapeError);
    expect(() => e.copy(a, dst, 4)).toThrow(ShapeError);
    for (const t of [a, twice, dst, sum]) t.dispose();
  });
});
