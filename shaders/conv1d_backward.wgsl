// Depthwise causal conv1d backward (shaders/conv1d.wgsl), plain and fused-cross-scan layouts, optional SiLU.
// Prepended at load time with shaders/cross_scan_index.wgsl.
// Forward per direction k, channel c, scan step j:  pre_j = bias + Σ_{q<W} w[q]·s_{j−(W−1)+q},  out_j = silu(pre_j)
//   g_j   = dout_j · silu'(pre_j)                      (entry dpre; pre recomputed from x, nothing saved)
//   ds_s  = Σ_q w[q]·g_{s+(W−1)−q}                      (entry dx; CROSS: summed over the K directions per token)
//   dw[q] = Σ_{b,j} g_j·s_{j−(W−1)+q},  dbias = Σ_{b,j} g_j  (entry dw; fixed order over b, j)
// Layout: channels-last. Plain (CROSS = 0): x, dx, dout, g (B, K, L, C) in scan order. CROSS = 1: x, dx (B, L, C) un-permuted
// tokens; dout, g (B, K, L, C) in ORIGINAL token order (as causalConv1dCrossScan's output); scan step j of direction k
// is token seqToken(k, j). weight, dw (K, C, W), bias, dbias (K, C); W ≤ 8.
// The TS wrapper builds one module per entry from the prelude plus its `//#entry` section. One thread per output.

override SILU: u32 = 0u;
override CROSS: u32 = 0u;
const WMAX: u32 = 8u;

struct Params { n: u32, C: u32, L: u32, W: u32, K: u32, Bsz: u32, _p0: u32, _p1: u32, geom: ScanGeom }

@group(0) @binding(0) var<uniform> p: Params;

fn linearId(wid: vec3u, nwg: vec3u, lid: u32) -> u32 { return (wid.x + wid.y * nwg.x) * 256u + lid; }

// position in memory (sequence index) of scan step j of direction k
fn posOf(k: u32, j: u32) -> u32 {
  if (CROSS == 1u) { return seqToken(p.geom, k, j); }
  return j;
}
// element index of direction k's input at scan step j
fn xIdx(b: u32, k: u32, j: u32, c: u32) -> u32 {
  if (CROSS == 1u) { return (b * p.L + seqToken(p.geom, k, j)) * p.C + c; }
  return ((b * p.K + k) * p.L + j) * p.C + c;
}
// element index of the (B, K, L, C) output-side tensors at scan step j
fn gIdx(b: u32, k: u32, j: u32, c: u32) -> u32 { return ((b * p.K + k) * p.L + posOf(k, j)) * p.C + c; }

//#entry dpre
@group(0) @binding(1) var<storage, read> x: array<f32>;
@group(0) @binding(2) var<storage, read> w: array<f32>;     // (K, C, W)
@group(0) @binding(3) var<storage, read> bias: array<f32>;  // (K, C)
@group(0) @binding(4) var<storage, read> dout: array<f32>;  // (B, K, L, C)
@group(0) @binding(5) var<storage, read_write> g: array<f32>;

@compute @workgroup_size(256)
fn main(@builtin(workgroup_id) wid: vec3u, @builtin(num_workgroups) nwg: vec3u, @builtin(local_invocation_index) lid: u32) {
  let i = linearId(wid, nwg, lid);                      // over (B, K, L, C), output layout
  if (i >= p.n) { return; }
  let c = i % p.C;
  let t = (i / p.C) % p.L;
  let bk = i / (p.C * p.L);
  let k = bk % p.K;
  let b = bk / p.K;
  if (SILU == 0u) { g[i] = dout[i]; return; }
  var j = t;
  if (CROSS == 1u) { j = seqPos(p.geom, k, t); }
  let wc = (k * p.C + c) * p.W;
  var pre = bias[k * p.C + c];
  for (var q = 0u; q < p.W; q++) {
    let s = i32(j) - i32(p.W - 1u) + i32(q);
    if (s >= 0) { pre += w[wc + q] * x[xIdx(b, k, u32(s), c)]; }
  }
  let sg = 1.0 / (1.0 + exp(-pre));
  g[i] = dout[i] * sg * (1.0 + pre * (1.0 - sg));
}

//#entry dx
@group(0) @binding(1) var<storage, read> g: array<f32>;     // (B, K, L, C)
@group(0) @binding(2) var<storage, read> w: array<f32>;     // (K, C, W)
@group(0) @binding(3) var<storage, read_write> dx: array<f32>;

fn tapSum(b: u32, k: u32, s: u32, c: u32) -> f32 {       // Σ_q w[q]·g_{s+(W−1)−q}
  let wc = (k * p.C + c) * p.W;
  var acc = 0.0;
  for (var q = 0u; q < p.W; q++) {
    let j = s + p.W - 1u - q;
    if (j < p.L) { acc += w[wc + q] * g[gIdx(b, k, j, c)]; }
  }
  return acc;
}

@compute @workgroup_size(256)
fn main(@builtin(workgroup_id) wid: vec3u, @builtin(num_workgroups) nwg: vec3u, @builtin(local_invocation_index) lid: u32) {
  let i = linearId(wid, nwg, lid);                      // over x: (B, K, L, C) or (B, L, C) when CROSS
  if (i >= p.n) { return; }
  let c = i % p.C;
  let t = (i / p.C) % p.L;
  if (CROSS == 1u) {
    let b = i / (p.C * p.L);
    var acc = 0.0;
    for (var k = 0u; k < p.K; k++) { acc += tapSum(b, k, seqPos(p.geom, k, t), c); }
    dx[i] = acc;
  } else {
    let bk = i / (p.C * p.L);
    dx[i] = tapSum(bk / p.K, bk % p.K, t, c);
  }
}

//#entry dw
@group(0) @binding(1) var<storage, read> x: array<f32>;
@group(0) @binding(2) var<storage, read> g: array<f32>;     // (B, K, L, C)
@group(0) @binding(3) var<storage, read_write> dw: array<f32>;    // (K, C, W)
@group(0) @binding(4) var<storage, read_write> dbias: array<f32>; // (K, C)

@compute @workgroup_size(256)
fn main(@builtin(workgroup_id) wid: vec3u, @builtin(num_workgroups) nwg: vec3u, @builtin(local_invocation_index) lid: u32) {
  let i = linearId(wid, nwg, lid);                      // over (K, C)
  if (i >= p.K * p.C) { return; }
  let c = i % p.C;
  let k = i / p.C;
  var acc: array<f32, WMAX>;
  for (var q = 0u; q < WMAX; q++) { acc[q] = 0.0; }
  var db = 0.0;
  for (var b = 0u; b < p.Bsz; b++) {
    for (var j = 0u; j < p.L; j++) {
      let gj = g[gIdx(b, k, j, c)];
      db += gj;
      for (var q = 0u; q < p.W; q++) {
        let s = i32(j) - i32(p.W - 1u) + i32(q);
        if (s >= 0) { acc[q] += gj * x[xIdx(b, k, u32(s), c)]; }
      }
    }
  }
  for (var q = 0u; q < p.W; q++) { dw[i * p.W + q] = acc[q]; }
  dbias[i] = db;
}
