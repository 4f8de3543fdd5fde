// Embedding gather (shaders/embedding.wgsl): ids u32 (…) and table (V, D) → (…, D).
// Ids ≥ V are clamped to V − 1 on the GPU (no out-of-bounds read); validate ids on the CPU if that matters.
import code from '../../../shaders/embedding.wgsl?raw';
import { grid1d, uniforms, type Engine } from '../engine';
import { ShapeError } from '../errors';
import type { Tensor } from '../tensor';

/** ids: u32 (…); table: f32 (V, D). Returns (…, D). */
export function embedding(e: Engine, ids: Tensor, table: Tensor): Tensor {
  if (ids.dtype !== 'u32') throw new ShapeError(`embedding: ids must be u32, got ${ids}`);
  if (table.dtype !== 'f32' || table.shape.length !== 2 || table.shape[0] === 0)
    throw new ShapeError(`embedding: table must be f32 (V, D) with V > 0, got ${table}`);
  const [V, D] = table.shape as [number, number];
  const out = e.empty([...ids.shape, D], 'f32', 'embedding');
  const n = out.size;
  e.dispatch({
    code,
    bindings: [uniforms([n, D, V, 0]), ids, table, out],
    workgroups: grid1d(Math.ceil(n / 256)),
    label: 'embedding',
  });
  return out;
}
