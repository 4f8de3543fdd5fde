// RMSNorm / LayerNorm backward with optional affine weight/bias and adaptive modulation (shaders/norm.wgsl):
//   x̂ = (x − mean)·inv  (rms: mean = 0),  inv = 1/sqrt(mean((x − mean)²) + eps)
//   v = x̂·w + b,  y = v·(1 + scale[b]) + shift[b]
// Gradients, with g = dy·(1 + scale)·w = dL/dx̂:
//   dx = inv·(g − mean(g) − x̂·mean(g·x̂))     (rms: without the mean(g) term)
//   d shift[b] = Σ_l dy,  d scale[b] = Σ_l dy·v          (reduced over the L rows of batch row b)
//   d weight = Σ_rows dy·(1 + scale)·x̂,  d bias = Σ_rows dy·(1 + scale)
// Layout: x, dy, dx (R, D), R = B·L; weight, bias (D); scale: D columns at scaleOff of rows of width mStride (as the
// forward); stats (R, 2) = (mean, inv) written by `dx` and read by the reductions; d shift / d scale go to D columns at
// gShiftOff / gScaleOff of a (B, gStride) gradient tensor (e.g. the packed AdaLN gradient (B, 3D)).
// The TS wrapper builds one module per entry from the prelude plus that entry's `//#entry` section, so each module
// binds exactly its buffers (0..n−1).
// Idea: `dx` is one workgroup per row with tree reductions in workgroup memory (as the forward); the parameter
// reductions are one thread per output column looping over rows in fixed order: deterministic, no atomics.

override KIND: u32 = 0u;     // 0 rms, 1 layer
override HAS_W: u32 = 0u;
override HAS_B: u32 = 0u;
override MODULATE: u32 = 0u;
override WG: u32 = 256u;

struct Params {
  rows: u32, D: u32, L: u32, eps: f32, mStride: u32, scaleOff: u32, Bsz: u32, gStride: u32,
  gShiftOff: u32, gScaleOff: u32, _p0: u32, _p1: u32,
}

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> x: array<f32>;
@group(0) @binding(2) var<storage, read> dy: array<f32>;

//#entry dx
@group(0) @binding(3) var<storage, read> weight: array<f32>;
@group(0) @binding(4) var<storage, read> scale: array<f32>;
@group(0) @binding(5) var<storage, read_write> dx: array<f32>;
@group(0) @binding(6) var<storage, read_write> stats: array<f32>;

var<workgroup> red: array<f32, WG>;

fn wgSum(v: f32, lid: u32) -> f32 {
  workgroupBarrier();
  red[lid] = v;
  workgroupBarrier();
  for (var s = WG / 2u; s > 0u; s >>= 1u) {
    if (lid < s) { red[lid] += red[lid + s]; }
    workgroupBarrier();
  }
  let total = red[0];
  workgroupBarrier();
  return total;
}

@compute @workgroup_size(WG)
fn main(@builtin(workgroup_id) wid: vec3u, @builtin(num_workgroups) nwg: vec3u, @builtin(local_invocation_index) lid: u32) {
  let row = wid.x + wid.y * nwg.x;
  if (row >= p.rows) { return; }
  let base = row * p.D;
  let fd = f32(p.D);
  var mean = 0.0;
  if (KIND == 1u) {
    var s = 0.0;
    for (var i = lid; i < p.D; i += WG) { s += x[base + i]; }
    mean = wgSum(s, lid) / fd;
  }
  var q = 0.0;
  for (var i = lid; i < p.D; i += WG) { let d = x[base + i] - mean; q += d * d; }
  let inv = inverseSqrt(wgSum(q, lid) / fd + p.eps);
  let mb = (row / p.L) * p.mStride + p.scaleOff;
  var s1 = 0.0;
  var s2 = 0.0;
  for (var i = lid; i < p.D; i += WG) {
    var g = dy[base + i];
    if (MODULATE == 1u) { g *= 1.0 + scale[mb + i]; }
    if (HAS_W == 1u) { g *= weight[i]; }
    s1 += g;
    s2 += g * (x[base + i] - mean) * inv;
  }
  let m1 = select(0.0, wgSum(s1, lid) / fd, KIND == 1u);
  let m2 = wgSum(s2, lid) / fd;
  for (var i = lid; i < p.D; i += WG) {
    var g = dy[base + i];
    if (MODULATE == 1u) { g *= 1.0 + scale[mb + i]; }
    if (HAS_W == 1u) { g *= weight[i]; }
    dx[base + i] = inv * (g - m1 - (x[base + i] - mean) * inv * m2);
  }
  if (lid == 0u) { stats[row * 2u] = mean; stats[row * 2u + 1u] = inv; }
}

//#entry dmod
@group(0) @binding(3) var<storage, read> stats: array<f32>;
@group(0) @binding(4) var<storage, read> weight: array<f32>;
@group(0) @binding(5) var<storage, read> bias: array<f32>;
@group(0) @binding(6) var<storage, read_write> dmod: array<f32>;   // (B, gStride)

@compute @workgroup_size(256)
fn main(@builtin(workgroup_id) wid: vec3u, @builtin(num_workgroups) nwg: vec3u, @builtin(local_invocation_index) lid: u32) {
  let idx = (wid.x + wid.y * nwg.x) * 256u + lid;      // over (B, D)
  if (idx >= p.Bsz * p.D) { return; }
  let b = idx / p.D;
  let i = idx % p.D;
  var wv = 1.0;
  var bv = 0.0;
  if (HAS_W == 1u) { wv = weight[i]; }
  if (HAS_B == 1u) { bv = bias[i]; }
  var dShift = 0.0;
  var dScale = 0.0;
  for (var l = 0u; l < p.L; l++) {
    let r = b * p.L + l;
    let g = dy[r * p.D + i];
    dShift += g;
    dScale += g * ((x[r * p.D + i] - stats[r * 2u]) * stats[r * 2u + 1u] * wv + bv);
  }
  dmod[b * p.gStride + p.gShiftOff + i] = dShift;
  dmod[b * p.gStride + p.gScaleOff + i] = dScale;
}

//#entry daffine
@group(0) @binding(3) var<storage, read> stats: array<f32>;
@group(0) @binding(4) var<storage, read> scale: array<f32>;
@group(0) @binding(5) var<storage, read_write> dweight: array<f32>; // (D)
@group(0) @binding(6) var<storage, read_write> dbias: array<f32>;   // (D), written when HAS_B

@compute @workgroup_size(256)
fn main(@builtin(workgroup_id) wid: vec3u, @builtin(num_workgroups) nwg: vec3u, @builtin(local_invocation_index) lid: u32) {
  let i = (wid.x + wid.y * nwg.x) * 256u + lid;        // over D
  if (i >= p.D) { return; }
  var dw = 0.0;
  var db = 0.0;
  for (var r = 0u; r < p.rows; r++) {
    var g = dy[r * p.D + i];
    if (MODULATE == 1u) { g *= 1.0 + scale[(r / p.L) * p.mStride + p.scaleOff + i]; }
    dw += g * (x[r * p.D + i] - stats[r * 2u]) * stats[r * 2u + 1u];
    db += g;
  }
  dweight[i] = dw;
  if (HAS_B == 1u) { dbias[i] = db; }
}
