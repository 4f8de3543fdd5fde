// GroupNorm over NCHW (torch.nn.GroupNorm, affine, biased variance), optional fused SiLU, in two dispatches:
//   entry `stats`: one workgroup per (b, group); the group's C/G channels × HW values are contiguous in NCHW.
//                  Two passes over them (mean, then Σ(x − mean)², numerically safer than E[x²] − mean²),
//                  tree reductions in workgroup memory → stats (B·G, 2) = (mean, 1/sqrt(var + eps)).
//   entry `stats_one_pass`: the same statistics in one pass: Σ d and Σ d² of d = x − K, K the group's first value
//                  (shifted, so that Σ d²/n − (Σ d/n)² does not cancel for groups whose mean is far from 0), four
//                  loads in flight per thread (independent accumulators); the VQ decoder's (fusions.ts vqStats1Pass).
//   entry `apply`: one thread per element: (x − mean)·rstd·weight[c] + bias[c], then SiLU if SILU.
// Splitting keeps the elementwise part fully parallel even when B·G is small (8 groups at 128 × 128).

override SILU: u32 = 0u;
const WG: u32 = 256u;

struct Params { n: u32, C: u32, HW: u32, G: u32, eps: f32, _p0: u32, _p1: u32, _p2: u32 }

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> x: array<f32>;          // (B, C, H, W)
@group(0) @binding(2) var<storage, read_write> stats: array<f32>; // (B·G, 2); `stats_main` binds only 0..2
@group(0) @binding(3) var<storage, read> gamma: array<f32>;      // (C)
@group(0) @binding(4) var<storage, read> beta: array<f32>;       // (C)
@group(0) @binding(5) var<storage, read_write> out: array<f32>;  // (B, C, H, W)

var<workgroup> red: array<f32, WG>;

fn reduce(v: f32, lid: u32) -> f32 {
  red[lid] = v;
  workgroupBarrier();
  for (var s = WG / 2u; s > 0u; s >>= 1u) {
    if (lid < s) { red[lid] += red[lid + s]; }
    workgroupBarrier();
  }
  let r = red[0];
  workgroupBarrier();                                     // red is reused by the next reduction
  return r;
}

@compute @workgroup_size(WG)
fn stats_main(@builtin(workgroup_id) wid: vec3u, @builtin(local_invocation_index) lid: u32) {
  let bg = wid.x;                                         // b * G + g
  let len = (p.C / p.G) * p.HW;
  let base = bg * len;                                    // (b·C + g·C/G)·HW
  var s = 0.0;
  for (var i = lid; i < len; i += WG) { s += x[base + i]; }
  let mean = reduce(s, lid) / f32(len);
  var q = 0.0;
  for (var i = lid; i < len; i += WG) { let d = x[base + i] - mean; q += d * d; }
  let v = reduce(q, lid) / f32(len);
  if (lid == 0u) {
    stats[2u * bg] = mean;
    stats[2u * bg + 1u] = inverseSqrt(v + p.eps);
  }
}

@compute @workgroup_size(WG)
fn stats_one_pass(@builtin(workgroup_id) wid: vec3u, @builtin(local_invocation_index) lid: u32) {
  let bg = wid.x;                                         // b * G + g
  let len = (p.C / p.G) * p.HW;
  let base = bg * len;
  let K = x[base];
  var s0 = 0.0; var s1 = 0.0; var s2 = 0.0; var s3 = 0.0;
  var q0 = 0.0; var q1 = 0.0; var q2 = 0.0; var q3 = 0.0;
  var i = lid;
  for (; i + 3u * WG < len; i += 4u * WG) {
    let d0 = x[base + i] - K;
    let d1 = x[base + i + WG] - K;
    let d2 = x[base + i + 2u * WG] - K;
    let d3 = x[base + i + 3u * WG] - K;
    s0 += d0; s1 += d1; s2 += d2; s3 += d3;
    q0 += d0 * d0; q1 += d1 * d1; q2 += d2 * d2; q3 += d3 * d3;
  }
  for (; i < len; i += WG) { let d = x[base + i] - K; s0 += d; q0 += d * d; }
  let n = f32(len);
  let m = reduce((s0 + s1) + (s2 + s3), lid) / n;         // mean − K
  let v = max(reduce((q0 + q1) + (q2 + q3), lid) / n - m * m, 0.0);
  if (lid == 0u) {
    stats[2u * bg] = K + m;
    stats[2u * bg + 1u] = inverseSqrt(v + p.eps);
  }
}

@compute @workgroup_size(WG)
fn apply(@builtin(workgroup_id) wid: vec3u, @builtin(num_workgroups) nwg: vec3u, @builtin(local_invocation_index) lid: u32) {
  let i = (wid.x + wid.y * nwg.x) * WG + lid;
  if (i >= p.n) { return; }
  let bc = i / p.HW;                                      // b * C + c
  let c = bc % p.C;
  let bg = (bc / p.C) * p.G + c / (p.C / p.G);
  var yv = (x[i] - stats[2u * bg]) * stats[2u * bg + 1u] * gamma[c] + beta[c];
  if (SILU != 0u) { yv = yv / (1.0 + exp(-yv)); }
  out[i] = yv;
}
