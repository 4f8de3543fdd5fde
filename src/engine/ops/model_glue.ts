// Glue ops between the big kernels of the models (shaders/model_glue.wgsl, shaders/masked_mean.wgsl):
//   gatedResidual  h + gate · y with gate a column slice of the packed adaLN output (B, W), broadcast over L
//                  (training/mmamba/mmamba.py / uvit.py: `h = h + gate * f(...)`)
//   concatRows     [a ; c] along the sequence axis (M-Mamba's h = [h_txt ; h_img])
//   sliceRows      rows start..start+len of every batch (M-Mamba's head reads h[:, Lt:])
//   maskedMean     mean over the non-pad positions (the text encoder's pooled vector)
import code from '../../../shaders/model_glue.wgsl?raw';
import meanCode from '../../../shaders/masked_mean.wgsl?raw';
import { grid1d, uniforms, type Engine } from '../engine';
import { ShapeError } from '../errors';
import type { Tensor } from '../tensor';
import type { ColumnSlice } from './norm';

const wg = (n: number) => grid1d(Math.ceil(n / 256));

function check3(t: Tensor, what: string): [number, number, number] {
  if (t.dtype !== 'f32' || t.shape.length !== 3) throw new ShapeError(`${what}: want f32 (B, L, D), got ${t}`);
  return t.shape as [number, number, number];
}

/** out (B, L, D) = h + gate.tensor[b, gate.offset + j] · y, h and y (B, L, D), gate.tensor (B, W). */
export function gatedResidual(e: Engine, h: Tensor, gate: ColumnSlice, y: Tensor): Tensor {
  const [B, L, D] = check3(h, 'gatedResidual');
  if (y.dtype !== 'f32' || y.shape.join() !== h.shape.join())
    throw new ShapeError(`gatedResidual: y ${y} must match h ${h}`);
  const g = gate.tensor;
  const W = B === 0 ? 0 : g.size / B;
  if (g.dtype !== 'f32' || !Number.isInteger(W) || gate.offset < 0 || gate.offset + D > W)
    throw new ShapeError(`gatedResidual: gate ${g} (offset ${gate.offset}) must be f32 (B=${B}, W ≥ offset + ${D})`);
  const out = e.empty(h.shape, 'f32', 'gated_residual');
  e.dispatch({
    code,
    entry: 'gated_residual',
    bindings: [uniforms([out.size, D, L, W, gate.offset, 0, 0, 0]), out, h, y, g],
    workgroups: wg(out.size),
    label: 'gated_residual',
  });
  return out;
}

/** a (B, L1, D), c (B, L2, D) → (B, L1 + L2, D). */
export function concatRows(e: Engine, a: Tensor, c: Tensor): Tensor {
  const [B, L1, D] = check3(a, 'concatRows');
  const [B2, L2, D2] = check3(c, 'concatRows');
  if (B !== B2 || D !== D2) throw new ShapeError(`concatRows: ${a} and ${c} differ in batch or width`);
  const out = e.empty([B, L1 + L2, D], 'f32', 'concat_rows');
  e.dispatch({
    code,
    entry: 'concat_rows',
    bindings: [uniforms([out.size, D, L1, 0, 0, L2, 0, 0]), out, a, c],
    workgroups: wg(out.size),
    label: 'concat_rows',
  });
  return out;
}

/** a (B, L, D) → (B, len, D) = a[:, start : start + len]. */
export function sliceRows(e: Engine, a: Tensor, start: number, len: number): Tensor {
  const [B, L, D] = check3(a, 'sliceRows');
  if (!Number.isInteger(start) || !Number.isInteger(len) || start < 0 || len < 1 || start + len > L)
    throw new ShapeError(`sliceRows: rows [${start}, ${start + len}) out of range for ${a}`);
  const out = e.empty([B, len, D], 'f32', 'slice_rows');
  e.dispatch({
    code,
    entry: 'slice_rows',
    bindings: [uniforms([out.size, D, L, 0, start, len, 0, 0]), out, a],
    workgroups: wg(out.size),
    label: 'slice_rows',
  });
  return out;
}

/** x (B, L, D), mask u32 (B, L) (nonzero = keep) → (B, D) = masked mean over L (0 rows count as 1). */
export function maskedMean(e: Engine, x: Tensor, mask: Tensor): Tensor {
  const [B, L, D] = check3(x, 'maskedMean');
  if (mask.dtype !== 'u32' || mask.size !== B * L)
    throw new ShapeError(`maskedMean: mask ${mask} must be u32 (B=${B}, L=${L})`);
  const out = e.empty([B, D], 'f32', 'masked_mean');
  e.dispatch({
    code: meanCode,
    bindings: [uniforms([out.size, D, L, 0]), out, x, mask],
    workgroups: wg(out.size),
    label: 'masked_mean',
  });
  return out;
}
