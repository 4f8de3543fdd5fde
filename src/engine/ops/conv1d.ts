// Depthwise causal conv1d, kernel W (4 in the model), per-direction weights, optional fused SiLU
// (shaders/conv1d.wgsl). Channels-last, because the model's activations are (B, L, di).
//   causalConv1d          x (B, K, L, C) or (B, L, C) [K = 1] in scan order → same shape
//   causalConv1dCrossScan x (B, L, C) un-permuted → (B, K, L, C) in ORIGINAL token order (fused gather)
// weight (K, C, W) (or (C, W) when K = 1), bias (K, C) (or (C,)): the PyTorch parameter layout
// `conv_weight (K, di, d_conv)`, `conv_bias (K, di)`.
import body from '../../../shaders/conv1d.wgsl?raw';
import { grid1d, uniforms, type Engine } from '../engine';
import { ShapeError } from '../errors';
import type { Tensor } from '../tensor';
import { checkGrid, CROSS_SCAN_INDEX_WGSL, geomSlots, type ScanGrid } from './cross_scan_geom';

const code = `${CROSS_SCAN_INDEX_WGSL}\n${body}`;

function checkWeights(what: string, weight: Tensor, bias: Tensor, K: number, C: number): number {
  const W = weight.shape[weight.shape.length - 1]!;
  const wOk = weight.size === K * C * W && weight.shape[weight.shape.length - 2] === C && W >= 1;
  if (!wOk || bias.size !== K * C || weight.dtype !== 'f32' || bias.dtype !== 'f32')
    throw new ShapeError(
      `${what}: weight ${weight} / bias ${bias} do not fit K=${K}, C=${C} (want (K, C, W) and (K, C))`,
    );
  return W;
}

export interface Conv1dOptions {
  /** Apply SiLU to the conv output (the model always does). */
  silu?: boolean;
}

export function causalConv1d(e: Engine, x: Tensor, weight: Tensor, bias: Tensor, opts: Conv1dOptions = {}): Tensor {
  if (x.dtype !== 'f32' || (x.shape.length !== 3 && x.shape.length !== 4))
    throw new ShapeError(`causalConv1d needs f32 (B, K, L, C) or (B, L, C), got ${x}`);
  const [, K, L, C] = (x.shape.length === 3 ? [x.shape[0], 1, x.shape[1], x.shape[2]] : x.shape) as [
    number,
    number,
    number,
    number,
  ];
  const W = checkWeights('causalConv1d', weight, bias, K, C);
  const out = e.empty(x.shape, 'f32', 'conv1d'); // same layout as x
  const n = out.size;
  e.dispatch({
    code,
    entry: 'main',
    constants: { SILU: opts.silu ? 1 : 0 },
    bindings: [uniforms([n, C, L, W, K, 0, 0, 0, L, 1, 1, 0]), x, weight, bias, out],
    workgroups: grid1d(Math.ceil(n / 256)),
    label: 'conv1d',
  });
  return out;
}

export function causalConv1dCrossScan(
  e: Engine,
  x: Tensor,
  weight: Tensor,
  bias: Tensor,
  grid: ScanGrid,
  opts: Conv1dOptions = {},
): Tensor {
  if (x.dtype !== 'f32' || x.shape.length !== 3)
    throw new ShapeError(`causalConv1dCrossScan needs f32 (B, L, C), got ${x}`);
  const [B, L, C] = x.shape as [number, number, number];
  checkGrid(grid, L, 'causalConv1dCrossScan');
  const K = grid.directions;
  const W = checkWeights('causalConv1dCrossScan', weight, bias, K, C);
  const out = e.empty([B, K, L, C], 'f32', 'conv1d_cross'); // (B, K, L, C), original token order
  const n = out.size;
  e.dispatch({
    code,
    entry: 'cross',
    constants: { SILU: opts.silu ? 1 : 0 },
    bindings: [uniforms([n, C, L, W, K, 0, 0, 0, ...geomSlots(grid)]), x, weight, bias, out],
    workgroups: grid1d(Math.ceil(n / 256)),
    label: 'conv1d_cross',
  });
  return out;
}
