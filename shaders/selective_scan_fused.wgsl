// Fused cross-scan + selective scan + cross-merge (forward). Prepended with shaders/cross_scan_index.wgsl.
// Same recurrence as shaders/selective_scan.wgsl (Mamba's selective_scan_ref, no z gate: the model gates
// after the merge and LayerNorm). Idea: nothing is ever permuted in memory. Every per-direction input is in
// ORIGINAL token order, as the fused conv (conv1d.wgsl `cross`) and the order-agnostic x_proj / dt_proj
// matmuls produce it:
//   u, delta (B, K, L, di);  B, C: columns bOff / cOff of BC (B, K, L, S);  A_log (K, di, N);  D, dt_bias (K, di)
// Thread (k, c) walks direction k's scan order j = 0..L-1 and reads token t = seqToken(k, j) (index arithmetic),
// so y_k lands in original order and the cross-merge is a plain sum over k. A workgroup holds all K directions
// of CB channels of one batch row: after its scans (per-direction results in `yk`, (B, K, L, di) scratch) a
// storage barrier, then the same workgroup sums k = 0..K-1 in fixed order → out (B, L, di). Deterministic, no
// atomics, no second dispatch; `yk` is written and re-read by one workgroup, so it stays in cache.
// Staging: the T next scan steps of every direction are loaded cooperatively into workgroup memory before
// the serial walk — B_t/C_t (K·T·N each) and u_t, Δ_t = softplus(delta_t + dt_bias) (K·T·CB each, coalesced
// over the workgroup's channels) — so the walk itself never waits on a global load: one memory latency per
// T steps instead of one per step. 12 KiB of workgroup memory at the maxima (K=4, CB=32, N=16, T=8), inside
// WebGPU's default 16 KiB.

override KD: u32 = 4u;      // directions (1, 2, 4)
override CB: u32 = 16u;     // channels per workgroup; workgroup size = KD * CB
override WGS: u32 = 64u;    // = KD * CB (set by the host)
override NS: u32 = 16u;     // state size N (≤ 16)
const T: u32 = 8u;
const NMAX: u32 = 16u;
const KMAX: u32 = 4u;
const CBMAX: u32 = 32u;

struct Params { Bsz: u32, L: u32, di: u32, S: u32, bOff: u32, cOff: u32, blocks: u32, _p: u32, geom: ScanGeom }

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> u: array<f32>;        // (B, K, L, di) original order
@group(0) @binding(2) var<storage, read> delta: array<f32>;    // (B, K, L, di) original order
@group(0) @binding(3) var<storage, read> Alog: array<f32>;     // (K, di, N)
@group(0) @binding(4) var<storage, read> BC: array<f32>;       // (B, K, L, S) original order
@group(0) @binding(5) var<storage, read> Dp: array<f32>;       // (K, di)
@group(0) @binding(6) var<storage, read> dtBias: array<f32>;   // (K, di)
@group(0) @binding(7) var<storage, read_write> yk: array<f32>; // (B, K, L, di) scratch, original order
@group(0) @binding(8) var<storage, read_write> out: array<f32>; // (B, L, di) merged
// 8 storage buffers: WebGPU's default maxStorageBuffersPerShaderStage.

var<workgroup> sB: array<f32, KMAX * T * NMAX>;   // (K, T, N)
var<workgroup> sC: array<f32, KMAX * T * NMAX>;
var<workgroup> sU: array<f32, KMAX * T * CBMAX>;  // (K, T, CB) u
var<workgroup> sD: array<f32, KMAX * T * CBMAX>;  // (K, T, CB) Δ = softplus(delta + dt_bias)

fn softplus(x: f32) -> f32 {
  if (x > 20.0) { return x; }
  let t = exp(-abs(x));
  return max(x, 0.0) + select(log(1.0 + t), t * (1.0 - 0.5 * t), t < 1e-4);
}

@compute @workgroup_size(WGS)
fn main(@builtin(workgroup_id) wid: vec3u, @builtin(num_workgroups) nwg: vec3u, @builtin(local_invocation_index) lid: u32) {
  let g = wid.x + wid.y * nwg.x;
  if (g >= p.Bsz * p.blocks) { return; }                 // uniform per workgroup
  let b = g / p.blocks;
  let c0 = (g % p.blocks) * CB;
  let k = lid / CB;
  let lc = lid % CB;
  let c = c0 + lc;
  let live = c < p.di;
  let kc = k * p.di + min(c, p.di - 1u);
  let bk = b * KD + k;

  var A: array<f32, NMAX>;
  var h: array<f32, NMAX>;
  for (var n = 0u; n < NS; n++) { A[n] = -exp(Alog[kc * NS + n]); h[n] = 0.0; }
  let Dc = Dp[kc];

  for (var j0 = 0u; j0 < p.L; j0 += T) {
    let steps = min(T, p.L - j0);
    for (var e = lid; e < KD * steps * NS; e += WGS) {     // e = (kk, s, n)
      let n = e % NS;
      let s = (e / NS) % steps;
      let kk = e / (NS * steps);
      let row = ((b * KD + kk) * p.L + seqToken(p.geom, kk, j0 + s)) * p.S;
      let o = (kk * T + s) * NS + n;
      sB[o] = BC[row + p.bOff + n];
      sC[o] = BC[row + p.cOff + n];
    }
    for (var e = lid; e < KD * steps * CB; e += WGS) {     // e = (kk, s, cc): consecutive lanes, consecutive channels
      let cc = e % CB;
      let s = (e / CB) % steps;
      let kk = e / (CB * steps);
      let ch = c0 + cc;
      if (ch < p.di) {
        let i = ((b * KD + kk) * p.L + seqToken(p.geom, kk, j0 + s)) * p.di + ch;
        let o = (kk * T + s) * CB + cc;
        sU[o] = u[i];
        sD[o] = softplus(delta[i] + dtBias[kk * p.di + ch]);
      }
    }
    workgroupBarrier();
    if (live) {
      for (var s = 0u; s < steps; s++) {
        let so = (k * T + s) * CB + lc;
        let ut = sU[so];
        let dt = sD[so];
        let du = dt * ut;
        var acc = 0.0;
        let o = (k * T + s) * NS;
        for (var n = 0u; n < NS; n++) {
          h[n] = exp(dt * A[n]) * h[n] + du * sB[o + n];
          acc += h[n] * sC[o + n];
        }
        yk[(bk * p.L + seqToken(p.geom, k, j0 + s)) * p.di + c] = acc + Dc * ut;
      }
    }
    workgroupBarrier();
  }

  storageBarrier();                                        // every direction's yk of this block is written
  for (var e = lid; e < p.L * CB; e += WGS) {
    let cc = c0 + e % CB;
    if (cc < p.di) {
      let t = e / CB;
      var acc = 0.0;
      for (var kk = 0u; kk < KD; kk++) { acc += yk[((b * KD + kk) * p.L + t) * p.di + cc]; }
      out[(b * p.L + t) * p.di + cc] = acc;
    }
  }
}
