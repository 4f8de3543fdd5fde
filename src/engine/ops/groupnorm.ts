// GroupNorm over NCHW with affine weight/bias and optional fused SiLU (shaders/groupnorm.wgsl): the VQ tokenizer's
// norm (training/mmamba/vq.py, eps 1e-6). Two dispatches: per-(b, group) statistics, then a parallel apply; the VQ
// decoder's fused path (src/model/fusions.ts vqNormConv) runs the statistics alone and applies them in conv2d.
import gnCode from '../../../shaders/groupnorm.wgsl?raw';
import { grid1d, uniforms, type Engine } from '../engine';
import { ShapeError } from '../errors';
import type { Tensor } from '../tensor';

export interface GroupNormOptions {
  eps?: number; // default 1e-6 (the VQ's gn_eps)
  silu?: boolean;
  /** Statistics in one pass (shifted sums, groupnorm.wgsl `stats_one_pass`) instead of two. */
  onePass?: boolean;
}

function checkGroups(x: Tensor, groups: number): [number, number, number] {
  if (x.dtype !== 'f32' || x.shape.length < 2) throw new ShapeError(`groupNorm needs f32 (B, C, ...), got ${x}`);
  const [B, C] = x.shape as [number, number];
  if (!Number.isInteger(groups) || groups < 1 || C % groups !== 0)
    throw new ShapeError(`groupNorm: ${groups} groups do not divide C=${C}`);
  return [B, C, x.size / (B * C)];
}

const statsUniforms = (x: Tensor, C: number, HW: number, groups: number, eps: number) =>
  uniforms([x.size, C, HW, groups, [eps, 'f32'], 0, 0, 0]);

/** The per-(b, group) statistics alone, (B·G, 2) = (mean, rstd): what conv2d's fused `norm` input reads. */
export function groupNormStats(e: Engine, x: Tensor, groups: number, eps = 1e-6, onePass = false): Tensor {
  const [B, C, HW] = checkGroups(x, groups);
  const stats = e.empty([B * groups, 2], 'f32', 'gn_stats'); // (B·G, [mean, rstd])
  e.dispatch({
    code: gnCode,
    entry: onePass ? 'stats_one_pass' : 'stats_main',
    bindings: [statsUniforms(x, C, HW, groups, eps), x, stats],
    workgroups: [B * groups],
    label: `${onePass ? 'gn_stats1p' : 'gn_stats'} ${C}×${HW}`, // the input's channels × pixels: the profile's key
  });
  return stats;
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
  const [, C, HW] = checkGroups(x, groups);
  if (weight.size !== C || bias.size !== C)
    throw new ShapeError(`groupNorm: weight ${weight} / bias ${bias} must have C=${C} elements`);
  const eps = opts.eps ?? 1e-6;
  const stats = groupNormStats(e, x, groups, eps, opts.onePass);
  const out = e.empty(x.shape, 'f32', 'groupnorm');
  e.dispatch({
    code: gnCode,
    entry: 'apply',
    constants: { SILU: opts.silu ? 1 : 0 },
    bindings: [statsUniforms(x, C, HW, groups, eps), x, stats, weight, bias, out],
    workgroups: grid1d(Math.ceil(x.size / 256)),
    label: `gn_apply ${C}×${HW}`,
  });
  stats.dispose();
  return out;
}
