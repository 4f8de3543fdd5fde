// Depthwise causal conv1d (Mamba's short conv, training/mmamba/mmamba.py `mix`), optional fused SiLU.
// Prepended at load time with shaders/cross_scan_index.wgsl.
//   out_t = bias + Σ_{i<W} w[i] · s_{t-(W-1)+i}   (s_{<0} = 0), then SiLU if SILU != 0.
// Layout: channels-last sequences, weight (K, C, W), bias (K, C): direction k has its own taps.
//   entry `main`:  x (B, K, L, C) sequences already in scan order → out (B, K, L, C), same order.
//   entry `cross`: x (B, L, C) un-permuted tokens → out (B, K, L, C) in ORIGINAL token order: out[b,k,t] is the
//                  conv of direction k's scan sequence at scan position seqPos(k, t), its taps read through
//                  seqToken (fused cross-scan gather: no permuted copy of x is ever written).
// One thread per output element; consecutive threads = consecutive channels (coalesced).

override SILU: u32 = 0u;

struct Params { n: u32, C: u32, L: u32, W: u32, K: u32, _p0: u32, _p1: u32, _p2: u32, geom: ScanGeom }

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> x: array<f32>;
@group(0) @binding(2) var<storage, read> w: array<f32>;     // (K, C, W)
@group(0) @binding(3) var<storage, read> bias: array<f32>;  // (K, C)
@group(0) @binding(4) var<storage, read_write> out: array<f32>;

fn finish(v: f32) -> f32 {
  if (SILU != 0u) { return v / (1.0 + exp(-v)); }
  return v;
}

@compute @workgroup_size(256)
fn main(@builtin(workgroup_id) wid: vec3u, @builtin(num_workgroups) nwg: vec3u, @builtin(local_invocation_index) lid: u32) {
  let i = (wid.x + wid.y * nwg.x) * 256u + lid;        // over (B, K, L, C)
  if (i >= p.n) { return; }
  let c = i % p.C;
  let t = (i / p.C) % p.L;
  let bk = i / (p.C * p.L);
  let k = bk % p.K;
  let wc = (k * p.C + c) * p.W;
  var acc = bias[k * p.C + c];
  for (var q = 0u; q < p.W; q++) {
    let s = i32(t) - i32(p.W - 1u) + i32(q);          // source step
    if (s >= 0) { acc += w[wc + q] * x[(bk * p.L + u32(s)) * p.C + c]; }
  }
  out[i] = finish(acc);
}

@compute @workgroup_size(256)
fn cross(@builtin(workgroup_id) wid: vec3u, @builtin(num_workgroups) nwg: vec3u, @builtin(local_invocation_index) lid: u32) {
  let i = (wid.x + wid.y * nwg.x) * 256u + lid;        // over (B, K, L, C), t in original order
  if (i >= p.n) { return; }
  let c = i % p.C;
  let t = (i / p.C) % p.L;
  let bk = i / (p.C * p.L);
  let k = bk % p.K;
  let b = bk / p.K;
  let j = seqPos(p.geom, k, t);                          // scan position of token t in direction k
  let wc = (k * p.C + c) * p.W;
  var acc = bias[k * p.C + c];
  for (var q = 0u; q < p.W; q++) {
    let s = i32(j) - i32(p.W - 1u) + i32(q);
    if (s >= 0) { acc += w[wc + q] * x[(b * p.L + seqToken(p.geom, k, u32(s))) * p.C + c]; }
  }
  out[i] = finish(acc);
}
