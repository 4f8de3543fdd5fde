// Per-step preview kernels (shaders/preview.wgsl): the token grid → VQ decoder input gather, and the packing of
// decoded images (as RGBA8) plus the token grid into one u32 buffer, so a sampler step costs one readback.
import code from '../../../shaders/preview.wgsl?raw';
import { grid1d, uniforms, type Engine } from '../engine';
import { ShapeError } from '../errors';
import type { Tensor } from '../tensor';

/**
 * tokens u32 (B, HW), codes f32 (K, D) → z f32 (B, D, g, g) with g² = HW: z[b, :, p] = codes[tokens[b, p]] for
 * codebook ids, codes[neutral] for any id ≥ K (the sampler's [MASK]).
 */
export function embedCodes(e: Engine, tokens: Tensor, codes: Tensor, neutral: number): Tensor {
  if (tokens.dtype !== 'u32' || tokens.shape.length !== 2)
    throw new ShapeError(`embedCodes: tokens must be u32 (B, HW), got ${tokens}`);
  if (codes.dtype !== 'f32' || codes.shape.length !== 2)
    throw new ShapeError(`embedCodes: codes must be f32 (K, D), got ${codes}`);
  const [B, HW] = tokens.shape as [number, number];
  const [K, D] = codes.shape as [number, number];
  const g = Math.round(Math.sqrt(HW));
  if (g * g !== HW) throw new ShapeError(`embedCodes: HW = ${HW} is not a square grid`);
  if (!Number.isInteger(neutral) || neutral < 0 || neutral >= K)
    throw new ShapeError(`embedCodes: neutral ${neutral} outside 0..${K - 1}`);
  const z = e.empty([B, D, g, g], 'f32', 'vq_z');
  const n = z.size;
  e.dispatch({
    code,
    entry: 'embed_codes',
    bindings: [uniforms([n, D, HW, K, neutral, 0, 0, 0]), tokens, codes, z],
    workgroups: grid1d(Math.ceil(n / 256)),
    label: 'embed_codes',
  });
  return z;
}

/**
 * images f32 (B, 3, S, S) in [-1, 1] (unclamped), tokens u32 (…) → u32 (B·S² + tokens.size): first the RGBA8 pixels
 * of every image (bytes R, G, B, 255; round((clamp(x) + 1)·127.5), half to even), then the tokens verbatim.
 */
export function packPreview(e: Engine, images: Tensor, tokens: Tensor): Tensor {
  if (images.dtype !== 'f32' || images.shape.length !== 4 || images.shape[1] !== 3)
    throw new ShapeError(`packPreview: images must be f32 (B, 3, S, S), got ${images}`);
  if (tokens.dtype !== 'u32') throw new ShapeError(`packPreview: tokens must be u32, got ${tokens}`);
  const [B, , S] = images.shape as [number, number, number, number];
  const nPixels = B * S * S;
  const out = e.empty([nPixels + tokens.size], 'u32', 'preview');
  e.dispatch({
    code,
    entry: 'pack_preview',
    bindings: [uniforms([nPixels, S * S, tokens.size, 0]), images, tokens, out],
    workgroups: grid1d(Math.ceil(out.size / 256)),
    label: 'pack_preview',
  });
  return out;
}
