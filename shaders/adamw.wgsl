// AdamW (Loshchilov & Hutter 2019, "Decoupled Weight Decay Regularization"; PyTorch torch.optim.AdamW) with global
// gradient-norm clipping (torch.nn.utils.clip_grad_norm_), plus the fixed-order sum-of-squares reductions it needs.
//   coef = min(1, maxNorm / (sqrt(stats[normSlot]) + 1e-6))   (maxNorm = 0: no clipping)
//   g' = coef · g;  m' = β1·m + (1−β1)·g';  v' = β2·v + (1−β2)·g'²
//   p' = p·(1 − lr·wd) − lr · (m'/bc1) / (sqrt(v'/bc2) + eps)      bc1 = 1 − β1^t, bc2 = 1 − β2^t
// The step writes NEW buffers (pOut, mOut, vOut) and never its inputs: the caller keeps the old state and commits
// the new one only when the loss, the gradient norm and the updated parameters are all finite (the NaN guard).
// The clip coefficient is read from the stats buffer on the GPU so that a step needs no readback before the update.
// Entries (the TS wrapper builds one module per `//#entry` section plus this prelude):
//   step   one thread per element
//   sumsq  one workgroup: out[slot] = Σ x_i² (each thread a strided partial, then a tree: deterministic)
//   total  one thread: out[slot] = Σ_{i < count} partials[i] in order

//#entry step
struct Params {
  n: u32, normSlot: u32, _p0: u32, _p1: u32,
  lr: f32, beta1: f32, beta2: f32, eps: f32,
  wd: f32, bc1: f32, bc2: f32, maxNorm: f32,
}
@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> param: array<f32>;
@group(0) @binding(2) var<storage, read> grad: array<f32>;
@group(0) @binding(3) var<storage, read> m: array<f32>;
@group(0) @binding(4) var<storage, read> v: array<f32>;
@group(0) @binding(5) var<storage, read> stats: array<f32>;
@group(0) @binding(6) var<storage, read_write> pOut: array<f32>;
@group(0) @binding(7) var<storage, read_write> mOut: array<f32>;
@group(0) @binding(8) var<storage, read_write> vOut: array<f32>;

@compute @workgroup_size(256)
fn main(@builtin(workgroup_id) wid: vec3u, @builtin(num_workgroups) nwg: vec3u, @builtin(local_invocation_index) lid: u32) {
  let i = (wid.x + wid.y * nwg.x) * 256u + lid;
  if (i >= p.n) { return; }
  var coef = 1.0;
  if (p.maxNorm > 0.0) {
    let norm = sqrt(stats[p.normSlot]);
    coef = min(1.0, p.maxNorm / (norm + 1e-6));
  }
  let g = grad[i] * coef;
  let m1 = p.beta1 * m[i] + (1.0 - p.beta1) * g;
  let v1 = p.beta2 * v[i] + (1.0 - p.beta2) * g * g;
  let decayed = param[i] * (1.0 - p.lr * p.wd);
  pOut[i] = decayed - p.lr * (m1 / p.bc1) / (sqrt(v1 / p.bc2) + p.eps);
  mOut[i] = m1;
  vOut[i] = v1;
}

//#entry sumsq
struct Params { n: u32, slot: u32, _p0: u32, _p1: u32 }
@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> x: array<f32>;
@group(0) @binding(2) var<storage, read_write> out: array<f32>;
var<workgroup> red: array<f32, 256>;

@compute @workgroup_size(256)
fn main(@builtin(local_invocation_index) lid: u32) {
  var acc = 0.0;
  for (var i = lid; i < p.n; i += 256u) { let a = x[i]; acc += a * a; }
  red[lid] = acc;
  workgroupBarrier();
  for (var s = 128u; s > 0u; s >>= 1u) {
    if (lid < s) { red[lid] += red[lid + s]; }
    workgroupBarrier();
  }
  if (lid == 0u) { out[p.slot] = red[0]; }
}

//#entry total
struct Params { count: u32, slot: u32, _p0: u32, _p1: u32 }
@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> partials: array<f32>;
@group(0) @binding(2) var<storage, read_write> out: array<f32>;

@compute @workgroup_size(1)
fn main() {
  var acc = 0.0;
  for (var i = 0u; i < p.count; i++) { acc += partials[i]; }
  out[p.slot] = acc;
}
