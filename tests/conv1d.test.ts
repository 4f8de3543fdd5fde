// Depthwise causal conv1d (plain, and fused with the cross-scan gather) vs the CPU reference.
import { describe, it } from 'vitest';
import { causalConv1d, causalConv1dCrossScan } from '../src/engine/ops/conv1d';
import { seqLen, type ScanGrid } from '../src/engine/ops/cross_scan_geom';
import { causalConv1dRef } from '../src/engine/reference/conv1d';
import { crossScanRef, toTokenOrderRef } from '../src/engine/reference/cross_scan';
import { expectClose, freshSeed, getEngine } from './gpu';
import { inputs, poisonNext } from './kernel_helpers';

// W ≤ 4 products and a bias in f32 vs f64, then SiLU (few-ulp exp): well under 1e-6 of the max; 2e-6 allows it.
const TOL = 2e-6;

describe('causalConv1d', () => {
  // (B, K, L, C, W): L shorter than the kernel, channels not multiple of anything, L·C·K·B past 256 threads.
  const SHAPES: Array<[number, number, number, number, number]> = [
    [1, 1, 2, 3, 4],
    [2, 4, 22, 5, 4],
    [1, 2, 37, 33, 4],
    [3, 1, 9, 7, 3],
  ];
  for (const [B, K, L, C, W] of SHAPES)
    for (const silu of [false, true])
      it(`B=${B} K=${K} L=${L} C=${C} W=${W} silu=${silu}`, async () => {
        const e = await getEngine();
        const seed = freshSeed();
        const h = inputs(seed, { x: [B * K * L * C, -2, 2], w: [K * C * W], b: [K * C] });
        const x = e.fromArray(K === 1 ? [B, L, C] : [B, K, L, C], h.x!);
        const w = e.fromArray([K, C, W], h.w!);
        const b = e.fromArray([K, C], h.b!);
        poisonNext(e, [[B, K, L, C]]);
        const out = causalConv1d(e, x, w, b, { silu });
        const want = causalConv1dRef(h.x!, h.w!, h.b!, B, K, L, C, W, silu);
        expectClose(await e.readF32(out), want, TOL, `conv1d seed=${seed}`);
        for (const t of [x, w, b, out]) t.dispose();
      });
});

describe('causalConv1dCrossScan (fused gather, output in token order)', () => {
  const CASES: Array<[ScanGrid, number, number]> = [
    [{ textLen: 6, grid: 4, directions: 4 }, 2, 5],
    [{ textLen: 3, grid: 3, directions: 2 }, 1, 33],
    [{ textLen: 0, grid: 5, directions: 4 }, 1, 7],
    [{ textLen: 2, grid: 3, directions: 1 }, 2, 4],
    [{ textLen: 4, grid: 3, directions: 4, textPosition: 'middle' }, 1, 3],
  ];
  for (const [g, B, C] of CASES)
    it(`K=${g.directions} Lt=${g.textLen} G=${g.grid} ${g.textPosition ?? 'first'} B=${B} C=${C}`, async () => {
      const e = await getEngine();
      const L = seqLen(g);
      const K = g.directions;
      const seed = freshSeed();
      const h = inputs(seed, { x: [B * L * C, -2, 2], w: [K * C * 4], b: [K * C] });
      const x = e.fromArray([B, L, C], h.x!);
      const w = e.fromArray([K, C, 4], h.w!);
      const b = e.fromArray([K, C], h.b!);
      poisonNext(e, [[B, K, L, C]]);
      const out = causalConv1dCrossScan(e, x, w, b, g, { silu: true });
      // reference: gather into scan order, conv each direction, put back into token order
      const scanOrder = causalConv1dRef(crossScanRef(h.x!, B, L, C, g), h.w!, h.b!, B, K, L, C, 4, true);
      expectClose(await e.readF32(out), toTokenOrderRef(scanOrder, B, L, C, g), TOL, `conv1d cross seed=${seed}`);
      for (const t of [x, w, b, out]) t.dispose();
    });
});
