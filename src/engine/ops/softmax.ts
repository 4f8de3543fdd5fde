// Softmax / log-softmax over the last dim (shaders/softmax.wgsl): numerically stable (max-subtracted).
import code from '../../../shaders/softmax.wgsl?raw';
import { grid1d, uniforms, type Engine } from '../engine';
import { ShapeError } from '../errors';
import type { Tensor } from '../tensor';

function run(e: Engine, x: Tensor, log: boolean): Tensor {
  const name = log ? 'logSoftmax' : 'softmax';
  if (x.dtype !== 'f32' || x.shape.length < 1) throw new ShapeError(`${name}: x must be f32 (…, N), got ${x}`);
  const N = x.shape[x.shape.length - 1]!;
  const rows = N === 0 ? 0 : x.size / N;
  const out = e.empty(x.shape, 'f32', name);
  const WG = N <= 256 ? 64 : 256;
  e.dispatch({
    code,
    constants: { LOG: log ? 1 : 0, WG },
    bindings: [uniforms([rows, N, 0, 0]), x, out],
    workgroups: grid1d(rows),
    label: name,
  });
  return out;
}

/** softmax over the last dim. x: (…, N) → (…, N). */
export const softmax = (e: Engine, x: Tensor): Tensor => run(e, x, false);
/** log-softmax over the last dim. x: (…, N) → (…, N). */
export const logSoftmax = (e: Engine, x: Tensor): Tensor => run(e, x, true);
