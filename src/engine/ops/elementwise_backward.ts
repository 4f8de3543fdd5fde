// Backward of the pointwise activations and GEGLU (shaders/elementwise_backward.wgsl): each takes the forward's
// input x and the upstream gradient dy and returns dx; the derivative is recomputed from x (nothing saved).
import code from '../../../shaders/elementwise_backward.wgsl?raw';
import { grid1d, uniforms, type Engine } from '../engine';
import { ShapeError } from '../errors';
import type { Tensor } from '../tensor';

const OPS = { silu: 0, gelu: 1, softplus: 2, geglu: 3 } as const;

function run(e: Engine, op: keyof typeof OPS, x: Tensor, dy: Tensor, F = 1): Tensor {
  if (x.dtype !== 'f32' || dy.dtype !== 'f32') throw new ShapeError(`${op}Backward needs f32, got ${x}, ${dy}`);
  const want = op === 'geglu' ? x.size / 2 : x.size;
  if (dy.size !== want) throw new ShapeError(`${op}Backward: dy ${dy} must have ${want} elements (x ${x})`);
  const dx = e.empty(x.shape, 'f32', `${op}_backward`);
  e.dispatch({
    code,
    constants: { OP: OPS[op] },
    bindings: [uniforms([dy.size, F, 0, 0]), x, dy, dx],
    workgroups: grid1d(Math.ceil(dy.size / 256)),
    label: `${op}_backward`,
  });
  return dx;
}

/** dx = dy · silu'(x); x, dy any shape (same size). */
export const siluBackward = (e: Engine, x: Tensor, dy: Tensor): Tensor => run(e, 'silu', x, dy);
/** dx = dy · gelu_tanh'(x). */
export const geluBackward = (e: Engine, x: Tensor, dy: Tensor): Tensor => run(e, 'gelu', x, dy);
/** dx = dy · sigmoid(x) (softplus' with torch's threshold 20). */
export const softplusBackward = (e: Engine, x: Tensor, dy: Tensor): Tensor => run(e, 'softplus', x, dy);

/** x (…, 2F) = [a ; g], dy (…, F) → dx (…, 2F) = [dy·g·gelu'(a) ; dy·gelu(a)]. */
export function gegluBackward(e: Engine, x: Tensor, dy: Tensor): Tensor {
  const last = x.shape[x.shape.length - 1];
  if (last === undefined || last % 2 !== 0) throw new ShapeError(`gegluBackward: x must be (…, 2F), got ${x}`);
  return run(e, 'geglu', x, dy, last / 2);
}
