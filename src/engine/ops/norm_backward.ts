// RMSNorm / LayerNorm backward with affine parameters and adaptive modulation (shaders/norm_backward.wgsl),
// the adjoint of ops/norm.ts (same options, same eps defaults). Deterministic: fixed-order reductions.
import src from '../../../shaders/norm_backward.wgsl?raw';
import { grid1d, uniforms, type Engine } from '../engine';
import { ShapeError } from '../errors';
import type { Tensor } from '../tensor';
import { LN_EPS, RMS_EPS, type ColumnSlice, type NormOptions } from './norm';

const [prelude, ...sections] = src.split('//#entry ');
const CODE: Record<string, string> = Object.fromEntries(
  sections.map((s) => [s.slice(0, s.indexOf('\n')).trim(), prelude + s.slice(s.indexOf('\n'))]),
);

export interface NormBackwardOptions extends NormOptions {
  /** Where d shift / d scale go: D columns at shiftOffset / scaleOffset of every row of a (B, W) tensor (other
   *  columns untouched), e.g. the gradient of the packed AdaLN output (B, 3D) = [shift ; scale ; gate].
   *  Default: a new (B, 2D) tensor = [d shift ; d scale]. */
  dModInto?: { tensor: Tensor; shiftOffset: number; scaleOffset: number };
}

export interface NormGrads {
  dx: Tensor; //                 like x
  dWeight: Tensor | null; //     (D) when weight is given
  dBias: Tensor | null; //       (D) when bias is given (LayerNorm)
  /** (B, 2D) = [d shift ; d scale], or `dModInto.tensor`; null without modulation. */
  dMod: Tensor | null;
}

const asSlice = (m: Tensor | ColumnSlice): ColumnSlice => ('tensor' in m ? m : { tensor: m, offset: 0 });

function run(e: Engine, kind: 0 | 1, x: Tensor, dy: Tensor, o: NormBackwardOptions, defaultEps: number): NormGrads {
  const name = kind === 0 ? 'rmsNormBackward' : 'layerNormBackward';
  if (x.dtype !== 'f32' || x.shape.length < 1 || dy.dtype !== 'f32' || dy.size !== x.size)
    throw new ShapeError(`${name}: x (…, D) and dy of the same size, f32; got ${x}, ${dy}`);
  const D = x.shape[x.shape.length - 1]!;
  const rows = D === 0 ? 0 : x.size / D;
  const modulate = !!(o.scale || o.shift);
  let L = Math.max(1, rows);
  let Bsz = 1;
  let scale: ColumnSlice | null = null;
  let mStride = D;
  if (modulate) {
    if (!o.scale || !o.shift || x.shape.length !== 3)
      throw new ShapeError(`${name}: modulation needs scale, shift and x (B, L, D)`);
    Bsz = x.shape[0]!;
    L = Math.max(1, x.shape[1]!);
    scale = asSlice(o.scale);
    mStride = Bsz === 0 ? D : scale.tensor.size / Bsz;
    if (!Number.isInteger(mStride) || scale.offset + D > mStride)
      throw new ShapeError(`${name}: bad scale ${scale.tensor}`);
  }
  const hasW = !!o.weight;
  const hasB = !!o.bias && kind === 1;
  const consts = { KIND: kind, HAS_W: hasW ? 1 : 0, HAS_B: hasB ? 1 : 0, MODULATE: modulate ? 1 : 0 };
  let gStride = 2 * D;
  let gShiftOff = 0;
  let gScaleOff = D;
  let dMod: Tensor | null = null;
  if (modulate) {
    if (o.dModInto) {
      dMod = o.dModInto.tensor;
      gStride = Bsz === 0 ? 0 : dMod.size / Bsz;
      gShiftOff = o.dModInto.shiftOffset;
      gScaleOff = o.dModInto.scaleOffset;
      if (!Number.isInteger(gStride) || Math.max(gShiftOff, gScaleOff) + D > gStride)
        throw new ShapeError(`${name}: dModInto ${dMod} cannot hold D=${D} columns at ${gShiftOff} and ${gScaleOff}`);
    } else dMod = e.empty([Bsz, 2 * D], 'f32', 'norm_dmod');
  }
  const u = uniforms([
    rows,
    D,
    L,
    [o.eps ?? defaultEps, 'f32'],
    mStride,
    scale?.offset ?? 0,
    Bsz,
    gStride,
    gShiftOff,
    gScaleOff,
    0,
    0,
  ]);
  const dx = e.empty(x.shape, 'f32', `${name}_dx`);
  const stats = e.empty([Math.max(1, rows), 2], 'f32', 'norm_stats');
  e.dispatch({
    code: CODE.dx!,
    constants: { ...consts, WG: D <= 256 ? 64 : 256 },
    bindings: [u, x, dy, o.weight ?? x, scale?.tensor ?? x, dx, stats],
    workgroups: grid1d(rows),
    label: `${name}_dx`,
  });
  if (dMod)
    e.dispatch({
      code: CODE.dmod!,
      constants: consts,
      bindings: [u, x, dy, stats, o.weight ?? x, (hasB ? o.bias : null) ?? x, dMod],
      workgroups: grid1d(Math.ceil((Bsz * D) / 256)),
      label: `${name}_dmod`,
    });
  let dWeight: Tensor | null = null;
  let dBias: Tensor | null = null;
  if (hasW || hasB) {
    dWeight = e.empty([D], 'f32', 'norm_dweight');
    dBias = e.empty([D], 'f32', 'norm_dbias');
    e.dispatch({
      code: CODE.daffine!,
      constants: consts,
      bindings: [u, x, dy, stats, scale?.tensor ?? x, dWeight, dBias],
      workgroups: grid1d(Math.ceil(D / 256)),
      label: `${name}_daffine`,
    });
    if (!hasW) dWeight.dispose(), (dWeight = null);
    if (!hasB) dBias.dispose(), (dBias = null);
  }
  stats.dispose(); // safe: only later-recorded work can reuse it
  return { dx, dWeight, dBias, dMod };
}

/** Backward of rmsNorm(x, o): dx, d weight, and [d shift ; d scale] (reduced over L per batch row). */
export const rmsNormBackward = (
  e: Engine,
  x: Tensor,
  dy: Tensor,
  o: Omit<NormBackwardOptions, 'bias'> = {},
): NormGrads => run(e, 0, x, dy, o, RMS_EPS);

/** Backward of layerNorm(x, o): dx, d weight, d bias, and [d shift ; d scale]. */
export const layerNormBackward = (e: Engine, x: Tensor, dy: Tensor, o: NormBackwardOptions = {}): NormGrads =>
  run(e, 1, x, dy, o, LN_EPS);
