// silu / gelu(tanh) / softplus / geglu backward: GPU vs the f64 CPU reference on fresh random inputs (outputs
// poisoned), and the reference's closed-form derivatives vs central differences of the f64 forwards.
import { describe, it } from 'vitest';
import { gegluBackward, geluBackward, siluBackward, softplusBackward } from '../src/engine/ops/elementwise_backward';
import * as ref from '../src/engine/reference/elementwise_backward';
import { geluRef, siluRef, softplusRef } from '../src/engine/reference/elementwise';
import { gegluRef } from '../src/engine/reference/geglu';
import { dot, fdGrad } from './fd_backward';
import { expectClose, freshSeed, getEngine, randn } from './gpu';
import { poisonNext } from './kernel_helpers';

// One f32 exp/tanh and a handful of multiplies per element: a few ulp. 1e-5 relative to the largest gradient is
// ~50× above that; a wrong formula (e.g. a missing chain factor) is off by O(1).
const TOL = 1e-5;
// Central differences in f64 with h = 1e-5: truncation + cancellation ≲ 1e-9 relative.
const FD_TOL = 1e-7;

const UNARY = [
  ['silu', siluBackward, ref.siluBackwardRef, ref.silu64, siluRef],
  ['gelu', geluBackward, ref.geluBackwardRef, ref.gelu64, geluRef],
  ['softplus', softplusBackward, ref.softplusBackwardRef, ref.softplus64, softplusRef],
] as const;

describe('activation backward', () => {
  for (const [name, gpu, cpu, f64, f32ref] of UNARY)
    it(`${name}: GPU vs reference, reference vs finite differences`, async () => {
      const e = await getEngine();
      for (const n of [1, 255, 257, 5000]) {
        const seed = freshSeed();
        const x = randn(n, seed, -6, 6);
        if (name === 'softplus' && n > 2) (x[0] = 25), (x[1] = -30); // both sides of the threshold
        const dy = randn(n, seed + 1);
        const tx = e.fromArray([n], x);
        const tdy = e.fromArray([n], dy);
        poisonNext(e, [[n]]);
        const dx = gpu(e, tx, tdy);
        expectClose(await e.readF32(dx), cpu(x, dy), TOL, `${name} n=${n} seed=${seed}`);
        for (const t of [tx, tdy, dx]) t.dispose();
      }
      const seed = freshSeed();
      const x = randn(40, seed, -5, 5);
      const dy = randn(40, seed + 1);
      // the f64 forward is the shipped f32 reference's formula
      expectClose(x.map(f64), f32ref(x), 1e-6, `${name} f64 forward vs reference`);
      const num = fdGrad((v) => dot(v.map(f64), dy), x);
      expectClose(cpu(x, dy), num, FD_TOL, `${name} reference vs finite differences seed=${seed}`);
    });

  it('geglu: GPU vs reference, reference vs finite differences', async () => {
    const e = await getEngine();
    for (const [R, F] of [
      [1, 1],
      [3, 7],
      [17, 64],
      [5, 300],
    ] as const) {
      const seed = freshSeed();
      const x = randn(R * 2 * F, seed, -4, 4);
      const dy = randn(R * F, seed + 1);
      const tx = e.fromArray([R, 2 * F], x);
      const tdy = e.fromArray([R, F], dy);
      poisonNext(e, [[R, 2 * F]]);
      const dx = gegluBackward(e, tx, tdy);
      expectClose(await e.readF32(dx), ref.gegluBackwardRef(x, dy, F), TOL, `geglu R=${R} F=${F} seed=${seed}`);
      for (const t of [tx, tdy, dx]) t.dispose();
    }
    const seed = freshSeed();
    const x = randn(3 * 2 * 4, seed, -3, 3);
    const dy = randn(3 * 4, seed + 1);
    expectClose(ref.geglu64(x, 4), gegluRef(x, 4), 1e-6, 'geglu f64 forward vs reference');
    const num = fdGrad((v) => dot(ref.geglu64(v, 4), dy), x);
    expectClose(ref.gegluBackwardRef(x, dy, 4), num, FD_TOL, `geglu reference vs finite differences seed=${seed}`);
  });
});
