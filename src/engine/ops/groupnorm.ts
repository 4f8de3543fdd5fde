// GroupNorm over NCHW with affine weight/bias and optional fused SiLU (shaders/groupnorm.wgsl): the VQ tokenizer's
// norm (training/mmamba/vq.py, eps 1e-6). Two dispatches: per-(b, group) statistics, then a parallel apply.
import gnCode from '../../../shaders/groupnorm.wgsl?raw';
import { grid1d, uniforms, type Engine } from '../engine';
import { ShapeError } from '../errors';
import type { Tensor } from '../tensor';

export interface GroupNormOptions {
  eps?: number; // default 1e-6 (the VQ's gn_eps)
  silu?: boolean;
}

/** GroupNorm with affine weight/bias (C), optional fused SiLU: x (B, C, H, W) → same shape. */
export function groupNorm(
  e: Engine,
  x: Tensor,
  groups: number,
  weight: Tensor,
  bias: Tensor,
  opts: GroupNormOptions = {},
): Tensor {
  if (x.dtype !== 'f32' || x.shape.length < 2) throw new ShapeError(`groupNorm needs f32 (B, C, ...), got ${x}`);
  const [B, C] = x.shape as [number, number];
  const HW = x.size / (B * C);
  if (!Number.isInteger(groups) || groups < 1 || C % groups !== 0)
    throw new ShapeError(`groupNorm: ${groups} groups do not divide C=${C}`);
  if (weight.size !== C || bias.size !== C)
    throw new ShapeError(`groupNorm: weight ${weight} / bias ${bias} must have C=${C} elements`);
  const stats = e.empty([B * groups, 2], 'f32', 'gn_stats'); // (B·G, [mean, rstd])
  const out = e.empty(x.shape, 'f32', 'groupnorm');
  const u = () => uniforms([x.size, C, HW, groups, [opts.eps ?? 1e-6, 'f32'], 0, 0, 0]);
  const constants = { SILU: opts.silu ? 1 : 0 };
  e.dispatch({
    code: gnCode,
    entry: 'stats_main',
    bindings: [u(), x, stats],
    workgroups: [B * groups],
    label: 'gn_stats',
  });
  e.dispatch({
    code: gnCode,
    entry: 'apply',
    constants,
    bindings: [u(), x, stats, weight, bias, out],
    workgroups: grid1d(Math.ceil(x.size / 256)),
    label: 'gn_apply',
  });
  stats.dispose();
  return out;
}
