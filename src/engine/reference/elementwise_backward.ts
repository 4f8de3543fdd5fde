// CPU references for shaders/elementwise_backward.wgsl, in f64: dx = dy · f'(x) with the closed-form
// derivatives, plus f64 forwards (for finite-difference checks of those derivatives).
type Arr = ArrayLike<number>;

const C = Math.sqrt(2 / Math.PI);
const sigmoid = (v: number): number => 1 / (1 + Math.exp(-v));

export const silu64 = (v: number): number => v * sigmoid(v);
export const gelu64 = (v: number): number => 0.5 * v * (1 + Math.tanh(C * (v + 0.044715 * v ** 3)));
export const softplus64 = (v: number): number => (v > 20 ? v : Math.log1p(Math.exp(v)));

export const siluGrad = (v: number): number => {
  const s = sigmoid(v);
  return s * (1 + v * (1 - s));
};
export const geluGrad = (v: number): number => {
  const th = Math.tanh(C * (v + 0.044715 * v ** 3));
  return 0.5 * (1 + th) + 0.5 * v * (1 - th * th) * C * (1 + 3 * 0.044715 * v * v);
};
export const softplusGrad = (v: number): number => (v > 20 ? 1 : sigmoid(v));

const map = (x: Arr, dy: Arr, f: (v: number) => number): Float64Array => Float64Array.from(x, (v, i) => dy[i]! * f(v));

export const siluBackwardRef = (x: Arr, dy: Arr): Float64Array => map(x, dy, siluGrad);
export const geluBackwardRef = (x: Arr, dy: Arr): Float64Array => map(x, dy, geluGrad);
export const softplusBackwardRef = (x: Arr, dy: Arr): Float64Array => map(x, dy, softplusGrad);

/** GEGLU forward in f64: x (R, 2F) → (R, F). */
export function geglu64(x: Arr, F: number): Float64Array {
  const R = x.length / (2 * F);
  const y = new Float64Array(R * F);
  for (let r = 0; r < R; r++)
    for (let j = 0; j < F; j++) y[r * F + j] = gelu64(x[r * 2 * F + j]!) * x[r * 2 * F + F + j]!;
  return y;
}

/** x (R, 2F), dy (R, F) → dx (R, 2F). */
export function gegluBackwardRef(x: Arr, dy: Arr, F: number): Float64Array {
  const R = x.length / (2 * F);
  const dx = new Float64Array(x.length);
  for (let r = 0; r < R; r++)
    for (let j = 0; j < F; j++) {
      const a = x[r * 2 * F + j]!;
      const g = x[r * 2 * F + F + j]!;
      const d = dy[r * F + j]!;
      dx[r * 2 * F + j] = d * g * geluGrad(a);
      dx[r * 2 * F + F + j] = d * gelu64(a);
    }
  return dx;
}
