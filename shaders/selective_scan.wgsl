// Selective scan (Mamba S6, Gu & Dao 2023), forward, as training/mmamba/scan.py `selective_scan_ref`:
//   Δ_t = softplus(delta_t + dt_bias);  h_t = exp(Δ_t·A) ⊙ h_{t-1} + Δ_t·u_t·B_t;  y_t = ⟨C_t, h_t⟩ + D·u_t
//   (then y_t · SiLU(z_t) when HASZ), A = −exp(A_log), state h in f32, one scan per (b, k, channel).
// Layout (channels-last, directions stacked):
//   u, delta, z, y (B, K, L, di);  A_log (K, di, N);  D, dt_bias (K, di);
//   B, C: columns [bOff, bOff+N) and [cOff, cOff+N) of BC (B, K, L, S), i.e. read in place from x_proj's
//   output x_dbl (B, K, L, dt_rank + 2N) without a split copy (and 8 storage buffers, the WebGPU default limit).
// Idea: parallel over (b, k, channel), sequential over L. A workgroup owns CH channels of one (b, k); the
// N ≤ 16 state lives in registers. B_t and C_t are the same for all channels of (b, k): the workgroup stages
// T time steps of them in workgroup memory (one cooperative load, then CH threads reuse them).

override CH: u32 = 32u;     // channels per workgroup (= workgroup size)
override NS: u32 = 16u;     // state size N (≤ 16)
override HASZ: u32 = 0u;
const T: u32 = 32u;         // time steps staged per chunk
const NMAX: u32 = 16u;

struct Params { Bsz: u32, K: u32, L: u32, di: u32, S: u32, bOff: u32, cOff: u32, blocks: u32 }

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> u: array<f32>;       // (B, K, L, di)
@group(0) @binding(2) var<storage, read> delta: array<f32>;   // (B, K, L, di), before bias and softplus
@group(0) @binding(3) var<storage, read> Alog: array<f32>;    // (K, di, N)
@group(0) @binding(4) var<storage, read> BC: array<f32>;      // (B, K, L, S)
@group(0) @binding(5) var<storage, read> Dp: array<f32>;      // (K, di)
@group(0) @binding(6) var<storage, read> dtBias: array<f32>;  // (K, di)
@group(0) @binding(7) var<storage, read> z: array<f32>;       // (B, K, L, di) (unused unless HASZ)
@group(0) @binding(8) var<storage, read_write> y: array<f32>; // (B, K, L, di)

var<workgroup> sB: array<f32, T * NMAX>;   // (T, N)
var<workgroup> sC: array<f32, T * NMAX>;

@compute @workgroup_size(CH)
fn main(@builtin(workgroup_id) wid: vec3u, @builtin(num_workgroups) nwg: vec3u, @builtin(local_invocation_index) lid: u32) {
  let g = wid.x + wid.y * nwg.x;
  if (g >= p.Bsz * p.K * p.blocks) { return; }          // uniform per workgroup: safe before barriers
  let bk = g / p.blocks;                                  // b * K + k
  let k = bk % p.K;
  let c = (g % p.blocks) * CH + lid;
  let live = c < p.di;                                  // inactive threads still help load and hit barriers
  let kc = k * p.di + min(c, p.di - 1u);

  var A: array<f32, NMAX>;
  var h: array<f32, NMAX>;
  for (var n = 0u; n < NS; n++) { A[n] = -exp(Alog[kc * NS + n]); h[n] = 0.0; }
  let Dc = Dp[kc];
  let bias = dtBias[kc];

  for (var t0 = 0u; t0 < p.L; t0 += T) {
    let steps = min(T, p.L - t0);
    for (var e = lid; e < steps * NS; e += CH) {
      let row = (bk * p.L + t0 + e / NS) * p.S;
      sB[e] = BC[row + p.bOff + e % NS];
      sC[e] = BC[row + p.cOff + e % NS];
    }
    workgroupBarrier();
    if (live) {
      for (var s = 0u; s < steps; s++) {
        let i = (bk * p.L + t0 + s) * p.di + c;
        let ut = u[i];
        let dt = softplus(delta[i] + bias);
        let du = dt * ut;
        var acc = 0.0;
        for (var n = 0u; n < NS; n++) {
          h[n] = exp(dt * A[n]) * h[n] + du * sB[s * NS + n];
          acc += h[n] * sC[s * NS + n];
        }
        var yt = acc + Dc * ut;
        if (HASZ != 0u) { let zt = z[i]; yt *= zt / (1.0 + exp(-zt)); }
        y[i] = yt;
      }
    }
    workgroupBarrier();                                   // sB/sC are rewritten by the next chunk
  }
}
