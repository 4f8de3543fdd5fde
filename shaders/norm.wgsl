// RMSNorm and LayerNorm over the last dim, with optional affine weight/bias and adaptive modulation.
// Layout: x (R, D) row-major with R = B·L rows; weight, bias (D); scale, shift: D columns starting at scaleOff /
// shiftOff of rows of width mStride, row b used by the x rows of batch b = r / L (plain (B, D) tensors, or
// slices of the packed AdaLN output (B, 3·D) = [shift ; scale ; gate]).
//   rms:   y = x / sqrt(mean(x²) + eps) · weight
//   layer: y = (x − mean) / sqrt(var + eps) · weight + bias          (biased variance, as PyTorch)
//   then, if MODULATE: y = y · (1 + scale[b]) + shift[b]            (DiT's adaLN modulate)
// Idea: one workgroup per row; each thread sums a strided slice of the row, the partial sums are combined by a
// tree reduction in workgroup memory. LayerNorm takes the mean first and then the mean of squared deviations
// (two passes over the row, which stays in cache) rather than E[x²] − E[x]², which cancels badly.

override KIND: u32 = 0u;     // 0 rms, 1 layer
override HAS_W: u32 = 0u;
override HAS_B: u32 = 0u;
override MODULATE: u32 = 0u;
override WG: u32 = 256u;     // threads per row (power of two)

struct Params { rows: u32, D: u32, L: u32, eps: f32, mStride: u32, scaleOff: u32, shiftOff: u32, _p0: u32 }

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> x: array<f32>;
@group(0) @binding(2) var<storage, read> weight: array<f32>;
@group(0) @binding(3) var<storage, read> bias: array<f32>;
@group(0) @binding(4) var<storage, read> scale: array<f32>;
@group(0) @binding(5) var<storage, read> shift: array<f32>;
@group(0) @binding(6) var<storage, read_write> y: array<f32>;

var<workgroup> red: array<f32, WG>;

// Sum of v over the workgroup, returned to every thread. Barriers on entry and exit make it reusable.
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
  if (row >= p.rows) { return; } // uniform per workgroup, so the barriers below stay uniform
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

  let mb = (row / p.L) * p.mStride;
  for (var i = lid; i < p.D; i += WG) {
    var v = (x[base + i] - mean) * inv;
    if (HAS_W == 1u) { v *= weight[i]; }
    if (HAS_B == 1u) { v += bias[i]; }
    if (MODULATE == 1u) { v = v * (1.0 + scale[mb + p.scaleOff + i]) + shift[mb + p.shiftOff + i]; }
    y[base + i] = v;
  }
}
