// The M-Mamba mixer's output gate as one dispatch (shaders/layernorm_gate.wgsl): g = (LayerNorm(y)·w + b) · SiLU(z),
// returning the two factors as well (the fine-tuning backward reads them). Same arithmetic as layerNorm → silu → mul
// (src/engine/ops/norm.ts, elementwise.ts), two dispatches fewer.
import code from '../../../shaders/layernorm_gate.wgsl?raw';
import { grid1d, uniforms, type Engine } from '../engine';
import { ShapeError } from '../errors';
import type { Tensor } from '../tensor';
import { LN_EPS } from './norm';

export interface LayerNormGate {
  /** LayerNorm(y)·weight + bias. */
  yn: Tensor;
  /** SiLU(z). */
  sz: Tensor;
  /** yn · sz. */
  g: Tensor;
}

/** y, z (…, D) f32 of one shape; weight, bias (D) → yn, sz, g, each of y's shape (the caller owns all three). */
export function layerNormSiluGate(
  e: Engine,
  y: Tensor,
  z: Tensor,
  o: { weight: Tensor; bias: Tensor; eps?: number },
): LayerNormGate {
  if (y.dtype !== 'f32' || z.dtype !== 'f32' || y.shape.length < 1 || y.shape.join() !== z.shape.join())
    throw new ShapeError(`layerNormSiluGate: y ${y} and z ${z} must be f32 of one shape (…, D)`);
  const D = y.shape[y.shape.length - 1]!;
  for (const [k, t] of [
    ['weight', o.weight],
    ['bias', o.bias],
  ] as const)
    if (t.dtype !== 'f32' || t.size !== D)
      throw new ShapeError(`layerNormSiluGate: ${k} ${t} must be f32 with D = ${D} elements`);
  const rows = D === 0 ? 0 : y.size / D;
  const yn = e.empty(y.shape, 'f32', 'yn');
  const sz = e.empty(y.shape, 'f32', 'sz');
  const g = e.empty(y.shape, 'f32', 'g');
  e.dispatch({
    code,
    constants: { WG: D <= 256 ? 64 : 256 }, // norm.ts's choice, so the reduction order matches layerNorm's
    bindings: [uniforms([rows, D, [o.eps ?? LN_EPS, 'f32'], 0]), y, z, o.weight, o.bias, yn, sz, g],
    workgroups: grid1d(rows),
    label: 'layerNorm_silu_gate',
  });
  return { yn, sz, g };
}
