// Softmax and log-softmax over the last dim. Layout: x (R, N) row-major → y (R, N).
//   softmax:     y = exp(x − max) / Σ exp(x − max)
//   logSoftmax:  y = x − max − log Σ exp(x − max)
// Idea: one workgroup per row. Max-subtraction keeps exp() in range; the max and the sum are each a strided
// per-thread partial followed by a tree reduction in workgroup memory. Any row width works (threads loop).

override LOG: u32 = 0u;
override WG: u32 = 256u; // power of two

struct Params { rows: u32, N: u32, _p0: u32, _p1: u32 }

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> x: array<f32>;
@group(0) @binding(2) var<storage, read_write> y: array<f32>;

var<workgroup> red: array<f32, WG>;

fn wgReduce(v: f32, lid: u32, isMax: bool) -> f32 {
  workgroupBarrier();
  red[lid] = v;
  workgroupBarrier();
  for (var s = WG / 2u; s > 0u; s >>= 1u) {
    if (lid < s) { red[lid] = select(red[lid] + red[lid + s], max(red[lid], red[lid + s]), isMax); }
    workgroupBarrier();
  }
  let r = red[0];
  workgroupBarrier();
  return r;
}

@compute @workgroup_size(WG)
fn main(@builtin(workgroup_id) wid: vec3u, @builtin(num_workgroups) nwg: vec3u, @builtin(local_invocation_index) lid: u32) {
  let row = wid.x + wid.y * nwg.x;
  if (row >= p.rows) { return; }
  let base = row * p.N;
  var m = -3.402823e38; // ≈ -f32 max; rows are never empty
  for (var i = lid; i < p.N; i += WG) { m = max(m, x[base + i]); }
  m = wgReduce(m, lid, true);
  var s = 0.0;
  for (var i = lid; i < p.N; i += WG) { s += exp(x[base + i] - m); }
  s = wgReduce(s, lid, false);
  if (LOG == 1u) {
    let ls = log(s);
    for (var i = lid; i < p.N; i += WG) { y[base + i] = x[base + i] - m - ls; }
  } else {
    let inv = 1.0 / s;
    for (var i = lid; i < p.N; i += WG) { y[base + i] = exp(x[base + i] - m) * inv; }
  }
}
