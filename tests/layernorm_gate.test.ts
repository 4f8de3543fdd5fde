// layerNormSiluGate (the mixer's fused output gate) vs its f64 CPU reference and vs the unfused path it replaces
// (layerNorm → silu → mul), on fresh random inputs: row widths below, at and above the workgroup sizes (64, 256);
// and on a device with WebGPU's default limits.
import { describe, expect, it } from 'vitest';
import { acquireDevice } from '../src/engine/device';
import { Engine } from '../src/engine/engine';
import { mul, silu } from '../src/engine/ops/elementwise';
import { layerNormSiluGate } from '../src/engine/ops/layernorm_gate';
import { layerNorm, LN_EPS } from '../src/engine/ops/norm';
import { layerNormSiluGateRef } from '../src/engine/reference/layernorm_gate';
import { dawnInstance, expectClose, freshSeed, getEngine, normalisedError, poison, randn } from './gpu';

// As tests/norm.test.ts: one f32 reduction over ≤ 2000 terms and one rsqrt, then one exp and two products; 1e-5
// relative to the largest output is well above that, while a wrong row index or a lost partial sum is O(1).
const TOL = 1e-5;
// Against the unfused kernels: the same f32 operations in the same order, so only f32 rounding may differ.
const TOL_UNFUSED = 1e-6;

describe('layerNormSiluGate', () => {
  const SHAPES: Array<[number, number, number]> = [
    [1, 1, 7],
    [2, 3, 64],
    [2, 5, 257],
    [3, 4, 1000],
    [2, 17, 512],
  ];
  for (const [B, L, D] of SHAPES)
    it(`B=${B} L=${L} D=${D}`, async () => {
      const e = await getEngine();
      const seed = freshSeed();
      const y = randn(B * L * D, seed, -2, 3); // offset mean: the centring matters
      const z = randn(B * L * D, seed + 1, -4, 4);
      const w = randn(D, seed + 2);
      const b = randn(D, seed + 3);
      const [ty, tz, tw, tb] = [
        e.fromArray([B, L, D], y),
        e.fromArray([B, L, D], z),
        e.fromArray([D], w),
        e.fromArray([D], b),
      ];
      for (let k = 0; k < 3; k++) {
        const p = e.empty([B, L, D]);
        poison(e, p);
        p.dispose();
      }
      const fused = layerNormSiluGate(e, ty, tz, { weight: tw, bias: tb });
      const want = layerNormSiluGateRef(y, z, { D, weight: w, bias: b, eps: LN_EPS });
      const what = `B=${B} L=${L} D=${D} seed=${seed}`;
      const got = { yn: await e.readF32(fused.yn), sz: await e.readF32(fused.sz), g: await e.readF32(fused.g) };
      expectClose(got.yn, want.yn, TOL, `yn ${what}`);
      expectClose(got.sz, want.sz, TOL, `sz ${what}`);
      expectClose(got.g, want.g, TOL, `g ${what}`);
      // the unfused chain it replaces in the mixer
      const yn = layerNorm(e, ty, { weight: tw, bias: tb });
      const sz = silu(e, tz);
      const g = mul(e, yn, sz);
      const ref = { yn: await e.readF32(yn), sz: await e.readF32(sz), g: await e.readF32(g) };
      for (const k of ['yn', 'sz', 'g'] as const) {
        const err = normalisedError(got[k], ref[k]);
        expect(err, `${k} fused vs unfused ${what}`).toBeLessThanOrEqual(TOL_UNFUSED);
      }
      for (const t of [ty, tz, tw, tb, fused.yn, fused.sz, fused.g, yn, sz, g]) t.dispose();
    });

  it('validates and runs under WebGPU default limits (7 storage buffers, 256 invocations)', async () => {
    await getEngine(); // creates the shared Dawn instance
    const ctx = await acquireDevice(dawnInstance!, { defaultLimitsOnly: true, label: 'default-limits-layernorm-gate' });
    const e = new Engine(ctx);
    try {
      const seed = freshSeed();
      const [R, D] = [3, 1000]; // D > 256: the 256-thread workgroup
      const y = randn(R * D, seed, -2, 3);
      const z = randn(R * D, seed + 1, -4, 4);
      const w = randn(D, seed + 2);
      const b = randn(D, seed + 3);
      const out = await e.checked(() =>
        layerNormSiluGate(e, e.fromArray([R, D], y), e.fromArray([R, D], z), {
          weight: e.fromArray([D], w),
          bias: e.fromArray([D], b),
        }),
      );
      const want = layerNormSiluGateRef(y, z, { D, weight: w, bias: b, eps: LN_EPS });
      expectClose(await e.readF32(out.g), want.g, TOL, `g default limits seed=${seed}`);
    } finally {
      e.dispose();
      ctx.device.destroy();
    }
  });
});
