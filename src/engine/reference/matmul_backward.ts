// CPU references for ops/matmul_backward.ts, in f64, straight from the definitions (no transposes reused):
//   C[z,m,n] = Σ_k opA[z,m,k]·opB[z,k,n] (+ bias[n])  →  d opA[z,m,k] = Σ_n dC[z,m,n]·opB[z,k,n],
//   d opB[z,k,n] = Σ_m opA[z,m,k]·dC[z,m,n] (summed over z when B is broadcast), d bias[n] = Σ_{z,m} dC[z,m,n].
type Arr = ArrayLike<number>;

export interface MatmulShape {
  M: number;
  N: number;
  K: number;
  batch: number;
  transA?: boolean;
  transB?: boolean;
  /** B is one (K, N) matrix shared by the batch. */
  broadcastB?: boolean;
}

const ia = (s: MatmulShape, z: number, m: number, k: number) => z * s.M * s.K + (s.transA ? k * s.M + m : m * s.K + k);
const ib = (s: MatmulShape, z: number, k: number, n: number) =>
  (s.broadcastB ? 0 : z * s.K * s.N) + (s.transB ? n * s.K + k : k * s.N + n);

export function matmul64(a: Arr, b: Arr, s: MatmulShape, bias: Arr | null = null): Float64Array {
  const c = new Float64Array(s.batch * s.M * s.N);
  for (let z = 0; z < s.batch; z++)
    for (let m = 0; m < s.M; m++)
      for (let n = 0; n < s.N; n++) {
        let acc = bias ? bias[n]! : 0;
        for (let k = 0; k < s.K; k++) acc += a[ia(s, z, m, k)]! * b[ib(s, z, k, n)]!;
        c[(z * s.M + m) * s.N + n] = acc;
      }
  return c;
}

/** dA, dB in the stored layouts of A and B; dBias (N). */
export function matmulBackwardRef(
  a: Arr,
  b: Arr,
  dC: Arr,
  s: MatmulShape,
): { dA: Float64Array; dB: Float64Array; dBias: Float64Array } {
  const dA = new Float64Array(a.length);
  const dB = new Float64Array(b.length);
  const dBias = new Float64Array(s.N);
  for (let z = 0; z < s.batch; z++)
    for (let m = 0; m < s.M; m++)
      for (let n = 0; n < s.N; n++) {
        const g = dC[(z * s.M + m) * s.N + n]!;
        dBias[n] += g;
        for (let k = 0; k < s.K; k++) {
          dA[ia(s, z, m, k)] += g * b[ib(s, z, k, n)]!;
          dB[ib(s, z, k, n)] += g * a[ia(s, z, m, k)]!;
        }
      }
  return { dA, dB, dBias };
}
