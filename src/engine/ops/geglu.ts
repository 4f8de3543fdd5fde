// GEGLU gate (shaders/geglu.wgsl): x (…, 2F) → gelu_tanh(x[..., :F]) · x[..., F:], matching training/mmamba/common.py.
import code from '../../../shaders/geglu.wgsl?raw';
import { grid1d, uniforms, type Engine } from '../engine';
import { ShapeError } from '../errors';
import type { Tensor } from '../tensor';

/** x: (…, 2F) → (…, F) = gelu_tanh(first half) · second half. */
export function geglu(e: Engine, x: Tensor): Tensor {
  const last = x.shape[x.shape.length - 1];
  if (x.dtype !== 'f32' || last === undefined || last % 2 !== 0)
    throw new ShapeError(`geglu: x must be f32 (…, 2F), got ${x}`);
  const F = last / 2;
  const out = e.empty([...x.shape.slice(0, -1), F], 'f32', 'geglu');
  const n = out.size;
  e.dispatch({
    code,
    bindings: [uniforms([n, F, 0, 0]), x, out],
    workgroups: grid1d(Math.ceil(n / 256)),
    label: 'geglu',
  });
  return out;
}
