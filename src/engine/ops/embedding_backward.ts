// Embedding backward (shaders/embedding_backward.wgsl): d table (V, D) from ids u32 (…) and dy (…, D),
// deterministic (fixed summation order, no atomics). Rows no id points at get 0.
import code from '../../../shaders/embedding_backward.wgsl?raw';
import { grid1d, uniforms, type Engine } from '../engine';
import { ShapeError } from '../errors';
import type { Tensor } from '../tensor';

export function embeddingBackward(e: Engine, ids: Tensor, dy: Tensor, V: number): Tensor {
  const D = dy.shape[dy.shape.length - 1] ?? 0;
  if (ids.dtype !== 'u32' || dy.dtype !== 'f32' || dy.size !== ids.size * D || V < 1)
    throw new ShapeError(`embeddingBackward: want ids u32 (…), dy f32 (…, D), V ≥ 1; got ${ids}, ${dy}, V=${V}`);
  const dtable = e.empty([V, D], 'f32', 'embedding_dtable');
  const n = V * D;
  e.dispatch({
    code,
    bindings: [uniforms([n, D, V, ids.size]), ids, dy, dtable],
    workgroups: grid1d(Math.ceil(n / 256)),
    label: 'embedding_backward',
  });
  return dtable;
}
