// How far an adapter moves the model's drawings of prompts it was not trained on (the drift guard's metric, issue 20).
// Given the base model's and the adapted model's results for the same control prompts and seeds, it measures:
// - pixel drift: PSNR between the two images after both are box-averaged to 32×32 (the scale of the shapes and
//   colours a person sees; texture finer than that is left out), RGB in 0–255;
// - colour drift: each 32-px pixel falls in one of COLOUR_BINS named colours (achromatic by lightness, others by hue);
//   the drift is the largest change of any colour's share of the picture (0: the same mix of colours, 1: all changed);
// - token drift: the share of the 16×16 VQ token positions whose code changed.
// DOM-free and CPU-only; images are RGBA8 row-major squares. Wiring it into the worker and the page is separate.

/** Side of the grid the pixel and colour drift compare at. */
export const DRIFT_GRID = 32;

/** Bounds the issue sets for a control prompt: 32-px PSNR to the base ≥ 20 dB, colour shares within 0.05. */
export const DRIFT_BOUNDS = Object.freeze({ minPsnr32: 20, maxColourShareDiff: 0.05 });

/** The colours a 32-px pixel is sorted into: black, grey, white (saturation < 0.25), else one of 9 hue sectors. */
export const COLOUR_BINS = [
  'black',
  'grey',
  'white',
  'red',
  'orange',
  'yellow',
  'green',
  'cyan',
  'blue',
  'violet',
  'magenta',
  'pink',
] as const;

export interface DriftImage {
  width: number;
  height: number;
  rgba: Uint8Array | Uint8ClampedArray;
}

export interface DriftSample {
  image: DriftImage;
  /** The generation's VQ tokens (H·W codes). */
  tokens: ArrayLike<number>;
}

export interface PromptDrift {
  /** PSNR (dB) between base and adapted at 32×32; Infinity when equal there. */
  psnr32: number;
  /** Largest change of one colour's share (0–1). */
  colourShareDiff: number;
  /** Share of token positions that changed (0–1). */
  tokenChange: number;
}

export interface DriftReport {
  prompts: PromptDrift[];
  /** The worst prompt on each measure: lowest PSNR, largest colour and token change. */
  worst: PromptDrift;
  /** True when every prompt keeps within `bounds`. */
  withinBounds: boolean;
}

/** RGB of `img` box-averaged to side × side (float, 0–255, row-major, 3 per pixel); the side must divide the image. */
export function downsampleRgb(img: DriftImage, side = DRIFT_GRID): Float64Array {
  const { width: w, height: h, rgba } = img;
  if (rgba.length !== w * h * 4)
    throw new Error(`an image of ${w}×${h} needs ${w * h * 4} RGBA bytes, got ${rgba.length}`);
  if (w % side !== 0 || h % side !== 0) throw new Error(`a ${w}×${h} image does not divide into ${side}×${side} cells`);
  const cw = w / side;
  const ch = h / side;
  const out = new Float64Array(side * side * 3);
  for (let y = 0; y < h; y++)
    for (let x = 0; x < w; x++) {
      const o = (Math.floor(y / ch) * side + Math.floor(x / cw)) * 3;
      const i = (y * w + x) * 4;
      out[o] += rgba[i]!;
      out[o + 1] += rgba[i + 1]!;
      out[o + 2] += rgba[i + 2]!;
    }
  const n = cw * ch;
  for (let i = 0; i < out.length; i++) out[i]! /= n;
  return out;
}

/** PSNR (dB, peak 255) of two images at side × side; Infinity when they agree there. */
export function psnrAt(a: DriftImage, b: DriftImage, side = DRIFT_GRID): number {
  const x = downsampleRgb(a, side);
  const y = downsampleRgb(b, side);
  let se = 0;
  for (let i = 0; i < x.length; i++) se += (x[i]! - y[i]!) ** 2;
  const mse = se / x.length;
  return mse === 0 ? Infinity : 10 * Math.log10((255 * 255) / mse);
}

/** The COLOUR_BINS index of an RGB colour (0–255 each). */
export function colourBin(r: number, g: number, b: number): number {
  const max = Math.max(r, g, b);
  const min = Math.min(r, g, b);
  const l = (max + min) / 510;
  const sat = max === 0 ? 0 : (max - min) / max;
  if (sat < 0.25) return l < 0.2 ? 0 : l > 0.85 ? 2 : 1;
  let hue: number; // degrees
  if (max === r) hue = (60 * ((g - b) / (max - min)) + 360) % 360;
  else if (max === g) hue = 60 * ((b - r) / (max - min)) + 120;
  else hue = 60 * ((r - g) / (max - min)) + 240;
  // sector edges (degrees): red < 15, orange < 45, yellow < 70, green < 160, cyan < 195, blue < 255, violet < 285,
  // magenta < 320, pink < 345, then red again
  const edges = [15, 45, 70, 160, 195, 255, 285, 320, 345];
  const bins = [3, 4, 5, 6, 7, 8, 9, 10, 11];
  for (let k = 0; k < edges.length; k++) if (hue < edges[k]!) return bins[k]!;
  return 3;
}

/** Share of the picture's 32-px pixels in each COLOUR_BINS colour (sums to 1). */
export function colourShares(img: DriftImage, side = DRIFT_GRID): Float64Array {
  const px = downsampleRgb(img, side);
  const shares = new Float64Array(COLOUR_BINS.length);
  const n = side * side;
  for (let p = 0; p < n; p++) shares[colourBin(px[p * 3]!, px[p * 3 + 1]!, px[p * 3 + 2]!)]! += 1 / n;
  return shares;
}

/** Share of positions whose token differs (the two must be the same length). */
export function tokenChange(a: ArrayLike<number>, b: ArrayLike<number>): number {
  if (a.length !== b.length || a.length === 0)
    throw new Error(`token grids of ${a.length} and ${b.length} codes cannot be compared`);
  let changed = 0;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) changed++;
  return changed / a.length;
}

/** The drift of one control prompt: the base model's result against the adapted model's (same prompt and seed). */
export function promptDrift(base: DriftSample, adapted: DriftSample): PromptDrift {
  const sa = colourShares(base.image);
  const sb = colourShares(adapted.image);
  let colourShareDiff = 0;
  for (let k = 0; k < sa.length; k++) colourShareDiff = Math.max(colourShareDiff, Math.abs(sa[k]! - sb[k]!));
  return {
    psnr32: psnrAt(base.image, adapted.image),
    colourShareDiff,
    tokenChange: tokenChange(base.tokens, adapted.tokens),
  };
}

/** Drift over a set of control prompts (base[i] and adapted[i] share prompt and seed), checked against `bounds`. */
export function driftReport(
  base: DriftSample[],
  adapted: DriftSample[],
  bounds: { minPsnr32: number; maxColourShareDiff: number } = DRIFT_BOUNDS,
): DriftReport {
  if (base.length !== adapted.length || base.length === 0)
    throw new Error(`${base.length} base and ${adapted.length} adapted results: one of each per control prompt`);
  const prompts = base.map((b, i) => promptDrift(b, adapted[i]!));
  const worst: PromptDrift = {
    psnr32: Math.min(...prompts.map((p) => p.psnr32)),
    colourShareDiff: Math.max(...prompts.map((p) => p.colourShareDiff)),
    tokenChange: Math.max(...prompts.map((p) => p.tokenChange)),
  };
  return {
    prompts,
    worst,
    withinBounds: worst.psnr32 >= bounds.minPsnr32 && worst.colourShareDiff <= bounds.maxColourShareDiff,
  };
}
