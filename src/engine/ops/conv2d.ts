// conv2d (shaders/conv2d.wgsl), 3×3 / 1×1, stride 1 / 2, optional fused nearest ×2 input upsample:
// the VQ tokenizer's convolutions (training/mmamba/vq.py). Layout NCHW, as PyTorch: images (B, 3, S, S), activations
// (B, C, H, W), conv weights (Cout, Cin, k, k) load without transposes. The VQ decoder's inference fusions
// (src/model/fusions.ts) use the options norm, residual, rowsPerThread and smallTiles.
import convCode from '../../../shaders/conv2d.wgsl?raw';
import { uniforms, type Engine } from '../engine';
import { ShapeError } from '../errors';
import type { Tensor } from '../tensor';

export interface Conv2dOptions {
  stride?: 1 | 2;
  /** Zero padding on every side (PyTorch `padding`); default (k − 1) / 2. */
  padding?: number;
  /** Read the input through a nearest ×2 upsample (fused F.interpolate(scale_factor=2) before the conv). */
  upsample?: boolean;
  /** Convolve SiLU(GroupNorm(x)) instead of x, normalised while staging: stats (B·G, 2) from groupNormStats, the
   *  norm's affine gamma / beta (Cin). */
  norm?: { stats: Tensor; groups: number; gamma: Tensor; beta: Tensor };
  /** Added after the bias: (B, Cout, Ho, Wo) (the ResBlock's skip + h in one dispatch). */
  residual?: Tensor;
  /** Output rows per thread, 1 or 2 (2: a 16 × 16 tile per workgroup, twice the work per thread). */
  rowsPerThread?: 1 | 2;
  /** 8 × 8 pixels × 4 output channels per workgroup instead of 16 × 8 × 8: 4× the workgroups, for small outputs. */
  smallTiles?: boolean;
}

/** x (B, Cin, H, W), weight (Cout, Cin, k, k) with k ∈ {1, 3}, bias (Cout) → (B, Cout, Ho, Wo). */
export function conv2d(e: Engine, x: Tensor, weight: Tensor, bias: Tensor, opts: Conv2dOptions = {}): Tensor {
  if (x.dtype !== 'f32' || x.shape.length !== 4) throw new ShapeError(`conv2d needs f32 (B, C, H, W), got ${x}`);
  const [B, Cin, H, W] = x.shape as [number, number, number, number];
  if (weight.shape.length !== 4 || weight.shape[1] !== Cin || weight.shape[2] !== weight.shape[3])
    throw new ShapeError(`conv2d: weight ${weight} must be (Cout, Cin=${Cin}, k, k)`);
  const [Cout, , k] = weight.shape as [number, number, number, number];
  if (k !== 1 && k !== 3) throw new ShapeError(`conv2d: kernel size ${k} unsupported (1 or 3)`);
  if (bias.size !== Cout) throw new ShapeError(`conv2d: bias ${bias} must have Cout=${Cout} elements`);
  const s = opts.stride ?? 1;
  if (s !== 1 && s !== 2) throw new ShapeError(`conv2d: stride ${s} unsupported (1 or 2)`);
  const pad = opts.padding ?? (k - 1) / 2;
  const up = opts.upsample ? 1 : 0;
  const Ho = Math.floor(((H << up) + 2 * pad - k) / s) + 1;
  const Wo = Math.floor(((W << up) + 2 * pad - k) / s) + 1;
  if (Ho < 1 || Wo < 1 || pad < 0 || !Number.isInteger(pad))
    throw new ShapeError(`conv2d: empty output for ${x}, k=${k}, pad=${pad}`);
  const { norm, residual } = opts;
  if (norm) {
    const G = norm.groups;
    if (!Number.isInteger(G) || G < 1 || Cin % G !== 0 || norm.stats.size !== 2 * B * G)
      throw new ShapeError(`conv2d: norm stats ${norm.stats} must be (B·G, 2) with G=${G} dividing Cin=${Cin}`);
    if (norm.gamma.size !== Cin || norm.beta.size !== Cin)
      throw new ShapeError(`conv2d: norm gamma ${norm.gamma} / beta ${norm.beta} must have Cin=${Cin} elements`);
  }
  if (residual && (residual.dtype !== 'f32' || residual.size !== B * Cout * Ho * Wo))
    throw new ShapeError(`conv2d: residual ${residual} must be f32 (${B}, ${Cout}, ${Ho}, ${Wo})`);
  const py = opts.rowsPerThread ?? 1;
  const [tw, th, cob] = opts.smallTiles ? [8, 8, 4] : [16, 8, 8];
  const coBlocks = Math.ceil(Cout / cob);
  const out = e.empty([B, Cout, Ho, Wo], 'f32', 'conv2d'); // (B, Cout, Ho, Wo)
  e.dispatch({
    code: convCode,
    // CIC 2 for 2 rows at stride 2: its staged input (33 × 33 per channel) fits the shader's TILE only so
    constants: {
      UP: up,
      PY: py,
      CIC: py === 2 && s === 2 ? 2 : 4,
      NORM: norm ? 1 : 0,
      RES: residual ? 1 : 0,
      TW: tw,
      TH: th,
      COB: cob,
    },
    bindings: [
      uniforms([B, Cin, H, W, Cout, Ho, Wo, s, pad, k, coBlocks, norm?.groups ?? 0]),
      x,
      weight,
      bias,
      out,
      norm?.stats ?? bias, // unused unless NORM
      norm?.gamma ?? bias,
      norm?.beta ?? bias,
      residual ?? bias, // unused unless RES
    ],
    workgroups: [Math.ceil(Wo / tw), Math.ceil(Ho / (th * py)), B * coBlocks],
    label:
      `conv2d${k}x${k}${s === 2 ? 's2' : ''}${up ? 'up' : ''}${norm ? '+gn' : ''}${residual ? '+res' : ''}` +
      `${py === 2 ? '/2row' : ''}${opts.smallTiles ? '/small' : ''} ${Cout}×${Ho}×${Wo}`, // the output's shape: the profile's per-layer key
  });
  return out;
}
