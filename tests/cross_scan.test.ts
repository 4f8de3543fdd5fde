// Cross-scan gather / cross-merge and the fused conv1d gather vs CPU references built from explicit
// permutation tables (reference/cross_scan.ts, as mmamba.py `sequence_permutations`).
import { describe, expect, it } from 'vitest';
import { crossMerge, crossScan } from '../src/engine/ops/cross_scan';
import { seqLen, type ScanGrid } from '../src/engine/ops/cross_scan_geom';
import {
  crossMergeRef,
  crossScanRef,
  imagePermutations,
  sequencePermutations,
} from '../src/engine/reference/cross_scan';
import { expectClose, freshSeed, getEngine, randn } from './gpu';
import { poisonNext } from './kernel_helpers';

// Grids: odd and even sides, no text, 'middle' text with odd HW (HW/2 floors, as torch's HW // 2).
const GRIDS: Array<[ScanGrid, number, number]> = [
  [{ textLen: 6, grid: 4, directions: 4 }, 2, 5],
  [{ textLen: 3, grid: 3, directions: 2 }, 1, 33],
  [{ textLen: 0, grid: 5, directions: 4 }, 1, 7],
  [{ textLen: 2, grid: 3, directions: 1 }, 3, 4],
  [{ textLen: 4, grid: 3, directions: 4, textPosition: 'middle' }, 1, 3],
  [{ textLen: 5, grid: 4, directions: 2, textPosition: 'middle' }, 2, 6],
];

describe('cross-scan index tables', () => {
  it('match mmamba.py for a 2x2 grid (hand-written)', () => {
    expect(imagePermutations(2)).toEqual([
      [0, 1, 2, 3],
      [0, 2, 1, 3],
      [3, 2, 1, 0],
      [3, 1, 2, 0],
    ]);
    const { perm, inv } = sequencePermutations({ textLen: 1, grid: 2, directions: 2 });
    expect(perm).toEqual([
      [0, 1, 2, 3, 4],
      [0, 4, 3, 2, 1],
    ]);
    expect(inv).toEqual([
      [0, 1, 2, 3, 4],
      [0, 4, 3, 2, 1],
    ]);
    const mid = sequencePermutations({ textLen: 1, grid: 2, directions: 4, textPosition: 'middle' }).perm;
    expect(mid[1]).toEqual([1, 3, 0, 2, 4]);
  });
});

describe('crossScan / crossMerge', () => {
  // Pure data movement: the scan is exact; the merge sums K ≤ 4 f32 values (f32 vs f64 sum: ≤ 4 ulp of the max).
  const MERGE_TOL = 1e-6;
  for (const [g, B, C] of GRIDS) {
    it(`K=${g.directions} Lt=${g.textLen} G=${g.grid} ${g.textPosition ?? 'first'} B=${B} C=${C}`, async () => {
      const e = await getEngine();
      const L = seqLen(g);
      const K = g.directions;
      const seed = freshSeed();
      const xh = randn(B * L * C, seed);
      const yh = randn(B * K * L * C, seed + 1);
      const x = e.fromArray([B, L, C], xh);
      const y = e.fromArray([B, K, L, C], yh);
      poisonNext(e, [
        [B, K, L, C],
        [B, L, C],
      ]);
      const xs = crossScan(e, x, g);
      const m = crossMerge(e, y, g);
      expectClose(await e.readF32(xs), crossScanRef(xh, B, L, C, g), 0, `crossScan seed=${seed}`);
      expectClose(await e.readF32(m), crossMergeRef(yh, B, L, C, g), MERGE_TOL, `crossMerge seed=${seed}`);
      for (const t of [x, y, xs, m]) t.dispose();
    });
  }
});
