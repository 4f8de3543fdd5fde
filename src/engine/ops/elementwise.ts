// Elementwise activations and arithmetic (shaders/elementwise.wgsl). Every op returns a new pooled tensor.
import body from '../../../shaders/elementwise.wgsl?raw';
import { grid1d, uniforms, type Engine } from '../engine';
import { ShapeError } from '../errors';
import type { Tensor } from '../tensor';
import { SOFTPLUS_WGSL } from './softplus_code';

const code = `${SOFTPLUS_WGSL}\n${body}`;

const OPS = { silu: 0, gelu: 1, softplus: 2, add: 3, mul: 4, axpby: 5, copy: 6, negExp: 7 } as const;
type OpName = keyof typeof OPS;

function run(e: Engine, op: OpName, a: Tensor, b: Tensor | null, s0 = 1, s1 = 1): Tensor {
  if (a.dtype !== 'f32') throw new ShapeError(`${op} needs f32, got ${a}`);
  const bb = b ?? a;
  if (b && (a.size % b.size !== 0 || b.dtype !== 'f32'))
    throw new ShapeError(`${op}: ${b} does not broadcast over ${a} (its size must divide a's)`);
  const out = e.empty(a.shape, 'f32', op);
  e.dispatch({
    code,
    constants: { OP: OPS[op] },
    bindings: [uniforms([a.size, bb.size, [s0, 'f32'], [s1, 'f32']]), a, bb, out],
    workgroups: grid1d(Math.ceil(a.size / 256)),
    label: op,
  });
  return out;
}

export const silu = (e: Engine, x: Tensor): Tensor => run(e, 'silu', x, null);
/** GELU, tanh approximation (as PyTorch's approximate='tanh'). */
export const gelu = (e: Engine, x: Tensor): Tensor => run(e, 'gelu', x, null);
export const softplus = (e: Engine, x: Tensor): Tensor => run(e, 'softplus', x, null);
/** -exp(x): A = -exp(A_log) in Mamba. */
export const negExp = (e: Engine, x: Tensor): Tensor => run(e, 'negExp', x, null);
export const copy = (e: Engine, x: Tensor): Tensor => run(e, 'copy', x, null);
/** a + b, with b broadcast along leading axes (b.size divides a.size). */
export const add = (e: Engine, a: Tensor, b: Tensor): Tensor => run(e, 'add', a, b);
/** a * b, with b broadcast along leading axes. */
export const mul = (e: Engine, a: Tensor, b: Tensor): Tensor => run(e, 'mul', a, b);
/** a*alpha + b*beta, with b broadcast along leading axes. */
export const axpby = (e: Engine, a: Tensor, b: Tensor, alpha: number, beta: number): Tensor =>
  run(e, 'axpby', a, b, alpha, beta);
