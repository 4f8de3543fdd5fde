// Selective scan (Mamba S6) backward, as the recurrence in training/mmamba/scan_triton.py's docstring, through
// Δ = softplus(delta + dt_bias) and A = −exp(A_log). Prepended at load time with shaders/softplus.wgsl and
// shaders/cross_scan_index.wgsl.
// Per (b, k, channel c), reverse time:
//   dh_t += dy_t·C_t;  da_t = dh_t ⊙ h_{t−1};  dΔ_t = Σ_n da_t·a_t·A + u_t Σ_n dh_t·B_t;  dA += da_t·a_t·Δ_t
//   du_t = Δ_t Σ_n dh_t·B_t + D·dy_t;  dD += dy_t·u_t;  dB_t = Σ_c dh_t·Δ_t·u_t;  dC_t = Σ_c dy_t·h_t
//   dh_{t−1} = dh_t ⊙ a_t;   d delta_t = dΔ_t·sigmoid(delta_t + dt_bias);  d A_log = dA·A
// Layout: as the forward (shaders/selective_scan.wgsl): u, delta (B, K, L, di), A_log (K, di, N), BC (B, K, L, S)
// with B/C at columns bOff/cOff, D, dt_bias (K, di); dy (B, K, L, di). FUSED = 1: every per-direction tensor is in
// ORIGINAL token order (as selective_scan_fused.wgsl) and dy is the merged (B, L, di) gradient, broadcast to the
// K directions (the backward of the cross-merge sum); step j of direction k reads token seqToken(k, j).
// Everything is written to one workspace `ws` (8 storage buffers in all, the WebGPU default limit):
//   [offSt ..)  per thread: nc chunk-start states (checkpoints), then T recomputed states of the current chunk
//   [offUD ..)  du (B, K, L, di), then d delta (B, K, L, di)     (same order as u)
//   [offBC ..)  per workgroup partial sums over its CH channels: (B·K, blocks, L, 2N) = [dB ; dC] per step
//   [offPar ..) per (b, k, c): [d A_log (N) ; dD ; d dt_bias]   (summed over b by the reduce kernels)
// Idea: one thread per (b, k, c), CH channels of one (b, k) per workgroup (B_t, C_t staged in workgroup memory as
// in the forward). A forward pass stores the state entering every chunk of T steps; the reverse pass walks chunks
// backwards, recomputes the chunk's T states from its checkpoint, then runs the reverse recurrence over the chunk
// with dh in registers. dB_t/dC_t are reduced over the workgroup's channels each step in workgroup memory in fixed
// order, and over the blocks of channels by the reduce kernel: deterministic, no atomics.

override CH: u32 = 32u;     // channels per workgroup (= workgroup size)
override NS: u32 = 16u;     // state size N (≤ 16)
override FUSED: u32 = 0u;
const T: u32 = 16u;         // steps per chunk
const NMAX: u32 = 16u;

struct Params {
  Bsz: u32, K: u32, L: u32, di: u32, S: u32, bOff: u32, cOff: u32, blocks: u32,
  nc: u32, offChunk: u32, offUD: u32, offBC: u32, offPar: u32, _p0: u32, _p1: u32, _p2: u32,
  geom: ScanGeom,
}

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> u: array<f32>;       // (B, K, L, di)
@group(0) @binding(2) var<storage, read> delta: array<f32>;   // (B, K, L, di), before bias and softplus
@group(0) @binding(3) var<storage, read> Alog: array<f32>;    // (K, di, N)
@group(0) @binding(4) var<storage, read> BC: array<f32>;      // (B, K, L, S)
@group(0) @binding(5) var<storage, read> Dp: array<f32>;      // (K, di)
@group(0) @binding(6) var<storage, read> dtBias: array<f32>;  // (K, di)
@group(0) @binding(7) var<storage, read> dy: array<f32>;      // (B, K, L, di), or (B, L, di) when FUSED
@group(0) @binding(8) var<storage, read_write> ws: array<f32>;

var<workgroup> sB: array<f32, T * NMAX>;          // (T, N)
var<workgroup> sC: array<f32, T * NMAX>;
var<workgroup> red: array<f32, CH * 2u * NMAX>;   // (CH, 2N): this step's [dB ; dC] per channel

// position (token order when FUSED, else scan order) of scan step j of direction k
fn posOf(k: u32, j: u32) -> u32 {
  if (FUSED == 1u) { return seqToken(p.geom, k, j); }
  return j;
}

fn stage(bk: u32, k: u32, t0: u32, steps: u32, lid: u32) {
  for (var e = lid; e < steps * NS; e += CH) {
    let row = (bk * p.L + posOf(k, t0 + e / NS)) * p.S;
    sB[e] = BC[row + p.bOff + e % NS];
    sC[e] = BC[row + p.cOff + e % NS];
  }
}

