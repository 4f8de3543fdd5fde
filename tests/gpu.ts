// Test helpers: one shared engine on Dawn (SwiftShader on CPU machines), seeded random inputs, poisoned outputs,
// and comparison by normalised error.
import { create, globals } from 'webgpu';
import { acquireDevice } from '../src/engine/device';
import { Engine } from '../src/engine/engine';
import type { Tensor } from '../src/engine/tensor';
import { mulberry32 } from '../src/engine/rng';

Object.assign(globalThis, globals);

let shared: Promise<Engine> | null = null;
/** Held for the life of the process (see GpuContext.gpu). */
export let dawnInstance: GPU | null = null;

/** One engine per test process: creating Dawn devices is slow on SwiftShader. */
export function getEngine(): Promise<Engine> {
  if (!shared) {
    shared = (async () => {
      const gpu = create([]) as unknown as GPU;
      dawnInstance = gpu;
      const ctx = await acquireDevice(gpu);
      ctx.device.addEventListener('uncapturederror', (e) => {
        // surface validation errors loudly: a silent one would read as a numerical mismatch
        console.error('WebGPU uncaptured error:', (e as GPUUncapturedErrorEvent).error.message);
      });
      return new Engine(ctx);
    })();
  }
  return shared;
}

/** Deterministic PRNG (mulberry32) so a failing case can be replayed from its seed. */
export const rng = mulberry32;

/** Uniform random floats in [lo, hi). */
export function randn(n: number, seed: number, lo = -1, hi = 1): Float32Array {
  const r = rng(seed);
  const out = new Float32Array(n);
  for (let i = 0; i < n; i++) out[i] = lo + (hi - lo) * r();
  return out;
}

export function randInt(n: number, seed: number, max: number): Uint32Array {
  const r = rng(seed);
  const out = new Uint32Array(n);
  for (let i = 0; i < n; i++) out[i] = Math.floor(r() * max);
  return out;
}

/** Seeds of random test inputs: tests/seeds.ts (deterministic, printed on failure). */
export { freshSeed } from './seeds';

/** Writes NaN into an output tensor so that an unwritten element cannot pass as correct. */
export function poison(engine: Engine, t: Tensor): void {
  if (t.dtype === 'f32') engine.fill(t, Number.NaN);
  else engine.fill(t, 0xdeadbeef);
}

/** max|a-b| / max(max|b|, scale, tiny). NaN anywhere gives Infinity. `scale`: the magnitude of the terms the result
 *  was computed from, when cancellation can make the result far smaller than them (a rounding error is relative
 *  to the terms, not to their sum). */
export function normalisedError(actual: ArrayLike<number>, expected: ArrayLike<number>, scale = 0): number {
  if (actual.length !== expected.length) return Infinity;
  let maxDiff = 0;
  let maxRef = Math.max(1e-12, scale);
  for (let i = 0; i < expected.length; i++) {
    const a = actual[i]!;
    const e = expected[i]!;
    if (!Number.isFinite(a) && a !== e) return Infinity;
    const d = Math.abs(a - e);
    if (d > maxDiff || Number.isNaN(d)) maxDiff = Number.isNaN(d) ? Infinity : d;
    maxRef = Math.max(maxRef, Math.abs(e));
  }
  return maxDiff / maxRef;
}

/** Throws a readable message naming the first mismatching index when the error is above `tol`. */
export function expectClose(
  actual: ArrayLike<number>,
  expected: ArrayLike<number>,
  tol: number,
  what: string,
  scale = 0,
): void {
  const err = normalisedError(actual, expected, scale);
  if (err <= tol) return;
  let worst = 0;
  let worstDiff = -1;
  for (let i = 0; i < Math.min(actual.length, expected.length); i++) {
    const d = Math.abs(actual[i]! - expected[i]!);
    if (d > worstDiff || Number.isNaN(d)) {
      worstDiff = Number.isNaN(d) ? Infinity : d;
      worst = i;
      if (!Number.isFinite(worstDiff)) break;
    }
  }
  throw new Error(
    `${what}: normalised error ${err.toExponential(3)} > ${tol} (len ${actual.length} vs ${expected.length}; ` +
      `worst at [${worst}]: got ${actual[worst]}, want ${expected[worst]})`,
  );
}

export function expectEqualInts(actual: ArrayLike<number>, expected: ArrayLike<number>, what: string): void {
  if (actual.length !== expected.length) throw new Error(`${what}: length ${actual.length} vs ${expected.length}`);
  for (let i = 0; i < expected.length; i++)
    if (actual[i] !== expected[i])
      throw new Error(`${what}: first mismatch at [${i}]: got ${actual[i]}, want ${expected[i]}`);
}
