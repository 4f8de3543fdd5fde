// rmsNorm / layerNorm vs the f64 CPU reference on fresh random inputs: row widths below, at and above the
// workgroup sizes (64, 256) and not multiples of them, with and without affine parameters and modulation.
import { describe, it } from 'vitest';
import { layerNorm, rmsNorm } from '../src/engine/ops/norm';
import { layerNormRef, rmsNormRef } from '../src/engine/reference/norm';
import { expectClose, freshSeed, getEngine, poison, randn } from './gpu';

// One f32 reduction over ≤ 2000 terms (relative error ~ log2(D)·2^-24 through the tree) and one rsqrt (a few ulp):
// 1e-5 relative to the largest output is ~10× above that, while a wrong row/batch index or a lost partial sum
// (missing barrier) changes outputs by O(1).
const TOL = 1e-5;

describe('norm', () => {
  const SHAPES: Array<[number, number, number]> = [
    [1, 1, 7],
    [2, 3, 64],
    [2, 5, 257],
    [3, 4, 1000],
    [1, 2, 2049],
  ];
  for (const kind of ['rms', 'layer'] as const)
    for (const affine of [false, true])
      for (const mod of [false, true])
        it(`${kind} affine=${affine} modulate=${mod}`, async () => {
          const e = await getEngine();
          for (const [B, L, D] of SHAPES) {
            const seed = freshSeed();
            // an offset mean makes LayerNorm's centring matter
            const x = randn(B * L * D, seed, -2, 3);
            const w = randn(D, seed + 1);
            const bias = randn(D, seed + 2);
            const scale = randn(B * D, seed + 3);
            const shift = randn(B * D, seed + 4);
            const tx = e.fromArray([B, L, D], x);
            const t = {
              weight: affine ? e.fromArray([D], w) : null,
              bias: affine && kind === 'layer' ? e.fromArray([D], bias) : null,
              scale: mod ? e.fromArray([B, D], scale) : null,
              shift: mod ? e.fromArray([B, D], shift) : null,
            };
            const p = e.empty([B, L, D]);
            poison(e, p);
            p.dispose();
            const y = kind === 'rms' ? rmsNorm(e, tx, t) : layerNorm(e, tx, t);
            const args = {
              D,
              L,
              eps: kind === 'rms' ? 1e-6 : 1e-5,
              weight: affine ? w : null,
              bias: affine && kind === 'layer' ? bias : null,
              scale: mod ? scale : null,
              shift: mod ? shift : null,
            };
            const want = kind === 'rms' ? rmsNormRef(x, args) : layerNormRef(x, args);
            expectClose(await e.readF32(y), want, TOL, `${kind} B=${B} L=${L} D=${D} seed=${seed}`);
            for (const v of [tx, y, ...Object.values(t)]) v?.dispose();
          }
        });

  it('modulation from column slices of a packed AdaLN output (B, 3·D) = [shift ; scale ; gate]', async () => {
    const e = await getEngine();
    for (const [B, L, D] of [
      [2, 5, 33],
      [3, 17, 256],
    ] as const) {
      const seed = freshSeed();
      const x = randn(B * L * D, seed, -2, 3);
      const ada = randn(B * 3 * D, seed + 1);
      const col = (off: number) =>
        Float32Array.from({ length: B * D }, (_, i) => ada[Math.floor(i / D) * 3 * D + off + (i % D)]!);
      const tAda = e.fromArray([B, 3 * D], ada);
      const p = e.empty([B, L, D]);
      poison(e, p);
      p.dispose();
      const y = rmsNorm(e, e.fromArray([B, L, D], x), {
        shift: { tensor: tAda, offset: 0 },
        scale: { tensor: tAda, offset: D },
      });
      const want = rmsNormRef(x, { D, L, eps: 1e-6, shift: col(0), scale: col(D) });
      expectClose(await e.readF32(y), want, TOL, `packed B=${B} L=${L} D=${D} seed=${seed}`);
    }
  });
});
