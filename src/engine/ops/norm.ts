// RMSNorm / LayerNorm over the last dim with optional adaptive modulation (shaders/norm.wgsl).
// Conventions follow training/mmamba/common.py: RMS eps 1e-6, LayerNorm eps 1e-5, modulate = y·(1 + scale) + shift.
import code from '../../../shaders/norm.wgsl?raw';
import { grid1d, uniforms, type Engine } from '../engine';
import { ShapeError } from '../errors';
import type { Tensor } from '../tensor';

export interface NormOptions {
  /** (D) affine weight. */
  weight?: Tensor | null;
  /** (D) affine bias (LayerNorm only). */
  bias?: Tensor | null;
  /** Adaptive modulation: both (B, D), broadcast over the L rows of each batch of x (B, L, D). */
  scale?: Tensor | null;
  shift?: Tensor | null;
  eps?: number;
  label?: string;
}

export const RMS_EPS = 1e-6;
export const LN_EPS = 1e-5;

function run(e: Engine, kind: 0 | 1, x: Tensor, o: NormOptions, defaultEps: number): Tensor {
  const name = kind === 0 ? 'rmsNorm' : 'layerNorm';
  if (x.dtype !== 'f32' || x.shape.length < 1) throw new ShapeError(`${name}: x must be f32 (…, D), got ${x}`);
  const D = x.shape[x.shape.length - 1]!;
  const rows = D === 0 ? 0 : x.size / D;
  for (const [k, t] of [['weight', o.weight], ['bias', o.bias]] as const)
    if (t && (t.dtype !== 'f32' || t.size !== D)) throw new ShapeError(`${name}: ${k} ${t} must be f32 with D = ${D} elements`);
  const modulate = !!(o.scale || o.shift);
  let L = Math.max(1, rows);
  if (modulate) {
    if (!o.scale || !o.shift) throw new ShapeError(`${name}: modulation needs both scale and shift`);
    if (x.shape.length !== 3) throw new ShapeError(`${name}: modulation needs x (B, L, D), got ${x}`);
    const B = x.shape[0]!;
    for (const t of [o.scale, o.shift])
      if (t.dtype !== 'f32' || t.size !== B * D) throw new ShapeError(`${name}: scale/shift ${t} must be (B, D) = (${B}, ${D})`);
    L = Math.max(1, x.shape[1]!);
  }
  const out = e.empty(x.shape, 'f32', o.label ?? name);
  const WG = D <= 256 ? 64 : 256;
  e.dispatch({
    code,
    constants: { KIND: kind, HAS_W: o.weight ? 1 : 0, HAS_B: o.bias ? 1 : 0, MODULATE: modulate ? 1 : 0, WG },
    bindings: [
      uniforms([rows, D, L, [o.eps ?? defaultEps, 'f32']]),
      x,
      o.weight ?? x, // placeholders for absent operands are never read
      o.bias ?? x,
      o.scale ?? x,
      o.shift ?? x,
      out,
    ],
    workgroups: grid1d(rows),
    label: o.label ?? name,
  });
  return out;
}

/** x / sqrt(mean(x²) + eps) · weight [· (1 + scale) + shift]. x: (…, D), or (B, L, D) with scale/shift (B, D). */
export const rmsNorm = (e: Engine, x: Tensor, o: Omit<NormOptions, 'bias'> = {}): Tensor => run(e, 0, x, o, RMS_EPS);

/** (x − mean) / sqrt(var + eps) · weight + bias [· (1 + scale) + shift]. x: (…, D), or (B, L, D) with modulation. */
export const layerNorm = (e: Engine, x: Tensor, o: NormOptions = {}): Tensor => run(e, 1, x, o, LN_EPS);
