// rmsNorm / layerNorm backward (with affine parameters and adaptive modulation) vs the f64 reference on fresh random
// inputs with outputs poisoned; the reference vs central differences of its f64 forward, which in turn matches the
// shipped forward reference.
import { describe, it } from 'vitest';
import { layerNormBackward, rmsNormBackward } from '../src/engine/ops/norm_backward';
import { layerNormRef, rmsNormRef } from '../src/engine/reference/norm';
import { norm64, normBackwardRef, type NormArgs64 } from '../src/engine/reference/norm_backward';
import { dot, fdGrad } from './fd_backward';
import { expectClose, freshSeed, getEngine, randn } from './gpu';
import { poisonNext } from './kernel_helpers';

// dx: two f32 tree reductions over D and an rsqrt, as the forward, plus the cancellation g − mean(g) − x̂·mean(g·x̂)
// (terms of size |g|, result can be smaller): 1e-4 of the largest gradient. Parameter gradients are fixed-order sums
// over ≤ 200 rows: ~1e-6. A wrong term or index is O(1).
const TOL = 1e-4;
const FD_TOL = 1e-6;

describe('norm backward', () => {
  const SHAPES: Array<[number, number, number]> = [
    [1, 1, 7],
    [2, 3, 64],
    [2, 5, 257],
    [3, 40, 300],
  ];
  for (const kind of ['rms', 'layer'] as const)
    for (const affine of [false, true])
      for (const mod of [false, true])
        it(`${kind} affine=${affine} modulate=${mod}: GPU vs reference`, async () => {
          const e = await getEngine();
          for (const [B, L, D] of SHAPES) {
            const seed = freshSeed();
            const x = randn(B * L * D, seed, -2, 3);
            const dy = randn(B * L * D, seed + 5);
            const w = randn(D, seed + 1);
            const bias = randn(D, seed + 2);
            const mod3 = randn(B * 3 * D, seed + 3); // packed AdaLN output (B, 3D) = [shift ; scale ; gate]
            const shift = new Float32Array(B * D);
            const scale = new Float32Array(B * D);
            for (let b = 0; b < B; b++) {
              shift.set(mod3.subarray(b * 3 * D, b * 3 * D + D), b * D);
              scale.set(mod3.subarray(b * 3 * D + D, b * 3 * D + 2 * D), b * D);
            }
            const hasB = affine && kind === 'layer';
            const tx = e.fromArray([B, L, D], x);
            const tdy = e.fromArray([B, L, D], dy);
            const tmod = e.fromArray([B, 3 * D], mod3);
            const t = {
              weight: affine ? e.fromArray([D], w) : null,
              bias: hasB ? e.fromArray([D], bias) : null,
              scale: mod ? { tensor: tmod, offset: D } : null,
              shift: mod ? { tensor: tmod, offset: 0 } : null,
            };
            poisonNext(e, [[B, L, D], [D], [D], [B, 2 * D]]);
            const got = kind === 'rms' ? rmsNormBackward(e, tx, tdy, t) : layerNormBackward(e, tx, tdy, t);
            const args: NormArgs64 = {
              D,
              L,
              layer: kind === 'layer',
              eps: kind === 'rms' ? 1e-6 : 1e-5,
              weight: affine ? w : null,
              bias: hasB ? bias : null,
              scale: mod ? scale : null,
              shift: mod ? shift : null,
            };
            const want = normBackwardRef(x, dy, args);
            const what = `${kind} B=${B} L=${L} D=${D} seed=${seed}`;
            expectClose(await e.readF32(got.dx), want.dx, TOL, `${what} dx`);
            if (affine) expectClose(await e.readF32(got.dWeight!), want.dWeight, TOL, `${what} dWeight`);
            if (hasB) expectClose(await e.readF32(got.dBias!), want.dBias, TOL, `${what} dBias`);
            if (mod) {
              const dm = await e.readF32(got.dMod!);
              const wantMod = new Float64Array(B * 2 * D);
              for (let b = 0; b < B; b++) {
                wantMod.set(want.dShift.subarray(b * D, (b + 1) * D), b * 2 * D);
                wantMod.set(want.dScale.subarray(b * D, (b + 1) * D), b * 2 * D + D);
              }
              expectClose(dm, wantMod, TOL, `${what} dMod`);
            }
            for (const v of [tx, tdy, tmod, t.weight, t.bias, got.dx, got.dWeight, got.dBias, got.dMod]) v?.dispose();
          }
        });

  it('writes d shift / d scale into columns of a packed AdaLN gradient (B, 3D), leaving the gate columns', async () => {
    const e = await getEngine();
    const [B, L, D] = [2, 3, 20];
    const seed = freshSeed();
    const x = randn(B * L * D, seed);
    const dy = randn(B * L * D, seed + 1);
    const mod3 = randn(B * 3 * D, seed + 2);
    const tx = e.fromArray([B, L, D], x);
    const tdy = e.fromArray([B, L, D], dy);
    const tmod = e.fromArray([B, 3 * D], mod3);
    const gate = new Float32Array(B * 3 * D).fill(7);
    const dmod = e.fromArray([B, 3 * D], gate);
    rmsNormBackward(e, tx, tdy, {
      scale: { tensor: tmod, offset: D },
      shift: { tensor: tmod, offset: 0 },
      dModInto: { tensor: dmod, shiftOffset: 0, scaleOffset: D },
    });
    const scale = new Float32Array(B * D);
    for (let b = 0; b < B; b++) scale.set(mod3.subarray(b * 3 * D + D, b * 3 * D + 2 * D), b * D);
    const want = normBackwardRef(x, dy, { D, L, layer: false, eps: 1e-6, scale, shift: scale });
    const expected = Float64Array.from(gate);
    for (let b = 0; b < B; b++) {
      expected.set(want.dShift.subarray(b * D, (b + 1) * D), b * 3 * D);
      expected.set(want.dScale.subarray(b * D, (b + 1) * D), b * 3 * D + D);
    }
    expectClose(await e.readF32(dmod), expected, TOL, `packed dMod seed=${seed}`);
  });

  for (const layer of [false, true])
    it(`${layer ? 'layer' : 'rms'} reference vs finite differences`, () => {
      const [B, L, D] = [2, 3, 5];
      const seed = freshSeed();
      const x = randn(B * L * D, seed, -2, 3);
      const dy = randn(B * L * D, seed + 1);
      const base: NormArgs64 = {
        D,
        L,
        layer,
        eps: layer ? 1e-5 : 1e-6,
        weight: randn(D, seed + 2),
        bias: layer ? randn(D, seed + 3) : null,
        scale: randn(B * D, seed + 4),
        shift: randn(B * D, seed + 5),
      };
      const f32ref = (layer ? layerNormRef : rmsNormRef)(x, {
        ...base,
        weight: Float32Array.from(base.weight!),
        bias: base.bias ? Float32Array.from(base.bias) : null,
        scale: Float32Array.from(base.scale!),
        shift: Float32Array.from(base.shift!),
      });
      expectClose(norm64(x, base), f32ref, 1e-6, 'f64 forward vs norm reference');
      const g = normBackwardRef(x, dy, base);
      const loss = (o: NormArgs64, xx: ArrayLike<number> = x) => dot(norm64(xx, o), dy);
      expectClose(
        g.dx,
        fdGrad((v) => loss(base, v), x),
        FD_TOL,
        `dx seed=${seed}`,
      );
      expectClose(
        g.dWeight,
        fdGrad((v) => loss({ ...base, weight: v }), base.weight!),
        FD_TOL,
        `dWeight seed=${seed}`,
      );
      if (layer)
        expectClose(
          g.dBias,
          fdGrad((v) => loss({ ...base, bias: v }), base.bias!),
          FD_TOL,
          `dBias seed=${seed}`,
        );
      expectClose(
        g.dScale,
        fdGrad((v) => loss({ ...base, scale: v }), base.scale!),
        FD_TOL,
        `dScale seed=${seed}`,
      );
      expectClose(
        g.dShift,
        fdGrad((v) => loss({ ...base, shift: v }), base.shift!),
        FD_TOL,
        `dShift seed=${seed}`,
      );
    });
});
