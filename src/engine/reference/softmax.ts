// CPU references for shaders/softmax.wgsl: max-subtracted softmax / log-softmax over rows of N, in f64.

function rows(x: Float32Array, N: number, log: boolean): Float32Array {
  const out = new Float32Array(x.length);
  for (let r = 0; r < x.length / N; r++) {
    const row = x.subarray(r * N, (r + 1) * N);
    let m = -Infinity;
    for (const v of row) m = Math.max(m, v);
    let s = 0;
    for (const v of row) s += Math.exp(v - m);
    for (let i = 0; i < N; i++) out[r * N + i] = log ? row[i]! - m - Math.log(s) : Math.exp(row[i]! - m) / s;
  }
  return out;
}

export const softmaxRef = (x: Float32Array, N: number): Float32Array => rows(x, N, false);
export const logSoftmaxRef = (x: Float32Array, N: number): Float32Array => rows(x, N, true);
