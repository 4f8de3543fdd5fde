// CPU reference for shaders/geglu.wgsl: y (R, F) = gelu_tanh(x[:, :F]) · x[:, F:] for x (R, 2F), in f64.
const geluTanh = (v: number): number => 0.5 * v * (1 + Math.tanh(Math.sqrt(2 / Math.PI) * (v + 0.044715 * v ** 3)));

export function gegluRef(x: Float32Array, F: number): Float32Array {
  const R = x.length / (2 * F);
  const out = new Float32Array(R * F);
  for (let r = 0; r < R; r++)
    for (let j = 0; j < F; j++) out[r * F + j] = geluTanh(x[r * 2 * F + j]!) * x[r * 2 * F + F + j]!;
  return out;
}
