// Fused cross-scan + selective scan + cross-merge, WIDE variant: parallel over the state dimension too.
// Same inputs, outputs and semantics as shaders/selective_scan_fused.wgsl (original token order in, Σ_k merged
// (B, L, di) out, deterministic); the host prepends shaders/cross_scan_index.wgsl and a `laneSum` prelude.
//
// Idea: the fused kernel runs one thread per (b, k, channel) holding all N states, serial over L: at B=2 that
// is only B·K·di threads, so the GPU is latency-bound. Here one invocation per (b, k, channel, n): 16 lanes per
// channel (aligned groups of 16 local ids; lanes n ≥ NS hold a zero state), each owning ONE state h[n]:
//   h_t[n] = exp(Δ_t·A[n])·h_{t-1}[n] + Δ_t·u_t·B_t[n];  y_t = Σ_n C_t[n]·h_t[n] + D·u_t.
// The Σ_n is a reduction over the 16 lanes of a channel:
//   - with subgroups (RW = reduction width ≥ 2, a power of two ≤ the device's minimum subgroup size, ≤ 16):
//     a butterfly of subgroupShuffleXor within aligned groups of RW lanes, then 16/RW partials per
//     (step, channel) go to workgroup memory (RW = 16 on NVIDIA's 32-wide subgroups: one value);
//   - without (RW = 1): every lane's product goes to workgroup memory.
// Partials of TS steps are summed after a barrier by one thread per (k, step, channel), which adds D·u_t and
// writes y_k in token order to the `yk` scratch; a storage barrier, then the workgroup sums k = 0..K-1 in
// fixed order → out (as the fused kernel: no atomics, one dispatch).
// Staging per block of T steps (amortises global loads and the seqToken arithmetic): B_t, C_t per direction
// (shared by the CW channels of the workgroup; zero-padded to 16 lanes) and Δ_t = softplus(delta + bias),
// u_t per (direction, channel). Workgroup memory: 2·K·T·16 + 2·K·T·CW + 1024 floats ≤ 14 KiB (K·CW ≤ 16).
// Workgroup = KD directions × CW channels × 16 lanes ≤ 256 invocations; 8 storage buffers, as the fused kernel.

override KD: u32 = 4u;      // directions (1, 2, 4)
override CW: u32 = 4u;      // channels per workgroup; KD * CW ≤ 16
override WGS: u32 = 256u;   // = KD * CW * 16 (set by the host)
override NS: u32 = 16u;     // state size N (≤ 16)
override RW: u32 = 1u;      // lanes summed in registers (1: none; 2..16 via subgroups, host-checked)
override PP: u32 = 16u;     // partials per (step, channel) = 16 / RW (set by the host)
override TS: u32 = 4u;      // steps per reduction sub-block = min(T, 64 / PP) (set by the host)
const T: u32 = 16u;
const NL: u32 = 16u;        // lanes per channel
const KMAX: u32 = 4u;
const CKMAX: u32 = 16u;     // max KD * CW

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

var<workgroup> sB: array<f32, KMAX * T * NL>;     // (K, T, 16), zero for n ≥ NS
var<workgroup> sC: array<f32, KMAX * T * NL>;
var<workgroup> sDt: array<f32, CKMAX * T>;        // (K, T, CW) softplus(delta + bias)
var<workgroup> sU: array<f32, CKMAX * T>;         // (K, T, CW)
var<workgroup> sP: array<f32, 1024>;              // (TS, K, CW, PP) lane partials; TS·K·CW·PP ≤ 64·16

@compute @workgroup_size(WGS)
fn main(@builtin(workgroup_id) wid: vec3u, @builtin(num_workgroups) nwg: vec3u, @builtin(local_invocation_index) lid: u32) {
  let g = wid.x + wid.y * nwg.x;
  if (g >= p.Bsz * p.blocks) { return; }                 // uniform per workgroup
  let b = g / p.blocks;
  let c0 = (g % p.blocks) * CW;
  let n = lid % NL;
  let kcl = lid / NL;                                    // k * CW + cl
  let k = kcl / CW;
  let cl = kcl % CW;
  let c = min(c0 + cl, p.di - 1u);                       // dead channels compute a clamped copy, never stored
  let An = select(0.0, -exp(Alog[(k * p.di + c) * NS + min(n, NS - 1u)]), n < NS);
  var h = 0.0;

  for (var j0 = 0u; j0 < p.L; j0 += T) {
    let steps = min(T, p.L - j0);
    for (var e = lid; e < KD * steps * NL; e += WGS) {     // e = (kk, s, n)
      let nn = e % NL;
      let s = (e / NL) % steps;
      let kk = e / (NL * steps);
      let o = (kk * T + s) * NL + nn;
      if (nn < NS) {
        let row = ((b * KD + kk) * p.L + seqToken(p.geom, kk, j0 + s)) * p.S;
        sB[o] = BC[row + p.bOff + nn];
        sC[o] = BC[row + p.cOff + nn];
      } else {
        sB[o] = 0.0;
        sC[o] = 0.0;
      }
    }
    for (var e = lid; e < KD * steps * CW; e += WGS) {     // e = (kk, s, cl)
      let ce = e % CW;
      let s = (e / CW) % steps;
      let kk = e / (CW * steps);
      let cc = min(c0 + ce, p.di - 1u);
      let i = ((b * KD + kk) * p.L + seqToken(p.geom, kk, j0 + s)) * p.di + cc;
      let o = (kk * T + s) * CW + ce;
      sU[o] = u[i];
      sDt[o] = softplus(delta[i] + dtBias[kk * p.di + cc]);
    }
    workgroupBarrier();
    for (var s0 = 0u; s0 < steps; s0 += TS) {
      let ns = min(TS, steps - s0);
      for (var s = s0; s < s0 + ns; s++) {
        let o = (k * T + s) * CW + cl;
        let dt = sDt[o];
        let ob = (k * T + s) * NL + n;
        h = exp(dt * An) * h + dt * sU[o] * sB[ob];
        let v = laneSum(h * sC[ob]);                        // every lane calls it (subgroup-uniform)
        if (n % RW == 0u) { sP[(((s - s0) * KD * CW) + kcl) * PP + n / RW] = v; }
      }
      workgroupBarrier();
      for (var e = lid; e < ns * KD * CW; e += WGS) {      // e = (s, kk, cl): cl fastest
        let ce = e % CW;
        let kk = (e / CW) % KD;
        let s = e / (CW * KD);
        let cc = c0 + ce;
        if (cc < p.di) {
          var acc = 0.0;
          for (var q = 0u; q < PP; q++) { acc += sP[(s * KD * CW + kk * CW + ce) * PP + q]; }
          let t = seqToken(p.geom, kk, j0 + s0 + s);
          yk[((b * KD + kk) * p.L + t) * p.di + cc] = acc + Dp[kk * p.di + cc] * sU[(kk * T + s0 + s) * CW + ce];
        }
      }
      workgroupBarrier();
    }
  }

  storageBarrier();                                        // every direction's yk of this block is written
  for (var e = lid; e < p.L * CW; e += WGS) {
    let cc = c0 + e % CW;
    if (cc < p.di) {
      let t = e / CW;
      var acc = 0.0;
      for (var kk = 0u; kk < KD; kk++) { acc += yk[((b * KD + kk) * p.L + t) * p.di + cc]; }
      out[(b * p.L + t) * p.di + cc] = acc;
    }
  }
}
