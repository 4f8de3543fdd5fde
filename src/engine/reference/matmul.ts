// CPU reference for shaders/matmul.wgsl: the triple loop in f64, batched, with optional transposes and bias.

export interface MatmulRefArgs {
  M: number;
  N: number;
  K: number;
  batch?: number;
  /** A stored (K, M) per batch instead of (M, K). */
  transA?: boolean;
  /** B stored (N, K) per batch instead of (K, N). */
  transB?: boolean;
  /** A or B holding a single matrix is broadcast over the batch. */
  bias?: Float32Array | null;
}

/** Returns C (batch, M, N) = op(A) · op(B) (+ bias). */
export function matmulRef(a: Float32Array, b: Float32Array, o: MatmulRefArgs): Float32Array {
  const { M, N, K } = o;
  const batch = o.batch ?? 1;
  const sA = a.length === M * K ? 0 : M * K;
  const sB = b.length === K * N ? 0 : K * N;
  const out = new Float32Array(batch * M * N);
  for (let z = 0; z < batch; z++)
    for (let m = 0; m < M; m++)
      for (let n = 0; n < N; n++) {
        let s = o.bias ? o.bias[n]! : 0;
        for (let k = 0; k < K; k++) {
          const av = a[z * sA + (o.transA ? k * M + m : m * K + k)]!;
          const bv = b[z * sB + (o.transB ? n * K + k : k * N + n)]!;
          s += av * bv;
        }
        out[(z * M + m) * N + n] = s;
      }
  return out;
}

/** nn.Linear: x (rows, K) · W^T (W (N, K)) + bias. */
export const linearRef = (x: Float32Array, w: Float32Array, bias: Float32Array | null, N: number): Float32Array => {
  const K = w.length / N;
  return matmulRef(x, w, { M: x.length / K, N, K, transB: true, bias });
};
