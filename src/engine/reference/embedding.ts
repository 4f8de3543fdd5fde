// CPU reference for shaders/embedding.wgsl: row gather with ids clamped to V − 1.
export function embeddingRef(ids: Uint32Array, table: Float32Array, D: number): Float32Array {
  const V = table.length / D;
  const out = new Float32Array(ids.length * D);
  ids.forEach((id, r) => {
    out.set(table.subarray(Math.min(id, V - 1) * D, (Math.min(id, V - 1) + 1) * D), r * D);
  });
  return out;
}
