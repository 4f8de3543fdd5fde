// Elementwise kernels vs their CPU references on fresh random inputs, sizes that are not multiples of 256.
import { describe, expect, it } from 'vitest';
import * as ops from '../src/engine/ops/elementwise';
import * as ref from '../src/engine/reference/elementwise';
import { expectClose, freshSeed, getEngine, poison, randn } from './gpu';

const SIZES = [1, 255, 257, 1000, 4099];
// f32 transcendental functions on GPUs are accurate to a few ulp; 1e-5 relative to the largest output allows that.
const TOL = 1e-5;

describe('elementwise', () => {
  const unary: Array<[string, typeof ops.silu, (x: Float32Array) => Float32Array, number]> = [
    ['silu', ops.silu, ref.siluRef, 6],
    ['gelu', ops.gelu, ref.geluRef, 6],
    ['softplus', ops.softplus, ref.softplusRef, 30],
    ['negExp', ops.negExp, ref.negExpRef, 3],
  ];
  for (const [name, gpuOp, cpuOp, range] of unary) {
    it(`${name} matches the reference`, async () => {
      const e = await getEngine();
      for (const n of SIZES) {
        const seed = freshSeed();
        const x = randn(n, seed, -range, range);
        const a = e.fromArray([n], x);
        const out = gpuOp(e, a);
        const got = await e.readF32(out);
        expectClose(got, cpuOp(x), TOL, `${name} n=${n} seed=${seed}`);
        a.dispose();
        out.dispose();
      }
    });
  }

  it('softplus keeps its relative accuracy element by element, down to tiny outputs', async () => {
    // A normalised error hides the small outputs of very negative inputs; this sweep checks each element on
    // its own (log(1 + t) in f32 loses all but a few digits of t there: the kernel must not compute it so).
    const e = await getEngine();
    const n = 4001;
    const x = new Float32Array(n);
    for (let i = 0; i < n; i++) x[i] = -40 + (65 * i) / (n - 1);
    const a = e.fromArray([n], x);
    const out = ops.softplus(e, a);
    const got = await e.readF32(out);
    const want = ref.softplusRef(x);
    let worst = 0;
    for (let i = 0; i < n; i++) worst = Math.max(worst, Math.abs(got[i]! - want[i]!) / want[i]!);
    expect(worst, `worst relative error ${worst.toExponential(2)}`).toBeLessThan(TOL);
    a.dispose();
    out.dispose();
  });

  it('add/mul/axpby broadcast b along leading axes', async () => {
    const e = await getEngine();
    for (const [rows, cols] of [
      [1, 7],
      [3, 257],
      [17, 64],
    ] as const) {
      const seed = freshSeed();
      const x = randn(rows * cols, seed);
      const y = randn(cols, seed + 1);
      const a = e.fromArray([rows, cols], x);
      const b = e.fromArray([cols], y);
      expectClose(await e.readF32(ops.add(e, a, b)), ref.addRef(x, y), TOL, `add ${rows}x${cols}`);
      expectClose(await e.readF32(ops.mul(e, a, b)), ref.mulRef(x, y), TOL, `mul ${rows}x${cols}`);
      expectClose(
        await e.readF32(ops.axpby(e, a, b, 0.5, -2)),
        ref.axpbyRef(x, y, 0.5, -2),
        TOL,
        `axpby ${rows}x${cols}`,
      );
    }
  });

  it('poisoned outputs are fully overwritten', async () => {
    const e = await getEngine();
    const n = 777;
    const x = randn(n, freshSeed());
    const a = e.fromArray([n], x);
    // reuse a poisoned buffer of the same size class: the pool hands it back for the next output
    const p = e.empty([n]);
    poison(e, p);
    p.dispose();
    const out = ops.silu(e, a);
    const got = await e.readF32(out);
    expect(got.every((v) => Number.isFinite(v))).toBe(true);
  });
});
