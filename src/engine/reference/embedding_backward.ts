// CPU reference for shaders/embedding_backward.wgsl: scatter-add of dy rows into the table rows the ids select
// (ids clamped to V − 1 as the forward), in f64.
export function embeddingBackwardRef(
  ids: ArrayLike<number>,
  dy: ArrayLike<number>,
  V: number,
  D: number,
): Float64Array {
  const out = new Float64Array(V * D);
  for (let r = 0; r < ids.length; r++) {
    const v = Math.min(ids[r]!, V - 1);
    for (let j = 0; j < D; j++) out[v * D + j] += dy[r * D + j]!;
  }
  return out;
}
