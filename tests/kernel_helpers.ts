// Helpers for the sequence / conv kernel tests: poison the pool's next buffers, seeded input sets.
import type { Engine } from '../src/engine/engine';
import { poison, randn } from './gpu';

/** Puts NaN-filled buffers on top of the pool's free lists for these shapes, so that the outputs an op
 *  allocates next start poisoned (create the op's inputs BEFORE calling this). */
export function poisonNext(e: Engine, shapes: number[][], copies = 2): void {
  const ts = [];
  for (const s of shapes)
    for (let i = 0; i < copies; i++) {
      const t = e.empty(s);
      poison(e, t);
      ts.push(t);
    }
  for (const t of ts) t.dispose();
}

/** Seeded uniform inputs in [lo, hi), each array with its own stream. */
export function inputs(seed: number, sizes: Record<string, [number, number?, number?]>): Record<string, Float32Array> {
  const out: Record<string, Float32Array> = {};
  let s = seed;
  for (const [k, [n, lo, hi]] of Object.entries(sizes)) out[k] = randn(n, s++, lo ?? -1, hi ?? 1);
  return out;
}
