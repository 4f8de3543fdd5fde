// CPU reference for the selective scan (shaders/selective_scan*.wgsl), line for line Mamba's
// `selective_scan_ref` (training/mmamba/scan.py) with delta_softplus=True, in f64:
//   Δ = softplus(delta + dt_bias); h_t = exp(Δ_t·A)·h_{t-1} + Δ_t·B_t·u_t; y_t = Σ_n C_t·h_t + D·u_t; y·SiLU(z)
// Layout: u, delta, z (B, K, L, di); A_log (K, di, N) (A = −exp(A_log)); B, C (B, K, L, N); D, dtBias (K, di).
// Direction k uses B[:, k] and C[:, k] for all its channels (torch's grouped B/C with groups = K).

export interface ScanRefInputs {
  u: Float32Array;
  delta: Float32Array;
  A_log: Float32Array;
  B: Float32Array;
  C: Float32Array;
  D: Float32Array;
  dtBias: Float32Array;
  z?: Float32Array;
}

export const softplusF64 = (v: number): number => (v > 20 ? v : Math.log1p(Math.exp(v)));

export function selectiveScanRef(
  x: ScanRefInputs,
  Bsz: number,
  K: number,
  L: number,
  di: number,
  N: number,
): Float32Array {
  return scanInto(x, new Float32Array(Bsz * K * L * di), Bsz, K, L, di, N);
}

/** The recurrence in f64, written into `y` (B, K, L, di): f32 output for the kernel tests, f64 for the
 *  finite-difference checks of the backward reference. Inputs only need to be indexable. */
export function scanInto<T extends Float32Array | Float64Array>(
  x: { [K in keyof ScanRefInputs]: ArrayLike<number> },
  y: T,
  Bsz: number,
  K: number,
  L: number,
  di: number,
  N: number,
): T {
  const h = new Float64Array(N);
  for (let b = 0; b < Bsz; b++)
    for (let k = 0; k < K; k++)
      for (let c = 0; c < di; c++) {
        const kc = k * di + c;
        h.fill(0);
        for (let t = 0; t < L; t++) {
          const i = ((b * K + k) * L + t) * di + c;
          const row = ((b * K + k) * L + t) * N;
          const dt = softplusF64(x.delta[i]! + x.dtBias[kc]!);
          const u = x.u[i]!;
          let acc = 0;
          for (let n = 0; n < N; n++) {
            const A = -Math.exp(x.A_log[kc * N + n]!);
            h[n] = Math.exp(dt * A) * h[n]! + dt * x.B[row + n]! * u;
            acc += h[n]! * x.C[row + n]!;
          }
          let yt = acc + x.D[kc]! * u;
          if (x.z) yt *= x.z[i]! / (1 + Math.exp(-x.z[i]!));
          y[i] = yt;
        }
      }
  return y;
}
