// Column slice of the last axis (shaders/split_columns.wgsl): x (..., S) → (..., len) = x[..., offset : offset+len].
// M-Mamba glue: dt = x_dbl[..., :dt_rank] before the dt_proj matmul.
import code from '../../../shaders/split_columns.wgsl?raw';
import { grid1d, uniforms, type Engine } from '../engine';
import { ShapeError } from '../errors';
import type { Tensor } from '../tensor';

export function sliceColumns(e: Engine, x: Tensor, offset: number, len: number): Tensor {
  const S = x.shape[x.shape.length - 1];
  if (x.dtype !== 'f32' || S === undefined || !(offset >= 0 && len >= 1 && offset + len <= S))
    throw new ShapeError(`sliceColumns: columns [${offset}, ${offset + len}) out of range for ${x}`);
  const out = e.empty([...x.shape.slice(0, -1), len], 'f32', 'slice_columns');
  e.dispatch({
    code,
    bindings: [uniforms([out.size, S, offset, len]), x, out],
    workgroups: grid1d(Math.ceil(out.size / 256)),
    label: 'slice_columns',
  });
  return out;
}
