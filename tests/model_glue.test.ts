// Model glue kernels (src/engine/ops/model_glue.ts) vs their CPU references on fresh random inputs, shapes that
// are not multiples of the workgroup size, outputs poisoned first.
import { describe, it } from 'vitest';
import { concatRows, gatedResidual, maskedMean, sliceRows } from '../src/engine/ops/model_glue';
import * as ref from '../src/engine/reference/model_glue';
import { expectClose, freshSeed, getEngine, randInt, randn } from './gpu';
import { poisonNext } from './kernel_helpers';

// Pure data movement is exact; the gated residual is one fma and the mean one f32 sum over L (≤ 17 terms):
// 1e-6 relative to the largest output allows the reordering.
const TOL = 1e-6;
const SHAPES: Array<[number, number, number]> = [
  [1, 1, 1],
  [2, 22, 32],
  [3, 17, 37],
  [2, 272, 256],
];

describe('model glue', () => {
  it('gatedResidual: h + gate[b, off:off+D] · y', async () => {
    const e = await getEngine();
    for (const [B, L, D] of SHAPES) {
      const seed = freshSeed();
      const W = 3 * D + 1;
      const off = 2 * D;
      const h = randn(B * L * D, seed),
        y = randn(B * L * D, seed + 1),
        g = randn(B * W, seed + 2);
      const [th, ty, tg] = [e.fromArray([B, L, D], h), e.fromArray([B, L, D], y), e.fromArray([B, W], g)];
      poisonNext(e, [[B, L, D]]);
      const out = gatedResidual(e, th, { tensor: tg, offset: off }, ty);
      expectClose(
        await e.readF32(out),
        ref.gatedResidualRef(h, g, off, y, B, L, D),
        TOL,
        `gatedResidual ${B}x${L}x${D} seed=${seed}`,
      );
      for (const t of [th, ty, tg, out]) t.dispose();
    }
  });

  it('concatRows and sliceRows', async () => {
    const e = await getEngine();
    for (const [B, L, D] of SHAPES) {
      const seed = freshSeed();
      const L1 = Math.max(1, L >> 2);
      const a = randn(B * L1 * D, seed),
        c = randn(B * L * D, seed + 1);
      const [ta, tc] = [e.fromArray([B, L1, D], a), e.fromArray([B, L, D], c)];
      poisonNext(e, [[B, L1 + L, D]]);
      const cat = concatRows(e, ta, tc);
      const want = ref.concatRowsRef(a, c, B, L1, L, D);
      expectClose(await e.readF32(cat), want, 0, `concatRows ${B}x${L1}+${L}x${D} seed=${seed}`);
      poisonNext(e, [[B, L, D]]);
      const sl = sliceRows(e, cat, L1, L);
      expectClose(await e.readF32(sl), ref.sliceRowsRef(want, B, L1 + L, D, L1, L), 0, `sliceRows seed=${seed}`);
      expectClose(await e.readF32(sl), c, 0, `sliceRows inverts concatRows seed=${seed}`);
      for (const t of [ta, tc, cat, sl]) t.dispose();
    }
  });

  it('maskedMean over the non-pad rows (all-masked rows give 0)', async () => {
    const e = await getEngine();
    for (const [B, L, D] of SHAPES) {
      const seed = freshSeed();
      const x = randn(B * L * D, seed);
      const m = randInt(B * L, seed + 1, 2);
      m.fill(0, 0, L); // batch 0 fully masked: the clamp to 1 keeps it finite
      const [tx, tm] = [e.fromArray([B, L, D], x), e.fromArray([B, L], m, 'u32')];
      poisonNext(e, [[B, D]]);
      const out = maskedMean(e, tx, tm);
      expectClose(
        await e.readF32(out),
        ref.maskedMeanRef(x, m, B, L, D),
        TOL,
        `maskedMean ${B}x${L}x${D} seed=${seed}`,
      );
      for (const t of [tx, tm, out]) t.dispose();
    }
  });
});
