// The forward of one M-Mamba layer's mixer sublayer, returning every activation. Called through the model
// description (mmamba_assembly.ts `layer`, which resolves the weights: plain, LoRA-adapted, or K-stacked weights tiled
// over the batch) by inference (src/model/mmamba.ts keeps only the output) and by fine-tuning
// (src/finetune/mmamba_layer_backward.ts reads every activation in its backward).
import type { Engine } from '../engine/engine';
import { causalConv1dCrossScan } from '../engine/ops/conv1d';
import type { ScanGrid } from '../engine/ops/cross_scan_geom';
import { layerNormSiluGate } from '../engine/ops/layernorm_gate';
import { linear, linearGatedResidual, matmul } from '../engine/ops/matmul';
import { gatedResidual } from '../engine/ops/model_glue';
import { rmsNorm } from '../engine/ops/norm';
import { selectiveScanChunked, selectiveScanFused } from '../engine/ops/selective_scan';
import { sliceColumns } from '../engine/ops/split_columns';
import type { Tensor } from '../engine/tensor';
import { view, type Scope } from './common';
import type { Fusions } from './fusions';

/** Shapes of the mixer: model width d, inner width di, dt rank R, state size N, directions K. */
export interface MixerDims {
  d: number;
  di: number;
  R: number;
  N: number;
  K: number;
  grid: ScanGrid;
}

/** The layer's weights as the mixer reads them. xProj / dtProj are (B·K, ·, ·): K-stacked, tiled over the batch. */
export interface MixerWeights {
  inX: Tensor; //     (di, d)  rows [0, di) of in_proj
  inZ: Tensor; //     (di, d)  rows [di, 2di)
  convW: Tensor; //   (K, di, d_conv)
  convB: Tensor; //   (K, di)
  xProj: Tensor; //   (B·K, R + 2N, di)
  dtProj: Tensor; //  (B·K, di, R)
  A_log: Tensor; //   (K, di, N)
  D: Tensor; //       (K, di)
  dtBias: Tensor; //  (K, di)
  outNormW: Tensor; // (di)
  outNormB: Tensor; // (di)
  outProj: Tensor; // (d, di)
}

/** Every intermediate of the mixer (all owned by the scope passed in), and the gated-residual output (not). */
export interface MixerActs {
  u: Tensor; //    (B, L, d)    RMSNorm(h) modulated
  x: Tensor; //    (B, L, di)
  z: Tensor; //    (B, L, di)
  xs: Tensor; //   (B, K, L, di) SiLU(causal conv), original token order
  xdbl: Tensor; // (B·K, L, S)  dt | B | C
  dtIn: Tensor; // (B·K, L, R)
  dt: Tensor; //   (B·K, L, di)
  y: Tensor; //    (B, L, di)   merged scan output
  yn: Tensor; //   (B, L, di)
  sz: Tensor; //   (B, L, di)   SiLU(z)
  g: Tensor; //    (B, L, di)
  o: Tensor; //    (B, L, d)
  out: Tensor; //  (B, L, d)    h + gate · o  (the caller owns it)
}

/** The selective-scan kernel of a mixer: 'fused' (the default) or the chunk-parallel candidate being compared. */
export type ScanKernel = 'fused' | 'chunked';

/** The selective scan of a mixer: xs (B, K, L, di) in scan order, dt (B·K, L, di) from dt_proj, and B and C
 *  read from x_dbl's columns after the dt ones. Shared by the training forward and inference. */
function mixerScan(
  e: Engine,
  xs: Tensor,
  dt: Tensor,
  xdbl: Tensor,
  w: MixerWeights,
  dims: MixerDims,
  scan: ScanKernel,
) {
  const { R, N, K, grid, di } = dims;
  const [B, , L] = xs.shape as [number, number, number, number];
  return (scan === 'chunked' ? selectiveScanChunked : selectiveScanFused)(
    e,
    {
      u: xs,
      delta: view(dt, [B, K, L, di]),
      A_log: w.A_log,
      BC: view(xdbl, [B, K, L, R + 2 * N]),
      D: w.D,
      deltaBias: w.dtBias,
      bOffset: R,
      cOffset: R + N,
    },
    grid,
  );
}

