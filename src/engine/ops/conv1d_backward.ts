// Depthwise causal conv1d backward (shaders/conv1d_backward.wgsl) for both forwards of ops/conv1d.ts:
//   causalConv1dBackward          x (B, K, L, C) or (B, L, C) [K = 1], dout like x → dx like x
//   causalConv1dCrossScanBackward x (B, L, C) un-permuted, dout (B, K, L, C) in token order → dx (B, L, C)
//                                 (the cross-scan gather's scatter-add is folded in: dx sums the K directions)
// plus dWeight (K, C, W) and dBias (K, C), shaped like the given weight / bias. SiLU (opts.silu, as the forward) is
// differentiated by recomputing the pre-activation. Deterministic: fixed-order sums, no atomics.
import body from '../../../shaders/conv1d_backward.wgsl?raw';
import { grid1d, uniforms, type Engine } from '../engine';
import { ShapeError } from '../errors';
import type { Tensor } from '../tensor';
import type { Conv1dOptions } from './conv1d';
import { checkGrid, CROSS_SCAN_INDEX_WGSL, geomSlots, type ScanGrid } from './cross_scan_geom';

const [prelude, ...sections] = body.split('//#entry ');
const CODE: Record<string, string> = Object.fromEntries(
  sections.map((s) => [
    s.slice(0, s.indexOf('\n')).trim(),
    `${CROSS_SCAN_INDEX_WGSL}\n${prelude}${s.slice(s.indexOf('\n'))}`,
  ]),
);
const MAX_TAPS = 8;

export interface Conv1dGrads {
  dx: Tensor; //      like x
  dWeight: Tensor; // like weight (K, C, W)
  dBias: Tensor; //   like bias (K, C)
}

function run(
  e: Engine,
  x: Tensor,
  weight: Tensor,
  bias: Tensor,
  dout: Tensor,
  dims: { Bsz: number; K: number; L: number; C: number },
  cross: boolean,
  geom: number[],
  opts: Conv1dOptions,
): Conv1dGrads {
  const { Bsz, K, L, C } = dims;
  const W = weight.shape[weight.shape.length - 1] ?? 0;
  const what = cross ? 'causalConv1dCrossScanBackward' : 'causalConv1dBackward';
  if (weight.size !== K * C * W || W < 1 || W > MAX_TAPS || bias.size !== K * C)
    throw new ShapeError(`${what}: weight ${weight} / bias ${bias} must be (K=${K}, C=${C}, W ≤ ${MAX_TAPS}) / (K, C)`);
  if (dout.dtype !== 'f32' || dout.size !== Bsz * K * L * C)
    throw new ShapeError(`${what}: dout ${dout} must have B·K·L·C elements`);
  const consts = { SILU: opts.silu ? 1 : 0, CROSS: cross ? 1 : 0 };
  const u = (n: number) => uniforms([n, C, L, W, K, Bsz, 0, 0, ...geom]);
  const nOut = Bsz * K * L * C;
  const g = e.empty([Bsz, K, L, C], 'f32', 'conv1d_bwd_g');
  e.dispatch({
    code: CODE.dpre!,
    constants: consts,
    bindings: [u(nOut), x, weight, bias, dout, g],
    workgroups: grid1d(Math.ceil(nOut / 256)),
    label: `${what}_dpre`,
  });
  const dx = e.empty(x.shape, 'f32', 'conv1d_dx');
  e.dispatch({
    code: CODE.dx!,
    constants: consts,
    bindings: [u(x.size), g, weight, dx],
    workgroups: grid1d(Math.ceil(x.size / 256)),
    label: `${what}_dx`,
  });
  const dWeight = e.empty(weight.shape, 'f32', 'conv1d_dweight');
  const dBias = e.empty(bias.shape, 'f32', 'conv1d_dbias');
  e.dispatch({
    code: CODE.dw!,
    constants: consts,
    bindings: [u(K * C), x, g, dWeight, dBias],
    workgroups: grid1d(Math.ceil((K * C) / 256)),
    label: `${what}_dw`,
  });
  g.dispose();
  return { dx, dWeight, dBias };
}

export function causalConv1dBackward(
  e: Engine,
  x: Tensor,
  weight: Tensor,
  bias: Tensor,
  dout: Tensor,
  opts: Conv1dOptions = {},
): Conv1dGrads {
  if (x.dtype !== 'f32' || (x.shape.length !== 3 && x.shape.length !== 4))
    throw new ShapeError(`causalConv1dBackward needs f32 (B, K, L, C) or (B, L, C), got ${x}`);
  const [Bsz, K, L, C] = (x.shape.length === 3 ? [x.shape[0], 1, x.shape[1], x.shape[2]] : x.shape) as [
    number,
    number,
    number,
    number,
  ];
  return run(e, x, weight, bias, dout, { Bsz, K, L, C }, false, [0, 1, 1, 0], opts);
}

export function causalConv1dCrossScanBackward(
  e: Engine,
  x: Tensor,
  weight: Tensor,
  bias: Tensor,
  dout: Tensor,
  grid: ScanGrid,
  opts: Conv1dOptions = {},
): Conv1dGrads {
  if (x.dtype !== 'f32' || x.shape.length !== 3)
    throw new ShapeError(`causalConv1dCrossScanBackward needs f32 (B, L, C), got ${x}`);
  const [Bsz, L, C] = x.shape as [number, number, number];
  checkGrid(grid, L, 'causalConv1dCrossScanBackward');
  return run(e, x, weight, bias, dout, { Bsz, K: grid.directions, L, C }, true, geomSlots(grid), opts);
}
