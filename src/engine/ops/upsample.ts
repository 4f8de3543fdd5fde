// Nearest-neighbour ×2 upsample, NCHW (shaders/upsample.wgsl), as F.interpolate(scale_factor=2, mode='nearest').
import upCode from '../../../shaders/upsample.wgsl?raw';
import { grid1d, uniforms, type Engine } from '../engine';
import { ShapeError } from '../errors';
import type { Tensor } from '../tensor';

/** Nearest ×2 upsample: x (B, C, H, W) → (B, C, 2H, 2W). */
export function upsampleNearest2x(e: Engine, x: Tensor): Tensor {
  if (x.dtype !== 'f32' || x.shape.length !== 4)
    throw new ShapeError(`upsampleNearest2x needs f32 (B, C, H, W), got ${x}`);
  const [B, C, H, W] = x.shape as [number, number, number, number];
  const out = e.empty([B, C, 2 * H, 2 * W], 'f32', 'upsample2x');
  e.dispatch({
    code: upCode,
    bindings: [uniforms([out.size, H, W, 0]), x, out],
    workgroups: grid1d(Math.ceil(out.size / 256)),
    label: 'upsample2x',
  });
  return out;
}
