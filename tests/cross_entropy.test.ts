// Masked cross-entropy (fused log-softmax + NLL) and its gradient vs the f64 reference, outputs poisoned; the
// reference gradient vs central differences of its loss.
import { describe, expect, it } from 'vitest';
import { crossEntropyMasked } from '../src/engine/ops/cross_entropy';
import { crossEntropyMaskedRef } from '../src/engine/reference/cross_entropy';
import { fdGrad } from './fd_backward';
import { expectClose, freshSeed, getEngine, randInt, randn } from './gpu';
import { poisonNext } from './kernel_helpers';

// f32 max / Σexp over ≤ 1100 terms, one log: ~1e-6 relative; 1e-5 leaves margin. A wrong row, target or count is O(1).
const TOL = 1e-5;
const FD_TOL = 1e-7;

describe('cross-entropy over masked positions', () => {
  it('loss and dlogits vs the reference', async () => {
    const e = await getEngine();
    for (const [R, V, scale] of [
      [1, 1, 1],
      [5, 7, 1],
      [2 * 256, 1025, 1],
      [300, 64, 0.25],
    ] as const) {
      const seed = freshSeed();
      const logits = randn(R * V, seed, -8, 8);
      const targets = randInt(R, seed + 1, V);
      const mask = randInt(R, seed + 2, 2);
      mask[0] = 1;
      const tl = e.fromArray([R, V], logits);
      const tt = e.fromArray([R], targets, 'u32');
      const tm = e.fromArray([R], mask, 'u32');
      poisonNext(e, [[R, V], [2]]);
      const got = crossEntropyMasked(e, tl, tt, tm, scale);
      const want = crossEntropyMaskedRef(logits, targets, mask, V, scale);
      const what = `R=${R} V=${V} seed=${seed}`;
      const loss = await e.readF32(got.loss);
      expectClose([loss[0]!], [want.loss], TOL, `${what} loss`);
      expect(loss[1]).toBe(want.count);
      expectClose(await e.readF32(got.dlogits), want.dlogits, TOL, `${what} dlogits`);
      for (const t of [tl, tt, tm, got.loss, got.dlogits]) t.dispose();
    }
  });

  it('no masked position: loss 0 and zero gradient (no division by zero)', async () => {
    const e = await getEngine();
    const got = crossEntropyMasked(
      e,
      e.fromArray([3, 4], randn(12, 1)),
      e.fromArray([3], [0, 1, 2], 'u32'),
      e.fromArray([3], [0, 0, 0], 'u32'),
    );
    expect(Array.from(await e.readF32(got.loss))).toEqual([0, 0]);
    expect(Array.from(await e.readF32(got.dlogits)).every((v) => v === 0)).toBe(true);
  });

  it('reference vs finite differences', () => {
    const seed = freshSeed();
    const [R, V] = [6, 5];
    const logits = randn(R * V, seed, -3, 3);
    const targets = randInt(R, seed + 1, V);
    const mask = Uint32Array.from([1, 0, 1, 1, 0, 1]);
    const g = crossEntropyMaskedRef(logits, targets, mask, V);
    const num = fdGrad((v) => crossEntropyMaskedRef(v, targets, mask, V).loss, logits);
    expectClose(g.dlogits, num, FD_TOL, `dlogits seed=${seed}`);
  });
});
