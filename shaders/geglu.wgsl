// GEGLU gate (Shazeer 2020, "GLU variants"; aMUSEd's feed-forward), as training/mmamba/common.py GEGLU:
//   x (R, 2F) = [a ; g] along the last dim  →  y (R, F) = gelu_tanh(a) · g
// i.e. the FIRST half goes through GELU (tanh approximation) and multiplies the second half.
// One thread per output element over a 2-D grid of workgroups (engine.grid1d).

struct Params { n: u32, F: u32, _p0: u32, _p1: u32 }

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> x: array<f32>;
@group(0) @binding(2) var<storage, read_write> y: array<f32>;

fn gelu_tanh(v: f32) -> f32 {
  let c = 0.7978845608028654; // sqrt(2/pi)
  let inner = c * (v + 0.044715 * v * v * v);
  // ½(1 + tanh z) = sigmoid(2z): no cancellation where tanh → −1 (v ≪ 0); clamp keeps exp finite
  return v / (1.0 + exp(-2.0 * clamp(inner, -40.0, 40.0)));
}

@compute @workgroup_size(256)
fn main(@builtin(workgroup_id) wid: vec3u, @builtin(num_workgroups) nwg: vec3u, @builtin(local_invocation_index) lid: u32) {
  let i = (wid.x + wid.y * nwg.x) * 256u + lid;
  if (i >= p.n) { return; }
  let r = i / p.F;
  let j = i - r * p.F;
  let src = r * 2u * p.F + j;
  y[i] = gelu_tanh(x[src]) * x[src + p.F];
}