@compute @workgroup_size(CH)
fn main(@builtin(workgroup_id) wid: vec3u, @builtin(num_workgroups) nwg: vec3u, @builtin(local_invocation_index) lid: u32) {
  let g = wid.x + wid.y * nwg.x;
  if (g >= p.Bsz * p.K * p.blocks) { return; }            // uniform per workgroup
  let bk = g / p.blocks;                                    // b·K + k
  let k = bk % p.K;
  let b = bk / p.K;
  let blk = g % p.blocks;
  let c = blk * CH + lid;
  let live = c < p.di;                                      // idle threads still stage, reduce and hit barriers
  let kc = k * p.di + min(c, p.di - 1u);
  let ckBase = (bk * p.di + min(c, p.di - 1u)) * p.nc * NS;            // this thread's checkpoints
  let stBase = p.offChunk + (bk * p.di + min(c, p.di - 1u)) * T * NS;  // this thread's chunk states
  let nUD = p.Bsz * p.K * p.L * p.di;

  var A: array<f32, NMAX>;
  var h: array<f32, NMAX>;
  for (var n = 0u; n < NS; n++) { A[n] = -exp(Alog[kc * NS + n]); h[n] = 0.0; }
  let Dc = Dp[kc];
  let bias = dtBias[kc];

  // 1) forward: the state entering each chunk
  for (var ci = 0u; ci < p.nc; ci++) {
    let t0 = ci * T;
    let steps = min(T, p.L - t0);
    stage(bk, k, t0, steps, lid);
    workgroupBarrier();
    if (live) {
      for (var n = 0u; n < NS; n++) { ws[ckBase + ci * NS + n] = h[n]; }
      for (var s = 0u; s < steps; s++) {
        let i = (bk * p.L + posOf(k, t0 + s)) * p.di + c;
        let dt = softplus(delta[i] + bias);
        let du = dt * u[i];
        for (var n = 0u; n < NS; n++) { h[n] = exp(dt * A[n]) * h[n] + du * sB[s * NS + n]; }
      }
    }
    workgroupBarrier();
  }

  // 2) reverse, chunk by chunk
  var dh: array<f32, NMAX>;
  var dA: array<f32, NMAX>;
  for (var n = 0u; n < NS; n++) { dh[n] = 0.0; dA[n] = 0.0; }
  var dD = 0.0;
  var dBias = 0.0;
  for (var cj = p.nc; cj > 0u; cj--) {
    let ci = cj - 1u;
    let t0 = ci * T;
    let steps = min(T, p.L - t0);
    stage(bk, k, t0, steps, lid);
    workgroupBarrier();
    if (live) {                                             // recompute h_{t0} … h_{t0+steps−1}
      for (var n = 0u; n < NS; n++) { h[n] = ws[ckBase + ci * NS + n]; }
      for (var s = 0u; s < steps; s++) {
        let i = (bk * p.L + posOf(k, t0 + s)) * p.di + c;
        let dt = softplus(delta[i] + bias);
        let du = dt * u[i];
        for (var n = 0u; n < NS; n++) {
          h[n] = exp(dt * A[n]) * h[n] + du * sB[s * NS + n];
          ws[stBase + s * NS + n] = h[n];
        }
      }
    }
    for (var sj = steps; sj > 0u; sj--) {
      let s = sj - 1u;
      let pos = posOf(k, t0 + s);
      if (live) {
        let i = (bk * p.L + pos) * p.di + c;
        var yi = i;
        if (FUSED == 1u) { yi = (b * p.L + pos) * p.di + c; }
        let ut = u[i];
        let xd = delta[i] + bias;
        let dt = softplus(xd);
        let dyt = dy[yi];
        var dDt = 0.0;
        var dBsum = 0.0;
        for (var n = 0u; n < NS; n++) {
          var hprev: f32;
          if (s > 0u) { hprev = ws[stBase + (s - 1u) * NS + n]; } else { hprev = ws[ckBase + ci * NS + n]; }
          let a = exp(dt * A[n]);
          let Bn = sB[s * NS + n];
          dh[n] += dyt * sC[s * NS + n];
          red[lid * 2u * NS + NS + n] = dyt * ws[stBase + s * NS + n];
          let da = dh[n] * hprev * a;
          dDt += da * A[n] + dh[n] * Bn * ut;
          dA[n] += da * dt;
          red[lid * 2u * NS + n] = dh[n] * dt * ut;
          dBsum += dh[n] * Bn;
          dh[n] *= a;
        }
        ws[p.offUD + i] = dt * dBsum + Dc * dyt;
        let dd = select(dDt / (1.0 + exp(-xd)), dDt, xd > 20.0);
        ws[p.offUD + nUD + i] = dd;
        dBias += dd;
        dD += dyt * ut;
      } else {
        for (var e = 0u; e < 2u * NS; e++) { red[lid * 2u * NS + e] = 0.0; }
      }
      workgroupBarrier();
      for (var e = lid; e < 2u * NS; e += CH) {             // fixed-order sum over the CH channels
        var acc = 0.0;
        for (var q = 0u; q < CH; q++) { acc += red[q * 2u * NS + e]; }
        ws[p.offBC + ((g * p.L) + pos) * 2u * NS + e] = acc; // g = bk·blocks + blk
      }
      workgroupBarrier();
    }
  }
  if (live) {
    let base = p.offPar + (bk * p.di + c) * (NS + 2u);     // (B, K, di, N + 2)
    for (var n = 0u; n < NS; n++) { ws[base + n] = dA[n] * A[n]; }
    ws[base + NS] = dD;
    ws[base + NS + 1u] = dBias;
  }
}
