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

/** The out-projection epilogue (matmul.wgsl EPILOGUE 1): h + gate[b, off + n] · (x · W^T + bias), all in f64;
 *  x (B·L, K), W (N, K), h (B·L, N), gate (B, W'). */
export function linearGatedResidualRef(
  x: Float32Array,
  w: Float32Array,
  bias: Float32Array | null,
  h: Float32Array,
  gate: Float32Array,
  o: { B: number; L: number; N: number; offset: number },
): Float32Array {
  const { B, L, N, offset } = o;
  const K = w.length / N;
  const Wg = gate.length / B;
  const out = new Float32Array(B * L * N);
  for (let r = 0; r < B * L; r++) {
    const b = Math.floor(r / L);
    for (let n = 0; n < N; n++) {
      let s = bias ? bias[n]! : 0;
      for (let k = 0; k < K; k++) s += x[r * K + k]! * w[n * K + k]!;
      out[r * N + n] = h[r * N + n]! + gate[b * Wg + offset + n]! * s;
    }
  }
  return out;
}

/** The GEGLU epilogue (matmul.wgsl EPILOGUE 2) on the ORIGINAL weight layout W (2F, K) = [GELU half ; multiplier
 *  half]: (rows, F) = gelu_tanh(x · W[:F]^T + b[:F]) · (x · W[F:]^T + b[F:]), in f64. */
export function linearGegluRef(x: Float32Array, w: Float32Array, bias: Float32Array | null, F: number): Float32Array {
  const K = w.length / (2 * F);
  const rows = x.length / K;
  const out = new Float32Array(rows * F);
  const dot = (r: number, n: number) => {
    let s = bias ? bias[n]! : 0;
    for (let k = 0; k < K; k++) s += x[r * K + k]! * w[n * K + k]!;
    return s;
  };
  for (let r = 0; r < rows; r++)
    for (let f = 0; f < F; f++) {
      const a = dot(r, f);
      out[r * F + f] = 0.5 * a * (1 + Math.tanh(Math.sqrt(2 / Math.PI) * (a + 0.044715 * a ** 3))) * dot(r, F + f);
    }
  return out;
}
