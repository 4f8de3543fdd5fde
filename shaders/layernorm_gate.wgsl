// The mixer's output gate in one pass: yn = LayerNorm(y)·weight + bias, sz = SiLU(z), g = yn · sz, over the last dim.
// Layout: y, z, yn, sz, g (R, D) row-major; weight, bias (D). Replaces layerNorm → silu → mul (three dispatches)
// with the same f32 arithmetic in the same order: the LayerNorm is norm.wgsl's (KIND 1, same workgroup size and
// tree reduction: mean, then mean of squared deviations), SiLU is elementwise.wgsl's z / (1 + exp(−z)).
// yn and sz are written too: the fine-tuning backward reads them (src/finetune/mmamba_layer_backward.ts).
// Idea: one workgroup per row, as norm.wgsl.

override WG: u32 = 256u;     // threads per row (power of two)

struct Params { rows: u32, D: u32, eps: f32, _p0: u32 }

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> y: array<f32>;
@group(0) @binding(2) var<storage, read> z: array<f32>;
@group(0) @binding(3) var<storage, read> weight: array<f32>;
@group(0) @binding(4) var<storage, read> bias: array<f32>;
@group(0) @binding(5) var<storage, read_write> yn: array<f32>;
@group(0) @binding(6) var<storage, read_write> sz: array<f32>;
@group(0) @binding(7) var<storage, read_write> g: array<f32>;

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

  var s = 0.0;
  for (var i = lid; i < p.D; i += WG) { s += y[base + i]; }
  let mean = wgSum(s, lid) / fd;
  var q = 0.0;
  for (var i = lid; i < p.D; i += WG) { let d = y[base + i] - mean; q += d * d; }
  let inv = inverseSqrt(wgSum(q, lid) / fd + p.eps);

  for (var i = lid; i < p.D; i += WG) {
    var v = (y[base + i] - mean) * inv;
    v *= weight[i];
    v += bias[i];
    let zi = z[base + i];
    let si = zi / (1.0 + exp(-zi));
    yn[base + i] = v;
    sz[base + i] = si;
    g[base + i] = v * si;
  }
}
