// CPU reference for the selective-scan backward (shaders/selective_scan_backward.wgsl), in f64, keeping every
// state (no recomputation): the reverse-time recurrence of training/mmamba/scan_triton.py's docstring,
// through Δ = softplus(delta + dt_bias) and A = −exp(A_log). Per (b, k, channel c), t = L−1 … 0:
//   dh_t += dy_t·C_t;  da_t = dh_t ⊙ h_{t−1}  (a_t = exp(Δ_t·A));  dC_t += dy_t·h_t
//   dΔ_t = Σ_n da_t·a_t·A + u_t·Σ_n dh_t·B_t;   dA += da_t·a_t·Δ_t
//   du_t = Δ_t·Σ_n dh_t·B_t + D·dy_t;           dD += dy_t·u_t;   dB_t += dh_t·Δ_t·u_t
//   dh_{t−1} = dh_t ⊙ a_t
// then d delta_t = dΔ_t·sigmoid(delta_t + dt_bias) (softplus', 1 above torch's threshold 20), d dt_bias = Σ d delta,
// d A_log = dA·A. dB, dC are summed over the channels of direction k (B/C are shared by them).
// Layout: u, delta, dy (B, K, L, di); A_log (K, di, N); B, C (B, K, L, N); D, dtBias (K, di). No z gate.
import { scanInto, softplusF64 as softplus } from './selective_scan';

type Arr = ArrayLike<number>;

export interface ScanRefInputs64 {
  u: Arr;
  delta: Arr;
  A_log: Arr;
  B: Arr;
  C: Arr;
  D: Arr;
  dtBias: Arr;
}

export interface ScanRefGrads {
  du: Float64Array; //      (B, K, L, di)
  ddelta: Float64Array; //  (B, K, L, di)
  dA_log: Float64Array; //  (K, di, N)
  dB: Float64Array; //      (B, K, L, N)
  dC: Float64Array; //      (B, K, L, N)
  dD: Float64Array; //      (K, di)
  dDtBias: Float64Array; // (K, di)
}

const softplusGrad = (v: number): number => (v > 20 ? 1 : 1 / (1 + Math.exp(-v)));

/** Forward in f64 (reference/selective_scan.ts's recurrence), y (B, K, L, di). */
export function selectiveScan64(
  x: ScanRefInputs64,
  Bsz: number,
  K: number,
  L: number,
  di: number,
  N: number,
): Float64Array {
  return scanInto(x, new Float64Array(Bsz * K * L * di), Bsz, K, L, di, N);
}

export function selectiveScanBackwardRef(
  x: ScanRefInputs64,
  dy: Arr,
  Bsz: number,
  K: number,
  L: number,
  di: number,
  N: number,
): ScanRefGrads {
  const g: ScanRefGrads = {
    du: new Float64Array(Bsz * K * L * di),
    ddelta: new Float64Array(Bsz * K * L * di),
    dA_log: new Float64Array(K * di * N),
    dB: new Float64Array(Bsz * K * L * N),
    dC: new Float64Array(Bsz * K * L * N),
    dD: new Float64Array(K * di),
    dDtBias: new Float64Array(K * di),
  };
  const hs = new Float64Array((L + 1) * N); // hs[(t+1)·N + n] = h_t, hs[0..N) = h_{−1} = 0
  const dts = new Float64Array(L);
  const A = new Float64Array(N);
  const dh = new Float64Array(N);
  const dA = new Float64Array(N);
  for (let b = 0; b < Bsz; b++)
    for (let k = 0; k < K; k++)
      for (let c = 0; c < di; c++) {
        const kc = k * di + c;
        for (let n = 0; n < N; n++) A[n] = -Math.exp(x.A_log[kc * N + n]!);
        for (let t = 0; t < L; t++) {
          const i = ((b * K + k) * L + t) * di + c;
          const row = ((b * K + k) * L + t) * N;
          const dt = softplus(x.delta[i]! + x.dtBias[kc]!);
          dts[t] = dt;
          for (let n = 0; n < N; n++)
            hs[(t + 1) * N + n] = Math.exp(dt * A[n]!) * hs[t * N + n]! + dt * x.B[row + n]! * x.u[i]!;
        }
        dh.fill(0);
        dA.fill(0);
        for (let t = L - 1; t >= 0; t--) {
          const i = ((b * K + k) * L + t) * di + c;
          const row = ((b * K + k) * L + t) * N;
          const dt = dts[t]!;
          const u = x.u[i]!;
          const dyt = dy[i]!;
          let dDt = 0;
          let dBsum = 0;
          for (let n = 0; n < N; n++) {
            const a = Math.exp(dt * A[n]!);
            dh[n] += dyt * x.C[row + n]!;
            g.dC[row + n] += dyt * hs[(t + 1) * N + n]!;
            const da = dh[n]! * hs[t * N + n]!;
            dDt += da * a * A[n]! + dh[n]! * x.B[row + n]! * u;
            dA[n] += da * a * dt;
            g.dB[row + n] += dh[n]! * dt * u;
            dBsum += dh[n]! * x.B[row + n]!;
            dh[n] *= a;
          }
          g.du[i] = dt * dBsum + x.D[kc]! * dyt;
          g.dD[kc] += dyt * u;
          const dd = dDt * softplusGrad(x.delta[i]! + x.dtBias[kc]!);
          g.ddelta[i] = dd;
          g.dDtBias[kc] += dd;
        }
        for (let n = 0; n < N; n++) g.dA_log[kc * N + n] += dA[n]! * A[n]!;
      }
  return g;
}
