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
// B_t/C_t of the T next scan steps of each direction are staged in workgroup memory (K·T·N·2 floats ≤ 8 KiB).

override KD: u32 = 4u;      // directions (1, 2, 4)
override CB: u32 = 16u;     // channels per workgroup; workgroup size = KD * CB
override WGS: u32 = 64u;    // = KD * CB (set by the host)
override NS: u32 = 16u;     // state size N (≤ 16)
const T: u32 = 16u;
const NMAX: u32 = 16u;
const KMAX: u32 = 4u;

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

@compute @workgroup_size(WGS)
fn main(@builtin(workgroup_id) wid: vec3u, @builtin(num_workgroups) nwg: vec3u, @builtin(local_invocation_index) lid: u32) {
  let g = wid.x + wid.y * nwg.x;
  if (g >= p.Bsz * p.blocks) { return; }                 // uniform per workgroup
  let b = g / p.blocks;
  let c0 = (g % p.blocks) * CB;
  let k = lid / CB;
  let c = c0 + lid % CB;
  let live = c < p.di;
  let kc = k * p.di + min(c, p.di - 1u);
  let bk = b * KD + k;

  var A: array<f32, NMAX>;
  var h: array<f32, NMAX>;
  for (var n = 0u; n < NS; n++) { A[n] = -exp(Alog[kc * NS + n]); h[n] = 0.0; }
  let Dc = Dp[kc];
  let bias = dtBias[kc];

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
    workgroupBarrier();
    if (live) {
      for (var s = 0u; s < steps; s++) {
        let i = (bk * p.L + seqToken(p.geom, k, j0 + s)) * p.di + c;
        let ut = u[i];
        let dt = softplus(delta[i] + bias);
        let du = dt * ut;
        var acc = 0.0;
        let o = (k * T + s) * NS;
        for (var n = 0u; n < NS; n++) {
          h[n] = exp(dt * A[n]) * h[n] + du * sB[o + n];
          acc += h[n] * sC[o + n];
        }
        yk[i] = acc + Dc * ut;
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
