// Helpers for the backward-kernel tests: central finite differences in f64, to check the CPU references'
// gradients against their own f64 forwards.

/** ⟨a, b⟩ in f64. */
export function dot(a: ArrayLike<number>, b: ArrayLike<number>): number {
  let s = 0;
  for (let i = 0; i < a.length; i++) s += a[i]! * b[i]!;
  return s;
}

/** Central differences of the scalar f at x: (f(x + h·e_i) − f(x − h·e_i)) / 2h for every i, in f64.
 *  h = 1e-5 on O(1) inputs gives truncation ~h²·f''' ≈ 1e-10 and cancellation ~1e-16/h ≈ 1e-11. */
export function fdGrad(f: (x: Float64Array) => number, x0: ArrayLike<number>, h = 1e-5): Float64Array {
  const x = Float64Array.from(x0);
  const g = new Float64Array(x.length);
  for (let i = 0; i < x.length; i++) {
    const v = x[i]!;
    x[i] = v + h;
    const fp = f(x);
    x[i] = v - h;
    const fm = f(x);
    x[i] = v;
    g[i] = (fp - fm) / (2 * h);
  }
  return g;
}

export const f64 = (a: ArrayLike<number>): Float64Array => Float64Array.from(a);