/** h (B, L, d), mod (B, 3d) = (shift, scale, gate) → the mixer's activations; see MixerActs for ownership. */
export function mixerForward(
  e: Engine,
  h: Tensor,
  mod: Tensor,
  w: MixerWeights,
  dims: MixerDims,
  s: Scope,
  scan: ScanKernel = 'fused',
): MixerActs {
  const { d, di, R, K, grid } = dims;
  const B = h.shape[0]!;
  const L = h.shape[1]!;
  const u = s.t(rmsNorm(e, h, { shift: { tensor: mod, offset: 0 }, scale: { tensor: mod, offset: d } }));
  const x = s.t(linear(e, u, w.inX, null, 'in_proj.x'));
  const z = s.t(linear(e, u, w.inZ, null, 'in_proj.z'));
  const xs = s.t(causalConv1dCrossScan(e, x, w.convW, w.convB, grid, { silu: true }));
  const xdbl = s.t(matmul(e, view(xs, [B * K, L, di]), w.xProj, { transB: true, label: 'x_proj' }));
  const dtIn = s.t(sliceColumns(e, xdbl, 0, R));
  const dt = s.t(matmul(e, dtIn, w.dtProj, { transB: true, label: 'dt_proj' }));
  const y = s.t(mixerScan(e, xs, dt, xdbl, w, dims, scan));
  // one dispatch: LayerNorm, SiLU, product
  const gate = layerNormSiluGate(e, y, z, { weight: w.outNormW, bias: w.outNormB });
  const [yn, sz, g] = [s.t(gate.yn), s.t(gate.sz), s.t(gate.g)];
  const o = s.t(linear(e, g, w.outProj, null, 'out_proj'));
  const out = gatedResidual(e, h, { tensor: mod, offset: 2 * d }, o);
  return { u, x, z, xs, xdbl, dtIn, dt, y, yn, sz, g, o, out };
}

/** mixerForward's output alone, for inference, with the fusions switched on in `f` (dt_proj reading x_dbl's dt
 *  columns in place; out_proj with the gated residual as its epilogue). The intermediates go into the scope. */
export function mixerInfer(
  e: Engine,
  h: Tensor,
  mod: Tensor,
  w: MixerWeights,
  dims: MixerDims,
  s: Scope,
  scan: ScanKernel,
  f: Fusions,
): Tensor {
  const { d, R, K, grid, di } = dims;
  const B = h.shape[0]!;
  const L = h.shape[1]!;
  const u = s.t(rmsNorm(e, h, { shift: { tensor: mod, offset: 0 }, scale: { tensor: mod, offset: d } }));
  const x = s.t(linear(e, u, w.inX, null, 'in_proj.x'));
  const z = s.t(linear(e, u, w.inZ, null, 'in_proj.z'));
  const xs = s.t(causalConv1dCrossScan(e, x, w.convW, w.convB, grid, { silu: true }));
  const xdbl = s.t(matmul(e, view(xs, [B * K, L, di]), w.xProj, { transB: true, label: 'x_proj' }));
  const dt = s.t(
    f.dtSlice
      ? matmul(e, xdbl, w.dtProj, { transB: true, aColumns: R, label: 'dt_proj' })
      : matmul(e, s.t(sliceColumns(e, xdbl, 0, R)), w.dtProj, { transB: true, label: 'dt_proj' }),
  );
  const y = s.t(mixerScan(e, xs, dt, xdbl, w, dims, scan));
  const gate = layerNormSiluGate(e, y, z, { weight: w.outNormW, bias: w.outNormB });
  s.t(gate.yn), s.t(gate.sz), s.t(gate.g);
  const g = { tensor: mod, offset: 2 * d };
  if (f.outResidual) return linearGatedResidual(e, gate.g, w.outProj, null, h, g, { label: 'out_proj_residual' });
  return gatedResidual(e, h, g, s.t(linear(e, gate.g, w.outProj, null, 'out_proj')));
}
