// CPU references for shaders/elementwise.wgsl: the plain formulas, in f64, one element at a time.
export const siluRef = (x: Float32Array): Float32Array => x.map((v) => v / (1 + Math.exp(-v)));

export const geluRef = (x: Float32Array): Float32Array =>
  x.map((v) => 0.5 * v * (1 + Math.tanh(Math.sqrt(2 / Math.PI) * (v + 0.044715 * v ** 3))));

export const softplusRef = (x: Float32Array): Float32Array => x.map((v) => (v > 20 ? v : Math.log1p(Math.exp(v))));

export const negExpRef = (x: Float32Array): Float32Array => x.map((v) => -Math.exp(v));

function broadcast(a: Float32Array, b: Float32Array, f: (x: number, y: number) => number): Float32Array {
  const out = new Float32Array(a.length);
  for (let i = 0; i < a.length; i++) out[i] = f(a[i]!, b[i % b.length]!);
  return out;
}

export const addRef = (a: Float32Array, b: Float32Array): Float32Array => broadcast(a, b, (x, y) => x + y);
export const mulRef = (a: Float32Array, b: Float32Array): Float32Array => broadcast(a, b, (x, y) => x * y);
export const axpbyRef = (a: Float32Array, b: Float32Array, alpha: number, beta: number): Float32Array =>
  broadcast(a, b, (x, y) => x * alpha + y * beta);
