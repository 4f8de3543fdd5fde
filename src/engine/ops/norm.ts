// RMSNorm / LayerNorm over the last dim with optional adaptive modulation (shaders/norm.wgsl).
// Conventions follow training/mmamba/common.py: RMS eps 1e-6, LayerNorm eps 1e-5, modulate = y·(1 + scale) + shift.
import code from '../../../shaders/norm.wgsl?raw';
import { grid1d, uniforms, type Engine } from '../engine';
import { ShapeError } from '../errors';
import type { Tensor } from '../tensor';

/** Columns offset..offset+D of every row of a (B, W) tensor, e.g. one chunk of the packed AdaLN output
 *  (B, 3·D) = [shift ; scale ; gate] (training/mmamba/common.py AdaLN). */
export interface ColumnSlice {
  tensor: Tensor;
  offset: number;
}
type ModOperand = Tensor | ColumnSlice;
const asSlice = (m: ModOperand): ColumnSlice => ('tensor' in m ? m : { tensor: m, offset: 0 });

export interface NormOptions {
  /** (D) affine weight. */
  weight?: Tensor | null;
  /** (D) affine bias (LayerNorm only). */
  bias?: Tensor | null;
  /** Adaptive modulation: both (B, D) or column slices of (B, W) tensors, broadcast over the L rows of each
   *  batch of x (B, L, D). */
  scale?: ModOperand | null;
  shift?: ModOperand | null;
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
  for (const [k, t] of [
    ['weight', o.weight],
    ['bias', o.bias],
  ] as const)
    if (t && (t.dtype !== 'f32' || t.size !== D))
      throw new ShapeError(`${name}: ${k} ${t} must be f32 with D = ${D} elements`);
  const modulate = !!(o.scale || o.shift);
  let L = Math.max(1, rows);
  let scale: ColumnSlice | null = null;
  let shift: ColumnSlice | null = null;
  let mStride = D;
  if (modulate) {
    if (!o.scale || !o.shift) throw new ShapeError(`${name}: modulation needs both scale and shift`);
    if (x.shape.length !== 3) throw new ShapeError(`${name}: modulation needs x (B, L, D), got ${x}`);
    const B = x.shape[0]!;
    scale = asSlice(o.scale);
    shift = asSlice(o.shift);
    if (scale.tensor !== shift.tensor && scale.tensor.size !== shift.tensor.size)
      throw new ShapeError(`${name}: scale ${scale.tensor} and shift ${shift.tensor} must have the same (B, W) shape`);
    const W = B === 0 ? D : scale.tensor.size / B;
    for (const m of [scale, shift])
      if (
        m.tensor.dtype !== 'f32' ||
        m.tensor.size !== B * W ||
        !Number.isInteger(W) ||
        m.offset < 0 ||
        m.offset + D > W
      )
        throw new ShapeError(
          `${name}: scale/shift ${m.tensor} (offset ${m.offset}) must be f32 (B, W) with W ≥ offset + ${D}, B = ${B}`,
        );
    mStride = W;
    L = Math.max(1, x.shape[1]!);
  }
  const out = e.empty(x.shape, 'f32', o.label ?? name);
  const WG = D <= 256 ? 64 : 256;
  e.dispatch({
    code,
    constants: { KIND: kind, HAS_W: o.weight ? 1 : 0, HAS_B: o.bias ? 1 : 0, MODULATE: modulate ? 1 : 0, WG },
    bindings: [
      uniforms([rows, D, L, [o.eps ?? defaultEps, 'f32'], mStride, scale?.offset ?? 0, shift?.offset ?? 0, 0]),
      x,
      o.weight ?? x, // placeholders for absent operands are never read
      o.bias ?? x,
      scale?.tensor ?? x,
      shift?.tensor ?? x,
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
